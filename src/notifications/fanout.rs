//! Who hears about an event, and how. People: those the area's `Audience` names for the record
//! (for an issue its assignee or group, reporter and watchers) who may still see it — never the
//! person who caused it, nobody inactive, and only on the channels (in-app, email, SMS, Slack)
//! each keeps on for that event, outside their quiet hours unless the event may break through.
//! Channels: every active notification channel whose events, group and minimum priority cover it.
//!
//! Runs as an outbox subscriber in the dispatch transaction, so every notification row and its
//! delivery job commit with the event being marked dispatched: none lost, none doubled (the
//! rows are unique per event and person/channel).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::notify::{QuietWindow, deliver_at};
use uuid::Uuid;

use super::templates::{self, Rendered};
use super::{channels, deliver};
use crate::platform::audience::{Audience, MailLink};
use crate::platform::events::{DomainEvent, Subscriber};
use crate::platform::live::{self, Signal};
use crate::platform::mail::{self, Email};
use crate::platform::module::Manifest;
use crate::platform::tenancy::Slug;

pub struct Fanout {
    /// Links in messages point here (`FIRELATER_BASE_URL`).
    pub base_url: String,
    /// Where each area's audience is found.
    pub manifest: Arc<Manifest>,
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

impl Fanout {
    fn domain(&self) -> String {
        url::Url::parse(&self.base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "firelater.local".into())
    }

    /// A notification mail: the rendered template, a link, and the headers that make every
    /// mail about one record one conversation (`Message-ID` of its own, the record as thread
    /// root).
    fn mail(
        &self,
        id: Uuid,
        to: String,
        m: &Rendered,
        about: &Subject,
        links: &[MailLink],
    ) -> Email {
        let domain = self.domain();
        let link = format!("{}{}", self.base_url, about.path);
        let number = &about.number;
        let preferences = format!("{}/profile/notifications", self.base_url);
        let (mut extra_text, mut extra_html) = (String::new(), String::new());
        for l in links {
            let url = format!("{}{}", self.base_url, l.path);
            extra_text.push_str(&format!("{}: {url}\n", l.label));
            extra_html.push_str(&format!(
                "<p><a href=\"{}\">{}</a></p>\n",
                escape(&url),
                escape(&l.label)
            ));
        }
        Email {
            to,
            subject: m.subject.clone(),
            body_text: format!(
                "{}\n\n{extra_text}Open it: {link}\n\n-- \nFireLater. You get this because you take part in \
                 {number}. Choose what you get: {preferences}\n",
                m.body
            ),
            // One source line per body line keeps quoted-printable from splitting the text.
            body_html: Some(format!(
                "<p>\n{}</p>\n{extra_html}<p><a href=\"{link}\">Open it in FireLater</a></p>\n<hr>\n\
                 <p style=\"color:#64748b\">FireLater. You get this because you take part in {}.\n\
                 <a href=\"{preferences}\">Choose what you get</a>.</p>",
                m.body
                    .lines()
                    .map(|l| format!("{}<br>\n", escape(l)))
                    .collect::<String>(),
                escape(number)
            )),
            message_id: Some(format!("<n.{id}@{domain}>")),
            thread: Some(format!("<{}.{}@{domain}>", about.entity, about.id)),
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

/// The record a message is about, as mail threading and links need it.
struct Subject {
    entity: &'static str,
    id: Uuid,
    number: String,
    path: String,
}

/// When a person's message may go: now, or when their quiet hours end — unless the event
/// breaks through (their exceptions name its priority, e.g. `critical`, or the event, as
/// `sla_breached` or `issue.sla_breached`).
async fn when_for(
    tx: &mut sqlx::PgConnection,
    user: Uuid,
    event: (&str, &str),
    priority: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<DateTime<Utc>> {
    let (short, full) = event;
    let rows = super::store::quiet_rows(tx, user).await?;
    let windows: Vec<QuietWindow> = rows
        .into_iter()
        .filter(|q| {
            !q.exceptions
                .iter()
                .flatten()
                .any(|e| Some(e.as_str()) == priority || e == short || e == full)
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
            let Some(audience) = self.manifest.audience(&event.entity_type) else {
                return Ok(());
            };
            let topic = event
                .event_type
                .strip_prefix(audience.entity())
                .and_then(|rest| rest.strip_prefix('.'))
                .and_then(|e| audience.topic(e));
            let Some(topic) = topic else { return Ok(()) };
            let Some(about) = audience.about(tx, event).await? else {
                return Ok(());
            };
            self.tell(tx, tenant, event, audience, topic.event, topic.verb, about)
                .await
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
        audience: &dyn Audience,
        event: &str,
        channel: &str,
        vars: &BTreeMap<&str, String>,
    ) -> anyhow::Result<&Rendered> {
        let kind = templates::kind_of(channel);
        if !self.0.contains_key(kind) {
            let m = templates::message(tx, audience, event, kind, vars).await?;
            self.0.insert(kind, m);
        }
        Ok(&self.0[kind])
    }
}

impl Fanout {
    /// Writes the event's notifications — a row per person and channel they keep on, a row
    /// per notification channel that wants it — and queues each delivery.
    #[expect(
        clippy::too_many_arguments,
        reason = "the event, and what the audience said about it"
    )]
    async fn tell(
        &self,
        tx: &mut sqlx::PgConnection,
        tenant: &Slug,
        event: &DomainEvent,
        audience: &dyn Audience,
        kind: &str,
        verb: &str,
        about: crate::platform::audience::About,
    ) -> anyhow::Result<()> {
        let people: Vec<Uuid> = about
            .people
            .iter()
            .copied()
            .filter(|p| Some(*p) != event.actor_id)
            .collect();
        let people = audience.visible(tx, event.entity_id, &people).await?;
        let (actor, sms_on, slack_on): (Option<String>, bool, bool) = sqlx::query_as(
            "SELECT (SELECT name FROM users WHERE id = $1),
                    bool_or(type = 'sms') IS TRUE, bool_or(type = 'slack') IS TRUE
             FROM integrations WHERE COALESCE(status, 'active') = 'active'",
        )
        .bind(event.actor_id)
        .fetch_one(&mut *tx)
        .await?;
        let category = audience.category();
        let none = || "—".to_string();
        let mut vars: BTreeMap<&str, String> = BTreeMap::from([
            ("number", about.number.clone()),
            ("title", about.title.clone()),
            ("event", event.event_type.clone()),
            ("verb", verb.to_string()),
            ("link", format!("{}{}", self.base_url, about.path)),
            ("priority", about.priority.clone().unwrap_or_else(none)),
            ("actor", actor.unwrap_or_else(|| "FireLater".into())),
        ]);
        vars.extend(about.fields.iter().map(|(k, v)| (*k, v.clone())));
        // `issue_number` beside `number`: what receivers of an area's events already key on.
        let mut data = serde_json::json!({
            "number": about.number, "title": about.title, "priority": about.priority,
        });
        data[format!("{}_number", audience.entity())] = about.number.clone().into();
        let subject = Subject {
            entity: audience.entity(),
            id: event.entity_id,
            number: about.number.clone(),
            path: about.path.clone(),
        };
        // In the app a notification says what happened (the comment, who, the new status) in
        // the words of the chat template, as the other channels do.
        let mut rendered = Messages::default();
        let in_app = rendered
            .get(tx, audience, kind, "in_app", &vars)
            .await?
            .body
            .clone();
        // One row per recipient and channel they keep on: in-app rows are delivered by being
        // there; the others by the mail or delivery job they queue.
        let created: Vec<Created> = sqlx::query_as(
            "INSERT INTO notifications (user_id, event_category, event_type, entity_type, entity_id,
                    subject, link, data, channel, status, sent_at, event_id, created_at, content)
             SELECT u.id, $11, $2, $12, $1, $3, $9, $10,
                    c.channel,
                    CASE WHEN c.channel = 'in_app' THEN 'sent'
                         WHEN c.channel = 'email' AND COALESCE(p.digest, false) THEN 'digest'
                         ELSE 'pending' END,
                    CASE c.channel WHEN 'in_app' THEN $5::timestamptz END, $4, $5,
                    CASE c.channel WHEN 'in_app' THEN $13 END
             FROM users u
             CROSS JOIN (VALUES ('in_app'), ('email'), ('sms'), ('slack')) c(channel)
             LEFT JOIN notification_preferences p ON p.user_id = u.id
                  AND p.event_category = $11 AND p.event_type = $2
             WHERE u.id = ANY($6) AND u.status = 'active'
               AND CASE c.channel
                    WHEN 'in_app' THEN COALESCE(p.in_app_enabled, true)
                    WHEN 'email' THEN COALESCE(p.email_enabled, true)
                    WHEN 'sms' THEN COALESCE(p.sms_enabled, false) AND $7 AND COALESCE(u.phone, '') <> ''
                    ELSE COALESCE(p.slack_enabled, false) AND $8
                         AND COALESCE(u.settings->>'slack_user_id', '') <> '' END
             ON CONFLICT (event_id, user_id, channel) WHERE event_id IS NOT NULL DO NOTHING
             RETURNING id, user_id, channel, status,
                       (SELECT email FROM users WHERE users.id = user_id) AS email,
                       (SELECT timezone FROM users WHERE users.id = user_id) AS timezone,
                       COALESCE((SELECT p.quiet_hours FROM notification_preferences p
                                 WHERE p.user_id = notifications.user_id AND p.event_category = $11
                                   AND p.event_type = $2), true) AS quiet_hours",
        )
        .bind(event.entity_id)
        .bind(kind)
        .bind(format!("{} {verb}: {}", about.number, about.title))
        .bind(event.id)
        .bind(event.occurred_at)
        .bind(&people)
        .bind(sms_on)
        .bind(slack_on)
        .bind(&about.path)
        .bind(&data)
        .bind(category)
        .bind(audience.entity())
        .bind(&in_app)
        .fetch_all(&mut *tx)
        .await?;
        // Quiet hours are judged at the moment of the event.
        let now = event.occurred_at;
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
                let names = (kind, event.event_type.as_str());
                when_for(tx, n.user_id, names, about.priority.as_deref(), now).await?
            } else {
                now
            };
            let later = (at > now).then_some(at);
            let m = rendered.get(tx, audience, kind, &n.channel, &vars).await?;
            let links = if n.channel == "email" {
                audience.mail_links(tx, tenant, event, n.user_id).await?
            } else {
                Vec::new()
            };
            let delivery = Delivery {
                id: n.id,
                channel: &n.channel,
                address: n.email,
                later,
            };
            self.route(tx, tenant, delivery, m, &subject, &links)
                .await?;
        }
        // The channels that want this event: a row each, then its delivery.
        let targets = channels::matching(
            tx,
            &event.event_type,
            about.group,
            about.priority.as_deref(),
        )
        .await?;
        for c in targets {
            let id: Option<Uuid> = sqlx::query_scalar(
                "INSERT INTO notifications (channel_id, integration_id, event_category, event_type,
                    entity_type, entity_id, subject, link, data, channel, status, event_id, created_at)
                 VALUES ($1, $2, $11, $3, $12, $4, $5, $6, $7, $8, 'pending', $9, $10)
                 ON CONFLICT (event_id, channel_id) WHERE event_id IS NOT NULL AND channel_id IS NOT NULL
                 DO NOTHING RETURNING id",
            )
            .bind(c.id)
            .bind(c.integration_id)
            .bind(kind)
            .bind(event.entity_id)
            .bind(&about.title)
            .bind(&about.path)
            .bind(&data)
            .bind(&c.integration_type)
            .bind(event.id)
            .bind(event.occurred_at)
            .bind(category)
            .bind(audience.entity())
            .fetch_optional(&mut *tx)
            .await?;
            let Some(id) = id else { continue };
            let m = rendered
                .get(tx, audience, kind, &c.integration_type, &vars)
                .await?;
            let delivery = Delivery {
                id,
                channel: &c.integration_type,
                address: c.target,
                later: None,
            };
            self.route(tx, tenant, delivery, m, &subject, &[]).await?;
        }
        Ok(())
    }

    /// Stores the rendered message on the row and queues its delivery: mail for email, the
    /// delivery job for everything else.
    async fn route(
        &self,
        tx: &mut sqlx::PgConnection,
        tenant: &Slug,
        d: Delivery<'_>,
        m: &Rendered,
        subject: &Subject,
        links: &[MailLink],
    ) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE notifications SET subject = COALESCE(NULLIF($2, ''), subject), content = $3,
                template_error = $4, scheduled_at = COALESCE($5, scheduled_at) WHERE id = $1",
        )
        .bind(d.id)
        .bind(&m.subject)
        .bind(&m.body)
        .bind(&m.error)
        .bind(d.later)
        .execute(&mut *tx)
        .await?;
        if d.channel == "email" {
            let to = d.address.unwrap_or_default();
            let mail = self.mail(d.id, to, m, subject, links);
            let mail_id = mail::queue_at(tx, tenant, mail, d.later).await?;
            sqlx::query("UPDATE outbound_emails SET notification_id = $2 WHERE id = $1")
                .bind(mail_id)
                .bind(d.id)
                .execute(&mut *tx)
                .await?;
        } else {
            deliver::enqueue(tx, tenant, d.id, d.later).await?;
        }
        Ok(())
    }
}

/// One notification row on its way out.
struct Delivery<'a> {
    id: Uuid,
    channel: &'a str,
    /// The email address or the channel's target.
    address: Option<String>,
    /// The end of the person's quiet hours.
    later: Option<DateTime<Utc>>,
}
