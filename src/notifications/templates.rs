//! Message templates per event and channel kind (`email`, `chat` for Slack/Teams/PagerDuty/
//! webhooks, `sms`). Defaults ship with the code for every event; administrators may override
//! one, with a preview. A broken override never drops a message: the default is used and the
//! problem is kept on the notification (and shown on the delivery problems page).

use std::collections::BTreeMap;

use domain::notify::{TemplateError, render};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::topics::{self, Known};
use crate::platform::audience::Audience;
use crate::platform::audit::{self, Actor};
use crate::platform::error::AppError;
use crate::platform::listing::Problems;
use crate::platform::module::Manifest;
use crate::platform::tenancy::TenantTx;

pub const KINDS: &[&str] = &["email", "chat", "sms"];

/// The variables every template may use; each area adds its own (`Audience::fields`).
pub const COMMON: &[(&str, &str)] = &[
    ("number", "ISS-00042"),
    ("title", "Mail server down"),
    ("event", "issue.assigned"),
    ("verb", "was assigned"),
    ("link", "https://desk.example.com/issues/…"),
    ("priority", "high"),
    ("actor", "Ada Admin"),
];

/// The variables a template of this area may use, with sample values.
pub fn variables(audience: &dyn Audience) -> Vec<(&'static str, &'static str)> {
    COMMON
        .iter()
        .copied()
        .chain(audience.fields().iter().map(|f| (f.name, f.sample)))
        .collect()
}

/// The template kind a delivery channel uses.
pub fn kind_of(channel: &str) -> &'static str {
    match channel {
        "email" => "email",
        "sms" => "sms",
        _ => "chat",
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Template {
    /// The event in full, `issue.created`: how the template's address names it.
    pub event: String,
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

fn sample(audience: &dyn Audience) -> BTreeMap<&'static str, String> {
    variables(audience)
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect()
}

fn check(audience: &dyn Audience, b: &TemplateBody) -> Result<(), AppError> {
    let vars = sample(audience);
    let mut p = Problems::default();
    let explain = |e: TemplateError| {
        let names: Vec<&str> = vars.keys().copied().collect();
        format!("{e} (variables: {})", names.join(", "))
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

/// The event (`issue.created`) and channel kind a template address names, else 404.
pub fn known(m: &Manifest, event: &str, kind: &str) -> Result<Known, AppError> {
    match topics::by_name(m, event) {
        Some(k) if KINDS.contains(&kind) => Ok(k),
        _ => Err(AppError::NotFound),
    }
}

pub async fn list(tx: &mut TenantTx, m: &Manifest) -> Result<Vec<Template>, AppError> {
    let custom: Vec<(String, String, String, Option<String>, String)> = sqlx::query_as(
        "SELECT event_category, event_type, channel_type, subject_template, body_template
         FROM notification_templates",
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut out = Vec::new();
    for k in topics::all(m) {
        for kind in KINDS {
            out.push(template_of(&custom, k, kind));
        }
    }
    Ok(out)
}

fn template_of(
    custom: &[(String, String, String, Option<String>, String)],
    k: Known,
    kind: &str,
) -> Template {
    let own = custom
        .iter()
        .find(|(c, e, ch, _, _)| c == k.category() && e == k.event() && ch == kind);
    let (subject, body) = k.audience.default_template(kind);
    Template {
        event: k.name(),
        event_category: k.category().into(),
        event_type: k.event().into(),
        channel: kind.to_string(),
        subject: own.map_or(subject.to_string(), |o| o.3.clone().unwrap_or_default()),
        body: own.map_or(body.to_string(), |o| o.4.clone()),
        custom: own.is_some(),
    }
}

pub async fn get(tx: &mut TenantTx, k: Known, kind: &str) -> Result<Template, AppError> {
    let custom: Vec<(String, String, String, Option<String>, String)> = sqlx::query_as(
        "SELECT event_category, event_type, channel_type, subject_template, body_template
         FROM notification_templates
         WHERE event_category = $1 AND event_type = $2 AND channel_type = $3",
    )
    .bind(k.category())
    .bind(k.event())
    .bind(kind)
    .fetch_all(&mut **tx)
    .await?;
    Ok(template_of(&custom, k, kind))
}

pub async fn save(
    tx: &mut TenantTx,
    actor: &Actor,
    k: Known,
    kind: &str,
    b: &TemplateBody,
) -> Result<Template, AppError> {
    check(k.audience, b)?;
    let before = get(tx, k, kind).await?;
    sqlx::query(
        "INSERT INTO notification_templates (event_category, event_type, channel_type, subject_template, body_template, is_default)
         VALUES ($1, $2, $3, $4, $5, false)
         ON CONFLICT (event_category, event_type, channel_type)
         DO UPDATE SET subject_template = EXCLUDED.subject_template, body_template = EXCLUDED.body_template, updated_at = now()",
    )
    .bind(k.category())
    .bind(k.event())
    .bind(kind)
    .bind(&b.subject)
    .bind(&b.body)
    .execute(&mut **tx)
    .await?;
    let after = get(tx, k, kind).await?;
    let changes = json!({"event": k.name(), "channel": kind,
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
    k: Known,
    kind: &str,
) -> Result<Template, AppError> {
    let gone = sqlx::query(
        "DELETE FROM notification_templates WHERE event_category = $1 AND event_type = $2 AND channel_type = $3",
    )
    .bind(k.category())
    .bind(k.event())
    .bind(kind)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if gone > 0 {
        let changes = json!({"event": k.name(), "channel": kind, "reset": true});
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
    get(tx, k, kind).await
}

/// Renders a template body against the sample values (the preview), or says what is wrong.
pub fn preview(audience: &dyn Audience, b: &TemplateBody) -> Result<(String, String), AppError> {
    check(audience, b)?;
    let vars = sample(audience);
    Ok((
        render(&b.subject, &vars).unwrap_or_default(),
        render(&b.body, &vars).unwrap_or_default(),
    ))
}

/// The message for one delivery: the tenant's template if it has one and it renders, else the
/// default (with the reason kept).
pub async fn message(
    conn: &mut sqlx::PgConnection,
    audience: &dyn Audience,
    event_type: &str,
    kind: &str,
    vars: &BTreeMap<&str, String>,
) -> anyhow::Result<Rendered> {
    let own: Option<(Option<String>, String)> = sqlx::query_as(
        "SELECT subject_template, body_template FROM notification_templates
         WHERE event_category = $3 AND event_type = $1 AND channel_type = $2",
    )
    .bind(event_type)
    .bind(kind)
    .bind(audience.category())
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
                    "the {kind} template for {}.{event_type} is broken ({e}); the default was used",
                    audience.entity()
                ));
            }
        }
    }
    let (subject, body) = audience.default_template(kind);
    Ok(Rendered {
        subject: render(subject, vars)?,
        body: render(body, vars)?,
        error,
    })
}
