//! Browser sign-in, sign-out, password reset, dashboard and profile.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::auth_api::{complete_reset, request_reset, throttled_login};
use super::users_api::{ChangePassword, UpdateUser, change_password_in, update_user};
use super::users_store;
use crate::platform::auth::session::{AuthSession, Credentials, WebCtx};
use crate::platform::auth::{RequestMeta, csrf};
use crate::platform::error::{AppError, WebError};
use crate::platform::forms::Refused;
use crate::platform::state::AppState;
use crate::platform::toast::Toast;
use crate::platform::web::{Chrome, Hx, html, see_other};
use crate::render_page;

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    csrf: String,
    next: String,
    tenant: String,
    email: String,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginQuery {
    next: String,
    tenant: String,
    reset: Option<String>,
}

/// Only same-site paths: never an open redirect.
fn safe_next(next: &str) -> &str {
    if crate::platform::web::is_local_path(next) {
        next
    } else {
        "/"
    }
}

/// The organization may come from the host when the base URL has a wildcard host
/// (`https://*.firelater.example` → `acme.firelater.example` means `acme`).
fn tenant_from_host(state: &AppState, headers: &axum::http::HeaderMap) -> Option<String> {
    let pattern = state.config.base_url.split("://").nth(1)?;
    let suffix = pattern.strip_prefix("*.")?;
    let host = headers.get(axum::http::header::HOST)?.to_str().ok()?;
    host.strip_suffix(suffix)?
        .strip_suffix('.')
        .map(str::to_string)
}

pub async fn login_page(
    State(state): State<AppState>,
    auth: AuthSession,
    headers: axum::http::HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Result<Response, WebError> {
    if auth.user.is_some() {
        return Ok(see_other(false, safe_next(&q.next)));
    }
    let tenant = if q.tenant.is_empty() {
        tenant_from_host(&state, &headers).unwrap_or_default()
    } else {
        q.tenant
    };
    let page = LoginPage {
        csrf: csrf::token(&auth.session).await?,
        next: q.next,
        tenant,
        email: String::new(),
        error: None,
        notice: q
            .reset
            .map(|_| "Your password was changed. Sign in with the new one.".to_string()),
    };
    Ok(html(StatusCode::OK, page.render()))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    tenant: String,
    email: String,
    password: String,
    next: String,
}

pub async fn login_submit(
    State(state): State<AppState>,
    mut auth: AuthSession,
    meta: RequestMeta,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let creds = Credentials {
        tenant: form.tenant.clone(),
        email: form.email.clone(),
        password: form.password,
    };
    match throttled_login(&state, &meta, &creds).await {
        Ok((slug, user_id)) => {
            let user = auth
                .backend
                .session_user(slug, user_id)
                .await?
                .ok_or(AppError::Unauthorized)?;
            // login() cycles the session id (fixation defence).
            auth.login(&user)
                .await
                .map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))?;
            Ok(see_other(false, safe_next(&form.next)))
        }
        Err(e @ (AppError::InvalidCredentials(_) | AppError::TooManyRequests { .. })) => {
            let page = LoginPage {
                csrf: csrf::token(&auth.session).await?,
                next: form.next,
                tenant: form.tenant,
                email: form.email,
                error: Some(e.public_message()),
                notice: None,
            };
            let mut res = html(e.status(), page.render());
            if let AppError::TooManyRequests { retry_after_secs } = e {
                res.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, retry_after_secs.into());
            }
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn logout(mut auth: AuthSession) -> Result<Response, WebError> {
    auth.logout()
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))?;
    Ok(see_other(false, "/login"))
}

#[derive(Template)]
#[template(path = "auth/forgot.html")]
struct ForgotPage {
    csrf: String,
    sent: bool,
    error: Option<String>,
}

pub async fn forgot_page(auth: AuthSession) -> Result<Response, WebError> {
    Ok(html(
        StatusCode::OK,
        ForgotPage {
            csrf: csrf::token(&auth.session).await?,
            sent: false,
            error: None,
        }
        .render(),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ForgotForm {
    tenant: String,
    email: String,
}

pub async fn forgot_submit(
    State(state): State<AppState>,
    auth: AuthSession,
    meta: RequestMeta,
    Form(form): Form<ForgotForm>,
) -> Result<Response, WebError> {
    let csrf = csrf::token(&auth.session).await?;
    match request_reset(&state, &form.tenant, &form.email, &meta).await {
        Ok(()) => Ok(html(
            StatusCode::OK,
            ForgotPage {
                csrf,
                sent: true,
                error: None,
            }
            .render(),
        )),
        Err(e @ AppError::TooManyRequests { .. }) => Ok(html(
            e.status(),
            ForgotPage {
                csrf,
                sent: false,
                error: Some(e.public_message()),
            }
            .render(),
        )),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "auth/reset.html")]
struct ResetPage {
    csrf: String,
    token: String,
    errors: crate::platform::web::Errors,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ResetQuery {
    token: String,
}

pub async fn reset_page(
    auth: AuthSession,
    Query(q): Query<ResetQuery>,
) -> Result<Response, WebError> {
    let page = ResetPage {
        csrf: csrf::token(&auth.session).await?,
        token: q.token,
        errors: Default::default(),
    };
    Ok(html(StatusCode::OK, page.render()))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ResetForm {
    token: String,
    new_password: String,
}

pub async fn reset_submit(
    State(state): State<AppState>,
    auth: AuthSession,
    meta: RequestMeta,
    Form(form): Form<ResetForm>,
) -> Result<Response, WebError> {
    match complete_reset(&state, &form.token, &form.new_password, &meta).await {
        Ok(()) => Ok(see_other(false, "/login?reset=done")),
        Err(AppError::Validation { fields, .. }) => {
            let page = ResetPage {
                csrf: csrf::token(&auth.session).await?,
                token: form.token,
                errors: fields.into(),
            };
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, page.render()))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "profile.html", blocks = ["content"])]
struct ProfilePage {
    chrome: Chrome,
    email: String,
    name: String,
    timezone: String,
    phone: String,
    errors: crate::platform::web::Errors,
    notice: Option<String>,
}

/// The profile page; after a refused save it shows what was typed (`typed`), else what is
/// stored.
async fn profile(
    mut ctx: WebCtx,
    hx: bool,
    typed: Option<&ProfileForm>,
    refused: Refused,
) -> Result<Response, WebError> {
    let me = users_store::get(&mut ctx.tx, ctx.principal.user_id).await?;
    ctx.tx.commit().await?;
    let (name, timezone, phone) = match typed {
        Some(f) => (f.name.clone(), f.timezone.clone(), f.phone.clone()),
        None => (me.name, me.timezone, me.phone.unwrap_or_default()),
    };
    let page = ProfilePage {
        chrome: Chrome::new(&ctx.principal, &ctx.csrf, "profile", &ctx.manifest, ctx.now),
        email: me.email,
        name,
        timezone,
        phone,
        errors: refused.errors,
        notice: refused.notice,
    };
    Ok(render_page!(hx, page, refused.status))
}

pub async fn profile_page(ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    profile(ctx, hx, None, Refused::default()).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ProfileForm {
    name: String,
    timezone: String,
    phone: String,
}

pub async fn profile_submit(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Form(form): Form<ProfileForm>,
) -> Result<Response, WebError> {
    let body = UpdateUser {
        name: Some(form.name.clone()),
        timezone: Some(form.timezone.clone()),
        phone: Some(Some(form.phone.clone())),
        ..Default::default()
    };
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug, id) = (
                ctx.actor(),
                ctx.principal.slug.clone(),
                ctx.principal.user_id,
            );
            update_user(&mut ctx.tx, &slug, &actor, id, &body).await
        })
        .await?;
    match saved {
        Ok(_) => {
            let done = Toast::success("Profile saved.");
            ctx.saved_with(hx, "/profile", &done).await
        }
        Err(refused) => profile(ctx, hx, Some(&form), refused).await,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
}

pub async fn password_submit(
    mut ctx: WebCtx,
    mut auth: AuthSession,
    Hx(hx): Hx,
    Form(form): Form<PasswordForm>,
) -> Result<Response, WebError> {
    let (id, slug) = (ctx.principal.user_id, ctx.principal.slug.clone());
    let body = ChangePassword {
        current_password: Some(form.current_password),
        new_password: form.new_password,
    };
    let saved = ctx
        .save(async |ctx| {
            let actor = ctx.actor();
            change_password_in(&mut ctx.tx, &slug, &actor, false, id, &body).await
        })
        .await?;
    match saved {
        Ok(()) => {
            let done = Toast::success("Password changed.");
            let response = ctx.saved_with(hx, "/profile", &done).await?;
            // The credential version moved; keep *this* session signed in with the new hash.
            if let Some(user) = auth.backend.session_user(slug, id).await? {
                auth.login(&user)
                    .await
                    .map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))?;
            }
            Ok(response)
        }
        Err(refused) => profile(ctx, hx, None, refused).await,
    }
}
