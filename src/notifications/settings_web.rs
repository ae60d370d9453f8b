//! `/admin/notification-channels` (where groups' events go) and `/admin/notification-templates`
//! (what messages say: edit, preview with sample values, reset to the default).

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query};
use axum::response::Response;
use uuid::Uuid;

use super::channels::{self, Channel, ChannelBody, PRIORITIES};
use super::templates::{self, TemplateBody};
use super::topics;
use crate::identity::users_api::parse_id;
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::web::PathId;
use crate::platform::web::{Choices, Chrome, Errors, FormValues, Hx, choices, see_other};
use crate::render_page;

#[derive(Template)]
#[template(path = "notifications/channels.html", blocks = ["content"])]
struct ChannelsPage {
    chrome: Chrome,
    channels: Vec<Channel>,
    /// The channel being edited (else the form adds one).
    editing: Option<Uuid>,
    integrations: Choices,
    groups: Choices,
    events: Vec<String>,
    priorities: &'static [&'static str],
    f: FormValues,
    errors: Errors,
    can_save: bool,
}

#[derive(serde::Deserialize)]
pub struct EditQuery {
    edit: Option<String>,
}

async fn channels_page(
    mut ctx: WebCtx,
    hx: bool,
    editing: Option<Uuid>,
    f: FormValues,
    errors: Errors,
) -> Result<Response, WebError> {
    let list = channels::list(&mut ctx.tx).await?;
    let integrations = channels::integration_choices(&mut ctx.tx).await?;
    let groups = choices(
        &mut ctx.tx,
        "SELECT id, name FROM groups ORDER BY lower(name)",
    )
    .await?;
    ctx.tx.commit().await?;
    let status = errors.status();
    let page = ChannelsPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "notification_channels",
            &ctx.manifest,
            ctx.now,
        ),
        channels: list,
        editing,
        integrations,
        groups,
        events: channels::choosable(&ctx.manifest),
        priorities: PRIORITIES,
        f,
        errors,
        can_save: ctx
            .principal
            .can(crate::integrations::perm::INTEGRATIONS_UPDATE),
    };
    Ok(render_page!(hx, page, status))
}

fn values_of(c: &Channel) -> FormValues {
    let mut f = FormValues::default();
    f.set("name", &c.name);
    f.set("integration_id", c.integration_id.to_string());
    f.set("target", c.target.clone().unwrap_or_default());
    f.set(
        "group_id",
        c.group_id.map(|g| g.to_string()).unwrap_or_default(),
    );
    f.set("min_priority", c.min_priority.clone().unwrap_or_default());
    f.set("status", &c.status);
    for e in &c.events {
        f.0.push(("events".into(), e.clone()));
    }
    f
}

pub async fn channels(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Query(q): Query<EditQuery>,
) -> Result<Response, WebError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_READ)?;
    let editing = match q.edit.as_deref().filter(|e| !e.is_empty()) {
        Some(id) => Some(channels::get(&mut ctx.tx, parse_id(id)?).await?),
        None => None,
    };
    let mut f = editing.as_ref().map(values_of).unwrap_or_default();
    if editing.is_none() {
        f.0.push(("events".into(), "issue.*".into()));
        f.set("status", "active");
    }
    channels_page(ctx, hx, editing.map(|c| c.id), f, Errors::default()).await
}

/// The form as a body; a malformed id becomes a field error.
fn body_of(f: &FormValues) -> Result<ChannelBody, Errors> {
    let mut errors = BTreeMap::new();
    let integration_id = f.get("integration_id").parse().unwrap_or_else(|_| {
        errors.insert(
            "integration_id".to_string(),
            "choose an integration".to_string(),
        );
        Uuid::nil()
    });
    let group_id = match f.get("group_id") {
        "" => None,
        g => Some(g.parse().unwrap_or_else(|_| {
            errors.insert("group_id".to_string(), "is not a group".to_string());
            Uuid::nil()
        })),
    };
    if !errors.is_empty() {
        return Err(Errors(errors));
    }
    let opt = |k: &str| Some(f.get(k).trim().to_string()).filter(|v| !v.is_empty());
    Ok(ChannelBody {
        name: f.get("name").to_string(),
        integration_id,
        target: opt("target"),
        group_id,
        events: Some(f.all("events")),
        min_priority: opt("min_priority"),
        status: opt("status"),
    })
}

async fn save_channel(
    mut ctx: WebCtx,
    hx: bool,
    id: Option<Uuid>,
    pairs: Vec<(String, String)>,
) -> Result<Response, WebError> {
    let f = FormValues(pairs);
    let body = match body_of(&f) {
        Ok(b) => b,
        Err(errors) => return channels_page(ctx, hx, id, f, errors).await,
    };
    let saved = ctx
        .save(async |ctx| {
            let (actor, m) = (ctx.actor(), ctx.manifest.clone());
            match id {
                Some(id) => channels::update(&mut ctx.tx, &m, &actor, id, &body).await,
                None => channels::create(&mut ctx.tx, &m, &actor, &body).await,
            }
        })
        .await?;
    match saved {
        Ok(_) => ctx.saved(hx, "/admin/notification-channels").await,
        Err(r) => {
            // `events[2]` belongs to the one events input; a taken name beside the name.
            let r = r
                .map_fields(|k| k.starts_with("events").then_some("events"))
                .notice_at("name");
            channels_page(ctx, hx, id, f, r.errors).await
        }
    }
}

pub async fn create_channel(
    ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_CREATE)?;
    save_channel(ctx, hx, None, pairs).await
}

pub async fn update_channel(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_UPDATE)?;
    let id = channels::get(&mut ctx.tx, id).await?.id;
    save_channel(ctx, hx, Some(id), pairs).await
}

pub async fn delete_channel(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
) -> Result<Response, WebError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_DELETE)?;
    let actor = ctx.actor();
    channels::delete(&mut ctx.tx, &actor, id).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, "/admin/notification-channels"))
}

#[derive(Template)]
#[template(path = "notifications/templates.html", blocks = ["content"])]
struct TemplatesPage {
    chrome: Chrome,
    templates: Vec<templates::Template>,
}

pub async fn templates(mut ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_READ)?;
    let list = templates::list(&mut ctx.tx, &ctx.manifest).await?;
    ctx.tx.commit().await?;
    let page = TemplatesPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "notification_templates",
            &ctx.manifest,
            ctx.now,
        ),
        templates: list,
    };
    Ok(render_page!(hx, page))
}

#[derive(Template)]
#[template(path = "notifications/template.html", blocks = ["content"])]
struct TemplatePage {
    chrome: Chrome,
    /// `issue.created`.
    event: String,
    channel: String,
    custom: bool,
    f: FormValues,
    errors: Errors,
    variables: Vec<(&'static str, &'static str)>,
    /// (subject, body) rendered with sample values.
    preview: Option<(String, String)>,
    can_save: bool,
}

struct Shown {
    known: topics::Known,
    channel: String,
    custom: bool,
    f: FormValues,
    errors: Errors,
    preview: Option<(String, String)>,
}

fn template_page(ctx: &WebCtx, hx: bool, s: Shown) -> Response {
    let status = s.errors.status();
    let page = TemplatePage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "notification_templates",
            &ctx.manifest,
            ctx.now,
        ),
        can_save: ctx
            .principal
            .can(crate::integrations::perm::INTEGRATIONS_UPDATE),
        event: s.known.name(),
        variables: templates::variables(s.known.audience),
        channel: s.channel,
        custom: s.custom,
        f: s.f,
        errors: s.errors,
        preview: s.preview,
    };
    render_page!(hx, page, status)
}

pub async fn template(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Path((event, channel)): Path<(String, String)>,
) -> Result<Response, WebError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_READ)?;
    let known = templates::known(&ctx.manifest, &event, &channel)?;
    let t = templates::get(&mut ctx.tx, known, &channel).await?;
    let mut f = FormValues::default();
    f.set("subject", &t.subject);
    f.set("body", &t.body);
    let s = Shown {
        known,
        channel,
        custom: t.custom,
        f,
        errors: Errors::default(),
        preview: None,
    };
    Ok(template_page(&ctx, hx, s))
}

fn body_of_template(f: &FormValues) -> TemplateBody {
    TemplateBody {
        subject: f.get("subject").to_string(),
        body: f.get("body").to_string(),
    }
}

pub async fn save_template(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Path((event, channel)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_UPDATE)?;
    let known = templates::known(&ctx.manifest, &event, &channel)?;
    let f = FormValues(pairs);
    let actor = ctx.actor();
    let body = body_of_template(&f);
    match templates::save(&mut ctx.tx, &actor, known, &channel, &body).await {
        Ok(_) => {
            ctx.tx.commit().await?;
            Ok(see_other(hx, "/admin/notification-templates"))
        }
        Err(AppError::Validation { fields, .. }) => {
            let s = Shown {
                known,
                channel,
                custom: true,
                f,
                errors: Errors(fields),
                preview: None,
            };
            Ok(template_page(&ctx, hx, s))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn reset_template(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Path((event, channel)): Path<(String, String)>,
) -> Result<Response, WebError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_UPDATE)?;
    let known = templates::known(&ctx.manifest, &event, &channel)?;
    let actor = ctx.actor();
    templates::reset(&mut ctx.tx, &actor, known, &channel).await?;
    ctx.tx.commit().await?;
    Ok(see_other(
        hx,
        &format!("/admin/notification-templates/{event}/{channel}"),
    ))
}

/// The edit form posted here shows what the message would say, without saving.
pub async fn preview_template(
    ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_READ)?;
    let f = FormValues(pairs);
    let channel = f.get("channel").to_string();
    let known = templates::known(&ctx.manifest, f.get("event"), &channel)?;
    let (preview, errors) = match templates::preview(known.audience, &body_of_template(&f)) {
        Ok(p) => (Some(p), Errors::default()),
        Err(AppError::Validation { fields, .. }) => (None, Errors(fields)),
        Err(e) => return Err(e.into()),
    };
    let s = Shown {
        known,
        channel,
        custom: true,
        f,
        errors,
        preview,
    };
    Ok(template_page(&ctx, hx, s))
}
