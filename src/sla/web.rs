//! SLA configuration pages: policies (conditions, order, targets per priority, pausing
//! statuses, business hours) and business hours (zone, weekly schedule, holidays, .ics import).

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::engine::Target;
use super::hours::{self, BusinessHours, DAY_NAMES, DayHours, HolidayDate, HoursBody};
use super::policies::{self, PAUSABLE, Policy, PolicyBody};
use crate::identity::users_api::parse_id;
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, FieldErrors, WebError};
use crate::platform::web::{
    Choices, Chrome, Errors, FormValues, Hx, choices, read_multipart, see_other,
};
use crate::render_page;

const PRIORITIES: &[&str] = domain::issues::PRIORITIES;
/// Monday first, as people read a week; values are the table's 0 = Sunday.
const WEEK: [usize; 7] = [1, 2, 3, 4, 5, 6, 0];
const HOURS: &str = "SELECT id, name FROM business_hours ORDER BY is_default DESC, name";
const CONDITION_FIELDS: &[&str] = &[
    "priority",
    "tier",
    "issue_type",
    "category_id",
    "application_id",
];

#[derive(Template)]
#[template(path = "sla/overview.html", blocks = ["content"])]
struct Overview {
    chrome: Chrome,
    policies: Vec<Policy>,
    hours: Vec<BusinessHours>,
    can_create: bool,
}

impl Overview {
    fn conditions(&self, p: &Policy) -> String {
        match p.conditions.as_object() {
            _ if p.is_default => "when no other policy matches".into(),
            Some(m) if !m.is_empty() => m
                .iter()
                .map(|(k, v)| {
                    let vals = match v {
                        Value::Array(l) => l
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(" or "),
                        v => v.as_str().unwrap_or("").to_string(),
                    };
                    format!("{} is {vals}", k.replace('_', " "))
                })
                .collect::<Vec<_>>()
                .join("; "),
            _ => "every issue".into(),
        }
    }

    fn targets(&self, p: &Policy) -> String {
        let short = |m: i32| match m {
            m if m % 1440 == 0 => format!("{}d", m / 1440),
            m if m % 60 == 0 => format!("{}h", m / 60),
            m => format!("{m}m"),
        };
        PRIORITIES
            .iter()
            .filter_map(|pr| {
                let find = |metric: &str| {
                    p.targets
                        .iter()
                        .find(|t| t.priority == *pr && t.metric_type == metric)
                        .map(|t| short(t.target_minutes))
                };
                match (find("response_time"), find("resolution_time")) {
                    (None, None) => None,
                    (r, s) => Some(format!(
                        "{pr} {} / {}",
                        r.unwrap_or_else(|| "–".into()),
                        s.unwrap_or_else(|| "–".into())
                    )),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub async fn overview(mut ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require("sla:read")?;
    let policies = policies::list(&mut ctx.tx).await?;
    let hours = hours::list(&mut ctx.tx).await?;
    ctx.tx.commit().await?;
    let page = Overview {
        chrome: Chrome::new(&ctx.principal, &ctx.csrf, "sla"),
        policies,
        hours,
        can_create: ctx.principal.can("sla:create"),
    };
    Ok(render_page!(hx, page, StatusCode::OK))
}

/// Readers (agents) see the configuration; only editors get the buttons.
fn can_save(p: &crate::platform::auth::Principal, existing: bool) -> bool {
    p.can(if existing { "sla:update" } else { "sla:create" })
}

/// Field errors of the model (`targets[2].target_minutes`) under the form's input names.
fn remap(fields: FieldErrors, rename: impl Fn(&str) -> Option<String>) -> Errors {
    let mut out = BTreeMap::new();
    for (k, v) in fields {
        let key = rename(&k).unwrap_or(k);
        out.entry(key).or_insert(v);
    }
    Errors(out)
}

/// `targets[3].warning_percent` → (3, "warning_percent").
fn indexed(key: &str, list: &str) -> Option<(usize, String)> {
    let rest = key.strip_prefix(list)?.strip_prefix('[')?;
    let (i, field) = rest.split_once("].")?;
    Some((i.parse().ok()?, field.to_string()))
}

// ---------- policies ----------

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
    pausable: &'static [&'static str],
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
    let hours = choices(&mut ctx.tx, HOURS).await?;
    let categories = choices(&mut ctx.tx, crate::issues::web::CATEGORIES).await?;
    let applications = choices(&mut ctx.tx, crate::issues::web::APPLICATIONS).await?;
    ctx.tx.commit().await?;
    let page = PolicyForm {
        chrome: Chrome::new(&ctx.principal, &ctx.csrf, "sla"),
        policy,
        f,
        errors,
        hours,
        categories,
        applications,
        priorities: PRIORITIES,
        tiers: crate::registry::store::TIERS,
        types: domain::issues::TYPES,
        pausable: PAUSABLE,
        can_save: can_save(&ctx.principal, policy_exists),
        can_delete: ctx.principal.can("sla:delete"),
    };
    Ok(render_page!(hx, page, status))
}

pub async fn new_policy(ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require("sla:create")?;
    let mut f = FormValues::default();
    f.set("sort_order", "100");
    f.set("is_active", "on");
    f.set("pause_statuses", "pending");
    for p in PRIORITIES {
        f.set(&format!("warn.{p}"), "80");
        f.set(&format!("bh.{p}"), "on");
    }
    policy_form(ctx, hx, None, f, Errors::default(), StatusCode::OK).await
}

pub async fn edit_policy(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    ctx.require("sla:read")?;
    let p = policies::get(&mut ctx.tx, parse_id(&id)?).await?;
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
    let actor = ctx.actor();
    let slug = ctx.principal.slug.clone();
    match policies::save(&mut ctx.tx, &slug, &actor, id, &body).await {
        Ok(_) => {
            ctx.tx.commit().await?;
            Ok(see_other(hx, "/sla"))
        }
        Err(AppError::Validation { fields, .. }) => {
            let errors = remap(fields, |k| {
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
            policy_form(ctx, hx, before, f, errors, unprocessable).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn create_policy(
    ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require("sla:create")?;
    save_policy(ctx, hx, None, pairs).await
}

pub async fn update_policy(
    ctx: WebCtx,
    Hx(hx): Hx,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require("sla:update")?;
    let id = parse_id(&id)?;
    save_policy(ctx, hx, Some(id), pairs).await
}

pub async fn delete_policy(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    ctx.require("sla:delete")?;
    let id = parse_id(&id)?;
    let actor = ctx.actor();
    policies::delete(&mut ctx.tx, &actor, id).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, "/sla"))
}

// ---------- business hours ----------

#[derive(Template)]
#[template(path = "sla/hours_form.html", blocks = ["content"])]
struct HoursForm {
    chrome: Chrome,
    hours: Option<BusinessHours>,
    f: FormValues,
    errors: Errors,
    /// The result of an .ics import, shown above the form.
    imported: Option<String>,
    week: [usize; 7],
    can_save: bool,
    can_delete: bool,
}

impl HoursForm {
    fn day_name(&self, d: &usize) -> &'static str {
        DAY_NAMES.get(*d).copied().unwrap_or("?")
    }

    fn day(&self, kind: &str, d: &usize) -> &str {
        self.f.get(format!("{kind}.{d}"))
    }

    fn day_open(&self, d: &usize) -> bool {
        self.f.on(format!("open.{d}"))
    }

    fn day_error(&self, d: &usize) -> Option<&String> {
        self.errors
            .get(format!("start.{d}"))
            .or_else(|| self.errors.get(format!("end.{d}")))
    }
}

fn hours_values(h: &BusinessHours) -> FormValues {
    let mut f = FormValues::default();
    f.set("name", &h.name);
    f.set("timezone", &h.timezone);
    if h.is_default {
        f.set("is_default", "on");
    }
    for d in &h.schedule {
        f.set(&format!("open.{}", d.day_of_week), "on");
        f.set(&format!("start.{}", d.day_of_week), &d.start_time);
        f.set(&format!("end.{}", d.day_of_week), &d.end_time);
    }
    let lines: Vec<String> = h
        .holidays
        .iter()
        .map(|x| format!("{} {}", x.date, x.name.as_deref().unwrap_or("")))
        .map(|l| l.trim_end().to_string())
        .collect();
    f.set("holidays", lines.join("\n"));
    f
}

/// The form as a body, plus the weekday of each schedule row (to put errors back in place).
fn hours_body(f: &FormValues) -> Result<(HoursBody, Vec<usize>), Errors> {
    let mut schedule = Vec::new();
    let mut days = Vec::new();
    for d in WEEK {
        if f.on(format!("open.{d}")) {
            schedule.push(DayHours {
                day_of_week: d as i32,
                start_time: f.get(format!("start.{d}")).to_string(),
                end_time: f.get(format!("end.{d}")).to_string(),
            });
            days.push(d);
        }
    }
    let mut holidays = Vec::new();
    for (n, line) in f.get("holidays").lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (date, name) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let Ok(date) = NaiveDate::parse_from_str(date, "%Y-%m-%d") else {
            let msg = format!("line {}: '{date}' is not a date (YYYY-MM-DD)", n + 1);
            return Err(Errors(BTreeMap::from([("holidays".to_string(), msg)])));
        };
        holidays.push(HolidayDate {
            date,
            name: Some(name.trim().to_string()).filter(|n| !n.is_empty()),
        });
    }
    let body = HoursBody {
        name: f.get("name").to_string(),
        timezone: f.get("timezone").to_string(),
        is_default: f.on("is_default"),
        schedule,
        holidays,
    };
    Ok((body, days))
}

async fn hours_form(
    ctx: WebCtx,
    hx: bool,
    hours: Option<BusinessHours>,
    f: FormValues,
    errors: Errors,
    imported: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    ctx.tx.commit().await?;
    let page = HoursForm {
        chrome: Chrome::new(&ctx.principal, &ctx.csrf, "sla"),
        f,
        errors,
        can_save: can_save(&ctx.principal, hours.is_some()),
        can_delete: ctx.principal.can("sla:delete"),
        hours,
        imported,
        week: WEEK,
    };
    Ok(render_page!(hx, page, status))
}

pub async fn new_hours(ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require("sla:create")?;
    let mut f = FormValues::default();
    f.set("timezone", "UTC");
    for d in 1..=5 {
        f.set(&format!("open.{d}"), "on");
    }
    for d in 0..7 {
        f.set(&format!("start.{d}"), "09:00");
        f.set(&format!("end.{d}"), "17:00");
    }
    hours_form(ctx, hx, None, f, Errors::default(), None, StatusCode::OK).await
}

pub async fn edit_hours(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    ctx.require("sla:read")?;
    let h = hours::get(&mut ctx.tx, parse_id(&id)?).await?;
    let f = hours_values(&h);
    hours_form(ctx, hx, Some(h), f, Errors::default(), None, StatusCode::OK).await
}

async fn save_hours(
    mut ctx: WebCtx,
    hx: bool,
    id: Option<Uuid>,
    pairs: Vec<(String, String)>,
) -> Result<Response, WebError> {
    let before = match id {
        Some(id) => Some(hours::get(&mut ctx.tx, id).await?),
        None => None,
    };
    let f = FormValues(pairs);
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let (body, days) = match hours_body(&f) {
        Ok(b) => b,
        Err(e) => return hours_form(ctx, hx, before, f, e, None, unprocessable).await,
    };
    let actor = ctx.actor();
    let slug = ctx.principal.slug.clone();
    match hours::save(&mut ctx.tx, &slug, &actor, id, &body).await {
        Ok(_) => {
            ctx.tx.commit().await?;
            Ok(see_other(hx, "/sla"))
        }
        Err(AppError::Validation { fields, .. }) => {
            let errors = remap(fields, |k| {
                if k.starts_with("holidays[") {
                    return Some("holidays".into());
                }
                let (i, field) = indexed(k, "schedule")?;
                let d = days.get(i)?;
                Some(match field.as_str() {
                    "end_time" => format!("end.{d}"),
                    _ => format!("start.{d}"),
                })
            });
            hours_form(ctx, hx, before, f, errors, None, unprocessable).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn create_hours(
    ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require("sla:create")?;
    save_hours(ctx, hx, None, pairs).await
}

pub async fn update_hours(
    ctx: WebCtx,
    Hx(hx): Hx,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require("sla:update")?;
    let id = parse_id(&id)?;
    save_hours(ctx, hx, Some(id), pairs).await
}

pub async fn delete_hours(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    ctx.require("sla:delete")?;
    let id = parse_id(&id)?;
    let actor = ctx.actor();
    hours::delete(&mut ctx.tx, &actor, id).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, "/sla"))
}

/// Holiday import from an uploaded .ics file; the page shows what was added and skipped.
pub async fn import_holidays(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Path(id): Path<String>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, WebError> {
    ctx.require("sla:update")?;
    let id = parse_id(&id)?;
    // The record first: another tenant's id is a 404 whatever the body.
    hours::get(&mut ctx.tx, id).await?;
    let form =
        form.map_err(|_| AppError::field("file", "choose an iCalendar (.ics) file to upload"))?;
    let (_, files) = read_multipart(form).await?;
    let actor = ctx.actor();
    let slug = ctx.principal.slug.clone();
    let text = files
        .first()
        .map(|u| String::from_utf8_lossy(&u.bytes).into_owned())
        .unwrap_or_default();
    match hours::import_holidays(&mut ctx.tx, &slug, &actor, id, &text).await {
        Ok(r) => {
            let mut note = format!(
                "Imported {} holidays ({} already present).",
                r.added, r.already_present
            );
            if !r.skipped.is_empty() {
                note.push_str(&format!(" Skipped: {}.", r.skipped.join("; ")));
            }
            let f = hours_values(&r.business_hours);
            let h = Some(r.business_hours);
            hours_form(ctx, hx, h, f, Errors::default(), Some(note), StatusCode::OK).await
        }
        Err(AppError::Validation { fields, .. }) => {
            let h = hours::get(&mut ctx.tx, id).await?;
            let f = hours_values(&h);
            let errors = Errors(fields);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            hours_form(ctx, hx, Some(h), f, errors, None, status).await
        }
        Err(e) => Err(e.into()),
    }
}
