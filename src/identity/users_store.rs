//! SQL for users and their roles. Runs inside the caller's tenant transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::platform::error::{AppError, conflict_on_unique};
use crate::platform::listing::ListParams;
use crate::platform::tenancy::TenantTx;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub status: String,
    pub phone: Option<String>,
    pub timezone: String,
    pub auth_provider: Option<String>,
    pub roles: Vec<String>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT u.id, u.email, u.name, u.status, u.phone, u.timezone, u.auth_provider,
        COALESCE((SELECT array_agg(r.name ORDER BY r.name) FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id), '{}') AS roles,
        u.last_login_at, u.created_at, u.updated_at
    FROM users u";

pub const LIST_SPEC: crate::platform::listing::ListSpec = crate::platform::listing::ListSpec {
    sorts: &[
        ("name", "u.name"),
        ("email", "u.email"),
        ("created_at", "u.created_at"),
        ("status", "u.status"),
        ("last_login_at", "u.last_login_at"),
    ],
    default_sort: "name",
    filters: &[
        ("status", "u.status"),
        ("email", "lower(u.email)"),
        ("role", "role"),
        ("group_id", "group_id"),
    ],
    fields: &[
        "id",
        "email",
        "name",
        "status",
        "phone",
        "timezone",
        "auth_provider",
        "roles",
        "last_login_at",
        "created_at",
        "updated_at",
        "groups",
    ],
    includes: &["groups"],
};

fn push_where(qb: &mut QueryBuilder<'_, Postgres>, params: &ListParams) -> Result<(), AppError> {
    qb.push(" WHERE true");
    for (sql, value) in &params.filters {
        match *sql {
            "role" => {
                qb.push(" AND EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id AND r.name = ");
                qb.push_bind(value.clone()).push(")");
            }
            "group_id" => {
                let gid: Uuid = value
                    .parse()
                    .map_err(|_| AppError::BadRequest("'group_id' must be a UUID".into()))?;
                qb.push(" AND EXISTS (SELECT 1 FROM group_members gm WHERE gm.user_id = u.id AND gm.group_id = ");
                qb.push_bind(gid).push(")");
            }
            "lower(u.email)" => {
                qb.push(" AND lower(u.email) = ")
                    .push_bind(value.to_lowercase());
            }
            col => {
                qb.push(format_args!(" AND {col} = "))
                    .push_bind(value.clone());
            }
        }
    }
    if let Some(q) = &params.q {
        let pattern = crate::platform::listing::contains_pattern(q);
        qb.push(" AND (u.name ILIKE ")
            .push_bind(pattern.clone())
            .push(" OR u.email ILIKE ")
            .push_bind(pattern)
            .push(")");
    }
    Ok(())
}

pub async fn list(tx: &mut TenantTx, params: &ListParams) -> Result<(Vec<User>, i64), AppError> {
    let mut qb = QueryBuilder::new("SELECT COUNT(*) FROM users u");
    push_where(&mut qb, params)?;
    let total: i64 = qb.build_query_scalar().fetch_one(&mut **tx).await?;
    let mut qb = QueryBuilder::new(SELECT);
    push_where(&mut qb, params)?;
    qb.push(format_args!(" ORDER BY {}", params.order_by));
    qb.push(" LIMIT ")
        .push_bind(params.per_page)
        .push(" OFFSET ")
        .push_bind(params.offset());
    let users = qb.build_query_as().fetch_all(&mut **tx).await?;
    Ok((users, total))
}

pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<User, AppError> {
    sqlx::query_as(&format!("{SELECT} WHERE u.id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: Option<String>,
    pub timezone: &'a str,
    pub phone: Option<&'a str>,
}

pub async fn create(tx: &mut TenantTx, new: NewUser<'_>) -> Result<Uuid, AppError> {
    sqlx::query_scalar(
        "INSERT INTO users (email, name, password_hash, timezone, phone, status)
         VALUES ($1, $2, $3, $4, $5, CASE WHEN $3::text IS NULL THEN 'pending' ELSE 'active' END) RETURNING id",
    )
    .bind(domain::identity::normalize_email(new.email))
    .bind(new.name.trim())
    .bind(new.password_hash)
    .bind(new.timezone)
    .bind(new.phone)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, "a user with this e-mail already exists"))
}

/// Replaces the user's roles with `roles` (names). Unknown names → 422 on `roles`.
pub async fn set_roles(
    tx: &mut TenantTx,
    user_id: Uuid,
    roles: &[String],
    granted_by: Option<Uuid>,
) -> Result<(), AppError> {
    let known: Vec<String> = sqlx::query_scalar("SELECT name FROM roles WHERE name = ANY($1)")
        .bind(roles)
        .fetch_all(&mut **tx)
        .await?;
    if let Some(bad) = roles.iter().find(|r| !known.contains(r)) {
        return Err(AppError::field("roles", format!("unknown role '{bad}'")));
    }
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND role_id NOT IN (SELECT id FROM roles WHERE name = ANY($2))")
        .bind(user_id)
        .bind(roles)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO user_roles (user_id, role_id, granted_by) SELECT $1, id, $3 FROM roles WHERE name = ANY($2)
         ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(roles)
    .bind(granted_by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub struct UserChanges<'a> {
    pub name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub timezone: Option<&'a str>,
    pub phone: Option<Option<&'a str>>,
    pub status: Option<&'a str>,
}

pub async fn update(tx: &mut TenantTx, id: Uuid, c: UserChanges<'_>) -> Result<(), AppError> {
    let n = sqlx::query(
        "UPDATE users SET
            name = COALESCE($2, name),
            email = COALESCE($3, email),
            timezone = COALESCE($4, timezone),
            phone = CASE WHEN $5 THEN $6 ELSE phone END,
            status = COALESCE($7, status),
            -- Deactivation ends sessions and tokens: move the credential version.
            credentials_changed_at = CASE WHEN $7 = 'inactive' AND status <> 'inactive' THEN clock_timestamp() ELSE credentials_changed_at END,
            updated_at = NOW()
         WHERE id = $1",
    )
    .bind(id)
    .bind(c.name.map(str::trim))
    .bind(c.email.map(domain::identity::normalize_email))
    .bind(c.timezone)
    .bind(c.phone.is_some())
    .bind(c.phone.flatten())
    .bind(c.status)
    .execute(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, "a user with this e-mail already exists"))?
    .rows_affected();
    if n == 0 {
        Err(AppError::NotFound)
    } else {
        Ok(())
    }
}

/// Sets a new password hash and moves the credential version (ends other sessions and tokens).
pub async fn set_password(tx: &mut TenantTx, id: Uuid, hash: &str) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE users SET password_hash = $2, credentials_changed_at = clock_timestamp(), updated_at = NOW(),
            status = CASE WHEN status = 'pending' THEN 'active' ELSE status END
         WHERE id = $1",
    )
    .bind(id)
    .bind(hash)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = NOW() WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn password_hash(tx: &mut TenantTx, id: Uuid) -> Result<Option<String>, AppError> {
    Ok(
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .flatten(),
    )
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Membership {
    pub group_id: Uuid,
    pub group_name: String,
    pub group_type: String,
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

pub async fn groups_of(
    tx: &mut TenantTx,
    user_ids: &[Uuid],
) -> Result<Vec<(Uuid, Membership)>, AppError> {
    let rows: Vec<(Uuid, Uuid, String, String, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT gm.user_id, g.id, g.name, g.type, gm.role, gm.joined_at
         FROM group_members gm JOIN groups g ON g.id = gm.group_id
         WHERE gm.user_id = ANY($1) ORDER BY g.name",
    )
    .bind(user_ids)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(uid, group_id, group_name, group_type, role, joined_at)| {
            (
                uid,
                Membership {
                    group_id,
                    group_name,
                    group_type,
                    role,
                    joined_at,
                },
            )
        })
        .collect())
}
