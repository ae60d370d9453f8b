//! Export and import of a catalog item: its draft form and settings as one JSON document in
//! the shape `POST /v1/catalog/items` takes, so an export imports unchanged (as a new draft)
//! here, or in another tenant once the ids it names (category, groups, SLA policy, approvers)
//! exist there — an id that does not is refused with the field it is in.

use std::collections::BTreeMap;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::actions::{self, ItemBody};
use super::perm::CATALOG_MANAGE;
use super::store::{self, Item, Viewer};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::WebError;
use crate::platform::state::AppState;
use crate::platform::toast::Toast;
use crate::platform::web::{Hx, PathId};

/// The item as an import document.
pub fn document(i: &Item) -> Value {
    json!({
        "name": i.name,
        "category_id": i.category_id,
        "short_desc": i.short_desc,
        "description": i.description,
        "icon": i.icon,
        "form_schema": i.form_schema,
        "fulfillment_group_id": i.fulfillment_group_id,
        "approval_chain": i.approval_chain,
        "task_templates": i.task_templates,
        "sla_policy_id": i.sla_policy_id,
        "default_priority": i.default_priority,
        "estimated_hours": i.estimated_hours,
        "cost": i.cost,
        "cost_type": i.cost_type,
        "visible_to_groups": i.visible_to_groups,
        "tags": i.tags,
        "sort_order": i.sort_order,
    })
}

/// Downloads the item's draft and settings as `<name>.json`.
pub async fn export(mut ctx: WebCtx, PathId(id): PathId) -> Result<Response, WebError> {
    ctx.require(CATALOG_MANAGE)?;
    let item = store::item(&mut ctx.tx, id, Viewer::Manager).await?;
    ctx.tx.commit().await?;
    let body = serde_json::to_string_pretty(&document(&item)).map_err(anyhow::Error::from)?;
    let file: String = item
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let disposition = format!("attachment; filename=\"{}.json\"", file.trim_matches('-'));
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// Imports an exported item (a chosen file, else the pasted text) as a new draft.
pub async fn import(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    Hx(hx): Hx,
    req: Request,
) -> Result<Response, WebError> {
    ctx.require(CATALOG_MANAGE)?;
    let (pairs, uploads) = super::portal::read_form(&state, req).await?;
    let text = match uploads
        .iter()
        .find(|u| u.field == "file" && !u.bytes.is_empty())
    {
        Some(u) => String::from_utf8_lossy(&u.bytes).into_owned(),
        None => pairs
            .iter()
            .find(|(k, _)| k == "json")
            .map(|(_, v)| v.clone())
            .unwrap_or_default(),
    };
    let refuse = |why: String| BTreeMap::from([("import".to_string(), why)]);
    let body: ItemBody = match serde_json::from_str(&text) {
        Ok(b) => b,
        Err(_) if text.trim().is_empty() => {
            let why = refuse("Choose an exported item's file, or paste its JSON.".into());
            return super::admin_web::index_with(ctx, hx, why, StatusCode::UNPROCESSABLE_ENTITY)
                .await;
        }
        Err(e) => {
            let why = refuse(format!("This is not an exported item: {e}."));
            return super::admin_web::index_with(ctx, hx, why, StatusCode::UNPROCESSABLE_ENTITY)
                .await;
        }
    };
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            actions::save_item(&mut ctx.tx, &slug, &actor, None, &body).await
        })
        .await?;
    match saved {
        Ok(item) => {
            let said = format!(
                "“{}” imported as a draft: check it, then publish.",
                item.name
            );
            let to = format!("/catalog/manage/items/{}", item.id);
            ctx.saved_with(hx, &to, &Toast::success(said)).await
        }
        Err(refused) => {
            let problems: Vec<String> = refused
                .errors
                .0
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .chain(refused.notice)
                .collect();
            let why = refuse(format!("Nothing was imported: {}.", problems.join("; ")));
            super::admin_web::index_with(ctx, hx, why, refused.status).await
        }
    }
}
