//! The lifecycle actions: assign/reassign, escalate, resolve, close, reopen, delete, and the
//! first-response rule.

use super::*;

pub(super) fn transition_target(issue: &Issue, action: Action) -> Result<&'static str, AppError> {
    rules::next(&issue.status, action, issue.assigned_to.is_some()).ok_or_else(|| {
        let allowed = rules::allowed(&issue.status);
        AppError::Conflict {
            message: format!(
                "cannot {} an issue that is {}; allowed: {}",
                action.name(),
                issue.status.replace('_', " "),
                allowed.join(", ")
            ),
            details: json!({"status": issue.status, "allowed": allowed}),
        }
    })
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    pub assigned_to: Option<Uuid>,
    pub assigned_group: Option<Uuid>,
    pub reason: Option<String>,
}

/// Assign (or reassign) to a person and/or group. `reassign` insists there was an assignee.
pub async fn assign(
    a: &mut Acting<'_>,
    id: Uuid,
    b: &AssignBody,
    reassign: bool,
) -> Result<Issue, AppError> {
    a.principal.require(crate::issues::perm::ISSUES_ASSIGN)?;
    let before = store::get(a.tx, &a.scope, id).await?;
    let mut p = Problems::default();
    if b.assigned_to.is_none() && b.assigned_group.is_none() {
        p.add("assigned_to", "pick a person or a group");
    }
    if let Some(u) = b.assigned_to
        && !exists(a.tx, USER_ACTIVE, u).await?
    {
        p.add("assigned_to", "no such active user");
    }
    if let Some(g) = b.assigned_group
        && !exists(a.tx, GROUP, g).await?
    {
        p.add("assigned_group", "no such group");
    }
    p.into_result()?;
    if reassign && before.assigned_to.is_none() && before.assigned_group.is_none() {
        return Err(AppError::Conflict {
            message: "the issue has no assignee yet; assign it instead".into(),
            details: json!({"allowed": rules::allowed(&before.status)}),
        });
    }
    let status = transition_target(&before, Action::Assign)?;
    let first_response = before.first_response_at.or(b.assigned_to.map(|_| a.now));
    sqlx::query(
        "UPDATE issues SET assigned_to = $2, assigned_group = COALESCE($3, assigned_group),
            status = $4, first_response_at = $5, updated_at = $6 WHERE id = $1",
    )
    .bind(id)
    .bind(b.assigned_to)
    .bind(b.assigned_group)
    .bind(status)
    .bind(first_response)
    .bind(a.now)
    .execute(&mut **a.tx)
    .await?;
    let verb = if reassign { "reassigned" } else { "assigned" };
    let reason = b.reason.clone().unwrap_or_else(|| verb.to_string());
    history(a, id, Some(&before.status), status, Some(&reason)).await?;
    let tenant = a.tenant().clone();
    let measure = before.first_response_at.is_none() && first_response.is_some();
    let what = timers::Refresh {
        reselect: false,
        measure,
    };
    timers::refresh(a.tx, &tenant, Clocked::Issue(id), a.now, what).await?;
    finish(
        a,
        id,
        Some(&before),
        "assign",
        "issue.assigned",
        json!({"reason": b.reason}),
    )
    .await
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateBody {
    pub reason: Option<String>,
    /// Move the issue to this group (the assignee person is cleared).
    pub assigned_group: Option<Uuid>,
}

pub async fn escalate(a: &mut Acting<'_>, id: Uuid, b: &EscalateBody) -> Result<Issue, AppError> {
    a.principal.require(crate::issues::perm::ISSUES_UPDATE)?;
    let before = store::get(a.tx, &a.scope, id).await?;
    if let Some(g) = b.assigned_group
        && !exists(a.tx, GROUP, g).await?
    {
        return Err(AppError::field("assigned_group", "no such group"));
    }
    let status = transition_target(&before, Action::Escalate)?;
    let moves = b
        .assigned_group
        .is_some_and(|g| Some(g) != before.assigned_group);
    sqlx::query(
        "UPDATE issues SET escalation_level = escalation_level + 1, escalated_at = $2,
            assigned_group = COALESCE($3, assigned_group),
            assigned_to = CASE WHEN $4 THEN NULL ELSE assigned_to END, updated_at = $2
         WHERE id = $1",
    )
    .bind(id)
    .bind(a.now)
    .bind(b.assigned_group)
    .bind(moves)
    .execute(&mut **a.tx)
    .await?;
    let reason = format!(
        "escalated to level {}{}",
        before.escalation_level + 1,
        b.reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default()
    );
    history(a, id, Some(&before.status), status, Some(&reason)).await?;
    finish(
        a,
        id,
        Some(&before),
        "escalate",
        "issue.escalated",
        json!({"reason": b.reason, "level": before.escalation_level + 1}),
    )
    .await
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// e.g. fixed, workaround, duplicate, cannot_reproduce, no_fault_found.
    pub resolution_code: String,
    pub resolution_notes: String,
}

pub async fn resolve(a: &mut Acting<'_>, id: Uuid, b: &ResolveBody) -> Result<Issue, AppError> {
    a.principal.require(crate::issues::perm::ISSUES_UPDATE)?;
    let before = store::get(a.tx, &a.scope, id).await?;
    let status = transition_target(&before, Action::Resolve)?;
    let mut p = Problems::default();
    if !domain::issues::is_resolution(&b.resolution_code) {
        let codes: Vec<&str> = domain::issues::RESOLUTIONS.iter().map(|r| r.0).collect();
        p.add(
            "resolution_code",
            format!("must be one of {}", codes.join(", ")),
        );
    }
    if b.resolution_notes.trim().is_empty() {
        p.add("resolution_notes", "say what was done");
    }
    p.into_result()?;
    // The change and its status-history row in one statement.
    sqlx::query(
        "WITH changed AS (
            UPDATE issues SET status = $2, resolution_code = $3, resolution_notes = $4, resolved_at = $5,
                resolved_by = $6, first_response_at = COALESCE(first_response_at, $5), updated_at = $5
            WHERE id = $1 RETURNING id)
         INSERT INTO issue_status_history (issue_id, from_status, to_status, changed_by, reason, created_at)
         SELECT id, $7, $2, $6, $4, $5 FROM changed",
    )
    .bind(id)
    .bind(status)
    .bind(&b.resolution_code)
    .bind(b.resolution_notes.trim())
    .bind(a.now)
    .bind(a.actor.user_id)
    .bind(&before.status)
    .execute(&mut **a.tx)
    .await?;
    let tenant = a.tenant().clone();
    timers::refresh(
        a.tx,
        &tenant,
        Clocked::Issue(id),
        a.now,
        timers::Refresh {
            measure: true,
            ..Default::default()
        },
    )
    .await?;
    finish(
        a,
        id,
        Some(&before),
        "resolve",
        "issue.resolved",
        Value::Null,
    )
    .await
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    pub reason: Option<String>,
    /// Close even though child issues are still open.
    #[serde(default)]
    pub confirm_open_children: bool,
}

pub async fn close(a: &mut Acting<'_>, id: Uuid, b: &CloseBody) -> Result<Issue, AppError> {
    a.principal.require(crate::issues::perm::ISSUES_UPDATE)?;
    let before = store::get(a.tx, &a.scope, id).await?;
    let status = transition_target(&before, Action::Close)?;
    let open_children: Vec<String> = sqlx::query_scalar(
        "SELECT issue_number FROM issues WHERE parent_issue_id = $1 AND deleted_at IS NULL
            AND status NOT IN ('resolved', 'closed') ORDER BY created_at",
    )
    .bind(id)
    .fetch_all(&mut **a.tx)
    .await?;
    if !open_children.is_empty() && !b.confirm_open_children {
        return Err(AppError::Conflict {
            message: format!(
                "{} open child issue(s): {}; confirm to close anyway",
                open_children.len(),
                open_children.join(", ")
            ),
            details: json!({"open_children": open_children, "confirm_with": "confirm_open_children"}),
        });
    }
    sqlx::query("UPDATE issues SET status = $2, closed_at = $3, closed_by = $4, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(status)
        .bind(a.now)
        .bind(a.actor.user_id)
        .execute(&mut **a.tx)
        .await?;
    history(a, id, Some(&before.status), status, b.reason.as_deref()).await?;
    let tenant = a.tenant().clone();
    timers::refresh(
        a.tx,
        &tenant,
        Clocked::Issue(id),
        a.now,
        timers::Refresh::default(),
    )
    .await?;
    finish(a, id, Some(&before), "close", "issue.closed", Value::Null).await
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenBody {
    pub reason: String,
}

/// Back to work: the resolution clock resumes (the time spent resolved is not counted).
pub async fn reopen(a: &mut Acting<'_>, id: Uuid, b: &ReopenBody) -> Result<Issue, AppError> {
    a.principal.require(crate::issues::perm::ISSUES_READ)?;
    let before = store::get(a.tx, &a.scope, id).await?;
    // Requesters may reopen their own issues; everything else needs issues:update.
    if !a.principal.can(crate::issues::perm::ISSUES_UPDATE)
        && before.reporter_id != Some(a.principal.user_id)
    {
        return Err(AppError::Forbidden);
    }
    let status = transition_target(&before, Action::Reopen)?;
    if b.reason.trim().is_empty() {
        return Err(AppError::field("reason", "say why it is being reopened"));
    }
    sqlx::query(
        "UPDATE issues SET status = $2, resolved_at = NULL, resolved_by = NULL, closed_at = NULL,
            closed_by = NULL, resolution_code = NULL, resolution_notes = NULL,
            time_to_resolution = NULL, business_time_to_resolution = NULL, updated_at = $3
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(a.now)
    .execute(&mut **a.tx)
    .await?;
    history(a, id, Some(&before.status), status, Some(b.reason.trim())).await?;
    let tenant = a.tenant().clone();
    timers::refresh(
        a.tx,
        &tenant,
        Clocked::Issue(id),
        a.now,
        timers::Refresh::default(),
    )
    .await?;
    finish(
        a,
        id,
        Some(&before),
        "reopen",
        "issue.updated",
        json!({"action": "reopen", "reason": b.reason.trim()}),
    )
    .await
}

/// Soft delete: hidden from every list and page; history and audit stay.
pub async fn delete(a: &mut Acting<'_>, id: Uuid) -> Result<(), AppError> {
    a.principal.require(crate::issues::perm::ISSUES_DELETE)?;
    let before = store::get(a.tx, &a.scope, id).await?;
    sqlx::query("UPDATE issues SET deleted_at = $2, updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(a.now)
        .execute(&mut **a.tx)
        .await?;
    for metric in ["response", "resolution"] {
        crate::platform::jobs::cancel(a.tx, &a.principal.slug, &format!("sla:{id}:{metric}"))
            .await?;
    }
    audit::record(
        a.tx,
        &a.actor,
        "delete",
        "issue",
        id,
        diff(Some(&before), None),
    )
    .await?;
    let tenant = a.tenant().clone();
    events::emit(
        a.tx,
        &tenant,
        &a.actor,
        "issue.updated",
        "issue",
        id,
        json!({"issue": before, "action": "delete"}),
    )
    .await
}

/// A public comment by someone other than the reporter, from an agent, is the first response.
pub async fn note_response(a: &mut Acting<'_>, issue: &Issue) -> Result<(), AppError> {
    if issue.first_response_at.is_some()
        || issue.reporter_id == Some(a.principal.user_id)
        || !a.principal.can(crate::issues::perm::ISSUES_UPDATE)
    {
        return Ok(());
    }
    sqlx::query(
        "UPDATE issues SET first_response_at = $2 WHERE id = $1 AND first_response_at IS NULL",
    )
    .bind(issue.id)
    .bind(a.now)
    .execute(&mut **a.tx)
    .await?;
    let tenant = a.tenant().clone();
    timers::refresh(
        a.tx,
        &tenant,
        Clocked::Issue(issue.id),
        a.now,
        timers::Refresh {
            measure: true,
            ..Default::default()
        },
    )
    .await
}
