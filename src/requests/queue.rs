//! The service desk's request queue: its filters and sorts over the request rows of `store`;
//! paging, cursors and the capped count are `platform::queue`'s, as for the issue queue.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::store::{Request, SELECT};
use crate::platform::error::AppError;
use crate::platform::listing::contains_pattern;
use crate::platform::queue::{self, Common, KeyType, Paging, Rows, SortKey, Source, uuid_param};
use crate::platform::tenancy::TenantTx;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Created,
    Updated,
    /// Most urgent first; within a priority, the longest waiting first.
    Priority,
    /// Soonest due first; paused or without a target last.
    Due,
}

pub const SORTS: &[(&str, Sort)] = &[
    ("created_at", Sort::Created),
    ("updated_at", Sort::Updated),
    ("priority", Sort::Priority),
    ("resolution_due_at", Sort::Due),
];

/// Requests carry their priority as a word; this orders it.
const RANK: &str =
    "(CASE r.priority WHEN 'critical' THEN 1 WHEN 'high' THEN 2 WHEN 'medium' THEN 3 ELSE 4 END)";

impl Sort {
    fn key(self) -> SortKey {
        let (keys, ascending): (&'static [_], bool) = match self {
            Sort::Created => (
                &[("r.created_at", KeyType::Time), ("r.id", KeyType::Id)],
                false,
            ),
            Sort::Updated => (
                &[("r.updated_at", KeyType::Time), ("r.id", KeyType::Id)],
                false,
            ),
            Sort::Priority => (
                &[
                    (RANK, KeyType::Rank),
                    ("r.created_at", KeyType::Time),
                    ("r.id", KeyType::Id),
                ],
                true,
            ),
            Sort::Due => (
                &[
                    (
                        "COALESCE(r.resolution_due_at, 'infinity'::timestamptz)",
                        KeyType::Time,
                    ),
                    ("r.id", KeyType::Id),
                ],
                true,
            ),
        };
        SortKey { keys, ascending }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// `open` (default), `all`, or a comma list of statuses.
    pub status: Option<String>,
    pub priority: Vec<String>,
    /// A group id or `none`.
    pub assigned_group: Option<String>,
    /// A user id, `me` or `none`.
    pub assigned_to: Option<String>,
    pub catalog_item_id: Option<Uuid>,
    /// `breached`, `breaching_soon` (due within 2 h) or `ok`.
    pub sla: Option<String>,
    /// Only requests of the viewer's groups.
    pub my_groups: bool,
    pub q: Option<String>,
}

pub const FILTER_NAMES: &[&str] = &[
    "status",
    "priority",
    "assigned_group",
    "assigned_to",
    "catalog_item_id",
    "sla",
    "mine",
    "q",
];

#[derive(Debug, Clone)]
pub struct Query {
    pub filters: Filters,
    pub sort: Sort,
    pub paging: Paging,
}

impl Query {
    /// Parses the queue's parameters; unknown names and malformed values → 400 naming them.
    pub fn parse(q: &HashMap<String, String>) -> Result<Query, AppError> {
        queue::known_names(q, FILTER_NAMES)?;
        let c = Common::parse(
            q,
            "open",
            domain::requests::STATUSES,
            domain::issues::PRIORITIES,
        )?;
        let item = q
            .get("catalog_item_id")
            .map(|v| v.trim())
            .filter(|v| !v.is_empty());
        let f = Filters {
            status: c.status,
            priority: c.priority,
            assigned_group: c.assigned_group,
            assigned_to: c.assigned_to,
            catalog_item_id: item.map(|v| uuid_param("catalog_item_id", v)).transpose()?,
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

fn key_of(sort: Sort, r: &Request) -> Vec<String> {
    sort.key()
        .keys
        .iter()
        .map(|(expr, _)| match *expr {
            "r.created_at" => r.created_at.to_rfc3339(),
            "r.updated_at" => r.updated_at.to_rfc3339(),
            "r.id" => r.id.to_string(),
            RANK => crate::issues::queue::rank(&r.priority).to_string(),
            _ => r
                .resolution_due_at
                .map_or("infinity".to_string(), |d| d.to_rfc3339()),
        })
        .collect()
}

fn push_filters(
    qb: &mut QueryBuilder<'_, Postgres>,
    f: &Filters,
    me: Uuid,
    my_groups: &[Uuid],
    now: DateTime<Utc>,
) {
    qb.push(" WHERE true");
    const CLOSED: &str = "('completed', 'rejected', 'cancelled')";
    match f.status.as_deref() {
        None | Some("all") => {}
        Some("open") => {
            qb.push(format!(" AND r.status NOT IN {CLOSED}"));
        }
        Some(list) => {
            let list: Vec<String> = list.split(',').map(|s| s.trim().to_string()).collect();
            qb.push(" AND r.status = ANY(").push_bind(list).push(")");
        }
    }
    if !f.priority.is_empty() {
        qb.push(" AND r.priority = ANY(")
            .push_bind(f.priority.clone())
            .push(")");
    }
    for (col, v) in [
        ("r.assigned_group", &f.assigned_group),
        ("r.assigned_to", &f.assigned_to),
    ] {
        match v.as_deref() {
            None => {}
            Some("none") => {
                qb.push(format!(" AND {col} IS NULL"));
            }
            Some("me") => {
                qb.push(format!(" AND {col} = ")).push_bind(me);
            }
            Some(id) => {
                qb.push(format!(" AND {col} = "))
                    .push_bind(id.parse::<Uuid>().ok());
            }
        }
    }
    if f.my_groups {
        qb.push(" AND r.assigned_group = ANY(")
            .push_bind(my_groups.to_vec())
            .push(")");
    }
    if let Some(item) = f.catalog_item_id {
        qb.push(" AND r.catalog_item_id = ").push_bind(item);
    }
    match f.sla.as_deref() {
        Some("breached") => {
            qb.push(" AND r.sla_breached");
        }
        Some("breaching_soon") => {
            let soon = now + chrono::Duration::hours(2);
            qb.push(format!(
                " AND NOT r.sla_breached AND r.status NOT IN {CLOSED} AND (r.resolution_due_at < "
            ))
            .push_bind(soon)
            .push(" OR (r.responded_at IS NULL AND r.response_due_at < ")
            .push_bind(soon)
            .push("))");
        }
        Some(_) => {
            qb.push(" AND NOT r.sla_breached");
        }
        None => {}
    }
    if let Some(q) = &f.q {
        let number = q.trim().to_uppercase();
        qb.push(" AND (r.request_number = ")
            .push_bind(number)
            .push(" OR r.title ILIKE ")
            .push_bind(contains_pattern(q))
            .push(")");
    }
}

/// One page of the queue: every request (the queue is the service desk's).
pub async fn list(
    tx: &mut TenantTx,
    q: &Query,
    me: Uuid,
    now: DateTime<Utc>,
) -> Result<Rows<Request>, AppError> {
    let groups: Vec<Uuid> = match q.filters.my_groups {
        true => {
            sqlx::query_scalar("SELECT group_id FROM group_members WHERE user_id = $1")
                .bind(me)
                .fetch_all(&mut **tx)
                .await?
        }
        false => Vec::new(),
    };
    let filters = |qb: &mut QueryBuilder<'_, Postgres>| {
        push_filters(qb, &q.filters, me, &groups, now);
    };
    let src = Source {
        select: SELECT,
        from: "service_requests r",
        filters: &filters,
    };
    let sort = q.sort;
    queue::page(tx, &src, sort.key(), &q.paging, |r| key_of(sort, r)).await
}
