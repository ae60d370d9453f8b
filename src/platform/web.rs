//! The web kit: rendering pages and htmx fragments, security headers, request ids, and the
//! small extractors every HTML handler shares.

use askama::Template;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::platform::auth::Principal;
use crate::platform::error::{AppError, REQUEST_ID, WebError};
use crate::platform::module::Manifest;

/// True for htmx requests: handlers answer with the fragment instead of the whole page.
pub struct Hx(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for Hx {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Hx(parts.headers.contains_key("hx-request")))
    }
}

/// A record's id from the path (`/…/{id}`): anything that is not a UUID answers 404 — as a page
/// for the browser, as the JSON error under `/v1` — exactly like an id that names nothing.
pub struct PathId(pub uuid::Uuid);

/// Two ids from the path (`/…/{id}/…/{other_id}`), with the same 404 for junk.
pub struct PathIds(pub uuid::Uuid, pub uuid::Uuid);

fn not_found(parts: &Parts) -> Response {
    // Under `nest("/v1", …)` the request's own URI has lost its prefix; the original has it.
    let path = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(parts.uri.path(), |o| o.0.path());
    if path.starts_with("/v1/") {
        AppError::NotFound.into_response()
    } else {
        WebError(AppError::NotFound).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(raw)) => raw.parse().map(PathId).map_err(|_| not_found(parts)),
            Err(_) => Err(not_found(parts)),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PathIds {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let both = axum::extract::Path::<(String, String)>::from_request_parts(parts, state).await;
        match both {
            Ok(axum::extract::Path((a, b))) => match (a.parse(), b.parse()) {
                (Ok(a), Ok(b)) => Ok(PathIds(a, b)),
                _ => Err(not_found(parts)),
            },
            Err(_) => Err(not_found(parts)),
        }
    }
}

/// Renders a template with `Vary: HX-Request` (the same URL answers page or fragment).
pub fn html(status: StatusCode, body: Result<String, askama::Error>) -> Response {
    match body {
        Ok(body) => {
            let mut res = (status, Html(body)).into_response();
            res.headers_mut()
                .insert(header::VARY, HeaderValue::from_static("HX-Request"));
            res
        }
        Err(e) => WebError(AppError::Internal(anyhow::anyhow!("template: {e}"))).into_response(),
    }
}

/// Renders the whole page, or just its `content` block for htmx.
#[macro_export]
macro_rules! render_page {
    ($hx:expr, $tpl:expr) => {
        $crate::render_page!($hx, $tpl, axum::http::StatusCode::OK)
    };
    ($hx:expr, $tpl:expr, $status:expr) => {{
        let tpl = $tpl;
        let body = if $hx {
            askama::Template::render(&tpl.as_content())
        } else {
            askama::Template::render(&tpl)
        };
        $crate::platform::web::html($status, body)
    }};
}

/// A path of this site, safe to redirect to: not `//host`, nor `/\host` (which browsers read
/// as `//host`) — never an open redirect.
pub fn is_local_path(p: &str) -> bool {
    p.starts_with('/') && !p.starts_with("//") && !p.contains('\\')
}

/// For templates: a stored code as words ("In progress").
pub fn label(code: &str) -> String {
    domain::wording::label(code)
}

/// Navigation and identity shown on every signed-in page.
pub struct Chrome {
    pub user_name: String,
    pub tenant: String,
    pub csrf: String,
    pub active: &'static str,
    pub nav: Vec<NavItem>,
    /// The viewer's zone (profile setting) and the request's instant: every time on a page
    /// is shown through `ago` / `exact` (the `when` macro), so all pages agree.
    pub tz: chrono_tz::Tz,
    pub now: chrono::DateTime<chrono::Utc>,
}

pub struct NavItem {
    pub key: &'static str,
    pub label: &'static str,
    pub href: &'static str,
    pub section: crate::platform::module::Section,
}

/// A menu of the navigation bar ("People") and its entries.
pub struct NavMenu<'a> {
    pub label: &'static str,
    pub items: Vec<&'a NavItem>,
    /// The current page is one of them.
    pub active: bool,
}

impl Chrome {
    /// Only what exists and what this user may open appears in the navigation.
    pub fn new(
        p: &Principal,
        csrf: &str,
        active: &'static str,
        manifest: &Manifest,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        let nav = manifest
            .nav()
            .iter()
            .filter(|n| n.perm.is_none_or(|perm| p.can(perm)))
            .filter(|n| n.unless.is_none_or(|perm| !p.can(perm)))
            .map(|n| NavItem {
                key: n.key,
                label: n.label,
                href: n.href,
                section: n.section,
            })
            .collect();
        Chrome {
            user_name: p.name.clone(),
            tenant: p.slug.to_string(),
            csrf: csrf.to_string(),
            active,
            nav,
            tz: p.timezone.parse().unwrap_or(chrono_tz::UTC),
            now,
        }
    }

    /// The entries shown inline in the bar.
    pub fn inline(&self) -> Vec<&NavItem> {
        self.nav
            .iter()
            .filter(|n| n.section.menu().is_none())
            .collect()
    }

    /// The menus after them, in section order, each with what this viewer may open.
    pub fn menus(&self) -> Vec<NavMenu<'_>> {
        let mut menus: Vec<NavMenu<'_>> = Vec::new();
        for n in &self.nav {
            let Some(label) = n.section.menu() else {
                continue;
            };
            match menus.last_mut() {
                Some(m) if m.label == label => m.items.push(n),
                _ => menus.push(NavMenu {
                    label,
                    items: vec![n],
                    active: false,
                }),
            }
            if n.key == self.active
                && let Some(m) = menus.last_mut()
            {
                m.active = true;
            }
        }
        menus
    }

    /// "5 min ago", "in 2 h 14 min" — relative to the request, dates in the viewer's zone.
    pub fn ago(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        domain::wording::relative(*at, self.now, self.tz)
    }

    /// "breaches in 12 min", "breached 3 h ago" — an open issue's deadline.
    pub fn countdown(&self, due: &chrono::DateTime<chrono::Utc>) -> String {
        domain::wording::countdown(*due, self.now, self.tz)
    }

    /// "Wed 2 Dec 2026, 14:05 CET" in the viewer's zone.
    pub fn exact(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        domain::wording::exact(*at, self.tz)
    }
}

#[cfg(test)]
mod tests {
    use super::page_of;

    #[test]
    fn a_form_address_leads_to_its_page() {
        let id = "7a300344-1d7d-4e8e-96e6-be62408c658f";
        assert_eq!(
            page_of(&format!("/issues/{id}/resolve")),
            format!("/issues/{id}")
        );
        assert_eq!(
            page_of(&format!("/issues/{id}/comments/{id}/delete")),
            format!("/issues/{id}")
        );
        assert_eq!(page_of("/issues/bulk"), "/issues");
        // Ends at an id that has no page: one level up, then on from there.
        assert_eq!(
            page_of(&format!("/issues/settings/categories/{id}")),
            "/issues/settings/categories"
        );
        assert_eq!(page_of("/issues/settings/categories"), "/issues/settings");
        assert_eq!(page_of("/logout"), "/");
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
}

pub fn error_page(status: StatusCode, _code: &str, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let body = ErrorPage {
        status: status.as_u16(),
        title,
        message,
    }
    .render();
    html(status, body)
}

/// Strict CSP (no inline script, no eval), no framing, no sniffing; HSTS behind TLS.
pub async fn security_headers(hsts: bool, req: Request, next: Next) -> Response {
    let cacheable = req.uri().path().starts_with("/static/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    // Pages and API answers are someone's data: never kept by the browser (Back after signing
    // out shows nothing, and a page kept in the back/forward cache would hold its live stream
    // open). Static assets keep their own caching.
    if !cacheable && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    // A handler may set a stricter policy (file downloads: sandbox); keep it.
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
            ),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    res
}

/// Gives every request an id (echoing a sane incoming `X-Request-Id`), visible in error bodies,
/// logs and the response header.
pub async fn request_id(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let span =
        tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path());
    let mut res = REQUEST_ID
        .scope(
            id.clone(),
            tracing::Instrument::instrument(next.run(req), span),
        )
        .await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

/// A form's address opened as a page — Reload or Back after a refused form left the browser
/// at `POST /issues/{id}/resolve`, or a bookmark — is not a blank 405: it goes to the page the
/// form belongs to, the address up to its record (`/issues/{id}`), else one level up.
pub async fn form_address_goes_back(req: Request, next: Next) -> Response {
    let get = matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    let path = req.uri().path().to_string();
    let res = next.run(req).await;
    if !get || res.status() != StatusCode::METHOD_NOT_ALLOWED {
        return res;
    }
    axum::response::Redirect::to(&page_of(&path)).into_response()
}

/// The page a form address belongs to (see `form_address_goes_back`).
pub fn page_of(path: &str) -> String {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if let Some(i) = parts.iter().position(|p| p.parse::<uuid::Uuid>().is_ok())
        && i + 1 < parts.len()
    {
        return parts[..=i].join("/");
    }
    match parts.len() {
        0..=2 => "/".into(),
        n => parts[..n - 1].join("/"),
    }
}

/// A 303 that also works for htmx (which wants `HX-Redirect` to navigate the page).
pub fn see_other(hx: bool, to: &str) -> Response {
    if hx {
        ([("hx-redirect", to.to_string())], StatusCode::OK).into_response()
    } else {
        axum::response::Redirect::to(to).into_response()
    }
}

/// Field errors as templates use them: `errors.has("email")`, `errors.get("email")`.
#[derive(Debug, Default, Clone)]
pub struct Errors(pub std::collections::BTreeMap<String, String>);

impl Errors {
    pub fn has<S: AsRef<str>>(&self, name: S) -> bool {
        self.0.contains_key(name.as_ref())
    }

    pub fn get<S: AsRef<str>>(&self, name: S) -> Option<&String> {
        self.0.get(name.as_ref())
    }

    /// The field's error as the sentence shown under it ("Title is required.").
    pub fn sentence<S: AsRef<str>>(&self, name: S) -> Option<String> {
        let name = name.as_ref();
        self.0
            .get(name)
            .map(|m| domain::wording::field_sentence(name, m))
    }

    /// 422 when a form is shown again with errors, else 200.
    pub fn status(&self) -> StatusCode {
        if self.0.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    }
}

impl From<std::collections::BTreeMap<String, String>> for Errors {
    fn from(m: std::collections::BTreeMap<String, String>) -> Self {
        Errors(m)
    }
}

/// Membership test usable from templates: `roles.has(name)`.
pub fn has<S: AsRef<str>, T: AsRef<str>>(list: &[S], item: T) -> bool {
    list.iter().any(|x| x.as_ref() == item.as_ref())
}

/// The HTML route table: an axum router that also remembers its paths, so tests can walk every
/// page (axum cannot list its routes).
#[derive(Default)]
pub struct Routes {
    pub router: axum::Router<crate::platform::state::AppState>,
    pub paths: Vec<&'static str>,
}

impl Routes {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn route(
        mut self,
        path: &'static str,
        method_router: axum::routing::MethodRouter<crate::platform::state::AppState>,
    ) -> Self {
        self.router = self.router.route(path, method_router);
        self.paths.push(path);
        self
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.paths.extend(other.paths);
        self
    }
}

/// For templates: the value of `key` in a form/filter map, or "".
pub fn val<K: std::borrow::Borrow<str> + Ord>(
    map: &std::collections::BTreeMap<K, String>,
    key: impl AsRef<str>,
) -> &str {
    map.get(key.as_ref()).map(String::as_str).unwrap_or("")
}

/// For templates: whether `option` is the value of `key` (to mark it `selected`).
pub fn chosen<K: std::borrow::Borrow<str> + Ord>(
    map: &std::collections::BTreeMap<K, String>,
    key: impl AsRef<str>,
    option: impl AsRef<str>,
) -> bool {
    val(map, key) == option.as_ref()
}

/// A file from a multipart form.
pub struct Upload {
    pub field: String,
    pub filename: String,
    pub content_type: String,
    pub bytes: axum::body::Bytes,
}

/// Reads a multipart form into its text fields and its files (empty file inputs are skipped).
pub async fn read_multipart(
    mut form: axum::extract::Multipart,
) -> Result<(Vec<(String, String)>, Vec<Upload>), AppError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        AppError::field(
            "file",
            format!("the upload could not be read: {}", e.body_text()),
        )
    };
    let (mut fields, mut files) = (Vec::new(), Vec::new());
    while let Some(field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_string();
        match field.file_name().map(str::to_string) {
            Some(filename) => {
                let content_type = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_string();
                let bytes = field.bytes().await.map_err(bad)?;
                if !filename.is_empty() || !bytes.is_empty() {
                    files.push(Upload {
                        field: name,
                        filename,
                        content_type,
                        bytes,
                    });
                }
            }
            None => fields.push((name, field.text().await.map_err(bad)?)),
        }
    }
    Ok((fields, files))
}

/// (id, label) choices for a picker, from a `SELECT id, label …` query.
pub type Choices = Vec<(String, String)>;

pub async fn choices(
    tx: &mut crate::platform::tenancy::TenantTx,
    sql: &str,
) -> Result<Choices, AppError> {
    let rows: Vec<(uuid::Uuid, String)> = sqlx::query_as(sql).fetch_all(&mut **tx).await?;
    Ok(rows.into_iter().map(|(i, n)| (i.to_string(), n)).collect())
}

/// A submitted form as templates re-show it, including repeated fields (checkbox groups,
/// multi-selects): `f.get("name")`, `f.has("priority", "high")`.
#[derive(Debug, Default, Clone)]
pub struct FormValues(pub Vec<(String, String)>);

impl FormValues {
    pub fn get<S: AsRef<str>>(&self, key: S) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key.as_ref())
            .map_or("", |(_, v)| v.as_str())
    }

    pub fn has<S: AsRef<str>, T: AsRef<str>>(&self, key: S, value: T) -> bool {
        self.0
            .iter()
            .any(|(k, v)| k == key.as_ref() && v == value.as_ref())
    }

    /// A checkbox: present with any value.
    pub fn on<S: AsRef<str>>(&self, key: S) -> bool {
        self.0.iter().any(|(k, _)| k == key.as_ref())
    }

    /// All values of a repeated field.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.0.push((key.to_string(), value.into()));
    }
}
