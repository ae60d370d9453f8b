//! What the home page reads: one statement per part, each within the viewer's visibility.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::platform::error::AppError;
use crate::platform::tenancy::TenantTx;

/// An issue in one of the agent's lists.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkItem {
    pub list: String,
    /// How many the list holds in all (it shows the first ten).
    pub total: i64,
    pub id: Uuid,
    pub issue_number: String,
    pub title: String,
    pub status: String,
    pub priority: String,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub sla_breached: bool,
    pub assignee: Option<String>,
    pub group_name: Option<String>,
}

/// The agent's three lists: assigned to them (soonest due first), breaching within four hours
/// (theirs and their groups'), and waiting unassigned in their groups (most urgent first).
pub async fn work(
    tx: &mut TenantTx,
    me: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<WorkItem>, AppError> {
    let cols = "i.id, i.issue_number, i.title, i.status, i.priority, i.resolution_due_at,
                COALESCE(i.sla_breached, false) AS sla_breached,
                (SELECT u.name FROM users u WHERE u.id = i.assigned_to) AS assignee,
                (SELECT g.name FROM groups g WHERE g.id = i.assigned_group) AS group_name";
    let open = "i.deleted_at IS NULL AND i.status NOT IN ('resolved', 'closed')";
    let sql = format!(
        "WITH mine AS (SELECT group_id FROM group_members WHERE user_id = $1)
         (SELECT 'assigned' AS list, count(*) OVER () AS total, {cols} FROM issues i
          WHERE {open} AND i.assigned_to = $1
          ORDER BY i.resolution_due_at ASC NULLS LAST, i.priority_rank, i.created_at LIMIT 10)
         UNION ALL
         (SELECT 'soon', count(*) OVER (), {cols} FROM issues i
          WHERE {open} AND NOT COALESCE(i.sla_breached, false) AND i.status <> 'pending'
            AND i.resolution_due_at BETWEEN $2 AND $2 + interval '4 hours'
            AND (i.assigned_to = $1 OR i.assigned_group IN (SELECT group_id FROM mine))
          ORDER BY i.resolution_due_at LIMIT 10)
         UNION ALL
         (SELECT 'unassigned', count(*) OVER (), {cols} FROM issues i
          WHERE {open} AND i.assigned_to IS NULL AND i.assigned_group IN (SELECT group_id FROM mine)
          ORDER BY i.priority_rank, i.created_at LIMIT 10)"
    );
    Ok(sqlx::query_as(&sql)
        .bind(me)
        .bind(now)
        .fetch_all(&mut **tx)
        .await?)
}

/// Resolved issues with an SLA, per day (in the viewer's zone) over the last 30 days. Late is
/// late whether or not a breach timer fired before the resolution.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SlaDay {
    pub day: NaiveDate,
    pub met: i64,
    pub breached: i64,
}

pub async fn sla_days(
    tx: &mut TenantTx,
    now: DateTime<Utc>,
    zone: &str,
) -> Result<Vec<SlaDay>, AppError> {
    Ok(sqlx::query_as(
        "SELECT (i.resolved_at AT TIME ZONE $2)::date AS day,
                count(*) FILTER (WHERE NOT (COALESCE(i.sla_breached, false) OR i.resolved_at > i.resolution_due_at)) AS met,
                count(*) FILTER (WHERE COALESCE(i.sla_breached, false) OR i.resolved_at > i.resolution_due_at) AS breached
         FROM issues i
         WHERE i.deleted_at IS NULL AND i.resolved_at >= $1 - interval '30 days'
           AND i.resolution_due_at IS NOT NULL
         GROUP BY 1 ORDER BY 1",
    )
    .bind(now)
    .bind(zone)
    .fetch_all(&mut **tx)
    .await?)
}

/// Open issues by age, and issues raised in the last 30 days by group.
#[derive(Debug, Clone, Default)]
pub struct Desk {
    /// (label, count), youngest first.
    pub backlog: Vec<(&'static str, i64)>,
    /// (group, count), busiest first.
    pub volume: Vec<(String, i64)>,
}

pub async fn desk(tx: &mut TenantTx, now: DateTime<Utc>) -> Result<Desk, AppError> {
    let rows: Vec<(String, Option<String>, i64)> = sqlx::query_as(
        "WITH open AS (
            SELECT $1 - i.created_at AS age FROM issues i
            WHERE i.deleted_at IS NULL AND i.status NOT IN ('resolved', 'closed'))
         SELECT 'backlog', b.label, (SELECT count(*) FROM open WHERE age >= b.lo AND age < b.hi)
         FROM (VALUES ('Under a day', interval '0', interval '1 day'),
                      ('1–3 days', interval '1 day', interval '3 days'),
                      ('3–7 days', interval '3 days', interval '7 days'),
                      ('1–4 weeks', interval '7 days', interval '28 days'),
                      ('Over 4 weeks', interval '28 days', interval '100 years')) b(label, lo, hi)
         UNION ALL
         (SELECT 'volume', COALESCE(g.name, 'No group'), count(*)
          FROM issues i LEFT JOIN groups g ON g.id = i.assigned_group
          WHERE i.deleted_at IS NULL AND i.created_at >= $1 - interval '30 days'
          GROUP BY g.name ORDER BY count(*) DESC, g.name LIMIT 8)",
    )
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    let mut desk = Desk::default();
    const AGES: &[&str] = &[
        "Under a day",
        "1–3 days",
        "3–7 days",
        "1–4 weeks",
        "Over 4 weeks",
    ];
    let mut ages = std::collections::HashMap::new();
    for (part, label, n) in rows {
        let label = label.unwrap_or_default();
        match part.as_str() {
            "backlog" => {
                ages.insert(label, n);
            }
            _ => desk.volume.push((label, n)),
        }
    }
    desk.backlog = AGES
        .iter()
        .map(|l| (*l, ages.get(*l).copied().unwrap_or(0)))
        .collect();
    Ok(desk)
}

/// The setup steps a new tenant's admin goes through, each ticked by what exists.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Setup {
    pub users: bool,
    pub groups: bool,
    pub hours: bool,
    pub email: bool,
    pub integrations: bool,
}

pub async fn setup(tx: &mut TenantTx) -> Result<Setup, AppError> {
    Ok(sqlx::query_as(
        "SELECT (SELECT count(*) FROM users WHERE status = 'active') > 1 AS users,
                EXISTS (SELECT 1 FROM group_members) AS groups,
                EXISTS (SELECT 1 FROM audit_logs WHERE entity_type = 'business_hours') AS hours,
                EXISTS (SELECT 1 FROM integrations WHERE type = 'email'
                        AND COALESCE(status, 'active') = 'active') AS email,
                EXISTS (SELECT 1 FROM integrations WHERE type <> 'email')
                    OR EXISTS (SELECT 1 FROM webhooks) AS integrations",
    )
    .fetch_one(&mut **tx)
    .await?)
}
