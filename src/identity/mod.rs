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

use axum::Router;
use axum::routing::{delete, get, post, put};

use crate::app::AppState;

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(auth_api::login))
        .route("/auth/refresh", post(auth_api::refresh))
        .route("/auth/logout", post(auth_api::logout))
        .route("/auth/me", get(auth_api::me))
        .route("/auth/forgot-password", post(auth_api::forgot_password))
        .route("/auth/reset-password", post(auth_api::reset_password))
        .route("/users", get(users_api::list).post(users_api::create))
        .route(
            "/users/{id}",
            get(users_api::get)
                .put(users_api::update)
                .delete(users_api::deactivate),
        )
        .route("/users/{id}/password", put(users_api::change_password))
        .route("/users/{id}/groups", get(users_api::groups))
        .route("/groups", get(groups_api::list).post(groups_api::create))
        .route(
            "/groups/{id}",
            get(groups_api::get)
                .put(groups_api::update)
                .delete(groups_api::delete),
        )
        .route(
            "/groups/{id}/members",
            get(groups_api::members).post(groups_api::add_member),
        )
        .route(
            "/groups/{id}/members/{user_id}",
            delete(groups_api::remove_member),
        )
        .route("/roles", get(roles::api_list).post(roles::api_create))
        .route(
            "/roles/{id}",
            get(roles::api_get)
                .put(roles::api_update)
                .delete(roles::api_delete),
        )
        .route("/permissions", get(roles::api_permissions))
        .route(
            "/api-keys",
            get(api_keys::api_list).post(api_keys::api_create),
        )
        .route("/api-keys/{id}", delete(api_keys::api_revoke))
}

pub fn web_routes() -> Router<AppState> {
    Router::new()
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
