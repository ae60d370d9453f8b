//! One-click decisions from e-mail. The mail telling an approver that a step waits for them
//! carries a link with a secret made for that approver and that approval. Opening it shows a
//! confirmation page and decides nothing — mail scanners fetch links before people do; only
//! the page's POST decides, as the approver. A token works once, for its own approval and
//! person, and expires after `TTL_HOURS`. Only its hash is stored (`approval_tokens`).

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use domain::approvals::Decision;
use serde::Deserialize;
use uuid::Uuid;

use super::engine;
use crate::platform::audience::MailLink;
use crate::platform::audit::Actor;
use crate::platform::auth::session::AuthSession;
use crate::platform::auth::{RequestMeta, csrf, tokens};
use crate::platform::error::{AppError, WebError};
use crate::platform::state::AppState;
use crate::platform::tenancy::{self, Slug, TenantTx};
use crate::platform::web::{Errors, html};

/// Long enough for someone away for a long weekend; a reminder sends a fresh link.
pub const TTL_HOURS: i64 = 72;

/// The decision link for `user`'s pending approval of the record at the step deciding now,
/// if they have one there.
pub async fn links_for(
    conn: &mut sqlx::PgConnection,
    tenant: &Slug,
    entity_type: &str,
    entity_id: Uuid,
    user: Uuid,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<MailLink>> {
    let approval: Option<Uuid> = sqlx::query_scalar(
        "SELECT a.id FROM approvals a JOIN approval_runs r USING (entity_type, entity_id)
         WHERE a.entity_type = $1 AND a.entity_id = $2 AND a.approver_id = $3
           AND a.status = 'pending' AND r.status = 'pending' AND a.step_number = r.current_step",
    )
    .bind(entity_type)
    .bind(entity_id)
    .bind(user)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(approval) = approval else {
        return Ok(Vec::new());
    };
    let token = format!("{tenant}.{}", tokens::random_secret());
    sqlx::query(
        "INSERT INTO approval_tokens (token_hash, approval_id, user_id, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(tokens::hash_secret(&token))
    .bind(approval)
    .bind(user)
    .bind(now + Duration::hours(TTL_HOURS))
    .execute(&mut *conn)
    .await?;
    Ok(vec![MailLink {
        label: "Approve or reject it here (you confirm on the page)".into(),
        path: format!("/approvals/email?token={token}"),
    }])
}

/// What the page shows.
enum Shown {
    /// The approval, waiting for the approver's choice.
    Ask {
        record: String,
        requester: String,
        step: i32,
        /// What was asked for, as (label, answer).
        details: Vec<(String, String)>,
        comment: String,
    },
    /// The decision was made just now.
    Done { record: String, approved: bool },
    /// Why the link no longer works.
    Refused(String),
}

#[derive(Template)]
#[template(path = "approvals/email.html")]
struct EmailPage {
    csrf: String,
    token: String,
    shown: Shown,
    errors: Errors,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TokenQuery {
    token: String,
}

const UNKNOWN: &str =
    "This link is not valid. Sign in to FireLater and decide from “My approvals”.";

/// The token's tenant and row, or the sentence saying why it does not work.
async fn open(
    state: &AppState,
    token: &str,
) -> Result<Result<(Slug, TenantTx, Token), String>, AppError> {
    let Some(slug) = token.split_once('.').map(|(s, _)| s) else {
        return Ok(Err(UNKNOWN.into()));
    };
    let Some(slug) = tenancy::find_active(&state.pool, slug).await? else {
        return Ok(Err(UNKNOWN.into()));
    };
    let mut tx = tenancy::begin(&state.pool, &slug).await?;
    let row: Option<Token> = sqlx::query_as(
        "SELECT t.approval_id, t.user_id, t.expires_at, t.used_at, u.name, COALESCE(u.timezone, 'UTC') AS timezone,
                u.status = 'active' AS active
         FROM approval_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 FOR UPDATE OF t",
    )
    .bind(tokens::hash_secret(token))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(Err(UNKNOWN.into()));
    };
    let now = state.clock.now();
    if row.used_at.is_some() {
        return Ok(Err(
            "This link was already used: a decision link works once. Sign in to see where the approval stands."
                .into(),
        ));
    }
    if row.expires_at <= now || !row.active {
        return Ok(Err(
            "This link has expired. Sign in to FireLater and decide from “My approvals”.".into(),
        ));
    }
    Ok(Ok((slug, tx, row)))
}

#[derive(sqlx::FromRow)]
struct Token {
    approval_id: Uuid,
    user_id: Uuid,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    name: String,
    timezone: String,
    active: bool,
}

impl Token {
    fn today(&self, now: DateTime<Utc>) -> chrono::NaiveDate {
        let tz: chrono_tz::Tz = self.timezone.parse().unwrap_or(chrono_tz::UTC);
        now.with_timezone(&tz).date_naive()
    }
}

/// "REQ-00012 Laptop", who asked and what, for the page.
async fn describe(
    tx: &mut TenantTx,
    state: &AppState,
    a: &engine::Approval,
) -> Result<(String, String, Vec<(String, String)>), AppError> {
    let subject = state
        .manifest
        .approval_subject(&a.entity_type)
        .ok_or(AppError::NotFound)?;
    let d = subject
        .describe(tx, &[a.entity_id])
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::NotFound)?;
    let details = subject.details(tx, a.entity_id).await?;
    Ok((format!("{} {}", d.number, d.title), d.requester, details))
}

fn page(csrf: String, token: String, shown: Shown, errors: Errors, status: StatusCode) -> Response {
    let page = EmailPage {
        csrf,
        token,
        shown,
        errors,
    };
    html(status, page.render())
}

/// The confirmation page: never decides anything.
pub async fn show(
    State(state): State<AppState>,
    auth: AuthSession,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    let csrf = csrf::token(&auth.session).await?;
    let (_, mut tx, row) = match open(&state, &q.token).await? {
        Ok(found) => found,
        Err(why) => {
            return Ok(page(
                csrf,
                String::new(),
                Shown::Refused(why),
                Errors::default(),
                StatusCode::GONE,
            ));
        }
    };
    let today = row.today(state.clock.now());
    let a = engine::decidable(&mut tx, row.approval_id, row.user_id, today).await?;
    let (record, requester, details) = describe(&mut tx, &state, &a).await?;
    tx.commit().await?;
    let shown = if a.status == "pending" {
        Shown::Ask {
            record,
            requester,
            step: a.step_number,
            details,
            comment: String::new(),
        }
    } else {
        Shown::Refused(format!(
            "{record} is already decided here; nothing more is needed from you."
        ))
    };
    Ok(page(
        csrf,
        q.token,
        shown,
        Errors::default(),
        StatusCode::OK,
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DecideForm {
    token: String,
    decision: String,
    comments: String,
}

/// The approver's choice: uses the token up and decides as them, in one transaction (a refused
/// decision leaves the token unused, so they can correct it and try again).
pub async fn decide(
    State(state): State<AppState>,
    auth: AuthSession,
    meta: RequestMeta,
    Form(form): Form<DecideForm>,
) -> Result<Response, WebError> {
    let csrf = csrf::token(&auth.session).await?;
    let decision = match form.decision.as_str() {
        "approve" => Decision::Approved,
        "reject" => Decision::Rejected,
        _ => return Err(AppError::BadRequest("choose approve or reject".into()).into()),
    };
    let (slug, mut tx, row) = match open(&state, &form.token).await? {
        Ok(found) => found,
        Err(why) => {
            return Ok(page(
                csrf,
                String::new(),
                Shown::Refused(why),
                Errors::default(),
                StatusCode::GONE,
            ));
        }
    };
    let now = state.clock.now();
    let today = row.today(now);
    let a = engine::decidable(&mut tx, row.approval_id, row.user_id, today).await?;
    let (record, requester, details) = describe(&mut tx, &state, &a).await?;
    let actor = Actor {
        user_id: Some(row.user_id),
        name: row.name.clone(),
        ip: meta.ip,
        user_agent: meta.user_agent,
    };
    let decided = engine::decide(
        &mut tx,
        &state.manifest,
        &slug,
        &actor,
        a.id,
        decision,
        Some(&form.comments),
        today,
        now,
    )
    .await;
    match decided {
        Ok(_) => {
            sqlx::query("UPDATE approval_tokens SET used_at = $2 WHERE token_hash = $1")
                .bind(tokens::hash_secret(&form.token))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            let shown = Shown::Done {
                record,
                approved: decision == Decision::Approved,
            };
            Ok(page(
                csrf,
                String::new(),
                shown,
                Errors::default(),
                StatusCode::OK,
            ))
        }
        Err(AppError::Validation { fields, .. }) => {
            drop(tx);
            let shown = Shown::Ask {
                record,
                requester,
                step: a.step_number,
                details,
                comment: form.comments,
            };
            let errors: BTreeMap<String, String> = fields;
            Ok(page(
                csrf,
                form.token,
                shown,
                errors.into(),
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
        Err(AppError::Conflict { message, .. }) => {
            drop(tx);
            Ok(page(
                csrf,
                String::new(),
                Shown::Refused(message),
                Errors::default(),
                StatusCode::CONFLICT,
            ))
        }
        Err(e) => Err(e.into()),
    }
}
