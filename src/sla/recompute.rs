//! After a policy's targets or a business-hours schedule change, the open issues that depend on
//! them get new due times and timers — in the background, a batch per job run, so saving the
//! configuration stays fast however many issues are open.

use serde_json::{Value, json};
use uuid::Uuid;

use super::timers;
use crate::platform::error::AppError;
use crate::platform::jobs::{self, JobCtx, JobOptions, JobResult};
use crate::platform::tenancy::{Slug, TenantTx};

pub const TASK: &str = "sla.recompute";
const BATCH: i64 = 500;

pub enum Scope {
    Policy(Uuid),
    BusinessHours(Uuid),
}

fn payload(scope: &Scope, after: Option<Uuid>) -> (String, Value) {
    match scope {
        Scope::Policy(id) => (
            format!("{TASK}:policy:{id}"),
            json!({"policy_id": id, "after": after}),
        ),
        Scope::BusinessHours(id) => (
            format!("{TASK}:hours:{id}"),
            json!({"business_hours_id": id, "after": after}),
        ),
    }
}

/// Queues the re-computation (a later change to the same policy restarts it from the top).
pub async fn enqueue(tx: &mut TenantTx, tenant: &Slug, scope: Scope) -> Result<(), AppError> {
    let (key, payload) = payload(&scope, None);
    jobs::enqueue(
        tx,
        Some(tenant),
        TASK,
        payload,
        JobOptions {
            key: Some(key),
            ..Default::default()
        },
    )
    .await?;
    Ok(())
}

pub async fn job(mut ctx: JobCtx) -> (JobCtx, JobResult) {
    let result = run(&mut ctx).await.map_err(jobs::JobError::from);
    (ctx, result)
}

async fn run(ctx: &mut JobCtx) -> anyhow::Result<()> {
    let Some(tenant) = ctx.tenant.clone() else {
        return Ok(());
    };
    let id = |k: &str| serde_json::from_value::<Option<Uuid>>(ctx.payload[k].clone());
    let after = id("after")?;
    let scope = match (id("policy_id")?, id("business_hours_id")?) {
        (Some(p), _) => Scope::Policy(p),
        (None, Some(b)) => Scope::BusinessHours(b),
        (None, None) => return Ok(()),
    };
    // Issues whose clocks use the changed policy, or a policy on the changed hours (policies
    // without their own hours use the default ones).
    let (filter, target) = match &scope {
        Scope::Policy(p) => ("i.sla_policy_id = $1", *p),
        Scope::BusinessHours(b) => (
            "p.business_hours_id = $1 OR (p.business_hours_id IS NULL
                 AND EXISTS (SELECT 1 FROM business_hours d WHERE d.id = $1 AND d.is_default))",
            *b,
        ),
    };
    let sql = format!(
        "SELECT i.id FROM issues i JOIN sla_policies p ON p.id = i.sla_policy_id
         WHERE ({filter}) AND i.status NOT IN ('resolved', 'closed') AND i.deleted_at IS NULL
           AND ($2::uuid IS NULL OR i.id > $2)
         ORDER BY i.id LIMIT $3"
    );
    let ids: Vec<Uuid> = sqlx::query_scalar(&sql)
        .bind(target)
        .bind(after)
        .bind(BATCH)
        .fetch_all(&mut **ctx.tx)
        .await?;
    let now = ctx.clock.now();
    for issue in &ids {
        timers::refresh(
            &mut ctx.tx,
            &tenant,
            *issue,
            now,
            timers::Refresh::default(),
        )
        .await?;
    }
    if ids.len() as i64 == BATCH {
        let (key, payload) = payload(&scope, ids.last().copied());
        jobs::enqueue(
            &mut ctx.tx,
            Some(&tenant),
            TASK,
            payload,
            JobOptions {
                key: Some(key),
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(())
}
