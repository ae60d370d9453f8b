//! The application registry: what IT runs — applications with owners, tiers and environments.

pub mod actions;
pub mod api;
pub mod csv;
pub mod csv_import;
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
        .routes(routes!(csv::api_export))
        .routes(routes!(csv_import::api_import))
        .routes(routes!(api::get, api::update, api::delete))
        .routes(routes!(api::issues))
        .routes(routes!(api::environments, api::create_environment))
        .routes(routes!(
            api::get_environment,
            api::update_environment,
            api::delete_environment
        ))
}

pub fn web_routes() -> Routes {
    Routes::new()
        .route("/applications", get(web::list).post(web::create))
        .route("/applications/new", get(web::new_form))
        .route("/applications/export", get(csv::web_export))
        .route(
            "/applications/import",
            get(csv_import::web_form).post(csv_import::web_preview),
        )
        .route("/applications/import/commit", post(csv_import::web_commit))
        .route("/applications/{id}", get(web::show).post(web::update))
        .route("/applications/{id}/edit", get(web::edit_form))
        .route("/applications/{id}/retire", post(web::retire))
        .route(
            "/applications/{id}/environments",
            post(web::add_environment),
        )
        .route(
            "/applications/{id}/environments/{env_id}/delete",
            post(web::remove_environment),
        )
}

/// The registry's permissions.
pub mod perm {
    use crate::platform::module::Perm;

    pub const APPLICATIONS_READ: Perm = Perm::new("applications:read");
    pub const APPLICATIONS_CREATE: Perm = Perm::new("applications:create");
    pub const APPLICATIONS_UPDATE: Perm = Perm::new("applications:update");
    pub const APPLICATIONS_DELETE: Perm = Perm::new("applications:delete");
}

pub fn module() -> Module {
    use crate::platform::module::{MANAGERS, STAFF, perm as p};
    use perm::*;
    Module {
        entities: &[
            EntityDef {
                entity_type: "application",
                label: "Application",
                names: "SELECT id, app_id || ' ' || name FROM applications WHERE id = ANY($1)",
                page: "/applications/{id}",
            },
            EntityDef {
                entity_type: "environment",
                label: "Environment",
                names: "SELECT e.id, a.name || ' — ' || e.name FROM environments e JOIN applications a ON a.id = e.application_id WHERE e.id = ANY($1)",
                page: "",
            },
        ],
        nav: &[NavEntry {
            key: "applications",
            label: "Applications",
            href: "/applications",
            perm: Some(APPLICATIONS_READ),
            section: Section::Work,
            unless: None,
        }],
        permissions: const {
            &[
                p(APPLICATIONS_READ, "See registered applications", STAFF),
                p(APPLICATIONS_CREATE, "Register applications", MANAGERS),
                p(
                    APPLICATIONS_UPDATE,
                    "Change applications and their environments",
                    MANAGERS,
                ),
                p(APPLICATIONS_DELETE, "Retire applications", MANAGERS),
            ]
        },
        api: Some(api_routes),
        web: Some(web_routes),
        ..Module::new("registry")
    }
}
