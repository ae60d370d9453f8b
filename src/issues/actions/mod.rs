//! Issue changes — create, edit, the lifecycle actions, delete — with validation, status
//! history, audit row, webhook event and SLA refresh in the caller's transaction. Shared by the
//! API and the pages.

use chrono::{DateTime, Utc};
use domain::issues::{self as rules, Action};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::store::{self, Issue, Scope};
use crate::platform::audit::{self, Actor, diff};
use crate::platform::auth::Principal;
use crate::platform::error::AppError;
use crate::platform::events;
use crate::platform::listing::Problems;
use crate::platform::tenancy::{Slug, TenantTx, exists};
use crate::sla::timers::{self, Clocked};

/// Everything an issue action needs: who acts (and what they may see), where, and when.
pub struct Acting<'a> {
    pub tx: &'a mut TenantTx,
    pub principal: &'a Principal,
    pub actor: Actor,
    pub scope: Scope,
    pub now: DateTime<Utc>,
}

impl<'a> Acting<'a> {
    /// After the caller's permission check: who acts, with the scope they see.
    pub async fn open(
        tx: &'a mut TenantTx,
        principal: &'a Principal,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Acting<'a>, AppError> {
        let scope = Scope::of(tx, principal).await?;
        Ok(Acting {
            tx,
            principal,
            actor,
            scope,
            now,
        })
    }

    fn tenant(&self) -> &Slug {
        &self.principal.slug
    }
}

/// Distinguishes `"field": null` (clear it) from a missing field (leave it).
fn some<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIssue {
    pub title: String,
    /// Markdown.
    pub description: Option<String>,
    /// critical, high, medium or low; when left out it comes from impact × urgency (else medium).
    pub priority: Option<String>,
    /// widespread, significant, moderate or minor.
    pub impact: Option<String>,
    /// immediate, high, medium or low.
    pub urgency: Option<String>,
    /// S1–S4.
    pub severity: Option<String>,
    pub category_id: Option<Uuid>,
    /// issue (default), problem or question.
    pub issue_type: Option<String>,
    /// portal, email, phone, monitoring or api (default: api for /v1, portal for the pages).
    pub source: Option<String>,
    pub application_id: Option<Uuid>,
    pub environment_id: Option<Uuid>,
    pub assigned_to: Option<Uuid>,
    pub assigned_group: Option<Uuid>,
    pub parent_issue_id: Option<Uuid>,
    /// Agents may raise an issue on someone's behalf; others always report as themselves.
    pub reporter_id: Option<Uuid>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub external_refs: Option<Value>,
}

/// Fields to change; fields left out stay as they are, `null` clears an optional one.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueChanges {
    pub title: Option<String>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub priority: Option<String>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<String>)]
    pub impact: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<String>)]
    pub urgency: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<String>)]
    pub severity: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<Uuid>)]
    pub category_id: Option<Option<Uuid>>,
    pub issue_type: Option<String>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<Uuid>)]
    pub application_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<Uuid>)]
    pub environment_id: Option<Option<Uuid>>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub external_refs: Option<Value>,
    /// in_progress or pending (the other statuses have their own actions).
    pub status: Option<String>,
    /// Why (kept in the status history when the status changes).
    pub reason: Option<String>,
}

/// `Problems::one_of` for an optional value.
fn one_of(p: &mut Problems, field: &str, value: Option<&str>, allowed: &[&str]) {
    if let Some(v) = value {
        p.one_of(field, v, allowed);
    }
}

const USER_ACTIVE: &str = "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND status = 'active')";
const GROUP: &str = "SELECT EXISTS (SELECT 1 FROM groups WHERE id = $1)";
const CATEGORY: &str =
    "SELECT EXISTS (SELECT 1 FROM issue_categories WHERE id = $1 AND COALESCE(is_active, true))";
const APPLICATION: &str = "SELECT EXISTS (SELECT 1 FROM applications WHERE id = $1)";

fn check_refs(p: &mut Problems, refs: Option<&Value>) {
    match refs {
        None | Some(Value::Null) => {}
        Some(Value::Array(items))
            if items.len() <= 20
                && items.iter().all(|r| {
                    r.as_object()
                        .is_some_and(|o| o.values().all(Value::is_string) && o.contains_key("id"))
                }) => {}
        Some(_) => p.add(
            "external_refs",
            "must be a list (at most 20) of objects of text values with an \"id\"",
        ),
    }
}

async fn check_environment(
    tx: &mut TenantTx,
    p: &mut Problems,
    app: Option<Uuid>,
    env: Option<Uuid>,
) -> Result<(), AppError> {
    if let Some(env) = env {
        let owner: Option<Uuid> =
            sqlx::query_scalar("SELECT application_id FROM environments WHERE id = $1")
                .bind(env)
                .fetch_optional(&mut **tx)
                .await?
                .flatten();
        match (owner, app) {
            (None, _) => p.add("environment_id", "no such environment"),
            (Some(_), None) => p.add("environment_id", "pick the application first"),
            (Some(o), Some(a)) if o != a => p.add(
                "environment_id",
                "is not an environment of that application",
            ),
            _ => {}
        }
    }
    Ok(())
}

/// The matrix's priority for impact × urgency.
pub async fn matrix_priority(
    tx: &mut TenantTx,
    impact: &str,
    urgency: &str,
) -> Result<Option<String>, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT priority FROM priority_matrix WHERE impact = $1 AND urgency = $2",
    )
    .bind(impact)
    .bind(urgency)
    .fetch_optional(&mut **tx)
    .await?)
}

async fn history(
    a: &mut Acting<'_>,
    issue: Uuid,
    from: Option<&str>,
    to: &str,
    reason: Option<&str>,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO issue_status_history (issue_id, from_status, to_status, changed_by, reason, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(issue)
    .bind(from)
    .bind(to)
    .bind(a.actor.user_id)
    .bind(reason.map(str::trim).filter(|r| !r.is_empty()))
    .bind(a.now)
    .execute(&mut **a.tx)
    .await?;
    Ok(())
}

/// Audit row + event for a change from `before` to the stored state; returns the stored state.
async fn finish(
    a: &mut Acting<'_>,
    id: Uuid,
    before: Option<&Issue>,
    action: &str,
    event: &str,
    extra: Value,
) -> Result<Issue, AppError> {
    let after = store::get(a.tx, &Scope::All, id).await?;
    let changes = diff(before, Some(&after));
    let tenant = a.tenant().clone();
    let payload = json!({"issue": &after, "changes": &changes, "detail": extra});
    let audit = events::Audit { action, changes };
    events::record_and_emit(a.tx, &tenant, &a.actor, audit, event, "issue", id, payload).await?;
    Ok(after)
}

pub async fn create(
    a: &mut Acting<'_>,
    b: &NewIssue,
    default_source: &str,
) -> Result<Issue, AppError> {
    let mut p = Problems::default();
    let title = b.title.trim();
    if title.is_empty() {
        p.add("title", "is required");
    } else if title.chars().count() > 500 {
        p.add("title", "must be at most 500 characters");
    }
    if b.description.as_deref().is_some_and(|d| d.len() > 100_000) {
        p.add("description", "must be at most 100,000 characters");
    }
    one_of(&mut p, "priority", b.priority.as_deref(), rules::PRIORITIES);
    one_of(&mut p, "impact", b.impact.as_deref(), rules::IMPACTS);
    one_of(&mut p, "urgency", b.urgency.as_deref(), rules::URGENCIES);
    one_of(&mut p, "severity", b.severity.as_deref(), rules::SEVERITIES);
    one_of(&mut p, "issue_type", b.issue_type.as_deref(), rules::TYPES);
    one_of(&mut p, "source", b.source.as_deref(), rules::SOURCES);
    check_refs(&mut p, b.external_refs.as_ref());
    let agent = a.principal.can(crate::issues::perm::ISSUES_UPDATE);
    let assigning = b.assigned_to.is_some() || b.assigned_group.is_some();
    if assigning && !a.principal.can(crate::issues::perm::ISSUES_ASSIGN) {
        p.add("assigned_to", "you may not assign issues");
    }
    if b.reporter_id.is_some_and(|r| r != a.principal.user_id) && !agent {
        p.add("reporter_id", "you can only report issues as yourself");
    }
    // The desk sets the priority; requesters rate impact and urgency only where the tenant
    // lets them (issue settings, "What requesters are asked").
    if !agent {
        if b.priority.is_some() {
            p.add("priority", "is set by the service desk");
        }
        if (b.impact.is_some() || b.urgency.is_some())
            && !crate::issues::settings::form_settings(a.tx)
                .await?
                .requesters_rate_impact
        {
            for (field, given) in [("impact", &b.impact), ("urgency", &b.urgency)] {
                if given.is_some() {
                    p.add(field, "is set by the service desk in this organisation");
                }
            }
        }
    }
    // Every reference the form names, checked in one statement.
    let refs = [
        b.assigned_to,
        b.reporter_id,
        b.assigned_group,
        b.category_id,
        b.application_id,
    ];
    if refs.iter().any(Option::is_some) {
        let found: (bool, bool, bool, bool, bool) = sqlx::query_as(
            "SELECT $1::uuid IS NULL OR EXISTS (SELECT 1 FROM users WHERE id = $1 AND status = 'active'),
                    $2::uuid IS NULL OR EXISTS (SELECT 1 FROM users WHERE id = $2 AND status = 'active'),
                    $3::uuid IS NULL OR EXISTS (SELECT 1 FROM groups WHERE id = $3),
                    $4::uuid IS NULL OR EXISTS (SELECT 1 FROM issue_categories WHERE id = $4 AND COALESCE(is_active, true)),
                    $5::uuid IS NULL OR EXISTS (SELECT 1 FROM applications WHERE id = $5)",
        )
        .bind(refs[0])
        .bind(refs[1])
        .bind(refs[2])
        .bind(refs[3])
        .bind(refs[4])
        .fetch_one(&mut **a.tx)
        .await?;
        for (ok, field, msg) in [
            (found.0, "assigned_to", "no such active user"),
            (found.1, "reporter_id", "no such active user"),
            (found.2, "assigned_group", "no such group"),
            (found.3, "category_id", "no such category"),
            (found.4, "application_id", "no such application"),
        ] {
            if !ok {
                p.add(field, msg);
            }
        }
    }
    check_environment(a.tx, &mut p, b.application_id, b.environment_id).await?;
    if let Some(parent) = b.parent_issue_id
        && store::get(a.tx, &a.scope, parent).await.is_err()
    {
        p.add("parent_issue_id", "no such issue");
    }
    p.into_result()?;

    let (priority, explicit) = match (&b.priority, &b.impact, &b.urgency) {
        (Some(pr), _, _) => (pr.clone(), true),
        (None, Some(i), Some(u)) => (
            matrix_priority(a.tx, i, u)
                .await?
                .unwrap_or_else(|| "medium".into()),
            false,
        ),
        _ => ("medium".to_string(), false),
    };
    let status = match b.assigned_to.is_some() || b.assigned_group.is_some() {
        true => "assigned",
        false => "new",
    };
    let reporter = b.reporter_id.unwrap_or(a.principal.user_id);
    // Assigning a person at creation is the first response (see the SLA clock rules).
    let first_response = b.assigned_to.map(|_| a.now);
    // The issue and its first status-history row in one statement.
    let id: Uuid = sqlx::query_scalar(
        "WITH made AS (
            INSERT INTO issues (issue_number, title, description, status, priority, priority_explicit,
                severity, impact, urgency, category_id, issue_type, source, application_id, environment_id,
                reporter_id, assigned_to, assigned_group, parent_issue_id, external_refs, first_response_at,
                created_at, updated_at)
            VALUES (next_id('issue'), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                $16, $17, $18, $19, $20, $20)
            RETURNING id),
         logged AS (
            INSERT INTO issue_status_history (issue_id, from_status, to_status, changed_by, reason, created_at)
            SELECT id, NULL, $3, $21, 'created', $20 FROM made)
         SELECT id FROM made",
    )
    .bind(title)
    .bind(b.description.as_deref().filter(|d| !d.trim().is_empty()))
    .bind(status)
    .bind(&priority)
    .bind(explicit)
    .bind(&b.severity)
    .bind(&b.impact)
    .bind(&b.urgency)
    .bind(b.category_id)
    .bind(b.issue_type.as_deref().unwrap_or("issue"))
    .bind(b.source.as_deref().unwrap_or(default_source))
    .bind(b.application_id)
    .bind(b.environment_id)
    .bind(reporter)
    .bind(b.assigned_to)
    .bind(b.assigned_group)
    .bind(b.parent_issue_id)
    .bind(b.external_refs.clone().unwrap_or_else(|| json!([])))
    .bind(first_response)
    .bind(a.now)
    .bind(a.actor.user_id)
    .fetch_one(&mut **a.tx)
    .await?;
    let tenant = a.tenant().clone();
    let measure = first_response.is_some();
    let what = timers::Refresh {
        reselect: true,
        measure,
    };
    timers::refresh(a.tx, &tenant, Clocked::Issue(id), a.now, what).await?;
    let issue = finish(a, id, None, "create", "issue.created", Value::Null).await?;
    if assigning {
        let tenant = a.tenant().clone();
        events::emit(
            a.tx,
            &tenant,
            &a.actor,
            "issue.assigned",
            "issue",
            id,
            json!({"issue": &issue}),
        )
        .await?;
    }
    Ok(issue)
}

/// Edits fields (and moves between in_progress/pending). Changing priority, category,
/// application or type re-selects the SLA policy and moves the due times.
pub async fn update(a: &mut Acting<'_>, id: Uuid, c: &IssueChanges) -> Result<Issue, AppError> {
    a.principal.require(crate::issues::perm::ISSUES_UPDATE)?;
    let before = store::get(a.tx, &a.scope, id).await?;
    let mut p = Problems::default();
    if let Some(t) = &c.title {
        let t = t.trim();
        if t.is_empty() {
            p.add("title", "is required");
        } else if t.chars().count() > 500 {
            p.add("title", "must be at most 500 characters");
        }
    }
    one_of(&mut p, "priority", c.priority.as_deref(), rules::PRIORITIES);
    one_of(
        &mut p,
        "impact",
        c.impact.clone().flatten().as_deref(),
        rules::IMPACTS,
    );
    one_of(
        &mut p,
        "urgency",
        c.urgency.clone().flatten().as_deref(),
        rules::URGENCIES,
    );
    one_of(
        &mut p,
        "severity",
        c.severity.clone().flatten().as_deref(),
        rules::SEVERITIES,
    );
    one_of(&mut p, "issue_type", c.issue_type.as_deref(), rules::TYPES);
    check_refs(&mut p, c.external_refs.as_ref());
    if let Some(Some(cat)) = c.category_id
        && !exists(a.tx, CATEGORY, cat).await?
    {
        p.add("category_id", "no such category");
    }
    if let Some(Some(app)) = c.application_id
        && !exists(a.tx, APPLICATION, app).await?
    {
        p.add("application_id", "no such application");
    }
    let app = c.application_id.unwrap_or(before.application_id);
    let env = c.environment_id.unwrap_or(match c.application_id {
        // Moving to another application drops an environment of the old one.
        Some(new) if new != before.application_id => None,
        _ => before.environment_id,
    });
    check_environment(a.tx, &mut p, app, env).await?;
    let action = match c.status.as_deref() {
        None => None,
        Some(s) if s == before.status => None,
        Some("in_progress") => Some(Action::Start),
        Some("pending") => Some(Action::Pend),
        Some(_) => {
            p.add(
                "status",
                "use the assign, resolve, close and reopen actions for other statuses",
            );
            None
        }
    };
    p.into_result()?;
    let next_status = match action {
        Some(act) => Some(transition_target(&before, act)?),
        None => None,
    };
    let impact = c.impact.clone().unwrap_or(before.impact.clone());
    let urgency = c.urgency.clone().unwrap_or(before.urgency.clone());
    let (priority, explicit) = match (&c.priority, &impact, &urgency) {
        (Some(pr), _, _) => (pr.clone(), true),
        (None, Some(i), Some(u))
            if !before.priority_explicit && (c.impact.is_some() || c.urgency.is_some()) =>
        {
            (
                matrix_priority(a.tx, i, u)
                    .await?
                    .unwrap_or(before.priority.clone()),
                false,
            )
        }
        _ => (before.priority.clone(), before.priority_explicit),
    };
    let status = next_status.unwrap_or(&before.status).to_string();
    // Starting work counts as the first response.
    let first_response = match (before.first_response_at, next_status) {
        (None, Some("in_progress")) => Some(a.now),
        (f, _) => f,
    };
    sqlx::query(
        "UPDATE issues SET title = $2, description = $3, priority = $4, priority_explicit = $5,
            impact = $6, urgency = $7, severity = $8, category_id = $9, issue_type = $10,
            application_id = $11, environment_id = $12, external_refs = $13, status = $14,
            first_response_at = $15, updated_at = $16
         WHERE id = $1",
    )
    .bind(id)
    .bind(c.title.as_deref().map(str::trim).unwrap_or(&before.title))
    .bind(c.description.clone().unwrap_or(before.description.clone()))
    .bind(&priority)
    .bind(explicit)
    .bind(&impact)
    .bind(&urgency)
    .bind(c.severity.clone().unwrap_or(before.severity.clone()))
    .bind(c.category_id.unwrap_or(before.category_id))
    .bind(c.issue_type.as_deref().unwrap_or(&before.issue_type))
    .bind(app)
    .bind(env)
    .bind(
        c.external_refs
            .clone()
            .unwrap_or(before.external_refs.clone()),
    )
    .bind(&status)
    .bind(first_response)
    .bind(a.now)
    .execute(&mut **a.tx)
    .await?;
    if status != before.status {
        history(a, id, Some(&before.status), &status, c.reason.as_deref()).await?;
    }
    let reselect = priority != before.priority
        || c.category_id.is_some_and(|v| v != before.category_id)
        || app != before.application_id
        || c.issue_type
            .as_deref()
            .is_some_and(|t| t != before.issue_type);
    let tenant = a.tenant().clone();
    let measure = before.first_response_at.is_none() && first_response.is_some();
    let what = timers::Refresh { reselect, measure };
    timers::refresh(a.tx, &tenant, Clocked::Issue(id), a.now, what).await?;
    finish(a, id, Some(&before), "update", "issue.updated", Value::Null).await
}

mod lifecycle;
pub use lifecycle::*;
