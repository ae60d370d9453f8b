//! Who hears about an issue event: its assignee (or, while nobody is assigned, the members of
//! its group), its reporter and its watchers — never the person who caused it, nobody inactive,
//! and nobody who turned that event off. Runs as an outbox subscriber, in the dispatch
//! transaction; each new in-app notification signals its user's open tabs when that commits.

use uuid::Uuid;

use super::store::ISSUE_EVENTS;
use crate::platform::events::{DomainEvent, Subscriber};
use crate::platform::live::{self, Signal};
use crate::platform::tenancy::Slug;

pub struct Fanout;

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
            let created: Vec<(Uuid, Uuid)> = sqlx::query_as(
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
                        'in_app', 'sent', $5, $4, $5
                 FROM who CROSS JOIN i JOIN users u ON u.id = who.u AND u.status = 'active'
                 WHERE who.u IS DISTINCT FROM $6
                   AND NOT EXISTS (SELECT 1 FROM notification_preferences p
                        WHERE p.user_id = who.u AND p.event_category = 'issues'
                          AND p.event_type = $2 AND NOT p.in_app_enabled)
                 ON CONFLICT (event_id, user_id, channel) WHERE event_id IS NOT NULL DO NOTHING
                 RETURNING id, user_id",
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
            for (id, user) in created {
                let signal = Signal {
                    tenant: Some(tenant.to_string()),
                    entity: "notification".into(),
                    id: Some(id),
                    user: Some(user),
                };
                live::send(tx, &signal).await?;
            }
            Ok(())
        })
    }
}
