//! Identity and access: sign-in (browser and API), users, groups, roles and permissions,
//! API keys, profile.

pub mod api_keys;
pub mod auth_api;
pub mod auth_store;
pub mod auth_web;
pub mod groups_api;
pub mod groups_store;
pub mod roles;
pub mod users_api;
pub mod users_store;
pub mod users_web;

use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::platform::web::Routes;

/// `/v1` identity routes; each handler's `#[utoipa::path]` gives its path and documentation.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(auth_api::login))
        .routes(routes!(auth_api::refresh))
        .routes(routes!(auth_api::logout))
        .routes(routes!(auth_api::me))
        .routes(routes!(auth_api::forgot_password))
        .routes(routes!(auth_api::reset_password))
        .routes(routes!(users_api::list, users_api::create))
        .routes(routes!(
            users_api::get,
            users_api::update,
            users_api::deactivate
        ))
        .routes(routes!(users_api::change_password))
        .routes(routes!(users_api::groups))
        .routes(routes!(groups_api::list, groups_api::create))
        .routes(routes!(
            groups_api::get,
            groups_api::update,
            groups_api::delete
        ))
        .routes(routes!(groups_api::members, groups_api::add_member))
        .routes(routes!(groups_api::remove_member))
        .routes(routes!(roles::api_list, roles::api_create))
        .routes(routes!(
            roles::api_get,
            roles::api_update,
            roles::api_delete
        ))
        .routes(routes!(roles::api_permissions))
        .routes(routes!(api_keys::api_list, api_keys::api_create))
        .routes(routes!(api_keys::api_revoke))
}

pub fn web_routes() -> Routes {
    Routes::new()
        .route(
            "/login",
            get(auth_web::login_page).post(auth_web::login_submit),
        )
        .route("/logout", post(auth_web::logout))
        .route(
            "/forgot-password",
            get(auth_web::forgot_page).post(auth_web::forgot_submit),
        )
        .route(
            "/reset-password",
            get(auth_web::reset_page).post(auth_web::reset_submit),
        )
        .route("/", get(auth_web::dashboard))
        .route(
            "/profile",
            get(auth_web::profile_page).post(auth_web::profile_submit),
        )
        .route("/profile/password", post(auth_web::password_submit))
        .route("/admin/users", get(users_web::list).post(users_web::create))
        .route("/admin/users/new", get(users_web::new_form))
        .route(
            "/admin/users/{id}",
            get(users_web::edit_form).post(users_web::update),
        )
        .route(
            "/admin/groups",
            get(groups_api::web_list).post(groups_api::web_create),
        )
        .route(
            "/admin/groups/{id}",
            get(groups_api::web_detail).post(groups_api::web_update),
        )
        .route(
            "/admin/groups/{id}/members",
            post(groups_api::web_add_member),
        )
        .route(
            "/admin/groups/{id}/members/{user_id}/remove",
            post(groups_api::web_remove_member),
        )
        .route("/admin/roles", get(roles::web_list).post(roles::web_create))
        .route(
            "/admin/roles/{id}",
            get(roles::web_detail).post(roles::web_update),
        )
        .route(
            "/api-keys",
            get(api_keys::web_list).post(api_keys::web_create),
        )
        .route("/api-keys/{id}/revoke", post(api_keys::web_revoke))
}
