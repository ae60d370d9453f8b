//! The notification centre: the bell (unread count, refreshed live), the list, opening one
//! (marks it read), "mark all read", the preferences page and watching an issue.

use askama::Template;
use axum::Form;
use axum::response::{Html, IntoResponse, Response};

use super::store::{self, Notification, Preference, Preferences, QuietHours};
use crate::issues::store::{self as issues, Scope};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::web::PathId;
use crate::platform::web::{Chrome, Errors, FormValues, Hx, see_other};
use crate::render_page;

#[derive(Template)]
#[template(path = "notifications/bell.html")]
struct Bell {
    unread: i64,
}

/// The header's bell: loaded with every page and again on each `notification` signal.
pub async fn bell(mut ctx: WebCtx) -> Result<Response, WebError> {
    let unread = store::unread(&mut ctx.tx, ctx.principal.user_id).await?;
    ctx.tx.commit().await?;
    let body = askama::Template::render(&Bell { unread }).map_err(anyhow::Error::from)?;
    Ok(([("cache-control", "no-store")], Html(body)).into_response())
}

#[derive(Template)]
#[template(path = "notifications/list.html", blocks = ["content"])]
struct ListPage {
    chrome: Chrome,
    notifications: Vec<Notification>,
    unread: i64,
}

pub async fn list(mut ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    let me = ctx.principal.user_id;
    let notifications = store::inbox(&mut ctx.tx, me, false).await?;
    let unread = store::unread(&mut ctx.tx, me).await?;
    ctx.tx.commit().await?;
    let page = ListPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "notifications",
            &ctx.manifest,
            ctx.now,
        ),
        notifications,
        unread,
    };
    Ok(render_page!(hx, page))
}

/// Marks it read and goes where it points.
pub async fn open(mut ctx: WebCtx, Hx(hx): Hx, PathId(id): PathId) -> Result<Response, WebError> {
    let (me, id) = (ctx.principal.user_id, id);
    store::mark_read(&mut ctx.tx, me, id, ctx.now).await?;
    let link: Option<String> =
        sqlx::query_scalar("SELECT link FROM notifications WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(me)
            .fetch_one(&mut *ctx.tx)
            .await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, link.as_deref().unwrap_or("/notifications")))
}

pub async fn read_all(mut ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    store::mark_all_read(&mut ctx.tx, ctx.principal.user_id, ctx.now).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, "/notifications"))
}

#[derive(Template)]
#[template(path = "notifications/preferences.html", blocks = ["content"])]
struct PreferencesPage {
    chrome: Chrome,
    /// Each preference, the event's full name (the form's value) and "an issue was raised".
    preferences: Vec<(Preference, String, String)>,
    /// The stored periods plus empty rows to add more.
    quiet: Vec<QuietHours>,
    phone: String,
    slack_user_id: String,
    errors: Errors,
    saved: bool,
}

impl PreferencesPage {
    fn day_is(&self, q: &QuietHours, d: &i32) -> bool {
        q.day_of_week == Some(*d)
    }
}

/// The page; after a refused save, `submitted` re-shows what was typed beside the errors.
async fn preferences_page(
    mut ctx: WebCtx,
    hx: bool,
    saved: bool,
    submitted: Option<(Preferences, Errors)>,
) -> Result<Response, WebError> {
    let stored = store::preferences(&mut ctx.tx, &ctx.manifest, ctx.principal.user_id).await?;
    ctx.tx.commit().await?;
    let (prefs, errors) = match submitted {
        Some((p, e)) => (p, e),
        None => (stored, Errors::default()),
    };
    let preferences = prefs
        .preferences
        .into_iter()
        .filter_map(|p| {
            let k = super::topics::in_category(&ctx.manifest, &p.event_category, &p.event_type)?;
            let when = format!("{} {}", k.audience.noun(), k.topic.verb);
            Some((p, k.name(), when))
        })
        .collect();
    let mut quiet = prefs.quiet_hours.unwrap_or_default();
    for _ in 0..2 {
        quiet.push(QuietHours {
            day_of_week: None,
            start: String::new(),
            end: String::new(),
            timezone: None,
            exceptions: Vec::new(),
        });
    }
    let status = errors.status();
    let page = PreferencesPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "notifications",
            &ctx.manifest,
            ctx.now,
        ),
        preferences,
        quiet,
        phone: prefs.phone.unwrap_or_default(),
        slack_user_id: prefs.slack_user_id.unwrap_or_default(),
        errors,
        saved,
    };
    Ok(render_page!(hx, page, status))
}

pub async fn preferences(ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    preferences_page(ctx, hx, false, None).await
}

/// Quiet periods as the form lists them: one row each (`quiet_day`, `quiet_start`, `quiet_end`,
/// `quiet_exceptions`), empty rows skipped.
fn quiet_of(f: &FormValues) -> Vec<QuietHours> {
    let days = f.all("quiet_day");
    let starts = f.all("quiet_start");
    let ends = f.all("quiet_end");
    let exceptions = f.all("quiet_exceptions");
    starts
        .iter()
        .enumerate()
        .filter(|(i, s)| !s.trim().is_empty() || ends.get(*i).is_some_and(|e| !e.trim().is_empty()))
        .map(|(i, start)| QuietHours {
            day_of_week: days.get(i).and_then(|d| d.parse().ok()),
            start: start.clone(),
            end: ends.get(i).cloned().unwrap_or_default(),
            timezone: None,
            exceptions: exceptions
                .get(i)
                .map(|e| {
                    e.split(',')
                        .map(|x| x.trim().to_string())
                        .filter(|x| !x.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// A ticked box per event type and channel means "tell me there".
pub async fn save_preferences(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let f = FormValues(pairs);
    let body = Preferences {
        preferences: super::topics::all(&ctx.manifest)
            .iter()
            .map(|k| {
                let t = k.name();
                Preference {
                    event_category: k.category().into(),
                    event_type: k.event().into(),
                    in_app: f.has("in_app", &t),
                    email: f.has("email", &t),
                    sms: f.has("sms", &t),
                    slack: f.has("slack", &t),
                    quiet_hours: !f.has("through_quiet", &t),
                    digest: f.has("digest", &t),
                }
            })
            .collect(),
        quiet_hours: Some(quiet_of(&f)),
        phone: Some(f.get("phone").to_string()),
        slack_user_id: Some(f.get("slack_user_id").to_string()),
    };
    let (actor, me) = (ctx.actor(), ctx.principal.user_id);
    match store::save_preferences(&mut ctx.tx, &ctx.manifest, &actor, me, &body).await {
        Ok(_) => preferences_page(ctx, hx, true, None).await,
        Err(AppError::Validation { fields, .. }) => {
            // Quiet-hour rows are one input group each: their errors show under the table.
            let errors = fields
                .into_iter()
                .map(|(k, v)| match k.strip_prefix("quiet_hours[") {
                    Some(rest) => {
                        let row = rest.split(']').next().unwrap_or("0");
                        let n = row.parse::<usize>().unwrap_or(0) + 1;
                        ("quiet_hours".to_string(), format!("period {n}: {v}"))
                    }
                    None => (k, v),
                })
                .collect();
            // Validation comes before any write, so the transaction holds nothing to undo.
            preferences_page(ctx, hx, false, Some((body, Errors(errors)))).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Toggles watching from the issue page.
pub async fn toggle_watch(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
) -> Result<Response, WebError> {
    ctx.require(crate::issues::perm::ISSUES_READ)?;
    let scope = Scope::of(&mut ctx.tx, &ctx.principal).await?;
    let issue = issues::get(&mut ctx.tx, &scope, id).await?;
    let (actor, me) = (ctx.actor(), ctx.principal.user_id);
    let on = !store::watching(&mut ctx.tx, issue.id, me).await?;
    store::watch(&mut ctx.tx, &actor, issue.id, me, on).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, &format!("/issues/{}", issue.id)))
}
