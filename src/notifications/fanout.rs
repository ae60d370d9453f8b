//! Who hears about an issue event, and how. People: its assignee (or, while nobody is assigned,
//! the members of its group), its reporter and its watchers — never the person who caused it,
//! nobody inactive, and only on the channels (in-app, email, SMS, Slack) each keeps on for that
//! event, outside their quiet hours unless the event may break through. Channels: every active
//! notification channel whose events, group and minimum priority cover it.
//!
//! Runs as an outbox subscriber in the dispatch transaction, so every notification row and its
//! delivery job commit with the event being marked dispatched: none lost, none doubled (the
//! rows are unique per event and person/channel).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::notify::{QuietWindow, deliver_at};
use serde_json::Value;
use uuid::Uuid;

use super::store::ISSUE_EVENTS;
use super::templates::{self, Rendered};
use super::{channels, deliver};
use crate::platform::events::{DomainEvent, Subscriber};
use crate::platform::live::{self, Signal};
use crate::platform::mail::{self, Email};
use crate::platform::tenancy::Slug;

pub struct Fanout {
    /// Links in messages point here (`FIRELATER_BASE_URL`).
    pub base_url: String,
}

/// The issue as the event saw it.
#[derive(Default, sqlx::FromRow)]
struct View {
    issue_number: Option<String>,
    title: Option<String>,
    status: Option<String>,
    priority: Option<String>,
    assigned_to: Option<Uuid>,
    assigned_to_name: Option<String>,
    assigned_group: Option<Uuid>,
    assigned_group_name: Option<String>,
    reporter_id: Option<Uuid>,
}

impl View {
    fn of(snapshot: &Value) -> View {
        let s = |k: &str| snapshot[k].as_str().map(str::to_string);
        let id = |k: &str| snapshot[k].as_str().and_then(|v| v.parse().ok());
        View {
            issue_number: s("issue_number"),
            title: s("title"),
            status: s("status"),
            priority: s("priority"),
            assigned_to: id("assigned_to"),
            assigned_to_name: s("assigned_to_name"),
            assigned_group: id("assigned_group"),
            assigned_group_name: s("assigned_group_name"),
            reporter_id: id("reporter_id"),
        }
    }
}

#[derive(sqlx::FromRow)]
struct Created {
    id: Uuid,
    user_id: Uuid,
    channel: String,
    /// `digest`: the email waits for the person's daily digest.
    status: String,
    email: Option<String>,
    timezone: Option<String>,
    /// False: this person lets everything through their quiet hours for this event.
    quiet_hours: bool,
}

/// "status: new → assigned; priority: medium → high" for the fields people care about.
fn changes_text(changes: &Value) -> String {
    const FIELDS: &[(&str, &str)] = &[
        ("status", "status"),
        ("priority", "priority"),
        ("assigned_to_name", "assignee"),
        ("assigned_group_name", "group"),
        ("title", "title"),
    ];
    FIELDS
        .iter()
        .filter_map(|(k, label)| {
            let c = changes.get(*k)?;
            let v = |x: &Value| x.as_str().unwrap_or("none").to_string();
            Some(format!("{label}: {} → {}", v(&c["old"]), v(&c["new"])))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl Fanout {
    fn domain(&self) -> String {
        url::Url::parse(&self.base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "firelater.local".into())
    }

    /// A notification mail: the rendered template, a link, and the headers that make every
    /// mail about one issue one conversation (`Message-ID` of its own, the issue as thread root).
    fn mail(&self, id: Uuid, entity: Uuid, to: String, m: &Rendered) -> Email {
        let domain = self.domain();
        let link = format!("{}/issues/{entity}", self.base_url);
        let preferences = format!("{}/profile/notifications", self.base_url);
        Email {
            to,
            subject: m.subject.clone(),
            body_text: format!(
                "{}\n\nOpen it: {link}\n\n-- \nFireLater. You get this because you take part in \
                 this issue. Choose what you get: {preferences}\n",
                m.body
            ),
            // One source line per body line keeps quoted-printable from splitting the text.
            body_html: Some(format!(
                "<p>\n{}</p>\n<p><a href=\"{link}\">Open it in FireLater</a></p>\n<hr>\n\
                 <p style=\"color:#64748b\">FireLater. You get this because you take part in this issue.\n\
                 <a href=\"{preferences}\">Choose what you get</a>.</p>",
                m.body
                    .lines()
                    .map(|l| format!("{}<br>\n", escape(l)))
                    .collect::<String>()
            )),
            message_id: Some(format!("<n.{id}@{domain}>")),
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

/// When a person's message may go: now, or when their quiet hours end — unless the event
/// breaks through (their exceptions name its priority, e.g. `critical`, or its type).
async fn when_for(
    tx: &mut sqlx::PgConnection,
    user: Uuid,
    kind: &str,
    priority: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<DateTime<Utc>> {
    let rows = super::store::quiet_rows(tx, user).await?;
    let windows: Vec<QuietWindow> =
        rows.into_iter()
            .filter(|q| {
                !q.exceptions.iter().flatten().any(|e| {
                    Some(e.as_str()) == priority || e == kind || *e == format!("issue.{kind}")
                })
            })
            .filter_map(|q| {
                Some(QuietWindow {
                    weekday: q.day_of_week.map(|d| d as u32),
                    start: q.start_time,
                    end: q.end_time,
                    zone: q.timezone.parse().ok()?,
                })
            })
            .collect();
    Ok(deliver_at(&windows, now))
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
            let view = if snapshot.is_object() {
                View::of(snapshot)
            } else {
                sqlx::query_as(
                    "SELECT i.issue_number, i.title, i.status, i.priority, i.assigned_to,
                            u.name AS assigned_to_name, i.assigned_group, g.name AS assigned_group_name,
                            i.reporter_id
                     FROM issues i LEFT JOIN users u ON u.id = i.assigned_to
                     LEFT JOIN groups g ON g.id = i.assigned_group WHERE i.id = $1",
                )
                .bind(event.entity_id)
                .fetch_optional(&mut *tx)
                .await?
                .unwrap_or_default()
            };
            let actor: Option<String> = match event.actor_id {
                Some(a) => {
                    sqlx::query_scalar("SELECT name FROM users WHERE id = $1")
                        .bind(a)
                        .fetch_optional(&mut *tx)
                        .await?
                }
                None => None,
            };
            let link = format!("/issues/{}", event.entity_id);
            let none = || "—".to_string();
            let vars: BTreeMap<&str, String> = BTreeMap::from([
                ("number", view.issue_number.clone().unwrap_or_default()),
                ("title", view.title.clone().unwrap_or_default()),
                ("event", event.event_type.clone()),
                ("verb", verb.to_string()),
                ("link", format!("{}{link}", self.base_url)),
                ("priority", view.priority.clone().unwrap_or_else(none)),
                ("status", view.status.clone().unwrap_or_else(none)),
                ("actor", actor.unwrap_or_else(|| "FireLater".into())),
                (
                    "group",
                    view.assigned_group_name.clone().unwrap_or_else(none),
                ),
                (
                    "assignee",
                    view.assigned_to_name.clone().unwrap_or_else(none),
                ),
                ("changes", changes_text(&event.payload["changes"])),
            ]);
            let (sms_on, slack_on): (bool, bool) = sqlx::query_as(
                "SELECT bool_or(type = 'sms') IS TRUE, bool_or(type = 'slack') IS TRUE
                 FROM integrations WHERE COALESCE(status, 'active') = 'active'",
            )
            .fetch_one(&mut *tx)
            .await?;
            let data = serde_json::json!({
                "issue_number": view.issue_number, "title": view.title, "priority": view.priority,
            });
            // One row per recipient and channel they keep on: in-app rows are delivered by
            // being there; the others by the mail or delivery job they queue.
            let created: Vec<Created> = sqlx::query_as(
                "WITH who AS (
                    SELECT $7::uuid AS u
                    UNION SELECT $9::uuid
                    UNION SELECT w.user_id FROM issue_watchers w WHERE w.issue_id = $1
                    UNION SELECT m.user_id FROM group_members m
                          WHERE m.group_id = $8 AND $7::uuid IS NULL)
                 INSERT INTO notifications (user_id, event_category, event_type, entity_type, entity_id,
                        subject, link, data, channel, status, sent_at, event_id, created_at)
                 SELECT who.u, 'issues', $2, 'issue', $1, $3, $12, $13,
                        c.channel,
                        CASE WHEN c.channel = 'in_app' THEN 'sent'
                             WHEN c.channel = 'email' AND COALESCE(p.digest, false) THEN 'digest'
                             ELSE 'pending' END,
                        CASE c.channel WHEN 'in_app' THEN $5::timestamptz END, $4, $5
                 FROM who
                 JOIN users u ON u.id = who.u AND u.status = 'active'
                 CROSS JOIN (VALUES ('in_app'), ('email'), ('sms'), ('slack')) c(channel)
                 LEFT JOIN notification_preferences p ON p.user_id = who.u
                      AND p.event_category = 'issues' AND p.event_type = $2
                 WHERE who.u IS DISTINCT FROM $6
                   AND EXISTS (SELECT 1 FROM issues WHERE id = $1 AND deleted_at IS NULL)
                   AND CASE c.channel
                        WHEN 'in_app' THEN COALESCE(p.in_app_enabled, true)
                        WHEN 'email' THEN COALESCE(p.email_enabled, true)
                        WHEN 'sms' THEN COALESCE(p.sms_enabled, false) AND $10 AND COALESCE(u.phone, '') <> ''
                        ELSE COALESCE(p.slack_enabled, false) AND $11
                             AND COALESCE(u.settings->>'slack_user_id', '') <> '' END
                 ON CONFLICT (event_id, user_id, channel) WHERE event_id IS NOT NULL DO NOTHING
                 RETURNING id, user_id, channel, status,
                           (SELECT email FROM users WHERE users.id = user_id) AS email,
                           (SELECT timezone FROM users WHERE users.id = user_id) AS timezone,
                           COALESCE((SELECT p.quiet_hours FROM notification_preferences p
                                     WHERE p.user_id = notifications.user_id AND p.event_category = 'issues'
                                       AND p.event_type = $2), true) AS quiet_hours",
            )
            .bind(event.entity_id)
            .bind(kind)
            .bind(format!(
                "{} {verb}: {}",
                view.issue_number.clone().unwrap_or_default(),
                view.title.clone().unwrap_or_default()
            ))
            .bind(event.id)
            .bind(event.occurred_at)
            .bind(event.actor_id)
            .bind(view.assigned_to)
            .bind(view.assigned_group)
            .bind(view.reporter_id)
            .bind(sms_on)
            .bind(slack_on)
            .bind(&link)
            .bind(&data)
            .fetch_all(&mut *tx)
            .await?;
            // Quiet hours are judged at the moment of the event.
            let now = event.occurred_at;
            let mut rendered = Messages::default();
            for n in created {
                if n.channel == "in_app" {
                    let signal = Signal {
                        tenant: Some(tenant.to_string()),
                        entity: "notification".into(),
                        id: Some(n.id),
                        user: Some(n.user_id),
                    };
                    live::send(tx, &signal).await?;
                    continue;
                }
                if n.status == "digest" {
                    let zone = n.timezone.as_deref().unwrap_or("UTC");
                    super::digest::schedule(tx, tenant, n.user_id, zone, now).await?;
                    continue;
                }
                let at = if n.quiet_hours {
                    when_for(tx, n.user_id, kind, view.priority.as_deref(), now).await?
                } else {
                    now
                };
                let later = (at > now).then_some(at);
                let m = rendered.get(tx, kind, &n.channel, &vars).await?;
                self.route(
                    tx,
                    tenant,
                    n.id,
                    &n.channel,
                    n.email,
                    event.entity_id,
                    m,
                    later,
                )
                .await?;
            }
            // The channels that want this event: a row each, then its delivery.
            let targets = channels::matching(
                tx,
                &event.event_type,
                view.assigned_group,
                view.priority.as_deref(),
            )
            .await?;
            for c in targets {
                let id: Option<Uuid> = sqlx::query_scalar(
                    "INSERT INTO notifications (channel_id, integration_id, event_category, event_type,
                        entity_type, entity_id, subject, link, data, channel, status, event_id, created_at)
                     VALUES ($1, $2, 'issues', $3, 'issue', $4, $5, $6, $7, $8, 'pending', $9, $10)
                     ON CONFLICT (event_id, channel_id) WHERE event_id IS NOT NULL AND channel_id IS NOT NULL
                     DO NOTHING RETURNING id",
                )
                .bind(c.id)
                .bind(c.integration_id)
                .bind(kind)
                .bind(event.entity_id)
                .bind(vars["title"].clone())
                .bind(&link)
                .bind(&data)
                .bind(&c.integration_type)
                .bind(event.id)
                .bind(event.occurred_at)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(id) = id else { continue };
                let m = rendered.get(tx, kind, &c.integration_type, &vars).await?;
                self.route(
                    tx,
                    tenant,
                    id,
                    &c.integration_type,
                    c.target,
                    event.entity_id,
                    m,
                    None,
                )
                .await?;
            }
            Ok(())
        })
    }
}

/// The event's message per template kind, rendered once however many recipients share it.
#[derive(Default)]
struct Messages(std::collections::HashMap<&'static str, Rendered>);

impl Messages {
    async fn get(
        &mut self,
        tx: &mut sqlx::PgConnection,
        event_type: &str,
        channel: &str,
        vars: &BTreeMap<&str, String>,
    ) -> anyhow::Result<&Rendered> {
        let kind = templates::kind_of(channel);
        if !self.0.contains_key(kind) {
            let m = templates::message(tx, event_type, kind, vars).await?;
            self.0.insert(kind, m);
        }
        Ok(&self.0[kind])
    }
}

impl Fanout {
    /// Stores the rendered message on the row and queues its delivery: mail for email, the
    /// delivery job for everything else.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site per kind of recipient"
    )]
    async fn route(
        &self,
        tx: &mut sqlx::PgConnection,
        tenant: &Slug,
        id: Uuid,
        channel: &str,
        address: Option<String>,
        entity: Uuid,
        m: &Rendered,
        later: Option<DateTime<Utc>>,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE notifications SET subject = COALESCE(NULLIF($2, ''), subject), content = $3,
                template_error = $4, scheduled_at = COALESCE($5, scheduled_at) WHERE id = $1",
        )
        .bind(id)
        .bind(&m.subject)
        .bind(&m.body)
        .bind(&m.error)
        .bind(later)
        .execute(&mut *tx)
        .await?;
        if channel == "email" {
            let to = address.unwrap_or_default();
            let mail_id = mail::queue_at(tx, tenant, self.mail(id, entity, to, m), later).await?;
            sqlx::query("UPDATE outbound_emails SET notification_id = $2 WHERE id = $1")
                .bind(mail_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        } else {
            deliver::enqueue(tx, tenant, id, later).await?;
        }
        Ok(())
    }
}
