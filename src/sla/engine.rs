//! Loads what the SLA clocks need — the policy that applies to an issue or a request and its business-hours
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

#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct PolicyRules {
    pub id: Uuid,
    pub name: String,
    pub is_default: bool,
    pub conditions: serde_json::Value,
    pub business_hours_id: Option<Uuid>,
    pub pause_statuses: Vec<String>,
    pub targets: sqlx::types::Json<Vec<Target>>,
}

/// SQL for the policies a record may fall under, as one JSON array of `PolicyRules` in the
/// order they are tried (specific ones by sort order, then the default): the active ones for
/// its `entity_type` (`issue`, `request`) and, with `$2 = false`, its own `x.sla_policy_id`
/// even if inactive. Meant as a column of a statement over the record's table aliased `x`.
pub fn policies_json(entity_type: &str) -> String {
    POLICIES_JSON.replace("{entity}", entity_type)
}

const POLICIES_JSON: &str = "COALESCE((SELECT json_agg(json_build_object(
        'id', p.id, 'name', p.name, 'is_default', COALESCE(p.is_default, false),
        'conditions', COALESCE(p.conditions, '{}'), 'business_hours_id', p.business_hours_id,
        'pause_statuses', p.pause_statuses,
        'targets', COALESCE((SELECT json_agg(json_build_object('metric_type', t.metric_type,
            'priority', t.priority, 'target_minutes', t.target_minutes,
            'warning_percent', t.warning_percent, 'business_hours_only', t.business_hours_only))
            FROM sla_targets t WHERE t.policy_id = p.id), '[]'))
        ORDER BY COALESCE(p.is_default, false), p.sort_order, p.name)
    FROM sla_policies p
    WHERE (p.entity_type = '{entity}' AND p.is_active) OR (NOT $2 AND p.id = x.sla_policy_id)), '[]')";

/// SQL for every business-hours schedule of the tenant as one JSON array of `Hours` (a
/// tenant has a handful).
pub const HOURS_JSON: &str = "COALESCE((SELECT json_agg(json_build_object(
        'id', b.id, 'is_default', b.is_default, 'timezone', b.timezone,
        'days', COALESCE((SELECT json_agg(json_build_array(s.day_of_week, s.start_time::text, s.end_time::text))
                          FROM business_hours_schedule s WHERE s.business_hours_id = b.id), '[]'),
        'holidays', ARRAY(SELECT h.holiday_date FROM business_hours_holidays h WHERE h.business_hours_id = b.id)))
    FROM business_hours b), '[]')";

/// The policy a record keeps (`current`, unless it is to be chosen again or is gone), else
/// the first active policy (by order) whose conditions all hold, else the default one.
/// `candidates` come from `policies_json`.
pub fn choose_policy(
    candidates: Vec<PolicyRules>,
    current: Option<Uuid>,
    reselect: bool,
    facts: &IssueFacts<'_>,
) -> Option<PolicyRules> {
    if !reselect && let Some(kept) = current.and_then(|id| candidates.iter().find(|p| p.id == id)) {
        return Some(kept.clone());
    }
    let (defaults, specific): (Vec<_>, Vec<_>) = candidates.into_iter().partition(|p| p.is_default);
    specific
        .into_iter()
        .find(|p| domain::sla::matches(&p.conditions, facts))
        .or_else(|| defaults.into_iter().next())
}

/// A business-hours schedule as `HOURS_JSON` gives it.
#[derive(serde::Deserialize)]
pub struct Hours {
    id: Uuid,
    is_default: bool,
    timezone: String,
    days: Vec<(i32, String, String)>,
    holidays: Vec<NaiveDate>,
}

/// The schedule `id` (or the default one) among `all`, as the time engine's `Schedule`;
/// around the clock when there is none.
pub fn pick_schedule(all: &[Hours], id: Option<Uuid>) -> Schedule {
    let row = match id {
        Some(id) => all.iter().find(|h| h.id == id),
        None => all.iter().find(|h| h.is_default),
    };
    let Some(row) = row else {
        return Schedule::always();
    };
    let tz = row.timezone.parse().unwrap_or(chrono_tz::Tz::UTC);
    let mut days: [Vec<Window>; 7] = Default::default();
    for (dow, start, end) in &row.days {
        let (Ok(s), Ok(e)) = (
            NaiveTime::parse_from_str(start, "%H:%M:%S"),
            NaiveTime::parse_from_str(end, "%H:%M:%S"),
        ) else {
            continue;
        };
        // The table counts 0 = Sunday; the engine 0 = Monday.
        let idx = ((dow + 6) % 7) as usize;
        if let Some(day) = days.get_mut(idx) {
            day.push(Window::new(s, e));
        }
    }
    Schedule {
        tz,
        days,
        holidays: row.holidays.iter().copied().collect::<BTreeSet<_>>(),
    }
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
