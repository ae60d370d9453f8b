//! SQL for groups and memberships.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::platform::error::{AppError, conflict_on_unique};
use crate::platform::listing::{ListParams, ListSpec};
use crate::platform::tenancy::TenantTx;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Group {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub group_type: String,
    pub parent_id: Option<Uuid>,
    pub manager_id: Option<Uuid>,
    pub email: Option<String>,
    pub member_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT g.id, g.name, g.description, g.type AS group_type, g.parent_id, g.manager_id, g.email,
    (SELECT COUNT(*) FROM group_members gm WHERE gm.group_id = g.id) AS member_count, g.created_at, g.updated_at FROM groups g";

pub const LIST_SPEC: ListSpec = ListSpec {
    sorts: &[
        ("name", "g.name"),
        ("created_at", "g.created_at"),
        ("type", "g.type"),
    ],
    default_sort: "name",
    filters: &[
        ("type", "g.type"),
        ("parent_id", "g.parent_id"),
        ("manager_id", "g.manager_id"),
    ],
    fields: &[
        "id",
        "name",
        "description",
        "type",
        "parent_id",
        "manager_id",
        "email",
        "member_count",
        "created_at",
        "updated_at",
    ],
    includes: &[],
};

pub async fn list(tx: &mut TenantTx, params: &ListParams) -> Result<(Vec<Group>, i64), AppError> {
    let build = |qb: &mut QueryBuilder<'_, sqlx::Postgres>| -> Result<(), AppError> {
        qb.push(" WHERE true");
        for (col, value) in &params.filters {
            crate::platform::listing::push_equals(qb, col, value)?;
        }
        if let Some(q) = &params.q {
            qb.push(" AND g.name ILIKE ")
                .push_bind(crate::platform::listing::contains_pattern(q));
        }
        Ok(())
    };
    let mut qb = QueryBuilder::new("SELECT COUNT(*) FROM groups g");
    build(&mut qb)?;
    let total = qb.build_query_scalar().fetch_one(&mut **tx).await?;
    let mut qb = QueryBuilder::new(SELECT);
    build(&mut qb)?;
    qb.push(format_args!(" ORDER BY {}", params.order_by));
    qb.push(" LIMIT ")
        .push_bind(params.per_page)
        .push(" OFFSET ")
        .push_bind(params.offset());
    Ok((qb.build_query_as().fetch_all(&mut **tx).await?, total))
}

pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Group, AppError> {
    sqlx::query_as(&format!("{SELECT} WHERE g.id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)
}

pub struct GroupInput<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub group_type: &'a str,
    pub parent_id: Option<Uuid>,
    pub manager_id: Option<Uuid>,
    pub email: Option<&'a str>,
}

pub async fn create(tx: &mut TenantTx, g: &GroupInput<'_>) -> Result<Uuid, AppError> {
    sqlx::query_scalar(
        "INSERT INTO groups (name, description, type, parent_id, manager_id, email) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(g.name.trim())
    .bind(g.description)
    .bind(g.group_type)
    .bind(g.parent_id)
    .bind(g.manager_id)
    .bind(g.email)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, "a group with this name already exists"))
}

pub async fn update(tx: &mut TenantTx, id: Uuid, g: &GroupInput<'_>) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE groups SET name = $2, description = $3, type = $4, parent_id = $5, manager_id = $6, email = $7, updated_at = NOW() WHERE id = $1",
    )
    .bind(id)
    .bind(g.name.trim())
    .bind(g.description)
    .bind(g.group_type)
    .bind(g.parent_id)
    .bind(g.manager_id)
    .bind(g.email)
    .execute(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, "a group with this name already exists"))?;
    Ok(())
}

/// True when making `parent` the parent of `id` would close a loop in the hierarchy.
pub async fn would_cycle(tx: &mut TenantTx, id: Uuid, parent: Uuid) -> Result<bool, AppError> {
    Ok(sqlx::query_scalar(
        "WITH RECURSIVE up AS (SELECT id, parent_id FROM groups WHERE id = $2
                               UNION SELECT g.id, g.parent_id FROM groups g JOIN up ON g.id = up.parent_id)
         SELECT EXISTS (SELECT 1 FROM up WHERE id = $1)",
    )
    .bind(id)
    .bind(parent)
    .fetch_one(&mut **tx)
    .await?)
}

pub async fn exists(tx: &mut TenantTx, table: &str, id: Uuid) -> Result<bool, AppError> {
    let sql = match table {
        "groups" => "SELECT EXISTS (SELECT 1 FROM groups WHERE id = $1)",
        _ => "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)",
    };
    Ok(sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?)
}

pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<(), AppError> {
    sqlx::query("DELETE FROM groups WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Member {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

pub async fn members(tx: &mut TenantTx, group_id: Uuid) -> Result<Vec<Member>, AppError> {
    Ok(sqlx::query_as(
        "SELECT u.id AS user_id, u.name, u.email, gm.role, gm.joined_at
         FROM group_members gm JOIN users u ON u.id = gm.user_id WHERE gm.group_id = $1 ORDER BY u.name",
    )
    .bind(group_id)
    .fetch_all(&mut **tx)
    .await?)
}

/// Adds or updates a membership; returns the previous role, if any.
pub async fn upsert_member(
    tx: &mut TenantTx,
    group_id: Uuid,
    user_id: Uuid,
    role: &str,
) -> Result<Option<String>, AppError> {
    let before: Option<String> =
        sqlx::query_scalar("SELECT role FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group_id)
            .bind(user_id)
            .fetch_optional(&mut **tx)
            .await?;
    sqlx::query(
        "INSERT INTO group_members (group_id, user_id, role) VALUES ($1, $2, $3)
         ON CONFLICT (group_id, user_id) DO UPDATE SET role = EXCLUDED.role",
    )
    .bind(group_id)
    .bind(user_id)
    .bind(role)
    .execute(&mut **tx)
    .await?;
    Ok(before)
}

pub async fn remove_member(
    tx: &mut TenantTx,
    group_id: Uuid,
    user_id: Uuid,
) -> Result<bool, AppError> {
    Ok(
        sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group_id)
            .bind(user_id)
            .execute(&mut **tx)
            .await?
            .rows_affected()
            > 0,
    )
}
