//! Raising an issue from the browser. Agents get the full form (priority, category, group,
//! assignee); requesters a simple one — what is wrong, where, and files that show it — since
//! the desk sets the priority.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use uuid::Uuid;

use super::actions::{self, NewIssue};
use super::attachments;
use super::web::{AGENTS, APPLICATIONS, CATEGORIES, GROUPS, acting};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::state::AppState;
use crate::platform::tenancy;
use crate::platform::web::{
    Choices, Chrome, Errors, Hx, Upload, choices, read_multipart, see_other,
};
use crate::render_page;

#[derive(Template)]
#[template(path = "issues/new.html", blocks = ["content"])]
struct NewPage {
    chrome: Chrome,
    v: BTreeMap<String, String>,
    errors: Errors,
    agent: bool,
    /// Requesters may rate impact and urgency (the tenant's option).
    rate_impact: bool,
    can_assign: bool,
    agents: Choices,
    groups: Choices,
    applications: Choices,
    categories: Choices,
    impacts: &'static [&'static str],
    urgencies: &'static [&'static str],
    priorities: &'static [&'static str],
    accept: String,
}

async fn new_page(
    mut ctx: WebCtx,
    hx: bool,
    v: BTreeMap<String, String>,
    errors: BTreeMap<String, String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let agent = ctx.principal.can(crate::issues::perm::ISSUES_UPDATE);
    let can_assign = ctx.principal.can(crate::issues::perm::ISSUES_ASSIGN);
    let (agents, groups, categories) = if agent {
        (
            choices(&mut ctx.tx, AGENTS).await?,
            choices(&mut ctx.tx, GROUPS).await?,
            choices(&mut ctx.tx, CATEGORIES).await?,
        )
    } else {
        Default::default()
    };
    let applications = choices(&mut ctx.tx, APPLICATIONS).await?;
    let rate_impact = super::settings::form_settings(&mut ctx.tx)
        .await?
        .requesters_rate_impact;
    ctx.tx.commit().await?;
    let page = NewPage {
        chrome: Chrome::new(&ctx.principal, &ctx.csrf, "issues", &ctx.manifest, ctx.now),
        v,
        errors: errors.into(),
        agent,
        rate_impact,
        can_assign,
        agents,
        groups,
        applications,
        categories,
        impacts: domain::issues::IMPACTS,
        urgencies: domain::issues::URGENCIES,
        priorities: domain::issues::PRIORITIES,
        accept: attachments::allowed_extensions(),
    };
    Ok(render_page!(hx, page, status))
}

pub async fn new_form(ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require(crate::issues::perm::ISSUES_CREATE)?;
    new_page(ctx, hx, BTreeMap::new(), BTreeMap::new(), StatusCode::OK).await
}

/// The form's fields and files: multipart when files come along, urlencoded otherwise.
async fn read_form(
    state: &AppState,
    req: Request,
) -> Result<(Vec<(String, String)>, Vec<Upload>), AppError> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if multipart {
        let form = Multipart::from_request(req, state)
            .await
            .map_err(|e| AppError::field("file", e.body_text()))?;
        return read_multipart(form).await;
    }
    let Form(fields) = Form::<Vec<(String, String)>>::from_request(req, state)
        .await
        .map_err(|e| AppError::BadRequest(e.body_text()))?;
    Ok((fields, Vec::new()))
}

pub async fn create(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    Hx(hx): Hx,
    req: Request,
) -> Result<Response, WebError> {
    ctx.require(crate::issues::perm::ISSUES_CREATE)?;
    let (fields, files) = read_form(&state, req).await?;
    let v: BTreeMap<String, String> = fields.into_iter().filter(|(k, _)| k != "_csrf").collect();
    let text = |k: &str| {
        v.get(k)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let mut errors = BTreeMap::new();
    let mut id = |k: &str| match text(k) {
        None => None,
        Some(s) => s.parse::<Uuid>().map_or_else(
            |_| {
                errors.insert(k.to_string(), "Pick one from the list.".to_string());
                None
            },
            Some,
        ),
    };
    let body = NewIssue {
        title: v.get("title").cloned().unwrap_or_default(),
        description: text("description"),
        priority: text("priority"),
        impact: text("impact"),
        urgency: text("urgency"),
        category_id: id("category_id"),
        application_id: id("application_id"),
        assigned_to: id("assigned_to"),
        assigned_group: id("assigned_group"),
        ..Default::default()
    };
    if !errors.is_empty() {
        return new_page(ctx, hx, v, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    tenancy::savepoint(&mut ctx.tx).await?;
    let mut a = acting(&mut ctx, crate::issues::perm::ISSUES_CREATE).await?;
    let created = async {
        let issue = actions::create(&mut a, &body, "portal").await?;
        for f in files.into_iter().filter(|f| f.field == "file") {
            attachments::add(
                &mut a,
                state.storage.as_ref(),
                issue.id,
                &f.filename,
                f.bytes,
            )
            .await
            .map_err(|e| match e {
                AppError::Validation { fields, .. } => AppError::field(
                    "file",
                    format!(
                        "{} (choose the files again: a browser cannot keep them)",
                        fields.values().next().cloned().unwrap_or_default()
                    ),
                ),
                e => e,
            })?;
        }
        Ok::<_, AppError>(issue)
    }
    .await;
    match created {
        Ok(issue) => {
            ctx.tx.commit().await?;
            Ok(see_other(hx, &format!("/issues/{}", issue.id)))
        }
        Err(AppError::Validation { fields, .. }) => {
            tenancy::rollback_to_savepoint(&mut ctx.tx).await?;
            new_page(ctx, hx, v, fields, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}
