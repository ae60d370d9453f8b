//! The `/v1` OpenAPI document. Every `/v1` route is registered through utoipa-axum's
//! `OpenApiRouter` with `routes!`, so a route cannot exist without its `#[utoipa::path]`
//! description; `finish` then adds what is the same everywhere (security, error answers).

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoParams, PartialSchema, ToSchema};

pub const BEARER: &str = "bearer";

/// Every error answer: `{"error": {code, message, details, request_id}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `validation_failed`, `not_found`, `conflict`.
    pub code: String,
    pub message: String,
    /// For 422: an object mapping each invalid field to its message; otherwise null or context.
    #[schema(value_type = Object, nullable)]
    pub details: serde_json::Value,
    /// Also sent as the `x-request-id` header; quote it when reporting a problem.
    pub request_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct PageMeta {
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

/// A page of a list: `{"data": [...], "meta": {page, per_page, total}}`.
#[derive(Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub data: Vec<T>,
    pub meta: PageMeta,
}

/// A list that is never paged: `{"data": [...]}`.
#[derive(Serialize, ToSchema)]
pub struct Items<T: ToSchema> {
    pub data: Vec<T>,
}

/// The list conventions every paged `/v1` list accepts (plus the field filters each list names).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only: lists parse their query through `listing::parse`
pub struct ListQuery {
    /// 1-based page number (default 1, at most 1,000,000).
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<u32>,
    /// Items per page, 1–100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<u32>,
    /// Field to sort by (each list names its sortable fields; unknown → 400).
    sort: Option<String>,
    /// `asc` or `desc`.
    order: Option<String>,
    /// Comma-separated fields to return (unknown → 400).
    fields: Option<String>,
    /// Comma-separated related data to embed (each list names what it can include).
    include: Option<String>,
}

const INTRO: &str = "JSON API for integrations. Authenticate with `Authorization: Bearer <token>`, \
where the token is an access token from `POST /v1/auth/login` (15 minutes; renew with \
`POST /v1/auth/refresh`) or an API key (`fl_<tenant>.<secret>`, never in a query string). \
Lists take `page`, `per_page` (≤ 100), `sort`, `order`, `fields`, `include` and field filters and \
answer `{\"data\": [...], \"meta\": {page, per_page, total}}`; an unknown sort, filter or field is \
a 400 that names it. Errors are `{\"error\": {code, message, details, request_id}}`: 400 malformed \
input, 401 missing or bad credentials, 403 missing permission, 404 missing (or another tenant's), \
409 conflict, 422 invalid fields (details maps field → message), 429 throttled (see `Retry-After`).";

/// Completes the generated document: title, the bearer scheme (required unless an operation
/// declares `security(())`), and the error answers each operation can give.
pub fn finish(mut doc: OpenApi) -> OpenApi {
    doc.info.title = "FireLater API".into();
    doc.info.description = Some(INTRO.into());
    doc.info.license = None;
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            Http::builder()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "Access token (JWT from /v1/auth/login) or API key `fl_<tenant>.<secret>`",
                ))
                .build(),
        ),
    );
    components
        .schemas
        .insert(ErrorBody::name().into_owned(), ErrorBody::schema());
    components
        .schemas
        .insert(ErrorDetail::name().into_owned(), ErrorDetail::schema());
    doc.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
    for (path, item) in doc.paths.paths.iter_mut() {
        let has_id = path.contains('{');
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            add_error_answers(op, has_id);
        }
    }
    doc
}

fn add_error_answers(op: &mut Operation, has_id: bool) {
    let public = op
        .security
        .as_ref()
        .is_some_and(|s| s.iter().all(|r| *r == SecurityRequirement::default()));
    let mut errors: BTreeMap<&str, &str> = BTreeMap::new();
    if !public {
        errors.insert("401", "Missing, invalid or expired credentials");
        errors.insert("403", "The caller lacks the permission this needs");
    }
    if has_id {
        errors.insert("404", "No such record in the caller's tenant");
    }
    let has_query = op.parameters.iter().flatten().any(
        |p| matches!(p, RefOr::T(p) if p.parameter_in == utoipa::openapi::path::ParameterIn::Query),
    );
    if op.request_body.is_some() {
        errors.insert("400", "Malformed JSON");
    }
    if has_query {
        errors.insert(
            "400",
            "Unknown or malformed query parameter (the message names it)",
        );
    }
    if op.request_body.is_some() {
        errors.insert(
            "422",
            "Invalid fields; `details` maps each field to its problem",
        );
        errors.insert("413", "The body is larger than 2 MiB");
    }
    for answer in op.responses.responses.values_mut() {
        if let RefOr::T(r) = answer
            && r.description.is_empty()
        {
            r.description = "Success".into();
        }
    }
    for (status, description) in errors {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(description));
    }
}

fn error_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

/// Prefixes every path with the mount point (`/v1`): handlers are declared relative to it.
pub fn mount(mut doc: OpenApi, prefix: &str) -> OpenApi {
    let paths = std::mem::take(&mut doc.paths.paths);
    doc.paths.paths = paths
        .into_iter()
        .map(|(path, item)| (format!("{prefix}{path}"), item))
        .collect();
    doc
}
