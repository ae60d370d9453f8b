//! Reminders and timeouts of an approval step, as keyed jobs (`approval:<entity>:<id>:remind`
//! and `…:timeout`) counted in the tenant's default business hours. Opening the next step
//! moves them; settling the chain cancels them; a timer that fires for a step no longer
//! deciding does nothing.
//!
//! - Reminder: the approvers who have not decided hear of it again (with a fresh mail link).
//! - Timeout, `on_timeout: reject`: the record is rejected, saying nobody decided in time.
//! - Timeout, `on_timeout: escalate`: the step goes to the fallback approvers (the fulfilment
//!   group's manager, else the admins). If there is nobody, it keeps waiting: a timeout never
//!   approves.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use domain::approvals::{Chain, OnTimeout, Stage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::engine::{self, Context};
use crate::platform::approval::Settled;
use crate::platform::audit::{self, Actor};
use crate::platform::error::AppError;
use crate::platform::jobs::{self, JobCtx, JobResult};
use crate::platform::module::Manifest;
use crate::platform::tenancy::{Slug, TenantTx};
use crate::sla::engine as sla;

pub const TASK: &str = "approvals.timer";

#[derive(Serialize, Deserialize)]
struct StepTimer {
    entity_type: String,
    entity_id: Uuid,
    step: i32,
    /// remind or timeout.
    kind: String,
}

impl jobs::Job for StepTimer {
    const TASK: &'static str = TASK;

    fn key(&self) -> Option<String> {
        Some(format!(
            "approval:{}:{}:{}",
            self.entity_type, self.entity_id, self.kind
        ))
    }
}

/// `hours` business hours after `from` in the tenant's default business hours.
async fn after(
    tx: &mut TenantTx,
    from: DateTime<Utc>,
    hours: Option<u32>,
) -> Result<Option<DateTime<Utc>>, AppError> {
    let Some(h) = hours else {
        return Ok(None);
    };
    let all: sqlx::types::Json<Vec<sla::Hours>> =
        sqlx::query_scalar(&format!("SELECT {}", sla::HOURS_JSON))
            .fetch_one(&mut **tx)
            .await?;
    let schedule = sla::pick_schedule(&all.0, None);
    Ok(schedule.add(from, Duration::hours(i64::from(h))))
}

/// Sets the step's timers from its stage; `None` (the chain is settled) cancels them.
pub async fn schedule(
    tx: &mut TenantTx,
    tenant: &Slug,
    entity_type: &str,
    entity_id: Uuid,
    step: i32,
    stage: Option<&Stage>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let remind_at = after(tx, now, stage.and_then(|s| s.remind_after_hours)).await?;
    let timeout_at = after(tx, now, stage.and_then(|s| s.timeout_after_hours)).await?;
    let timer = |kind: &str| StepTimer {
        entity_type: entity_type.to_string(),
        entity_id,
        step,
        kind: kind.to_string(),
    };
    let plan = [(timer("remind"), remind_at), (timer("timeout"), timeout_at)];
    jobs::set_keyed(tx, tenant, &plan).await?;
    Ok(())
}

pub async fn job(manifest: Arc<Manifest>, mut ctx: JobCtx) -> (JobCtx, JobResult) {
    let result = match ctx.job::<StepTimer>() {
        Ok(t) => fire(&manifest, &mut ctx, t)
            .await
            .map_err(jobs::JobError::from),
        Err(bad) => Err(bad),
    };
    (ctx, result)
}

async fn fire(manifest: &Manifest, ctx: &mut JobCtx, t: StepTimer) -> anyhow::Result<()> {
    let Some(tenant) = ctx.tenant.clone() else {
        return Ok(());
    };
    let run: Option<(Value, Value, Option<i32>, String)> = sqlx::query_as(
        "SELECT chain, context, current_step, status FROM approval_runs
         WHERE entity_type = $1 AND entity_id = $2 FOR UPDATE",
    )
    .bind(&t.entity_type)
    .bind(t.entity_id)
    .fetch_optional(&mut **ctx.tx)
    .await?;
    let Some((chain, context, current, status)) = run else {
        return Ok(());
    };
    if status != "pending" || current != Some(t.step) {
        return Ok(());
    }
    let chain: Chain = serde_json::from_value(chain).unwrap_or_default();
    let Some(stage) = chain.stages.get(t.step as usize) else {
        return Ok(());
    };
    let subject = engine::subject(manifest, &t.entity_type)?;
    let actor = Actor::system("approvals");
    let now = ctx.clock.now();
    let tx: &mut TenantTx = &mut ctx.tx;
    if t.kind == "remind" {
        subject
            .remind(tx, &tenant, &actor, t.entity_id, t.step)
            .await?;
        return Ok(());
    }
    let hours = stage.timeout_after_hours.unwrap_or_default();
    match stage.on_timeout {
        OnTimeout::Reject => {
            let why = format!("Nobody decided within {hours} business hours.");
            sqlx::query(
                "WITH closed AS (UPDATE approvals SET status = 'closed'
                    WHERE entity_type = $1 AND entity_id = $2 AND status = 'pending')
                 UPDATE approval_runs SET status = 'rejected', current_step = NULL, updated_at = now()
                 WHERE entity_type = $1 AND entity_id = $2",
            )
            .bind(&t.entity_type)
            .bind(t.entity_id)
            .execute(&mut **tx)
            .await?;
            let detail = json!({"step_number": t.step + 1, "on_timeout": "reject", "reason": why});
            audit::record(tx, &actor, "timeout", &t.entity_type, t.entity_id, detail).await?;
            subject
                .settled(
                    tx,
                    &tenant,
                    &actor,
                    t.entity_id,
                    Settled::Rejected,
                    Some(&why),
                    now,
                )
                .await?;
        }
        OnTimeout::Escalate => {
            let ctx_values: Context = serde_json::from_value(context).unwrap_or_default();
            let people = engine::fallback(tx, &ctx_values).await?;
            let requester = ctx_values.requester.unwrap_or_default();
            let people: Vec<Uuid> = people.into_iter().filter(|p| *p != requester).collect();
            sqlx::query(
                "WITH closed AS (UPDATE approvals SET status = 'closed'
                    WHERE entity_type = $1 AND entity_id = $2 AND step_number = $3 AND status = 'pending'
                      AND NOT approver_id = ANY($4))
                 INSERT INTO approvals (entity_type, entity_id, step_number, approver_id)
                 SELECT $1, $2, $3, unnest($4::uuid[])
                 ON CONFLICT (entity_type, entity_id, step_number, approver_id) DO UPDATE SET status = 'pending'
                    WHERE approvals.status = 'closed'",
            )
            .bind(&t.entity_type)
            .bind(t.entity_id)
            .bind(t.step)
            .bind(&people)
            .execute(&mut **tx)
            .await?;
            let detail = json!({"step_number": t.step + 1, "on_timeout": "escalate", "to": people});
            audit::record(tx, &actor, "escalate", &t.entity_type, t.entity_id, detail).await?;
            subject
                .step_opened(tx, &tenant, &actor, t.entity_id, t.step)
                .await?;
        }
    }
    Ok(())
}
