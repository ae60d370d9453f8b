//! Notification channels: where a group's (or everyone's) events go besides people — a Slack or
//! Teams channel, a PagerDuty service, a generic webhook, a group mail address or an SMS
//! number — through one of the tenant's integrations, for the events and priorities chosen.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::integrations::store::is_phone;
use crate::platform::audit::{self, Actor, diff};
use crate::platform::error::{AppError, conflict_on_unique};
use crate::platform::listing::Problems;
use crate::platform::tenancy::TenantTx;
use domain::events::covers;

use super::topics;
use crate::platform::module::Manifest;

pub const PRIORITIES: &[&str] = &["critical", "high", "medium", "low"];

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Channel {
    pub id: Uuid,
    pub name: String,
    pub integration_id: Uuid,
    pub integration_name: String,
    /// The integration's type: `email`, `slack`, `teams`, `pagerduty`, `sms`, `webhook`.
    pub integration_type: String,
    /// `email`, `slack_channel`, `teams_channel`, `pagerduty_service`, `sms` or `webhook`.
    pub channel_type: String,
    /// A mail address (email), a phone number (sms) or a Slack channel (`#ops`; default: the
    /// integration's).
    pub target: Option<String>,
    /// Only issues of this group (none: every issue).
    pub group_id: Option<Uuid>,
    pub group_name: Option<String>,
    /// Event names or wildcards (`issue.*`).
    pub events: Vec<String>,
    /// Only issues at least this urgent.
    pub min_priority: Option<String>,
    /// `active` or `inactive`.
    pub status: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelBody {
    pub name: String,
    pub integration_id: Uuid,
    pub target: Option<String>,
    pub group_id: Option<Uuid>,
    /// Default `["issue.*"]`.
    pub events: Option<Vec<String>>,
    pub min_priority: Option<String>,
    pub status: Option<String>,
}

const SELECT: &str = "SELECT c.id, c.name, c.integration_id, i.name AS integration_name,
    i.type AS integration_type, c.channel_type, c.config->>'target' AS target, c.group_id,
    g.name AS group_name, c.events, c.min_priority, COALESCE(c.status, 'active') AS status,
    COALESCE(c.created_at, now()) AS created_at
    FROM notification_channels c JOIN integrations i ON i.id = c.integration_id
    LEFT JOIN groups g ON g.id = c.group_id";

pub async fn list(tx: &mut TenantTx) -> Result<Vec<Channel>, AppError> {
    Ok(sqlx::query_as(&format!("{SELECT} ORDER BY lower(c.name)"))
        .fetch_all(&mut **tx)
        .await?)
}

pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Channel, AppError> {
    sqlx::query_as(&format!("{SELECT} WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)
}

fn channel_type(kind: &str) -> &'static str {
    match kind {
        "email" => "email",
        "slack" => "slack_channel",
        "teams" => "teams_channel",
        "pagerduty" => "pagerduty_service",
        "sms" => "sms",
        _ => "webhook",
    }
}

/// Checks the body; answers the channel type its integration gives it.
async fn validate(
    tx: &mut TenantTx,
    m: &Manifest,
    b: &ChannelBody,
) -> Result<&'static str, AppError> {
    let mut p = Problems::default();
    if b.name.trim().is_empty() || b.name.len() > 255 {
        p.add("name", "is required (up to 255 characters)");
    }
    let kind: Option<String> = sqlx::query_scalar("SELECT type FROM integrations WHERE id = $1")
        .bind(b.integration_id)
        .fetch_optional(&mut **tx)
        .await?;
    let target = b.target.as_deref().map(str::trim).filter(|t| !t.is_empty());
    match (kind.as_deref(), target) {
        (None, _) => p.add(
            "integration_id",
            "is not an integration of this organization",
        ),
        (Some("email"), t) if t.is_none_or(|t| t.parse::<lettre::Address>().is_err()) => {
            p.add("target", "must be the mail address to send to")
        }
        (Some("sms"), t) if !t.is_some_and(is_phone) => p.add(
            "target",
            "must be the phone number to text, in E.164 form (+15551234567)",
        ),
        (Some("teams" | "pagerduty" | "webhook"), Some(_)) => {
            p.add("target", "leave empty: this integration sends to one place")
        }
        _ => {}
    }
    if let Some(g) = b.group_id
        && !crate::platform::tenancy::exists(
            tx,
            "SELECT EXISTS (SELECT 1 FROM groups WHERE id = $1)",
            g,
        )
        .await?
    {
        p.add("group_id", "is not a group of this organization");
    }
    let events = b.events.clone().unwrap_or_else(|| vec!["issue.*".into()]);
    if events.is_empty() {
        p.add("events", "choose at least one event (or issue.*)");
    }
    for (i, e) in events.iter().enumerate() {
        let known = topics::all(m).iter().any(|k| covers(e, &k.name()));
        if !known {
            p.add(
                &format!("events[{i}]"),
                format!(
                    "'{e}' is not an event people can be told about (e.g. issue.created, issue.*)"
                ),
            );
        }
    }
    if let Some(m) = &b.min_priority {
        p.one_of("min_priority", m, PRIORITIES);
    }
    if let Some(s) = &b.status {
        p.one_of("status", s, &["active", "inactive"]);
    }
    p.into_result()?;
    Ok(channel_type(kind.as_deref().unwrap_or_default()))
}

pub async fn create(
    tx: &mut TenantTx,
    m: &Manifest,
    actor: &Actor,
    b: &ChannelBody,
) -> Result<Channel, AppError> {
    let ctype = validate(tx, m, b).await?;
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO notification_channels (integration_id, name, channel_type, config, group_id, events, min_priority, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(b.integration_id)
    .bind(b.name.trim())
    .bind(ctype)
    .bind(json!({"target": b.target.as_deref().map(str::trim).filter(|t| !t.is_empty())}))
    .bind(b.group_id)
    .bind(b.events.clone().unwrap_or_else(|| vec!["issue.*".into()]))
    .bind(&b.min_priority)
    .bind(b.status.as_deref().unwrap_or("active"))
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, "a channel with this name exists"))?;
    let after = get(tx, id).await?;
    let changes = diff(None, Some(&after));
    audit::record(tx, actor, "create", "notification_channel", id, changes).await?;
    Ok(after)
}

pub async fn update(
    tx: &mut TenantTx,
    m: &Manifest,
    actor: &Actor,
    id: Uuid,
    b: &ChannelBody,
) -> Result<Channel, AppError> {
    let before = get(tx, id).await?;
    let ctype = validate(tx, m, b).await?;
    sqlx::query(
        "UPDATE notification_channels SET integration_id = $2, name = $3, channel_type = $4, config = $5,
            group_id = $6, events = $7, min_priority = $8, status = COALESCE($9, status), updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(b.integration_id)
    .bind(b.name.trim())
    .bind(ctype)
    .bind(json!({"target": b.target.as_deref().map(str::trim).filter(|t| !t.is_empty())}))
    .bind(b.group_id)
    .bind(b.events.clone().unwrap_or_else(|| vec!["issue.*".into()]))
    .bind(&b.min_priority)
    .bind(&b.status)
    .execute(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, "a channel with this name exists"))?;
    let after = get(tx, id).await?;
    let changes = diff(Some(&before), Some(&after));
    audit::record(tx, actor, "update", "notification_channel", id, changes).await?;
    Ok(after)
}

pub async fn delete(tx: &mut TenantTx, actor: &Actor, id: Uuid) -> Result<(), AppError> {
    let before = get(tx, id).await?;
    sqlx::query("DELETE FROM notification_channels WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let changes = diff(Some(&before), None);
    audit::record(tx, actor, "delete", "notification_channel", id, changes).await
}

/// A channel that may want an event.
#[derive(sqlx::FromRow)]
pub struct Wanting {
    pub id: Uuid,
    pub integration_id: Uuid,
    pub integration_type: String,
    pub target: Option<String>,
    events: Vec<String>,
    min_priority: Option<String>,
}

/// The active channels (of active integrations) that want this issue event.
/// The events a channel form offers: each area's wildcard, then its events.
pub fn choosable(m: &Manifest) -> Vec<String> {
    m.audiences()
        .flat_map(|a| {
            std::iter::once(format!("{}.*", a.entity()))
                .chain(a.topics().iter().map(move |t| a.event_name(t)))
        })
        .collect()
}

pub async fn matching(
    conn: &mut sqlx::PgConnection,
    event_type: &str,
    group: Option<Uuid>,
    priority: Option<&str>,
) -> anyhow::Result<Vec<Wanting>> {
    let rows: Vec<Wanting> = sqlx::query_as(
        "SELECT c.id, c.integration_id, i.type AS integration_type, c.config->>'target' AS target,
                c.events, c.min_priority
         FROM notification_channels c JOIN integrations i ON i.id = c.integration_id
         WHERE COALESCE(c.status, 'active') = 'active' AND COALESCE(i.status, 'active') = 'active'
           AND (c.group_id IS NULL OR c.group_id = $1)",
    )
    .bind(group)
    .fetch_all(conn)
    .await?;
    let rank = |p: &str| PRIORITIES.iter().position(|x| *x == p);
    Ok(rows
        .into_iter()
        .filter(|c| {
            c.events.iter().any(|e| covers(e, event_type))
                && c.min_priority.as_deref().is_none_or(
                    |m| matches!((priority.and_then(rank), rank(m)), (Some(p), Some(m)) if p <= m),
                )
        })
        .collect())
}

/// For forms: the integrations a channel can use.
pub async fn integration_choices(
    tx: &mut TenantTx,
) -> Result<crate::platform::web::Choices, AppError> {
    crate::platform::web::choices(
        tx,
        "SELECT id, name || ' (' || type || ')' FROM integrations ORDER BY lower(name)",
    )
    .await
}
