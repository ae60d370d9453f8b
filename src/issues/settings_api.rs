//! `/v1/issue-categories…` and `/v1/priority-matrix`: issue settings for integrations.

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::settings::{self, Category, CategoryBody, FormSettings, Matrix, MatrixBody};
use crate::platform::auth::api::ApiCtx;
use crate::platform::error::AppError;
use crate::platform::json::ApiJson;
use crate::platform::openapi::Items;
use crate::platform::web::PathId;

const ID: &str = "Category id";

/// The whole tree, each category after its parent (`path` and `depth` show the nesting).
#[utoipa::path(get, path = "/issue-categories", tag = "issues", operation_id = "listIssueCategories",
    responses((status = 200, body = Items<Category>)))]
pub async fn list(mut ctx: ApiCtx) -> Result<Json<Items<Category>>, AppError> {
    ctx.require(crate::issues::perm::ISSUES_READ)?;
    let data = settings::categories(&mut ctx.tx).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

#[utoipa::path(post, path = "/issue-categories", tag = "issues", operation_id = "createIssueCategory",
    request_body = CategoryBody, responses((status = 201, body = Category)))]
pub async fn create(
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<CategoryBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(crate::admin::perm::SETTINGS_UPDATE)?;
    let actor = ctx.actor();
    let c = settings::save_category(&mut ctx.tx, &actor, None, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(c)))
}

#[utoipa::path(get, path = "/issue-categories/{id}", tag = "issues", operation_id = "getIssueCategory",
    params(("id" = Uuid, Path, description = ID)), responses((status = 200, body = Category)))]
pub async fn get(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Category>, AppError> {
    ctx.require(crate::issues::perm::ISSUES_READ)?;
    let c = settings::category(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok(Json(c))
}

/// Renames, moves (not under itself) or (de)activates a category.
#[utoipa::path(put, path = "/issue-categories/{id}", tag = "issues", operation_id = "updateIssueCategory",
    params(("id" = Uuid, Path, description = ID)), request_body = CategoryBody,
    responses((status = 200, body = Category)))]
pub async fn update(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<CategoryBody>,
) -> Result<Json<Category>, AppError> {
    ctx.require(crate::admin::perm::SETTINGS_UPDATE)?;
    let actor = ctx.actor();
    let c = settings::save_category(&mut ctx.tx, &actor, Some(id), &body).await?;
    ctx.commit().await?;
    Ok(Json(c))
}

/// Only an unused leaf: categories with issues, sub-categories or SLA conditions answer 409.
#[utoipa::path(delete, path = "/issue-categories/{id}", tag = "issues", operation_id = "deleteIssueCategory",
    params(("id" = Uuid, Path, description = ID)),
    responses((status = 204, description = "Deleted"), (status = 409, description = "In use")))]
pub async fn delete(mut ctx: ApiCtx, PathId(id): PathId) -> Result<StatusCode, AppError> {
    ctx.require(crate::admin::perm::SETTINGS_UPDATE)?;
    let actor = ctx.actor();
    settings::delete_category(&mut ctx.tx, &actor, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which priority an impact × urgency pair gives when an issue has no explicit priority.
#[utoipa::path(get, path = "/priority-matrix", tag = "issues", operation_id = "getPriorityMatrix",
    responses((status = 200, body = Matrix)))]
pub async fn matrix(mut ctx: ApiCtx) -> Result<Json<Matrix>, AppError> {
    ctx.require(crate::issues::perm::ISSUES_READ)?;
    let m = settings::matrix(&mut ctx.tx).await?;
    ctx.commit().await?;
    Ok(Json(m))
}

/// Changes the cells given; existing issues keep their priority.
#[utoipa::path(put, path = "/priority-matrix", tag = "issues", operation_id = "updatePriorityMatrix",
    request_body = MatrixBody, responses((status = 200, body = Matrix)))]
pub async fn update_matrix(
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<MatrixBody>,
) -> Result<Json<Matrix>, AppError> {
    ctx.require(crate::admin::perm::SETTINGS_UPDATE)?;
    let actor = ctx.actor();
    let m = settings::save_matrix(&mut ctx.tx, &actor, &body).await?;
    ctx.commit().await?;
    Ok(Json(m))
}

/// How the raise form asks requesters.
#[utoipa::path(get, path = "/issue-form-settings", tag = "issues", operation_id = "getIssueFormSettings",
    responses((status = 200, body = FormSettings)))]
pub async fn form_settings(mut ctx: ApiCtx) -> Result<Json<FormSettings>, AppError> {
    ctx.require(crate::issues::perm::ISSUES_READ)?;
    let s = settings::form_settings(&mut ctx.tx).await?;
    ctx.commit().await?;
    Ok(Json(s))
}

/// Lets requesters choose impact and urgency, or not.
#[utoipa::path(put, path = "/issue-form-settings", tag = "issues", operation_id = "updateIssueFormSettings",
    request_body = FormSettings, responses((status = 200, body = FormSettings)))]
pub async fn update_form_settings(
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<FormSettings>,
) -> Result<Json<FormSettings>, AppError> {
    ctx.require(crate::admin::perm::SETTINGS_UPDATE)?;
    let actor = ctx.actor();
    let s = settings::save_form_settings(&mut ctx.tx, &actor, &body).await?;
    ctx.commit().await?;
    Ok(Json(s))
}
