//! Outbound webhooks (Standard Webhooks): endpoints subscribe to the spec's events; every
//! domain event reaches each subscribed endpoint signed, retried and logged.

pub mod api;
pub mod deliver;
pub mod messages;
pub mod signing;
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
        .routes(routes!(api::rotate))
        .routes(routes!(api::test))
        .routes(routes!(api::deliveries))
        .routes(routes!(api::redeliver))
        .routes(routes!(api::replay))
}

pub fn web_routes() -> Routes {
    Routes::new()
        .route("/admin/webhooks", get(web::list).post(web::create))
        .route("/admin/webhooks/new", get(web::new))
        .route("/admin/webhooks/{id}", get(web::show).post(web::update))
        .route("/admin/webhooks/{id}/rotate", post(web::rotate))
        .route("/admin/webhooks/{id}/test", post(web::test))
        .route("/admin/webhooks/{id}/delete", post(web::delete))
        .route(
            "/admin/webhooks/{id}/deliveries/{delivery_id}/redeliver",
            post(web::redeliver),
        )
}

/// Webhooks' permissions.
pub mod perm {
    use crate::platform::module::Perm;

    pub const WEBHOOKS_READ: Perm = Perm::new("webhooks:read");
    pub const WEBHOOKS_CREATE: Perm = Perm::new("webhooks:create");
    pub const WEBHOOKS_UPDATE: Perm = Perm::new("webhooks:update");
    pub const WEBHOOKS_DELETE: Perm = Perm::new("webhooks:delete");
}

pub fn module() -> Module {
    use crate::platform::module::{ADMINS, MANAGERS, perm as p};
    use perm::*;
    Module {
        entities: &[EntityDef {
            entity_type: "webhook",
            label: "Webhook",
            names: "SELECT id, name::text FROM webhooks WHERE id = ANY($1)",
            page: "/admin/webhooks/{id}",
        }],
        nav: &[NavEntry {
            key: "webhooks",
            label: "Webhooks",
            href: "/admin/webhooks",
            perm: Some(WEBHOOKS_READ),
            section: Section::Integrations,
            unless: None,
        }],
        permissions: const {
            &[
                p(
                    WEBHOOKS_READ,
                    "See webhook endpoints and their delivery logs",
                    MANAGERS,
                ),
                p(WEBHOOKS_CREATE, "Add webhook endpoints", ADMINS),
                p(
                    WEBHOOKS_UPDATE,
                    "Change, test and redeliver webhook endpoints",
                    ADMINS,
                ),
                p(WEBHOOKS_DELETE, "Delete webhook endpoints", ADMINS),
            ]
        },
        api: Some(api_routes),
        web: Some(web_routes),
        jobs: Some(|state, reg| {
            let d = api::deliverer(state);
            reg.on(messages::TASK, move |ctx| deliver::job(ctx, d.clone()));
            Ok(())
        }),
        subscribers: Some(|_| vec![std::sync::Arc::new(messages::Fanout)]),
        ..Module::new("webhooks")
    }
}
