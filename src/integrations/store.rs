//! Integrations: one provider account each (the tenant's SMTP server, a Slack workspace, a Teams
//! workflow, a PagerDuty service, an SMS account, a generic webhook). Readable settings live in
//! `config`; tokens, passwords and webhook URLs live sealed in `secrets` and are never answered
//! back — only whether each is set. Every provider's base URL is a setting, so tests (and
//! on-premises installs) point it at their own receivers.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::platform::audit::{self, Actor, diff};
use crate::platform::crypto::Sealer;
use crate::platform::error::{AppError, conflict_on_unique};
use crate::platform::listing::Problems;
use crate::platform::outbound::Outbound;
use crate::platform::tenancy::TenantTx;

pub const SEALED_AS: &str = "integrations.secrets";

/// A provider: its readable settings (name, required, default) and its write-only ones.
pub struct Kind {
    pub name: &'static str,
    pub label: &'static str,
    pub config: &'static [(&'static str, bool, Option<&'static str>)],
    pub secrets: &'static [&'static str],
}

pub const KINDS: &[Kind] = &[
    Kind {
        name: "email",
        label: "Email (SMTP)",
        config: &[
            ("host", true, None),
            ("port", false, Some("587")),
            ("tls", false, Some("starttls")),
            ("username", false, None),
            ("from", true, None),
        ],
        secrets: &["password"],
    },
    Kind {
        name: "slack",
        label: "Slack",
        config: &[
            ("base_url", false, Some("https://slack.com")),
            ("channel", false, None),
        ],
        secrets: &["webhook_url", "bot_token"],
    },
    Kind {
        name: "teams",
        label: "Microsoft Teams",
        config: &[],
        secrets: &["webhook_url"],
    },
    Kind {
        name: "pagerduty",
        label: "PagerDuty",
        config: &[("base_url", false, Some("https://events.pagerduty.com"))],
        secrets: &["routing_key"],
    },
    Kind {
        name: "sms",
        label: "SMS (Twilio-compatible)",
        config: &[
            ("base_url", false, Some("https://api.twilio.com")),
            ("account_sid", true, None),
            ("from_number", true, None),
        ],
        secrets: &["auth_token"],
    },
    Kind {
        name: "webhook",
        label: "Generic webhook",
        config: &[("url", true, None)],
        secrets: &["authorization"],
    },
];

pub fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Integration {
    pub id: Uuid,
    /// `email`, `slack`, `teams`, `pagerduty`, `sms` or `webhook`.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub description: Option<String>,
    /// The readable settings, defaults filled in.
    #[schema(value_type = Object)]
    pub config: Value,
    /// Which write-only settings are set (their values are never answered).
    pub secrets_set: BTreeMap<String, bool>,
    /// `active` or `inactive`.
    pub status: String,
    pub last_test_at: Option<DateTime<Utc>>,
    pub last_test_status: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationBody {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub description: Option<String>,
    /// Readable settings (see the type's list); an update replaces them.
    #[schema(value_type = Object)]
    pub config: Option<Map<String, Value>>,
    /// Write-only settings. On update, a name left out keeps its value and `null` clears it.
    #[schema(value_type = Object)]
    pub secrets: Option<Map<String, Value>>,
    /// `active` (default) or `inactive`.
    pub status: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    kind: String,
    name: String,
    description: Option<String>,
    config: Value,
    secrets: Option<String>,
    status: String,
    last_test_at: Option<DateTime<Utc>>,
    last_test_status: Option<String>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT id, type AS kind, name, description, config, secrets,
    COALESCE(status, 'active') AS status, last_test_at, last_test_status, last_error,
    COALESCE(created_at, now()) AS created_at, COALESCE(updated_at, now()) AS updated_at
    FROM integrations";

/// An integration with its secrets opened: what a delivery needs.
pub struct Account {
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    pub active: bool,
    pub config: Map<String, Value>,
    pub secrets: BTreeMap<String, String>,
}

impl Account {
    /// A readable setting, its default when unset.
    pub fn setting(&self, name: &str) -> Option<String> {
        setting(&self.config, &self.kind, name)
    }

    pub fn secret(&self, name: &str) -> Option<&str> {
        self.secrets
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
}

fn setting(config: &Map<String, Value>, kind_name: &str, name: &str) -> Option<String> {
    let given = config.get(name).and_then(|v| match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    given.or_else(|| {
        kind(kind_name)?
            .config
            .iter()
            .find(|(n, _, _)| *n == name)
            .and_then(|(_, _, d)| d.map(str::to_string))
    })
}

fn open_secrets(sealer: &Sealer, sealed: &Option<String>) -> BTreeMap<String, String> {
    sealed
        .as_deref()
        .and_then(|s| sealer.open(SEALED_AS, s))
        .and_then(|plain| serde_json::from_str(&plain).ok())
        .unwrap_or_default()
}

fn present(r: Row, sealer: &Sealer) -> Integration {
    let secrets = open_secrets(sealer, &r.secrets);
    let k = kind(&r.kind);
    let config_map = r.config.as_object().cloned().unwrap_or_default();
    let config = k.map_or(Value::Object(config_map.clone()), |k| {
        Value::Object(
            k.config
                .iter()
                .filter_map(|(n, _, _)| {
                    setting(&config_map, k.name, n).map(|v| (n.to_string(), json!(v)))
                })
                .collect(),
        )
    });
    Integration {
        secrets_set: k
            .map(|k| k.secrets)
            .unwrap_or_default()
            .iter()
            .map(|s| {
                (
                    s.to_string(),
                    secrets.get(*s).is_some_and(|v| !v.is_empty()),
                )
            })
            .collect(),
        id: r.id,
        kind: r.kind,
        name: r.name,
        description: r.description,
        config,
        status: r.status,
        last_test_at: r.last_test_at,
        last_test_status: r.last_test_status,
        last_error: r.last_error,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

pub async fn list(tx: &mut TenantTx, sealer: &Sealer) -> Result<Vec<Integration>, AppError> {
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} ORDER BY lower(name)"))
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows.into_iter().map(|r| present(r, sealer)).collect())
}

pub async fn get(tx: &mut TenantTx, sealer: &Sealer, id: Uuid) -> Result<Integration, AppError> {
    let row: Row = sqlx::query_as(&format!("{SELECT} WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(present(row, sealer))
}

/// The account behind an integration, secrets opened.
pub async fn account(
    conn: &mut sqlx::PgConnection,
    sealer: &Sealer,
    id: Uuid,
) -> Result<Option<Account>, AppError> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| to_account(r, sealer)))
}

/// The first active integration of a kind (personal SMS and the tenant's own SMTP use it).
pub async fn active_of_kind(
    conn: &mut sqlx::PgConnection,
    sealer: &Sealer,
    kind: &str,
) -> Result<Option<Account>, AppError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE type = $1 AND COALESCE(status, 'active') = 'active' ORDER BY created_at, id LIMIT 1"
    ))
    .bind(kind)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| to_account(r, sealer)))
}

fn to_account(r: Row, sealer: &Sealer) -> Account {
    Account {
        secrets: open_secrets(sealer, &r.secrets),
        active: r.status == "active",
        config: r.config.as_object().cloned().unwrap_or_default(),
        id: r.id,
        kind: r.kind,
        name: r.name,
    }
}

/// Checks a body against its type, with the secrets it would have after the update.
async fn validate(
    b: &IntegrationBody,
    outbound: &Outbound,
    secrets: &BTreeMap<String, String>,
) -> Result<&'static Kind, AppError> {
    let mut p = Problems::default();
    if b.name.trim().is_empty() || b.name.len() > 255 {
        p.add("name", "is required (up to 255 characters)");
    }
    if let Some(s) = &b.status {
        p.one_of("status", s, &["active", "inactive"]);
    }
    let Some(k) = kind(&b.kind) else {
        let names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        p.add("type", format!("must be one of {}", names.join(", ")));
        p.into_result()?;
        return Err(AppError::NotFound);
    };
    let config = b.config.clone().unwrap_or_default();
    for (name, v) in &config {
        if !k.config.iter().any(|(n, _, _)| n == name) {
            p.add(
                &format!("config.{name}"),
                format!("is not a {} setting", k.label),
            );
        } else if !(v.is_string() || v.is_number() || v.is_null()) {
            p.add(&format!("config.{name}"), "must be text");
        }
    }
    for (name, required, _) in k.config {
        let value = setting(&config, k.name, name);
        if *required && value.is_none() {
            p.add(&format!("config.{name}"), "is required");
        }
        let Some(value) = value else { continue };
        match *name {
            "base_url" | "url" => {
                if let Err(why) = outbound.check_resolved(&value).await {
                    p.add(&format!("config.{name}"), why.0);
                }
            }
            // The SMTP server is checked as URLs are: after DNS, against the same guard.
            "host" => {
                let port = setting(&config, k.name, "port")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(587);
                if let Err(why) = outbound.check_host(&value, port).await {
                    p.add("config.host", why.0);
                }
            }
            "port" if value.parse::<u16>().map_or(true, |n| n == 0) => {
                p.add("config.port", "must be a port number (1-65535)")
            }
            "tls" => p.one_of("config.tls", &value, &["none", "starttls", "tls"]),
            "from" if value.parse::<lettre::message::Mailbox>().is_err() => p.add(
                "config.from",
                "must be a mail address, e.g. Service Desk <desk@example.com>",
            ),
            "from_number" if !is_phone(&value) => p.add(
                "config.from_number",
                "must be a phone number in E.164 form (+15551234567)",
            ),
            _ => {}
        }
    }
    for name in b.secrets.iter().flat_map(|s| s.keys()) {
        if !k.secrets.contains(&name.as_str()) {
            p.add(
                &format!("secrets.{name}"),
                format!("is not a {} secret", k.label),
            );
        }
    }
    for (name, v) in b.secrets.iter().flatten() {
        if !(v.is_string() || v.is_null()) {
            p.add(&format!("secrets.{name}"), "must be text or null");
        }
    }
    let has = |n: &str| secrets.get(n).is_some_and(|v| !v.is_empty());
    match k.name {
        "slack" if !has("webhook_url") && !has("bot_token") => p.add(
            "secrets.webhook_url",
            "set an incoming-webhook URL, or a bot token (secrets.bot_token) with a channel",
        ),
        "slack" if has("bot_token") && !has("webhook_url") && config.get("channel").is_none() => p
            .add(
                "config.channel",
                "a bot token needs a default channel (e.g. #ops)",
            ),
        "teams" if !has("webhook_url") => p.add("secrets.webhook_url", "is required"),
        "pagerduty" if !has("routing_key") => p.add(
            "secrets.routing_key",
            "is required (the service's Events API v2 integration key)",
        ),
        "sms" if !has("auth_token") => p.add("secrets.auth_token", "is required"),
        _ => {}
    }
    for url_secret in ["webhook_url"] {
        if let Some(u) = secrets.get(url_secret).filter(|u| !u.is_empty())
            && let Err(why) = outbound.check_resolved(u).await
        {
            p.add(&format!("secrets.{url_secret}"), why.0);
        }
    }
    p.into_result()?;
    Ok(k)
}

pub fn is_phone(s: &str) -> bool {
    s.strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit()))
}

fn merged_secrets(
    current: BTreeMap<String, String>,
    given: &Option<Map<String, Value>>,
) -> BTreeMap<String, String> {
    let mut out = current;
    for (name, v) in given.iter().flatten() {
        match v.as_str() {
            Some(s) if !s.trim().is_empty() => {
                out.insert(name.clone(), s.trim().to_string());
            }
            _ => {
                out.remove(name);
            }
        }
    }
    out
}

pub async fn create(
    tx: &mut TenantTx,
    actor: &Actor,
    sealer: &Sealer,
    outbound: &Outbound,
    b: &IntegrationBody,
) -> Result<Integration, AppError> {
    let secrets = merged_secrets(BTreeMap::new(), &b.secrets);
    validate(b, outbound, &secrets).await?;
    let sealed = sealer.seal(SEALED_AS, &json!(secrets).to_string());
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO integrations (type, name, description, config, secrets, status)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(&b.kind)
    .bind(b.name.trim())
    .bind(&b.description)
    .bind(json!(b.config.clone().unwrap_or_default()))
    .bind(sealed)
    .bind(b.status.as_deref().unwrap_or("active"))
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, "an integration with this name exists"))?;
    let after = get(tx, sealer, id).await?;
    let changes = diff(None, Some(&after));
    audit::record(tx, actor, "create", "integration", id, changes).await?;
    Ok(after)
}

pub async fn update(
    tx: &mut TenantTx,
    actor: &Actor,
    sealer: &Sealer,
    outbound: &Outbound,
    id: Uuid,
    b: &IntegrationBody,
) -> Result<Integration, AppError> {
    let before = get(tx, sealer, id).await?;
    if b.kind != before.kind {
        return Err(AppError::field(
            "type",
            "cannot change: add a new integration instead",
        ));
    }
    let current = account(tx, sealer, id).await?.ok_or(AppError::NotFound)?;
    let secrets = merged_secrets(current.secrets, &b.secrets);
    validate(b, outbound, &secrets).await?;
    sqlx::query(
        "UPDATE integrations SET name = $2, description = $3, config = $4, secrets = $5,
            status = COALESCE($6, status), updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(b.name.trim())
    .bind(&b.description)
    .bind(json!(b.config.clone().unwrap_or_default()))
    .bind(sealer.seal(SEALED_AS, &json!(secrets).to_string()))
    .bind(&b.status)
    .execute(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, "an integration with this name exists"))?;
    let after = get(tx, sealer, id).await?;
    let mut changes = diff(Some(&before), Some(&after));
    if let Some(names) = &b.secrets {
        // Which secrets changed, never their values.
        changes["secrets"] = json!(names.keys().collect::<Vec<_>>());
    }
    audit::record(tx, actor, "update", "integration", id, changes).await?;
    Ok(after)
}

pub async fn delete(
    tx: &mut TenantTx,
    actor: &Actor,
    sealer: &Sealer,
    id: Uuid,
) -> Result<(), AppError> {
    let before = get(tx, sealer, id).await?;
    sqlx::query("DELETE FROM integrations WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let changes = diff(Some(&before), None);
    audit::record(tx, actor, "delete", "integration", id, changes).await
}

/// Notes how a test went.
pub async fn record_test(
    tx: &mut TenantTx,
    id: Uuid,
    now: DateTime<Utc>,
    error: Option<&str>,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE integrations SET last_test_at = $2, last_test_status = $3, last_error = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .bind(if error.is_some() { "failed" } else { "ok" })
    .bind(error)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
