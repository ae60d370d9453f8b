//! CSV import of applications: the same columns as the export. A row with an `app_id` that
//! exists updates that application (columns left out keep their values); a row without one
//! creates an application. Every row is checked first; one bad row means nothing is written.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Multipart, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Form, Json};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::actions::{self, ApplicationBody};
use super::csv::COLUMNS;
use super::store::{self, Application};
use crate::platform::audit::Actor;
use crate::platform::auth::api::ApiCtx;
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::tenancy::{Slug, TenantTx};
use crate::platform::web::{Chrome, Errors, Hx, read_multipart};
use crate::render_page;

/// Large enough for any real registry, small enough to keep one request's transaction short.
pub const MAX_ROWS: usize = 5_000;

/// One data row of the file as checked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportRow {
    /// The line in the file (the header is line 1).
    pub line: usize,
    /// `create` or `update`.
    pub action: &'static str,
    /// The number of the application updated (or created, after a commit).
    pub app_id: Option<String>,
    pub name: String,
    pub tier: String,
    /// Field → message; empty when the row is fine.
    pub errors: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    pub rows: Vec<ImportRow>,
    /// True when the applications were written (no row had an error and it was not a dry run).
    pub committed: bool,
}

impl ImportReport {
    pub fn has_errors(&self) -> bool {
        self.rows.iter().any(|r| !r.errors.is_empty())
    }
}

/// Undoes the export's formula guard (`'=…` → `=…`) so an exported file imports unchanged.
fn unguard(v: &str) -> String {
    let v = v.trim();
    match v.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest.to_string(),
        _ => v.to_string(),
    }
}

#[derive(Debug)]
struct Parsed {
    line: usize,
    cells: HashMap<&'static str, String>,
}

fn parse(text: &str) -> Result<Vec<Parsed>, AppError> {
    let bad = |msg: String| AppError::field("file", msg);
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| bad(format!("the header line is not CSV: {e}")))?
        .clone();
    let mut columns = Vec::new();
    for h in headers.iter() {
        let h = h.trim().to_ascii_lowercase();
        match COLUMNS.iter().find(|c| **c == h) {
            Some(c) if columns.contains(&Some(*c)) => {
                return Err(bad(format!("the column '{h}' appears twice")));
            }
            Some(c) => columns.push(Some(*c)),
            None => {
                return Err(bad(format!(
                    "unknown column '{h}'; the columns are {}",
                    COLUMNS.join(", ")
                )));
            }
        }
    }
    for required in ["name", "tier"] {
        if !columns.contains(&Some(required)) {
            return Err(bad(format!("the column '{required}' is required")));
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            bad(format!("line {line} is not valid CSV: {e}"))
        })?;
        // Counted from the byte offset: in CRLF files a record "starts" at the `\n` before it.
        let line = record.position().map_or(0, |p| {
            let bytes = text.as_bytes();
            let mut at = (p.byte() as usize).min(bytes.len());
            while at < bytes.len() && matches!(bytes[at], b'\r' | b'\n') {
                at += 1;
            }
            bytes[..at].iter().filter(|b| **b == b'\n').count() + 1
        });
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(bad(format!("at most {MAX_ROWS} rows per file")));
        }
        let cells = columns
            .iter()
            .zip(record.iter())
            .filter_map(|(c, v)| c.map(|c| (c, unguard(v))))
            .collect();
        rows.push(Parsed { line, cells });
    }
    if rows.is_empty() {
        return Err(bad("the file has no data rows".into()));
    }
    Ok(rows)
}

/// Name → id lookups, remembered for the whole file: a registry names the same few owners and
/// groups on many rows.
#[derive(Default)]
struct Lookups(HashMap<(&'static str, String), Option<Uuid>>);

impl Lookups {
    async fn get(
        &mut self,
        tx: &mut TenantTx,
        sql: &'static str,
        key: &str,
    ) -> Result<Option<Uuid>, AppError> {
        let k = (sql, key.to_string());
        if let Some(hit) = self.0.get(&k) {
            return Ok(*hit);
        }
        let id = sqlx::query_scalar(sql)
            .bind(key)
            .fetch_optional(&mut **tx)
            .await?;
        self.0.insert(k, id);
        Ok(id)
    }
}

/// The body for one row: the existing application's values with the file's cells on top.
async fn body_of(
    tx: &mut TenantTx,
    row: &Parsed,
    existing: Option<&Application>,
    errors: &mut BTreeMap<String, String>,
    names: &mut Lookups,
) -> Result<ApplicationBody, AppError> {
    let mut b = match existing {
        Some(a) => ApplicationBody {
            name: a.name.clone(),
            description: a.description.clone(),
            tier: a.tier.clone(),
            status: Some(a.status.clone()),
            lifecycle_stage: Some(a.lifecycle_stage.clone()),
            owner_user_id: a.owner_user_id,
            owner_group_id: a.owner_group_id,
            support_group_id: a.support_group_id,
            business_unit: a.business_unit.clone(),
            criticality: a.criticality.clone(),
            tags: a.tags.clone(),
            metadata: Some(a.metadata.clone()),
        },
        None => ApplicationBody::default(),
    };
    let opt = |v: &String| Some(v.clone()).filter(|s| !s.is_empty());
    for (col, v) in &row.cells {
        match *col {
            "name" => b.name = v.clone(),
            "tier" => b.tier = v.to_ascii_uppercase(),
            "description" => b.description = opt(v),
            "status" => b.status = opt(v),
            "lifecycle_stage" => b.lifecycle_stage = opt(v),
            "criticality" => b.criticality = opt(v),
            "business_unit" => b.business_unit = opt(v),
            "tags" => {
                b.tags = v
                    .split(';')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            "owner_email" if v.is_empty() => b.owner_user_id = None,
            "owner_email" => {
                b.owner_user_id = names
                    .get(tx, "SELECT id FROM users WHERE lower(email) = lower($1)", v)
                    .await?;
                if b.owner_user_id.is_none() {
                    errors.insert("owner_email".into(), format!("no user with email '{v}'"));
                }
            }
            "owner_group" | "support_group" => {
                let id = match v.is_empty() {
                    true => None,
                    false => {
                        let id = names
                            .get(tx, "SELECT id FROM groups WHERE lower(name) = lower($1)", v)
                            .await?;
                        if id.is_none() {
                            errors.insert(col.to_string(), format!("no group named '{v}'"));
                        }
                        id
                    }
                };
                if *col == "owner_group" {
                    b.owner_group_id = id;
                } else {
                    b.support_group_id = id;
                }
            }
            _ => {}
        }
    }
    if b.metadata.is_none() {
        b.metadata = Some(Value::Object(Default::default()));
    }
    Ok(b)
}

/// Checks every row and, when all are fine and `commit` is set, creates/updates them all (each
/// with its audit row and event) in the caller's transaction.
pub async fn run(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    text: &str,
    commit: bool,
) -> Result<ImportReport, AppError> {
    let parsed = parse(text)?;
    let mut checked = Vec::with_capacity(parsed.len());
    let mut seen = std::collections::HashSet::new();
    let mut names = Lookups::default();
    for row in &parsed {
        let mut errors = BTreeMap::new();
        let number = row.cells.get("app_id").filter(|n| !n.is_empty());
        let existing = match number {
            None => None,
            Some(n) => {
                let id = names
                    .get(tx, "SELECT id FROM applications WHERE app_id = $1", n)
                    .await?;
                match id {
                    Some(id) => Some(store::get(tx, id).await?),
                    None => {
                        errors.insert(
                            "app_id".into(),
                            format!("no application {n}; leave app_id empty to create one"),
                        );
                        None
                    }
                }
            }
        };
        if let Some(a) = &existing
            && !seen.insert(a.id)
        {
            errors.insert("app_id".into(), format!("{} appears twice", a.app_id));
        }
        let body = body_of(tx, row, existing.as_ref(), &mut errors, &mut names).await?;
        for (field, msg) in actions::validate(tx, &body).await?.0 {
            errors.entry(field).or_insert(msg);
        }
        let report = ImportRow {
            line: row.line,
            action: if existing.is_some() {
                "update"
            } else {
                "create"
            },
            app_id: existing.as_ref().map(|a| a.app_id.clone()),
            name: body.name.clone(),
            tier: body.tier.clone(),
            errors,
        };
        checked.push((existing.map(|a| a.id), body, report));
    }
    let mut report = ImportReport {
        rows: Vec::with_capacity(checked.len()),
        committed: false,
    };
    let ok = checked.iter().all(|(_, _, r)| r.errors.is_empty());
    for (id, body, mut row) in checked {
        if ok && commit {
            let app = actions::save(tx, tenant, actor, id, &body).await?;
            row.app_id = Some(app.app_id);
        }
        report.rows.push(row);
    }
    report.committed = ok && commit;
    Ok(report)
}

/// The row errors as one 422: `line 3: tier` → message.
pub fn into_error(report: &ImportReport) -> AppError {
    let fields = report
        .rows
        .iter()
        .flat_map(|r| {
            r.errors
                .iter()
                .map(move |(f, m)| (format!("line {}: {f}", r.line), m.clone()))
        })
        .collect();
    AppError::Validation {
        message: "the file has rows with errors; nothing was imported".into(),
        fields,
    }
}

/// Imports applications from CSV (the export's columns; `name` and `tier` required). With
/// `dry_run=true` nothing is written and the report shows what would happen. Any row with an
/// error answers 422 naming `line N: field`, and nothing is written.
#[utoipa::path(post, path = "/applications/import", tag = "applications", operation_id = "importApplications",
    params(("dry_run" = Option<bool>, Query, description = "check only")),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, description = "Every row was fine (and written unless dry_run)", body = ImportReport)))]
pub async fn api_import(
    mut ctx: ApiCtx,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<ImportReport>, AppError> {
    ctx.require(crate::registry::perm::APPLICATIONS_CREATE)?;
    ctx.require(crate::registry::perm::APPLICATIONS_UPDATE)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| AppError::field("file", "the file is not UTF-8 text"))?;
    let dry_run = q.get("dry_run").is_some_and(|v| v == "true" || v == "1");
    let actor = ctx.actor();
    let report = run(&mut ctx.tx, &ctx.principal.slug, &actor, text, !dry_run).await?;
    if report.has_errors() {
        return Err(into_error(&report));
    }
    ctx.commit().await?;
    Ok(Json(report))
}

#[derive(Template)]
#[template(path = "registry/import.html", blocks = ["content"])]
struct ImportPage {
    chrome: Chrome,
    report: Option<ImportReport>,
    /// The file's text, carried from the preview to the commit.
    csv: String,
    errors: Errors,
    columns: &'static [&'static str],
}

impl ImportPage {
    /// The upload form shows until a clean preview (and again after a failed one).
    fn show_upload(&self) -> bool {
        self.report.as_ref().is_none_or(ImportReport::has_errors)
    }
}

async fn page(mut ctx: WebCtx, hx: bool, csv: String, commit: bool) -> Result<Response, WebError> {
    let actor = ctx.actor();
    let slug = ctx.principal.slug.clone();
    let (report, errors) = match run(&mut ctx.tx, &slug, &actor, &csv, commit).await {
        Ok(r) => (Some(r), BTreeMap::new()),
        Err(AppError::Validation { fields, .. }) => (None, fields),
        Err(e) => return Err(e.into()),
    };
    let failed = !errors.is_empty() || report.as_ref().is_some_and(ImportReport::has_errors);
    if failed {
        ctx.tx.rollback().await?;
    } else {
        ctx.tx.commit().await?;
    }
    let status = match failed {
        true => StatusCode::UNPROCESSABLE_ENTITY,
        false => StatusCode::OK,
    };
    let tpl = ImportPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "applications",
            &ctx.manifest,
            ctx.now,
        ),
        report,
        csv,
        errors: errors.into(),
        columns: COLUMNS,
    };
    Ok(render_page!(hx, tpl, status))
}

pub async fn web_form(ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require(crate::registry::perm::APPLICATIONS_CREATE)?;
    ctx.require(crate::registry::perm::APPLICATIONS_UPDATE)?;
    let tpl = ImportPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "applications",
            &ctx.manifest,
            ctx.now,
        ),
        report: None,
        csv: String::new(),
        errors: Errors::default(),
        columns: COLUMNS,
    };
    Ok(render_page!(hx, tpl))
}

/// Upload (file or pasted text) → preview; nothing is written yet.
pub async fn web_preview(ctx: WebCtx, Hx(hx): Hx, form: Multipart) -> Result<Response, WebError> {
    ctx.require(crate::registry::perm::APPLICATIONS_CREATE)?;
    ctx.require(crate::registry::perm::APPLICATIONS_UPDATE)?;
    let (fields, files) = read_multipart(form).await?;
    let text = match files.into_iter().find(|f| f.field == "file") {
        Some(f) => String::from_utf8(f.bytes.to_vec())
            .map_err(|_| AppError::field("file", "the file is not UTF-8 text"))?,
        None => fields
            .into_iter()
            .find(|(k, _)| k == "csv")
            .map(|(_, v)| v)
            .unwrap_or_default(),
    };
    page(ctx, hx, text, false).await
}

/// The previewed text again → written, all or nothing.
pub async fn web_commit(
    ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::registry::perm::APPLICATIONS_CREATE)?;
    ctx.require(crate::registry::perm::APPLICATIONS_UPDATE)?;
    let text = pairs
        .into_iter()
        .find(|(k, _)| k == "csv")
        .map(|(_, v)| v)
        .unwrap_or_default();
    page(ctx, hx, text, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_formula_guard_is_undone() {
        assert_eq!(unguard("'=SUM(A1)"), "=SUM(A1)");
        assert_eq!(unguard("'quoted"), "'quoted");
        assert_eq!(unguard("  plain "), "plain");
    }

    #[test]
    fn header_problems_are_reported() {
        let err = |t| match parse(t) {
            Err(AppError::Validation { fields, .. }) => fields["file"].clone(),
            other => panic!("expected a file error, got {other:?}"),
        };
        assert!(err("name,colour\nx,red\n").contains("unknown column 'colour'"));
        assert!(err("name\nx\n").contains("'tier' is required"));
        assert!(err("name,tier\n").contains("no data rows"));
        assert!(err("name,tier,name\nx,P1,y\n").contains("appears twice"));
        let rows = parse("\u{feff}Name,Tier\n\nCRM,p2\n").expect("parses");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].line, 3);
        assert_eq!(rows[0].cells["tier"], "p2");
    }
}
