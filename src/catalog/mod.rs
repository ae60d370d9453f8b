//! The service catalog: categories and items with their forms (drafts and published
//! versions), the requester portal, and the administration pages.

pub mod actions;
pub mod admin_web;
pub mod api;
pub mod builder;
pub mod bundle_admin;
pub mod bundle_portal;
pub mod bundles;
pub mod chain_web;
pub mod form;
pub mod icons;
pub mod portal;
pub mod store;
pub mod transfer;

use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::platform::module::{EntityDef, Module, NavEntry, Section};
use crate::platform::state::AppState;
use crate::platform::web::Routes;

pub mod perm {
    use crate::platform::module::Perm;

    pub const CATALOG_READ: Perm = Perm::new("catalog:read");
    pub const CATALOG_MANAGE: Perm = Perm::new("catalog:manage");
}

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::list_categories, api::create_category))
        .routes(routes!(
            api::get_category,
            api::update_category,
            api::delete_category
        ))
        .routes(routes!(api::list_items, api::create_item))
        .routes(routes!(api::get_item, api::update_item, api::retire_item))
        .routes(routes!(api::publish))
        .routes(routes!(api::clone_item))
        .routes(routes!(bundles::api_list, bundles::api_create))
        .routes(routes!(
            bundles::api_get,
            bundles::api_update,
            bundles::api_delete
        ))
}

pub fn web_routes() -> Routes {
    Routes::new()
        .route("/catalog", get(portal::index))
        .route("/catalog/items/{id}", get(portal::item))
        .route("/catalog/items/{id}/evaluate", post(portal::evaluate))
        .route("/catalog/items/{id}/request", post(portal::submit))
        .route("/catalog/bundles/{id}", get(bundle_portal::show))
        .route(
            "/catalog/bundles/{id}/evaluate",
            post(bundle_portal::evaluate),
        )
        .route("/catalog/bundles/{id}/request", post(bundle_portal::submit))
        .route(
            "/catalog/items/{id}/builder",
            get(builder::show).post(builder::apply),
        )
        .route("/catalog/manage", get(admin_web::index))
        .route("/catalog/manage/bundles", post(bundle_admin::create))
        .route("/catalog/manage/bundles/new", get(bundle_admin::new_bundle))
        .route(
            "/catalog/manage/bundles/{id}",
            get(bundle_admin::edit).post(bundle_admin::update),
        )
        .route("/catalog/manage/items", post(admin_web::create_item))
        .route("/catalog/manage/items/import", post(transfer::import))
        .route("/catalog/manage/items/{id}/export", get(transfer::export))
        .route(
            "/catalog/manage/items/{id}",
            get(admin_web::edit_item).post(admin_web::update_item),
        )
        .route(
            "/catalog/manage/items/{id}/approvals",
            get(chain_web::show).post(chain_web::apply_form),
        )
        .route(
            "/catalog/manage/items/{id}/preview",
            post(admin_web::preview),
        )
        .route(
            "/catalog/manage/items/{id}/publish",
            post(admin_web::publish),
        )
        .route(
            "/catalog/manage/items/{id}/clone",
            post(admin_web::clone_item),
        )
        .route("/catalog/manage/items/{id}/retire", post(admin_web::retire))
        .route(
            "/catalog/manage/categories",
            post(admin_web::create_category),
        )
        .route(
            "/catalog/manage/categories/{id}",
            post(admin_web::update_category),
        )
        .route(
            "/catalog/manage/categories/{id}/delete",
            post(admin_web::delete_category),
        )
}

pub fn module() -> Module {
    use crate::platform::module::{EVERYONE, MANAGERS, perm as p};
    use perm::*;
    Module {
        entities: &[
            EntityDef {
                entity_type: "catalog_item",
                label: "Catalog item",
                names: "SELECT id, name::text FROM catalog_items WHERE id = ANY($1)",
                page: "/catalog/manage/items/{id}",
            },
            EntityDef {
                entity_type: "catalog_category",
                label: "Catalog category",
                names: "SELECT id, name::text FROM catalog_categories WHERE id = ANY($1)",
                page: "/catalog/manage",
            },
        ],
        nav: &[
            NavEntry {
                key: "catalog",
                label: "Catalog",
                href: "/catalog",
                perm: Some(CATALOG_READ),
                section: Section::Work,
                unless: None,
            },
            NavEntry {
                key: "catalog_manage",
                label: "Service catalog",
                href: "/catalog/manage",
                perm: Some(CATALOG_MANAGE),
                section: Section::ServiceDesk,
                unless: None,
            },
        ],
        permissions: const {
            &[
                p(CATALOG_READ, "Browse the service catalog", EVERYONE),
                p(
                    CATALOG_MANAGE,
                    "Build the catalog: categories, items, forms, approvals; publish and retire",
                    MANAGERS,
                ),
            ]
        },
        api: Some(api_routes),
        web: Some(web_routes),
        ..Module::new("catalog")
    }
}
