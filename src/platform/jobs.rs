//! The durable job queue (PostgreSQL, shared by all tenants; each job names its tenant).
//!
//! * `enqueue` runs inside the caller's transaction: a rolled-back change enqueues nothing.
//! * A job key makes a pending job replaceable (`enqueue` again) or cancellable (`cancel`).
//! * Workers claim with `FOR UPDATE SKIP LOCKED`, heartbeat, and run each handler inside a
//!   transaction that also deletes the job: if the worker dies, the handler's database effects
//!   roll back with it, and the job returns to the queue once the heartbeat is stale — so
//!   database side effects happen exactly once. External effects use idempotency keys.
//! * Failures retry with exponential backoff and jitter up to `max_attempts`, then stay as
//!   `failed` for an admin to retry or discard.
//! * Recurring jobs come from `public.job_schedules`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tokio::sync::watch;

use crate::platform::clock::Clock;
use crate::platform::tenancy::Slug;

#[derive(Debug, Clone, Default)]
pub struct JobOptions {
    pub run_at: Option<DateTime<Utc>>,
    pub key: Option<String>,
    pub max_attempts: Option<i32>,
}

/// Holds `key` for the rest of the caller's transaction, so two jobs working on one record
/// (a retry and an administrator's "send again") take turns. An advisory lock, not a row lock:
/// a job may note a failed attempt on its row from a second connection meanwhile.
pub async fn hold(conn: &mut PgConnection, key: &str) -> anyhow::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Enqueues a job in the caller's transaction. With a key, an existing pending job of the same
/// tenant and key is replaced (new payload and time); a running one is told to run once more,
/// at the new time (so a timer may reschedule itself from its own handler).
pub async fn enqueue(
    conn: &mut PgConnection,
    tenant: Option<&Slug>,
    task: &str,
    payload: Value,
    opts: JobOptions,
) -> anyhow::Result<i64> {
    let id = sqlx::query_scalar(
        "INSERT INTO public.jobs (tenant_slug, task, payload, job_key, run_at, max_attempts)
         VALUES ($1, $2, $3, $4, COALESCE($5, NOW()), COALESCE($6, 10))
         ON CONFLICT (tenant_slug, job_key) WHERE job_key IS NOT NULL DO UPDATE SET
            payload = EXCLUDED.payload,
            run_at = EXCLUDED.run_at,
            rerun = jobs.locked_at IS NOT NULL,
            status = 'pending', attempts = CASE WHEN jobs.locked_at IS NULL THEN 0 ELSE jobs.attempts END,
            last_error = NULL, updated_at = NOW()
         RETURNING id",
    )
    .bind(tenant.map(Slug::as_str))
    .bind(task)
    .bind(payload)
    .bind(opts.key)
    .bind(opts.run_at)
    .bind(opts.max_attempts)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// Cancels a tenant's pending keyed job (a running one finishes).
pub async fn cancel(conn: &mut PgConnection, tenant: &Slug, key: &str) -> anyhow::Result<bool> {
    // `tenant_slug = $1`, not `IS NOT DISTINCT FROM`, which no index answers: with thousands of
    // pending SLA timers that was a scan of the queue on every resolve.
    let n = sqlx::query(
        "DELETE FROM public.jobs WHERE tenant_slug = $1 AND job_key = $2 AND locked_at IS NULL",
    )
    .bind(tenant.as_str())
    .bind(key)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// What a handler gets: the job, and a transaction (tenant-scoped when the job has a tenant)
/// that commits together with the job's completion.
pub struct JobCtx {
    pub id: i64,
    pub tenant: Option<Slug>,
    pub payload: Value,
    pub attempt: i32,
    pub tx: Transaction<'static, Postgres>,
    pub clock: Arc<dyn Clock>,
}

#[derive(Debug)]
pub struct JobError {
    pub message: String,
    /// Honour a provider's `Retry-After` instead of the backoff schedule.
    pub retry_after: Option<Duration>,
    /// Do not retry (e.g. a 4xx from a provider).
    pub permanent: bool,
}

impl<E: std::fmt::Display> From<E> for JobError {
    fn from(e: E) -> Self {
        JobError {
            message: e.to_string(),
            retry_after: None,
            permanent: false,
        }
    }
}

impl JobError {
    /// A failure that retrying cannot fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            retry_after: None,
            permanent: true,
        }
    }
}

pub type JobResult = Result<(), JobError>;
type BoxFut<'a> = Pin<Box<dyn Future<Output = (JobCtx, JobResult)> + Send + 'a>>;
pub type Handler = Arc<dyn Fn(JobCtx) -> BoxFut<'static> + Send + Sync>;

#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<&'static str, Handler>,
}

impl Registry {
    /// Registers `f` for `task`. The handler returns its context so the worker can commit the
    /// transaction together with the job's completion.
    pub fn on<F, Fut>(&mut self, task: &'static str, f: F)
    where
        F: Fn(JobCtx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = (JobCtx, JobResult)> + Send + 'static,
    {
        self.handlers
            .insert(task, Arc::new(move |ctx| Box::pin(f(ctx))));
    }

    pub fn tasks(&self) -> Vec<&'static str> {
        let mut t: Vec<_> = self.handlers.keys().copied().collect();
        t.sort();
        t
    }
}

/// Retry delay after `attempt` failures: 2^attempt seconds (capped at an hour) ± 20 % jitter.
pub fn backoff(attempt: i32) -> Duration {
    let base = 2f64.powi(attempt.clamp(0, 12)).min(3600.0);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    Duration::milliseconds((base * jitter * 1000.0) as i64)
}

const HEARTBEAT: StdDuration = StdDuration::from_secs(5);
const DEAD_AFTER_SECS: f64 = 30.0;

#[derive(sqlx::FromRow)]
struct Claimed {
    id: i64,
    tenant_slug: Option<String>,
    task: String,
    payload: Value,
    attempts: i32,
    max_attempts: i32,
}

pub struct Worker {
    pub id: String,
    pool: PgPool,
    registry: Arc<Registry>,
    clock: Arc<dyn Clock>,
    concurrency: usize,
}

impl Worker {
    pub fn new(
        pool: PgPool,
        registry: Registry,
        clock: Arc<dyn Clock>,
        concurrency: usize,
    ) -> Self {
        let id = format!(
            "{}-{}-{}",
            hostname(),
            std::process::id(),
            &uuid::Uuid::new_v4().to_string()[..8]
        );
        Worker {
            id,
            pool,
            registry: Arc::new(registry),
            clock,
            concurrency: concurrency.max(1),
        }
    }

    /// Runs until `shutdown` flips to true; in-flight jobs finish first.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let _ = sqlx::query(
            "INSERT INTO public.job_workers (id) VALUES ($1) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&self.id)
        .execute(&self.pool)
        .await;
        let hb = {
            let me = self.clone();
            let mut sd = shutdown.clone();
            tokio::spawn(async move {
                loop {
                    if let Err(e) = me.housekeeping().await {
                        tracing::warn!(error = %e, "job housekeeping failed");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(HEARTBEAT) => {}
                        _ = sd.changed() => break,
                    }
                }
            })
        };
        let mut slots = tokio::task::JoinSet::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            while slots.len() >= self.concurrency {
                slots.join_next().await;
            }
            match self.claim().await {
                Ok(Some(job)) => {
                    let me = self.clone();
                    slots.spawn(async move { me.execute(job).await });
                }
                Ok(None) => {
                    tokio::select! {
                        _ = tokio::time::sleep(StdDuration::from_millis(250)) => {}
                        _ = shutdown.changed() => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming a job failed");
                    tokio::time::sleep(StdDuration::from_secs(1)).await;
                }
            }
        }
        while slots.join_next().await.is_some() {}
        hb.abort();
        let _ = sqlx::query("DELETE FROM public.job_workers WHERE id = $1")
            .bind(&self.id)
            .execute(&self.pool)
            .await;
    }

    /// Heartbeat, recovery of jobs held by dead workers, and recurring schedules.
    pub async fn housekeeping(&self) -> anyhow::Result<()> {
        let now = self.clock.now();
        sqlx::query(
            "INSERT INTO public.job_workers (id, heartbeat_at) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at",
        )
        .bind(&self.id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let recovered = sqlx::query(
            "UPDATE public.jobs SET locked_at = NULL, locked_by = NULL, updated_at = $1
             WHERE locked_at IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM public.job_workers w
                WHERE w.id = jobs.locked_by AND w.heartbeat_at > $1 - make_interval(secs => $2))",
        )
        .bind(now)
        .bind(DEAD_AFTER_SECS)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if recovered > 0 {
            tracing::warn!(recovered, "returned jobs held by dead workers to the queue");
        }
        sqlx::query("DELETE FROM public.job_workers WHERE heartbeat_at < $1 - make_interval(secs => $2 * 10)")
            .bind(now)
            .bind(DEAD_AFTER_SECS)
            .execute(&self.pool)
            .await?;
        let mut tx = self.pool.begin().await?;
        let due: Vec<(String, String)> = sqlx::query_as(
            "UPDATE public.job_schedules
             SET next_run_at = GREATEST(next_run_at + make_interval(secs => every_secs), $1)
             WHERE next_run_at <= $1 RETURNING name, task",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for (name, task) in due {
            enqueue(
                &mut tx,
                None,
                &task,
                Value::Null,
                JobOptions {
                    key: Some(format!("schedule:{name}")),
                    ..Default::default()
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn claim(&self) -> anyhow::Result<Option<Claimed>> {
        self.claim_for(None).await
    }

    /// Claims the next due job (of one tenant only, when given).
    async fn claim_for(&self, tenant: Option<&Slug>) -> anyhow::Result<Option<Claimed>> {
        Ok(sqlx::query_as(
            "UPDATE public.jobs SET locked_at = $2, locked_by = $1, attempts = attempts + 1, updated_at = $2
             WHERE id = (SELECT id FROM public.jobs
                         WHERE status = 'pending' AND locked_at IS NULL AND run_at <= $2
                           AND ($3::text IS NULL OR tenant_slug = $3)
                         ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING id, tenant_slug, task, payload, attempts, max_attempts",
        )
        .bind(&self.id)
        .bind(self.clock.now())
        .bind(tenant.map(Slug::as_str))
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Runs one tenant's due jobs, one after another, until none is due (at most `limit`);
    /// returns how many ran. For fast-forwarding time deterministically: advance the clock,
    /// then drain.
    pub async fn drain(&self, tenant: &Slug, limit: usize) -> anyhow::Result<usize> {
        let mut ran = 0;
        while ran < limit {
            let Some(job) = self.claim_for(Some(tenant)).await? else {
                break;
            };
            self.execute(job).await;
            ran += 1;
        }
        Ok(ran)
    }

    async fn execute(&self, job: Claimed) {
        let outcome = self.run_handler(&job).await;
        let now = self.clock.now();
        let res = match outcome {
            Ok(()) => Ok(()),
            Err(err) => {
                tracing::warn!(job = job.id, task = %job.task, attempt = job.attempts, error = %err.message, "job failed");
                let give_up = err.permanent || job.attempts >= job.max_attempts;
                let run_at = now + err.retry_after.unwrap_or_else(|| backoff(job.attempts));
                sqlx::query(
                    "UPDATE public.jobs SET locked_at = NULL, locked_by = NULL, last_error = $2, updated_at = $3,
                        status = CASE WHEN $4 THEN 'failed' ELSE 'pending' END, run_at = $5
                     WHERE id = $1",
                )
                .bind(job.id)
                .bind(&err.message)
                .bind(now)
                .bind(give_up)
                .bind(run_at)
                .execute(&self.pool)
                .await
                .map(|_| ())
            }
        };
        if let Err(e) = res {
            tracing::error!(job = job.id, error = %e, "recording a job outcome failed");
        }
    }

    async fn run_handler(&self, job: &Claimed) -> Result<(), JobError> {
        let Some(handler) = self.registry.handlers.get(job.task.as_str()).cloned() else {
            return Err(JobError {
                message: format!("no handler for task '{}'", job.task),
                retry_after: None,
                permanent: true,
            });
        };
        let tenant = match &job.tenant_slug {
            Some(s) => Some(Slug::parse(s).map_err(|p| JobError {
                message: format!("bad tenant: {p}"),
                retry_after: None,
                permanent: true,
            })?),
            None => None,
        };
        let mut tx = self.pool.begin().await?;
        if let Some(slug) = &tenant {
            let schema = slug.schema();
            sqlx::query("SELECT set_config('search_path', $1, true), set_config('role', $2, true)")
                .bind(format!("{schema}, public"))
                .bind(&schema)
                .execute(&mut *tx)
                .await?;
        }
        let ctx = JobCtx {
            id: job.id,
            tenant,
            payload: job.payload.clone(),
            attempt: job.attempts,
            tx,
            clock: self.clock.clone(),
        };
        let (mut ctx, result) = handler(ctx).await;
        result?;
        // Completion commits with the handler's own writes. A keyed job re-requested while it
        // ran goes back to pending instead of disappearing.
        sqlx::query(
            "WITH again AS (
                UPDATE public.jobs SET rerun = false, locked_at = NULL, locked_by = NULL, attempts = 0, updated_at = NOW()
                WHERE id = $1 AND rerun RETURNING id)
             DELETE FROM public.jobs WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM again)",
        )
        .bind(job.id)
        .execute(&mut *ctx.tx)
        .await?;
        ctx.tx.commit().await?;
        Ok(())
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "host".into())
}

/// Queue depth and failures for the admin page and `/v1/jobs`.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TaskDepth {
    pub task: String,
    pub pending: i64,
    pub running: i64,
    pub failed: i64,
}

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct FailedJob {
    pub id: i64,
    pub task: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// Queue depth of one tenant's jobs (runs in the tenant transaction: RLS shows only its own).
pub async fn depth(conn: &mut PgConnection) -> anyhow::Result<Vec<TaskDepth>> {
    Ok(sqlx::query_as(
        "SELECT task,
                COUNT(*) FILTER (WHERE status = 'pending' AND locked_at IS NULL) AS pending,
                COUNT(*) FILTER (WHERE locked_at IS NOT NULL) AS running,
                COUNT(*) FILTER (WHERE status = 'failed') AS failed
         FROM public.jobs GROUP BY task ORDER BY task",
    )
    .fetch_all(conn)
    .await?)
}

pub async fn failed(conn: &mut PgConnection) -> anyhow::Result<Vec<FailedJob>> {
    Ok(sqlx::query_as(
        "SELECT id, task, attempts, last_error, updated_at FROM public.jobs WHERE status = 'failed' ORDER BY updated_at DESC LIMIT 200",
    )
    .fetch_all(conn)
    .await?)
}

/// Puts a failed job back in the queue. Returns false when there is no such failed job.
pub async fn retry(conn: &mut PgConnection, id: i64) -> anyhow::Result<bool> {
    Ok(sqlx::query(
        "UPDATE public.jobs SET status = 'pending', attempts = 0, run_at = NOW(), last_error = NULL, updated_at = NOW()
         WHERE id = $1 AND status = 'failed'",
    )
    .bind(id)
    .execute(conn)
    .await?
    .rows_affected()
        > 0)
}

pub async fn discard(conn: &mut PgConnection, id: i64) -> anyhow::Result<bool> {
    Ok(
        sqlx::query("DELETE FROM public.jobs WHERE id = $1 AND status = 'failed'")
            .bind(id)
            .execute(conn)
            .await?
            .rows_affected()
            > 0,
    )
}
