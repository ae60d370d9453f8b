//! A requester's FireLater: the issues they raised, open ones first, and a simple way to raise
//! another. Requesters (no `issues:update`) get this page at `/issues` and on their home page
//! instead of the agents' queue with its tabs, filters and bulk actions.

use askama::Template;
use axum::response::Response;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::platform::auth::session::WebCtx;
use crate::platform::error::AppError;
use crate::platform::error::WebError;
use crate::platform::tenancy::TenantTx;
use crate::platform::web::Chrome;
use crate::render_page;

/// One of the requester's issues as their list shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MyIssue {
    pub id: Uuid,
    pub issue_number: String,
    pub title: String,
    pub status: String,
    pub updated_at: DateTime<Utc>,
    /// Who is working on it, when someone is.
    pub assignee: Option<String>,
    /// Public comments, so the list can say there is an answer.
    pub replies: i64,
}

/// The issues someone reported: open ones (all, most recently changed first) and the last
/// twenty resolved or closed.
pub struct Mine {
    pub open: Vec<MyIssue>,
    pub done: Vec<MyIssue>,
}

pub async fn mine(tx: &mut TenantTx, me: Uuid) -> Result<Mine, AppError> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT * FROM (
            SELECT i.status NOT IN ('resolved', 'closed') AS open,
                   row_number() OVER (PARTITION BY i.status NOT IN ('resolved', 'closed')
                                      ORDER BY i.updated_at DESC, i.id DESC) AS n,
                   i.id, i.issue_number, i.title, i.status, i.updated_at,
                   (SELECT u.name FROM users u WHERE u.id = i.assigned_to) AS assignee,
                   (SELECT count(*) FROM issue_comments c
                    WHERE c.issue_id = i.id AND NOT COALESCE(c.is_internal, false)
                      AND c.user_id IS DISTINCT FROM $1) AS replies
            FROM issues i WHERE i.reporter_id = $1 AND i.deleted_at IS NULL) t
         WHERE t.open OR t.n <= 20
         ORDER BY t.open DESC, t.updated_at DESC, t.id DESC",
    )
    .bind(me)
    .fetch_all(&mut **tx)
    .await?;
    let (open, done): (Vec<Row>, Vec<Row>) = rows.into_iter().partition(|r| r.open);
    Ok(Mine {
        open: open.into_iter().map(|r| r.issue).collect(),
        done: done.into_iter().map(|r| r.issue).collect(),
    })
}

#[derive(sqlx::FromRow)]
struct Row {
    open: bool,
    #[sqlx(flatten)]
    issue: MyIssue,
}

#[derive(Template)]
#[template(path = "issues/mine.html", blocks = ["content"])]
struct MinePage {
    chrome: Chrome,
    mine: Mine,
    can_create: bool,
}

/// `/issues` for a requester.
pub async fn page(mut ctx: WebCtx, hx: bool) -> Result<Response, WebError> {
    let mine = mine(&mut ctx.tx, ctx.principal.user_id).await?;
    ctx.tx.commit().await?;
    let page = MinePage {
        chrome: Chrome::new(&ctx.principal, &ctx.csrf, "issues", &ctx.manifest, ctx.now),
        mine,
        can_create: ctx.principal.can(super::perm::ISSUES_CREATE),
    };
    Ok(render_page!(hx, page))
}
