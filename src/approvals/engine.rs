//! The approvals engine: starts a record's chain, opens each step's rows for the people who may
//! decide, records decisions (a delegate acts on behalf of an approver) and moves the chain on.
//! The tallies are `domain::approvals`; the record's own area is told the verdict through its
//! `Subject` (see `platform::approval`).

use chrono::{DateTime, NaiveDate, Utc};
use domain::approvals::{self as rules, Approver, Chain, Decision, Outcome, Stage};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::platform::approval::Settled;
use crate::platform::audit::{self, Actor};
use crate::platform::error::AppError;
use crate::platform::module::Manifest;
use crate::platform::tenancy::{Slug, TenantTx};

/// What later steps resolve their approvers from.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Context {
    pub requester: Option<Uuid>,
    /// The person it is for (whose manager a manager step asks).
    pub subject_person: Option<Uuid>,
    /// Whose manager decides when a step resolves to nobody.
    pub fallback_group: Option<Uuid>,
    /// The answers of the form, for application owner steps.
    #[serde(default)]
    pub values: Map<String, Value>,
}

/// Starts the chain for a record. An empty chain approves at once.
pub async fn start(
    tx: &mut TenantTx,
    tenant: &Slug,
    entity_type: &str,
    entity_id: Uuid,
    chain: &Chain,
    ctx: &Context,
    now: DateTime<Utc>,
) -> Result<Outcome, AppError> {
    if chain.stages.is_empty() {
        return Ok(Outcome::Approved);
    }
    sqlx::query(
        "INSERT INTO approval_runs (entity_type, entity_id, chain, context, requester_id, current_step, status)
         VALUES ($1, $2, $3, $4, $5, 0, 'pending')
         ON CONFLICT (entity_type, entity_id) DO UPDATE SET chain = EXCLUDED.chain, context = EXCLUDED.context,
            requester_id = EXCLUDED.requester_id, current_step = 0, status = 'pending', updated_at = now()",
    )
    .bind(entity_type)
    .bind(entity_id)
    .bind(serde_json::to_value(chain).unwrap_or_default())
    .bind(serde_json::to_value(ctx).unwrap_or_default())
    .bind(ctx.requester)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM approvals WHERE entity_type = $1 AND entity_id = $2")
        .bind(entity_type)
        .bind(entity_id)
        .execute(&mut **tx)
        .await?;
    open_step(tx, entity_type, entity_id, &chain.stages[0], 0, ctx).await?;
    super::timers::schedule(
        tx,
        tenant,
        entity_type,
        entity_id,
        0,
        Some(&chain.stages[0]),
        now,
    )
    .await?;
    Ok(Outcome::Pending)
}

/// Stops a pending chain (the record was cancelled); open rows close.
pub async fn cancel(tx: &mut TenantTx, entity_type: &str, entity_id: Uuid) -> Result<(), AppError> {
    sqlx::query(
        "WITH run AS (UPDATE approval_runs SET status = 'cancelled', current_step = NULL, updated_at = now()
            WHERE entity_type = $1 AND entity_id = $2 AND status = 'pending')
         UPDATE approvals SET status = 'closed' WHERE entity_type = $1 AND entity_id = $2 AND status = 'pending'",
    )
    .bind(entity_type)
    .bind(entity_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The active users a stage names.
async fn resolve(tx: &mut TenantTx, stage: &Stage, ctx: &Context) -> Result<Vec<Uuid>, AppError> {
    let mut out = Vec::new();
    for a in &stage.approvers {
        let found: Vec<Uuid> = match a {
            Approver::User { id } => {
                sqlx::query_scalar("SELECT id FROM users WHERE id = $1 AND status = 'active'")
                    .bind(id)
                    .fetch_all(&mut **tx)
                    .await?
            }
            Approver::Group { id } => {
                sqlx::query_scalar(
                    "SELECT u.id FROM group_members gm JOIN users u ON u.id = gm.user_id
                     WHERE gm.group_id = $1 AND u.status = 'active'",
                )
                .bind(id)
                .fetch_all(&mut **tx)
                .await?
            }
            // The person's own manager, else the manager of their first group.
            Approver::Manager => {
                sqlx::query_scalar(
                    "SELECT m.id FROM users m WHERE m.status = 'active' AND m.id = COALESCE(
                        (SELECT manager_id FROM users WHERE id = $1),
                        (SELECT g.manager_id FROM group_members gm JOIN groups g ON g.id = gm.group_id
                         WHERE gm.user_id = $1 AND g.manager_id IS NOT NULL ORDER BY gm.joined_at, g.name LIMIT 1))",
                )
                .bind(ctx.subject_person.or(ctx.requester))
                .fetch_all(&mut **tx)
                .await?
            }
            Approver::Role { name } => {
                sqlx::query_scalar(
                    "SELECT u.id FROM user_roles ur JOIN roles r ON r.id = ur.role_id JOIN users u ON u.id = ur.user_id
                     WHERE r.name = $1 AND u.status = 'active'",
                )
                .bind(name)
                .fetch_all(&mut **tx)
                .await?
            }
            Approver::ApplicationOwner { field } => {
                let app = ctx
                    .values
                    .get(field)
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<Uuid>().ok());
                sqlx::query_scalar(
                    "SELECT u.id FROM applications a JOIN users u ON u.id = a.owner_user_id
                     WHERE a.id = $1 AND u.status = 'active'",
                )
                .bind(app)
                .fetch_all(&mut **tx)
                .await?
            }
        };
        out.extend(found);
    }
    Ok(out)
}

/// Who decides when a stage names nobody: the fallback group's manager, else tenant admins.
pub(super) async fn fallback(tx: &mut TenantTx, ctx: &Context) -> Result<Vec<Uuid>, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT u.id FROM groups g JOIN users u ON u.id = g.manager_id WHERE g.id = $1 AND u.status = 'active'
         UNION
         SELECT u.id FROM user_roles ur JOIN roles r ON r.id = ur.role_id JOIN users u ON u.id = ur.user_id
         WHERE r.name = 'admin' AND u.status = 'active'
           AND NOT EXISTS (SELECT 1 FROM groups g JOIN users m ON m.id = g.manager_id
                           WHERE g.id = $1 AND m.status = 'active')",
    )
    .bind(ctx.fallback_group)
    .fetch_all(&mut **tx)
    .await?)
}

async fn open_step(
    tx: &mut TenantTx,
    entity_type: &str,
    entity_id: Uuid,
    stage: &Stage,
    step: i32,
    ctx: &Context,
) -> Result<(), AppError> {
    let own = resolve(tx, stage, ctx).await?;
    let requester = ctx.requester.unwrap_or_default();
    let mut people = rules::deciders(&own, &[], requester);
    if people.is_empty() {
        people = rules::deciders(&[], &fallback(tx, ctx).await?, requester);
    }
    // Nobody at all: the step stays open with no rows, visible on the record as "waiting for
    // an approver"; it never approves by itself.
    sqlx::query(
        "INSERT INTO approvals (entity_type, entity_id, step_number, approver_id)
         SELECT $1, $2, $3, unnest($4::uuid[]) ON CONFLICT DO NOTHING",
    )
    .bind(entity_type)
    .bind(entity_id)
    .bind(step)
    .bind(&people)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Approval {
    pub id: Uuid,
    pub entity_type: String,
    pub entity_id: Uuid,
    /// 1-based in the API and on pages.
    pub step_number: i32,
    pub approver_id: Uuid,
    pub approver_name: String,
    /// pending, approved, rejected, or closed (the step was decided without them).
    pub status: String,
    /// Set when a delegate decided on the approver's behalf.
    pub decided_by: Option<Uuid>,
    pub decided_by_name: Option<String>,
    pub decision_at: Option<DateTime<Utc>>,
    pub comments: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Approval {
    /// A delegate decided for the approver.
    pub fn on_behalf(&self) -> bool {
        self.decided_by.is_some_and(|d| d != self.approver_id)
    }
}

const APPROVAL: &str = "SELECT a.id, a.entity_type, a.entity_id, a.step_number + 1 AS step_number, a.approver_id,
    u.name AS approver_name, a.status, a.decided_by, d.name AS decided_by_name, a.decision_at, a.comments, a.created_at
    FROM approvals a JOIN users u ON u.id = a.approver_id LEFT JOIN users d ON d.id = a.decided_by";

/// The chain of a record as stored, with where it stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChainState {
    /// pending, approved, rejected or cancelled; `none` when the record needed no approval.
    pub status: String,
    /// The step deciding now (1-based).
    pub current_step: Option<i32>,
    pub steps: Vec<StepState>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StepState {
    pub step_number: i32,
    pub name: Option<String>,
    /// "All 2 approvers must approve".
    pub rule: String,
    pub approvals: Vec<Approval>,
}

pub async fn chain_state(
    tx: &mut TenantTx,
    entity_type: &str,
    entity_id: Uuid,
) -> Result<ChainState, AppError> {
    let run: Option<(Value, Option<i32>, String)> = sqlx::query_as(
        "SELECT chain, current_step, status FROM approval_runs WHERE entity_type = $1 AND entity_id = $2",
    )
    .bind(entity_type)
    .bind(entity_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((chain, current, status)) = run else {
        return Ok(ChainState {
            status: "none".into(),
            current_step: None,
            steps: Vec::new(),
        });
    };
    let chain: Chain = serde_json::from_value(chain).unwrap_or_default();
    let rows: Vec<Approval> = sqlx::query_as(&format!(
        "{APPROVAL} WHERE a.entity_type = $1 AND a.entity_id = $2 ORDER BY a.step_number, u.name"
    ))
    .bind(entity_type)
    .bind(entity_id)
    .fetch_all(&mut **tx)
    .await?;
    let steps = chain
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let approvals: Vec<Approval> = rows
                .iter()
                .filter(|r| r.step_number == i as i32 + 1)
                .cloned()
                .collect();
            let n = approvals.len();
            StepState {
                step_number: i as i32 + 1,
                name: s.name.clone(),
                rule: if n == 0 && current.is_some_and(|c| c as usize <= i) {
                    "Not started".into()
                } else {
                    s.rule.describe(n)
                },
                approvals,
            }
        })
        .collect();
    Ok(ChainState {
        status,
        current_step: current.map(|c| c + 1),
        steps,
    })
}

/// An approval the caller may decide (as the approver, or as their delegate today).
pub async fn decidable(
    tx: &mut TenantTx,
    id: Uuid,
    user: Uuid,
    today: NaiveDate,
) -> Result<Approval, AppError> {
    sqlx::query_as(&format!(
        "{APPROVAL} WHERE a.id = $1 AND (a.approver_id = $2 OR EXISTS (
            SELECT 1 FROM approval_delegations dl WHERE dl.user_id = a.approver_id AND dl.delegate_id = $2
              AND $3 BETWEEN dl.starts_on AND dl.ends_on))"
    ))
    .bind(id)
    .bind(user)
    .bind(today)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)
}

/// The caller's pending approval on a record, if any (for `POST /requests/{id}/approve`).
pub async fn pending_for(
    tx: &mut TenantTx,
    entity_type: &str,
    entity_id: Uuid,
    user: Uuid,
    today: NaiveDate,
) -> Result<Option<Uuid>, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT a.id FROM approvals a JOIN approval_runs r USING (entity_type, entity_id)
         WHERE a.entity_type = $1 AND a.entity_id = $2 AND a.status = 'pending' AND r.status = 'pending'
           AND a.step_number = r.current_step
           AND (a.approver_id = $3 OR EXISTS (SELECT 1 FROM approval_delegations dl WHERE dl.user_id = a.approver_id
                AND dl.delegate_id = $3 AND $4 BETWEEN dl.starts_on AND dl.ends_on))
         ORDER BY (a.approver_id = $3) DESC LIMIT 1",
    )
    .bind(entity_type)
    .bind(entity_id)
    .bind(user)
    .bind(today)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Records a decision and moves the chain on; the record's area hears the verdict.
#[expect(clippy::too_many_arguments, reason = "who decides what, where and why")]
pub async fn decide(
    tx: &mut TenantTx,
    manifest: &Manifest,
    tenant: &Slug,
    actor: &Actor,
    id: Uuid,
    decision: Decision,
    comment: Option<&str>,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Approval, AppError> {
    let user = actor.user_id.ok_or(AppError::Forbidden)?;
    let row = decidable(tx, id, user, today).await?;
    let run: (Value, Value, Option<i32>, String, Option<Uuid>) = sqlx::query_as(
        "SELECT chain, context, current_step, status, requester_id FROM approval_runs
         WHERE entity_type = $1 AND entity_id = $2 FOR UPDATE",
    )
    .bind(&row.entity_type)
    .bind(row.entity_id)
    .fetch_one(&mut **tx)
    .await?;
    let (chain, ctx, current, status, requester) = run;
    if row.status != "pending" || status != "pending" || current != Some(row.step_number - 1) {
        return Err(AppError::Conflict {
            message: "This approval is already decided.".into(),
            details: json!({"status": row.status}),
        });
    }
    if requester == Some(user) {
        return Err(AppError::Conflict {
            message: "You cannot decide on your own request.".into(),
            details: Value::Null,
        });
    }
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    if comment.is_some_and(|c| c.chars().count() > 5000) {
        return Err(AppError::field(
            "comments",
            "must be at most 5000 characters",
        ));
    }
    if decision == Decision::Rejected && comment.is_none() {
        return Err(AppError::field(
            "comments",
            "Say why you reject it: the requester reads this.",
        ));
    }
    let word = match decision {
        Decision::Approved => "approved",
        Decision::Rejected => "rejected",
    };
    let on_behalf = (row.approver_id != user).then_some(user);
    sqlx::query(
        "UPDATE approvals SET status = $2, decided_by = $3, decision_at = now(), comments = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(word)
    .bind(on_behalf.unwrap_or(user))
    .bind(comment)
    .execute(&mut **tx)
    .await?;
    let chain: Chain = serde_json::from_value(chain).unwrap_or_default();
    let ctx: Context = serde_json::from_value(ctx).unwrap_or_default();
    let step = row.step_number - 1;
    let decisions: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT approver_id, status FROM approvals WHERE entity_type = $1 AND entity_id = $2 AND step_number = $3
           AND status <> 'closed'",
    )
    .bind(&row.entity_type)
    .bind(row.entity_id)
    .bind(step)
    .fetch_all(&mut **tx)
    .await?;
    let deciders: Vec<Uuid> = decisions.iter().map(|(u, _)| *u).collect();
    let tally: Vec<(Uuid, Decision)> = decisions
        .iter()
        .filter_map(|(u, s)| match s.as_str() {
            "approved" => Some((*u, Decision::Approved)),
            "rejected" => Some((*u, Decision::Rejected)),
            _ => None,
        })
        .collect();
    let stage = chain
        .stages
        .get(step as usize)
        .ok_or_else(|| anyhow::anyhow!("approval step {step} is not in its chain"))?;
    let outcome = rules::stage_outcome(stage, &deciders, &tally);
    let verdict = match outcome {
        Outcome::Pending => None,
        Outcome::Rejected => Some(Settled::Rejected),
        Outcome::Approved if (step as usize + 1) < chain.stages.len() => {
            close_step(tx, &row, step).await?;
            let next = step + 1;
            sqlx::query(
                "UPDATE approval_runs SET current_step = $3, updated_at = now() WHERE entity_type = $1 AND entity_id = $2",
            )
            .bind(&row.entity_type)
            .bind(row.entity_id)
            .bind(next)
            .execute(&mut **tx)
            .await?;
            open_step(
                tx,
                &row.entity_type,
                row.entity_id,
                &chain.stages[next as usize],
                next,
                &ctx,
            )
            .await?;
            let stage = &chain.stages[next as usize];
            super::timers::schedule(
                tx,
                tenant,
                &row.entity_type,
                row.entity_id,
                next,
                Some(stage),
                now,
            )
            .await?;
            subject(manifest, &row.entity_type)?
                .step_opened(tx, tenant, actor, row.entity_id, next)
                .await?;
            None
        }
        Outcome::Approved => Some(Settled::Approved),
    };
    if let Some(v) = verdict {
        close_step(tx, &row, step).await?;
        super::timers::schedule(tx, tenant, &row.entity_type, row.entity_id, step, None, now)
            .await?;
        let status = if v == Settled::Approved {
            "approved"
        } else {
            "rejected"
        };
        sqlx::query(
            "UPDATE approval_runs SET status = $3, current_step = NULL, updated_at = now()
             WHERE entity_type = $1 AND entity_id = $2",
        )
        .bind(&row.entity_type)
        .bind(row.entity_id)
        .bind(status)
        .execute(&mut **tx)
        .await?;
    }
    let detail = json!({"approval_id": id, "step_number": row.step_number, "decision": word,
        "on_behalf_of": on_behalf.map(|_| row.approver_id), "comments": comment});
    audit::record(tx, actor, word, &row.entity_type, row.entity_id, detail).await?;
    if let Some(v) = verdict {
        subject(manifest, &row.entity_type)?
            .settled(tx, tenant, actor, row.entity_id, v, comment, now)
            .await?;
    }
    decidable(tx, id, user, today).await
}

pub(super) fn subject(
    manifest: &Manifest,
    entity_type: &str,
) -> Result<&'static dyn crate::platform::approval::Subject, AppError> {
    manifest
        .approval_subject(entity_type)
        .ok_or_else(|| anyhow::anyhow!("no area owns approvals of {entity_type}").into())
}

async fn close_step(tx: &mut TenantTx, row: &Approval, step: i32) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE approvals SET status = 'closed' WHERE entity_type = $1 AND entity_id = $2 AND step_number = $3 AND status = 'pending'",
    )
    .bind(&row.entity_type)
    .bind(row.entity_id)
    .bind(step)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The caller's approvals (their own, and those they may decide as a delegate today).
pub async fn inbox(
    tx: &mut TenantTx,
    user: Uuid,
    status: Option<&str>,
    today: NaiveDate,
) -> Result<Vec<Approval>, AppError> {
    Ok(sqlx::query_as(&format!(
        "{APPROVAL} JOIN approval_runs r ON r.entity_type = a.entity_type AND r.entity_id = a.entity_id
         WHERE (a.approver_id = $1 OR EXISTS (SELECT 1 FROM approval_delegations dl WHERE dl.user_id = a.approver_id
                AND dl.delegate_id = $1 AND $3 BETWEEN dl.starts_on AND dl.ends_on))
           AND ($2::text IS NULL OR a.status = $2)
           AND ($2::text IS DISTINCT FROM 'pending' OR (r.status = 'pending' AND r.current_step = a.step_number))
         ORDER BY a.created_at DESC LIMIT 200"
    ))
    .bind(user)
    .bind(status)
    .bind(today)
    .fetch_all(&mut **tx)
    .await?)
}
