//! `/v1/integrations…`: provider accounts, with write-only secrets and a test send.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::send::{self, Message, Outcome};
use super::store::{self, Integration, IntegrationBody};
use crate::platform::auth::api::ApiCtx;
use crate::platform::error::AppError;
use crate::platform::json::ApiJson;
use crate::platform::openapi::Items;
use crate::platform::state::AppState;
use crate::platform::tenancy::TenantTx;
use crate::platform::web::PathId;

const ID: &str = "Integration id";

#[utoipa::path(get, path = "/integrations", tag = "integrations", operation_id = "listIntegrations",
    responses((status = 200, body = Items<Integration>)))]
pub async fn list(
    State(state): State<AppState>,
    mut ctx: ApiCtx,
) -> Result<Json<Items<Integration>>, AppError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_READ)?;
    let data = store::list(&mut ctx.tx, &state.sealer).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

/// Types and their settings: `email` (config `host`, `port`, `tls` none/starttls/tls,
/// `username`, `from`; secret `password`), `slack` (config `base_url`, `channel`; secrets
/// `webhook_url` or `bot_token`), `teams` (secret `webhook_url`), `pagerduty` (config
/// `base_url`; secret `routing_key`), `sms` (config `base_url`, `account_sid`, `from_number`;
/// secret `auth_token`), `webhook` (config `url`; secret `authorization`).
#[utoipa::path(post, path = "/integrations", tag = "integrations", operation_id = "createIntegration",
    request_body = IntegrationBody, responses((status = 201, body = Integration)))]
pub async fn create(
    State(state): State<AppState>,
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<IntegrationBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_CREATE)?;
    let actor = ctx.actor();
    let i = store::create(&mut ctx.tx, &actor, &state.sealer, &state.outbound, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(i)))
}

#[utoipa::path(get, path = "/integrations/{id}", tag = "integrations", operation_id = "getIntegration",
    params(("id" = Uuid, Path, description = ID)), responses((status = 200, body = Integration)))]
pub async fn get(
    State(state): State<AppState>,
    mut ctx: ApiCtx,
    PathId(id): PathId,
) -> Result<Json<Integration>, AppError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_READ)?;
    let i = store::get(&mut ctx.tx, &state.sealer, id).await?;
    ctx.commit().await?;
    Ok(Json(i))
}

/// Secrets left out keep their values; `null` clears one.
#[utoipa::path(put, path = "/integrations/{id}", tag = "integrations", operation_id = "updateIntegration",
    params(("id" = Uuid, Path, description = ID)), request_body = IntegrationBody,
    responses((status = 200, body = Integration)))]
pub async fn update(
    State(state): State<AppState>,
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<IntegrationBody>,
) -> Result<Json<Integration>, AppError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_UPDATE)?;
    let actor = ctx.actor();
    let i = store::update(
        &mut ctx.tx,
        &actor,
        &state.sealer,
        &state.outbound,
        id,
        &body,
    )
    .await?;
    ctx.commit().await?;
    Ok(Json(i))
}

/// Its channels go with it.
#[utoipa::path(delete, path = "/integrations/{id}", tag = "integrations", operation_id = "deleteIntegration",
    params(("id" = Uuid, Path, description = ID)), responses((status = 204, description = "Deleted")))]
pub async fn delete(
    State(state): State<AppState>,
    mut ctx: ApiCtx,
    PathId(id): PathId,
) -> Result<StatusCode, AppError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_DELETE)?;
    let actor = ctx.actor();
    store::delete(&mut ctx.tx, &actor, &state.sealer, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestBody {
    /// Where to send: a mail address (email), a phone number (SMS) or a Slack channel.
    /// Default: your own address or phone, or the Slack integration's channel.
    pub to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    pub ok: bool,
    pub error: Option<String>,
    pub tested_at: DateTime<Utc>,
}

/// Sends a test message now (once, no retries) and answers how it went; the result is kept on
/// the integration (`last_test_*`).
#[utoipa::path(post, path = "/integrations/{id}/test", tag = "integrations", operation_id = "testIntegration",
    params(("id" = Uuid, Path, description = ID)), request_body = TestBody,
    responses((status = 200, body = TestResult)))]
pub async fn test(
    State(state): State<AppState>,
    mut ctx: ApiCtx,
    PathId(id): PathId,
    body: Option<ApiJson<TestBody>>,
) -> Result<Json<TestResult>, AppError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_UPDATE)?;
    let to = body.and_then(|b| b.0.to);
    let (user, now) = (ctx.principal.user_id, ctx.now);
    let result = run_test(&state, &mut ctx.tx, id, user, to, now).await?;
    ctx.commit().await?;
    Ok(Json(result))
}

/// The test shared by the API and the page.
pub async fn run_test(
    state: &AppState,
    tx: &mut TenantTx,
    id: uuid::Uuid,
    user: uuid::Uuid,
    to: Option<String>,
    now: DateTime<Utc>,
) -> Result<TestResult, AppError> {
    let account = store::account(tx, &state.sealer, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let to = match (to.filter(|t| !t.trim().is_empty()), account.kind.as_str()) {
        (Some(t), _) => Some(t.trim().to_string()),
        (None, "email") => {
            sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
                .bind(user)
                .fetch_optional(&mut **tx)
                .await?
        }
        (None, "sms") => {
            let phone: Option<String> = sqlx::query_scalar("SELECT phone FROM users WHERE id = $1")
                .bind(user)
                .fetch_optional(&mut **tx)
                .await?
                .flatten();
            Some(phone.ok_or_else(|| {
                AppError::field("to", "give a phone number (your profile has none)")
            })?)
        }
        (None, _) => None,
    };
    if account.kind == "sms" && !to.as_deref().is_some_and(store::is_phone) {
        return Err(AppError::field(
            "to",
            "must be a phone number in E.164 form (+15551234567)",
        ));
    }
    let m = Message {
        event: "integration.test".into(),
        subject: format!("FireLater test from {}", account.name),
        body: "If you can read this, FireLater can reach you here.".into(),
        link: Some(state.config.base_url.clone()),
        dedup_key: Some(format!("firelater-test-{}", account.id.simple())),
        severity: "info".into(),
        resolves: false,
        data: serde_json::json!({"integration_id": account.id}),
    };
    let from = state.config.mail_from.clone();
    let mut outcome = send::send(&state.outbound, &account, to.as_deref(), &m, now, &from).await;
    // A PagerDuty test resolves the incident it opened, so nobody is paged for it.
    if outcome == Outcome::Delivered && account.kind == "pagerduty" {
        let resolve = Message {
            resolves: true,
            ..m
        };
        outcome = send::send(&state.outbound, &account, None, &resolve, now, &from).await;
    }
    let error = match outcome {
        Outcome::Delivered => None,
        Outcome::Retry(e, _) | Outcome::Failed(e) => Some(e),
    };
    store::record_test(tx, id, now, error.as_deref()).await?;
    Ok(TestResult {
        ok: error.is_none(),
        error,
        tested_at: now,
    })
}
