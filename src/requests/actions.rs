//! Service request changes: status actions, the approval verdict, completion by the last task,
//! a bundle request following its children, comments. Each writes its audit row and spec event
//! in the caller's transaction. Submitting is `submit`.

use chrono::{DateTime, Utc};
use domain::requests::{Action, allowed, is_open, target};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::store::{self, Request, Scope};
pub use super::submit::{SubmitBody, Submitter, submit};
use crate::approvals::engine;
use crate::platform::approval::Settled;
use crate::platform::audit::Actor;
use crate::platform::error::AppError;
use crate::platform::events::{self, Audit};
use crate::platform::tenancy::{Slug, TenantTx, exists};

pub const ENTITY: &str = "request";

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RequestActionBody)]
pub struct ActionBody {
    /// assign / reassign: the person who fulfils it.
    pub assigned_to: Option<Uuid>,
    /// assign / reassign: the group that fulfils it.
    pub assigned_group: Option<Uuid>,
    /// complete: what was done; cancel / reopen: why.
    pub notes: Option<String>,
}

/// 409 naming the allowed actions when `action` does not fit the request's status.
fn refuse(r: &Request, action: Action) -> AppError {
    let allowed: Vec<&str> = allowed(&r.status).iter().map(|a| a.key()).collect();
    AppError::Conflict {
        message: format!(
            "A request that is {} cannot be {}.",
            crate::platform::web::label(&r.status).to_lowercase(),
            match action {
                Action::Complete => "completed",
                Action::Reopen => "reopened",
                Action::Cancel => "cancelled",
                Action::Approve => "approved",
                Action::Reject => "rejected",
                Action::Assign | Action::Reassign => "assigned",
            }
        ),
        details: json!({"status": r.status, "allowed": allowed}),
    }
}

/// An agent's action on a request (assign, reassign, complete, reopen), or the requester's
/// cancel. The caller has checked the permission; `scope` limits which requests it reaches.
#[expect(
    clippy::too_many_arguments,
    reason = "who does what to which request, when"
)]
pub async fn act(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    scope: Scope,
    id: Uuid,
    action: Action,
    b: &ActionBody,
    now: DateTime<Utc>,
) -> Result<Request, AppError> {
    let before = store::get(tx, id, scope).await?;
    store::lock(tx, id).await?;
    let before = store::get(tx, before.id, scope).await?;
    let Some(to) = target(&before.status, action) else {
        return Err(refuse(&before, action));
    };
    let open_children: Vec<&store::Child> = before
        .children
        .iter()
        .filter(|c| is_open(&c.status))
        .collect();
    if action == Action::Complete && !open_children.is_empty() {
        let numbers: Vec<&str> = open_children
            .iter()
            .map(|c| c.request_number.as_str())
            .collect();
        return Err(AppError::Conflict {
            message: format!(
                "A bundle request completes with its items: complete or cancel {} first.",
                numbers.join(", ")
            ),
            details: json!({"open_children": numbers}),
        });
    }
    let notes = b.notes.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if notes.is_some_and(|n| n.chars().count() > 5000) {
        return Err(AppError::field("notes", "must be at most 5000 characters"));
    }
    match action {
        Action::Assign | Action::Reassign => {
            if b.assigned_to.is_none() && b.assigned_group.is_none() {
                return Err(AppError::field("assigned_to", "choose a person or a group"));
            }
            const USER: &str =
                "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND status = 'active')";
            const GROUP: &str = "SELECT EXISTS (SELECT 1 FROM groups WHERE id = $1)";
            if let Some(u) = b.assigned_to
                && !exists(tx, USER, u).await?
            {
                return Err(AppError::field("assigned_to", "no such active user"));
            }
            if let Some(g) = b.assigned_group
                && !exists(tx, GROUP, g).await?
            {
                return Err(AppError::field("assigned_group", "no such group"));
            }
            // Assigning a person is the first response, if nothing was before.
            sqlx::query(
                "UPDATE service_requests SET assigned_to = COALESCE($2, assigned_to),
                    assigned_group = COALESCE($3, assigned_group), updated_at = $4,
                    responded_at = CASE WHEN $2::uuid IS NULL THEN responded_at ELSE COALESCE(responded_at, $4) END
                 WHERE id = $1",
            )
            .bind(id)
            .bind(b.assigned_to)
            .bind(b.assigned_group)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        Action::Complete => {
            sqlx::query("UPDATE service_requests SET completion_notes = $2 WHERE id = $1")
                .bind(id)
                .bind(notes)
                .execute(&mut **tx)
                .await?;
            let why = "The request was completed without it.";
            super::tasks::close_open(tx, id, actor.user_id, why).await?;
        }
        Action::Cancel => {
            engine::cancel(tx, ENTITY, id).await?;
            let why = "The request was cancelled.";
            super::tasks::close_open(tx, id, actor.user_id, why).await?;
            sqlx::query("UPDATE service_requests SET cancel_reason = $2 WHERE id = $1")
                .bind(id)
                .bind(notes)
                .execute(&mut **tx)
                .await?;
        }
        Action::Reopen => {
            sqlx::query("UPDATE service_requests SET completion_notes = NULL WHERE id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        Action::Approve | Action::Reject => return Err(refuse(&before, action)),
    }
    store::set_status(tx, tenant, id, to, actor.user_id, notes, now).await?;
    let after = store::get(tx, id, Scope::All).await?;
    let event = match action {
        Action::Complete => "request.completed",
        Action::Cancel => "request.cancelled",
        Action::Reopen => "request.reopened",
        _ => "request.assigned",
    };
    let changes = crate::platform::audit::diff(Some(&before), Some(&after));
    events::record_and_emit(
        tx,
        tenant,
        actor,
        Audit {
            action: action.key(),
            changes,
        },
        event,
        ENTITY,
        id,
        json!({"request": &after}),
    )
    .await?;
    if action == Action::Cancel {
        // Cancelling a bundle request cancels what is left of it.
        let mut left = Vec::new();
        for c in before.children.iter().filter(|c| is_open(&c.status)) {
            left.push(c.id);
        }
        for child in left {
            let why = ActionBody {
                notes: Some(format!("{} was cancelled.", before.request_number)),
                ..Default::default()
            };
            Box::pin(act(
                tx,
                tenant,
                actor,
                Scope::All,
                child,
                Action::Cancel,
                &why,
                now,
            ))
            .await?;
        }
    }
    if matches!(action, Action::Complete | Action::Cancel) {
        follow_children(tx, tenant, actor, after.parent_id, now).await?;
    }
    store::get(tx, id, Scope::All).await
}

/// A bundle request closes when its last child does: completed when any child was
/// completed, else rejected or cancelled like them.
pub async fn follow_children(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    parent: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let Some(parent) = parent else {
        return Ok(());
    };
    store::lock(tx, parent).await?;
    let before = store::get(tx, parent, Scope::All).await?;
    if !is_open(&before.status) || before.children.iter().any(|c| is_open(&c.status)) {
        return Ok(());
    }
    let has = |s: &str| before.children.iter().any(|c| c.status == s);
    let (status, event, notes) = if has("completed") {
        (
            "completed",
            "request.completed",
            "Every item of the bundle is done.",
        )
    } else if has("rejected") {
        (
            "rejected",
            "request.rejected",
            "The bundle's items were rejected.",
        )
    } else {
        (
            "cancelled",
            "request.cancelled",
            "The bundle's items were cancelled.",
        )
    };
    if status == "completed" {
        sqlx::query("UPDATE service_requests SET completion_notes = $2 WHERE id = $1")
            .bind(parent)
            .bind(notes)
            .execute(&mut **tx)
            .await?;
    }
    store::set_status(tx, tenant, parent, status, actor.user_id, Some(notes), now).await?;
    let after = store::get(tx, parent, Scope::All).await?;
    let changes = crate::platform::audit::diff(Some(&before), Some(&after));
    events::record_and_emit(
        tx,
        tenant,
        actor,
        Audit {
            action: status,
            changes,
        },
        event,
        ENTITY,
        parent,
        json!({"request": &after}),
    )
    .await
}

/// The chain's verdict moves the request on (called by the approvals engine).
pub async fn settle(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Uuid,
    verdict: Settled,
    comment: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let before = store::get(tx, id, Scope::All).await?;
    let (status, event) = match verdict {
        Settled::Approved => ("approved", "request.approved"),
        Settled::Rejected => ("rejected", "request.rejected"),
    };
    sqlx::query("UPDATE service_requests SET approval_status = $2 WHERE id = $1")
        .bind(id)
        .bind(status)
        .execute(&mut **tx)
        .await?;
    store::set_status(tx, tenant, id, status, actor.user_id, comment, now).await?;
    let after = store::get(tx, id, Scope::All).await?;
    let changes = crate::platform::audit::diff(Some(&before), Some(&after));
    events::record_and_emit(
        tx,
        tenant,
        actor,
        Audit {
            action: status,
            changes,
        },
        event,
        ENTITY,
        id,
        json!({"request": &after}),
    )
    .await?;
    match verdict {
        Settled::Approved => {
            super::tasks::spawn(tx, tenant, actor, &after).await?;
        }
        Settled::Rejected => follow_children(tx, tenant, actor, after.parent_id, now).await?,
    }
    Ok(())
}

/// Completes a request whose last fulfilment task is done.
pub async fn finish(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Uuid,
    notes: &str,
    now: DateTime<Utc>,
) -> Result<Request, AppError> {
    let before = store::get(tx, id, Scope::All).await?;
    sqlx::query("UPDATE service_requests SET completion_notes = $2 WHERE id = $1")
        .bind(id)
        .bind(notes)
        .execute(&mut **tx)
        .await?;
    store::set_status(tx, tenant, id, "completed", actor.user_id, Some(notes), now).await?;
    let after = store::get(tx, id, Scope::All).await?;
    let changes = crate::platform::audit::diff(Some(&before), Some(&after));
    events::record_and_emit(
        tx,
        tenant,
        actor,
        Audit {
            action: "complete",
            changes,
        },
        "request.completed",
        ENTITY,
        id,
        json!({"request": &after}),
    )
    .await?;
    follow_children(tx, tenant, actor, after.parent_id, now).await?;
    Ok(after)
}

/// A comment on a request; a public one from the service desk (not the requester or the person
/// it is for) is the first response, if nothing was before.
pub async fn comment(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Uuid,
    content: &str,
    internal: bool,
    now: DateTime<Utc>,
) -> Result<store::Comment, AppError> {
    let content = content.trim();
    if content.is_empty() {
        return Err(AppError::field("content", "is required"));
    }
    if content.chars().count() > 20_000 {
        return Err(AppError::field(
            "content",
            "must be at most 20000 characters",
        ));
    }
    let cid: Uuid = sqlx::query_scalar(
        "INSERT INTO request_comments (request_id, user_id, content, is_internal, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(id)
    .bind(actor.user_id)
    .bind(content)
    .bind(internal)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let responded: bool = sqlx::query_scalar(
        "UPDATE service_requests SET updated_at = $3,
            responded_at = CASE WHEN NOT $4 AND $2::uuid IS DISTINCT FROM requester_id
                    AND $2::uuid IS DISTINCT FROM requested_for_id
                THEN COALESCE(responded_at, $3) ELSE responded_at END
         WHERE id = $1 RETURNING responded_at = $3",
    )
    .bind(id)
    .bind(actor.user_id)
    .bind(now)
    .bind(internal)
    .fetch_one(&mut **tx)
    .await?;
    if responded {
        store::clocks_moved(tx, tenant, id, now).await?;
    }
    crate::platform::audit::record(
        tx,
        actor,
        "comment",
        ENTITY,
        id,
        json!({"comment_id": cid, "internal": internal}),
    )
    .await?;
    let all = store::comments(tx, id, true).await?;
    all.into_iter()
        .find(|c| c.id == cid)
        .ok_or_else(|| anyhow::anyhow!("comment vanished").into())
}
