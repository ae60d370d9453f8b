//! Keeping the due times and breach timers of an issue or a service request in step with its
//! state. Timers are keyed jobs (`sla:<issue>:<metric>`, `sla:request:<request>:<metric>`), so
//! moving a due time moves the timer and stopping a clock cancels it; nothing polls the tables.

use chrono::{DateTime, Utc};
use serde_json::json;
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

/// A record with SLA clocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clocked {
    Issue(Uuid),
    Request(Uuid),
}

impl Clocked {
    pub fn id(self) -> Uuid {
        match self {
            Clocked::Issue(id) | Clocked::Request(id) => id,
        }
    }

    /// Its `entity_type` (policies, audit rows, events).
    pub fn entity(self) -> &'static str {
        match self {
            Clocked::Issue(_) => "issue",
            Clocked::Request(_) => "request",
        }
    }

    fn table(self) -> &'static str {
        match self {
            Clocked::Issue(_) => "issues",
            Clocked::Request(_) => "service_requests",
        }
    }

    fn number_column(self) -> &'static str {
        match self {
            Clocked::Issue(_) => "issue_number",
            Clocked::Request(_) => "request_number",
        }
    }

    /// The statement behind `load`: the record as `Row`, aliased `x`.
    fn load_sql(self) -> String {
        let (policies, hours) = (engine::policies_json(self.entity()), engine::HOURS_JSON);
        match self {
            Clocked::Issue(_) => format!(
                "SELECT x.created_at, x.status, x.priority, x.issue_type, x.category_id, x.application_id,
                    a.tier, x.first_response_at, x.resolved_at, x.sla_policy_id,
                    x.response_warned_at, x.resolution_warned_at, x.response_breached_at, x.resolution_breached_at,
                    x.response_due_at, x.resolution_due_at,
                    COALESCE((SELECT json_agg(json_build_array(h.created_at, h.to_status) ORDER BY h.created_at, h.id)
                              FROM issue_status_history h WHERE h.issue_id = x.id), '[]') AS history,
                    {policies} AS policies, {hours} AS hours
                 FROM issues x LEFT JOIN applications a ON a.id = x.application_id WHERE x.id = $1"
            ),
            // A request "resolves" when it closes (completed, rejected, cancelled): at its last
            // status change. Its category is its catalog item's. A bundle's parent request has
            // no clocks: its children do.
            Clocked::Request(_) => format!(
                "SELECT COALESCE(x.created_at, now()) AS created_at, COALESCE(x.status, 'new') AS status,
                    COALESCE(x.priority, 'medium') AS priority, 'request' AS issue_type, c.category_id,
                    NULL::uuid AS application_id, NULL::text AS tier, x.responded_at AS first_response_at,
                    CASE WHEN x.status IN ('completed', 'rejected', 'cancelled') THEN
                        COALESCE((SELECT max(h.created_at) FROM request_status_history h WHERE h.request_id = x.id), x.updated_at)
                    END AS resolved_at,
                    x.sla_policy_id,
                    x.response_warned_at, x.resolution_warned_at, x.response_breached_at, x.resolution_breached_at,
                    x.response_due_at, x.resolution_due_at,
                    COALESCE((SELECT json_agg(json_build_array(h.created_at, h.to_status) ORDER BY h.created_at, h.id)
                              FROM request_status_history h WHERE h.request_id = x.id), '[]') AS history,
                    CASE WHEN x.bundle_id IS NULL THEN {policies} ELSE '[]' END AS policies, {hours} AS hours
                 FROM service_requests x LEFT JOIN catalog_items c ON c.id = x.catalog_item_id WHERE x.id = $1"
            ),
        }
    }

    /// Which of its statuses leave it open.
    fn open(self) -> fn(&str) -> bool {
        match self {
            Clocked::Issue(_) => domain::issues::is_open,
            Clocked::Request(_) => domain::requests::is_open,
        }
    }
}

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

/// A record's clocks as of `now`, with the policy and start they came from.
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

/// Loads a record's clocks — the record, its status history, the policies it may fall under
/// and the business hours, in one statement; with `reselect` the policy is chosen again
/// (priority, category, application or type changed), else the record keeps the one it has.
pub async fn load(
    tx: &mut TenantTx,
    what: Clocked,
    now: DateTime<Utc>,
    reselect: bool,
) -> Result<Loaded, AppError> {
    let mut row: Row = sqlx::query_as(&what.load_sql())
        .bind(what.id())
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
            open: what.open(),
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
    /// Issues only: also store time to first response and to resolution, wall-clock and in
    /// business minutes of the issue's SLA schedule (unset while the moment has not come):
    /// after the first response and on resolving.
    pub measure: bool,
}

/// Recomputes the due times, stores them and moves the timers. Call after every change that
/// can move a clock: create, status change, first response, re-prioritisation, reopen.
pub async fn refresh(
    tx: &mut TenantTx,
    tenant: &Slug,
    record: Clocked,
    now: DateTime<Utc>,
    what: Refresh,
) -> Result<(), AppError> {
    let Refresh { reselect, measure } = what;
    let loaded = load(tx, record, now, reselect).await?;
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
    if let Clocked::Request(id) = record {
        // The resolution due time is the request's due date.
        if moved {
            sqlx::query(
                "UPDATE service_requests SET sla_policy_id = $2, response_due_at = $3,
                    resolution_due_at = $4, due_date = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(policy)
            .bind(response)
            .bind(resolution)
            .execute(&mut **tx)
            .await?;
        }
    } else if moved || measure {
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
        .bind(record.id())
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
    schedule_timers(tx, tenant, record, &loaded).await
}

async fn schedule_timers(
    tx: &mut TenantTx,
    tenant: &Slug,
    record: Clocked,
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
            let timer = Timer::new(record, metric);
            (timer, next)
        })
        .collect();
    jobs::set_keyed(tx, tenant, &plan).await?;
    Ok(())
}

/// A record's SLA timer for one metric: one per (record, metric), moved as its clock moves.
/// (An issue's timer names only `issue_id`: the payload keeps the shape queued timers have.)
#[derive(serde::Serialize, serde::Deserialize)]
struct Timer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issue_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request_id: Option<Uuid>,
    metric: String,
}

impl Timer {
    fn new(record: Clocked, metric: &str) -> Self {
        let (issue_id, request_id) = match record {
            Clocked::Issue(id) => (Some(id), None),
            Clocked::Request(id) => (None, Some(id)),
        };
        Timer {
            issue_id,
            request_id,
            metric: metric.to_string(),
        }
    }

    fn record(&self) -> Option<Clocked> {
        match (self.issue_id, self.request_id) {
            (Some(id), _) => Some(Clocked::Issue(id)),
            (None, Some(id)) => Some(Clocked::Request(id)),
            (None, None) => None,
        }
    }
}

impl jobs::Job for Timer {
    const TASK: &'static str = TASK;
    const MAX_ATTEMPTS: i32 = 20;

    fn key(&self) -> Option<String> {
        self.record().map(|r| match r {
            Clocked::Issue(id) => format!("sla:{id}:{}", self.metric),
            Clocked::Request(id) => format!("sla:request:{id}:{}", self.metric),
        })
    }
}

/// The timer: at the warning threshold emits `<entity>.sla_warning`, at the due time marks the
/// breach and emits `<entity>.sla_breached` — each once — then sets the next timer.
pub async fn check_job(mut ctx: JobCtx) -> (JobCtx, JobResult) {
    let result = match ctx.job::<Timer>() {
        Ok(timer) => check(&mut ctx, timer).await.map_err(jobs::JobError::from),
        Err(bad) => Err(bad),
    };
    (ctx, result)
}

async fn check(ctx: &mut JobCtx, timer: Timer) -> anyhow::Result<()> {
    let (Some(tenant), Some(record)) = (ctx.tenant.clone(), timer.record()) else {
        return Ok(());
    };
    // Only these two names ever reach the SQL below.
    let metric = match timer.metric.as_str() {
        "response" => "response",
        _ => "resolution",
    };
    let now = ctx.clock.now();
    let loaded = match load(&mut ctx.tx, record, now, false).await {
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
    let (table, entity) = (record.table(), record.entity());
    let event = if running && breached.is_none() && clock.due_at.is_some_and(|d| now >= d) {
        let sql = format!(
            "UPDATE {table} SET {metric}_breached_at = $2, {metric}_warned_at = COALESCE({metric}_warned_at, $2),
                sla_breached = true,
                sla_breach_type = CASE WHEN sla_breach_type IS NULL OR sla_breach_type = $3 THEN $3 ELSE 'both' END
             WHERE id = $1"
        );
        sqlx::query(&sql)
            .bind(record.id())
            .bind(now)
            .bind(metric)
            .execute(&mut **ctx.tx)
            .await?;
        Some("sla_breached")
    } else if running && warned.is_none() && clock.warn_at.is_some_and(|w| now >= w) {
        sqlx::query(&format!(
            "UPDATE {table} SET {metric}_warned_at = $2 WHERE id = $1"
        ))
        .bind(record.id())
        .bind(now)
        .execute(&mut **ctx.tx)
        .await?;
        Some("sla_warning")
    } else {
        None
    };
    if let Some(action) = event {
        let number: String = sqlx::query_scalar(&format!(
            "SELECT {} FROM {table} WHERE id = $1",
            record.number_column()
        ))
        .bind(record.id())
        .fetch_one(&mut **ctx.tx)
        .await?;
        let mut payload = json!({
            "metric": metric, "due_at": clock.due_at, "target_minutes": clock.target_minutes,
        });
        payload[format!("{entity}_id")] = json!(record.id());
        payload[record.number_column()] = json!(number);
        crate::platform::audit::record(
            &mut ctx.tx,
            &actor,
            action,
            entity,
            record.id(),
            json!({"metric": metric}),
        )
        .await?;
        let event = format!("{entity}.{action}");
        events::emit(
            &mut ctx.tx,
            &tenant,
            &actor,
            &event,
            entity,
            record.id(),
            payload,
        )
        .await?;
    }
    // The next timer (warning → breach), from the state just written.
    let loaded = load(&mut ctx.tx, record, now, false).await?;
    schedule_timers(&mut ctx.tx, &tenant, record, &loaded).await?;
    Ok(())
}
