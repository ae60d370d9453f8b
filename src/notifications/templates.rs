//! Message templates per event and channel kind (`email`, `chat` for Slack/Teams/PagerDuty/
//! webhooks, `sms`). Defaults ship with the code for every event; administrators may override
//! one, with a preview. A broken override never drops a message: the default is used and the
//! problem is kept on the notification (and shown on the delivery problems page).

use std::collections::BTreeMap;

use domain::notify::{TemplateError, render};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::store::ISSUE_EVENTS;
use crate::platform::audit::{self, Actor};
use crate::platform::error::AppError;
use crate::platform::listing::Problems;
use crate::platform::tenancy::TenantTx;

pub const KINDS: &[&str] = &["email", "chat", "sms"];

/// The variables every template may use.
pub const VARIABLES: &[(&str, &str)] = &[
    ("number", "ISS-00042"),
    ("title", "Mail server down"),
    ("event", "issue.assigned"),
    ("verb", "was assigned"),
    ("link", "https://desk.example.com/issues/…"),
    ("priority", "high"),
    ("status", "assigned"),
    ("actor", "Ada Admin"),
    ("group", "Service Desk"),
    ("assignee", "Alex Agent"),
    ("changes", "status: new → assigned"),
];

/// The template kind a delivery channel uses.
pub fn kind_of(channel: &str) -> &'static str {
    match channel {
        "email" => "email",
        "sms" => "sms",
        _ => "chat",
    }
}

/// The shipped default (subject, body) for a kind.
pub fn default(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "email" => (
            "[{{number}}] {{title}}",
            "{{number}} {{verb}}: {{title}}\nPriority: {{priority}} · Status: {{status}}\nGroup: {{group}} · Assignee: {{assignee}}\nBy {{actor}}. {{changes}}",
        ),
        "sms" => ("", "{{number}} {{verb}} ({{priority}}): {{title}}"),
        _ => (
            "{{number}} {{verb}}: {{title}}",
            "Priority {{priority}} · status {{status}} · group {{group}} · assignee {{assignee}} · by {{actor}}",
        ),
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Template {
    pub event_category: String,
    pub event_type: String,
    /// `email`, `chat` or `sms`.
    pub channel: String,
    pub subject: String,
    pub body: String,
    /// False while the shipped default is in use.
    pub custom: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    /// Unused for SMS.
    #[serde(default)]
    pub subject: String,
    pub body: String,
}

/// What a message says, and the template problem that made it fall back, if any.
pub struct Rendered {
    pub subject: String,
    pub body: String,
    pub error: Option<String>,
}

fn sample() -> BTreeMap<&'static str, String> {
    VARIABLES.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

fn check(b: &TemplateBody) -> Result<(), AppError> {
    let vars = sample();
    let mut p = Problems::default();
    let explain = |e: TemplateError| {
        format!(
            "{e} (variables: {})",
            VARIABLES
                .iter()
                .map(|(k, _)| *k)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    if let Err(e) = render(&b.subject, &vars) {
        p.add("subject", explain(e));
    }
    if b.body.trim().is_empty() {
        p.add("body", "is required");
    } else if let Err(e) = render(&b.body, &vars) {
        p.add("body", explain(e));
    }
    p.into_result()
}

fn known(event_type: &str, kind: &str) -> Result<(), AppError> {
    let mut p = Problems::default();
    if !ISSUE_EVENTS.iter().any(|(t, _)| *t == event_type) {
        let names: Vec<&str> = ISSUE_EVENTS.iter().map(|(t, _)| *t).collect();
        p.add("event_type", format!("must be one of {}", names.join(", ")));
    }
    p.one_of("channel", kind, KINDS);
    p.into_result()
}

pub async fn list(tx: &mut TenantTx) -> Result<Vec<Template>, AppError> {
    let custom: Vec<(String, String, Option<String>, String)> = sqlx::query_as(
        "SELECT event_type, channel_type, subject_template, body_template FROM notification_templates
         WHERE event_category = 'issues'",
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut out = Vec::new();
    for (event, _) in ISSUE_EVENTS {
        for kind in KINDS {
            let own = custom.iter().find(|(e, k, _, _)| e == event && k == kind);
            let (subject, body) = default(kind);
            out.push(Template {
                event_category: "issues".into(),
                event_type: event.to_string(),
                channel: kind.to_string(),
                subject: own.map_or(subject.to_string(), |o| o.2.clone().unwrap_or_default()),
                body: own.map_or(body.to_string(), |o| o.3.clone()),
                custom: own.is_some(),
            });
        }
    }
    Ok(out)
}

pub async fn get(tx: &mut TenantTx, event_type: &str, kind: &str) -> Result<Template, AppError> {
    known(event_type, kind)?;
    list(tx)
        .await?
        .into_iter()
        .find(|t| t.event_type == event_type && t.channel == kind)
        .ok_or(AppError::NotFound)
}

pub async fn save(
    tx: &mut TenantTx,
    actor: &Actor,
    event_type: &str,
    kind: &str,
    b: &TemplateBody,
) -> Result<Template, AppError> {
    known(event_type, kind)?;
    check(b)?;
    let before = get(tx, event_type, kind).await?;
    sqlx::query(
        "INSERT INTO notification_templates (event_category, event_type, channel_type, subject_template, body_template, is_default)
         VALUES ('issues', $1, $2, $3, $4, false)
         ON CONFLICT (event_category, event_type, channel_type)
         DO UPDATE SET subject_template = EXCLUDED.subject_template, body_template = EXCLUDED.body_template, updated_at = now()",
    )
    .bind(event_type)
    .bind(kind)
    .bind(&b.subject)
    .bind(&b.body)
    .execute(&mut **tx)
    .await?;
    let after = get(tx, event_type, kind).await?;
    let changes = json!({"event_type": event_type, "channel": kind,
        "subject": {"old": before.subject, "new": after.subject},
        "body": {"old": before.body, "new": after.body}});
    audit::record(
        tx,
        actor,
        "update",
        "notification_template",
        uuid::Uuid::nil(),
        changes,
    )
    .await?;
    Ok(after)
}

/// Back to the shipped default.
pub async fn reset(
    tx: &mut TenantTx,
    actor: &Actor,
    event_type: &str,
    kind: &str,
) -> Result<Template, AppError> {
    known(event_type, kind)?;
    let gone = sqlx::query(
        "DELETE FROM notification_templates WHERE event_category = 'issues' AND event_type = $1 AND channel_type = $2",
    )
    .bind(event_type)
    .bind(kind)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if gone > 0 {
        let changes = json!({"event_type": event_type, "channel": kind, "reset": true});
        audit::record(
            tx,
            actor,
            "delete",
            "notification_template",
            uuid::Uuid::nil(),
            changes,
        )
        .await?;
    }
    get(tx, event_type, kind).await
}

/// Renders a template body against the sample values (the preview), or says what is wrong.
pub fn preview(b: &TemplateBody) -> Result<(String, String), AppError> {
    check(b)?;
    let vars = sample();
    Ok((
        render(&b.subject, &vars).unwrap_or_default(),
        render(&b.body, &vars).unwrap_or_default(),
    ))
}

/// The message for one delivery: the tenant's template if it has one and it renders, else the
/// default (with the reason kept).
pub async fn message(
    conn: &mut sqlx::PgConnection,
    event_type: &str,
    kind: &str,
    vars: &BTreeMap<&str, String>,
) -> anyhow::Result<Rendered> {
    let own: Option<(Option<String>, String)> = sqlx::query_as(
        "SELECT subject_template, body_template FROM notification_templates
         WHERE event_category = 'issues' AND event_type = $1 AND channel_type = $2",
    )
    .bind(event_type)
    .bind(kind)
    .fetch_optional(&mut *conn)
    .await?;
    let mut error = None;
    if let Some((subject, body)) = own {
        match (
            render(subject.as_deref().unwrap_or(""), vars),
            render(&body, vars),
        ) {
            (Ok(subject), Ok(body)) => {
                return Ok(Rendered {
                    subject,
                    body,
                    error: None,
                });
            }
            (Err(e), _) | (_, Err(e)) => {
                error = Some(format!(
                    "the {kind} template for issue.{event_type} is broken ({e}); the default was used"
                ));
            }
        }
    }
    let (subject, body) = default(kind);
    Ok(Rendered {
        subject: render(subject, vars)?,
        body: render(body, vars)?,
        error,
    })
}
