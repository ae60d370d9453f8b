//! A bundle's page in the portal: the shared questions once, then each item that applies with
//! its own remaining questions and, for optional ones, a box to untick. As with an item's
//! form, the server alone evaluates: `evaluate` re-renders the fields for the answers so far.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::catalog::answers::{self, Context};
use domain::catalog::bundles;
use domain::catalog::conditions::Answers;
use domain::catalog::schema::{self, FormSchema};
use uuid::Uuid;

use super::bundles::{Bundle, get};
use super::form::{self, FormView};
use super::perm::CATALOG_READ;
use super::portal::{Accepted, choose_again, read_form, store_files, take_files};
use super::store::{self, Viewer};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::state::AppState;
use crate::platform::tenancy::{self, TenantTx};
use crate::platform::web::{Chrome, Hx, PathId, html, see_other};
use crate::render_page;
use crate::requests::actions::{SubmitBody, Submitter};

pub struct ItemBlock {
    pub id: Uuid,
    pub name: String,
    pub quantity: i32,
    pub optional: bool,
    pub included: bool,
    /// The item's questions not asked above; `None` when it cannot be requested now.
    pub form: Option<FormView>,
}

#[derive(Template)]
#[template(path = "catalog/bundle.html", blocks = ["content", "fields"])]
pub struct BundlePage {
    pub chrome: Chrome,
    pub bundle: Bundle,
    pub description_html: String,
    pub questions: FormView,
    pub items: Vec<ItemBlock>,
    pub on_behalf: Vec<(String, String)>,
    pub requested_for: String,
    pub notice: Option<String>,
    pub top_errors: BTreeMap<String, String>,
    /// Some question takes files: the form is sent as multipart.
    pub has_files: bool,
}

/// The bundle's questions and the published forms of its items (`None`: not requestable).
struct Forms {
    bundle: Bundle,
    questions: FormSchema,
    items: Vec<bundles::BundleItem>,
    schemas: Vec<Option<FormSchema>>,
}

async fn forms(tx: &mut TenantTx, id: Uuid, user: Uuid) -> Result<Forms, AppError> {
    let bundle = get(tx, id, false).await?;
    let (questions, items) = bundle.rules();
    let mut schemas = Vec::new();
    for it in &items {
        let loaded = match store::item(tx, it.item_id, Viewer::Requester(user)).await {
            Ok(i) => match i.published_version {
                Some(v) => schema::parse(&store::version(tx, i.id, v).await?.form_schema).ok(),
                None => None,
            },
            Err(AppError::NotFound) => None,
            Err(e) => return Err(e),
        };
        schemas.push(loaded);
    }
    Ok(Forms {
        bundle,
        questions,
        items,
        schemas,
    })
}

impl Forms {
    /// Every field of the bundle's questions and its items' forms, each id once (a shared id
    /// is one question).
    fn fields(&self) -> Vec<&schema::Field> {
        let mut seen = BTreeSet::new();
        std::iter::once(&self.questions)
            .chain(self.schemas.iter().flatten())
            .flat_map(|s| s.fields.iter())
            .filter(|f| seen.insert(f.id.clone()))
            .collect()
    }
}

/// All answers in the posted form, read by each form's own types.
fn answers_of(f: &Forms, pairs: &[(String, String)]) -> Answers {
    let mut all = answers::coerce_form(&f.questions, pairs);
    for s in f.schemas.iter().flatten() {
        for (k, v) in answers::coerce_form(s, pairs) {
            all.entry(k).or_insert(v);
        }
    }
    all
}

fn unticked(f: &Forms, pairs: Option<&[(String, String)]>) -> BTreeSet<Uuid> {
    let Some(pairs) = pairs else {
        return BTreeSet::new();
    };
    f.items
        .iter()
        .filter(|it| it.optional)
        .filter(|it| {
            !pairs
                .iter()
                .any(|(k, v)| k == "include" && *v == it.item_id.to_string())
        })
        .map(|it| it.item_id)
        .collect()
}

#[expect(clippy::too_many_arguments, reason = "the page's parts")]
async fn view(
    ctx: &mut WebCtx,
    f: Forms,
    answers: &Answers,
    off: &BTreeSet<Uuid>,
    errors: BTreeMap<String, String>,
    requested_for: String,
    with_choices: bool,
    notice: Option<String>,
) -> Result<BundlePage, AppError> {
    let fctx = Context {
        today: ctx.principal.today(ctx.now),
        requester: ctx.principal.user_id,
    };
    let has_files = f.fields().iter().any(|x| x.kind == schema::FieldType::File);
    let questions = form::view(&mut ctx.tx, &f.questions, answers, &errors, fctx).await?;
    let checked = answers::check(&f.questions, answers, fctx, false);
    let mut asked: BTreeSet<String> = f.questions.fields.iter().map(|q| q.id.clone()).collect();
    let mut items = Vec::new();
    for (i, it) in f.items.iter().enumerate() {
        if !bundles::applies(&f.questions, it, &checked.values, fctx.today) {
            continue;
        }
        let included = !(it.optional && off.contains(&it.item_id));
        let name = f
            .bundle
            .items
            .iter()
            .find(|e| e.item_id == it.item_id)
            .map(|e| e.item_name.clone())
            .unwrap_or_default();
        let form = match &f.schemas[i] {
            Some(s) => {
                let mut v = form::view(&mut ctx.tx, s, answers, &errors, fctx).await?;
                for sec in &mut v.sections {
                    sec.fields.retain(|fv| !asked.contains(&fv.id));
                }
                v.sections.retain(|sec| !sec.fields.is_empty());
                asked.extend(s.fields.iter().map(|x| x.id.clone()));
                Some(v)
            }
            None => None,
        };
        items.push(ItemBlock {
            id: it.item_id,
            name,
            quantity: it.quantity,
            optional: it.optional,
            included,
            form,
        });
    }
    let on_behalf = if with_choices {
        crate::platform::web::choices(
            &mut ctx.tx,
            "SELECT id, name FROM users WHERE status = 'active' ORDER BY name LIMIT 500",
        )
        .await?
    } else {
        Vec::new()
    };
    let top_errors = errors
        .into_iter()
        .filter(|(k, _)| !asked.contains(k))
        .collect();
    Ok(BundlePage {
        chrome: Chrome::new(&ctx.principal, &ctx.csrf, "catalog", &ctx.manifest, ctx.now),
        description_html: crate::platform::markdown::render(
            f.bundle.description.as_deref().unwrap_or_default(),
        ),
        bundle: f.bundle,
        questions,
        items,
        on_behalf,
        requested_for,
        notice,
        top_errors,
        has_files,
    })
}

pub async fn show(mut ctx: WebCtx, Hx(hx): Hx, PathId(id): PathId) -> Result<Response, WebError> {
    ctx.require(CATALOG_READ)?;
    let f = forms(&mut ctx.tx, id, ctx.principal.user_id).await?;
    let mut initial = answers::initial(&f.questions);
    for s in f.schemas.iter().flatten() {
        for (k, v) in answers::initial(s) {
            initial.entry(k).or_insert(v);
        }
    }
    let me = ctx.principal.user_id.to_string();
    let page = view(
        &mut ctx,
        f,
        &initial,
        &BTreeSet::new(),
        BTreeMap::new(),
        me,
        true,
        None,
    )
    .await?;
    ctx.tx.commit().await?;
    Ok(render_page!(hx, page))
}

fn pair(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The fields again for the answers so far.
pub async fn evaluate(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    PathId(id): PathId,
    req: Request,
) -> Result<Response, WebError> {
    ctx.require(CATALOG_READ)?;
    let (pairs, _) = read_form(&state, req).await?;
    let f = forms(&mut ctx.tx, id, ctx.principal.user_id).await?;
    let answers = answers_of(&f, &pairs);
    let off = unticked(&f, Some(&pairs));
    let me = ctx.principal.user_id.to_string();
    let requested_for = pair(&pairs, "requested_for_id").unwrap_or(me);
    let page = view(
        &mut ctx,
        f,
        &answers,
        &off,
        BTreeMap::new(),
        requested_for,
        false,
        None,
    )
    .await?;
    ctx.tx.commit().await?;
    Ok(html(StatusCode::OK, page.as_fields().render()))
}

/// Submits the bundle: a parent request and one per chosen item, or the page again with the
/// errors in place (422). Files go to the request whose form asks for them: the parent for a
/// bundle question, else every child whose item has the field.
pub async fn submit(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    req: Request,
) -> Result<Response, WebError> {
    ctx.require(crate::requests::perm::REQUESTS_CREATE)?;
    let (pairs, uploads) = read_form(&state, req).await?;
    let f = forms(&mut ctx.tx, id, ctx.principal.user_id).await?;
    let answers = answers_of(&f, &pairs);
    let off = unticked(&f, Some(&pairs));
    let me = ctx.principal.user_id.to_string();
    let requested_for = pair(&pairs, "requested_for_id").unwrap_or(me);
    let mut errors = BTreeMap::new();
    let (files, accepted) = take_files(f.fields().into_iter(), &uploads, &mut errors)?;
    let requested_for_id = match requested_for.parse::<Uuid>() {
        Ok(u) => Some(u),
        Err(_) => {
            errors.insert(
                "requested_for_id".into(),
                "Choose someone from the list.".into(),
            );
            None
        }
    };
    if errors.is_empty() {
        let body = SubmitBody {
            bundle_id: Some(id),
            form_data: answers.clone(),
            requested_for_id,
            exclude_items: off.iter().copied().collect(),
            ..Default::default()
        };
        let who = Submitter {
            user: ctx.principal.user_id,
            today: ctx.principal.today(ctx.now),
            now: ctx.now,
            api: false,
            files,
        };
        tenancy::savepoint(&mut ctx.tx).await?;
        let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
        let done = async {
            let r =
                crate::requests::actions::submit(&mut ctx.tx, &slug, &actor, &who, &body).await?;
            let asks = |s: &FormSchema, field: &str| s.field(field).is_some();
            let mine = |field: &str| asks(&f.questions, field);
            let parents: Vec<&Accepted> = accepted.iter().filter(|a| mine(&a.0)).collect();
            store_files(&mut ctx.tx, &state, &slug, actor.user_id, r.id, &parents).await?;
            for child in &r.children {
                let Some(i) = f
                    .items
                    .iter()
                    .position(|it| Some(it.item_id) == child.catalog_item_id)
                else {
                    continue;
                };
                let Some(s) = &f.schemas[i] else { continue };
                let theirs: Vec<&Accepted> = accepted
                    .iter()
                    .filter(|a| !mine(&a.0) && asks(s, &a.0))
                    .collect();
                store_files(&mut ctx.tx, &state, &slug, actor.user_id, child.id, &theirs).await?;
            }
            Ok::<_, AppError>(r)
        }
        .await;
        match done {
            Ok(r) => {
                ctx.tx.commit().await?;
                return Ok(see_other(hx, &format!("/requests/{}", r.id)));
            }
            Err(AppError::Validation { fields, .. }) => {
                tenancy::rollback_to_savepoint(&mut ctx.tx).await?;
                for (k, v) in fields {
                    errors.insert(k.strip_prefix("form_data.").unwrap_or(&k).to_string(), v);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    choose_again(f.fields().into_iter(), &uploads, &mut errors);
    let n = errors.len();
    let notice = Some(if n == 1 {
        "One answer needs attention; it is marked below.".to_string()
    } else {
        format!("{n} answers need attention; they are marked below.")
    });
    let page = view(
        &mut ctx,
        f,
        &answers,
        &off,
        errors,
        requested_for,
        true,
        notice,
    )
    .await?;
    ctx.tx.commit().await?;
    Ok(render_page!(hx, page, StatusCode::UNPROCESSABLE_ENTITY))
}
