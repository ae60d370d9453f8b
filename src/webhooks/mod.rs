//! Outbound webhooks (Standard Webhooks): endpoints subscribe to the spec's events; every
//! domain event reaches each subscribed endpoint signed, retried and logged.

pub mod api;
pub mod deliver;
pub mod signing;
pub mod store;
pub mod web;

use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
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
