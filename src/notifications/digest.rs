//! The daily digest: email a person chose to get "in the digest" waits (status `digest`) and
//! goes out as one message at 08:00 in their time zone, listing every update since the last.
//! One keyed job per person, (re)scheduled whenever something is added.

use chrono::{DateTime, NaiveTime, Utc};
use uuid::Uuid;

use std::sync::Arc;

use crate::platform::jobs::{self, JobCtx, JobResult};
use crate::platform::mail::{self, Email};
use crate::platform::module::Manifest;
use crate::platform::tenancy::Slug;

pub const TASK: &str = "notifications.digest";

/// When digests go out, local time.
fn send_time() -> NaiveTime {
    NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default()
}

/// Makes sure the person's next digest is scheduled (at their next 08:00).
pub async fn schedule(
    conn: &mut sqlx::PgConnection,
    tenant: &Slug,
    user: Uuid,
    zone: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let zone: chrono_tz::Tz = zone.parse().unwrap_or(chrono_tz::UTC);
    let at = domain::notify::next_local(&zone, send_time(), now);
    jobs::push(conn, Some(tenant), &Digest { user_id: user }, Some(at)).await?;
    Ok(())
}

/// A person's next digest: one per person, moved to their next 08:00 as updates wait.
#[derive(serde::Serialize, serde::Deserialize)]
struct Digest {
    user_id: Uuid,
}

impl jobs::Job for Digest {
    const TASK: &'static str = TASK;

    fn key(&self) -> Option<String> {
        Some(format!("digest.{}", self.user_id))
    }
}

/// The digest job: one mail with every waiting update, which are then marked sent with it.
pub async fn job(
    mut ctx: JobCtx,
    base_url: String,
    manifest: Arc<Manifest>,
) -> (JobCtx, JobResult) {
    let user = match ctx.job::<Digest>() {
        Ok(digest) => digest.user_id,
        Err(bad) => return (ctx, Err(bad)),
    };
    let result = async {
        let Some(tenant) = ctx.tenant.clone() else {
            return Ok(());
        };
        let waiting: Vec<(Uuid, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT id, subject, link FROM notifications
             WHERE user_id = $1 AND channel = 'email' AND status = 'digest'
             ORDER BY created_at, id LIMIT 500",
        )
        .bind(user)
        .fetch_all(&mut **ctx.tx)
        .await?;
        let to: Option<(String, String)> = sqlx::query_as(
            "SELECT email, status FROM users WHERE id = $1",
        )
        .bind(user)
        .fetch_optional(&mut **ctx.tx)
        .await?;
        let Some((to, status)) = to else { return Ok(()) };
        if status != "active" {
            return Ok(());
        }
        // What the person can no longer see is withdrawn, not listed.
        let mut still = Vec::with_capacity(waiting.len());
        for w in waiting {
            if super::topics::still_deliverable(&mut ctx.tx, &manifest, w.0).await? {
                still.push(w);
            }
        }
        let waiting = still;
        if waiting.is_empty() {
            return Ok(());
        }
        let lines: Vec<String> = waiting
            .iter()
            .map(|(_, subject, link)| {
                format!(
                    "- {}\n  {}{}",
                    subject.as_deref().unwrap_or_default(),
                    base_url,
                    link.as_deref().unwrap_or_default()
                )
            })
            .collect();
        let preferences = format!("{base_url}/profile/notifications");
        let n = waiting.len();
        let email = Email {
            to,
            subject: format!(
                "[FireLater] Daily digest: {n} update{}",
                if n == 1 { "" } else { "s" }
            ),
            body_text: format!(
                "{}\n\n-- \nFireLater. Choose what comes at once and what waits for the digest: {preferences}\n",
                lines.join("\n")
            ),
            unsubscribe: Some(preferences),
            ..Default::default()
        };
        mail::queue(&mut ctx.tx, &tenant, email).await?;
        let ids: Vec<Uuid> = waiting.iter().map(|(id, _, _)| *id).collect();
        sqlx::query(
            "UPDATE notifications SET status = 'sent', sent_at = $2, attempts = 1 WHERE id = ANY($1)",
        )
        .bind(&ids)
        .bind(ctx.clock.now())
        .execute(&mut **ctx.tx)
        .await?;
        Ok(())
    }
    .await
    .map_err(|e: anyhow::Error| jobs::JobError::from(e));
    (ctx, result)
}
