//! CSRF protection for every cookie-authenticated state change: a per-session token (hidden
//! `_csrf` field in forms, `X-CSRF-Token` header from htmx via `hx-headers`) plus an
//! `Origin`/`Sec-Fetch-Site` check. `/v1` uses bearer credentials only and is not affected.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use crate::platform::error::{AppError, WebError};
use crate::platform::state::AppState;

const KEY: &str = "csrf";
pub const FIELD: &str = "_csrf";
const MAX_FORM: usize = 2 * 1024 * 1024;
/// The largest multipart body (an attachment plus the form around it).
pub const MAX_UPLOAD: usize = 12 * 1024 * 1024;

/// The session's CSRF token, created on first use.
pub async fn token(session: &Session) -> Result<String, AppError> {
    if let Some(t) = session
        .get::<String>(KEY)
        .await
        .map_err(|e| anyhow::anyhow!(e))?
    {
        return Ok(t);
    }
    let t = super::tokens::random_secret();
    session
        .insert(KEY, &t)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    Ok(t)
}

fn same_origin(headers: &HeaderMap, base_url: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true, // older clients: the token still has to match
        Some(origin) => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or_default();
            origin == base_url || (!host.is_empty() && origin_host == host)
        }
    }
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded_pairs(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn form_urlencoded_pairs(body: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .unwrap_or_default()
        .into_iter()
}

async fn multipart_field(body: axum::body::Bytes, boundary: String, name: &str) -> Option<String> {
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some(name) {
            return field.text().await.ok();
        }
    }
    None
}

pub async fn verify(
    State(state): State<AppState>,
    session: Session,
    req: Request,
    next: Next,
) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let forbidden = || {
        WebError(AppError::BadRequest(
            "the form expired or came from another site; reload the page and try again".into(),
        ))
        .into_response()
    };
    if !same_origin(req.headers(), &state.config.base_url) {
        return forbidden();
    }
    let Ok(Some(expected)) = session.get::<String>(KEY).await else {
        return forbidden();
    };
    let header_token = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let boundary = multer::parse_boundary(&content_type).ok();
    let (provided, req) = match header_token {
        Some(t) => (Some(t), req),
        None if content_type.starts_with("application/x-www-form-urlencoded") => {
            let (parts, body) = req.into_parts();
            let Ok(bytes) = to_bytes(body, MAX_FORM).await else {
                return forbidden();
            };
            (
                form_field(&bytes, FIELD),
                Request::from_parts(parts, Body::from(bytes)),
            )
        }
        // File uploads without JavaScript: the token is a field of the multipart body. The
        // body is buffered (within the upload limit) so the handler can read it again.
        None if boundary.is_some() => {
            let (parts, body) = req.into_parts();
            let Ok(bytes) = to_bytes(body, MAX_UPLOAD).await else {
                return forbidden();
            };
            let token = multipart_field(bytes.clone(), boundary.unwrap_or_default(), FIELD).await;
            (token, Request::from_parts(parts, Body::from(bytes)))
        }
        None => (None, req),
    };
    match provided {
        Some(p) if bool::from(p.as_bytes().ct_eq(expected.as_bytes())) => next.run(req).await,
        _ => forbidden(),
    }
}
