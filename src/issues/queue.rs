//! The issue queue's query: its filters and sorts over the issue rows of `store`, within the
//! viewer's `Scope`; paging, cursors and the capped count are `platform::queue`'s.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::store::{Issue, SELECT, Scope, normalize_number};
use crate::platform::error::AppError;
use crate::platform::listing::contains_pattern;
use crate::platform::queue::{self, Common, KeyType, Paging, Rows, SortKey, Source, uuid_param};
use crate::platform::tenancy::TenantTx;

/// The queue's sort orders. Each is a key of columns ending in `id`, so keyset paging is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Created,
    Updated,
    /// Most urgent first; within a priority, the longest waiting first.
    Priority,
    /// Soonest resolution due first; paused/no SLA last.
    Due,
}

pub const SORTS: &[(&str, Sort)] = &[
    ("created_at", Sort::Created),
    ("updated_at", Sort::Updated),
    ("priority", Sort::Priority),
    ("resolution_due_at", Sort::Due),
];

impl Sort {
    /// The key's SQL expressions (see `SortKey`).
    fn key(self) -> SortKey {
        let (keys, ascending): (&'static [_], bool) = match self {
            Sort::Created => (
                &[("i.created_at", KeyType::Time), ("i.id", KeyType::Id)],
                false,
            ),
            Sort::Updated => (
                &[("i.updated_at", KeyType::Time), ("i.id", KeyType::Id)],
                false,
            ),
            Sort::Priority => (
                &[
                    ("i.priority_rank", KeyType::Rank),
                    ("i.created_at", KeyType::Time),
                    ("i.id", KeyType::Id),
                ],
                true,
            ),
            Sort::Due => (
                &[
                    (
                        "COALESCE(i.resolution_due_at, 'infinity'::timestamptz)",
                        KeyType::Time,
                    ),
                    ("i.id", KeyType::Id),
                ],
                true,
            ),
        };
        SortKey { keys, ascending }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// `open` (default for queues), `all`, or a comma list of statuses.
    pub status: Option<String>,
    pub priority: Vec<String>,
    /// A group id or `none`.
    pub assigned_group: Option<String>,
    /// A user id, `me` or `none`.
    pub assigned_to: Option<String>,
    pub application_id: Option<Uuid>,
    pub category_id: Option<Uuid>,
    pub reporter_id: Option<Uuid>,
    /// `breached`, `breaching_soon` (due within 2 h) or `ok`.
    pub sla: Option<String>,
    /// Only issues in the viewer's groups.
    pub my_groups: bool,
    pub q: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Query {
    pub filters: Filters,
    pub sort: Sort,
    pub paging: Paging,
}

pub const FILTER_NAMES: &[&str] = &[
    "status",
    "priority",
    "assigned_group",
    "assigned_to",
    "application_id",
    "category_id",
    "reporter_id",
    "sla",
    "mine",
    "q",
];

impl Query {
    /// The API's reading: as `parse`, but an id filter given empty (`application_id=`) is a
    /// malformed id, not "any" — the queue's form sends empty selects for "any", a client that
    /// sends one means something it did not get.
    pub fn parse_strict(
        q: &HashMap<String, String>,
        default_status: &str,
    ) -> Result<Query, AppError> {
        for name in [
            "assigned_group",
            "assigned_to",
            "application_id",
            "category_id",
            "reporter_id",
        ] {
            if q.get(name).is_some_and(|v| v.trim().is_empty()) {
                return Err(AppError::BadRequest(format!("'{name}' must be an id")));
            }
        }
        Query::parse(q, default_status)
    }

    /// Parses list parameters; unknown names and malformed values → 400 naming them.
    pub fn parse(q: &HashMap<String, String>, default_status: &str) -> Result<Query, AppError> {
        queue::known_names(q, FILTER_NAMES)?;
        let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let c = Common::parse(
            q,
            default_status,
            domain::issues::STATUSES,
            domain::issues::PRIORITIES,
        )?;
        let id = |name: &str| get(name).map(|v| uuid_param(name, v)).transpose();
        let f = Filters {
            status: c.status,
            priority: c.priority,
            assigned_group: c.assigned_group,
            assigned_to: c.assigned_to,
            application_id: id("application_id")?,
            category_id: id("category_id")?,
            reporter_id: id("reporter_id")?,
            sla: c.sla,
            my_groups: c.my_groups,
            q: c.q,
        };
        let sort = queue::sort_of(q, SORTS)?;
        let natural_desc = matches!(sort, Sort::Created | Sort::Updated | Sort::Priority);
        let paging = Paging::parse(q, sort.key(), natural_desc)?;
        Ok(Query {
            filters: f,
            sort,
            paging,
        })
    }
}

/// The cursor parts of `issue` in `sort`.
fn key_of(sort: Sort, issue: &Issue) -> Vec<String> {
    sort.key()
        .keys
        .iter()
        .map(|(expr, _)| match *expr {
            "i.created_at" => issue.created_at.to_rfc3339(),
            "i.updated_at" => issue.updated_at.to_rfc3339(),
            "i.priority_rank" => rank(&issue.priority).to_string(),
            "i.id" => issue.id.to_string(),
            _ => issue
                .resolution_due_at
                .map_or("infinity".to_string(), |d| d.to_rfc3339()),
        })
        .collect()
}

pub fn rank(priority: &str) -> i16 {
    match priority {
        "critical" => 1,
        "high" => 2,
        "medium" => 3,
        _ => 4,
    }
}

/// The viewer's groups, when the query asks for "My groups" only. Bound as a literal list (not a
/// subquery) so the planner can estimate it and walk the queue's index.
async fn my_groups(
    tx: &mut TenantTx,
    scope: &Scope,
    f: &Filters,
    me: Uuid,
) -> Result<Option<Vec<Uuid>>, AppError> {
    if !f.my_groups {
        return Ok(None);
    }
    if let Scope::Agent { groups, .. } = scope {
        return Ok(Some(groups.clone()));
    }
    let groups = sqlx::query_scalar("SELECT group_id FROM group_members WHERE user_id = $1")
        .bind(me)
        .fetch_all(&mut **tx)
        .await?;
    Ok(Some(groups))
}

fn push_filters(
    qb: &mut QueryBuilder<'_, Postgres>,
    scope: &Scope,
    f: &Filters,
    (me, my_groups): (Uuid, Option<&Vec<Uuid>>),
    now: DateTime<Utc>,
) {
    qb.push(" WHERE i.deleted_at IS NULL");
    // An agent's own groups are a subset of what they may see: their visibility clause (an OR
    // the planner misestimates, choosing a bitmap scan and a sort) adds nothing then.
    if !(my_groups.is_some() && matches!(scope, Scope::Agent { .. })) {
        scope.push(qb);
    }
    match f.status.as_deref() {
        None | Some("all") => {}
        Some("open") => {
            qb.push(" AND i.status NOT IN ('resolved', 'closed')");
        }
        Some(list) => {
            let list: Vec<String> = list.split(',').map(|s| s.trim().to_string()).collect();
            qb.push(" AND i.status = ANY(").push_bind(list).push(")");
        }
    }
    if !f.priority.is_empty() {
        // By the generated rank: it leads the priority index, and its statistics are exact.
        let ranks: Vec<i16> = f.priority.iter().map(|p| rank(p)).collect();
        qb.push(" AND i.priority_rank = ANY(")
            .push_bind(ranks)
            .push(")");
    }
    match f.assigned_group.as_deref() {
        None => {}
        Some("none") => {
            qb.push(" AND i.assigned_group IS NULL");
        }
        Some(g) => {
            qb.push(" AND i.assigned_group = ")
                .push_bind(g.parse::<Uuid>().ok());
        }
    }
    match f.assigned_to.as_deref() {
        None => {}
        Some("none") => {
            qb.push(" AND i.assigned_to IS NULL");
        }
        Some("me") => {
            qb.push(" AND i.assigned_to = ").push_bind(me);
        }
        Some(u) => {
            qb.push(" AND i.assigned_to = ")
                .push_bind(u.parse::<Uuid>().ok());
        }
    }
    if let Some(groups) = my_groups {
        // One group (the usual agent) as `=`, so the per-group index yields the queue's order.
        match groups.as_slice() {
            [one] => qb.push(" AND i.assigned_group = ").push_bind(*one),
            _ => qb
                .push(" AND i.assigned_group = ANY(")
                .push_bind(groups.clone())
                .push(")"),
        };
    }
    for (col, v) in [
        ("i.application_id", f.application_id),
        ("i.category_id", f.category_id),
        ("i.reporter_id", f.reporter_id),
    ] {
        if let Some(v) = v {
            qb.push(format!(" AND {col} = ")).push_bind(v);
        }
    }
    match f.sla.as_deref() {
        Some("breached") => {
            qb.push(" AND i.sla_breached");
        }
        Some("breaching_soon") => {
            qb.push(" AND NOT i.sla_breached AND i.status NOT IN ('resolved', 'closed') AND (i.resolution_due_at < ")
                .push_bind(now + chrono::Duration::hours(2))
                .push(" OR (i.first_response_at IS NULL AND i.response_due_at < ")
                .push_bind(now + chrono::Duration::hours(2))
                .push("))");
        }
        Some(_) => {
            qb.push(" AND NOT i.sla_breached");
        }
        None => {}
    }
    if let Some(q) = &f.q {
        match normalize_number(q) {
            Some(n) => {
                qb.push(" AND i.issue_number = ").push_bind(n);
            }
            None => {
                qb.push(" AND (i.search_vector @@ websearch_to_tsquery('english', ")
                    .push_bind(q.clone())
                    .push(") OR i.title ILIKE ")
                    .push_bind(contains_pattern(q))
                    .push(")");
            }
        }
    }
}

pub async fn list(
    tx: &mut TenantTx,
    scope: &Scope,
    q: &Query,
    me: Uuid,
    now: DateTime<Utc>,
) -> Result<Rows<Issue>, AppError> {
    let groups = my_groups(tx, scope, &q.filters, me).await?;
    let viewer = (me, groups.as_ref());
    let filters = |qb: &mut QueryBuilder<'_, Postgres>| {
        push_filters(qb, scope, &q.filters, viewer, now);
    };
    let src = Source {
        select: SELECT,
        from: "issues i",
        filters: &filters,
    };
    let sort = q.sort;
    queue::page(tx, &src, sort.key(), &q.paging, |i| key_of(sort, i)).await
}
