//! What happens around an issue: comments (public or internal), worklogs, links to other
//! issues, and the status history.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::actions::{self, Acting};
use super::store::{self, Issue};
use crate::platform::audit::{self, diff};
use crate::platform::error::AppError;
use crate::platform::events;
use crate::platform::listing::Problems;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Comment {
    pub id: Uuid,
    pub issue_id: Uuid,
    pub user_id: Option<Uuid>,
    pub user_name: Option<String>,
    /// Markdown.
    pub content: String,
    /// Internal notes are never shown to requesters.
    pub is_internal: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    pub content: String,
    #[serde(default)]
    pub is_internal: bool,
}

const COMMENT: &str = "SELECT c.id, c.issue_id, c.user_id, u.name AS user_name, c.content,
    COALESCE(c.is_internal, false) AS is_internal, c.created_at, c.updated_at
    FROM issue_comments c LEFT JOIN users u ON u.id = c.user_id";

pub async fn comments(a: &mut Acting<'_>, issue: Uuid) -> Result<Vec<Comment>, AppError> {
    store::get(a.tx, &a.scope, issue).await?;
    Ok(sqlx::query_as(&format!(
        "{COMMENT} WHERE c.issue_id = $1 AND ($2 OR NOT COALESCE(c.is_internal, false)) ORDER BY c.created_at, c.id"
    ))
    .bind(issue)
    .bind(a.scope.sees_internal())
    .fetch_all(&mut **a.tx)
    .await?)
}

fn check_comment(b: &CommentBody) -> Result<(), AppError> {
    let mut p = Problems::default();
    if b.content.trim().is_empty() {
        p.add("content", "is required");
    } else if b.content.len() > 50_000 {
        p.add("content", "must be at most 50,000 characters");
    }
    p.into_result()
}

pub(super) async fn touched(
    a: &mut Acting<'_>,
    issue: &Issue,
    what: serde_json::Value,
) -> Result<(), AppError> {
    sqlx::query("UPDATE issues SET updated_at = $2 WHERE id = $1")
        .bind(issue.id)
        .bind(a.now)
        .execute(&mut **a.tx)
        .await?;
    updated(a, issue, what, None).await
}

/// `issue.updated`, for a change that already set the issue's `updated_at` — with its audit
/// row in the same statement when there is one.
async fn updated(
    a: &mut Acting<'_>,
    issue: &Issue,
    what: serde_json::Value,
    audit: Option<events::Audit<'_>>,
) -> Result<(), AppError> {
    let tenant = a.principal.slug.clone();
    let payload = json!({"issue_id": issue.id, "issue_number": issue.issue_number, "detail": what});
    match audit {
        Some(audit) => {
            let (actor, event) = (&a.actor, "issue.updated");
            events::record_and_emit(
                a.tx, &tenant, actor, audit, event, "issue", issue.id, payload,
            )
            .await
        }
        None => {
            let actor = &a.actor;
            events::emit(
                a.tx,
                &tenant,
                actor,
                "issue.updated",
                "issue",
                issue.id,
                payload,
            )
            .await
        }
    }
}

pub async fn add_comment(
    a: &mut Acting<'_>,
    issue: Uuid,
    b: &CommentBody,
) -> Result<Comment, AppError> {
    a.principal.require(crate::issues::perm::ISSUES_READ)?;
    let issue = store::get(a.tx, &a.scope, issue).await?;
    if b.is_internal && !a.principal.can(crate::issues::perm::ISSUES_UPDATE) {
        return Err(AppError::field(
            "is_internal",
            "only agents can write internal notes",
        ));
    }
    check_comment(b)?;
    // The comment, the issue's `updated_at`, and the comment as shown, in one statement.
    let comment: Comment = sqlx::query_as(
        "WITH touched AS (UPDATE issues SET updated_at = $5 WHERE id = $1),
              c AS (INSERT INTO issue_comments (issue_id, user_id, content, content_type, is_internal, created_at, updated_at)
                    VALUES ($1, $2, $3, 'markdown', $4, $5, $5) RETURNING *)
         SELECT c.id, c.issue_id, c.user_id, u.name AS user_name, c.content,
                COALESCE(c.is_internal, false) AS is_internal, c.created_at, c.updated_at
         FROM c LEFT JOIN users u ON u.id = c.user_id",
    )
    .bind(issue.id)
    .bind(a.actor.user_id)
    .bind(b.content.trim())
    .bind(b.is_internal)
    .bind(a.now)
    .fetch_one(&mut **a.tx)
    .await?;
    let id = comment.id;
    if !b.is_internal {
        actions::note_response(a, &issue).await?;
    }
    let audit = events::Audit {
        action: "comment",
        changes: json!({"comment_id": id, "is_internal": b.is_internal}),
    };
    // The text rides in the event so a notification can say what was written (and a reply
    // by email has something to answer).
    let what =
        json!({"comment_added": id, "is_internal": b.is_internal, "comment": comment.content});
    updated(a, &issue, what, Some(audit)).await?;
    Ok(comment)
}

async fn own_comment(
    a: &mut Acting<'_>,
    issue: Uuid,
    id: Uuid,
) -> Result<(Issue, Comment), AppError> {
    let issue = store::get(a.tx, &a.scope, issue).await?;
    let c: Comment = sqlx::query_as(&format!(
        "{COMMENT} WHERE c.id = $1 AND c.issue_id = $2 AND ($3 OR NOT COALESCE(c.is_internal, false))"
    ))
    .bind(id)
    .bind(issue.id)
    .bind(a.scope.sees_internal())
    .fetch_optional(&mut **a.tx)
    .await?
    .ok_or(AppError::NotFound)?;
    if c.user_id != Some(a.principal.user_id) {
        return Err(AppError::Forbidden);
    }
    Ok((issue, c))
}

/// Only the author edits or deletes a comment.
pub async fn edit_comment(
    a: &mut Acting<'_>,
    issue: Uuid,
    id: Uuid,
    b: &CommentBody,
) -> Result<Comment, AppError> {
    a.principal.require(crate::issues::perm::ISSUES_READ)?;
    let (issue, before) = own_comment(a, issue, id).await?;
    check_comment(b)?;
    if b.is_internal && !a.principal.can(crate::issues::perm::ISSUES_UPDATE) {
        return Err(AppError::field(
            "is_internal",
            "only agents can write internal notes",
        ));
    }
    sqlx::query(
        "UPDATE issue_comments SET content = $2, is_internal = $3, updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(b.content.trim())
    .bind(b.is_internal)
    .bind(a.now)
    .execute(&mut **a.tx)
    .await?;
    let after: Comment = sqlx::query_as(&format!("{COMMENT} WHERE c.id = $1"))
        .bind(id)
        .fetch_one(&mut **a.tx)
        .await?;
    audit::record(
        a.tx,
        &a.actor,
        "update",
        "issue_comment",
        id,
        diff(Some(&before), Some(&after)),
    )
    .await?;
    touched(a, &issue, json!({"comment_edited": id})).await?;
    Ok(after)
}

pub async fn delete_comment(a: &mut Acting<'_>, issue: Uuid, id: Uuid) -> Result<(), AppError> {
    a.principal.require(crate::issues::perm::ISSUES_READ)?;
    let (issue, before) = own_comment(a, issue, id).await?;
    sqlx::query("DELETE FROM issue_comments WHERE id = $1")
        .bind(id)
        .execute(&mut **a.tx)
        .await?;
    audit::record(
        a.tx,
        &a.actor,
        "delete",
        "issue_comment",
        id,
        diff(Some(&before), None),
    )
    .await?;
    touched(a, &issue, json!({"comment_deleted": id})).await
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Worklog {
    pub id: Uuid,
    pub issue_id: Uuid,
    pub user_id: Option<Uuid>,
    pub user_name: Option<String>,
    /// Minutes.
    pub time_spent: i32,
    pub work_date: NaiveDate,
    pub description: Option<String>,
    pub billable: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorklogBody {
    /// Minutes, 1–1440.
    pub time_spent: i32,
    /// Defaults to today.
    pub work_date: Option<NaiveDate>,
    pub description: Option<String>,
    #[serde(default)]
    pub billable: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Worklogs {
    pub data: Vec<Worklog>,
    pub total_minutes: i64,
    pub billable_minutes: i64,
}

const WORKLOG: &str = "SELECT w.id, w.issue_id, w.user_id, u.name AS user_name, w.time_spent,
    w.work_date, w.description, COALESCE(w.billable, false) AS billable, w.created_at
    FROM issue_worklogs w LEFT JOIN users u ON u.id = w.user_id";

pub async fn worklogs(a: &mut Acting<'_>, issue: Uuid) -> Result<Worklogs, AppError> {
    a.principal.require(crate::issues::perm::ISSUES_UPDATE)?;
    store::get(a.tx, &a.scope, issue).await?;
    let data: Vec<Worklog> = sqlx::query_as(&format!(
        "{WORKLOG} WHERE w.issue_id = $1 ORDER BY w.work_date, w.created_at"
    ))
    .bind(issue)
    .fetch_all(&mut **a.tx)
    .await?;
    let total_minutes = data.iter().map(|w| w.time_spent as i64).sum();
    let billable_minutes = data
        .iter()
        .filter(|w| w.billable)
        .map(|w| w.time_spent as i64)
        .sum();
    Ok(Worklogs {
        data,
        total_minutes,
        billable_minutes,
    })
}

fn check_worklog(b: &WorklogBody) -> Result<(), AppError> {
    let mut p = Problems::default();
    if !(1..=1440).contains(&b.time_spent) {
        p.add("time_spent", "must be between 1 and 1440 minutes");
    }
    if b.description.as_deref().is_some_and(|d| d.len() > 5_000) {
        p.add("description", "must be at most 5,000 characters");
    }
    p.into_result()
}

/// A worklog of the issue written by the caller (only its author changes it).
async fn own_worklog(a: &mut Acting<'_>, issue: &Issue, id: Uuid) -> Result<Worklog, AppError> {
    let w: Worklog = sqlx::query_as(&format!("{WORKLOG} WHERE w.id = $1 AND w.issue_id = $2"))
        .bind(id)
        .bind(issue.id)
        .fetch_optional(&mut **a.tx)
        .await?
        .ok_or(AppError::NotFound)?;
    if w.user_id != Some(a.principal.user_id) {
        return Err(AppError::Forbidden);
    }
    Ok(w)
}

/// Adds (`id` None) or changes a worklog; only its author changes it.
pub async fn save_worklog(
    a: &mut Acting<'_>,
    issue: Uuid,
    id: Option<Uuid>,
    b: &WorklogBody,
) -> Result<Worklog, AppError> {
    a.principal.require(crate::issues::perm::ISSUES_UPDATE)?;
    let issue = store::get(a.tx, &a.scope, issue).await?;
    check_worklog(b)?;
    let before = match id {
        None => None,
        Some(id) => Some(own_worklog(a, &issue, id).await?),
    };
    let date = b.work_date.unwrap_or(a.now.date_naive());
    let description = b
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let wid: Uuid = match id {
        None => sqlx::query_scalar(
            "INSERT INTO issue_worklogs (issue_id, user_id, time_spent, work_date, description, billable, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(issue.id)
        .bind(a.actor.user_id)
        .bind(b.time_spent)
        .bind(date)
        .bind(description)
        .bind(b.billable)
        .bind(a.now)
        .fetch_one(&mut **a.tx)
        .await?,
        Some(id) => {
            sqlx::query(
                "UPDATE issue_worklogs SET time_spent = $2, work_date = $3, description = $4, billable = $5 WHERE id = $1",
            )
            .bind(id)
            .bind(b.time_spent)
            .bind(date)
            .bind(description)
            .bind(b.billable)
            .execute(&mut **a.tx)
            .await?;
            id
        }
    };
    let after: Worklog = sqlx::query_as(&format!("{WORKLOG} WHERE w.id = $1"))
        .bind(wid)
        .fetch_one(&mut **a.tx)
        .await?;
    let action = if before.is_some() { "update" } else { "create" };
    audit::record(
        a.tx,
        &a.actor,
        action,
        "issue_worklog",
        wid,
        diff(before.as_ref(), Some(&after)),
    )
    .await?;
    touched(a, &issue, json!({"worklog": wid})).await?;
    Ok(after)
}

pub async fn delete_worklog(a: &mut Acting<'_>, issue: Uuid, id: Uuid) -> Result<(), AppError> {
    a.principal.require(crate::issues::perm::ISSUES_UPDATE)?;
    let issue = store::get(a.tx, &a.scope, issue).await?;
    let w = own_worklog(a, &issue, id).await?;
    sqlx::query("DELETE FROM issue_worklogs WHERE id = $1")
        .bind(id)
        .execute(&mut **a.tx)
        .await?;
    audit::record(
        a.tx,
        &a.actor,
        "delete",
        "issue_worklog",
        id,
        diff(Some(&w), None),
    )
    .await?;
    touched(a, &issue, json!({"worklog_deleted": id})).await
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct HistoryEntry {
    pub from_status: Option<String>,
    pub to_status: String,
    pub changed_by: Option<Uuid>,
    pub changed_by_name: Option<String>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn history(a: &mut Acting<'_>, issue: Uuid) -> Result<Vec<HistoryEntry>, AppError> {
    store::get(a.tx, &a.scope, issue).await?;
    Ok(sqlx::query_as(
        "SELECT h.from_status, h.to_status, h.changed_by, u.name AS changed_by_name, h.reason, h.created_at
         FROM issue_status_history h LEFT JOIN users u ON u.id = h.changed_by
         WHERE h.issue_id = $1 ORDER BY h.created_at, h.id",
    )
    .bind(issue)
    .fetch_all(&mut **a.tx)
    .await?)
}

/// A linked issue as the issue page lists it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Related {
    /// The link's id (none for parent/child, which live on the issue itself).
    pub link_id: Option<Uuid>,
    /// related, duplicate_of, duplicated_by, caused_by, causes, parent or child.
    pub relation: String,
    pub id: Uuid,
    pub issue_number: String,
    pub title: String,
    pub status: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    /// The other issue.
    pub issue_id: Uuid,
    /// related, duplicate_of, caused_by, parent (the other is this one's parent) or child.
    pub link_type: String,
}

pub const LINK_TYPES: &[&str] = &["related", "duplicate_of", "caused_by", "parent", "child"];

/// Links, parent and children that the viewer may see.
pub async fn related(a: &mut Acting<'_>, issue: Uuid) -> Result<Vec<Related>, AppError> {
    let issue = store::get(a.tx, &a.scope, issue).await?;
    let mut qb = sqlx::QueryBuilder::new(
        "SELECT r.link_id, r.relation, i.id, i.issue_number, i.title, i.status FROM (
            SELECT l.id AS link_id, l.link_type AS relation, l.linked_issue_id AS other FROM issue_links l WHERE l.issue_id = ",
    );
    qb.push_bind(issue.id)
        .push(
            " UNION ALL SELECT l.id, CASE l.link_type WHEN 'duplicate_of' THEN 'duplicated_by'
                WHEN 'caused_by' THEN 'causes' ELSE l.link_type END, l.issue_id
              FROM issue_links l WHERE l.linked_issue_id = ",
        )
        .push_bind(issue.id)
        .push(" UNION ALL SELECT NULL, 'parent', ")
        .push_bind(issue.parent_issue_id)
        .push(" WHERE ")
        .push_bind(issue.parent_issue_id)
        .push("::uuid IS NOT NULL UNION ALL SELECT NULL, 'child', c.id FROM issues c WHERE c.parent_issue_id = ")
        .push_bind(issue.id)
        .push(") r JOIN issues i ON i.id = r.other WHERE i.deleted_at IS NULL");
    a.scope.push(&mut qb);
    qb.push(" ORDER BY r.relation, i.created_at");
    Ok(qb.build_query_as().fetch_all(&mut **a.tx).await?)
}

pub async fn link(a: &mut Acting<'_>, issue: Uuid, b: &LinkBody) -> Result<Vec<Related>, AppError> {
    a.principal.require(crate::issues::perm::ISSUES_UPDATE)?;
    let this = store::get(a.tx, &a.scope, issue).await?;
    if !LINK_TYPES.contains(&b.link_type.as_str()) {
        return Err(AppError::field(
            "link_type",
            format!("must be one of {}", LINK_TYPES.join(", ")),
        ));
    }
    if b.issue_id == this.id {
        return Err(AppError::field(
            "issue_id",
            "an issue cannot link to itself",
        ));
    }
    let other = store::get(a.tx, &a.scope, b.issue_id)
        .await
        .map_err(|_| AppError::field("issue_id", "no such issue"))?;
    let (child, parent) = match b.link_type.as_str() {
        "parent" => (Some(this.id), other.id),
        "child" => (Some(other.id), this.id),
        _ => (None, this.id),
    };
    match child {
        Some(child) => {
            // The would-be parent must not already descend from the child.
            let cycle: bool = sqlx::query_scalar(
                "WITH RECURSIVE up AS (SELECT id, parent_issue_id FROM issues WHERE id = $1
                    UNION SELECT i.id, i.parent_issue_id FROM issues i JOIN up ON i.id = up.parent_issue_id)
                 SELECT EXISTS (SELECT 1 FROM up WHERE id = $2)",
            )
            .bind(parent)
            .bind(child)
            .fetch_one(&mut **a.tx)
            .await?;
            if cycle {
                return Err(AppError::field(
                    "issue_id",
                    "that would make an issue its own ancestor",
                ));
            }
            sqlx::query("UPDATE issues SET parent_issue_id = $2, updated_at = $3 WHERE id = $1")
                .bind(child)
                .bind(parent)
                .bind(a.now)
                .execute(&mut **a.tx)
                .await?;
        }
        None => {
            sqlx::query(
                "INSERT INTO issue_links (issue_id, linked_issue_id, link_type, created_by, created_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(this.id)
            .bind(other.id)
            .bind(&b.link_type)
            .bind(a.actor.user_id)
            .bind(a.now)
            .execute(&mut **a.tx)
            .await?;
        }
    }
    audit::record(
        a.tx,
        &a.actor,
        "link",
        "issue",
        this.id,
        json!({"link_type": b.link_type, "issue": other.issue_number}),
    )
    .await?;
    touched(
        a,
        &this,
        json!({"linked": other.issue_number, "link_type": b.link_type}),
    )
    .await?;
    related(a, issue).await
}

pub async fn unlink(a: &mut Acting<'_>, issue: Uuid, link: Uuid) -> Result<(), AppError> {
    a.principal.require(crate::issues::perm::ISSUES_UPDATE)?;
    let this = store::get(a.tx, &a.scope, issue).await?;
    let n = sqlx::query(
        "DELETE FROM issue_links WHERE id = $1 AND (issue_id = $2 OR linked_issue_id = $2)",
    )
    .bind(link)
    .bind(this.id)
    .execute(&mut **a.tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(AppError::NotFound);
    }
    audit::record(
        a.tx,
        &a.actor,
        "unlink",
        "issue",
        this.id,
        json!({"link_id": link}),
    )
    .await?;
    touched(a, &this, json!({"unlinked": link})).await
}
