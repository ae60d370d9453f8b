//! Who is calling: sessions for the browser, bearer tokens and API keys for `/v1`, and the
//! permission model (resource × action) checked first in every handler.

pub mod api;
pub mod cache;
pub mod csrf;
pub mod password;
pub mod session;
pub mod throttle;
pub mod tokens;

use std::collections::BTreeSet;
use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Serialize;
use uuid::Uuid;

use crate::platform::error::AppError;
use crate::platform::module::Perm;
use crate::platform::tenancy::{Slug, TenantTx};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuthVia {
    Session,
    Token,
    ApiKey {
        key_id: Uuid,
    },
    /// A message taken in by mail, acting as its sender.
    Mail,
}

/// The authenticated caller. The tenant is part of it and comes only from the credential.
#[derive(Clone, Debug, Serialize)]
pub struct Principal {
    pub slug: Slug,
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub timezone: String,
    pub permissions: BTreeSet<String>,
    pub via: AuthVia,
}

impl Principal {
    /// The caller's calendar date at `now`, in their zone (relative date bounds, delegations).
    pub fn today(&self, now: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
        let tz: chrono_tz::Tz = self.timezone.parse().unwrap_or(chrono_tz::UTC);
        now.with_timezone(&tz).date_naive()
    }

    pub fn can(&self, perm: Perm) -> bool {
        self.permissions.contains(perm.key())
    }

    /// Whether the caller holds a permission named at run time (`resource:action`, e.g. an API
    /// key scope asked for).
    pub fn holds(&self, key: &str) -> bool {
        self.permissions.contains(key)
    }

    /// The first line of every handler: refuse before anything is loaded.
    pub fn require(&self, perm: Perm) -> Result<(), AppError> {
        if self.can(perm) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }
}

/// What a user row gives the authentication layers.
#[derive(Debug, sqlx::FromRow)]
pub struct UserAuthRow {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub timezone: String,
    pub status: String,
    /// `credentials_changed_at` in microseconds since the epoch.
    pub cv: i64,
    pub permissions: Vec<String>,
}

impl UserAuthRow {
    pub fn into_principal(self, slug: Slug, via: AuthVia) -> Principal {
        Principal {
            slug,
            user_id: self.id,
            name: self.name,
            email: self.email,
            timezone: self.timezone,
            permissions: self.permissions.into_iter().collect(),
            via,
        }
    }
}

/// Loads a user with the union of their roles' permissions, in the tenant transaction.
pub async fn load_user(tx: &mut TenantTx, user_id: Uuid) -> Result<Option<UserAuthRow>, AppError> {
    Ok(sqlx::query_as(
        "SELECT u.id, u.name, u.email, u.timezone, u.status,
                (extract(epoch FROM u.credentials_changed_at) * 1000000)::bigint AS cv,
                COALESCE(array_agg(DISTINCT p.resource || ':' || p.action) FILTER (WHERE p.id IS NOT NULL), '{}') AS permissions
         FROM users u
         LEFT JOIN user_roles ur ON ur.user_id = u.id
         LEFT JOIN role_permissions rp ON rp.role_id = ur.role_id
         LEFT JOIN permissions p ON p.id = rp.permission_id
         WHERE u.id = $1
         GROUP BY u.id",
    )
    .bind(user_id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Client address and agent, for audit rows and throttling.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // The edge sets the client's address (behind trusted proxies, the forwarded one).
        let ip = match parts.extensions.get::<crate::platform::edge::ClientIp>() {
            Some(c) => c.0,
            None => parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        };
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(500).collect());
        Ok(RequestMeta { ip, user_agent })
    }
}
