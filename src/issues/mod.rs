//! Issues (incidents): what broke, who works on it, and how fast it must be handled.

pub mod actions;
pub mod activity;
pub mod api;
pub mod attachments;
pub mod audience;
pub mod mine;
pub mod queue;
pub mod settings;
pub mod settings_api;
pub mod settings_web;
pub mod store;
pub mod stream;
pub mod web;
pub mod web_issue;
pub mod web_new;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::platform::module::{EntityDef, EventDef, Module, NavEntry, Section};
use crate::platform::state::AppState;
use crate::platform::web::Routes;

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::list, api::create))
        .routes(routes!(api::get, api::update, api::delete))
        .routes(routes!(api::assign))
        .routes(routes!(api::reassign))
        .routes(routes!(api::escalate))
        .routes(routes!(api::resolve))
        .routes(routes!(api::close))
        .routes(routes!(api::reopen))
        .routes(routes!(api::history))
        .routes(routes!(api::sla))
        .routes(routes!(api::comments, api::add_comment))
        .routes(routes!(api::edit_comment, api::delete_comment))
        .routes(routes!(api::worklogs, api::add_worklog))
        .routes(routes!(api::update_worklog, api::delete_worklog))
        .routes(routes!(api::related))
        .routes(routes!(api::link))
        .routes(routes!(api::unlink))
        .routes(routes!(settings_api::list, settings_api::create))
        .routes(routes!(
            settings_api::get,
            settings_api::update,
            settings_api::delete
        ))
        .routes(routes!(settings_api::matrix, settings_api::update_matrix))
        .routes(routes!(
            settings_api::form_settings,
            settings_api::update_form_settings
        ))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(api::attachments, api::add_attachment))
                .routes(routes!(api::download_attachment, api::delete_attachment))
                .layer(upload_limit()),
        )
}

/// Room for the largest attachment plus the multipart framing around it.
fn upload_limit() -> DefaultBodyLimit {
    DefaultBodyLimit::max(attachments::MAX_BYTES + 64 * 1024)
}

pub fn web_routes() -> Routes {
    Routes::new()
        .route("/issues", get(web::list).post(web_new::create))
        .route("/issues/new", get(web_new::new_form))
        .route("/issues/bulk", post(web::bulk))
        .route("/issues/settings", get(settings_web::show))
        .route(
            "/issues/settings/categories",
            post(settings_web::create_category),
        )
        .route(
            "/issues/settings/categories/{id}",
            post(settings_web::update_category),
        )
        .route(
            "/issues/settings/categories/{id}/delete",
            post(settings_web::delete_category),
        )
        .route("/issues/settings/matrix", post(settings_web::update_matrix))
        .route(
            "/issues/settings/raise-form",
            post(settings_web::update_form_settings),
        )
        .route("/issues/views", post(web::save_view))
        .route("/issues/views/{id}/delete", post(web::delete_view))
        .route("/issues/{id}", get(web_issue::show).post(web_issue::edit))
        .route("/issues/{id}/quick", post(web::quick_edit))
        .route("/issues/{id}/assign", post(web_issue::assign))
        .route("/issues/{id}/status", post(web_issue::set_status))
        .route("/issues/{id}/escalate", post(web_issue::escalate))
        .route("/issues/{id}/resolve", post(web_issue::resolve))
        .route("/issues/{id}/close", post(web_issue::close))
        .route("/issues/{id}/reopen", post(web_issue::reopen))
        .route("/issues/{id}/comments", post(web_issue::comment))
        .route(
            "/issues/{id}/comments/{comment_id}/delete",
            post(web_issue::delete_comment),
        )
        .route("/issues/{id}/worklogs", post(web_issue::worklog))
        .route("/issues/{id}/link", post(web_issue::link))
        .route(
            "/issues/{id}/attachments",
            post(web_issue::attach).layer(upload_limit()),
        )
        .route(
            "/issues/{id}/attachments/{attachment_id}",
            get(web_issue::download),
        )
        .route(
            "/issues/{id}/attachments/{attachment_id}/delete",
            post(web_issue::detach),
        )
}

/// Issues' permissions.
pub mod perm {
    use crate::platform::module::Perm;

    pub const ISSUES_READ: Perm = Perm::new("issues:read");
    pub const ISSUES_READ_ALL: Perm = Perm::new("issues:read_all");
    pub const ISSUES_CREATE: Perm = Perm::new("issues:create");
    pub const ISSUES_UPDATE: Perm = Perm::new("issues:update");
    pub const ISSUES_DELETE: Perm = Perm::new("issues:delete");
    pub const ISSUES_ASSIGN: Perm = Perm::new("issues:assign");
}

/// The spec's issue events (webhooks; notifications word them in `notifications::store`).
pub const EVENTS: &[EventDef] = &[
    EventDef {
        name: "issue.created",
        label: "An issue was raised",
    },
    EventDef {
        name: "issue.updated",
        label: "An issue was updated",
    },
    EventDef {
        name: "issue.assigned",
        label: "An issue was assigned",
    },
    EventDef {
        name: "issue.escalated",
        label: "An issue was escalated",
    },
    EventDef {
        name: "issue.resolved",
        label: "An issue was resolved",
    },
    EventDef {
        name: "issue.closed",
        label: "An issue was closed",
    },
    EventDef {
        name: "issue.sla_warning",
        label: "An issue is close to its SLA deadline",
    },
    EventDef {
        name: "issue.sla_breached",
        label: "An issue breached its SLA",
    },
];

pub fn module() -> Module {
    use crate::platform::module::{EVERYONE, MANAGERS, STAFF, perm as p};
    use perm::*;
    Module {
        entities: &[
            EntityDef {
                entity_type: "issue",
                label: "Issue",
                names: "SELECT id, issue_number || ' ' || title FROM issues WHERE id = ANY($1)",
                page: "/issues/{id}",
            },
            EntityDef {
                entity_type: "issue_category",
                label: "Issue category",
                names: "SELECT id, name::text FROM issue_categories WHERE id = ANY($1)",
                page: "/issues/settings",
            },
        ],
        nav: &[
            NavEntry {
                key: "issues",
                label: "Issues",
                href: "/issues",
                perm: Some(ISSUES_UPDATE),
                section: Section::Work,
                unless: None,
            },
            // Requesters see the issues they raised, under the name they would use.
            NavEntry {
                key: "issues",
                label: "My issues",
                href: "/issues",
                perm: Some(ISSUES_READ),
                section: Section::Work,
                unless: Some(ISSUES_UPDATE),
            },
            NavEntry {
                key: "issue_settings",
                label: "Categories and priorities",
                href: "/issues/settings",
                perm: Some(crate::admin::perm::SETTINGS_UPDATE),
                section: Section::ServiceDesk,
                unless: None,
            },
        ],
        permissions: const {
            &[
                p(
                    ISSUES_READ,
                    "See own issues, own groups' queues and unassigned issues",
                    EVERYONE,
                ),
                p(ISSUES_READ_ALL, "See every issue", MANAGERS),
                p(ISSUES_CREATE, "Raise issues", EVERYONE),
                p(
                    ISSUES_UPDATE,
                    "Work on issues: edit, comment, resolve, close",
                    STAFF,
                ),
                p(ISSUES_DELETE, "Delete issues", MANAGERS),
                p(ISSUES_ASSIGN, "Assign and escalate issues", STAFF),
            ]
        },
        events: EVENTS,
        event_wildcard: Some(EventDef {
            name: "issue.*",
            label: "All issue events",
        }),
        api: Some(api_routes),
        web: Some(web_routes),
        audience: Some(&audience::Issues),
        ..Module::new("issues")
    }
}
