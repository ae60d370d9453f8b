//! What the jobs page shows and does: queue depth per task, failed jobs, retry and discard
//! (in the tenant transaction: row-level security shows a tenant only its own jobs).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

/// Queue depth and failures for the admin page and `/v1/jobs`.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TaskDepth {
    pub task: String,
    pub pending: i64,
    pub running: i64,
    pub failed: i64,
}

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct FailedJob {
    pub id: i64,
    pub task: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// Queue depth of one tenant's jobs (runs in the tenant transaction: RLS shows only its own).
pub async fn depth(conn: &mut PgConnection) -> anyhow::Result<Vec<TaskDepth>> {
    Ok(sqlx::query_as(
        "SELECT task,
                COUNT(*) FILTER (WHERE status = 'pending' AND locked_at IS NULL) AS pending,
                COUNT(*) FILTER (WHERE locked_at IS NOT NULL) AS running,
                COUNT(*) FILTER (WHERE status = 'failed') AS failed
         FROM public.jobs GROUP BY task ORDER BY task",
    )
    .fetch_all(conn)
    .await?)
}

pub async fn failed(conn: &mut PgConnection) -> anyhow::Result<Vec<FailedJob>> {
    Ok(sqlx::query_as(
        "SELECT id, task, attempts, last_error, updated_at FROM public.jobs WHERE status = 'failed' ORDER BY updated_at DESC LIMIT 200",
    )
    .fetch_all(conn)
    .await?)
}

/// Puts a failed job back in the queue. Returns false when there is no such failed job.
pub async fn retry(conn: &mut PgConnection, id: i64) -> anyhow::Result<bool> {
    Ok(sqlx::query(
        "UPDATE public.jobs SET status = 'pending', attempts = 0, run_at = NOW(), last_error = NULL, updated_at = NOW()
         WHERE id = $1 AND status = 'failed'",
    )
    .bind(id)
    .execute(conn)
    .await?
    .rows_affected()
        > 0)
}

pub async fn discard(conn: &mut PgConnection, id: i64) -> anyhow::Result<bool> {
    Ok(
        sqlx::query("DELETE FROM public.jobs WHERE id = $1 AND status = 'failed'")
            .bind(id)
            .execute(conn)
            .await?
            .rows_affected()
            > 0,
    )
}
