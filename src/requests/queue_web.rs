//! The service desk's request queue page: tabs, filters, saved views, keyset paging, live
//! refresh and bulk actions — the issue queue's machinery (`platform::queue`,
//! `platform::queue_views`) over requests.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::Form;
use axum::http::StatusCode;
use axum::response::Response;
use domain::requests::Action;

use super::actions::{self, ActionBody};
use super::perm::{REQUESTS_READ_ALL, REQUESTS_UPDATE};
use super::store::{self, Request, Scope};
use crate::identity::users_api::parse_id;
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::queue_views::{self, Address, Bulk, Tab, View};
use crate::platform::toast::Toast;
use crate::platform::web::{Choices, Chrome, Hx, PathId, choices};
use crate::render_page;

/// The queue tabs: (key, label, query string).
pub const TABS: &[Tab] = &[
    ("mine", "Assigned to me", "assigned_to=me"),
    ("groups", "My groups", "mine=groups"),
    ("unassigned", "Nobody on it", "assigned_to=none"),
    (
        "approval",
        "Waiting for approval",
        "status=pending_approval",
    ),
    (
        "breaching",
        "Breaching soon",
        "sla=breaching_soon&sort=resolution_due_at",
    ),
    ("open", "All open", "status=open"),
];

const KEEP: &[&str] = &[
    "status",
    "priority",
    "assigned_group",
    "assigned_to",
    "catalog_item_id",
    "sla",
    "mine",
    "q",
    "sort",
    "order",
];

const AGENTS: &str = "SELECT DISTINCT u.id, u.name FROM users u
    JOIN user_roles ur ON ur.user_id = u.id JOIN role_permissions rp ON rp.role_id = ur.role_id
    JOIN permissions p ON p.id = rp.permission_id
    WHERE u.status = 'active' AND p.resource = 'requests' AND p.action = 'update' ORDER BY u.name";
const ITEMS: &str = "SELECT id, name FROM catalog_items WHERE status <> 'retired' ORDER BY name";

#[derive(Template)]
#[template(path = "requests/queue.html", blocks = ["content"])]
struct QueuePage {
    chrome: Chrome,
    rows: Vec<Request>,
    /// None on keyset pages after the first.
    total: Option<i64>,
    total_capped: bool,
    f: BTreeMap<String, String>,
    query: String,
    here: String,
    tab: &'static str,
    path: &'static str,
    tabs: &'static [Tab],
    next: Option<String>,
    agents: Choices,
    groups: Choices,
    items: Choices,
    views: Vec<View>,
    can_update: bool,
    statuses: &'static [&'static str],
    priorities: &'static [&'static str],
    error: Option<String>,
}

impl QueuePage {
    /// How many filters besides the search words narrow the queue (the phone's folded filter
    /// form says so, and opens when any is on).
    fn filters_on(&self) -> usize {
        queue_views::filters_on(
            &self.f,
            &[
                "priority",
                "assigned_group",
                "assigned_to",
                "catalog_item_id",
                "sla",
            ],
        )
    }
}

/// The queue at `q`, with `error` (a refused bulk action or view) above it.
pub async fn queue(
    mut ctx: WebCtx,
    hx: bool,
    q: HashMap<String, String>,
    error: Option<(StatusCode, String)>,
) -> Result<Response, WebError> {
    ctx.require(REQUESTS_READ_ALL)?;
    let Address {
        f,
        query,
        here,
        tab,
        params,
    } = queue_views::address("/requests", &q, KEEP, TABS, 50);
    let parsed = super::queue::Query::parse(&params)?;
    let r = super::queue::list(&mut ctx.tx, &parsed, ctx.principal.user_id, ctx.now).await?;
    let agents = choices(&mut ctx.tx, AGENTS).await?;
    let groups = choices(&mut ctx.tx, crate::issues::web::GROUPS).await?;
    let items = choices(&mut ctx.tx, ITEMS).await?;
    let views = queue_views::list(&mut ctx.tx, ctx.principal.user_id, "request").await?;
    ctx.tx.commit().await?;
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    let page = QueuePage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "requests",
            &ctx.manifest,
            ctx.now,
        ),
        rows: r.rows,
        total: r.total,
        total_capped: r.total_capped,
        f,
        query,
        here,
        tab,
        path: "/requests",
        tabs: TABS,
        next: r.next_cursor,
        agents,
        groups,
        items,
        views,
        can_update: ctx.principal.can(REQUESTS_UPDATE),
        statuses: domain::requests::STATUSES,
        priorities: domain::issues::PRIORITIES,
        error,
    };
    Ok(render_page!(hx, page, status))
}

/// Bulk actions on the ticked requests — assign, or cancel — all of them or none (each checked
/// as if done one by one).
pub async fn bulk(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let form = Bulk::read(&pairs);
    let Bulk {
        back,
        action,
        value,
        ids,
    } = &form;
    ctx.require(REQUESTS_UPDATE)?;
    let saved = ctx
        .save(async |ctx| {
            if ids.is_empty() {
                return Err(AppError::field("ids", "tick at least one request"));
            }
            let (actor, slug, now) = (ctx.actor(), ctx.principal.slug.clone(), ctx.now);
            for raw in ids {
                let id = parse_id(raw)?;
                let number = store::get(&mut ctx.tx, id, Scope::All)
                    .await?
                    .request_number;
                let (action, body) = match (action.as_str(), value.as_deref()) {
                    ("assign", Some(v)) => {
                        let (user, group) = match v.split_once(':') {
                            Some(("user", u)) => (u.parse().ok(), None),
                            Some(("group", g)) => (None, g.parse().ok()),
                            _ => (None, None),
                        };
                        let body = ActionBody {
                            assigned_to: user,
                            assigned_group: group,
                            notes: None,
                        };
                        (Action::Assign, body)
                    }
                    ("cancel", _) => {
                        let body = ActionBody {
                            notes: Some("Cancelled with other requests from the queue.".into()),
                            ..Default::default()
                        };
                        (Action::Cancel, body)
                    }
                    _ => return Err(AppError::field("action", "pick an action and a value")),
                };
                actions::act(
                    &mut ctx.tx,
                    &slug,
                    &actor,
                    Scope::All,
                    id,
                    action,
                    &body,
                    now,
                )
                .await
                .map_err(|e| queue_views::about(&number, e))?;
            }
            Ok(())
        })
        .await?;
    match saved {
        Ok(()) => {
            let done = Toast::success(form.done("request", "requests"));
            ctx.saved_with(hx, &format!("/requests?{back}"), &done)
                .await
        }
        Err(refused) => {
            let q: HashMap<String, String> = serde_urlencoded::from_str(back).unwrap_or_default();
            let status = refused.status;
            let said = queue_views::refusal(refused, "requests");
            queue(ctx, hx, q, Some((status, said))).await
        }
    }
}

/// Saves the current filters as a named view of the user's.
pub async fn save_view(
    ctx: WebCtx,
    Hx(hx): Hx,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, WebError> {
    ctx.require(REQUESTS_READ_ALL)?;
    queue_views::save_page(ctx, hx, form, "request", "/requests", KEEP, queue).await
}

pub async fn delete_view(
    ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
) -> Result<Response, WebError> {
    ctx.require(REQUESTS_READ_ALL)?;
    queue_views::delete_page(ctx, hx, id, "/requests").await
}
