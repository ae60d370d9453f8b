//! `/admin/integrations`: the provider accounts, a form per type (secrets are write-only: the
//! form says whether each is set and an empty input keeps it), a test send and deletion.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::api::run_test;
use super::store::{self, Integration, IntegrationBody, KINDS, Kind};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::forms::Refused;
use crate::platform::state::AppState;
use crate::platform::web::PathId;
use crate::platform::web::{Chrome, Errors, FormValues, Hx, see_other};
use crate::render_page;

pub struct KindView {
    pub name: &'static str,
    pub label: &'static str,
}

#[derive(Template)]
#[template(path = "integrations/list.html", blocks = ["content"])]
struct ListPage {
    chrome: Chrome,
    integrations: Vec<Integration>,
    kinds: Vec<KindView>,
    can_create: bool,
}

fn kinds() -> Vec<KindView> {
    KINDS
        .iter()
        .map(|k| KindView {
            name: k.name,
            label: k.label,
        })
        .collect()
}

pub fn label_of(kind: &str) -> &'static str {
    store::kind(kind).map_or("Unknown", |k| k.label)
}

pub async fn list(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    Hx(hx): Hx,
) -> Result<Response, WebError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_READ)?;
    let integrations = store::list(&mut ctx.tx, &state.sealer).await?;
    ctx.tx.commit().await?;
    let page = ListPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "integrations",
            &ctx.manifest,
            ctx.now,
        ),
        integrations,
        kinds: kinds(),
        can_create: ctx
            .principal
            .can(crate::integrations::perm::INTEGRATIONS_CREATE),
    };
    Ok(render_page!(hx, page))
}

/// One input of the form.
pub struct Field {
    /// `config.host`, `secrets.bot_token`.
    pub name: String,
    pub label: String,
    pub value: String,
    pub placeholder: String,
    pub required: bool,
    pub secret: bool,
    /// For a secret: whether a value is stored.
    pub set: bool,
}

#[derive(Template)]
#[template(path = "integrations/form.html", blocks = ["content"])]
struct FormPage {
    chrome: Chrome,
    integration: Option<Integration>,
    kind: &'static str,
    kind_label: &'static str,
    fields: Vec<Field>,
    f: FormValues,
    errors: Errors,
    notice: Option<String>,
    can_save: bool,
    can_delete: bool,
}

/// How a setting is named on the form.
fn label(name: &str) -> String {
    match name {
        "base_url" => "Base URL".into(),
        "url" => "URL".into(),
        "webhook_url" => "Webhook URL".into(),
        "tls" => "TLS (none, starttls or tls)".into(),
        "account_sid" => "Account SID".into(),
        "from" => "Sender (From)".into(),
        other => {
            let spaced = other.replace('_', " ");
            let mut c = spaced.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
    }
}

fn fields(k: &Kind, i: Option<&Integration>, f: &FormValues) -> Vec<Field> {
    let mut out: Vec<Field> = k
        .config
        .iter()
        .map(|(n, required, default)| {
            let name = format!("config.{n}");
            Field {
                value: f.get(&name).to_string(),
                label: label(n),
                placeholder: default.unwrap_or_default().to_string(),
                required: *required,
                secret: false,
                set: false,
                name,
            }
        })
        .collect();
    out.extend(k.secrets.iter().map(|n| Field {
        name: format!("secrets.{n}"),
        label: label(n),
        value: String::new(),
        placeholder: String::new(),
        required: false,
        secret: true,
        set: i.is_some_and(|i| i.secrets_set.get(*n).copied().unwrap_or(false)),
    }));
    out
}

fn values_of(i: &Integration) -> FormValues {
    let mut f = FormValues::default();
    f.set("name", &i.name);
    f.set("description", i.description.clone().unwrap_or_default());
    f.set("status", &i.status);
    if let Some(config) = i.config.as_object() {
        for (k, v) in config {
            f.set(&format!("config.{k}"), v.as_str().unwrap_or_default());
        }
    }
    f
}

struct Shown {
    integration: Option<Integration>,
    kind: &'static Kind,
    f: FormValues,
    errors: Errors,
    notice: Option<String>,
    status: StatusCode,
}

fn shown(integration: Option<Integration>, kind: &'static Kind, f: FormValues) -> Shown {
    Shown {
        integration,
        kind,
        f,
        errors: Errors::default(),
        notice: None,
        status: StatusCode::OK,
    }
}

async fn form(ctx: WebCtx, hx: bool, s: Shown) -> Result<Response, WebError> {
    ctx.tx.commit().await?;
    let can_save = ctx.principal.can(if s.integration.is_some() {
        crate::integrations::perm::INTEGRATIONS_UPDATE
    } else {
        crate::integrations::perm::INTEGRATIONS_CREATE
    });
    let page = FormPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "integrations",
            &ctx.manifest,
            ctx.now,
        ),
        fields: fields(s.kind, s.integration.as_ref(), &s.f),
        kind: s.kind.name,
        kind_label: s.kind.label,
        integration: s.integration,
        f: s.f,
        errors: s.errors,
        notice: s.notice,
        can_save,
        can_delete: ctx
            .principal
            .can(crate::integrations::perm::INTEGRATIONS_DELETE),
    };
    Ok(render_page!(hx, page, s.status))
}

#[derive(serde::Deserialize)]
pub struct NewQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
}

pub async fn new(ctx: WebCtx, Hx(hx): Hx, Query(q): Query<NewQuery>) -> Result<Response, WebError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_CREATE)?;
    let kind = store::kind(q.kind.as_deref().unwrap_or("slack"))
        .ok_or_else(|| AppError::field("type", "is not an integration type"))?;
    form(ctx, hx, shown(None, kind, FormValues::default())).await
}

pub async fn show(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
) -> Result<Response, WebError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_READ)?;
    let i = store::get(&mut ctx.tx, &state.sealer, id).await?;
    let kind = store::kind(&i.kind).ok_or(AppError::NotFound)?;
    let f = values_of(&i);
    form(ctx, hx, shown(Some(i), kind, f)).await
}

/// Empty secret inputs keep the stored value; "clear" boxes remove one.
fn body_of(f: &FormValues, kind: &Kind) -> IntegrationBody {
    let config: Map<String, Value> = kind
        .config
        .iter()
        .filter_map(|(n, _, _)| {
            let v = f.get(format!("config.{n}")).trim().to_string();
            (!v.is_empty()).then(|| (n.to_string(), json!(v)))
        })
        .collect();
    let mut secrets = Map::new();
    for n in kind.secrets {
        let v = f.get(format!("secrets.{n}")).trim();
        if !v.is_empty() {
            secrets.insert(n.to_string(), json!(v));
        } else if f.on(format!("clear.{n}")) {
            secrets.insert(n.to_string(), Value::Null);
        }
    }
    IntegrationBody {
        kind: kind.name.to_string(),
        name: f.get("name").to_string(),
        description: Some(f.get("description").trim().to_string()).filter(|d| !d.is_empty()),
        config: Some(config),
        secrets: Some(secrets),
        status: Some(if f.get("status").is_empty() {
            "active".into()
        } else {
            f.get("status").to_string()
        }),
    }
}

/// The form again with what was typed and why it was refused (422, or 409 for a name in use).
async fn refused(
    ctx: WebCtx,
    hx: bool,
    integration: Option<Integration>,
    kind: &'static Kind,
    f: FormValues,
    r: Refused,
) -> Result<Response, WebError> {
    let r = r.notice_at("name");
    let s = Shown {
        status: r.status,
        errors: r.errors,
        ..shown(integration, kind, f)
    };
    form(ctx, hx, s).await
}

pub async fn create(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_CREATE)?;
    let f = FormValues(pairs);
    let kind = store::kind(f.get("type"))
        .ok_or_else(|| AppError::field("type", "is not an integration type"))?;
    let body = body_of(&f, kind);
    let made = ctx
        .save(async |ctx| {
            let actor = ctx.actor();
            store::create(&mut ctx.tx, &actor, &state.sealer, &state.outbound, &body).await
        })
        .await?;
    match made {
        Ok(i) => {
            ctx.saved(hx, &format!("/admin/integrations/{}", i.id))
                .await
        }
        Err(r) => refused(ctx, hx, None, kind, f, r).await,
    }
}

pub async fn update(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_UPDATE)?;
    let before = store::get(&mut ctx.tx, &state.sealer, id).await?;
    let kind = store::kind(&before.kind).ok_or(AppError::NotFound)?;
    let f = FormValues(pairs);
    let body = body_of(&f, kind);
    let saved = ctx
        .save(async |ctx| {
            let (actor, sealer, outbound) = (ctx.actor(), &state.sealer, &state.outbound);
            store::update(&mut ctx.tx, &actor, sealer, outbound, id, &body).await
        })
        .await?;
    match saved {
        Ok(_) => ctx.saved(hx, &format!("/admin/integrations/{id}")).await,
        Err(r) => refused(ctx, hx, Some(before), kind, f, r).await,
    }
}

pub async fn test(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_UPDATE)?;
    let to = Some(FormValues(pairs).get("to").to_string());
    let (user, now) = (ctx.principal.user_id, ctx.now);
    let notice = match run_test(&state, &mut ctx.tx, id, user, to, now).await {
        Ok(r) if r.ok => "Test sent.".to_string(),
        Ok(r) => format!("Test failed: {}", r.error.unwrap_or_default()),
        Err(AppError::Validation { fields, .. }) => format!(
            "Test not sent: {}",
            fields.into_values().collect::<Vec<_>>().join("; ")
        ),
        Err(e) => return Err(e.into()),
    };
    let i = store::get(&mut ctx.tx, &state.sealer, id).await?;
    let kind = store::kind(&i.kind).ok_or(AppError::NotFound)?;
    let f = values_of(&i);
    let s = Shown {
        notice: Some(notice),
        ..shown(Some(i), kind, f)
    };
    form(ctx, hx, s).await
}

pub async fn delete(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
) -> Result<Response, WebError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_DELETE)?;
    let actor = ctx.actor();
    store::delete(&mut ctx.tx, &actor, &state.sealer, id).await?;
    ctx.tx.commit().await?;
    Ok(see_other(hx, "/admin/integrations"))
}
