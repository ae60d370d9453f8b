//! The events people can be told about: every area's `Audience` topics, read from the manifest.

use crate::platform::audience::{Audience, Topic};
use crate::platform::module::Manifest;

/// One notifiable event and the area it belongs to.
#[derive(Clone, Copy)]
pub struct Known {
    pub audience: &'static dyn Audience,
    pub topic: &'static Topic,
}

impl Known {
    /// The event's full name, `issue.created`.
    pub fn name(&self) -> String {
        self.audience.event_name(self.topic)
    }

    pub fn category(&self) -> &'static str {
        self.audience.category()
    }

    pub fn event(&self) -> &'static str {
        self.topic.event
    }
}

pub fn all(m: &Manifest) -> Vec<Known> {
    m.audiences()
        .flat_map(|audience| {
            audience
                .topics()
                .iter()
                .map(move |topic| Known { audience, topic })
        })
        .collect()
}

/// `issue.created`.
pub fn by_name(m: &Manifest, name: &str) -> Option<Known> {
    all(m).into_iter().find(|k| k.name() == name)
}

/// (`issues`, `created`), as preferences and templates store it.
pub fn in_category(m: &Manifest, category: &str, event: &str) -> Option<Known> {
    all(m)
        .into_iter()
        .find(|k| k.category() == category && k.event() == event)
}

/// The full names, for "must be one of …" messages.
pub fn names(m: &Manifest) -> String {
    all(m)
        .iter()
        .map(Known::name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a person's notification may still go out: they can still see the record it is about
/// (an agent taken out of a group stops getting that group's issues, even what was queued).
/// One that may not is withdrawn, with its mail, and the reason kept. Channel messages (no
/// person) always go.
pub async fn still_deliverable(
    conn: &mut sqlx::PgConnection,
    m: &Manifest,
    notification: uuid::Uuid,
) -> anyhow::Result<bool> {
    let row: Option<(Option<uuid::Uuid>, Option<String>, Option<uuid::Uuid>)> =
        sqlx::query_as("SELECT user_id, entity_type, entity_id FROM notifications WHERE id = $1")
            .bind(notification)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((Some(user), Some(entity_type), Some(entity))) = row else {
        return Ok(true);
    };
    let Some(audience) = m.audience(&entity_type) else {
        return Ok(true);
    };
    if !audience.visible(conn, entity, &[user]).await?.is_empty() {
        return Ok(true);
    }
    sqlx::query(
        "WITH n AS (
            UPDATE notifications SET status = 'withdrawn',
                error = 'withdrawn: the person can no longer see what it is about'
            WHERE id = $1 RETURNING id)
         UPDATE outbound_emails SET status = 'withdrawn'
         WHERE notification_id = (SELECT id FROM n) AND status <> 'sent'",
    )
    .bind(notification)
    .execute(&mut *conn)
    .await?;
    Ok(false)
}
