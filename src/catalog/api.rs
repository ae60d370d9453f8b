//! `/v1/catalog/…`: categories and items for integrations and the builder.

use std::collections::HashMap;

use axum::Json;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::Value;

use super::actions::{self, CategoryBody, ItemBody};
use super::perm::{CATALOG_MANAGE, CATALOG_READ};
use super::store::{self, Category, Item, Viewer};
use crate::platform::auth::api::ApiCtx;
use crate::platform::error::AppError;
use crate::platform::json::ApiJson;
use crate::platform::listing;
use crate::platform::openapi::{Items, ListQuery, Page};
use crate::platform::web::PathId;

const CATEGORY_ID: &str = "Category id";
const ITEM_ID: &str = "Catalog item id";

/// Managers see every item; everyone else the active items open to them.
pub fn viewer(ctx: &ApiCtx) -> Viewer {
    if ctx.principal.can(CATALOG_MANAGE) {
        Viewer::Manager
    } else {
        Viewer::Requester(ctx.principal.user_id)
    }
}

/// Categories, parents before their children.
#[utoipa::path(get, path = "/catalog/categories", tag = "catalog", operation_id = "listCatalogCategories",
    responses((status = 200, body = Items<Category>)))]
pub async fn list_categories(mut ctx: ApiCtx) -> Result<Json<Items<Category>>, AppError> {
    ctx.require(CATALOG_READ)?;
    let mut data = store::categories(&mut ctx.tx).await?;
    if !ctx.principal.can(CATALOG_MANAGE) {
        data.retain(|c| c.status == "active");
    }
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

#[utoipa::path(post, path = "/catalog/categories", tag = "catalog", operation_id = "createCatalogCategory",
    request_body = CategoryBody, responses((status = 201, body = Category)))]
pub async fn create_category(
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<CategoryBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(CATALOG_MANAGE)?;
    let actor = ctx.actor();
    let c = actions::save_category(&mut ctx.tx, &ctx.principal.slug, &actor, None, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(c)))
}

#[utoipa::path(get, path = "/catalog/categories/{id}", tag = "catalog", operation_id = "getCatalogCategory",
    params(("id" = Uuid, Path, description = CATEGORY_ID)), responses((status = 200, body = Category)))]
pub async fn get_category(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Category>, AppError> {
    ctx.require(CATALOG_READ)?;
    let c = store::category(&mut ctx.tx, id).await?;
    if c.status != "active" && !ctx.principal.can(CATALOG_MANAGE) {
        return Err(AppError::NotFound);
    }
    ctx.commit().await?;
    Ok(Json(c))
}

#[utoipa::path(put, path = "/catalog/categories/{id}", tag = "catalog", operation_id = "updateCatalogCategory",
    params(("id" = Uuid, Path, description = CATEGORY_ID)), request_body = CategoryBody,
    responses((status = 200, body = Category)))]
pub async fn update_category(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<CategoryBody>,
) -> Result<Json<Category>, AppError> {
    ctx.require(CATALOG_MANAGE)?;
    let actor = ctx.actor();
    let c =
        actions::save_category(&mut ctx.tx, &ctx.principal.slug, &actor, Some(id), &body).await?;
    ctx.commit().await?;
    Ok(Json(c))
}

/// Deletes the category; its items stay, without a category.
#[utoipa::path(delete, path = "/catalog/categories/{id}", tag = "catalog", operation_id = "deleteCatalogCategory",
    params(("id" = Uuid, Path, description = CATEGORY_ID)), responses((status = 204, description = "Deleted")))]
pub async fn delete_category(mut ctx: ApiCtx, PathId(id): PathId) -> Result<StatusCode, AppError> {
    ctx.require(CATALOG_MANAGE)?;
    let actor = ctx.actor();
    actions::delete_category(&mut ctx.tx, &ctx.principal.slug, &actor, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/catalog/items", tag = "catalog", operation_id = "listCatalogItems",
    params(ListQuery, ("status" = Option<String>, Query, description = "draft, active or retired (managers)"),
        ("category_id" = Option<Uuid>, Query), ("fulfillment_group_id" = Option<Uuid>, Query),
        ("tag" = Option<String>, Query), ("q" = Option<String>, Query, description = "searches name, descriptions and tags")),
    responses((status = 200, body = Page<Item>)))]
pub async fn list_items(
    mut ctx: ApiCtx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    ctx.require(CATALOG_READ)?;
    let params = listing::parse(&store::ITEM_LIST, &q)?;
    let viewer = viewer(&ctx);
    let (items, total) = store::list_items(&mut ctx.tx, &params, viewer).await?;
    ctx.commit().await?;
    Ok(Json(listing::page_body(items, &params, total)))
}

/// Creates a draft item; an invalid form answers 422 with `details` keyed by schema path
/// (`form_schema.fields[3].validation.max_length`).
#[utoipa::path(post, path = "/catalog/items", tag = "catalog", operation_id = "createCatalogItem",
    request_body = ItemBody, responses((status = 201, body = Item)))]
pub async fn create_item(
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<ItemBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(CATALOG_MANAGE)?;
    let actor = ctx.actor();
    let item = actions::save_item(&mut ctx.tx, &ctx.principal.slug, &actor, None, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(item)))
}

#[utoipa::path(get, path = "/catalog/items/{id}", tag = "catalog", operation_id = "getCatalogItem",
    params(("id" = Uuid, Path, description = ITEM_ID)), responses((status = 200, body = Item)))]
pub async fn get_item(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Item>, AppError> {
    ctx.require(CATALOG_READ)?;
    let viewer = viewer(&ctx);
    let item = store::item(&mut ctx.tx, id, viewer).await?;
    ctx.commit().await?;
    Ok(Json(item))
}

/// Replaces the item's settings and draft form (optional fields left out are cleared). The
/// published version requesters fill in changes only on publish.
#[utoipa::path(put, path = "/catalog/items/{id}", tag = "catalog", operation_id = "updateCatalogItem",
    params(("id" = Uuid, Path, description = ITEM_ID)), request_body = ItemBody,
    responses((status = 200, body = Item)))]
pub async fn update_item(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<ItemBody>,
) -> Result<Json<Item>, AppError> {
    ctx.require(CATALOG_MANAGE)?;
    let actor = ctx.actor();
    let item =
        actions::save_item(&mut ctx.tx, &ctx.principal.slug, &actor, Some(id), &body).await?;
    ctx.commit().await?;
    Ok(Json(item))
}

/// Retires the item: it leaves the portal; its requests and versions stay.
#[utoipa::path(delete, path = "/catalog/items/{id}", tag = "catalog", operation_id = "retireCatalogItem",
    params(("id" = Uuid, Path, description = ITEM_ID)),
    responses((status = 200, description = "The item, now retired", body = Item)))]
pub async fn retire_item(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Item>, AppError> {
    ctx.require(CATALOG_MANAGE)?;
    let actor = ctx.actor();
    let item = actions::retire(&mut ctx.tx, &ctx.principal.slug, &actor, id).await?;
    ctx.commit().await?;
    Ok(Json(item))
}

/// Freezes the draft as the next version; the item becomes `active`. 409 when nothing changed
/// since the last publish or the item is retired.
#[utoipa::path(post, path = "/catalog/items/{id}/publish", tag = "catalog", operation_id = "publishCatalogItem",
    params(("id" = Uuid, Path, description = ITEM_ID)), responses((status = 200, body = Item),
        (status = 409, description = "Retired, or nothing changed since the last publish"),
        (status = 422, description = "The draft form is empty or has problems")))]
pub async fn publish(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Item>, AppError> {
    ctx.require(CATALOG_MANAGE)?;
    let actor = ctx.actor();
    let item = actions::publish(&mut ctx.tx, &ctx.principal.slug, &actor, id).await?;
    ctx.commit().await?;
    Ok(Json(item))
}

/// A new draft with the same settings and form.
#[utoipa::path(post, path = "/catalog/items/{id}/clone", tag = "catalog", operation_id = "cloneCatalogItem",
    params(("id" = Uuid, Path, description = ITEM_ID)), responses((status = 201, body = Item)))]
pub async fn clone_item(
    mut ctx: ApiCtx,
    PathId(id): PathId,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(CATALOG_MANAGE)?;
    let actor = ctx.actor();
    let item = actions::clone_item(&mut ctx.tx, &ctx.principal.slug, &actor, id).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(item)))
}
