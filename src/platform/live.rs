//! Live updates: "entity X changed" signals from the domain-event outbox to open browser tabs.
//!
//! The event dispatch job NOTIFYs a PostgreSQL channel inside its transaction, so a signal leaves
//! only once the change has committed, and it reaches every `firelater` instance. Each web process
//! LISTENs on one connection and fans signals out to its SSE streams, filtered by tenant and by the
//! viewer's read permission. A signal carries no data: the page re-fetches what changed with the
//! viewer's own permissions (DESIGN.md §5), so nothing rendered for one user reaches another.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use crate::platform::auth::Principal;
use crate::platform::auth::session::WebCtx;
use crate::platform::events::{DomainEvent, Subscriber};
use crate::platform::state::AppState;
use crate::platform::tenancy::Slug;

pub const CHANNEL: &str = "firelater_live";
/// The SSE event that tells every page to re-fetch: signals may have been missed.
pub const RESYNC: &str = "resync";
/// A stream ends after this long and the browser reconnects, which re-checks the session (a
/// signed-out or deactivated user stops receiving signals within this bound).
const STREAM_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// What the browser waits before reconnecting after a stream ends.
const RECONNECT: Duration = Duration::from_secs(2);

/// "Something about this entity changed." `tenant` is `None` only for a resync, which goes to
/// every tenant; `user` narrows a signal to one person (their own notifications).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub tenant: Option<String>,
    pub entity: String,
    pub id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Uuid>,
}

impl Signal {
    fn resync() -> Self {
        Signal {
            tenant: None,
            entity: RESYNC.into(),
            id: None,
            user: None,
        }
    }

    /// Whether `viewer` may learn that this changed: same tenant, and either the one person it
    /// is for or read permission on the entity's area (`issue` → `issues:read`).
    pub fn visible_to(&self, viewer: &Principal) -> bool {
        match (&self.tenant, self.user) {
            (None, _) => true,
            (Some(t), _) if t != viewer.slug.as_str() => false,
            (_, Some(user)) => user == viewer.user_id,
            (_, None) => viewer.holds(&format!("{}s:read", self.entity)),
        }
    }
}

/// The outbox subscriber that turns every domain event into a signal. PostgreSQL folds identical
/// notifications within one transaction, so a dispatch batch with ten events about one issue
/// sends one signal.
pub struct LiveSignals;

impl Subscriber for LiveSignals {
    fn name(&self) -> &'static str {
        "live"
    }

    fn handle<'a>(
        &'a self,
        tx: &'a mut sqlx::PgConnection,
        tenant: &'a Slug,
        event: &'a DomainEvent,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + 'a>> {
        Box::pin(async move {
            let signal = Signal {
                tenant: Some(tenant.to_string()),
                entity: event.entity_type.clone(),
                id: Some(event.entity_id),
                user: None,
            };
            send(tx, &signal).await
        })
    }
}

/// Sends a signal when the caller's transaction commits.
pub async fn send(conn: &mut sqlx::PgConnection, signal: &Signal) -> anyhow::Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(serde_json::to_string(signal)?)
        .execute(conn)
        .await?;
    Ok(())
}

/// This process's fan-out of signals to its open streams.
#[derive(Clone)]
pub struct Hub {
    signals: broadcast::Sender<Arc<Signal>>,
    closed: watch::Sender<bool>,
    listening: watch::Sender<bool>,
    started: Arc<AtomicBool>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            signals: broadcast::channel(1024).0,
            closed: watch::channel(false).0,
            listening: watch::channel(false).0,
            started: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl Hub {
    /// Starts listening (once per hub; later calls do nothing). Only web processes need this.
    pub fn start(&self, pool: PgPool) {
        if !self.started.swap(true, Ordering::SeqCst) {
            tokio::spawn(listen(pool, self.clone()));
        }
    }

    /// Resolves once the listener is subscribed (signals committed before that are not seen).
    pub async fn listening(&self) {
        let mut rx = self.listening.subscribe();
        let _ = rx.wait_for(|up| *up).await;
    }

    /// Ends the listener and every open stream, so a graceful shutdown is not held up by them.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    fn publish(&self, signal: Signal) {
        // No open streams is not an error.
        let _ = self.signals.send(Arc::new(signal));
    }
}

async fn listen(pool: PgPool, hub: Hub) {
    let mut closed = hub.closed.subscribe();
    let mut connected_before = false;
    while !*closed.borrow() {
        let listener = async {
            let mut l = PgListener::connect_with(&pool).await?;
            l.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        };
        let mut listener = match listener.await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "live updates: cannot LISTEN; retrying");
                tokio::select! {
                    _ = closed.changed() => return,
                    _ = tokio::time::sleep(Duration::from_secs(2)) => continue,
                }
            }
        };
        if connected_before {
            hub.publish(Signal::resync());
        }
        connected_before = true;
        hub.listening.send_replace(true);
        loop {
            tokio::select! {
                _ = closed.changed() => return,
                n = listener.try_recv() => match n {
                    Ok(Some(n)) => match serde_json::from_str::<Signal>(n.payload()) {
                        Ok(s) => hub.publish(s),
                        Err(e) => tracing::warn!(error = %e, "live updates: unreadable signal"),
                    },
                    // The connection dropped (try_recv reconnects on the next call): whatever
                    // was sent meanwhile is lost, so every page re-fetches.
                    Ok(None) => hub.publish(Signal::resync()),
                    Err(e) => {
                        tracing::warn!(error = %e, "live updates: LISTEN failed; reconnecting");
                        hub.listening.send_replace(false);
                        break;
                    }
                },
            }
        }
        tokio::select! {
            _ = closed.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// `GET /live`: the tab's one SSE stream. Event name = entity type (`issue`, `application`, …)
/// or `resync`; data = the entity's id.
pub async fn stream(State(state): State<AppState>, ctx: WebCtx) -> Response {
    // The extractor checked the session against the tenant's current state; the stream itself
    // needs no transaction.
    if let Err(e) = ctx.tx.commit().await {
        tracing::warn!(error = %e, "ending a live stream's opening transaction");
    }
    let viewer = ctx.principal;
    let signals = state.live.signals.subscribe();
    let closed = state.live.closed.subscribe();
    let ends = tokio::time::Instant::now() + STREAM_LIFETIME;
    let hello =
        futures::stream::once(async { Ok(Event::default().retry(RECONNECT).comment("live")) });
    let events = futures::stream::unfold(
        (signals, closed, viewer),
        move |(mut signals, mut closed, viewer)| async move {
            loop {
                let event = tokio::select! {
                    _ = closed.changed() => return None,
                    _ = tokio::time::sleep_until(ends) => return None,
                    s = signals.recv() => match s {
                        Ok(s) if s.visible_to(&viewer) => Event::default()
                            .event(&s.entity)
                            .data(s.id.map(|id| id.to_string()).unwrap_or_default()),
                        Ok(_) => continue,
                        // This stream fell behind: the page must re-fetch everything.
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            Event::default().event(RESYNC).data("")
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                };
                return Some((Ok::<_, Infallible>(event), (signals, closed, viewer)));
            }
        },
    );
    use futures::StreamExt;
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Sse::new(hello.chain(events)).keep_alive(KeepAlive::default()),
    )
        .into_response()
}

pub fn web_routes() -> crate::platform::web::Routes {
    crate::platform::web::Routes::new().route("/live", axum::routing::get(stream))
}

/// Live updates as a module: the `/live` stream and the outbox subscriber that signals it.
pub fn module() -> crate::platform::module::Module {
    crate::platform::module::Module {
        web: Some(web_routes),
        subscribers: Some(|_| vec![Arc::new(LiveSignals)]),
        ..crate::platform::module::Module::new("live")
    }
}
