//! The requester portal: categories, search and item cards; an item's page renders its
//! published form. While the requester types, htmx posts the answers to `evaluate` and morphs
//! in the fields the conditions now show (focus stays where it is); submitting checks every
//! answer on the server and shows errors in place, keeping what was typed.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use domain::catalog::answers::{self, Context};
use domain::catalog::conditions::Answers;
use domain::catalog::schema::{self, FieldType, FormSchema};
use serde_json::{Value, json};
use uuid::Uuid;

use super::form::{self, FormView};
use super::perm::{CATALOG_MANAGE, CATALOG_READ};
use super::store::{self, Category, Item, Viewer};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::listing;
use crate::platform::state::AppState;
use crate::platform::tenancy;
use crate::platform::web::{Chrome, Hx, PathId, Upload, html, read_multipart, see_other};
use crate::render_page;
use crate::requests::actions::{SubmitBody, Submitter};

#[derive(Template)]
#[template(path = "catalog/portal.html", blocks = ["content"])]
struct IndexPage {
    chrome: Chrome,
    categories: Vec<Category>,
    items: Vec<Item>,
    bundles: Vec<super::bundles::Bundle>,
    category: Option<Uuid>,
    q: String,
    can_manage: bool,
}

impl IndexPage {
    fn is_current(&self, id: &Uuid) -> bool {
        self.category == Some(*id)
    }

    /// The item's icon, else its category's.
    fn icon_of<'a>(&'a self, i: &'a Item) -> Option<&'a str> {
        i.icon.as_deref().or_else(|| {
            self.categories
                .iter()
                .find(|c| Some(c.id) == i.category_id)
                .and_then(|c| c.icon.as_deref())
        })
    }
}

pub async fn index(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, WebError> {
    ctx.require(CATALOG_READ)?;
    let text = q.get("q").map(|s| s.trim().to_string()).unwrap_or_default();
    let category = q.get("category").and_then(|c| c.parse::<Uuid>().ok());
    let mut query = HashMap::from([("per_page".to_string(), "100".to_string())]);
    if !text.is_empty() {
        query.insert("q".into(), text.clone());
    }
    if let Some(c) = category {
        query.insert("category_id".into(), c.to_string());
    }
    let params = listing::parse(&store::ITEM_LIST, &query)?;
    // The portal shows what requesters see, for managers too.
    let viewer = Viewer::Requester(ctx.principal.user_id);
    let (items, _) = store::list_items(&mut ctx.tx, &params, viewer).await?;
    let mut categories = store::categories(&mut ctx.tx).await?;
    categories.retain(|c| c.status == "active" && c.items > 0);
    let mut bundles = super::bundles::list(&mut ctx.tx, false).await?;
    let words = text.to_lowercase();
    bundles.retain(|b| {
        category.is_none_or(|c| b.category_id == Some(c))
            && (words.is_empty()
                || b.name.to_lowercase().contains(&words)
                || b.short_desc
                    .as_deref()
                    .unwrap_or_default()
                    .to_lowercase()
                    .contains(&words))
    });
    ctx.tx.commit().await?;
    let page = IndexPage {
        chrome: Chrome::new(&ctx.principal, &ctx.csrf, "catalog", &ctx.manifest, ctx.now),
        categories,
        items,
        bundles,
        category,
        q: text,
        can_manage: ctx.principal.can(CATALOG_MANAGE),
    };
    Ok(render_page!(hx, page))
}

#[derive(Template)]
#[template(path = "catalog/item.html", blocks = ["content", "fields"])]
pub struct ItemPage {
    pub chrome: Chrome,
    pub item: Item,
    pub form: FormView,
    pub description_html: String,
    pub has_files: bool,
    pub on_behalf: Vec<(String, String)>,
    pub requested_for: String,
    pub notice: Option<String>,
    pub top_errors: BTreeMap<String, String>,
}

/// The published form of an item this person may request.
async fn published(
    tx: &mut tenancy::TenantTx,
    id: Uuid,
    user: Uuid,
) -> Result<(Item, FormSchema), AppError> {
    let item = store::item(tx, id, Viewer::Requester(user)).await?;
    let version = store::version(tx, item.id, item.published_version.unwrap_or_default()).await?;
    let schema = schema::parse(&version.form_schema)
        .map_err(|_| anyhow::anyhow!("published form of {} does not parse", item.id))?;
    Ok((item, schema))
}

#[expect(clippy::too_many_arguments, reason = "the page's parts")]
async fn item_page(
    mut ctx: WebCtx,
    hx: bool,
    item: Item,
    schema: &FormSchema,
    answers: &Answers,
    errors: BTreeMap<String, String>,
    requested_for: String,
    status: StatusCode,
) -> Result<Response, WebError> {
    let fctx = Context {
        today: ctx.principal.today(ctx.now),
        requester: ctx.principal.user_id,
    };
    let view = form::view(&mut ctx.tx, schema, answers, &errors, fctx).await?;
    let on_behalf = crate::platform::web::choices(
        &mut ctx.tx,
        "SELECT id, name FROM users WHERE status = 'active' ORDER BY name LIMIT 500",
    )
    .await?;
    ctx.tx.commit().await?;
    let notice = (!errors.is_empty()).then(|| {
        let n = errors.len();
        if n == 1 {
            "One answer needs attention; it is marked below.".to_string()
        } else {
            format!("{n} answers need attention; they are marked below.")
        }
    });
    let top_errors = errors
        .into_iter()
        .filter(|(k, _)| schema.field(k).is_none())
        .collect();
    let page = ItemPage {
        chrome: Chrome::new(&ctx.principal, &ctx.csrf, "catalog", &ctx.manifest, ctx.now),
        description_html: crate::platform::markdown::render(
            item.description.as_deref().unwrap_or_default(),
        ),
        has_files: schema.fields.iter().any(|f| f.kind == FieldType::File),
        item,
        form: view,
        on_behalf,
        requested_for,
        notice,
        top_errors,
    };
    Ok(render_page!(hx, page, status))
}

pub async fn item(mut ctx: WebCtx, Hx(hx): Hx, PathId(id): PathId) -> Result<Response, WebError> {
    ctx.require(CATALOG_READ)?;
    let (item, schema) = published(&mut ctx.tx, id, ctx.principal.user_id).await?;
    let answers = answers::initial(&schema);
    let me = ctx.principal.user_id.to_string();
    item_page(
        ctx,
        hx,
        item,
        &schema,
        &answers,
        BTreeMap::new(),
        me,
        StatusCode::OK,
    )
    .await
}

/// The fields again for the answers so far: what the conditions show now (no errors yet).
pub async fn evaluate(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    PathId(id): PathId,
    req: Request,
) -> Result<Response, WebError> {
    ctx.require(CATALOG_READ)?;
    let (pairs, _) = read_form(&state, req).await?;
    let (item, schema) = published(&mut ctx.tx, id, ctx.principal.user_id).await?;
    let answers = answers::coerce_form(&schema, &pairs);
    let me = ctx.principal.user_id.to_string();
    let requested_for = pair(&pairs, "requested_for_id").unwrap_or(me);
    let fctx = Context {
        today: ctx.principal.today(ctx.now),
        requester: ctx.principal.user_id,
    };
    let view = form::view(&mut ctx.tx, &schema, &answers, &BTreeMap::new(), fctx).await?;
    ctx.tx.commit().await?;
    let page = ItemPage {
        chrome: Chrome::new(&ctx.principal, &ctx.csrf, "catalog", &ctx.manifest, ctx.now),
        description_html: String::new(),
        has_files: false,
        item,
        form: view,
        on_behalf: Vec::new(),
        requested_for,
        notice: None,
        top_errors: BTreeMap::new(),
    };
    Ok(html(
        StatusCode::OK,
        askama::Template::render(&page.as_fields()),
    ))
}

fn pair(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The form's fields and files: multipart when it has file fields, urlencoded otherwise.
pub(super) async fn read_form(
    state: &AppState,
    req: Request,
) -> Result<(Vec<(String, String)>, Vec<Upload>), AppError> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if multipart {
        let form = Multipart::from_request(req, state)
            .await
            .map_err(|e| AppError::BadRequest(e.body_text()))?;
        return read_multipart(form).await;
    }
    let axum::Form(fields) = axum::Form::<Vec<(String, String)>>::from_request(req, state)
        .await
        .map_err(|e| AppError::BadRequest(e.body_text()))?;
    Ok((fields, Vec::new()))
}

/// Submits the form as a request: errors re-render the form in place (422) with every answer
/// kept; files are stored as the request's attachments once the answers pass.
pub async fn submit(
    State(state): State<AppState>,
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    req: Request,
) -> Result<Response, WebError> {
    ctx.require(crate::requests::perm::REQUESTS_CREATE)?;
    let (pairs, uploads) = read_form(&state, req).await?;
    let (item, schema) = published(&mut ctx.tx, id, ctx.principal.user_id).await?;
    let answers = answers::coerce_form(&schema, &pairs);
    let me = ctx.principal.user_id.to_string();
    let requested_for = pair(&pairs, "requested_for_id").unwrap_or(me);
    let mut errors = BTreeMap::new();
    let (files, accepted) = take_files(schema.fields.iter(), &uploads, &mut errors)?;
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
            catalog_item_id: Some(item.id),
            form_data: answers.clone(),
            requested_for_id,
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
        let actor = ctx.actor();
        let slug = ctx.principal.slug.clone();
        let done = async {
            let r =
                crate::requests::actions::submit(&mut ctx.tx, &slug, &actor, &who, &body).await?;
            let all: Vec<&Accepted> = accepted.iter().collect();
            store_files(&mut ctx.tx, &state, &slug, actor.user_id, r.id, &all).await?;
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
    choose_again(schema.fields.iter(), &uploads, &mut errors);
    item_page(
        ctx,
        hx,
        item,
        &schema,
        &answers,
        errors,
        requested_for,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// A file accepted for a field: (field id, the upload, its content type).
pub(super) type Accepted = (String, Upload, &'static str);

/// The uploads of the file fields among `fields` (inputs `f_<id>`), checked by the attachment
/// rules: their names and sizes as answers (for the field's own limits, with the other
/// answers), and the files to store once the request is made. Refused files → `errors`.
pub(super) fn take_files<'a>(
    fields: impl Iterator<Item = &'a domain::catalog::schema::Field>,
    uploads: &[Upload],
    errors: &mut BTreeMap<String, String>,
) -> Result<(BTreeMap<String, Value>, Vec<Accepted>), AppError> {
    let mut files: BTreeMap<String, Value> = BTreeMap::new();
    let mut accepted = Vec::new();
    for f in fields.filter(|f| f.kind == FieldType::File) {
        let name = format!("f_{}", f.id);
        let mut list = Vec::new();
        for u in uploads.iter().filter(|u| u.field == name) {
            let filename = u
                .filename
                .rsplit(['/', '\\'])
                .next()
                .unwrap_or(&u.filename)
                .trim()
                .to_string();
            match crate::issues::attachments::check(&filename, &u.bytes) {
                Ok(ct) => {
                    list.push(json!({"filename": filename, "size_bytes": u.bytes.len()}));
                    let mut kept = clone_upload(u);
                    kept.filename = filename;
                    accepted.push((f.id.clone(), kept, ct));
                }
                Err(AppError::Validation { fields, .. }) => {
                    errors.insert(
                        f.id.clone(),
                        fields.into_values().next().unwrap_or_default(),
                    );
                }
                Err(e) => return Err(e),
            }
        }
        if !list.is_empty() {
            files.insert(f.id.clone(), Value::Array(list));
        }
    }
    Ok((files, accepted))
}

/// Stores accepted files as attachments of the request `request` (the attachment rules
/// already passed).
pub(super) async fn store_files(
    tx: &mut crate::platform::tenancy::TenantTx,
    state: &AppState,
    slug: &crate::platform::tenancy::Slug,
    by: Option<Uuid>,
    request: Uuid,
    files: &[&Accepted],
) -> Result<(), AppError> {
    for (_field, u, ct) in files {
        let key = state.storage.put(slug.as_str(), u.bytes.clone()).await?;
        sqlx::query(
            "INSERT INTO attachments (entity_type, entity_id, filename, content_type, size_bytes, storage_path, uploaded_by)
             VALUES ('request', $1, $2, $3, $4, $5, $6)",
        )
        .bind(request)
        .bind(&u.filename)
        .bind(*ct)
        .bind(u.bytes.len() as i64)
        .bind(&key)
        .bind(by)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A browser cannot refill a file input: after a refusal, the file fields that had files say so.
pub(super) fn choose_again<'a>(
    fields: impl Iterator<Item = &'a domain::catalog::schema::Field>,
    uploads: &[Upload],
    errors: &mut BTreeMap<String, String>,
) {
    for f in fields.filter(|f| f.kind == FieldType::File) {
        if uploads.iter().any(|u| u.field == format!("f_{}", f.id)) && !errors.contains_key(&f.id) {
            errors.insert(
                f.id.clone(),
                "Choose the files again: a browser cannot keep them after an error.".into(),
            );
        }
    }
}

fn clone_upload(u: &Upload) -> Upload {
    Upload {
        field: u.field.clone(),
        filename: u.filename.clone(),
        content_type: u.content_type.clone(),
        bytes: u.bytes.clone(),
    }
}
