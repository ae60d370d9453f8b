//! Browser sessions: tower-sessions (PostgreSQL store) + axum-login. The session remembers
//! `slug:user_id` and a hash of the user's credential version; a password change or
//! deactivation changes the hash, which ends every session of that user on its next request.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_login::{AuthUser, AuthnBackend};
use sqlx::PgPool;
use uuid::Uuid;

use super::{AuthVia, Principal, RequestMeta, load_user, password};
use crate::platform::audit::Actor;
use crate::platform::error::{AppError, WebError};
use crate::platform::module::Perm;
use crate::platform::state::AppState;
use crate::platform::tenancy::{self, Slug, TenantTx};

pub type AuthSession = axum_login::AuthSession<Backend>;

#[derive(Clone, Debug)]
pub struct SessionUser {
    key: String,
    pub principal: Principal,
    auth_hash: Vec<u8>,
}

impl AuthUser for SessionUser {
    type Id = String;

    fn id(&self) -> String {
        self.key.clone()
    }

    fn session_auth_hash(&self) -> &[u8] {
        &self.auth_hash
    }
}

#[derive(Clone, Debug)]
pub struct Credentials {
    pub tenant: String,
    pub email: String,
    pub password: String,
}

#[derive(Clone)]
pub struct Backend {
    pool: PgPool,
}

impl Backend {
    pub fn new(pool: PgPool) -> Self {
        Backend { pool }
    }

    pub async fn session_user(
        &self,
        slug: Slug,
        user_id: Uuid,
    ) -> Result<Option<SessionUser>, AppError> {
        let mut tx = tenancy::begin(&self.pool, &slug).await?;
        let Some(user) = load_user(&mut tx, user_id)
            .await?
            .filter(|u| u.status == "active")
        else {
            return Ok(None);
        };
        tx.commit().await?;
        Ok(Some(SessionUser {
            key: format!("{}:{}", slug, user.id),
            auth_hash: user.cv.to_be_bytes().to_vec(),
            principal: Principal {
                slug,
                user_id: user.id,
                name: user.name,
                email: user.email,
                timezone: user.timezone,
                permissions: user.permissions.into_iter().collect(),
                via: AuthVia::Session,
            },
        }))
    }
}

/// Checks a tenant/e-mail/password triple. Unknown tenant, unknown user, inactive user and wrong
/// password all cost one argon2 verification and all answer `None`.
pub async fn check_credentials(
    pool: &PgPool,
    creds: &Credentials,
) -> Result<Option<(Slug, Uuid)>, AppError> {
    let Some(slug) = tenancy::find_active(pool, creds.tenant.trim()).await? else {
        password::verify_blocking(creds.password.clone(), None).await?;
        return Ok(None);
    };
    // The hash is read and the transaction ended before hashing: a sign-in waiting for a
    // hashing slot must not hold a database connection.
    let mut tx = tenancy::begin(pool, &slug).await?;
    let row: Option<(Uuid, Option<String>)> = sqlx::query_as(
        "SELECT id, password_hash FROM users WHERE lower(email) = $1 AND status = 'active'",
    )
    .bind(domain::identity::normalize_email(&creds.email))
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let (id, hash) = match row {
        Some((id, hash)) => (Some(id), hash),
        None => (None, None),
    };
    if !password::verify_blocking(creds.password.clone(), hash).await? {
        return Ok(None);
    }
    let Some(id) = id else { return Ok(None) };
    let mut tx = tenancy::begin(pool, &slug).await?;
    sqlx::query("UPDATE users SET last_login_at = NOW() WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some((slug, id)))
}

impl AuthnBackend for Backend {
    type User = SessionUser;
    type Credentials = Credentials;
    type Error = AppError;

    async fn authenticate(&self, creds: Credentials) -> Result<Option<SessionUser>, AppError> {
        match check_credentials(&self.pool, &creds).await? {
            Some((slug, id)) => self.session_user(slug, id).await,
            None => Ok(None),
        }
    }

    async fn get_user(&self, key: &String) -> Result<Option<SessionUser>, AppError> {
        let Some((slug, id)) = key.split_once(':') else {
            return Ok(None);
        };
        let (Ok(id), Some(slug)) = (
            id.parse::<Uuid>(),
            tenancy::find_active(&self.pool, slug).await?,
        ) else {
            return Ok(None);
        };
        self.session_user(slug, id).await
    }
}

/// An authenticated browser request: who, their tenant transaction, where from, and the CSRF
/// token to put in forms.
pub struct WebCtx {
    pub principal: Principal,
    pub tx: TenantTx,
    pub meta: RequestMeta,
    pub csrf: String,
    /// The request's instant, from the injected clock.
    pub now: chrono::DateTime<chrono::Utc>,
    pub manifest: std::sync::Arc<crate::platform::module::Manifest>,
}

impl WebCtx {
    pub fn actor(&self) -> Actor {
        Actor::user(&self.principal, &self.meta)
    }

    pub fn require(&self, perm: Perm) -> Result<(), WebError> {
        Ok(self.principal.require(perm)?)
    }
}

/// Where unauthenticated browser requests go: the login page, remembering the target.
pub fn login_redirect(parts: &Parts) -> Response {
    login_redirect_for(&parts.uri, &parts.headers)
}

/// To the login form, coming back to `uri` afterwards (htmx requests get `HX-Redirect`).
pub fn login_redirect_for(uri: &axum::http::Uri, headers: &axum::http::HeaderMap) -> Response {
    let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("/login?next={}", urlencode(target));
    if headers.contains_key("hx-request") {
        ([("hx-redirect", url)], axum::http::StatusCode::UNAUTHORIZED).into_response()
    } else {
        Redirect::to(&url).into_response()
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl FromRequestParts<AppState> for WebCtx {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let auth = AuthSession::from_request_parts(parts, state)
            .await
            .map_err(|e| e.into_response())?;
        let Some(user) = auth.user else {
            return Err(login_redirect(parts));
        };
        let csrf = super::csrf::token(&auth.session)
            .await
            .map_err(|e| WebError(e).into_response())?;
        let meta = RequestMeta::from_request_parts(parts, state)
            .await
            .unwrap_or_default();
        let tx = tenancy::begin(&state.pool, &user.principal.slug)
            .await
            .map_err(|e| WebError(e).into_response())?;
        Ok(WebCtx {
            principal: user.principal,
            tx,
            meta,
            csrf,
            now: state.clock.now(),
            manifest: state.manifest.clone(),
        })
    }
}
