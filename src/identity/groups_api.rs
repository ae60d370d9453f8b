//! `/v1/groups…`: groups (teams, departments, distribution lists) and their members.

use std::collections::HashMap;

use axum::Json;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::groups_actions::{self as actions, GroupBody};
use super::groups_store::{self as store, Group};
use crate::platform::auth::api::ApiCtx;
use crate::platform::error::AppError;
use crate::platform::json::ApiJson;
use crate::platform::listing;
use crate::platform::openapi::{ErrorBody, Items, ListQuery, Page};
use crate::platform::web::{PathId, PathIds};

#[utoipa::path(get, path = "/groups", tag = "groups", operation_id = "listGroups",
    params(ListQuery, ("type" = Option<String>, Query), ("parent_id" = Option<Uuid>, Query), ("manager_id" = Option<Uuid>, Query)),
    responses((status = 200, body = Page<Group>)))]
pub async fn list(
    mut ctx: ApiCtx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    ctx.require(crate::identity::perm::GROUPS_READ)?;
    let params = listing::parse(&store::LIST_SPEC, &q)?;
    let (groups, total) = store::list(&mut ctx.tx, &params).await?;
    ctx.commit().await?;
    Ok(Json(listing::page_body(groups, &params, total)))
}

#[utoipa::path(post, path = "/groups", tag = "groups", operation_id = "createGroup", request_body = GroupBody,
    responses((status = 201, body = Group), (status = 409, description = "Name in use", body = ErrorBody)))]
pub async fn create(
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<GroupBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(crate::identity::perm::GROUPS_CREATE)?;
    let actor = ctx.actor();
    let group = actions::save(&mut ctx.tx, &ctx.principal.slug, &actor, None, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(group)))
}

#[utoipa::path(get, path = "/groups/{id}", tag = "groups", operation_id = "getGroup", params(("id" = Uuid, Path, description = "Group id")),
    responses((status = 200, body = Group)))]
pub async fn get(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Group>, AppError> {
    ctx.require(crate::identity::perm::GROUPS_READ)?;
    let group = store::get(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok(Json(group))
}

#[utoipa::path(put, path = "/groups/{id}", tag = "groups", operation_id = "updateGroup", params(("id" = Uuid, Path, description = "Group id")), request_body = GroupBody,
    responses((status = 200, body = Group), (status = 409, description = "Name in use", body = ErrorBody)))]
pub async fn update(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<GroupBody>,
) -> Result<Json<Group>, AppError> {
    ctx.require(crate::identity::perm::GROUPS_UPDATE)?;
    let actor = ctx.actor();
    let group = actions::save(&mut ctx.tx, &ctx.principal.slug, &actor, Some(id), &body).await?;
    ctx.commit().await?;
    Ok(Json(group))
}

#[utoipa::path(delete, path = "/groups/{id}", tag = "groups", operation_id = "deleteGroup", params(("id" = Uuid, Path, description = "Group id")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(mut ctx: ApiCtx, PathId(id): PathId) -> Result<StatusCode, AppError> {
    ctx.require(crate::identity::perm::GROUPS_DELETE)?;
    let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
    actions::delete(&mut ctx.tx, &slug, &actor, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/groups/{id}/members", tag = "groups", operation_id = "listGroupMembers", params(("id" = Uuid, Path, description = "Group id")),
    responses((status = 200, body = Items<store::Member>)))]
pub async fn members(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Value>, AppError> {
    ctx.require(crate::identity::perm::GROUPS_READ)?;
    store::get(&mut ctx.tx, id).await?;
    let members = store::members(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok(Json(json!({"data": members})))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    pub user_id: Uuid,
    /// member or lead (default member).
    pub role: Option<String>,
}

#[utoipa::path(post, path = "/groups/{id}/members", tag = "groups", operation_id = "addGroupMember", params(("id" = Uuid, Path, description = "Group id")), request_body = MemberBody,
    responses((status = 201, description = "The group's members after the change", body = Items<store::Member>)))]
pub async fn add_member(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<MemberBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(crate::identity::perm::GROUPS_UPDATE)?;
    let actor = ctx.actor();
    actions::add_member(
        &mut ctx.tx,
        &ctx.principal.slug,
        &actor,
        id,
        body.user_id,
        body.role.as_deref().unwrap_or("member"),
    )
    .await?;
    let members = store::members(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(json!({"data": members}))))
}

#[utoipa::path(delete, path = "/groups/{id}/members/{user_id}", tag = "groups", operation_id = "removeGroupMember",
    params(("id" = Uuid, Path, description = "Group id"), ("user_id" = Uuid, Path)), responses((status = 204, description = "Removed")))]
pub async fn remove_member(
    mut ctx: ApiCtx,
    PathIds(id, user_id): PathIds,
) -> Result<StatusCode, AppError> {
    ctx.require(crate::identity::perm::GROUPS_UPDATE)?;
    let actor = ctx.actor();
    actions::remove_member(&mut ctx.tx, &ctx.principal.slug, &actor, id, user_id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------- admin pages ----------
