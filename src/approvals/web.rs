//! "My approvals": what waits on the signed-in person, with approve and reject in place.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::http::StatusCode;
use axum::response::Response;
use domain::approvals::Decision;

use super::api::{InboxEntry, entries};
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
}

impl InboxPage {
    fn failed_for(&self, id: &uuid::Uuid) -> Option<&(uuid::Uuid, String, String)> {
        self.failed.as_ref().filter(|f| f.0 == *id)
    }
}

async fn page(
    mut ctx: WebCtx,
    hx: bool,
    failed: Option<(uuid::Uuid, String, String)>,
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
