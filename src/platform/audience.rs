//! Who is told about an area's events. An area that wants its events to reach people declares
//! an `Audience` in its module: the events people can be told about (with how a message words
//! them), the fields its templates may use, who takes part in one of its records, and who may
//! still see it. Notifications — the inbox, preferences, quiet hours, digest, channels and
//! templates — read these and work the same for every area.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use uuid::Uuid;

use crate::platform::events::DomainEvent;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An event people can be told about.
#[derive(Clone, Copy, Debug)]
pub struct Topic {
    /// The part after the entity, `created` for `issue.created`.
    pub event: &'static str,
    /// How a message words it: "ISS-00042 was raised".
    pub verb: &'static str,
}

/// A template field an area provides, with a sample value for previews.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    pub sample: &'static str,
}

/// A link in a notification mail: its words and where it goes (a path under the base URL).
#[derive(Clone, Debug)]
pub struct MailLink {
    pub label: String,
    pub path: String,
}

/// One record as an event concerns it.
#[derive(Debug, Default)]
pub struct About {
    /// Who takes part: assignee, group members, requester, watchers, approvers, … The
    /// notifications module drops the actor, inactive people, those who cannot see the record
    /// (`Audience::visible`) and the channels each has switched off.
    pub people: Vec<Uuid>,
    /// `ISS-00042`, `CHG-00007`.
    pub number: String,
    pub title: String,
    /// Where it is in the app (`/issues/{id}`).
    pub path: String,
    /// Decides quiet-hour exceptions, channel minimum priority and PagerDuty severity.
    pub priority: Option<String>,
    /// The group whose notification channels hear about it.
    pub group: Option<Uuid>,
    /// The area's template fields (`Audience::fields`) for this event.
    pub fields: BTreeMap<&'static str, String>,
}

pub trait Audience: Send + Sync {
    /// The entity type of the events it speaks for (`issue`).
    fn entity(&self) -> &'static str;
    /// The preference and template category (`issues`).
    fn category(&self) -> &'static str;
    /// How settings name the category ("Issues").
    fn label(&self) -> &'static str;
    /// One of its records in a sentence: "an issue" (… was raised).
    fn noun(&self) -> &'static str;
    fn topics(&self) -> &'static [Topic];
    /// Fields its templates may use besides the common ones (number, title, event, verb, link,
    /// priority, actor).
    fn fields(&self) -> &'static [Field];
    /// The shipped (subject, body) template for a channel kind (`email`, `chat`, `sms`).
    fn default_template(&self, kind: &str) -> (&'static str, &'static str);
    /// The record as the event saw it; `None` when it is gone (nobody is told).
    fn about<'a>(
        &'a self,
        conn: &'a mut sqlx::PgConnection,
        event: &'a DomainEvent,
    ) -> BoxFuture<'a, anyhow::Result<Option<About>>>;
    /// Those of `people` who may see the record now: asked when a message is created and again
    /// when it is sent, so someone who lost access in between is not told.
    fn visible<'a>(
        &'a self,
        conn: &'a mut sqlx::PgConnection,
        entity: Uuid,
        people: &'a [Uuid],
    ) -> BoxFuture<'a, anyhow::Result<Vec<Uuid>>>;

    /// Links for one person's mail about the event besides "Open it" (an approver's one-click
    /// decision page). They may carry a secret made for that person, so they go in e-mail only.
    fn mail_links<'a>(
        &'a self,
        _conn: &'a mut sqlx::PgConnection,
        _tenant: &'a crate::platform::tenancy::Slug,
        _event: &'a DomainEvent,
        _user: Uuid,
    ) -> BoxFuture<'a, anyhow::Result<Vec<MailLink>>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn topic(&self, event: &str) -> Option<&'static Topic> {
        self.topics().iter().find(|t| t.event == event)
    }

    /// `issue.created` for `created`.
    fn event_name(&self, topic: &Topic) -> String {
        format!("{}.{}", self.entity(), topic.event)
    }
}

/// `EXISTS (…)`: the user `u` holds the permission through one of their roles.
pub fn holds(perm: crate::platform::module::Perm) -> String {
    let (resource, action) = (perm.resource(), perm.action());
    format!(
        "EXISTS (SELECT 1 FROM user_roles ur
                 JOIN role_permissions rp ON rp.role_id = ur.role_id
                 JOIN permissions p ON p.id = rp.permission_id
                 WHERE ur.user_id = u.id AND p.resource = '{resource}' AND p.action = '{action}')"
    )
}
