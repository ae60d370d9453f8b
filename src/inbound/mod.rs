//! Inbound email: messages to the tenant's support address — through the built-in SMTP
//! listener (`FIRELATER_SMTP_ADDR`) or piped by an MTA to `POST /v1/inbound/email` — raise
//! issues or thread onto them as comments.

pub mod api;
pub mod receive;
pub mod settings;
pub mod smtp;
pub mod web;

use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::platform::module::{Module, NavEntry, Section};
use crate::platform::state::AppState;
use crate::platform::web::Routes;

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::email))
        .routes(routes!(api::get_settings, api::put_settings))
        .routes(routes!(api::list))
}

pub fn web_routes() -> Routes {
    Routes::new().route("/admin/inbound-email", get(web::page).post(web::save))
}

pub fn module() -> Module {
    Module {
        nav: &[NavEntry {
            key: "inbound",
            label: "Inbound email",
            href: "/admin/inbound-email",
            perm: Some(crate::admin::perm::SETTINGS_READ),
            section: Section::ServiceDesk,
            unless: None,
        }],
        api: Some(api_routes),
        web: Some(web_routes),
        ..Module::new("inbound")
    }
}
