//! `/v1/webhooks…`: endpoints, their secrets, the delivery log, test, redelivery and replay.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::deliver::Deliverer;
use super::messages::{self, Message};
use super::store::{self, Delivery, Webhook, WebhookBody, WithSecret};
use crate::platform::auth::api::ApiCtx;
use crate::platform::error::AppError;
use crate::platform::events::{self, DomainEvent};
use crate::platform::json::ApiJson;
use crate::platform::listing::Problems;
use crate::platform::openapi::Items;
use crate::platform::state::AppState;
use crate::platform::web::PathId;
use crate::platform::web::PathIds;

const ID: &str = "Webhook id";
/// At most this many events per replay.
const REPLAY_MAX: i64 = 10_000;

#[utoipa::path(get, path = "/webhooks", tag = "webhooks", operation_id = "listWebhooks",
    responses((status = 200, body = Items<Webhook>)))]
pub async fn list(mut ctx: ApiCtx) -> Result<Json<Items<Webhook>>, AppError> {
    ctx.require(crate::webhooks::perm::WEBHOOKS_READ)?;
    let data = store::list(&mut ctx.tx).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

/// The answer carries the signing secret; it cannot be read again (rotate to get a new one).
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", operation_id = "createWebhook",
    request_body = WebhookBody, responses((status = 201, body = WithSecret)))]
pub async fn create(
    State(state): State<AppState>,
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<WebhookBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(crate::webhooks::perm::WEBHOOKS_CREATE)?;
    let actor = ctx.actor();
    let w = store::create(
        &mut ctx.tx,
        &actor,
        &state.sealer,
        &state.outbound,
        &state.manifest,
        &body,
    )
    .await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(w)))
}

#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks", operation_id = "getWebhook",
    params(("id" = Uuid, Path, description = ID)), responses((status = 200, body = Webhook)))]
pub async fn get(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Webhook>, AppError> {
    ctx.require(crate::webhooks::perm::WEBHOOKS_READ)?;
    let w = store::get(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok(Json(w))
}

/// Re-activating a disabled endpoint clears its failure state.
#[utoipa::path(put, path = "/webhooks/{id}", tag = "webhooks", operation_id = "updateWebhook",
    params(("id" = Uuid, Path, description = ID)), request_body = WebhookBody,
    responses((status = 200, body = Webhook)))]
pub async fn update(
    State(state): State<AppState>,
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<WebhookBody>,
) -> Result<Json<Webhook>, AppError> {
    ctx.require(crate::webhooks::perm::WEBHOOKS_UPDATE)?;
    let actor = ctx.actor();
    let w = store::update(
        &mut ctx.tx,
        &actor,
        &state.outbound,
        &state.manifest,
        id,
        &body,
    )
    .await?;
    ctx.commit().await?;
    Ok(Json(w))
}

#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", operation_id = "deleteWebhook",
    params(("id" = Uuid, Path, description = ID)), responses((status = 204, description = "Deleted")))]
pub async fn delete(mut ctx: ApiCtx, PathId(id): PathId) -> Result<StatusCode, AppError> {
    ctx.require(crate::webhooks::perm::WEBHOOKS_DELETE)?;
    let actor = ctx.actor();
    store::delete(&mut ctx.tx, &actor, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new secret; the previous one keeps signing alongside it for 24 hours.
#[utoipa::path(post, path = "/webhooks/{id}/rotate-secret", tag = "webhooks",
    operation_id = "rotateWebhookSecret", params(("id" = Uuid, Path, description = ID)),
    responses((status = 200, body = WithSecret)))]
pub async fn rotate(
    State(state): State<AppState>,
    mut ctx: ApiCtx,
    PathId(id): PathId,
) -> Result<Json<WithSecret>, AppError> {
    ctx.require(crate::webhooks::perm::WEBHOOKS_UPDATE)?;
    let actor = ctx.actor();
    let w = store::rotate(&mut ctx.tx, &actor, &state.sealer, id, ctx.now).await?;
    ctx.commit().await?;
    Ok(Json(w))
}

/// Sends a signed `webhook.test` message now (once, no retries) and answers how it went; the
/// attempt is in the delivery log too.
#[utoipa::path(post, path = "/webhooks/{id}/test", tag = "webhooks", operation_id = "testWebhook",
    params(("id" = Uuid, Path, description = ID)), responses((status = 200, body = Delivery)))]
pub async fn test(
    State(state): State<AppState>,
    mut ctx: ApiCtx,
    PathId(id): PathId,
) -> Result<Json<Delivery>, AppError> {
    ctx.require(crate::webhooks::perm::WEBHOOKS_UPDATE)?;
    let w = store::get(&mut ctx.tx, id).await?;
    let (tenant, now) = (ctx.principal.slug.clone(), ctx.now);
    ctx.commit().await?;
    if !w.active {
        return Err(AppError::conflict(
            "the webhook is disabled: activate it first",
        ));
    }
    let m = Message::test(&w, now);
    let (_, delivery) = deliverer(&state).attempt(&tenant, &m, 1).await?;
    delivery.map(Json).ok_or(AppError::NotFound)
}

#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks",
    operation_id = "listWebhookDeliveries", params(("id" = Uuid, Path, description = ID)),
    responses((status = 200, description = "Every attempt, newest first (the last 200)", body = Items<Delivery>)))]
pub async fn deliveries(
    mut ctx: ApiCtx,
    PathId(id): PathId,
) -> Result<Json<Items<Delivery>>, AppError> {
    ctx.require(crate::webhooks::perm::WEBHOOKS_READ)?;
    let data = store::deliveries(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

/// Sends a logged message again, with the same `webhook-id` (receivers may deduplicate).
#[utoipa::path(post, path = "/webhooks/{id}/deliveries/{delivery_id}/redeliver", tag = "webhooks",
    operation_id = "redeliverWebhookMessage",
    params(("id" = Uuid, Path, description = ID), ("delivery_id" = Uuid, Path, description = "A logged attempt")),
    responses((status = 202, description = "Queued")))]
pub async fn redeliver(
    mut ctx: ApiCtx,
    PathIds(id, delivery_id): PathIds,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(crate::webhooks::perm::WEBHOOKS_UPDATE)?;
    let actor = ctx.actor();
    let slug = ctx.principal.slug.clone();
    let message_id = messages::redeliver(&mut ctx.tx, &slug, &actor, id, delivery_id).await?;
    ctx.commit().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"message_id": message_id})),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    pub since: DateTime<Utc>,
    /// Default: now.
    pub until: Option<DateTime<Utc>>,
}

/// Queues again every event in the time range that the webhook subscribes to (at most 10,000),
/// each with its original `webhook-id`.
#[utoipa::path(post, path = "/webhooks/{id}/replay", tag = "webhooks", operation_id = "replayWebhook",
    params(("id" = Uuid, Path, description = ID)), request_body = ReplayBody,
    responses((status = 202, description = "`{\"queued\": n}`")))]
pub async fn replay(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<ReplayBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(crate::webhooks::perm::WEBHOOKS_UPDATE)?;
    let w = store::get(&mut ctx.tx, id).await?;
    let until = body.until.unwrap_or(ctx.now);
    let mut p = Problems::default();
    if until <= body.since {
        p.add("until", "must be after since");
    }
    p.into_result()?;
    let events: Vec<DomainEvent> = sqlx::query_as(&format!(
        "{} WHERE occurred_at >= $1 AND occurred_at < $2 ORDER BY id LIMIT $3",
        events::SELECT
    ))
    .bind(body.since)
    .bind(until)
    .bind(REPLAY_MAX)
    .fetch_all(&mut *ctx.tx)
    .await?;
    let mut queued = 0;
    for e in events
        .iter()
        .filter(|e| w.events.iter().any(|p| store::covers(p, &e.event_type)))
    {
        messages::enqueue(&mut ctx.tx, &ctx.principal.slug, &Message::of_event(id, e)).await?;
        queued += 1;
    }
    let actor = ctx.actor();
    let changes = json!({"since": body.since, "until": until, "queued": queued});
    crate::platform::audit::record(&mut ctx.tx, &actor, "replay", "webhook", id, changes).await?;
    ctx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"queued": queued}))))
}

pub fn deliverer(state: &AppState) -> Deliverer {
    Deliverer {
        pool: state.pool.clone(),
        sealer: state.sealer.clone(),
        outbound: state.outbound.clone(),
        clock: state.clock.clone(),
    }
}
