//! The groups admin pages: the list with its form, and one group with its members.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::Form;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::groups_actions::{self as actions, GroupBody};
use super::groups_store::{self as store, Group};
use super::users_store;
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::listing;
use crate::platform::web::{Chrome, Hx, PathId, PathIds, see_other};
use crate::render_page;

#[derive(Template)]
#[template(path = "identity/groups.html", blocks = ["content"])]
struct GroupsPage {
    chrome: Chrome,
    groups: Vec<Group>,
    can_create: bool,
    errors: crate::platform::web::Errors,
    form_name: String,
}

async fn groups_page(
    mut ctx: WebCtx,
    hx: bool,
    errors: BTreeMap<String, String>,
    form_name: String,
    status: StatusCode,
) -> Result<Response, WebError> {
    let params = listing::parse(
        &store::LIST_SPEC,
        &HashMap::from([("per_page".to_string(), "100".to_string())]),
    )?;
    let (groups, _) = store::list(&mut ctx.tx, &params).await?;
    ctx.tx.commit().await?;
    let can_create = ctx.principal.can(crate::identity::perm::GROUPS_CREATE);
    Ok(render_page!(
        hx,
        GroupsPage {
            chrome: Chrome::new(&ctx.principal, &ctx.csrf, "groups", &ctx.manifest, ctx.now),
            groups,
            can_create,
            errors: errors.into(),
            form_name
        },
        status
    ))
}

pub async fn list(ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::GROUPS_READ)?;
    groups_page(ctx, hx, BTreeMap::new(), String::new(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct GroupForm {
    name: String,
    description: String,
    #[serde(rename = "type")]
    group_type: String,
    parent_id: String,
    manager_id: String,
    email: String,
}

impl GroupForm {
    fn into_body(self) -> Result<GroupBody, AppError> {
        let opt_id = |field: &str, v: &str| -> Result<Option<Uuid>, AppError> {
            if v.is_empty() {
                Ok(None)
            } else {
                v.parse()
                    .map(Some)
                    .map_err(|_| AppError::field(field, "choose one from the list"))
            }
        };
        Ok(GroupBody {
            parent_id: opt_id("parent_id", &self.parent_id)?,
            manager_id: opt_id("manager_id", &self.manager_id)?,
            name: self.name,
            description: Some(self.description),
            group_type: Some(self.group_type),
            email: Some(self.email),
        })
    }
}

pub async fn create(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Form(form): Form<GroupForm>,
) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::GROUPS_CREATE)?;
    let name = form.name.clone();
    let made = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            actions::save(&mut ctx.tx, &slug, &actor, None, &form.into_body()?).await
        })
        .await?;
    match made {
        Ok(g) => ctx.saved(hx, &format!("/admin/groups/{}", g.id)).await,
        Err(r) => {
            let r = r.notice_at("name");
            groups_page(ctx, hx, r.errors.0, name, r.status).await
        }
    }
}

#[derive(Template)]
#[template(path = "identity/group.html", blocks = ["content"])]
struct GroupPage {
    chrome: Chrome,
    group: Group,
    members: Vec<store::Member>,
    groups: Vec<Group>,
    users: Vec<users_store::User>,
    can_edit: bool,
    errors: crate::platform::web::Errors,
}

async fn group_page(
    mut ctx: WebCtx,
    hx: bool,
    id: Uuid,
    errors: BTreeMap<String, String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let group = store::get(&mut ctx.tx, id).await?;
    let members = store::members(&mut ctx.tx, id).await?;
    let all = listing::parse(
        &store::LIST_SPEC,
        &HashMap::from([("per_page".to_string(), "100".to_string())]),
    )?;
    let (groups, _) = store::list(&mut ctx.tx, &all).await?;
    let user_params = listing::parse(
        &users_store::LIST_SPEC,
        &HashMap::from([
            ("per_page".into(), "100".into()),
            ("status".into(), "active".into()),
        ]),
    )?;
    let (users, _) = users_store::list(&mut ctx.tx, &user_params).await?;
    ctx.tx.commit().await?;
    let can_edit = ctx.principal.can(crate::identity::perm::GROUPS_UPDATE);
    let groups = groups.into_iter().filter(|g| g.id != id).collect();
    Ok(render_page!(
        hx,
        GroupPage {
            chrome: Chrome::new(&ctx.principal, &ctx.csrf, "groups", &ctx.manifest, ctx.now),
            group,
            members,
            groups,
            users,
            can_edit,
            errors: errors.into()
        },
        status
    ))
}

pub async fn detail(ctx: WebCtx, Hx(hx): Hx, PathId(id): PathId) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::GROUPS_READ)?;
    group_page(ctx, hx, id, BTreeMap::new(), StatusCode::OK).await
}

pub async fn update(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(form): Form<GroupForm>,
) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::GROUPS_UPDATE)?;
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            actions::save(&mut ctx.tx, &slug, &actor, Some(id), &form.into_body()?).await
        })
        .await?;
    match saved {
        Ok(_) => ctx.saved(hx, &format!("/admin/groups/{id}")).await,
        Err(r) => {
            let r = r.notice_at("name");
            group_page(ctx, hx, id, r.errors.0, r.status).await
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MemberForm {
    user_id: String,
    role: String,
}

pub async fn add_member(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(form): Form<MemberForm>,
) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::GROUPS_UPDATE)?;
    let saved = ctx
        .save(async |ctx| {
            let user_id: Uuid = form
                .user_id
                .parse()
                .map_err(|_| AppError::field("user_id", "choose a user"))?;
            let role = if form.role.is_empty() {
                "member"
            } else {
                form.role.as_str()
            };
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            actions::add_member(&mut ctx.tx, &slug, &actor, id, user_id, role).await
        })
        .await?;
    match saved {
        Ok(()) => ctx.saved(hx, &format!("/admin/groups/{id}")).await,
        Err(r) => group_page(ctx, hx, id, r.errors.0, r.status).await,
    }
}

pub async fn remove_member(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathIds(id, user_id): PathIds,
) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::GROUPS_UPDATE)?;
    let actor = ctx.actor();
    let slug = ctx.principal.slug.clone();
    actions::remove_member(&mut ctx.tx, &slug, &actor, id, user_id).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, &format!("/admin/groups/{id}")))
}
