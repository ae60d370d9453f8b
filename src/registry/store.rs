//! SQL for applications and their environments.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::platform::error::AppError;
use crate::platform::listing::{self, ListParams, ListSpec};
use crate::platform::tenancy::TenantTx;

pub const TIERS: &[&str] = &["P1", "P2", "P3", "P4"];
pub const STATUSES: &[&str] = &["active", "inactive", "deprecated"];
pub const STAGES: &[&str] = &["development", "staging", "production", "sunset"];
pub const CRITICALITIES: &[&str] = &[
    "mission_critical",
    "business_critical",
    "business_operational",
    "administrative",
];
pub const ENV_TYPES: &[&str] = &["dev", "test", "staging", "prod"];

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Application {
    pub id: Uuid,
    /// `APP-00001`.
    pub app_id: String,
    pub name: String,
    pub description: Option<String>,
    pub tier: String,
    pub status: String,
    pub lifecycle_stage: String,
    pub owner_user_id: Option<Uuid>,
    pub owner_user_name: Option<String>,
    pub owner_group_id: Option<Uuid>,
    pub owner_group_name: Option<String>,
    pub support_group_id: Option<Uuid>,
    pub support_group_name: Option<String>,
    pub business_unit: Option<String>,
    pub criticality: Option<String>,
    pub tags: Vec<String>,
    /// Free key → value pairs.
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub health_score: Option<f64>,
    pub open_issues: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT a.id, a.app_id, a.name, a.description, a.tier, COALESCE(a.status, 'active') AS status,
    COALESCE(a.lifecycle_stage, 'production') AS lifecycle_stage,
    a.owner_user_id, ou.name AS owner_user_name, a.owner_group_id, og.name AS owner_group_name,
    a.support_group_id, sg.name AS support_group_name, a.business_unit, a.criticality,
    COALESCE(a.tags, '{}') AS tags, COALESCE(a.metadata, '{}') AS metadata, a.health_score::float8 AS health_score,
    (SELECT COUNT(*) FROM issues i WHERE i.application_id = a.id AND i.status NOT IN ('resolved', 'closed')) AS open_issues,
    a.created_at, a.updated_at
    FROM applications a
    LEFT JOIN users ou ON ou.id = a.owner_user_id
    LEFT JOIN groups og ON og.id = a.owner_group_id
    LEFT JOIN groups sg ON sg.id = a.support_group_id";

pub const LIST_SPEC: ListSpec = ListSpec {
    sorts: &[
        ("name", "a.name"),
        ("app_id", "a.app_id"),
        ("tier", "a.tier"),
        ("status", "a.status"),
        ("health_score", "a.health_score"),
        ("created_at", "a.created_at"),
        ("updated_at", "a.updated_at"),
    ],
    default_sort: "name",
    filters: &[
        ("tier", "a.tier"),
        ("status", "a.status"),
        ("lifecycle_stage", "a.lifecycle_stage"),
        ("criticality", "a.criticality"),
        ("owner_user_id", "a.owner_user_id"),
        ("owner_group_id", "a.owner_group_id"),
        ("support_group_id", "a.support_group_id"),
        ("business_unit", "a.business_unit"),
        ("tag", "tag"),
    ],
    fields: &[
        "id",
        "app_id",
        "name",
        "description",
        "tier",
        "status",
        "lifecycle_stage",
        "owner_user_id",
        "owner_user_name",
        "owner_group_id",
        "owner_group_name",
        "support_group_id",
        "support_group_name",
        "business_unit",
        "criticality",
        "tags",
        "metadata",
        "health_score",
        "open_issues",
        "created_at",
        "updated_at",
    ],
    includes: &["environments"],
};

fn push_filters(
    qb: &mut QueryBuilder<'_, sqlx::Postgres>,
    params: &ListParams,
) -> Result<(), AppError> {
    qb.push(" WHERE true");
    for (col, value) in &params.filters {
        if *col == "tag" {
            qb.push(" AND ")
                .push_bind(value.clone())
                .push(" = ANY(a.tags)");
        } else {
            listing::push_equals(qb, col, value)?;
        }
    }
    if let Some(q) = &params.q {
        let like = listing::contains_pattern(q);
        qb.push(" AND (a.name ILIKE ")
            .push_bind(like.clone())
            .push(" OR a.app_id ILIKE ")
            .push_bind(like.clone())
            .push(" OR a.description ILIKE ")
            .push_bind(like)
            .push(")");
    }
    Ok(())
}

pub async fn list(
    tx: &mut TenantTx,
    params: &ListParams,
) -> Result<(Vec<Application>, i64), AppError> {
    let mut qb = QueryBuilder::new("SELECT COUNT(*) FROM applications a");
    push_filters(&mut qb, params)?;
    let total = qb.build_query_scalar().fetch_one(&mut **tx).await?;
    let mut qb = QueryBuilder::new(SELECT);
    push_filters(&mut qb, params)?;
    qb.push(format_args!(" ORDER BY {}", params.order_by));
    qb.push(" LIMIT ")
        .push_bind(params.per_page)
        .push(" OFFSET ")
        .push_bind(params.offset());
    Ok((qb.build_query_as().fetch_all(&mut **tx).await?, total))
}

/// Every application matching the filters, for the CSV export.
pub async fn list_all(
    tx: &mut TenantTx,
    params: &ListParams,
) -> Result<Vec<Application>, AppError> {
    let mut qb = QueryBuilder::new(SELECT);
    push_filters(&mut qb, params)?;
    qb.push(format_args!(" ORDER BY {}", params.order_by));
    Ok(qb.build_query_as().fetch_all(&mut **tx).await?)
}

pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Application, AppError> {
    sqlx::query_as(&format!("{SELECT} WHERE a.id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)
}

/// Validated values of an application, ready to write.
pub struct AppInput<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub tier: &'a str,
    pub status: &'a str,
    pub lifecycle_stage: &'a str,
    pub owner_user_id: Option<Uuid>,
    pub owner_group_id: Option<Uuid>,
    pub support_group_id: Option<Uuid>,
    pub business_unit: Option<&'a str>,
    pub criticality: Option<&'a str>,
    pub tags: &'a [String],
    pub metadata: &'a Value,
}

pub async fn create(tx: &mut TenantTx, a: &AppInput<'_>) -> Result<Uuid, AppError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO applications (app_id, name, description, tier, status, lifecycle_stage, owner_user_id,
            owner_group_id, support_group_id, business_unit, criticality, tags, metadata)
         VALUES (next_id('application'), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(a.name.trim())
    .bind(a.description)
    .bind(a.tier)
    .bind(a.status)
    .bind(a.lifecycle_stage)
    .bind(a.owner_user_id)
    .bind(a.owner_group_id)
    .bind(a.support_group_id)
    .bind(a.business_unit)
    .bind(a.criticality)
    .bind(a.tags)
    .bind(a.metadata)
    .fetch_one(&mut **tx)
    .await?)
}

pub async fn update(tx: &mut TenantTx, id: Uuid, a: &AppInput<'_>) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE applications SET name = $2, description = $3, tier = $4, status = $5, lifecycle_stage = $6,
            owner_user_id = $7, owner_group_id = $8, support_group_id = $9, business_unit = $10,
            criticality = $11, tags = $12, metadata = $13, updated_at = NOW()
         WHERE id = $1",
    )
    .bind(id)
    .bind(a.name.trim())
    .bind(a.description)
    .bind(a.tier)
    .bind(a.status)
    .bind(a.lifecycle_stage)
    .bind(a.owner_user_id)
    .bind(a.owner_group_id)
    .bind(a.support_group_id)
    .bind(a.business_unit)
    .bind(a.criticality)
    .bind(a.tags)
    .bind(a.metadata)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn set_status(tx: &mut TenantTx, id: Uuid, status: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE applications SET status = $2, updated_at = NOW() WHERE id = $1")
        .bind(id)
        .bind(status)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

// ---------- environments ----------

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Environment {
    pub id: Uuid,
    pub application_id: Uuid,
    pub name: String,
    /// dev, test, staging or prod.
    #[serde(rename = "type")]
    pub env_type: String,
    pub url: Option<String>,
    pub cloud_provider: Option<String>,
    pub cloud_account: Option<String>,
    pub cloud_region: Option<String>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const ENV_SELECT: &str =
    "SELECT id, application_id, name, type AS env_type, url, cloud_provider, cloud_account,
    cloud_region, COALESCE(status, 'active') AS status, created_at, updated_at FROM environments";

pub async fn environments(tx: &mut TenantTx, app: Uuid) -> Result<Vec<Environment>, AppError> {
    Ok(sqlx::query_as(&format!(
        "{ENV_SELECT} WHERE application_id = $1 ORDER BY name"
    ))
    .bind(app)
    .fetch_all(&mut **tx)
    .await?)
}

pub async fn environments_of(
    tx: &mut TenantTx,
    apps: &[Uuid],
) -> Result<Vec<Environment>, AppError> {
    Ok(sqlx::query_as(&format!(
        "{ENV_SELECT} WHERE application_id = ANY($1) ORDER BY name"
    ))
    .bind(apps)
    .fetch_all(&mut **tx)
    .await?)
}

pub async fn environment(tx: &mut TenantTx, app: Uuid, id: Uuid) -> Result<Environment, AppError> {
    sqlx::query_as(&format!(
        "{ENV_SELECT} WHERE application_id = $1 AND id = $2"
    ))
    .bind(app)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)
}

pub struct EnvInput<'a> {
    pub name: &'a str,
    pub env_type: &'a str,
    pub url: Option<&'a str>,
    pub cloud_provider: Option<&'a str>,
    pub cloud_account: Option<&'a str>,
    pub cloud_region: Option<&'a str>,
}

pub async fn save_environment(
    tx: &mut TenantTx,
    app: Uuid,
    id: Option<Uuid>,
    e: &EnvInput<'_>,
) -> Result<Uuid, AppError> {
    let q = match id {
        None => sqlx::query_scalar(
            "INSERT INTO environments (application_id, name, type, url, cloud_provider, cloud_account, cloud_region)
             VALUES ($1, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(app)
        .bind(None::<Uuid>),
        Some(id) => sqlx::query_scalar(
            "UPDATE environments SET name = $3, type = $4, url = $5, cloud_provider = $6, cloud_account = $7,
                cloud_region = $8, updated_at = NOW() WHERE application_id = $1 AND id = $2 RETURNING id",
        )
        .bind(app)
        .bind(Some(id)),
    };
    q.bind(e.name.trim())
        .bind(e.env_type)
        .bind(e.url)
        .bind(e.cloud_provider)
        .bind(e.cloud_account)
        .bind(e.cloud_region)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn delete_environment(tx: &mut TenantTx, app: Uuid, id: Uuid) -> Result<(), AppError> {
    sqlx::query("DELETE FROM environments WHERE application_id = $1 AND id = $2")
        .bind(app)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Open and recent issues of an application (the issues module builds on the same table).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AppIssue {
    pub id: Uuid,
    pub issue_number: String,
    pub title: String,
    pub status: String,
    pub priority: String,
    pub created_at: DateTime<Utc>,
}

pub async fn issues(
    tx: &mut TenantTx,
    app: Uuid,
    open_only: bool,
) -> Result<Vec<AppIssue>, AppError> {
    Ok(sqlx::query_as(
        "SELECT id, issue_number, title, COALESCE(status, 'new') AS status,
                COALESCE(priority, 'medium') AS priority, created_at FROM issues
         WHERE application_id = $1 AND (NOT $2 OR status NOT IN ('resolved', 'closed'))
         ORDER BY created_at DESC LIMIT 200",
    )
    .bind(app)
    .bind(open_only)
    .fetch_all(&mut **tx)
    .await?)
}
