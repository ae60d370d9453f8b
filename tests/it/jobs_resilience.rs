//! A queue that cannot jam: a panicking handler and one past its deadline fail their attempt
//! (and the slot goes on to other jobs); a job whose worker dies every time stops after
//! `max_attempts`; a poison event is parked while the tenant's later events flow; a webhook
//! receiver that hangs holds no transaction and no slot the other jobs need.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use firelater::app;
use firelater::platform::audit::Actor;
use firelater::platform::clock::{Clock, ShiftedClock};
use firelater::platform::config::Config;
use firelater::platform::events::{self, DomainEvent, Subscriber};
use firelater::platform::jobs::{self, JobOptions, Registry, Worker};
use firelater::platform::tenancy::{self, Slug};
use serde_json::json;
use tokio::sync::watch;

use crate::support::IsolatedDb;

async fn wait_until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn enqueue(db: &IsolatedDb, slug: &Slug, task: &str, max_attempts: i32) -> i64 {
    let mut tx = tenancy::begin(&db.pool, slug).await.unwrap();
    let id = jobs::enqueue(
        &mut tx,
        Some(slug),
        task,
        json!({}),
        JobOptions {
            max_attempts: Some(max_attempts),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

#[derive(sqlx::FromRow, Debug)]
struct JobRow {
    attempts: i32,
    status: String,
    locked_at: Option<chrono::DateTime<chrono::Utc>>,
    last_error: Option<String>,
}

async fn job(pool: &sqlx::PgPool, id: i64) -> Option<JobRow> {
    sqlx::query_as("SELECT attempts, status, locked_at, last_error FROM public.jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
        .unwrap()
}

fn start(db: &IsolatedDb, registry: Registry, clock: &ShiftedClock, slots: usize) -> Running {
    let worker = Arc::new(Worker::new(
        db.pool.clone(),
        registry,
        Arc::new(clock.clone()),
        slots,
    ));
    let (stop, stop_rx) = watch::channel(false);
    Running {
        stop,
        task: tokio::spawn(worker.run(stop_rx)),
    }
}

struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(20), self.task).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_or_overrunning_handler_fails_its_attempt_and_frees_its_slot() {
    let db = IsolatedDb::new().await;
    let slug = db.tenant().await;
    let panics = Arc::new(AtomicUsize::new(0));
    let fine = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::default();
    let p = panics.clone();
    registry.on("test.panics", move |ctx| {
        p.fetch_add(1, Ordering::SeqCst);
        async move {
            if ctx.attempt > 0 {
                panic!("the handler hit a bug");
            }
            (ctx, Ok(()))
        }
    });
    registry.on_with_deadline("test.hangs", Duration::from_millis(300), |ctx| async move {
        tokio::time::sleep(Duration::from_secs(600)).await;
        (ctx, Ok(()))
    });
    let f = fine.clone();
    registry.on("test.fine", move |ctx| {
        f.fetch_add(1, Ordering::SeqCst);
        async move { (ctx, Ok(())) }
    });
    let panicking = enqueue(&db, &slug, "test.panics", 2).await;
    let hanging = enqueue(&db, &slug, "test.hangs", 1).await;
    let clock = ShiftedClock::default();
    // One slot: if either bad job kept it, the good job would never run.
    let running = start(&db, registry, &clock, 1);
    wait_until(
        "the first panic to be recorded",
        Duration::from_secs(20),
        || async {
            job(&db.pool, panicking)
                .await
                .is_some_and(|j| j.attempts == 1 && j.locked_at.is_none())
        },
    )
    .await;
    let row = job(&db.pool, panicking).await.unwrap();
    assert_eq!(row.status, "pending", "retried after a panic: {row:?}");
    assert!(
        row.last_error
            .as_deref()
            .unwrap()
            .contains("panicked: the handler hit a bug"),
        "{row:?}"
    );
    wait_until("the overrun to fail", Duration::from_secs(20), || async {
        job(&db.pool, hanging)
            .await
            .is_some_and(|j| j.status == "failed")
    })
    .await;
    let row = job(&db.pool, hanging).await.unwrap();
    assert!(
        row.last_error
            .as_deref()
            .unwrap()
            .contains("longer than its deadline"),
        "{row:?}"
    );
    let good = enqueue(&db, &slug, "test.fine", 3).await;
    wait_until("the good job to run", Duration::from_secs(20), || async {
        job(&db.pool, good).await.is_none()
    })
    .await;
    assert_eq!(fine.load(Ordering::SeqCst), 1);
    // The panicking job's second attempt (after its backoff) is its last.
    clock.advance(chrono::Duration::seconds(10));
    wait_until(
        "the panicking job to give up",
        Duration::from_secs(20),
        || async {
            job(&db.pool, panicking)
                .await
                .is_some_and(|j| j.status == "failed")
        },
    )
    .await;
    assert_eq!(panics.load(Ordering::SeqCst), 2);
    running.stop().await;
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_kills_its_worker_every_time_stops_after_its_attempts() {
    let db = IsolatedDb::new().await;
    let slug = db.tenant().await;
    let id = enqueue(&db, &slug, firelater::admin::jobs::PROBE_TASK, 2).await;
    let clock = ShiftedClock::default();
    let worker = Worker::new(
        db.pool.clone(),
        Registry::default(),
        Arc::new(clock.clone()),
        1,
    );
    // Twice a worker takes the job and dies with it (claimed, never finished, no heartbeat).
    for attempt in 1..=2 {
        sqlx::query(
            "UPDATE public.jobs SET locked_at = $2, locked_by = 'a-worker-that-died', attempts = $3,
                run_at = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(clock.now())
        .bind(attempt)
        .execute(&db.pool)
        .await
        .unwrap();
        clock.advance(chrono::Duration::seconds(60));
        worker.housekeeping().await.unwrap();
        let row = job(&db.pool, id).await.unwrap();
        assert!(row.locked_at.is_none(), "{row:?}");
        assert!(
            row.last_error
                .as_deref()
                .unwrap()
                .contains("worker stopped"),
            "{row:?}"
        );
        let expected = if attempt < 2 { "pending" } else { "failed" };
        assert_eq!(row.status, expected, "after death {attempt}: {row:?}");
    }
    db.drop().await;
}

/// Refuses events whose payload says `poison`, like a subscriber with a bug for one shape.
struct Picky {
    seen: Arc<std::sync::Mutex<Vec<i64>>>,
}

impl Subscriber for Picky {
    fn name(&self) -> &'static str {
        "picky"
    }

    fn handle<'a>(
        &'a self,
        tx: &'a mut sqlx::PgConnection,
        _tenant: &'a Slug,
        event: &'a DomainEvent,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + 'a>> {
        Box::pin(async move {
            // A write that must not survive the refusal (rolled back to the savepoint).
            sqlx::query("INSERT INTO job_probes (job_id) VALUES ($1)")
                .bind(event.id)
                .execute(&mut *tx)
                .await?;
            if event.payload["poison"] == json!(true) {
                anyhow::bail!("cannot handle this shape");
            }
            self.seen.lock().unwrap().push(event.id);
            Ok(())
        })
    }
}

/// Records a `test.happened` event about a fresh entity in `tx`.
async fn emit_test(tx: &mut tenancy::TenantTx, slug: &Slug, payload: serde_json::Value) {
    let actor = Actor::system("test");
    let entity = uuid::Uuid::new_v4();
    events::emit(tx, slug, &actor, "test.happened", "test", entity, payload)
        .await
        .unwrap();
}

/// A registry whose dispatch hands events to `Picky`, and what Picky has handled.
fn dispatching_to_picky() -> (Registry, Arc<std::sync::Mutex<Vec<i64>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let subscribers: events::Subscribers = Arc::new(vec![Arc::new(Picky { seen: seen.clone() })]);
    let mut registry = Registry::default();
    registry.on(events::DISPATCH_TASK, move |ctx| {
        events::dispatch(ctx, subscribers.clone())
    });
    (registry, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_is_parked_and_later_events_keep_flowing() {
    let db = IsolatedDb::new().await;
    let slug = db.tenant().await;
    let (registry, seen) = dispatching_to_picky();
    let mut tx = tenancy::begin(&db.pool, &slug).await.unwrap();
    for payload in [json!({"n": 1}), json!({"poison": true}), json!({"n": 3})] {
        emit_test(&mut tx, &slug, payload).await;
    }
    tx.commit().await.unwrap();
    let clock = ShiftedClock::default();
    let worker = Worker::new(db.pool.clone(), registry, Arc::new(clock.clone()), 1);
    worker.drain(&slug, 10).await.unwrap();

    let mut tx = tenancy::begin(&db.pool, &slug).await.unwrap();
    let parked = events::parked(&mut tx).await.unwrap();
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert!(
        parked[0]
            .dispatch_error
            .as_deref()
            .unwrap()
            .contains("picky: cannot handle"),
        "{parked:?}"
    );
    assert_eq!(parked[0].dispatch_attempts, 1);
    let pending: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM domain_events WHERE dispatched_at IS NULL")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(pending, 1, "only the poison event is undispatched");
    let probes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM job_probes")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(probes, 2, "the refused event's write was rolled back");
    tx.commit().await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 2);
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM public.jobs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        queued, 0,
        "the dispatch job finished instead of retrying forever"
    );

    // Retrying puts it back; it is parked again (the subscriber still refuses) and counted.
    let mut tx = tenancy::begin(&db.pool, &slug).await.unwrap();
    assert!(events::unpark(&mut tx, &slug, parked[0].id).await.unwrap());
    assert!(!events::unpark(&mut tx, &slug, parked[0].id).await.unwrap());
    tx.commit().await.unwrap();
    worker.drain(&slug, 10).await.unwrap();
    let mut tx = tenancy::begin(&db.pool, &slug).await.unwrap();
    let again = events::parked(&mut tx).await.unwrap();
    assert_eq!(again[0].dispatch_attempts, 2, "{again:?}");
    tx.commit().await.unwrap();
    db.drop().await;
}

/// The race `jobs::signal_with` closes: a writer finds the dispatch job pending (so it writes
/// nothing), the job is claimed and runs before the writer commits. Here the only slot is
/// busy while the writer's event is written, and frees up while it is still uncommitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_committed_after_its_pending_dispatch_was_claimable_is_dispatched() {
    let db = IsolatedDb::new().await;
    let slug = db.tenant().await;
    let (mut registry, seen) = dispatching_to_picky();
    registry.on("test.blocks", |ctx| async move {
        tokio::time::sleep(Duration::from_millis(600)).await;
        (ctx, Ok(()))
    });
    let blocker = enqueue(&db, &slug, "test.blocks", 1).await;
    let clock = ShiftedClock::default();
    let running = start(&db, registry, &clock, 1);
    wait_until(
        "the blocker to hold the slot",
        Duration::from_secs(10),
        || async {
            job(&db.pool, blocker)
                .await
                .is_some_and(|j| j.locked_at.is_some())
        },
    )
    .await;
    let mut first = tenancy::begin(&db.pool, &slug).await.unwrap();
    emit_test(&mut first, &slug, json!({"n": 1})).await;
    first.commit().await.unwrap();
    let mut second = tenancy::begin(&db.pool, &slug).await.unwrap();
    emit_test(&mut second, &slug, json!({"n": 2})).await;
    // The blocker ends meanwhile; the pending dispatch is claimable but for this transaction.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    second.commit().await.unwrap();
    let seen_both = || async { seen.lock().unwrap().len() == 2 };
    wait_until("both events dispatched", Duration::from_secs(10), seen_both).await;
    running.stop().await;
    db.drop().await;
}

/// Writers ask for the dispatch without queueing behind each other (`jobs::signal_with`); an
/// event committed while a run is claiming, reading or finishing must still be dispatched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_written_while_the_dispatcher_runs_are_all_dispatched_once() {
    let db = IsolatedDb::new().await;
    let slug = db.tenant().await;
    let (registry, seen) = dispatching_to_picky();
    let clock = ShiftedClock::default();
    let running = start(&db, registry, &clock, 2);
    const WRITERS: usize = 8;
    const EACH: usize = 40;
    let writers = (0..WRITERS).map(|w| {
        let (pool, slug) = (db.pool.clone(), slug.clone());
        tokio::spawn(async move {
            for n in 0..EACH {
                let mut tx = tenancy::begin(&pool, &slug).await.unwrap();
                emit_test(&mut tx, &slug, json!({"writer": w, "n": n})).await;
                // Commits land at every point of the dispatcher's runs.
                tokio::time::sleep(Duration::from_millis((w * 7 + n) as u64 % 5)).await;
                tx.commit().await.unwrap();
            }
        })
    });
    for w in futures::future::join_all(writers).await {
        w.unwrap();
    }
    let pool = db.pool.clone();
    wait_until("every event dispatched", Duration::from_secs(30), || {
        let pool = pool.clone();
        async move {
            // (Recurring schedules queue tasks this registry does not handle: not counted.)
            let queued: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM public.jobs WHERE task = $1")
                    .bind(events::DISPATCH_TASK)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            queued == 0
        }
    })
    .await;
    running.stop().await;
    let mut ids = seen.lock().unwrap().clone();
    let handled = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), handled, "an event was handed over twice");
    assert_eq!(handled, WRITERS * EACH, "an event was left in the outbox");
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_holds_no_transaction_and_other_jobs_keep_running() {
    let db = IsolatedDb::new().await;
    let slug = db.tenant().await;
    // A receiver that accepts the connection and then says nothing for 30 s.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    let mut config = Config::from_lookup(|_| None).unwrap();
    config.secret_key = b"test-secret-key-test-secret-key-0123".to_vec();
    config.outbound_allow =
        firelater::platform::outbound::Allow::parse("127.0.0.0/8").expect("a CIDR");
    let clock = ShiftedClock::default();
    let state = app::state(db.pool.clone(), config, Arc::new(clock.clone()));
    let mut tx = tenancy::begin(&db.pool, &slug).await.unwrap();
    let hook = firelater::webhooks::store::create(
        &mut tx,
        &Actor::system("test"),
        &state.sealer,
        &state.outbound,
        &state.manifest,
        &firelater::webhooks::store::WebhookBody {
            name: "Slow receiver".into(),
            url,
            events: vec!["issue.*".into()],
            active: None,
            headers: None,
            disable_after_hours: None,
            secret: None,
        },
    )
    .await
    .unwrap();
    let message = firelater::webhooks::messages::Message {
        webhook_id: hook.webhook.id,
        message_id: "msg_slow".into(),
        event: "issue.created".into(),
        event_id: None,
        body: "{}".into(),
    };
    firelater::webhooks::messages::enqueue(&mut tx, &slug, &message)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let running = start(&db, app::job_registry(&state).unwrap(), &clock, 2);
    wait_until(
        "the receiver to be called",
        Duration::from_secs(20),
        || async { accepted.load(Ordering::SeqCst) > 0 },
    )
    .await;
    // While the receiver hangs, other jobs run, and no connection sits in a transaction.
    for _ in 0..3 {
        let probe = enqueue(&db, &slug, firelater::admin::jobs::PROBE_TASK, 3).await;
        wait_until("a probe to run", Duration::from_secs(5), || async {
            job(&db.pool, probe).await.is_none()
        })
        .await;
    }
    let in_transaction: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity
         WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(in_transaction, 0, "a transaction was held across the call");
    let delivery = sqlx::query_scalar::<_, Option<chrono::DateTime<chrono::Utc>>>(
        "SELECT locked_at FROM public.jobs WHERE job_key = 'msg_slow'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(delivery.is_some(), "the delivery is still in flight");
    running.task.abort();
    db.drop().await;
}
