//! SLA clocks of one issue or service request: which policy's conditions hold, when each clock
//! is due, and why.
//!
//! Clock rules (also in the README; for requests "resolved" reads "completed, rejected or
//! cancelled" and the first response is the first assignment to a person, public comment by
//! the service desk or start of work):
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

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::time::{Schedule, Step};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
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

pub fn matches(conditions: &serde_json::Value, f: &IssueFacts) -> bool {
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

/// What the clocks need to know about an issue.
pub struct ClockInput<'a> {
    pub created_at: DateTime<Utc>,
    pub status: &'a str,
    pub priority: &'a str,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Status changes (at, to_status), oldest first.
    pub history: &'a [(DateTime<Utc>, String)],
    /// Whether a status leaves the record open (the resolution clock runs): issues and
    /// requests close in different words.
    pub open: fn(&str) -> bool,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
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

/// What the clocks need of a policy: its targets and the statuses that pause them.
pub struct Policy<'a> {
    pub targets: &'a [Target],
    pub pause_statuses: &'a [String],
}

/// Both clocks of an issue under `policy` (None where the policy has no target for the
/// priority).
pub fn compute(
    policy: &Policy,
    business: &Schedule,
    input: &ClockInput,
    now: DateTime<Utc>,
) -> Clocks {
    let pausing: Vec<&str> = policy.pause_statuses.iter().map(String::as_str).collect();
    let target = |metric: &str| {
        policy
            .targets
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
        let stopped = match (input.open)(input.status) {
            true => None,
            false => input.resolved_at,
        };
        // Earlier resolved spans (before a reopen) count as pauses.
        let done = intervals(input.history, &|s| !(input.open)(s));
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
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
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
