//! Business hours: a time zone, a weekly schedule (one window per weekday; an end at or before
//! the start crosses midnight) and holiday dates — edited as a whole, plus holiday import from
//! an iCalendar file.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::recompute;
use crate::platform::audit::{self, Actor, diff};
use crate::platform::error::AppError;
use crate::platform::listing::Problems;
use crate::platform::tenancy::{Slug, TenantTx};

/// 0 = Sunday, as the table stores it.
pub const DAY_NAMES: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DayHours {
    /// 0 = Sunday … 6 = Saturday.
    pub day_of_week: i32,
    /// `HH:MM`, local time of the schedule's zone.
    pub start_time: String,
    /// `HH:MM`; at or before the start means the window ends the next day.
    pub end_time: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HolidayDate {
    pub date: NaiveDate,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct BusinessHours {
    pub id: Uuid,
    pub name: String,
    /// IANA zone, e.g. `Europe/Berlin`.
    pub timezone: String,
    pub is_default: bool,
    #[sqlx(json)]
    pub schedule: Vec<DayHours>,
    #[sqlx(json)]
    pub holidays: Vec<HolidayDate>,
    /// Policies that use these hours.
    pub policy_count: i64,
    pub created_at: DateTime<Utc>,
}

impl BusinessHours {
    /// `Mon–Fri 09:00–17:00`-style lines for lists.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .schedule
            .iter()
            .map(|d| {
                let day = DAY_NAMES
                    .get(d.day_of_week as usize)
                    .map_or("?", |n| &n[..3]);
                format!("{day} {}–{}", d.start_time, d.end_time)
            })
            .collect();
        if parts.is_empty() {
            "no working time".into()
        } else {
            parts.join(", ")
        }
    }

    pub fn day(&self, dow: &usize) -> Option<&DayHours> {
        self.schedule
            .iter()
            .find(|d| d.day_of_week as usize == *dow)
    }
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursBody {
    pub name: String,
    pub timezone: String,
    #[serde(default)]
    pub is_default: bool,
    /// Weekdays without a row have no business time.
    #[serde(default)]
    pub schedule: Vec<DayHours>,
    #[serde(default)]
    pub holidays: Vec<HolidayDate>,
}

const SELECT: &str = "SELECT b.id, b.name, b.timezone, COALESCE(b.is_default, false) AS is_default,
        COALESCE((SELECT json_agg(json_build_object('day_of_week', s.day_of_week,
            'start_time', to_char(s.start_time, 'HH24:MI'), 'end_time', to_char(s.end_time, 'HH24:MI'))
            ORDER BY (s.day_of_week + 6) % 7)
            FROM business_hours_schedule s WHERE s.business_hours_id = b.id), '[]') AS schedule,
        COALESCE((SELECT json_agg(json_build_object('date', h.holiday_date, 'name', h.name) ORDER BY h.holiday_date)
            FROM business_hours_holidays h WHERE h.business_hours_id = b.id), '[]') AS holidays,
        (SELECT count(*) FROM sla_policies p WHERE p.business_hours_id = b.id) AS policy_count,
        COALESCE(b.created_at, now()) AS created_at
    FROM business_hours b";

pub async fn list(tx: &mut TenantTx) -> Result<Vec<BusinessHours>, AppError> {
    let sql = format!("{SELECT} ORDER BY COALESCE(b.is_default, false) DESC, b.name");
    Ok(sqlx::query_as(&sql).fetch_all(&mut **tx).await?)
}

pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<BusinessHours, AppError> {
    let sql = format!("{SELECT} WHERE b.id = $1");
    sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)
}

fn time_of(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(s.trim(), "%H:%M:%S"))
        .ok()
}

pub fn validate(b: &HoursBody) -> Problems {
    let mut p = Problems::default();
    let name = b.name.trim();
    if name.is_empty() {
        p.add("name", "is required");
    } else if name.chars().count() > 255 {
        p.add("name", "must be at most 255 characters");
    }
    if b.timezone.trim().parse::<chrono_tz::Tz>().is_err() {
        p.add(
            "timezone",
            format!(
                "'{}' is not an IANA time zone (e.g. Europe/Berlin)",
                b.timezone.trim()
            ),
        );
    }
    let mut days = BTreeSet::new();
    for (i, d) in b.schedule.iter().enumerate() {
        let at = |f: &str| format!("schedule[{i}].{f}");
        if !(0..=6).contains(&d.day_of_week) {
            p.add(&at("day_of_week"), "must be 0 (Sunday) to 6 (Saturday)");
        } else if !days.insert(d.day_of_week) {
            p.add(&at("day_of_week"), "one window per weekday");
        }
        let (start, end) = (time_of(&d.start_time), time_of(&d.end_time));
        if start.is_none() {
            p.add(&at("start_time"), "must be a time like 09:00");
        }
        if end.is_none() {
            p.add(&at("end_time"), "must be a time like 17:00");
        }
    }
    let mut dates = BTreeSet::new();
    for (i, h) in b.holidays.iter().enumerate() {
        if !dates.insert(h.date) {
            p.add(&format!("holidays[{i}].date"), "is listed twice");
        }
        if h.name.as_deref().is_some_and(|n| n.chars().count() > 255) {
            p.add(
                &format!("holidays[{i}].name"),
                "must be at most 255 characters",
            );
        }
    }
    p
}

async fn write_days_and_holidays(
    tx: &mut TenantTx,
    id: Uuid,
    b: &HoursBody,
) -> Result<(), AppError> {
    sqlx::query("DELETE FROM business_hours_schedule WHERE business_hours_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    for d in &b.schedule {
        sqlx::query(
            "INSERT INTO business_hours_schedule (business_hours_id, day_of_week, start_time, end_time)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(d.day_of_week)
        .bind(time_of(&d.start_time))
        .bind(time_of(&d.end_time))
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query("DELETE FROM business_hours_holidays WHERE business_hours_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let (dates, names): (Vec<NaiveDate>, Vec<Option<String>>) = b
        .holidays
        .iter()
        .map(|h| {
            let name = h.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
            (h.date, name.map(str::to_string))
        })
        .unzip();
    sqlx::query(
        "INSERT INTO business_hours_holidays (business_hours_id, holiday_date, name)
         SELECT $1, d, n FROM unnest($2::date[], $3::text[]) AS x(d, n)",
    )
    .bind(id)
    .bind(&dates)
    .bind(&names)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Creates (`id` None) or replaces business hours; open issues on them get new due times.
pub async fn save(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Option<Uuid>,
    b: &HoursBody,
) -> Result<BusinessHours, AppError> {
    let before = match id {
        Some(id) => Some(get(tx, id).await?),
        None => None,
    };
    validate(b).into_result()?;
    if before.as_ref().is_some_and(|h| h.is_default) && !b.is_default {
        return Err(AppError::field(
            "is_default",
            "make other hours the default instead of unsetting it here",
        ));
    }
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO business_hours (id, name, timezone, is_default)
         VALUES (COALESCE($1, gen_random_uuid()), $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET name = $2, timezone = $3, is_default = $4
         RETURNING id",
    )
    .bind(id)
    .bind(b.name.trim())
    .bind(b.timezone.trim())
    .bind(b.is_default)
    .fetch_one(&mut **tx)
    .await?;
    if b.is_default {
        sqlx::query("UPDATE business_hours SET is_default = false WHERE id <> $1 AND is_default")
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    write_days_and_holidays(tx, id, b).await?;
    let after = get(tx, id).await?;
    let action = if before.is_some() { "update" } else { "create" };
    audit::record(
        tx,
        actor,
        action,
        "business_hours",
        id,
        diff(before.as_ref(), Some(&after)),
    )
    .await?;
    if before.is_some() || b.is_default {
        recompute::enqueue(tx, tenant, recompute::Scope::BusinessHours(id)).await?;
    }
    Ok(after)
}

pub async fn delete(tx: &mut TenantTx, actor: &Actor, id: Uuid) -> Result<(), AppError> {
    let before = get(tx, id).await?;
    if before.is_default {
        return Err(AppError::conflict(
            "these are the default business hours; make others the default first",
        ));
    }
    if before.policy_count > 0 {
        return Err(AppError::conflict(format!(
            "{} SLA policies use these business hours; point them elsewhere first",
            before.policy_count
        )));
    }
    sqlx::query("DELETE FROM business_hours WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    audit::record(
        tx,
        actor,
        "delete",
        "business_hours",
        id,
        diff(Some(&before), None),
    )
    .await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HolidayImport {
    /// Dates that were new to these business hours.
    pub added: usize,
    /// Dates already present (their names are kept).
    pub already_present: usize,
    /// Events that were not imported, with the reason.
    pub skipped: Vec<String>,
    pub business_hours: BusinessHours,
}

/// Adds the holidays of an iCalendar file to business hours (existing dates stay as they are).
pub async fn import_holidays(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    id: Uuid,
    ics: &str,
) -> Result<HolidayImport, AppError> {
    let current = get(tx, id).await?;
    let parsed = domain::ical::parse(ics);
    if parsed.holidays.is_empty() {
        let why = if parsed.skipped.is_empty() {
            "no events with dates found; is this an iCalendar (.ics) file?".to_string()
        } else {
            format!("no usable events: {}", parsed.skipped.join("; "))
        };
        return Err(AppError::field("file", why));
    }
    let mut body = HoursBody {
        name: current.name.clone(),
        timezone: current.timezone.clone(),
        is_default: current.is_default,
        schedule: current.schedule.clone(),
        holidays: current.holidays.clone(),
    };
    let known: BTreeSet<NaiveDate> = current.holidays.iter().map(|h| h.date).collect();
    let mut added = BTreeSet::new();
    let mut already_present = 0;
    for h in parsed.holidays {
        if known.contains(&h.date) || !added.insert(h.date) {
            already_present += 1;
            continue;
        }
        let name = Some(h.name.chars().take(255).collect::<String>()).filter(|n| !n.is_empty());
        body.holidays.push(HolidayDate { date: h.date, name });
    }
    let business_hours = save(tx, tenant, actor, Some(id), &body).await?;
    Ok(HolidayImport {
        added: added.len(),
        already_present,
        skipped: parsed.skipped,
        business_hours,
    })
}
