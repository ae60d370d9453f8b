//! Issues (incidents): what broke, who works on it, and how fast it must be handled.

pub mod actions;
pub mod activity;
pub mod api;
pub mod store;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::list, api::create))
        .routes(routes!(api::get, api::update, api::delete))
        .routes(routes!(api::assign))
        .routes(routes!(api::reassign))
        .routes(routes!(api::escalate))
        .routes(routes!(api::resolve))
        .routes(routes!(api::close))
        .routes(routes!(api::reopen))
        .routes(routes!(api::history))
        .routes(routes!(api::sla))
        .routes(routes!(api::comments, api::add_comment))
        .routes(routes!(api::edit_comment, api::delete_comment))
        .routes(routes!(api::worklogs, api::add_worklog))
        .routes(routes!(api::update_worklog, api::delete_worklog))
        .routes(routes!(api::related))
        .routes(routes!(api::link))
        .routes(routes!(api::unlink))
}
