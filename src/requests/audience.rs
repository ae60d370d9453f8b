//! Who hears about a request: the approvers of the step now deciding when it waits for them;
//! the requester and the person it is for when it is approved, rejected or completed; the
//! people who fulfil it (its assignee, else its group) when there is work to do.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::platform::audience::{About, Audience, BoxFuture, Field, Topic, holds};
use crate::platform::events::DomainEvent;

pub struct Requests;

const TOPICS: &[Topic] = &[
    Topic {
        event: "created",
        verb: "was requested",
    },
    Topic {
        event: "submitted",
        verb: "waits for approval",
    },
    Topic {
        event: "approved",
        verb: "was approved",
    },
    Topic {
        event: "rejected",
        verb: "was rejected",
    },
    Topic {
        event: "completed",
        verb: "was completed",
    },
    Topic {
        event: "approval_reminder",
        verb: "still waits for your approval",
    },
    Topic {
        event: "task_ready",
        verb: "has a fulfilment task ready",
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
        sample: "pending_approval",
    },
    Field {
        name: "requester",
        sample: "Riley Requester",
    },
    Field {
        name: "requested_for",
        sample: "Riley Requester",
    },
    Field {
        name: "group",
        sample: "Service Desk",
    },
];

type Row = (
    String,
    String,
    String,
    String,
    Option<Uuid>,
    Option<Uuid>,
    Option<Uuid>,
    Option<Uuid>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<Vec<Uuid>>,
    Option<Vec<Uuid>>,
);

/// The task's assignee, else the members of its group.
async fn task_doers(
    conn: &mut sqlx::PgConnection,
    event: &DomainEvent,
) -> anyhow::Result<Vec<Uuid>> {
    let Some(task) = event.payload["task_id"]
        .as_str()
        .and_then(|t| t.parse::<Uuid>().ok())
    else {
        return Ok(Vec::new());
    };
    Ok(sqlx::query_scalar(
        "SELECT t.assigned_to FROM request_tasks t WHERE t.id = $1 AND t.assigned_to IS NOT NULL
         UNION
         SELECT m.user_id FROM request_tasks t JOIN group_members m ON m.group_id = t.assigned_group
         WHERE t.id = $1 AND t.assigned_to IS NULL",
    )
    .bind(task)
    .fetch_all(&mut *conn)
    .await?)
}

impl Audience for Requests {
    fn entity(&self) -> &'static str {
        super::actions::ENTITY
    }

    fn category(&self) -> &'static str {
        "requests"
    }

    fn label(&self) -> &'static str {
        "Service requests"
    }

    fn noun(&self) -> &'static str {
        "a request"
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
                "[{{number}}] {{title}} {{verb}}",
                "{{number}} {{verb}}: {{title}}\n\nRequested by {{requester}} for {{requested_for}}.\nStatus: {{status}} · Fulfilled by: {{group}}",
            ),
            "sms" => ("", "{{number}} {{verb}}: {{title}}"),
            _ => (
                "{{number}} {{verb}}: {{title}}",
                "Requested by {{requester}} for {{requested_for}}. Status {{status}}.",
            ),
        }
    }

    fn about<'a>(
        &'a self,
        conn: &'a mut sqlx::PgConnection,
        event: &'a DomainEvent,
    ) -> BoxFuture<'a, anyhow::Result<Option<About>>> {
        Box::pin(async move {
            let row: Option<Row> = sqlx::query_as(
                "SELECT r.request_number, r.title, COALESCE(r.status, 'new'), COALESCE(r.priority, 'medium'),
                        r.requester_id, r.requested_for_id, r.assigned_to, r.assigned_group,
                        rq.name, rf.name, g.name,
                        (SELECT array_agg(m.user_id) FROM group_members m WHERE m.group_id = r.assigned_group),
                        (SELECT array_agg(a.approver_id) FROM approvals a JOIN approval_runs run
                           ON run.entity_type = a.entity_type AND run.entity_id = a.entity_id
                         WHERE a.entity_type = $2 AND a.entity_id = r.id AND a.status = 'pending'
                           AND run.status = 'pending' AND a.step_number = $3)
                 FROM service_requests r
                 LEFT JOIN users rq ON rq.id = r.requester_id
                 LEFT JOIN users rf ON rf.id = r.requested_for_id
                 LEFT JOIN groups g ON g.id = r.assigned_group
                 WHERE r.id = $1",
            )
            .bind(event.entity_id)
            .bind(super::actions::ENTITY)
            // The step the event is about (a later step's opening names it; the first is 0).
            .bind(event.payload["step"].as_i64().unwrap_or(0) as i32)
            .fetch_optional(&mut *conn)
            .await?;
            let Some((
                number,
                title,
                status,
                priority,
                requester,
                requested_for,
                assignee,
                group,
                requester_name,
                for_name,
                group_name,
                members,
                approvers,
            )) = row
            else {
                return Ok(None);
            };
            let topic = event.event_type.rsplit('.').next().unwrap_or_default();
            let asker: Vec<Uuid> = [requester, requested_for].into_iter().flatten().collect();
            let doers: Vec<Uuid> = match assignee {
                Some(a) => vec![a],
                None => members.unwrap_or_default(),
            };
            let mut people: Vec<Uuid> = match topic {
                "submitted" | "approval_reminder" => approvers.unwrap_or_default(),
                "created" if status == "approved" => {
                    doers.into_iter().chain(requested_for).collect()
                }
                "created" => requested_for.into_iter().collect(),
                "approved" => asker.into_iter().chain(doers).collect(),
                "task_ready" => task_doers(conn, event).await?,
                "task_updated" => Vec::new(),
                // Deadlines are the service desk's to meet.
                "sla_warning" | "sla_breached" => doers,
                _ => asker,
            };
            people.sort();
            people.dedup();
            let none = || "—".to_string();
            Ok(Some(About {
                people,
                number,
                title,
                path: format!("/requests/{}", event.entity_id),
                priority: Some(priority),
                group,
                fields: BTreeMap::from([
                    ("status", crate::platform::web::label(&status)),
                    ("requester", requester_name.unwrap_or_else(none)),
                    ("requested_for", for_name.unwrap_or_else(none)),
                    ("group", group_name.unwrap_or_else(none)),
                ]),
            }))
        })
    }

    fn mail_links<'a>(
        &'a self,
        conn: &'a mut sqlx::PgConnection,
        tenant: &'a crate::platform::tenancy::Slug,
        event: &'a DomainEvent,
        user: Uuid,
    ) -> BoxFuture<'a, anyhow::Result<Vec<crate::platform::audience::MailLink>>> {
        Box::pin(async move {
            if !(event.event_type.ends_with(".submitted")
                || event.event_type.ends_with(".approval_reminder"))
            {
                return Ok(Vec::new());
            }
            crate::approvals::email::links_for(
                conn,
                tenant,
                super::actions::ENTITY,
                event.entity_id,
                user,
                event.occurred_at,
            )
            .await
        })
    }

    fn visible<'a>(
        &'a self,
        conn: &'a mut sqlx::PgConnection,
        entity: Uuid,
        people: &'a [Uuid],
    ) -> BoxFuture<'a, anyhow::Result<Vec<Uuid>>> {
        Box::pin(async move {
            // Their own requests, those waiting on their approval, or everyone's for the desk.
            let sql = format!(
                "SELECT u.id FROM users u, service_requests r
                 WHERE r.id = $1 AND u.id = ANY($2) AND u.status = 'active'
                   AND (u.id = r.requester_id OR u.id = r.requested_for_id
                        OR EXISTS (SELECT 1 FROM approvals a WHERE a.entity_type = $3 AND a.entity_id = r.id
                                   AND a.approver_id = u.id)
                        OR {})",
                holds(super::perm::REQUESTS_READ_ALL)
            );
            Ok(sqlx::query_scalar(&sql)
                .bind(entity)
                .bind(people)
                .bind(super::actions::ENTITY)
                .fetch_all(&mut *conn)
                .await?)
        })
    }
}
