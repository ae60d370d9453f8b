//! Roles and the permission matrix: the four system roles (not deletable) plus custom roles.
//! The rules and SQL are here; `api` and `web` are the two ways in.

pub mod api;
pub mod web;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::platform::audit::Actor;
use crate::platform::error::AppError;
use crate::platform::events;
use crate::platform::listing::Problems;
use crate::platform::tenancy::{Slug, TenantTx};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Role {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub is_system: bool,
    pub permissions: Vec<String>,
    pub user_count: i64,
}

const SELECT: &str = "SELECT r.id, r.name, r.display_name, r.description, COALESCE(r.is_system, false) AS is_system,
    COALESCE((SELECT array_agg(p.resource || ':' || p.action ORDER BY p.resource, p.action)
              FROM role_permissions rp JOIN permissions p ON p.id = rp.permission_id WHERE rp.role_id = r.id), '{}') AS permissions,
    (SELECT COUNT(*) FROM user_roles ur WHERE ur.role_id = r.id) AS user_count
    FROM roles r";

pub async fn all(tx: &mut TenantTx) -> Result<Vec<Role>, AppError> {
    Ok(
        sqlx::query_as(&format!("{SELECT} ORDER BY r.is_system DESC, r.name"))
            .fetch_all(&mut **tx)
            .await?,
    )
}

pub async fn one(tx: &mut TenantTx, id: Uuid) -> Result<Role, AppError> {
    sqlx::query_as(&format!("{SELECT} WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Permission {
    pub id: Uuid,
    pub resource: String,
    pub action: String,
    pub key: String,
    pub description: Option<String>,
}

pub async fn permissions(tx: &mut TenantTx) -> Result<Vec<Permission>, AppError> {
    Ok(sqlx::query_as(
        "SELECT id, resource, action, resource || ':' || action AS key, description FROM permissions ORDER BY resource, action",
    )
    .fetch_all(&mut **tx)
    .await?)
}

#[derive(Debug, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    /// Machine name (lowercase, digits, `_`); derived from `display_name` when absent.
    pub name: Option<String>,
    pub display_name: String,
    pub description: Option<String>,
    /// Permission keys `resource:action`, e.g. `issues:read`.
    pub permissions: Vec<String>,
}

/// "Change Advisory Board" → `change_advisory_board`.
fn machine_name(display: &str) -> String {
    let mut out = String::new();
    for c in display.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').chars().take(50).collect()
}

pub async fn save(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Option<Uuid>,
    body: &RoleBody,
) -> Result<Role, AppError> {
    let before = match id {
        Some(id) => Some(one(tx, id).await?),
        None => None,
    };
    let mut p = Problems::default();
    if before.as_ref().is_some_and(|r| r.is_system) {
        return Err(AppError::conflict("system roles cannot be changed"));
    }
    let name = match &before {
        Some(r) => r.name.clone(),
        None => match &body.name {
            Some(n) => n.trim().to_lowercase(),
            None => machine_name(&body.display_name),
        },
    };
    // A key made from a missing display name is not a second error to show.
    if before.is_none() && (body.name.is_some() || !body.display_name.trim().is_empty()) {
        let ok = (2..=50).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            p.add(
                "name",
                "must be 2–50 lowercase letters, digits or underscores",
            );
        }
    }
    if body.display_name.trim().is_empty() {
        p.add("display_name", "is required");
    }
    let known: Vec<String> = permissions(tx).await?.into_iter().map(|p| p.key).collect();
    if let Some(bad) = body.permissions.iter().find(|k| !known.contains(k)) {
        p.add("permissions", format!("unknown permission '{bad}'"));
    }
    p.into_result()?;
    if before.is_none() {
        let taken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM roles WHERE name = $1)")
            .bind(&name)
            .fetch_one(&mut **tx)
            .await?;
        if taken {
            return Err(AppError::conflict("a role with this name already exists"));
        }
    }
    let id: Uuid = match id {
        Some(id) => {
            sqlx::query("UPDATE roles SET display_name = $2, description = $3 WHERE id = $1")
                .bind(id)
                .bind(body.display_name.trim())
                .bind(&body.description)
                .execute(&mut **tx)
                .await?;
            id
        }
        None => sqlx::query_scalar("INSERT INTO roles (name, display_name, description, is_system) VALUES ($1, $2, $3, false) RETURNING id")
            .bind(&name)
            .bind(body.display_name.trim())
            .bind(&body.description)
            .fetch_one(&mut **tx)
            .await?,
    };
    sqlx::query("DELETE FROM role_permissions WHERE role_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("INSERT INTO role_permissions (role_id, permission_id) SELECT $1, id FROM permissions WHERE resource || ':' || action = ANY($2)")
        .bind(id)
        .bind(&body.permissions)
        .execute(&mut **tx)
        .await?;
    let after = one(tx, id).await?;
    events::saved(tx, tenant, actor, "role", id, before.as_ref(), &after).await?;
    Ok(after)
}

/// Deletes a custom role (system roles stay).
pub async fn delete(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Uuid,
) -> Result<(), AppError> {
    let role = one(tx, id).await?;
    if role.is_system {
        return Err(AppError::conflict("system roles cannot be deleted"));
    }
    sqlx::query("DELETE FROM roles WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    events::deleted(tx, tenant, actor, "role", id, &role).await
}
