//! Application state and router assembly (one line per area).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_login::AuthManagerLayerBuilder;
use serde_json::json;
use sqlx::PgPool;
use tower_http::services::ServeDir;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

use crate::platform::auth::session::Backend;
use crate::platform::clock::Clock;
use crate::platform::config::Config;
use crate::platform::module::Manifest;
use crate::platform::state::AppState;
use crate::platform::{apidocs, auth, jobs, openapi, web};

/// The areas this binary carries, in navigation order within each section. Adding an area is
/// one line here plus its own folder.
pub fn manifest() -> Manifest {
    Manifest::new(vec![
        crate::home::module(),
        crate::identity::module(),
        crate::catalog::module(),
        crate::requests::module(),
        crate::approvals::module(),
        crate::issues::module(),
        crate::registry::module(),
        crate::sla::module(),
        crate::search::module(),
        crate::notifications::module(),
        crate::webhooks::module(),
        crate::integrations::module(),
        crate::inbound::module(),
        crate::admin::module(),
        crate::platform::live::module(),
    ])
}

/// The application state with this binary's manifest.
pub fn state(pool: PgPool, config: Config, clock: Arc<dyn Clock>) -> AppState {
    AppState::new(pool, config, clock, manifest())
}

/// Creates the session table (idempotent).
pub async fn prepare_sessions(pool: &PgPool) -> anyhow::Result<()> {
    PostgresStore::new(pool.clone()).migrate().await?;
    Ok(())
}

pub fn router(state: AppState) -> Router {
    let store = PostgresStore::new(state.pool.clone());
    let sessions = SessionManagerLayer::new(store)
        .with_name("firelater_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.secure_cookies())
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(12)));
    let auth_layer = AuthManagerLayerBuilder::new(
        Backend::new(state.pool.clone(), state.principals.clone()),
        sessions,
    )
    .build();

    let html = state
        .manifest
        .web_routes()
        .router
        .layer(axum::middleware::from_fn(web::form_address_goes_back))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::csrf::verify,
        ))
        .layer(auth_layer);

    let (api, doc) = state.manifest.api_router().split_for_parts();
    let doc = openapi::finish(openapi::mount(doc, "/v1"));
    // The document and its page depend only on the code (the annotations and a compiled
    // template), never on input: if either failed, every start would fail the same way, and the
    // route-walk tests render both.
    let doc_value = serde_json::to_value(&doc).expect("an OpenAPI document is plain JSON data");
    let docs_html: Arc<str> = askama::Template::render(&apidocs::page(&doc_value))
        .expect("the API docs template renders from any document")
        .into();
    let doc_json: Arc<str> = doc_value.to_string().into();
    let api = api
        .route(
            "/openapi.json",
            get(move || async move {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    doc_json.to_string(),
                )
            }),
        )
        .fallback(|| async { crate::platform::error::AppError::NotFound });

    let static_dir = state
        .config
        .static_dir
        .clone()
        .unwrap_or_else(default_static_dir);
    let hsts = state.config.secure_cookies();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route(
            "/docs",
            get(move || async move { axum::response::Html(docs_html.to_string()) }),
        )
        .nest("/v1", api)
        .merge(html)
        .nest_service("/static", ServeDir::new(static_dir))
        .fallback(|| async {
            web::error_page(
                StatusCode::NOT_FOUND,
                "not_found",
                "There is nothing at this address.",
            )
        })
        .layer(DefaultBodyLimit::max(crate::platform::edge::BODY_LIMIT))
        .layer(axum::middleware::from_fn(crate::platform::edge::guard))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(state.config.trusted_proxies.clone()),
            crate::platform::edge::resolve_client,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(axum::middleware::from_fn(move |req, next| {
            web::security_headers(hsts, req, next)
        }))
        .layer(axum::middleware::from_fn(web::request_id))
        .with_state(state)
}

/// Every server-rendered page and form action (behind sessions and CSRF).
pub fn web_routes() -> web::Routes {
    manifest().web_routes()
}

/// Static assets: `FIRELATER_STATIC_DIR`, else `static/` beside the binary's crate or the
/// working directory, else `/usr/share/firelater/static` (the Docker image's location).
fn default_static_dir() -> std::path::PathBuf {
    let candidates = [
        std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/static")),
        std::path::PathBuf::from("static"),
        std::path::PathBuf::from("/usr/share/firelater/static"),
    ];
    candidates
        .iter()
        .find(|p| p.join("app.css").exists())
        .cloned()
        .unwrap_or_else(|| candidates[0].clone())
}

/// The process is alive.
async fn healthz() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

/// The database answers and every schema is migrated.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.readiness.check(&state.pool).await {
        Ok(true) => {
            axum::Json(json!({"status": "ready", "database": "ok", "migrations": "current"}))
                .into_response()
        }
        Ok(false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "not_ready", "database": "ok", "migrations": "pending"})),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"status": "not_ready", "database": "unreachable"})),
            )
                .into_response()
        }
    }
}

/// Every background task this binary knows.
pub fn job_registry(state: &AppState) -> anyhow::Result<jobs::Registry> {
    let mut reg = state.manifest.job_registry(state)?;
    let subscribers: crate::platform::events::Subscribers =
        Arc::new(state.manifest.subscribers(state));
    reg.on(crate::platform::events::DISPATCH_TASK, move |ctx| {
        crate::platform::events::dispatch(ctx, subscribers.clone())
    });
    Ok(reg)
}
