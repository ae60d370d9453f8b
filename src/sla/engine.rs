//! SLA clocks of one issue: which policy applies, when each clock is due, and why.
//!
//! Clock rules (also in the README):
//! * Both clocks start when the issue is created.
//! * The **response** clock stops at the first response: the first public comment by someone
//!   other than the reporter, an assignment to a person, or work starting/resolving — whichever
//!   comes first (`issues.first_response_at`).
//! * The **resolution** clock stops when the issue is resolved; reopening resumes it (the time
//!   spent resolved counts as a pause).
//! * Both stand still while the status is one of the policy's pausing statuses (default
//!   `pending`).
//! * Due times are always computed from the original start plus the target, skipping pauses and
//!   (for business-hours targets) time outside business hours — so re-prioritising moves them.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use domain::time::{Schedule, Step, Window};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::platform::error::AppError;
use crate::platform::tenancy::TenantTx;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Target {
    /// `response_time` or `resolution_time`.
    pub metric_type: String,
    pub priority: String,
    pub target_minutes: i32,
    /// Default 80.
    #[serde(default = "default_warning_percent")]
    pub warning_percent: i32,
    /// Default true: only business time counts.
    #[serde(default = "default_true")]
    pub business_hours_only: bool,
}

fn default_warning_percent() -> i32 {
    80
}

fn default_true() -> bool {
    true
}

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

/// What a policy's conditions look at.
pub struct IssueFacts<'a> {
    pub priority: &'a str,
    pub tier: Option<&'a str>,
    pub category_id: Option<Uuid>,
    pub application_id: Option<Uuid>,
    pub issue_type: &'a str,
}

/// Condition keys a policy may use; each is a value or a list of values.
pub const CONDITION_KEYS: &[&str] = &[
    "priority",
    "tier",
    "category_id",
    "application_id",
    "issue_type",
];

fn matches(conditions: &serde_json::Value, f: &IssueFacts) -> bool {
    let Some(map) = conditions.as_object() else {
        return true;
    };
    map.iter().all(|(key, want)| {
        let have: Option<String> = match key.as_str() {
            "priority" => Some(f.priority.to_string()),
            "tier" => f.tier.map(str::to_string),
            "category_id" => f.category_id.map(|u| u.to_string()),
            "application_id" => f.application_id.map(|u| u.to_string()),
            "issue_type" => Some(f.issue_type.to_string()),
            _ => return false,
        };
        let Some(have) = have else { return false };
        match want {
            serde_json::Value::String(s) => *s == have,
            serde_json::Value::Array(list) => list.iter().any(|v| v.as_str() == Some(&have)),
            _ => false,
        }
    })
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
        .find(|p| matches(&p.conditions, facts))
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

/// What the clocks need to know about an issue.
pub struct ClockInput<'a> {
    pub created_at: DateTime<Utc>,
    pub status: &'a str,
    pub priority: &'a str,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Status changes (at, to_status), oldest first.
    pub history: &'a [(DateTime<Utc>, String)],
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClockState {
    /// `response` or `resolution`.
    pub metric: &'static str,
    pub target_minutes: i64,
    pub business_hours_only: bool,
    pub warning_percent: i32,
    /// None while paused (or when the schedule has no business time ahead).
    pub due_at: Option<DateTime<Utc>>,
    pub warn_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub paused: bool,
    /// Minutes the clock has run (business minutes for business-hours targets).
    pub elapsed_minutes: i64,
    /// `running`, `paused`, `met`, `breached` or `warning`.
    pub state: &'static str,
    #[serde(skip)]
    pub pauses: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>,
}

pub struct Clocks {
    pub response: Option<ClockState>,
    pub resolution: Option<ClockState>,
    pub response_schedule: Schedule,
    pub resolution_schedule: Schedule,
}

/// Intervals (sorted, merged) during which the status was in `set`, from the history.
fn intervals(
    history: &[(DateTime<Utc>, String)],
    set: &dyn Fn(&str) -> bool,
) -> Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> {
    let mut out: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = Vec::new();
    let mut open: Option<DateTime<Utc>> = None;
    for (at, to) in history {
        match (open, set(to)) {
            (None, true) => open = Some(*at),
            (Some(from), false) => {
                out.push((from, Some(*at)));
                open = None;
            }
            _ => {}
        }
    }
    if let Some(from) = open {
        out.push((from, None));
    }
    out
}

fn merge(
    mut v: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>,
) -> Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> {
    v.sort_by_key(|p| p.0);
    let mut out: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = Vec::new();
    for (from, until) in v {
        match out.last_mut() {
            Some(last) if last.1.is_none_or(|u| from <= u) => {
                last.1 = match (last.1, until) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
            }
            _ => out.push((from, until)),
        }
    }
    out
}

fn clock(
    metric: &'static str,
    target: &Target,
    schedule: &Schedule,
    start: DateTime<Utc>,
    stopped_at: Option<DateTime<Utc>>,
    mut pauses: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>,
    now: DateTime<Utc>,
) -> ClockState {
    // A stopped clock ignores pauses that began after it stopped.
    if let Some(stop) = stopped_at {
        pauses.retain(|p| p.0 < stop);
        for p in &mut pauses {
            p.1 = Some(p.1.map_or(stop, |u| u.min(stop)));
        }
    }
    let amount = Duration::minutes(target.target_minutes as i64);
    let warn_amount =
        Duration::seconds(target.target_minutes as i64 * 60 * target.warning_percent as i64 / 100);
    let due_at = schedule.due_with_pauses(start, amount, &pauses);
    let warn_at = schedule.due_with_pauses(start, warn_amount, &pauses);
    let paused = stopped_at.is_none() && pauses.last().is_some_and(|p| p.1.is_none());
    let until = stopped_at.unwrap_or(now);
    let elapsed = schedule.elapsed_with_pauses(start, until, &pauses);
    let state = match (stopped_at, due_at) {
        (Some(s), Some(d)) if s <= d => "met",
        (Some(_), Some(_)) => "breached",
        (Some(_), None) => "met",
        (None, _) if paused => "paused",
        (None, Some(d)) if now >= d => "breached",
        (None, _) if warn_at.is_some_and(|w| now >= w) => "warning",
        _ => "running",
    };
    ClockState {
        metric,
        target_minutes: target.target_minutes as i64,
        business_hours_only: target.business_hours_only,
        warning_percent: target.warning_percent,
        due_at,
        warn_at,
        stopped_at,
        paused,
        elapsed_minutes: elapsed.num_minutes(),
        state,
        pauses,
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
    let pausing: Vec<&str> = policy.pause_statuses.iter().map(String::as_str).collect();
    let target = |metric: &str| {
        policy
            .targets
            .0
            .iter()
            .find(|t| t.metric_type == metric && t.priority == input.priority)
            .cloned()
    };
    let schedule_for = |t: &Option<Target>| match t {
        Some(t) if t.business_hours_only => business.clone(),
        _ => Schedule::always(),
    };
    let paused = intervals(input.history, &|s| pausing.contains(&s));
    let (rt, st) = (target("response_time"), target("resolution_time"));
    let (response_schedule, resolution_schedule) = (schedule_for(&rt), schedule_for(&st));
    let first_response = input.first_response_at.or(input.resolved_at);
    let response = rt.map(|t| {
        clock(
            "response",
            &t,
            &response_schedule,
            input.created_at,
            first_response,
            paused.clone(),
            now,
        )
    });
    let resolution = st.map(|t| {
        let mut pauses = paused.clone();
        let stopped = match domain::issues::is_open(input.status) {
            true => None,
            false => input.resolved_at,
        };
        // Earlier resolved spans (before a reopen) count as pauses.
        let done = intervals(input.history, &|s| !domain::issues::is_open(s));
        pauses.extend(done.into_iter().filter(|p| p.1.is_some()));
        clock(
            "resolution",
            &t,
            &resolution_schedule,
            input.created_at,
            stopped,
            merge(pauses),
            now,
        )
    });
    Clocks {
        response,
        resolution,
        response_schedule,
        resolution_schedule,
    }
}

/// One line of the "explain this deadline" timeline, for people.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExplainStep {
    pub at: DateTime<Utc>,
    /// `started`, `paused`, `resumed`, `skipped`, `holiday` or `due`.
    pub kind: &'static str,
    pub text: String,
}

/// The timeline of one clock, with times in `tz` (the viewer's zone) in the text.
pub fn explain(
    state: &ClockState,
    schedule: &Schedule,
    start: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> Vec<ExplainStep> {
    let fmt = |t: DateTime<Utc>| t.with_timezone(&tz).format("%a %d %b %H:%M").to_string();
    let amount = Duration::minutes(state.target_minutes);
    let mut out = Vec::new();
    for (at, step) in schedule.explain(start, amount, &state.pauses, 200) {
        match step {
            Step::Started => out.push(ExplainStep {
                at,
                kind: "started",
                text: format!(
                    "Clock started; target {} {}minutes",
                    state.target_minutes,
                    if state.business_hours_only {
                        "business "
                    } else {
                        ""
                    }
                ),
            }),
            Step::Paused { until } => {
                out.push(ExplainStep {
                    at,
                    kind: "paused",
                    text: "Paused (pausing status)".into(),
                });
                if let Some(u) = until {
                    out.push(ExplainStep {
                        at: u,
                        kind: "resumed",
                        text: "Resumed".into(),
                    });
                }
            }
            Step::Skipped { until, holidays } => {
                let (kind, text) = match holidays.is_empty() {
                    true => (
                        "skipped",
                        format!("Outside business hours until {}", fmt(until)),
                    ),
                    false => (
                        "holiday",
                        format!(
                            "Outside business hours until {} (holidays: {})",
                            fmt(until),
                            holidays
                                .iter()
                                .map(|d| d.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ),
                };
                out.push(ExplainStep { at, kind, text });
            }
            Step::Due => out.push(ExplainStep {
                at,
                kind: "due",
                text: "Due".into(),
            }),
        }
    }
    if let Some(stop) = state.stopped_at {
        out.push(ExplainStep {
            at: stop,
            kind: "stopped",
            text: format!("Clock stopped ({})", state.state),
        });
        out.sort_by_key(|s| s.at);
    }
    out
}

/// Per-metric lookup used by timers: the clock of `metric`.
pub fn by_metric<'a>(clocks: &'a Clocks, metric: &str) -> Option<&'a ClockState> {
    match metric {
        "response" => clocks.response.as_ref(),
        _ => clocks.resolution.as_ref(),
    }
}

/// Unused keys in a conditions object (for validation messages).
pub fn unknown_condition_keys(conditions: &HashMap<String, serde_json::Value>) -> Vec<String> {
    conditions
        .keys()
        .filter(|k| !CONDITION_KEYS.contains(&k.as_str()))
        .cloned()
        .collect()
}
