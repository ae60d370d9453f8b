//! "My approvals": what waits on the signed-in person, with approve and reject in place.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::http::StatusCode;
use axum::response::Response;
use domain::approvals::Decision;

use super::api::{InboxEntry, entries};
use super::delegations::{self, Delegation, DelegationBody};
use super::engine;
use super::perm::APPROVALS_DECIDE;
use crate::platform::auth::session::WebCtx;
use crate::platform::error::WebError;
use crate::platform::toast::Toast;
use crate::platform::web::{Chrome, Hx, PathId};
use crate::render_page;

#[derive(Template)]
#[template(path = "approvals/inbox.html", blocks = ["content"])]
struct InboxPage {
    chrome: Chrome,
    pending: Vec<InboxEntry>,
    decided: Vec<InboxEntry>,
    /// The approval whose form failed, its comment and the message.
    failed: Option<(uuid::Uuid, String, String)>,
    delegations: Vec<Delegation>,
    people: crate::platform::web::Choices,
    /// The out-of-office form as sent, and its errors.
    away: BTreeMap<String, String>,
    away_errors: crate::platform::web::Errors,
    me: uuid::Uuid,
}

impl InboxPage {
    fn failed_for(&self, id: &uuid::Uuid) -> Option<&(uuid::Uuid, String, String)> {
        self.failed.as_ref().filter(|f| f.0 == *id)
    }

    fn away(&self, k: &str) -> &str {
        self.away.get(k).map(String::as_str).unwrap_or("")
    }

    /// The caller is the one away (they may end it).
    fn mine(&self, d: &Delegation) -> bool {
        d.user_id == self.me
    }
}

async fn page(
    ctx: WebCtx,
    hx: bool,
    failed: Option<(uuid::Uuid, String, String)>,
    status: StatusCode,
) -> Result<Response, WebError> {
    page_with(ctx, hx, failed, BTreeMap::new(), BTreeMap::new(), status).await
}

async fn page_with(
    mut ctx: WebCtx,
    hx: bool,
    failed: Option<(uuid::Uuid, String, String)>,
    away: BTreeMap<String, String>,
    away_errors: BTreeMap<String, String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let today = ctx.principal.today(ctx.now);
    let user = ctx.principal.user_id;
    let rows = engine::inbox(&mut ctx.tx, user, Some("pending"), today).await?;
    let pending = entries(&mut ctx.tx, &ctx.manifest, rows).await?;
    let mut decided = Vec::new();
    for s in ["approved", "rejected"] {
        let rows = engine::inbox(&mut ctx.tx, user, Some(s), today).await?;
        decided.extend(entries(&mut ctx.tx, &ctx.manifest, rows).await?);
    }
    decided.sort_by_key(|e| std::cmp::Reverse(e.approval.decision_at));
    decided.truncate(20);
    let delegations = delegations::mine(&mut ctx.tx, user, today).await?;
    let people = crate::platform::web::choices(
        &mut ctx.tx,
        "SELECT id, name FROM users WHERE status = 'active' ORDER BY name LIMIT 500",
    )
    .await?;
    ctx.tx.commit().await?;
    let page = InboxPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "approvals",
            &ctx.manifest,
            ctx.now,
        ),
        pending,
        decided,
        failed,
        delegations,
        people,
        away,
        away_errors: away_errors.into(),
        me: user,
    };
    Ok(render_page!(hx, page, status))
}

pub async fn inbox(ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require(APPROVALS_DECIDE)?;
    page(ctx, hx, None, StatusCode::OK).await
}

/// The approve/reject form of one approval; `back` returns to the record's page when it came
/// from there.
pub async fn decide(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    ctx.require(APPROVALS_DECIDE)?;
    let today = ctx.principal.today(ctx.now);
    engine::decidable(&mut ctx.tx, id, ctx.principal.user_id, today).await?;
    let decision = match form.get("decision").map(String::as_str) {
        Some("approve") => Decision::Approved,
        Some("reject") => Decision::Rejected,
        _ => {
            return Err(crate::platform::error::AppError::BadRequest(
                "choose approve or reject".into(),
            )
            .into());
        }
    };
    let comment = form.get("comments").cloned().unwrap_or_default();
    let back = form
        .get("back")
        .filter(|b| crate::platform::web::is_local_path(b))
        .cloned()
        .unwrap_or_else(|| "/approvals".into());
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug, manifest) = (
                ctx.actor(),
                ctx.principal.slug.clone(),
                ctx.manifest.clone(),
            );
            engine::decide(
                &mut ctx.tx,
                &manifest,
                &slug,
                &actor,
                id,
                decision,
                Some(&comment),
                today,
                ctx.now,
            )
            .await
        })
        .await?;
    match saved {
        Ok(_) => {
            let said = match decision {
                Decision::Approved => "Approved.",
                Decision::Rejected => "Rejected; the requester is told why.",
            };
            ctx.saved_with(hx, &back, &Toast::success(said)).await
        }
        Err(refused) => {
            let msg = refused
                .notice
                .clone()
                .or_else(|| refused.errors.0.values().next().cloned())
                .unwrap_or_default();
            page(ctx, hx, Some((id, comment, msg)), refused.status).await
        }
    }
}

/// "While I am away": hands the caller's approvals to someone for a date range.
pub async fn delegate(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    ctx.require(APPROVALS_DECIDE)?;
    let mut errors = BTreeMap::new();
    let date = |k: &str, errors: &mut BTreeMap<String, String>| match form
        .get(k)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
    {
        None => {
            errors.insert(k.to_string(), "is required".to_string());
            None
        }
        Some(v) => match chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                errors.insert(k.to_string(), "Use a date like 2026-12-24.".to_string());
                None
            }
        },
    };
    let starts_on = date("starts_on", &mut errors);
    let ends_on = date("ends_on", &mut errors);
    let delegate_id = form
        .get("delegate_id")
        .and_then(|v| v.parse::<uuid::Uuid>().ok());
    if delegate_id.is_none() {
        errors.insert("delegate_id".into(), "Choose someone from the list.".into());
    }
    let (Some(delegate_id), Some(starts_on), Some(ends_on)) = (delegate_id, starts_on, ends_on)
    else {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return page_with(ctx, hx, None, form, errors, status).await;
    };
    let body = DelegationBody {
        delegate_id,
        starts_on,
        ends_on,
    };
    let today = ctx.principal.today(ctx.now);
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            delegations::create(&mut ctx.tx, &slug, &actor, today, &body).await
        })
        .await?;
    match saved {
        Ok(d) => {
            let said = format!(
                "{} decides your approvals from {} to {}.",
                d.delegate_name, d.starts_on, d.ends_on
            );
            ctx.saved_with(hx, "/approvals", &Toast::success(said))
                .await
        }
        Err(refused) => {
            let status = refused.status;
            page_with(ctx, hx, None, form, refused.errors.0, status).await
        }
    }
}

pub async fn end_delegation(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
) -> Result<Response, WebError> {
    ctx.require(APPROVALS_DECIDE)?;
    let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
    delegations::delete(&mut ctx.tx, &slug, &actor, id).await?;
    let said = "Ended: your approvals come to you again.";
    ctx.saved_with(hx, "/approvals", &Toast::success(said))
        .await
}
