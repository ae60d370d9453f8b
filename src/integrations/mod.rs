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

use crate::app::AppState;
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
