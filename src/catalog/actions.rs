//! Catalog changes: validate → SQL → audit row and event, shared by the API and the pages.

use domain::approvals::{Approver, Chain};
use domain::catalog::schema::{self, FieldType, FormSchema};
use domain::fulfilment::{self, TaskTemplate};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::store::{self, Category, CategoryInput, Item, ItemInput, Viewer};
use crate::platform::audit::Actor;
use crate::platform::error::AppError;
use crate::platform::events::{self, Audit};
use crate::platform::listing::Problems;
use crate::platform::tenancy::{Slug, TenantTx, exists};

pub(super) fn blank(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CatalogCategoryBody)]
pub struct CategoryBody {
    pub name: String,
    pub description: Option<String>,
    /// One of the catalog icons (`laptop`, `key-round`, … as the 422 lists them).
    pub icon: Option<String>,
    /// `#rrggbb`.
    pub color: Option<String>,
    pub sort_order: Option<i32>,
    pub parent_id: Option<Uuid>,
    /// active (default) or hidden.
    pub status: Option<String>,
}

fn is_colour(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|c| c.is_ascii_hexdigit())
}

pub async fn save_category(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Option<Uuid>,
    b: &CategoryBody,
) -> Result<Category, AppError> {
    let before = match id {
        Some(id) => Some(store::category(tx, id).await?),
        None => None,
    };
    let mut p = Problems::default();
    let name = b.name.trim();
    if name.is_empty() {
        p.add("name", "is required");
    } else if name.chars().count() > 255 {
        p.add("name", "must be at most 255 characters");
    }
    let status = blank(&b.status).unwrap_or("active");
    p.one_of("status", status, store::CATEGORY_STATUSES);
    if let Some(c) = blank(&b.color).filter(|c| !is_colour(c)) {
        p.add("color", format!("'{c}' is not a colour like #1d4ed8"));
    }
    if let Some(why) = blank(&b.icon).and_then(super::icons::problem) {
        p.add("icon", why);
    }
    if let Some(parent) = b.parent_id {
        const CATEGORY: &str = "SELECT EXISTS (SELECT 1 FROM catalog_categories WHERE id = $1)";
        if !exists(tx, CATEGORY, parent).await? {
            p.add("parent_id", "no such category");
        } else if let Some(id) = id
            && store::is_within(tx, parent, id).await?
        {
            p.add("parent_id", "a category cannot sit inside itself");
        }
    }
    p.into_result()?;
    let input = CategoryInput {
        name,
        description: blank(&b.description),
        icon: blank(&b.icon),
        color: blank(&b.color),
        sort_order: b.sort_order.unwrap_or(0),
        parent_id: b.parent_id,
        status,
    };
    let id = store::save_category(tx, id, &input).await?;
    let after = store::category(tx, id).await?;
    events::saved(
        tx,
        tenant,
        actor,
        "catalog_category",
        id,
        before.as_ref(),
        &after,
    )
    .await?;
    Ok(after)
}

/// Items in it move to "no category".
pub async fn delete_category(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Uuid,
) -> Result<(), AppError> {
    let before = store::category(tx, id).await?;
    store::delete_category(tx, id).await?;
    events::deleted(tx, tenant, actor, "catalog_category", id, &before).await
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CatalogItemBody)]
pub struct ItemBody {
    pub name: String,
    pub category_id: Option<Uuid>,
    pub short_desc: Option<String>,
    /// Markdown.
    pub description: Option<String>,
    /// One of the catalog icons (`laptop`, `key-round`, … as the 422 lists them).
    pub icon: Option<String>,
    /// The form, in the spec's form schema format; left out: an empty form.
    #[schema(value_type = Option<Object>)]
    pub form_schema: Option<Value>,
    pub fulfillment_group_id: Option<Uuid>,
    /// `{"stages": [{"approvers": [{"type": "user", "id": …} | {"type": "group", "id": …} |
    /// {"type": "manager"} | {"type": "role", "name": …} | {"type": "application_owner", "field": …}],
    /// "rule": "all" | "any" | {"quorum": 2} | {"percent": 50}, "remind_after_hours"?: 8,
    /// "timeout_after_hours"?: 24, "on_timeout"?: "reject" | "escalate"}]}` (hours are business
    /// hours of the default schedule).
    #[schema(value_type = Option<Object>)]
    pub approval_chain: Option<Value>,
    /// The fulfilment tasks an approved request gets, in order: `[{"key": "order", "title":
    /// "Order the laptop", "assigned_group_id"?, "assigned_to"?, "depends_on"?: ["other key"]}]`.
    /// Tasks run in parallel unless they wait for others.
    #[schema(value_type = Option<Vec<Object>>)]
    pub task_templates: Option<Value>,
    pub sla_policy_id: Option<Uuid>,
    /// low, medium (default), high or critical.
    pub default_priority: Option<String>,
    pub estimated_hours: Option<i32>,
    pub cost: Option<f64>,
    /// one_time, monthly or yearly.
    pub cost_type: Option<String>,
    /// Only members of these groups see the item; empty: everyone.
    #[serde(default)]
    pub visible_to_groups: Vec<Uuid>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub sort_order: Option<i32>,
}

/// Schema problems keyed `form_schema.<path>`, as the builder marks them.
pub fn schema_problems(value: &Value) -> Result<FormSchema, Problems> {
    schema::parse(value).map_err(|errs| {
        let mut p = Problems::default();
        for (path, msg) in errs {
            let key = if path.is_empty() {
                "form_schema".to_string()
            } else {
                format!("form_schema.{path}")
            };
            p.add(&key, msg);
        }
        p
    })
}

/// Parses and checks an approval chain against the tenant's users, groups and roles and the
/// item's form (an application owner stage names an application field of it).
pub async fn check_chain(
    tx: &mut TenantTx,
    value: &Value,
    form: Option<&FormSchema>,
    p: &mut Problems,
) -> Result<Chain, AppError> {
    let chain: Chain = match serde_path_to_error::deserialize(value) {
        Ok(c) => c,
        Err(e) => {
            p.add(
                &path_key("approval_chain", &e.path().to_string()),
                serde_message(&e),
            );
            return Ok(Chain::default());
        }
    };
    for (path, msg) in domain::approvals::check(&chain) {
        p.add(&format!("approval_chain.{path}"), msg);
    }
    const USER: &str = "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND status = 'active')";
    const GROUP: &str = "SELECT EXISTS (SELECT 1 FROM groups WHERE id = $1)";
    for (i, stage) in chain.stages.iter().enumerate() {
        for (j, a) in stage.approvers.iter().enumerate() {
            let at = format!("approval_chain.stages[{i}].approvers[{j}]");
            match a {
                Approver::User { id } if !exists(tx, USER, *id).await? => {
                    p.add(&at, "no such active user")
                }
                Approver::Group { id } if !exists(tx, GROUP, *id).await? => {
                    p.add(&at, "no such group")
                }
                Approver::Role { name } => {
                    let known: bool =
                        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM roles WHERE name = $1)")
                            .bind(name)
                            .fetch_one(&mut **tx)
                            .await?;
                    if !known {
                        p.add(&at, format!("no role named '{name}'"));
                    }
                }
                Approver::ApplicationOwner { field } => {
                    let ok = form.is_some_and(|f| {
                        f.field(field)
                            .is_some_and(|f| f.kind == FieldType::ApplicationPicker)
                    });
                    if !ok {
                        p.add(
                            &at,
                            format!("'{field}' is not an application field of this form"),
                        );
                    }
                }
                _ => {}
            }
        }
    }
    Ok(chain)
}

/// Parses and checks fulfilment task templates (keys, dependencies, the people and groups
/// they name); problems go to `task_templates.<path>`.
pub async fn check_tasks(
    tx: &mut TenantTx,
    value: &Value,
    p: &mut Problems,
) -> Result<Vec<TaskTemplate>, AppError> {
    let tasks: Vec<TaskTemplate> = match serde_path_to_error::deserialize(value) {
        Ok(t) => t,
        Err(e) => {
            p.add(
                &path_key("task_templates", &e.path().to_string()),
                serde_message(&e),
            );
            return Ok(Vec::new());
        }
    };
    for (path, msg) in fulfilment::check(&tasks) {
        p.add(&format!("task_templates{path}"), msg);
    }
    const USER: &str = "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND status = 'active')";
    const GROUP: &str = "SELECT EXISTS (SELECT 1 FROM groups WHERE id = $1)";
    for (i, t) in tasks.iter().enumerate() {
        if let Some(u) = t.assigned_to
            && !exists(tx, USER, u).await?
        {
            p.add(
                &format!("task_templates[{i}].assigned_to"),
                "no such active user",
            );
        }
        if let Some(g) = t.assigned_group_id
            && !exists(tx, GROUP, g).await?
        {
            p.add(
                &format!("task_templates[{i}].assigned_group_id"),
                "no such group",
            );
        }
    }
    Ok(tasks)
}

/// `root.path` for a serde path (`.` is the root itself).
pub(super) fn path_key(root: &str, path: &str) -> String {
    if path == "." {
        root.to_string()
    } else if path.starts_with('[') {
        format!("{root}{path}")
    } else {
        format!("{root}.{path}")
    }
}

/// serde's message without its line and column.
pub(super) fn serde_message<E: std::fmt::Display>(e: &serde_path_to_error::Error<E>) -> String {
    let msg = e.inner().to_string();
    msg.split(" at line ").next().unwrap_or(&msg).to_string()
}

/// The name, card text and Markdown description every catalog entry has; returns the name
/// trimmed.
pub(super) fn check_texts<'a>(
    p: &mut Problems,
    name: &'a str,
    short_desc: &Option<String>,
    description: &Option<String>,
) -> &'a str {
    let name = name.trim();
    if name.is_empty() {
        p.add("name", "is required");
    } else if name.chars().count() > 255 {
        p.add("name", "must be at most 255 characters");
    }
    if blank(short_desc).is_some_and(|s| s.chars().count() > 500) {
        p.add("short_desc", "must be at most 500 characters");
    }
    if blank(description).is_some_and(|s| s.chars().count() > 20_000) {
        p.add("description", "must be at most 20000 characters");
    }
    name
}

pub async fn save_item(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Option<Uuid>,
    b: &ItemBody,
) -> Result<Item, AppError> {
    let before = match id {
        Some(id) => {
            store::lock_item(tx, id).await?;
            Some(store::item(tx, id, Viewer::Manager).await?)
        }
        None => None,
    };
    let mut p = Problems::default();
    let name = check_texts(&mut p, &b.name, &b.short_desc, &b.description);
    let priority = blank(&b.default_priority).unwrap_or("medium");
    p.one_of("default_priority", priority, store::PRIORITIES);
    if let Some(t) = blank(&b.cost_type) {
        p.one_of("cost_type", t, store::COST_TYPES);
    }
    if b.cost
        .is_some_and(|c| !c.is_finite() || !(0.0..=99_999_999.0).contains(&c))
    {
        p.add("cost", "must be between 0 and 99999999");
    }
    if b.estimated_hours
        .is_some_and(|h| !(0..=10_000).contains(&h))
    {
        p.add("estimated_hours", "must be between 0 and 10000");
    }
    if b.tags.len() > 20
        || b.tags
            .iter()
            .any(|t| t.trim().is_empty() || t.chars().count() > 50)
    {
        p.add("tags", "at most 20 tags of 1–50 characters");
    }
    let empty_form = json!({"version": "1.0", "fields": []});
    let form_value = b.form_schema.clone().unwrap_or(empty_form);
    let form = match schema_problems(&form_value) {
        Ok(f) => Some(f),
        Err(errs) => {
            p.0.extend(errs.0);
            None
        }
    };
    if let Some(why) = blank(&b.icon).and_then(super::icons::problem) {
        p.add("icon", why);
    }
    let chain_value = b.approval_chain.clone().unwrap_or(json!({"stages": []}));
    let chain = check_chain(tx, &chain_value, form.as_ref(), &mut p).await?;
    let tasks_value = b.task_templates.clone().unwrap_or(json!([]));
    let tasks = check_tasks(tx, &tasks_value, &mut p).await?;
    const CATEGORY: &str = "SELECT EXISTS (SELECT 1 FROM catalog_categories WHERE id = $1)";
    const GROUP: &str = "SELECT EXISTS (SELECT 1 FROM groups WHERE id = $1)";
    const POLICY: &str =
        "SELECT EXISTS (SELECT 1 FROM sla_policies WHERE id = $1 AND entity_type = 'request')";
    if let Some(c) = b.category_id
        && !exists(tx, CATEGORY, c).await?
    {
        p.add("category_id", "no such category");
    }
    if let Some(g) = b.fulfillment_group_id
        && !exists(tx, GROUP, g).await?
    {
        p.add("fulfillment_group_id", "no such group");
    }
    if let Some(s) = b.sla_policy_id
        && !exists(tx, POLICY, s).await?
    {
        p.add("sla_policy_id", "no such SLA policy for requests");
    }
    for g in &b.visible_to_groups {
        if !exists(tx, GROUP, *g).await? {
            p.add("visible_to_groups", "no such group");
        }
    }
    p.into_result()?;
    // Stored as parsed, so defaults are explicit and unknown keys cannot sneak in.
    let form_value = serde_json::to_value(form.unwrap_or_default()).unwrap_or_default();
    let chain_value = serde_json::to_value(&chain).unwrap_or_default();
    let tasks_value = serde_json::to_value(&tasks).unwrap_or_default();
    let tags: Vec<String> = b.tags.iter().map(|t| t.trim().to_string()).collect();
    let input = ItemInput {
        category_id: b.category_id,
        name,
        short_desc: blank(&b.short_desc),
        description: blank(&b.description),
        icon: blank(&b.icon),
        form_schema: &form_value,
        fulfillment_group_id: b.fulfillment_group_id,
        approval_chain: &chain_value,
        task_templates: &tasks_value,
        sla_policy_id: b.sla_policy_id,
        default_priority: priority,
        estimated_hours: b.estimated_hours,
        cost: b.cost,
        cost_type: blank(&b.cost_type),
        visible_to_groups: &b.visible_to_groups,
        tags: &tags,
        sort_order: b.sort_order.unwrap_or(0),
    };
    let id = store::save_item(tx, id, actor.user_id, &input).await?;
    let after = store::item(tx, id, Viewer::Manager).await?;
    events::saved(
        tx,
        tenant,
        actor,
        "catalog_item",
        id,
        before.as_ref(),
        &after,
    )
    .await?;
    Ok(after)
}

/// Saves only the draft form (the builder). Refuses an invalid schema with its paths.
pub async fn save_form(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Uuid,
    form: &Value,
) -> Result<Item, AppError> {
    store::lock_item(tx, id).await?;
    let before = store::item(tx, id, Viewer::Manager).await?;
    if before.status == "retired" {
        return Err(AppError::Conflict {
            message: "A retired item cannot be edited; clone it instead.".into(),
            details: Value::Null,
        });
    }
    let parsed = match schema_problems(form) {
        Ok(p) => p,
        Err(p) => return Err(p.into_result().err().unwrap_or(AppError::NotFound)),
    };
    let value = serde_json::to_value(parsed).unwrap_or_default();
    store::save_form_keeping_undo(tx, id, &value).await?;
    let after = store::item(tx, id, Viewer::Manager).await?;
    events::saved(tx, tenant, actor, "catalog_item", id, Some(&before), &after).await?;
    Ok(after)
}

/// Freezes the draft as a version requesters fill in from now on.
pub async fn publish(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Uuid,
) -> Result<Item, AppError> {
    store::lock_item(tx, id).await?;
    let before = store::item(tx, id, Viewer::Manager).await?;
    if before.status == "retired" {
        return Err(AppError::Conflict {
            message: "A retired item cannot be published; clone it instead.".into(),
            details: json!({"allowed": ["clone"]}),
        });
    }
    if !before.has_unpublished_changes {
        return Err(AppError::Conflict {
            message: "Nothing changed since the last publish.".into(),
            details: Value::Null,
        });
    }
    let form = schema::parse(&before.form_schema).map_err(|_| {
        AppError::field(
            "form_schema",
            "The draft form has problems; fix them in the builder first.",
        )
    })?;
    if form.fields.is_empty() {
        return Err(AppError::field(
            "form_schema",
            "Add at least one field before publishing.",
        ));
    }
    let version = store::publish(tx, id, actor.user_id).await?;
    let after = store::item(tx, id, Viewer::Manager).await?;
    let changes = crate::platform::audit::diff(Some(&before), Some(&after));
    let audit = Audit {
        action: "publish",
        changes,
    };
    events::record_and_emit(
        tx,
        tenant,
        actor,
        audit,
        "catalog_item.published",
        "catalog_item",
        id,
        json!({"catalog_item": &after, "version": version}),
    )
    .await?;
    Ok(after)
}

/// A new draft with the same settings and form.
pub async fn clone_item(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Uuid,
) -> Result<Item, AppError> {
    let src = store::item(tx, id, Viewer::Manager).await?;
    let name = format!("Copy of {}", src.name);
    let name: String = name.chars().take(255).collect();
    let input = ItemInput {
        category_id: src.category_id,
        name: &name,
        short_desc: src.short_desc.as_deref(),
        description: src.description.as_deref(),
        icon: src.icon.as_deref(),
        form_schema: &src.form_schema,
        fulfillment_group_id: src.fulfillment_group_id,
        approval_chain: &src.approval_chain,
        task_templates: &src.task_templates,
        sla_policy_id: src.sla_policy_id,
        default_priority: &src.default_priority,
        estimated_hours: src.estimated_hours,
        cost: src.cost,
        cost_type: src.cost_type.as_deref(),
        visible_to_groups: &src.visible_to_groups,
        tags: &src.tags,
        sort_order: src.sort_order,
    };
    let new = store::save_item(tx, None, actor.user_id, &input).await?;
    let after = store::item(tx, new, Viewer::Manager).await?;
    events::saved(tx, tenant, actor, "catalog_item", new, None, &after).await?;
    Ok(after)
}

/// Retired items leave the portal; their requests and versions stay.
pub async fn retire(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Uuid,
) -> Result<Item, AppError> {
    store::lock_item(tx, id).await?;
    let before = store::item(tx, id, Viewer::Manager).await?;
    store::set_status(tx, id, "retired").await?;
    let after = store::item(tx, id, Viewer::Manager).await?;
    events::saved(tx, tenant, actor, "catalog_item", id, Some(&before), &after).await?;
    Ok(after)
}
