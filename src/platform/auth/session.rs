//! Browser sessions: tower-sessions (PostgreSQL store) + axum-login. The session remembers
//! `slug:user_id` and a hash of the user's credential version; a password change or
//! deactivation changes the hash, which ends every session of that user on its next request.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_login::{AuthUser, AuthnBackend};
use sqlx::PgPool;
use uuid::Uuid;

use super::cache::{Cached, Credential, PrincipalCache};
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
    /// The tenant's auth epoch it was loaded under (checked in the request's transaction).
    epoch: i64,
    cv: i64,
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
    principals: PrincipalCache,
}

impl Backend {
    pub fn new(pool: PgPool, principals: PrincipalCache) -> Self {
        Backend { pool, principals }
    }

    /// Loads an active user of an active tenant and remembers them.
    pub async fn session_user(
        &self,
        slug: Slug,
        user_id: Uuid,
    ) -> Result<Option<SessionUser>, AppError> {
        let Some((mut tx, tenant)) = tenancy::open(&self.pool, &slug).await? else {
            return Ok(None);
        };
        if !tenant.active {
            return Ok(None);
        }
        let user = load_user(&mut tx, user_id).await?;
        tx.commit().await?;
        let Some(user) = user.filter(|u| u.status == "active") else {
            return Ok(None);
        };
        let cached = Cached {
            cv: user.cv,
            active: true,
            principal: user.into_principal(slug.clone(), AuthVia::Session),
            epoch: tenant.auth_epoch,
            expires_at: None,
            used_at: None,
        };
        self.principals
            .put(Credential::User(slug, user_id), cached.clone());
        Ok(Some(SessionUser::of(cached)))
    }
}

impl SessionUser {
    fn of(c: Cached) -> Self {
        SessionUser {
            key: format!("{}:{}", c.principal.slug, c.principal.user_id),
            auth_hash: c.cv.to_be_bytes().to_vec(),
            epoch: c.epoch,
            cv: c.cv,
            principal: c.principal,
        }
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

    /// A remembered user answers without the database: the request's own transaction checks
    /// that nothing changed since (`WebCtx`), in the statement that opens it.
    async fn get_user(&self, key: &String) -> Result<Option<SessionUser>, AppError> {
        let Some((slug, id)) = key.split_once(':') else {
            return Ok(None);
        };
        let (Ok(id), Ok(slug)) = (id.parse::<Uuid>(), Slug::parse(slug)) else {
            return Ok(None);
        };
        if let Some(c) = self.principals.peek(&Credential::User(slug.clone(), id))
            && c.active
        {
            return Ok(Some(SessionUser::of(c)));
        }
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
        let slug = user.principal.slug.clone();
        let Some((mut tx, tenant)) = tenancy::open(&state.pool, &slug)
            .await
            .map_err(|e| WebError(e).into_response())?
        else {
            return Err(login_redirect(parts));
        };
        let credential = Credential::User(slug.clone(), user.principal.user_id);
        let mut principal = user.principal;
        // Something about people, roles or the tenant changed since this user was loaded:
        // load them again in this transaction; a deactivated user, a changed password or a
        // suspended tenant ends the session here.
        if !tenant.active || tenant.auth_epoch != user.epoch {
            let fresh = load_user(&mut tx, principal.user_id)
                .await
                .map_err(|e| WebError(e).into_response())?
                .filter(|u| tenant.active && u.status == "active" && u.cv == user.cv);
            let Some(fresh) = fresh else {
                state.principals.forget(&credential);
                return Err(login_redirect(parts));
            };
            let cached = Cached {
                cv: fresh.cv,
                active: true,
                principal: fresh.into_principal(slug, AuthVia::Session),
                epoch: tenant.auth_epoch,
                expires_at: None,
                used_at: None,
            };
            principal = cached.principal.clone();
            state.principals.put(credential, cached);
        }
        Ok(WebCtx {
            principal,
            tx,
            meta,
            csrf,
            now: state.clock.now(),
            manifest: state.manifest.clone(),
        })
    }
}
