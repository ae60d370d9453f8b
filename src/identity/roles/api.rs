//! `/v1/roles` and `/v1/permissions`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::{Permission, Role, RoleBody, all, one, save};
use crate::platform::auth::api::ApiCtx;
use crate::platform::error::AppError;
use crate::platform::json::ApiJson;
use crate::platform::openapi::{ErrorBody, Items};
use crate::platform::web::PathId;

#[utoipa::path(get, path = "/roles", tag = "roles", operation_id = "listRoles", responses((status = 200, body = Items<Role>)))]
pub async fn list(mut ctx: ApiCtx) -> Result<Json<Value>, AppError> {
    ctx.require(crate::identity::perm::ROLES_READ)?;
    let roles = all(&mut ctx.tx).await?;
    ctx.commit().await?;
    Ok(Json(json!({"data": roles})))
}

#[utoipa::path(get, path = "/roles/{id}", tag = "roles", operation_id = "getRole", params(("id" = Uuid, Path, description = "Role id")), responses((status = 200, body = Role)))]
pub async fn get(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Role>, AppError> {
    ctx.require(crate::identity::perm::ROLES_READ)?;
    let role = one(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok(Json(role))
}

#[utoipa::path(post, path = "/roles", tag = "roles", operation_id = "createRole", request_body = RoleBody,
    responses((status = 201, body = Role), (status = 409, description = "Name in use", body = ErrorBody)))]
pub async fn create(
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(crate::identity::perm::ROLES_CREATE)?;
    let actor = ctx.actor();
    let role = save(&mut ctx.tx, &ctx.principal.slug, &actor, None, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(role)))
}

#[utoipa::path(put, path = "/roles/{id}", tag = "roles", operation_id = "updateRole", params(("id" = Uuid, Path, description = "Role id")), request_body = RoleBody,
    responses((status = 200, body = Role), (status = 409, description = "System roles cannot be changed", body = ErrorBody)))]
pub async fn update(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<Json<Role>, AppError> {
    ctx.require(crate::identity::perm::ROLES_UPDATE)?;
    let actor = ctx.actor();
    let role = save(&mut ctx.tx, &ctx.principal.slug, &actor, Some(id), &body).await?;
    ctx.commit().await?;
    Ok(Json(role))
}

#[utoipa::path(delete, path = "/roles/{id}", tag = "roles", operation_id = "deleteRole", params(("id" = Uuid, Path, description = "Role id")),
    responses((status = 204, description = "Deleted"), (status = 409, description = "System roles cannot be deleted", body = ErrorBody)))]
pub async fn delete(mut ctx: ApiCtx, PathId(id): PathId) -> Result<StatusCode, AppError> {
    ctx.require(crate::identity::perm::ROLES_DELETE)?;
    let actor = ctx.actor();
    let slug = ctx.principal.slug.clone();
    super::delete(&mut ctx.tx, &slug, &actor, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every permission (resource × action) a role can hold.
#[utoipa::path(get, path = "/permissions", tag = "roles", operation_id = "listPermissions", responses((status = 200, body = Items<Permission>)))]
pub async fn permissions(mut ctx: ApiCtx) -> Result<Json<Value>, AppError> {
    ctx.require(crate::identity::perm::ROLES_READ)?;
    let perms = super::permissions(&mut ctx.tx).await?;
    ctx.commit().await?;
    Ok(Json(json!({"data": perms})))
}
