//! Outbound e-mail transport. Messages are rows in the tenant's `outbound_emails`, written in
//! the transaction that causes them, and sent by the `mail.send` job (`notifications::mail`).
//! Without `FIRELATER_SMTP_URL` the transport logs each message (development), so flows like
//! password reset stay real.

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use uuid::Uuid;

use crate::platform::error::AppError;
use crate::platform::jobs;
use crate::platform::tenancy::Slug;

pub const SEND_TASK: &str = "mail.send";
/// Attempts before a mail counts as failed (the job queue's backoff spaces them over hours).
pub const ATTEMPTS: i32 = 8;

#[derive(Debug, Clone, Default)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body_text: String,
    /// Sent as the HTML alternative of the text.
    pub body_html: Option<String>,
    /// `<…@…>`: this message's `Message-ID`.
    pub message_id: Option<String>,
    /// `<…@…>`: the thread's root, sent as `In-Reply-To` and `References` so a mail client
    /// shows every message about one record as one conversation.
    pub thread: Option<String>,
    /// Where the recipient changes what they get (`List-Unsubscribe`).
    pub unsubscribe: Option<String>,
}

/// `List-Unsubscribe: <url>` (RFC 2369).
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl lettre::message::header::Header for ListUnsubscribe {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.trim_matches(['<', '>']).to_string()))
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

impl Email {
    /// The message as it goes over SMTP.
    fn build(&self, from: &str) -> anyhow::Result<Message> {
        let mut b = Message::builder()
            .from(from.parse::<Mailbox>()?)
            .to(self.to.parse::<Mailbox>()?)
            .subject(&self.subject)
            .message_id(self.message_id.clone());
        if let Some(root) = &self.thread {
            b = b.in_reply_to(root.clone()).references(root.clone());
        }
        if let Some(url) = &self.unsubscribe {
            b = b.header(ListUnsubscribe(url.clone()));
        }
        Ok(match &self.body_html {
            Some(html) => b.multipart(lettre::message::MultiPart::alternative_plain_html(
                self.body_text.clone(),
                html.clone(),
            ))?,
            None => b.body(self.body_text.clone())?,
        })
    }
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
        Self::new(host, port, "none", None)
    }

    /// A server with `tls` = `none` (plain, e.g. a local relay), `starttls` or `tls` (implicit),
    /// and an optional login.
    pub fn new(
        host: &str,
        port: u16,
        tls: &str,
        login: Option<(String, String)>,
    ) -> anyhow::Result<Self> {
        Self::connecting_to(host, host, port, tls, login)
    }

    /// As `new`, but connecting to `address` (an address the outbound guard checked) while the
    /// certificate is verified for `host`.
    pub fn connecting_to(
        address: &str,
        host: &str,
        port: u16,
        tls: &str,
        login: Option<(String, String)>,
    ) -> anyhow::Result<Self> {
        use lettre::transport::smtp::client::{Tls, TlsParameters};
        let tls = match tls {
            "starttls" => Tls::Required(TlsParameters::new(host.into())?),
            "tls" => Tls::Wrapper(TlsParameters::new(host.into())?),
            _ => Tls::None,
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(address)
            .port(port)
            .tls(tls)
            .timeout(Some(std::time::Duration::from_secs(30)));
        if let Some((user, password)) = login {
            b = b.credentials(lettre::transport::smtp::authentication::Credentials::new(
                user, password,
            ));
        }
        Ok(SmtpTransport { inner: b.build() })
    }
}

impl Transport for SmtpTransport {
    fn send<'a>(
        &'a self,
        from: &'a str,
        email: &'a Email,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + 'a>> {
        Box::pin(async move {
            self.inner.send(email.build(from)?).await?;
            Ok(())
        })
    }
}

/// Queues an e-mail in the caller's (tenant) transaction.
pub async fn queue(
    conn: &mut sqlx::PgConnection,
    tenant: &Slug,
    email: Email,
) -> Result<Uuid, AppError> {
    queue_at(conn, tenant, email, None).await
}

/// Queues an e-mail to go at `run_at` (e.g. when the recipient's quiet hours end).
pub async fn queue_at(
    conn: &mut sqlx::PgConnection,
    tenant: &Slug,
    email: Email,
    run_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Uuid, AppError> {
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO outbound_emails (to_address, subject, body_text, body_html, message_id, thread_id, unsubscribe_url)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(&email.to)
    .bind(&email.subject)
    .bind(&email.body_text)
    .bind(&email.body_html)
    .bind(&email.message_id)
    .bind(&email.thread)
    .bind(&email.unsubscribe)
    .fetch_one(&mut *conn)
    .await?;
    enqueue_send(conn, tenant, id, run_at).await?;
    Ok(id)
}

/// The `mail.send` job for one stored mail, keyed by it: asking again while it is queued or
/// running (an administrator's "send again") runs it once more, never twice at once.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct SendMail {
    pub email_id: Uuid,
}

impl jobs::Job for SendMail {
    const TASK: &'static str = SEND_TASK;
    const MAX_ATTEMPTS: i32 = ATTEMPTS;

    fn key(&self) -> Option<String> {
        Some(format!("mail.{}", self.email_id))
    }
}

pub async fn enqueue_send(
    conn: &mut sqlx::PgConnection,
    tenant: &Slug,
    id: Uuid,
    run_at: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<()> {
    jobs::push(conn, Some(tenant), &SendMail { email_id: id }, run_at).await?;
    Ok(())
}
