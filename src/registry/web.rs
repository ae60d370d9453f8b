//! Registry pages: list with filters, detail with environments and open issues, create/edit,
//! retire, environments add/remove.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::Form;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;
use uuid::Uuid;

use super::actions::{self, ApplicationBody, EnvironmentBody};
use super::store::{self, AppIssue, Application, Environment};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::WebError;
use crate::platform::listing;
use crate::platform::web::PathId;
use crate::platform::web::PathIds;
use crate::platform::web::{Choices, Chrome, Errors, Hx, choices, see_other};
use crate::render_page;

const ACTIVE_USERS: &str = "SELECT id, name FROM users WHERE status = 'active' ORDER BY name";
const GROUPS: &str = "SELECT id, name FROM groups ORDER BY name";

#[derive(Template)]
#[template(path = "registry/apps.html", blocks = ["content"])]
struct ListPage {
    chrome: Chrome,
    apps: Vec<Application>,
    total: i64,
    page: i64,
    pages: i64,
    /// The filter values as submitted, to keep them in the form and the paging links.
    f: BTreeMap<String, String>,
    query_without_page: String,
    groups: Choices,
    tiers: &'static [&'static str],
    statuses: &'static [&'static str],
    can_create: bool,
    can_import: bool,
}

const FILTERS: &[&str] = &[
    "tier",
    "status",
    "owner_group_id",
    "tag",
    "q",
    "sort",
    "order",
];

pub async fn list(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, WebError> {
    ctx.require(crate::registry::perm::APPLICATIONS_READ)?;
    let f: BTreeMap<String, String> = q
        .iter()
        .filter(|(k, v)| FILTERS.contains(&k.as_str()) && !v.trim().is_empty())
        .map(|(k, v)| (k.clone(), v.trim().to_string()))
        .collect();
    let page: i64 = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let mut query: HashMap<String, String> = f.clone().into_iter().collect();
    query.insert("page".into(), page.to_string());
    query.insert("per_page".into(), "50".into());
    let params = listing::parse(&store::LIST_SPEC, &query)?;
    let (apps, total) = store::list(&mut ctx.tx, &params).await?;
    let groups = choices(&mut ctx.tx, GROUPS).await?;
    ctx.tx.commit().await?;
    let query_without_page = serde_urlencoded::to_string(&f).unwrap_or_default();
    Ok(render_page!(
        hx,
        ListPage {
            chrome: Chrome::new(
                &ctx.principal,
                &ctx.csrf,
                "applications",
                &ctx.manifest,
                ctx.now
            ),
            apps,
            total,
            page,
            pages: ((total + 49) / 50).max(1),
            f,
            query_without_page,
            groups,
            tiers: store::TIERS,
            statuses: store::STATUSES,
            can_create: ctx
                .principal
                .can(crate::registry::perm::APPLICATIONS_CREATE),
            can_import: ctx
                .principal
                .can(crate::registry::perm::APPLICATIONS_CREATE)
                && ctx
                    .principal
                    .can(crate::registry::perm::APPLICATIONS_UPDATE),
        }
    ))
}

#[derive(Template)]
#[template(path = "registry/app.html", blocks = ["content"])]
struct DetailPage {
    chrome: Chrome,
    app: Application,
    environments: Vec<Environment>,
    issues: Vec<AppIssue>,
    can_update: bool,
    can_delete: bool,
    env: EnvironmentBody,
    env_types: &'static [&'static str],
    errors: Errors,
}

async fn detail(
    mut ctx: WebCtx,
    hx: bool,
    id: Uuid,
    env: EnvironmentBody,
    errors: BTreeMap<String, String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let app = store::get(&mut ctx.tx, id).await?;
    let environments = store::environments(&mut ctx.tx, id).await?;
    let issues = if ctx.principal.can(crate::issues::perm::ISSUES_READ) {
        store::issues(&mut ctx.tx, id, true).await?
    } else {
        Vec::new()
    };
    ctx.tx.commit().await?;
    let page = DetailPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "applications",
            &ctx.manifest,
            ctx.now,
        ),
        app,
        environments,
        issues,
        can_update: ctx
            .principal
            .can(crate::registry::perm::APPLICATIONS_UPDATE),
        can_delete: ctx
            .principal
            .can(crate::registry::perm::APPLICATIONS_DELETE),
        env,
        env_types: store::ENV_TYPES,
        errors: errors.into(),
    };
    Ok(render_page!(hx, page, status))
}

pub async fn show(ctx: WebCtx, Hx(hx): Hx, PathId(id): PathId) -> Result<Response, WebError> {
    ctx.require(crate::registry::perm::APPLICATIONS_READ)?;
    let env = EnvironmentBody {
        env_type: "prod".into(),
        ..Default::default()
    };
    detail(ctx, hx, id, env, BTreeMap::new(), StatusCode::OK).await
}

#[derive(Template)]
#[template(path = "registry/app_form.html", blocks = ["content"])]
struct FormPage {
    chrome: Chrome,
    app: Option<Application>,
    /// The values shown in the inputs.
    v: BTreeMap<&'static str, String>,
    selects: Vec<Select>,
    errors: Errors,
}

/// A `<select>` of the form: field, label, whether it may be left empty, (value, label) options.
struct Select {
    field: &'static str,
    label: &'static str,
    blank: bool,
    options: Choices,
}

fn fixed(values: &[&str]) -> Choices {
    values
        .iter()
        .map(|v| (v.to_string(), v.to_string()))
        .collect()
}

const FIELDS: &[&str] = &[
    "name",
    "description",
    "tier",
    "status",
    "lifecycle_stage",
    "criticality",
    "owner_user_id",
    "owner_group_id",
    "support_group_id",
    "business_unit",
    "tags",
    "metadata",
];

fn values_of(app: &Application) -> BTreeMap<&'static str, String> {
    let id = |v: Option<Uuid>| v.map(|u| u.to_string()).unwrap_or_default();
    let metadata = app
        .metadata
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    BTreeMap::from([
        ("name", app.name.clone()),
        ("description", app.description.clone().unwrap_or_default()),
        ("tier", app.tier.clone()),
        ("status", app.status.clone()),
        ("lifecycle_stage", app.lifecycle_stage.clone()),
        ("criticality", app.criticality.clone().unwrap_or_default()),
        ("owner_user_id", id(app.owner_user_id)),
        ("owner_group_id", id(app.owner_group_id)),
        ("support_group_id", id(app.support_group_id)),
        (
            "business_unit",
            app.business_unit.clone().unwrap_or_default(),
        ),
        ("tags", app.tags.join(", ")),
        ("metadata", metadata),
    ])
}

/// Turns the form into an API body; malformed pickers and metadata lines become field errors.
fn body_of(
    v: &BTreeMap<&'static str, String>,
) -> Result<ApplicationBody, BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    let get = |k: &str| v.get(k).cloned().unwrap_or_default();
    let opt = |k: &str| Some(get(k)).filter(|s| !s.trim().is_empty());
    let mut id = |k: &'static str| match opt(k) {
        None => None,
        Some(s) => match s.parse::<Uuid>() {
            Ok(u) => Some(u),
            Err(_) => {
                errors.insert(k.to_string(), "pick one from the list".to_string());
                None
            }
        },
    };
    let (owner_user_id, owner_group_id, support_group_id) = (
        id("owner_user_id"),
        id("owner_group_id"),
        id("support_group_id"),
    );
    let mut metadata = serde_json::Map::new();
    for line in get("metadata").lines().filter(|l| !l.trim().is_empty()) {
        match line.split_once('=') {
            Some((k, val)) if !k.trim().is_empty() => {
                metadata.insert(k.trim().to_string(), Value::String(val.trim().to_string()));
            }
            _ => {
                errors.insert("metadata".into(), format!("'{line}' is not key=value"));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ApplicationBody {
        name: get("name"),
        description: opt("description"),
        tier: get("tier"),
        status: opt("status"),
        lifecycle_stage: opt("lifecycle_stage"),
        owner_user_id,
        owner_group_id,
        support_group_id,
        business_unit: opt("business_unit"),
        criticality: opt("criticality"),
        tags: get("tags")
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        metadata: Some(Value::Object(metadata)),
    })
}

async fn form(
    mut ctx: WebCtx,
    hx: bool,
    app: Option<Application>,
    v: BTreeMap<&'static str, String>,
    errors: BTreeMap<String, String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let users = choices(&mut ctx.tx, ACTIVE_USERS).await?;
    let groups = choices(&mut ctx.tx, GROUPS).await?;
    ctx.tx.commit().await?;
    let select = |field, label, blank, options| Select {
        field,
        label,
        blank,
        options,
    };
    let selects = vec![
        select("tier", "Tier", false, fixed(store::TIERS)),
        select("status", "Status", false, fixed(store::STATUSES)),
        select(
            "lifecycle_stage",
            "Lifecycle stage",
            false,
            fixed(store::STAGES),
        ),
        select(
            "criticality",
            "Criticality",
            true,
            fixed(store::CRITICALITIES),
        ),
        select("owner_user_id", "Owner", true, users),
        select("owner_group_id", "Owner group", true, groups.clone()),
        select("support_group_id", "Support group", true, groups),
    ];
    let page = FormPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "applications",
            &ctx.manifest,
            ctx.now,
        ),
        app,
        v,
        selects,
        errors: errors.into(),
    };
    Ok(render_page!(hx, page, status))
}

pub async fn new_form(ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require(crate::registry::perm::APPLICATIONS_CREATE)?;
    let v = BTreeMap::from([
        ("tier", "P3".to_string()),
        ("status", "active".to_string()),
        ("lifecycle_stage", "production".to_string()),
    ]);
    form(ctx, hx, None, v, BTreeMap::new(), StatusCode::OK).await
}

pub async fn edit_form(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
) -> Result<Response, WebError> {
    ctx.require(crate::registry::perm::APPLICATIONS_UPDATE)?;
    let app = store::get(&mut ctx.tx, id).await?;
    let v = values_of(&app);
    form(ctx, hx, Some(app), v, BTreeMap::new(), StatusCode::OK).await
}

fn submitted(pairs: Vec<(String, String)>) -> BTreeMap<&'static str, String> {
    pairs
        .into_iter()
        .filter_map(|(k, v)| FIELDS.iter().find(|f| **f == k).map(|f| (*f, v)))
        .collect()
}

async fn save(
    mut ctx: WebCtx,
    hx: bool,
    id: Option<Uuid>,
    pairs: Vec<(String, String)>,
) -> Result<Response, WebError> {
    let before = match id {
        Some(id) => Some(store::get(&mut ctx.tx, id).await?),
        None => None,
    };
    let v = submitted(pairs);
    let body = match body_of(&v) {
        Ok(b) => b,
        Err(errors) => {
            return form(ctx, hx, before, v, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            actions::save(&mut ctx.tx, &slug, &actor, id, &body).await
        })
        .await?;
    match saved {
        Ok(app) => ctx.saved(hx, &format!("/applications/{}", app.id)).await,
        Err(refused) => {
            let refused = refused.notice_at("name");
            form(ctx, hx, before, v, refused.errors.0, refused.status).await
        }
    }
}

pub async fn create(
    ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::registry::perm::APPLICATIONS_CREATE)?;
    save(ctx, hx, None, pairs).await
}

pub async fn update(
    ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::registry::perm::APPLICATIONS_UPDATE)?;
    save(ctx, hx, Some(id), pairs).await
}

pub async fn retire(mut ctx: WebCtx, Hx(hx): Hx, PathId(id): PathId) -> Result<Response, WebError> {
    ctx.require(crate::registry::perm::APPLICATIONS_DELETE)?;
    let actor = ctx.actor();
    let slug = ctx.principal.slug.clone();
    actions::retire(&mut ctx.tx, &slug, &actor, id).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, &format!("/applications/{id}")))
}

pub async fn add_environment(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::registry::perm::APPLICATIONS_UPDATE)?;
    let mut env = EnvironmentBody::default();
    for (k, v) in pairs {
        let v = Some(v).filter(|s| !s.trim().is_empty());
        match k.as_str() {
            "name" => env.name = v.unwrap_or_default(),
            "type" => env.env_type = v.unwrap_or_default(),
            "url" => env.url = v,
            "cloud_provider" => env.cloud_provider = v,
            "cloud_account" => env.cloud_account = v,
            "cloud_region" => env.cloud_region = v,
            _ => {}
        }
    }
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            actions::save_environment(&mut ctx.tx, &slug, &actor, id, None, &env).await
        })
        .await?;
    match saved {
        Ok(_) => ctx.saved(hx, &format!("/applications/{id}")).await,
        Err(refused) => {
            let refused = refused.notice_at("name");
            detail(ctx, hx, id, env, refused.errors.0, refused.status).await
        }
    }
}

pub async fn remove_environment(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathIds(id, env_id): PathIds,
) -> Result<Response, WebError> {
    ctx.require(crate::registry::perm::APPLICATIONS_UPDATE)?;
    let actor = ctx.actor();
    let slug = ctx.principal.slug.clone();
    actions::delete_environment(&mut ctx.tx, &slug, &actor, id, env_id).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, &format!("/applications/{id}")))
}
