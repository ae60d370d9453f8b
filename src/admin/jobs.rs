//! The job queue as a tenant admin sees it: depth by task, failures with their last error,
//! retry/discard, and a self-test ("probe") that proves the workers run this tenant's jobs.

use askama::Template;
use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::platform::audit::{self, Actor};
use crate::platform::auth::api::ApiCtx;
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::events::{self, ParkedEvent};
use crate::platform::jobs::{self, FailedJob, JobCtx, JobResult, TaskDepth};
use crate::platform::tenancy::{Slug, TenantTx};
use crate::platform::web::{Chrome, Hx, see_other};
use crate::render_page;

pub const PROBE_TASK: &str = "diagnostics.probe";
pub const CLEANUP_TASK: &str = "platform.cleanup";

/// The diagnostics probe: records that a worker ran this tenant's job (and who asked).
/// `hold_ms` keeps the job running for a while, which lets an operator (and the
/// crash-recovery test) see a job in flight.
#[derive(serde::Serialize, serde::Deserialize)]
struct Probe {
    #[serde(default)]
    hold_ms: u64,
    requested_by: Option<uuid::Uuid>,
}

impl jobs::Job for Probe {
    const TASK: &'static str = PROBE_TASK;
    const MAX_ATTEMPTS: i32 = 3;
}

pub async fn probe_job(mut ctx: JobCtx) -> (JobCtx, JobResult) {
    let Probe {
        hold_ms,
        requested_by,
    } = match ctx.job::<Probe>() {
        Ok(probe) => probe,
        Err(bad) => return (ctx, Err(bad)),
    };
    let hold = hold_ms.min(60_000);
    let result = async {
        sqlx::query("INSERT INTO job_probes (job_id, requested_by) VALUES ($1, $2)")
            .bind(ctx.id)
            .bind(requested_by)
            .execute(&mut **ctx.tx)
            .await?;
        if hold > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(hold)).await;
        }
        Ok::<(), anyhow::Error>(())
    }
    .await
    .map_err(jobs::JobError::from);
    (ctx, result)
}

/// Hourly platform housekeeping: expired throttle buckets and long-spent refresh tokens.
pub async fn cleanup_job(mut ctx: JobCtx) -> (JobCtx, JobResult) {
    let now = ctx.clock.now();
    let result = sqlx::query("DELETE FROM public.login_attempts WHERE window_start < $1 - interval '1 day' AND (blocked_until IS NULL OR blocked_until < $1)")
        .bind(now)
        .execute(&mut **ctx.tx)
        .await
        .map(|_| ())
        .map_err(jobs::JobError::from);
    (ctx, result)
}

async fn enqueue_probe(
    tx: &mut TenantTx,
    slug: &Slug,
    actor: &Actor,
    hold_ms: u64,
) -> Result<(), AppError> {
    let probe = Probe {
        hold_ms,
        requested_by: actor.user_id,
    };
    jobs::push(tx, Some(slug), &probe, None).await?;
    Ok(())
}

async fn overview(tx: &mut TenantTx) -> Result<QueueOverview, AppError> {
    let depth = jobs::depth(tx).await?;
    let failed = jobs::failed(tx).await?;
    let parked = events::parked(tx).await?;
    let probes_completed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM job_probes")
        .fetch_one(&mut **tx)
        .await?;
    Ok(QueueOverview {
        depth,
        failed,
        parked,
        probes_completed,
    })
}

/// Sends a parked event to the subscribers again.
async fn unpark(tx: &mut TenantTx, slug: &Slug, actor: &Actor, id: i64) -> Result<(), AppError> {
    if !events::unpark(tx, slug, id).await? {
        return Err(AppError::NotFound);
    }
    let entity = uuid::Uuid::from_u64_pair(0, id as u64);
    audit::record(
        tx,
        actor,
        "retry",
        "domain_event",
        entity,
        json!({"event_id": id}),
    )
    .await?;
    Ok(())
}

async fn act(tx: &mut TenantTx, actor: &Actor, id: i64, retry: bool) -> Result<(), AppError> {
    let done = if retry {
        jobs::retry(tx, id).await?
    } else {
        jobs::discard(tx, id).await?
    };
    if !done {
        return Err(AppError::NotFound);
    }
    // Jobs have bigint ids; the audit row keys them under a name-based UUID.
    let entity = uuid::Uuid::from_u64_pair(0, id as u64);
    audit::record(
        tx,
        actor,
        if retry { "retry" } else { "discard" },
        "job",
        entity,
        json!({"job_id": id}),
    )
    .await?;
    Ok(())
}

/// The tenant's job queue: depth per task, failed jobs, events parked because a subscriber
/// could not handle them, completed probes.
#[derive(Serialize, ToSchema)]
pub struct QueueOverview {
    pub depth: Vec<TaskDepth>,
    pub failed: Vec<FailedJob>,
    pub parked: Vec<ParkedEvent>,
    pub probes_completed: i64,
}

#[utoipa::path(get, path = "/jobs", tag = "jobs", operation_id = "jobsOverview", responses((status = 200, body = QueueOverview)))]
pub async fn api_overview(mut ctx: ApiCtx) -> Result<Json<QueueOverview>, AppError> {
    ctx.require(crate::admin::perm::JOBS_READ)?;
    let overview = overview(&mut ctx.tx).await?;
    ctx.commit().await?;
    Ok(Json(overview))
}

const MAX_HOLD_MS: u64 = 60_000;

#[derive(Deserialize, ToSchema)]
pub struct ProbeBody {
    /// Keep the probe job running this many milliseconds (default 0, at most 60,000).
    #[schema(minimum = 0, maximum = 60000)]
    pub hold_ms: Option<u64>,
}

/// Enqueues a self-test job that proves the workers run this tenant's jobs.
#[utoipa::path(post, path = "/jobs/probe", tag = "jobs", operation_id = "enqueueProbe",
    request_body(content = Option<ProbeBody>), responses((status = 202, description = "Enqueued")))]
pub async fn api_probe(
    mut ctx: ApiCtx,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(crate::admin::perm::JOBS_UPDATE)?;
    // An empty body is fine; otherwise `{"hold_ms": n}` keeps the probe running n ms.
    let hold = if body.is_empty() {
        0
    } else {
        serde_json::from_slice::<ProbeBody>(&body)
            .map_err(|_| AppError::BadRequest("malformed JSON body".into()))?
            .hold_ms
            .unwrap_or(0)
    };
    if hold > MAX_HOLD_MS {
        return Err(AppError::field(
            "hold_ms",
            "must be at most 60000 (one minute)",
        ));
    }
    let actor = ctx.actor();
    enqueue_probe(&mut ctx.tx, &ctx.principal.slug, &actor, hold).await?;
    ctx.commit().await?;
    Ok(StatusCode::ACCEPTED)
}

fn job_id(raw: &str) -> Result<i64, AppError> {
    raw.parse().map_err(|_| AppError::NotFound)
}

/// Runs a failed job again.
#[utoipa::path(post, path = "/jobs/{id}/retry", tag = "jobs", operation_id = "retryJob", params(("id" = i64, Path, description = "Job id")),
    responses((status = 204, description = "Queued again")))]
pub async fn api_retry(mut ctx: ApiCtx, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    ctx.require(crate::admin::perm::JOBS_UPDATE)?;
    let actor = ctx.actor();
    act(&mut ctx.tx, &actor, job_id(&id)?, true).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Hands an event that was parked (a subscriber could not handle it) to the subscribers again.
#[utoipa::path(post, path = "/jobs/events/{id}/retry", tag = "jobs", operation_id = "retryParkedEvent", params(("id" = i64, Path, description = "Event id")),
    responses((status = 204, description = "Queued again"), (status = 404, description = "No such parked event")))]
pub async fn api_retry_event(
    mut ctx: ApiCtx,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    ctx.require(crate::admin::perm::JOBS_UPDATE)?;
    let actor = ctx.actor();
    let slug = ctx.principal.slug.clone();
    unpark(&mut ctx.tx, &slug, &actor, job_id(&id)?).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a failed job.
#[utoipa::path(post, path = "/jobs/{id}/discard", tag = "jobs", operation_id = "discardJob", params(("id" = i64, Path, description = "Job id")),
    responses((status = 204, description = "Discarded")))]
pub async fn api_discard(mut ctx: ApiCtx, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    ctx.require(crate::admin::perm::JOBS_UPDATE)?;
    let actor = ctx.actor();
    act(&mut ctx.tx, &actor, job_id(&id)?, false).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Template)]
#[template(path = "admin/jobs.html", blocks = ["content"])]
struct JobsPage {
    chrome: Chrome,
    queue: QueueOverview,
    can_act: bool,
}

pub async fn web_page(mut ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require(crate::admin::perm::JOBS_READ)?;
    let queue = overview(&mut ctx.tx).await?;
    ctx.tx.commit().await?;
    let can_act = ctx.principal.can(crate::admin::perm::JOBS_UPDATE);
    Ok(render_page!(
        hx,
        JobsPage {
            chrome: Chrome::new(&ctx.principal, &ctx.csrf, "jobs", &ctx.manifest, ctx.now),
            queue,
            can_act
        }
    ))
}

pub async fn web_probe(mut ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require(crate::admin::perm::JOBS_UPDATE)?;
    let actor = ctx.actor();
    let slug = ctx.principal.slug.clone();
    enqueue_probe(&mut ctx.tx, &slug, &actor, 0).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, "/admin/jobs"))
}

async fn web_act(mut ctx: WebCtx, hx: bool, id: &str, retry: bool) -> Result<Response, WebError> {
    ctx.require(crate::admin::perm::JOBS_UPDATE)?;
    let actor = ctx.actor();
    act(&mut ctx.tx, &actor, job_id(id)?, retry).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, "/admin/jobs"))
}

pub async fn web_retry(
    ctx: WebCtx,
    Hx(hx): Hx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    web_act(ctx, hx, &id, true).await
}

pub async fn web_retry_event(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    ctx.require(crate::admin::perm::JOBS_UPDATE)?;
    let actor = ctx.actor();
    let slug = ctx.principal.slug.clone();
    unpark(&mut ctx.tx, &slug, &actor, job_id(&id)?).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, "/admin/jobs"))
}

pub async fn web_discard(
    ctx: WebCtx,
    Hx(hx): Hx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    web_act(ctx, hx, &id, false).await
}
