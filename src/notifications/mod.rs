//! Telling people: in-app notifications for the events that concern them (assignee, group,
//! reporter, watchers), per-user preferences, and watching issues. Delivery by email, chat and
//! paging providers, digests and quiet hours build on these rows.

pub mod api;
pub mod fanout;
pub mod store;
pub mod web;

use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::platform::web::Routes;

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::inbox))
        .routes(routes!(api::read))
        .routes(routes!(api::read_all))
        .routes(routes!(api::get_preferences, api::put_preferences))
        .routes(routes!(api::watch, api::unwatch))
}

pub fn web_routes() -> Routes {
    Routes::new()
        .route("/notifications", get(web::list))
        .route("/notifications/bell", get(web::bell))
        .route("/notifications/read-all", post(web::read_all))
        .route("/notifications/{id}/open", post(web::open))
        .route(
            "/profile/notifications",
            get(web::preferences).post(web::save_preferences),
        )
        .route("/issues/{id}/watch", post(web::toggle_watch))
}
