//! `/admin/inbound-email`: the support address and intake settings, and what came in.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::response::Response;

use super::api::recent;
use super::receive::Received;
use super::settings::{self, InboundSettings};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::WebError;
use crate::platform::state::AppState;
use crate::platform::web::{Choices, Chrome, Errors, FormValues, Hx, choices};
use crate::render_page;

#[derive(Template)]
#[template(path = "inbound/page.html", blocks = ["content"])]
struct Page {
    chrome: Chrome,
    f: FormValues,
    errors: Errors,
    groups: Choices,
    received: Vec<Received>,
    smtp: Option<String>,
    can_save: bool,
}

fn values_of(s: &InboundSettings) -> FormValues {
    let mut f = FormValues::default();
    f.set("address", s.address.clone().unwrap_or_default());
    if s.create_requesters {
        f.set("create_requesters", "on");
    }
    f.set(
        "default_group_id",
        s.default_group_id
            .map(|g| g.to_string())
            .unwrap_or_default(),
    );
    f
}

async fn show(
    state: &AppState,
    mut ctx: WebCtx,
    hx: bool,
    f: FormValues,
    errors: Errors,
) -> Result<Response, WebError> {
    let received = recent(&mut ctx.tx).await?;
    let groups = choices(
        &mut ctx.tx,
        "SELECT id, name FROM groups ORDER BY lower(name)",
    )
    .await?;
    ctx.tx.commit().await?;
    let status = errors.status();
    let page = Page {
        chrome: Chrome::new(&ctx.principal, &ctx.csrf, "inbound", &ctx.manifest, ctx.now),
        f,
        errors,
        groups,
        received,
        smtp: state.config.smtp_addr.map(|a| a.to_string()),
        can_save: ctx.principal.can(crate::admin::perm::SETTINGS_UPDATE),
    };
    Ok(render_page!(hx, page, status))
}

pub async fn page(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    Hx(hx): Hx,
) -> Result<Response, WebError> {
    ctx.require(crate::admin::perm::SETTINGS_READ)?;
    let s = settings::get(&mut ctx.tx).await?;
    show(&state, ctx, hx, values_of(&s), Errors::default()).await
}

pub async fn save(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::admin::perm::SETTINGS_UPDATE)?;
    let f = FormValues(pairs);
    let group = match f.get("default_group_id") {
        "" => None,
        g => match g.parse() {
            Ok(g) => Some(g),
            Err(_) => {
                let errors = Errors(BTreeMap::from([(
                    "default_group_id".to_string(),
                    "is not a group".to_string(),
                )]));
                return show(&state, ctx, hx, f, errors).await;
            }
        },
    };
    let body = InboundSettings {
        address: Some(f.get("address").to_string()),
        create_requesters: f.on("create_requesters"),
        default_group_id: group,
    };
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            settings::save(&mut ctx.tx, &slug, &actor, &body).await
        })
        .await?;
    match saved {
        Ok(_) => ctx.saved(hx, "/admin/inbound-email").await,
        // An address another organisation uses is said beside the address.
        Err(refused) => show(&state, ctx, hx, f, refused.notice_at("address").errors).await,
    }
}
