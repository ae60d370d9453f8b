//! The roles page: the list, and the form that makes or edits a custom role.

use askama::Template;
use axum::Form;
use axum::response::Response;
use uuid::Uuid;

use super::{Permission, Role, RoleBody, all, one, permissions, save};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::WebError;
use crate::platform::forms::Refused;
use crate::platform::web::{Chrome, Errors, FormValues, Hx, PathId};
use crate::render_page;

#[derive(Template)]
#[template(path = "identity/roles.html", blocks = ["content"])]
struct RolesPage {
    chrome: Chrome,
    roles: Vec<Role>,
    /// Permissions by resource, each with what the manifest says it allows.
    resources: Vec<(String, Vec<Permission>)>,
    editing: Option<Role>,
    /// What the form shows: the role being edited, or what was typed.
    f: FormValues,
    can_edit: bool,
    errors: Errors,
    notice: Option<String>,
}

fn values_of(r: &Role) -> FormValues {
    let mut f = FormValues::default();
    f.set("display_name", &r.display_name);
    f.set("description", r.description.as_deref().unwrap_or_default());
    for p in &r.permissions {
        f.0.push(("permissions".into(), p.clone()));
    }
    f
}

async fn page(
    mut ctx: WebCtx,
    hx: bool,
    editing: Option<Uuid>,
    submitted: Option<(FormValues, Refused)>,
) -> Result<Response, WebError> {
    let roles = all(&mut ctx.tx).await?;
    let mut resources: Vec<(String, Vec<Permission>)> = Vec::new();
    for p in permissions(&mut ctx.tx).await? {
        match resources.last_mut() {
            Some((r, list)) if *r == p.resource => list.push(p),
            _ => resources.push((p.resource.clone(), vec![p])),
        }
    }
    let editing = match editing {
        Some(id) => Some(one(&mut ctx.tx, id).await?),
        None => None,
    };
    ctx.tx.commit().await?;
    let can_edit = ctx.principal.can(crate::identity::perm::ROLES_UPDATE)
        && ctx.principal.can(crate::identity::perm::ROLES_CREATE);
    let (f, refused) = match submitted {
        Some((f, r)) => (f, r),
        None => (
            editing.as_ref().map(values_of).unwrap_or_default(),
            Refused::default(),
        ),
    };
    let status = if refused.status.is_client_error() {
        refused.status
    } else {
        axum::http::StatusCode::OK
    };
    Ok(render_page!(
        hx,
        RolesPage {
            chrome: Chrome::new(&ctx.principal, &ctx.csrf, "roles", &ctx.manifest, ctx.now),
            roles,
            resources,
            editing,
            f,
            can_edit,
            errors: refused.errors,
            notice: refused.notice,
        },
        status
    ))
}

pub async fn list(ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::ROLES_READ)?;
    page(ctx, hx, None, None).await
}

pub async fn detail(ctx: WebCtx, Hx(hx): Hx, PathId(id): PathId) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::ROLES_READ)?;
    page(ctx, hx, Some(id), None).await
}

/// Role forms post repeated `permissions` fields, so they are read as pairs.
fn role_form(f: &FormValues) -> RoleBody {
    let text = |k: &str| Some(f.get(k).trim().to_string()).filter(|v| !v.is_empty());
    RoleBody {
        name: text("name"),
        display_name: f.get("display_name").to_string(),
        description: text("description"),
        permissions: f.all("permissions"),
    }
}

async fn submit(
    mut ctx: WebCtx,
    hx: bool,
    id: Option<Uuid>,
    pairs: Vec<(String, String)>,
) -> Result<Response, WebError> {
    let f = FormValues(pairs.into_iter().filter(|(k, _)| k != "_csrf").collect());
    let body = role_form(&f);
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            save(&mut ctx.tx, &slug, &actor, id, &body).await
        })
        .await?;
    match saved {
        Ok(role) => ctx.saved(hx, &format!("/admin/roles/{}", role.id)).await,
        // A taken name belongs beside the name; "system roles cannot be changed" above all.
        Err(r) if id.is_none() => page(ctx, hx, id, Some((f, r.notice_at("name")))).await,
        Err(r) => page(ctx, hx, id, Some((f, r))).await,
    }
}

pub async fn create(
    ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::ROLES_CREATE)?;
    submit(ctx, hx, None, pairs).await
}

pub async fn update(
    ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::ROLES_UPDATE)?;
    submit(ctx, hx, Some(id), pairs).await
}
