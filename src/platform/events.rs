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
use crate::platform::jobs::{self, JobCtx, JobResult};
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
    write(
        tx,
        tenant,
        actor,
        None,
        event_type,
        entity_type,
        entity_id,
        payload,
    )
    .await
}

/// What an audit row says besides who and which entity: the action and the field changes.
pub struct Audit<'a> {
    pub action: &'a str,
    pub changes: Value,
}

/// The audit row, the event and its dispatch job of one change, in one statement (the usual
/// end of a mutation: three inserts, one round trip).
#[expect(
    clippy::too_many_arguments,
    reason = "an audit row and an event: the same as record + emit"
)]
pub async fn record_and_emit(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    audit: Audit<'_>,
    event_type: &str,
    entity_type: &str,
    entity_id: Uuid,
    payload: Value,
) -> Result<(), AppError> {
    let audit = Some(audit);
    write(
        tx,
        tenant,
        actor,
        audit,
        event_type,
        entity_type,
        entity_id,
        payload,
    )
    .await
}

/// The end of saving an entity: the audit row (`create` or `update`, with the field diff) and
/// the spec event (`<entity>.created` / `<entity>.updated`, payload `{<entity>: after,
/// changes}`), in one statement.
pub async fn saved<T: Serialize>(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    entity: &str,
    id: Uuid,
    before: Option<&T>,
    after: &T,
) -> Result<(), AppError> {
    let changes = crate::platform::audit::diff(before, Some(after));
    let (action, event) = match before {
        Some(_) => ("update", format!("{entity}.updated")),
        None => ("create", format!("{entity}.created")),
    };
    let payload = serde_json::json!({ entity: after, "changes": &changes });
    let audit = Audit { action, changes };
    record_and_emit(tx, tenant, actor, audit, &event, entity, id, payload).await
}

/// The end of deleting an entity: the audit row (`delete`, everything it was) and
/// `<entity>.deleted` with `{<entity>: before}`, in one statement.
pub async fn deleted<T: Serialize>(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    entity: &str,
    id: Uuid,
    before: &T,
) -> Result<(), AppError> {
    let changes = crate::platform::audit::diff(Some(before), None);
    let payload = serde_json::json!({ entity: before });
    let audit = Audit {
        action: "delete",
        changes,
    };
    let event = format!("{entity}.deleted");
    record_and_emit(tx, tenant, actor, audit, &event, entity, id, payload).await
}

#[expect(clippy::too_many_arguments, reason = "see record_and_emit")]
async fn write(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    audit: Option<Audit<'_>>,
    event_type: &str,
    entity_type: &str,
    entity_id: Uuid,
    payload: Value,
) -> Result<(), AppError> {
    let (event_type, entity_type, user) = (
        event_type.to_string(),
        entity_type.to_string(),
        actor.user_id,
    );
    let event = "event AS (INSERT INTO domain_events (event_type, entity_type, entity_id, actor_id, payload)
                           VALUES ($4, $5, $6, $7, $8))";
    let before = match &audit {
        None => event.to_string(),
        Some(_) => format!(
            "{event}, audited AS (
                INSERT INTO audit_logs (user_id, actor_name, action, entity_type, entity_id, changes,
                                        ip_address, user_agent)
                VALUES ($7, $9, $10, $5, $6, $11, $12, $13))"
        ),
    };
    let actor = actor.clone();
    jobs::signal_with(
        tx,
        Some(&before),
        move |q| {
            let q = q
                .bind(event_type)
                .bind(entity_type)
                .bind(entity_id)
                .bind(user)
                .bind(payload);
            match audit {
                None => q,
                Some(a) => q
                    .bind(actor.name)
                    .bind(a.action.to_string())
                    .bind(a.changes)
                    .bind(actor.ip.map(ipnetwork::IpNetwork::from))
                    .bind(actor.user_agent),
            }
        },
        tenant,
        DISPATCH_TASK,
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

/// The dispatch job: drains the tenant's outbox in order, in batches. Each event is handed to
/// the subscribers inside a savepoint: an event one of them cannot handle is rolled back to
/// that point and parked with the error (the jobs page lists it and can retry it), and the
/// tenant's later events keep flowing.
pub async fn dispatch(mut ctx: JobCtx, subscribers: Subscribers) -> (JobCtx, JobResult) {
    let result = async {
        let Some(tenant) = ctx.tenant.clone() else {
            return Ok(());
        };
        loop {
            let batch: Vec<DomainEvent> = sqlx::query_as(&format!(
                "{SELECT} WHERE dispatched_at IS NULL AND parked_at IS NULL
                 ORDER BY id LIMIT 200 FOR UPDATE SKIP LOCKED"
            ))
            .fetch_all(&mut **ctx.tx)
            .await?;
            if batch.is_empty() {
                return Ok(());
            }
            let mut done = Vec::with_capacity(batch.len());
            for event in &batch {
                sqlx::query("SAVEPOINT dispatch_event")
                    .execute(&mut **ctx.tx)
                    .await?;
                match deliver(&mut ctx.tx, &subscribers, &tenant, event).await {
                    Ok(()) => {
                        sqlx::query("RELEASE SAVEPOINT dispatch_event")
                            .execute(&mut **ctx.tx)
                            .await?;
                        done.push(event.id);
                    }
                    Err(e) => {
                        sqlx::query("ROLLBACK TO SAVEPOINT dispatch_event")
                            .execute(&mut **ctx.tx)
                            .await?;
                        tracing::warn!(event = event.id, kind = %event.event_type, error = %e, "parking an event");
                        park(&mut ctx.tx, event.id, &e.to_string(), ctx.clock.now()).await?;
                    }
                }
            }
            sqlx::query("UPDATE domain_events SET dispatched_at = $2 WHERE id = ANY($1)")
                .bind(&done)
                .bind(ctx.clock.now())
                .execute(&mut **ctx.tx)
                .await?;
        }
    }
    .await
    .map_err(|e: anyhow::Error| jobs::JobError::from(e));
    (ctx, result)
}

async fn deliver(
    conn: &mut sqlx::PgConnection,
    subscribers: &Subscribers,
    tenant: &Slug,
    event: &DomainEvent,
) -> anyhow::Result<()> {
    for sub in subscribers.iter() {
        sub.handle(conn, tenant, event)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", sub.name()))?;
    }
    Ok(())
}

async fn park(
    conn: &mut sqlx::PgConnection,
    id: i64,
    error: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE domain_events SET parked_at = $2, dispatch_error = $3,
            dispatch_attempts = dispatch_attempts + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// An event parked by the dispatcher, for the jobs page.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ParkedEvent {
    pub id: i64,
    pub event_type: String,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub dispatch_attempts: i32,
    pub dispatch_error: Option<String>,
    pub parked_at: chrono::DateTime<chrono::Utc>,
}

/// The tenant's parked events, newest first.
pub async fn parked(conn: &mut sqlx::PgConnection) -> anyhow::Result<Vec<ParkedEvent>> {
    Ok(sqlx::query_as(
        "SELECT id, event_type, entity_type, entity_id, dispatch_attempts, dispatch_error, parked_at
         FROM domain_events WHERE parked_at IS NOT NULL AND dispatched_at IS NULL
         ORDER BY parked_at DESC LIMIT 200",
    )
    .fetch_all(conn)
    .await?)
}

/// Puts a parked event back in the outbox and wakes the dispatcher; false when there is no
/// such parked event.
pub async fn unpark(tx: &mut TenantTx, tenant: &Slug, id: i64) -> Result<bool, AppError> {
    let n = sqlx::query(
        "UPDATE domain_events SET parked_at = NULL
         WHERE id = $1 AND parked_at IS NOT NULL AND dispatched_at IS NULL",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n > 0 {
        queue_dispatch(tx, tenant).await?;
    }
    Ok(n > 0)
}

async fn queue_dispatch(conn: &mut sqlx::PgConnection, tenant: &Slug) -> anyhow::Result<()> {
    jobs::signal_with(conn, None, |q| q, tenant, DISPATCH_TASK).await
}
