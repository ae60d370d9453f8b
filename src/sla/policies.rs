//! SLA policies: which issues they apply to (conditions, order, a default), their targets per
//! priority and their business hours — with validation, audit rows and re-computation of the
//! open issues that use a policy when its rules change.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::engine::{CONDITION_KEYS, Target};
use super::recompute;
use crate::platform::audit::{self, Actor, diff};
use crate::platform::error::AppError;
use crate::platform::listing::Problems;
use crate::platform::tenancy::{Slug, TenantTx, exists};

pub const ENTITY_TYPES: &[&str] = &["issue", "request", "change"];
pub const METRICS: &[&str] = &["response_time", "resolution_time"];
/// Statuses an issue's clocks may pause in; resolved/closed already stop the clocks.
pub const PAUSABLE: &[&str] = &["new", "assigned", "in_progress", "pending"];
/// Statuses a request's clocks may pause in; completed, rejected and cancelled stop them.
pub const REQUEST_PAUSABLE: &[&str] = &["new", "pending_approval", "approved", "in_progress"];

/// The statuses a policy for `entity_type` may pause in.
pub fn pausable(entity_type: &str) -> &'static [&'static str] {
    match entity_type {
        "request" => REQUEST_PAUSABLE,
        _ => PAUSABLE,
    }
}

/// Where a new policy pauses unless told: an issue waiting on its reporter, a request
/// waiting on its approvers.
fn default_pauses(entity_type: &str) -> Vec<String> {
    match entity_type {
        "request" => vec!["pending_approval".into()],
        _ => vec!["pending".into()],
    }
}
/// One year: a longer target is a typo, not a service level.
const MAX_TARGET_MINUTES: i32 = 525_600;

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Policy {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub entity_type: String,
    pub is_default: bool,
    pub is_active: bool,
    /// Lower runs first; the default policy applies only when no other matches.
    pub sort_order: i32,
    /// `{"priority": "critical"}` or `{"tier": ["P1","P2"]}`; all keys must hold.
    #[schema(value_type = Object)]
    pub conditions: Value,
    /// None: the default business hours.
    pub business_hours_id: Option<Uuid>,
    pub business_hours_name: Option<String>,
    pub pause_statuses: Vec<String>,
    #[sqlx(json)]
    pub targets: Vec<Target>,
    /// Issues that use this policy.
    pub issue_count: i64,
    /// Service requests that use this policy.
    pub request_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    pub name: String,
    pub description: Option<String>,
    /// issue (default), request or change.
    pub entity_type: Option<String>,
    #[serde(default)]
    pub is_default: bool,
    /// Default true.
    pub is_active: Option<bool>,
    /// Default 100.
    pub sort_order: Option<i32>,
    /// Keys: priority, tier, category_id, application_id, issue_type — each a value or a list.
    #[schema(value_type = Object)]
    pub conditions: Option<Value>,
    pub business_hours_id: Option<Uuid>,
    /// Issue policies: of new, assigned, in_progress, pending (default `["pending"]`).
    /// Request policies: of new, pending_approval, approved, in_progress (default
    /// `["pending_approval"]`).
    pub pause_statuses: Option<Vec<String>>,
    /// At most one per metric and priority; a priority without a target has no clock.
    #[serde(default)]
    pub targets: Vec<Target>,
}

const SELECT: &str = "SELECT p.id, p.name, p.description, p.entity_type,
        COALESCE(p.is_default, false) AS is_default, p.is_active, p.sort_order,
        COALESCE(p.conditions, '{}') AS conditions, p.business_hours_id, b.name AS business_hours_name,
        p.pause_statuses,
        COALESCE((SELECT json_agg(json_build_object('metric_type', t.metric_type, 'priority', t.priority,
            'target_minutes', t.target_minutes, 'warning_percent', t.warning_percent,
            'business_hours_only', t.business_hours_only)
            ORDER BY t.metric_type DESC, array_position(ARRAY['critical','high','medium','low'], t.priority::text))
            FROM sla_targets t WHERE t.policy_id = p.id), '[]') AS targets,
        (SELECT count(*) FROM issues i WHERE i.sla_policy_id = p.id) AS issue_count,
        (SELECT count(*) FROM service_requests r WHERE r.sla_policy_id = p.id) AS request_count,
        COALESCE(p.created_at, now()) AS created_at, COALESCE(p.updated_at, now()) AS updated_at
    FROM sla_policies p LEFT JOIN business_hours b ON b.id = p.business_hours_id";

pub async fn list(tx: &mut TenantTx) -> Result<Vec<Policy>, AppError> {
    let sql = format!(
        "{SELECT} ORDER BY p.entity_type, COALESCE(p.is_default, false), p.sort_order, p.name"
    );
    Ok(sqlx::query_as(&sql).fetch_all(&mut **tx).await?)
}

pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Policy, AppError> {
    let sql = format!("{SELECT} WHERE p.id = $1");
    sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)
}

fn check_conditions(p: &mut Problems, conditions: &Value) {
    let Some(map) = conditions.as_object() else {
        p.add("conditions", "must be an object");
        return;
    };
    for (key, want) in map {
        let field = format!("conditions.{key}");
        let allowed: Option<&[&str]> = match key.as_str() {
            "priority" => Some(domain::issues::PRIORITIES),
            "tier" => Some(crate::registry::store::TIERS),
            "issue_type" => Some(domain::issues::TYPES),
            "category_id" | "application_id" => None,
            _ => {
                p.add(
                    &field,
                    format!("is not a condition (use {})", CONDITION_KEYS.join(", ")),
                );
                continue;
            }
        };
        let values: Vec<&Value> = match want {
            Value::Array(list) if !list.is_empty() => list.iter().collect(),
            Value::Array(_) => {
                p.add(&field, "must list at least one value");
                continue;
            }
            v => vec![v],
        };
        for v in values {
            let Some(s) = v.as_str() else {
                p.add(&field, "values must be text");
                break;
            };
            match allowed {
                Some(list) if !list.contains(&s) => {
                    p.add(&field, format!("'{s}' must be one of {}", list.join(", ")));
                    break;
                }
                None if Uuid::parse_str(s).is_err() => {
                    p.add(&field, format!("'{s}' is not an id"));
                    break;
                }
                _ => {}
            }
        }
    }
}

fn check_targets(p: &mut Problems, targets: &[Target]) {
    let mut seen = BTreeSet::new();
    for (i, t) in targets.iter().enumerate() {
        let at = |f: &str| format!("targets[{i}].{f}");
        p.one_of(&at("metric_type"), &t.metric_type, METRICS);
        p.one_of(&at("priority"), &t.priority, domain::issues::PRIORITIES);
        if !(1..=MAX_TARGET_MINUTES).contains(&t.target_minutes) {
            p.add(
                &at("target_minutes"),
                format!("must be between 1 and {MAX_TARGET_MINUTES} minutes"),
            );
        }
        if !(1..=99).contains(&t.warning_percent) {
            p.add(&at("warning_percent"), "must be between 1 and 99");
        }
        if !seen.insert((t.metric_type.as_str(), t.priority.as_str())) {
            p.add(
                &at("priority"),
                format!("{} {} is given twice", t.priority, t.metric_type),
            );
        }
    }
}

pub async fn validate(tx: &mut TenantTx, b: &PolicyBody) -> Result<Problems, AppError> {
    let mut p = Problems::default();
    let name = b.name.trim();
    if name.is_empty() {
        p.add("name", "is required");
    } else if name.chars().count() > 255 {
        p.add("name", "must be at most 255 characters");
    }
    if let Some(e) = &b.entity_type {
        p.one_of("entity_type", e, ENTITY_TYPES);
    }
    if b.sort_order.is_some_and(|o| !(0..=100_000).contains(&o)) {
        p.add("sort_order", "must be between 0 and 100000");
    }
    let conditions = b.conditions.clone().unwrap_or(json!({}));
    check_conditions(&mut p, &conditions);
    if b.is_default && conditions.as_object().is_some_and(|m| !m.is_empty()) {
        p.add(
            "conditions",
            "the default policy applies when no other matches; leave its conditions empty",
        );
    }
    if b.is_default && b.is_active == Some(false) {
        p.add("is_active", "the default policy must be active");
    }
    let entity_type = b.entity_type.as_deref().unwrap_or("issue");
    let allowed = pausable(entity_type);
    for s in b.pause_statuses.iter().flatten() {
        if !allowed.contains(&s.as_str()) {
            p.add(
                "pause_statuses",
                format!(
                    "'{s}' is not a {entity_type} status; use {}",
                    allowed.join(", ")
                ),
            );
            break;
        }
    }
    check_targets(&mut p, &b.targets);
    if let Some(id) = b.business_hours_id
        && !exists(
            tx,
            "SELECT EXISTS (SELECT 1 FROM business_hours WHERE id = $1)",
            id,
        )
        .await?
    {
        p.add("business_hours_id", "no such business hours");
    }
    Ok(p)
}

/// Creates (`id` None) or replaces a policy and its targets. Open issues under it are
/// re-computed in the background; issues keep the policy they were given.
pub async fn save(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Option<Uuid>,
    b: &PolicyBody,
) -> Result<Policy, AppError> {
    let before = match id {
        Some(id) => Some(get(tx, id).await?),
        None => None,
    };
    validate(tx, b).await?.into_result()?;
    let entity_type = b.entity_type.as_deref().unwrap_or("issue");
    let pauses = b
        .pause_statuses
        .clone()
        .unwrap_or_else(|| default_pauses(entity_type));
    let description = b
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO sla_policies (id, name, description, entity_type, is_default, is_active, sort_order,
             conditions, business_hours_id, pause_statuses)
         VALUES (COALESCE($1, gen_random_uuid()), $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (id) DO UPDATE SET name = $2, description = $3, entity_type = $4, is_default = $5,
             is_active = $6, sort_order = $7, conditions = $8, business_hours_id = $9,
             pause_statuses = $10, updated_at = now()
         RETURNING id",
    )
    .bind(id)
    .bind(b.name.trim())
    .bind(description)
    .bind(entity_type)
    .bind(b.is_default)
    .bind(b.is_active.unwrap_or(true))
    .bind(b.sort_order.unwrap_or(100))
    .bind(b.conditions.clone().unwrap_or(json!({})))
    .bind(b.business_hours_id)
    .bind(&pauses)
    .fetch_one(&mut **tx)
    .await?;
    if b.is_default {
        // One default per kind of record: making this one the default demotes the other.
        sqlx::query(
            "UPDATE sla_policies SET is_default = false, updated_at = now()
             WHERE entity_type = $1 AND id <> $2 AND is_default",
        )
        .bind(entity_type)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query("DELETE FROM sla_targets WHERE policy_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    for t in &b.targets {
        sqlx::query(
            "INSERT INTO sla_targets (policy_id, metric_type, priority, target_minutes, warning_percent, business_hours_only)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(&t.metric_type)
        .bind(&t.priority)
        .bind(t.target_minutes)
        .bind(t.warning_percent)
        .bind(t.business_hours_only)
        .execute(&mut **tx)
        .await?;
    }
    let after = get(tx, id).await?;
    let action = if before.is_some() { "update" } else { "create" };
    audit::record(
        tx,
        actor,
        action,
        "sla_policy",
        id,
        diff(before.as_ref(), Some(&after)),
    )
    .await?;
    if before.is_some() {
        recompute::enqueue(tx, tenant, recompute::Scope::Policy(id)).await?;
    }
    Ok(after)
}

/// Deletes a policy nothing uses. The default policy and policies issues point at stay
/// (deactivate those instead), so past SLA figures keep their meaning.
pub async fn delete(tx: &mut TenantTx, actor: &Actor, id: Uuid) -> Result<(), AppError> {
    let before = get(tx, id).await?;
    if before.is_default {
        return Err(AppError::conflict(
            "this is the default policy; make another policy the default first",
        ));
    }
    if before.issue_count > 0 {
        return Err(AppError::conflict(format!(
            "{} issues use this policy; deactivate it instead",
            before.issue_count
        )));
    }
    let used_elsewhere: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM catalog_items WHERE sla_policy_id = $1)
             OR EXISTS (SELECT 1 FROM service_requests WHERE sla_policy_id = $1)",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    if used_elsewhere {
        return Err(AppError::conflict(
            "catalog items or requests use this policy; deactivate it instead",
        ));
    }
    sqlx::query("DELETE FROM sla_policies WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    audit::record(
        tx,
        actor,
        "delete",
        "sla_policy",
        id,
        diff(Some(&before), None),
    )
    .await
}
