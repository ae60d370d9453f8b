//! Outbound connections to addresses that users type in (webhooks, chat and paging providers,
//! tenants' own SMTP servers), guarded against SSRF:
//! - every address a connection would use is checked after DNS resolution, inside the client's
//!   resolver, so a name that re-resolves to a private address later cannot slip through;
//! - IP literals (which the client never resolves) are checked on the URL itself;
//! - redirects are never followed, and environment proxies are ignored.
//!
//! `FIRELATER_OUTBOUND_ALLOW` (comma-separated CIDRs, addresses or host names) may permit
//! otherwise refused targets, e.g. loopback receivers in tests or an on-premises service.
//! It is empty by default.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnetwork::IpNetwork;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// What an administrator has explicitly allowed despite the guard.
#[derive(Debug, Clone, Default)]
pub struct Allow {
    nets: Vec<IpNetwork>,
    hosts: Vec<String>,
}

impl Allow {
    /// Parses `FIRELATER_OUTBOUND_ALLOW`: `127.0.0.1/32, 10.1.0.0/16, hooks.internal`.
    pub fn parse(raw: &str) -> Result<Allow, String> {
        let mut allow = Allow::default();
        for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if let Ok(net) = item.parse::<IpNetwork>() {
                allow.nets.push(net);
            } else if item
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            {
                allow.hosts.push(item.to_ascii_lowercase());
            } else {
                return Err(format!(
                    "'{item}' is neither a CIDR, an address nor a host name"
                ));
            }
        }
        Ok(allow)
    }

    fn permits(&self, host: &str, ip: IpAddr) -> bool {
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
            || self.nets.iter().any(|n| n.contains(ip))
    }
}

/// Why an address may not be reached, or None for a public unicast address.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if v6.is_unspecified() || v6.is_loopback() {
                return Some("loopback or unspecified address");
            }
            // Any IPv6 form that carries an IPv4 address (mapped, compatible, NAT64) is refused:
            // stacks differ in how they route them.
            if s[..5] == [0, 0, 0, 0, 0] && (s[5] == 0xffff || s[5] == 0) {
                return Some("IPv4-mapped or -compatible IPv6 address");
            }
            if s[0] == 0x64 && s[1] == 0xff9b {
                return Some("NAT64 address");
            }
            // 6to4 (2002::/16) carries an IPv4 address in its second and third groups; Teredo
            // (2001:0::/32) its server there and its client, inverted, in the last two.
            let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
            if s[0] == 0x2002 && forbidden_v4(v4(s[1], s[2])).is_some() {
                return Some("6to4 address of a refused IPv4 address");
            }
            if s[0] == 0x2001
                && s[1] == 0
                && (forbidden_v4(v4(s[2], s[3])).is_some()
                    || forbidden_v4(v4(!s[6], !s[7])).is_some())
            {
                return Some("Teredo address of a refused IPv4 address");
            }
            match s[0] {
                x if x & 0xfe00 == 0xfc00 => Some("unique local address"),
                x if x & 0xffc0 == 0xfe80 => Some("link-local address"),
                x if x & 0xffc0 == 0xfec0 => Some("site-local address"),
                x if x & 0xff00 == 0xff00 => Some("multicast address"),
                0x2001 if s[1] == 0x0db8 => Some("documentation address"),
                _ => None,
            }
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    Some(match o {
        [0, ..] => "unspecified (\"this network\") address",
        [127, ..] => "loopback address",
        [10, ..] | [192, 168, ..] => "private address",
        [172, b, ..] if (16..32).contains(&b) => "private address",
        [169, 254, 169, 254] => "cloud metadata address",
        [169, 254, ..] => "link-local address",
        [100, b, ..] if (64..128).contains(&b) => "carrier-grade NAT address",
        [192, 0, 0, _] | [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => {
            "reserved or documentation address"
        }
        [198, 18 | 19, ..] => "benchmarking address",
        [a, ..] if a >= 224 => "multicast, reserved or broadcast address",
        _ => return None,
    })
}

/// A refused target, as a message for the delivery log and the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The HTTP client for user-configured targets, and the URL check that goes with it.
#[derive(Clone)]
pub struct Outbound {
    allow: Arc<Allow>,
    client: reqwest::Client,
}

impl Outbound {
    pub fn new(allow: Allow, timeout: Duration) -> anyhow::Result<Outbound> {
        let allow = Arc::new(allow);
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(Guarded(allow.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .user_agent(concat!("FireLater/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Outbound { allow, client })
    }

    /// Checks what can be checked before connecting: the scheme, and the address when the host
    /// is an IP literal (the `url` parser has already normalised decimal, octal and hex forms).
    pub fn check(&self, url: &str) -> Result<reqwest::Url, Refused> {
        let url = reqwest::Url::parse(url).map_err(|e| Refused(format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused("only http and https URLs can be called".into()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refused("credentials in the URL are not allowed".into()));
        }
        let ip = match url.host() {
            None => return Err(Refused("the URL has no host".into())),
            Some(url::Host::Domain(_)) => return Ok(url),
            Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        };
        match forbidden(ip) {
            Some(why) if !self.allow.permits(&ip.to_string(), ip) => {
                Err(Refused(format!("{ip} is a {why}")))
            }
            _ => Ok(url),
        }
    }

    /// `check`, and for a host name also its resolution: a name that points at a refused
    /// address (`localhost`, `localtest.me`) is refused when it is saved, not only when it is
    /// called (where the resolver checks again, since DNS changes).
    pub async fn check_resolved(&self, url: &str) -> Result<reqwest::Url, Refused> {
        let url = self.check(url)?;
        if let Some(url::Host::Domain(host)) = url.host() {
            let port = url.port_or_known_default().unwrap_or(443);
            self.check_host(host, port).await?;
        }
        Ok(url)
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The address to connect to for a non-HTTP target (an SMTP server): the name resolved and
    /// every address checked as for URLs, so the connection goes to exactly the address that
    /// was checked (a name cannot re-resolve to a private address in between).
    pub async fn resolve(&self, host: &str, port: u16) -> Result<SocketAddr, Refused> {
        let (host, found) = lookup(host, port).await?;
        permitted(&self.allow, &host, found)?
            .into_iter()
            .next()
            .ok_or_else(|| Refused(format!("{host} has no address")))
    }

    /// For a target being saved: refused when its name resolves only to refused addresses
    /// (`localhost`, `localtest.me`). A name that does not resolve now is accepted — it is
    /// checked again at every connection.
    pub async fn check_host(&self, host: &str, port: u16) -> Result<(), Refused> {
        match lookup(host, port).await {
            Ok((host, found)) => permitted(&self.allow, &host, found).map(drop),
            Err(_) if !host.trim().is_empty() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// A host's addresses (an IP literal is its own), within a few seconds.
async fn lookup(host: &str, port: u16) -> Result<(String, Vec<SocketAddr>), Refused> {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return Err(Refused("the host is empty".into()));
    }
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok((host, vec![SocketAddr::new(ip, port)]));
    }
    let found = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::lookup_host((host.clone(), port)),
    )
    .await;
    match found {
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            Ok((host, addrs))
        }
        _ => Err(Refused(format!("{host} could not be resolved"))),
    }
}

/// The addresses of `host` the guard lets through, or why none.
fn permitted(
    allow: &Allow,
    host: &str,
    found: Vec<SocketAddr>,
) -> Result<Vec<SocketAddr>, Refused> {
    let mut refused = None;
    let ok: Vec<SocketAddr> = found
        .into_iter()
        .filter(|a| match forbidden(a.ip()) {
            Some(_) if allow.permits(host, a.ip()) => true,
            Some(why) => {
                refused = Some(format!("{host} resolves to {}, a {why}", a.ip()));
                false
            }
            None => true,
        })
        .collect();
    if ok.is_empty() {
        return Err(Refused(
            refused.unwrap_or_else(|| format!("{host} has no address")),
        ));
    }
    Ok(ok)
}

/// Resolves names, keeping only the addresses the guard permits.
struct Guarded(Arc<Allow>);

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            match permitted(&allow, &host, found) {
                Ok(ok) => Ok(Box::new(ok.into_iter()) as Addrs),
                Err(r) => Err(Box::new(r) as Box<dyn std::error::Error + Send + Sync>),
            }
        })
    }
}

/// The refusal inside a client error, if the guard caused it.
pub fn refusal(e: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<Refused>() {
            return Some(r.0.clone());
        }
        source = s.source();
    }
    None
}

/// What a target answered: its status, its `Retry-After` (capped) and the start of its body.
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
}

/// Why nothing was answered.
pub enum Failure {
    /// The guard refused the target: retrying cannot help.
    Refused(String),
    /// Time-out or connection error: worth retrying.
    Transport(String),
}

/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);
/// How much of an answer is kept for the delivery logs.
pub const RESPONSE_KEPT: usize = 1_000;

/// Sends a request built on `Outbound::client` and reads the answer, telling refusals from
/// transport errors.
pub async fn exchange(
    req: reqwest::RequestBuilder,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Answer, Failure> {
    let res = req.send().await.map_err(|e| match refusal(&e) {
        Some(why) => Failure::Refused(why),
        None if e.is_timeout() => Failure::Transport("timed out".into()),
        None => Failure::Transport(format!("could not connect: {e}")),
    })?;
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry_after(v, now));
    let body = res.text().await.unwrap_or_default();
    Ok(Answer {
        status,
        retry_after,
        body: body.chars().take(RESPONSE_KEPT).collect(),
    })
}

/// `Retry-After` as seconds or an HTTP date, capped at a day.
pub fn retry_after(v: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let wait = match v.trim().parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(v.trim()).ok()?;
            (at.with_timezone(&chrono::Utc) - now)
                .to_std()
                .unwrap_or_default()
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Outbound {
        Outbound::new(Allow::default(), Duration::from_secs(2)).expect("a client")
    }

    #[tokio::test]
    async fn non_http_targets_resolve_to_checked_addresses_only() {
        let g = guard();
        for host in [
            "localhost",
            "localhost.",
            "127.0.0.1",
            "[::1]",
            "10.1.2.3",
            "169.254.169.254",
            "",
        ] {
            assert!(
                g.resolve(host, 25).await.is_err(),
                "{host} should be refused"
            );
        }
        assert_eq!(
            g.resolve("93.184.215.14", 587).await,
            Ok("93.184.215.14:587".parse().unwrap())
        );
        let allowed = Outbound::new(
            Allow::parse("127.0.0.1/32").unwrap(),
            Duration::from_secs(2),
        )
        .unwrap();
        assert!(allowed.resolve("127.0.0.1", 2525).await.is_ok());
        // At save: a name pointing at loopback is refused; one that does not resolve (yet) is
        // left to the check at connect time.
        assert!(g.check_host("localhost", 25).await.is_err());
        assert!(g.check_host("nowhere.invalid", 25).await.is_ok());
        assert!(
            g.check_resolved("http://localhost:8080/hook")
                .await
                .is_err()
        );
    }

    #[test]
    fn refuses_internal_addresses_in_every_spelling() {
        let g = guard();
        let corpus = [
            "http://127.0.0.1/",
            "http://127.1/",
            "http://127.0.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://017700000001/",
            "http://127.000.000.001/",
            "http://0/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[::]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[0:0:0:0:0:ffff:127.0.0.1]/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://10.0.0.1/",
            "http://172.16.0.1/",
            "http://172.31.255.255/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://0xa9fea9fe/",
            "http://2852039166/",
            "http://169.254.1.1/",
            "http://100.64.0.1/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://[fd00:ec2::254]/",
            "http://[fe80::1]/",
            "http://[ff02::1]/",
            "http://[fc00::1]/",
            "https://192.0.2.10/",
            "http://198.18.0.1/",
            "ftp://example.com/",
            "file:///etc/passwd",
            "http://user:pass@example.com/",
            "gopher://127.0.0.1:25/",
            // 6to4 of 127.0.0.1 and 169.254.169.254; Teredo with client 10.0.0.1.
            "http://[2002:7f00:1::1]/",
            "http://[2002:a9fe:a9fe::]/",
            "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/",
        ];
        for url in corpus {
            assert!(g.check(url).is_err(), "{url} should be refused");
        }
        for url in [
            "https://hooks.example.com/firelater",
            "http://93.184.215.14:8080/x",
            "https://[2606:4700::1111]/",
            "http://172.32.0.1/",
            "http://100.128.0.1/",
            // 6to4 and Teredo of public addresses.
            "http://[2002:5db8:d70e::1]/",
            "http://[2001:0:4136:e378:8000:63bf:a247:28f1]/",
        ] {
            assert!(g.check(url).is_ok(), "{url} should be allowed");
        }
    }

    #[test]
    fn the_allow_list_permits_what_it_names() {
        let allow = Allow::parse("127.0.0.1/32, 10.1.0.0/16, hooks.internal").expect("valid");
        let g = Outbound::new(allow, Duration::from_secs(2)).expect("a client");
        assert!(g.check("http://127.0.0.1:9000/").is_ok());
        assert!(g.check("http://10.1.2.3/").is_ok());
        assert!(g.check("http://10.2.0.1/").is_err());
        assert!(g.check("http://[::1]/").is_err());
        assert!(Allow::parse("not a/net!").is_err());
    }

    #[test]
    fn retry_after_is_seconds_or_a_date_and_capped() {
        let now = chrono::Utc::now();
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("99999999", now), Some(MAX_RETRY_AFTER));
        let date = (now + chrono::Duration::seconds(60)).to_rfc2822();
        let wait = retry_after(&date, now).expect("a date").as_secs();
        assert!((58..=60).contains(&wait), "{wait}");
        assert_eq!(retry_after("soon", now), None);
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_at_connect_time() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let port = listener.local_addr().expect("an address").port();
        let g = guard();
        let url = format!("http://localhost:{port}/hook");
        assert!(g.check(&url).is_ok(), "a name passes the URL check…");
        let err = g
            .client()
            .post(&url)
            .send()
            .await
            .expect_err("…but not the connection");
        let why = refusal(&err).expect("refused by the guard");
        assert!(why.contains("localhost resolves to"), "{why}");
        // Nothing ever connected.
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(accepted.is_err());
    }
}
