//! `/v1/approvals`: the caller's approvals and their decisions.

use std::collections::HashMap;

use axum::Json;
use axum::extract::Query;
use domain::approvals::Decision;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::engine::{self, Approval};
use super::perm::APPROVALS_DECIDE;
use crate::platform::auth::api::ApiCtx;
use crate::platform::error::AppError;
use crate::platform::json::ApiJson;
use crate::platform::openapi::Items;
use crate::platform::tenancy::TenantTx;
use crate::platform::web::PathId;

/// An approval with the record it concerns.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboxEntry {
    #[serde(flatten)]
    pub approval: Approval,
    /// `REQ-00012`.
    pub number: String,
    pub title: String,
    /// The record's page.
    pub path: String,
    pub requester: String,
}

/// The caller's approvals joined to what they concern; records an area no longer knows drop out.
pub async fn entries(
    tx: &mut TenantTx,
    manifest: &crate::platform::module::Manifest,
    rows: Vec<Approval>,
) -> Result<Vec<InboxEntry>, AppError> {
    let mut out = Vec::with_capacity(rows.len());
    let mut by_type: std::collections::BTreeMap<String, Vec<uuid::Uuid>> = Default::default();
    for r in &rows {
        by_type
            .entry(r.entity_type.clone())
            .or_default()
            .push(r.entity_id);
    }
    let mut described = HashMap::new();
    for (t, ids) in by_type {
        if let Some(subject) = manifest.approval_subject(&t) {
            for d in subject.describe(tx, &ids).await? {
                described.insert(d.id, d);
            }
        }
    }
    for approval in rows {
        if let Some(d) = described.get(&approval.entity_id) {
            out.push(InboxEntry {
                number: d.number.clone(),
                title: d.title.clone(),
                path: d.path.clone(),
                requester: d.requester.clone(),
                approval,
            });
        }
    }
    Ok(out)
}

/// The caller's approvals, newest first (`status=pending` for those waiting on them now).
#[utoipa::path(get, path = "/approvals", tag = "approvals", operation_id = "listApprovals",
    params(("status" = Option<String>, Query, description = "pending, approved, rejected or closed")),
    responses((status = 200, body = Items<InboxEntry>)))]
pub async fn inbox(
    mut ctx: ApiCtx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Items<InboxEntry>>, AppError> {
    ctx.require(APPROVALS_DECIDE)?;
    if let Some(k) = q.keys().find(|k| *k != "status") {
        return Err(AppError::BadRequest(format!("unknown parameter '{k}'")));
    }
    let status = q.get("status").map(String::as_str);
    if let Some(s) = status
        && !["pending", "approved", "rejected", "closed"].contains(&s)
    {
        return Err(AppError::BadRequest(
            "'status' must be pending, approved, rejected or closed".into(),
        ));
    }
    let today = ctx.principal.today(ctx.now);
    let rows = engine::inbox(&mut ctx.tx, ctx.principal.user_id, status, today).await?;
    let data = entries(&mut ctx.tx, &ctx.manifest, rows).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// Required when rejecting: the requester reads it.
    pub comments: Option<String>,
}

async fn decide(
    mut ctx: ApiCtx,
    id: uuid::Uuid,
    decision: Decision,
    body: DecisionBody,
) -> Result<Json<Approval>, AppError> {
    ctx.require(APPROVALS_DECIDE)?;
    let actor = ctx.actor();
    let today = ctx.principal.today(ctx.now);
    let manifest = ctx.manifest.clone();
    let a = engine::decide(
        &mut ctx.tx,
        &manifest,
        &ctx.principal.slug,
        &actor,
        id,
        decision,
        body.comments.as_deref(),
        today,
        ctx.now,
    )
    .await?;
    ctx.commit().await?;
    Ok(Json(a))
}

/// Approves (as the approver, or on their behalf as today's delegate). 409 when already decided.
#[utoipa::path(post, path = "/approvals/{id}/approve", tag = "approvals", operation_id = "approveApproval",
    params(("id" = Uuid, Path, description = "Approval id")), request_body = DecisionBody,
    responses((status = 200, body = Approval), (status = 409, description = "Already decided, or the caller's own request")))]
pub async fn approve(
    ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Result<Json<Approval>, AppError> {
    decide(ctx, id, Decision::Approved, body).await
}

/// Rejects, with a comment saying why. 409 when already decided.
#[utoipa::path(post, path = "/approvals/{id}/reject", tag = "approvals", operation_id = "rejectApproval",
    params(("id" = Uuid, Path, description = "Approval id")), request_body = DecisionBody,
    responses((status = 200, body = Approval), (status = 409, description = "Already decided, or the caller's own request")))]
pub async fn reject(
    ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Result<Json<Approval>, AppError> {
    decide(ctx, id, Decision::Rejected, body).await
}
