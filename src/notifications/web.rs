//! The notification centre: the bell (unread count, refreshed live), the list, opening one
//! (marks it read), "mark all read", the preferences page and watching an issue.

use askama::Template;
use axum::Form;
use axum::extract::Path;
use axum::response::{Html, IntoResponse, Response};

use super::store::{self, ISSUE_EVENTS, Notification, Preference, Preferences};
use crate::identity::users_api::parse_id;
use crate::issues::store::{self as issues, Scope};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::WebError;
use crate::platform::web::{Chrome, FormValues, Hx, see_other};
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
        chrome: Chrome::new(&ctx.principal, &ctx.csrf, "notifications"),
        notifications,
        unread,
    };
    Ok(render_page!(hx, page))
}

/// Marks it read and goes where it points.
pub async fn open(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let (me, id) = (ctx.principal.user_id, parse_id(&id)?);
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
    preferences: Vec<(Preference, &'static str)>,
    saved: bool,
}

async fn preferences_page(mut ctx: WebCtx, hx: bool, saved: bool) -> Result<Response, WebError> {
    let prefs = store::preferences(&mut ctx.tx, ctx.principal.user_id).await?;
    ctx.tx.commit().await?;
    let preferences = prefs
        .preferences
        .into_iter()
        .map(|p| {
            let label = ISSUE_EVENTS
                .iter()
                .find(|(t, _)| *t == p.event_type)
                .map_or("", |(_, l)| *l);
            (p, label)
        })
        .collect();
    let page = PreferencesPage {
        chrome: Chrome::new(&ctx.principal, &ctx.csrf, "notifications"),
        preferences,
        saved,
    };
    Ok(render_page!(hx, page))
}

pub async fn preferences(ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    preferences_page(ctx, hx, false).await
}

/// A ticked box per event type and channel means "tell me there".
pub async fn save_preferences(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let f = FormValues(pairs);
    let body = Preferences {
        preferences: ISSUE_EVENTS
            .iter()
            .map(|(t, _)| Preference {
                event_category: "issues".into(),
                event_type: t.to_string(),
                in_app: f.has("in_app", t),
                email: f.has("email", t),
            })
            .collect(),
    };
    let (actor, me) = (ctx.actor(), ctx.principal.user_id);
    store::save_preferences(&mut ctx.tx, &actor, me, &body).await?;
    preferences_page(ctx, hx, true).await
}

/// Toggles watching from the issue page.
pub async fn toggle_watch(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    ctx.require("issues:read")?;
    let scope = Scope::of(&mut ctx.tx, &ctx.principal).await?;
    let issue = issues::get(&mut ctx.tx, &scope, parse_id(&id)?).await?;
    let (actor, me) = (ctx.actor(), ctx.principal.user_id);
    let on = !store::watching(&mut ctx.tx, issue.id, me).await?;
    store::watch(&mut ctx.tx, &actor, issue.id, me, on).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, &format!("/issues/{}", issue.id)))
}
