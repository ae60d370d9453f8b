//! Changing a request's answers before work starts. The answers are checked against the form
//! version the request was submitted under; when they change on a request that waits for or
//! has its approvals, the approvals start again from the first step — an approver said yes
//! to the old answers, not to these.

use std::collections::BTreeMap;

use domain::approvals::Chain;
use domain::catalog::answers::{self, Context};
use domain::catalog::schema::{self, FieldType};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::actions::ENTITY;
use super::store::{self, Request, Scope};
use crate::approvals::engine;
use crate::catalog::form;
use crate::platform::audit::Actor;
use crate::platform::error::AppError;
use crate::platform::events::{self, Audit};
use crate::platform::tenancy::{Slug, TenantTx};

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RequestUpdateBody)]
pub struct UpdateBody {
    /// The answers, keyed by field id (all of them: what is left out is no longer answered;
    /// file answers stay as they are).
    #[schema(value_type = Object)]
    pub form_data: Map<String, Value>,
}

#[expect(clippy::too_many_arguments, reason = "who changes which request, when")]
/// `agent`: the service desk, who may change anyone's request; otherwise only the requester.
pub async fn update(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    agent: bool,
    today: chrono::NaiveDate,
    now: chrono::DateTime<chrono::Utc>,
    id: Uuid,
    b: &UpdateBody,
) -> Result<Request, AppError> {
    let me = actor.user_id.ok_or(AppError::Forbidden)?;
    let scope = if agent { Scope::All } else { Scope::Own(me) };
    store::get(tx, id, scope).await?;
    store::lock(tx, id).await?;
    let before = store::get(tx, id, Scope::All).await?;
    if !agent && before.requester_id != Some(me) {
        return Err(AppError::Forbidden);
    }
    let (Some(item), Some(version)) = (before.catalog_item_id, before.form_version) else {
        return Err(AppError::Conflict {
            message:
                "A bundle request has no answers of its own to change; change its items' requests."
                    .into(),
            details: json!({"children": before.children.iter().map(|c| c.id).collect::<Vec<_>>()}),
        });
    };
    if !matches!(
        before.status.as_str(),
        "new" | "pending_approval" | "approved"
    ) {
        return Err(AppError::Conflict {
            message: format!(
                "The answers can change until work starts; {} is {}.",
                before.request_number,
                crate::platform::web::label(&before.status).to_lowercase()
            ),
            details: json!({"status": before.status}),
        });
    }
    let v = crate::catalog::store::version(tx, item, version).await?;
    let form_schema = schema::parse(&v.form_schema)
        .map_err(|_| anyhow::anyhow!("published form of {item} does not parse"))?;
    let old = before.form_data.as_object().cloned().unwrap_or_default();
    let mut given = b.form_data.clone();
    let mut errors = BTreeMap::new();
    for f in form_schema
        .fields
        .iter()
        .filter(|f| f.kind == FieldType::File)
    {
        if given.remove(&f.id).is_some() {
            errors.insert(
                format!("form_data.{}", f.id),
                "Files cannot change here; add them as comments.".to_string(),
            );
        }
        if let Some(files) = old.get(&f.id) {
            given.insert(f.id.clone(), files.clone());
        }
    }
    if let Some(unknown) = given.keys().find(|k| form_schema.field(k).is_none()) {
        errors.insert(
            format!("form_data.{unknown}"),
            "This form has no such field.".into(),
        );
    }
    let ctx = Context {
        today,
        requester: before.requester_id.unwrap_or(me),
    };
    let checked = answers::check(&form_schema, &given, ctx, true);
    let mut field_errors = checked.errors.clone();
    form::check_lookups(tx, &checked.lookups, &mut field_errors).await?;
    for (k, msg) in field_errors {
        errors.entry(format!("form_data.{k}")).or_insert(msg);
    }
    if !errors.is_empty() {
        return Err(AppError::Validation {
            message: "Some answers need attention.".into(),
            fields: errors,
        });
    }
    let values = Value::Object(checked.values.clone());
    if values == before.form_data {
        return Ok(before);
    }
    sqlx::query("UPDATE service_requests SET form_data = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(&values)
        .execute(&mut **tx)
        .await?;
    let chain: Chain = serde_json::from_value(v.approval_chain.clone()).unwrap_or_default();
    let restart = !chain.stages.is_empty() && before.status != "new";
    if restart {
        // Nothing has started (the request is not in progress), so its tasks go too and
        // come back with the new approval.
        sqlx::query("DELETE FROM request_tasks WHERE request_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        let item_row =
            crate::catalog::store::item(tx, item, crate::catalog::store::Viewer::Manager).await?;
        let actx = engine::Context {
            requester: before.requester_id,
            subject_person: before.requested_for_id,
            fallback_group: item_row.fulfillment_group_id,
            values: checked.values.clone(),
        };
        engine::start(tx, tenant, ENTITY, id, &chain, &actx, now).await?;
        sqlx::query("UPDATE service_requests SET approval_status = 'pending' WHERE id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        let why = "The answers changed, so the approvals start again.";
        store::set_status(
            tx,
            tenant,
            id,
            "pending_approval",
            actor.user_id,
            Some(why),
            now,
        )
        .await?;
    }
    let after = store::get(tx, id, Scope::All).await?;
    let changes = crate::platform::audit::diff(Some(&before), Some(&after));
    events::record_and_emit(
        tx,
        tenant,
        actor,
        Audit {
            action: "update",
            changes,
        },
        "request.updated",
        ENTITY,
        id,
        json!({"request": &after}),
    )
    .await?;
    if restart {
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
