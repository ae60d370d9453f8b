//! Outbound webhooks (Standard Webhooks): endpoints subscribe to the spec's events; every
//! domain event reaches each subscribed endpoint signed, retried and logged.

pub mod api;
pub mod deliver;
pub mod signing;
pub mod store;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

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
