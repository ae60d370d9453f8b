//! Service request changes: submit (answers checked by the catalog rules, approvals started),
//! status actions, comments. Each writes its audit row and spec event in the caller's
//! transaction.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use domain::approvals::Outcome;
use domain::catalog::answers::{self, Context};
use domain::catalog::schema::{self, FieldType};
use domain::requests::{Action, allowed, target};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::store::{self, NewRequest, Request, Scope};
use crate::approvals::engine;
use crate::catalog::form;
use crate::catalog::store::{self as catalog, Viewer};
use crate::platform::approval::Settled;
use crate::platform::audit::Actor;
use crate::platform::error::AppError;
use crate::platform::events::{self, Audit};
use crate::platform::tenancy::{Slug, TenantTx, exists};

pub const ENTITY: &str = "request";

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RequestSubmitBody)]
pub struct SubmitBody {
    pub catalog_item_id: Option<Uuid>,
    /// Answers keyed by field id.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub form_data: Map<String, Value>,
    /// On behalf of someone else (default: the caller).
    pub requested_for_id: Option<Uuid>,
}

/// Who submits, and how the answers arrived.
pub struct Submitter {
    pub user: Uuid,
    pub today: NaiveDate,
    /// JSON submissions take field defaults for answers left out; a browser form was prefilled
    /// with them, so a blank there is meant.
    pub api: bool,
    /// File answers the page has stored for this submission, by field id.
    pub files: BTreeMap<String, Value>,
}

fn invalid(fields: BTreeMap<String, String>) -> AppError {
    AppError::Validation {
        message: "Some answers need attention.".into(),
        fields,
    }
}

pub async fn submit(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    who: &Submitter,
    b: &SubmitBody,
) -> Result<Request, AppError> {
    let Some(item_id) = b.catalog_item_id else {
        return Err(AppError::field("catalog_item_id", "is required"));
    };
    let item = match catalog::item(tx, item_id, Viewer::Requester(who.user)).await {
        Ok(i) => i,
        Err(AppError::NotFound) => {
            return Err(AppError::field(
                "catalog_item_id",
                "no such item in the catalog (or it is not open to you)",
            ));
        }
        Err(e) => return Err(e),
    };
    let version_no = item
        .published_version
        .ok_or_else(|| AppError::field("catalog_item_id", "this item is not published"))?;
    let version = catalog::version(tx, item.id, version_no).await?;
    let form_schema = schema::parse(&version.form_schema)
        .map_err(|_| anyhow::anyhow!("published form of {} does not parse", item.id))?;
    let mut errors = BTreeMap::new();
    let requested_for = b.requested_for_id.unwrap_or(who.user);
    const ACTIVE: &str = "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND status = 'active')";
    if requested_for != who.user && !exists(tx, ACTIVE, requested_for).await? {
        errors.insert("requested_for_id".into(), "no such active user".into());
    }
    let mut given = b.form_data.clone();
    for f in form_schema
        .fields
        .iter()
        .filter(|f| f.kind == FieldType::File)
    {
        match who.files.get(&f.id) {
            Some(v) => {
                given.insert(f.id.clone(), v.clone());
            }
            None if given.contains_key(&f.id) => {
                errors.insert(
                    format!("form_data.{}", f.id),
                    "Files are attached through the request form in the portal.".into(),
                );
                given.remove(&f.id);
            }
            None => {}
        }
    }
    if let Some(unknown) = given.keys().find(|k| form_schema.field(k).is_none()) {
        errors.insert(
            format!("form_data.{unknown}"),
            "This form has no such field.".into(),
        );
    }
    let ctx = Context {
        today: who.today,
        requester: who.user,
    };
    let checked = answers::check(&form_schema, &given, ctx, who.api);
    let mut field_errors = checked.errors.clone();
    form::check_lookups(tx, &checked.lookups, &mut field_errors).await?;
    for (k, v) in field_errors {
        errors.insert(format!("form_data.{k}"), v);
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let chain: domain::approvals::Chain =
        serde_json::from_value(version.approval_chain.clone()).unwrap_or_default();
    let pending = !chain.stages.is_empty();
    let for_name: Option<String> = if requested_for != who.user {
        sqlx::query_scalar("SELECT name FROM users WHERE id = $1")
            .bind(requested_for)
            .fetch_optional(&mut **tx)
            .await?
    } else {
        None
    };
    let title = match &for_name {
        Some(n) => format!("{} for {n}", version.name),
        None => version.name.clone(),
    };
    let values = Value::Object(checked.values.clone());
    let id = store::create(
        tx,
        &NewRequest {
            title: &title,
            item: item.id,
            version: version_no,
            requester: who.user,
            requested_for,
            group: item.fulfillment_group_id,
            priority: &item.default_priority,
            form_data: &values,
            status: if pending {
                "pending_approval"
            } else {
                "approved"
            },
            approval_status: pending.then_some("pending"),
            sla_policy: item.sla_policy_id,
        },
    )
    .await?;
    if pending {
        let actx = engine::Context {
            requester: Some(who.user),
            subject_person: Some(requested_for),
            fallback_group: item.fulfillment_group_id,
            values: checked.values.clone(),
        };
        let outcome = engine::start(tx, ENTITY, id, &chain, &actx).await?;
        debug_assert_eq!(outcome, Outcome::Pending);
    }
    let after = store::get(tx, id, Scope::All).await?;
    if !pending {
        super::tasks::spawn(tx, tenant, actor, &after).await?;
    }
    let changes = crate::platform::audit::diff(None::<&Request>, Some(&after));
    events::record_and_emit(
        tx,
        tenant,
        actor,
        Audit {
            action: "create",
            changes,
        },
        "request.created",
        ENTITY,
        id,
        json!({"request": &after}),
    )
    .await?;
    if pending {
        events::emit(
            tx,
            tenant,
            actor,
            "request.submitted",
            ENTITY,
            id,
            json!({"request": &after}),
        )
        .await?;
    }
    Ok(after)
}

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
pub async fn act(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    scope: Scope,
    id: Uuid,
    action: Action,
    b: &ActionBody,
) -> Result<Request, AppError> {
    let before = store::get(tx, id, scope).await?;
    store::lock(tx, id).await?;
    let before = store::get(tx, before.id, scope).await?;
    let Some(to) = target(&before.status, action) else {
        return Err(refuse(&before, action));
    };
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
            sqlx::query(
                "UPDATE service_requests SET assigned_to = COALESCE($2, assigned_to),
                    assigned_group = COALESCE($3, assigned_group), updated_at = now() WHERE id = $1",
            )
            .bind(id)
            .bind(b.assigned_to)
            .bind(b.assigned_group)
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
    store::set_status(tx, id, to, actor.user_id, notes).await?;
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
    Ok(after)
}

/// The chain's verdict moves the request on (called by the approvals engine).
pub async fn settle(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Uuid,
    verdict: Settled,
    comment: Option<&str>,
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
    store::set_status(tx, id, status, actor.user_id, comment).await?;
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
    if verdict == Settled::Approved {
        super::tasks::spawn(tx, tenant, actor, &after).await?;
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
) -> Result<Request, AppError> {
    let before = store::get(tx, id, Scope::All).await?;
    sqlx::query("UPDATE service_requests SET completion_notes = $2 WHERE id = $1")
        .bind(id)
        .bind(notes)
        .execute(&mut **tx)
        .await?;
    store::set_status(tx, id, "completed", actor.user_id, Some(notes)).await?;
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
    Ok(after)
}

pub async fn comment(
    tx: &mut TenantTx,
    actor: &Actor,
    id: Uuid,
    content: &str,
    internal: bool,
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
        "INSERT INTO request_comments (request_id, user_id, content, is_internal) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(id)
    .bind(actor.user_id)
    .bind(content)
    .bind(internal)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("UPDATE service_requests SET updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
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
