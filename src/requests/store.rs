//! SQL for service requests.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::QueryBuilder;
use uuid::Uuid;

use crate::platform::error::AppError;
use crate::platform::listing::{self, ListParams, ListSpec};
use crate::platform::tenancy::{Slug, TenantTx};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = ServiceRequest)]
pub struct Request {
    pub id: Uuid,
    /// `REQ-00001`.
    pub request_number: String,
    pub title: String,
    pub catalog_item_id: Option<Uuid>,
    /// The published form version it was submitted under (a bundle request: the bundle's).
    pub form_version: Option<i32>,
    /// Set on a bundle's parent request (its children each name their item).
    pub bundle_id: Option<Uuid>,
    /// The bundle request this one belongs to.
    pub parent_id: Option<Uuid>,
    pub requester_id: Option<Uuid>,
    pub requester_name: Option<String>,
    pub requested_for_id: Option<Uuid>,
    pub requested_for_name: Option<String>,
    pub assigned_to: Option<Uuid>,
    pub assigned_to_name: Option<String>,
    pub assigned_group: Option<Uuid>,
    pub assigned_group_name: Option<String>,
    /// new, pending_approval, approved, in_progress, completed, rejected or cancelled.
    pub status: String,
    pub priority: String,
    /// The answers, keyed by field id (hidden fields are never stored).
    #[schema(value_type = Object)]
    pub form_data: Value,
    /// pending, approved or rejected; none when no approval was needed.
    pub approval_status: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
    pub completion_notes: Option<String>,
    pub cancel_reason: Option<String>,
    /// The SLA policy its clocks follow (the catalog item's, else the matching request policy).
    pub sla_policy_id: Option<Uuid>,
    /// When the first response is due (none without a response target, or while paused).
    pub response_due_at: Option<DateTime<Utc>>,
    /// When it is due to be completed: its due date.
    pub resolution_due_at: Option<DateTime<Utc>>,
    /// The first response: an assignment to a person, a public comment from the service desk,
    /// work starting or the request closing.
    pub responded_at: Option<DateTime<Utc>>,
    pub sla_breached: bool,
    /// response, resolution or both.
    pub sla_breach_type: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// A bundle request's child requests, one per item.
    #[sqlx(skip)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Child>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = ServiceRequestChild)]
pub struct Child {
    pub id: Uuid,
    pub request_number: String,
    pub title: String,
    pub catalog_item_id: Option<Uuid>,
    pub status: String,
}

/// The child requests of a bundle request, in the bundle's order.
pub async fn children(tx: &mut TenantTx, parent: Uuid) -> Result<Vec<Child>, AppError> {
    Ok(sqlx::query_as(
        "SELECT id, request_number, title, catalog_item_id, COALESCE(status, 'new') AS status
         FROM service_requests WHERE parent_id = $1 ORDER BY request_number",
    )
    .bind(parent)
    .fetch_all(&mut **tx)
    .await?)
}

pub const SELECT: &str =
    "SELECT r.id, r.request_number, r.title, r.catalog_item_id, r.form_version, r.bundle_id, r.parent_id,
    r.requester_id, rq.name AS requester_name, r.requested_for_id, rf.name AS requested_for_name,
    r.assigned_to, at.name AS assigned_to_name, r.assigned_group, ag.name AS assigned_group_name,
    COALESCE(r.status, 'new') AS status, COALESCE(r.priority, 'medium') AS priority,
    COALESCE(r.form_data, '{}') AS form_data, r.approval_status, r.completed_at, r.completion_notes,
    r.cancel_reason, r.sla_policy_id, r.response_due_at, r.resolution_due_at, r.responded_at,
    r.sla_breached, r.sla_breach_type, r.created_at, r.updated_at
    FROM service_requests r
    LEFT JOIN users rq ON rq.id = r.requester_id
    LEFT JOIN users rf ON rf.id = r.requested_for_id
    LEFT JOIN users at ON at.id = r.assigned_to
    LEFT JOIN groups ag ON ag.id = r.assigned_group";

/// Whose requests a caller may see: everyone's (`requests:read`), or their own — raised by
/// them, for them, or waiting on their approval.
#[derive(Clone, Copy, Debug)]
pub enum Scope {
    All,
    Own(Uuid),
}

fn push_scope(qb: &mut QueryBuilder<'_, sqlx::Postgres>, scope: Scope) {
    if let Scope::Own(user) = scope {
        qb.push(" AND (r.requester_id = ")
            .push_bind(user)
            .push(" OR r.requested_for_id = ")
            .push_bind(user)
            .push(
                " OR EXISTS (SELECT 1 FROM approvals ap WHERE ap.entity_type = 'request'
                   AND ap.entity_id = r.id AND ap.approver_id = ",
            )
            .push_bind(user)
            .push("))");
    }
}

pub const LIST_SPEC: ListSpec = ListSpec {
    sorts: &[
        ("created_at", "r.created_at"),
        ("updated_at", "r.updated_at"),
        ("request_number", "r.request_number"),
        ("status", "r.status"),
        ("priority", "r.priority"),
    ],
    default_sort: "created_at",
    filters: &[
        ("status", "r.status"),
        ("priority", "r.priority"),
        ("catalog_item_id", "r.catalog_item_id"),
        ("requester_id", "r.requester_id"),
        ("requested_for_id", "r.requested_for_id"),
        ("assigned_to", "r.assigned_to"),
        ("assigned_group", "r.assigned_group"),
        ("parent_id", "r.parent_id"),
        ("bundle_id", "r.bundle_id"),
    ],
    fields: &[
        "id",
        "request_number",
        "title",
        "catalog_item_id",
        "form_version",
        "bundle_id",
        "parent_id",
        "requester_id",
        "requester_name",
        "requested_for_id",
        "requested_for_name",
        "assigned_to",
        "assigned_to_name",
        "assigned_group",
        "assigned_group_name",
        "status",
        "priority",
        "form_data",
        "approval_status",
        "completed_at",
        "completion_notes",
        "cancel_reason",
        "created_at",
        "updated_at",
    ],
    includes: &[],
};

fn push_filters(
    qb: &mut QueryBuilder<'_, sqlx::Postgres>,
    params: &ListParams,
    scope: Scope,
) -> Result<(), AppError> {
    qb.push(" WHERE true");
    push_scope(qb, scope);
    for (col, value) in &params.filters {
        // assigned_to / assigned_group hold ids too.
        if *col == "r.status" && value.contains(',') {
            // Several statuses: `status=new,pending_approval` (the open tab asks for four).
            let list: Vec<String> = value.split(',').map(|v| v.trim().to_string()).collect();
            qb.push(" AND r.status = ANY(").push_bind(list).push(")");
        } else if col.starts_with("r.assigned") {
            let id: Uuid = value
                .parse()
                .map_err(|_| AppError::BadRequest(format!("'{}' must be a UUID", &col[2..])))?;
            qb.push(format_args!(" AND {col} = ")).push_bind(id);
        } else {
            listing::push_equals(qb, col, value)?;
        }
    }
    if let Some(q) = &params.q {
        let like = listing::contains_pattern(q);
        qb.push(" AND (r.title ILIKE ")
            .push_bind(like.clone())
            .push(" OR r.request_number ILIKE ")
            .push_bind(like)
            .push(")");
    }
    Ok(())
}

pub async fn list(
    tx: &mut TenantTx,
    params: &ListParams,
    scope: Scope,
) -> Result<(Vec<Request>, i64), AppError> {
    let mut qb = QueryBuilder::new("SELECT COUNT(*) FROM service_requests r");
    push_filters(&mut qb, params, scope)?;
    let total = qb.build_query_scalar().fetch_one(&mut **tx).await?;
    let mut qb = QueryBuilder::new(SELECT);
    push_filters(&mut qb, params, scope)?;
    qb.push(format_args!(" ORDER BY {}", params.order_by));
    qb.push(" LIMIT ")
        .push_bind(params.per_page)
        .push(" OFFSET ")
        .push_bind(params.offset());
    Ok((qb.build_query_as().fetch_all(&mut **tx).await?, total))
}

pub async fn get(tx: &mut TenantTx, id: Uuid, scope: Scope) -> Result<Request, AppError> {
    let mut qb = QueryBuilder::new(SELECT);
    qb.push(" WHERE r.id = ").push_bind(id);
    push_scope(&mut qb, scope);
    let mut r: Request = qb
        .build_query_as()
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)?;
    if r.bundle_id.is_some() {
        r.children = children(tx, r.id).await?;
    }
    Ok(r)
}

/// Locks the row for a status change.
pub async fn lock(tx: &mut TenantTx, id: Uuid) -> Result<(), AppError> {
    sqlx::query_scalar::<_, Uuid>("SELECT id FROM service_requests WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|_| ())
        .ok_or(AppError::NotFound)
}

pub struct NewRequest<'a> {
    pub title: &'a str,
    pub item: Option<Uuid>,
    pub version: Option<i32>,
    pub bundle: Option<Uuid>,
    pub parent: Option<Uuid>,
    pub requester: Uuid,
    pub requested_for: Uuid,
    pub group: Option<Uuid>,
    pub priority: &'a str,
    pub form_data: &'a Value,
    pub status: &'a str,
    pub approval_status: Option<&'a str>,
    pub sla_policy: Option<Uuid>,
    /// When it was raised (the clock's now: SLA clocks start here).
    pub at: DateTime<Utc>,
}

pub async fn create(tx: &mut TenantTx, r: &NewRequest<'_>) -> Result<Uuid, AppError> {
    Ok(sqlx::query_scalar(
        "WITH r AS (
            INSERT INTO service_requests (request_number, title, catalog_item_id, form_version, requester_id,
                requested_for_id, assigned_group, priority, form_data, status, approval_status, sla_policy_id,
                bundle_id, parent_id, created_at, updated_at)
            VALUES (next_id('request'), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)
            RETURNING id, status),
         h AS (INSERT INTO request_status_history (request_id, to_status, changed_by, created_at)
            SELECT id, status, $4, $14 FROM r)
         SELECT id FROM r",
    )
    .bind(r.title)
    .bind(r.item)
    .bind(r.version)
    .bind(r.requester)
    .bind(r.requested_for)
    .bind(r.group)
    .bind(r.priority)
    .bind(r.form_data)
    .bind(r.status)
    .bind(r.approval_status)
    .bind(r.sla_policy)
    .bind(r.bundle)
    .bind(r.parent)
    .bind(r.at)
    .fetch_one(&mut **tx)
    .await?)
}

/// A status change with its history row, in one statement, at `now`; then the SLA clocks
/// follow. Work starting or the request closing is its first response, if nothing was before.
pub async fn set_status(
    tx: &mut TenantTx,
    tenant: &Slug,
    id: Uuid,
    to: &str,
    by: Option<Uuid>,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    sqlx::query(
        "WITH old AS (SELECT status FROM service_requests WHERE id = $1),
         u AS (UPDATE service_requests SET status = $2, updated_at = $5,
                completed_at = CASE WHEN $2 = 'completed' THEN $5 WHEN $2 = 'in_progress' THEN NULL ELSE completed_at END,
                responded_at = CASE WHEN $2 IN ('in_progress', 'completed', 'rejected', 'cancelled')
                    THEN COALESCE(responded_at, $5) ELSE responded_at END
             WHERE id = $1)
         INSERT INTO request_status_history (request_id, from_status, to_status, changed_by, reason, created_at)
         SELECT $1, old.status, $2, $3, $4, $5 FROM old WHERE old.status IS DISTINCT FROM $2",
    )
    .bind(id)
    .bind(to)
    .bind(by)
    .bind(reason)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    clocks_moved(tx, tenant, id, now).await
}

/// Recomputes the request's SLA due times and moves its timers (after anything that can move
/// a clock: raising it, a status change, its first response).
pub async fn clocks_moved(
    tx: &mut TenantTx,
    tenant: &Slug,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    use crate::sla::timers::{Clocked, Refresh, refresh};
    refresh(tx, tenant, Clocked::Request(id), now, Refresh::default()).await
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = RequestHistoryEntry)]
pub struct HistoryEntry {
    pub from_status: Option<String>,
    pub to_status: String,
    pub changed_by_name: Option<String>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn history(tx: &mut TenantTx, id: Uuid) -> Result<Vec<HistoryEntry>, AppError> {
    Ok(sqlx::query_as(
        "SELECT h.from_status, h.to_status, u.name AS changed_by_name, h.reason, h.created_at
         FROM request_status_history h LEFT JOIN users u ON u.id = h.changed_by
         WHERE h.request_id = $1 ORDER BY h.created_at, h.id",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = RequestComment)]
pub struct Comment {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub user_name: Option<String>,
    pub content: String,
    /// Seen only by the service desk.
    pub is_internal: bool,
    pub created_at: DateTime<Utc>,
}

pub async fn comments(
    tx: &mut TenantTx,
    id: Uuid,
    internal_too: bool,
) -> Result<Vec<Comment>, AppError> {
    Ok(sqlx::query_as(
        "SELECT c.id, c.user_id, u.name AS user_name, c.content, c.is_internal, c.created_at
         FROM request_comments c LEFT JOIN users u ON u.id = c.user_id
         WHERE c.request_id = $1 AND ($2 OR NOT c.is_internal) ORDER BY c.created_at, c.id",
    )
    .bind(id)
    .bind(internal_too)
    .fetch_all(&mut **tx)
    .await?)
}
