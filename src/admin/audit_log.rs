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
use crate::platform::module::Manifest;
use crate::platform::openapi::{ListQuery, Page};
use crate::platform::tenancy::TenantTx;
use crate::platform::web::{Chrome, Hx, label};
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

/// One audit row as the page shows it: labels, the record named and linked, each changed
/// field as "Label: old → new".
struct Row {
    e: AuditEntry,
    action: String,
    kind: String,
    name: Option<String>,
    href: Option<String>,
    changes: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "admin/audit.html", blocks = ["content"])]
struct AuditPage {
    chrome: Chrome,
    rows: Vec<Row>,
    total: i64,
    page: i64,
    pages: i64,
    /// The filters as chosen, and what each dropdown offers.
    entity_type: String,
    action: String,
    actor: String,
    entity_types: Vec<(String, String)>,
    actions: Vec<(String, String)>,
    actors: Vec<(String, String)>,
    /// The query string of the filters, for the page links.
    query: String,
}

/// A changed value in words: a stored code as its label (`in_progress` → "In progress"),
/// other text as it is (cut at 120 characters), nothing as "none".
fn shown(v: &Value) -> String {
    let code = |s: &str| {
        s.len() <= 30
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let text = match v {
        Value::Null => return "none".into(),
        Value::String(s) if code(s) => return label(s),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > 120 {
        format!("{}…", text.chars().take(120).collect::<String>())
    } else {
        text
    }
}

/// Field by field. A record made (or removed) lists what it was made with (or had), without
/// "none →" on every line; its id and creation time are the row's own.
fn changes_of(changes: &Option<Value>) -> Vec<(String, String, String)> {
    let Some(Value::Object(map)) = changes else {
        return Vec::new();
    };
    let side = |c: &Value, k: &str| c.get(k).cloned().unwrap_or(Value::Null);
    let made = map.values().all(|c| side(c, "old").is_null());
    let removed = map.values().all(|c| side(c, "new").is_null());
    map.iter()
        .filter(|(field, _)| !((made || removed) && matches!(field.as_str(), "id" | "created_at")))
        .map(|(field, c)| {
            let (old, new) = (side(c, "old"), side(c, "new"));
            match (made, removed) {
                (true, _) => (label(field), String::new(), shown(&new)),
                (_, true) => (label(field), String::new(), shown(&old)),
                _ => (label(field), shown(&old), shown(&new)),
            }
        })
        .collect()
}

/// Names and pages of the rows' records, one query per kind, through the modules' entities.
async fn named(
    tx: &mut TenantTx,
    manifest: &Manifest,
    rows: Vec<AuditEntry>,
) -> Result<Vec<Row>, AppError> {
    let mut names: HashMap<(String, Uuid), String> = HashMap::new();
    for def in manifest.entities() {
        let ids: Vec<Uuid> = rows
            .iter()
            .filter(|r| r.entity_type == def.entity_type)
            .map(|r| r.entity_id)
            .collect();
        if ids.is_empty() {
            continue;
        }
        let found: Vec<(Uuid, String)> = sqlx::query_as(def.names)
            .bind(&ids)
            .fetch_all(&mut **tx)
            .await?;
        for (id, name) in found {
            names.insert((def.entity_type.to_string(), id), name);
        }
    }
    Ok(rows
        .into_iter()
        .map(|e| {
            let def = manifest.entities().find(|d| d.entity_type == e.entity_type);
            let name = names.get(&(e.entity_type.clone(), e.entity_id)).cloned();
            // A deleted record keeps its row but has no page to go to.
            let href = def
                .filter(|d| !d.page.is_empty() && name.is_some())
                .map(|d| d.page.replace("{id}", &e.entity_id.to_string()));
            Row {
                action: label(&e.action),
                kind: def.map_or_else(|| label(&e.entity_type), |d| d.label.to_string()),
                name,
                href,
                changes: changes_of(&e.changes),
                e,
            }
        })
        .collect())
}

/// What the filter dropdowns offer: the kinds, actions and people that occur in the log.
async fn choices(
    tx: &mut TenantTx,
    manifest: &Manifest,
) -> Result<
    (
        Vec<(String, String)>,
        Vec<(String, String)>,
        Vec<(String, String)>,
    ),
    AppError,
> {
    let kinds: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT entity_type FROM audit_logs ORDER BY 1")
            .fetch_all(&mut **tx)
            .await?;
    let kinds = kinds
        .into_iter()
        .map(|k| {
            let l = manifest
                .entities()
                .find(|d| d.entity_type == k)
                .map_or_else(|| label(&k), |d| d.label.to_string());
            (k, l)
        })
        .collect();
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT action FROM audit_logs ORDER BY 1")
            .fetch_all(&mut **tx)
            .await?;
    let actions = actions
        .into_iter()
        .map(|a| (a.clone(), label(&a)))
        .collect();
    let actors: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT u.id, u.name::text FROM users u
         WHERE EXISTS (SELECT 1 FROM audit_logs l WHERE l.user_id = u.id) ORDER BY u.name",
    )
    .fetch_all(&mut **tx)
    .await?;
    let actors = actors
        .into_iter()
        .map(|(id, n)| (id.to_string(), n))
        .collect();
    Ok((kinds, actions, actors))
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
    let rows = named(&mut ctx.tx, &ctx.manifest, rows).await?;
    let (entity_types, actions, actors) = choices(&mut ctx.tx, &ctx.manifest).await?;
    ctx.tx.commit().await?;
    let pages = ((total + params.per_page - 1) / params.per_page).max(1);
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let query = serde_urlencoded::to_string(
        ["entity_type", "action", "actor"]
            .iter()
            .filter_map(|k| q.get(*k).map(|v| (*k, v.as_str())))
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default();
    Ok(render_page!(
        hx,
        AuditPage {
            chrome: Chrome::new(&ctx.principal, &ctx.csrf, "audit", &ctx.manifest, ctx.now),
            rows,
            total,
            page: params.page,
            pages,
            entity_type: get("entity_type"),
            action: get("action"),
            actor: get("actor"),
            entity_types,
            actions,
            actors,
            query,
        }
    ))
}
