//! Sending stored mail: the `mail.send` job (through the tenant's own email integration when it
//! has an active one, else the server's transport) and an administrator's "send again".

use std::sync::Arc;

use uuid::Uuid;

use crate::integrations::store::Account;
use crate::platform::crypto::Sealer;
use crate::platform::error::AppError;
use crate::platform::jobs::{JobCtx, JobError, JobResult};
use crate::platform::mail::{ATTEMPTS, Email, SendMail, Transport, enqueue_send};
use crate::platform::module::Manifest;
use crate::platform::tenancy::Slug;

/// What the job needs besides its context.
#[derive(Clone)]
pub struct Mailer {
    pub transport: Arc<dyn Transport>,
    pub from: String,
    pub sealer: Sealer,
    pub manifest: Arc<Manifest>,
    /// Tenants' own SMTP servers are reached through the outbound guard.
    pub outbound: crate::platform::outbound::Outbound,
}

type Row = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<Uuid>,
);

/// The `mail.send` job. The mail is read and the transaction committed before SMTP is spoken;
/// the result is recorded in a fresh one. A crash between sending and recording re-sends at
/// most once more (SMTP has no idempotency key), which beats losing a reset mail.
pub async fn send_job(mut ctx: JobCtx, m: Mailer) -> (JobCtx, JobResult) {
    let result = send(&mut ctx, &m).await;
    (ctx, result)
}

async fn send(ctx: &mut JobCtx, m: &Mailer) -> JobResult {
    let id = ctx.job::<SendMail>()?.email_id;
    let row: Option<Row> = sqlx::query_as(
        "SELECT to_address, subject, body_text, status, body_html, message_id, thread_id, unsubscribe_url,
                notification_id
         FROM outbound_emails WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **ctx.tx)
    .await?;
    let Some((to, subject, body_text, status, body_html, message_id, thread, unsubscribe, about)) =
        row
    else {
        return Ok(());
    };
    if status != "pending" && status != "failed" {
        return Ok(());
    }
    if let Some(n) = about
        && !super::topics::still_deliverable(&mut ctx.tx, &m.manifest, n).await?
    {
        return Ok(());
    }
    let email = Email {
        to,
        subject,
        body_text,
        body_html,
        message_id,
        thread,
        unsubscribe,
    };
    // A tenant with its own active email integration sends through its own server.
    let own: Option<Account> =
        crate::integrations::store::active_of_kind(&mut ctx.tx, &m.sealer, "email").await?;
    let sent = ctx
        .outside(async {
            match &own {
                Some(account) => {
                    let from = account.setting("from").unwrap_or_else(|| m.from.clone());
                    match crate::integrations::send::smtp(&m.outbound, account).await {
                        Ok(t) => t.send(&from, &email).await,
                        Err(e) => Err(e),
                    }
                }
                None => m.transport.send(&m.from, &email).await,
            }
        })
        .await?;
    if let Err(e) = sent {
        // The job's transaction rolls back on failure, so the attempt is written beside it.
        if let Some(tenant) = &ctx.tenant {
            let last = ctx.attempt >= ATTEMPTS;
            record_failure(ctx.pool(), tenant, id, &e.to_string(), ctx.attempt, last).await?;
        }
        // A mail server that is down is retried on the deliveries' schedule (30 s, 2 min,
        // 10 min, …), not within seconds.
        return Err(JobError {
            retry_after: Some(super::deliver::retry_wait(ctx.attempt)),
            ..JobError::from(format!("sending mail: {e}"))
        });
    }
    let now = ctx.clock.now();
    // The mail, and a notification it delivers, are sent now.
    sqlx::query(
        "WITH mail AS (
            UPDATE outbound_emails SET status = 'sent', sent_at = $2, attempts = attempts + 1
            WHERE id = $1 RETURNING notification_id)
         UPDATE notifications SET status = 'sent', sent_at = $2, attempts = COALESCE(attempts, 0) + 1
         WHERE id = (SELECT notification_id FROM mail)",
    )
    .bind(id)
    .bind(now)
    .execute(&mut **ctx.tx)
    .await?;
    Ok(())
}

/// Notes a failed attempt on the mail and on the notification it delivers (`failed` after the
/// last attempt), so the delivery problems page can show it.
async fn record_failure(
    pool: &sqlx::PgPool,
    tenant: &Slug,
    id: Uuid,
    error: &str,
    attempt: i32,
    last: bool,
) -> anyhow::Result<()> {
    let mut tx = crate::platform::tenancy::begin(pool, tenant).await?;
    sqlx::query(
        "WITH mail AS (
            UPDATE outbound_emails SET attempts = $2, last_error = $3,
                status = CASE WHEN $4 THEN 'failed' ELSE status END
            WHERE id = $1 RETURNING notification_id)
         UPDATE notifications SET attempts = $2, error = $3,
            status = CASE WHEN $4 THEN 'failed' ELSE status END
         WHERE id = (SELECT notification_id FROM mail)",
    )
    .bind(id)
    .bind(attempt)
    .bind(error)
    .bind(last)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sends a notification's mail again now (an administrator's "retry").
pub async fn resend(
    conn: &mut sqlx::PgConnection,
    tenant: &Slug,
    notification: Uuid,
) -> Result<(), AppError> {
    let id: Option<Uuid> = sqlx::query_scalar(
        "UPDATE outbound_emails SET status = 'pending' WHERE notification_id = $1 AND status <> 'sent'
         RETURNING id",
    )
    .bind(notification)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = id else {
        return Err(AppError::conflict("this notification has no unsent mail"));
    };
    sqlx::query("UPDATE notifications SET status = 'pending' WHERE id = $1")
        .bind(notification)
        .execute(&mut *conn)
        .await?;
    enqueue_send(conn, tenant, id, None).await?;
    Ok(())
}
