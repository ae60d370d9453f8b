//! Configuration from environment variables (optionally `firelater.toml`-free: env only keeps one
//! source of truth). Invalid values produce one error line naming the variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use rand::RngCore;

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    pub addr: SocketAddr,
    /// 32+ bytes of key material: sessions, JWT signing, encryption at rest.
    pub secret_key: Vec<u8>,
    pub base_url: String,
    pub demo: bool,
    pub log: String,
    pub static_dir: Option<PathBuf>,
    /// `smtp://host:port` for outbound mail; unset = mail is logged and kept in the database.
    pub smtp_url: Option<String>,
    pub mail_from: String,
    /// Targets the outbound SSRF guard lets through anyway (`FIRELATER_OUTBOUND_ALLOW`).
    pub outbound_allow: crate::platform::outbound::Allow,
    /// Where the built-in SMTP listener takes inbound mail (`FIRELATER_SMTP_ADDR`); unset = off.
    pub smtp_addr: Option<SocketAddr>,
    /// Load balancers whose `X-Forwarded-For` / `Forwarded` name the client
    /// (`FIRELATER_TRUSTED_PROXIES`, CIDRs); from anyone else those headers are ignored.
    pub trusted_proxies: Vec<ipnetwork::IpNetwork>,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let nonempty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let data_dir =
            PathBuf::from(nonempty("FIRELATER_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let addr_raw = nonempty("FIRELATER_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into());
        let addr: SocketAddr = addr_raw.parse().map_err(|_| {
            anyhow::anyhow!(
                "FIRELATER_ADDR: '{addr_raw}' is not a socket address like 127.0.0.1:8080"
            )
        })?;
        let base_url = nonempty("FIRELATER_BASE_URL").unwrap_or_else(|| format!("http://{addr}"));
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            bail!("FIRELATER_BASE_URL: '{base_url}' must start with http:// or https://");
        }
        let demo = match nonempty("FIRELATER_DEMO")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("1" | "true" | "on" | "yes") => true,
            Some("0" | "false" | "off" | "no") => false,
            Some(other) => bail!("FIRELATER_DEMO: '{other}' is not one of on/off/true/false/1/0"),
        };
        let database_url = nonempty("DATABASE_URL");
        if let Some(url) = &database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            bail!("DATABASE_URL: must be a postgres:// URL");
        }
        let secret_key = match nonempty("FIRELATER_SECRET_KEY") {
            Some(k) => {
                if k.len() < 32 {
                    bail!("FIRELATER_SECRET_KEY: must be at least 32 characters");
                }
                k.into_bytes()
            }
            None => Vec::new(), // filled by `ensure_secret_key` from the data directory
        };
        let outbound_allow = crate::platform::outbound::Allow::parse(
            &get("FIRELATER_OUTBOUND_ALLOW").unwrap_or_default(),
        )
        .map_err(|e| anyhow::anyhow!("FIRELATER_OUTBOUND_ALLOW: {e}"))?;
        let trusted_proxies = get("FIRELATER_TRUSTED_PROXIES")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<ipnetwork::IpNetwork>().map_err(|_| {
                    anyhow::anyhow!("FIRELATER_TRUSTED_PROXIES: '{p}' is not a CIDR or an address")
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let smtp_addr = match nonempty("FIRELATER_SMTP_ADDR") {
            Some(a) => Some(a.parse().map_err(|_| {
                anyhow::anyhow!(
                    "FIRELATER_SMTP_ADDR: '{a}' is not a socket address like 0.0.0.0:2525"
                )
            })?),
            None => None,
        };
        Ok(Config {
            smtp_addr,
            outbound_allow,
            trusted_proxies,
            database_url,
            data_dir,
            addr,
            secret_key,
            base_url: base_url.trim_end_matches('/').to_string(),
            demo,
            log: nonempty("FIRELATER_LOG")
                .or_else(|| nonempty("RUST_LOG"))
                .unwrap_or_else(|| "info".into()),
            static_dir: nonempty("FIRELATER_STATIC_DIR").map(PathBuf::from),
            smtp_url: nonempty("FIRELATER_SMTP_URL"),
            mail_from: nonempty("FIRELATER_MAIL_FROM")
                .unwrap_or_else(|| "FireLater <no-reply@firelater.local>".into()),
        })
    }

    /// The key is generated once and kept in the data directory so sessions and tokens survive
    /// restarts without the operator having to invent one.
    pub fn ensure_secret_key(&mut self) -> anyhow::Result<()> {
        if !self.secret_key.is_empty() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.data_dir).with_context(|| {
            format!(
                "FIRELATER_DATA_DIR: cannot create {}",
                self.data_dir.display()
            )
        })?;
        let path = self.data_dir.join("secret.key");
        if let Ok(existing) = std::fs::read_to_string(&path) {
            let existing = existing.trim();
            if existing.len() >= 32 {
                self.secret_key = existing.as_bytes().to_vec();
                return Ok(());
            }
        }
        let mut bytes = [0u8; 48];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let key = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
        write_private(&path, key.as_bytes())
            .with_context(|| format!("FIRELATER_DATA_DIR: cannot write {}", path.display()))?;
        self.secret_key = key.into_bytes();
        Ok(())
    }

    pub fn secure_cookies(&self) -> bool {
        self.base_url.starts_with("https://")
    }
}

fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> anyhow::Result<Config> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_sane() -> anyhow::Result<()> {
        let c = cfg(&[])?;
        assert_eq!(c.addr.to_string(), "127.0.0.1:8080");
        assert!(c.demo);
        assert_eq!(c.base_url, "http://127.0.0.1:8080");
        Ok(())
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = cfg(&[("FIRELATER_ADDR", "nope")]).unwrap_err().to_string();
        assert!(e.starts_with("FIRELATER_ADDR"), "{e}");
        let e = cfg(&[("FIRELATER_DEMO", "maybe")]).unwrap_err().to_string();
        assert!(e.starts_with("FIRELATER_DEMO"), "{e}");
        let e = cfg(&[("FIRELATER_SECRET_KEY", "short")])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("FIRELATER_SECRET_KEY"), "{e}");
        let e = cfg(&[("DATABASE_URL", "mysql://x")])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("DATABASE_URL"), "{e}");
    }
}
