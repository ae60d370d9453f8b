//! Keeping an issue's due times and breach timers in step with its state. Timers are keyed jobs
//! (`sla:<issue>:<metric>`), so moving a due time moves the timer and stopping a clock cancels
//! it; nothing polls the issues table.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use domain::time::Schedule;
use sqlx::types::Json;

use super::engine::{self, ClockInput, Clocks, IssueFacts, PolicyRules};
use crate::platform::audit::Actor;
use crate::platform::error::AppError;
use crate::platform::events;
use crate::platform::jobs::{self, JobCtx, JobResult};
use crate::platform::tenancy::{Slug, TenantTx};

pub const TASK: &str = "sla.check";

#[derive(sqlx::FromRow)]
struct Row {
    created_at: DateTime<Utc>,
    status: String,
    priority: String,
    issue_type: Option<String>,
    category_id: Option<Uuid>,
    application_id: Option<Uuid>,
    tier: Option<String>,
    first_response_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    sla_policy_id: Option<Uuid>,
    response_warned_at: Option<DateTime<Utc>>,
    resolution_warned_at: Option<DateTime<Utc>>,
    response_breached_at: Option<DateTime<Utc>>,
    resolution_breached_at: Option<DateTime<Utc>>,
    response_due_at: Option<DateTime<Utc>>,
    resolution_due_at: Option<DateTime<Utc>>,
    history: Json<Vec<(DateTime<Utc>, String)>>,
    policies: Json<Vec<PolicyRules>>,
    hours: Json<Vec<engine::Hours>>,
}

/// An issue's clocks as of `now`, with the policy and start they came from.
pub struct Loaded {
    pub policy: Option<PolicyRules>,
    pub clocks: Option<Clocks>,
    pub created_at: DateTime<Utc>,
    /// The business hours of the policy (or the default ones): what business minutes count.
    schedule: Schedule,
    row: Row,
}

impl Loaded {
    /// When the clock of `metric` ("response", else resolution) was warned about and breached.
    fn marks(&self, metric: &str) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let r = &self.row;
        match metric {
            "response" => (r.response_warned_at, r.response_breached_at),
            _ => (r.resolution_warned_at, r.resolution_breached_at),
        }
    }
}

/// Loads an issue's clocks — the issue, its status history, the policies it may fall under
/// and the business hours, in one statement; with `reselect` the policy is chosen again
/// (priority, category, application or type changed), else the issue keeps the one it has.
pub async fn load(
    tx: &mut TenantTx,
    issue: Uuid,
    now: DateTime<Utc>,
    reselect: bool,
) -> Result<Loaded, AppError> {
    let sql = format!(
        "SELECT i.created_at, i.status, i.priority, i.issue_type, i.category_id, i.application_id,
                a.tier, i.first_response_at, i.resolved_at, i.sla_policy_id,
                i.response_warned_at, i.resolution_warned_at, i.response_breached_at, i.resolution_breached_at,
                i.response_due_at, i.resolution_due_at,
                COALESCE((SELECT json_agg(json_build_array(h.created_at, h.to_status) ORDER BY h.created_at, h.id)
                          FROM issue_status_history h WHERE h.issue_id = i.id), '[]') AS history,
                {} AS policies, {} AS hours
         FROM issues i LEFT JOIN applications a ON a.id = i.application_id WHERE i.id = $1",
        engine::POLICIES_JSON,
        engine::HOURS_JSON
    );
    let mut row: Row = sqlx::query_as(&sql)
        .bind(issue)
        .bind(reselect)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)?;
    let facts = IssueFacts {
        priority: &row.priority,
        tier: row.tier.as_deref(),
        category_id: row.category_id,
        application_id: row.application_id,
        issue_type: row.issue_type.as_deref().unwrap_or("issue"),
    };
    let candidates = std::mem::take(&mut row.policies.0);
    let policy = engine::choose_policy(candidates, row.sla_policy_id, reselect, &facts);
    let schedule = engine::pick_schedule(
        &row.hours.0,
        policy.as_ref().and_then(|p| p.business_hours_id),
    );
    let clocks = policy.as_ref().map(|policy| {
        let input = ClockInput {
            created_at: row.created_at,
            status: &row.status,
            priority: &row.priority,
            first_response_at: row.first_response_at,
            resolved_at: row.resolved_at,
            history: &row.history.0,
        };
        let mut clocks = engine::compute(policy, &schedule, &input, now);
        // A recorded breach stands even if a later change (re-prioritising, say) moved the
        // due time.
        for (clock, breached) in [
            (clocks.response.as_mut(), row.response_breached_at),
            (clocks.resolution.as_mut(), row.resolution_breached_at),
        ] {
            if let (Some(c), Some(_)) = (clock, breached) {
                c.state = "breached";
            }
        }
        clocks
    });
    Ok(Loaded {
        policy,
        clocks,
        created_at: row.created_at,
        schedule,
        row,
    })
}

/// What a change asks of `refresh`.
#[derive(Clone, Copy, Default)]
pub struct Refresh {
    /// Choose the policy again (priority, category, application or type changed).
    pub reselect: bool,
    /// Also store time to first response and to resolution, wall-clock and in business
    /// minutes of the issue's SLA schedule (unset while the moment has not come): after the
    /// first response and on resolving.
    pub measure: bool,
}

/// Recomputes the due times, stores them and moves the timers. Call after every change that
/// can move a clock: create, status change, first response, re-prioritisation, reopen.
pub async fn refresh(
    tx: &mut TenantTx,
    tenant: &Slug,
    issue: Uuid,
    now: DateTime<Utc>,
    what: Refresh,
) -> Result<(), AppError> {
    let Refresh { reselect, measure } = what;
    let loaded = load(tx, issue, now, reselect).await?;
    let clocks = loaded.clocks.as_ref();
    let due = |m: &str| {
        clocks
            .and_then(|c| engine::by_metric(c, m))
            .and_then(|c| c.due_at)
    };
    let policy = loaded.policy.as_ref().map(|p| p.id);
    let (response, resolution) = (due("response"), due("resolution"));
    let row = &loaded.row;
    let moved = (policy, response, resolution)
        != (
            row.sla_policy_id,
            row.response_due_at,
            row.resolution_due_at,
        );
    // Most actions move no clock: then the row is left alone.
    if moved || measure {
        let created = row.created_at;
        let wall = |t: Option<DateTime<Utc>>| t.map(|t| (t - created).num_minutes() as i32);
        let business = |t: Option<DateTime<Utc>>| {
            t.map(|t| loaded.schedule.between(created, t).num_minutes() as i32)
        };
        let (first, resolved) = (row.first_response_at, row.resolved_at);
        sqlx::query(
            "UPDATE issues SET sla_policy_id = $2, response_due_at = $3, resolution_due_at = $4,
                time_to_first_response = CASE WHEN $5 THEN $6 ELSE time_to_first_response END,
                business_time_to_first_response = CASE WHEN $5 THEN $7 ELSE business_time_to_first_response END,
                time_to_resolution = CASE WHEN $5 THEN $8 ELSE time_to_resolution END,
                business_time_to_resolution = CASE WHEN $5 THEN $9 ELSE business_time_to_resolution END
             WHERE id = $1",
        )
        .bind(issue)
        .bind(policy)
        .bind(response)
        .bind(resolution)
        .bind(measure)
        .bind(wall(first))
        .bind(business(first))
        .bind(wall(resolved))
        .bind(business(resolved))
        .execute(&mut **tx)
        .await?;
    }
    schedule_timers(tx, tenant, issue, &loaded).await
}

async fn schedule_timers(
    tx: &mut TenantTx,
    tenant: &Slug,
    issue: Uuid,
    loaded: &Loaded,
) -> Result<(), AppError> {
    let plan: Vec<(Timer, Option<DateTime<Utc>>)> = ["response", "resolution"]
        .into_iter()
        .map(|metric| {
            let (warned, breached) = loaded.marks(metric);
            let clock = loaded
                .clocks
                .as_ref()
                .and_then(|c| engine::by_metric(c, metric));
            let next = match clock {
                Some(c) if c.stopped_at.is_none() && breached.is_none() => match warned {
                    None => c.warn_at,
                    Some(_) => c.due_at,
                },
                _ => None,
            };
            let timer = Timer {
                issue_id: issue,
                metric: metric.to_string(),
            };
            (timer, next)
        })
        .collect();
    jobs::set_keyed(tx, tenant, &plan).await?;
    Ok(())
}

/// An issue's SLA timer for one metric: one per (issue, metric), moved as its clock moves.
#[derive(serde::Serialize, serde::Deserialize)]
struct Timer {
    issue_id: Uuid,
    metric: String,
}

impl jobs::Job for Timer {
    const TASK: &'static str = TASK;
    const MAX_ATTEMPTS: i32 = 20;

    fn key(&self) -> Option<String> {
        Some(timer_key(self.issue_id, &self.metric))
    }
}

fn timer_key(issue: Uuid, metric: &str) -> String {
    format!("sla:{issue}:{metric}")
}

/// The timer: at the warning threshold emits `issue.sla_warning`, at the due time marks the
/// breach and emits `issue.sla_breached` — each once — then sets the next timer.
pub async fn check_job(mut ctx: JobCtx) -> (JobCtx, JobResult) {
    let result = match ctx.job::<Timer>() {
        Ok(timer) => check(&mut ctx, timer).await.map_err(jobs::JobError::from),
        Err(bad) => Err(bad),
    };
    (ctx, result)
}

async fn check(ctx: &mut JobCtx, timer: Timer) -> anyhow::Result<()> {
    let Some(tenant) = ctx.tenant.clone() else {
        return Ok(());
    };
    let issue = timer.issue_id;
    // Only these two names ever reach the SQL below.
    let metric = match timer.metric.as_str() {
        "response" => "response",
        _ => "resolution",
    };
    let now = ctx.clock.now();
    let loaded = match load(&mut ctx.tx, issue, now, false).await {
        Ok(l) => l,
        Err(AppError::NotFound) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let Some(clock) = loaded
        .clocks
        .as_ref()
        .and_then(|c| engine::by_metric(c, metric))
        .cloned()
    else {
        return Ok(());
    };
    let (warned, breached) = loaded.marks(metric);
    let running = clock.stopped_at.is_none() && !clock.paused;
    let actor = Actor::system("sla");
    let event = if running && breached.is_none() && clock.due_at.is_some_and(|d| now >= d) {
        let sql = format!(
            "UPDATE issues SET {metric}_breached_at = $2, {metric}_warned_at = COALESCE({metric}_warned_at, $2),
                sla_breached = true,
                sla_breach_type = CASE WHEN sla_breach_type IS NULL OR sla_breach_type = $3 THEN $3 ELSE 'both' END
             WHERE id = $1"
        );
        sqlx::query(&sql)
            .bind(issue)
            .bind(now)
            .bind(metric)
            .execute(&mut **ctx.tx)
            .await?;
        Some("issue.sla_breached")
    } else if running && warned.is_none() && clock.warn_at.is_some_and(|w| now >= w) {
        sqlx::query(&format!(
            "UPDATE issues SET {metric}_warned_at = $2 WHERE id = $1"
        ))
        .bind(issue)
        .bind(now)
        .execute(&mut **ctx.tx)
        .await?;
        Some("issue.sla_warning")
    } else {
        None
    };
    if let Some(event) = event {
        let number: String = sqlx::query_scalar("SELECT issue_number FROM issues WHERE id = $1")
            .bind(issue)
            .fetch_one(&mut **ctx.tx)
            .await?;
        let payload: Value = json!({
            "issue_id": issue, "issue_number": number, "metric": metric,
            "due_at": clock.due_at, "target_minutes": clock.target_minutes,
        });
        crate::platform::audit::record(
            &mut ctx.tx,
            &actor,
            event.trim_start_matches("issue."),
            "issue",
            issue,
            json!({"metric": metric}),
        )
        .await?;
        events::emit(&mut ctx.tx, &tenant, &actor, event, "issue", issue, payload).await?;
    }
    // The next timer (warning → breach), from the state just written.
    let loaded = load(&mut ctx.tx, issue, now, false).await?;
    schedule_timers(&mut ctx.tx, &tenant, issue, &loaded).await?;
    Ok(())
}
