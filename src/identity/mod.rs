//! Identity and access: sign-in (browser and API), users, groups, roles and permissions,
//! API keys, profile.

pub mod api_keys;
pub mod auth_api;
pub mod auth_store;
pub mod auth_web;
pub mod groups_actions;
pub mod groups_api;
pub mod groups_store;
pub mod groups_web;
pub mod roles;
pub mod users_api;
pub mod users_store;
pub mod users_web;

use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::platform::module::{EntityDef, Module, NavEntry, Section};
use crate::platform::state::AppState;
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
        .routes(routes!(roles::api::list, roles::api::create))
        .routes(routes!(
            roles::api::get,
            roles::api::update,
            roles::api::delete
        ))
        .routes(routes!(roles::api::permissions))
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
            get(groups_web::list).post(groups_web::create),
        )
        .route(
            "/admin/groups/{id}",
            get(groups_web::detail).post(groups_web::update),
        )
        .route("/admin/groups/{id}/members", post(groups_web::add_member))
        .route(
            "/admin/groups/{id}/members/{user_id}/remove",
            post(groups_web::remove_member),
        )
        .route(
            "/admin/roles",
            get(roles::web::list).post(roles::web::create),
        )
        .route(
            "/admin/roles/{id}",
            get(roles::web::detail).post(roles::web::update),
        )
        .route(
            "/api-keys",
            get(api_keys::web_list).post(api_keys::web_create),
        )
        .route("/api-keys/{id}/revoke", post(api_keys::web_revoke))
}

/// Identity's permissions.
pub mod perm {
    use crate::platform::module::Perm;

    pub const USERS_READ: Perm = Perm::new("users:read");
    pub const USERS_CREATE: Perm = Perm::new("users:create");
    pub const USERS_UPDATE: Perm = Perm::new("users:update");
    pub const USERS_DELETE: Perm = Perm::new("users:delete");
    pub const GROUPS_READ: Perm = Perm::new("groups:read");
    pub const GROUPS_CREATE: Perm = Perm::new("groups:create");
    pub const GROUPS_UPDATE: Perm = Perm::new("groups:update");
    pub const GROUPS_DELETE: Perm = Perm::new("groups:delete");
    pub const ROLES_READ: Perm = Perm::new("roles:read");
    pub const ROLES_CREATE: Perm = Perm::new("roles:create");
    pub const ROLES_UPDATE: Perm = Perm::new("roles:update");
    pub const ROLES_DELETE: Perm = Perm::new("roles:delete");
    pub const API_KEYS_READ: Perm = Perm::new("api_keys:read");
    pub const API_KEYS_CREATE: Perm = Perm::new("api_keys:create");
    pub const API_KEYS_DELETE: Perm = Perm::new("api_keys:delete");
    pub const API_KEYS_MANAGE: Perm = Perm::new("api_keys:manage");
}

pub fn module() -> Module {
    use crate::platform::module::{ADMINS, MANAGERS, STAFF, perm as p};
    use perm::*;
    Module {
        entities: &[
            EntityDef {
                entity_type: "user",
                label: "User",
                names: "SELECT id, name::text FROM users WHERE id = ANY($1)",
                page: "/admin/users/{id}",
            },
            EntityDef {
                entity_type: "group",
                label: "Group",
                names: "SELECT id, name::text FROM groups WHERE id = ANY($1)",
                page: "/admin/groups/{id}",
            },
        ],
        nav: &[
            NavEntry {
                key: "users",
                label: "Users",
                href: "/admin/users",
                perm: Some(USERS_READ),
                section: Section::People,
                unless: None,
            },
            NavEntry {
                key: "groups",
                label: "Groups",
                href: "/admin/groups",
                perm: Some(GROUPS_READ),
                section: Section::People,
                unless: None,
            },
            NavEntry {
                key: "roles",
                label: "Roles",
                href: "/admin/roles",
                perm: Some(ROLES_READ),
                section: Section::People,
                unless: None,
            },
            NavEntry {
                key: "api_keys",
                label: "API keys",
                href: "/api-keys",
                perm: Some(API_KEYS_READ),
                section: Section::Integrations,
                unless: None,
            },
        ],
        permissions: const {
            &[
                p(USERS_READ, "See people and their roles", STAFF),
                p(USERS_CREATE, "Add people", ADMINS),
                p(USERS_UPDATE, "Change people's details and roles", ADMINS),
                p(USERS_DELETE, "Deactivate people", ADMINS),
                p(GROUPS_READ, "See groups and their members", STAFF),
                p(GROUPS_CREATE, "Create groups", MANAGERS),
                p(GROUPS_UPDATE, "Change groups and their members", MANAGERS),
                p(GROUPS_DELETE, "Delete groups", ADMINS),
                p(ROLES_READ, "See roles and their permissions", STAFF),
                p(ROLES_CREATE, "Create roles", ADMINS),
                p(ROLES_UPDATE, "Change roles' permissions", ADMINS),
                p(ROLES_DELETE, "Delete roles", ADMINS),
                p(API_KEYS_READ, "See one's own API keys", STAFF),
                p(API_KEYS_CREATE, "Create API keys", STAFF),
                p(API_KEYS_DELETE, "Revoke one's own API keys", STAFF),
                p(
                    API_KEYS_MANAGE,
                    "See and revoke everyone's API keys",
                    ADMINS,
                ),
            ]
        },
        api: Some(api_routes),
        web: Some(web_routes),
        ..Module::new("identity")
    }
}
