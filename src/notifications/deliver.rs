//! Delivering notifications through integrations (Slack, Teams, PagerDuty, SMS, generic
//! webhooks) without losing or doubling any:
//! - each notification row is created once per (event, person or channel) by the fan-out, in
//!   the dispatch transaction, with one job keyed by the row's id;
//! - a job reads the row, commits, sends with no transaction open, then marks the row sent in
//!   a fresh transaction; a row already sent is never sent again (so a redelivered job is
//!   harmless), and the job's key keeps two runs for one row from overlapping;
//! - time-outs, connection errors, 429 and 5xx retry with backoff (or the provider's
//!   `Retry-After`) for about a day; other 4xx stop at once; every failed attempt's error and
//!   count are written beside the job, so the delivery problems page shows them;
//! - PagerDuty events carry one `dedup_key` per record, so they form one incident.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::integrations::send::{self, Message, Outcome};
use crate::integrations::store as integrations;
use crate::platform::clock::Clock;
use crate::platform::crypto::Sealer;
use crate::platform::jobs::{self, JobCtx, JobError, JobResult};
use crate::platform::module::Manifest;
use crate::platform::outbound::Outbound;
use crate::platform::tenancy::{self, Slug};

pub const TASK: &str = "notifications.deliver";
/// Waits after attempts 1, 2, …: about 26 hours in all, so a provider's day-long outage loses
/// nothing.
const SCHEDULE_SECS: [i64; 9] = [30, 120, 600, 1_800, 3_600, 7_200, 14_400, 28_800, 36_000];
pub const ATTEMPTS: i32 = SCHEDULE_SECS.len() as i32 + 1;

/// How long to wait after failed attempt `attempt` (1, 2, …) before the next.
pub fn retry_wait(attempt: i32) -> chrono::Duration {
    let i = (attempt.max(1) as usize - 1).min(SCHEDULE_SECS.len() - 1);
    chrono::Duration::seconds(SCHEDULE_SECS[i])
}

/// The `notifications.deliver` job: one notification row, keyed by it.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Delivery {
    pub notification_id: Uuid,
}

impl jobs::Job for Delivery {
    const TASK: &'static str = TASK;
    const MAX_ATTEMPTS: i32 = ATTEMPTS;

    fn key(&self) -> Option<String> {
        Some(format!("notification.{}", self.notification_id))
    }
}

/// Queues the delivery of one notification (at `run_at`, e.g. the end of quiet hours).
pub async fn enqueue(
    conn: &mut sqlx::PgConnection,
    tenant: &Slug,
    notification: Uuid,
    run_at: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    let job = Delivery {
        notification_id: notification,
    };
    jobs::push(conn, Some(tenant), &job, run_at).await?;
    Ok(())
}

#[derive(Clone)]
pub struct Deliverer {
    pub sealer: Sealer,
    pub outbound: Outbound,
    pub clock: Arc<dyn Clock>,
    pub base_url: String,
    pub mail_from: String,
    pub manifest: Arc<Manifest>,
}

#[derive(sqlx::FromRow)]
struct Row {
    status: String,
    user_id: Option<Uuid>,
    channel: String,
    channel_id: Option<Uuid>,
    integration_id: Option<Uuid>,
    target: Option<String>,
    phone: Option<String>,
    slack_user: Option<String>,
    event_type: String,
    entity_type: Option<String>,
    entity_id: Option<Uuid>,
    subject: Option<String>,
    content: Option<String>,
    link: Option<String>,
    data: Option<Value>,
}

/// PagerDuty's severity for an issue priority.
fn severity(priority: Option<&str>) -> &'static str {
    match priority {
        Some("critical") => "critical",
        Some("high") => "error",
        Some("medium") => "warning",
        _ => "info",
    }
}

/// The `notifications.deliver` job.
pub async fn job(mut ctx: JobCtx, d: Deliverer) -> (JobCtx, JobResult) {
    let result = async {
        let tenant = ctx
            .tenant
            .clone()
            .ok_or_else(|| JobError::permanent("a notification needs a tenant"))?;
        let id = ctx.job::<Delivery>()?.notification_id;
        let row: Option<Row> = sqlx::query_as(
            "SELECT n.status, n.user_id, n.channel, n.channel_id, COALESCE(c.integration_id, n.integration_id) AS integration_id,
                    c.config->>'target' AS target, u.phone, u.settings->>'slack_user_id' AS slack_user,
                    n.event_type, n.entity_type, n.entity_id, n.subject, n.content, n.link, n.data
             FROM notifications n
             LEFT JOIN notification_channels c ON c.id = n.channel_id
             LEFT JOIN users u ON u.id = n.user_id
             WHERE n.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut **ctx.tx)
        .await?;
        let Some(row) = row else { return Ok(()) };
        if matches!(row.status.as_str(), "sent" | "withdrawn")
            || !super::topics::still_deliverable(&mut ctx.tx, &d.manifest, id).await?
        {
            return Ok(());
        }
        // A channel's own integration, or (for a person's SMS or Slack message) the tenant's
        // active one of that kind.
        let account = match (row.integration_id, row.user_id) {
            (Some(i), _) => integrations::account(&mut ctx.tx, &d.sealer, i).await?,
            (None, Some(_)) => {
                integrations::active_of_kind(&mut ctx.tx, &d.sealer, &row.channel).await?
            }
            // A channel's message whose channel and integration were deleted since: nowhere
            // to send it (never to some other account's default target).
            (None, None) => None,
        };
        let to = match (row.channel_id, row.channel.as_str()) {
            (Some(_), _) => row.target.clone(),
            (None, "sms") => row.phone.clone(),
            (None, "slack") => row.slack_user.clone(),
            _ => None,
        };
        let outcome = match &account {
            None => Outcome::Failed("its integration is gone".into()),
            Some(a) if !a.active => Outcome::Failed(format!("the integration {} is inactive", a.name)),
            Some(a) => {
                let data = row.data.clone().unwrap_or(Value::Null);
                let m = Message {
                    event: format!("{}.{}", row.entity_type.as_deref().unwrap_or("issue"), row.event_type),
                    subject: row.subject.clone().unwrap_or_default(),
                    body: row.content.clone().unwrap_or_default(),
                    link: row.link.as_ref().map(|l| format!("{}{l}", d.base_url)),
                    dedup_key: row.entity_id.map(|e| {
                        format!("firelater/{tenant}/{}/{e}", row.entity_type.as_deref().unwrap_or("issue"))
                    }),
                    severity: severity(data["priority"].as_str()).into(),
                    resolves: matches!(row.event_type.as_str(), "resolved" | "closed"),
                    data,
                };
                let now = d.clock.now();
                ctx.outside(send::send(&d.outbound, a, to.as_deref(), &m, now, &d.mail_from))
                    .await?
            }
        };
        let now = d.clock.now();
        match outcome {
            Outcome::Delivered => {
                sqlx::query(
                    "UPDATE notifications SET status = 'sent', sent_at = $2, error = NULL,
                        attempts = COALESCE(attempts, 0) + 1 WHERE id = $1",
                )
                .bind(id)
                .bind(now)
                .execute(&mut **ctx.tx)
                .await?;
                Ok(())
            }
            Outcome::Failed(why) => {
                sqlx::query(
                    "UPDATE notifications SET status = 'failed', error = $2,
                        attempts = COALESCE(attempts, 0) + 1 WHERE id = $1",
                )
                .bind(id)
                .bind(&why)
                .execute(&mut **ctx.tx)
                .await?;
                Ok(())
            }
            Outcome::Retry(why, after) => {
                let last = ctx.attempt >= ATTEMPTS;
                // The job's transaction rolls back on error, so the attempt is noted beside it.
                let mut tx = tenancy::begin(ctx.pool(), &tenant).await?;
                sqlx::query(
                    "UPDATE notifications SET error = $2, attempts = $3,
                        status = CASE WHEN $4 THEN 'failed' ELSE status END WHERE id = $1",
                )
                .bind(id)
                .bind(&why)
                .bind(ctx.attempt)
                .bind(last)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                let wait = after
                    .and_then(|a| chrono::Duration::from_std(a).ok())
                    .unwrap_or_else(|| retry_wait(ctx.attempt));
                Err(JobError {
                    message: format!("attempt {} failed: {why}", ctx.attempt),
                    retry_after: Some(wait),
                    permanent: last,
                })
            }
        }
    }
    .await;
    (ctx, result)
}
