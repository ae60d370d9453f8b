//! Tenant administration: the audit log and the job queue.

pub mod audit_log;
pub mod jobs;

use axum::routing::{get, post};

use crate::app::AppState;
use crate::platform::web::Routes;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(audit_log::api_list))
        .routes(routes!(audit_log::api_entity))
        .routes(routes!(jobs::api_overview))
        .routes(routes!(jobs::api_probe))
        .routes(routes!(jobs::api_retry))
        .routes(routes!(jobs::api_discard))
}

pub fn web_routes() -> Routes {
    Routes::new()
        .route("/admin/audit", get(audit_log::web_list))
        .route("/admin/jobs", get(jobs::web_page))
        .route("/admin/jobs/probe", post(jobs::web_probe))
        .route("/admin/jobs/{id}/retry", post(jobs::web_retry))
        .route("/admin/jobs/{id}/discard", post(jobs::web_discard))
}
