//! Outbound e-mail. Messages are rows in the tenant's `outbound_emails`, written in the
//! transaction that causes them, and sent by the `mail.send` job. Without `FIRELATER_SMTP_URL`
//! the transport logs each message (development), so flows like password reset stay real.

use std::sync::Arc;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::json;
use uuid::Uuid;

use crate::platform::error::AppError;
use crate::platform::jobs::{self, JobCtx, JobOptions, JobResult};
use crate::platform::tenancy::{Slug, TenantTx};

pub const SEND_TASK: &str = "mail.send";

#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body_text: String,
}

pub trait Transport: Send + Sync {
    fn send<'a>(
        &'a self,
        from: &'a str,
        email: &'a Email,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + 'a>>;
}

/// Development transport: the message goes to the log.
pub struct LogTransport;

impl Transport for LogTransport {
    fn send<'a>(
        &'a self,
        from: &'a str,
        email: &'a Email,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + 'a>> {
        Box::pin(async move {
            tracing::info!(from, to = %email.to, subject = %email.subject, body = %email.body_text, "mail (log transport)");
            Ok(())
        })
    }
}

/// Plain SMTP (`smtp://host:port`), e.g. to a local MTA or relay.
pub struct SmtpTransport {
    inner: AsyncSmtpTransport<Tokio1Executor>,
}

impl SmtpTransport {
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        let rest = url.strip_prefix("smtp://").ok_or_else(|| {
            anyhow::anyhow!("FIRELATER_SMTP_URL: must look like smtp://host:port")
        })?;
        let (host, port) = rest.rsplit_once(':').unwrap_or((rest, "25"));
        let port: u16 = port
            .trim_end_matches('/')
            .parse()
            .map_err(|_| anyhow::anyhow!("FIRELATER_SMTP_URL: bad port"))?;
        Ok(SmtpTransport {
            inner: AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                .port(port)
                .build(),
        })
    }
}

impl Transport for SmtpTransport {
    fn send<'a>(
        &'a self,
        from: &'a str,
        email: &'a Email,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + 'a>> {
        Box::pin(async move {
            let msg = Message::builder()
                .from(from.parse::<Mailbox>()?)
                .to(email.to.parse::<Mailbox>()?)
                .subject(&email.subject)
                .body(email.body_text.clone())?;
            self.inner.send(msg).await?;
            Ok(())
        })
    }
}

/// Queues an e-mail in the caller's transaction.
pub async fn queue(tx: &mut TenantTx, tenant: &Slug, email: Email) -> Result<Uuid, AppError> {
    let id: Uuid = sqlx::query_scalar("INSERT INTO outbound_emails (to_address, subject, body_text) VALUES ($1, $2, $3) RETURNING id")
        .bind(&email.to)
        .bind(&email.subject)
        .bind(&email.body_text)
        .fetch_one(&mut **tx)
        .await?;
    jobs::enqueue(
        tx,
        Some(tenant),
        SEND_TASK,
        json!({"email_id": id}),
        JobOptions::default(),
    )
    .await?;
    Ok(id)
}

/// The `mail.send` job. Sending happens before the status update commits; a crash in between
/// re-sends at most once more (SMTP has no idempotency key), which beats losing a reset mail.
pub async fn send_job(
    mut ctx: JobCtx,
    transport: Arc<dyn Transport>,
    from: String,
) -> (JobCtx, JobResult) {
    let result = async {
        let id: Uuid = serde_json::from_value(ctx.payload["email_id"].clone())?;
        let row: Option<(String, String, String, String)> =
            sqlx::query_as("SELECT to_address, subject, body_text, status FROM outbound_emails WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *ctx.tx)
                .await?;
        let Some((to, subject, body_text, status)) = row else { return Ok(()) };
        if status == "sent" {
            return Ok(());
        }
        let email = Email { to, subject, body_text };
        if let Err(e) = transport.send(&from, &email).await {
            anyhow::bail!("sending mail: {e}");
        }
        sqlx::query("UPDATE outbound_emails SET status = 'sent', sent_at = $2, attempts = attempts + 1 WHERE id = $1")
            .bind(id)
            .bind(ctx.clock.now())
            .execute(&mut *ctx.tx)
            .await?;
        Ok(())
    }
    .await
    .map_err(|e: anyhow::Error| jobs::JobError::from(e));
    (ctx, result)
}
