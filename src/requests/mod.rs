//! Service requests: what requesters ask for from the catalog, their approvals and fulfilment.

pub mod actions;
pub mod api;
pub mod audience;
pub mod edit;
pub mod edit_web;
pub mod queue;
pub mod queue_web;
pub mod store;
pub mod submit;
pub mod tasks;
pub mod web;

use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::platform::approval::{Described, Settled, Subject};
use crate::platform::audience::BoxFuture;
use crate::platform::audit::Actor;
use crate::platform::error::AppError;
use crate::platform::module::{EntityDef, EventDef, Module, NavEntry, Section};
use crate::platform::state::AppState;
use crate::platform::tenancy::{Slug, TenantTx};
use crate::platform::web::Routes;

pub mod perm {
    use crate::platform::module::Perm;

    pub const REQUESTS_READ: Perm = Perm::new("requests:read");
    pub const REQUESTS_READ_ALL: Perm = Perm::new("requests:read_all");
    pub const REQUESTS_CREATE: Perm = Perm::new("requests:create");
    pub const REQUESTS_UPDATE: Perm = Perm::new("requests:update");
}

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::list, api::create))
        .routes(routes!(api::get, api::update, api::cancel))
        .routes(routes!(api::assign))
        .routes(routes!(api::reassign))
        .routes(routes!(api::complete))
        .routes(routes!(api::reopen))
        .routes(routes!(api::approve))
        .routes(routes!(api::reject))
        .routes(routes!(api::approvals))
        .routes(routes!(api::history))
        .routes(routes!(api::sla))
        .routes(routes!(api::comments, api::add_comment))
        .routes(routes!(api::tasks))
        .routes(routes!(api::start_task))
        .routes(routes!(api::complete_task))
        .routes(routes!(api::skip_task))
}

pub fn web_routes() -> Routes {
    Routes::new()
        .route("/requests", get(web::list))
        .route("/requests/bulk", post(queue_web::bulk))
        .route("/requests/views", post(queue_web::save_view))
        .route("/requests/views/{id}/delete", post(queue_web::delete_view))
        .route("/requests/{id}", get(web::show))
        .route("/requests/{id}/act", post(web::act))
        .route(
            "/requests/{id}/edit",
            get(edit_web::show).post(edit_web::save),
        )
        .route("/requests/{id}/comments", post(web::add_comment))
        .route("/requests/{id}/tasks/{task_id}", post(web::task_act))
}

/// The spec's request events, offered by name to webhooks.
const EVENTS: &[EventDef] = &[
    EventDef {
        name: "request.created",
        label: "A request was raised",
    },
    EventDef {
        name: "request.submitted",
        label: "A request was sent for approval",
    },
    EventDef {
        name: "request.approved",
        label: "A request was approved",
    },
    EventDef {
        name: "request.rejected",
        label: "A request was rejected",
    },
    EventDef {
        name: "request.completed",
        label: "A request was completed",
    },
];

/// An event about a step of the request's chain (its approvers hear of it).
async fn announce(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Uuid,
    step: i32,
    event: &str,
) -> Result<(), AppError> {
    let r = store::get(tx, id, store::Scope::All).await?;
    let payload = serde_json::json!({"request": &r, "step": step});
    crate::platform::events::emit(tx, tenant, actor, event, actions::ENTITY, id, payload).await
}

/// Requests in approvers' inboxes, and what a verdict does to them.
pub struct Requests;

impl Subject for Requests {
    fn entity(&self) -> &'static str {
        actions::ENTITY
    }

    fn describe<'a>(
        &'a self,
        tx: &'a mut TenantTx,
        ids: &'a [Uuid],
    ) -> BoxFuture<'a, Result<Vec<Described>, AppError>> {
        Box::pin(async move {
            let rows: Vec<(Uuid, String, String, Option<String>)> = sqlx::query_as(
                "SELECT r.id, r.request_number, r.title, u.name FROM service_requests r
                 LEFT JOIN users u ON u.id = r.requester_id WHERE r.id = ANY($1)",
            )
            .bind(ids)
            .fetch_all(&mut **tx)
            .await?;
            Ok(rows
                .into_iter()
                .map(|(id, number, title, requester)| Described {
                    id,
                    number,
                    title,
                    path: format!("/requests/{id}"),
                    requester: requester.unwrap_or_default(),
                })
                .collect())
        })
    }

    fn details<'a>(
        &'a self,
        tx: &'a mut TenantTx,
        id: Uuid,
    ) -> BoxFuture<'a, Result<Vec<(String, String)>, AppError>> {
        Box::pin(async move {
            let r = store::get(tx, id, store::Scope::All).await?;
            let mut rows = vec![(
                "Requested for".to_string(),
                r.requested_for_name.clone().unwrap_or_default(),
            )];
            rows.extend(
                web::answers_of(tx, &r)
                    .await?
                    .into_iter()
                    .map(|a| (a.label, a.text)),
            );
            Ok(rows)
        })
    }

    fn step_opened<'a>(
        &'a self,
        tx: &'a mut TenantTx,
        tenant: &'a Slug,
        actor: &'a Actor,
        id: Uuid,
        step: i32,
    ) -> BoxFuture<'a, Result<(), AppError>> {
        // The next step's approvers are told, as the first step's were.
        Box::pin(announce(tx, tenant, actor, id, step, "request.submitted"))
    }

    fn remind<'a>(
        &'a self,
        tx: &'a mut TenantTx,
        tenant: &'a Slug,
        actor: &'a Actor,
        id: Uuid,
        step: i32,
    ) -> BoxFuture<'a, Result<(), AppError>> {
        Box::pin(announce(
            tx,
            tenant,
            actor,
            id,
            step,
            "request.approval_reminder",
        ))
    }

    fn settled<'a>(
        &'a self,
        tx: &'a mut TenantTx,
        tenant: &'a Slug,
        actor: &'a Actor,
        id: Uuid,
        verdict: Settled,
        comment: Option<&'a str>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'a, Result<(), AppError>> {
        Box::pin(actions::settle(
            tx, tenant, actor, id, verdict, comment, now,
        ))
    }
}

pub fn module() -> Module {
    use crate::platform::module::{EVERYONE, STAFF, perm as p};
    use perm::*;
    Module {
        entities: &[EntityDef {
            entity_type: "request",
            label: "Request",
            names: "SELECT id, request_number || ' ' || title FROM service_requests WHERE id = ANY($1)",
            page: "/requests/{id}",
        }],
        nav: &[
            NavEntry {
                key: "requests",
                label: "Requests",
                href: "/requests",
                perm: Some(REQUESTS_READ_ALL),
                section: Section::Work,
                unless: None,
            },
            NavEntry {
                key: "requests",
                label: "My requests",
                href: "/requests",
                perm: Some(REQUESTS_READ),
                section: Section::Work,
                unless: Some(REQUESTS_READ_ALL),
            },
        ],
        permissions: const {
            &[
                p(
                    REQUESTS_READ,
                    "Follow their own requests and those waiting on their approval",
                    EVERYONE,
                ),
                p(REQUESTS_READ_ALL, "See every service request", STAFF),
                p(REQUESTS_CREATE, "Request items from the catalog", EVERYONE),
                p(
                    REQUESTS_UPDATE,
                    "Fulfil requests: assign, complete, reopen, cancel",
                    STAFF,
                ),
            ]
        },
        events: EVENTS,
        // Beyond the spec: they reach `request.*` subscribers and the people told of them.
        other_events: &[
            EventDef {
                name: "request.approval_reminder",
                label: "A request still waits for approval",
            },
            EventDef {
                name: "request.task_ready",
                label: "A fulfilment task can start",
            },
            EventDef {
                name: "request.sla_warning",
                label: "A request is close to its SLA deadline",
            },
            EventDef {
                name: "request.sla_breached",
                label: "A request breached its SLA",
            },
        ],
        event_wildcard: Some(EventDef {
            name: "request.*",
            label: "All request events",
        }),
        api: Some(api_routes),
        web: Some(web_routes),
        approvals: Some(&Requests),
        audience: Some(&audience::Requests),
        ..Module::new("requests")
    }
}
