//! The in-app inbox (read/unread), per-user preferences per event and channel, and watchers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::platform::audit::{self, Actor};
use crate::platform::error::AppError;
use crate::platform::listing::Problems;
use crate::platform::tenancy::TenantTx;

/// Issue events people can be told about, with how a notification words them.
pub const ISSUE_EVENTS: &[(&str, &str)] = &[
    ("created", "was raised"),
    ("assigned", "was assigned"),
    ("updated", "was updated"),
    ("escalated", "was escalated"),
    ("resolved", "was resolved"),
    ("closed", "was closed"),
    ("sla_warning", "is close to its SLA deadline"),
    ("sla_breached", "breached its SLA"),
];

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Notification {
    pub id: Uuid,
    pub event_category: String,
    pub event_type: String,
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    pub subject: Option<String>,
    /// Where it leads in the app.
    pub link: Option<String>,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub async fn inbox(
    tx: &mut TenantTx,
    user: Uuid,
    unread_only: bool,
) -> Result<Vec<Notification>, AppError> {
    Ok(sqlx::query_as(
        "SELECT id, event_category, event_type, entity_type, entity_id, subject, link, read_at, created_at
         FROM notifications WHERE user_id = $1 AND channel = 'in_app' AND (NOT $2 OR read_at IS NULL)
         ORDER BY created_at DESC LIMIT 100",
    )
    .bind(user)
    .bind(unread_only)
    .fetch_all(&mut **tx)
    .await?)
}

pub async fn unread(tx: &mut TenantTx, user: Uuid) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM notifications WHERE user_id = $1 AND channel = 'in_app' AND read_at IS NULL",
    )
    .bind(user)
    .fetch_one(&mut **tx)
    .await?)
}

/// Marks one of the user's notifications read (another user's id answers 404).
pub async fn mark_read(
    tx: &mut TenantTx,
    user: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let found = sqlx::query(
        "UPDATE notifications SET read_at = COALESCE(read_at, $3)
         WHERE id = $1 AND user_id = $2 AND channel = 'in_app'",
    )
    .bind(id)
    .bind(user)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if found == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

pub async fn mark_all_read(
    tx: &mut TenantTx,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, AppError> {
    Ok(sqlx::query(
        "UPDATE notifications SET read_at = $2
         WHERE user_id = $1 AND channel = 'in_app' AND read_at IS NULL",
    )
    .bind(user)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// One event type's channels for one user.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Preference {
    /// `issues`.
    pub event_category: String,
    /// `created`, `assigned`, `updated`, `escalated`, `resolved`, `closed`, `sla_warning`,
    /// `sla_breached`.
    pub event_type: String,
    pub in_app: bool,
    /// Default true.
    #[serde(default = "on")]
    pub email: bool,
}

fn on() -> bool {
    true
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    /// Every event type; one not listed in a PUT keeps its setting.
    pub preferences: Vec<Preference>,
}

pub async fn preferences(tx: &mut TenantTx, user: Uuid) -> Result<Preferences, AppError> {
    // (event type, in-app, email) for the types this user changed; the rest are on.
    let set: Vec<(String, bool, bool)> = sqlx::query_as(
        "SELECT event_type, in_app_enabled, COALESCE(email_enabled, true) FROM notification_preferences
         WHERE user_id = $1 AND event_category = 'issues'",
    )
    .bind(user)
    .fetch_all(&mut **tx)
    .await?;
    Ok(Preferences {
        preferences: ISSUE_EVENTS
            .iter()
            .map(|(t, _)| {
                let (in_app, email) = set
                    .iter()
                    .find(|(e, _, _)| e == t)
                    .map_or((true, true), |(_, i, e)| (*i, *e));
                Preference {
                    event_category: "issues".into(),
                    event_type: t.to_string(),
                    in_app,
                    email,
                }
            })
            .collect(),
    })
}

pub async fn save_preferences(
    tx: &mut TenantTx,
    actor: &Actor,
    user: Uuid,
    body: &Preferences,
) -> Result<Preferences, AppError> {
    let mut p = Problems::default();
    for (i, pref) in body.preferences.iter().enumerate() {
        if pref.event_category != "issues" {
            p.add(
                &format!("preferences[{i}].event_category"),
                "must be issues (other areas come with their modules)",
            );
        } else if !ISSUE_EVENTS.iter().any(|(t, _)| *t == pref.event_type) {
            let known: Vec<&str> = ISSUE_EVENTS.iter().map(|(t, _)| *t).collect();
            p.add(
                &format!("preferences[{i}].event_type"),
                format!("must be one of {}", known.join(", ")),
            );
        }
    }
    p.into_result()?;
    let before = preferences(tx, user).await?;
    for pref in &body.preferences {
        sqlx::query(
            "INSERT INTO notification_preferences (user_id, event_category, event_type, in_app_enabled, email_enabled)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (user_id, event_category, event_type)
             DO UPDATE SET in_app_enabled = EXCLUDED.in_app_enabled,
                           email_enabled = EXCLUDED.email_enabled, updated_at = now()",
        )
        .bind(user)
        .bind(&pref.event_category)
        .bind(&pref.event_type)
        .bind(pref.in_app)
        .bind(pref.email)
        .execute(&mut **tx)
        .await?;
    }
    let after = preferences(tx, user).await?;
    let changed: Vec<&Preference> = after
        .preferences
        .iter()
        .filter(|a| !before.preferences.contains(a))
        .collect();
    audit::record(
        tx,
        actor,
        "update",
        "notification_preferences",
        user,
        json!({"changed": changed}),
    )
    .await?;
    Ok(after)
}

/// Starts or stops watching an issue (the caller has already checked they may see it).
pub async fn watch(
    tx: &mut TenantTx,
    actor: &Actor,
    issue: Uuid,
    user: Uuid,
    on: bool,
) -> Result<(), AppError> {
    let changed = if on {
        sqlx::query(
            "INSERT INTO issue_watchers (issue_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
    } else {
        sqlx::query("DELETE FROM issue_watchers WHERE issue_id = $1 AND user_id = $2")
    }
    .bind(issue)
    .bind(user)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if changed > 0 {
        let action = if on { "watch" } else { "unwatch" };
        audit::record(tx, actor, action, "issue", issue, json!({"watcher": user})).await?;
    }
    Ok(())
}

pub async fn watching(tx: &mut TenantTx, issue: Uuid, user: Uuid) -> Result<bool, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM issue_watchers WHERE issue_id = $1 AND user_id = $2)",
    )
    .bind(issue)
    .bind(user)
    .fetch_one(&mut **tx)
    .await?)
}
