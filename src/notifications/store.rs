//! The in-app inbox (read/unread), per-user preferences per event and channel, and watchers.

use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::platform::audit::{self, Actor};
use crate::platform::error::AppError;
use crate::platform::listing::Problems;
use crate::platform::module::Manifest;
use crate::platform::tenancy::TenantTx;

use super::topics;

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Notification {
    pub id: Uuid,
    pub event_category: String,
    pub event_type: String,
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    pub subject: Option<String>,
    /// What happened, in a sentence or two (the comment's text, who, the new status).
    pub content: Option<String>,
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
        "SELECT id, event_category, event_type, entity_type, entity_id, subject, content, link, read_at, created_at
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
    /// Email about this event waits for one daily digest (08:00 in your zone) instead of going
    /// at once. Default false.
    #[serde(default)]
    pub digest: bool,
    /// A text message to your phone (needs a phone number and an SMS integration). Default false.
    #[serde(default)]
    pub sms: bool,
    /// A Slack direct message (needs your Slack member ID and a Slack integration with a bot
    /// token). Default false.
    #[serde(default)]
    pub slack: bool,
    /// Hold email, SMS and Slack messages for this event during your quiet hours. Default true.
    #[serde(default = "on")]
    pub quiet_hours: bool,
}

fn on() -> bool {
    true
}

/// A period in which messages wait (in-app notifications still arrive).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// 0 = Sunday … 6 = Saturday; none = every day.
    pub day_of_week: Option<i32>,
    /// `22:00`.
    pub start: String,
    /// `07:00`; at or before the start runs past midnight.
    pub end: String,
    /// IANA zone; default: the user's.
    pub timezone: Option<String>,
    /// What still gets through: a priority (`critical`) or an event (`sla_breached`).
    #[serde(default)]
    pub exceptions: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    /// Every event type; one not listed in a PUT keeps its setting.
    pub preferences: Vec<Preference>,
    /// Left out of a PUT: kept. An empty list: none.
    pub quiet_hours: Option<Vec<QuietHours>>,
    /// Where text messages go (E.164, `+15551234567`). Left out of a PUT: kept; "" clears it.
    pub phone: Option<String>,
    /// Your Slack member ID (`U0123ABCD`), for direct messages. Left out: kept; "" clears it.
    pub slack_user_id: Option<String>,
}

pub async fn preferences(
    tx: &mut TenantTx,
    m: &Manifest,
    user: Uuid,
) -> Result<Preferences, AppError> {
    type Row = (String, String, bool, bool, bool, bool, bool, bool);
    // The event types this user changed; the rest have the defaults.
    let set: Vec<Row> = sqlx::query_as(
        "SELECT event_category, event_type, in_app_enabled, COALESCE(email_enabled, true),
                COALESCE(sms_enabled, false), COALESCE(slack_enabled, false),
                COALESCE(quiet_hours, true), COALESCE(digest, false)
         FROM notification_preferences WHERE user_id = $1",
    )
    .bind(user)
    .fetch_all(&mut **tx)
    .await?;
    let quiet = quiet_rows(tx, user).await?;
    let (phone, slack_user_id): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT phone, settings->>'slack_user_id' FROM users WHERE id = $1")
            .bind(user)
            .fetch_optional(&mut **tx)
            .await?
            .unwrap_or_default();
    Ok(Preferences {
        preferences: topics::all(m)
            .iter()
            .map(|k| {
                let (in_app, email, sms, slack, quiet_hours, digest) = set
                    .iter()
                    .find(|r| r.0 == k.category() && r.1 == k.event())
                    .map_or((true, true, false, false, true, false), |r| {
                        (r.2, r.3, r.4, r.5, r.6, r.7)
                    });
                Preference {
                    event_category: k.category().into(),
                    event_type: k.event().into(),
                    in_app,
                    email,
                    sms,
                    slack,
                    quiet_hours,
                    digest,
                }
            })
            .collect(),
        quiet_hours: Some(
            quiet
                .into_iter()
                .map(|q| QuietHours {
                    day_of_week: q.day_of_week,
                    start: q.start_time.format("%H:%M").to_string(),
                    end: q.end_time.format("%H:%M").to_string(),
                    timezone: Some(q.timezone),
                    exceptions: q.exceptions.unwrap_or_default(),
                })
                .collect(),
        ),
        phone,
        slack_user_id,
    })
}

/// A stored quiet period.
#[derive(sqlx::FromRow)]
pub struct QuietRow {
    pub day_of_week: Option<i32>,
    pub start_time: NaiveTime,
    pub end_time: NaiveTime,
    pub timezone: String,
    pub exceptions: Option<Vec<String>>,
}

pub async fn quiet_rows(
    conn: &mut sqlx::PgConnection,
    user: Uuid,
) -> Result<Vec<QuietRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT day_of_week, start_time, end_time, timezone, exceptions FROM user_quiet_hours
         WHERE user_id = $1 ORDER BY day_of_week NULLS FIRST, start_time",
    )
    .bind(user)
    .fetch_all(conn)
    .await
}

fn time_of(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

fn validate(m: &Manifest, body: &Preferences) -> Result<(), AppError> {
    let mut p = Problems::default();
    for (i, pref) in body.preferences.iter().enumerate() {
        let Some(audience) = m
            .audience(&pref.event_category)
            .filter(|a| a.category() == pref.event_category)
        else {
            let categories: Vec<&str> = m.audiences().map(|a| a.category()).collect();
            p.add(
                &format!("preferences[{i}].event_category"),
                format!("must be one of {}", categories.join(", ")),
            );
            continue;
        };
        if audience.topic(&pref.event_type).is_none() {
            let known: Vec<&str> = audience.topics().iter().map(|t| t.event).collect();
            p.add(
                &format!("preferences[{i}].event_type"),
                format!("must be one of {}", known.join(", ")),
            );
        }
    }
    for (i, q) in body.quiet_hours.iter().flatten().enumerate() {
        if q.day_of_week.is_some_and(|d| !(0..=6).contains(&d)) {
            p.add(
                &format!("quiet_hours[{i}].day_of_week"),
                "must be 0 (Sunday) to 6 (Saturday)",
            );
        }
        for (name, v) in [("start", &q.start), ("end", &q.end)] {
            if time_of(v).is_none() {
                p.add(
                    &format!("quiet_hours[{i}].{name}"),
                    "must be a time like 22:00",
                );
            }
        }
        if let Some(z) = &q.timezone
            && z.parse::<chrono_tz::Tz>().is_err()
        {
            p.add(
                &format!("quiet_hours[{i}].timezone"),
                "is not an IANA time zone (e.g. Europe/Berlin)",
            );
        }
        for e in &q.exceptions {
            let known = ["critical", "high", "medium", "low"].contains(&e.as_str())
                || topics::all(m)
                    .iter()
                    .any(|k| k.event() == e || k.name() == *e);
            if !known {
                p.add(
                    &format!("quiet_hours[{i}].exceptions"),
                    format!("'{e}' is neither a priority (critical, high, …) nor an event (sla_breached, …)"),
                );
            }
        }
    }
    if let Some(phone) = body.phone.as_deref().filter(|p| !p.trim().is_empty())
        && !crate::integrations::store::is_phone(phone.trim())
    {
        p.add("phone", "must be in E.164 form (+15551234567)");
    }
    if let Some(id) = body
        .slack_user_id
        .as_deref()
        .filter(|p| !p.trim().is_empty())
        && !id.trim().chars().all(|c| c.is_ascii_alphanumeric())
    {
        p.add(
            "slack_user_id",
            "must be a Slack member ID (letters and digits, e.g. U0123ABCD)",
        );
    }
    p.into_result()
}

pub async fn save_preferences(
    tx: &mut TenantTx,
    m: &Manifest,
    actor: &Actor,
    user: Uuid,
    body: &Preferences,
) -> Result<Preferences, AppError> {
    validate(m, body)?;
    let before = preferences(tx, m, user).await?;
    for pref in &body.preferences {
        sqlx::query(
            "INSERT INTO notification_preferences (user_id, event_category, event_type, in_app_enabled,
                email_enabled, sms_enabled, slack_enabled, quiet_hours, digest, instant)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NOT $9)
             ON CONFLICT (user_id, event_category, event_type)
             DO UPDATE SET in_app_enabled = EXCLUDED.in_app_enabled, email_enabled = EXCLUDED.email_enabled,
                           sms_enabled = EXCLUDED.sms_enabled, slack_enabled = EXCLUDED.slack_enabled,
                           quiet_hours = EXCLUDED.quiet_hours, digest = EXCLUDED.digest,
                           instant = EXCLUDED.instant, updated_at = now()",
        )
        .bind(user)
        .bind(&pref.event_category)
        .bind(&pref.event_type)
        .bind(pref.in_app)
        .bind(pref.email)
        .bind(pref.sms)
        .bind(pref.slack)
        .bind(pref.quiet_hours)
        .bind(pref.digest)
        .execute(&mut **tx)
        .await?;
    }
    if let Some(quiet) = &body.quiet_hours {
        let zone: String =
            sqlx::query_scalar("SELECT COALESCE(timezone, 'UTC') FROM users WHERE id = $1")
                .bind(user)
                .fetch_one(&mut **tx)
                .await?;
        sqlx::query("DELETE FROM user_quiet_hours WHERE user_id = $1")
            .bind(user)
            .execute(&mut **tx)
            .await?;
        for q in quiet {
            sqlx::query(
                "INSERT INTO user_quiet_hours (user_id, day_of_week, start_time, end_time, timezone, exceptions)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(user)
            .bind(q.day_of_week)
            .bind(time_of(&q.start))
            .bind(time_of(&q.end))
            .bind(q.timezone.clone().unwrap_or_else(|| zone.clone()))
            .bind(&q.exceptions)
            .execute(&mut **tx)
            .await?;
        }
    }
    if body.phone.is_some() || body.slack_user_id.is_some() {
        let clean = |v: &Option<String>| v.as_deref().map(|s| s.trim().to_string());
        sqlx::query(
            "UPDATE users SET phone = CASE WHEN $2 THEN NULLIF($3, '') ELSE phone END,
                settings = CASE WHEN $4 THEN jsonb_strip_nulls(COALESCE(settings, '{}')
                    || jsonb_build_object('slack_user_id', NULLIF($5, ''))) ELSE settings END,
                updated_at = now()
             WHERE id = $1",
        )
        .bind(user)
        .bind(body.phone.is_some())
        .bind(clean(&body.phone))
        .bind(body.slack_user_id.is_some())
        .bind(clean(&body.slack_user_id))
        .execute(&mut **tx)
        .await?;
    }
    let after = preferences(tx, m, user).await?;
    let changed: Vec<&Preference> = after
        .preferences
        .iter()
        .filter(|a| !before.preferences.contains(a))
        .collect();
    let mut changes = json!({"changed": changed});
    if before.quiet_hours != after.quiet_hours {
        changes["quiet_hours"] = json!({"old": before.quiet_hours, "new": after.quiet_hours});
    }
    if before.phone != after.phone {
        changes["phone"] = json!("changed");
    }
    if before.slack_user_id != after.slack_user_id {
        changes["slack_user_id"] = json!({"old": before.slack_user_id, "new": after.slack_user_id});
    }
    audit::record(
        tx,
        actor,
        "update",
        "notification_preferences",
        user,
        changes,
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
