//! `/v1/sla/policies…` and `/v1/sla/business-hours…`: SLA configuration for integrations.

use axum::Json;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::hours::{self, BusinessHours, HolidayImport, HoursBody};
use super::policies::{self, Policy, PolicyBody};
use crate::platform::auth::api::ApiCtx;
use crate::platform::error::AppError;
use crate::platform::json::ApiJson;
use crate::platform::openapi::Items;
use crate::platform::web::PathId;

const POLICY: &str = "SLA policy id";
const HOURS: &str = "Business hours id";

#[utoipa::path(get, path = "/sla/policies", tag = "sla", operation_id = "listSlaPolicies",
    responses((status = 200, description = "By kind, then in matching order (the default last)", body = Items<Policy>)))]
pub async fn list_policies(mut ctx: ApiCtx) -> Result<Json<Items<Policy>>, AppError> {
    ctx.require(crate::sla::perm::SLA_READ)?;
    let data = policies::list(&mut ctx.tx).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

/// Making a policy the default demotes the previous default of the same kind.
#[utoipa::path(post, path = "/sla/policies", tag = "sla", operation_id = "createSlaPolicy",
    request_body = PolicyBody, responses((status = 201, body = Policy)))]
pub async fn create_policy(
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<PolicyBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(crate::sla::perm::SLA_CREATE)?;
    let actor = ctx.actor();
    let p = policies::save(&mut ctx.tx, &ctx.principal.slug, &actor, None, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(p)))
}

#[utoipa::path(get, path = "/sla/policies/{id}", tag = "sla", operation_id = "getSlaPolicy",
    params(("id" = Uuid, Path, description = POLICY)), responses((status = 200, body = Policy)))]
pub async fn get_policy(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Policy>, AppError> {
    ctx.require(crate::sla::perm::SLA_READ)?;
    let p = policies::get(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok(Json(p))
}

/// Replaces the policy and its targets. Issues keep the policy they were given; open ones
/// under it get new due times (in the background).
#[utoipa::path(put, path = "/sla/policies/{id}", tag = "sla", operation_id = "updateSlaPolicy",
    params(("id" = Uuid, Path, description = POLICY)), request_body = PolicyBody,
    responses((status = 200, body = Policy)))]
pub async fn update_policy(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<PolicyBody>,
) -> Result<Json<Policy>, AppError> {
    ctx.require(crate::sla::perm::SLA_UPDATE)?;
    let actor = ctx.actor();
    let p = policies::save(&mut ctx.tx, &ctx.principal.slug, &actor, Some(id), &body).await?;
    ctx.commit().await?;
    Ok(Json(p))
}

/// Only a policy nothing uses: the default policy and policies issues point at answer 409.
#[utoipa::path(delete, path = "/sla/policies/{id}", tag = "sla", operation_id = "deleteSlaPolicy",
    params(("id" = Uuid, Path, description = POLICY)),
    responses((status = 204, description = "Deleted"), (status = 409, description = "In use")))]
pub async fn delete_policy(mut ctx: ApiCtx, PathId(id): PathId) -> Result<StatusCode, AppError> {
    ctx.require(crate::sla::perm::SLA_DELETE)?;
    let actor = ctx.actor();
    policies::delete(&mut ctx.tx, &actor, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/sla/business-hours", tag = "sla", operation_id = "listBusinessHours",
    responses((status = 200, body = Items<BusinessHours>)))]
pub async fn list_hours(mut ctx: ApiCtx) -> Result<Json<Items<BusinessHours>>, AppError> {
    ctx.require(crate::sla::perm::SLA_READ)?;
    let data = hours::list(&mut ctx.tx).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

#[utoipa::path(post, path = "/sla/business-hours", tag = "sla", operation_id = "createBusinessHours",
    request_body = HoursBody, responses((status = 201, body = BusinessHours)))]
pub async fn create_hours(
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<HoursBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(crate::sla::perm::SLA_CREATE)?;
    let actor = ctx.actor();
    let h = hours::save(&mut ctx.tx, &ctx.principal.slug, &actor, None, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(h)))
}

#[utoipa::path(get, path = "/sla/business-hours/{id}", tag = "sla", operation_id = "getBusinessHours",
    params(("id" = Uuid, Path, description = HOURS)), responses((status = 200, body = BusinessHours)))]
pub async fn get_hours(
    mut ctx: ApiCtx,
    PathId(id): PathId,
) -> Result<Json<BusinessHours>, AppError> {
    ctx.require(crate::sla::perm::SLA_READ)?;
    let h = hours::get(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok(Json(h))
}

/// Replaces name, zone, weekly schedule and holidays; open issues on these hours get new due
/// times (in the background).
#[utoipa::path(put, path = "/sla/business-hours/{id}", tag = "sla", operation_id = "updateBusinessHours",
    params(("id" = Uuid, Path, description = HOURS)), request_body = HoursBody,
    responses((status = 200, body = BusinessHours)))]
pub async fn update_hours(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<HoursBody>,
) -> Result<Json<BusinessHours>, AppError> {
    ctx.require(crate::sla::perm::SLA_UPDATE)?;
    let actor = ctx.actor();
    let h = hours::save(&mut ctx.tx, &ctx.principal.slug, &actor, Some(id), &body).await?;
    ctx.commit().await?;
    Ok(Json(h))
}

#[utoipa::path(delete, path = "/sla/business-hours/{id}", tag = "sla", operation_id = "deleteBusinessHours",
    params(("id" = Uuid, Path, description = HOURS)),
    responses((status = 204, description = "Deleted"), (status = 409, description = "Default or in use")))]
pub async fn delete_hours(mut ctx: ApiCtx, PathId(id): PathId) -> Result<StatusCode, AppError> {
    ctx.require(crate::sla::perm::SLA_DELETE)?;
    let actor = ctx.actor();
    hours::delete(&mut ctx.tx, &actor, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds the all-day events of an iCalendar file as holidays (dates already present are kept;
/// recurring events are listed in `skipped`).
#[utoipa::path(post, path = "/sla/business-hours/{id}/holidays/import", tag = "sla",
    operation_id = "importHolidays", params(("id" = Uuid, Path, description = HOURS)),
    request_body(content = String, content_type = "text/calendar"),
    responses((status = 200, body = HolidayImport)))]
pub async fn import_holidays(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    body: Bytes,
) -> Result<Json<HolidayImport>, AppError> {
    ctx.require(crate::sla::perm::SLA_UPDATE)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| AppError::field("file", "the file is not UTF-8 text"))?;
    let actor = ctx.actor();
    let r = hours::import_holidays(&mut ctx.tx, &ctx.principal.slug, &actor, id, text).await?;
    ctx.commit().await?;
    Ok(Json(r))
}
