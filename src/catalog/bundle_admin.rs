//! Bundle administration: a bundle's settings, its shared questions (the catalog form format)
//! and a table of the catalog's items to put in it — quantity, optional, and an optional
//! condition on the shared questions.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use uuid::Uuid;

use super::bundles::{self, Bundle, BundleBody};
use super::perm::CATALOG_MANAGE;
use super::store::{self, Item};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::WebError;
use crate::platform::toast::Toast;
use crate::platform::web::{Choices, Chrome, Errors, Hx, PathId, choices};
use crate::render_page;

/// One catalog item as a row of the bundle's item table.
pub struct Row {
    pub item: Item,
    pub included: bool,
    pub quantity: String,
    pub optional: bool,
    pub include_when: String,
    pub position: usize,
}

#[derive(Template)]
#[template(path = "catalog/bundle_edit.html", blocks = ["content"])]
struct EditPage {
    chrome: Chrome,
    /// None: a new bundle.
    bundle: Option<Bundle>,
    v: BTreeMap<String, String>,
    rows: Vec<Row>,
    categories: Choices,
    errors: Errors,
}

impl EditPage {
    fn val(&self, k: &str) -> &str {
        self.v.get(k).map(String::as_str).unwrap_or("")
    }

    /// Errors about the item table, which has no single input to sit beside.
    fn item_errors(&self) -> Vec<(&String, &String)> {
        self.errors
            .0
            .iter()
            .filter(|(k, _)| k.starts_with("items"))
            .collect()
    }

    fn action(&self) -> String {
        match &self.bundle {
            Some(b) => format!("/catalog/manage/bundles/{}", b.id),
            None => "/catalog/manage/bundles".into(),
        }
    }
}

fn values_of(b: &Bundle) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("name".into(), b.name.clone()),
        (
            "short_desc".into(),
            b.short_desc.clone().unwrap_or_default(),
        ),
        (
            "description".into(),
            b.description.clone().unwrap_or_default(),
        ),
        (
            "category_id".into(),
            b.category_id.map(|c| c.to_string()).unwrap_or_default(),
        ),
        ("status".into(), b.status.clone()),
        (
            "form_schema".into(),
            serde_json::to_string_pretty(&b.form_schema).unwrap_or_default(),
        ),
    ])
}

async fn page(
    mut ctx: WebCtx,
    hx: bool,
    bundle: Option<Bundle>,
    v: BTreeMap<String, String>,
    posted: Option<&[(String, String)]>,
    errors: BTreeMap<String, String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let items = store::first_items(&mut ctx.tx).await?;
    let categories = choices(
        &mut ctx.tx,
        "SELECT id, name FROM catalog_categories ORDER BY name",
    )
    .await?;
    ctx.tx.commit().await?;
    let rows = items
        .into_iter()
        .filter(|i| i.status != "retired")
        .map(|item| {
            let id = item.id.to_string();
            match posted {
                Some(p) => {
                    let get = |k: &str| {
                        p.iter()
                            .find(|(n, _)| *n == format!("{k}_{id}"))
                            .map(|(_, v)| v.clone())
                    };
                    Row {
                        included: get("in").is_some(),
                        quantity: get("qty").unwrap_or_else(|| "1".into()),
                        optional: get("opt").is_some(),
                        include_when: get("when").unwrap_or_default(),
                        position: p
                            .iter()
                            .position(|(n, _)| *n == format!("in_{id}"))
                            .unwrap_or(usize::MAX),
                        item,
                    }
                }
                None => {
                    let entry = bundle.as_ref().and_then(|b| {
                        b.items
                            .iter()
                            .position(|e| e.item_id == item.id)
                            .map(|i| (i, &b.items[i]))
                    });
                    Row {
                        included: entry.is_some(),
                        quantity: entry.map_or(1, |(_, e)| e.quantity).to_string(),
                        optional: entry.is_some_and(|(_, e)| e.optional),
                        include_when: entry
                            .and_then(|(_, e)| e.include_when.as_ref())
                            .map(|c| c.to_string())
                            .unwrap_or_default(),
                        position: entry.map_or(usize::MAX, |(i, _)| i),
                        item,
                    }
                }
            }
        })
        .collect::<Vec<_>>();
    let mut rows = rows;
    // The bundle's items first, in its order; the rest of the catalog after.
    rows.sort_by_key(|r| (!r.included, r.position));
    let page = EditPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "catalog_manage",
            &ctx.manifest,
            ctx.now,
        ),
        bundle,
        v,
        rows,
        categories,
        errors: errors.into(),
    };
    Ok(render_page!(hx, page, status))
}

pub async fn new_bundle(ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require(CATALOG_MANAGE)?;
    let v = BTreeMap::from([(
        "form_schema".to_string(),
        serde_json::to_string_pretty(&json!({"version": "1.0", "fields": []})).unwrap_or_default(),
    )]);
    page(ctx, hx, None, v, None, BTreeMap::new(), StatusCode::OK).await
}

pub async fn edit(mut ctx: WebCtx, Hx(hx): Hx, PathId(id): PathId) -> Result<Response, WebError> {
    ctx.require(CATALOG_MANAGE)?;
    let b = bundles::get(&mut ctx.tx, id, true).await?;
    let v = values_of(&b);
    page(ctx, hx, Some(b), v, None, BTreeMap::new(), StatusCode::OK).await
}

/// The form as a bundle body; what cannot be read is an error beside its input.
fn body_of(pairs: &[(String, String)], errors: &mut BTreeMap<String, String>) -> BundleBody {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let form_schema = get("form_schema").and_then(|t| match serde_json::from_str::<Value>(&t) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.insert(
                "form_schema".into(),
                format!("This is not valid JSON: {e}."),
            );
            None
        }
    });
    let mut items = Vec::new();
    for (k, _) in pairs.iter().filter(|(k, _)| k.starts_with("in_")) {
        let id = &k[3..];
        let Ok(item_id) = id.parse::<Uuid>() else {
            continue;
        };
        let quantity = match get(&format!("qty_{id}")).map(|q| q.parse::<i32>()) {
            Some(Ok(q)) => q,
            None => 1,
            Some(Err(_)) => {
                errors.insert(format!("qty_{id}"), "Use a whole number.".into());
                1
            }
        };
        let mut entry = json!({"item_id": item_id, "quantity": quantity,
            "optional": get(&format!("opt_{id}")).is_some()});
        if let Some(w) = get(&format!("when_{id}")) {
            match serde_json::from_str::<Value>(&w) {
                Ok(c) => entry["include_when"] = c,
                Err(e) => {
                    errors.insert(
                        format!("when_{id}"),
                        format!("This is not valid JSON: {e}."),
                    );
                }
            }
        }
        items.push(entry);
    }
    BundleBody {
        name: get("name").unwrap_or_default(),
        short_desc: get("short_desc"),
        description: get("description"),
        category_id: get("category_id").and_then(|c| c.parse().ok()),
        status: get("status"),
        form_schema,
        items: Value::Array(items),
        ..Default::default()
    }
}

async fn save(
    mut ctx: WebCtx,
    hx: bool,
    id: Option<Uuid>,
    pairs: Vec<(String, String)>,
) -> Result<Response, WebError> {
    ctx.require(CATALOG_MANAGE)?;
    let before = match id {
        Some(id) => Some(bundles::get(&mut ctx.tx, id, true).await?),
        None => None,
    };
    let v: BTreeMap<String, String> = pairs
        .iter()
        .filter(|(k, _)| {
            [
                "name",
                "short_desc",
                "description",
                "category_id",
                "status",
                "form_schema",
            ]
            .contains(&k.as_str())
        })
        .cloned()
        .collect();
    let mut errors = BTreeMap::new();
    let mut body = body_of(&pairs, &mut errors);
    if let Some(b) = &before {
        body.icon = b.icon.clone();
        body.sort_order = Some(b.sort_order);
    }
    if !errors.is_empty() {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return page(ctx, hx, before, v, Some(&pairs), errors, status).await;
    }
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            bundles::save(&mut ctx.tx, &slug, &actor, id, &body).await
        })
        .await?;
    match saved {
        Ok(b) => {
            let said = format!("Bundle “{}” saved.", b.name);
            let to = format!("/catalog/manage/bundles/{}", b.id);
            ctx.saved_with(hx, &to, &Toast::success(said)).await
        }
        Err(refused) => {
            // Item-table paths (`items[2].include_when.field`) are listed above the table.
            let errors = refused.errors.0;
            page(ctx, hx, before, v, Some(&pairs), errors, refused.status).await
        }
    }
}

pub async fn create(
    ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    save(ctx, hx, None, pairs).await
}

pub async fn update(
    ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    save(ctx, hx, Some(id), pairs).await
}
