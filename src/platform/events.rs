//! Domain events: every mutation records its spec event name (`user.created`, `issue.created`,
//! …) and payload in the tenant's `domain_events` outbox, in the mutation's transaction. A
//! keyed job (`events.dispatch`) hands them to subscribers — webhooks, notifications and live
//! updates plug in here through `Subscriber`.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::platform::audit::Actor;
use crate::platform::error::AppError;
use crate::platform::jobs::{self, JobCtx, JobOptions, JobResult};
use crate::platform::tenancy::{Slug, TenantTx};

pub const DISPATCH_TASK: &str = "events.dispatch";
/// Reads `DomainEvent` rows (add a WHERE clause).
pub const SELECT: &str = "SELECT id, event_type, entity_type, entity_id, actor_id, payload, occurred_at FROM domain_events";

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DomainEvent {
    pub id: i64,
    pub event_type: String,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub actor_id: Option<Uuid>,
    pub payload: Value,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
}

/// Records an event and makes sure a dispatch job is queued (one per tenant, coalesced by key).
pub async fn emit(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    event_type: &str,
    entity_type: &str,
    entity_id: Uuid,
    payload: Value,
) -> Result<(), AppError> {
    sqlx::query("INSERT INTO domain_events (event_type, entity_type, entity_id, actor_id, payload) VALUES ($1, $2, $3, $4, $5)")
        .bind(event_type)
        .bind(entity_type)
        .bind(entity_id)
        .bind(actor.user_id)
        .bind(payload)
        .execute(&mut **tx)
        .await?;
    jobs::enqueue(
        tx,
        Some(tenant),
        DISPATCH_TASK,
        Value::Null,
        JobOptions {
            key: Some(DISPATCH_TASK.into()),
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}

/// Something that reacts to domain events, inside the dispatch transaction (so its writes — e.g.
/// queued deliveries — commit together with marking the events dispatched).
pub trait Subscriber: Send + Sync {
    fn name(&self) -> &'static str;
    fn handle<'a>(
        &'a self,
        tx: &'a mut sqlx::PgConnection,
        tenant: &'a Slug,
        event: &'a DomainEvent,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + 'a>>;
}

pub type Subscribers = Arc<Vec<Arc<dyn Subscriber>>>;

/// The dispatch job: drains the tenant's outbox in order, in batches.
pub async fn dispatch(mut ctx: JobCtx, subscribers: Subscribers) -> (JobCtx, JobResult) {
    let result = async {
        let Some(tenant) = ctx.tenant.clone() else {
            return Ok(());
        };
        loop {
            let batch: Vec<DomainEvent> = sqlx::query_as(&format!(
                "{SELECT} WHERE dispatched_at IS NULL ORDER BY id LIMIT 200 FOR UPDATE SKIP LOCKED"
            ))
            .fetch_all(&mut *ctx.tx)
            .await?;
            if batch.is_empty() {
                return Ok(());
            }
            for event in &batch {
                for sub in subscribers.iter() {
                    sub.handle(&mut ctx.tx, &tenant, event)
                        .await
                        .map_err(|e| anyhow::anyhow!("{}: {e}", sub.name()))?;
                }
            }
            let ids: Vec<i64> = batch.iter().map(|e| e.id).collect();
            sqlx::query("UPDATE domain_events SET dispatched_at = $2 WHERE id = ANY($1)")
                .bind(&ids)
                .bind(ctx.clock.now())
                .execute(&mut *ctx.tx)
                .await?;
        }
    }
    .await
    .map_err(|e: anyhow::Error| jobs::JobError::from(e));
    (ctx, result)
}
