//! The issue page: details, SLA panel with its explanation, comments, worklogs, links, history,
//! and the forms for every action.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::Form;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;
use uuid::Uuid;

use super::actions::{
    self, Acting, AssignBody, CloseBody, EscalateBody, IssueChanges, ReopenBody, ResolveBody,
};
use super::activity::{self, CommentBody, LinkBody, Related, WorklogBody, Worklogs};
use super::attachments::{self, Attachment};
use super::store::{self, Issue};
use super::stream::Entry;
use super::web::{AGENTS, APPLICATIONS, CATEGORIES, GROUPS, acting};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::markdown;
use crate::platform::state::AppState;
use crate::platform::web::PathId;
use crate::platform::web::PathIds;
use crate::platform::web::{Choices, Chrome, Errors, Hx, choices, read_multipart, see_other};
use crate::render_page;
use crate::sla::panel::SlaPanel;

#[derive(Template)]
#[template(path = "issues/issue.html", blocks = ["content"])]
struct IssuePage {
    chrome: Chrome,
    i: Issue,
    description_html: String,
    sla: SlaPanel,
    /// Comments, status and field changes in order.
    stream: Vec<Entry>,
    worklogs: Option<Worklogs>,
    related: Vec<Related>,
    attachments: Vec<Attachment>,
    agents: Choices,
    groups: Choices,
    /// For agents' "Edit details" form.
    categories: Choices,
    applications: Choices,
    environments: Choices,
    allowed: Vec<&'static str>,
    me: Uuid,
    agent: bool,
    can_assign: bool,
    can_reopen: bool,
    errors: Errors,
    notice: Option<String>,
    /// Whether the viewer watches this issue.
    watching: bool,
    /// Submitted values of the form that failed, to keep them.
    v: BTreeMap<String, String>,
    codes: &'static [(&'static str, &'static str)],
    link_types: &'static [&'static str],
}

impl IssuePage {
    /// An edit-form field's value: what was typed (after a refusal), else the issue's own.
    fn field(&self, k: &str) -> String {
        if let Some(typed) = self.v.get(k) {
            return typed.clone();
        }
        let i = &self.i;
        let id = |u: Option<Uuid>| u.map(|u| u.to_string()).unwrap_or_default();
        match k {
            "title" => i.title.clone(),
            "description" => i.description.clone().unwrap_or_default(),
            "priority" => i.priority.clone(),
            "impact" => i.impact.clone().unwrap_or_default(),
            "urgency" => i.urgency.clone().unwrap_or_default(),
            "issue_type" => i.issue_type.clone(),
            "category_id" => id(i.category_id),
            "application_id" => id(i.application_id),
            "environment_id" => id(i.environment_id),
            _ => String::new(),
        }
    }

    /// The edit form opens by itself when it was refused.
    fn editing(&self) -> bool {
        EDIT_FIELDS.iter().any(|f| self.errors.has(f))
    }

    fn can(&self, action: &str) -> bool {
        self.allowed.contains(&action)
    }

    fn may_remove(&self, f: &Attachment) -> bool {
        self.agent || f.uploaded_by == Some(self.me)
    }
}

async fn render(
    mut ctx: WebCtx,
    hx: bool,
    id: Uuid,
    errors: BTreeMap<String, String>,
    v: BTreeMap<String, String>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let agent = ctx.principal.can(crate::issues::perm::ISSUES_UPDATE);
    let can_assign = ctx.principal.can(crate::issues::perm::ISSUES_ASSIGN);
    let me = ctx.principal.user_id;
    let tz: chrono_tz::Tz = ctx.principal.timezone.parse().unwrap_or(chrono_tz::Tz::UTC);
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_READ).await?;
    let i = store::get(a.tx, &a.scope, id).await?;
    let sla =
        crate::sla::panel::panel(a.tx, crate::sla::timers::Clocked::Issue(id), a.now, tz).await?;
    let comments = activity::comments(&mut a, id).await?;
    let worklogs = match agent {
        true => Some(activity::worklogs(&mut a, id).await?),
        false => None,
    };
    let related = activity::related(&mut a, id).await?;
    let attachments = attachments::list(&mut a, id).await?;
    let history = activity::history(&mut a, id).await?;
    let stream = super::stream::stream(a.tx, id, comments, history, agent).await?;
    let watching = crate::notifications::store::watching(a.tx, id, me).await?;
    let (agents, groups) = match can_assign || agent {
        true => (choices(a.tx, AGENTS).await?, choices(a.tx, GROUPS).await?),
        false => (Vec::new(), Vec::new()),
    };
    let (categories, applications, environments) = match agent {
        true => (
            choices(a.tx, CATEGORIES).await?,
            choices(a.tx, APPLICATIONS).await?,
            choices(a.tx, ENVIRONMENTS).await?,
        ),
        false => Default::default(),
    };
    ctx.tx.commit().await?;
    let page = IssuePage {
        chrome: Chrome::new(&ctx.principal, &ctx.csrf, "issues", &ctx.manifest, ctx.now),
        description_html: markdown::render(i.description.as_deref().unwrap_or("")),
        allowed: domain::issues::allowed(&i.status),
        can_reopen: agent || i.reporter_id == Some(me),
        i,
        sla,
        stream,
        worklogs,
        related,
        attachments,
        agents,
        groups,
        categories,
        applications,
        environments,
        me,
        agent,
        can_assign,
        errors: errors.into(),
        notice,
        watching,
        v,
        codes: domain::issues::RESOLUTIONS,
        link_types: activity::LINK_TYPES,
    };
    Ok(render_page!(hx, page, status))
}

pub async fn show(ctx: WebCtx, Hx(hx): Hx, PathId(id): PathId) -> Result<Response, WebError> {
    ctx.require(crate::issues::perm::ISSUES_READ)?;
    render(
        ctx,
        hx,
        id,
        BTreeMap::new(),
        BTreeMap::new(),
        None,
        StatusCode::OK,
    )
    .await
}

type Fields = HashMap<String, String>;

type Done<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), AppError>> + Send + 'a>>;

/// One form's work on an issue, run inside the page's transaction.
type FormRun = for<'a, 'b> fn(&'a mut Acting<'b>, Uuid, &'a Fields) -> Done<'a>;

fn text(f: &Fields, k: &str) -> Option<String> {
    f.get(k)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn uuid(f: &Fields, k: &str) -> Result<Option<Uuid>, AppError> {
    text(f, k)
        .map(|v| {
            v.parse()
                .map_err(|_| AppError::field(k, "pick one from the list"))
        })
        .transpose()
}

/// Runs one form's action through `save_form`: done, back to the issue (303); refused, the
/// issue page again with the errors (422) or the conflict (409), keeping what was typed.
async fn act(
    mut ctx: WebCtx,
    hx: bool,
    id: Uuid,
    form: Fields,
    run: FormRun,
) -> Result<Response, WebError> {
    ctx.require(crate::issues::perm::ISSUES_READ)?;
    let saved = ctx
        .save(async |ctx| {
            let actor = ctx.actor();
            let mut a = Acting::open(&mut ctx.tx, &ctx.principal, actor, ctx.now).await?;
            run(&mut a, id, &form).await
        })
        .await?;
    match saved {
        Ok(()) => ctx.saved(hx, &format!("/issues/{id}")).await,
        Err(r) => {
            let v = form.into_iter().filter(|(k, _)| k != "_csrf").collect();
            render(ctx, hx, id, r.errors.0, v, r.notice, r.status).await
        }
    }
}

macro_rules! form_action {
    ($name:ident, |$a:ident, $id:ident, $f:ident| $body:block) => {
        pub async fn $name(
            ctx: WebCtx,
            Hx(hx): Hx,
            PathId(id): PathId,
            Form(form): Form<Fields>,
        ) -> Result<Response, WebError> {
            fn run<'a, 'b>(
                $a: &'a mut Acting<'b>,
                $id: Uuid,
                $f: &'a Fields,
            ) -> std::pin::Pin<
                Box<dyn std::future::Future<Output = Result<(), AppError>> + Send + 'a>,
            > {
                Box::pin(async move { $body })
            }
            act(ctx, hx, id, form, run).await
        }
    };
}

form_action!(assign, |a, id, f| {
    let body = AssignBody {
        assigned_to: uuid(f, "assigned_to")?,
        assigned_group: uuid(f, "assigned_group")?,
        reason: text(f, "reason"),
    };
    actions::assign(a, id, &body, false).await.map(drop)
});

form_action!(set_status, |a, id, f| {
    let c = IssueChanges {
        status: text(f, "status"),
        reason: text(f, "reason"),
        ..Default::default()
    };
    actions::update(a, id, &c).await.map(drop)
});

/// The fields of "Edit details" (the form names them as the API does).
const EDIT_FIELDS: &[&str] = &[
    "title",
    "description",
    "priority",
    "impact",
    "urgency",
    "issue_type",
    "category_id",
    "application_id",
    "environment_id",
];

/// Environments as "Application — environment", for the edit form (the action checks that
/// the one chosen belongs to the application).
const ENVIRONMENTS: &str = "SELECT e.id, a.name || ' — ' || e.name FROM environments e
    JOIN applications a ON a.id = e.application_id
    WHERE COALESCE(e.status, 'active') = 'active' ORDER BY a.name, e.name";

form_action!(edit, |a, id, f| {
    // Only what differs is sent: an unchanged priority would otherwise become "set by hand"
    // and stop following impact × urgency, and the history would show non-changes.
    let before = store::get(a.tx, &a.scope, id).await?;
    let opt = |k: &str| Some(text(f, k));
    let differs = |new: &Option<String>, old: &Option<String>| new != old;
    let mut c = IssueChanges::default();
    if let Some(t) = f.get("title").map(|t| t.trim().to_string())
        && t != before.title
    {
        c.title = Some(t);
    }
    if let Some(d) = f.get("description") {
        let d = Some(d.clone()).filter(|d| !d.trim().is_empty());
        if differs(&d, &before.description) {
            c.description = Some(d);
        }
    }
    if let Some(p) = text(f, "priority").filter(|p| *p != before.priority) {
        c.priority = Some(p);
    }
    if let Some(v) = opt("impact").filter(|v| differs(v, &before.impact)) {
        c.impact = Some(v);
    }
    if let Some(v) = opt("urgency").filter(|v| differs(v, &before.urgency)) {
        c.urgency = Some(v);
    }
    if let Some(t) = text(f, "issue_type").filter(|t| *t != before.issue_type) {
        c.issue_type = Some(t);
    }
    if f.contains_key("category_id") {
        let v = uuid(f, "category_id")?;
        if v != before.category_id {
            c.category_id = Some(v);
        }
    }
    if f.contains_key("application_id") {
        let v = uuid(f, "application_id")?;
        if v != before.application_id {
            c.application_id = Some(v);
        }
    }
    if f.contains_key("environment_id") {
        let v = uuid(f, "environment_id")?;
        if v != before.environment_id {
            c.environment_id = Some(v);
        }
    }
    actions::update(a, id, &c).await.map(drop)
});

form_action!(escalate, |a, id, f| {
    let body = EscalateBody {
        reason: text(f, "reason"),
        assigned_group: uuid(f, "escalate_group")?,
    };
    actions::escalate(a, id, &body).await.map(drop)
});

form_action!(resolve, |a, id, f| {
    let body = ResolveBody {
        resolution_code: text(f, "resolution_code").unwrap_or_default(),
        resolution_notes: text(f, "resolution_notes").unwrap_or_default(),
    };
    actions::resolve(a, id, &body).await.map(drop)
});

form_action!(close, |a, id, f| {
    let body = CloseBody {
        reason: text(f, "reason"),
        confirm_open_children: f.contains_key("confirm_open_children"),
    };
    actions::close(a, id, &body).await.map(drop)
});

form_action!(reopen, |a, id, f| {
    let body = ReopenBody {
        reason: text(f, "reopen_reason").unwrap_or_default(),
    };
    actions::reopen(a, id, &body)
        .await
        .map(drop)
        .map_err(|e| match e {
            AppError::Validation { .. } => {
                AppError::field("reopen_reason", "say why it is being reopened")
            }
            other => other,
        })
});

form_action!(comment, |a, id, f| {
    let body = CommentBody {
        content: f.get("content").cloned().unwrap_or_default(),
        is_internal: f.contains_key("is_internal"),
    };
    activity::add_comment(a, id, &body).await.map(drop)
});

form_action!(worklog, |a, id, f| {
    let minutes = text(f, "time_spent").unwrap_or_default();
    let body = WorklogBody {
        time_spent: minutes
            .parse()
            .map_err(|_| AppError::field("time_spent", "minutes, a whole number"))?,
        work_date: text(f, "work_date")
            .map(|d| {
                d.parse()
                    .map_err(|_| AppError::field("work_date", "a date"))
            })
            .transpose()?,
        description: text(f, "worklog_description"),
        billable: f.contains_key("billable"),
    };
    activity::save_worklog(a, id, None, &body).await.map(drop)
});

form_action!(link, |a, id, f| {
    let number = text(f, "other").unwrap_or_default();
    let other: Option<Uuid> = match store::normalize_number(&number) {
        Some(n) => {
            sqlx::query_scalar(
                "SELECT id FROM issues WHERE issue_number = $1 AND deleted_at IS NULL",
            )
            .bind(n)
            .fetch_optional(&mut **a.tx)
            .await?
        }
        None => None,
    };
    let other = other.ok_or_else(|| AppError::field("other", "no issue with that number"))?;
    let body = LinkBody {
        issue_id: other,
        link_type: text(f, "link_type").unwrap_or_default(),
    };
    activity::link(a, id, &body)
        .await
        .map(drop)
        .map_err(|e| match e {
            AppError::Validation { fields, .. } if fields.contains_key("issue_id") => {
                AppError::field("other", fields["issue_id"].clone())
            }
            other => other,
        })
});

/// Deletes one's own comment (`/issues/{id}/comments/{comment_id}/delete`).
pub async fn delete_comment(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathIds(id, cid): PathIds,
) -> Result<Response, WebError> {
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_READ).await?;
    activity::delete_comment(&mut a, id, cid).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, &format!("/issues/{id}")))
}

/// Upload from the issue page; a refused file re-renders the page with the reason (422).
pub async fn attach(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, WebError> {
    ctx.require(crate::issues::perm::ISSUES_READ)?;
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_READ).await?;
    store::get(a.tx, &a.scope, id).await?;
    let uploaded = match form {
        Ok(form) => read_multipart(form).await.map(|(_, files)| files),
        Err(e) => Err(AppError::field("file", e.body_text())),
    };
    let result = match uploaded.map(|files| files.into_iter().find(|f| f.field == "file")) {
        Ok(Some(file)) => {
            attachments::add(
                &mut a,
                state.storage.as_ref(),
                id,
                &file.filename,
                file.bytes,
            )
            .await
        }
        Ok(None) => Err(AppError::field("file", "choose a file to attach")),
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => {
            ctx.tx.commit().await?;
            Ok(see_other(hx, &format!("/issues/{id}#attachments-h")))
        }
        Err(AppError::Validation { fields, .. }) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render(ctx, hx, id, fields, BTreeMap::new(), None, status).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn download(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    PathIds(id, att): PathIds,
) -> Result<Response, WebError> {
    ctx.require(crate::issues::perm::ISSUES_READ)?;
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_READ).await?;
    let att = attachments::get(&mut a, id, att).await?;
    ctx.tx.commit().await?;
    let bytes = state.storage.get(&att.storage_path).await?;
    Ok(attachments::download(&att, bytes))
}

pub async fn detach(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathIds(id, att): PathIds,
) -> Result<Response, WebError> {
    ctx.require(crate::issues::perm::ISSUES_READ)?;
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_READ).await?;
    let key = attachments::remove(&mut a, id, att).await?;
    ctx.tx.commit().await?;
    if let Err(e) = state.storage.delete(&key).await {
        tracing::warn!(error = %e, key, "attachment file not removed");
    }
    Ok(see_other(hx, &format!("/issues/{id}#attachments-h")))
}
