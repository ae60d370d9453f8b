//! Application and environment changes with validation, audit row and domain event — shared by
//! the API and the pages.

use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::store::{self, AppInput, Application, EnvInput, Environment};
use crate::platform::audit::{self, Actor, diff};
use crate::platform::error::AppError;
use crate::platform::events;
use crate::platform::listing::Problems;
use crate::platform::tenancy::{Slug, TenantTx, exists};

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationBody {
    pub name: String,
    pub description: Option<String>,
    /// P1 (most critical) to P4.
    pub tier: String,
    /// active (default), inactive or deprecated.
    pub status: Option<String>,
    /// development, staging, production (default) or sunset.
    pub lifecycle_stage: Option<String>,
    pub owner_user_id: Option<Uuid>,
    pub owner_group_id: Option<Uuid>,
    pub support_group_id: Option<Uuid>,
    pub business_unit: Option<String>,
    /// mission_critical, business_critical, business_operational or administrative.
    pub criticality: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// String values only.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Option<Value>,
}

fn blank_to_none(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Checks an application body; the field errors are those a form shows next to its inputs.
pub async fn validate(tx: &mut TenantTx, b: &ApplicationBody) -> Result<Problems, AppError> {
    let mut p = Problems::default();
    let name = b.name.trim();
    if name.is_empty() {
        p.add("name", "is required");
    } else if name.chars().count() > 255 {
        p.add("name", "must be at most 255 characters");
    }
    p.one_of("tier", &b.tier, store::TIERS);
    if let Some(s) = blank_to_none(&b.status) {
        p.one_of("status", s, store::STATUSES);
    }
    if let Some(s) = blank_to_none(&b.lifecycle_stage) {
        p.one_of("lifecycle_stage", s, store::STAGES);
    }
    if let Some(c) = blank_to_none(&b.criticality) {
        p.one_of("criticality", c, store::CRITICALITIES);
    }
    if b.business_unit
        .as_deref()
        .is_some_and(|u| u.chars().count() > 255)
    {
        p.add("business_unit", "must be at most 255 characters");
    }
    if b.tags.len() > 20 {
        p.add("tags", "at most 20 tags");
    } else if let Some(bad) = b.tags.iter().find(|t| {
        let t = t.trim();
        t.is_empty() || t.chars().count() > 50 || t.contains(',')
    }) {
        p.add(
            "tags",
            format!("'{bad}' is not a tag (1–50 characters, no commas)"),
        );
    }
    match &b.metadata {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) if m.values().all(Value::is_string) => {}
        Some(_) => p.add("metadata", "must be an object of text values"),
    }
    const USER: &str = "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)";
    const GROUP: &str = "SELECT EXISTS (SELECT 1 FROM groups WHERE id = $1)";
    if let Some(id) = b.owner_user_id
        && !exists(tx, USER, id).await?
    {
        p.add("owner_user_id", "no such user");
    }
    for (field, id) in [
        ("owner_group_id", b.owner_group_id),
        ("support_group_id", b.support_group_id),
    ] {
        if let Some(id) = id
            && !exists(tx, GROUP, id).await?
        {
            p.add(field, "no such group");
        }
    }
    Ok(p)
}

/// Creates (`id` None) or replaces an application.
pub async fn save(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Option<Uuid>,
    b: &ApplicationBody,
) -> Result<Application, AppError> {
    let before = match id {
        Some(id) => Some(store::get(tx, id).await?),
        None => None,
    };
    validate(tx, b).await?.into_result()?;
    let tags: Vec<String> = b.tags.iter().map(|t| t.trim().to_string()).collect();
    let metadata = match &b.metadata {
        Some(m @ Value::Object(_)) => m.clone(),
        _ => json!({}),
    };
    let input = AppInput {
        name: &b.name,
        description: blank_to_none(&b.description),
        tier: &b.tier,
        status: blank_to_none(&b.status).unwrap_or("active"),
        lifecycle_stage: blank_to_none(&b.lifecycle_stage).unwrap_or("production"),
        owner_user_id: b.owner_user_id,
        owner_group_id: b.owner_group_id,
        support_group_id: b.support_group_id,
        business_unit: blank_to_none(&b.business_unit),
        criticality: blank_to_none(&b.criticality),
        tags: &tags,
        metadata: &metadata,
    };
    let id = match id {
        Some(id) => {
            store::update(tx, id, &input).await?;
            id
        }
        None => store::create(tx, &input).await?,
    };
    let after = store::get(tx, id).await?;
    let (action, event) = match before {
        Some(_) => ("update", "application.updated"),
        None => ("create", "application.created"),
    };
    let changes = diff(before.as_ref(), Some(&after));
    audit::record(tx, actor, action, "application", id, changes.clone()).await?;
    events::emit(
        tx,
        tenant,
        actor,
        event,
        "application",
        id,
        json!({"application": &after, "changes": changes}),
    )
    .await?;
    Ok(after)
}

/// Soft delete: the application becomes inactive; its history and links stay.
pub async fn retire(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Uuid,
) -> Result<Application, AppError> {
    let before = store::get(tx, id).await?;
    store::set_status(tx, id, "inactive").await?;
    let after = store::get(tx, id).await?;
    let changes = diff(Some(&before), Some(&after));
    audit::record(tx, actor, "delete", "application", id, changes.clone()).await?;
    events::emit(
        tx,
        tenant,
        actor,
        "application.deleted",
        "application",
        id,
        json!({"application": &after}),
    )
    .await?;
    Ok(after)
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentBody {
    /// Unique within the application.
    pub name: String,
    /// dev, test, staging or prod.
    #[serde(rename = "type")]
    pub env_type: String,
    pub url: Option<String>,
    /// aws, gcp, azure, on-prem, …
    pub cloud_provider: Option<String>,
    pub cloud_account: Option<String>,
    pub cloud_region: Option<String>,
}

pub async fn save_environment(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    app: Uuid,
    id: Option<Uuid>,
    b: &EnvironmentBody,
) -> Result<Environment, AppError> {
    store::get(tx, app).await?;
    let before = match id {
        Some(id) => Some(store::environment(tx, app, id).await?),
        None => None,
    };
    let mut p = Problems::default();
    let name = b.name.trim();
    if name.is_empty() {
        p.add("name", "is required");
    } else if name.chars().count() > 100 {
        p.add("name", "must be at most 100 characters");
    }
    p.one_of("type", &b.env_type, store::ENV_TYPES);
    if let Some(url) = blank_to_none(&b.url)
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        p.add("url", "must start with http:// or https://");
    }
    for (field, v, max) in [
        ("cloud_provider", &b.cloud_provider, 50),
        ("cloud_account", &b.cloud_account, 255),
        ("cloud_region", &b.cloud_region, 50),
    ] {
        if v.as_deref().is_some_and(|v| v.chars().count() > max) {
            p.add(field, format!("must be at most {max} characters"));
        }
    }
    p.into_result()?;
    let taken: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM environments WHERE application_id = $1 AND lower(name) = lower($2) AND id IS DISTINCT FROM $3)",
    )
    .bind(app)
    .bind(name)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    if taken {
        return Err(AppError::field(
            "name",
            "this application already has an environment with this name",
        ));
    }
    let input = EnvInput {
        name,
        env_type: &b.env_type,
        url: blank_to_none(&b.url),
        cloud_provider: blank_to_none(&b.cloud_provider),
        cloud_account: blank_to_none(&b.cloud_account),
        cloud_region: blank_to_none(&b.cloud_region),
    };
    let env_id = store::save_environment(tx, app, id, &input).await?;
    let after = store::environment(tx, app, env_id).await?;
    let changes = diff(before.as_ref(), Some(&after));
    let action = if before.is_some() { "update" } else { "create" };
    audit::record(tx, actor, action, "environment", env_id, changes.clone()).await?;
    events::emit(
        tx,
        tenant,
        actor,
        &format!("environment.{action}d"),
        "environment",
        env_id,
        json!({"environment": &after, "changes": changes}),
    )
    .await?;
    Ok(after)
}

pub async fn delete_environment(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    app: Uuid,
    id: Uuid,
) -> Result<(), AppError> {
    let before = store::environment(tx, app, id).await?;
    store::delete_environment(tx, app, id).await?;
    audit::record(
        tx,
        actor,
        "delete",
        "environment",
        id,
        diff(Some(&before), None),
    )
    .await?;
    events::emit(
        tx,
        tenant,
        actor,
        "environment.deleted",
        "environment",
        id,
        json!({"environment": before}),
    )
    .await?;
    Ok(())
}
