//! `firelater bench issues --mix jsm`: the service-desk mix a JSM-like tenant sees (comment
//! 26 %, get 24 %, list 20 %, create 16 %, resolve 8 %, weighted over their sum), through the
//! real server, while 10 people sign in at once. Reports req/s and latency, the server's own
//! CPU per request (its runtime's threads only, not the load generator's), PostgreSQL's CPU
//! per request (the private cluster's processes) and SQL statements per request
//! (`pg_stat_statements`, BEGIN/COMMIT included).

use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use rand::Rng;
use serde_json::json;
use uuid::Uuid;

use super::load::{Http, Stats, drive, rss_mib};

/// The name the server's runtime gives its threads, so their CPU can be told apart.
pub const SERVER_THREADS: &str = "fl-server";

/// CPU seconds used so far by this process's threads named `SERVER_THREADS`.
pub fn server_cpu() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    tasks
        .filter_map(|t| t.ok())
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.trim_end().starts_with(SERVER_THREADS))
        })
        .filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok())
        .map(|s| cpu_of_stat(&s))
        .sum()
}

/// utime + stime of a `/proc/…/stat` line, in seconds.
fn cpu_of_stat(stat: &str) -> f64 {
    // The command may contain spaces; fields after its closing parenthesis are plain.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    // After ")": state is field 3 of stat(5), so utime (14) and stime (15) are 11 and 12 here.
    (ticks(11) + ticks(12)) / hz
}

/// CPU seconds used so far by the postmaster `pid` and its children (backends, writers).
pub fn cluster_cpu(pid: u32) -> f64 {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return f64::NAN;
    };
    procs
        .filter_map(|p| p.ok())
        .filter_map(|p| std::fs::read_to_string(p.path().join("stat")).ok())
        .filter(|s| {
            let own = s.split_whitespace().next() == Some(&pid.to_string());
            let child = s
                .rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().nth(1))
                == Some(&pid.to_string());
            own || child
        })
        .map(|s| cpu_of_stat(&s))
        .sum()
}

pub struct Fixtures {
    pub http: Arc<Http>,
    pub token: Arc<String>,
    pub open: Arc<Vec<Uuid>>,
    pub group: Uuid,
    pub postmaster: Option<u32>,
    pub sign_ins: Vec<(String, String)>,
}

enum Op {
    Comment,
    Get,
    List,
    Create,
    Resolve,
}

fn pick_op() -> Op {
    match rand::thread_rng().gen_range(0..94) {
        0..26 => Op::Comment,
        26..50 => Op::Get,
        50..70 => Op::List,
        70..86 => Op::Create,
        _ => Op::Resolve,
    }
}

async fn one(f: &Fixtures, created: &Mutex<Vec<Uuid>>, op: Op) -> anyhow::Result<()> {
    use reqwest::Method;
    let pick = || f.open[rand::thread_rng().gen_range(0..f.open.len())];
    let token = f.token.as_str();
    match op {
        Op::Comment => {
            let body = json!({"content": "Restarted the gateway; watching."});
            let path = format!("/v1/issues/{}/comments", pick());
            f.http.send(Method::POST, &path, token, Some(body)).await?;
        }
        Op::Get => {
            let path = format!("/v1/issues/{}", pick());
            f.http.send(Method::GET, &path, token, None).await?;
        }
        Op::List => {
            let path = format!("/v1/issues?{}", super::LIST);
            f.http.send(Method::GET, &path, token, None).await?;
        }
        Op::Create => {
            let body = json!({"title": "Checkout returns 502",
                "description": "Customers see a gateway error at payment.",
                "priority": "high", "assigned_group": f.group});
            let v = f
                .http
                .send(Method::POST, "/v1/issues", token, Some(body))
                .await?;
            let id: Uuid = serde_json::from_value(v["id"].clone())?;
            created.lock().map_err(|_| anyhow!("lock"))?.push(id);
        }
        Op::Resolve => {
            let id = created.lock().map_err(|_| anyhow!("lock"))?.pop();
            // Nothing created yet to resolve: read one instead, keeping the pace.
            let Some(id) = id else {
                return Box::pin(one(f, created, Op::Get)).await;
            };
            let body =
                json!({"resolution_code": "fixed", "resolution_notes": "Gateway restarted."});
            let path = format!("/v1/issues/{id}/resolve");
            f.http.send(Method::POST, &path, token, Some(body)).await?;
        }
    }
    Ok(())
}

async fn statements(pool: &sqlx::PgPool) -> Option<f64> {
    sqlx::query_scalar::<_, f64>(
        "SELECT COALESCE(SUM(calls), 0)::float8 FROM pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(pool)
    .await
    .ok()
}

/// Runs the mix at `concurrency` for `seconds` and prints one report block.
pub async fn run(
    pool: &sqlx::PgPool,
    f: Arc<Fixtures>,
    concurrency: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    let counting = sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(pool)
        .await
        .is_ok()
        && sqlx::query("SELECT pg_stat_statements_reset()")
            .execute(pool)
            .await
            .is_ok();
    let before_statements = if counting {
        statements(pool).await
    } else {
        None
    };
    let (server0, pg0) = (server_cpu(), f.postmaster.map_or(f64::NAN, cluster_cpu));
    // Ten people sign in at once while the desk works (argon2 per attempt).
    let logins = {
        let f = f.clone();
        tokio::spawn(async move {
            let attempts = f.sign_ins.iter().map(|(email, password)| {
                let http = f.http.clone();
                let (email, password) = (email.clone(), password.clone());
                async move { http.login(&email, &password).await.is_ok() }
            });
            futures::future::join_all(attempts).await
        })
    };
    let created = Arc::new(Mutex::new(Vec::new()));
    let stats: Stats = {
        let (f, created) = (f.clone(), created.clone());
        drive(concurrency, seconds, move || {
            let (f, created) = (f.clone(), created.clone());
            async move {
                one(&f, &created, pick_op()).await?;
                Ok(true)
            }
        })
        .await
    };
    let signed_in = logins.await?.into_iter().filter(|ok| *ok).count();
    let (server1, pg1) = (server_cpu(), f.postmaster.map_or(f64::NAN, cluster_cpu));
    let after_statements = if counting {
        statements(pool).await
    } else {
        None
    };
    let n = stats.ok as f64;
    let per = |cpu: f64| 1000.0 * cpu / n;
    println!(
        "JSM-like mix at C={concurrency} ({signed_in} of {} concurrent sign-ins succeeded)",
        f.sign_ins.len()
    );
    stats.print("api");
    let (server, pg) = (per(server1 - server0), per(pg1 - pg0));
    println!(
        "  server CPU per request: {server:.2} ms firelater + {pg:.2} ms PostgreSQL = {:.2} ms",
        server + pg
    );
    match (before_statements, after_statements) {
        (Some(b), Some(a)) => println!(
            "  SQL statements per request: {:.1} (pg_stat_statements, BEGIN/COMMIT included)",
            // The first counting query itself is in the difference.
            (a - b - 1.0).max(0.0) / n
        ),
        _ => println!("  SQL statements per request: n/a (pg_stat_statements is not loaded)"),
    }
    if counting && std::env::var_os("FIRELATER_BENCH_STATEMENTS").is_some() {
        let top: Vec<(i64, String)> = sqlx::query_as(
            "SELECT calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) FROM pg_stat_statements
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
             ORDER BY calls DESC LIMIT 25",
        )
        .fetch_all(pool)
        .await?;
        for (calls, q) in top {
            println!("    {:>6.2}/req  {q}", calls as f64 / n);
        }
    }
    let (rss, peak) = rss_mib();
    println!("  process memory (server + load generator): RSS {rss:.0} MiB, peak {peak:.0} MiB");
    Ok(())
}
