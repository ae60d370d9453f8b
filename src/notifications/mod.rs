//! Telling people and places: notifications for the events that concern them (assignee, group,
//! reporter, watchers) in-app, by email, SMS and Slack as each person prefers (outside their
//! quiet hours), notification channels that send a group's events to Slack, Teams, PagerDuty,
//! webhooks or a group address, templates for what each message says, and the delivery jobs
//! and problems page that make sure nothing is lost.

pub mod api;
pub mod channels;
pub mod deliver;
pub mod digest;
pub mod fanout;
pub mod mail;
pub mod problems;
pub mod settings_api;
pub mod settings_web;
pub mod store;
pub mod templates;
pub mod topics;
pub mod web;

use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::platform::state::AppState;
use crate::platform::web::Routes;
use std::sync::Arc;

use crate::platform::mail::{LogTransport, SEND_TASK, SmtpTransport, Transport};
use crate::platform::module::{Module, NavEntry, Section};

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::inbox))
        .routes(routes!(api::read))
        .routes(routes!(api::read_all))
        .routes(routes!(api::get_preferences, api::put_preferences))
        .routes(routes!(api::watch, api::unwatch))
        .routes(routes!(problems::api_list))
        .routes(routes!(problems::api_retry))
        .routes(routes!(
            settings_api::list_channels,
            settings_api::create_channel
        ))
        .routes(routes!(
            settings_api::get_channel,
            settings_api::update_channel,
            settings_api::delete_channel
        ))
        .routes(routes!(settings_api::list_templates))
        .routes(routes!(settings_api::preview_template))
        .routes(routes!(
            settings_api::put_template,
            settings_api::reset_template
        ))
}

pub fn web_routes() -> Routes {
    Routes::new()
        .route("/notifications", get(web::list))
        .route("/notifications/bell", get(web::bell))
        .route("/notifications/read-all", post(web::read_all))
        .route("/notifications/{id}/open", post(web::open))
        .route(
            "/profile/notifications",
            get(web::preferences).post(web::save_preferences),
        )
        .route("/issues/{id}/watch", post(web::toggle_watch))
        .route("/admin/notifications", get(problems::page))
        .route(
            "/admin/notifications/{id}/retry",
            post(problems::page_retry),
        )
        .route(
            "/admin/notification-channels",
            get(settings_web::channels).post(settings_web::create_channel),
        )
        .route(
            "/admin/notification-channels/{id}",
            post(settings_web::update_channel),
        )
        .route(
            "/admin/notification-channels/{id}/delete",
            post(settings_web::delete_channel),
        )
        .route(
            "/admin/notification-templates",
            get(settings_web::templates),
        )
        .route(
            "/admin/notification-templates/{event}/{channel}",
            get(settings_web::template).post(settings_web::save_template),
        )
        .route(
            "/admin/notification-templates/{event}/{channel}/reset",
            post(settings_web::reset_template),
        )
        .route(
            "/admin/notification-templates/preview",
            post(settings_web::preview_template),
        )
}

pub fn module() -> Module {
    Module {
        nav: &[
            NavEntry {
                key: "notification_channels",
                label: "Notification channels",
                href: "/admin/notification-channels",
                perm: Some(crate::integrations::perm::INTEGRATIONS_READ),
                section: Section::ServiceDesk,
                unless: None,
            },
            NavEntry {
                key: "notification_templates",
                label: "Notification templates",
                href: "/admin/notification-templates",
                perm: Some(crate::integrations::perm::INTEGRATIONS_READ),
                section: Section::ServiceDesk,
                unless: None,
            },
            NavEntry {
                key: "deliveries",
                label: "Undelivered messages",
                href: "/admin/notifications",
                perm: Some(crate::integrations::perm::INTEGRATIONS_READ),
                section: Section::System,
                unless: None,
            },
        ],
        api: Some(api_routes),
        web: Some(web_routes),
        jobs: Some(|state, reg| {
            let transport: Arc<dyn Transport> = match &state.config.smtp_url {
                Some(url) => Arc::new(SmtpTransport::from_url(url)?),
                None => Arc::new(LogTransport),
            };
            let mailer = mail::Mailer {
                transport,
                from: state.config.mail_from.clone(),
                sealer: state.sealer.clone(),
                manifest: state.manifest.clone(),
                outbound: state.outbound.clone(),
            };
            reg.on(SEND_TASK, move |ctx| mail::send_job(ctx, mailer.clone()));
            let notifier = deliver::Deliverer {
                sealer: state.sealer.clone(),
                outbound: state.outbound.clone(),
                clock: state.clock.clone(),
                base_url: state.config.base_url.clone(),
                mail_from: state.config.mail_from.clone(),
                manifest: state.manifest.clone(),
            };
            reg.on(deliver::TASK, move |ctx| {
                deliver::job(ctx, notifier.clone())
            });
            let (base_url, manifest) = (state.config.base_url.clone(), state.manifest.clone());
            reg.on(digest::TASK, move |ctx| {
                digest::job(ctx, base_url.clone(), manifest.clone())
            });
            Ok(())
        }),
        subscribers: Some(|state| {
            vec![Arc::new(fanout::Fanout {
                base_url: state.config.base_url.clone(),
                manifest: state.manifest.clone(),
            })]
        }),
        ..Module::new("notifications")
    }
}
