//! Integrations: the tenant's accounts with outside providers (its own SMTP server, Slack,
//! Microsoft Teams, PagerDuty, SMS, a generic webhook) — settings, sealed secrets, tests, and
//! the code that speaks each provider's API. Notification channels use them.

pub mod api;
pub mod send;
pub mod store;
pub mod web;

use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::platform::module::{EntityDef, Module, NavEntry, Section};
use crate::platform::state::AppState;
use crate::platform::web::Routes;

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::list, api::create))
        .routes(routes!(api::get, api::update, api::delete))
        .routes(routes!(api::test))
}

pub fn web_routes() -> Routes {
    Routes::new()
        .route("/admin/integrations", get(web::list).post(web::create))
        .route("/admin/integrations/new", get(web::new))
        .route("/admin/integrations/{id}", get(web::show).post(web::update))
        .route("/admin/integrations/{id}/test", post(web::test))
        .route("/admin/integrations/{id}/delete", post(web::delete))
}

/// Integrations' permissions.
pub mod perm {
    use crate::platform::module::Perm;

    pub const INTEGRATIONS_READ: Perm = Perm::new("integrations:read");
    pub const INTEGRATIONS_CREATE: Perm = Perm::new("integrations:create");
    pub const INTEGRATIONS_UPDATE: Perm = Perm::new("integrations:update");
    pub const INTEGRATIONS_DELETE: Perm = Perm::new("integrations:delete");
}

pub fn module() -> Module {
    use crate::platform::module::{ADMINS, MANAGERS, perm as p};
    use perm::*;
    Module {
        entities: &[EntityDef {
            entity_type: "integration",
            label: "Integration",
            names: "SELECT id, name::text FROM integrations WHERE id = ANY($1)",
            page: "/admin/integrations/{id}",
        }],
        nav: &[NavEntry {
            key: "integrations",
            label: "Integrations",
            href: "/admin/integrations",
            perm: Some(INTEGRATIONS_READ),
            section: Section::Integrations,
            unless: None,
        }],
        permissions: const {
            &[
                p(
                    INTEGRATIONS_READ,
                    "See integrations and notification channels",
                    MANAGERS,
                ),
                p(
                    INTEGRATIONS_CREATE,
                    "Add integrations and notification channels",
                    ADMINS,
                ),
                p(
                    INTEGRATIONS_UPDATE,
                    "Change and test integrations and notification channels",
                    ADMINS,
                ),
                p(
                    INTEGRATIONS_DELETE,
                    "Delete integrations and notification channels",
                    ADMINS,
                ),
            ]
        },
        api: Some(api_routes),
        web: Some(web_routes),
        ..Module::new("integrations")
    }
}
