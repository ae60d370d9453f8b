//! The issue settings page: the category tree (add, rename, move, deactivate, delete) and the
//! priority matrix grid.

use askama::Template;
use axum::Form;
use axum::http::StatusCode;
use axum::response::Response;
use uuid::Uuid;

use super::settings::{self, Category, CategoryBody, FormSettings, Matrix, MatrixBody, MatrixCell};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::web::PathId;
use crate::platform::web::{Chrome, Errors, FormValues, Hx, see_other};
use crate::render_page;

#[derive(Template)]
#[template(path = "issues/settings.html", blocks = ["content"])]
struct SettingsPage {
    chrome: Chrome,
    categories: Vec<Category>,
    matrix: Matrix,
    form: FormSettings,
    priorities: &'static [&'static str],
    can_edit: bool,
    /// The category form that failed (None = the new-category form), its values and errors.
    failed: Option<Option<Uuid>>,
    f: FormValues,
    errors: Errors,
}

impl SettingsPage {
    /// The values a category row's form shows: what was submitted if that row failed.
    fn name_of<'a>(&'a self, c: &'a Category) -> &'a str {
        match self.failed {
            Some(Some(id)) if id == c.id => self.f.get("name"),
            _ => &c.name,
        }
    }

    fn failed_row(&self, c: &Category) -> bool {
        self.failed == Some(Some(c.id))
    }

    fn failed_new(&self) -> bool {
        self.failed == Some(None)
    }

    fn indent(&self, c: &Category) -> String {
        "— ".repeat((c.depth - 1).max(0) as usize)
    }

    fn is_parent(&self, c: &Category, option: &Category) -> bool {
        c.parent_id == Some(option.id)
    }
}

async fn page(
    mut ctx: WebCtx,
    hx: bool,
    failed: Option<Option<Uuid>>,
    f: FormValues,
    errors: Errors,
    status: StatusCode,
) -> Result<Response, WebError> {
    let categories = settings::categories(&mut ctx.tx).await?;
    let matrix = settings::matrix(&mut ctx.tx).await?;
    let form = settings::form_settings(&mut ctx.tx).await?;
    ctx.tx.commit().await?;
    let page = SettingsPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "issue_settings",
            &ctx.manifest,
            ctx.now,
        ),
        categories,
        matrix,
        form,
        priorities: domain::issues::PRIORITIES,
        can_edit: ctx.principal.can(crate::admin::perm::SETTINGS_UPDATE),
        failed,
        f,
        errors,
    };
    Ok(render_page!(hx, page, status))
}

pub async fn show(ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require(crate::issues::perm::ISSUES_READ)?;
    page(
        ctx,
        hx,
        None,
        FormValues::default(),
        Errors::default(),
        StatusCode::OK,
    )
    .await
}

fn category_body(f: &FormValues) -> Result<CategoryBody, AppError> {
    let parent_id = match f.get("parent_id") {
        "" => None,
        s => {
            Some(Uuid::parse_str(s).map_err(|_| AppError::field("parent_id", "no such category"))?)
        }
    };
    let sort_order = match f.get("sort_order").trim() {
        "" => None,
        s => Some(
            s.parse()
                .map_err(|_| AppError::field("sort_order", "must be a whole number"))?,
        ),
    };
    Ok(CategoryBody {
        name: f.get("name").to_string(),
        parent_id,
        sort_order,
        // New categories are active; edit forms send the checkbox.
        is_active: Some(f.on("is_active") || !f.on("has_active")),
    })
}

async fn save(
    mut ctx: WebCtx,
    hx: bool,
    id: Option<Uuid>,
    pairs: Vec<(String, String)>,
) -> Result<Response, WebError> {
    if let Some(id) = id {
        settings::category(&mut ctx.tx, id).await?;
    }
    let f = FormValues(pairs);
    let saved = ctx
        .save(async |ctx| {
            let actor = ctx.actor();
            let b = category_body(&f)?;
            settings::save_category(&mut ctx.tx, &actor, id, &b).await
        })
        .await?;
    match saved {
        Ok(_) => ctx.saved(hx, "/issues/settings").await,
        Err(refused) => {
            let refused = refused.notice_at("name");
            page(ctx, hx, Some(id), f, refused.errors, refused.status).await
        }
    }
}

pub async fn create_category(
    ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::admin::perm::SETTINGS_UPDATE)?;
    save(ctx, hx, None, pairs).await
}

pub async fn update_category(
    ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::admin::perm::SETTINGS_UPDATE)?;
    save(ctx, hx, Some(id), pairs).await
}

pub async fn delete_category(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
) -> Result<Response, WebError> {
    ctx.require(crate::admin::perm::SETTINGS_UPDATE)?;
    let actor = ctx.actor();
    settings::delete_category(&mut ctx.tx, &actor, id).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, "/issues/settings"))
}

/// The grid posts one `impact.urgency=priority` field per cell.
pub async fn update_matrix(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::admin::perm::SETTINGS_UPDATE)?;
    let cells = pairs
        .iter()
        .filter_map(|(k, v)| {
            let (impact, urgency) = k.split_once('.')?;
            Some(MatrixCell {
                impact: impact.to_string(),
                urgency: urgency.to_string(),
                priority: v.clone(),
            })
        })
        .collect();
    let body = MatrixBody { cells };
    let saved = ctx
        .save(async |ctx| {
            let actor = ctx.actor();
            settings::save_matrix(&mut ctx.tx, &actor, &body).await
        })
        .await?;
    match saved {
        Ok(_) => ctx.saved(hx, "/issues/settings#matrix").await,
        Err(refused) => {
            // The grid shows one message above it, whichever cell it is about.
            let refused = refused.map_fields(|_| Some("matrix")).notice_at("matrix");
            let form = FormValues::default();
            page(ctx, hx, None, form, refused.errors, refused.status).await
        }
    }
}

/// The raise form's option: requesters choose impact and urgency, or the desk does.
pub async fn update_form_settings(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Form(f): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::admin::perm::SETTINGS_UPDATE)?;
    let body = FormSettings {
        requesters_rate_impact: f.iter().any(|(k, _)| k == "requesters_rate_impact"),
    };
    let actor = ctx.actor();
    settings::save_form_settings(&mut ctx.tx, &actor, &body).await?;
    ctx.saved(hx, "/issues/settings#raise-form").await
}
