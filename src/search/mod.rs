//! Global search: issues (number, title, description, comments), requests, catalog items,
//! applications and users —
//! PostgreSQL full-text search, ranked, with trigram/number matching; every query carries the
//! viewer's own visibility rules.

pub mod palette;

use std::collections::HashMap;

use askama::Template;
use axum::Json;
use axum::extract::Query;
use axum::response::Response;
use serde::Serialize;
use sqlx::QueryBuilder;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::issues::store::{Scope, normalize_number};
use crate::platform::auth::Principal;
use crate::platform::auth::api::ApiCtx;
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::listing::contains_pattern;
use crate::platform::module::Module;
use crate::platform::state::AppState;
use crate::platform::tenancy::TenantTx;
use crate::platform::web::{Chrome, Hx, Routes, see_other};
use crate::render_page;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Hit {
    /// issue, request, catalog_item, application or user.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Uuid,
    /// ISS-00042 / APP-00003 (none for users).
    pub number: Option<String>,
    pub title: String,
    /// The page to open.
    pub url: String,
    /// The record's status (issues, applications).
    pub status: Option<String>,
    /// A line of its description around the first word searched for.
    #[sqlx(skip)]
    pub snippet: Option<String>,
    #[serde(skip)]
    pub rank: f32,
    #[serde(skip)]
    body: Option<String>,
}

/// Up to ~160 characters of `body` around the first word of `q` it contains (its start when
/// none does), on one line, with "…" where it was cut.
pub fn snippet(body: &str, q: &str) -> Option<String> {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        return None;
    }
    let lower = flat.to_lowercase();
    let at = q
        .split_whitespace()
        .filter(|w| w.chars().count() >= 2)
        .find_map(|w| lower.find(&w.to_lowercase()))
        .unwrap_or(0);
    let chars: Vec<char> = flat.chars().collect();
    // `at` is a byte offset of the lowercased text; count characters to it (lowercasing keeps
    // the characters' count for the scripts people search in; clamp for the rest).
    let centre = lower[..at.min(lower.len())]
        .chars()
        .count()
        .min(chars.len());
    let start = centre.saturating_sub(60);
    let end = (start + 160).min(chars.len());
    let mut out: String = chars[start..end].iter().collect();
    if start > 0 {
        out = format!("…{}", out.trim_start());
    }
    if end < chars.len() {
        out = format!("{}…", out.trim_end());
    }
    Some(out)
}

const LIMIT: i64 = 20;

fn query_of(q: &HashMap<String, String>) -> Result<String, AppError> {
    let text = q.get("q").map(|s| s.trim()).unwrap_or_default();
    // A query parameter's problem is a malformed request (400), as everywhere in the API.
    if text.is_empty() {
        return Err(AppError::BadRequest(
            "'q' is required: type something to search for".into(),
        ));
    }
    if text.chars().count() > 200 {
        return Err(AppError::BadRequest(
            "'q' must be at most 200 characters".into(),
        ));
    }
    Ok(text.to_string())
}

fn with_snippets(hits: &mut [Hit], q: &str) {
    for h in hits {
        if let Some(body) = h.body.take() {
            h.snippet = snippet(&body, q);
        }
    }
}

/// Issues matching `q` that `scope` may see, best first.
pub async fn issues(tx: &mut TenantTx, scope: &Scope, q: &str) -> Result<Vec<Hit>, AppError> {
    let mut qb = QueryBuilder::new(
        "SELECT 'issue' AS kind, i.id, i.issue_number AS number, i.title, '/issues/' || i.id AS url,
            i.status, i.description AS body,
            (ts_rank(i.search_vector, websearch_to_tsquery('english', ",
    );
    qb.push_bind(q.to_string())
        .push(")) + CASE WHEN i.issue_number = ")
        .push_bind(normalize_number(q))
        .push(" THEN 10 ELSE 0 END + similarity(i.title, ")
        .push_bind(q.to_string())
        .push("))::real AS rank FROM issues i WHERE i.deleted_at IS NULL");
    scope.push(&mut qb);
    qb.push(" AND (i.issue_number = ")
        .push_bind(normalize_number(q))
        .push(" OR i.search_vector @@ websearch_to_tsquery('english', ")
        .push_bind(q.to_string())
        .push(") OR i.title ILIKE ")
        .push_bind(contains_pattern(q))
        .push(" OR i.id IN (SELECT c.issue_id FROM issue_comments c WHERE c.search_vector @@ websearch_to_tsquery('english', ")
        .push_bind(q.to_string())
        .push(")");
    if !scope.sees_internal() {
        qb.push(" AND NOT COALESCE(c.is_internal, false)");
    }
    qb.push(")) ORDER BY rank DESC, i.created_at DESC LIMIT ")
        .push_bind(LIMIT);
    let mut hits: Vec<Hit> = qb.build_query_as().fetch_all(&mut **tx).await?;
    with_snippets(&mut hits, q);
    Ok(hits)
}

async fn everything(tx: &mut TenantTx, p: &Principal, q: &str) -> Result<Vec<Hit>, AppError> {
    let mut hits = Vec::new();
    if p.can(crate::issues::perm::ISSUES_READ) {
        let scope = Scope::of(tx, p).await?;
        hits.extend(issues(tx, &scope, q).await?);
    }
    if p.can(crate::registry::perm::APPLICATIONS_READ) {
        let apps: Vec<Hit> = sqlx::query_as(
            "SELECT 'application' AS kind, id, app_id AS number, name AS title, '/applications/' || id AS url,
                COALESCE(status, 'active') AS status, description AS body,
                (similarity(name, $1) + CASE WHEN upper(app_id) = upper($1) THEN 10 ELSE 0 END)::real AS rank
             FROM applications
             WHERE name ILIKE $2 OR upper(app_id) = upper($1) OR description ILIKE $2
             ORDER BY rank DESC, name LIMIT $3",
        )
        .bind(q)
        .bind(contains_pattern(q))
        .bind(LIMIT)
        .fetch_all(&mut **tx)
        .await?;
        hits.extend(apps);
    }
    if p.can(crate::requests::perm::REQUESTS_READ) {
        // Everyone's for the desk; one's own (raised, for them, or to approve) otherwise.
        let all = p.can(crate::requests::perm::REQUESTS_READ_ALL);
        let requests: Vec<Hit> = sqlx::query_as(
            "SELECT 'request' AS kind, r.id, r.request_number AS number, r.title, '/requests/' || r.id AS url,
                COALESCE(r.status, 'new') AS status, NULL::text AS body,
                (similarity(r.title, $1) + CASE WHEN upper(r.request_number) = upper($1) THEN 10 ELSE 0 END)::real AS rank
             FROM service_requests r
             WHERE (r.title ILIKE $2 OR upper(r.request_number) = upper($1))
               AND ($4 OR r.requester_id = $5 OR r.requested_for_id = $5 OR EXISTS (
                    SELECT 1 FROM approvals a WHERE a.entity_type = 'request' AND a.entity_id = r.id AND a.approver_id = $5))
             ORDER BY rank DESC, r.created_at DESC LIMIT $3",
        )
        .bind(q)
        .bind(contains_pattern(q))
        .bind(LIMIT)
        .bind(all)
        .bind(p.user_id)
        .fetch_all(&mut **tx)
        .await?;
        hits.extend(requests);
    }
    if p.can(crate::catalog::perm::CATALOG_READ) {
        // What the portal offers this person; managers also find drafts and retired items.
        let manager = p.can(crate::catalog::perm::CATALOG_MANAGE);
        let items: Vec<Hit> = sqlx::query_as(
            "SELECT 'catalog_item' AS kind, i.id, NULL::text AS number, i.name AS title,
                CASE WHEN $4 AND i.status <> 'active' THEN '/catalog/manage/items/' || i.id ELSE '/catalog/items/' || i.id END AS url,
                COALESCE(i.status, 'draft') AS status, i.short_desc AS body,
                (similarity(i.name, $1) + ts_rank(i.search_vector, plainto_tsquery('simple', $1)))::real AS rank
             FROM catalog_items i
             WHERE (i.name ILIKE $2 OR i.search_vector @@ plainto_tsquery('simple', $1))
               AND ($4 OR (i.status = 'active' AND i.published_version IS NOT NULL
                    AND (COALESCE(cardinality(i.visible_to_groups), 0) = 0 OR EXISTS (
                        SELECT 1 FROM group_members gm WHERE gm.user_id = $5 AND gm.group_id = ANY(i.visible_to_groups)))))
             ORDER BY rank DESC, i.name LIMIT $3",
        )
        .bind(q)
        .bind(contains_pattern(q))
        .bind(LIMIT)
        .bind(manager)
        .bind(p.user_id)
        .fetch_all(&mut **tx)
        .await?;
        hits.extend(items);
    }
    if p.can(crate::identity::perm::USERS_READ) {
        let users: Vec<Hit> = sqlx::query_as(
            "SELECT 'user' AS kind, id, NULL::text AS number, name || ' <' || email || '>' AS title,
                '/admin/users/' || id AS url, status, NULL::text AS body, similarity(name, $1)::real AS rank
             FROM users WHERE name ILIKE $2 OR email ILIKE $2 ORDER BY rank DESC, name LIMIT $3",
        )
        .bind(q)
        .bind(contains_pattern(q))
        .bind(LIMIT)
        .fetch_all(&mut **tx)
        .await?;
        hits.extend(users);
    }
    hits.sort_by(|a, b| b.rank.total_cmp(&a.rank));
    with_snippets(&mut hits, q);
    Ok(hits)
}

#[derive(Serialize, ToSchema)]
pub struct Hits {
    pub data: Vec<Hit>,
}

/// Searches issues, applications and users the caller may see; an issue number (`ISS-42`)
/// matches exactly and comes first.
#[utoipa::path(get, path = "/search", tag = "search", operation_id = "search",
    params(("q" = String, Query, description = "words, or a number such as ISS-42 / APP-00003")),
    responses((status = 200, body = Hits)))]
pub async fn api_search(
    mut ctx: ApiCtx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Hits>, AppError> {
    let text = query_of(&q)?;
    let data = everything(&mut ctx.tx, &ctx.principal, &text).await?;
    ctx.commit().await?;
    Ok(Json(Hits { data }))
}

/// Searches issues only (number, title, description and the comments the caller may see).
#[utoipa::path(get, path = "/search/issues", tag = "search", operation_id = "searchIssues",
    params(("q" = String, Query)), responses((status = 200, body = Hits)))]
pub async fn api_search_issues(
    mut ctx: ApiCtx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Hits>, AppError> {
    ctx.require(crate::issues::perm::ISSUES_READ)?;
    let text = query_of(&q)?;
    let scope = Scope::of(&mut ctx.tx, &ctx.principal).await?;
    let data = issues(&mut ctx.tx, &scope, &text).await?;
    ctx.commit().await?;
    Ok(Json(Hits { data }))
}

#[derive(Template)]
#[template(path = "search/results.html", blocks = ["content"])]
struct ResultsPage {
    chrome: Chrome,
    q: String,
    hits: Vec<Hit>,
    error: Option<String>,
}

/// The search page; an exact issue or application number goes straight to its page.
pub async fn page(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let blank = q.get("q").is_none_or(|s| s.trim().is_empty());
    let (hits, error) = match query_of(&q) {
        Ok(text) => (everything(&mut ctx.tx, &ctx.principal, &text).await?, None),
        // An empty box is a page to type in, not a mistake.
        Err(_) if blank => (Vec::new(), None),
        Err(_) => (
            Vec::new(),
            Some("Searches are at most 200 characters long.".to_string()),
        ),
    };
    ctx.tx.commit().await?;
    if let Some(first) = hits.first()
        && first.rank >= 10.0
    {
        return Ok(see_other(hx, &first.url));
    }
    let tpl = ResultsPage {
        chrome: Chrome::new(&ctx.principal, &ctx.csrf, "", &ctx.manifest, ctx.now),
        q: q.get("q").cloned().unwrap_or_default(),
        hits,
        error,
    };
    Ok(render_page!(hx, tpl))
}

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_search))
        .routes(routes!(api_search_issues))
}

pub fn web_routes() -> Routes {
    Routes::new()
        .route("/search", axum::routing::get(page))
        .route("/palette", axum::routing::get(palette::palette))
}

pub fn module() -> Module {
    Module {
        api: Some(api_routes),
        web: Some(web_routes),
        ..Module::new("search")
    }
}

#[cfg(test)]
mod tests {
    use super::snippet;

    #[test]
    fn snippets_centre_on_the_first_word_found_and_say_where_they_were_cut() {
        let body = format!(
            "{} the printer jams on page two {}",
            "x ".repeat(80),
            "y ".repeat(80)
        );
        let s = snippet(&body, "jams").expect("a body gives a snippet");
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("the printer jams on page two"), "{s}");
        assert!(s.chars().count() <= 162);
        assert_eq!(
            snippet("Short\n\n text", "nothing").as_deref(),
            Some("Short text")
        );
        assert_eq!(snippet("   ", "x"), None);
        // Non-ASCII before the match does not split a character.
        assert!(snippet(&format!("{}é match", "ü".repeat(100)), "match").is_some());
    }
}
