//! Roles and the permission matrix: the four system roles (not deletable) plus custom roles.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::platform::audit::{self, Actor, diff};
use crate::platform::auth::api::ApiCtx;
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::events;
use crate::platform::json::ApiJson;
use crate::platform::listing::Problems;
use crate::platform::openapi::{ErrorBody, Items};
use crate::platform::tenancy::{Slug, TenantTx};
use crate::platform::web::PathId;
use crate::platform::web::{Chrome, Hx, see_other};
use crate::render_page;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Role {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub is_system: bool,
    pub permissions: Vec<String>,
    pub user_count: i64,
}

const SELECT: &str = "SELECT r.id, r.name, r.display_name, r.description, COALESCE(r.is_system, false) AS is_system,
    COALESCE((SELECT array_agg(p.resource || ':' || p.action ORDER BY p.resource, p.action)
              FROM role_permissions rp JOIN permissions p ON p.id = rp.permission_id WHERE rp.role_id = r.id), '{}') AS permissions,
    (SELECT COUNT(*) FROM user_roles ur WHERE ur.role_id = r.id) AS user_count
    FROM roles r";

async fn all(tx: &mut TenantTx) -> Result<Vec<Role>, AppError> {
    Ok(
        sqlx::query_as(&format!("{SELECT} ORDER BY r.is_system DESC, r.name"))
            .fetch_all(&mut **tx)
            .await?,
    )
}

async fn one(tx: &mut TenantTx, id: Uuid) -> Result<Role, AppError> {
    sqlx::query_as(&format!("{SELECT} WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Permission {
    pub id: Uuid,
    pub resource: String,
    pub action: String,
    pub key: String,
    pub description: Option<String>,
}

async fn permissions(tx: &mut TenantTx) -> Result<Vec<Permission>, AppError> {
    Ok(sqlx::query_as(
        "SELECT id, resource, action, resource || ':' || action AS key, description FROM permissions ORDER BY resource, action",
    )
    .fetch_all(&mut **tx)
    .await?)
}

#[derive(Debug, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    /// Machine name (lowercase, digits, `_`); derived from `display_name` when absent.
    pub name: Option<String>,
    pub display_name: String,
    pub description: Option<String>,
    /// Permission keys `resource:action`, e.g. `issues:read`.
    pub permissions: Vec<String>,
}

/// "Change Advisory Board" → `change_advisory_board`.
fn machine_name(display: &str) -> String {
    let mut out = String::new();
    for c in display.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').chars().take(50).collect()
}

async fn save(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Option<Uuid>,
    body: &RoleBody,
) -> Result<Role, AppError> {
    let before = match id {
        Some(id) => Some(one(tx, id).await?),
        None => None,
    };
    let mut p = Problems::default();
    if before.as_ref().is_some_and(|r| r.is_system) {
        return Err(AppError::conflict("system roles cannot be changed"));
    }
    let name = match &before {
        Some(r) => r.name.clone(),
        None => match &body.name {
            Some(n) => n.trim().to_lowercase(),
            None => machine_name(&body.display_name),
        },
    };
    if before.is_none() {
        let ok = (2..=50).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            p.add(
                "name",
                "must be 2–50 lowercase letters, digits or underscores",
            );
        }
    }
    if body.display_name.trim().is_empty() {
        p.add("display_name", "is required");
    }
    let known: Vec<String> = permissions(tx).await?.into_iter().map(|p| p.key).collect();
    if let Some(bad) = body.permissions.iter().find(|k| !known.contains(k)) {
        p.add("permissions", format!("unknown permission '{bad}'"));
    }
    p.into_result()?;
    if before.is_none() {
        let taken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM roles WHERE name = $1)")
            .bind(&name)
            .fetch_one(&mut **tx)
            .await?;
        if taken {
            return Err(AppError::conflict("a role with this name already exists"));
        }
    }
    let id: Uuid = match id {
        Some(id) => {
            sqlx::query("UPDATE roles SET display_name = $2, description = $3 WHERE id = $1")
                .bind(id)
                .bind(body.display_name.trim())
                .bind(&body.description)
                .execute(&mut **tx)
                .await?;
            id
        }
        None => sqlx::query_scalar("INSERT INTO roles (name, display_name, description, is_system) VALUES ($1, $2, $3, false) RETURNING id")
            .bind(&name)
            .bind(body.display_name.trim())
            .bind(&body.description)
            .fetch_one(&mut **tx)
            .await?,
    };
    sqlx::query("DELETE FROM role_permissions WHERE role_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("INSERT INTO role_permissions (role_id, permission_id) SELECT $1, id FROM permissions WHERE resource || ':' || action = ANY($2)")
        .bind(id)
        .bind(&body.permissions)
        .execute(&mut **tx)
        .await?;
    let after = one(tx, id).await?;
    let (action, event) = if before.is_some() {
        ("update", "role.updated")
    } else {
        ("create", "role.created")
    };
    let changes = diff(before.as_ref(), Some(&after));
    audit::record(tx, actor, action, "role", id, changes.clone()).await?;
    events::emit(
        tx,
        tenant,
        actor,
        event,
        "role",
        id,
        json!({"role": &after, "changes": changes}),
    )
    .await?;
    Ok(after)
}

#[utoipa::path(get, path = "/roles", tag = "roles", operation_id = "listRoles", responses((status = 200, body = Items<Role>)))]
pub async fn api_list(mut ctx: ApiCtx) -> Result<Json<Value>, AppError> {
    ctx.require(crate::identity::perm::ROLES_READ)?;
    let roles = all(&mut ctx.tx).await?;
    ctx.commit().await?;
    Ok(Json(json!({"data": roles})))
}

#[utoipa::path(get, path = "/roles/{id}", tag = "roles", operation_id = "getRole", params(("id" = Uuid, Path, description = "Role id")), responses((status = 200, body = Role)))]
pub async fn api_get(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Role>, AppError> {
    ctx.require(crate::identity::perm::ROLES_READ)?;
    let role = one(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok(Json(role))
}

#[utoipa::path(post, path = "/roles", tag = "roles", operation_id = "createRole", request_body = RoleBody,
    responses((status = 201, body = Role), (status = 409, description = "Name in use", body = ErrorBody)))]
pub async fn api_create(
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(crate::identity::perm::ROLES_CREATE)?;
    let actor = ctx.actor();
    let role = save(&mut ctx.tx, &ctx.principal.slug, &actor, None, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(role)))
}

#[utoipa::path(put, path = "/roles/{id}", tag = "roles", operation_id = "updateRole", params(("id" = Uuid, Path, description = "Role id")), request_body = RoleBody,
    responses((status = 200, body = Role), (status = 409, description = "System roles cannot be changed", body = ErrorBody)))]
pub async fn api_update(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<RoleBody>,
) -> Result<Json<Role>, AppError> {
    ctx.require(crate::identity::perm::ROLES_UPDATE)?;
    let actor = ctx.actor();
    let role = save(&mut ctx.tx, &ctx.principal.slug, &actor, Some(id), &body).await?;
    ctx.commit().await?;
    Ok(Json(role))
}

#[utoipa::path(delete, path = "/roles/{id}", tag = "roles", operation_id = "deleteRole", params(("id" = Uuid, Path, description = "Role id")),
    responses((status = 204, description = "Deleted"), (status = 409, description = "System roles cannot be deleted", body = ErrorBody)))]
pub async fn api_delete(mut ctx: ApiCtx, PathId(id): PathId) -> Result<StatusCode, AppError> {
    ctx.require(crate::identity::perm::ROLES_DELETE)?;
    let role = one(&mut ctx.tx, id).await?;
    if role.is_system {
        return Err(AppError::conflict("system roles cannot be deleted"));
    }
    sqlx::query("DELETE FROM roles WHERE id = $1")
        .bind(id)
        .execute(&mut *ctx.tx)
        .await?;
    let actor = ctx.actor();
    audit::record(
        &mut ctx.tx,
        &actor,
        "delete",
        "role",
        id,
        diff(Some(&role), None),
    )
    .await?;
    events::emit(
        &mut ctx.tx,
        &ctx.principal.slug,
        &actor,
        "role.deleted",
        "role",
        id,
        json!({"role": role}),
    )
    .await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every permission (resource × action) a role can hold.
#[utoipa::path(get, path = "/permissions", tag = "roles", operation_id = "listPermissions", responses((status = 200, body = Items<Permission>)))]
pub async fn api_permissions(mut ctx: ApiCtx) -> Result<Json<Value>, AppError> {
    ctx.require(crate::identity::perm::ROLES_READ)?;
    let perms = permissions(&mut ctx.tx).await?;
    ctx.commit().await?;
    Ok(Json(json!({"data": perms})))
}

#[derive(Template)]
#[template(path = "identity/roles.html", blocks = ["content"])]
struct RolesPage {
    chrome: Chrome,
    roles: Vec<Role>,
    resources: Vec<(String, Vec<Permission>)>,
    editing: Option<Role>,
    can_edit: bool,
    errors: crate::platform::web::Errors,
}

async fn page(
    mut ctx: WebCtx,
    hx: bool,
    editing: Option<Uuid>,
    errors: BTreeMap<String, String>,
    status: StatusCode,
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
    Ok(render_page!(
        hx,
        RolesPage {
            chrome: Chrome::new(&ctx.principal, &ctx.csrf, "roles", &ctx.manifest),
            roles,
            resources,
            editing,
            can_edit,
            errors: errors.into()
        },
        status
    ))
}

pub async fn web_list(ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::ROLES_READ)?;
    page(ctx, hx, None, BTreeMap::new(), StatusCode::OK).await
}

pub async fn web_detail(ctx: WebCtx, Hx(hx): Hx, PathId(id): PathId) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::ROLES_READ)?;
    page(ctx, hx, Some(id), BTreeMap::new(), StatusCode::OK).await
}

/// Role forms post repeated `permissions` fields, so they are read as pairs.
fn role_form(pairs: Vec<(String, String)>) -> RoleBody {
    let mut map: HashMap<&str, String> = HashMap::new();
    let mut permissions = Vec::new();
    for (k, v) in &pairs {
        if k == "permissions" {
            permissions.push(v.clone());
        } else {
            map.insert(k.as_str(), v.clone());
        }
    }
    RoleBody {
        name: map.remove("name"),
        display_name: map.remove("display_name").unwrap_or_default(),
        description: map.remove("description").filter(|d| !d.trim().is_empty()),
        permissions,
    }
}

async fn web_save(
    mut ctx: WebCtx,
    hx: bool,
    id: Option<Uuid>,
    pairs: Vec<(String, String)>,
) -> Result<Response, WebError> {
    let body = role_form(pairs);
    let actor = ctx.actor();
    let slug = ctx.principal.slug.clone();
    match save(&mut ctx.tx, &slug, &actor, id, &body).await {
        Ok(role) => {
            ctx.tx.commit().await?;
            Ok(see_other(hx, &format!("/admin/roles/{}", role.id)))
        }
        Err(AppError::Validation { fields, .. }) => {
            page(ctx, hx, id, fields, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(AppError::Conflict { message, .. }) => {
            page(
                ctx,
                hx,
                id,
                BTreeMap::from([("name".to_string(), message)]),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn web_create(
    ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::ROLES_CREATE)?;
    web_save(ctx, hx, None, pairs).await
}

pub async fn web_update(
    ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::ROLES_UPDATE)?;
    web_save(ctx, hx, Some(id), pairs).await
}
