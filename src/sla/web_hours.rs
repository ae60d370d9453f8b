//! The business-hours form: zone, weekly schedule, holidays and the .ics import.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::Multipart;
use axum::extract::multipart::MultipartRejection;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use uuid::Uuid;

use super::hours::{self, BusinessHours, DAY_NAMES, DayHours, HolidayDate, HoursBody};
use super::web::{can_save, indexed};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::web::PathId;
use crate::platform::web::{Chrome, Errors, FormValues, Hx, read_multipart, see_other};
use crate::render_page;

/// Monday first, as people read a week; values are the table's 0 = Sunday.
const WEEK: [usize; 7] = [1, 2, 3, 4, 5, 6, 0];

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
        chrome: Chrome::new(&ctx.principal, &ctx.csrf, "sla", &ctx.manifest, ctx.now),
        f,
        errors,
        can_save: can_save(&ctx.principal, hours.is_some()),
        can_delete: ctx.principal.can(crate::sla::perm::SLA_DELETE),
        hours,
        imported,
        week: WEEK,
    };
    Ok(render_page!(hx, page, status))
}

pub async fn new_hours(ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require(crate::sla::perm::SLA_CREATE)?;
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
    PathId(id): PathId,
) -> Result<Response, WebError> {
    ctx.require(crate::sla::perm::SLA_READ)?;
    let h = hours::get(&mut ctx.tx, id).await?;
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
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            hours::save(&mut ctx.tx, &slug, &actor, id, &body).await
        })
        .await?;
    match saved {
        Ok(_) => ctx.saved(hx, "/sla").await,
        Err(refused) => {
            let refused = refused.notice_at("name").map_fields(|k| {
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
            hours_form(ctx, hx, before, f, refused.errors, None, refused.status).await
        }
    }
}

pub async fn create_hours(
    ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::sla::perm::SLA_CREATE)?;
    save_hours(ctx, hx, None, pairs).await
}

pub async fn update_hours(
    ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::sla::perm::SLA_UPDATE)?;
    save_hours(ctx, hx, Some(id), pairs).await
}

pub async fn delete_hours(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
) -> Result<Response, WebError> {
    ctx.require(crate::sla::perm::SLA_DELETE)?;
    let actor = ctx.actor();
    hours::delete(&mut ctx.tx, &actor, id).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, "/sla"))
}

/// Holiday import from an uploaded .ics file; the page shows what was added and skipped.
pub async fn import_holidays(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, WebError> {
    ctx.require(crate::sla::perm::SLA_UPDATE)?;
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
