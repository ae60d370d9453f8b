//! The queue pages' shared parts: a queue's address (the filters it keeps, the tab they match,
//! the page's own address for live refreshes) and each person's saved views — named query
//! strings per kind of record (`saved_views.entity_type`), so a view is a shareable URL.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use axum::http::StatusCode;
use axum::response::Response;

use crate::platform::audit::{self, Actor};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::tenancy::TenantTx;
use crate::platform::web::see_other;

/// A queue tab: (key, label, query string).
pub type Tab = (&'static str, &'static str, &'static str);

/// A queue page's address as read from its query.
pub struct Address {
    /// The kept filters (empty values dropped).
    pub f: BTreeMap<String, String>,
    /// The filters as a query string (for sharing, saving and paging links).
    pub query: String,
    /// This page's own address, cursor included: what a live refresh re-fetches.
    pub here: String,
    /// The tab whose query the filters are (the sort direction aside), if any.
    pub tab: &'static str,
    /// What the queue query parses: the filters, `per_page` and the cursor.
    pub params: HashMap<String, String>,
}

/// Reads the address of the queue at `path` (`/issues`) that keeps `keep` and has `tabs`.
pub fn address(
    path: &str,
    q: &HashMap<String, String>,
    keep: &[&str],
    tabs: &[Tab],
    per_page: i64,
) -> Address {
    let f: BTreeMap<String, String> = q
        .iter()
        .filter(|(k, v)| keep.contains(&k.as_str()) && !v.trim().is_empty())
        .map(|(k, v)| (k.clone(), v.trim().to_string()))
        .collect();
    let query = serde_urlencoded::to_string(&f).unwrap_or_default();
    let unordered: BTreeMap<&String, &String> = f.iter().filter(|(k, _)| *k != "order").collect();
    let tab = tabs
        .iter()
        .find(|t| {
            let want: BTreeMap<String, String> =
                serde_urlencoded::from_str(t.2).unwrap_or_default();
            want.iter().collect::<BTreeMap<_, _>>() == unordered
        })
        .map_or("", |t| t.0);
    let mut params: HashMap<String, String> = f.clone().into_iter().collect();
    params.insert("per_page".into(), per_page.to_string());
    let mut here = format!("{path}?{query}");
    if let Some(c) = q.get("cursor").filter(|c| !c.is_empty()) {
        params.insert("cursor".into(), c.clone());
        here.push('&');
        here.push_str(&serde_urlencoded::to_string([("cursor", c)]).unwrap_or_default());
    }
    Address {
        f,
        query,
        here,
        tab,
        params,
    }
}

/// How many of the `narrowing` filters are on, a status other than "open" included (the
/// phone's folded filter form says so, and opens when any is on).
pub fn filters_on(f: &BTreeMap<String, String>, narrowing: &[&str]) -> usize {
    let on = |k: &str| f.get(k).is_some_and(|v| !v.is_empty());
    let status = f
        .get("status")
        .is_some_and(|v| !v.is_empty() && v != "open");
    narrowing.iter().filter(|k| on(k)).count() + usize::from(status)
}

/// A saved view: (id, name, query string).
pub type View = (Uuid, String, String);

/// The person's saved views of `entity` queues, by name.
pub async fn list(tx: &mut TenantTx, user: Uuid, entity: &str) -> Result<Vec<View>, AppError> {
    Ok(sqlx::query_as(
        "SELECT id, name, query FROM saved_views WHERE user_id = $1 AND entity_type = $2 ORDER BY name",
    )
    .bind(user)
    .bind(entity)
    .fetch_all(&mut **tx)
    .await?)
}

/// Saves `query` (only its `keep` parameters) as the person's view `name` (replacing one of
/// that name); returns the kept query string. A missing or over-long name → 422.
pub async fn save(
    tx: &mut TenantTx,
    actor: &Actor,
    user: Uuid,
    entity: &str,
    name: &str,
    query: &str,
    keep: &[&str],
) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::field(
            "name",
            "a view needs a name (up to 100 characters)",
        ));
    }
    let q: BTreeMap<String, String> = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| keep.contains(&k.as_str()))
        .collect();
    let query = serde_urlencoded::to_string(&q).unwrap_or_default();
    let view: Uuid = sqlx::query_scalar(
        "INSERT INTO saved_views (user_id, entity_type, name, query) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, entity_type, name) DO UPDATE SET query = EXCLUDED.query RETURNING id",
    )
    .bind(user)
    .bind(entity)
    .bind(name)
    .bind(&query)
    .fetch_one(&mut **tx)
    .await?;
    audit::record(
        tx,
        actor,
        "save",
        "saved_view",
        view,
        serde_json::json!({"name": name, "query": query}),
    )
    .await?;
    Ok(query)
}

/// Deletes one of the person's own views (another's is not found).
pub async fn delete(
    tx: &mut TenantTx,
    actor: &Actor,
    user: Uuid,
    id: Uuid,
) -> Result<(), AppError> {
    let name: String =
        sqlx::query_scalar("DELETE FROM saved_views WHERE id = $1 AND user_id = $2 RETURNING name")
            .bind(id)
            .bind(user)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(AppError::NotFound)?;
    audit::record(
        tx,
        actor,
        "delete",
        "saved_view",
        id,
        serde_json::json!({"name": name}),
    )
    .await
}

/// A queue's bulk form: which action, its value, the ticked ids and the queue to go back to.
pub struct Bulk {
    pub back: String,
    pub action: String,
    pub value: Option<String>,
    pub ids: Vec<String>,
}

impl Bulk {
    pub fn read(pairs: &[(String, String)]) -> Bulk {
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Bulk {
            back: get("back").unwrap_or_default(),
            action: get("action").unwrap_or_default(),
            value: get("value"),
            ids: pairs
                .iter()
                .filter(|(k, _)| k == "ids")
                .map(|(_, v)| v.clone())
                .collect(),
        }
    }

    /// "1 issue changed." / "3 issues changed." (`noun` singular, `plural`).
    pub fn done(&self, noun: &str, plural: &str) -> String {
        match self.ids.len() {
            1 => format!("1 {noun} changed."),
            n => format!("{n} {plural} changed."),
        }
    }
}

/// A bulk action's refusal for one record: the same error, its message led by the record's
/// number, so the person knows which ticked record stopped the batch.
pub fn about(number: &str, e: AppError) -> AppError {
    match e {
        AppError::Validation { fields, .. } => AppError::field(
            "ids",
            format!(
                "{number}: {}",
                fields.values().cloned().collect::<Vec<_>>().join("; ")
            ),
        ),
        AppError::Conflict { message, .. } => AppError::conflict(format!("{number}: {message}")),
        other => other,
    }
}

/// What a refused bulk action says: the refusal, and that nothing of the batch was kept.
/// `plural` names the records ("issues").
pub fn refusal(refused: crate::platform::forms::Refused, plural: &str) -> String {
    let msg = match (refused.status, refused.notice) {
        // Allowed for some ticked records but not for all.
        (StatusCode::FORBIDDEN, _) => {
            format!("you may not do that to every ticked one of these {plural}")
        }
        (_, Some(n)) => n,
        (_, None) => refused
            .errors
            .0
            .into_values()
            .collect::<Vec<_>>()
            .join("; "),
    };
    format!("{msg} — nothing was changed")
}

/// The "Save view" form of the queue at `path` (`/issues`) over `entity` records: saved, the
/// browser goes to the view; refused (no name), `rerender` shows the queue with the reason.
pub async fn save_page(
    mut ctx: WebCtx,
    hx: bool,
    form: HashMap<String, String>,
    entity: &str,
    path: &str,
    keep: &[&str],
    rerender: impl AsyncFnOnce(
        WebCtx,
        bool,
        HashMap<String, String>,
        Option<(StatusCode, String)>,
    ) -> Result<Response, WebError>,
) -> Result<Response, WebError> {
    let name = form.get("name").cloned().unwrap_or_default();
    let query = form.get("query").cloned().unwrap_or_default();
    let (actor, user) = (ctx.actor(), ctx.principal.user_id);
    match save(&mut ctx.tx, &actor, user, entity, &name, &query, keep).await {
        Ok(kept) => {
            ctx.tx.commit().await?;
            Ok(see_other(hx, &format!("{path}?{kept}")))
        }
        Err(AppError::Validation { fields, .. }) => {
            let q: HashMap<String, String> = serde_urlencoded::from_str(&query).unwrap_or_default();
            let why = fields.into_values().collect::<Vec<_>>().join("; ");
            rerender(ctx, hx, q, Some((StatusCode::UNPROCESSABLE_ENTITY, why))).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The delete button of a saved view on the queue at `path`.
pub async fn delete_page(
    mut ctx: WebCtx,
    hx: bool,
    id: Uuid,
    path: &str,
) -> Result<Response, WebError> {
    let (actor, user) = (ctx.actor(), ctx.principal.user_id);
    delete(&mut ctx.tx, &actor, user, id).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, path))
}
