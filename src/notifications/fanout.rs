//! Who hears about an issue event: its assignee (or, while nobody is assigned, the members of
//! its group), its reporter and its watchers — never the person who caused it, nobody inactive,
//! and nobody who turned that event off. Runs as an outbox subscriber, in the dispatch
//! transaction; each new in-app notification signals its user's open tabs when that commits.

use uuid::Uuid;

use super::store::ISSUE_EVENTS;
use crate::platform::events::{DomainEvent, Subscriber};
use crate::platform::live::{self, Signal};
use crate::platform::mail::{self, Email};
use crate::platform::tenancy::Slug;

pub struct Fanout {
    /// Links in mail point here (`FIRELATER_BASE_URL`).
    pub base_url: String,
}

#[derive(sqlx::FromRow)]
struct Created {
    id: Uuid,
    user_id: Uuid,
    channel: String,
    subject: Option<String>,
    entity_id: Option<Uuid>,
    number: Option<String>,
    title: Option<String>,
    email: Option<String>,
}

impl Fanout {
    /// The mail for an email notification. Every mail about one issue has the same subject
    /// (`[ISS-00042] title`) and names the issue as its thread root, so mail clients show one
    /// conversation per issue.
    fn mail(&self, n: &Created) -> Email {
        let domain = url::Url::parse(&self.base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "firelater.local".into());
        let entity = n.entity_id.unwrap_or_default();
        let what = n.subject.clone().unwrap_or_default();
        let link = format!("{}/issues/{entity}", self.base_url);
        let preferences = format!("{}/profile/notifications", self.base_url);
        let number = n.number.clone().unwrap_or_default();
        let title = n.title.clone().unwrap_or_default();
        Email {
            to: n.email.clone().unwrap_or_default(),
            subject: format!("[{number}] {title}"),
            body_text: format!(
                "{what}\n\nOpen it: {link}\n\n-- \nFireLater. You get this because you take part in \
                 this issue. Choose what you get: {preferences}\n"
            ),
            body_html: Some(format!(
                "<p>{}</p><p><a href=\"{link}\">Open {}</a></p><hr><p style=\"color:#64748b\">FireLater. \
                 You get this because you take part in this issue. \
                 <a href=\"{preferences}\">Choose what you get</a>.</p>",
                escape(&what),
                escape(&number)
            )),
            message_id: Some(format!("<n.{}@{domain}>", n.id)),
            thread: Some(format!("<issue.{entity}@{domain}>")),
            unsubscribe: Some(preferences),
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Subscriber for Fanout {
    fn name(&self) -> &'static str {
        "notifications"
    }

    fn handle<'a>(
        &'a self,
        tx: &'a mut sqlx::PgConnection,
        tenant: &'a Slug,
        event: &'a DomainEvent,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + 'a>> {
        Box::pin(async move {
            let Some(kind) = event.event_type.strip_prefix("issue.") else {
                return Ok(());
            };
            let Some((_, verb)) = ISSUE_EVENTS.iter().find(|(t, _)| *t == kind) else {
                return Ok(());
            };
            if event.entity_type != "issue" {
                return Ok(());
            }
            // Who was responsible when it happened: the event's own snapshot of the issue
            // (timer events carry none, so the current row answers for them).
            let snapshot = &event.payload["issue"];
            let people: (Option<Uuid>, Option<Uuid>, Option<Uuid>) = if snapshot.is_object() {
                let id = |k: &str| snapshot[k].as_str().and_then(|v| v.parse().ok());
                (id("assigned_to"), id("assigned_group"), id("reporter_id"))
            } else {
                sqlx::query_as(
                    "SELECT assigned_to, assigned_group, reporter_id FROM issues WHERE id = $1",
                )
                .bind(event.entity_id)
                .fetch_optional(&mut *tx)
                .await?
                .unwrap_or((None, None, None))
            };
            // One row per recipient and channel they keep on: in-app rows are delivered by
            // being there; email rows are delivered by the mail they queue.
            let created: Vec<Created> = sqlx::query_as(
                "WITH i AS (SELECT id, issue_number, title FROM issues WHERE id = $1 AND deleted_at IS NULL),
                 who AS (
                    SELECT $7::uuid AS u
                    UNION SELECT $9::uuid
                    UNION SELECT w.user_id FROM issue_watchers w WHERE w.issue_id = $1
                    UNION SELECT m.user_id FROM group_members m
                          WHERE m.group_id = $8 AND $7::uuid IS NULL)
                 INSERT INTO notifications (user_id, event_category, event_type, entity_type, entity_id,
                        subject, link, data, channel, status, sent_at, event_id, created_at)
                 SELECT who.u, 'issues', $2, 'issue', i.id,
                        i.issue_number || ' ' || $3 || ': ' || i.title, '/issues/' || i.id,
                        jsonb_build_object('issue_number', i.issue_number, 'title', i.title),
                        c.channel, CASE c.channel WHEN 'in_app' THEN 'sent' ELSE 'pending' END,
                        CASE c.channel WHEN 'in_app' THEN $5::timestamptz END, $4, $5
                 FROM who CROSS JOIN i
                 JOIN users u ON u.id = who.u AND u.status = 'active'
                 CROSS JOIN (VALUES ('in_app'), ('email')) c(channel)
                 WHERE who.u IS DISTINCT FROM $6
                   AND NOT EXISTS (SELECT 1 FROM notification_preferences p
                        WHERE p.user_id = who.u AND p.event_category = 'issues' AND p.event_type = $2
                          AND CASE c.channel WHEN 'in_app' THEN NOT p.in_app_enabled
                                             ELSE NOT COALESCE(p.email_enabled, true) END)
                 ON CONFLICT (event_id, user_id, channel) WHERE event_id IS NOT NULL DO NOTHING
                 RETURNING id, user_id, channel, subject, entity_id,
                           data->>'issue_number' AS number, data->>'title' AS title,
                           (SELECT email FROM users WHERE users.id = user_id) AS email",
            )
            .bind(event.entity_id)
            .bind(kind)
            .bind(verb)
            .bind(event.id)
            .bind(event.occurred_at)
            .bind(event.actor_id)
            .bind(people.0)
            .bind(people.1)
            .bind(people.2)
            .fetch_all(&mut *tx)
            .await?;
            for n in created {
                if n.channel == "email" {
                    let email = self.mail(&n);
                    let mail_id = mail::queue(tx, tenant, email).await?;
                    sqlx::query("UPDATE outbound_emails SET notification_id = $2 WHERE id = $1")
                        .bind(mail_id)
                        .bind(n.id)
                        .execute(&mut *tx)
                        .await?;
                    continue;
                }
                let signal = Signal {
                    tenant: Some(tenant.to_string()),
                    entity: "notification".into(),
                    id: Some(n.id),
                    user: Some(n.user_id),
                };
                live::send(tx, &signal).await?;
            }
            Ok(())
        })
    }
}
