//! Fulfilment tasks (`TSK-00001`): created from the item's task templates when a request is
//! approved, worked through by agents, and the request completes when the last one is done.
//! The order rules live in `domain::fulfilment`.

use chrono::{DateTime, Utc};
use domain::fulfilment::{self, Node, TaskAction, TaskTemplate};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::actions::ENTITY;
use super::store::{self, Request, Scope};
use crate::platform::audit::Actor;
use crate::platform::error::AppError;
use crate::platform::events::{self, Audit};
use crate::platform::tenancy::{Slug, TenantTx};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
#[schema(as = RequestTask)]
pub struct Task {
    pub id: Uuid,
    pub request_id: Uuid,
    /// `TSK-00001`.
    pub task_number: String,
    /// The template's key; `depends_on` names other tasks' keys.
    pub key: String,
    pub title: String,
    pub description: Option<String>,
    pub sort_order: i32,
    pub depends_on: Vec<String>,
    /// waiting (for the tasks it depends on), ready, in_progress, completed or skipped.
    pub status: String,
    pub assigned_group: Option<Uuid>,
    pub assigned_group_name: Option<String>,
    pub assigned_to: Option<Uuid>,
    pub assigned_to_name: Option<String>,
    /// What was done, or why it was skipped.
    pub notes: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub finished_by_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT t.id, t.request_id, t.task_number, t.task_key AS key, t.title, t.description,
    t.sort_order, t.depends_on, t.status, t.assigned_group, g.name AS assigned_group_name, t.assigned_to,
    u.name AS assigned_to_name, t.notes, t.started_at, t.finished_at, f.name AS finished_by_name,
    t.created_at, t.updated_at
    FROM request_tasks t
    LEFT JOIN groups g ON g.id = t.assigned_group
    LEFT JOIN users u ON u.id = t.assigned_to
    LEFT JOIN users f ON f.id = t.finished_by";

pub async fn list(tx: &mut TenantTx, request: Uuid) -> Result<Vec<Task>, AppError> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE t.request_id = $1 ORDER BY t.sort_order, t.task_number"
    ))
    .bind(request)
    .fetch_all(&mut **tx)
    .await?)
}

async fn get(tx: &mut TenantTx, request: Uuid, task: Uuid) -> Result<Task, AppError> {
    sqlx::query_as(&format!("{SELECT} WHERE t.request_id = $1 AND t.id = $2"))
        .bind(request)
        .bind(task)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)
}

/// Creates the tasks of a request that was just approved, from the templates of the form
/// version it was submitted under. Returns how many there are.
pub async fn spawn(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    request: &Request,
) -> Result<usize, AppError> {
    let (Some(item), Some(version)) = (request.catalog_item_id, request.form_version) else {
        return Ok(0);
    };
    let templates: serde_json::Value = sqlx::query_scalar(
        "SELECT task_templates FROM catalog_item_versions WHERE item_id = $1 AND version = $2",
    )
    .bind(item)
    .bind(version)
    .fetch_optional(&mut **tx)
    .await?
    .unwrap_or_default();
    // Checked when saved; a version that somehow does not parse gets no tasks rather than a
    // failed approval.
    let templates: Vec<TaskTemplate> = serde_json::from_value(templates).unwrap_or_default();
    if templates.is_empty() {
        return Ok(0);
    }
    let keys: Vec<&str> = templates.iter().map(|t| t.key.as_str()).collect();
    let titles: Vec<&str> = templates.iter().map(|t| t.title.trim()).collect();
    let descriptions: Vec<Option<&str>> =
        templates.iter().map(|t| t.description.as_deref()).collect();
    // Postgres arrays cannot be ragged, so each task's dependencies travel as one JSON array.
    let depends: Vec<serde_json::Value> = templates.iter().map(|t| json!(t.depends_on)).collect();
    let statuses: Vec<&str> = templates
        .iter()
        .map(|t| fulfilment::initial(&t.depends_on))
        .collect();
    let groups: Vec<Option<Uuid>> = templates
        .iter()
        .map(|t| t.assigned_group_id.or(request.assigned_group))
        .collect();
    let people: Vec<Option<Uuid>> = templates.iter().map(|t| t.assigned_to).collect();
    // The groups and people were checked when the item was saved; one deleted since then
    // leaves the task unassigned instead of failing the approval.
    sqlx::query(
        "INSERT INTO request_tasks (request_id, task_number, task_key, title, description, sort_order,
            depends_on, status, assigned_group, assigned_to)
         SELECT $1, next_id('task'), k, t, d, o::int,
            ARRAY(SELECT jsonb_array_elements_text(dep)), s,
            (SELECT id FROM groups WHERE id = g), (SELECT id FROM users WHERE id = p AND status = 'active')
         FROM unnest($2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[], $7::uuid[], $8::uuid[])
            WITH ORDINALITY AS x(k, t, d, dep, s, g, p, o)
         ORDER BY o",
    )
    .bind(request.id)
    .bind(&keys)
    .bind(&titles)
    .bind(&descriptions)
    .bind(&depends)
    .bind(&statuses)
    .bind(&groups)
    .bind(&people)
    .execute(&mut **tx)
    .await?;
    let tasks = list(tx, request.id).await?;
    for t in tasks.iter().filter(|t| t.status == "ready") {
        ready(tx, tenant, actor, request, t).await?;
    }
    Ok(tasks.len())
}

/// Tells the people who do a task that it can start.
async fn ready(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    request: &Request,
    task: &Task,
) -> Result<(), AppError> {
    events::emit(
        tx,
        tenant,
        actor,
        "request.task_ready",
        ENTITY,
        request.id,
        json!({"request": request, "task": task, "task_id": task.id}),
    )
    .await
}

#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RequestTaskActionBody)]
pub struct TaskBody {
    /// complete: what was done; skip: why (required).
    pub notes: Option<String>,
}

fn refuse(task: &Task, action: TaskAction) -> AppError {
    let allowed: Vec<&str> = fulfilment::allowed(&task.status)
        .iter()
        .map(|a| a.key())
        .collect();
    let why = match task.status.as_str() {
        "waiting" => " It waits for other tasks to be done first.",
        _ => "",
    };
    AppError::Conflict {
        message: format!(
            "{} is {} and cannot be {}.{why}",
            task.task_number,
            crate::platform::web::label(&task.status).to_lowercase(),
            match action {
                TaskAction::Start => "started",
                TaskAction::Complete => "completed",
                TaskAction::Skip => "skipped",
            }
        ),
        details: json!({"status": task.status, "allowed": allowed}),
    }
}

/// Start, complete or skip a task; releases the tasks that waited for it and completes the
/// request when it was the last. Returns the task and the request as they are now.
#[expect(
    clippy::too_many_arguments,
    reason = "who does what to which task, when"
)]
pub async fn act(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    request_id: Uuid,
    task_id: Uuid,
    action: TaskAction,
    b: &TaskBody,
    now: DateTime<Utc>,
) -> Result<(Task, Request), AppError> {
    store::lock(tx, request_id).await?;
    let request = store::get(tx, request_id, Scope::All).await?;
    let before = get(tx, request_id, task_id).await?;
    if !matches!(request.status.as_str(), "approved" | "in_progress") {
        return Err(AppError::Conflict {
            message: format!(
                "{} is {}; its tasks cannot change.",
                request.request_number,
                crate::platform::web::label(&request.status).to_lowercase()
            ),
            details: json!({"status": request.status, "allowed": []}),
        });
    }
    if !fulfilment::allowed(&before.status).contains(&action) {
        return Err(refuse(&before, action));
    }
    let notes = b.notes.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if notes.is_some_and(|n| n.chars().count() > 5000) {
        return Err(AppError::field("notes", "must be at most 5000 characters"));
    }
    if action == TaskAction::Skip && notes.is_none() {
        return Err(AppError::field("notes", "Say why the task is skipped."));
    }
    sqlx::query(
        "UPDATE request_tasks SET status = $3, updated_at = $6,
            notes = COALESCE($4, notes),
            assigned_to = COALESCE(assigned_to, $5),
            started_at = CASE WHEN $3 = 'in_progress' OR ($3 = 'completed' AND started_at IS NULL)
                THEN $6 ELSE started_at END,
            finished_at = CASE WHEN $3 IN ('completed', 'skipped') THEN $6 END,
            finished_by = CASE WHEN $3 IN ('completed', 'skipped') THEN $5 END
         WHERE request_id = $1 AND id = $2",
    )
    .bind(request_id)
    .bind(task_id)
    .bind(action.target())
    .bind(notes)
    .bind(actor.user_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let tasks = list(tx, request_id).await?;
    let nodes: Vec<Node> = tasks
        .iter()
        .map(|t| Node {
            key: &t.key,
            status: &t.status,
            depends_on: &t.depends_on,
        })
        .collect();
    let released: Vec<String> = fulfilment::released(&nodes)
        .into_iter()
        .map(str::to_string)
        .collect();
    let all_done = tasks.iter().all(|t| fulfilment::is_done(&t.status));
    if !released.is_empty() {
        sqlx::query(
            "UPDATE request_tasks SET status = 'ready', updated_at = now()
             WHERE request_id = $1 AND task_key = ANY($2)",
        )
        .bind(request_id)
        .bind(&released)
        .execute(&mut **tx)
        .await?;
    }
    if request.status == "approved" && !all_done {
        let why = format!("{} was {}", before.task_number, action.target());
        store::set_status(
            tx,
            tenant,
            request_id,
            "in_progress",
            actor.user_id,
            Some(&why),
            now,
        )
        .await?;
    }
    let after = get(tx, request_id, task_id).await?;
    let current = store::get(tx, request_id, Scope::All).await?;
    let changes = crate::platform::audit::diff(Some(&before), Some(&after));
    events::record_and_emit(
        tx,
        tenant,
        actor,
        Audit {
            action: match action {
                TaskAction::Start => "task_start",
                TaskAction::Complete => "task_complete",
                TaskAction::Skip => "task_skip",
            },
            changes: json!({"task": after.task_number, "changes": changes}),
        },
        "request.task_updated",
        ENTITY,
        request_id,
        json!({"request": &current, "task": &after}),
    )
    .await?;
    for t in list(tx, request_id).await? {
        if released.contains(&t.key) {
            ready(tx, tenant, actor, &current, &t).await?;
        }
    }
    if all_done {
        let done = super::actions::finish(
            tx,
            tenant,
            actor,
            request_id,
            "Every fulfilment task is done.",
            now,
        )
        .await?;
        return Ok((after, done));
    }
    Ok((after, current))
}

/// When a request is cancelled or an agent completes it by hand, its open tasks are skipped
/// with that reason.
pub async fn close_open(
    tx: &mut TenantTx,
    request: Uuid,
    by: Option<Uuid>,
    reason: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE request_tasks SET status = 'skipped', notes = $2, finished_at = now(), finished_by = $3,
            updated_at = now()
         WHERE request_id = $1 AND status NOT IN ('completed', 'skipped')",
    )
    .bind(request)
    .bind(reason)
    .bind(by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
