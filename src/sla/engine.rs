//! Loads what the SLA clocks need — the policy that applies to an issue and its business-hours
//! schedule — for the pure rules in `domain::sla` (clock rules are documented there and in the
//! README).

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use domain::time::{Schedule, Window};
use uuid::Uuid;

pub use domain::sla::{
    CONDITION_KEYS, ClockInput, ClockState, Clocks, ExplainStep, IssueFacts, Target, by_metric,
    explain, unknown_condition_keys,
};

use crate::platform::error::AppError;
use crate::platform::tenancy::TenantTx;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PolicyRules {
    pub id: Uuid,
    pub name: String,
    pub is_default: bool,
    pub conditions: serde_json::Value,
    pub business_hours_id: Option<Uuid>,
    pub pause_statuses: Vec<String>,
    pub targets: sqlx::types::Json<Vec<Target>>,
}

/// The first active issue policy (by order) whose conditions all hold, else the default one.
pub async fn policy_for(
    tx: &mut TenantTx,
    facts: &IssueFacts<'_>,
) -> Result<Option<PolicyRules>, AppError> {
    let policies: Vec<PolicyRules> = sqlx::query_as(
        "SELECT p.id, p.name, COALESCE(p.is_default, false) AS is_default,
                COALESCE(p.conditions, '{}') AS conditions, p.business_hours_id, p.pause_statuses,
                COALESCE((SELECT json_agg(json_build_object('metric_type', t.metric_type,
                    'priority', t.priority, 'target_minutes', t.target_minutes,
                    'warning_percent', t.warning_percent, 'business_hours_only', t.business_hours_only))
                    FROM sla_targets t WHERE t.policy_id = p.id), '[]') AS targets
         FROM sla_policies p WHERE p.entity_type = 'issue' AND p.is_active
         ORDER BY COALESCE(p.is_default, false), p.sort_order, p.name",
    )
    .fetch_all(&mut **tx)
    .await?;
    let (defaults, specific): (Vec<_>, Vec<_>) = policies.into_iter().partition(|p| p.is_default);
    Ok(specific
        .into_iter()
        .find(|p| domain::sla::matches(&p.conditions, facts))
        .or_else(|| defaults.into_iter().next()))
}

pub async fn policy_by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<PolicyRules>, AppError> {
    Ok(sqlx::query_as(
        "SELECT p.id, p.name, COALESCE(p.is_default, false) AS is_default,
                COALESCE(p.conditions, '{}') AS conditions, p.business_hours_id, p.pause_statuses,
                COALESCE((SELECT json_agg(json_build_object('metric_type', t.metric_type,
                    'priority', t.priority, 'target_minutes', t.target_minutes,
                    'warning_percent', t.warning_percent, 'business_hours_only', t.business_hours_only))
                    FROM sla_targets t WHERE t.policy_id = p.id), '[]') AS targets
         FROM sla_policies p WHERE p.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?)
}

#[derive(sqlx::FromRow)]
struct HoursRow {
    timezone: String,
    days: sqlx::types::Json<Vec<(i32, String, String)>>,
    holidays: Vec<NaiveDate>,
}

/// The business-hours schedule `id` (or the default one) as the time engine's `Schedule`.
pub async fn schedule(tx: &mut TenantTx, id: Option<Uuid>) -> Result<Schedule, AppError> {
    let row: Option<HoursRow> = sqlx::query_as(
        "SELECT b.timezone,
            COALESCE((SELECT json_agg(json_build_array(s.day_of_week, s.start_time::text, s.end_time::text))
                      FROM business_hours_schedule s WHERE s.business_hours_id = b.id), '[]') AS days,
            ARRAY(SELECT h.holiday_date FROM business_hours_holidays h WHERE h.business_hours_id = b.id) AS holidays
         FROM business_hours b
         WHERE b.id = $1 OR ($1 IS NULL AND b.is_default)
         ORDER BY b.is_default DESC LIMIT 1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        return Ok(Schedule::always());
    };
    let tz = row.timezone.parse().unwrap_or(chrono_tz::Tz::UTC);
    let mut days: [Vec<Window>; 7] = Default::default();
    for (dow, start, end) in row.days.0 {
        let (Ok(s), Ok(e)) = (
            NaiveTime::parse_from_str(&start, "%H:%M:%S"),
            NaiveTime::parse_from_str(&end, "%H:%M:%S"),
        ) else {
            continue;
        };
        // The table counts 0 = Sunday; the engine 0 = Monday.
        let idx = ((dow + 6) % 7) as usize;
        if let Some(day) = days.get_mut(idx) {
            day.push(Window::new(s, e));
        }
    }
    Ok(Schedule {
        tz,
        days,
        holidays: row.holidays.into_iter().collect::<BTreeSet<_>>(),
    })
}

/// Both clocks of an issue under `policy` (None where the policy has no target for the
/// priority).
pub fn compute(
    policy: &PolicyRules,
    business: &Schedule,
    input: &ClockInput,
    now: DateTime<Utc>,
) -> Clocks {
    let rules = domain::sla::Policy {
        targets: &policy.targets.0,
        pause_statuses: &policy.pause_statuses,
    };
    domain::sla::compute(&rules, business, input, now)
}
