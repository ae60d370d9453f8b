//! Issue rows: the shape the API returns and who may see which (in the WHERE clause). The queue
//! query (filters, sorts, keyset paging) is in `queue`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::platform::auth::Principal;
use crate::platform::error::AppError;
use crate::platform::tenancy::TenantTx;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Issue {
    pub id: Uuid,
    /// `ISS-00001`.
    pub issue_number: String,
    pub title: String,
    /// Markdown.
    pub description: Option<String>,
    /// new, assigned, in_progress, pending, resolved or closed.
    pub status: String,
    /// critical, high, medium or low.
    pub priority: String,
    /// True when set by hand; false when derived from impact × urgency.
    pub priority_explicit: bool,
    pub severity: Option<String>,
    pub impact: Option<String>,
    pub urgency: Option<String>,
    pub category_id: Option<Uuid>,
    pub category_name: Option<String>,
    pub issue_type: String,
    pub source: Option<String>,
    pub application_id: Option<Uuid>,
    pub application_name: Option<String>,
    pub environment_id: Option<Uuid>,
    pub environment_name: Option<String>,
    pub reporter_id: Option<Uuid>,
    pub reporter_name: Option<String>,
    pub assigned_to: Option<Uuid>,
    pub assigned_to_name: Option<String>,
    pub assigned_group: Option<Uuid>,
    pub assigned_group_name: Option<String>,
    pub escalation_level: i32,
    pub escalated_at: Option<DateTime<Utc>>,
    pub sla_policy_id: Option<Uuid>,
    pub response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub sla_breached: bool,
    /// response, resolution or both.
    pub sla_breach_type: Option<String>,
    pub resolution_code: Option<String>,
    pub resolution_notes: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<Uuid>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<Uuid>,
    pub parent_issue_id: Option<Uuid>,
    /// `[{"type","id","url"}]` references in other systems.
    #[schema(value_type = Vec<Object>)]
    pub external_refs: Value,
    /// Wall-clock minutes from creation to the first response.
    pub time_to_first_response: Option<i32>,
    /// Wall-clock minutes from creation to resolution.
    pub time_to_resolution: Option<i32>,
    /// The same in business minutes of the SLA's schedule.
    pub business_time_to_first_response: Option<i32>,
    pub business_time_to_resolution: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Names come from scalar subqueries, not joins: with six joins the planner spent more time
/// choosing a join order (per call, at bind) than the query took to run.
pub const SELECT: &str = "SELECT i.id, i.issue_number, i.title, i.description, i.status, i.priority,
    i.priority_explicit, i.severity, i.impact, i.urgency, i.category_id,
    (SELECT c.name FROM issue_categories c WHERE c.id = i.category_id) AS category_name,
    COALESCE(i.issue_type, 'issue') AS issue_type, i.source, i.application_id,
    (SELECT a.name FROM applications a WHERE a.id = i.application_id) AS application_name,
    i.environment_id, (SELECT e.name FROM environments e WHERE e.id = i.environment_id) AS environment_name,
    i.reporter_id, (SELECT r.name FROM users r WHERE r.id = i.reporter_id) AS reporter_name,
    i.assigned_to, (SELECT u.name FROM users u WHERE u.id = i.assigned_to) AS assigned_to_name,
    i.assigned_group, (SELECT g.name FROM groups g WHERE g.id = i.assigned_group) AS assigned_group_name,
    i.escalation_level, i.escalated_at, i.sla_policy_id, i.response_due_at, i.resolution_due_at,
    i.first_response_at, i.sla_breached, i.sla_breach_type, i.resolution_code, i.resolution_notes,
    i.resolved_at, i.resolved_by, i.closed_at, i.closed_by, i.parent_issue_id,
    COALESCE(i.external_refs, '[]') AS external_refs, i.time_to_first_response, i.time_to_resolution,
    i.business_time_to_first_response, i.business_time_to_resolution, i.created_at, i.updated_at
    FROM issues i";

/// Which issues a person may see — applied in every query's WHERE clause.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Managers and admins (`issues:read_all`).
    All,
    /// Agents (`issues:update`): their groups' queues, unassigned issues, their own.
    Agent { me: Uuid, groups: Vec<Uuid> },
    /// Requesters: issues they reported.
    Own { me: Uuid },
}

impl Scope {
    pub async fn of(tx: &mut TenantTx, p: &Principal) -> Result<Scope, AppError> {
        if p.can(crate::issues::perm::ISSUES_READ_ALL) {
            return Ok(Scope::All);
        }
        if p.can(crate::issues::perm::ISSUES_UPDATE) {
            let groups =
                sqlx::query_scalar("SELECT group_id FROM group_members WHERE user_id = $1")
                    .bind(p.user_id)
                    .fetch_all(&mut **tx)
                    .await?;
            return Ok(Scope::Agent {
                me: p.user_id,
                groups,
            });
        }
        Ok(Scope::Own { me: p.user_id })
    }

    /// ` AND (visibility)` for the alias `i`.
    pub fn push(&self, qb: &mut QueryBuilder<'_, Postgres>) {
        match self {
            Scope::All => {}
            Scope::Agent { me, groups } => {
                qb.push(" AND (i.assigned_group IS NULL OR i.assigned_group = ANY(")
                    .push_bind(groups.clone())
                    .push(") OR i.assigned_to = ")
                    .push_bind(*me)
                    .push(" OR i.reporter_id = ")
                    .push_bind(*me)
                    .push(")");
            }
            Scope::Own { me } => {
                qb.push(" AND i.reporter_id = ").push_bind(*me);
            }
        }
    }

    /// Whether internal comments and worklogs are shown.
    pub fn sees_internal(&self) -> bool {
        !matches!(self, Scope::Own { .. })
    }
}

/// One visible issue, else 404 (hidden and missing look the same).
pub async fn get(tx: &mut TenantTx, scope: &Scope, id: Uuid) -> Result<Issue, AppError> {
    let mut qb = QueryBuilder::new(SELECT);
    qb.push(" WHERE i.deleted_at IS NULL AND i.id = ")
        .push_bind(id);
    scope.push(&mut qb);
    qb.build_query_as()
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)
}

/// `ISS-42`, `iss-00042` or `42` → `ISS-00042`.
pub fn normalize_number(q: &str) -> Option<String> {
    let q = q.trim();
    let digits = match q.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("iss-") => &q[4..],
        _ => q,
    };
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(format!("ISS-{n:05}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_normalise() {
        assert_eq!(normalize_number("ISS-42").as_deref(), Some("ISS-00042"));
        assert_eq!(normalize_number("iss-00042").as_deref(), Some("ISS-00042"));
        assert_eq!(normalize_number("123456").as_deref(), Some("ISS-123456"));
        assert_eq!(normalize_number("printer"), None);
        assert_eq!(normalize_number("ISS-"), None);
    }
}
