//! The load side of the benchmark: timed concurrent drivers, the HTTP client (API token and
//! browser session) and the report lines.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use serde_json::{Value, json};

use super::SLUG;

pub struct Stats {
    pub ok: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Stats {
    fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    fn pct(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1000.0
    }
}

/// Runs `op` from `concurrency` workers for `seconds` (or until it reports it has no more
/// work with `Ok(false)`), timing each call.
pub async fn drive<F, Fut>(concurrency: usize, seconds: u64, op: F) -> Stats
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<bool>> + Send,
{
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let op = op.clone();
        workers.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut first_error) = (Vec::new(), 0usize, None);
            while Instant::now() < deadline {
                let t = Instant::now();
                match op().await {
                    Ok(true) => lat.push(t.elapsed()),
                    Ok(false) => break,
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            (lat, errors, first_error)
        }));
    }
    let mut stats = Stats {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for w in workers {
        if let Ok((lat, errors, first_error)) = w.await {
            stats.ok += lat.len();
            stats.errors += errors;
            stats.latencies.extend(lat);
            if let Some(e) = first_error {
                eprintln!("    first error: {e}");
            }
        }
    }
    stats.elapsed = started.elapsed();
    stats.latencies.sort();
    stats
}

pub fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A fresh random password for a bench user (the tenant is local and throwaway, but its
/// credentials are never predictable).
pub struct Http {
    pub client: reqwest::Client,
    pub base: String,
}

impl Http {
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(anyhow!("{path}: {status} {body}"));
        }
        Ok(body)
    }

    pub async fn login(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let v = self
            .client
            .post(format!("{}/v1/auth/login", self.base))
            .json(&json!({"tenant": SLUG, "email": email, "password": password}))
            .send()
            .await?
            .json::<Value>()
            .await?;
        v["access_token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("login failed: {v}"))
    }

    /// A browser session: the login form with its CSRF token, returning the session cookie.
    pub async fn browser_login(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let cookie_of = |res: &reqwest::Response| {
            res.headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|c| c.starts_with("firelater_session="))
                .and_then(|c| c.split(';').next())
                .map(str::to_string)
        };
        let page = self
            .client
            .get(format!("{}/login", self.base))
            .send()
            .await?;
        let cookie = cookie_of(&page).context("no session cookie")?;
        let html = page.text().await?;
        let csrf = html
            .split("name=\"_csrf\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .context("no CSRF token on the login page")?
            .to_string();
        let done = self
            .client
            .post(format!("{}/login", self.base))
            .header("cookie", &cookie)
            .form(&[
                ("_csrf", csrf.as_str()),
                ("tenant", SLUG),
                ("email", email),
                ("password", password),
                ("next", "/"),
            ])
            .send()
            .await?;
        Ok(cookie_of(&done).unwrap_or(cookie))
    }
}

impl Stats {
    pub fn print(&self, label: &str) {
        println!(
            "  {label:<4} {:>8.0} req/s  p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  ({} ok, {} errors)",
            self.rps(),
            self.pct(0.50),
            self.pct(0.95),
            self.pct(0.99),
            self.ok,
            self.errors
        )
    }
}

pub fn report(name: &str, api: &Stats, raw: Option<&Stats>) {
    println!("{name}");
    api.print("api");
    if let Some(raw) = raw {
        raw.print("raw");
        println!(
            "  api ÷ raw: {:.0} % of the throughput",
            100.0 * api.rps() / raw.rps()
        );
    }
}
