//! The audit log: `GET /v1/audit-logs` (filter by actor, entity, action, time),
//! `GET /v1/audit-logs/{entityType}/{id}`, and the admin page.

use std::collections::HashMap;

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::identity::users_api::parse_id;
use crate::platform::auth::api::ApiCtx;
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::listing::{self, ListParams, ListSpec};
use crate::platform::openapi::{ListQuery, Page};
use crate::platform::tenancy::TenantTx;
use crate::platform::web::{Chrome, Hx};
use crate::render_page;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub actor_name: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Uuid,
    /// Field → `{old, new}`.
    #[schema(value_type = Option<Object>)]
    pub changes: Option<Value>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub const LIST_SPEC: ListSpec = ListSpec {
    sorts: &[
        ("created_at", "created_at"),
        ("action", "action"),
        ("entity_type", "entity_type"),
    ],
    default_sort: "created_at",
    filters: &[
        ("actor", "user_id"),
        ("entity_type", "entity_type"),
        ("entity_id", "entity_id"),
        ("action", "action"),
        ("since", "since"),
        ("until", "until"),
    ],
    fields: &[
        "id",
        "user_id",
        "actor_name",
        "action",
        "entity_type",
        "entity_id",
        "changes",
        "ip_address",
        "user_agent",
        "created_at",
    ],
    includes: &[],
};

fn push_filters(
    qb: &mut QueryBuilder<'_, sqlx::Postgres>,
    params: &ListParams,
) -> Result<(), AppError> {
    qb.push(" WHERE true");
    for (col, v) in &params.filters {
        match *col {
            "user_id" | "entity_id" => {
                let id: Uuid = v.parse().map_err(|_| {
                    AppError::BadRequest(format!(
                        "'{}' must be a UUID",
                        if *col == "user_id" { "actor" } else { col }
                    ))
                })?;
                qb.push(format_args!(" AND {col} = ")).push_bind(id);
            }
            "since" | "until" => {
                let t: DateTime<Utc> = v.parse().map_err(|_| {
                    AppError::BadRequest(format!("'{col}' must be an RFC 3339 time"))
                })?;
                qb.push(if *col == "since" {
                    " AND created_at >= "
                } else {
                    " AND created_at < "
                })
                .push_bind(t);
            }
            _ => {
                qb.push(format_args!(" AND {col} = ")).push_bind(v.clone());
            }
        }
    }
    Ok(())
}

async fn query(tx: &mut TenantTx, params: &ListParams) -> Result<(Vec<AuditEntry>, i64), AppError> {
    let mut qb = QueryBuilder::new("SELECT COUNT(*) FROM audit_logs");
    push_filters(&mut qb, params)?;
    let total = qb.build_query_scalar().fetch_one(&mut **tx).await?;
    let mut qb = QueryBuilder::new(
        "SELECT id, user_id, actor_name, action, entity_type, entity_id, changes, host(ip_address) AS ip_address, user_agent, created_at FROM audit_logs",
    );
    push_filters(&mut qb, params)?;
    qb.push(format_args!(" ORDER BY {}", params.order_by));
    qb.push(" LIMIT ")
        .push_bind(params.per_page)
        .push(" OFFSET ")
        .push_bind(params.offset());
    Ok((qb.build_query_as().fetch_all(&mut **tx).await?, total))
}

fn newest_first(mut q: HashMap<String, String>) -> HashMap<String, String> {
    q.entry("order".into()).or_insert_with(|| "desc".into());
    q
}

/// The tenant's audit trail, newest first.
#[utoipa::path(get, path = "/audit-logs", tag = "audit", operation_id = "listAuditLogs",
    params(ListQuery, ("actor" = Option<Uuid>, Query, description = "user id"), ("entity_type" = Option<String>, Query),
        ("entity_id" = Option<Uuid>, Query), ("action" = Option<String>, Query),
        ("since" = Option<String>, Query, description = "RFC 3339, inclusive"), ("until" = Option<String>, Query, description = "RFC 3339, exclusive")),
    responses((status = 200, body = Page<AuditEntry>)))]
pub async fn api_list(
    mut ctx: ApiCtx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    ctx.require(crate::admin::perm::AUDIT_READ)?;
    let params = listing::parse(&LIST_SPEC, &newest_first(q))?;
    let (rows, total) = query(&mut ctx.tx, &params).await?;
    ctx.commit().await?;
    Ok(Json(listing::page_body(rows, &params, total)))
}

/// The audit trail of one record.
#[utoipa::path(get, path = "/audit-logs/{entity_type}/{id}", tag = "audit", operation_id = "listEntityAuditLogs",
    params(("entity_type" = String, Path, description = "e.g. user, group, role"), ("id" = Uuid, Path), ListQuery),
    responses((status = 200, body = Page<AuditEntry>)))]
pub async fn api_entity(
    mut ctx: ApiCtx,
    Path((entity_type, id)): Path<(String, String)>,
    Query(mut q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    ctx.require(crate::admin::perm::AUDIT_READ)?;
    q.insert("entity_type".into(), entity_type);
    q.insert("entity_id".into(), parse_id(&id)?.to_string());
    let params = listing::parse(&LIST_SPEC, &newest_first(q))?;
    let (rows, total) = query(&mut ctx.tx, &params).await?;
    ctx.commit().await?;
    Ok(Json(listing::page_body(rows, &params, total)))
}

#[derive(Template)]
#[template(path = "admin/audit.html", blocks = ["content"])]
struct AuditPage {
    chrome: Chrome,
    rows: Vec<AuditEntry>,
    total: i64,
    page: i64,
    pages: i64,
    entity_type: String,
    action: String,
}

pub async fn web_list(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, WebError> {
    ctx.require(crate::admin::perm::AUDIT_READ)?;
    // Empty form fields mean "any".
    let q: HashMap<String, String> = q.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let params = listing::parse(&LIST_SPEC, &newest_first(q.clone()))?;
    let (rows, total) = query(&mut ctx.tx, &params).await?;
    ctx.tx.commit().await?;
    let pages = ((total + params.per_page - 1) / params.per_page).max(1);
    Ok(render_page!(
        hx,
        AuditPage {
            chrome: Chrome::new(&ctx.principal, &ctx.csrf, "audit", &ctx.manifest, ctx.now),
            rows,
            total,
            page: params.page,
            pages,
            entity_type: q.get("entity_type").cloned().unwrap_or_default(),
            action: q.get("action").cloned().unwrap_or_default(),
        }
    ))
}
