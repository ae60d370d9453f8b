//! Tenant administration: the audit log and the job queue.

pub mod audit_log;
pub mod jobs;

use axum::routing::{get, post};

use crate::platform::module::{Module, NavEntry, Section};
use crate::platform::state::AppState;
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
        .routes(routes!(jobs::api_retry_event))
}

pub fn web_routes() -> Routes {
    Routes::new()
        .route("/admin/audit", get(audit_log::web_list))
        .route("/admin/jobs", get(jobs::web_page))
        .route("/admin/jobs/probe", post(jobs::web_probe))
        .route("/admin/jobs/{id}/retry", post(jobs::web_retry))
        .route("/admin/jobs/{id}/discard", post(jobs::web_discard))
        .route("/admin/jobs/events/{id}/retry", post(jobs::web_retry_event))
}

/// Administration's permissions.
pub mod perm {
    use crate::platform::module::Perm;

    pub const AUDIT_READ: Perm = Perm::new("audit:read");
    pub const JOBS_READ: Perm = Perm::new("jobs:read");
    pub const JOBS_UPDATE: Perm = Perm::new("jobs:update");
    pub const SETTINGS_READ: Perm = Perm::new("settings:read");
    pub const SETTINGS_UPDATE: Perm = Perm::new("settings:update");
}

pub fn module() -> Module {
    use crate::platform::module::{ADMINS, perm as p};
    use perm::*;
    Module {
        nav: &[
            NavEntry {
                key: "audit",
                label: "Audit log",
                href: "/admin/audit",
                perm: Some(AUDIT_READ),
                section: Section::System,
                unless: None,
            },
            NavEntry {
                key: "jobs",
                label: "Jobs",
                href: "/admin/jobs",
                perm: Some(JOBS_READ),
                section: Section::System,
                unless: None,
            },
        ],
        permissions: const {
            &[
                p(AUDIT_READ, "Read the audit log", ADMINS),
                p(
                    JOBS_READ,
                    "See the job queue, failed jobs and parked events",
                    ADMINS,
                ),
                p(
                    JOBS_UPDATE,
                    "Retry or discard failed jobs and parked events",
                    ADMINS,
                ),
                p(SETTINGS_READ, "See the organization's settings", ADMINS),
                p(
                    SETTINGS_UPDATE,
                    "Change the organization's settings (e.g. inbound email)",
                    ADMINS,
                ),
            ]
        },
        api: Some(api_routes),
        web: Some(web_routes),
        jobs: Some(|_, reg| {
            reg.on(jobs::PROBE_TASK, jobs::probe_job);
            reg.on(jobs::CLEANUP_TASK, jobs::cleanup_job);
            Ok(())
        }),
        ..Module::new("admin")
    }
}
