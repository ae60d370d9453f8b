//! Refresh-token families and password-reset tokens.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::platform::auth::tokens::{self, REFRESH_TTL_DAYS};
use crate::platform::error::AppError;
use crate::platform::tenancy::{Slug, TenantTx};

/// Mints a refresh token (`<slug>.<secret>`) in `family` (a new family on login).
pub async fn mint_refresh(
    tx: &mut TenantTx,
    slug: &Slug,
    user_id: Uuid,
    family: Uuid,
    now: DateTime<Utc>,
) -> Result<String, AppError> {
    let token = format!("{}.{}", slug, tokens::random_secret());
    sqlx::query("INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(user_id)
        .bind(family)
        .bind(tokens::hash_secret(&token))
        .bind(now + Duration::days(REFRESH_TTL_DAYS))
        .execute(&mut **tx)
        .await?;
    Ok(token)
}

pub enum Spend {
    /// Valid and now spent: mint the successor in the same family.
    Ok {
        user_id: Uuid,
        family: Uuid,
    },
    /// Already spent (replay): the family has been revoked.
    Reused,
    Invalid,
}

/// Spends a refresh token exactly once. Presenting a spent token revokes its whole family, so
/// a stolen token stops working for the thief and the victim alike.
pub async fn spend_refresh(
    tx: &mut TenantTx,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Spend, AppError> {
    let hash = tokens::hash_secret(token);
    let spent: Option<(Uuid, Uuid)> = sqlx::query_as(
        "UPDATE refresh_tokens SET spent_at = $2
         WHERE token_hash = $1 AND spent_at IS NULL AND revoked_at IS NULL AND expires_at > $2
         RETURNING user_id, family_id",
    )
    .bind(&hash)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some((user_id, family)) = spent {
        return Ok(Spend::Ok { user_id, family });
    }
    let family: Option<Uuid> = sqlx::query_scalar(
        "SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND spent_at IS NOT NULL",
    )
    .bind(&hash)
    .fetch_optional(&mut **tx)
    .await?;
    match family {
        Some(family) => {
            revoke_family(tx, family, now).await?;
            Ok(Spend::Reused)
        }
        None => Ok(Spend::Invalid),
    }
}

pub async fn revoke_family(
    tx: &mut TenantTx,
    family: Uuid,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn family_of(tx: &mut TenantTx, token: &str) -> Result<Option<Uuid>, AppError> {
    Ok(
        sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE token_hash = $1")
            .bind(tokens::hash_secret(token))
            .fetch_optional(&mut **tx)
            .await?,
    )
}

pub const RESET_TTL_MINUTES: i64 = 60;

pub async fn create_reset(
    tx: &mut TenantTx,
    slug: &Slug,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<String, AppError> {
    let token = format!("{}.{}", slug, tokens::random_secret());
    // Only the newest link works.
    sqlx::query(
        "UPDATE password_reset_tokens SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO password_reset_tokens (user_id, token_hash, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(user_id)
    .bind(tokens::hash_secret(&token))
    .bind(now + Duration::minutes(RESET_TTL_MINUTES))
    .execute(&mut **tx)
    .await?;
    Ok(token)
}

/// Uses a reset token once; `None` when unknown, used or expired.
pub async fn use_reset(
    tx: &mut TenantTx,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, AppError> {
    Ok(sqlx::query_scalar(
        "UPDATE password_reset_tokens SET used_at = $2
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id",
    )
    .bind(tokens::hash_secret(token))
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?)
}
