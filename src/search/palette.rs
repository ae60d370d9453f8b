//! The command palette (`/` or Ctrl/⌘-K on every page): one box that finds pages (fuzzy over
//! the navigation this person sees), issues by number or words, and actions on an issue —
//! "assign ISS-42 to me", "resolve ISS-42", or on the issue being viewed just "assign to me".
//! Answers an HTML fragment of options; `static/js/app.js` moves through them with the arrow
//! keys and runs the chosen one (a link, or a form posted with the page's CSRF token, so every
//! action goes through the same handler, permission check and audit as its button).

use std::collections::HashMap;

use askama::Template;
use axum::extract::Query;
use axum::response::Response;
use uuid::Uuid;

use crate::issues::perm::{ISSUES_ASSIGN, ISSUES_CREATE, ISSUES_READ, ISSUES_UPDATE};
use crate::issues::store::{self, Issue, Scope, normalize_number};
use crate::platform::auth::Principal;
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::tenancy::TenantTx;
use crate::platform::web::{Chrome, html, label};

/// One choice: where it goes, or the form it posts.
pub struct Item {
    pub group: &'static str,
    pub label: String,
    pub hint: String,
    pub href: Option<String>,
    pub post: Option<(String, String)>,
    /// The first of its group: the template puts the group's heading above it.
    pub heads_group: bool,
    score: i32,
}

impl Item {
    fn link(group: &'static str, label: String, hint: String, href: String) -> Item {
        Item {
            group,
            label,
            hint,
            href: Some(href),
            post: None,
            heads_group: false,
            score: 0,
        }
    }

    fn form(group: &'static str, label: String, action: String, fields: &[(&str, &str)]) -> Item {
        let fields = serde_json::to_string(fields).unwrap_or_default();
        Item {
            group,
            label,
            hint: String::new(),
            href: None,
            post: Some((action, fields)),
            heads_group: false,
            score: 0,
        }
    }
}

#[derive(Template)]
#[template(path = "search/palette.html")]
struct Options {
    items: Vec<Item>,
}

const MAX_QUERY: usize = 200;

pub async fn palette(
    mut ctx: WebCtx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let text: String = q
        .get("q")
        .map(|s| s.trim())
        .unwrap_or_default()
        .chars()
        .take(MAX_QUERY)
        .collect();
    let context = q.get("issue").and_then(|s| s.parse::<Uuid>().ok());
    let chrome = Chrome::new(&ctx.principal, &ctx.csrf, "", &ctx.manifest, ctx.now);
    let mut items = Vec::new();
    if ctx.principal.can(ISSUES_READ) {
        items.extend(issue_items(&mut ctx.tx, &ctx.principal, &text, context).await?);
    }
    items.extend(pages(&chrome, &ctx.principal, &text));
    if !text.is_empty() {
        let href = format!(
            "/search?{}",
            serde_urlencoded::to_string([("q", &text)]).unwrap_or_default()
        );
        let label = format!("Search everything for “{text}”");
        items.push(Item::link("Search", label, String::new(), href));
    }
    for i in 0..items.len() {
        items[i].heads_group = i == 0 || items[i - 1].group != items[i].group;
    }
    ctx.tx.commit().await?;
    let body = Options { items }.render();
    Ok(html(axum::http::StatusCode::OK, body))
}

/// Pages whose names match, best first (all of them, in navigation order, for an empty box).
fn pages(chrome: &Chrome, p: &Principal, q: &str) -> Vec<Item> {
    let mut all: Vec<(String, &'static str, &'static str)> = chrome
        .nav
        .iter()
        .map(|n| (n.label.to_string(), n.href, n.section.menu().unwrap_or("")))
        .collect();
    if p.can(ISSUES_CREATE) {
        all.push(("New issue".into(), "/issues/new", "Issues"));
    }
    all.push(("Profile".into(), "/profile", "You"));
    all.push(("Notifications".into(), "/notifications", "You"));
    all.push((
        "Notification settings".into(),
        "/profile/notifications",
        "You",
    ));
    let mut found: Vec<Item> = all
        .into_iter()
        .filter_map(|(label, href, hint)| {
            let score = domain::fuzzy::score(q, &label)?;
            let mut item = Item::link("Pages", label, hint.to_string(), href.to_string());
            item.score = score;
            Some(item)
        })
        .collect();
    found.sort_by_key(|i| -i.score);
    found.truncate(if q.is_empty() { 12 } else { 6 });
    found
}

/// An issue named by number in the query (or the one on screen) with the actions that fit its
/// state and this person's rights; otherwise issues matching the words.
async fn issue_items(
    tx: &mut TenantTx,
    p: &Principal,
    q: &str,
    context: Option<Uuid>,
) -> Result<Vec<Item>, AppError> {
    let scope = Scope::of(tx, p).await?;
    let number = q.split_whitespace().find_map(normalize_number);
    let rest: String = q
        .split_whitespace()
        .filter(|w| normalize_number(w).is_none())
        .collect::<Vec<_>>()
        .join(" ");
    let target = match (&number, context) {
        (Some(n), _) => by_number(tx, &scope, n).await?,
        (None, Some(id)) => visible(tx, &scope, id).await?,
        (None, None) => None,
    };
    let mut items = Vec::new();
    if let Some(issue) = &target {
        let mut actions: Vec<Item> = actions(p, issue)
            .into_iter()
            .filter_map(|(verb, mut item)| {
                item.score = domain::fuzzy::score(&rest, verb)?;
                Some(item)
            })
            .collect();
        // On the issue's own page an empty box offers its actions; elsewhere they need a verb
        // or the number.
        if number.is_some() || !rest.is_empty() || q.is_empty() {
            actions.sort_by_key(|i| -i.score);
            items.extend(actions);
        }
    }
    if number.is_none() && q.chars().count() >= 2 {
        for hit in crate::search::issues(tx, &scope, q)
            .await?
            .into_iter()
            .take(5)
        {
            let label = format!("{} {}", hit.number.unwrap_or_default(), hit.title);
            items.push(Item::link("Issues", label, String::new(), hit.url));
        }
    }
    Ok(items)
}

async fn by_number(
    tx: &mut TenantTx,
    scope: &Scope,
    number: &str,
) -> Result<Option<Issue>, AppError> {
    let id: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM issues WHERE issue_number = $1 AND deleted_at IS NULL")
            .bind(number)
            .fetch_optional(&mut **tx)
            .await?;
    match id {
        Some(id) => visible(tx, scope, id).await,
        None => Ok(None),
    }
}

/// The issue if this person may see it; nothing (not an error) otherwise.
async fn visible(tx: &mut TenantTx, scope: &Scope, id: Uuid) -> Result<Option<Issue>, AppError> {
    match store::get(tx, scope, id).await {
        Ok(i) => Ok(Some(i)),
        Err(AppError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What can be done to `i` from the palette, each with the words it answers to.
fn actions(p: &Principal, i: &Issue) -> Vec<(&'static str, Item)> {
    use domain::issues::{Action, is_open, next};
    let n = &i.issue_number;
    let page = format!("/issues/{}", i.id);
    let mut out = vec![(
        "open go to",
        Item::link(
            "Actions",
            format!("Open {n}"),
            format!("{} · {}", label(&i.status), i.title),
            page.clone(),
        ),
    )];
    let agent = p.can(ISSUES_UPDATE);
    if agent && p.can(ISSUES_ASSIGN) && is_open(&i.status) && i.assigned_to != Some(p.user_id) {
        let me = p.user_id.to_string();
        out.push((
            "assign to me take",
            Item::form(
                "Actions",
                format!("Assign {n} to me"),
                format!("{page}/assign"),
                &[("assigned_to", &me)],
            ),
        ));
    }
    if agent && next(&i.status, Action::Start, true).is_some() {
        out.push((
            "start work in progress",
            Item::form(
                "Actions",
                format!("Start work on {n}"),
                format!("{page}/status"),
                &[("status", "in_progress")],
            ),
        ));
    }
    if agent && is_open(&i.status) {
        out.push((
            "resolve fix",
            Item::link(
                "Actions",
                format!("Resolve {n}…"),
                "Opens the resolution form".into(),
                format!("{page}#resolve-form"),
            ),
        ));
    }
    if agent && i.status == "resolved" {
        out.push((
            "close",
            Item::form(
                "Actions",
                format!("Close {n}"),
                format!("{page}/close"),
                &[],
            ),
        ));
    }
    out.push((
        "comment reply",
        Item::link(
            "Actions",
            format!("Comment on {n}…"),
            String::new(),
            format!("{page}#comment-form"),
        ),
    ));
    out
}
