//! Webhook endpoints: what they subscribe to, validation (events from the spec's list with
//! `prefix.*` wildcards, a URL the SSRF guard accepts, safe custom headers), the sealed signing
//! secret (shown once, rotatable) and the delivery log.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::signing;
use crate::platform::audit::{self, Actor, diff};
use crate::platform::crypto::Sealer;
use crate::platform::error::{AppError, conflict_on_unique};
use crate::platform::listing::Problems;
use crate::platform::module::Manifest;
use crate::platform::outbound::Outbound;
use crate::platform::tenancy::TenantTx;

/// The purpose the secret columns are sealed for.
pub const SEALED_AS: &str = "webhooks.secret";
/// How long the previous secret keeps signing after a rotation.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;
/// Headers the signature scheme or HTTP itself owns.
const RESERVED_HEADERS: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
];

pub use domain::events::covers;

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Webhook {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    /// Event names or wildcards (`issue.*`, `*`).
    pub events: Vec<String>,
    pub active: bool,
    /// The names of the custom headers (their values are write-only).
    pub header_names: Vec<String>,
    /// True while a rotated-out secret still signs alongside the new one.
    pub rotating: bool,
    pub disable_after_hours: i32,
    pub last_triggered_at: Option<DateTime<Utc>>,
    pub last_status: Option<String>,
    pub failure_count: i32,
    pub failing_since: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A webhook with its signing secret: answered once, on creation and on rotation.
#[derive(Debug, Serialize, ToSchema)]
pub struct WithSecret {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_…`: verify signatures with it. It cannot be read again.
    pub secret: String,
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    /// Default true. Re-activating clears the failure state.
    pub active: Option<bool>,
    /// Sent with every delivery. Omitted on update: the current headers stay.
    pub headers: Option<BTreeMap<String, String>>,
    /// Default 120 (5 days) — an endpoint failing that long is disabled.
    pub disable_after_hours: Option<i32>,
    /// Only on creation: bring your own `whsec_…` secret (else one is generated).
    pub secret: Option<String>,
}

const SELECT: &str = "SELECT id, name, url, events, COALESCE(active, true) AS active,
    ARRAY(SELECT jsonb_object_keys(COALESCE(headers, '{}')) ORDER BY 1) AS header_names,
    (previous_secret IS NOT NULL AND previous_secret_expires_at > now()) AS rotating,
    disable_after_hours, last_triggered_at, last_status, COALESCE(failure_count, 0) AS failure_count,
    failing_since, disabled_reason, created_at, updated_at FROM webhooks";

pub async fn list(tx: &mut TenantTx) -> Result<Vec<Webhook>, AppError> {
    Ok(sqlx::query_as(&format!("{SELECT} ORDER BY lower(name)"))
        .fetch_all(&mut **tx)
        .await?)
}

pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Webhook, AppError> {
    sqlx::query_as(&format!("{SELECT} WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)
}

async fn validate(
    b: &WebhookBody,
    outbound: &Outbound,
    manifest: &Manifest,
    creating: bool,
) -> Result<(), AppError> {
    let mut p = Problems::default();
    if b.name.trim().is_empty() || b.name.len() > 255 {
        p.add("name", "is required (up to 255 characters)");
    }
    if let Err(why) = outbound.check_resolved(b.url.trim()).await {
        p.add("url", why.0);
    }
    if b.events.is_empty() {
        p.add("events", "subscribe to at least one event (or `*`)");
    }
    for (i, e) in b.events.iter().enumerate() {
        // Only events this binary emits: a module not built yet offers none.
        let known = manifest.events().any(|ev| ev.name == e)
            || manifest.event_wildcards().iter().any(|w| w.name == e);
        if !known {
            p.add(
                &format!("events[{i}]"),
                format!("'{e}' is not a webhook event (e.g. issue.created, issue.*, *)"),
            );
        }
    }
    for (name, value) in b.headers.iter().flatten() {
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c));
        if !valid_name || RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            p.add(
                &format!("headers.{name}"),
                "is not a header you can set (letters, digits, - and _; not the signature or HTTP headers)",
            );
        } else if value.chars().any(|c| c.is_control()) {
            p.add(
                &format!("headers.{name}"),
                "must not contain control characters",
            );
        }
    }
    if let Some(h) = b.disable_after_hours
        && !(1..=720).contains(&h)
    {
        p.add("disable_after_hours", "must be between 1 and 720");
    }
    match (&b.secret, creating) {
        (Some(_), false) => p.add("secret", "rotate the secret instead of setting it"),
        (Some(s), true) if signing::key_of(s).is_none() => p.add(
            "secret",
            "must be whsec_ followed by 24 to 64 bytes in base64",
        ),
        _ => {}
    }
    p.into_result()
}

pub async fn create(
    tx: &mut TenantTx,
    actor: &Actor,
    sealer: &Sealer,
    outbound: &Outbound,
    manifest: &Manifest,
    b: &WebhookBody,
) -> Result<WithSecret, AppError> {
    validate(b, outbound, manifest, true).await?;
    let secret = b.secret.clone().unwrap_or_else(signing::new_secret);
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO webhooks (name, url, secret, events, active, headers, disable_after_hours)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(b.name.trim())
    .bind(b.url.trim())
    .bind(sealer.seal(SEALED_AS, &secret))
    .bind(&b.events)
    .bind(b.active.unwrap_or(true))
    .bind(json!(b.headers.clone().unwrap_or_default()))
    .bind(b.disable_after_hours.unwrap_or(120))
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, "a webhook with this name exists"))?;
    let webhook = get(tx, id).await?;
    audit::record(
        tx,
        actor,
        "create",
        "webhook",
        id,
        diff(None, Some(&webhook)),
    )
    .await?;
    Ok(WithSecret { webhook, secret })
}

pub async fn update(
    tx: &mut TenantTx,
    actor: &Actor,
    outbound: &Outbound,
    manifest: &Manifest,
    id: Uuid,
    b: &WebhookBody,
) -> Result<Webhook, AppError> {
    let before = get(tx, id).await?;
    validate(b, outbound, manifest, false).await?;
    let reactivated = b.active == Some(true) && !before.active;
    sqlx::query(
        "UPDATE webhooks SET name = $2, url = $3, events = $4, active = COALESCE($5, active),
            headers = COALESCE($6, headers), disable_after_hours = COALESCE($7, disable_after_hours),
            failing_since = CASE WHEN $8 THEN NULL ELSE failing_since END,
            failure_count = CASE WHEN $8 THEN 0 ELSE failure_count END,
            disabled_reason = CASE WHEN $8 THEN NULL ELSE disabled_reason END,
            updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(b.name.trim())
    .bind(b.url.trim())
    .bind(&b.events)
    .bind(b.active)
    .bind(b.headers.as_ref().map(|h| json!(h)))
    .bind(b.disable_after_hours)
    .bind(reactivated)
    .execute(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, "a webhook with this name exists"))?;
    let after = get(tx, id).await?;
    let mut changes = diff(Some(&before), Some(&after));
    if b.headers.is_some() {
        changes["headers"] = json!("replaced");
    }
    audit::record(tx, actor, "update", "webhook", id, changes).await?;
    Ok(after)
}

pub async fn delete(tx: &mut TenantTx, actor: &Actor, id: Uuid) -> Result<(), AppError> {
    let before = get(tx, id).await?;
    sqlx::query("DELETE FROM webhooks WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    audit::record(
        tx,
        actor,
        "delete",
        "webhook",
        id,
        diff(Some(&before), None),
    )
    .await
}

/// A new secret signs from now on; the old one keeps signing alongside it for a day, so
/// receivers can switch without missing a delivery.
pub async fn rotate(
    tx: &mut TenantTx,
    actor: &Actor,
    sealer: &Sealer,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<WithSecret, AppError> {
    get(tx, id).await?;
    let secret = signing::new_secret();
    sqlx::query(
        "UPDATE webhooks SET previous_secret = secret, previous_secret_expires_at = $3,
            secret = $2, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(sealer.seal(SEALED_AS, &secret))
    .bind(now + Duration::hours(ROTATION_OVERLAP_HOURS))
    .execute(&mut **tx)
    .await?;
    audit::record(tx, actor, "rotate_secret", "webhook", id, json!({})).await?;
    Ok(WithSecret {
        webhook: get(tx, id).await?,
        secret,
    })
}

/// What a delivery needs: where, the plain secrets that sign now, and the custom headers.
pub struct Target {
    pub url: String,
    pub active: bool,
    pub secrets: Vec<String>,
    pub headers: BTreeMap<String, String>,
    pub disable_after_hours: i32,
}

pub async fn target(
    conn: &mut sqlx::PgConnection,
    sealer: &Sealer,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Target>, AppError> {
    type Row = (
        String,
        bool,
        Option<String>,
        Option<String>,
        Option<DateTime<Utc>>,
        Value,
        i32,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT url, COALESCE(active, true), secret, previous_secret, previous_secret_expires_at,
                COALESCE(headers, '{}'), disable_after_hours
         FROM webhooks WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(
        |(url, active, secret, previous, expires, headers, disable_after_hours)| {
            let previous = previous.filter(|_| expires.is_some_and(|e| e > now));
            let secrets = [secret, previous]
                .into_iter()
                .flatten()
                .filter_map(|s| sealer.open(SEALED_AS, &s))
                .collect();
            Target {
                url,
                active,
                secrets,
                headers: serde_json::from_value(headers).unwrap_or_default(),
                disable_after_hours,
            }
        },
    ))
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Delivery {
    pub id: Uuid,
    /// The `webhook-id` header: the same for every attempt at one message.
    pub message_id: String,
    pub event: String,
    pub attempt: i32,
    pub success: bool,
    pub status_code: Option<i32>,
    pub response_time_ms: Option<i32>,
    /// The first 1,000 characters of the receiver's answer.
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn deliveries(tx: &mut TenantTx, webhook: Uuid) -> Result<Vec<Delivery>, AppError> {
    get(tx, webhook).await?;
    Ok(sqlx::query_as(
        "SELECT id, message_id, event, COALESCE(attempt, 1) AS attempt, COALESCE(success, false) AS success,
                status_code, response_time_ms, response_body, error, created_at
         FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY created_at DESC LIMIT 200",
    )
    .bind(webhook)
    .fetch_all(&mut **tx)
    .await?)
}
