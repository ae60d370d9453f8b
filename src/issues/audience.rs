//! Who hears about an issue: its assignee (or, while nobody is assigned, the members of its
//! group), its reporter and its watchers — each only while they may still see the issue.

use std::collections::BTreeMap;

use serde_json::Value;
use uuid::Uuid;

use crate::platform::audience::{About, Audience, BoxFuture, Field, Topic, holds};
use crate::platform::events::DomainEvent;

pub struct Issues;

const TOPICS: &[Topic] = &[
    Topic {
        event: "created",
        verb: "was raised",
    },
    Topic {
        event: "assigned",
        verb: "was assigned",
    },
    Topic {
        event: "updated",
        verb: "was updated",
    },
    Topic {
        event: "escalated",
        verb: "was escalated",
    },
    Topic {
        event: "resolved",
        verb: "was resolved",
    },
    Topic {
        event: "closed",
        verb: "was closed",
    },
    Topic {
        event: "sla_warning",
        verb: "is close to its SLA deadline",
    },
    Topic {
        event: "sla_breached",
        verb: "breached its SLA",
    },
];

const FIELDS: &[Field] = &[
    Field {
        name: "status",
        sample: "assigned",
    },
    Field {
        name: "group",
        sample: "Service Desk",
    },
    Field {
        name: "assignee",
        sample: "Alex Agent",
    },
    Field {
        name: "changes",
        sample: "status: new → assigned",
    },
    Field {
        name: "comment",
        sample: "Power-cycled the printer; it prints again.",
    },
];

/// An issue's watchers, its group's members and (for events without a snapshot) the issue now.
type Taking = (
    Option<Vec<Uuid>>,
    Option<Vec<Uuid>>,
    Option<sqlx::types::Json<Value>>,
);

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

impl Audience for Issues {
    fn entity(&self) -> &'static str {
        "issue"
    }

    fn category(&self) -> &'static str {
        "issues"
    }

    fn label(&self) -> &'static str {
        "Issues"
    }

    fn noun(&self) -> &'static str {
        "an issue"
    }

    fn topics(&self) -> &'static [Topic] {
        TOPICS
    }

    fn fields(&self) -> &'static [Field] {
        FIELDS
    }

    fn default_template(&self, kind: &str) -> (&'static str, &'static str) {
        match kind {
            "email" => (
                "[{{number}}] {{title}}",
                "{{number}} {{verb}} by {{actor}}: {{title}}\n\n{{comment}}\n\nStatus: {{status}} · Priority: {{priority}}\nGroup: {{group}} · Assignee: {{assignee}}\n{{changes}}",
            ),
            "sms" => ("", "{{number}} {{verb}} ({{priority}}): {{title}}"),
            _ => (
                "{{number}} {{verb}}: {{title}}",
                "By {{actor}}. {{comment}} Status {{status}} · priority {{priority}} · assignee {{assignee}}",
            ),
        }
    }

    fn about<'a>(
        &'a self,
        conn: &'a mut sqlx::PgConnection,
        event: &'a DomainEvent,
    ) -> BoxFuture<'a, anyhow::Result<Option<About>>> {
        Box::pin(async move {
            // Who was responsible when it happened: the event's own snapshot of the issue
            // (timer events carry none, so the current row answers for them). The watchers
            // and group members come with the issue's being there, in one statement.
            let snapshot = &event.payload["issue"];
            let row: Option<Taking> = sqlx::query_as(
                    "SELECT (SELECT array_agg(w.user_id) FROM issue_watchers w WHERE w.issue_id = i.id),
                            (SELECT array_agg(m.user_id) FROM group_members m
                             WHERE m.group_id = CASE WHEN $3 THEN i.assigned_group ELSE $2 END),
                            CASE WHEN $3 THEN json_build_object(
                                'issue_number', i.issue_number, 'title', i.title, 'status', i.status,
                                'priority', i.priority, 'assigned_to', i.assigned_to,
                                'assigned_to_name', u.name, 'assigned_group', i.assigned_group,
                                'assigned_group_name', g.name, 'reporter_id', i.reporter_id)::jsonb END
                     FROM issues i LEFT JOIN users u ON u.id = i.assigned_to
                     LEFT JOIN groups g ON g.id = i.assigned_group
                     WHERE i.id = $1 AND i.deleted_at IS NULL",
                )
                .bind(event.entity_id)
                .bind(
                    snapshot["assigned_group"]
                        .as_str()
                        .and_then(|g| g.parse::<Uuid>().ok()),
                )
                .bind(!snapshot.is_object())
                .fetch_optional(&mut *conn)
                .await?;
            let Some((watchers, members, current)) = row else {
                return Ok(None);
            };
            let view = match &current {
                Some(c) => View::of(&c.0),
                None => View::of(snapshot),
            };
            let mut people: Vec<Uuid> = [view.assigned_to, view.reporter_id]
                .into_iter()
                .flatten()
                .chain(watchers.unwrap_or_default())
                .collect();
            // The group hears only while nobody is assigned.
            if view.assigned_to.is_none() && view.assigned_group.is_some() {
                people.extend(members.unwrap_or_default());
            }
            people.sort();
            people.dedup();
            // An internal note is for those who work on the issue: a requester who reported or
            // watches it is not told that one was written.
            let detail = &event.payload["detail"];
            if detail["is_internal"] == Value::Bool(true) && !people.is_empty() {
                let sql = format!(
                    "SELECT u.id FROM users u WHERE u.id = ANY($1) AND {}",
                    holds(super::perm::ISSUES_UPDATE)
                );
                people = sqlx::query_scalar(&sql)
                    .bind(&people)
                    .fetch_all(&mut *conn)
                    .await?;
            }
            let none = || "—".to_string();
            Ok(Some(About {
                people,
                number: view.issue_number.clone().unwrap_or_default(),
                title: view.title.clone().unwrap_or_default(),
                path: format!("/issues/{}", event.entity_id),
                priority: view.priority.clone(),
                group: view.assigned_group,
                fields: BTreeMap::from([
                    ("status", view.status.clone().unwrap_or_else(none)),
                    (
                        "group",
                        view.assigned_group_name.clone().unwrap_or_else(none),
                    ),
                    (
                        "assignee",
                        view.assigned_to_name.clone().unwrap_or_else(none),
                    ),
                    ("changes", changes_text(&event.payload["changes"])),
                    (
                        "comment",
                        detail["comment"].as_str().unwrap_or_default().to_string(),
                    ),
                ]),
            }))
        })
    }

    fn visible<'a>(
        &'a self,
        conn: &'a mut sqlx::PgConnection,
        entity: Uuid,
        people: &'a [Uuid],
    ) -> BoxFuture<'a, anyhow::Result<Vec<Uuid>>> {
        Box::pin(async move {
            if people.is_empty() {
                return Ok(Vec::new());
            }
            // The rules of `store::Scope`, for many people at once: everything with
            // `issues:read_all`; with `issues:update`, unassigned issues, their groups' and
            // their own; otherwise what they reported.
            let sql = format!(
                "SELECT u.id FROM users u JOIN issues i ON i.id = $1 AND i.deleted_at IS NULL
                 WHERE u.id = ANY($2) AND u.status = 'active' AND {read}
                   AND (i.reporter_id = u.id OR {all}
                        OR ({update} AND (i.assigned_group IS NULL OR i.assigned_to = u.id
                            OR EXISTS (SELECT 1 FROM group_members m
                                       WHERE m.group_id = i.assigned_group AND m.user_id = u.id))))",
                read = holds(super::perm::ISSUES_READ),
                all = holds(super::perm::ISSUES_READ_ALL),
                update = holds(super::perm::ISSUES_UPDATE),
            );
            Ok(sqlx::query_scalar(&sql)
                .bind(entity)
                .bind(people)
                .fetch_all(&mut *conn)
                .await?)
        })
    }
}
