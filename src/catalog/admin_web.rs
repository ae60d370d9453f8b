//! Catalog administration pages: categories, items, an item's settings, its draft form (the
//! spec's JSON format, with errors at their paths) and approval chain, and a live preview of
//! the draft rendered by the requester's own form template.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::http::StatusCode;
use axum::response::Response;
use domain::catalog::answers::{self, Context};
use domain::catalog::schema;
use serde_json::{Value, json};
use uuid::Uuid;

use super::actions::{self, CategoryBody, ItemBody};
use super::form::{self, FormView};
use super::perm::CATALOG_MANAGE;
use super::store::{self, Category, Item, Viewer};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::toast::Toast;
use crate::platform::web::{Choices, Chrome, Errors, Hx, PathId, choices, html};
use crate::render_page;

#[derive(Template)]
#[template(path = "catalog/manage.html", blocks = ["content"])]
struct IndexPage {
    chrome: Chrome,
    categories: Vec<Category>,
    items: Vec<Item>,
    bundles: Vec<super::bundles::Bundle>,
    errors: Errors,
    /// What the failed form held.
    v: BTreeMap<String, String>,
}

async fn index_page(
    mut ctx: WebCtx,
    hx: bool,
    errors: BTreeMap<String, String>,
    v: BTreeMap<String, String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let categories = store::categories(&mut ctx.tx).await?;
    let items = store::first_items(&mut ctx.tx).await?;
    let bundles = super::bundles::list(&mut ctx.tx, true).await?;
    ctx.tx.commit().await?;
    let page = IndexPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "catalog_manage",
            &ctx.manifest,
            ctx.now,
        ),
        categories,
        items,
        bundles,
        errors: errors.into(),
        v,
    };
    Ok(render_page!(hx, page, status))
}

/// The administration page with `errors` (a refused import).
pub(super) async fn index_with(
    ctx: WebCtx,
    hx: bool,
    errors: BTreeMap<String, String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    index_page(ctx, hx, errors, BTreeMap::new(), status).await
}

pub async fn index(ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require(CATALOG_MANAGE)?;
    index_page(ctx, hx, BTreeMap::new(), BTreeMap::new(), StatusCode::OK).await
}

fn opt(v: &BTreeMap<String, String>, k: &str) -> Option<String> {
    v.get(k)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn id_of(
    v: &BTreeMap<String, String>,
    k: &str,
    errors: &mut BTreeMap<String, String>,
) -> Option<Uuid> {
    let s = opt(v, k)?;
    match s.parse() {
        Ok(u) => Some(u),
        Err(_) => {
            errors.insert(k.into(), "Pick one from the list.".into());
            None
        }
    }
}

fn category_body(
    v: &BTreeMap<String, String>,
    errors: &mut BTreeMap<String, String>,
) -> CategoryBody {
    let sort_order = match opt(v, "sort_order").map(|s| s.parse::<i32>()) {
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            errors.insert("sort_order".into(), "Use a whole number.".into());
            None
        }
        None => None,
    };
    CategoryBody {
        name: v.get("name").cloned().unwrap_or_default(),
        description: opt(v, "description"),
        icon: opt(v, "icon"),
        color: opt(v, "color"),
        sort_order,
        parent_id: id_of(v, "parent_id", errors),
        status: opt(v, "status"),
    }
}

async fn save_category(
    mut ctx: WebCtx,
    hx: bool,
    id: Option<Uuid>,
    v: BTreeMap<String, String>,
) -> Result<Response, WebError> {
    ctx.require(CATALOG_MANAGE)?;
    let mut errors = BTreeMap::new();
    let body = category_body(&v, &mut errors);
    if !errors.is_empty() {
        return index_page(ctx, hx, errors, v, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            actions::save_category(&mut ctx.tx, &slug, &actor, id, &body).await
        })
        .await?;
    match saved {
        Ok(c) => {
            let said = format!("Category “{}” saved.", c.name);
            ctx.saved_with(hx, "/catalog/manage", &Toast::success(said))
                .await
        }
        Err(refused) => index_page(ctx, hx, refused.errors.0, v, refused.status).await,
    }
}

pub async fn create_category(
    ctx: WebCtx,
    Hx(hx): Hx,
    Form(v): Form<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    save_category(ctx, hx, None, v).await
}

pub async fn update_category(
    ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(v): Form<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    save_category(ctx, hx, Some(id), v).await
}

pub async fn delete_category(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
) -> Result<Response, WebError> {
    ctx.require(CATALOG_MANAGE)?;
    let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
    actions::delete_category(&mut ctx.tx, &slug, &actor, id).await?;
    ctx.saved_with(
        hx,
        "/catalog/manage",
        &Toast::success("Category deleted; its items have no category now."),
    )
    .await
}

/// A new draft item from its name and category; the editor opens next.
pub async fn create_item(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Form(v): Form<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    ctx.require(CATALOG_MANAGE)?;
    let mut errors = BTreeMap::new();
    let body = ItemBody {
        name: v.get("name").cloned().unwrap_or_default(),
        category_id: id_of(&v, "category_id", &mut errors),
        ..Default::default()
    };
    if !errors.is_empty() {
        return index_page(ctx, hx, errors, v, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            actions::save_item(&mut ctx.tx, &slug, &actor, None, &body).await
        })
        .await?;
    match saved {
        Ok(item) => {
            let said = format!(
                "“{}” created as a draft: add its questions, then publish.",
                item.name
            );
            ctx.saved_with(
                hx,
                &format!("/catalog/manage/items/{}", item.id),
                &Toast::success(said),
            )
            .await
        }
        Err(refused) => {
            let mut errors = refused.errors.0;
            // The new-item form names its fields item_name / item_category.
            if let Some(e) = errors.remove("name") {
                errors.insert("item_name".into(), e);
            }
            index_page(ctx, hx, errors, v, refused.status).await
        }
    }
}

#[derive(Template)]
#[template(path = "catalog/edit.html", blocks = ["content", "preview"])]
struct EditPage {
    chrome: Chrome,
    item: Item,
    v: BTreeMap<&'static str, String>,
    errors: Errors,
    categories: Choices,
    groups: Choices,
    policies: Choices,
    priorities: &'static [&'static str],
    cost_types: &'static [&'static str],
    preview: Option<FormView>,
    /// Schema errors by path, for the list under the form editor.
    schema_errors: Vec<(String, String)>,
}

impl EditPage {
    fn val(&self, k: &str) -> &str {
        self.v.get(k).map_or("", String::as_str)
    }

    /// The group is one of those the item is limited to.
    fn visible_to(&self, group: &str) -> bool {
        self.val("visible_to_groups").split(',').any(|g| g == group)
    }
}

pub(super) fn values_of(i: &Item) -> BTreeMap<&'static str, String> {
    let id = |v: Option<Uuid>| v.map(|u| u.to_string()).unwrap_or_default();
    BTreeMap::from([
        ("name", i.name.clone()),
        ("category_id", id(i.category_id)),
        ("short_desc", i.short_desc.clone().unwrap_or_default()),
        ("description", i.description.clone().unwrap_or_default()),
        ("fulfillment_group_id", id(i.fulfillment_group_id)),
        ("sla_policy_id", id(i.sla_policy_id)),
        ("default_priority", i.default_priority.clone()),
        (
            "estimated_hours",
            i.estimated_hours.map(|h| h.to_string()).unwrap_or_default(),
        ),
        ("cost", i.cost.map(|c| c.to_string()).unwrap_or_default()),
        ("cost_type", i.cost_type.clone().unwrap_or_default()),
        ("tags", i.tags.join(", ")),
        (
            "visible_to_groups",
            i.visible_to_groups
                .iter()
                .map(Uuid::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ),
        ("sort_order", i.sort_order.to_string()),
        ("icon", i.icon.clone().unwrap_or_default()),
        (
            "form_schema",
            serde_json::to_string_pretty(&i.form_schema).unwrap_or_default(),
        ),
        (
            "approval_chain",
            serde_json::to_string_pretty(&i.approval_chain).unwrap_or_default(),
        ),
        (
            "task_templates",
            serde_json::to_string_pretty(&i.task_templates).unwrap_or_default(),
        ),
    ])
}

const FIELDS: &[&str] = &[
    "name",
    "category_id",
    "short_desc",
    "description",
    "fulfillment_group_id",
    "sla_policy_id",
    "default_priority",
    "estimated_hours",
    "cost",
    "cost_type",
    "tags",
    "sort_order",
    "form_schema",
    "approval_chain",
    "task_templates",
    "visible_to_groups",
    "icon",
];

async fn preview_of(ctx: &mut WebCtx, item: &Item) -> Result<Option<FormView>, AppError> {
    let Ok(s) = schema::parse(&item.form_schema) else {
        return Ok(None);
    };
    let fctx = Context {
        today: ctx.principal.today(ctx.now),
        requester: ctx.principal.user_id,
    };
    Ok(Some(
        form::view(
            &mut ctx.tx,
            &s,
            &answers::initial(&s),
            &BTreeMap::new(),
            fctx,
        )
        .await?,
    ))
}

async fn edit_page(
    mut ctx: WebCtx,
    hx: bool,
    item: Item,
    v: BTreeMap<&'static str, String>,
    errors: BTreeMap<String, String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let categories = choices(
        &mut ctx.tx,
        "SELECT id, name FROM catalog_categories ORDER BY name",
    )
    .await?;
    let groups = choices(&mut ctx.tx, "SELECT id, name FROM groups ORDER BY name").await?;
    let policies = choices(
        &mut ctx.tx,
        "SELECT id, name FROM sla_policies WHERE entity_type = 'request' ORDER BY name",
    )
    .await?;
    let preview = preview_of(&mut ctx, &item).await?;
    ctx.tx.commit().await?;
    let schema_errors = errors
        .iter()
        .filter(|(k, _)| {
            ["form_schema", "approval_chain", "task_templates"]
                .iter()
                .any(|p| k.starts_with(p))
        })
        .map(|(k, m)| (k.clone(), m.clone()))
        .collect();
    let page = EditPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "catalog_manage",
            &ctx.manifest,
            ctx.now,
        ),
        item,
        v,
        errors: errors.into(),
        categories,
        groups,
        policies,
        priorities: store::PRIORITIES,
        cost_types: store::COST_TYPES,
        preview,
        schema_errors,
    };
    Ok(render_page!(hx, page, status))
}

pub async fn edit_item(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
) -> Result<Response, WebError> {
    ctx.require(CATALOG_MANAGE)?;
    let item = store::item(&mut ctx.tx, id, Viewer::Manager).await?;
    let v = values_of(&item);
    edit_page(ctx, hx, item, v, BTreeMap::new(), StatusCode::OK).await
}

pub(super) fn item_body(
    v: &BTreeMap<&'static str, String>,
    errors: &mut BTreeMap<String, String>,
) -> ItemBody {
    let s: BTreeMap<String, String> = v.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let number = |k: &str, errors: &mut BTreeMap<String, String>| -> Option<f64> {
        match opt(&s, k).map(|x| x.parse::<f64>()) {
            Some(Ok(n)) => Some(n),
            Some(Err(_)) => {
                errors.insert(k.into(), "Use a number.".into());
                None
            }
            None => None,
        }
    };
    let json_of = |k: &str, errors: &mut BTreeMap<String, String>| -> Option<Value> {
        let text = opt(&s, k)?;
        match serde_json::from_str(&text) {
            Ok(v) => Some(v),
            Err(e) => {
                errors.insert(k.into(), format!("This is not valid JSON: {e}."));
                None
            }
        }
    };
    let hours = number("estimated_hours", errors).map(|h| h as i32);
    let cost = number("cost", errors);
    let sort = number("sort_order", errors).map(|n| n as i32);
    ItemBody {
        name: s.get("name").cloned().unwrap_or_default(),
        category_id: id_of(&s, "category_id", errors),
        short_desc: opt(&s, "short_desc"),
        description: opt(&s, "description"),
        icon: opt(&s, "icon"),
        form_schema: json_of("form_schema", errors),
        fulfillment_group_id: id_of(&s, "fulfillment_group_id", errors),
        approval_chain: json_of("approval_chain", errors),
        task_templates: json_of("task_templates", errors),
        sla_policy_id: id_of(&s, "sla_policy_id", errors),
        default_priority: opt(&s, "default_priority"),
        estimated_hours: hours,
        cost,
        cost_type: opt(&s, "cost_type"),
        visible_to_groups: s
            .get("visible_to_groups")
            .map(|g| {
                g.split(',')
                    .filter_map(|id| id.trim().parse().ok())
                    .collect()
            })
            .unwrap_or_default(),
        tags: s
            .get("tags")
            .map(|t| {
                t.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        sort_order: sort,
    }
}

pub async fn update_item(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(CATALOG_MANAGE)?;
    let before = store::item(&mut ctx.tx, id, Viewer::Manager).await?;
    // The groups arrive as one box each; the form's other values are single.
    let groups: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "visible_to_groups")
        .map(|(_, v)| v.clone())
        .collect();
    let mut v: BTreeMap<&'static str, String> = pairs
        .into_iter()
        .filter(|(k, _)| k != "visible_to_groups")
        .filter_map(|(k, v)| FIELDS.iter().find(|f| **f == k).map(|f| (*f, v)))
        .collect();
    v.insert("visible_to_groups", groups.join(","));
    let mut errors = BTreeMap::new();
    let body = item_body(&v, &mut errors);
    if !errors.is_empty() {
        return edit_page(ctx, hx, before, v, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            actions::save_item(&mut ctx.tx, &slug, &actor, Some(id), &body).await
        })
        .await?;
    match saved {
        Ok(item) => {
            let said = if item.published_version.is_some() && item.has_unpublished_changes {
                "Saved as a draft. Requesters see the changes once you publish."
            } else {
                "Saved."
            };
            ctx.saved_with(
                hx,
                &format!("/catalog/manage/items/{id}"),
                &Toast::success(said),
            )
            .await
        }
        Err(refused) => edit_page(ctx, hx, before, v, refused.errors.0, refused.status).await,
    }
}

/// The draft form's fields for the preview's answers (conditions work there too).
pub async fn preview(
    mut ctx: WebCtx,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(CATALOG_MANAGE)?;
    let item = store::item(&mut ctx.tx, id, Viewer::Manager).await?;
    let Ok(s) = schema::parse(&item.form_schema) else {
        return Ok(html(StatusCode::OK, Ok::<_, askama::Error>(String::new())));
    };
    let answers = answers::coerce_form(&s, &pairs);
    let fctx = Context {
        today: ctx.principal.today(ctx.now),
        requester: ctx.principal.user_id,
    };
    let view = form::view(&mut ctx.tx, &s, &answers, &BTreeMap::new(), fctx).await?;
    ctx.tx.commit().await?;
    let v = values_of(&item);
    let page = EditPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "catalog_manage",
            &ctx.manifest,
            ctx.now,
        ),
        item,
        v,
        errors: BTreeMap::new().into(),
        categories: Vec::new(),
        groups: Vec::new(),
        policies: Vec::new(),
        priorities: store::PRIORITIES,
        cost_types: store::COST_TYPES,
        preview: Some(view),
        schema_errors: Vec::new(),
    };
    Ok(html(
        StatusCode::OK,
        askama::Template::render(&page.as_preview()),
    ))
}

async fn lifecycle(
    mut ctx: WebCtx,
    hx: bool,
    id: Uuid,
    what: &'static str,
) -> Result<Response, WebError> {
    ctx.require(CATALOG_MANAGE)?;
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            match what {
                "publish" => actions::publish(&mut ctx.tx, &slug, &actor, id).await,
                "clone" => actions::clone_item(&mut ctx.tx, &slug, &actor, id).await,
                _ => actions::retire(&mut ctx.tx, &slug, &actor, id).await,
            }
        })
        .await?;
    match saved {
        Ok(item) => {
            let said = match what {
                "publish" => format!(
                    "Version {} of “{}” is live in the catalog.",
                    item.published_version.unwrap_or_default(),
                    item.name
                ),
                "clone" => format!("Copied as the draft “{}”.", item.name),
                _ => format!("“{}” is retired and left the catalog.", item.name),
            };
            ctx.saved_with(
                hx,
                &format!("/catalog/manage/items/{}", item.id),
                &Toast::success(said),
            )
            .await
        }
        Err(refused) => {
            let item = store::item(&mut ctx.tx, id, Viewer::Manager).await?;
            let v = values_of(&item);
            let mut errors = refused.errors.0;
            if let Some(n) = refused.notice {
                errors.insert("lifecycle".into(), n);
            }
            edit_page(ctx, hx, item, v, errors, refused.status).await
        }
    }
}

pub async fn publish(ctx: WebCtx, Hx(hx): Hx, PathId(id): PathId) -> Result<Response, WebError> {
    lifecycle(ctx, hx, id, "publish").await
}

pub async fn clone_item(ctx: WebCtx, Hx(hx): Hx, PathId(id): PathId) -> Result<Response, WebError> {
    lifecycle(ctx, hx, id, "clone").await
}

pub async fn retire(ctx: WebCtx, Hx(hx): Hx, PathId(id): PathId) -> Result<Response, WebError> {
    lifecycle(ctx, hx, id, "retire").await
}

/// An example chain for the editor's help text.
pub fn chain_example() -> String {
    serde_json::to_string(&json!({"stages": [{"approvers": [{"type": "manager"}], "rule": "all"}]}))
        .unwrap_or_default()
}

/// Example task templates for the editor's help text.
pub fn tasks_example() -> String {
    serde_json::to_string(&json!([
        {"key": "order", "title": "Order the laptop"},
        {"key": "image", "title": "Install the standard image", "depends_on": ["order"]}
    ]))
    .unwrap_or_default()
}
