//! `/admin/webhooks`: the endpoints, a form to add or change one (the secret is shown once),
//! rotation, a test send, and each endpoint's delivery log with redelivery.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use uuid::Uuid;

use super::api::deliverer;
use super::messages::{self, Message};
use super::store::{self, Delivery, Webhook, WebhookBody};
use crate::identity::users_api::parse_id;
use crate::platform::auth::session::WebCtx;
use crate::platform::error::WebError;
use crate::platform::module::EventDef;
use crate::platform::state::AppState;
use crate::platform::web::PathId;
use crate::platform::web::{Chrome, Errors, FormValues, Hx, see_other};
use crate::render_page;

#[derive(Template)]
#[template(path = "webhooks/list.html", blocks = ["content"])]
struct ListPage {
    chrome: Chrome,
    webhooks: Vec<Webhook>,
    can_create: bool,
}

pub async fn list(mut ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require(crate::webhooks::perm::WEBHOOKS_READ)?;
    let webhooks = store::list(&mut ctx.tx).await?;
    ctx.tx.commit().await?;
    let page = ListPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "webhooks",
            &ctx.manifest,
            ctx.now,
        ),
        webhooks,
        can_create: ctx.principal.can(crate::webhooks::perm::WEBHOOKS_CREATE),
    };
    Ok(render_page!(hx, page))
}

#[derive(Template)]
#[template(path = "webhooks/form.html", blocks = ["content"])]
struct FormPage {
    chrome: Chrome,
    webhook: Option<Webhook>,
    deliveries: Vec<Delivery>,
    f: FormValues,
    errors: Errors,
    /// A secret to show once (after creation or rotation).
    secret: Option<String>,
    /// The outcome of a test send, shown above the form.
    notice: Option<String>,
    wildcards: Vec<EventDef>,
    events: Vec<EventDef>,
    can_save: bool,
    can_delete: bool,
}

impl FormPage {
    fn subscribed(&self, event: &str) -> bool {
        self.f.has("events", event)
    }
}

fn values_of(w: &Webhook) -> FormValues {
    let mut f = FormValues::default();
    f.set("name", &w.name);
    f.set("url", &w.url);
    for e in &w.events {
        f.0.push(("events".into(), e.clone()));
    }
    if w.active {
        f.set("active", "on");
    }
    f.set("disable_after_hours", w.disable_after_hours.to_string());
    f
}

struct Shown {
    webhook: Option<Webhook>,
    f: FormValues,
    errors: Errors,
    secret: Option<String>,
    notice: Option<String>,
    status: StatusCode,
}

async fn form(mut ctx: WebCtx, hx: bool, s: Shown) -> Result<Response, WebError> {
    let deliveries = match &s.webhook {
        Some(w) => store::deliveries(&mut ctx.tx, w.id).await?,
        None => Vec::new(),
    };
    ctx.tx.commit().await?;
    let can_save = ctx.principal.can(if s.webhook.is_some() {
        crate::webhooks::perm::WEBHOOKS_UPDATE
    } else {
        crate::webhooks::perm::WEBHOOKS_CREATE
    });
    let page = FormPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "webhooks",
            &ctx.manifest,
            ctx.now,
        ),
        webhook: s.webhook,
        deliveries,
        f: s.f,
        errors: s.errors,
        secret: s.secret,
        notice: s.notice,
        wildcards: ctx.manifest.event_wildcards(),
        events: ctx.manifest.events().copied().collect(),
        can_save,
        can_delete: ctx.principal.can(crate::webhooks::perm::WEBHOOKS_DELETE),
    };
    Ok(render_page!(hx, page, s.status))
}

fn shown(webhook: Option<Webhook>, f: FormValues) -> Shown {
    Shown {
        webhook,
        f,
        errors: Errors::default(),
        secret: None,
        notice: None,
        status: StatusCode::OK,
    }
}

pub async fn new(ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require(crate::webhooks::perm::WEBHOOKS_CREATE)?;
    let mut f = FormValues::default();
    f.set("disable_after_hours", "120");
    form(ctx, hx, shown(None, f)).await
}

pub async fn show(mut ctx: WebCtx, Hx(hx): Hx, PathId(id): PathId) -> Result<Response, WebError> {
    ctx.require(crate::webhooks::perm::WEBHOOKS_READ)?;
    let w = store::get(&mut ctx.tx, id).await?;
    let f = values_of(&w);
    form(ctx, hx, shown(Some(w), f)).await
}

/// Headers typed one per line as `Name: value`.
fn body_of(f: &FormValues, creating: bool) -> Result<WebhookBody, Errors> {
    let mut headers = BTreeMap::new();
    for (n, line) in f.get("headers").lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            let msg = format!("line {}: write it as Name: value", n + 1);
            return Err(Errors(BTreeMap::from([("headers".to_string(), msg)])));
        };
        headers.insert(name.trim().to_string(), value.trim().to_string());
    }
    let replace_headers = creating || !headers.is_empty() || f.on("clear_headers");
    Ok(WebhookBody {
        name: f.get("name").to_string(),
        url: f.get("url").to_string(),
        events: f.all("events"),
        active: Some(creating || f.on("active")),
        headers: replace_headers.then_some(headers),
        disable_after_hours: f.get("disable_after_hours").trim().parse().ok().or(Some(0)),
        secret: None,
    })
}

/// The input a field error belongs to (`events[2]` and `headers.X` are one input each).
fn form_field(k: &str) -> Option<&'static str> {
    if k.starts_with("events") {
        Some("events")
    } else if k.starts_with("headers") {
        Some("headers")
    } else {
        None
    }
}

pub async fn create(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::webhooks::perm::WEBHOOKS_CREATE)?;
    let f = FormValues(pairs);
    let unprocessable = |errors| Shown {
        errors,
        status: StatusCode::UNPROCESSABLE_ENTITY,
        ..shown(None, FormValues::default())
    };
    let body = match body_of(&f, true) {
        Ok(b) => b,
        Err(e) => {
            return form(
                ctx,
                hx,
                Shown {
                    f,
                    ..unprocessable(e)
                },
            )
            .await;
        }
    };
    let made = ctx
        .save(async |ctx| {
            let actor = ctx.actor();
            let m = &state.manifest;
            store::create(
                &mut ctx.tx,
                &actor,
                &state.sealer,
                &state.outbound,
                m,
                &body,
            )
            .await
        })
        .await?;
    match made {
        Ok(w) => {
            let f = values_of(&w.webhook);
            let secret = Some(w.secret);
            form(
                ctx,
                hx,
                Shown {
                    secret,
                    ..shown(Some(w.webhook), f)
                },
            )
            .await
        }
        Err(r) => {
            let r = r.map_fields(form_field).notice_at("name");
            form(
                ctx,
                hx,
                Shown {
                    f,
                    status: r.status,
                    ..unprocessable(r.errors)
                },
            )
            .await
        }
    }
}

pub async fn update(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::webhooks::perm::WEBHOOKS_UPDATE)?;
    let before = store::get(&mut ctx.tx, id).await?;
    let f = FormValues(pairs);
    let failed = |errors, f| Shown {
        errors,
        status: StatusCode::UNPROCESSABLE_ENTITY,
        ..shown(Some(before.clone()), f)
    };
    let body = match body_of(&f, false) {
        Ok(b) => b,
        Err(e) => return form(ctx, hx, failed(e, f)).await,
    };
    let saved = ctx
        .save(async |ctx| {
            let actor = ctx.actor();
            let m = &state.manifest;
            store::update(&mut ctx.tx, &actor, &state.outbound, m, id, &body).await
        })
        .await?;
    match saved {
        Ok(_) => ctx.saved(hx, &format!("/admin/webhooks/{id}")).await,
        Err(r) => {
            let r = r.map_fields(form_field).notice_at("name");
            let status = r.status;
            form(
                ctx,
                hx,
                Shown {
                    status,
                    ..failed(r.errors, f)
                },
            )
            .await
        }
    }
}

pub async fn rotate(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
) -> Result<Response, WebError> {
    ctx.require(crate::webhooks::perm::WEBHOOKS_UPDATE)?;
    let actor = ctx.actor();
    let w = store::rotate(&mut ctx.tx, &actor, &state.sealer, id, ctx.now).await?;
    let f = values_of(&w.webhook);
    let secret = Some(w.secret);
    form(
        ctx,
        hx,
        Shown {
            secret,
            ..shown(Some(w.webhook), f)
        },
    )
    .await
}

pub async fn test(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
) -> Result<Response, WebError> {
    ctx.require(crate::webhooks::perm::WEBHOOKS_UPDATE)?;
    let w = store::get(&mut ctx.tx, id).await?;
    let notice = if w.active {
        let m = Message::test(&w, ctx.now);
        let (_, delivery) = deliverer(&state)
            .attempt(&ctx.principal.slug, &m, 1)
            .await?;
        Some(match delivery {
            Some(d) if d.success => format!(
                "Test delivered: {} in {} ms.",
                d.status_code.unwrap_or_default(),
                d.response_time_ms.unwrap_or_default()
            ),
            Some(d) => format!(
                "Test failed: {}.",
                d.error
                    .or(d.status_code.map(|s| format!("the endpoint answered {s}")))
                    .unwrap_or_default()
            ),
            None => "The webhook is gone.".into(),
        })
    } else {
        Some("The webhook is disabled: activate it first.".into())
    };
    let f = values_of(&w);
    form(
        ctx,
        hx,
        Shown {
            notice,
            ..shown(Some(w), f)
        },
    )
    .await
}

pub async fn delete(mut ctx: WebCtx, Hx(hx): Hx, PathId(id): PathId) -> Result<Response, WebError> {
    ctx.require(crate::webhooks::perm::WEBHOOKS_DELETE)?;
    let actor = ctx.actor();
    store::delete(&mut ctx.tx, &actor, id).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, "/admin/webhooks"))
}

pub async fn redeliver(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<Response, WebError> {
    ctx.require(crate::webhooks::perm::WEBHOOKS_UPDATE)?;
    let (id, delivery_id): (Uuid, Uuid) = (parse_id(&id)?, parse_id(&delivery_id)?);
    let actor = ctx.actor();
    let slug = ctx.principal.slug.clone();
    messages::redeliver(&mut ctx.tx, &slug, &actor, id, delivery_id).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, &format!("/admin/webhooks/{id}")))
}
