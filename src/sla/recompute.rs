//! After a policy's targets or a business-hours schedule change, the open issues and requests
//! that depend on them get new due times and timers — in the background, a batch per job run,
//! so saving the configuration stays fast however many are open.

use uuid::Uuid;

use super::timers::{self, Clocked};
use crate::platform::error::AppError;
use crate::platform::jobs::{self, JobCtx, JobResult};
use crate::platform::tenancy::{Slug, TenantTx};

pub const TASK: &str = "sla.recompute";
const BATCH: i64 = 500;

#[derive(Clone, Copy)]
pub enum Scope {
    Policy(Uuid),
    BusinessHours(Uuid),
}

/// One batch of the re-computation: the open issues (then, with `requests`, the open
/// requests) after `after` (by id) that use the policy or the business hours. (Two optional
/// ids rather than an enum: the payload keeps the shape jobs already queued have.)
#[derive(serde::Serialize, serde::Deserialize)]
struct Recompute {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    policy_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    business_hours_id: Option<Uuid>,
    after: Option<Uuid>,
    #[serde(default)]
    requests: bool,
}

impl Recompute {
    fn new(scope: Scope, requests: bool, after: Option<Uuid>) -> Self {
        let (policy_id, business_hours_id) = match scope {
            Scope::Policy(id) => (Some(id), None),
            Scope::BusinessHours(id) => (None, Some(id)),
        };
        Recompute {
            policy_id,
            business_hours_id,
            after,
            requests,
        }
    }

    fn scope(&self) -> Option<Scope> {
        match (self.policy_id, self.business_hours_id) {
            (Some(p), _) => Some(Scope::Policy(p)),
            (None, Some(b)) => Some(Scope::BusinessHours(b)),
            (None, None) => None,
        }
    }
}

impl jobs::Job for Recompute {
    const TASK: &'static str = TASK;

    /// One per policy or schedule: a later change restarts it from the top.
    fn key(&self) -> Option<String> {
        self.scope().map(|scope| match scope {
            Scope::Policy(id) => format!("{TASK}:policy:{id}"),
            Scope::BusinessHours(id) => format!("{TASK}:hours:{id}"),
        })
    }
}

/// Queues the re-computation (a later change to the same policy restarts it from the top).
pub async fn enqueue(tx: &mut TenantTx, tenant: &Slug, scope: Scope) -> Result<(), AppError> {
    let job = Recompute::new(scope, false, None);
    jobs::push(tx, Some(tenant), &job, None).await?;
    Ok(())
}

pub async fn job(mut ctx: JobCtx) -> (JobCtx, JobResult) {
    let result = match ctx.job::<Recompute>() {
        Ok(job) => run(&mut ctx, job).await.map_err(jobs::JobError::from),
        Err(bad) => Err(bad),
    };
    (ctx, result)
}

async fn run(ctx: &mut JobCtx, job: Recompute) -> anyhow::Result<()> {
    let (Some(tenant), Some(scope)) = (ctx.tenant.clone(), job.scope()) else {
        return Ok(());
    };
    let after = job.after;
    // Records whose clocks use the changed policy, or a policy on the changed hours (policies
    // without their own hours use the default ones).
    let (filter, target) = match &scope {
        Scope::Policy(p) => ("x.sla_policy_id = $1", *p),
        Scope::BusinessHours(b) => (
            "p.business_hours_id = $1 OR (p.business_hours_id IS NULL
                 AND EXISTS (SELECT 1 FROM business_hours d WHERE d.id = $1 AND d.is_default))",
            *b,
        ),
    };
    let (from, open) = match job.requests {
        false => (
            "issues",
            "x.status NOT IN ('resolved', 'closed') AND x.deleted_at IS NULL",
        ),
        true => (
            "service_requests",
            "x.status NOT IN ('completed', 'rejected', 'cancelled')",
        ),
    };
    let sql = format!(
        "SELECT x.id FROM {from} x JOIN sla_policies p ON p.id = x.sla_policy_id
         WHERE ({filter}) AND {open} AND ($2::uuid IS NULL OR x.id > $2)
         ORDER BY x.id LIMIT $3"
    );
    let ids: Vec<Uuid> = sqlx::query_scalar(&sql)
        .bind(target)
        .bind(after)
        .bind(BATCH)
        .fetch_all(&mut **ctx.tx)
        .await?;
    let now = ctx.clock.now();
    for id in &ids {
        let record = match job.requests {
            false => Clocked::Issue(*id),
            true => Clocked::Request(*id),
        };
        timers::refresh(
            &mut ctx.tx,
            &tenant,
            record,
            now,
            timers::Refresh::default(),
        )
        .await?;
    }
    // The next batch of the same kind, else the requests after the issues.
    let next = match (ids.len() as i64 == BATCH, job.requests) {
        (true, requests) => Some(Recompute::new(scope, requests, ids.last().copied())),
        (false, false) => Some(Recompute::new(scope, true, None)),
        (false, true) => None,
    };
    if let Some(next) = next {
        jobs::push(&mut ctx.tx, Some(&tenant), &next, None).await?;
    }
    Ok(())
}
