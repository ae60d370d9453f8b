//! Deliveries that have not gone out: notifications on an outward channel (email, chat,
//! paging, SMS, webhooks) that failed or are still being retried after an error, and messages
//! sent with the default because the tenant's template was broken — listed for administrators,
//! who can send one again now.

use askama::Template;
use axum::Json;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::mail;
use crate::platform::audit::{self, Actor};
use crate::platform::auth::api::ApiCtx;
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::openapi::Items;
use crate::platform::tenancy::{Slug, TenantTx};
use crate::platform::web::PathId;
use crate::platform::web::{Chrome, Hx, see_other};
use crate::render_page;

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Problem {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    /// The person, or the notification channel, it is for.
    pub user_name: Option<String>,
    pub channel: String,
    pub subject: Option<String>,
    /// `pending` (being retried) or `failed` (out of attempts).
    pub status: String,
    pub attempts: i32,
    pub error: Option<String>,
    /// The tenant's template for this message was broken, so the default was sent.
    pub template_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn list(tx: &mut TenantTx) -> Result<Vec<Problem>, AppError> {
    Ok(sqlx::query_as(
        "SELECT n.id, n.user_id, COALESCE(u.name, c.name) AS user_name, n.channel, n.subject, n.status,
                COALESCE(n.attempts, 0) AS attempts, n.error, n.template_error, n.created_at
         FROM notifications n LEFT JOIN users u ON u.id = n.user_id
         LEFT JOIN notification_channels c ON c.id = n.channel_id
         WHERE n.channel <> 'in_app' AND ((n.status NOT IN ('sent', 'withdrawn') AND (n.error IS NOT NULL OR n.status = 'failed'))
                                          OR n.template_error IS NOT NULL)
         ORDER BY n.created_at DESC LIMIT 200",
    )
    .fetch_all(&mut **tx)
    .await?)
}

async fn retry(tx: &mut TenantTx, tenant: &Slug, actor: &Actor, id: Uuid) -> Result<(), AppError> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT channel, COALESCE(status, 'pending') FROM notifications WHERE id = $1 AND channel <> 'in_app'",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        None => return Err(AppError::NotFound),
        Some((_, status)) if status == "sent" => {
            return Err(AppError::conflict("this notification was delivered"));
        }
        Some((channel, _)) if channel == "email" => mail::resend(tx, tenant, id).await?,
        Some(_) => {
            sqlx::query("UPDATE notifications SET status = 'pending' WHERE id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await?;
            super::deliver::enqueue(tx, tenant, id, None).await?;
        }
    }
    audit::record(tx, actor, "retry", "notification", id, json!({})).await
}

#[utoipa::path(get, path = "/notification-deliveries", tag = "notifications",
    operation_id = "listNotificationDeliveryProblems",
    responses((status = 200, description = "Failed or retrying deliveries, newest first", body = Items<Problem>)))]
pub async fn api_list(mut ctx: ApiCtx) -> Result<Json<Items<Problem>>, AppError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_READ)?;
    let data = list(&mut ctx.tx).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

#[utoipa::path(post, path = "/notification-deliveries/{id}/retry", tag = "notifications",
    operation_id = "retryNotificationDelivery", params(("id" = Uuid, Path, description = "Notification id")),
    responses((status = 202, description = "Queued again"), (status = 409, description = "Already sent")))]
pub async fn api_retry(mut ctx: ApiCtx, PathId(id): PathId) -> Result<StatusCode, AppError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_UPDATE)?;
    let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
    retry(&mut ctx.tx, &slug, &actor, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Template)]
#[template(path = "notifications/problems.html", blocks = ["content"])]
struct ProblemsPage {
    chrome: Chrome,
    problems: Vec<Problem>,
    can_retry: bool,
}

pub async fn page(mut ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_READ)?;
    let problems = list(&mut ctx.tx).await?;
    ctx.tx.commit().await?;
    let page = ProblemsPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "deliveries",
            &ctx.manifest,
            ctx.now,
        ),
        problems,
        can_retry: ctx
            .principal
            .can(crate::integrations::perm::INTEGRATIONS_UPDATE),
    };
    Ok(render_page!(hx, page))
}

pub async fn page_retry(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
) -> Result<Response, WebError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_UPDATE)?;
    let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
    retry(&mut ctx.tx, &slug, &actor, id).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, "/admin/notifications"))
}
