//! `/v1` list conventions: `?page=&per_page=` (default 25, max 100), `?sort=&order=`, field
//! filters, `?fields=`, `?include=`; unknown names → 400 naming them. Response
//! `{"data": [...], "meta": {"page", "per_page", "total"}}`.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::{Value, json};

use crate::platform::error::AppError;

/// What an endpoint accepts. Sort/filter keys map public names to SQL expressions.
pub struct ListSpec {
    pub sorts: &'static [(&'static str, &'static str)],
    pub default_sort: &'static str,
    pub filters: &'static [(&'static str, &'static str)],
    pub fields: &'static [&'static str],
    pub includes: &'static [&'static str],
}

#[derive(Debug, Clone)]
pub struct ListParams {
    pub page: i64,
    pub per_page: i64,
    /// SQL expression and direction, from the allow-list only.
    pub order_by: String,
    /// (SQL expression, value) pairs, from the allow-list only.
    pub filters: Vec<(&'static str, String)>,
    pub fields: Option<Vec<String>>,
    pub includes: Vec<String>,
    pub q: Option<String>,
}

impl ListParams {
    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.per_page
    }
}

pub const MAX_PAGE: i64 = 1_000_000;

pub fn parse(spec: &ListSpec, query: &HashMap<String, String>) -> Result<ListParams, AppError> {
    let int = |name: &str, default: i64| -> Result<i64, AppError> {
        match query.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .map_err(|_| AppError::BadRequest(format!("'{name}' must be a whole number"))),
        }
    };
    let page = int("page", 1)?;
    let per_page = int("per_page", 25)?;
    // Past a million pages an offset is only a way to make the database count rows.
    if !(1..=MAX_PAGE).contains(&page) {
        return Err(AppError::BadRequest(
            "'page' must be between 1 and 1000000".into(),
        ));
    }
    if !(1..=100).contains(&per_page) {
        return Err(AppError::BadRequest(
            "'per_page' must be between 1 and 100".into(),
        ));
    }
    let sort_name = query
        .get("sort")
        .map(String::as_str)
        .unwrap_or(spec.default_sort);
    let sort_sql = spec
        .sorts
        .iter()
        .find(|(n, _)| *n == sort_name)
        .map(|(_, sql)| *sql)
        .ok_or_else(|| AppError::BadRequest(format!("unknown sort field '{sort_name}'")))?;
    let dir = match query.get("order").map(String::as_str) {
        None | Some("asc") => "ASC",
        Some("desc") => "DESC",
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "'order' must be asc or desc, not '{other}'"
            )));
        }
    };
    let mut filters = Vec::new();
    for (k, v) in query {
        if matches!(
            k.as_str(),
            "page" | "per_page" | "sort" | "order" | "fields" | "include" | "q"
        ) {
            continue;
        }
        let sql = spec
            .filters
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, sql)| *sql)
            .ok_or_else(|| AppError::BadRequest(format!("unknown filter '{k}'")))?;
        filters.push((sql, v.clone()));
    }
    filters.sort();
    let fields = match query.get("fields") {
        None => None,
        Some(list) => {
            let names: Vec<String> = list
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if let Some(bad) = names.iter().find(|n| !spec.fields.contains(&n.as_str())) {
                return Err(AppError::BadRequest(format!("unknown field '{bad}'")));
            }
            // `fields=` asks for nothing: an empty object per row helps no one.
            if names.is_empty() {
                return Err(AppError::BadRequest(format!(
                    "fields: name at least one of {}",
                    spec.fields.join(", ")
                )));
            }
            Some(names)
        }
    };
    let includes: Vec<String> = query
        .get("include")
        .map(|l| {
            l.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if let Some(bad) = includes
        .iter()
        .find(|n| !spec.includes.contains(&n.as_str()))
    {
        return Err(AppError::BadRequest(format!("unknown include '{bad}'")));
    }
    // Stable order: ties broken by id so pages never overlap.
    // The tie-break names the output column `id` (every list selects one), which PostgreSQL
    // resolves before input columns, so it stays unambiguous across joins.
    let order_by = format!("{sort_sql} {dir}, id {dir}");
    let q = query
        .get("q")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    Ok(ListParams {
        page,
        per_page,
        order_by,
        filters,
        fields,
        includes,
        q,
    })
}

/// Keeps only the requested fields of each object.
pub fn project(value: Value, fields: &Option<Vec<String>>) -> Value {
    match (value, fields) {
        (Value::Object(map), Some(fields)) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| fields.iter().any(|f| f == k))
                .collect(),
        ),
        (v, _) => v,
    }
}

pub fn page_body<T: Serialize>(items: Vec<T>, params: &ListParams, total: i64) -> Value {
    let data: Vec<Value> = items
        .into_iter()
        .map(|i| {
            project(
                serde_json::to_value(i).unwrap_or(Value::Null),
                &params.fields,
            )
        })
        .collect();
    json!({"data": data, "meta": {"page": params.page, "per_page": params.per_page, "total": total}})
}

/// Validation helper collecting field errors before answering 422.
#[derive(Default)]
pub struct Problems(pub BTreeMap<String, String>);

impl Problems {
    pub fn add(&mut self, field: &str, msg: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_insert_with(|| msg.into());
    }

    /// "must be one of …" unless `value` is one of `allowed`.
    pub fn one_of(&mut self, field: &str, value: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.add(field, format!("must be one of {}", allowed.join(", ")));
        }
    }

    pub fn into_result(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation {
                message: "validation failed".into(),
                fields: self.0,
            })
        }
    }
}

/// `%q%` for ILIKE with the user's `\`, `%` and `_` taken literally.
pub fn contains_pattern(q: &str) -> String {
    format!(
        "%{}%",
        q.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

/// ` AND col = value` for an allow-listed filter column; `…_id` columns take a UUID (else 400
/// naming the filter).
pub fn push_equals(
    qb: &mut sqlx::QueryBuilder<'_, sqlx::Postgres>,
    col: &'static str,
    value: &str,
) -> Result<(), AppError> {
    if col.ends_with("_id") {
        let id: uuid::Uuid = value.parse().map_err(|_| {
            let name = col.rsplit('.').next().unwrap_or(col);
            AppError::BadRequest(format!("'{name}' must be a UUID"))
        })?;
        qb.push(format_args!(" AND {col} = ")).push_bind(id);
    } else {
        qb.push(format_args!(" AND {col} = "))
            .push_bind(value.to_string());
    }
    Ok(())
}
