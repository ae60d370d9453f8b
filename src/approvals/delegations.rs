//! Out-of-office delegation: between two dates a delegate decides the approver's approvals "on
//! behalf of" them (both names are recorded on the decision). A delegate's own delegation
//! does not pass the approval on: there is no onward delegation, so nobody may hand their
//! approvals to someone who is away at the same time.

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::perm::APPROVALS_DECIDE;
use crate::platform::audit::Actor;
use crate::platform::auth::api::ApiCtx;
use crate::platform::error::AppError;
use crate::platform::events;
use crate::platform::json::ApiJson;
use crate::platform::listing::Problems;
use crate::platform::openapi::Items;
use crate::platform::tenancy::{Slug, TenantTx, exists};
use crate::platform::web::PathId;

const ENTITY: &str = "approval_delegation";

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
#[schema(as = ApprovalDelegation)]
pub struct Delegation {
    pub id: Uuid,
    /// Who is away.
    pub user_id: Uuid,
    pub user_name: String,
    /// Who decides for them.
    pub delegate_id: Uuid,
    pub delegate_name: String,
    pub starts_on: NaiveDate,
    /// The last day, included.
    pub ends_on: NaiveDate,
    pub created_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT d.id, d.user_id, u.name AS user_name, d.delegate_id, g.name AS delegate_name,
    d.starts_on, d.ends_on, d.created_at
    FROM approval_delegations d JOIN users u ON u.id = d.user_id JOIN users g ON g.id = d.delegate_id";

/// The caller's delegations, given and received, that have not ended yet.
pub async fn mine(
    tx: &mut TenantTx,
    user: Uuid,
    today: NaiveDate,
) -> Result<Vec<Delegation>, AppError> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE (d.user_id = $1 OR d.delegate_id = $1) AND d.ends_on >= $2
         ORDER BY d.starts_on, d.created_at"
    ))
    .bind(user)
    .bind(today)
    .fetch_all(&mut **tx)
    .await?)
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApprovalDelegationBody)]
pub struct DelegationBody {
    pub delegate_id: Uuid,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
}

pub async fn create(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    today: NaiveDate,
    b: &DelegationBody,
) -> Result<Delegation, AppError> {
    let me = actor.user_id.ok_or(AppError::Forbidden)?;
    let mut p = Problems::default();
    const ACTIVE: &str = "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND status = 'active')";
    if b.delegate_id == me {
        p.add("delegate_id", "Choose someone other than yourself.");
    } else if !exists(tx, ACTIVE, b.delegate_id).await? {
        p.add("delegate_id", "no such active user");
    }
    if b.ends_on < b.starts_on {
        p.add("ends_on", "The last day cannot be before the first.");
    } else if b.ends_on < today {
        p.add("ends_on", "This period is over already.");
    } else if (b.ends_on - b.starts_on).num_days() > 366 {
        p.add("ends_on", "Delegate for at most a year at a time.");
    }
    let delegate_away: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM approval_delegations WHERE user_id = $1
            AND starts_on <= $3 AND ends_on >= $2)",
    )
    .bind(b.delegate_id)
    .bind(b.starts_on)
    .bind(b.ends_on)
    .fetch_one(&mut **tx)
    .await?;
    if delegate_away {
        p.add(
            "delegate_id",
            "They are away then too and have handed their approvals on; choose someone else.",
        );
    }
    p.into_result()?;
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO approval_delegations (user_id, delegate_id, starts_on, ends_on) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(me)
    .bind(b.delegate_id)
    .bind(b.starts_on)
    .bind(b.ends_on)
    .fetch_one(&mut **tx)
    .await?;
    let after = get(tx, id).await?;
    events::saved(tx, tenant, actor, ENTITY, id, None, &after).await?;
    Ok(after)
}

async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Delegation, AppError> {
    sqlx::query_as(&format!("{SELECT} WHERE d.id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)
}

/// Ends one of the caller's own delegations (someone else's is not found).
pub async fn delete(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Uuid,
) -> Result<(), AppError> {
    let me = actor.user_id.ok_or(AppError::Forbidden)?;
    let before = get(tx, id).await?;
    if before.user_id != me {
        return Err(AppError::NotFound);
    }
    sqlx::query("DELETE FROM approval_delegations WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    events::deleted(tx, tenant, actor, ENTITY, id, &before).await
}

/// The caller's delegations that have not ended: those they gave and those they received.
#[utoipa::path(get, path = "/approvals/delegations", tag = "approvals", operation_id = "listApprovalDelegations",
    responses((status = 200, body = Items<Delegation>)))]
pub async fn api_list(mut ctx: ApiCtx) -> Result<Json<Items<Delegation>>, AppError> {
    ctx.require(APPROVALS_DECIDE)?;
    let today = ctx.principal.today(ctx.now);
    let data = mine(&mut ctx.tx, ctx.principal.user_id, today).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

/// While the caller is away, `delegate_id` decides their approvals (dates inclusive).
#[utoipa::path(post, path = "/approvals/delegations", tag = "approvals", operation_id = "createApprovalDelegation",
    request_body = DelegationBody, responses((status = 201, body = Delegation)))]
pub async fn api_create(
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<DelegationBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(APPROVALS_DECIDE)?;
    let actor = ctx.actor();
    let today = ctx.principal.today(ctx.now);
    let d = create(&mut ctx.tx, &ctx.principal.slug, &actor, today, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(d)))
}

#[utoipa::path(delete, path = "/approvals/delegations/{id}", tag = "approvals", operation_id = "deleteApprovalDelegation",
    params(("id" = Uuid, Path, description = "Delegation id")), responses((status = 204, description = "Ended")))]
pub async fn api_delete(mut ctx: ApiCtx, PathId(id): PathId) -> Result<StatusCode, AppError> {
    ctx.require(APPROVALS_DECIDE)?;
    let actor = ctx.actor();
    delete(&mut ctx.tx, &ctx.principal.slug, &actor, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
