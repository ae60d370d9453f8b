//! `/v1/issues…`: issues for integrations — the same actions and rules as the pages.

use std::collections::HashMap;

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::actions::{
    self, Acting, AssignBody, CloseBody, EscalateBody, IssueChanges, NewIssue, ReopenBody,
    ResolveBody,
};
use super::activity::{
    self, Comment, CommentBody, HistoryEntry, LinkBody, Related, Worklog, WorklogBody, Worklogs,
};
use super::attachments::{self, Attachment};
use super::store::{self, Issue, Scope};
use crate::platform::auth::api::ApiCtx;
use crate::platform::error::AppError;
use crate::platform::json::ApiJson;
use crate::platform::openapi::Items;
use crate::platform::state::AppState;
use crate::platform::web::PathId;
use crate::platform::web::PathIds;
use crate::platform::web::read_multipart;
use crate::sla::panel::SlaPanel;

const ID: &str = "Issue id";

/// Opens the acting context of a request: permissions first, then the viewer's scope.
pub async fn acting<'a>(
    ctx: &'a mut ApiCtx,
    perm: crate::platform::module::Perm,
) -> Result<Acting<'a>, AppError> {
    ctx.require(perm)?;
    let actor = ctx.actor();
    Acting::open(&mut ctx.tx, &ctx.principal, actor, ctx.now).await
}

#[derive(Serialize, ToSchema)]
pub struct IssueListMeta {
    pub page: i64,
    pub per_page: i64,
    /// Exact up to 1,000; `total_capped` says there are at least that many. Absent on keyset
    /// pages after the first (`cursor` given): the first page carried it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    pub total_capped: bool,
    /// Pass as `cursor` for the next page (keyset paging; stable under inserts).
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct IssueList {
    pub data: Vec<Issue>,
    pub meta: IssueListMeta,
}

/// Issues the caller may see (requesters: their own; agents: their groups' and unassigned;
/// managers/admins: all). Open issues unless `status` says otherwise.
#[utoipa::path(get, path = "/issues", tag = "issues", operation_id = "listIssues",
    params(
        ("status" = Option<String>, Query, description = "open (default), all, or a comma list of statuses"),
        ("priority" = Option<String>, Query, description = "comma list"),
        ("assigned_group" = Option<String>, Query, description = "group id or none"),
        ("assigned_to" = Option<String>, Query, description = "user id, me or none"),
        ("application_id" = Option<Uuid>, Query), ("category_id" = Option<Uuid>, Query),
        ("reporter_id" = Option<Uuid>, Query),
        ("sla" = Option<String>, Query, description = "breached, breaching_soon (due within 2 h) or ok"),
        ("mine" = Option<String>, Query, description = "groups: only the caller's groups"),
        ("q" = Option<String>, Query, description = "an issue number, or words of the title/description"),
        ("sort" = Option<String>, Query, description = "created_at (default), updated_at, priority, resolution_due_at"),
        ("order" = Option<String>, Query, description = "desc = newest/most urgent/latest due first"),
        ("per_page" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1–100, default 25"),
        ("page" = Option<i64>, Query, minimum = 1, maximum = 1000000, description = "offset paging"),
        ("cursor" = Option<String>, Query, description = "keyset paging: meta.next_cursor of the previous page")),
    responses((status = 200, body = IssueList)))]
pub async fn list(
    mut ctx: ApiCtx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<IssueList>, AppError> {
    ctx.require(crate::issues::perm::ISSUES_READ)?;
    let query = super::queue::Query::parse_strict(&q, "open")?;
    let scope = Scope::of(&mut ctx.tx, &ctx.principal).await?;
    let r = super::queue::list(&mut ctx.tx, &scope, &query, ctx.principal.user_id, ctx.now).await?;
    ctx.commit().await?;
    Ok(Json(IssueList {
        data: r.rows,
        meta: IssueListMeta {
            page: if query.paging.has_cursor() {
                0
            } else {
                query.paging.page
            },
            per_page: query.paging.per_page,
            total: r.total,
            total_capped: r.total_capped,
            next_cursor: r.next_cursor,
        },
    }))
}

/// Raises an issue. Priority comes from impact × urgency unless given; the SLA policy and due
/// times are set at once.
#[utoipa::path(post, path = "/issues", tag = "issues", operation_id = "createIssue",
    request_body = NewIssue, responses((status = 201, body = Issue)))]
pub async fn create(
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<NewIssue>,
) -> Result<impl IntoResponse, AppError> {
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_CREATE).await?;
    let issue = actions::create(&mut a, &body, "api").await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(issue)))
}

#[utoipa::path(get, path = "/issues/{id}", tag = "issues", operation_id = "getIssue",
    params(("id" = Uuid, Path, description = ID)), responses((status = 200, body = Issue)))]
pub async fn get(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Issue>, AppError> {
    let a = acting(&mut ctx, crate::issues::perm::ISSUES_READ).await?;
    let issue = store::get(a.tx, &a.scope, id).await?;
    ctx.commit().await?;
    Ok(Json(issue))
}

/// Changes the fields given (and moves between in_progress and pending).
#[utoipa::path(put, path = "/issues/{id}", tag = "issues", operation_id = "updateIssue",
    params(("id" = Uuid, Path, description = ID)), request_body = IssueChanges,
    responses((status = 200, body = Issue), (status = 409, description = "The status change is not allowed; `details.allowed` lists what is")))]
pub async fn update(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<IssueChanges>,
) -> Result<Json<Issue>, AppError> {
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_UPDATE).await?;
    let issue = actions::update(&mut a, id, &body).await?;
    ctx.commit().await?;
    Ok(Json(issue))
}

/// Soft delete: the issue disappears from lists and pages; its history stays.
#[utoipa::path(delete, path = "/issues/{id}", tag = "issues", operation_id = "deleteIssue",
    params(("id" = Uuid, Path, description = ID)), responses((status = 204, description = "Deleted")))]
pub async fn delete(mut ctx: ApiCtx, PathId(id): PathId) -> Result<StatusCode, AppError> {
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_DELETE).await?;
    actions::delete(&mut a, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

macro_rules! transition {
    ($name:ident, $path:literal, $op:literal, $perm:expr, $body:ty, $doc:literal, |$a:ident, $id:ident, $b:ident| $call:expr) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "issues", operation_id = $op,
            params(("id" = Uuid, Path, description = ID)), request_body = $body,
            responses((status = 200, description = "The updated issue", body = Issue),
                (status = 409, description = "Not allowed from the current status; `details.allowed` lists the actions that are")))]
        pub async fn $name(
            mut ctx: ApiCtx,
            PathId(id): PathId,
            ApiJson($b): ApiJson<$body>,
        ) -> Result<Json<Issue>, AppError> {
            let $id = id;
            let mut $a = acting(&mut ctx, $perm).await?;
            let issue = $call.await?;
            ctx.commit().await?;
            Ok(Json(issue))
        }
    };
}

transition!(
    assign,
    "/issues/{id}/assign",
    "assignIssue",
    crate::issues::perm::ISSUES_ASSIGN,
    AssignBody,
    "Assigns to a person and/or group (new → assigned; assigning a person is the first response).",
    |a, id, b| actions::assign(&mut a, id, &b, false)
);
transition!(
    reassign,
    "/issues/{id}/reassign",
    "reassignIssue",
    crate::issues::perm::ISSUES_ASSIGN,
    AssignBody,
    "Moves an assigned issue to another person and/or group.",
    |a, id, b| actions::assign(&mut a, id, &b, true)
);
transition!(
    escalate,
    "/issues/{id}/escalate",
    "escalateIssue",
    crate::issues::perm::ISSUES_UPDATE,
    EscalateBody,
    "Raises the escalation level, optionally moving the issue to another group.",
    |a, id, b| actions::escalate(&mut a, id, &b)
);
transition!(
    resolve,
    "/issues/{id}/resolve",
    "resolveIssue",
    crate::issues::perm::ISSUES_UPDATE,
    ResolveBody,
    "Resolves with a resolution code and notes (both required); stops the resolution clock.",
    |a, id, b| actions::resolve(&mut a, id, &b)
);
transition!(
    close,
    "/issues/{id}/close",
    "closeIssue",
    crate::issues::perm::ISSUES_UPDATE,
    CloseBody,
    "Closes a resolved issue. With open child issues it answers 409 unless `confirm_open_children`.",
    |a, id, b| actions::close(&mut a, id, &b)
);
transition!(
    reopen,
    "/issues/{id}/reopen",
    "reopenIssue",
    crate::issues::perm::ISSUES_READ,
    ReopenBody,
    "Reopens a resolved or closed issue (a reason is required); the resolution clock resumes.",
    |a, id, b| actions::reopen(&mut a, id, &b)
);

/// Status changes, oldest first, with who and why.
#[utoipa::path(get, path = "/issues/{id}/history", tag = "issues", operation_id = "issueHistory",
    params(("id" = Uuid, Path, description = ID)), responses((status = 200, body = Items<HistoryEntry>)))]
pub async fn history(
    mut ctx: ApiCtx,
    PathId(id): PathId,
) -> Result<Json<Items<HistoryEntry>>, AppError> {
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_READ).await?;
    let data = activity::history(&mut a, id).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

/// Comments the caller may see (requesters never see internal notes).
#[utoipa::path(get, path = "/issues/{id}/comments", tag = "issues", operation_id = "listIssueComments",
    params(("id" = Uuid, Path, description = ID)), responses((status = 200, body = Items<Comment>)))]
pub async fn comments(
    mut ctx: ApiCtx,
    PathId(id): PathId,
) -> Result<Json<Items<Comment>>, AppError> {
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_READ).await?;
    let data = activity::comments(&mut a, id).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

/// Adds a comment; `is_internal` notes are for agents only.
#[utoipa::path(post, path = "/issues/{id}/comments", tag = "issues", operation_id = "addIssueComment",
    params(("id" = Uuid, Path, description = ID)), request_body = CommentBody,
    responses((status = 201, body = Comment)))]
pub async fn add_comment(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<CommentBody>,
) -> Result<impl IntoResponse, AppError> {
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_READ).await?;
    let c = activity::add_comment(&mut a, id, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// Edits one's own comment.
#[utoipa::path(put, path = "/issues/{id}/comments/{comment_id}", tag = "issues", operation_id = "editIssueComment",
    params(("id" = Uuid, Path, description = ID), ("comment_id" = Uuid, Path)), request_body = CommentBody,
    responses((status = 200, body = Comment)))]
pub async fn edit_comment(
    mut ctx: ApiCtx,
    PathIds(id, cid): PathIds,
    ApiJson(body): ApiJson<CommentBody>,
) -> Result<Json<Comment>, AppError> {
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_READ).await?;
    let c = activity::edit_comment(&mut a, id, cid, &body).await?;
    ctx.commit().await?;
    Ok(Json(c))
}

/// Deletes one's own comment.
#[utoipa::path(delete, path = "/issues/{id}/comments/{comment_id}", tag = "issues", operation_id = "deleteIssueComment",
    params(("id" = Uuid, Path, description = ID), ("comment_id" = Uuid, Path)),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_comment(
    mut ctx: ApiCtx,
    PathIds(id, cid): PathIds,
) -> Result<StatusCode, AppError> {
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_READ).await?;
    activity::delete_comment(&mut a, id, cid).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Worklogs with their totals (agents).
#[utoipa::path(get, path = "/issues/{id}/worklogs", tag = "issues", operation_id = "listIssueWorklogs",
    params(("id" = Uuid, Path, description = ID)), responses((status = 200, body = Worklogs)))]
pub async fn worklogs(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Worklogs>, AppError> {
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_UPDATE).await?;
    let w = activity::worklogs(&mut a, id).await?;
    ctx.commit().await?;
    Ok(Json(w))
}

#[utoipa::path(post, path = "/issues/{id}/worklogs", tag = "issues", operation_id = "addIssueWorklog",
    params(("id" = Uuid, Path, description = ID)), request_body = WorklogBody,
    responses((status = 201, body = Worklog)))]
pub async fn add_worklog(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<WorklogBody>,
) -> Result<impl IntoResponse, AppError> {
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_UPDATE).await?;
    let w = activity::save_worklog(&mut a, id, None, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(w)))
}

/// Changes one's own worklog.
#[utoipa::path(put, path = "/issues/{id}/worklogs/{worklog_id}", tag = "issues", operation_id = "updateIssueWorklog",
    params(("id" = Uuid, Path, description = ID), ("worklog_id" = Uuid, Path)), request_body = WorklogBody,
    responses((status = 200, body = Worklog)))]
pub async fn update_worklog(
    mut ctx: ApiCtx,
    PathIds(id, wid): PathIds,
    ApiJson(body): ApiJson<WorklogBody>,
) -> Result<Json<Worklog>, AppError> {
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_UPDATE).await?;
    let w = activity::save_worklog(&mut a, id, Some(wid), &body).await?;
    ctx.commit().await?;
    Ok(Json(w))
}

#[utoipa::path(delete, path = "/issues/{id}/worklogs/{worklog_id}", tag = "issues", operation_id = "deleteIssueWorklog",
    params(("id" = Uuid, Path, description = ID), ("worklog_id" = Uuid, Path)),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_worklog(
    mut ctx: ApiCtx,
    PathIds(id, wid): PathIds,
) -> Result<StatusCode, AppError> {
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_UPDATE).await?;
    activity::delete_worklog(&mut a, id, wid).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Linked issues, parent and children.
#[utoipa::path(get, path = "/issues/{id}/related", tag = "issues", operation_id = "relatedIssues",
    params(("id" = Uuid, Path, description = ID)), responses((status = 200, body = Items<Related>)))]
pub async fn related(
    mut ctx: ApiCtx,
    PathId(id): PathId,
) -> Result<Json<Items<Related>>, AppError> {
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_READ).await?;
    let data = activity::related(&mut a, id).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

/// Links another issue (related, duplicate_of, caused_by, parent or child).
#[utoipa::path(post, path = "/issues/{id}/link", tag = "issues", operation_id = "linkIssue",
    params(("id" = Uuid, Path, description = ID)), request_body = LinkBody,
    responses((status = 200, description = "The issue's links after the change", body = Items<Related>)))]
pub async fn link(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<LinkBody>,
) -> Result<Json<Items<Related>>, AppError> {
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_UPDATE).await?;
    let data = activity::link(&mut a, id, &body).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

#[utoipa::path(delete, path = "/issues/{id}/links/{link_id}", tag = "issues", operation_id = "unlinkIssue",
    params(("id" = Uuid, Path, description = ID), ("link_id" = Uuid, Path)),
    responses((status = 204, description = "Removed")))]
pub async fn unlink(mut ctx: ApiCtx, PathIds(id, lid): PathIds) -> Result<StatusCode, AppError> {
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_UPDATE).await?;
    activity::unlink(&mut a, id, lid).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Both SLA clocks with the timeline explaining each due time (times in the caller's zone).
#[utoipa::path(get, path = "/issues/{id}/sla", tag = "issues", operation_id = "issueSla",
    params(("id" = Uuid, Path, description = ID)), responses((status = 200, body = SlaPanel)))]
pub async fn sla(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<SlaPanel>, AppError> {
    let a = acting(&mut ctx, crate::issues::perm::ISSUES_READ).await?;
    store::get(a.tx, &a.scope, id).await?;
    let tz = a.principal.timezone.parse().unwrap_or(chrono_tz::Tz::UTC);
    let panel =
        crate::sla::panel::panel(a.tx, crate::sla::timers::Clocked::Issue(id), a.now, tz).await?;
    ctx.commit().await?;
    Ok(Json(panel))
}

const ATTACHMENT_ID: &str = "Attachment id";

#[utoipa::path(get, path = "/issues/{id}/attachments", tag = "issues", operation_id = "listIssueAttachments",
    params(("id" = Uuid, Path, description = ID)), responses((status = 200, body = Items<Attachment>)))]
pub async fn attachments(
    mut ctx: ApiCtx,
    PathId(id): PathId,
) -> Result<Json<Items<Attachment>>, AppError> {
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_READ).await?;
    let data = attachments::list(&mut a, id).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

/// Multipart upload, field `file` (at most 10 MiB; images, PDF, text, logs, CSV, JSON, office
/// documents, zip, e-mail). The type is judged by the file's name and contents.
#[utoipa::path(post, path = "/issues/{id}/attachments", tag = "issues", operation_id = "addIssueAttachment",
    params(("id" = Uuid, Path, description = ID)),
    request_body(content = String, content_type = "multipart/form-data", description = "field `file`"),
    responses((status = 201, body = Attachment), (status = 422, description = "Too big, empty or a refused type")))]
pub async fn add_attachment(
    State(state): State<AppState>,
    mut ctx: ApiCtx,
    PathId(id): PathId,
    form: Result<Multipart, MultipartRejection>,
) -> Result<impl IntoResponse, AppError> {
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_READ).await?;
    store::get(a.tx, &a.scope, id).await?;
    let form = form.map_err(|e| AppError::field("file", e.body_text()))?;
    let (_, files) = read_multipart(form).await?;
    let file = files
        .into_iter()
        .find(|f| f.field == "file")
        .ok_or_else(|| AppError::field("file", "send the file in a multipart field named file"))?;
    let att = attachments::add(
        &mut a,
        state.storage.as_ref(),
        id,
        &file.filename,
        file.bytes,
    )
    .await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(att)))
}

/// The file itself, as a download (`Content-Disposition: attachment`).
#[utoipa::path(get, path = "/issues/{id}/attachments/{attachment_id}", tag = "issues",
    operation_id = "downloadIssueAttachment",
    params(("id" = Uuid, Path, description = ID), ("attachment_id" = Uuid, Path, description = ATTACHMENT_ID)),
    responses((status = 200, description = "The file's bytes", content_type = "application/octet-stream")))]
pub async fn download_attachment(
    State(state): State<AppState>,
    mut ctx: ApiCtx,
    PathIds(id, att): PathIds,
) -> Result<Response, AppError> {
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_READ).await?;
    let att = attachments::get(&mut a, id, att).await?;
    ctx.commit().await?;
    let bytes = state.storage.get(&att.storage_path).await?;
    Ok(attachments::download(&att, bytes))
}

/// The uploader or an agent may remove an attachment.
#[utoipa::path(delete, path = "/issues/{id}/attachments/{attachment_id}", tag = "issues",
    operation_id = "deleteIssueAttachment",
    params(("id" = Uuid, Path, description = ID), ("attachment_id" = Uuid, Path, description = ATTACHMENT_ID)),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_attachment(
    State(state): State<AppState>,
    mut ctx: ApiCtx,
    PathIds(id, att): PathIds,
) -> Result<StatusCode, AppError> {
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_READ).await?;
    let key = attachments::remove(&mut a, id, att).await?;
    ctx.commit().await?;
    // After the commit: a failed file removal leaves an orphan file, never a dangling row.
    if let Err(e) = state.storage.delete(&key).await {
        tracing::warn!(error = %e, key, "attachment file not removed");
    }
    Ok(StatusCode::NO_CONTENT)
}
