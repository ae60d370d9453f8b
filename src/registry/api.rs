//! `/v1/applications…`: the registry for integrations.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use uuid::Uuid;

use super::actions::{self, ApplicationBody, EnvironmentBody};
use super::store::{self, AppIssue, Application, Environment};
use crate::identity::users_api::parse_id;
use crate::platform::auth::api::ApiCtx;
use crate::platform::error::AppError;
use crate::platform::json::ApiJson;
use crate::platform::listing;
use crate::platform::openapi::{Items, ListQuery, Page};
use crate::platform::web::PathId;
use crate::platform::web::PathIds;

const ID: &str = "Application id";

#[utoipa::path(get, path = "/applications", tag = "applications", operation_id = "listApplications",
    params(ListQuery,
        ("tier" = Option<String>, Query, description = "P1–P4"), ("status" = Option<String>, Query),
        ("lifecycle_stage" = Option<String>, Query), ("criticality" = Option<String>, Query),
        ("owner_user_id" = Option<Uuid>, Query), ("owner_group_id" = Option<Uuid>, Query),
        ("support_group_id" = Option<Uuid>, Query), ("business_unit" = Option<String>, Query),
        ("tag" = Option<String>, Query, description = "applications carrying this tag"),
        ("q" = Option<String>, Query, description = "searches number, name and description")),
    responses((status = 200, description = "Applications (`include=environments` adds each one's environments)", body = Page<Application>)))]
pub async fn list(
    mut ctx: ApiCtx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    ctx.require(crate::registry::perm::APPLICATIONS_READ)?;
    let params = listing::parse(&store::LIST_SPEC, &q)?;
    let (apps, total) = store::list(&mut ctx.tx, &params).await?;
    let mut body = listing::page_body(apps.clone(), &params, total);
    if params.includes.iter().any(|i| i == "environments") {
        let ids: Vec<Uuid> = apps.iter().map(|a| a.id).collect();
        let envs = store::environments_of(&mut ctx.tx, &ids).await?;
        if let Some(items) = body["data"].as_array_mut() {
            for (item, app) in items.iter_mut().zip(&apps) {
                let mine: Vec<_> = envs.iter().filter(|e| e.application_id == app.id).collect();
                item["environments"] = json!(mine);
            }
        }
    }
    ctx.commit().await?;
    Ok(Json(body))
}

#[utoipa::path(post, path = "/applications", tag = "applications", operation_id = "createApplication",
    request_body = ApplicationBody, responses((status = 201, body = Application)))]
pub async fn create(
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<ApplicationBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(crate::registry::perm::APPLICATIONS_CREATE)?;
    let actor = ctx.actor();
    let app = actions::save(&mut ctx.tx, &ctx.principal.slug, &actor, None, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(app)))
}

#[utoipa::path(get, path = "/applications/{id}", tag = "applications", operation_id = "getApplication",
    params(("id" = Uuid, Path, description = ID)), responses((status = 200, body = Application)))]
pub async fn get(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Application>, AppError> {
    ctx.require(crate::registry::perm::APPLICATIONS_READ)?;
    let app = store::get(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok(Json(app))
}

/// Replaces the application: optional fields left out are cleared.
#[utoipa::path(put, path = "/applications/{id}", tag = "applications", operation_id = "updateApplication",
    params(("id" = Uuid, Path, description = ID)), request_body = ApplicationBody,
    responses((status = 200, body = Application)))]
pub async fn update(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<ApplicationBody>,
) -> Result<Json<Application>, AppError> {
    ctx.require(crate::registry::perm::APPLICATIONS_UPDATE)?;
    let actor = ctx.actor();
    let app = actions::save(&mut ctx.tx, &ctx.principal.slug, &actor, Some(id), &body).await?;
    ctx.commit().await?;
    Ok(Json(app))
}

/// Soft delete: the application becomes `inactive`.
#[utoipa::path(delete, path = "/applications/{id}", tag = "applications", operation_id = "deleteApplication",
    params(("id" = Uuid, Path, description = ID)),
    responses((status = 200, description = "The application, now inactive", body = Application)))]
pub async fn delete(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Application>, AppError> {
    ctx.require(crate::registry::perm::APPLICATIONS_DELETE)?;
    let actor = ctx.actor();
    let app = actions::retire(&mut ctx.tx, &ctx.principal.slug, &actor, id).await?;
    ctx.commit().await?;
    Ok(Json(app))
}

/// The application's issues, newest first (`open=true` for unresolved ones only).
#[utoipa::path(get, path = "/applications/{id}/issues", tag = "applications", operation_id = "listApplicationIssues",
    params(("id" = Uuid, Path, description = ID), ("open" = Option<bool>, Query)),
    responses((status = 200, body = Items<AppIssue>)))]
pub async fn issues(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Items<AppIssue>>, AppError> {
    ctx.require(crate::registry::perm::APPLICATIONS_READ)?;
    ctx.require(crate::issues::perm::ISSUES_READ)?;
    let open = match q.get("open").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(AppError::BadRequest("'open' must be true or false".into())),
    };
    if let Some(unknown) = q.keys().find(|k| *k != "open") {
        return Err(AppError::BadRequest(format!(
            "unknown parameter '{unknown}'"
        )));
    }
    store::get(&mut ctx.tx, id).await?;
    let data = store::issues(&mut ctx.tx, id, open).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

#[utoipa::path(get, path = "/applications/{id}/environments", tag = "applications", operation_id = "listEnvironments",
    params(("id" = Uuid, Path, description = ID)), responses((status = 200, body = Items<Environment>)))]
pub async fn environments(
    mut ctx: ApiCtx,
    PathId(id): PathId,
) -> Result<Json<Items<Environment>>, AppError> {
    ctx.require(crate::registry::perm::APPLICATIONS_READ)?;
    store::get(&mut ctx.tx, id).await?;
    let data = store::environments(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

#[utoipa::path(post, path = "/applications/{id}/environments", tag = "applications", operation_id = "createEnvironment",
    params(("id" = Uuid, Path, description = ID)), request_body = EnvironmentBody,
    responses((status = 201, body = Environment)))]
pub async fn create_environment(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<EnvironmentBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(crate::registry::perm::APPLICATIONS_UPDATE)?;
    let actor = ctx.actor();
    let env = actions::save_environment(&mut ctx.tx, &ctx.principal.slug, &actor, id, None, &body)
        .await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(env)))
}

#[utoipa::path(get, path = "/applications/{id}/environments/{env_id}", tag = "applications", operation_id = "getEnvironment",
    params(("id" = Uuid, Path, description = ID), ("env_id" = Uuid, Path, description = "Environment id")),
    responses((status = 200, body = Environment)))]
pub async fn get_environment(
    mut ctx: ApiCtx,
    Path((id, env_id)): Path<(String, String)>,
) -> Result<Json<Environment>, AppError> {
    ctx.require(crate::registry::perm::APPLICATIONS_READ)?;
    let env = store::environment(&mut ctx.tx, parse_id(&id)?, parse_id(&env_id)?).await?;
    ctx.commit().await?;
    Ok(Json(env))
}

#[utoipa::path(put, path = "/applications/{id}/environments/{env_id}", tag = "applications", operation_id = "updateEnvironment",
    params(("id" = Uuid, Path, description = ID), ("env_id" = Uuid, Path, description = "Environment id")),
    request_body = EnvironmentBody, responses((status = 200, body = Environment)))]
pub async fn update_environment(
    mut ctx: ApiCtx,
    PathIds(id, env_id): PathIds,
    ApiJson(body): ApiJson<EnvironmentBody>,
) -> Result<Json<Environment>, AppError> {
    ctx.require(crate::registry::perm::APPLICATIONS_UPDATE)?;
    let actor = ctx.actor();
    let env = actions::save_environment(
        &mut ctx.tx,
        &ctx.principal.slug,
        &actor,
        id,
        Some(env_id),
        &body,
    )
    .await?;
    ctx.commit().await?;
    Ok(Json(env))
}

#[utoipa::path(delete, path = "/applications/{id}/environments/{env_id}", tag = "applications", operation_id = "deleteEnvironment",
    params(("id" = Uuid, Path, description = ID), ("env_id" = Uuid, Path, description = "Environment id")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_environment(
    mut ctx: ApiCtx,
    PathIds(id, env_id): PathIds,
) -> Result<StatusCode, AppError> {
    ctx.require(crate::registry::perm::APPLICATIONS_UPDATE)?;
    let actor = ctx.actor();
    actions::delete_environment(&mut ctx.tx, &ctx.principal.slug, &actor, id, env_id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
