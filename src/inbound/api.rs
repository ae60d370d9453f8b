//! `/v1/inbound/email` (an MTA pipes raw messages here, with the tenant's API key),
//! `/v1/inbound/settings` and `/v1/inbound/emails` (what came in and what became of it).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::receive::{self, Received};
use super::settings::{self, InboundSettings};
use crate::platform::auth::api::ApiCtx;
use crate::platform::error::AppError;
use crate::platform::json::ApiJson;
use crate::platform::openapi::Items;
use crate::platform::state::AppState;

/// The body is one raw RFC 5322 message (`Content-Type: message/rfc822`). A new message raises
/// an issue, a reply comments on its issue, automatic mail is ignored; the answer says which.
/// Needs `settings:update` (give the MTA an API key of its own).
#[utoipa::path(post, path = "/inbound/email", tag = "inbound", operation_id = "receiveEmail",
    request_body(content = String, content_type = "message/rfc822"),
    responses((status = 200, body = Received)))]
pub async fn email(
    State(state): State<AppState>,
    ctx: ApiCtx,
    raw: Bytes,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(crate::admin::perm::SETTINGS_UPDATE)?;
    let tenant = ctx.principal.slug.clone();
    // The intake opens its own transaction (as the sender, not the MTA's key).
    ctx.commit().await?;
    let r = receive::receive(&state, &tenant, &raw).await?;
    Ok((StatusCode::OK, Json(r)))
}

#[utoipa::path(get, path = "/inbound/settings", tag = "inbound", operation_id = "getInboundSettings",
    responses((status = 200, body = InboundSettings)))]
pub async fn get_settings(mut ctx: ApiCtx) -> Result<Json<InboundSettings>, AppError> {
    ctx.require(crate::admin::perm::SETTINGS_READ)?;
    let s = settings::get(&mut ctx.tx).await?;
    ctx.commit().await?;
    Ok(Json(s))
}

#[utoipa::path(put, path = "/inbound/settings", tag = "inbound", operation_id = "updateInboundSettings",
    request_body = InboundSettings, responses((status = 200, body = InboundSettings)))]
pub async fn put_settings(
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<InboundSettings>,
) -> Result<Json<InboundSettings>, AppError> {
    ctx.require(crate::admin::perm::SETTINGS_UPDATE)?;
    let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
    let s = settings::save(&mut ctx.tx, &slug, &actor, &body).await?;
    ctx.commit().await?;
    Ok(Json(s))
}

#[utoipa::path(get, path = "/inbound/emails", tag = "inbound", operation_id = "listInboundEmails",
    responses((status = 200, description = "The last 200 messages, newest first", body = Items<Received>)))]
pub async fn list(mut ctx: ApiCtx) -> Result<Json<Items<Received>>, AppError> {
    ctx.require(crate::admin::perm::SETTINGS_READ)?;
    let data = recent(&mut ctx.tx).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

pub async fn recent(
    tx: &mut crate::platform::tenancy::TenantTx,
) -> Result<Vec<Received>, AppError> {
    Ok(sqlx::query_as(&format!(
        "{} ORDER BY e.received_at DESC LIMIT 200",
        receive::SELECT
    ))
    .fetch_all(&mut **tx)
    .await?)
}
