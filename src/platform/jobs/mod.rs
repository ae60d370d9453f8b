//! The durable job queue (PostgreSQL, shared by all tenants; each job names its tenant).
//!
//! * `enqueue` runs inside the caller's transaction: a rolled-back change enqueues nothing.
//! * A job key makes a pending job replaceable (`enqueue` again) or cancellable (`cancel`).
//! * Workers claim with `FOR UPDATE SKIP LOCKED`, heartbeat, and run each handler inside a
//!   transaction that also deletes the job: if the worker dies, the handler's database effects
//!   roll back with it, and the job returns to the queue once the heartbeat is stale — so
//!   database side effects happen exactly once. External effects use idempotency keys.
//! * A handler that calls out (HTTP, SMTP) does so through `JobCtx::outside`: what it read is
//!   committed first and the result is recorded in a fresh transaction, so no transaction or
//!   lock is held across a network call (svix's worker does the same).
//! * A panicking handler, one past its task's deadline, and one whose worker died all count as
//!   a failed attempt: they retry with backoff and stop at `max_attempts`, so no job can jam a
//!   slot or loop forever.
//! * Failures retry with exponential backoff and jitter up to `max_attempts`, then stay as
//!   `failed` for an admin to retry or discard.
//! * Workers wake on `NOTIFY firelater_jobs` (sent when a due job is enqueued, delivered at
//!   commit) and otherwise look again every few seconds for jobs that have come due.
//! * Recurring jobs come from `public.job_schedules`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use futures::FutureExt;
use rand::Rng;
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tokio::sync::watch;

mod overview;
pub use overview::{FailedJob, TaskDepth, depth, discard, failed, retry};

use crate::platform::clock::Clock;
use crate::platform::tenancy::Slug;

#[derive(Debug, Clone, Default)]
pub struct JobOptions {
    pub run_at: Option<DateTime<Utc>>,
    pub key: Option<String>,
    pub max_attempts: Option<i32>,
}

/// The channel workers listen on for new due jobs.
pub const WAKE_CHANNEL: &str = "firelater_jobs";

/// Enqueues a job in the caller's transaction. With a key, an existing pending job of the same
/// tenant and key is replaced (new payload and time, attempts from zero); a running one is
/// told to run once more, at the new time (so a timer may reschedule itself from its own
/// handler).
pub async fn enqueue(
    conn: &mut PgConnection,
    tenant: Option<&Slug>,
    task: &str,
    payload: Value,
    opts: JobOptions,
) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(&format!(
        "WITH queued AS (
            INSERT INTO public.jobs (tenant_slug, task, payload, job_key, run_at, max_attempts)
            VALUES ($1, $2, $3, $4, COALESCE($5, NOW()), COALESCE($6, 10))
            {REPLACE_KEYED}
            RETURNING id, run_at)
         SELECT q.id, w.woken IS NOT NULL FROM queued q
         LEFT JOIN LATERAL (SELECT pg_notify($7, '') AS woken WHERE q.run_at <= NOW()) w ON true"
    ))
    .bind(tenant.map(Slug::as_str))
    .bind(task)
    .bind(payload)
    .bind(opts.key)
    .bind(opts.run_at)
    .bind(opts.max_attempts)
    .bind(WAKE_CHANNEL)
    .fetch_one(conn)
    .await?)
}

/// How a keyed job asked for again replaces a queued one, or tells a running one to run once
/// more (with its attempts kept).
const REPLACE_KEYED: &str =
    "ON CONFLICT (tenant_slug, job_key) WHERE job_key IS NOT NULL DO UPDATE SET
    payload = EXCLUDED.payload, run_at = EXCLUDED.run_at,
    rerun = jobs.locked_at IS NOT NULL,
    attempts = CASE WHEN jobs.locked_at IS NOT NULL THEN jobs.attempts ELSE 0 END,
    last_error = NULL, status = 'pending', updated_at = NOW()";

/// Keyed jobs of one type set in one statement: each is (re)scheduled at its time like
/// `push`, or, without a time, cancelled like `cancel` (timers that move together).
pub async fn set_keyed<J: Job>(
    conn: &mut PgConnection,
    tenant: &Slug,
    plan: &[(J, Option<DateTime<Utc>>)],
) -> anyhow::Result<()> {
    let mut keys = Vec::with_capacity(plan.len());
    let mut payloads = Vec::with_capacity(plan.len());
    let mut times = Vec::with_capacity(plan.len());
    for (job, run_at) in plan {
        let key = job
            .key()
            .ok_or_else(|| anyhow::anyhow!("{} jobs have no key", J::TASK))?;
        keys.push(key);
        payloads.push(serde_json::to_value(job)?);
        times.push(*run_at);
    }
    sqlx::query(&format!(
        "WITH plan AS (SELECT * FROM unnest($2::text[], $3::jsonb[], $4::timestamptz[]) AS p(job_key, payload, run_at)),
         dropped AS (
            DELETE FROM public.jobs j USING plan p
            WHERE j.tenant_slug = $1 AND j.job_key = p.job_key AND p.run_at IS NULL AND j.locked_at IS NULL),
         queued AS (
            INSERT INTO public.jobs (tenant_slug, task, payload, job_key, run_at, max_attempts)
            SELECT $1, $5, payload, job_key, run_at, $6 FROM plan WHERE run_at IS NOT NULL
            {REPLACE_KEYED}
            RETURNING run_at)
         SELECT pg_notify($7, '') FROM queued WHERE run_at <= NOW() LIMIT 1"
    ))
    .bind(tenant.as_str())
    .bind(keys)
    .bind(payloads)
    .bind(times)
    .bind(J::TASK)
    .bind(J::MAX_ATTEMPTS)
    .bind(WAKE_CHANNEL)
    .execute(conn)
    .await?;
    Ok(())
}

type Query<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

/// Makes sure a run of the tenant's job `task` (keyed by its name, no payload) starts after
/// the caller's transaction commits — the outbox dispatch, asked for by every event — in one
/// statement with the write that causes it: `before`, if any, is a data-modifying CTE (`name AS
/// (INSERT …)`) whose parameters start at `$4`, bound by `bind`.
///
/// It is asked for hundreds of times a second, so it must not make writers queue behind each
/// other on the job's row, nor serialize their commits on NOTIFY:
/// * pending (the usual case under load): nothing is written; a `FOR KEY SHARE` lock, which
///   writers share, keeps the job from being claimed until this transaction commits, so the
///   run cannot miss its event;
/// * running: it is told to run once more (only the first writer of a run writes);
/// * absent: it is inserted and the workers are woken.
///
/// A pending job that is failing keeps its attempt count and backoff: requests do not reset
/// the count nor make it run sooner.
pub async fn signal_with(
    conn: &mut PgConnection,
    before: Option<&str>,
    bind: impl for<'a> FnOnce(Query<'a>) -> Query<'a>,
    tenant: &Slug,
    task: &str,
) -> anyhow::Result<()> {
    let sql = format!(
        "WITH {}held AS (SELECT id, locked_at IS NOT NULL AS running, rerun FROM public.jobs
                  WHERE tenant_slug = $1 AND job_key = $2 FOR KEY SHARE),
         again AS (UPDATE public.jobs SET rerun = true, updated_at = NOW()
                   WHERE id = (SELECT id FROM held WHERE running AND NOT rerun)),
         queued AS (
            INSERT INTO public.jobs (tenant_slug, task, payload, job_key, run_at)
            SELECT $1, $2, 'null'::jsonb, $2, NOW() WHERE NOT EXISTS (SELECT 1 FROM held)
            ON CONFLICT (tenant_slug, job_key) WHERE job_key IS NOT NULL DO NOTHING
            RETURNING id)
         SELECT pg_notify($3, '') FROM queued",
        before.map(|b| format!("{b}, ")).unwrap_or_default()
    );
    let query = sqlx::query(&sql)
        .bind(tenant.as_str())
        .bind(task)
        .bind(WAKE_CHANNEL);
    bind(query).execute(conn).await?;
    Ok(())
}

/// A job type: its task name, payload and key rules in one place (as crates.io's
/// `BackgroundJob`), so enqueueing and handling cannot disagree about them.
pub trait Job: serde::Serialize + serde::de::DeserializeOwned {
    const TASK: &'static str;
    const MAX_ATTEMPTS: i32 = 10;

    /// One job per (tenant, key): asking again replaces a queued job or reruns a running one.
    fn key(&self) -> Option<String> {
        None
    }
}

/// Enqueues a typed job in the caller's transaction (at `run_at`, else now).
pub async fn push<J: Job>(
    conn: &mut PgConnection,
    tenant: Option<&Slug>,
    job: &J,
    run_at: Option<DateTime<Utc>>,
) -> anyhow::Result<i64> {
    let opts = JobOptions {
        run_at,
        key: job.key(),
        max_attempts: Some(J::MAX_ATTEMPTS),
    };
    enqueue(conn, tenant, J::TASK, serde_json::to_value(job)?, opts).await
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
    pub tx: JobTx,
    pub clock: Arc<dyn Clock>,
    pool: PgPool,
}

/// The job's transaction. It is only ever absent inside `JobCtx::outside`, which puts a fresh
/// one back before returning.
pub struct JobTx(Option<Transaction<'static, Postgres>>);

impl std::ops::Deref for JobTx {
    type Target = Transaction<'static, Postgres>;
    fn deref(&self) -> &Self::Target {
        self.0
            .as_ref()
            .expect("a job's transaction is present outside JobCtx::outside")
    }
}

impl std::ops::DerefMut for JobTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.0
            .as_mut()
            .expect("a job's transaction is present outside JobCtx::outside")
    }
}

impl JobCtx {
    /// Commits what the job has done so far, runs `call` (a network call) with no transaction
    /// open, then opens a fresh job transaction for recording the result — which commits with
    /// the job's completion. The job stays claimed meanwhile, so no other worker runs it.
    pub async fn outside<T>(&mut self, call: impl Future<Output = T>) -> Result<T, JobError> {
        if let Some(tx) = self.tx.0.take() {
            tx.commit().await?;
        }
        let out = call.await;
        self.tx.0 = Some(begin_job_tx(&self.pool, self.tenant.as_ref()).await?);
        Ok(out)
    }

    /// The typed payload; one that does not parse fails the job for good.
    pub fn job<J: Job>(&self) -> Result<J, JobError> {
        serde_json::from_value(self.payload.clone())
            .map_err(|e| JobError::permanent(format!("bad {} payload: {e}", J::TASK)))
    }

    /// The pool, for work that must outlive the job's transaction (noting a failed attempt,
    /// which the transaction's rollback would erase).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

async fn begin_job_tx(
    pool: &PgPool,
    tenant: Option<&Slug>,
) -> anyhow::Result<Transaction<'static, Postgres>> {
    Ok(match tenant {
        Some(slug) => crate::platform::tenancy::begin(pool, slug)
            .await
            .map_err(|e| match e {
                crate::platform::error::AppError::Internal(cause) => cause,
                other => anyhow::anyhow!("{other}"),
            })?,
        None => pool.begin().await?,
    })
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

/// How long a run may take unless its task says otherwise; past it the run is abandoned (its
/// transaction rolls back) and counts as a failed attempt.
pub const DEFAULT_DEADLINE: StdDuration = StdDuration::from_secs(300);

#[derive(Clone)]
struct Task {
    handler: Handler,
    deadline: StdDuration,
}

#[derive(Default, Clone)]
pub struct Registry {
    tasks: HashMap<&'static str, Task>,
}

impl Registry {
    /// Registers `f` for `task`. The handler returns its context so the worker can commit the
    /// transaction together with the job's completion.
    pub fn on<F, Fut>(&mut self, task: &'static str, f: F)
    where
        F: Fn(JobCtx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = (JobCtx, JobResult)> + Send + 'static,
    {
        self.on_with_deadline(task, DEFAULT_DEADLINE, f);
    }

    /// `on` with the task's own deadline for one run.
    pub fn on_with_deadline<F, Fut>(&mut self, task: &'static str, deadline: StdDuration, f: F)
    where
        F: Fn(JobCtx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = (JobCtx, JobResult)> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |ctx| Box::pin(f(ctx)));
        self.tasks.insert(task, Task { handler, deadline });
    }

    pub fn tasks(&self) -> Vec<&'static str> {
        let mut t: Vec<_> = self.tasks.keys().copied().collect();
        t.sort();
        t
    }
}

fn jitter() -> f64 {
    rand::thread_rng().gen_range(0.8..1.2)
}

/// Retry delay after `attempt` failures: 2^attempt seconds (capped at an hour) ± 20 % jitter.
pub fn backoff(attempt: i32) -> Duration {
    let base = 2f64.powi(attempt.clamp(0, 12)).min(3600.0);
    Duration::milliseconds((base * jitter() * 1000.0) as i64)
}

const HEARTBEAT: StdDuration = StdDuration::from_secs(5);
const DEAD_AFTER_SECS: f64 = 30.0;
/// How often an idle worker looks for jobs that came due without a wake-up (retries, timers).
const IDLE_LOOK: StdDuration = StdDuration::from_secs(1);
/// The first look again for a due job that was held when claimed.
const HELD_LOOK_FIRST: StdDuration = StdDuration::from_millis(5);

/// Turns `NOTIFY firelater_jobs` into wake-ups, reconnecting after a lost connection (the
/// periodic look covers the gap).
async fn listen(pool: PgPool, wake: Arc<tokio::sync::Notify>) {
    loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut l) => {
                if l.listen(WAKE_CHANNEL).await.is_ok() {
                    while l.recv().await.is_ok() {
                        wake.notify_one();
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "job wake-up listener cannot connect"),
        }
        tokio::time::sleep(StdDuration::from_secs(1)).await;
    }
}

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
        let wake = Arc::new(tokio::sync::Notify::new());
        let listener = tokio::spawn(listen(self.pool.clone(), wake.clone()));
        let mut slots = tokio::task::JoinSet::new();
        let mut held_wait = HELD_LOOK_FIRST;
        loop {
            if *shutdown.borrow() {
                break;
            }
            while slots.len() >= self.concurrency {
                slots.join_next().await;
            }
            match self.claim().await {
                Ok(Some(job)) => {
                    held_wait = HELD_LOOK_FIRST;
                    let me = self.clone();
                    slots.spawn(async move { me.execute(job).await });
                }
                Ok(None) => {
                    // A due job that a writer holds for a moment (`signal_with`) is looked for
                    // again soon, and less often the longer it stays held. Otherwise: a
                    // finished job may free a slot for one that was woken meanwhile; a job
                    // that comes due later (backoff, timers) is found by the periodic look.
                    let pause = if self.due_but_held().await.unwrap_or(false) {
                        let pause = held_wait;
                        held_wait = (held_wait * 2).min(IDLE_LOOK);
                        pause
                    } else {
                        IDLE_LOOK
                    };
                    tokio::select! {
                        _ = wake.notified() => {}
                        _ = tokio::time::sleep(pause) => {}
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
        listener.abort();
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
        // The claim already counted the attempt the dead worker was making: a job that kills
        // its worker every time fails after `max_attempts` instead of looping.
        let recovered = sqlx::query(
            "UPDATE public.jobs SET locked_at = NULL, locked_by = NULL, updated_at = $1, rerun = false,
                last_error = 'its worker stopped while running it (attempt ' || attempts || ' of ' || max_attempts || ')',
                status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
                run_at = $1 + make_interval(secs => $3 * LEAST(power(2, LEAST(attempts, 12)), 3600))
             WHERE locked_at IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM public.job_workers w
                WHERE w.id = jobs.locked_by AND w.heartbeat_at > $1 - make_interval(secs => $2))",
        )
        .bind(now)
        .bind(DEAD_AFTER_SECS)
        .bind(jitter())
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

    /// Whether a due job is waiting that the last claim skipped because a transaction holds
    /// its row.
    async fn due_but_held(&self) -> anyhow::Result<bool> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM public.jobs
                            WHERE status = 'pending' AND locked_at IS NULL AND run_at <= $1)",
        )
        .bind(self.clock.now())
        .fetch_one(&self.pool)
        .await?)
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
        let deadline = self
            .registry
            .tasks
            .get(job.task.as_str())
            .map_or(DEFAULT_DEADLINE, |t| t.deadline);
        // A panic or an overrun drops the handler's future, and with it its transaction
        // (rolled back): the attempt is recorded below like any other failure.
        let run = std::panic::AssertUnwindSafe(self.run_handler(&job)).catch_unwind();
        let outcome = match tokio::time::timeout(deadline, run).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(panic)) => Err(JobError::from(format!(
                "the handler panicked: {}",
                panic_message(panic.as_ref())
            ))),
            Err(_) => Err(JobError::from(format!(
                "the run took longer than its deadline of {} s",
                deadline.as_secs()
            ))),
        };
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
        let Some(handler) = self
            .registry
            .tasks
            .get(job.task.as_str())
            .map(|t| t.handler.clone())
        else {
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
        let tx = begin_job_tx(&self.pool, tenant.as_ref()).await?;
        let ctx = JobCtx {
            id: job.id,
            tenant,
            payload: job.payload.clone(),
            attempt: job.attempts,
            tx: JobTx(Some(tx)),
            clock: self.clock.clone(),
            pool: self.pool.clone(),
        };
        let (mut ctx, result) = handler(ctx).await;
        result?;
        // Completion commits with the handler's own writes. A keyed job re-requested while it
        // ran goes back to pending instead of disappearing.
        // The delete goes first and re-checks `rerun` after waiting on a writer that holds the
        // row (`signal_with`): a request made while the run was ending is never dropped.
        sqlx::query(
            "WITH done AS (DELETE FROM public.jobs WHERE id = $1 AND NOT rerun RETURNING id)
             UPDATE public.jobs SET rerun = false, locked_at = NULL, locked_by = NULL, attempts = 0, updated_at = NOW()
             WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM done)",
        )
        .bind(job.id)
        .execute(&mut **ctx.tx)
        .await?;
        if let Some(tx) = ctx.tx.0.take() {
            tx.commit().await?;
        }
        Ok(())
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "host".into())
}
