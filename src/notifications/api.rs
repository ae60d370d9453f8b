//! `/v1/notifications…` (the caller's own inbox), `/v1/users/{id}/notifications` (preferences)
//! and `/v1/issues/{id}/watch`.

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::store::{self, Notification, Preferences};
use crate::identity::users_api::parse_id;
use crate::issues::store::{self as issues, Scope};
use crate::platform::auth::Principal;
use crate::platform::auth::api::ApiCtx;
use crate::platform::error::AppError;
use crate::platform::json::ApiJson;
use crate::platform::web::PathId;

#[derive(Debug, Serialize, ToSchema)]
pub struct Inbox {
    /// Newest first (the last 100).
    pub data: Vec<Notification>,
    pub unread: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct InboxQuery {
    /// Only the unread ones.
    pub unread: Option<bool>,
}

#[utoipa::path(get, path = "/notifications", tag = "notifications", operation_id = "listMyNotifications",
    params(InboxQuery), responses((status = 200, body = Inbox)))]
pub async fn inbox(mut ctx: ApiCtx, Query(q): Query<InboxQuery>) -> Result<Json<Inbox>, AppError> {
    let me = ctx.principal.user_id;
    let data = store::inbox(&mut ctx.tx, me, q.unread.unwrap_or(false)).await?;
    let unread = store::unread(&mut ctx.tx, me).await?;
    ctx.commit().await?;
    Ok(Json(Inbox { data, unread }))
}

#[utoipa::path(post, path = "/notifications/{id}/read", tag = "notifications",
    operation_id = "readNotification", params(("id" = Uuid, Path, description = "One of your notifications")),
    responses((status = 204, description = "Read")))]
pub async fn read(mut ctx: ApiCtx, PathId(id): PathId) -> Result<StatusCode, AppError> {
    let me = ctx.principal.user_id;
    store::mark_read(&mut ctx.tx, me, id, ctx.now).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/notifications/read-all", tag = "notifications",
    operation_id = "readAllNotifications", responses((status = 200, description = "`{\"marked\": n}`")))]
pub async fn read_all(mut ctx: ApiCtx) -> Result<Json<Value>, AppError> {
    let me = ctx.principal.user_id;
    let marked = store::mark_all_read(&mut ctx.tx, me, ctx.now).await?;
    ctx.commit().await?;
    Ok(Json(json!({"marked": marked})))
}

/// Your own preferences, or anyone's with `users:update`.
fn may_manage(p: &Principal, user: Uuid) -> Result<(), AppError> {
    if p.user_id == user {
        Ok(())
    } else {
        p.require(crate::identity::perm::USERS_UPDATE)
    }
}

async fn existing_user(ctx: &mut ApiCtx, id: &str) -> Result<Uuid, AppError> {
    let id = parse_id(id)?;
    let sql = "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)";
    if !crate::platform::tenancy::exists(&mut ctx.tx, sql, id).await? {
        return Err(AppError::NotFound);
    }
    Ok(id)
}

#[utoipa::path(get, path = "/users/{id}/notifications", tag = "notifications",
    operation_id = "getNotificationPreferences", params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = Preferences)))]
pub async fn get_preferences(
    mut ctx: ApiCtx,
    Path(id): Path<String>,
) -> Result<Json<Preferences>, AppError> {
    let id = existing_user(&mut ctx, &id).await?;
    may_manage(&ctx.principal, id)?;
    let p = store::preferences(&mut ctx.tx, &ctx.manifest, id).await?;
    ctx.commit().await?;
    Ok(Json(p))
}

#[utoipa::path(put, path = "/users/{id}/notifications", tag = "notifications",
    operation_id = "updateNotificationPreferences", params(("id" = Uuid, Path, description = "User id")),
    request_body = Preferences, responses((status = 200, body = Preferences)))]
pub async fn put_preferences(
    mut ctx: ApiCtx,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Preferences>,
) -> Result<Json<Preferences>, AppError> {
    let id = existing_user(&mut ctx, &id).await?;
    may_manage(&ctx.principal, id)?;
    let actor = ctx.actor();
    let p = store::save_preferences(&mut ctx.tx, &ctx.manifest, &actor, id, &body).await?;
    ctx.commit().await?;
    Ok(Json(p))
}

async fn set_watch(mut ctx: ApiCtx, id: &str, on: bool) -> Result<StatusCode, AppError> {
    ctx.require(crate::issues::perm::ISSUES_READ)?;
    let scope = Scope::of(&mut ctx.tx, &ctx.principal).await?;
    let issue = issues::get(&mut ctx.tx, &scope, parse_id(id)?).await?;
    let (actor, me) = (ctx.actor(), ctx.principal.user_id);
    store::watch(&mut ctx.tx, &actor, issue.id, me, on).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// You hear about every change to the issue (as far as your preferences allow).
#[utoipa::path(post, path = "/issues/{id}/watch", tag = "notifications", operation_id = "watchIssue",
    params(("id" = Uuid, Path, description = "Issue id")), responses((status = 204, description = "Watching")))]
pub async fn watch(ctx: ApiCtx, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    set_watch(ctx, &id, true).await
}

#[utoipa::path(delete, path = "/issues/{id}/watch", tag = "notifications", operation_id = "unwatchIssue",
    params(("id" = Uuid, Path, description = "Issue id")), responses((status = 204, description = "Not watching")))]
pub async fn unwatch(ctx: ApiCtx, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    set_watch(ctx, &id, false).await
}
