//! The application registry: what IT runs — applications with owners, tiers and environments.

pub mod actions;
pub mod api;
pub mod store;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::list, api::create))
        .routes(routes!(api::get, api::update, api::delete))
        .routes(routes!(api::issues))
        .routes(routes!(api::environments, api::create_environment))
        .routes(routes!(
            api::get_environment,
            api::update_environment,
            api::delete_environment
        ))
}
