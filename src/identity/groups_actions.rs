//! What can be done to groups — create, edit, delete, add and remove members — with the
//! checks, audit rows and events each needs; the API (`groups_api`) and the admin pages
//! (`groups_web`) both call these.

use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::groups_store::{self as store, Group, GroupInput};
use crate::platform::audit::{self, Actor};
use crate::platform::error::AppError;
use crate::platform::events;
use crate::platform::listing::Problems;
use crate::platform::tenancy::{Slug, TenantTx};

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

pub async fn save(
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
    events::saved(tx, tenant, actor, "group", id, before.as_ref(), &after).await?;
    Ok(after)
}

pub async fn add_member(
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

pub async fn remove_member(
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

/// Deletes a group (its members leave it; issues assigned to it keep their history).
pub async fn delete(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Uuid,
) -> Result<(), AppError> {
    let before = store::get(tx, id).await?;
    store::delete(tx, id).await?;
    events::deleted(tx, tenant, actor, "group", id, &before).await
}
