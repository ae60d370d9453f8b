//! `/v1` authentication: `Authorization: Bearer <JWT>` or `Authorization: Bearer fl_<key>`.
//! Credentials in the URL are never read. The extractor hands the handler an open tenant
//! transaction, so the whole request is one transaction with one `set_config` round trip.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

use super::{AuthVia, Principal, RequestMeta, load_user, tokens};
use crate::platform::audit::Actor;
use crate::platform::error::AppError;
use crate::platform::module::Perm;
use crate::platform::state::AppState;
use crate::platform::tenancy::{self, Slug, TenantTx};

/// An authenticated `/v1` request: who, their tenant transaction, and where from.
pub struct ApiCtx {
    pub principal: Principal,
    pub tx: TenantTx,
    pub meta: RequestMeta,
    /// The request's instant, from the injected clock (SLA clocks, due times, timers).
    pub now: chrono::DateTime<chrono::Utc>,
}

impl ApiCtx {
    pub fn actor(&self) -> Actor {
        Actor::user(&self.principal, &self.meta)
    }

    pub fn require(&self, perm: Perm) -> Result<(), AppError> {
        self.principal.require(perm)
    }

    pub async fn commit(self) -> Result<(), AppError> {
        self.tx.commit().await?;
        Ok(())
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for ApiCtx {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let meta = RequestMeta::from_request_parts(parts, state)
            .await
            .unwrap_or_default();
        let token = bearer(parts).ok_or(AppError::Unauthorized)?;
        let (principal, tx) = if token.starts_with("fl_") {
            authenticate_key(state, token).await?
        } else {
            authenticate_jwt(state, token).await?
        };
        Ok(ApiCtx {
            principal,
            tx,
            meta,
            now: state.clock.now(),
        })
    }
}

async fn authenticate_jwt(
    state: &AppState,
    token: &str,
) -> Result<(Principal, TenantTx), AppError> {
    let claims = state
        .jwt
        .decode(token, state.clock.now().timestamp())
        .map_err(|_| AppError::Unauthorized)?;
    let slug = tenancy::find_active(&state.pool, &claims.tid)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let mut tx = tenancy::begin(&state.pool, &slug).await?;
    let user = load_user(&mut tx, claims.sub)
        .await?
        .ok_or(AppError::Unauthorized)?;
    // Tokens minted before a password change or deactivation carry an older credential version.
    if user.status != "active" || user.cv != claims.cv {
        return Err(AppError::Unauthorized);
    }
    let principal = Principal {
        slug,
        user_id: user.id,
        name: user.name,
        email: user.email,
        timezone: user.timezone,
        permissions: user.permissions.into_iter().collect(),
        via: AuthVia::Token,
    };
    Ok((principal, tx))
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: Uuid,
    user_id: Uuid,
    scopes: Vec<String>,
    usable: bool,
}

async fn authenticate_key(
    state: &AppState,
    token: &str,
) -> Result<(Principal, TenantTx), AppError> {
    let slug_raw = tokens::split_tenant(token, "fl_").ok_or(AppError::Unauthorized)?;
    let slug: Slug = tenancy::find_active(&state.pool, slug_raw)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let mut tx = tenancy::begin(&state.pool, &slug).await?;
    let key: KeyRow = sqlx::query_as(
        "SELECT id, user_id, scopes,
                (revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)) AS usable
         FROM api_keys WHERE key_hash = $1",
    )
    .bind(tokens::hash_secret(token))
    .bind(state.clock.now())
    .fetch_optional(&mut *tx)
    .await?
    .filter(|k: &KeyRow| k.usable)
    .ok_or(AppError::Unauthorized)?;
    let user = load_user(&mut tx, key.user_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    if user.status != "active" {
        return Err(AppError::Unauthorized);
    }
    // A key can never exceed its creator's permissions *now*: scopes ∩ current permissions.
    let permissions = user
        .permissions
        .into_iter()
        .filter(|p| key.scopes.contains(p))
        .collect();
    // Recording use at most once a minute keeps reads from turning into writes on every call.
    sqlx::query(
        "UPDATE api_keys SET last_used_at = $2
         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2 - interval '1 minute')",
    )
    .bind(key.id)
    .bind(state.clock.now())
    .execute(&mut *tx)
    .await?;
    let principal = Principal {
        slug,
        user_id: user.id,
        name: user.name,
        email: user.email,
        timezone: user.timezone,
        permissions,
        via: AuthVia::ApiKey { key_id: key.id },
    };
    Ok((principal, tx))
}
