//! CSV export of the application list (the same filters as the list).

use std::collections::HashMap;

use axum::extract::Query;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::store::{self, Application};
use crate::platform::auth::api::ApiCtx;
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::listing;

pub const COLUMNS: &[&str] = &[
    "app_id",
    "name",
    "description",
    "tier",
    "status",
    "lifecycle_stage",
    "criticality",
    "business_unit",
    "owner_email",
    "owner_group",
    "support_group",
    "tags",
];

/// One CSV cell: quoted when needed; a leading `= + - @` is neutralised so spreadsheets do not
/// run it as a formula.
pub fn cell(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

pub fn to_csv(apps: &[(Application, Option<String>)]) -> String {
    let mut out = COLUMNS.join(",");
    out.push_str("\r\n");
    for (a, owner_email) in apps {
        let row = [
            a.app_id.as_str(),
            &a.name,
            a.description.as_deref().unwrap_or(""),
            &a.tier,
            &a.status,
            &a.lifecycle_stage,
            a.criticality.as_deref().unwrap_or(""),
            a.business_unit.as_deref().unwrap_or(""),
            owner_email.as_deref().unwrap_or(""),
            a.owner_group_name.as_deref().unwrap_or(""),
            a.support_group_name.as_deref().unwrap_or(""),
            &a.tags.join(";"),
        ];
        out.push_str(&row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

async fn export(
    tx: &mut crate::platform::tenancy::TenantTx,
    q: &HashMap<String, String>,
) -> Result<String, AppError> {
    let mut q = q.clone();
    // Paging does not apply to an export.
    q.remove("page");
    q.remove("per_page");
    let params = listing::parse(&store::LIST_SPEC, &q)?;
    let apps = store::list_all(tx, &params).await?;
    let ids: Vec<uuid::Uuid> = apps.iter().filter_map(|a| a.owner_user_id).collect();
    let emails: Vec<(uuid::Uuid, String)> =
        sqlx::query_as("SELECT id, email FROM users WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(&mut **tx)
            .await?;
    let rows: Vec<_> = apps
        .into_iter()
        .map(|a| {
            let email = a.owner_user_id.and_then(|id| {
                emails
                    .iter()
                    .find(|(i, _)| *i == id)
                    .map(|(_, e)| e.clone())
            });
            (a, email)
        })
        .collect();
    Ok(to_csv(&rows))
}

fn attachment(csv: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"applications.csv\"",
            ),
        ],
        csv,
    )
        .into_response()
}

/// The application list as CSV (same filters as the list; no paging).
#[utoipa::path(get, path = "/applications/export", tag = "applications", operation_id = "exportApplications",
    params(("tier" = Option<String>, Query), ("status" = Option<String>, Query), ("owner_group_id" = Option<uuid::Uuid>, Query),
        ("tag" = Option<String>, Query), ("q" = Option<String>, Query), ("sort" = Option<String>, Query), ("order" = Option<String>, Query)),
    responses((status = 200, description = "CSV with the columns app_id, name, description, tier, status, lifecycle_stage, criticality, business_unit, owner_email, owner_group, support_group, tags (`;`-separated)", content_type = "text/csv", body = String)))]
pub async fn api_export(
    mut ctx: ApiCtx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    ctx.require(crate::registry::perm::APPLICATIONS_READ)?;
    let csv = export(&mut ctx.tx, &q).await?;
    ctx.commit().await?;
    Ok(attachment(csv))
}

pub async fn web_export(
    mut ctx: WebCtx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, WebError> {
    ctx.require(crate::registry::perm::APPLICATIONS_READ)?;
    let q: HashMap<String, String> = q
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .collect();
    let csv = export(&mut ctx.tx, &q).await?;
    ctx.tx.commit().await?;
    Ok(attachment(csv))
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn cells_are_quoted_and_formulas_neutralised() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("-5"), "'-5");
    }
}
