//! Groups (teams, departments, distribution lists) with hierarchy, manager and members — the
//! `/v1/groups…` API and the admin pages, sharing one set of actions.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::groups_store::{self as store, Group, GroupInput};
use super::users_store;
use crate::platform::audit::{self, Actor, diff};
use crate::platform::auth::api::ApiCtx;
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::events;
use crate::platform::json::ApiJson;
use crate::platform::listing::{self, Problems};
use crate::platform::openapi::{ErrorBody, Items, ListQuery, Page};
use crate::platform::tenancy::{Slug, TenantTx};
use crate::platform::web::PathId;
use crate::platform::web::PathIds;
use crate::platform::web::{Chrome, Hx, see_other};
use crate::render_page;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupBody {
    pub name: String,
    pub description: Option<String>,
    /// team, department or distribution (default team).
    #[serde(rename = "type")]
    pub group_type: Option<String>,
    pub parent_id: Option<Uuid>,
    pub manager_id: Option<Uuid>,
    pub email: Option<String>,
}

async fn save_group(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Option<Uuid>,
    body: &GroupBody,
) -> Result<Group, AppError> {
    let before = match id {
        Some(id) => Some(store::get(tx, id).await?),
        None => None,
    };
    let mut p = Problems::default();
    if body.name.trim().is_empty() {
        p.add("name", "is required");
    } else if body.name.chars().count() > 255 {
        p.add("name", "must be at most 255 characters");
    }
    let group_type = body
        .group_type
        .as_deref()
        .filter(|t| !t.is_empty())
        .unwrap_or("team");
    if !matches!(group_type, "team" | "department" | "distribution") {
        p.add("type", "must be team, department or distribution");
    }
    let email = body
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    if let Some(e) = email
        && let Err(m) = domain::identity::check_email(e)
    {
        p.add("email", m);
    }
    if let Some(parent) = body.parent_id {
        if !store::exists(tx, "groups", parent).await? {
            p.add("parent_id", "no such group");
        } else if let Some(id) = id
            && (parent == id || store::would_cycle(tx, id, parent).await?)
        {
            p.add("parent_id", "would make the group its own ancestor");
        }
    }
    if let Some(manager) = body.manager_id
        && !store::exists(tx, "users", manager).await?
    {
        p.add("manager_id", "no such user");
    }
    p.into_result()?;
    // Checked before writing so the transaction stays usable for re-rendering a form; the
    // unique index still settles races.
    let taken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM groups WHERE lower(name) = lower($1) AND id IS DISTINCT FROM $2)")
        .bind(body.name.trim())
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    if taken {
        return Err(AppError::conflict("a group with this name already exists"));
    }
    let input = GroupInput {
        name: &body.name,
        description: body.description.as_deref().filter(|d| !d.trim().is_empty()),
        group_type,
        parent_id: body.parent_id,
        manager_id: body.manager_id,
        email,
    };
    let id = match id {
        Some(id) => {
            store::update(tx, id, &input).await?;
            id
        }
        None => store::create(tx, &input).await?,
    };
    let after = store::get(tx, id).await?;
    let (action, event) = if before.is_some() {
        ("update", "group.updated")
    } else {
        ("create", "group.created")
    };
    let changes = diff(before.as_ref(), Some(&after));
    audit::record(tx, actor, action, "group", id, changes.clone()).await?;
    events::emit(
        tx,
        tenant,
        actor,
        event,
        "group",
        id,
        json!({"group": &after, "changes": changes}),
    )
    .await?;
    Ok(after)
}

async fn add_member_in(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    group_id: Uuid,
    user_id: Uuid,
    role: &str,
) -> Result<(), AppError> {
    store::get(tx, group_id).await?;
    if !matches!(role, "member" | "lead") {
        return Err(AppError::field("role", "must be member or lead"));
    }
    if !store::exists(tx, "users", user_id).await? {
        return Err(AppError::field("user_id", "no such user"));
    }
    let before = store::upsert_member(tx, group_id, user_id, role).await?;
    let changes = json!({"member": {"old": before.as_ref().map(|r| json!({"user_id": user_id, "role": r})), "new": {"user_id": user_id, "role": role}}});
    audit::record(tx, actor, "add_member", "group", group_id, changes).await?;
    events::emit(
        tx,
        tenant,
        actor,
        "group.member_added",
        "group",
        group_id,
        json!({"group_id": group_id, "user_id": user_id, "role": role}),
    )
    .await?;
    Ok(())
}

async fn remove_member_in(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    group_id: Uuid,
    user_id: Uuid,
) -> Result<(), AppError> {
    store::get(tx, group_id).await?;
    if !store::remove_member(tx, group_id, user_id).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        tx,
        actor,
        "remove_member",
        "group",
        group_id,
        json!({"member": {"old": {"user_id": user_id}, "new": null}}),
    )
    .await?;
    events::emit(
        tx,
        tenant,
        actor,
        "group.member_removed",
        "group",
        group_id,
        json!({"group_id": group_id, "user_id": user_id}),
    )
    .await?;
    Ok(())
}

#[utoipa::path(get, path = "/groups", tag = "groups", operation_id = "listGroups",
    params(ListQuery, ("type" = Option<String>, Query), ("parent_id" = Option<Uuid>, Query), ("manager_id" = Option<Uuid>, Query)),
    responses((status = 200, body = Page<Group>)))]
pub async fn list(
    mut ctx: ApiCtx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    ctx.require(crate::identity::perm::GROUPS_READ)?;
    let params = listing::parse(&store::LIST_SPEC, &q)?;
    let (groups, total) = store::list(&mut ctx.tx, &params).await?;
    ctx.commit().await?;
    Ok(Json(listing::page_body(groups, &params, total)))
}

#[utoipa::path(post, path = "/groups", tag = "groups", operation_id = "createGroup", request_body = GroupBody,
    responses((status = 201, body = Group), (status = 409, description = "Name in use", body = ErrorBody)))]
pub async fn create(
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<GroupBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(crate::identity::perm::GROUPS_CREATE)?;
    let actor = ctx.actor();
    let group = save_group(&mut ctx.tx, &ctx.principal.slug, &actor, None, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(group)))
}

#[utoipa::path(get, path = "/groups/{id}", tag = "groups", operation_id = "getGroup", params(("id" = Uuid, Path, description = "Group id")),
    responses((status = 200, body = Group)))]
pub async fn get(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Group>, AppError> {
    ctx.require(crate::identity::perm::GROUPS_READ)?;
    let group = store::get(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok(Json(group))
}

#[utoipa::path(put, path = "/groups/{id}", tag = "groups", operation_id = "updateGroup", params(("id" = Uuid, Path, description = "Group id")), request_body = GroupBody,
    responses((status = 200, body = Group), (status = 409, description = "Name in use", body = ErrorBody)))]
pub async fn update(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<GroupBody>,
) -> Result<Json<Group>, AppError> {
    ctx.require(crate::identity::perm::GROUPS_UPDATE)?;
    let actor = ctx.actor();
    let group = save_group(&mut ctx.tx, &ctx.principal.slug, &actor, Some(id), &body).await?;
    ctx.commit().await?;
    Ok(Json(group))
}

#[utoipa::path(delete, path = "/groups/{id}", tag = "groups", operation_id = "deleteGroup", params(("id" = Uuid, Path, description = "Group id")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(mut ctx: ApiCtx, PathId(id): PathId) -> Result<StatusCode, AppError> {
    ctx.require(crate::identity::perm::GROUPS_DELETE)?;
    let before = store::get(&mut ctx.tx, id).await?;
    store::delete(&mut ctx.tx, id).await?;
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        "delete",
        "group",
        id,
        diff(Some(&before), None),
    )
    .await?;
    events::emit(
        &mut ctx.tx,
        &ctx.principal.slug,
        &actor,
        "group.deleted",
        "group",
        id,
        json!({"group": before}),
    )
    .await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/groups/{id}/members", tag = "groups", operation_id = "listGroupMembers", params(("id" = Uuid, Path, description = "Group id")),
    responses((status = 200, body = Items<store::Member>)))]
pub async fn members(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Value>, AppError> {
    ctx.require(crate::identity::perm::GROUPS_READ)?;
    store::get(&mut ctx.tx, id).await?;
    let members = store::members(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok(Json(json!({"data": members})))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    pub user_id: Uuid,
    /// member or lead (default member).
    pub role: Option<String>,
}

#[utoipa::path(post, path = "/groups/{id}/members", tag = "groups", operation_id = "addGroupMember", params(("id" = Uuid, Path, description = "Group id")), request_body = MemberBody,
    responses((status = 201, description = "The group's members after the change", body = Items<store::Member>)))]
pub async fn add_member(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<MemberBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(crate::identity::perm::GROUPS_UPDATE)?;
    let actor = ctx.actor();
    add_member_in(
        &mut ctx.tx,
        &ctx.principal.slug,
        &actor,
        id,
        body.user_id,
        body.role.as_deref().unwrap_or("member"),
    )
    .await?;
    let members = store::members(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(json!({"data": members}))))
}

#[utoipa::path(delete, path = "/groups/{id}/members/{user_id}", tag = "groups", operation_id = "removeGroupMember",
    params(("id" = Uuid, Path, description = "Group id"), ("user_id" = Uuid, Path)), responses((status = 204, description = "Removed")))]
pub async fn remove_member(
    mut ctx: ApiCtx,
    PathIds(id, user_id): PathIds,
) -> Result<StatusCode, AppError> {
    ctx.require(crate::identity::perm::GROUPS_UPDATE)?;
    let actor = ctx.actor();
    remove_member_in(&mut ctx.tx, &ctx.principal.slug, &actor, id, user_id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------- admin pages ----------

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
            chrome: Chrome::new(&ctx.principal, &ctx.csrf, "groups", &ctx.manifest),
            groups,
            can_create,
            errors: errors.into(),
            form_name
        },
        status
    ))
}

pub async fn web_list(ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
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

pub async fn web_create(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Form(form): Form<GroupForm>,
) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::GROUPS_CREATE)?;
    let name = form.name.clone();
    let actor = ctx.actor();
    let slug = ctx.principal.slug.clone();
    let result = match form.into_body() {
        Ok(body) => save_group(&mut ctx.tx, &slug, &actor, None, &body).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(g) => {
            ctx.tx.commit().await?;
            Ok(see_other(hx, &format!("/admin/groups/{}", g.id)))
        }
        Err(AppError::Validation { fields, .. }) => {
            groups_page(ctx, hx, fields, name, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(AppError::Conflict { message, .. }) => {
            groups_page(
                ctx,
                hx,
                BTreeMap::from([("name".into(), message)]),
                name,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => Err(e.into()),
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
            chrome: Chrome::new(&ctx.principal, &ctx.csrf, "groups", &ctx.manifest),
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

pub async fn web_detail(ctx: WebCtx, Hx(hx): Hx, PathId(id): PathId) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::GROUPS_READ)?;
    group_page(ctx, hx, id, BTreeMap::new(), StatusCode::OK).await
}

pub async fn web_update(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(form): Form<GroupForm>,
) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::GROUPS_UPDATE)?;
    let actor = ctx.actor();
    let slug = ctx.principal.slug.clone();
    let result = match form.into_body() {
        Ok(body) => save_group(&mut ctx.tx, &slug, &actor, Some(id), &body).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => {
            ctx.tx.commit().await?;
            Ok(see_other(hx, &format!("/admin/groups/{id}")))
        }
        Err(AppError::Validation { fields, .. }) => {
            group_page(ctx, hx, id, fields, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MemberForm {
    user_id: String,
    role: String,
}

pub async fn web_add_member(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(form): Form<MemberForm>,
) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::GROUPS_UPDATE)?;
    let actor = ctx.actor();
    let slug = ctx.principal.slug.clone();
    let result = match form.user_id.parse::<Uuid>() {
        Ok(user_id) => {
            let role = if form.role.is_empty() {
                "member"
            } else {
                form.role.as_str()
            };
            add_member_in(&mut ctx.tx, &slug, &actor, id, user_id, role).await
        }
        Err(_) => Err(AppError::field("user_id", "choose a user")),
    };
    match result {
        Ok(()) => {
            ctx.tx.commit().await?;
            Ok(see_other(hx, &format!("/admin/groups/{id}")))
        }
        Err(AppError::Validation { fields, .. }) => {
            group_page(ctx, hx, id, fields, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn web_remove_member(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathIds(id, user_id): PathIds,
) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::GROUPS_UPDATE)?;
    let actor = ctx.actor();
    let slug = ctx.principal.slug.clone();
    remove_member_in(&mut ctx.tx, &slug, &actor, id, user_id).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, &format!("/admin/groups/{id}")))
}
