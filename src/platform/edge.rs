//! What every request is checked for before any handler sees it: no NUL character in the query
//! string or in a JSON or form body (PostgreSQL cannot store one in text, so it would otherwise
//! surface as a server error deep inside), and JSON and form bodies within the size limit. A
//! refusal names the field, is answered in the caller's format (the JSON error under `/v1`, a
//! page otherwise) and is logged as a client error.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::platform::error::{AppError, WebError};

/// JSON and form bodies larger than this are refused with 413 (uploads are multipart and have
/// their own limit).
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;

const NUL: &str = "must not contain a NUL character";

fn nul(field: &str) -> AppError {
    AppError::Validation {
        message: format!("The field “{field}” must not contain a NUL character."),
        fields: [(field.to_string(), NUL.to_string())].into_iter().collect(),
    }
}

pub async fn guard(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/v1/") || req.uri().path() == "/v1";
    let refuse = |e: AppError| {
        if api {
            e.into_response()
        } else {
            WebError(e).into_response()
        }
    };
    // In the query string it is a malformed request (400, as for any bad query parameter);
    // in a body, an invalid field (422).
    if let Some(q) = req.uri().query()
        && let Some(field) = nul_in_form(q.as_bytes())
    {
        return refuse(AppError::BadRequest(format!(
            "the query parameter “{field}” must not contain a NUL character"
        )));
    }
    let kind = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    let json = kind
        .as_deref()
        .is_some_and(|k| k == "application/json" || k.ends_with("+json"));
    let form = kind.as_deref() == Some("application/x-www-form-urlencoded");
    if !json && !form {
        return answer(api, next.run(req).await).await;
    }
    let (parts, body) = req.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => return refuse(AppError::PayloadTooLarge(BODY_LIMIT)),
    };
    let field = if json {
        nul_in_json(&bytes)
    } else {
        nul_in_form(&bytes)
    };
    if let Some(field) = field {
        return refuse(nul(&field));
    }
    answer(
        api,
        next.run(Request::from_parts(parts, Body::from(bytes)))
            .await,
    )
    .await
}

/// Under `/v1`, a refusal written by the framework itself (a query string or path that does not
/// parse: plain text) becomes the API's JSON error with the same status.
async fn answer(api: bool, res: Response) -> Response {
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !api || !plain || !res.status().is_client_error() {
        return res;
    }
    let status = res.status();
    let text = axum::body::to_bytes(res.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let e = match status {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY => AppError::Validation {
            message: text.clone(),
            fields: [("body".to_string(), text)].into_iter().collect(),
        },
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge(BODY_LIMIT),
        _ => AppError::BadRequest(text),
    };
    let mut out = e.into_response();
    *out.status_mut() = status;
    out
}

/// The first form or query field whose name or value holds a NUL (`%00` or a raw byte).
fn nul_in_form(raw: &[u8]) -> Option<String> {
    if !raw.contains(&0) && !contains_ignore_case(raw, b"%00") {
        return None;
    }
    for (k, v) in url::form_urlencoded::parse(raw) {
        if k.contains('\0') || v.contains('\0') {
            return Some(k.replace('\0', "").chars().take(64).collect());
        }
    }
    // Not parseable as pairs (a raw NUL in the name part): the whole input.
    Some("query".into())
}

/// The path (`title`, `items[2].name`) of the first JSON string, or key, with a NUL.
fn nul_in_json(raw: &[u8]) -> Option<String> {
    // A NUL can only arrive escaped (a raw one is not JSON, and the parser says so).
    if !contains_ignore_case(raw, b"\\u0000") {
        return None;
    }
    let value: Value = serde_json::from_slice(raw).ok()?;
    find(&value, String::new())
}

fn find(v: &Value, path: String) -> Option<String> {
    match v {
        Value::String(s) if s.contains('\0') => {
            Some(if path.is_empty() { "body".into() } else { path })
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| find(x, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, x)| {
            let here = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                return Some(here.replace('\0', ""));
            }
            find(x, here)
        }),
        _ => None,
    }
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// The client's address as the request was made, set on every request: the peer, or — when
/// the peer is a trusted proxy — the nearest address in `X-Forwarded-For` (or `Forwarded:
/// for=`) that is not itself a trusted proxy. Headers from anyone else are ignored, so a
/// client cannot choose its own address for the login throttle or the audit log.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub Option<std::net::IpAddr>);

pub fn client_ip(
    trusted: &[ipnetwork::IpNetwork],
    peer: Option<std::net::IpAddr>,
    headers: &axum::http::HeaderMap,
) -> Option<std::net::IpAddr> {
    let is_trusted = |ip: std::net::IpAddr| trusted.iter().any(|n| n.contains(ip));
    let peer = peer?;
    if !is_trusted(peer) {
        return Some(peer);
    }
    let mut hops: Vec<std::net::IpAddr> = Vec::new();
    for v in headers.get_all("forwarded") {
        for part in v.to_str().unwrap_or("").split([',', ';']) {
            let Some((k, val)) = part.trim().split_once('=') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("for") {
                let val = val.trim().trim_matches('"');
                let host = match val.strip_prefix('[') {
                    Some(v6) => v6.split(']').next().unwrap_or(""),
                    None => val.rsplit_once(':').map_or(val, |(h, p)| {
                        if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') {
                            h
                        } else {
                            val
                        }
                    }),
                };
                if let Ok(ip) = host.parse() {
                    hops.push(ip);
                }
            }
        }
    }
    if hops.is_empty() {
        for v in headers.get_all("x-forwarded-for") {
            hops.extend(
                v.to_str()
                    .unwrap_or("")
                    .split(',')
                    .filter_map(|h| h.trim().parse::<std::net::IpAddr>().ok()),
            );
        }
    }
    // Right to left: the last hop a trusted proxy added is the client.
    Some(
        hops.into_iter()
            .rev()
            .find(|ip| !is_trusted(*ip))
            .unwrap_or(peer),
    )
}

/// Sets `ClientIp` for the request (see `client_ip`).
pub async fn resolve_client(
    axum::extract::State(trusted): axum::extract::State<std::sync::Arc<Vec<ipnetwork::IpNetwork>>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = client_ip(&trusted, peer, req.headers());
    req.extensions_mut().insert(ClientIp(ip));
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let trusted: Vec<ipnetwork::IpNetwork> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "1.2.3.4, 198.51.100.7, 10.0.0.9".parse().unwrap(),
        );
        let lb = Some("10.0.0.2".parse().unwrap());
        assert_eq!(
            client_ip(&trusted, lb, &h),
            Some("198.51.100.7".parse().unwrap())
        );
        // The same header from the internet is the sender's own claim: ignored.
        let direct = Some("203.0.113.5".parse().unwrap());
        assert_eq!(client_ip(&trusted, direct, &h), direct);
        let mut f = axum::http::HeaderMap::new();
        f.insert(
            "forwarded",
            "for=192.0.2.60;proto=https, for=\"[2001:db8::1]:4711\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            client_ip(&trusted, lb, &f),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(client_ip(&[], lb, &h), lb, "no trusted proxies: the peer");
    }

    #[test]
    fn names_the_field_that_holds_a_nul() {
        assert_eq!(nul_in_form(b"a=1&title=x%00y"), Some("title".into()));
        assert_eq!(nul_in_form(b"a=1&title=xy"), None);
        assert_eq!(nul_in_form(b"q=100%25"), None);
        assert_eq!(
            nul_in_json(br#"{"title":"ok","tags":[{"name":"a\u0000"}]}"#),
            Some("tags[0].name".into())
        );
        assert_eq!(
            nul_in_json(br#"{"title":"a\\u0000"}"#),
            None,
            "an escaped backslash"
        );
        assert_eq!(nul_in_json(br#"{"title":"plain"}"#), None);
    }
}
