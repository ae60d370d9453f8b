//! Admin-managed issue settings: the category tree and the impact × urgency priority matrix.
//! Both need `settings:update` to change; anyone who reads issues may read them.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::platform::audit::{self, Actor, diff};
use crate::platform::error::AppError;
use crate::platform::listing::Problems;
use crate::platform::tenancy::TenantTx;

/// Deep trees stop helping people pick; five levels is plenty.
const MAX_DEPTH: i32 = 5;

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Category {
    pub id: Uuid,
    pub name: String,
    pub parent_id: Option<Uuid>,
    /// `Hardware / Laptops`: the names from the root down.
    pub path: String,
    /// 1 for a top-level category.
    pub depth: i32,
    pub sort_order: i32,
    pub is_active: bool,
    /// Issues filed under this category (not counting sub-categories).
    pub issue_count: i64,
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryBody {
    pub name: String,
    pub parent_id: Option<Uuid>,
    /// Default 0; siblings sort by it, then by name.
    pub sort_order: Option<i32>,
    /// Default true; inactive categories are not offered for new issues.
    pub is_active: Option<bool>,
}

/// The whole tree, each category after its parent, siblings by order then name.
const TREE: &str = "WITH RECURSIVE tree AS (
        SELECT c.id, c.name, c.parent_id, c.name::text AS path, 1 AS depth,
               ARRAY[lpad(COALESCE(c.sort_order, 0)::text, 8, '0') || lower(c.name)] AS sort_key
        FROM issue_categories c WHERE c.parent_id IS NULL
        UNION ALL
        SELECT c.id, c.name, c.parent_id, t.path || ' / ' || c.name, t.depth + 1,
               t.sort_key || (lpad(COALESCE(c.sort_order, 0)::text, 8, '0') || lower(c.name))
        FROM issue_categories c JOIN tree t ON c.parent_id = t.id
    )
    SELECT t.id, t.name, t.parent_id, t.path, t.depth, COALESCE(c.sort_order, 0) AS sort_order,
           COALESCE(c.is_active, true) AS is_active,
           (SELECT count(*) FROM issues i WHERE i.category_id = t.id) AS issue_count
    FROM tree t JOIN issue_categories c ON c.id = t.id";

/// Active categories as (id, path) choices for issue forms.
pub const CATEGORY_CHOICES: &str = "WITH RECURSIVE tree AS (
        SELECT id, name::text AS path, ARRAY[lpad(COALESCE(sort_order, 0)::text, 8, '0') || lower(name)] AS k
        FROM issue_categories WHERE parent_id IS NULL AND COALESCE(is_active, true)
        UNION ALL
        SELECT c.id, t.path || ' / ' || c.name, t.k || (lpad(COALESCE(c.sort_order, 0)::text, 8, '0') || lower(c.name))
        FROM issue_categories c JOIN tree t ON c.parent_id = t.id WHERE COALESCE(c.is_active, true)
    )
    SELECT id, path FROM tree ORDER BY k";

pub async fn categories(tx: &mut TenantTx) -> Result<Vec<Category>, AppError> {
    let sql = format!("{TREE} ORDER BY t.sort_key");
    Ok(sqlx::query_as(&sql).fetch_all(&mut **tx).await?)
}

pub async fn category(tx: &mut TenantTx, id: Uuid) -> Result<Category, AppError> {
    let sql = format!("{TREE} WHERE t.id = $1");
    sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)
}

async fn validate(
    tx: &mut TenantTx,
    id: Option<Uuid>,
    b: &CategoryBody,
) -> Result<Problems, AppError> {
    let mut p = Problems::default();
    let name = b.name.trim();
    if name.is_empty() {
        p.add("name", "is required");
    } else if name.chars().count() > 255 {
        p.add("name", "must be at most 255 characters");
    } else if name.contains(" / ") {
        p.add("name", "may not contain ' / ' (it separates levels)");
    }
    if b.sort_order.is_some_and(|o| !(0..=100_000).contains(&o)) {
        p.add("sort_order", "must be between 0 and 100000");
    }
    if let Some(parent) = b.parent_id {
        match category(tx, parent).await {
            Err(AppError::NotFound) => p.add("parent_id", "no such category"),
            Err(e) => return Err(e),
            Ok(parent_row) => {
                // The parent may not be the category itself or one of its descendants.
                let cycle = match id {
                    Some(id) => sqlx::query_scalar::<_, bool>(
                        "WITH RECURSIVE up AS (
                             SELECT id, parent_id FROM issue_categories WHERE id = $1
                             UNION ALL
                             SELECT c.id, c.parent_id FROM issue_categories c JOIN up ON c.id = up.parent_id)
                         SELECT EXISTS (SELECT 1 FROM up WHERE id = $2)",
                    )
                    .bind(parent)
                    .bind(id)
                    .fetch_one(&mut **tx)
                    .await?,
                    None => false,
                };
                if cycle {
                    p.add("parent_id", "cannot be the category itself or one below it");
                } else if parent_row.depth >= MAX_DEPTH {
                    p.add("parent_id", format!("at most {MAX_DEPTH} levels"));
                }
            }
        }
    }
    if !name.is_empty() {
        let taken: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM issue_categories WHERE lower(name) = lower($1)
                 AND parent_id IS NOT DISTINCT FROM $2 AND id IS DISTINCT FROM $3)",
        )
        .bind(name)
        .bind(b.parent_id)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
        if taken {
            p.add(
                "name",
                "a category with this name already exists at this level",
            );
        }
    }
    Ok(p)
}

pub async fn save_category(
    tx: &mut TenantTx,
    actor: &Actor,
    id: Option<Uuid>,
    b: &CategoryBody,
) -> Result<Category, AppError> {
    let before = match id {
        Some(id) => Some(category(tx, id).await?),
        None => None,
    };
    validate(tx, id, b).await?.into_result()?;
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO issue_categories (id, name, parent_id, sort_order, is_active)
         VALUES (COALESCE($1, gen_random_uuid()), $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET name = $2, parent_id = $3, sort_order = $4, is_active = $5
         RETURNING id",
    )
    .bind(id)
    .bind(b.name.trim())
    .bind(b.parent_id)
    .bind(b.sort_order.unwrap_or(0))
    .bind(b.is_active.unwrap_or(true))
    .fetch_one(&mut **tx)
    .await?;
    let after = category(tx, id).await?;
    let action = if before.is_some() { "update" } else { "create" };
    let changes = diff(before.as_ref(), Some(&after));
    audit::record(tx, actor, action, "issue_category", id, changes).await?;
    Ok(after)
}

/// Deletes a category no issue uses and that has no sub-categories; otherwise 409 (deactivate
/// it instead, so past issues keep their category).
pub async fn delete_category(tx: &mut TenantTx, actor: &Actor, id: Uuid) -> Result<(), AppError> {
    let before = category(tx, id).await?;
    if before.issue_count > 0 {
        return Err(AppError::conflict(format!(
            "{} issues use this category; deactivate it instead",
            before.issue_count
        )));
    }
    let children: i64 =
        sqlx::query_scalar("SELECT count(*) FROM issue_categories WHERE parent_id = $1")
            .bind(id)
            .fetch_one(&mut **tx)
            .await?;
    if children > 0 {
        return Err(AppError::conflict(
            "this category has sub-categories; move or delete them first",
        ));
    }
    let in_policies: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sla_policies WHERE conditions->'category_id' ? $1::text
             OR conditions->'category_id' = to_jsonb($1::text))",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    if in_policies {
        return Err(AppError::conflict(
            "an SLA policy's conditions name this category; change the policy first",
        ));
    }
    sqlx::query("DELETE FROM issue_categories WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let changes = diff(Some(&before), None);
    audit::record(tx, actor, "delete", "issue_category", id, changes).await
}

// ---------- priority matrix ----------

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MatrixCell {
    pub impact: String,
    pub urgency: String,
    pub priority: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Matrix {
    pub impacts: &'static [&'static str],
    pub urgencies: &'static [&'static str],
    pub cells: Vec<MatrixCell>,
}

impl Matrix {
    /// The priority of one cell (for the grid page).
    pub fn at(&self, impact: &str, urgency: &str) -> &str {
        self.cells
            .iter()
            .find(|c| c.impact == impact && c.urgency == urgency)
            .map_or("medium", |c| c.priority.as_str())
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatrixBody {
    /// The cells to change; others keep their priority.
    pub cells: Vec<MatrixCell>,
}

pub async fn matrix(tx: &mut TenantTx) -> Result<Matrix, AppError> {
    let cells = sqlx::query_as(
        "SELECT impact, urgency, priority FROM priority_matrix
         ORDER BY array_position($1::text[], impact::text), array_position($2::text[], urgency::text)",
    )
    .bind(domain::issues::IMPACTS)
    .bind(domain::issues::URGENCIES)
    .fetch_all(&mut **tx)
    .await?;
    Ok(Matrix {
        impacts: domain::issues::IMPACTS,
        urgencies: domain::issues::URGENCIES,
        cells,
    })
}

/// Changes cells of the matrix. It decides the priority of issues created or re-rated from now
/// on; existing issues keep theirs.
pub async fn save_matrix(
    tx: &mut TenantTx,
    actor: &Actor,
    b: &MatrixBody,
) -> Result<Matrix, AppError> {
    let mut p = Problems::default();
    if b.cells.is_empty() {
        p.add("cells", "name at least one cell");
    }
    for (i, c) in b.cells.iter().enumerate() {
        p.one_of(
            &format!("cells[{i}].impact"),
            &c.impact,
            domain::issues::IMPACTS,
        );
        p.one_of(
            &format!("cells[{i}].urgency"),
            &c.urgency,
            domain::issues::URGENCIES,
        );
        p.one_of(
            &format!("cells[{i}].priority"),
            &c.priority,
            domain::issues::PRIORITIES,
        );
    }
    p.into_result()?;
    let before = matrix(tx).await?;
    for c in &b.cells {
        sqlx::query(
            "INSERT INTO priority_matrix (impact, urgency, priority) VALUES ($1, $2, $3)
             ON CONFLICT (impact, urgency) DO UPDATE SET priority = $3",
        )
        .bind(&c.impact)
        .bind(&c.urgency)
        .bind(&c.priority)
        .execute(&mut **tx)
        .await?;
    }
    let after = matrix(tx).await?;
    let changed: Vec<_> = after
        .cells
        .iter()
        .filter(|c| !before.cells.contains(c))
        .map(|c| {
            json!({"impact": c.impact, "urgency": c.urgency,
                   "old": before.at(&c.impact, &c.urgency), "new": c.priority})
        })
        .collect();
    if !changed.is_empty() {
        audit::record(
            tx,
            actor,
            "update",
            "priority_matrix",
            Uuid::nil(),
            json!({ "cells": changed }),
        )
        .await?;
    }
    Ok(after)
}

/// How the raise form asks requesters (`issue_form_settings`, one row).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FormSettings {
    /// Requesters choose impact and urgency (and so the priority, through the matrix). Off:
    /// only the service desk does, and a requester's impact or urgency is refused.
    pub requesters_rate_impact: bool,
}

pub async fn form_settings(tx: &mut TenantTx) -> Result<FormSettings, AppError> {
    let on: Option<bool> =
        sqlx::query_scalar("SELECT requesters_rate_impact FROM issue_form_settings")
            .fetch_optional(&mut **tx)
            .await?;
    Ok(FormSettings {
        requesters_rate_impact: on.unwrap_or(false),
    })
}

pub async fn save_form_settings(
    tx: &mut TenantTx,
    actor: &Actor,
    body: &FormSettings,
) -> Result<FormSettings, AppError> {
    let before = form_settings(tx).await?;
    sqlx::query(
        "INSERT INTO issue_form_settings (singleton, requesters_rate_impact, updated_at)
         VALUES (true, $1, now())
         ON CONFLICT (singleton) DO UPDATE SET requesters_rate_impact = $1, updated_at = now()",
    )
    .bind(body.requesters_rate_impact)
    .execute(&mut **tx)
    .await?;
    if before != *body {
        audit::record(
            tx,
            actor,
            "update",
            "issue_form_settings",
            Uuid::nil(),
            diff(Some(&before), Some(body)),
        )
        .await?;
    }
    Ok(body.clone())
}
