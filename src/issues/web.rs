//! The issue queue: tabs, filters, sorting, keyset paging, inline edits and bulk actions.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::Form;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use uuid::Uuid;

use super::actions::{self, Acting, AssignBody, CloseBody, IssueChanges};
use super::store::{self, Issue, Scope};
use crate::identity::users_api::parse_id;
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::queue_views::{self, Address, Bulk, Tab};
use crate::platform::toast::{Toast, Undo, see_other_with};
use crate::platform::web::PathId;
use crate::platform::web::{Choices, Chrome, Hx, choices, label};
use crate::render_page;

pub const AGENTS: &str = "SELECT DISTINCT u.id, u.name FROM users u
    JOIN user_roles ur ON ur.user_id = u.id JOIN role_permissions rp ON rp.role_id = ur.role_id
    JOIN permissions p ON p.id = rp.permission_id
    WHERE u.status = 'active' AND p.resource = 'issues' AND p.action = 'update' ORDER BY u.name";
pub const GROUPS: &str = "SELECT id, name FROM groups ORDER BY name";
pub const APPLICATIONS: &str = "SELECT id, app_id || ' ' || name FROM applications WHERE COALESCE(status, 'active') = 'active' ORDER BY name";
pub const CATEGORIES: &str = super::settings::CATEGORY_CHOICES;

/// Opens the acting context of a page request.
pub async fn acting<'a>(
    ctx: &'a mut WebCtx,
    perm: crate::platform::module::Perm,
) -> Result<Acting<'a>, WebError> {
    ctx.require(perm)?;
    let actor = ctx.actor();
    Ok(Acting::open(&mut ctx.tx, &ctx.principal, actor, ctx.now).await?)
}

/// The queue tabs: (key, label, query string).
pub const TABS: &[Tab] = &[
    ("mine", "My issues", "assigned_to=me"),
    ("groups", "My groups", "mine=groups"),
    (
        "unassigned",
        "Unassigned",
        "assigned_to=none&assigned_group=none",
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
    "application_id",
    "category_id",
    "sla",
    "mine",
    "q",
    "sort",
    "order",
];

#[derive(Template)]
#[template(path = "issues/queue.html", blocks = ["content"])]
struct QueuePage {
    chrome: Chrome,
    issues: Vec<Issue>,
    /// None on keyset pages after the first.
    total: Option<i64>,
    total_capped: bool,
    f: BTreeMap<String, String>,
    /// The filters as a query string (for sharing, saving and paging links).
    query: String,
    /// This page's own address, cursor included: what a live refresh re-fetches.
    here: String,
    tab: &'static str,
    /// The queue's address and tabs (the shared queue templates use them).
    path: &'static str,
    tabs: &'static [Tab],
    next: Option<String>,
    agents: Choices,
    groups: Choices,
    applications: Choices,
    views: Vec<(Uuid, String, String)>,
    can_assign: bool,
    can_update: bool,
    can_create: bool,
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
                "application_id",
                "sla",
            ],
        )
    }
}

async fn queue(
    mut ctx: WebCtx,
    hx: bool,
    q: HashMap<String, String>,
    error: Option<(StatusCode, String)>,
) -> Result<Response, WebError> {
    ctx.require(crate::issues::perm::ISSUES_READ)?;
    let Address {
        f,
        query,
        here,
        tab,
        params,
    } = queue_views::address("/issues", &q, KEEP, TABS, 50);
    let parsed = super::queue::Query::parse(&params, "open")?;
    let scope = Scope::of(&mut ctx.tx, &ctx.principal).await?;
    let r =
        super::queue::list(&mut ctx.tx, &scope, &parsed, ctx.principal.user_id, ctx.now).await?;
    let agents = choices(&mut ctx.tx, AGENTS).await?;
    let groups = choices(&mut ctx.tx, GROUPS).await?;
    let applications = choices(&mut ctx.tx, APPLICATIONS).await?;
    let views = queue_views::list(&mut ctx.tx, ctx.principal.user_id, "issue").await?;
    ctx.tx.commit().await?;
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    let page = QueuePage {
        chrome: Chrome::new(&ctx.principal, &ctx.csrf, "issues", &ctx.manifest, ctx.now),
        issues: r.rows,
        total: r.total,
        total_capped: r.total_capped,
        f,
        query,
        here,
        tab,
        path: "/issues",
        tabs: TABS,
        next: r.next_cursor,
        agents,
        groups,
        applications,
        views,
        can_assign: ctx.principal.can(crate::issues::perm::ISSUES_ASSIGN),
        can_update: ctx.principal.can(crate::issues::perm::ISSUES_UPDATE),
        can_create: ctx.principal.can(crate::issues::perm::ISSUES_CREATE),
        statuses: domain::issues::STATUSES,
        priorities: domain::issues::PRIORITIES,
        error,
    };
    Ok(render_page!(hx, page, status))
}

pub async fn list(
    ctx: WebCtx,
    Hx(hx): Hx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, WebError> {
    ctx.require(crate::issues::perm::ISSUES_READ)?;
    if !ctx.principal.can(crate::issues::perm::ISSUES_UPDATE) {
        return super::mine::page(ctx, hx).await;
    }
    queue(ctx, hx, q, None).await
}

/// One row's inline edit (status, priority, assignee) from the queue. Either way the browser
/// goes back to the queue it came from (never left at this POST address): saved, with a toast
/// that says what changed and offers to undo it; refused, with the reason as an error toast.
pub async fn quick_edit(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let back = form.get("back").cloned().unwrap_or_default();
    let to = format!("/issues?{back}");
    ctx.require(crate::issues::perm::ISSUES_UPDATE)?;
    let saved = ctx
        .save(async |ctx| {
            let actor = ctx.actor();
            let mut a = Acting::open(&mut ctx.tx, &ctx.principal, actor, ctx.now).await?;
            quick(&mut a, id, &form).await
        })
        .await?;
    match saved {
        Ok(toast) => ctx.saved_with(hx, &to, &toast).await,
        Err(r) => {
            // Only reached once the issue was found in the viewer's scope.
            let number: String =
                sqlx::query_scalar("SELECT issue_number FROM issues WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut *ctx.tx)
                    .await
                    .map_err(AppError::from)?;
            let why = r
                .errors
                .0
                .values()
                .cloned()
                .chain(r.notice)
                .collect::<Vec<_>>()
                .join("; ");
            let toast = Toast::error(format!("{number} was not changed: {why}."));
            ctx.tx.commit().await?;
            Ok(see_other_with(hx, &to, &toast))
        }
    }
}

/// Applies the row's choices; says what changed, with the reverse as an undo when every change
/// can be reversed (a status the workflow can go back to, an assignee that was a person).
async fn quick(
    a: &mut Acting<'_>,
    id: Uuid,
    form: &HashMap<String, String>,
) -> Result<Toast, AppError> {
    let before = store::get(a.tx, &a.scope, id).await?;
    let get = |k: &str| form.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut said = Vec::new();
    let mut reversible = true;
    if let Some(user) = get("assigned_to")
        && Some(user.to_string()) != before.assigned_to.map(|u| u.to_string())
    {
        let user = user
            .parse()
            .map_err(|_| AppError::field("assigned_to", "pick someone from the list"))?;
        let after = actions::assign(
            a,
            id,
            &AssignBody {
                assigned_to: Some(user),
                ..Default::default()
            },
            false,
        )
        .await?;
        reversible &= before.assigned_to.is_some() && after.status == before.status;
        said.push(format!(
            "assigned to {}",
            after.assigned_to_name.as_deref().unwrap_or("someone")
        ));
    }
    let mut changes = IssueChanges::default();
    if let Some(p) = get("priority").filter(|p| *p != before.priority) {
        changes.priority = Some(p.to_string());
        said.push(format!("priority {}", label(p)));
    }
    let current = store::get(a.tx, &a.scope, id).await?.status;
    if let Some(s) = get("status").filter(|s| *s != current) {
        match s {
            "closed" => {
                actions::close(a, id, &CloseBody::default()).await?;
                reversible = false;
            }
            "resolved" => {
                return Err(AppError::field(
                    "status",
                    "resolving needs a resolution code and notes: open the issue to resolve it",
                ));
            }
            _ => {
                changes.status = Some(s.to_string());
                reversible &= domain::issues::Action::into_status(&before.status)
                    .and_then(|back| domain::issues::next(s, back, true))
                    == Some(before.status.as_str());
            }
        }
        said.push(format!("status {}", label(s)));
    }
    if changes.priority.is_some() || changes.status.is_some() {
        actions::update(a, id, &changes).await?;
    }
    let number = before.issue_number;
    if said.is_empty() {
        return Ok(Toast::success(format!("{number}: nothing to change.")));
    }
    let undo = reversible.then(|| Undo {
        action: format!("/issues/{id}/quick"),
        fields: [
            ("status", Some(before.status.clone())),
            ("priority", Some(before.priority.clone())),
            ("assigned_to", before.assigned_to.map(|u| u.to_string())),
            ("back", form.get("back").cloned()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect(),
    });
    let text = format!("{number} saved: {}.", said.join(", "));
    Ok(Toast::success(text).with_undo(undo))
}

/// Bulk actions on the ticked issues: all of them or none (each still checked for permission
/// and visibility, as if done one by one).
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
    ctx.require(crate::issues::perm::ISSUES_READ)?;
    let saved = ctx
        .save(async |ctx| {
            let mut a = acting(ctx, crate::issues::perm::ISSUES_READ)
                .await
                .map_err(|e| e.0)?;
            if ids.is_empty() {
                return Err(AppError::field("ids", "tick at least one issue"));
            }
            for raw in ids {
                let id = parse_id(raw)?;
                let number = store::get(a.tx, &a.scope, id).await?.issue_number;
                let label = |e: AppError| queue_views::about(&number, e);
                match (action.as_str(), value.as_deref()) {
                    ("assign", Some(v)) => {
                        let (user, group) = match v.split_once(':') {
                            Some(("user", u)) => (u.parse().ok(), None),
                            Some(("group", g)) => (None, g.parse().ok()),
                            _ => (None, None),
                        };
                        let body = AssignBody {
                            assigned_to: user,
                            assigned_group: group,
                            reason: Some("bulk assignment".into()),
                        };
                        actions::assign(&mut a, id, &body, false)
                            .await
                            .map_err(label)?;
                    }
                    ("priority", Some(p)) => {
                        let c = IssueChanges {
                            priority: Some(p.to_string()),
                            ..Default::default()
                        };
                        actions::update(&mut a, id, &c).await.map_err(label)?;
                    }
                    ("status", Some(s)) => {
                        let c = IssueChanges {
                            status: Some(s.to_string()),
                            reason: Some("bulk change".into()),
                            ..Default::default()
                        };
                        actions::update(&mut a, id, &c).await.map_err(label)?;
                    }
                    ("close", _) => {
                        let body = CloseBody {
                            reason: Some("bulk close".into()),
                            confirm_open_children: false,
                        };
                        actions::close(&mut a, id, &body).await.map_err(label)?;
                    }
                    _ => return Err(AppError::field("action", "pick an action and a value")),
                }
            }
            Ok(())
        })
        .await?;
    match saved {
        Ok(()) => {
            let done = Toast::success(form.done("issue", "issues"));
            ctx.saved_with(hx, &format!("/issues?{back}"), &done).await
        }
        Err(refused) => {
            // Nothing of the batch is kept.
            let q: HashMap<String, String> = serde_urlencoded::from_str(back).unwrap_or_default();
            let status = refused.status;
            let said = queue_views::refusal(refused, "issues");
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
    ctx.require(crate::issues::perm::ISSUES_READ)?;
    queue_views::save_page(ctx, hx, form, "issue", "/issues", KEEP, queue).await
}

pub async fn delete_view(
    ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
) -> Result<Response, WebError> {
    ctx.require(crate::issues::perm::ISSUES_READ)?;
    queue_views::delete_page(ctx, hx, id, "/issues").await
}

/// For templates: whether an optional id is the option's id.
pub fn is(v: &Option<Uuid>, id: &str) -> bool {
    v.is_some_and(|v| v.to_string() == id)
}
