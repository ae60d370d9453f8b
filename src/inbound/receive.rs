//! Mail into issues. A new message from a known person (or, when the tenant allows it, a new
//! requester) raises an issue; a reply becomes a comment on the issue it answers — found by
//! `In-Reply-To`/`References` against the Message-IDs FireLater sent or took in, else by the
//! `[ISS-00042]` subject tag. Attachments are kept. Auto-replies, bounces and bulk mail never
//! create anything (so two systems cannot loop), and a message delivered twice is taken once.

use mail_parser::{Message, MessageParser, MimeHeaders};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::issues::actions::{Acting, NewIssue};
use crate::issues::activity::{self, CommentBody};
use crate::issues::store as issues;
use crate::platform::audit::{self, Actor};
use crate::platform::auth::{AuthVia, Principal, RequestMeta, load_user};
use crate::platform::error::AppError;
use crate::platform::state::AppState;
use crate::platform::tenancy::{self, Slug, TenantTx};

/// The largest message taken in.
pub const MAX_BYTES: usize = 25 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Received {
    pub id: Uuid,
    /// `created`, `commented` or `ignored`.
    pub outcome: String,
    /// Why a message was ignored.
    pub reason: Option<String>,
    pub issue_id: Option<Uuid>,
    pub issue_number: Option<String>,
    pub from_address: String,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    pub received_at: chrono::DateTime<chrono::Utc>,
}

pub const SELECT: &str = "SELECT e.id, e.outcome, e.reason, e.issue_id, i.issue_number, e.from_address,
    e.subject, e.message_id, e.received_at FROM inbound_emails e LEFT JOIN issues i ON i.id = e.issue_id";

/// Why this message must not create anything, if it is automatic.
fn automatic(m: &Message<'_>, from: &str) -> Option<String> {
    let header = |name: &str| m.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    if let Some(v) = header("Auto-Submitted")
        && v != "no"
    {
        return Some(format!("automatic reply (Auto-Submitted: {v})"));
    }
    if let Some(v) = header("Precedence")
        && ["bulk", "junk", "list", "auto_reply"].contains(&v.as_str())
    {
        return Some(format!("bulk mail (Precedence: {v})"));
    }
    if header("X-Autoreply").is_some() || header("X-Autorespond").is_some() {
        return Some("automatic reply (X-Autoreply)".into());
    }
    let local = from.split('@').next().unwrap_or_default();
    if ["mailer-daemon", "postmaster"].contains(&local) {
        return Some("a bounce (from the mail system)".into());
    }
    if m.is_content_type("multipart", "report") {
        return Some("a delivery report".into());
    }
    None
}

/// Message-IDs this message answers, without angle brackets.
fn answered_ids(m: &Message<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for h in [m.in_reply_to(), m.references()] {
        for id in h.as_text_list().unwrap_or_default() {
            out.push(id.trim_matches(['<', '>', ' ']).to_string());
        }
    }
    out
}

/// `[ISS-00042]` in a subject.
fn subject_tag(subject: &str) -> Option<String> {
    let start = subject.find("[ISS-")?;
    let rest = &subject[start + 1..];
    let end = rest.find(']')?;
    let tag = &rest[..end];
    tag[4..]
        .chars()
        .all(|c| c.is_ascii_digit())
        .then(|| tag.to_string())
        .filter(|t| t.len() > 4)
}

/// The issue a reply belongs to: a thread root or notification FireLater sent, a message it
/// took in, else the subject's tag.
async fn thread_of(
    tx: &mut TenantTx,
    ids: &[String],
    subject: &str,
) -> Result<Option<Uuid>, AppError> {
    if let Some(issue) = ids.iter().find_map(|id| {
        let (local, _) = id.split_once('@').unwrap_or((id, ""));
        local.strip_prefix("issue.").and_then(|u| u.parse().ok())
    }) {
        return Ok(Some(issue));
    }
    // One look-up for every referenced message, the earliest-named match winning (a long
    // References header must not cost a query per id).
    if !ids.is_empty() {
        let bracketed: Vec<String> = ids.iter().map(|id| format!("<{id}>")).collect();
        let found: Option<Uuid> = sqlx::query_scalar(
            "SELECT issue FROM (
                SELECT e.issue_id AS issue, array_position($1::text[], e.message_id) AS pos
                FROM inbound_emails e WHERE e.message_id = ANY($1) AND e.issue_id IS NOT NULL
                UNION ALL
                SELECT n.entity_id, array_position($2::text[], o.message_id)
                FROM outbound_emails o JOIN notifications n ON n.id = o.notification_id
                WHERE o.message_id = ANY($2) AND n.entity_type = 'issue') m
             ORDER BY pos LIMIT 1",
        )
        .bind(ids)
        .bind(&bracketed)
        .fetch_optional(&mut **tx)
        .await?;
        if found.is_some() {
            return Ok(found);
        }
    }
    let Some(tag) = subject_tag(subject) else {
        return Ok(None);
    };
    Ok(
        sqlx::query_scalar("SELECT id FROM issues WHERE issue_number = $1 AND deleted_at IS NULL")
            .bind(tag)
            .fetch_optional(&mut **tx)
            .await?,
    )
}

/// "Re: Fwd: [ISS-00042] Printer" → "Printer".
fn clean_subject(subject: &str) -> String {
    let mut s = subject.trim();
    loop {
        let lower = s.to_ascii_lowercase();
        let cut = ["re:", "fw:", "fwd:", "aw:", "wg:"]
            .iter()
            .find(|p| lower.starts_with(*p))
            .map(|p| p.len());
        match cut {
            Some(n) => s = s[n..].trim_start(),
            None => break,
        }
    }
    if s.starts_with("[ISS-")
        && let Some(end) = s.find(']')
    {
        s = s[end + 1..].trim_start();
    }
    s.chars().take(500).collect()
}

/// The new text of a reply: what comes before the quoted message.
fn reply_text(body: &str) -> String {
    let mut out = Vec::new();
    for line in body.lines() {
        let t = line.trim();
        let quote_intro = t.starts_with("On ") && t.ends_with("wrote:");
        if quote_intro || t.starts_with("-----Original Message-----") {
            break;
        }
        if !t.starts_with('>') {
            out.push(line);
        }
    }
    let text = out.join("\n").trim().to_string();
    if text.is_empty() {
        body.trim().to_string()
    } else {
        text
    }
}

/// The body as text (the plain part, else the HTML part without its tags).
fn body_of(m: &Message<'_>) -> String {
    if let Some(t) = m.body_text(0) {
        return t.into_owned();
    }
    m.body_html(0)
        .map(|h| {
            let mut out = String::new();
            let mut in_tag = false;
            for c in h.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => out.push(c),
                    _ => {}
                }
            }
            out
        })
        .unwrap_or_default()
}

/// Settings the intake follows.
#[derive(sqlx::FromRow)]
struct Settings {
    create_requesters: bool,
    default_group_id: Option<Uuid>,
}

/// The sender as a principal (a new requester when allowed), or why not.
async fn sender(
    tx: &mut TenantTx,
    tenant: &Slug,
    from: &str,
    name: Option<&str>,
    settings: &Settings,
) -> Result<Result<Principal, String>, AppError> {
    let mut id: Option<(Uuid, String)> =
        sqlx::query_as("SELECT id, status FROM users WHERE lower(email) = lower($1)")
            .bind(from)
            .fetch_optional(&mut **tx)
            .await?;
    if id.is_none() && settings.create_requesters {
        let new: Uuid = sqlx::query_scalar(
            "INSERT INTO users (email, name, auth_provider, status) VALUES ($1, $2, 'email', 'active')
             RETURNING id",
        )
        .bind(from)
        .bind(name.filter(|n| !n.trim().is_empty()).unwrap_or(from))
        .fetch_one(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE name = 'requester'",
        )
        .bind(new)
        .execute(&mut **tx)
        .await?;
        let actor = Actor::system("inbound-email");
        let changes = json!({"email": from, "role": "requester", "via": "inbound email"});
        audit::record(tx, &actor, "create", "user", new, changes).await?;
        id = Some((new, "active".into()));
    }
    let Some((id, status)) = id else {
        return Ok(Err(format!("{from} is not a user here")));
    };
    if status != "active" {
        return Ok(Err(format!("{from} is not an active user")));
    }
    let user = load_user(tx, id).await?.ok_or(AppError::NotFound)?;
    if !user
        .permissions
        .iter()
        .any(|p| p == crate::issues::perm::ISSUES_CREATE.key())
    {
        return Ok(Err(format!("{from} may not raise issues")));
    }
    Ok(Ok(Principal {
        slug: tenant.clone(),
        user_id: user.id,
        name: user.name,
        email: user.email,
        timezone: user.timezone,
        permissions: user.permissions.into_iter().collect(),
        via: AuthVia::Mail,
    }))
}

/// The sender, acting by mail (audit rows say so).
fn mail_actor(p: &Principal) -> Actor {
    let meta = RequestMeta {
        ip: None,
        user_agent: Some("inbound email".into()),
    };
    Actor::user(p, &meta)
}

async fn record(
    tx: &mut TenantTx,
    message_id: Option<&str>,
    from: &str,
    subject: &str,
    outcome: &str,
    reason: Option<&str>,
    issue: Option<Uuid>,
) -> Result<Received, AppError> {
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO inbound_emails (message_id, from_address, subject, outcome, reason, issue_id)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(message_id)
    .bind(from)
    .bind(subject)
    .bind(outcome)
    .bind(reason)
    .bind(issue)
    .fetch_one(&mut **tx)
    .await?;
    Ok(sqlx::query_as(&format!("{SELECT} WHERE e.id = $1"))
        .bind(id)
        .fetch_one(&mut **tx)
        .await?)
}

/// Takes one raw RFC 5322 message into the tenant, in one transaction.
pub async fn receive(state: &AppState, tenant: &Slug, raw: &[u8]) -> Result<Received, AppError> {
    if raw.len() > MAX_BYTES {
        return Err(AppError::field("message", "is larger than 25 MiB"));
    }
    let m = MessageParser::default()
        .parse(raw)
        .filter(|m| m.from().is_some())
        .ok_or_else(|| AppError::field("message", "is not a mail message with a From address"))?;
    let from_addr = m.from().and_then(|a| a.first());
    let from = from_addr
        .and_then(|a| a.address())
        .map(|a| a.trim().to_ascii_lowercase())
        .filter(|a| a.contains('@'))
        .ok_or_else(|| AppError::field("message", "the From address is not a mail address"))?;
    let from_name = from_addr.and_then(|a| a.name()).map(str::to_string);
    let subject = m.subject().unwrap_or_default().trim().to_string();
    let message_id = m.message_id().map(str::to_string);
    let now = state.clock.now();
    let mut tx = tenancy::begin(&state.pool, tenant).await?;
    // The same message again (an MTA retrying): the first outcome stands.
    if let Some(mid) = &message_id {
        let seen: Option<Received> = sqlx::query_as(&format!("{SELECT} WHERE e.message_id = $1"))
            .bind(mid)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(r) = seen {
            return Ok(r);
        }
    }
    let mid = message_id.as_deref();
    if let Some(why) = automatic(&m, &from) {
        let r = record(&mut tx, mid, &from, &subject, "ignored", Some(&why), None).await?;
        tx.commit().await?;
        return Ok(r);
    }
    let settings: Settings = sqlx::query_as(
        "SELECT create_requesters, default_group_id FROM inbound_mail_settings WHERE id",
    )
    .fetch_one(&mut *tx)
    .await?;
    let principal = match sender(&mut tx, tenant, &from, from_name.as_deref(), &settings).await? {
        Ok(p) => p,
        Err(why) => {
            let r = record(&mut tx, mid, &from, &subject, "ignored", Some(&why), None).await?;
            tx.commit().await?;
            return Ok(r);
        }
    };
    let body = body_of(&m);
    let thread = thread_of(&mut tx, &answered_ids(&m), &subject).await?;
    let actor = mail_actor(&principal);
    let mut a = Acting::open(&mut tx, &principal, actor.clone(), now).await?;
    // A reply the sender may see becomes a comment; anything else raises an issue.
    let visible = match thread {
        Some(id) => issues::get(a.tx, &a.scope, id).await.ok().map(|i| i.id),
        None => None,
    };
    let (outcome, issue) = match visible {
        Some(issue) => {
            let content = reply_text(&body);
            let content = if content.is_empty() {
                "(empty reply)".into()
            } else {
                content
            };
            let b = CommentBody {
                content,
                is_internal: false,
            };
            activity::add_comment(&mut a, issue, &b).await?;
            ("commented", issue)
        }
        None => {
            // The desk's default group routes the issue, on the sender's behalf.
            let mut raiser = principal.clone();
            if settings.default_group_id.is_some() {
                raiser
                    .permissions
                    .insert(crate::issues::perm::ISSUES_ASSIGN.key().into());
            }
            let mut r = Acting::open(a.tx, &raiser, actor, now).await?;
            let title = match clean_subject(&subject) {
                t if t.is_empty() => "(no subject)".to_string(),
                t => t,
            };
            let new = NewIssue {
                title,
                description: Some(body.trim().chars().take(100_000).collect()),
                source: Some("email".into()),
                assigned_group: settings.default_group_id,
                ..Default::default()
            };
            let issue = crate::issues::actions::create(&mut r, &new, "email").await?;
            ("created", issue.id)
        }
    };
    let mut a = Acting::open(&mut tx, &principal, mail_actor(&principal), now).await?;
    for part in m.attachments() {
        let name = part.attachment_name().unwrap_or("attachment").to_string();
        let bytes = axum::body::Bytes::copy_from_slice(part.contents());
        // A file the attachment rules refuse (type, size) is noted, not fatal: the message
        // itself still counts.
        match crate::issues::attachments::add(&mut a, state.storage.as_ref(), issue, &name, bytes)
            .await
        {
            Ok(_) => {}
            Err(AppError::Validation { message, .. }) => {
                tracing::info!(file = %name, %message, "inbound attachment refused");
            }
            Err(e) => return Err(e),
        }
    }
    let r = record(&mut tx, mid, &from, &subject, outcome, None, Some(issue)).await?;
    tx.commit().await?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_replies_are_cleaned() {
        assert_eq!(
            subject_tag("Re: [ISS-00042] Printer"),
            Some("ISS-00042".into())
        );
        assert_eq!(subject_tag("[ISS-] x"), None);
        assert_eq!(subject_tag("[ISS-12a] x"), None);
        assert_eq!(
            clean_subject("Re: FWD: [ISS-00042] Printer on fire"),
            "Printer on fire"
        );
        assert_eq!(
            reply_text("Thanks, works now.\n\nOn Tue, Ada wrote:\n> old text"),
            "Thanks, works now."
        );
        assert_eq!(reply_text("> only quoted"), "> only quoted");
    }
}
