//! API keys for service accounts: `fl_<tenant>.<256-bit secret>`, stored as a SHA-256 hash,
//! shown once, scoped to permissions the creator holds (and re-checked on every use).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::platform::audit::{self, Actor};
use crate::platform::auth::api::ApiCtx;
use crate::platform::auth::session::WebCtx;
use crate::platform::auth::{Principal, tokens};
use crate::platform::error::{AppError, WebError};
use crate::platform::events;
use crate::platform::forms::Refused;
use crate::platform::json::ApiJson;
use crate::platform::listing::Problems;
use crate::platform::openapi::Items;
use crate::platform::tenancy::TenantTx;
use crate::platform::web::PathId;
use crate::platform::web::{Chrome, FormValues, Hx};
use crate::render_page;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub user_id: Uuid,
    pub owner_name: String,
    pub name: String,
    pub key_prefix: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A new key with its secret, shown in this answer only.
#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret to send as `Authorization: Bearer <key>`; stored hashed, never shown again.
    #[serde(rename = "key")]
    pub secret: String,
}

/// Everyone sees their own keys; `api_keys:manage` sees (and revokes) all of the tenant's.
async fn visible(tx: &mut TenantTx, p: &Principal) -> Result<Vec<ApiKey>, AppError> {
    Ok(sqlx::query_as(
        "SELECT k.id, k.user_id, u.name AS owner_name, k.name, k.key_prefix, k.scopes, k.expires_at, k.last_used_at, k.revoked_at, k.created_at
         FROM api_keys k JOIN users u ON u.id = k.user_id
         WHERE k.user_id = $1 OR $2 ORDER BY k.created_at DESC",
    )
    .bind(p.user_id)
    .bind(p.can(crate::identity::perm::API_KEYS_MANAGE))
    .fetch_all(&mut **tx)
    .await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    pub name: String,
    /// Permission keys such as `issues:read`; each must be one the creator holds.
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

async fn create_in(
    tx: &mut TenantTx,
    p: &Principal,
    actor: &Actor,
    body: &CreateKey,
    now: DateTime<Utc>,
) -> Result<(ApiKey, String), AppError> {
    let mut problems = Problems::default();
    if body.name.trim().is_empty() || body.name.len() > 255 {
        problems.add("name", "is required (at most 255 characters)");
    }
    if body.scopes.is_empty() {
        problems.add("scopes", "choose at least one scope, such as issues:read");
    } else if let Some(bad) = body.scopes.iter().find(|s| !p.holds(s)) {
        problems.add(
            "scopes",
            format!("'{bad}' is not a permission you hold; a key cannot exceed its creator"),
        );
    }
    if body.expires_at.is_some_and(|e| e <= now) {
        problems.add("expires_at", "must be in the future");
    }
    problems.into_result()?;
    let secret = tokens::random_secret();
    let token = format!("fl_{}.{}", p.slug, secret);
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO api_keys (user_id, name, key_prefix, key_hash, scopes, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(p.user_id)
    .bind(body.name.trim())
    .bind(format!("fl_{}.{}…", p.slug, &secret[..6]))
    .bind(tokens::hash_secret(&token))
    .bind(&body.scopes)
    .bind(body.expires_at)
    .fetch_one(&mut **tx)
    .await?;
    let key = visible(tx, p)
        .await?
        .into_iter()
        .find(|k| k.id == id)
        .ok_or(AppError::NotFound)?;
    audit::record(
        tx,
        actor,
        "create",
        "api_key",
        id,
        json!({"name": {"old": null, "new": key.name}, "scopes": {"old": null, "new": key.scopes}}),
    )
    .await?;
    events::emit(
        tx,
        &p.slug,
        actor,
        "api_key.created",
        "api_key",
        id,
        json!({"api_key": &key}),
    )
    .await?;
    Ok((key, token))
}

async fn revoke_in(
    tx: &mut TenantTx,
    p: &Principal,
    actor: &Actor,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let n = sqlx::query("UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND revoked_at IS NULL AND (user_id = $2 OR $4)")
        .bind(id)
        .bind(p.user_id)
        .bind(now)
        .bind(p.can(crate::identity::perm::API_KEYS_MANAGE))
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(AppError::NotFound);
    }
    audit::record(
        tx,
        actor,
        "revoke",
        "api_key",
        id,
        json!({"revoked_at": {"old": null, "new": now}}),
    )
    .await?;
    events::emit(
        tx,
        &p.slug,
        actor,
        "api_key.revoked",
        "api_key",
        id,
        json!({"id": id}),
    )
    .await?;
    Ok(())
}

/// The caller's keys (all of the tenant's with `api_keys:manage`).
#[utoipa::path(get, path = "/api-keys", tag = "api-keys", operation_id = "listApiKeys", responses((status = 200, body = Items<ApiKey>)))]
pub async fn api_list(mut ctx: ApiCtx) -> Result<Json<Value>, AppError> {
    ctx.require(crate::identity::perm::API_KEYS_READ)?;
    let keys = visible(&mut ctx.tx, &ctx.principal).await?;
    ctx.commit().await?;
    Ok(Json(json!({"data": keys})))
}

/// Creates a key; the secret (`key`) is in this response only.
#[utoipa::path(post, path = "/api-keys", tag = "api-keys", operation_id = "createApiKey", request_body = CreateKey,
    responses((status = 201, body = CreatedKey)))]
pub async fn api_create(
    axum::extract::State(state): axum::extract::State<crate::platform::state::AppState>,
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<CreateKey>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(crate::identity::perm::API_KEYS_CREATE)?;
    let actor = ctx.actor();
    let (key, token) = create_in(
        &mut ctx.tx,
        &ctx.principal,
        &actor,
        &body,
        state.clock.now(),
    )
    .await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(CreatedKey { key, secret: token })))
}

#[utoipa::path(delete, path = "/api-keys/{id}", tag = "api-keys", operation_id = "revokeApiKey", params(("id" = Uuid, Path, description = "Key id")),
    responses((status = 204, description = "Revoked")))]
pub async fn api_revoke(
    axum::extract::State(state): axum::extract::State<crate::platform::state::AppState>,
    mut ctx: ApiCtx,
    PathId(id): PathId,
) -> Result<StatusCode, AppError> {
    ctx.require(crate::identity::perm::API_KEYS_DELETE)?;
    let actor = ctx.actor();
    revoke_in(&mut ctx.tx, &ctx.principal, &actor, id, state.clock.now()).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Template)]
#[template(path = "identity/api_keys.html", blocks = ["content"])]
struct KeysPage {
    chrome: Chrome,
    keys: Vec<ApiKey>,
    scopes: Vec<String>,
    created: Option<String>,
    /// What was typed, after a refusal.
    f: FormValues,
    errors: crate::platform::web::Errors,
    can_create: bool,
}

async fn page(
    mut ctx: WebCtx,
    hx: bool,
    created: Option<String>,
    submitted: Option<(FormValues, Refused)>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let keys = visible(&mut ctx.tx, &ctx.principal).await?;
    ctx.tx.commit().await?;
    let scopes = ctx.principal.permissions.iter().cloned().collect();
    let can_create = ctx.principal.can(crate::identity::perm::API_KEYS_CREATE);
    let (f, refused) = submitted.unwrap_or_default();
    let status = if refused.status.is_client_error() {
        refused.status
    } else {
        status
    };
    Ok(render_page!(
        hx,
        KeysPage {
            chrome: Chrome::new(
                &ctx.principal,
                &ctx.csrf,
                "api_keys",
                &ctx.manifest,
                ctx.now
            ),
            keys,
            scopes,
            created,
            f,
            errors: refused.errors,
            can_create
        },
        status
    ))
}

pub async fn web_list(ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::API_KEYS_READ)?;
    page(ctx, hx, None, None, StatusCode::OK).await
}

pub async fn web_create(
    axum::extract::State(state): axum::extract::State<crate::platform::state::AppState>,
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::API_KEYS_CREATE)?;
    let f = FormValues(pairs.into_iter().filter(|(k, _)| k != "_csrf").collect());
    let now = state.clock.now();
    let made = ctx
        .save(async |ctx| {
            let expires_at = match f.get("expires_on").trim() {
                "" => None,
                d => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|t| t.and_utc())
                    .ok_or_else(|| AppError::field("expires_at", "must be a date"))
                    .map(Some)?,
            };
            let key = CreateKey {
                name: f.get("name").to_string(),
                scopes: f.all("scopes"),
                expires_at,
            };
            let (actor, principal) = (ctx.actor(), ctx.principal.clone());
            create_in(&mut ctx.tx, &principal, &actor, &key, now).await
        })
        .await?;
    match made {
        Ok((_, token)) => page(ctx, hx, Some(token), None, StatusCode::CREATED).await,
        Err(r) => page(ctx, hx, None, Some((f, r)), StatusCode::OK).await,
    }
}

pub async fn web_revoke(
    axum::extract::State(state): axum::extract::State<crate::platform::state::AppState>,
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::API_KEYS_DELETE)?;
    let actor = ctx.actor();
    let principal = ctx.principal.clone();
    revoke_in(&mut ctx.tx, &principal, &actor, id, state.clock.now()).await?;
    page(ctx, hx, None, None, StatusCode::OK).await
}
