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
use crate::platform::auth::tokens::JwtKeys;
use crate::platform::clock::Clock;
use crate::platform::config::Config;
use crate::platform::{apidocs, auth, jobs, mail, openapi, tenancy, web};

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub jwt: Arc<JwtKeys>,
    pub clock: Arc<dyn Clock>,
    pub storage: Arc<dyn crate::platform::storage::Storage>,
    pub live: crate::platform::live::Hub,
    /// Seals secrets at rest (webhook signing secrets).
    pub sealer: crate::platform::crypto::Sealer,
    /// The SSRF-guarded client for user-configured targets.
    pub outbound: crate::platform::outbound::Outbound,
}

impl AppState {
    /// Panics only if the TLS-less HTTP client cannot be built, which no configuration causes.
    pub fn new(pool: PgPool, config: Config, clock: Arc<dyn Clock>) -> Self {
        let jwt = Arc::new(JwtKeys::new(&config.secret_key, &config.base_url));
        let storage = Arc::new(crate::platform::storage::LocalDisk::new(
            config.data_dir.join("attachments"),
        ));
        let sealer = crate::platform::crypto::Sealer::new(&config.secret_key);
        let outbound = crate::platform::outbound::Outbound::new(
            config.outbound_allow.clone(),
            Duration::from_secs(15),
        )
        .expect("a plain HTTP client builds from any allow-list");
        AppState {
            sealer,
            outbound,
            storage,
            live: Default::default(),
            pool,
            config: Arc::new(config),
            jwt,
            clock,
        }
    }
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
    let auth_layer =
        AuthManagerLayerBuilder::new(Backend::new(state.pool.clone()), sessions).build();

    let html = web_routes()
        .router
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::csrf::verify,
        ))
        .layer(auth_layer);

    let (api, doc) = utoipa_axum::router::OpenApiRouter::new()
        .merge(crate::identity::api_routes())
        .merge(crate::admin::api_routes())
        .merge(crate::registry::api_routes())
        .merge(crate::issues::api_routes())
        .merge(crate::search::api_routes())
        .merge(crate::sla::api_routes())
        .merge(crate::webhooks::api_routes())
        .merge(crate::integrations::api_routes())
        .merge(crate::inbound::api_routes())
        .merge(crate::notifications::api_routes())
        .split_for_parts();
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
        .layer(DefaultBodyLimit::max(2 * 1024 * 1024))
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
    web::Routes::new()
        .merge(crate::identity::web_routes())
        .merge(crate::admin::web_routes())
        .merge(crate::registry::web_routes())
        .merge(crate::issues::web_routes())
        .merge(crate::search::web_routes())
        .merge(crate::sla::web_routes())
        .merge(crate::webhooks::web_routes())
        .merge(crate::integrations::web_routes())
        .merge(crate::inbound::web_routes())
        .merge(crate::notifications::web_routes())
        .merge(crate::platform::live::web_routes())
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
    match tenancy::migrations_current(&state.pool).await {
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
    let mut reg = jobs::Registry::default();
    let subscribers: crate::platform::events::Subscribers = Arc::new(vec![
        Arc::new(crate::platform::live::LiveSignals),
        Arc::new(crate::webhooks::deliver::Fanout),
        Arc::new(crate::notifications::fanout::Fanout {
            base_url: state.config.base_url.clone(),
        }),
    ]);
    reg.on(crate::platform::events::DISPATCH_TASK, move |ctx| {
        crate::platform::events::dispatch(ctx, subscribers.clone())
    });
    let transport: Arc<dyn mail::Transport> = match &state.config.smtp_url {
        Some(url) => Arc::new(mail::SmtpTransport::from_url(url)?),
        None => Arc::new(mail::LogTransport),
    };
    let from = state.config.mail_from.clone();
    let pool = state.pool.clone();
    let sealer = state.sealer.clone();
    reg.on(mail::SEND_TASK, move |ctx| {
        mail::send_job(
            ctx,
            transport.clone(),
            from.clone(),
            pool.clone(),
            sealer.clone(),
        )
    });
    reg.on(
        crate::admin::jobs::PROBE_TASK,
        crate::admin::jobs::probe_job,
    );
    reg.on(crate::sla::timers::TASK, crate::sla::timers::check_job);
    reg.on(crate::sla::recompute::TASK, crate::sla::recompute::job);
    let deliverer = crate::webhooks::api::deliverer(state);
    reg.on(crate::webhooks::deliver::TASK, move |ctx| {
        crate::webhooks::deliver::job(ctx, deliverer.clone())
    });
    let notifier = crate::notifications::deliver::Deliverer {
        pool: state.pool.clone(),
        sealer: state.sealer.clone(),
        outbound: state.outbound.clone(),
        clock: state.clock.clone(),
        base_url: state.config.base_url.clone(),
        mail_from: state.config.mail_from.clone(),
    };
    reg.on(crate::notifications::deliver::TASK, move |ctx| {
        crate::notifications::deliver::job(ctx, notifier.clone())
    });
    let base_url = state.config.base_url.clone();
    reg.on(crate::notifications::digest::TASK, move |ctx| {
        crate::notifications::digest::job(ctx, base_url.clone())
    });
    reg.on(
        crate::admin::jobs::CLEANUP_TASK,
        crate::admin::jobs::cleanup_job,
    );
    Ok(reg)
}
