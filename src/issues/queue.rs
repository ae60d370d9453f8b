//! The queue query: filters, sorts, keyset cursors and the capped count, over the issue rows
//! of `store` and within the viewer's `Scope`.

use std::collections::HashMap;

use base64::Engine;
use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::store::{Issue, SELECT, Scope, normalize_number};
use crate::platform::error::AppError;
use crate::platform::listing::contains_pattern;
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

#[derive(Clone, Copy)]
enum KeyType {
    Time,
    Rank,
    Id,
}

impl Sort {
    /// The key's SQL expressions, all sorted in one direction, and whether that direction is
    /// ascending in the default order. One direction lets a cursor be a single row comparison,
    /// which an index range scan starts from directly (mixed directions need an OR chain that
    /// the planner cannot turn into a range).
    fn keys(self) -> (&'static [(&'static str, KeyType)], bool) {
        match self {
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
        }
    }
}

#[derive(Debug, Clone)]
enum KeyValue {
    /// RFC 3339, or `infinity` for "no due time" (bound as text, cast in SQL).
    Time(String),
    Rank(i16),
    Id(Uuid),
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
    /// Reversed from the sort's natural direction (`order=asc` on a newest-first sort).
    pub reversed: bool,
    pub per_page: i64,
    /// Offset paging (page ≥ 1) when no cursor is given.
    pub page: i64,
    cursor: Option<Vec<KeyValue>>,
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

fn uuid_param(name: &str, v: &str) -> Result<Uuid, AppError> {
    v.parse()
        .map_err(|_| AppError::BadRequest(format!("'{name}' must be an id")))
}

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
        for k in q.keys() {
            if !FILTER_NAMES.contains(&k.as_str())
                && !matches!(
                    k.as_str(),
                    "page" | "per_page" | "sort" | "order" | "cursor" | "view"
                )
            {
                return Err(AppError::BadRequest(format!("unknown filter '{k}'")));
            }
        }
        let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let mut f = Filters {
            status: Some(get("status").unwrap_or(default_status).to_string()),
            ..Default::default()
        };
        if let Some(s) = &f.status
            && s != "open"
            && s != "all"
        {
            for part in s.split(',') {
                if !domain::issues::STATUSES.contains(&part.trim()) {
                    return Err(AppError::BadRequest(format!("unknown status '{part}'")));
                }
            }
        }
        if let Some(p) = get("priority") {
            for part in p.split(',').map(str::trim) {
                if !domain::issues::PRIORITIES.contains(&part) {
                    return Err(AppError::BadRequest(format!("unknown priority '{part}'")));
                }
                f.priority.push(part.to_string());
            }
        }
        if let Some(g) = get("assigned_group") {
            if g != "none" {
                uuid_param("assigned_group", g)?;
            }
            f.assigned_group = Some(g.to_string());
        }
        if let Some(a) = get("assigned_to") {
            if a != "none" && a != "me" {
                uuid_param("assigned_to", a)?;
            }
            f.assigned_to = Some(a.to_string());
        }
        f.application_id = get("application_id")
            .map(|v| uuid_param("application_id", v))
            .transpose()?;
        f.category_id = get("category_id")
            .map(|v| uuid_param("category_id", v))
            .transpose()?;
        f.reporter_id = get("reporter_id")
            .map(|v| uuid_param("reporter_id", v))
            .transpose()?;
        if let Some(s) = get("sla") {
            if !matches!(s, "breached" | "breaching_soon" | "ok") {
                return Err(AppError::BadRequest(
                    "'sla' must be breached, breaching_soon or ok".into(),
                ));
            }
            f.sla = Some(s.to_string());
        }
        f.my_groups = get("mine") == Some("groups");
        if let Some(m) = get("mine")
            && m != "groups"
        {
            return Err(AppError::BadRequest("'mine' can only be 'groups'".into()));
        }
        f.q = get("q").map(str::to_string);
        let sort_name = get("sort").unwrap_or("created_at");
        let sort = SORTS
            .iter()
            .find(|(n, _)| *n == sort_name)
            .map(|(_, s)| *s)
            .ok_or_else(|| AppError::BadRequest(format!("unknown sort field '{sort_name}'")))?;
        // `order` names the direction of the first key as people read it: desc = newest /
        // most urgent / latest due first.
        let natural_desc = matches!(sort, Sort::Created | Sort::Updated | Sort::Priority);
        let reversed = match get("order") {
            None => false,
            Some("desc") => !natural_desc,
            Some("asc") => natural_desc,
            Some(o) => {
                return Err(AppError::BadRequest(format!(
                    "'order' must be asc or desc, not '{o}'"
                )));
            }
        };
        let int = |name: &str, default: i64| -> Result<i64, AppError> {
            get(name).map_or(Ok(default), |v| {
                v.parse()
                    .map_err(|_| AppError::BadRequest(format!("'{name}' must be a whole number")))
            })
        };
        let per_page = int("per_page", 25)?;
        if !(1..=100).contains(&per_page) {
            return Err(AppError::BadRequest(
                "'per_page' must be between 1 and 100".into(),
            ));
        }
        let page = int("page", 1)?;
        if !(1..=crate::platform::listing::MAX_PAGE).contains(&page) {
            return Err(AppError::BadRequest(
                "'page' must be between 1 and 1000000".into(),
            ));
        }
        let cursor = get("cursor").map(|c| decode_cursor(sort, c)).transpose()?;
        Ok(Query {
            filters: f,
            sort,
            reversed,
            per_page,
            page,
            cursor,
        })
    }

    pub fn has_cursor(&self) -> bool {
        self.cursor.is_some()
    }
}

fn decode_cursor(sort: Sort, c: &str) -> Result<Vec<KeyValue>, AppError> {
    let bad = || AppError::BadRequest("'cursor' is not valid for this sort".into());
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let parts: Vec<&str> = text.split('|').collect();
    let keys = sort.keys().0;
    if parts.len() != keys.len() {
        return Err(bad());
    }
    keys.iter()
        .zip(parts)
        .map(|((_, t), v)| {
            Ok(match t {
                KeyType::Time if v == "infinity" => KeyValue::Time(v.to_string()),
                KeyType::Time => {
                    DateTime::parse_from_rfc3339(v).map_err(|_| bad())?;
                    KeyValue::Time(v.to_string())
                }
                KeyType::Rank => KeyValue::Rank(v.parse().map_err(|_| bad())?),
                KeyType::Id => KeyValue::Id(v.parse().map_err(|_| bad())?),
            })
        })
        .collect()
}

/// The cursor that continues after `issue` in `sort`.
pub fn cursor_after(sort: Sort, issue: &Issue) -> String {
    let parts: Vec<String> = sort
        .keys()
        .0
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
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(parts.join("|"))
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

/// Counting stops here: past a thousand open issues nobody reads the exact figure, and the
/// count must stay cheap at a million rows.
pub const COUNT_CAP: i64 = 1_000;

pub struct ListResult {
    pub issues: Vec<Issue>,
    /// Up to `COUNT_CAP`; `total_capped` says there are at least that many. Not counted on
    /// keyset pages after the first (the first page said it).
    pub total: Option<i64>,
    pub total_capped: bool,
    pub next_cursor: Option<String>,
}

pub async fn list(
    tx: &mut TenantTx,
    scope: &Scope,
    q: &Query,
    me: Uuid,
    now: DateTime<Utc>,
) -> Result<ListResult, AppError> {
    let groups = my_groups(tx, scope, &q.filters, me).await?;
    let viewer = (me, groups.as_ref());
    // The capped count rides along in the page's own statement (one round trip); keyset
    // pages after the first skip it.
    let counted = q.cursor.is_none();
    let mut qb = QueryBuilder::new("");
    if counted {
        qb.push("WITH total AS (SELECT COUNT(*) AS n FROM (SELECT 1 FROM issues i");
        push_filters(&mut qb, scope, &q.filters, viewer, now);
        // A literal limit: as a bind parameter the generic plan guesses 10 % of the table and
        // picks a sequential scan (measured by `firelater bench issues`).
        qb.push(format!(" LIMIT {COUNT_CAP}) t) "));
        let columns = SELECT.strip_prefix("SELECT ").unwrap_or(SELECT);
        qb.push("SELECT (SELECT n FROM total) AS total_count, ")
            .push(columns);
    } else {
        qb.push(SELECT);
    }
    push_filters(&mut qb, scope, &q.filters, viewer, now);
    let (keys, natural_asc) = q.sort.keys();
    let dir = if natural_asc != q.reversed {
        " ASC"
    } else {
        " DESC"
    };
    if let Some(cursor) = &q.cursor {
        // "After the cursor" as one row comparison: (k1, k2, …) > (v1, v2, …).
        qb.push(" AND (");
        for (n, (expr, _)) in keys.iter().enumerate() {
            qb.push(if n > 0 { ", " } else { "" }).push(*expr);
        }
        qb.push(if dir == " ASC" { ") > (" } else { ") < (" });
        for (n, v) in cursor.iter().enumerate() {
            qb.push(if n > 0 { ", " } else { "" });
            match v {
                KeyValue::Time(t) => qb.push_bind(t.clone()).push("::timestamptz"),
                KeyValue::Rank(r) => qb.push_bind(*r),
                KeyValue::Id(id) => qb.push_bind(*id),
            };
        }
        qb.push(")");
    }
    qb.push(" ORDER BY ");
    for (n, (expr, _)) in keys.iter().enumerate() {
        qb.push(if n > 0 { ", " } else { "" }).push(*expr).push(dir);
    }
    // A literal (per_page is checked to be 1–100): with `LIMIT $n` PostgreSQL cannot cost the
    // generic plan and re-plans this statement on every call (0.8 ms of the list's 2 ms in
    // `firelater bench issues --mix jsm`); with a literal it keeps the generic plan.
    qb.push(format!(" LIMIT {}", q.per_page + 1));
    if q.cursor.is_none() && q.page > 1 {
        qb.push(" OFFSET ").push_bind((q.page - 1) * q.per_page);
    }
    let rows: Vec<sqlx::postgres::PgRow> = qb.build().fetch_all(&mut **tx).await?;
    let mut total = counted.then_some(0);
    let mut issues = Vec::with_capacity(rows.len());
    for row in &rows {
        if counted {
            total = Some(sqlx::Row::try_get(row, "total_count")?);
        }
        issues.push(<Issue as sqlx::FromRow<_>>::from_row(row)?);
    }
    // An empty first page past the end (offset paging) still knows the total.
    if counted && rows.is_empty() && q.page > 1 {
        let mut count = QueryBuilder::new("SELECT COUNT(*) FROM (SELECT 1 FROM issues i");
        push_filters(&mut count, scope, &q.filters, viewer, now);
        count.push(format!(" LIMIT {COUNT_CAP}) t"));
        total = Some(count.build_query_scalar().fetch_one(&mut **tx).await?);
    }
    let more = issues.len() as i64 > q.per_page;
    issues.truncate(q.per_page as usize);
    let next_cursor = match more {
        true => issues.last().map(|i| cursor_after(q.sort, i)),
        false => None,
    };
    Ok(ListResult {
        issues,
        total,
        total_capped: total.is_some_and(|t| t >= COUNT_CAP),
        next_cursor,
    })
}
