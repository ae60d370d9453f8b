//! `/v1/requests…`: service requests for integrations and the portal.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use domain::approvals::Decision;
use domain::fulfilment::TaskAction;
use domain::requests::Action;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::actions::{self, ActionBody, ENTITY, SubmitBody, Submitter};
use super::edit::UpdateBody;
use super::perm::{REQUESTS_CREATE, REQUESTS_READ, REQUESTS_READ_ALL, REQUESTS_UPDATE};
use super::store::{self, Comment, HistoryEntry, Request, Scope};
use super::tasks::{self, Task, TaskBody};
use crate::approvals::engine::{self, ChainState};
use crate::platform::auth::api::ApiCtx;
use crate::platform::error::AppError;
use crate::platform::json::ApiJson;
use crate::platform::listing;
use crate::platform::openapi::{Items, ListQuery, Page};
use crate::platform::web::{PathId, PathIds};
use crate::sla::panel::SlaPanel;

const ID: &str = "Request id";

pub fn scope_of(p: &crate::platform::auth::Principal) -> Scope {
    if p.can(REQUESTS_READ_ALL) {
        Scope::All
    } else {
        Scope::Own(p.user_id)
    }
}

#[utoipa::path(get, path = "/requests", tag = "requests", operation_id = "listRequests",
    params(ListQuery, ("status" = Option<String>, Query, description = "one status, or several separated by commas"), ("priority" = Option<String>, Query),
        ("catalog_item_id" = Option<Uuid>, Query), ("requester_id" = Option<Uuid>, Query),
        ("requested_for_id" = Option<Uuid>, Query), ("assigned_to" = Option<Uuid>, Query),
        ("assigned_group" = Option<Uuid>, Query), ("parent_id" = Option<Uuid>, Query),
        ("q" = Option<String>, Query, description = "searches number and title")),
    responses((status = 200, description = "Everyone's requests (`requests:read`) or the caller's own", body = Page<Request>)))]
pub async fn list(
    mut ctx: ApiCtx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    ctx.require(REQUESTS_READ)?;
    let params = listing::parse(&store::LIST_SPEC, &q)?;
    let (rows, total) = store::list(&mut ctx.tx, &params, scope_of(&ctx.principal)).await?;
    ctx.commit().await?;
    Ok(Json(listing::page_body(rows, &params, total)))
}

/// Submits a request for a published catalog item. Invalid answers → 422 with `details` keyed
/// `form_data.<field_id>`; answers of fields the form hides are dropped.
#[utoipa::path(post, path = "/requests", tag = "requests", operation_id = "submitRequest",
    request_body = SubmitBody, responses((status = 201, body = Request)))]
pub async fn create(
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<SubmitBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(REQUESTS_CREATE)?;
    let actor = ctx.actor();
    let who = Submitter {
        user: ctx.principal.user_id,
        today: ctx.principal.today(ctx.now),
        now: ctx.now,
        api: true,
        files: BTreeMap::new(),
    };
    let r = actions::submit(&mut ctx.tx, &ctx.principal.slug, &actor, &who, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(r)))
}

#[utoipa::path(get, path = "/requests/{id}", tag = "requests", operation_id = "getRequest",
    params(("id" = Uuid, Path, description = ID)), responses((status = 200, body = Request)))]
pub async fn get(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Request>, AppError> {
    ctx.require(REQUESTS_READ)?;
    let r = store::get(&mut ctx.tx, id, scope_of(&ctx.principal)).await?;
    ctx.commit().await?;
    Ok(Json(r))
}

/// Cancels the request (its requester, or the service desk); open approvals close.
#[utoipa::path(delete, path = "/requests/{id}", tag = "requests", operation_id = "cancelRequest",
    params(("id" = Uuid, Path, description = ID)),
    responses((status = 200, description = "The request, now cancelled", body = Request), (status = 409, description = "Not allowed from the current status; `details.allowed` lists the actions that are")))]
pub async fn cancel(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Request>, AppError> {
    ctx.require(REQUESTS_READ)?;
    let scope = cancel_scope(&ctx.principal);
    let actor = ctx.actor();
    let r = actions::act(
        &mut ctx.tx,
        &ctx.principal.slug,
        &actor,
        scope,
        id,
        Action::Cancel,
        &ActionBody::default(),
        ctx.now,
    )
    .await?;
    ctx.commit().await?;
    Ok(Json(r))
}

/// The service desk cancels any request; a requester only those they raised.
pub fn cancel_scope(p: &crate::platform::auth::Principal) -> Scope {
    if p.can(REQUESTS_UPDATE) {
        Scope::All
    } else {
        Scope::Own(p.user_id)
    }
}

async fn agent_action(
    mut ctx: ApiCtx,
    id: uuid::Uuid,
    action: Action,
    body: ActionBody,
) -> Result<Json<Request>, AppError> {
    ctx.require(REQUESTS_UPDATE)?;
    let actor = ctx.actor();
    let r = actions::act(
        &mut ctx.tx,
        &ctx.principal.slug,
        &actor,
        Scope::All,
        id,
        action,
        &body,
        ctx.now,
    )
    .await?;
    ctx.commit().await?;
    Ok(Json(r))
}

/// Assigns a person and/or group; an approved request moves to `in_progress`.
#[utoipa::path(post, path = "/requests/{id}/assign", tag = "requests", operation_id = "assignRequest",
    params(("id" = Uuid, Path, description = ID)), request_body = ActionBody,
    responses((status = 200, body = Request), (status = 409, description = "Not allowed from the current status; `details.allowed` lists the actions that are")))]
pub async fn assign(
    ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<ActionBody>,
) -> Result<Json<Request>, AppError> {
    agent_action(ctx, id, Action::Assign, body).await
}

#[utoipa::path(post, path = "/requests/{id}/reassign", tag = "requests", operation_id = "reassignRequest",
    params(("id" = Uuid, Path, description = ID)), request_body = ActionBody,
    responses((status = 200, body = Request), (status = 409, description = "Not allowed from the current status; `details.allowed` lists the actions that are")))]
pub async fn reassign(
    ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<ActionBody>,
) -> Result<Json<Request>, AppError> {
    agent_action(ctx, id, Action::Reassign, body).await
}

/// Completes the request with notes. 409 (listing the allowed actions) before approval.
#[utoipa::path(post, path = "/requests/{id}/complete", tag = "requests", operation_id = "completeRequest",
    params(("id" = Uuid, Path, description = ID)), request_body = ActionBody,
    responses((status = 200, body = Request), (status = 409, description = "Not allowed from the current status; `details.allowed` lists the actions that are")))]
pub async fn complete(
    ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<ActionBody>,
) -> Result<Json<Request>, AppError> {
    agent_action(ctx, id, Action::Complete, body).await
}

#[utoipa::path(post, path = "/requests/{id}/reopen", tag = "requests", operation_id = "reopenRequest",
    params(("id" = Uuid, Path, description = ID)), request_body = ActionBody,
    responses((status = 200, body = Request), (status = 409, description = "Not allowed from the current status; `details.allowed` lists the actions that are")))]
pub async fn reopen(
    ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<ActionBody>,
) -> Result<Json<Request>, AppError> {
    agent_action(ctx, id, Action::Reopen, body).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RequestDecisionBody)]
pub struct DecideBody {
    /// Required to reject.
    pub comments: Option<String>,
}

async fn decide_on(
    mut ctx: ApiCtx,
    id: uuid::Uuid,
    decision: Decision,
    body: DecideBody,
) -> Result<Json<Request>, AppError> {
    ctx.require(crate::approvals::perm::APPROVALS_DECIDE)?;
    let r = store::get(&mut ctx.tx, id, scope_of(&ctx.principal)).await?;
    let today = ctx.principal.today(ctx.now);
    let Some(approval) =
        engine::pending_for(&mut ctx.tx, ENTITY, r.id, ctx.principal.user_id, today).await?
    else {
        return Err(AppError::Conflict {
            message: "Nothing on this request waits for your decision.".into(),
            details: json!({"status": r.status}),
        });
    };
    let actor = ctx.actor();
    let manifest = ctx.manifest.clone();
    engine::decide(
        &mut ctx.tx,
        &manifest,
        &ctx.principal.slug,
        &actor,
        approval,
        decision,
        body.comments.as_deref(),
        today,
        ctx.now,
    )
    .await?;
    let r = store::get(&mut ctx.tx, id, Scope::All).await?;
    ctx.commit().await?;
    Ok(Json(r))
}

/// The caller's decision on their pending approval of this request.
#[utoipa::path(post, path = "/requests/{id}/approve", tag = "requests", operation_id = "approveRequest",
    params(("id" = Uuid, Path, description = ID)), request_body = DecideBody,
    responses((status = 200, body = Request), (status = 409, description = "Nothing on the request waits for the caller's decision, or it is already decided")))]
pub async fn approve(
    ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<DecideBody>,
) -> Result<Json<Request>, AppError> {
    decide_on(ctx, id, Decision::Approved, body).await
}

#[utoipa::path(post, path = "/requests/{id}/reject", tag = "requests", operation_id = "rejectRequest",
    params(("id" = Uuid, Path, description = ID)), request_body = DecideBody,
    responses((status = 200, body = Request), (status = 409, description = "Nothing on the request waits for the caller's decision, or it is already decided")))]
pub async fn reject(
    ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<DecideBody>,
) -> Result<Json<Request>, AppError> {
    decide_on(ctx, id, Decision::Rejected, body).await
}

/// The approval chain: each step's rule and its approvers' decisions.
#[utoipa::path(get, path = "/requests/{id}/approvals", tag = "requests", operation_id = "getRequestApprovals",
    params(("id" = Uuid, Path, description = ID)), responses((status = 200, body = ChainState)))]
pub async fn approvals(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<ChainState>, AppError> {
    ctx.require(REQUESTS_READ)?;
    let r = store::get(&mut ctx.tx, id, scope_of(&ctx.principal)).await?;
    let state = engine::chain_state(&mut ctx.tx, ENTITY, r.id).await?;
    ctx.commit().await?;
    Ok(Json(state))
}

/// The request's SLA clocks now, each with the timeline that explains its due time.
#[utoipa::path(get, path = "/requests/{id}/sla", tag = "requests", operation_id = "getRequestSla",
    params(("id" = Uuid, Path, description = ID)), responses((status = 200, body = SlaPanel)))]
pub async fn sla(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<SlaPanel>, AppError> {
    ctx.require(REQUESTS_READ)?;
    let r = store::get(&mut ctx.tx, id, scope_of(&ctx.principal)).await?;
    let tz: chrono_tz::Tz = ctx.principal.timezone.parse().unwrap_or(chrono_tz::Tz::UTC);
    let record = crate::sla::timers::Clocked::Request(r.id);
    let panel = crate::sla::panel::panel(&mut ctx.tx, record, ctx.now, tz).await?;
    ctx.commit().await?;
    Ok(Json(panel))
}

#[utoipa::path(get, path = "/requests/{id}/history", tag = "requests", operation_id = "getRequestHistory",
    params(("id" = Uuid, Path, description = ID)), responses((status = 200, body = Items<HistoryEntry>)))]
pub async fn history(
    mut ctx: ApiCtx,
    PathId(id): PathId,
) -> Result<Json<Items<HistoryEntry>>, AppError> {
    ctx.require(REQUESTS_READ)?;
    let r = store::get(&mut ctx.tx, id, scope_of(&ctx.principal)).await?;
    let data = store::history(&mut ctx.tx, r.id).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

/// Comments; internal ones only for the service desk.
#[utoipa::path(get, path = "/requests/{id}/comments", tag = "requests", operation_id = "listRequestComments",
    params(("id" = Uuid, Path, description = ID)), responses((status = 200, body = Items<Comment>)))]
pub async fn comments(
    mut ctx: ApiCtx,
    PathId(id): PathId,
) -> Result<Json<Items<Comment>>, AppError> {
    ctx.require(REQUESTS_READ)?;
    let r = store::get(&mut ctx.tx, id, scope_of(&ctx.principal)).await?;
    let data = store::comments(&mut ctx.tx, r.id, ctx.principal.can(REQUESTS_UPDATE)).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RequestCommentBody)]
pub struct CommentBody {
    pub content: String,
    /// Service desk only: hidden from the requester.
    #[serde(default)]
    pub is_internal: bool,
}

#[utoipa::path(post, path = "/requests/{id}/comments", tag = "requests", operation_id = "addRequestComment",
    params(("id" = Uuid, Path, description = ID)), request_body = CommentBody,
    responses((status = 201, body = Comment)))]
pub async fn add_comment(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<CommentBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(REQUESTS_READ)?;
    if body.is_internal {
        ctx.require(REQUESTS_UPDATE)?;
    }
    let r = store::get(&mut ctx.tx, id, scope_of(&ctx.principal)).await?;
    let actor = ctx.actor();
    let c = actions::comment(
        &mut ctx.tx,
        &ctx.principal.slug,
        &actor,
        r.id,
        &body.content,
        body.is_internal,
        ctx.now,
    )
    .await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// The request's fulfilment tasks in order, with what each waits for.
#[utoipa::path(get, path = "/requests/{id}/tasks", tag = "requests", operation_id = "listRequestTasks",
    params(("id" = Uuid, Path, description = ID)), responses((status = 200, body = Items<Task>)))]
pub async fn tasks(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Items<Task>>, AppError> {
    ctx.require(REQUESTS_READ)?;
    let r = store::get(&mut ctx.tx, id, scope_of(&ctx.principal)).await?;
    let data = tasks::list(&mut ctx.tx, r.id).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

/// A task and the request after a task action (the request completes with its last task).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = RequestTaskResult)]
pub struct TaskResult {
    pub task: Task,
    pub request: Request,
}

async fn task_action(
    mut ctx: ApiCtx,
    PathIds(id, task): PathIds,
    action: TaskAction,
    body: TaskBody,
) -> Result<Json<TaskResult>, AppError> {
    ctx.require(REQUESTS_UPDATE)?;
    let actor = ctx.actor();
    let (task, request) = tasks::act(
        &mut ctx.tx,
        &ctx.principal.slug,
        &actor,
        id,
        task,
        action,
        &body,
        ctx.now,
    )
    .await?;
    ctx.commit().await?;
    Ok(Json(TaskResult { task, request }))
}

const TASK: &str = "Task id";

/// Starts a ready task (an approved request moves to `in_progress`).
#[utoipa::path(post, path = "/requests/{id}/tasks/{task_id}/start", tag = "requests", operation_id = "startRequestTask",
    params(("id" = Uuid, Path, description = ID), ("task_id" = Uuid, Path, description = TASK)), request_body = TaskBody,
    responses((status = 200, body = TaskResult), (status = 409, description = "Not allowed from the task's status; `details.allowed` lists the actions that are")))]
pub async fn start_task(
    ctx: ApiCtx,
    ids: PathIds,
    ApiJson(body): ApiJson<TaskBody>,
) -> Result<Json<TaskResult>, AppError> {
    task_action(ctx, ids, TaskAction::Start, body).await
}

/// Completes a task; the tasks waiting for it become ready, and the request completes when
/// every task is done.
#[utoipa::path(post, path = "/requests/{id}/tasks/{task_id}/complete", tag = "requests", operation_id = "completeRequestTask",
    params(("id" = Uuid, Path, description = ID), ("task_id" = Uuid, Path, description = TASK)), request_body = TaskBody,
    responses((status = 200, body = TaskResult), (status = 409, description = "Not allowed from the task's status; `details.allowed` lists the actions that are")))]
pub async fn complete_task(
    ctx: ApiCtx,
    ids: PathIds,
    ApiJson(body): ApiJson<TaskBody>,
) -> Result<Json<TaskResult>, AppError> {
    task_action(ctx, ids, TaskAction::Complete, body).await
}

/// Skips a task with a reason (`notes`, required); it counts as done for what waits for it.
#[utoipa::path(post, path = "/requests/{id}/tasks/{task_id}/skip", tag = "requests", operation_id = "skipRequestTask",
    params(("id" = Uuid, Path, description = ID), ("task_id" = Uuid, Path, description = TASK)), request_body = TaskBody,
    responses((status = 200, body = TaskResult), (status = 409, description = "Not allowed from the task's status; `details.allowed` lists the actions that are")))]
pub async fn skip_task(
    ctx: ApiCtx,
    ids: PathIds,
    ApiJson(body): ApiJson<TaskBody>,
) -> Result<Json<TaskResult>, AppError> {
    task_action(ctx, ids, TaskAction::Skip, body).await
}

/// Changes the answers (the requester, or the service desk) until work starts; on a request
/// with approvals the approvals start again. Invalid answers → 422 keyed `form_data.<field_id>`.
#[utoipa::path(put, path = "/requests/{id}", tag = "requests", operation_id = "updateRequest",
    params(("id" = Uuid, Path, description = ID)), request_body = UpdateBody,
    responses((status = 200, body = Request), (status = 409, description = "Work has started, or it is a bundle request")))]
pub async fn update(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<Request>, AppError> {
    ctx.require(REQUESTS_READ)?;
    let actor = ctx.actor();
    let agent = ctx.principal.can(REQUESTS_UPDATE);
    let today = ctx.principal.today(ctx.now);
    let r = super::edit::update(
        &mut ctx.tx,
        &ctx.principal.slug,
        &actor,
        agent,
        today,
        ctx.now,
        id,
        &body,
    )
    .await?;
    ctx.commit().await?;
    Ok(Json(r))
}
