//! `/v1/auth/…`: login, refresh (rotating, reuse-detecting), logout, me, password reset.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth_store::{self, Spend};
use super::users_store;
use crate::platform::audit::{self, Actor};
use crate::platform::auth::api::ApiCtx;
use crate::platform::auth::session::{Credentials, check_credentials};
use crate::platform::auth::tokens::{ACCESS_TTL_SECS, AUDIENCE, Claims};
use crate::platform::auth::{RequestMeta, load_user, password, throttle};
use crate::platform::error::AppError;
use crate::platform::json::ApiJson;
use crate::platform::mail::{self, Email};
use crate::platform::openapi::ErrorBody;
use crate::platform::state::AppState;
use crate::platform::tenancy::{self, Slug, TenantTx};

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginBody {
    /// The organization's slug, e.g. `acme`.
    pub tenant: String,
    pub email: String,
    pub password: String,
}

/// An access token (JWT, 15 minutes) and a single-use refresh token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// The caller: user, tenant, effective permissions and how they authenticated.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user: users_store::User,
    #[schema(value_type = String)]
    pub tenant: Slug,
    pub permissions: std::collections::BTreeSet<String>,
    pub auth: crate::platform::auth::AuthVia,
}

/// Checks throttles, credentials, and records the outcome in the throttle buckets. Shared by the
/// API and the login page.
pub async fn throttled_login(
    state: &AppState,
    meta: &RequestMeta,
    creds: &Credentials,
) -> Result<(Slug, Uuid), AppError> {
    let now = state.clock.now();
    // Three buckets: the account from this address (tight), the account from anywhere (a
    // higher ceiling, so one attacker cannot lock a person out everywhere) and the address.
    let account = throttle::account_bucket(&creds.tenant, &creds.email);
    let here = throttle::account_at_bucket(&account, meta.ip);
    let ip = throttle::ip_bucket(meta.ip);
    let buckets: Vec<String> = [account.clone(), here.clone()]
        .into_iter()
        .chain(ip.clone())
        .collect();
    throttle::check(&state.pool, &buckets, now).await?;
    match check_credentials(&state.pool, creds).await? {
        Some(found) => {
            throttle::clear(&state.pool, &here).await?;
            Ok(found)
        }
        None => {
            throttle::record_failure(&state.pool, &here, &throttle::ACCOUNT_HERE, now).await?;
            throttle::record_failure(&state.pool, &account, &throttle::ACCOUNT, now).await?;
            if let Some(ip) = &ip {
                throttle::record_failure(&state.pool, ip, &throttle::IP, now).await?;
            }
            Err(AppError::InvalidCredentials(
                "invalid organization, e-mail or password".into(),
            ))
        }
    }
}

async fn token_pair(
    state: &AppState,
    tx: &mut TenantTx,
    slug: &Slug,
    user_id: Uuid,
    family: Uuid,
) -> Result<TokenPair, AppError> {
    let user = load_user(tx, user_id)
        .await?
        .filter(|u| u.status == "active")
        .ok_or(AppError::Unauthorized)?;
    let now = state.clock.now();
    let claims = Claims {
        iss: state.jwt.issuer().to_string(),
        aud: AUDIENCE.into(),
        sub: user_id,
        tid: slug.to_string(),
        typ: "access".into(),
        iat: now.timestamp(),
        nbf: now.timestamp(),
        exp: now.timestamp() + ACCESS_TTL_SECS,
        jti: Uuid::new_v4(),
        cv: user.cv,
    };
    let refresh = auth_store::mint_refresh(tx, slug, user_id, family, now).await?;
    Ok(TokenPair {
        access_token: state.jwt.encode(&claims),
        refresh_token: refresh,
        token_type: "Bearer",
        expires_in: ACCESS_TTL_SECS,
    })
}

/// Exchange tenant + e-mail + password for an access/refresh token pair. Unknown user and wrong
/// password answer the same 401.
#[utoipa::path(post, path = "/auth/login", tag = "auth", operation_id = "login", request_body = LoginBody, security(()),
    responses((status = 200, body = TokenPair),
        (status = 401, description = "Invalid organization, e-mail or password (same answer for each)", body = ErrorBody),
        (status = 429, description = "Too many failed attempts; see `Retry-After`", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<TokenPair>, AppError> {
    let creds = Credentials {
        tenant: body.tenant,
        email: body.email,
        password: body.password,
    };
    let (slug, user_id) = throttled_login(&state, &meta, &creds).await?;
    let mut tx = tenancy::begin(&state.pool, &slug).await?;
    let pair = token_pair(&state, &mut tx, &slug, user_id, Uuid::new_v4()).await?;
    tx.commit().await?;
    Ok(Json(pair))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshBody {
    pub refresh_token: String,
}

/// Rotate: the presented refresh token is spent and a new pair is returned. A spent token
/// presented again revokes its whole family (401).
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", operation_id = "refreshToken", request_body = RefreshBody, security(()),
    responses((status = 200, body = TokenPair),
        (status = 401, description = "Invalid or spent refresh token (a spent one revokes its family)", body = ErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<TokenPair>, AppError> {
    let slug_raw = body
        .refresh_token
        .split_once('.')
        .map(|(s, _)| s)
        .ok_or(AppError::Unauthorized)?;
    let slug = tenancy::find_active(&state.pool, slug_raw)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let mut tx = tenancy::begin(&state.pool, &slug).await?;
    match auth_store::spend_refresh(&mut tx, &body.refresh_token, state.clock.now()).await? {
        Spend::Ok { user_id, family } => {
            let pair = token_pair(&state, &mut tx, &slug, user_id, family).await?;
            tx.commit().await?;
            Ok(Json(pair))
        }
        Spend::Reused => {
            // The revocation must stick even though the answer is an error.
            tx.commit().await?;
            Err(AppError::Unauthorized)
        }
        Spend::Invalid => Err(AppError::Unauthorized),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LogoutBody {
    pub refresh_token: Option<String>,
}

/// Revokes the refresh-token family of this login (access tokens expire within 15 minutes).
#[utoipa::path(post, path = "/auth/logout", tag = "auth", operation_id = "logout", request_body(content = Option<LogoutBody>, description = "Optional: the refresh token whose family to revoke"),
    responses((status = 204, description = "Signed out")))]
pub async fn logout(
    State(state): State<AppState>,
    mut ctx: ApiCtx,
    body: axum::body::Bytes,
) -> Result<StatusCode, AppError> {
    let body: Option<LogoutBody> = if body.is_empty() {
        None
    } else {
        Some(
            serde_json::from_slice(&body)
                .map_err(|_| AppError::BadRequest("malformed JSON body".into()))?,
        )
    };
    if let Some(LogoutBody {
        refresh_token: Some(token),
    }) = body
        && let Some(family) = auth_store::family_of(&mut ctx.tx, &token).await?
    {
        auth_store::revoke_family(&mut ctx.tx, family, state.clock.now()).await?;
    }
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller: user, tenant and effective permissions.
#[utoipa::path(get, path = "/auth/me", tag = "auth", operation_id = "me", responses((status = 200, body = Me)))]
pub async fn me(mut ctx: ApiCtx) -> Result<Json<Me>, AppError> {
    let user = users_store::get(&mut ctx.tx, ctx.principal.user_id).await?;
    let body = Me {
        user,
        tenant: ctx.principal.slug.clone(),
        permissions: ctx.principal.permissions.clone(),
        auth: ctx.principal.via.clone(),
    };
    ctx.commit().await?;
    Ok(Json(body))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ForgotBody {
    pub tenant: String,
    pub email: String,
}

/// Starts a reset: e-mails a single-use link valid for an hour. Always answers 202, so the
/// endpoint does not reveal which addresses exist.
pub async fn request_reset(
    state: &AppState,
    tenant: &str,
    email: &str,
    meta: &RequestMeta,
) -> Result<(), AppError> {
    let now = state.clock.now();
    // Reset requests are throttled like logins (they send mail).
    let bucket = format!("reset:{}", throttle::account_bucket(tenant, email));
    throttle::check(&state.pool, std::slice::from_ref(&bucket), now).await?;
    throttle::record_failure(&state.pool, &bucket, &throttle::ACCOUNT_HERE, now).await?;
    let Some(slug) = tenancy::find_active(&state.pool, tenant.trim()).await? else {
        return Ok(());
    };
    let mut tx = tenancy::begin(&state.pool, &slug).await?;
    let user: Option<(Uuid, String, String)> = sqlx::query_as(
        "SELECT id, email, name FROM users WHERE lower(email) = $1 AND status <> 'inactive'",
    )
    .bind(domain::identity::normalize_email(email))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((user_id, address, name)) = user else {
        return Ok(());
    };
    let token = auth_store::create_reset(&mut tx, &slug, user_id, now).await?;
    let link = format!("{}/reset-password?token={}", state.config.base_url, token);
    let body_text = format!(
        "Hello {name},\n\nSomeone (hopefully you) asked to reset your FireLater password for the organization '{slug}'.\n\nOpen this link within {} minutes to choose a new password:\n{link}\n\nIf you did not ask for this, ignore this message; your password stays unchanged.\n",
        auth_store::RESET_TTL_MINUTES
    );
    mail::queue(
        &mut tx,
        &slug,
        Email {
            to: address,
            subject: "Reset your FireLater password".into(),
            body_text,
            ..Default::default()
        },
    )
    .await?;
    let actor = Actor {
        user_id: None,
        name: "anonymous".into(),
        ip: meta.ip,
        user_agent: meta.user_agent.clone(),
    };
    audit::record(
        &mut tx,
        &actor,
        "request_password_reset",
        "user",
        user_id,
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// E-mails a single-use reset link valid for an hour. Always 202, whether or not the address exists.
#[utoipa::path(post, path = "/auth/forgot-password", tag = "auth", operation_id = "forgotPassword", request_body = ForgotBody, security(()),
    responses((status = 202, description = "Accepted"),
        (status = 429, description = "Too many reset requests for this address; see `Retry-After`", body = ErrorBody)))]
pub async fn forgot_password(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<ForgotBody>,
) -> Result<StatusCode, AppError> {
    request_reset(&state, &body.tenant, &body.email, &meta).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetBody {
    pub token: String,
    pub new_password: String,
}

/// Completes a reset with the token from the e-mail. Sets the password and ends every session.
pub async fn complete_reset(
    state: &AppState,
    token: &str,
    new_password: &str,
    meta: &RequestMeta,
) -> Result<(), AppError> {
    let invalid = || {
        AppError::field(
            "token",
            "this reset link is invalid, used or expired; ask for a new one",
        )
    };
    let slug_raw = token.split_once('.').map(|(s, _)| s).ok_or_else(invalid)?;
    let slug = tenancy::find_active(&state.pool, slug_raw)
        .await?
        .ok_or_else(invalid)?;
    let mut tx = tenancy::begin(&state.pool, &slug).await?;
    let user_id = auth_store::use_reset(&mut tx, token, state.clock.now())
        .await?
        .ok_or_else(invalid)?;
    let user = users_store::get(&mut tx, user_id).await?;
    if let Err(problem) = domain::identity::check_password(new_password, &user.email) {
        return Err(AppError::field("new_password", problem.to_string()));
    }
    let hash = password::hash_blocking(new_password.to_string()).await?;
    users_store::set_password(&mut tx, user_id, &hash).await?;
    let actor = Actor {
        user_id: Some(user_id),
        name: user.name.clone(),
        ip: meta.ip,
        user_agent: meta.user_agent.clone(),
    };
    audit::record(
        &mut tx,
        &actor,
        "reset_password",
        "user",
        user_id,
        json!({"password": "changed"}),
    )
    .await?;
    crate::platform::events::emit(
        &mut tx,
        &slug,
        &actor,
        "user.password_changed",
        "user",
        user_id,
        json!({"user_id": user_id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sets a new password with the token from the reset e-mail; ends every session of the user.
#[utoipa::path(post, path = "/auth/reset-password", tag = "auth", operation_id = "resetPassword", request_body = ResetBody, security(()),
    responses((status = 204, description = "Password set")))]
pub async fn reset_password(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<ResetBody>,
) -> Result<StatusCode, AppError> {
    complete_reset(&state, &body.token, &body.new_password, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}
