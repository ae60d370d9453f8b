//! Submitting a request: for one catalog item (answers checked by the catalog rules, approvals
//! started, tasks created when no approval is needed) or for a bundle (its shared questions
//! once, then one child request per chosen item under a parent request).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use domain::approvals::{Chain, Outcome};
use domain::catalog::answers::{self, Context};
use domain::catalog::bundles;
use domain::catalog::schema::{self, FieldType, FormSchema};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::actions::ENTITY;
use super::store::{self, NewRequest, Request, Scope};
use crate::approvals::engine;
use crate::catalog::store::{self as catalog, Item, Version, Viewer};
use crate::catalog::{bundles as bundle_store, form};
use crate::platform::audit::Actor;
use crate::platform::error::AppError;
use crate::platform::events::{self, Audit};
use crate::platform::tenancy::{Slug, TenantTx, exists};

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RequestSubmitBody)]
pub struct SubmitBody {
    /// One catalog item, or
    pub catalog_item_id: Option<Uuid>,
    /// a bundle: a parent request with one child request per item.
    pub bundle_id: Option<Uuid>,
    /// Answers keyed by field id. For a bundle, the shared questions' answers also fill the
    /// items' fields of the same id.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub form_data: Map<String, Value>,
    /// On behalf of someone else (default: the caller).
    pub requested_for_id: Option<Uuid>,
    /// A bundle's optional items the requester does not want.
    #[serde(default)]
    pub exclude_items: Vec<Uuid>,
}

/// Who submits, and how the answers arrived.
pub struct Submitter {
    pub user: Uuid,
    pub today: NaiveDate,
    /// When it is submitted (approval reminders count from here).
    pub now: chrono::DateTime<chrono::Utc>,
    /// JSON submissions take field defaults for answers left out; a browser form was prefilled
    /// with them, so a blank there is meant.
    pub api: bool,
    /// File answers the page has stored for this submission, by field id.
    pub files: BTreeMap<String, Value>,
}

type Errors = BTreeMap<String, String>;

fn invalid(fields: Errors) -> AppError {
    AppError::Validation {
        message: "Some answers need attention.".into(),
        fields,
    }
}

/// An item's answers, checked and ready to store.
struct Prepared {
    item: Item,
    version: Version,
    values: Map<String, Value>,
    chain: Chain,
}

/// Loads the item's published form and checks the answers meant for it. `only_own` keeps the
/// answers of fields the form has and ignores the rest (a bundle's answers span items);
/// otherwise an unknown field is an error. Problems go to `errors` as `form_data.<id>`.
async fn prepare(
    tx: &mut TenantTx,
    who: &Submitter,
    item_id: Uuid,
    form_data: &Map<String, Value>,
    only_own: bool,
    errors: &mut Errors,
) -> Result<Option<Prepared>, AppError> {
    let item = match catalog::item(tx, item_id, Viewer::Requester(who.user)).await {
        Ok(i) => i,
        Err(AppError::NotFound) => {
            errors.insert(
                "catalog_item_id".into(),
                "no such item in the catalog (or it is not open to you)".into(),
            );
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let Some(version_no) = item.published_version else {
        errors.insert(
            "catalog_item_id".into(),
            format!("{} is not published", item.name),
        );
        return Ok(None);
    };
    let version = catalog::version(tx, item.id, version_no).await?;
    let form_schema: FormSchema = schema::parse(&version.form_schema)
        .map_err(|_| anyhow::anyhow!("published form of {} does not parse", item.id))?;
    let mut given = form_data.clone();
    if only_own {
        given.retain(|k, _| form_schema.field(k).is_some());
    }
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
        errors.entry(format!("form_data.{k}")).or_insert(v);
    }
    let chain: Chain = serde_json::from_value(version.approval_chain.clone()).unwrap_or_default();
    Ok(Some(Prepared {
        item,
        version,
        values: checked.values,
        chain,
    }))
}

async fn requested_for(
    tx: &mut TenantTx,
    who: &Submitter,
    b: &SubmitBody,
    errors: &mut Errors,
) -> Result<(Uuid, Option<String>), AppError> {
    let for_id = b.requested_for_id.unwrap_or(who.user);
    if for_id == who.user {
        return Ok((for_id, None));
    }
    const ACTIVE: &str = "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND status = 'active')";
    if !exists(tx, ACTIVE, for_id).await? {
        errors.insert("requested_for_id".into(), "no such active user".into());
        return Ok((for_id, None));
    }
    let name: Option<String> = sqlx::query_scalar("SELECT name FROM users WHERE id = $1")
        .bind(for_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok((for_id, name))
}

fn titled(name: &str, quantity: i32, for_name: &Option<String>) -> String {
    let name = if quantity > 1 {
        format!("{quantity} × {name}")
    } else {
        name.to_string()
    };
    match for_name {
        Some(n) => format!("{name} for {n}"),
        None => name,
    }
}

async fn created(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    r: &Request,
) -> Result<(), AppError> {
    let changes = crate::platform::audit::diff(None::<&Request>, Some(r));
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
        r.id,
        json!({"request": r}),
    )
    .await
}

/// One item's request: stored, its approvals started (or, with none, its tasks created).
#[expect(
    clippy::too_many_arguments,
    reason = "who asks what for whom, under which parent"
)]
async fn create(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    who: &Submitter,
    p: Prepared,
    for_id: Uuid,
    title: &str,
    parent: Option<Uuid>,
) -> Result<Request, AppError> {
    let pending = !p.chain.stages.is_empty();
    let values = Value::Object(p.values.clone());
    let id = store::create(
        tx,
        &NewRequest {
            title,
            item: Some(p.item.id),
            version: Some(p.version.version),
            bundle: None,
            parent,
            requester: who.user,
            requested_for: for_id,
            group: p.item.fulfillment_group_id,
            priority: &p.item.default_priority,
            form_data: &values,
            status: if pending {
                "pending_approval"
            } else {
                "approved"
            },
            approval_status: pending.then_some("pending"),
            sla_policy: p.item.sla_policy_id,
            at: who.now,
        },
    )
    .await?;
    if pending {
        let actx = engine::Context {
            requester: Some(who.user),
            subject_person: Some(for_id),
            fallback_group: p.item.fulfillment_group_id,
            values: p.values,
        };
        let outcome = engine::start(tx, tenant, ENTITY, id, &p.chain, &actx, who.now).await?;
        debug_assert_eq!(outcome, Outcome::Pending);
    }
    store::clocks_moved(tx, tenant, id, who.now).await?;
    let after = store::get(tx, id, Scope::All).await?;
    created(tx, tenant, actor, &after).await?;
    if !pending {
        // After `request.created`, so receivers hear of the request before its tasks.
        super::tasks::spawn(tx, tenant, actor, &after).await?;
    }
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

pub async fn submit(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    who: &Submitter,
    b: &SubmitBody,
) -> Result<Request, AppError> {
    match (b.catalog_item_id, b.bundle_id) {
        (Some(_), Some(_)) => Err(AppError::field(
            "bundle_id",
            "Ask for one item or one bundle, not both.",
        )),
        (None, None) => Err(AppError::field("catalog_item_id", "is required")),
        (None, Some(bundle)) => submit_bundle(tx, tenant, actor, who, bundle, b).await,
        (Some(item), None) => {
            let mut errors = Errors::new();
            let (for_id, for_name) = requested_for(tx, who, b, &mut errors).await?;
            let p = prepare(tx, who, item, &b.form_data, false, &mut errors).await?;
            let Some(p) = p.filter(|_| errors.is_empty()) else {
                return Err(invalid(errors));
            };
            let title = titled(&p.version.name, 1, &for_name);
            create(tx, tenant, actor, who, p, for_id, &title, None).await
        }
    }
}

/// A parent request for the bundle and a child request per chosen item; every answer is
/// checked before anything is stored.
async fn submit_bundle(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    who: &Submitter,
    bundle_id: Uuid,
    b: &SubmitBody,
) -> Result<Request, AppError> {
    let bundle = match bundle_store::get(tx, bundle_id, false).await {
        Ok(x) => x,
        Err(AppError::NotFound) => {
            return Err(AppError::field(
                "bundle_id",
                "no such bundle in the catalog",
            ));
        }
        Err(e) => return Err(e),
    };
    let (questions, items) = bundle.rules();
    let mut errors = Errors::new();
    let (for_id, for_name) = requested_for(tx, who, b, &mut errors).await?;
    let mut shared = b.form_data.clone();
    shared.retain(|k, _| questions.field(k).is_some());
    // A file question's answer is what the page stored, never what a client claims.
    for q in questions
        .fields
        .iter()
        .filter(|q| q.kind == FieldType::File)
    {
        match who.files.get(&q.id) {
            Some(v) => {
                shared.insert(q.id.clone(), v.clone());
            }
            None => {
                shared.remove(&q.id);
            }
        }
    }
    let ctx = Context {
        today: who.today,
        requester: who.user,
    };
    let checked = answers::check(&questions, &shared, ctx, who.api);
    let mut field_errors = checked.errors.clone();
    form::check_lookups(tx, &checked.lookups, &mut field_errors).await?;
    for (k, v) in field_errors {
        errors.insert(format!("form_data.{k}"), v);
    }
    let unticked: BTreeSet<Uuid> = b.exclude_items.iter().copied().collect();
    let chosen = bundles::chosen(&questions, &items, &checked.values, &unticked, who.today);
    if chosen.is_empty() {
        errors.insert(
            "exclude_items".into(),
            "Nothing is left to request: keep at least one item.".into(),
        );
    }
    // The shared answers, normalised, fill the items' fields of the same id.
    let mut answers = b.form_data.clone();
    for (k, v) in &checked.values {
        answers.insert(k.clone(), v.clone());
    }
    let mut prepared = Vec::new();
    let mut known: BTreeSet<String> = questions.fields.iter().map(|f| f.id.clone()).collect();
    for it in &chosen {
        if let Some(p) = prepare(tx, who, it.item_id, &answers, true, &mut errors).await? {
            let v: FormSchema = schema::parse(&p.version.form_schema).unwrap_or_default();
            known.extend(v.fields.iter().map(|f| f.id.clone()));
            prepared.push((p, it.quantity));
        }
    }
    if let Some(unknown) = b.form_data.keys().find(|k| !known.contains(*k)) {
        errors.insert(
            format!("form_data.{unknown}"),
            "Neither the bundle nor its chosen items ask this.".into(),
        );
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let shared_values = Value::Object(checked.values.clone());
    let parent = store::create(
        tx,
        &NewRequest {
            title: &titled(&bundle.name, 1, &for_name),
            item: None,
            version: Some(bundle.version),
            bundle: Some(bundle.id),
            parent: None,
            requester: who.user,
            requested_for: for_id,
            group: None,
            priority: "medium",
            form_data: &shared_values,
            // Its children carry the approvals and the work; it follows them.
            status: "in_progress",
            approval_status: None,
            sla_policy: None,
            at: who.now,
        },
    )
    .await?;
    let parent_request = store::get(tx, parent, Scope::All).await?;
    created(tx, tenant, actor, &parent_request).await?;
    for (p, quantity) in prepared {
        let title = titled(&p.version.name, quantity, &for_name);
        create(tx, tenant, actor, who, p, for_id, &title, Some(parent)).await?;
    }
    store::get(tx, parent, Scope::All).await
}
