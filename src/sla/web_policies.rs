//! The SLA policy form: conditions, order, targets per priority, pausing statuses, hours.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::engine::Target;
use super::policies::{self, Policy, PolicyBody};
use super::web::{PRIORITIES, can_save, indexed};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::WebError;
use crate::platform::web::PathId;
use crate::platform::web::{Choices, Chrome, Errors, FormValues, Hx, choices, see_other};
use crate::render_page;

const HOURS: &str = "SELECT id, name FROM business_hours ORDER BY is_default DESC, name";
const CATALOG_CATEGORIES: &str =
    "SELECT id, name FROM catalog_categories ORDER BY sort_order, name";
const CONDITION_FIELDS: &[&str] = &[
    "priority",
    "tier",
    "issue_type",
    "category_id",
    "application_id",
];

#[derive(Template)]
#[template(path = "sla/policy_form.html", blocks = ["content"])]
struct PolicyForm {
    chrome: Chrome,
    policy: Option<Policy>,
    f: FormValues,
    errors: Errors,
    hours: Choices,
    categories: Choices,
    applications: Choices,
    priorities: &'static [&'static str],
    tiers: &'static [&'static str],
    types: &'static [&'static str],
    /// `issue` or `request`: which conditions and statuses the form offers.
    entity_type: String,
    /// The statuses the clocks may pause in, with their labels.
    pausable: Vec<(&'static str, String)>,
    can_save: bool,
    can_delete: bool,
}

impl PolicyForm {
    fn cell(&self, kind: &str, priority: &str) -> &str {
        self.f.get(format!("{kind}.{priority}"))
    }

    fn cell_on(&self, kind: &str, priority: &str) -> bool {
        self.f.on(format!("{kind}.{priority}"))
    }

    fn cell_error(&self, kind: &str, priority: &str) -> Option<&String> {
        self.errors.get(format!("{kind}.{priority}"))
    }

    fn cond(&self, key: &str, value: &str) -> bool {
        self.f.has(format!("cond.{key}"), value)
    }
}

fn policy_values(p: &Policy) -> FormValues {
    let mut f = FormValues::default();
    f.set("name", &p.name);
    f.set("description", p.description.clone().unwrap_or_default());
    f.set("entity_type", &p.entity_type);
    f.set("sort_order", p.sort_order.to_string());
    if p.is_active {
        f.set("is_active", "on");
    }
    if p.is_default {
        f.set("is_default", "on");
    }
    if let Some(b) = p.business_hours_id {
        f.set("business_hours_id", b.to_string());
    }
    for s in &p.pause_statuses {
        f.set("pause_statuses", s);
    }
    if let Some(m) = p.conditions.as_object() {
        for (k, v) in m {
            let vals = match v {
                Value::Array(l) => l.clone(),
                v => vec![v.clone()],
            };
            for v in vals.iter().filter_map(Value::as_str) {
                f.set(&format!("cond.{k}"), v);
            }
        }
    }
    for t in &p.targets {
        let kind = t.metric_type.trim_end_matches("_time");
        f.set(
            &format!("{kind}.{}", t.priority),
            t.target_minutes.to_string(),
        );
        // The form has one warning share and one hours flag per priority.
        if !f.on(format!("warn.{}", t.priority)) {
            f.set(
                &format!("warn.{}", t.priority),
                t.warning_percent.to_string(),
            );
            if t.business_hours_only {
                f.set(&format!("bh.{}", t.priority), "on");
            }
        }
    }
    f
}

/// The form as a body, plus the input name of each target (to put errors back in place).
fn policy_body(f: &FormValues) -> Result<(PolicyBody, Vec<String>), Errors> {
    let mut errors = BTreeMap::new();
    let mut targets = Vec::new();
    let mut inputs = Vec::new();
    for p in PRIORITIES {
        let warn = f.get(format!("warn.{p}")).trim();
        let warning_percent = match warn {
            "" => 80,
            w => w.parse().unwrap_or_else(|_| {
                errors.insert(format!("warn.{p}"), "must be a whole number".to_string());
                80
            }),
        };
        for kind in ["response", "resolution"] {
            let input = format!("{kind}.{p}");
            let raw = f.get(&input).trim();
            if raw.is_empty() {
                continue;
            }
            let Ok(minutes) = raw.parse::<i32>() else {
                errors.insert(input, "must be a whole number of minutes".to_string());
                continue;
            };
            targets.push(Target {
                metric_type: format!("{kind}_time"),
                priority: p.to_string(),
                target_minutes: minutes,
                warning_percent,
                business_hours_only: f.on(format!("bh.{p}")),
            });
            inputs.push(input);
        }
    }
    let mut conditions = Map::new();
    for key in CONDITION_FIELDS {
        let vals = f.all(&format!("cond.{key}"));
        if !vals.is_empty() {
            conditions.insert(
                key.to_string(),
                Value::Array(vals.into_iter().map(Value::String).collect()),
            );
        }
    }
    let sort_order = match f.get("sort_order").trim() {
        "" => None,
        s => match s.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.insert("sort_order".into(), "must be a whole number".into());
                None
            }
        },
    };
    let business_hours_id = match f.get("business_hours_id") {
        "" => None,
        s => match Uuid::parse_str(s) {
            Ok(id) => Some(id),
            Err(_) => {
                errors.insert("business_hours_id".into(), "no such business hours".into());
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(Errors(errors));
    }
    let body = PolicyBody {
        name: f.get("name").to_string(),
        description: Some(f.get("description").to_string()),
        entity_type: Some(f.get("entity_type"))
            .filter(|e| !e.is_empty())
            .map(str::to_string),
        is_default: f.on("is_default"),
        is_active: Some(f.on("is_active")),
        sort_order,
        conditions: Some(Value::Object(conditions)),
        business_hours_id,
        pause_statuses: Some(f.all("pause_statuses")),
        targets,
    };
    Ok((body, inputs))
}

async fn policy_form(
    mut ctx: WebCtx,
    hx: bool,
    policy: Option<Policy>,
    f: FormValues,
    errors: Errors,
    status: StatusCode,
) -> Result<Response, WebError> {
    let policy_exists = policy.is_some();
    let entity_type = match f.get("entity_type") {
        "" => "issue".to_string(),
        e => e.to_string(),
    };
    let hours = choices(&mut ctx.tx, HOURS).await?;
    // A request's category is its catalog item's.
    let categories = match entity_type.as_str() {
        "request" => choices(&mut ctx.tx, CATALOG_CATEGORIES).await?,
        _ => choices(&mut ctx.tx, crate::issues::web::CATEGORIES).await?,
    };
    let applications = choices(&mut ctx.tx, crate::issues::web::APPLICATIONS).await?;
    ctx.tx.commit().await?;
    let page = PolicyForm {
        chrome: Chrome::new(&ctx.principal, &ctx.csrf, "sla", &ctx.manifest, ctx.now),
        policy,
        f,
        errors,
        hours,
        categories,
        applications,
        priorities: PRIORITIES,
        tiers: crate::registry::store::TIERS,
        types: domain::issues::TYPES,
        pausable: policies::pausable(&entity_type)
            .iter()
            .map(|s| (*s, crate::platform::web::label(s)))
            .collect(),
        entity_type,
        can_save: can_save(&ctx.principal, policy_exists),
        can_delete: ctx.principal.can(crate::sla::perm::SLA_DELETE),
    };
    Ok(render_page!(hx, page, status))
}

#[derive(serde::Deserialize)]
pub struct NewQuery {
    /// `request` for a service-request policy; issues otherwise.
    #[serde(default, rename = "for")]
    entity_type: Option<String>,
}

pub async fn new_policy(
    ctx: WebCtx,
    Hx(hx): Hx,
    axum::extract::Query(q): axum::extract::Query<NewQuery>,
) -> Result<Response, WebError> {
    ctx.require(crate::sla::perm::SLA_CREATE)?;
    let mut f = FormValues::default();
    f.set("sort_order", "100");
    f.set("is_active", "on");
    match q.entity_type.as_deref() {
        Some("request") => {
            f.set("entity_type", "request");
            f.set("pause_statuses", "pending_approval");
        }
        _ => f.set("pause_statuses", "pending"),
    }
    for p in PRIORITIES {
        f.set(&format!("warn.{p}"), "80");
        f.set(&format!("bh.{p}"), "on");
    }
    policy_form(ctx, hx, None, f, Errors::default(), StatusCode::OK).await
}

pub async fn edit_policy(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
) -> Result<Response, WebError> {
    ctx.require(crate::sla::perm::SLA_READ)?;
    let p = policies::get(&mut ctx.tx, id).await?;
    let f = policy_values(&p);
    policy_form(ctx, hx, Some(p), f, Errors::default(), StatusCode::OK).await
}

async fn save_policy(
    mut ctx: WebCtx,
    hx: bool,
    id: Option<Uuid>,
    pairs: Vec<(String, String)>,
) -> Result<Response, WebError> {
    let before = match id {
        Some(id) => Some(policies::get(&mut ctx.tx, id).await?),
        None => None,
    };
    let f = FormValues(pairs);
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let (body, inputs) = match policy_body(&f) {
        Ok(b) => b,
        Err(errors) => return policy_form(ctx, hx, before, f, errors, unprocessable).await,
    };
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            policies::save(&mut ctx.tx, &slug, &actor, id, &body).await
        })
        .await?;
    match saved {
        Ok(_) => ctx.saved(hx, "/sla").await,
        Err(refused) => {
            let refused = refused.notice_at("name").map_fields(|k| {
                if let Some(key) = k.strip_prefix("conditions.") {
                    return Some(format!("cond.{key}"));
                }
                let (i, field) = indexed(k, "targets")?;
                let input = inputs.get(i)?;
                Some(match field.as_str() {
                    "warning_percent" => {
                        format!("warn.{}", input.split_once('.').map_or("", |x| x.1))
                    }
                    _ => input.clone(),
                })
            });
            policy_form(ctx, hx, before, f, refused.errors, refused.status).await
        }
    }
}

pub async fn create_policy(
    ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::sla::perm::SLA_CREATE)?;
    save_policy(ctx, hx, None, pairs).await
}

pub async fn update_policy(
    ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::sla::perm::SLA_UPDATE)?;
    save_policy(ctx, hx, Some(id), pairs).await
}

pub async fn delete_policy(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
) -> Result<Response, WebError> {
    ctx.require(crate::sla::perm::SLA_DELETE)?;
    let actor = ctx.actor();
    policies::delete(&mut ctx.tx, &actor, id).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, "/sla"))
}
