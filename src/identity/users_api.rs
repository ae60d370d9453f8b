//! `/v1/users…`: list, create, read, update, deactivate, change password, memberships.

use std::collections::HashMap;

use axum::Json;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::users_store::{self as store, NewUser, UserChanges};
use crate::platform::audit::{self, Actor, diff};
use crate::platform::auth::api::ApiCtx;
use crate::platform::auth::password;
use crate::platform::error::AppError;
use crate::platform::events;
use crate::platform::json::ApiJson;
use crate::platform::listing::{self, Problems};
use crate::platform::openapi::{ErrorBody, Items, ListQuery, Page};
use crate::platform::tenancy::{Slug, TenantTx};
use crate::platform::web::PathId;
use utoipa::ToSchema;

pub fn parse_id(raw: &str) -> Result<Uuid, AppError> {
    raw.parse().map_err(|_| AppError::NotFound)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub email: String,
    pub name: String,
    pub password: Option<String>,
    pub roles: Option<Vec<String>>,
    pub timezone: Option<String>,
    pub phone: Option<String>,
}

pub fn check_timezone(p: &mut Problems, field: &str, tz: &str) {
    if tz.parse::<chrono_tz::Tz>().is_err() {
        p.add(field, "must be an IANA time zone such as Europe/Berlin");
    }
}

pub fn check_name(p: &mut Problems, name: &str) {
    if name.trim().is_empty() {
        p.add("name", "is required");
    } else if name.chars().count() > 255 {
        p.add("name", "must be at most 255 characters");
    }
}

pub fn check_phone(p: &mut Problems, phone: Option<&str>) {
    if let Some(phone) = phone
        && (phone.len() > 50
            || !phone
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c)))
    {
        p.add(
            "phone",
            "must be a phone number (digits, spaces, + - ( ) .)",
        );
    }
}

/// Creates a user with validation, roles, audit row and `user.created` — shared by API and UI.
pub async fn create_user(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    body: &CreateUser,
) -> Result<store::User, AppError> {
    let mut p = Problems::default();
    if let Err(m) = domain::identity::check_email(&body.email) {
        p.add("email", m);
    }
    check_name(&mut p, &body.name);
    if let Some(pw) = &body.password
        && let Err(problem) = domain::identity::check_password(pw, &body.email)
    {
        p.add("password", problem.to_string());
    }
    let tz = body.timezone.as_deref().unwrap_or("UTC");
    check_timezone(&mut p, "timezone", tz);
    check_phone(&mut p, body.phone.as_deref());
    p.into_result()?;
    let taken: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = $1)")
            .bind(domain::identity::normalize_email(&body.email))
            .fetch_one(&mut **tx)
            .await?;
    if taken {
        return Err(AppError::conflict("a user with this e-mail already exists"));
    }
    let hash = match &body.password {
        Some(pw) => Some(password::hash_blocking(pw.clone()).await?),
        None => None,
    };
    let id = store::create(
        tx,
        NewUser {
            email: &body.email,
            name: &body.name,
            password_hash: hash,
            timezone: tz,
            phone: body.phone.as_deref(),
        },
    )
    .await?;
    let roles = body
        .roles
        .clone()
        .unwrap_or_else(|| vec!["requester".into()]);
    store::set_roles(tx, id, &roles, actor.user_id).await?;
    let user = store::get(tx, id).await?;
    audit::record(tx, actor, "create", "user", id, diff(None, Some(&user))).await?;
    events::emit(
        tx,
        tenant,
        actor,
        "user.created",
        "user",
        id,
        json!({"user": &user}),
    )
    .await?;
    Ok(user)
}

/// List users. Filters: `status`, `email`, `role`, `group_id`; `q` searches name and e-mail;
/// `include=groups` adds memberships.
#[utoipa::path(get, path = "/users", tag = "users", operation_id = "listUsers",
    params(ListQuery,
        ("status" = Option<String>, Query, description = "active, inactive or pending"),
        ("email" = Option<String>, Query), ("role" = Option<String>, Query, description = "role name"),
        ("group_id" = Option<Uuid>, Query), ("q" = Option<String>, Query, description = "searches name and e-mail")),
    responses((status = 200, description = "Users (`include=groups` adds each user's `groups`)", body = Page<store::User>)))]
pub async fn list(
    mut ctx: ApiCtx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    ctx.require(crate::identity::perm::USERS_READ)?;
    let params = listing::parse(&store::LIST_SPEC, &q)?;
    let (users, total) = store::list(&mut ctx.tx, &params).await?;
    let mut body = listing::page_body(users.clone(), &params, total);
    if params.includes.iter().any(|i| i == "groups") {
        let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
        let memberships = store::groups_of(&mut ctx.tx, &ids).await?;
        if let Some(items) = body["data"].as_array_mut() {
            for (item, user) in items.iter_mut().zip(&users) {
                let groups: Vec<_> = memberships
                    .iter()
                    .filter(|(uid, _)| *uid == user.id)
                    .map(|(_, m)| m)
                    .collect();
                item["groups"] = json!(groups);
            }
        }
    }
    ctx.commit().await?;
    Ok(Json(body))
}

/// Create a user (admin). `roles` defaults to `["requester"]`; without a password the user is
/// `pending` until they set one through a reset.
#[utoipa::path(post, path = "/users", tag = "users", operation_id = "createUser", request_body = CreateUser,
    responses((status = 201, body = store::User), (status = 409, description = "E-mail already in use", body = ErrorBody)))]
pub async fn create(
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(crate::identity::perm::USERS_CREATE)?;
    let actor = ctx.actor();
    let user = create_user(&mut ctx.tx, &ctx.principal.slug, &actor, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[utoipa::path(get, path = "/users/{id}", tag = "users", operation_id = "getUser", params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = store::User)))]
pub async fn get(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<store::User>, AppError> {
    ctx.require(crate::identity::perm::USERS_READ)?;
    let user = store::get(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok(Json(user))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub name: Option<String>,
    pub email: Option<String>,
    pub timezone: Option<String>,
    /// `null` clears the phone number.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>, nullable)]
    pub phone: Option<Option<String>>,
    pub status: Option<String>,
    pub roles: Option<Vec<String>>,
}

mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Ok(Some(Option::deserialize(d)?))
    }
}

/// Applies a user update (validation, self-protection, audit, event) — shared by API and UI.
pub async fn update_user(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Uuid,
    body: &UpdateUser,
) -> Result<store::User, AppError> {
    let before = store::get(tx, id).await?;
    let mut p = Problems::default();
    if let Some(name) = &body.name {
        check_name(&mut p, name);
    }
    if let Some(email) = &body.email
        && let Err(m) = domain::identity::check_email(email)
    {
        p.add("email", m);
    }
    if let Some(tz) = &body.timezone {
        check_timezone(&mut p, "timezone", tz);
    }
    check_phone(&mut p, body.phone.as_ref().and_then(|p| p.as_deref()));
    if let Some(status) = &body.status {
        if !matches!(status.as_str(), "active" | "inactive") {
            p.add("status", "must be active or inactive");
        } else if status == "inactive" && actor.user_id == Some(id) {
            p.add("status", "you cannot deactivate yourself");
        }
    }
    if let Some(roles) = &body.roles
        && actor.user_id == Some(id)
        && before.roles.iter().any(|r| r == "admin")
        && !roles.iter().any(|r| r == "admin")
    {
        p.add("roles", "you cannot remove your own admin role");
    }
    p.into_result()?;
    store::update(
        tx,
        id,
        UserChanges {
            name: body.name.as_deref(),
            email: body.email.as_deref(),
            timezone: body.timezone.as_deref(),
            phone: body
                .phone
                .as_ref()
                .map(|p| p.as_deref().filter(|s| !s.trim().is_empty())),
            status: body.status.as_deref(),
        },
    )
    .await?;
    if let Some(roles) = &body.roles {
        store::set_roles(tx, id, roles, actor.user_id).await?;
    }
    let after = store::get(tx, id).await?;
    let changes = diff(Some(&before), Some(&after));
    let deactivated = before.status != "inactive" && after.status == "inactive";
    let action = if deactivated { "deactivate" } else { "update" };
    audit::record(tx, actor, action, "user", id, changes.clone()).await?;
    let event = if deactivated {
        "user.deactivated"
    } else {
        "user.updated"
    };
    events::emit(
        tx,
        tenant,
        actor,
        event,
        "user",
        id,
        json!({"user": &after, "changes": changes}),
    )
    .await?;
    Ok(after)
}

#[utoipa::path(put, path = "/users/{id}", tag = "users", operation_id = "updateUser", params(("id" = Uuid, Path, description = "User id")), request_body = UpdateUser,
    responses((status = 200, body = store::User)))]
pub async fn update(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<UpdateUser>,
) -> Result<Json<store::User>, AppError> {
    ctx.require(crate::identity::perm::USERS_UPDATE)?;
    let actor = ctx.actor();
    let user = update_user(&mut ctx.tx, &ctx.principal.slug, &actor, id, &body).await?;
    ctx.commit().await?;
    Ok(Json(user))
}

/// Deactivate (users are never hard-deleted: their history stays attributable).
#[utoipa::path(delete, path = "/users/{id}", tag = "users", operation_id = "deactivateUser", params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, description = "The user, now inactive", body = store::User),
        (status = 422, description = "Callers cannot deactivate themselves")))]
pub async fn deactivate(
    mut ctx: ApiCtx,
    PathId(id): PathId,
) -> Result<Json<store::User>, AppError> {
    ctx.require(crate::identity::perm::USERS_DELETE)?;
    let actor = ctx.actor();
    let body = UpdateUser {
        status: Some("inactive".into()),
        ..Default::default()
    };
    let user = update_user(&mut ctx.tx, &ctx.principal.slug, &actor, id, &body).await?;
    ctx.commit().await?;
    Ok(Json(user))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: Option<String>,
    pub new_password: String,
}

/// Changes a password: one's own (current password required) or, for admins, anyone's.
/// Ends the user's other sessions and tokens.
pub async fn change_password_in(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    is_admin: bool,
    id: Uuid,
    body: &ChangePassword,
) -> Result<(), AppError> {
    let own = actor.user_id == Some(id);
    if !own && !is_admin {
        return Err(AppError::Forbidden);
    }
    let user = store::get(tx, id).await?;
    if own {
        let current = body.current_password.clone().unwrap_or_default();
        let hash = store::password_hash(tx, id).await?;
        if !password::verify_blocking(current, hash).await? {
            return Err(AppError::field(
                "current_password",
                "is not your current password",
            ));
        }
    }
    if let Err(problem) = domain::identity::check_password(&body.new_password, &user.email) {
        return Err(AppError::field("new_password", problem.to_string()));
    }
    let hash = password::hash_blocking(body.new_password.clone()).await?;
    store::set_password(tx, id, &hash).await?;
    audit::record(
        tx,
        actor,
        "change_password",
        "user",
        id,
        json!({"password": "changed"}),
    )
    .await?;
    events::emit(
        tx,
        tenant,
        actor,
        "user.password_changed",
        "user",
        id,
        json!({"user_id": id}),
    )
    .await?;
    Ok(())
}

/// Own password (with `current_password`) or, with `users:update`, anyone's.
#[utoipa::path(put, path = "/users/{id}/password", tag = "users", operation_id = "changeUserPassword", params(("id" = Uuid, Path, description = "User id")), request_body = ChangePassword,
    responses((status = 204, description = "Changed; the user's other sessions and tokens end")))]
pub async fn change_password(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<ChangePassword>,
) -> Result<StatusCode, AppError> {
    if ctx.principal.user_id != id {
        ctx.require(crate::identity::perm::USERS_UPDATE)?;
    }
    let actor = ctx.actor();
    let is_admin = ctx.principal.can(crate::identity::perm::USERS_UPDATE);
    change_password_in(
        &mut ctx.tx,
        &ctx.principal.slug,
        &actor,
        is_admin,
        id,
        &body,
    )
    .await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The groups a user belongs to.
#[utoipa::path(get, path = "/users/{id}/groups", tag = "users", operation_id = "listUserGroups", params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = Items<store::Membership>)))]
pub async fn groups(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Value>, AppError> {
    if ctx.principal.user_id != id {
        ctx.require(crate::identity::perm::USERS_READ)?;
    }
    store::get(&mut ctx.tx, id).await?;
    let memberships: Vec<_> = store::groups_of(&mut ctx.tx, &[id])
        .await?
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    ctx.commit().await?;
    Ok(Json(json!({"data": memberships})))
}
