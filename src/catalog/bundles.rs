//! Bundles ("New hire"): several items requested together, with shared questions asked once.
//! SQL, the save checks and `/v1/catalog/bundles…`. The choice rules are
//! `domain::catalog::bundles`; requesting one is `requests::actions::submit`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use domain::catalog::bundles::{self, BundleItem};
use domain::catalog::schema::{self, FormSchema};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::actions::{blank, check_texts, path_key, schema_problems, serde_message};
use super::perm::{CATALOG_MANAGE, CATALOG_READ};
use crate::platform::audit::Actor;
use crate::platform::auth::api::ApiCtx;
use crate::platform::error::AppError;
use crate::platform::events;
use crate::platform::json::ApiJson;
use crate::platform::listing::Problems;
use crate::platform::openapi::Items;
use crate::platform::tenancy::{Slug, TenantTx, exists};
use crate::platform::web::PathId;

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CatalogBundle)]
pub struct Bundle {
    pub id: Uuid,
    pub name: String,
    pub short_desc: Option<String>,
    pub description: Option<String>,
    pub icon: Option<String>,
    pub category_id: Option<Uuid>,
    /// active or retired.
    pub status: String,
    /// The shared questions, in the catalog form schema format: asked once, their answers
    /// fill the fields of the same id in every item.
    #[schema(value_type = Object)]
    pub form_schema: Value,
    pub sort_order: i32,
    /// Goes up with every saved change to the questions or the items; a bundle request keeps
    /// the version it was submitted under.
    pub version: i32,
    pub items: Vec<BundleEntry>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
#[schema(as = CatalogBundleItem)]
pub struct BundleEntry {
    pub item_id: Uuid,
    pub item_name: String,
    /// The item's own status (a retired item cannot be requested).
    pub item_status: String,
    pub quantity: i32,
    /// The requester may untick it.
    pub optional: bool,
    /// Included only when this condition on the shared questions holds.
    #[schema(value_type = Option<Object>)]
    pub include_when: Option<Value>,
}

impl Bundle {
    /// The shared questions and the items as the rules read them.
    pub fn rules(&self) -> (FormSchema, Vec<BundleItem>) {
        let questions = schema::parse(&self.form_schema).unwrap_or_default();
        let items = self
            .items
            .iter()
            .map(|e| BundleItem {
                item_id: e.item_id,
                quantity: e.quantity,
                optional: e.optional,
                include_when: e
                    .include_when
                    .clone()
                    .and_then(|c| serde_json::from_value(c).ok()),
            })
            .collect();
        (questions, items)
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    name: String,
    short_desc: Option<String>,
    description: Option<String>,
    icon: Option<String>,
    category_id: Option<Uuid>,
    status: String,
    form_schema: Value,
    sort_order: i32,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT id, name, short_desc, description, icon, category_id,
    COALESCE(status, 'active') AS status, form_schema, sort_order, version,
    COALESCE(created_at, now()) AS created_at, COALESCE(updated_at, now()) AS updated_at
    FROM catalog_bundles";

async fn entries(tx: &mut TenantTx, ids: &[Uuid]) -> Result<Vec<(Uuid, BundleEntry)>, AppError> {
    #[derive(sqlx::FromRow)]
    struct E {
        bundle_id: Uuid,
        #[sqlx(flatten)]
        entry: BundleEntry,
    }
    let rows: Vec<E> = sqlx::query_as(
        "SELECT b.bundle_id, b.item_id, i.name AS item_name, COALESCE(i.status, 'draft') AS item_status,
                COALESCE(b.quantity, 1) AS quantity, b.is_optional AS optional, b.include_when
         FROM catalog_bundle_items b JOIN catalog_items i ON i.id = b.item_id
         WHERE b.bundle_id = ANY($1) ORDER BY b.sort_order, i.name",
    )
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|e| (e.bundle_id, e.entry)).collect())
}

fn assemble(rows: Vec<Row>, mut items: Vec<(Uuid, BundleEntry)>) -> Vec<Bundle> {
    rows.into_iter()
        .map(|r| {
            let mine: Vec<BundleEntry> = items
                .iter()
                .filter(|(b, _)| *b == r.id)
                .map(|(_, e)| e.clone())
                .collect();
            items.retain(|(b, _)| *b != r.id);
            Bundle {
                id: r.id,
                name: r.name,
                short_desc: r.short_desc,
                description: r.description,
                icon: r.icon,
                category_id: r.category_id,
                status: r.status,
                form_schema: r.form_schema,
                sort_order: r.sort_order,
                version: r.version,
                items: mine,
                created_at: r.created_at,
                updated_at: r.updated_at,
            }
        })
        .collect()
}

/// Every bundle for managers; the active ones for everyone else.
pub async fn list(tx: &mut TenantTx, manager: bool) -> Result<Vec<Bundle>, AppError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE $1 OR COALESCE(status, 'active') = 'active' ORDER BY sort_order, name"
    ))
    .bind(manager)
    .fetch_all(&mut **tx)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let items = entries(tx, &ids).await?;
    Ok(assemble(rows, items))
}

pub async fn get(tx: &mut TenantTx, id: Uuid, manager: bool) -> Result<Bundle, AppError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE id = $1 AND ($2 OR COALESCE(status, 'active') = 'active')"
    ))
    .bind(id)
    .bind(manager)
    .fetch_all(&mut **tx)
    .await?;
    let items = entries(tx, &[id]).await?;
    assemble(rows, items).pop().ok_or(AppError::NotFound)
}

/// The questions of `version` of a bundle (what its requests of that version were asked).
pub async fn version_form(
    tx: &mut TenantTx,
    bundle: Uuid,
    version: i32,
) -> Result<Option<Value>, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT form_schema FROM catalog_bundle_versions WHERE bundle_id = $1 AND version = $2",
    )
    .bind(bundle)
    .bind(version)
    .fetch_optional(&mut **tx)
    .await?)
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CatalogBundleBody)]
pub struct BundleBody {
    pub name: String,
    pub short_desc: Option<String>,
    /// Markdown.
    pub description: Option<String>,
    pub icon: Option<String>,
    pub category_id: Option<Uuid>,
    /// active (default) or retired.
    pub status: Option<String>,
    /// The shared questions (catalog form schema format); left out: none.
    #[schema(value_type = Option<Object>)]
    pub form_schema: Option<Value>,
    pub sort_order: Option<i32>,
    /// In order: `[{"item_id", "quantity"?: 1, "optional"?: false, "include_when"?: condition}]`.
    #[schema(value_type = Vec<Object>)]
    #[serde(default)]
    pub items: Value,
}

pub async fn save(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Option<Uuid>,
    b: &BundleBody,
) -> Result<Bundle, AppError> {
    let before = match id {
        Some(id) => Some(get(tx, id, true).await?),
        None => None,
    };
    let mut p = Problems::default();
    let name = check_texts(&mut p, &b.name, &b.short_desc, &b.description);
    let status = blank(&b.status).unwrap_or("active");
    p.one_of("status", status, &["active", "retired"]);
    let form_value = b
        .form_schema
        .clone()
        .unwrap_or(json!({"version": "1.0", "fields": []}));
    let questions = match schema_problems(&form_value) {
        Ok(f) => f,
        Err(errs) => {
            p.0.extend(errs.0);
            FormSchema::default()
        }
    };
    let items_value = if b.items.is_null() {
        json!([])
    } else {
        b.items.clone()
    };
    let parsed: Result<Vec<BundleItem>, _> = serde_path_to_error::deserialize(&items_value);
    let readable = parsed.is_ok();
    let items: Vec<BundleItem> = match parsed {
        Ok(i) => i,
        Err(e) => {
            p.add(&path_key("items", &e.path().to_string()), serde_message(&e));
            Vec::new()
        }
    };
    if readable {
        for (k, v) in bundles::check_items(&questions, &items) {
            p.add(&k, v);
        }
    }
    const ITEM: &str = "SELECT EXISTS (SELECT 1 FROM catalog_items WHERE id = $1 AND status IS DISTINCT FROM 'retired')";
    for (i, it) in items.iter().enumerate() {
        if !exists(tx, ITEM, it.item_id).await? {
            p.add(
                &format!("items[{i}].item_id"),
                "no such item in the catalog",
            );
        }
    }
    if let Some(c) = b.category_id {
        const CATEGORY: &str = "SELECT EXISTS (SELECT 1 FROM catalog_categories WHERE id = $1)";
        if !exists(tx, CATEGORY, c).await? {
            p.add("category_id", "no such category");
        }
    }
    p.into_result()?;
    let form_value = serde_json::to_value(&questions).unwrap_or_default();
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO catalog_bundles (id, name, short_desc, description, icon, category_id, status, form_schema, sort_order)
         VALUES (COALESCE($1, gen_random_uuid()), $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (id) DO UPDATE SET name = $2, short_desc = $3, description = $4, icon = $5,
            category_id = $6, status = $7, form_schema = $8, sort_order = $9, updated_at = now()
         RETURNING id",
    )
    .bind(id)
    .bind(name)
    .bind(blank(&b.short_desc))
    .bind(blank(&b.description))
    .bind(blank(&b.icon))
    .bind(b.category_id)
    .bind(status)
    .bind(&form_value)
    .bind(b.sort_order.unwrap_or(0))
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM catalog_bundle_items WHERE bundle_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    for (i, it) in items.iter().enumerate() {
        let when = it
            .include_when
            .as_ref()
            .map(|c| serde_json::to_value(c).unwrap_or_default());
        sqlx::query(
            "INSERT INTO catalog_bundle_items (bundle_id, item_id, quantity, sort_order, is_optional, include_when)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(it.item_id)
        .bind(it.quantity)
        .bind(i as i32)
        .bind(it.optional)
        .bind(when)
        .execute(&mut **tx)
        .await?;
    }
    // A change to what is asked or requested is a new version; requests keep theirs.
    let changed = before.as_ref().is_none_or(|b| {
        let (old_questions, old_items) = b.rules();
        serde_json::to_value(&old_questions).unwrap_or_default() != form_value || old_items != items
    });
    if changed {
        sqlx::query(
            "WITH v AS (UPDATE catalog_bundles SET version = CASE WHEN $5 THEN version ELSE version + 1 END
                        WHERE id = $1 RETURNING version)
             INSERT INTO catalog_bundle_versions (bundle_id, version, name, form_schema, items, saved_by)
             SELECT $1, v.version, $2, $3, $4, $6 FROM v",
        )
        .bind(id)
        .bind(name)
        .bind(&form_value)
        .bind(serde_json::to_value(&items).unwrap_or_default())
        .bind(before.is_none())
        .bind(actor.user_id)
        .execute(&mut **tx)
        .await?;
    }
    let after = get(tx, id, true).await?;
    events::saved(
        tx,
        tenant,
        actor,
        "catalog_bundle",
        id,
        before.as_ref(),
        &after,
    )
    .await?;
    Ok(after)
}

const BUNDLE_ID: &str = "Bundle id";

/// Bundles with their items; requesters see the active ones.
#[utoipa::path(get, path = "/catalog/bundles", tag = "catalog", operation_id = "listCatalogBundles",
    responses((status = 200, body = Items<Bundle>)))]
pub async fn api_list(mut ctx: ApiCtx) -> Result<Json<Items<Bundle>>, AppError> {
    ctx.require(CATALOG_READ)?;
    let data = list(&mut ctx.tx, ctx.principal.can(CATALOG_MANAGE)).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

/// Invalid shared questions or items → 422 with `details` keyed by path (`items[1].include_when.field`).
#[utoipa::path(post, path = "/catalog/bundles", tag = "catalog", operation_id = "createCatalogBundle",
    request_body = BundleBody, responses((status = 201, body = Bundle)))]
pub async fn api_create(
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<BundleBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(CATALOG_MANAGE)?;
    let actor = ctx.actor();
    let b = save(&mut ctx.tx, &ctx.principal.slug, &actor, None, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(b)))
}

#[utoipa::path(get, path = "/catalog/bundles/{id}", tag = "catalog", operation_id = "getCatalogBundle",
    params(("id" = Uuid, Path, description = BUNDLE_ID)), responses((status = 200, body = Bundle)))]
pub async fn api_get(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Bundle>, AppError> {
    ctx.require(CATALOG_READ)?;
    let b = get(&mut ctx.tx, id, ctx.principal.can(CATALOG_MANAGE)).await?;
    ctx.commit().await?;
    Ok(Json(b))
}

/// Replaces the bundle's settings and item list.
#[utoipa::path(put, path = "/catalog/bundles/{id}", tag = "catalog", operation_id = "updateCatalogBundle",
    params(("id" = Uuid, Path, description = BUNDLE_ID)), request_body = BundleBody,
    responses((status = 200, body = Bundle)))]
pub async fn api_update(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<BundleBody>,
) -> Result<Json<Bundle>, AppError> {
    ctx.require(CATALOG_MANAGE)?;
    let actor = ctx.actor();
    let b = save(&mut ctx.tx, &ctx.principal.slug, &actor, Some(id), &body).await?;
    ctx.commit().await?;
    Ok(Json(b))
}

/// Retires the bundle: it leaves the portal; the requests made from it keep their link.
#[utoipa::path(delete, path = "/catalog/bundles/{id}", tag = "catalog", operation_id = "deleteCatalogBundle",
    params(("id" = Uuid, Path, description = BUNDLE_ID)), responses((status = 200, description = "The bundle, now retired", body = Bundle)))]
pub async fn api_delete(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Bundle>, AppError> {
    ctx.require(CATALOG_MANAGE)?;
    let actor = ctx.actor();
    let before = get(&mut ctx.tx, id, true).await?;
    sqlx::query("UPDATE catalog_bundles SET status = 'retired', updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *ctx.tx)
        .await?;
    let after = get(&mut ctx.tx, id, true).await?;
    events::saved(
        &mut ctx.tx,
        &ctx.principal.slug,
        &actor,
        "catalog_bundle",
        id,
        Some(&before),
        &after,
    )
    .await?;
    ctx.commit().await?;
    Ok(Json(after))
}
