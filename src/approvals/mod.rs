//! The approvals engine shared by every area whose records need sign-off (service requests
//! now, changes next): chains of steps, decisions (also by a delegate), the approver's inbox.

pub mod api;
pub mod delegations;
pub mod email;
pub mod engine;
pub mod timers;
pub mod web;

use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::platform::module::{Module, NavEntry, Section};
use crate::platform::state::AppState;
use crate::platform::web::Routes;

pub mod perm {
    use crate::platform::module::Perm;

    pub const APPROVALS_DECIDE: Perm = Perm::new("approvals:decide");
}

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::inbox))
        .routes(routes!(api::approve))
        .routes(routes!(api::reject))
        .routes(routes!(delegations::api_list, delegations::api_create))
        .routes(routes!(delegations::api_delete))
}

pub fn web_routes() -> Routes {
    Routes::new()
        .route("/approvals", get(web::inbox))
        .route("/approvals/{id}/decide", post(web::decide))
        .route("/approvals/delegations", post(web::delegate))
        .route(
            "/approvals/delegations/{id}/delete",
            post(web::end_delegation),
        )
        // Public: the token in the link is the credential (see `email`).
        .route("/approvals/email", get(email::show).post(email::decide))
}

pub fn module() -> Module {
    use crate::platform::module::{EVERYONE, perm as p};
    Module {
        nav: &[NavEntry {
            key: "approvals",
            label: "Approvals",
            href: "/approvals",
            perm: Some(perm::APPROVALS_DECIDE),
            section: Section::Work,
            unless: None,
        }],
        permissions: const {
            &[p(
                perm::APPROVALS_DECIDE,
                "Approve or reject what they are asked to approve",
                EVERYONE,
            )]
        },
        api: Some(api_routes),
        web: Some(web_routes),
        jobs: Some(|state, reg| {
            let manifest = state.manifest.clone();
            reg.on(timers::TASK, move |ctx| timers::job(manifest.clone(), ctx));
            Ok(())
        }),
        ..Module::new("approvals")
    }
}
