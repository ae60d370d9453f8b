//! SQL for catalog categories, items and their published versions.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::platform::error::AppError;
use crate::platform::listing::{self, ListParams, ListSpec};
use crate::platform::tenancy::TenantTx;

pub const ITEM_STATUSES: &[&str] = &["draft", "active", "retired"];
pub const CATEGORY_STATUSES: &[&str] = &["active", "hidden"];
pub const PRIORITIES: &[&str] = &["low", "medium", "high", "critical"];
pub const COST_TYPES: &[&str] = &["one_time", "monthly", "yearly"];

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = CatalogCategory)]
pub struct Category {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub icon: Option<String>,
    /// `#rrggbb`.
    pub color: Option<String>,
    pub sort_order: i32,
    pub parent_id: Option<Uuid>,
    /// active or hidden.
    pub status: String,
    /// Active items in it.
    pub items: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const CATEGORY: &str = "SELECT c.id, c.name, c.description, c.icon, c.color, COALESCE(c.sort_order, 0) AS sort_order,
    c.parent_id, COALESCE(c.status, 'active') AS status,
    (SELECT COUNT(*) FROM catalog_items i WHERE i.category_id = c.id AND i.status = 'active') AS items,
    c.created_at, c.updated_at FROM catalog_categories c";

/// Parents before children, each level by sort order then name.
pub async fn categories(tx: &mut TenantTx) -> Result<Vec<Category>, AppError> {
    let mut all: Vec<Category> = sqlx::query_as(&format!(
        "{CATEGORY} ORDER BY COALESCE(c.sort_order, 0), c.name"
    ))
    .fetch_all(&mut **tx)
    .await?;
    // A tree walk in Rust: categories are few, and it keeps the SQL plain.
    let mut out = Vec::with_capacity(all.len());
    fn take(parent: Option<Uuid>, all: &mut Vec<Category>, out: &mut Vec<Category>, depth: usize) {
        if depth > 8 {
            return;
        }
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(all)
            .into_iter()
            .partition(|c| c.parent_id == parent);
        *all = rest;
        for c in mine {
            let id = c.id;
            out.push(c);
            take(Some(id), all, out, depth + 1);
        }
    }
    take(None, &mut all, &mut out, 0);
    // Anything left hangs off a missing parent or a cycle: list it rather than lose it.
    out.append(&mut all);
    Ok(out)
}

pub async fn category(tx: &mut TenantTx, id: Uuid) -> Result<Category, AppError> {
    sqlx::query_as(&format!("{CATEGORY} WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)
}

pub struct CategoryInput<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub icon: Option<&'a str>,
    pub color: Option<&'a str>,
    pub sort_order: i32,
    pub parent_id: Option<Uuid>,
    pub status: &'a str,
}

pub async fn save_category(
    tx: &mut TenantTx,
    id: Option<Uuid>,
    c: &CategoryInput<'_>,
) -> Result<Uuid, AppError> {
    let q = match id {
        Some(_) => {
            "UPDATE catalog_categories SET name = $2, description = $3, icon = $4, color = $5,
                sort_order = $6, parent_id = $7, status = $8, updated_at = now() WHERE id = $1 RETURNING id"
        }
        None => {
            "INSERT INTO catalog_categories (id, name, description, icon, color, sort_order, parent_id, status)
             VALUES (COALESCE($1, gen_random_uuid()), $2, $3, $4, $5, $6, $7, $8) RETURNING id"
        }
    };
    sqlx::query_scalar(q)
        .bind(id)
        .bind(c.name)
        .bind(c.description)
        .bind(c.icon)
        .bind(c.color)
        .bind(c.sort_order)
        .bind(c.parent_id)
        .bind(c.status)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn delete_category(tx: &mut TenantTx, id: Uuid) -> Result<(), AppError> {
    sqlx::query("DELETE FROM catalog_categories WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Whether `parent` is `id` or below it (a category cannot move under itself).
pub async fn is_within(tx: &mut TenantTx, parent: Uuid, id: Uuid) -> Result<bool, AppError> {
    Ok(sqlx::query_scalar(
        "WITH RECURSIVE up(id, parent_id, depth) AS (
            SELECT id, parent_id, 0 FROM catalog_categories WHERE id = $1
            UNION ALL SELECT c.id, c.parent_id, up.depth + 1 FROM catalog_categories c
            JOIN up ON c.id = up.parent_id WHERE up.depth < 50)
         SELECT EXISTS (SELECT 1 FROM up WHERE id = $2)",
    )
    .bind(parent)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = CatalogItem)]
pub struct Item {
    pub id: Uuid,
    pub category_id: Option<Uuid>,
    pub category_name: Option<String>,
    pub name: String,
    pub short_desc: Option<String>,
    /// Markdown.
    pub description: Option<String>,
    pub icon: Option<String>,
    /// draft, active or retired.
    pub status: String,
    /// The working draft of the form (the spec's form schema format).
    #[schema(value_type = Object)]
    pub form_schema: Value,
    /// The number the draft gets when it is published.
    pub version: i32,
    /// The version requesters fill in (none before the first publish).
    pub published_version: Option<i32>,
    /// The draft differs from the published version.
    pub has_unpublished_changes: bool,
    pub fulfillment_group_id: Option<Uuid>,
    pub fulfillment_group_name: Option<String>,
    /// `{"stages": [{"approvers": [...], "rule": ...}]}`.
    #[schema(value_type = Object)]
    pub approval_chain: Value,
    /// The fulfilment tasks an approved request gets:
    /// `[{"key", "title", "description"?, "assigned_group_id"?, "assigned_to"?, "depends_on"?: [key]}]`.
    #[schema(value_type = Vec<Object>)]
    pub task_templates: Value,
    pub sla_policy_id: Option<Uuid>,
    pub default_priority: String,
    pub estimated_hours: Option<i32>,
    pub cost: Option<f64>,
    pub cost_type: Option<String>,
    /// Only members of these groups see it; empty: everyone.
    pub visible_to_groups: Vec<Uuid>,
    pub tags: Vec<String>,
    pub sort_order: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const ITEM: &str = "SELECT i.id, i.category_id, c.name AS category_name, i.name, i.short_desc, i.description, i.icon,
    COALESCE(i.status, 'draft') AS status, i.form_schema, i.version, i.published_version,
    (i.published_version IS NULL OR NOT EXISTS (SELECT 1 FROM catalog_item_versions v
        WHERE v.item_id = i.id AND v.version = i.published_version AND v.form_schema = i.form_schema
          AND v.approval_chain = i.approval_chain AND v.task_templates = i.task_templates
          AND v.name = i.name)) AS has_unpublished_changes,
    i.fulfillment_group_id, g.name AS fulfillment_group_name, i.approval_chain, i.task_templates,
    i.sla_policy_id,
    COALESCE(i.default_priority, 'medium') AS default_priority, i.estimated_hours, i.cost::float8 AS cost,
    i.cost_type, COALESCE(i.visible_to_groups, '{}') AS visible_to_groups, COALESCE(i.tags, '{}') AS tags,
    COALESCE(i.sort_order, 0) AS sort_order, i.created_at, i.updated_at
    FROM catalog_items i
    LEFT JOIN catalog_categories c ON c.id = i.category_id
    LEFT JOIN groups g ON g.id = i.fulfillment_group_id";

pub const ITEM_LIST: ListSpec = ListSpec {
    sorts: &[
        ("name", "i.name"),
        ("sort_order", "COALESCE(i.sort_order, 0), i.name"),
        ("status", "i.status"),
        ("created_at", "i.created_at"),
        ("updated_at", "i.updated_at"),
    ],
    default_sort: "sort_order",
    filters: &[
        ("status", "i.status"),
        ("category_id", "i.category_id"),
        ("fulfillment_group_id", "i.fulfillment_group_id"),
        ("tag", "tag"),
    ],
    fields: &[
        "id",
        "category_id",
        "category_name",
        "name",
        "short_desc",
        "description",
        "icon",
        "status",
        "form_schema",
        "version",
        "published_version",
        "has_unpublished_changes",
        "fulfillment_group_id",
        "fulfillment_group_name",
        "approval_chain",
        "task_templates",
        "sla_policy_id",
        "default_priority",
        "estimated_hours",
        "cost",
        "cost_type",
        "visible_to_groups",
        "tags",
        "sort_order",
        "created_at",
        "updated_at",
    ],
    includes: &[],
};

/// Who is looking: managers see every item; others only active items their groups may see.
#[derive(Clone, Copy)]
pub enum Viewer {
    Manager,
    Requester(Uuid),
}

fn push_item_filters(
    qb: &mut QueryBuilder<'_, sqlx::Postgres>,
    params: &ListParams,
    viewer: Viewer,
) -> Result<(), AppError> {
    qb.push(" WHERE true");
    if let Viewer::Requester(user) = viewer {
        push_visible(qb, user);
    }
    for (col, value) in &params.filters {
        if *col == "tag" {
            qb.push(" AND ")
                .push_bind(value.clone())
                .push(" = ANY(i.tags)");
        } else {
            listing::push_equals(qb, col, value)?;
        }
    }
    if let Some(q) = &params.q {
        let like = listing::contains_pattern(q);
        qb.push(" AND (i.search_vector @@ plainto_tsquery('simple', ")
            .push_bind(q.clone())
            .push(") OR i.name ILIKE ")
            .push_bind(like)
            .push(")");
    }
    Ok(())
}

/// Active items (in a visible category or none) that are open to everyone or to one of
/// `user`'s groups.
fn push_visible(qb: &mut QueryBuilder<'_, sqlx::Postgres>, user: Uuid) {
    qb.push(
        " AND i.status = 'active' AND i.published_version IS NOT NULL
          AND (c.id IS NULL OR COALESCE(c.status, 'active') = 'active')
          AND (COALESCE(cardinality(i.visible_to_groups), 0) = 0 OR EXISTS (
            SELECT 1 FROM group_members gm WHERE gm.user_id = ",
    )
    .push_bind(user)
    .push(" AND gm.group_id = ANY(i.visible_to_groups)))");
}

pub async fn list_items(
    tx: &mut TenantTx,
    params: &ListParams,
    viewer: Viewer,
) -> Result<(Vec<Item>, i64), AppError> {
    let mut qb = QueryBuilder::new(
        "SELECT COUNT(*) FROM catalog_items i LEFT JOIN catalog_categories c ON c.id = i.category_id",
    );
    push_item_filters(&mut qb, params, viewer)?;
    let total = qb.build_query_scalar().fetch_one(&mut **tx).await?;
    let mut qb = QueryBuilder::new(ITEM);
    push_item_filters(&mut qb, params, viewer)?;
    qb.push(format_args!(" ORDER BY {}", params.order_by));
    qb.push(" LIMIT ")
        .push_bind(params.per_page)
        .push(" OFFSET ")
        .push_bind(params.offset());
    Ok((qb.build_query_as().fetch_all(&mut **tx).await?, total))
}

/// The catalog's first hundred items in catalog order, as the administration pages list them.
pub async fn first_items(tx: &mut TenantTx) -> Result<Vec<Item>, AppError> {
    let query = [("per_page".to_string(), "100".to_string())]
        .into_iter()
        .collect();
    let params = crate::platform::listing::parse(&ITEM_LIST, &query)?;
    Ok(list_items(tx, &params, Viewer::Manager).await?.0)
}

pub async fn item(tx: &mut TenantTx, id: Uuid, viewer: Viewer) -> Result<Item, AppError> {
    let mut qb = QueryBuilder::new(ITEM);
    qb.push(" WHERE i.id = ").push_bind(id);
    if let Viewer::Requester(user) = viewer {
        push_visible(&mut qb, user);
    }
    qb.build_query_as()
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)
}

/// Locks the item row for a change (publish, save) so two editors cannot interleave.
pub async fn lock_item(tx: &mut TenantTx, id: Uuid) -> Result<(), AppError> {
    sqlx::query_scalar::<_, Uuid>("SELECT id FROM catalog_items WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|_| ())
        .ok_or(AppError::NotFound)
}

pub struct ItemInput<'a> {
    pub category_id: Option<Uuid>,
    pub name: &'a str,
    pub short_desc: Option<&'a str>,
    pub description: Option<&'a str>,
    pub icon: Option<&'a str>,
    pub form_schema: &'a Value,
    pub fulfillment_group_id: Option<Uuid>,
    pub approval_chain: &'a Value,
    pub task_templates: &'a Value,
    pub sla_policy_id: Option<Uuid>,
    pub default_priority: &'a str,
    pub estimated_hours: Option<i32>,
    pub cost: Option<f64>,
    pub cost_type: Option<&'a str>,
    pub visible_to_groups: &'a [Uuid],
    pub tags: &'a [String],
    pub sort_order: i32,
}

pub async fn save_item(
    tx: &mut TenantTx,
    id: Option<Uuid>,
    by: Option<Uuid>,
    i: &ItemInput<'_>,
) -> Result<Uuid, AppError> {
    let q = match id {
        Some(_) => {
            "UPDATE catalog_items SET category_id = $2, name = $3, short_desc = $4, description = $5, icon = $6,
                form_schema = $7, fulfillment_group_id = $8, approval_chain = $9, sla_policy_id = $10,
                default_priority = $11, estimated_hours = $12, cost = $13::float8::numeric, cost_type = $14,
                visible_to_groups = $15, tags = $16, sort_order = $17, task_templates = $19, updated_at = now()
             WHERE id = $1 RETURNING id"
        }
        None => {
            "INSERT INTO catalog_items (id, category_id, name, short_desc, description, icon, form_schema,
                fulfillment_group_id, approval_chain, sla_policy_id, default_priority, estimated_hours, cost,
                cost_type, visible_to_groups, tags, sort_order, created_by, task_templates, status)
             VALUES (COALESCE($1, gen_random_uuid()), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
                $13::float8::numeric, $14, $15, $16, $17, $18, $19, 'draft') RETURNING id"
        }
    };
    sqlx::query_scalar(q)
        .bind(id)
        .bind(i.category_id)
        .bind(i.name)
        .bind(i.short_desc)
        .bind(i.description)
        .bind(i.icon)
        .bind(i.form_schema)
        .bind(i.fulfillment_group_id)
        .bind(i.approval_chain)
        .bind(i.sla_policy_id)
        .bind(i.default_priority)
        .bind(i.estimated_hours)
        .bind(i.cost)
        .bind(i.cost_type)
        .bind(i.visible_to_groups)
        .bind(i.tags)
        .bind(i.sort_order)
        .bind(by)
        .bind(i.task_templates)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)
}

/// Freezes the draft as the next version and makes the item active.
pub async fn publish(tx: &mut TenantTx, id: Uuid, by: Option<Uuid>) -> Result<i32, AppError> {
    Ok(sqlx::query_scalar(
        "WITH frozen AS (
            INSERT INTO catalog_item_versions (item_id, version, name, form_schema, approval_chain, task_templates, published_by)
            SELECT id, version, name, form_schema, approval_chain, task_templates, $2 FROM catalog_items WHERE id = $1
            RETURNING version)
         UPDATE catalog_items i SET published_version = f.version, version = f.version + 1, status = 'active',
            updated_at = now()
         FROM frozen f WHERE i.id = $1 RETURNING f.version",
    )
    .bind(id)
    .bind(by)
    .fetch_one(&mut **tx)
    .await?)
}

pub async fn set_status(tx: &mut TenantTx, id: Uuid, status: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE catalog_items SET status = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(status)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A published form as requesters filled it in.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Version {
    pub item_id: Uuid,
    pub version: i32,
    pub name: String,
    pub form_schema: Value,
    pub approval_chain: Value,
    pub task_templates: Value,
}

pub async fn version(tx: &mut TenantTx, item: Uuid, version: i32) -> Result<Version, AppError> {
    sqlx::query_as(
        "SELECT item_id, version, name, form_schema, approval_chain, task_templates FROM catalog_item_versions
         WHERE item_id = $1 AND version = $2",
    )
    .bind(item)
    .bind(version)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)
}

/// A builder change: the new draft, keeping the one before it for undo.
pub async fn save_form_keeping_undo(
    tx: &mut TenantTx,
    id: Uuid,
    schema: &Value,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE catalog_items SET form_schema_undo = form_schema, form_schema = $2, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(schema)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Brings back the draft before the last builder change; false when there is none.
pub async fn undo_form(tx: &mut TenantTx, id: Uuid) -> Result<bool, AppError> {
    Ok(sqlx::query(
        "UPDATE catalog_items SET form_schema = form_schema_undo, form_schema_undo = NULL, updated_at = now()
         WHERE id = $1 AND form_schema_undo IS NOT NULL",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1)
}

pub async fn can_undo(tx: &mut TenantTx, id: Uuid) -> Result<bool, AppError> {
    Ok(
        sqlx::query_scalar("SELECT form_schema_undo IS NOT NULL FROM catalog_items WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .unwrap_or(false),
    )
}
