//! Service levels: policies with targets per priority, business hours with holidays, and the
//! clocks/timers that apply them to issues and service requests (the time arithmetic is
//! `domain::time`).

pub mod api;
pub mod engine;
pub mod hours;
pub mod panel;
pub mod policies;
pub mod recompute;
pub mod timers;
pub mod web;
pub mod web_hours;
pub mod web_policies;

use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::platform::module::{Module, NavEntry, Section};
use crate::platform::state::AppState;
use crate::platform::web::Routes;

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::list_policies, api::create_policy))
        .routes(routes!(
            api::get_policy,
            api::update_policy,
            api::delete_policy
        ))
        .routes(routes!(api::list_hours, api::create_hours))
        .routes(routes!(
            api::get_hours,
            api::update_hours,
            api::delete_hours
        ))
        .routes(routes!(api::import_holidays))
}

pub fn web_routes() -> Routes {
    Routes::new()
        .route("/sla", get(web::overview))
        .route("/sla/policies", post(web_policies::create_policy))
        .route("/sla/policies/new", get(web_policies::new_policy))
        .route(
            "/sla/policies/{id}",
            get(web_policies::edit_policy).post(web_policies::update_policy),
        )
        .route(
            "/sla/policies/{id}/delete",
            post(web_policies::delete_policy),
        )
        .route("/sla/business-hours", post(web_hours::create_hours))
        .route("/sla/business-hours/new", get(web_hours::new_hours))
        .route(
            "/sla/business-hours/{id}",
            get(web_hours::edit_hours).post(web_hours::update_hours),
        )
        .route(
            "/sla/business-hours/{id}/delete",
            post(web_hours::delete_hours),
        )
        .route(
            "/sla/business-hours/{id}/holidays",
            post(web_hours::import_holidays),
        )
}

/// SLA configuration's permissions.
pub mod perm {
    use crate::platform::module::Perm;

    pub const SLA_READ: Perm = Perm::new("sla:read");
    pub const SLA_CREATE: Perm = Perm::new("sla:create");
    pub const SLA_UPDATE: Perm = Perm::new("sla:update");
    pub const SLA_DELETE: Perm = Perm::new("sla:delete");
}

pub fn module() -> Module {
    use crate::platform::module::{ADMINS, STAFF, perm as p};
    use perm::*;
    Module {
        nav: &[NavEntry {
            key: "sla",
            label: "SLAs",
            href: "/sla",
            perm: Some(SLA_READ),
            section: Section::ServiceDesk,
            unless: None,
        }],
        permissions: const {
            &[
                p(SLA_READ, "See SLA policies and business hours", STAFF),
                p(SLA_CREATE, "Create SLA policies and business hours", ADMINS),
                p(SLA_UPDATE, "Change SLA policies and business hours", ADMINS),
                p(SLA_DELETE, "Delete SLA policies and business hours", ADMINS),
            ]
        },
        api: Some(api_routes),
        web: Some(web_routes),
        jobs: Some(|_, reg| {
            reg.on(timers::TASK, timers::check_job);
            reg.on(recompute::TASK, recompute::job);
            Ok(())
        }),
        ..Module::new("sla")
    }
}
