//! Getting events to endpoints without losing any (the messages themselves: `messages`):
//! - each attempt is signed afresh (Standard Webhooks), logged in its own transaction (so a
//!   failed attempt's log survives the job's rollback), and retried on timeouts, connection
//!   errors, 429 and 5xx on the spec's schedule with jitter, honouring `Retry-After`;
//! - 410 disables the endpoint; other 4xx stop that message; an endpoint failing continuously
//!   for its `disable_after_hours` is disabled.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::messages::{Message, SCHEDULE_SECS};
use super::signing;
use super::store::{self, Delivery};
use crate::platform::audit::{self, Actor};
use crate::platform::clock::Clock;
use crate::platform::crypto::Sealer;
use crate::platform::error::AppError;
use crate::platform::jobs::{JobCtx, JobError, JobResult};
use crate::platform::outbound::{self, Failure, Outbound};
use crate::platform::tenancy::{self, Slug, TenantTx};

/// What the job needs besides its context.
#[derive(Clone)]
pub struct Deliverer {
    pub pool: PgPool,
    pub sealer: Sealer,
    pub outbound: Outbound,
    pub clock: Arc<dyn Clock>,
}

/// How one attempt went.
pub enum Outcome {
    Delivered,
    /// Worth retrying; with the receiver's `Retry-After`, if any.
    Retry(Option<Duration>),
    /// Retrying cannot help (4xx, refused target, endpoint gone or disabled).
    GiveUp,
}

impl Deliverer {
    /// One attempt: sign, send, log, update the endpoint's state.
    pub async fn attempt(
        &self,
        tenant: &Slug,
        m: &Message,
        attempt: i32,
    ) -> Result<(Outcome, Option<Delivery>), AppError> {
        let now = self.clock.now();
        // Read, commit, call out, then record in a new short transaction: no transaction or
        // lock is held while the receiver takes its time.
        let mut tx = tenancy::begin(&self.pool, tenant).await?;
        let target = store::target(&mut tx, &self.sealer, m.webhook_id, now).await?;
        tx.commit().await?;
        let Some(target) = target.filter(|t| t.active) else {
            return Ok((Outcome::GiveUp, None));
        };
        let started = Instant::now();
        let sent = self.send(&target, m, now).await;
        let elapsed = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
        let (outcome, status, body, error) = match sent {
            Ok((status, retry_after, body)) => {
                let outcome = match status {
                    200..=299 => Outcome::Delivered,
                    429 | 500..=599 => Outcome::Retry(retry_after),
                    _ => Outcome::GiveUp,
                };
                (outcome, Some(status as i32), Some(body), None)
            }
            Err(Failure::Refused(why)) => (Outcome::GiveUp, None, None, Some(why)),
            Err(Failure::Transport(why)) => (Outcome::Retry(None), None, None, Some(why)),
        };
        let delivered = matches!(outcome, Outcome::Delivered);
        let mut tx = tenancy::begin(&self.pool, tenant).await?;
        let delivery: Delivery = sqlx::query_as(
            "INSERT INTO webhook_deliveries (webhook_id, event, payload, status_code, response_body,
                response_time_ms, attempt, success, error, message_id, event_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             RETURNING id, message_id, event, attempt, success, status_code, response_time_ms,
                       response_body, error, created_at",
        )
        .bind(m.webhook_id)
        .bind(&m.event)
        .bind(serde_json::from_str::<Value>(&m.body).unwrap_or(Value::Null))
        .bind(status)
        .bind(body)
        .bind(elapsed)
        .bind(attempt)
        .bind(delivered)
        .bind(&error)
        .bind(&m.message_id)
        .bind(m.event_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let last_status = status.map_or_else(|| "error".to_string(), |s| s.to_string());
        let failing_since: Option<DateTime<Utc>> = sqlx::query_scalar(
            "UPDATE webhooks SET last_triggered_at = $2, last_status = $3,
                failure_count = CASE WHEN $4 THEN 0 ELSE COALESCE(failure_count, 0) + 1 END,
                failing_since = CASE WHEN $4 THEN NULL ELSE COALESCE(failing_since, $2) END
             WHERE id = $1 RETURNING failing_since",
        )
        .bind(m.webhook_id)
        .bind(now)
        .bind(&last_status)
        .bind(delivered)
        .fetch_one(&mut *tx)
        .await?;
        let gone = status == Some(410);
        let failing_too_long = failing_since.is_some_and(|since| {
            now - since >= chrono::Duration::hours(target.disable_after_hours.into())
        });
        if gone || failing_too_long {
            let reason = if gone {
                "the endpoint answered 410 Gone".to_string()
            } else {
                match target.disable_after_hours {
                    1 => "every delivery failed for an hour".to_string(),
                    h => format!("every delivery failed for {h} hours"),
                }
            };
            sqlx::query("UPDATE webhooks SET active = false, disabled_reason = $2 WHERE id = $1")
                .bind(m.webhook_id)
                .bind(&reason)
                .execute(&mut *tx)
                .await?;
            let actor = Actor::system("webhooks");
            let changes = json!({"active": {"old": true, "new": false}, "reason": reason});
            audit::record(&mut tx, &actor, "disable", "webhook", m.webhook_id, changes).await?;
            tell_admins(&mut tx, tenant, m.webhook_id, &reason, now).await?;
        }
        tx.commit().await?;
        let outcome = if gone || failing_too_long {
            Outcome::GiveUp
        } else {
            outcome
        };
        Ok((outcome, Some(delivery)))
    }

    async fn send(
        &self,
        target: &store::Target,
        m: &Message,
        now: DateTime<Utc>,
    ) -> Result<(u16, Option<Duration>, String), Failure> {
        let url = self
            .outbound
            .check(&target.url)
            .map_err(|r| Failure::Refused(r.0))?;
        let secrets: Vec<&str> = target.secrets.iter().map(String::as_str).collect();
        if secrets.is_empty() {
            return Err(Failure::Refused(
                "the signing secret cannot be read (was FIRELATER_SECRET_KEY changed?)".into(),
            ));
        }
        let timestamp = now.timestamp();
        let mut req = self
            .outbound
            .client()
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &m.message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signing::signature(&secrets, &m.message_id, timestamp, &m.body),
            );
        for (name, value) in &target.headers {
            req = req.header(name.as_str(), value.as_str());
        }
        let answer = outbound::exchange(req.body(m.body.clone()), now).await?;
        Ok((answer.status, answer.retry_after, answer.body))
    }
}

/// The people who manage webhooks hear that one was disabled: in the app (live) and by mail.
async fn tell_admins(
    tx: &mut TenantTx,
    tenant: &Slug,
    webhook: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let told: Vec<(Uuid, Uuid, String, String)> = sqlx::query_as(
        "INSERT INTO notifications (user_id, event_category, event_type, entity_type, entity_id,
                subject, link, channel, status, sent_at, created_at)
         SELECT DISTINCT u.id, 'webhooks', 'disabled', 'webhook', w.id,
                'Webhook ' || w.name || ' was disabled: ' || $2, '/admin/webhooks/' || w.id,
                'in_app', 'sent', $3, $3
         FROM webhooks w, users u
         JOIN user_roles ur ON ur.user_id = u.id
         JOIN role_permissions rp ON rp.role_id = ur.role_id
         JOIN permissions p ON p.id = rp.permission_id AND p.resource = 'webhooks' AND p.action = 'update'
         WHERE w.id = $1 AND u.status = 'active'
         RETURNING id, user_id, subject, (SELECT email FROM users WHERE users.id = user_id)",
    )
    .bind(webhook)
    .bind(reason)
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    for (id, user, subject, email) in told {
        let signal = crate::platform::live::Signal {
            tenant: Some(tenant.to_string()),
            entity: "notification".into(),
            id: Some(id),
            user: Some(user),
        };
        crate::platform::live::send(tx, &signal).await?;
        let mail = crate::platform::mail::Email {
            to: email,
            subject: format!("[FireLater] {subject}"),
            body_text: format!(
                "{subject}.\n\nNo further events are sent to it. Fix the endpoint, then tick \
                 Active on its page under Webhooks to resume; missed events can be replayed from \
                 there.\n"
            ),
            ..Default::default()
        };
        crate::platform::mail::queue(tx, tenant, mail).await?;
    }
    Ok(())
}

/// The wait before the next attempt, ±10 % so endpoints coming back are not stampeded.
fn next_wait(attempt: i32) -> Duration {
    let i = (attempt.max(1) as usize - 1).min(SCHEDULE_SECS.len() - 1);
    let base = SCHEDULE_SECS[i] as f64;
    Duration::from_secs_f64(base * rand::thread_rng().gen_range(0.9..=1.1))
}

/// The `webhooks.deliver` job.
pub async fn job(mut ctx: JobCtx, d: Deliverer) -> (JobCtx, JobResult) {
    let result = async {
        let tenant = ctx
            .tenant
            .clone()
            .ok_or_else(|| JobError::permanent("a webhook delivery needs a tenant"))?;
        let m: Message = ctx.job()?;
        let attempt = ctx.attempt;
        let (outcome, _) = ctx
            .outside(d.attempt(&tenant, &m, attempt))
            .await?
            .map_err(JobError::from)?;
        match outcome {
            Outcome::Delivered | Outcome::GiveUp => Ok(()),
            Outcome::Retry(after) => Err(JobError {
                message: format!("attempt {} of {} failed", ctx.attempt, m.message_id),
                retry_after: Some(
                    chrono::Duration::from_std(after.unwrap_or_else(|| next_wait(ctx.attempt)))
                        .unwrap_or_else(|_| chrono::Duration::hours(24)),
                ),
                permanent: false,
            }),
        }
    }
    .await;
    (ctx, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_follow_the_schedule_with_jitter() {
        let first = next_wait(1).as_secs_f64();
        assert!((4.5..=5.5).contains(&first), "{first}");
        let late = next_wait(20).as_secs_f64();
        assert!((32_400.0..=39_600.0).contains(&late), "{late}");
    }
}
