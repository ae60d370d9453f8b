//! The durable job queue with real workers: retries with backoff, and a worker process killed
//! with SIGKILL mid-job whose job is recovered and takes effect exactly once. Each test has a
//! database of its own, because a worker claims every tenant's jobs.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use firelater::app;
use firelater::platform::clock::{Clock, ShiftedClock};
use firelater::platform::config::Config;
use firelater::platform::jobs::{self, JobError, JobOptions, Registry, Worker};
use firelater::platform::tenancy;
use serde_json::json;
use tokio::sync::watch;

use crate::support::IsolatedDb;

async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[derive(sqlx::FromRow, Debug)]
struct JobRow {
    attempts: i32,
    status: String,
    run_at: DateTime<Utc>,
    locked_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

async fn job(pool: &sqlx::PgPool, id: i64) -> Option<JobRow> {
    sqlx::query_as(
        "SELECT attempts, status, run_at, locked_at, last_error FROM public.jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_is_retried_with_growing_backoff_then_fails() {
    let db = IsolatedDb::new().await;
    let slug = db.tenant().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::default();
    let counter = runs.clone();
    registry.on("test.always_fails", move |ctx| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            (
                ctx,
                Err(JobError::from(anyhow::anyhow!("upstream said no"))),
            )
        }
    });
    let mut tx = tenancy::begin(&db.pool, &slug).await.unwrap();
    let id = jobs::enqueue(
        &mut tx,
        Some(&slug),
        "test.always_fails",
        json!({}),
        JobOptions {
            max_attempts: Some(3),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let clock = ShiftedClock::default();
    let worker = Arc::new(Worker::new(
        db.pool.clone(),
        registry,
        Arc::new(clock.clone()),
        1,
    ));
    let (stop, stop_rx) = watch::channel(false);
    let running = tokio::spawn(worker.run(stop_rx));

    let mut delays = Vec::new();
    for attempt in 1..=2 {
        wait_until("the failed attempt to be recorded", || async {
            job(&db.pool, id)
                .await
                .is_some_and(|j| j.attempts == attempt && j.locked_at.is_none())
        })
        .await;
        let row = job(&db.pool, id).await.unwrap();
        assert_eq!(row.status, "pending", "{row:?}");
        assert!(
            row.last_error
                .as_deref()
                .unwrap()
                .contains("upstream said no")
        );
        let delay = (row.run_at - clock.now()).num_milliseconds();
        delays.push(delay);
        // Not retried before its time…
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(runs.load(Ordering::SeqCst), attempt as usize);
        // …and retried once it is due.
        clock.advance(chrono::Duration::milliseconds(delay + 100));
    }
    wait_until("the job to give up", || async {
        job(&db.pool, id)
            .await
            .is_some_and(|j| j.status == "failed")
    })
    .await;
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    // Exponential with ±20 % jitter: ~2 s after the first failure, ~4 s after the second.
    assert!((1_000..3_000).contains(&delays[0]), "{delays:?}");
    assert!((3_000..5_500).contains(&delays[1]), "{delays:?}");
    let _ = stop.send(true);
    running.await.unwrap();
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_of_a_killed_worker_runs_again_exactly_once() {
    let db = IsolatedDb::new().await;
    let slug = db.tenant().await;
    let mut tx = tenancy::begin(&db.pool, &slug).await.unwrap();
    let id = jobs::enqueue(
        &mut tx,
        Some(&slug),
        firelater::admin::jobs::PROBE_TASK,
        json!({"hold_ms": 3000}),
        JobOptions::default(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // A real `firelater worker` process takes the job; the probe writes its row and then holds.
    let mut child = Command::new(env!("CARGO_BIN_EXE_firelater"))
        .arg("worker")
        .env("DATABASE_URL", db.url())
        .env(
            "FIRELATER_SECRET_KEY",
            "test-secret-key-test-secret-key-0123",
        )
        .env(
            "FIRELATER_DATA_DIR",
            std::env::temp_dir().join("firelater-worker-test"),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start firelater worker");
    wait_until("the worker process to take the job", || async {
        job(&db.pool, id)
            .await
            .is_some_and(|j| j.locked_at.is_some())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();

    let probes = |pool: sqlx::PgPool| {
        let slug = slug.clone();
        async move {
            let mut tx = tenancy::begin(&pool, &slug).await.unwrap();
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM job_probes WHERE job_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            n
        }
    };
    // The killed run's work died with its transaction; the job still looks taken.
    assert_eq!(probes(db.pool.clone()).await, 0);
    assert!(job(&db.pool, id).await.unwrap().locked_at.is_some());

    // A new worker, 60 s later (the dead worker's heartbeat is stale), recovers and runs it.
    let clock = ShiftedClock::default();
    clock.advance(chrono::Duration::seconds(60));
    let mut config = Config::from_lookup(|_| None).unwrap();
    config.secret_key = b"test-secret-key-test-secret-key-0123".to_vec();
    let state = firelater::app::state(db.pool.clone(), config, Arc::new(clock.clone()));
    let worker = Arc::new(Worker::new(
        db.pool.clone(),
        app::job_registry(&state).unwrap(),
        Arc::new(clock),
        2,
    ));
    let (stop, stop_rx) = watch::channel(false);
    let running = tokio::spawn(worker.run(stop_rx));
    wait_until("the recovered job to finish", || async {
        job(&db.pool, id).await.is_none()
    })
    .await;
    assert_eq!(
        probes(db.pool.clone()).await,
        1,
        "the side effect happened exactly once"
    );
    let _ = stop.send(true);
    running.await.unwrap();
    db.drop().await;
}
