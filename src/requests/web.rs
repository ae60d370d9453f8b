//! Request pages: "My requests" for requesters (the desk gets the queue, `queue_web`), a
//! request with its answers (in the labels of the version it was submitted under), approvals,
//! actions, comments and history.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::Form;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use domain::catalog::schema;
use domain::fulfilment::{self, TaskAction};
use domain::requests::{Action, allowed};
use uuid::Uuid;

use super::actions::{self, ActionBody, ENTITY};
use super::api::{cancel_scope, scope_of};
use super::perm::{REQUESTS_READ, REQUESTS_READ_ALL, REQUESTS_UPDATE};
use super::store::{self, Comment, HistoryEntry, Request, Scope};
use super::tasks::{self, Task, TaskBody};
use crate::approvals::engine::{self, ChainState};
use crate::catalog::form;
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::listing;
use crate::platform::toast::Toast;
use crate::platform::web::{Choices, Chrome, Errors, Hx, PathId, PathIds, choices, label};
use crate::render_page;
use crate::sla::panel::{SlaPanel, panel};
use crate::sla::timers::Clocked;

#[derive(Template)]
#[template(path = "requests/list.html", blocks = ["content"])]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Request>,
    total: i64,
    /// The status tab: open, pending_approval, completed, all.
    tab: String,
    q: String,
}

const TABS: &[(&str, &str)] = &[
    ("open", "Open"),
    ("pending_approval", "Waiting for approval"),
    ("completed", "Completed"),
    ("all", "All"),
];

pub async fn list(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, WebError> {
    ctx.require(REQUESTS_READ)?;
    // The service desk works a queue; requesters follow their own requests.
    if ctx.principal.can(REQUESTS_READ_ALL) {
        return super::queue_web::queue(ctx, hx, q, None).await;
    }
    let tab = q
        .get("tab")
        .filter(|t| TABS.iter().any(|(k, _)| k == t))
        .cloned()
        .unwrap_or_else(|| "open".into());
    let text = q.get("q").map(|s| s.trim().to_string()).unwrap_or_default();
    let mut query: HashMap<String, String> = HashMap::from([("per_page".into(), "100".into())]);
    if !text.is_empty() {
        query.insert("q".into(), text.clone());
    }
    let open: Vec<&str> = domain::requests::STATUSES
        .iter()
        .copied()
        .filter(|s| domain::requests::is_open(s))
        .collect();
    match tab.as_str() {
        "open" => {
            query.insert("status".into(), open.join(","));
        }
        "pending_approval" | "completed" => {
            query.insert("status".into(), tab.clone());
        }
        _ => {}
    }
    let params = listing::parse(&store::LIST_SPEC, &query)?;
    let (rows, total) = store::list(&mut ctx.tx, &params, scope_of(&ctx.principal)).await?;
    ctx.tx.commit().await?;
    let page = ListPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "requests",
            &ctx.manifest,
            ctx.now,
        ),
        rows,
        total,
        tab,
        q: text,
    };
    Ok(render_page!(hx, page))
}

impl ListPage {
    fn tabs(&self) -> &'static [(&'static str, &'static str)] {
        TABS
    }
}

/// An answer as the request page shows it.
pub struct AnswerRow {
    pub label: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "requests/request.html", blocks = ["content"])]
struct ShowPage {
    chrome: Chrome,
    r: Request,
    answers: Vec<AnswerRow>,
    chain: ChainState,
    /// The viewer's own pending approval here.
    my_approval: Option<Uuid>,
    comments: Vec<Comment>,
    history: Vec<HistoryEntry>,
    can_update: bool,
    can_cancel: bool,
    /// The answers may still change (by the requester or the desk).
    can_edit: bool,
    actions: Vec<&'static str>,
    users: Choices,
    groups: Choices,
    tasks: Vec<Task>,
    /// The task whose form the errors belong to.
    failed_task: Option<Uuid>,
    errors: Errors,
    notice: Option<String>,
    /// Its SLA clocks (a bundle's parent has none: its items do).
    sla: SlaPanel,
}

pub async fn answers_of(
    tx: &mut crate::platform::tenancy::TenantTx,
    r: &Request,
) -> Result<Vec<AnswerRow>, AppError> {
    let form_schema = match (r.catalog_item_id, r.form_version, r.bundle_id) {
        (Some(item), Some(v), _) => {
            crate::catalog::store::version(tx, item, v)
                .await?
                .form_schema
        }
        // A bundle request's answers are those to the shared questions of its version.
        (_, version, Some(bundle)) => {
            let asked = match version {
                Some(v) => crate::catalog::bundles::version_form(tx, bundle, v).await?,
                None => None,
            };
            match asked {
                Some(form) => form,
                None => {
                    crate::catalog::bundles::get(tx, bundle, true)
                        .await?
                        .form_schema
                }
            }
        }
        _ => return Ok(Vec::new()),
    };
    let Ok(s) = schema::parse(&form_schema) else {
        return Ok(Vec::new());
    };
    let values = r.form_data.as_object().cloned().unwrap_or_default();
    let names = form::picked_names(tx, &s, &values).await?;
    Ok(s.fields
        .iter()
        .filter_map(|f| {
            let v = values.get(&f.id)?;
            Some(AnswerRow {
                label: f.label.clone(),
                text: form::answer_text(f, v, &names),
            })
        })
        .collect())
}

async fn show_page(
    ctx: WebCtx,
    hx: bool,
    id: Uuid,
    errors: BTreeMap<String, String>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    show_page_for(ctx, hx, id, None, errors, notice, status).await
}

async fn show_page_for(
    mut ctx: WebCtx,
    hx: bool,
    id: Uuid,
    failed_task: Option<Uuid>,
    errors: BTreeMap<String, String>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let r = store::get(&mut ctx.tx, id, scope_of(&ctx.principal)).await?;
    let tasks = tasks::list(&mut ctx.tx, r.id).await?;
    let answers = answers_of(&mut ctx.tx, &r).await?;
    let chain = engine::chain_state(&mut ctx.tx, ENTITY, r.id).await?;
    let today = ctx.principal.today(ctx.now);
    let my_approval = if ctx.principal.can(crate::approvals::perm::APPROVALS_DECIDE) {
        engine::pending_for(&mut ctx.tx, ENTITY, r.id, ctx.principal.user_id, today).await?
    } else {
        None
    };
    let can_update = ctx.principal.can(REQUESTS_UPDATE);
    let comments = store::comments(&mut ctx.tx, r.id, can_update).await?;
    let history = store::history(&mut ctx.tx, r.id).await?;
    let tz: chrono_tz::Tz = ctx.principal.timezone.parse().unwrap_or(chrono_tz::Tz::UTC);
    let sla = panel(&mut ctx.tx, Clocked::Request(r.id), ctx.now, tz).await?;
    let (users, groups) = if can_update {
        (
            choices(
                &mut ctx.tx,
                "SELECT id, name FROM users WHERE status = 'active' ORDER BY name",
            )
            .await?,
            choices(&mut ctx.tx, "SELECT id, name FROM groups ORDER BY name").await?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    ctx.tx.commit().await?;
    let allowed_now = allowed(&r.status);
    let can_cancel = allowed_now.contains(&Action::Cancel)
        && (can_update || r.requester_id == Some(ctx.principal.user_id));
    let actions = if can_update {
        allowed_now
            .iter()
            .filter(|a| matches!(a, Action::Assign | Action::Complete | Action::Reopen))
            .map(|a| a.key())
            .collect()
    } else {
        Vec::new()
    };
    let can_edit = r.catalog_item_id.is_some()
        && matches!(r.status.as_str(), "new" | "pending_approval" | "approved")
        && (can_update || r.requester_id == Some(ctx.principal.user_id));
    let page = ShowPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "requests",
            &ctx.manifest,
            ctx.now,
        ),
        r,
        answers,
        chain,
        my_approval,
        comments,
        history,
        can_update,
        can_cancel,
        can_edit,
        actions,
        users,
        groups,
        tasks,
        failed_task,
        errors: errors.into(),
        notice,
        sla,
    };
    Ok(render_page!(hx, page, status))
}

impl ShowPage {
    fn deciding(&self, step: &i32) -> bool {
        self.chain.current_step == Some(*step)
    }

    fn assigned(&self, current: &Option<Uuid>, id: &str) -> bool {
        current.is_some_and(|c| c.to_string() == id)
    }

    fn offers(&self, action: &str) -> bool {
        self.actions.contains(&action)
    }

    fn tasks_done(&self) -> usize {
        self.tasks
            .iter()
            .filter(|t| fulfilment::is_done(&t.status))
            .count()
    }

    /// Tasks change only while the request is being fulfilled.
    fn tasks_open(&self) -> bool {
        matches!(self.r.status.as_str(), "approved" | "in_progress")
    }

    fn task_actions(&self, t: &Task) -> Vec<&'static str> {
        fulfilment::allowed(&t.status)
            .iter()
            .map(|a| a.key())
            .collect()
    }

    /// The numbers of the tasks `t` waits for.
    fn waits_for(&self, t: &Task) -> String {
        let names: Vec<&str> = t
            .depends_on
            .iter()
            .filter_map(|k| self.tasks.iter().find(|o| &o.key == k))
            .map(|o| o.task_number.as_str())
            .collect();
        names.join(", ")
    }

    fn failed(&self, t: &Task) -> bool {
        self.failed_task == Some(t.id)
    }
}

/// Start, complete or skip a fulfilment task (service desk).
pub async fn task_act(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathIds(id, task): PathIds,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    ctx.require(REQUESTS_UPDATE)?;
    // Another tenant's (or a made-up) request is not found, whatever the form says.
    store::get(&mut ctx.tx, id, Scope::All).await?;
    let Some(action) = form.get("action").and_then(|a| TaskAction::parse(a)) else {
        return Err(AppError::BadRequest("unknown action".into()).into());
    };
    let body = TaskBody {
        notes: form.get("notes").cloned(),
    };
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            tasks::act(&mut ctx.tx, &slug, &actor, id, task, action, &body, ctx.now).await
        })
        .await?;
    match saved {
        Ok((t, r)) => {
            let said = if r.status == "completed" {
                format!(
                    "{} is done, and with it {}: the requester is told.",
                    t.task_number, r.request_number
                )
            } else {
                format!("{} is {}.", t.task_number, label(&t.status).to_lowercase())
            };
            ctx.saved_with(hx, &format!("/requests/{id}"), &Toast::success(said))
                .await
        }
        Err(refused) => {
            let notice = refused.notice.clone();
            let status = refused.status;
            show_page_for(ctx, hx, id, Some(task), refused.errors.0, notice, status).await
        }
    }
}

pub async fn show(ctx: WebCtx, Hx(hx): Hx, PathId(id): PathId) -> Result<Response, WebError> {
    ctx.require(REQUESTS_READ)?;
    show_page(ctx, hx, id, BTreeMap::new(), None, StatusCode::OK).await
}

/// Assign, complete, reopen (service desk) and cancel (service desk or the requester).
pub async fn act(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    ctx.require(REQUESTS_READ)?;
    // Someone else's (or another tenant's) request is not found, whatever the form says.
    store::get(&mut ctx.tx, id, scope_of(&ctx.principal)).await?;
    let action = match form.get("action").map(String::as_str) {
        Some("assign") => Action::Assign,
        Some("complete") => Action::Complete,
        Some("reopen") => Action::Reopen,
        Some("cancel") => Action::Cancel,
        _ => return Err(AppError::BadRequest("unknown action".into()).into()),
    };
    let scope = if action == Action::Cancel {
        cancel_scope(&ctx.principal)
    } else {
        ctx.require(REQUESTS_UPDATE)?;
        Scope::All
    };
    let pick = |k: &str| form.get(k).and_then(|v| v.parse::<Uuid>().ok());
    let body = ActionBody {
        assigned_to: pick("assigned_to"),
        assigned_group: pick("assigned_group"),
        notes: form.get("notes").cloned(),
    };
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            actions::act(
                &mut ctx.tx,
                &slug,
                &actor,
                scope,
                id,
                action,
                &body,
                ctx.now,
            )
            .await
        })
        .await?;
    match saved {
        Ok(r) => {
            let said = match action {
                Action::Complete => {
                    format!("{} is completed; the requester is told.", r.request_number)
                }
                Action::Cancel => format!("{} is cancelled.", r.request_number),
                Action::Reopen => format!("{} is open again.", r.request_number),
                _ => format!("{} is assigned.", r.request_number),
            };
            ctx.saved_with(hx, &format!("/requests/{id}"), &Toast::success(said))
                .await
        }
        Err(refused) => {
            let notice = refused.notice.clone();
            show_page(ctx, hx, id, refused.errors.0, notice, refused.status).await
        }
    }
}

pub async fn add_comment(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    ctx.require(REQUESTS_READ)?;
    let internal = form.get("is_internal").is_some_and(|v| v == "true");
    if internal {
        ctx.require(REQUESTS_UPDATE)?;
    }
    let content = form.get("content").cloned().unwrap_or_default();
    let saved = ctx
        .save(async |ctx| {
            let r = store::get(&mut ctx.tx, id, scope_of(&ctx.principal)).await?;
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            actions::comment(
                &mut ctx.tx,
                &slug,
                &actor,
                r.id,
                &content,
                internal,
                ctx.now,
            )
            .await
        })
        .await?;
    match saved {
        Ok(_) => {
            ctx.saved_with(
                hx,
                &format!("/requests/{id}"),
                &Toast::success("Comment added."),
            )
            .await
        }
        Err(refused) => {
            show_page(
                ctx,
                hx,
                id,
                refused.errors.0,
                refused.notice,
                refused.status,
            )
            .await
        }
    }
}
