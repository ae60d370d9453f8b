//! The work-queue machinery the issue and request queues share: sort keys with exact keyset
//! cursors, paging parameters, and one statement that returns a page with its capped count.
//! An area supplies its columns, its filters (a closure that writes the WHERE clause) and how
//! to read a row's key; the page, the cursor and the count are done here.

use std::collections::HashMap;

use base64::Engine;
use chrono::DateTime;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::platform::error::AppError;
use crate::platform::tenancy::TenantTx;

/// Counting stops here: past a thousand open records nobody reads the exact figure, and the
/// count must stay cheap at a million rows.
pub const COUNT_CAP: i64 = 1_000;

#[derive(Clone, Copy, Debug)]
pub enum KeyType {
    Time,
    Rank,
    Id,
}

/// A sort order: SQL expressions ending in the row's id (so keyset paging is exact), all in one
/// direction, and whether that direction is ascending in the default order. One direction lets
/// a cursor be a single row comparison, which an index range scan starts from directly (mixed
/// directions need an OR chain that the planner cannot turn into a range).
#[derive(Clone, Copy, Debug)]
pub struct SortKey {
    pub keys: &'static [(&'static str, KeyType)],
    pub ascending: bool,
}

#[derive(Debug, Clone)]
enum KeyValue {
    /// RFC 3339, or `infinity` for "no due time" (bound as text, cast in SQL).
    Time(String),
    Rank(i16),
    Id(Uuid),
}

/// The filters every work queue reads (issues and requests alike).
#[derive(Debug, Clone, Default)]
pub struct Common {
    /// `open`, `all`, or a comma list of statuses.
    pub status: Option<String>,
    pub priority: Vec<String>,
    /// A group id or `none`.
    pub assigned_group: Option<String>,
    /// A user id, `me` or `none`.
    pub assigned_to: Option<String>,
    /// `breached`, `breaching_soon` (due within 2 h) or `ok`.
    pub sla: Option<String>,
    /// Only the viewer's groups' records (`mine=groups`).
    pub my_groups: bool,
    pub q: Option<String>,
}

/// `v` as an id, else 400 naming the parameter.
pub fn uuid_param(name: &str, v: &str) -> Result<Uuid, AppError> {
    v.parse()
        .map_err(|_| AppError::BadRequest(format!("'{name}' must be an id")))
}

impl Common {
    /// Reads the common filters; `statuses` and `priorities` are the record's own words.
    pub fn parse(
        q: &HashMap<String, String>,
        default_status: &str,
        statuses: &[&str],
        priorities: &[&str],
    ) -> Result<Common, AppError> {
        let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let status = get("status").unwrap_or(default_status);
        if status != "open" && status != "all" {
            for part in status.split(',') {
                if !statuses.contains(&part.trim()) {
                    return Err(AppError::BadRequest(format!("unknown status '{part}'")));
                }
            }
        }
        let mut f = Common {
            status: Some(status.to_string()),
            ..Default::default()
        };
        if let Some(p) = get("priority") {
            for part in p.split(',').map(str::trim) {
                if !priorities.contains(&part) {
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
        if let Some(s) = get("sla") {
            if !matches!(s, "breached" | "breaching_soon" | "ok") {
                return Err(AppError::BadRequest(
                    "'sla' must be breached, breaching_soon or ok".into(),
                ));
            }
            f.sla = Some(s.to_string());
        }
        match get("mine") {
            None => {}
            Some("groups") => f.my_groups = true,
            Some(_) => return Err(AppError::BadRequest("'mine' can only be 'groups'".into())),
        }
        f.q = get("q").map(str::to_string);
        Ok(f)
    }
}

/// The `sort` parameter among a queue's `sorts` (default `created_at`), else 400.
pub fn sort_of<S: Copy>(q: &HashMap<String, String>, sorts: &[(&str, S)]) -> Result<S, AppError> {
    let name = q
        .get("sort")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .unwrap_or("created_at");
    sorts
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
        .ok_or_else(|| AppError::BadRequest(format!("unknown sort field '{name}'")))
}

/// Refuses parameters that are neither `filters` nor paging ones (400 naming the first).
pub fn known_names(q: &HashMap<String, String>, filters: &[&str]) -> Result<(), AppError> {
    match q
        .keys()
        .find(|k| !filters.contains(&k.as_str()) && !PAGING_NAMES.contains(&k.as_str()))
    {
        Some(k) => Err(AppError::BadRequest(format!("unknown filter '{k}'"))),
        None => Ok(()),
    }
}

/// The paging part of a queue's parameters.
#[derive(Debug, Clone)]
pub struct Paging {
    /// Reversed from the sort's natural direction (`order=asc` on a newest-first sort).
    pub reversed: bool,
    pub per_page: i64,
    /// Offset paging (page ≥ 1) when no cursor is given.
    pub page: i64,
    cursor: Option<Vec<KeyValue>>,
}

/// Parameter names every queue reads besides its filters.
pub const PAGING_NAMES: &[&str] = &["page", "per_page", "sort", "order", "cursor", "view"];

impl Paging {
    /// `order` names the direction of the first key as people read it (desc = newest / most
    /// urgent / latest due first; `natural_desc` says the sort's default is so); `per_page`
    /// 1–100 (default 25), `page` ≥ 1, `cursor` from an earlier page of the same sort.
    pub fn parse(
        q: &HashMap<String, String>,
        key: SortKey,
        natural_desc: bool,
    ) -> Result<Paging, AppError> {
        let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
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
        let cursor = get("cursor").map(|c| decode(key, c)).transpose()?;
        Ok(Paging {
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

fn decode(key: SortKey, c: &str) -> Result<Vec<KeyValue>, AppError> {
    let bad = || AppError::BadRequest("'cursor' is not valid for this sort".into());
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let parts: Vec<&str> = text.split('|').collect();
    if parts.len() != key.keys.len() {
        return Err(bad());
    }
    key.keys
        .iter()
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

/// The cursor after a row whose key values (one per key expression, times in RFC 3339 or
/// `infinity`) are `parts`.
pub fn cursor(parts: &[String]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(parts.join("|"))
}

/// A queue's rows.
pub struct Rows<T> {
    pub rows: Vec<T>,
    /// Up to `COUNT_CAP`; `total_capped` says there are at least that many. Not counted on
    /// keyset pages after the first (the first page said it).
    pub total: Option<i64>,
    pub total_capped: bool,
    pub next_cursor: Option<String>,
}

/// What a queue is over: `select` is its `SELECT … FROM <table> <alias> [joins]`, `from` the
/// bare `<table> <alias>` the count reads, `filters` writes ` WHERE …` for both.
pub struct Source<'a> {
    pub select: &'a str,
    pub from: &'a str,
    pub filters: &'a (dyn Fn(&mut QueryBuilder<'_, Postgres>) + Sync),
}

/// One page of a queue in `key` order, after the cursor (or at the offset page), with the
/// capped count in the same statement on first pages; `key_of` gives a row's cursor parts.
pub async fn page<T>(
    tx: &mut TenantTx,
    src: &Source<'_>,
    key: SortKey,
    p: &Paging,
    key_of: impl Fn(&T) -> Vec<String>,
) -> Result<Rows<T>, AppError>
where
    T: for<'r> sqlx::FromRow<'r, PgRow>,
{
    // The capped count rides along in the page's own statement (one round trip); keyset
    // pages after the first skip it.
    let counted = p.cursor.is_none();
    let mut qb = QueryBuilder::new("");
    if counted {
        qb.push(format!(
            "WITH total AS (SELECT COUNT(*) AS n FROM (SELECT 1 FROM {}",
            src.from
        ));
        (src.filters)(&mut qb);
        // A literal limit: as a bind parameter the generic plan guesses 10 % of the table and
        // picks a sequential scan (measured by `firelater bench issues`).
        qb.push(format!(" LIMIT {COUNT_CAP}) t) "));
        let columns = src.select.strip_prefix("SELECT ").unwrap_or(src.select);
        qb.push("SELECT (SELECT n FROM total) AS total_count, ")
            .push(columns);
    } else {
        qb.push(src.select);
    }
    (src.filters)(&mut qb);
    let dir = if key.ascending != p.reversed {
        " ASC"
    } else {
        " DESC"
    };
    if let Some(cursor) = &p.cursor {
        // "After the cursor" as one row comparison: (k1, k2, …) > (v1, v2, …).
        qb.push(" AND (");
        for (n, (expr, _)) in key.keys.iter().enumerate() {
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
    for (n, (expr, _)) in key.keys.iter().enumerate() {
        qb.push(if n > 0 { ", " } else { "" }).push(*expr).push(dir);
    }
    // A literal (per_page is checked to be 1–100): with `LIMIT $n` PostgreSQL cannot cost the
    // generic plan and re-plans this statement on every call (0.8 ms of the list's 2 ms in
    // `firelater bench issues --mix jsm`); with a literal it keeps the generic plan.
    qb.push(format!(" LIMIT {}", p.per_page + 1));
    if p.cursor.is_none() && p.page > 1 {
        qb.push(" OFFSET ").push_bind((p.page - 1) * p.per_page);
    }
    let found: Vec<PgRow> = qb.build().fetch_all(&mut **tx).await?;
    let mut total = counted.then_some(0);
    let mut rows = Vec::with_capacity(found.len());
    for row in &found {
        if counted {
            total = Some(sqlx::Row::try_get(row, "total_count")?);
        }
        rows.push(T::from_row(row)?);
    }
    // An empty first page past the end (offset paging) still knows the total.
    if counted && found.is_empty() && p.page > 1 {
        let mut count =
            QueryBuilder::new(format!("SELECT COUNT(*) FROM (SELECT 1 FROM {}", src.from));
        (src.filters)(&mut count);
        count.push(format!(" LIMIT {COUNT_CAP}) t"));
        total = Some(count.build_query_scalar().fetch_one(&mut **tx).await?);
    }
    let more = rows.len() as i64 > p.per_page;
    rows.truncate(p.per_page as usize);
    let next_cursor = match more {
        true => rows.last().map(|r| cursor(&key_of(r))),
        false => None,
    };
    Ok(Rows {
        rows,
        total,
        total_capped: total.is_some_and(|t| t >= COUNT_CAP),
        next_cursor,
    })
}
