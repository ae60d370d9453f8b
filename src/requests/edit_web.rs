//! The page for changing a request's answers: its own form version, filled in with what was
//! answered, conditions evaluated by the server as on the portal. Saving goes through
//! `edit::update`, so approvals start again when the answers change.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::http::StatusCode;
use axum::response::Response;
use domain::catalog::answers::{self, Context};
use domain::catalog::conditions::Answers;
use domain::catalog::schema::{self, FieldType, FormSchema};
use uuid::Uuid;

use super::api::scope_of;
use super::edit::{self, UpdateBody};
use super::perm::{REQUESTS_READ, REQUESTS_UPDATE};
use super::store::{self, Request};
use crate::catalog::form::{self, FormView};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::toast::Toast;
use crate::platform::web::{Chrome, Hx, PathId, html};
use crate::render_page;

#[derive(Template)]
#[template(path = "requests/edit.html", blocks = ["content", "fields"])]
struct EditPage {
    chrome: Chrome,
    r: Request,
    form: FormView,
    has_files: bool,
    approvals_restart: bool,
    notice: Option<String>,
}

/// The request and its form version, if the caller may change its answers now.
async fn editable(ctx: &mut WebCtx, id: Uuid) -> Result<(Request, FormSchema), AppError> {
    let r = store::get(&mut ctx.tx, id, scope_of(&ctx.principal)).await?;
    let agent = ctx.principal.can(REQUESTS_UPDATE);
    if !agent && r.requester_id != Some(ctx.principal.user_id) {
        return Err(AppError::Forbidden);
    }
    let (Some(item), Some(v)) = (r.catalog_item_id, r.form_version) else {
        return Err(AppError::NotFound);
    };
    let version = crate::catalog::store::version(&mut ctx.tx, item, v).await?;
    let s = schema::parse(&version.form_schema)
        .map_err(|_| anyhow::anyhow!("published form of {item} does not parse"))?;
    Ok((r, s))
}

#[expect(clippy::too_many_arguments, reason = "the page's parts")]
async fn page(
    mut ctx: WebCtx,
    hx: bool,
    r: Request,
    s: FormSchema,
    answers: &Answers,
    errors: BTreeMap<String, String>,
    fields_only: bool,
    status: StatusCode,
) -> Result<Response, WebError> {
    let fctx = Context {
        today: ctx.principal.today(ctx.now),
        requester: r.requester_id.unwrap_or(ctx.principal.user_id),
    };
    let mut view = form::view(&mut ctx.tx, &s, answers, &errors, fctx).await?;
    // Files stay as they were; they are not part of this form.
    for sec in &mut view.sections {
        sec.fields.retain(|f| f.kind != "file");
    }
    ctx.tx.commit().await?;
    let notice = (!errors.is_empty())
        .then(|| "Some answers need attention; they are marked below.".to_string());
    let page = EditPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "requests",
            &ctx.manifest,
            ctx.now,
        ),
        has_files: s.fields.iter().any(|f| f.kind == FieldType::File),
        approvals_restart: matches!(r.status.as_str(), "pending_approval" | "approved")
            && r.approval_status.is_some(),
        r,
        form: view,
        notice,
    };
    if fields_only {
        return Ok(html(StatusCode::OK, page.as_fields().render()));
    }
    Ok(render_page!(hx, page, status))
}

pub async fn show(mut ctx: WebCtx, Hx(hx): Hx, PathId(id): PathId) -> Result<Response, WebError> {
    ctx.require(REQUESTS_READ)?;
    let (r, s) = editable(&mut ctx, id).await?;
    let answers = r.form_data.as_object().cloned().unwrap_or_default();
    page(
        ctx,
        hx,
        r,
        s,
        &answers,
        BTreeMap::new(),
        false,
        StatusCode::OK,
    )
    .await
}

/// Saves the answers, or (`_evaluate`) only re-renders the fields for them.
pub async fn save(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(REQUESTS_READ)?;
    let (r, s) = editable(&mut ctx, id).await?;
    let answers = answers::coerce_form(&s, &pairs);
    if pairs.iter().any(|(k, _)| k == "_evaluate") {
        return page(
            ctx,
            hx,
            r,
            s,
            &answers,
            BTreeMap::new(),
            true,
            StatusCode::OK,
        )
        .await;
    }
    let mut form_data = answers.clone();
    form_data.retain(|k, _| s.field(k).is_some_and(|f| f.kind != FieldType::File));
    let body = UpdateBody { form_data };
    let agent = ctx.principal.can(REQUESTS_UPDATE);
    let today = ctx.principal.today(ctx.now);
    let now = ctx.now;
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            edit::update(&mut ctx.tx, &slug, &actor, agent, today, now, id, &body).await
        })
        .await?;
    match saved {
        Ok(after) => {
            let said = if after.status == "pending_approval" && r.status == "approved" {
                "Answers saved. They changed, so the approvals start again."
            } else {
                "Answers saved."
            };
            ctx.saved_with(hx, &format!("/requests/{id}"), &Toast::success(said))
                .await
        }
        Err(refused) => {
            let errors: BTreeMap<String, String> = refused
                .errors
                .0
                .into_iter()
                .map(|(k, v)| (k.strip_prefix("form_data.").unwrap_or(&k).to_string(), v))
                .collect();
            let (r, s) = editable(&mut ctx, id).await?;
            let status = refused.status;
            page(ctx, hx, r, s, &answers, errors, false, status).await
        }
    }
}
