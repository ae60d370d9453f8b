//! `/v1` authentication: `Authorization: Bearer <JWT>` or `Authorization: Bearer fl_<key>`.
//! Credentials in the URL are never read. The extractor hands the handler an open tenant
//! transaction, so the whole request is one transaction with one `set_config` round trip.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

use super::cache::{Cached, Credential};
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
    /// What the binary is made of (the areas whose events reach people, their permissions, …).
    pub manifest: std::sync::Arc<crate::platform::module::Manifest>,
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
            manifest: state.manifest.clone(),
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
    let slug = Slug::parse(&claims.tid).map_err(|_| AppError::Unauthorized)?;
    let (mut tx, tenant) = open_active(state, &slug).await?;
    let credential = Credential::User(slug.clone(), claims.sub);
    let cached = match state.principals.get(&credential, tenant.auth_epoch) {
        Some(c) => c,
        None => {
            let Some(user) = load_user(&mut tx, claims.sub).await? else {
                return Err(AppError::Unauthorized);
            };
            let fresh = Cached {
                cv: user.cv,
                active: user.status == "active",
                principal: user.into_principal(slug, AuthVia::Token),
                epoch: tenant.auth_epoch,
                expires_at: None,
                used_at: None,
            };
            state.principals.put(credential, fresh.clone());
            fresh
        }
    };
    // Tokens minted before a password change or deactivation carry an older credential version
    // (a deactivated user has none that is active).
    if cached.active && cached.cv == claims.cv {
        Ok((cached.principal, tx))
    } else {
        Err(AppError::Unauthorized)
    }
}

/// The request's transaction, for an active tenant only.
async fn open_active(
    state: &AppState,
    slug: &Slug,
) -> Result<(TenantTx, tenancy::TenantState), AppError> {
    match tenancy::open(&state.pool, slug).await? {
        Some((tx, t)) if t.active => Ok((tx, t)),
        _ => Err(AppError::Unauthorized),
    }
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: Uuid,
    user_id: Uuid,
    scopes: Vec<String>,
    revoked: bool,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

async fn authenticate_key(
    state: &AppState,
    token: &str,
) -> Result<(Principal, TenantTx), AppError> {
    let slug_raw = tokens::split_tenant(token, "fl_").ok_or(AppError::Unauthorized)?;
    let slug = Slug::parse(slug_raw).map_err(|_| AppError::Unauthorized)?;
    let (mut tx, tenant) = open_active(state, &slug).await?;
    let now = state.clock.now();
    let hash = tokens::hash_secret(token);
    let credential = Credential::Key(slug.clone(), hash.clone());
    let mut cached = match state.principals.get(&credential, tenant.auth_epoch) {
        Some(c) => c,
        None => {
            let key: KeyRow = sqlx::query_as(
                "SELECT id, user_id, scopes, revoked_at IS NOT NULL AS revoked, expires_at, last_used_at
                 FROM api_keys WHERE key_hash = $1",
            )
            .bind(&hash)
            .fetch_optional(&mut *tx)
            .await?
            .filter(|k: &KeyRow| !k.revoked)
            .ok_or(AppError::Unauthorized)?;
            let user = load_user(&mut tx, key.user_id)
                .await?
                .ok_or(AppError::Unauthorized)?;
            let (cv, active) = (user.cv, user.status == "active");
            let mut principal = user.into_principal(slug, AuthVia::ApiKey { key_id: key.id });
            // A key can never exceed its creator's permissions *now*: scopes ∩ current
            // permissions.
            principal.permissions.retain(|p| key.scopes.contains(p));
            let fresh = Cached {
                principal,
                epoch: tenant.auth_epoch,
                cv,
                active,
                expires_at: key.expires_at,
                used_at: key.last_used_at,
            };
            state.principals.put(credential.clone(), fresh.clone());
            fresh
        }
    };
    if !cached.active || cached.expires_at.is_some_and(|e| e <= now) {
        return Err(AppError::Unauthorized);
    }
    // Recording use at most once a minute keeps reads from turning into writes on every call.
    if cached
        .used_at
        .is_none_or(|u| u < now - chrono::Duration::minutes(1))
        && let AuthVia::ApiKey { key_id } = cached.principal.via
    {
        sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(key_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        cached.used_at = Some(now);
        state.principals.put(credential, cached.clone());
    }
    Ok((cached.principal, tx))
}
