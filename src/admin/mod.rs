//! Tenant administration: the audit log and the job queue.

pub mod audit_log;
pub mod jobs;

use axum::Router;
use axum::routing::{get, post};

use crate::app::AppState;

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/audit-logs", get(audit_log::api_list))
        .route("/audit-logs/{entity_type}/{id}", get(audit_log::api_entity))
        .route("/jobs", get(jobs::api_overview))
        .route("/jobs/probe", post(jobs::api_probe))
        .route("/jobs/{id}/retry", post(jobs::api_retry))
        .route("/jobs/{id}/discard", post(jobs::api_discard))
}

pub fn web_routes() -> Router<AppState> {
    Router::new()
        .route("/admin/audit", get(audit_log::web_list))
        .route("/admin/jobs", get(jobs::web_page))
        .route("/admin/jobs/probe", post(jobs::web_probe))
        .route("/admin/jobs/{id}/retry", post(jobs::web_retry))
        .route("/admin/jobs/{id}/discard", post(jobs::web_discard))
}
