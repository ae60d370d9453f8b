//! Admin pages for users: list with search, create, edit (roles, status).

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::Query;
use axum::response::Response;

use super::users_api::{CreateUser, UpdateUser, create_user, update_user};
use super::users_store::{self as store, User};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::forms::Refused;
use crate::platform::listing;
use crate::platform::web::PathId;
use crate::platform::web::{Chrome, Hx};
use crate::render_page;

#[derive(Template)]
#[template(path = "identity/users.html", blocks = ["content"])]
struct UsersPage {
    chrome: Chrome,
    users: Vec<User>,
    q: String,
    total: i64,
    can_create: bool,
}

pub async fn list(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::USERS_READ)?;
    let search = q.get("q").cloned().unwrap_or_default();
    let mut query = HashMap::from([("per_page".to_string(), "100".to_string())]);
    if !search.trim().is_empty() {
        query.insert("q".into(), search.clone());
    }
    let params = listing::parse(&store::LIST_SPEC, &query)?;
    let (users, total) = store::list(&mut ctx.tx, &params).await?;
    ctx.tx.commit().await?;
    let can_create = ctx.principal.can(crate::identity::perm::USERS_CREATE);
    Ok(render_page!(
        hx,
        UsersPage {
            chrome: Chrome::new(&ctx.principal, &ctx.csrf, "users", &ctx.manifest, ctx.now),
            users,
            q: search,
            total,
            can_create
        }
    ))
}

#[derive(Template)]
#[template(path = "identity/user_form.html", blocks = ["content"])]
struct UserForm {
    chrome: Chrome,
    user: Option<User>,
    email: String,
    name: String,
    timezone: String,
    phone: String,
    roles: Vec<String>,
    all_roles: Vec<String>,
    errors: crate::platform::web::Errors,
}

async fn role_names(ctx: &mut WebCtx) -> Result<Vec<String>, AppError> {
    Ok(
        sqlx::query_scalar("SELECT name FROM roles ORDER BY is_system DESC, name")
            .fetch_all(&mut *ctx.tx)
            .await?,
    )
}

pub async fn new_form(mut ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::USERS_CREATE)?;
    let all_roles = role_names(&mut ctx).await?;
    ctx.tx.commit().await?;
    let chrome = Chrome::new(&ctx.principal, &ctx.csrf, "users", &ctx.manifest, ctx.now);
    Ok(render_page!(
        hx,
        UserForm {
            chrome,
            user: None,
            email: String::new(),
            name: String::new(),
            timezone: "UTC".into(),
            phone: String::new(),
            roles: vec!["agent".into()],
            all_roles,
            errors: Default::default()
        }
    ))
}

struct Submitted {
    email: String,
    name: String,
    timezone: String,
    phone: String,
    password: String,
    status: String,
    roles: Vec<String>,
}

fn submitted(pairs: Vec<(String, String)>) -> Submitted {
    let mut s = Submitted {
        email: String::new(),
        name: String::new(),
        timezone: String::new(),
        phone: String::new(),
        password: String::new(),
        status: String::new(),
        roles: vec![],
    };
    for (k, v) in pairs {
        match k.as_str() {
            "email" => s.email = v,
            "name" => s.name = v,
            "timezone" => s.timezone = v,
            "phone" => s.phone = v,
            "password" => s.password = v,
            "status" => s.status = v,
            "roles" => s.roles.push(v),
            _ => {}
        }
    }
    s
}

async fn rerender(
    mut ctx: WebCtx,
    hx: bool,
    user: Option<User>,
    s: Submitted,
    refused: Refused,
) -> Result<Response, WebError> {
    let all_roles = role_names(&mut ctx).await?;
    ctx.tx.commit().await?;
    let chrome = Chrome::new(&ctx.principal, &ctx.csrf, "users", &ctx.manifest, ctx.now);
    let page = UserForm {
        chrome,
        user,
        email: s.email,
        name: s.name,
        timezone: s.timezone,
        phone: s.phone,
        roles: s.roles,
        all_roles,
        errors: refused.errors,
    };
    Ok(render_page!(hx, page, refused.status))
}

pub async fn create(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::USERS_CREATE)?;
    let s = submitted(pairs);
    let body = CreateUser {
        email: s.email.clone(),
        name: s.name.clone(),
        password: Some(s.password.clone()).filter(|p| !p.is_empty()),
        roles: Some(s.roles.clone()),
        timezone: Some(s.timezone.clone()).filter(|t| !t.is_empty()),
        phone: Some(s.phone.clone()).filter(|p| !p.trim().is_empty()),
    };
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            create_user(&mut ctx.tx, &slug, &actor, &body).await
        })
        .await?;
    match saved {
        Ok(_) => ctx.saved(hx, "/admin/users").await,
        Err(refused) => rerender(ctx, hx, None, s, refused.notice_at("email")).await,
    }
}

pub async fn edit_form(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::USERS_UPDATE)?;
    let user = store::get(&mut ctx.tx, id).await?;
    let s = Submitted {
        email: user.email.clone(),
        name: user.name.clone(),
        timezone: user.timezone.clone(),
        phone: user.phone.clone().unwrap_or_default(),
        password: String::new(),
        status: user.status.clone(),
        roles: user.roles.clone(),
    };
    rerender(ctx, hx, Some(user), s, Refused::default()).await
}

pub async fn update(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::identity::perm::USERS_UPDATE)?;
    let s = submitted(pairs);
    let body = UpdateUser {
        name: Some(s.name.clone()),
        email: Some(s.email.clone()),
        timezone: Some(s.timezone.clone()),
        phone: Some(Some(s.phone.clone())),
        status: Some(s.status.clone()).filter(|v| !v.is_empty()),
        roles: Some(s.roles.clone()),
    };
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            update_user(&mut ctx.tx, &slug, &actor, id, &body).await
        })
        .await?;
    match saved {
        Ok(_) => ctx.saved(hx, "/admin/users").await,
        Err(refused) => {
            let user = store::get(&mut ctx.tx, id).await?;
            rerender(ctx, hx, Some(user), s, refused.notice_at("email")).await
        }
    }
}
