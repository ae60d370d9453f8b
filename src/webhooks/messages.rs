//! What goes to webhook endpoints: one `Message` per (event, endpoint), queued by the outbox
//! subscriber inside the dispatch transaction and keyed by the message id, so a message is
//! queued exactly once; redelivery rebuilds it from its event, byte for byte.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::store;
use crate::platform::audit::{self, Actor};
use crate::platform::error::AppError;
use crate::platform::events::{self, DomainEvent, Subscriber};
use crate::platform::jobs;
use crate::platform::tenancy::{Slug, TenantTx};

pub const TASK: &str = "webhooks.deliver";
/// Waits after attempts 1, 2, …: the Standard Webhooks schedule (the first try is immediate).
pub(super) const SCHEDULE_SECS: [u64; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];

/// One message to one endpoint: the exact bytes that every attempt sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    pub webhook_id: Uuid,
    pub message_id: String,
    pub event: String,
    pub event_id: Option<i64>,
    pub body: String,
}

impl Message {
    pub fn of_event(webhook_id: Uuid, e: &DomainEvent) -> Message {
        Message {
            webhook_id,
            message_id: format!("msg_{}_{}", e.id, webhook_id.simple()),
            event: e.event_type.clone(),
            event_id: Some(e.id),
            body: json!({
                "type": e.event_type,
                "timestamp": e.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "data": e.payload,
            })
            .to_string(),
        }
    }
}

impl Message {
    /// A `webhook.test` message (sent once, never retried).
    pub fn test(w: &store::Webhook, now: DateTime<Utc>) -> Message {
        Message {
            webhook_id: w.id,
            message_id: format!("msg_test_{}", Uuid::new_v4().simple()),
            event: "webhook.test".into(),
            event_id: None,
            body: json!({
                "type": "webhook.test",
                "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "data": {"webhook_id": w.id, "name": w.name},
            })
            .to_string(),
        }
    }
}

/// Queues a logged message again under its own id. It is rebuilt from its event, so the bytes
/// are those of the first attempt (the log's JSONB copy does not keep key order); a test
/// message, which has no event, is sent from the log.
pub async fn redeliver(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    webhook: Uuid,
    delivery: Uuid,
) -> Result<String, AppError> {
    let row: Option<(String, String, Option<i64>, Value)> = sqlx::query_as(
        "SELECT message_id, event, event_id, payload FROM webhook_deliveries
         WHERE id = $1 AND webhook_id = $2",
    )
    .bind(delivery)
    .bind(webhook)
    .fetch_optional(&mut **tx)
    .await?;
    let (message_id, event, event_id, payload) = row.ok_or(AppError::NotFound)?;
    let original: Option<DomainEvent> = match event_id {
        Some(e) => {
            sqlx::query_as(&format!("{} WHERE id = $1", events::SELECT))
                .bind(e)
                .fetch_optional(&mut **tx)
                .await?
        }
        None => None,
    };
    let m = match original {
        Some(e) => Message::of_event(webhook, &e),
        None => Message {
            webhook_id: webhook,
            message_id: message_id.clone(),
            event,
            event_id,
            body: payload.to_string(),
        },
    };
    enqueue(tx, tenant, &m).await?;
    let changes = json!({"message_id": message_id});
    audit::record(tx, actor, "redeliver", "webhook", webhook, changes).await?;
    Ok(message_id)
}

impl jobs::Job for Message {
    const TASK: &'static str = TASK;
    const MAX_ATTEMPTS: i32 = SCHEDULE_SECS.len() as i32 + 1;

    /// One message, one job: queuing it again replaces a pending one.
    fn key(&self) -> Option<String> {
        Some(self.message_id.clone())
    }
}

/// Queues a message (replacing a pending one with the same id).
pub async fn enqueue(
    conn: &mut sqlx::PgConnection,
    tenant: &Slug,
    m: &Message,
) -> anyhow::Result<()> {
    jobs::push(conn, Some(tenant), m, None).await?;
    Ok(())
}

/// The outbox subscriber: one message per active endpoint whose patterns cover the event.
pub struct Fanout;

impl Subscriber for Fanout {
    fn name(&self) -> &'static str {
        "webhooks"
    }

    fn handle<'a>(
        &'a self,
        tx: &'a mut sqlx::PgConnection,
        tenant: &'a Slug,
        event: &'a DomainEvent,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + 'a>> {
        Box::pin(async move {
            let hooks: Vec<(Uuid, Vec<String>)> =
                sqlx::query_as("SELECT id, events FROM webhooks WHERE COALESCE(active, true)")
                    .fetch_all(&mut *tx)
                    .await?;
            for (id, patterns) in hooks {
                if patterns.iter().any(|p| store::covers(p, &event.event_type)) {
                    enqueue(tx, tenant, &Message::of_event(id, event)).await?;
                }
            }
            Ok(())
        })
    }
}
