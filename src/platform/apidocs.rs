//! `/docs`: the API reference as a server-rendered page built from the same OpenAPI document as
//! `/v1/openapi.json` — works offline, without JavaScript and under the strict CSP.

use askama::Template;
use serde_json::Value;

pub struct Operation {
    pub anchor: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub public: bool,
    pub params: Vec<Field>,
    pub request: Option<String>,
    pub responses: Vec<Answer>,
}

/// Descriptions are HTML rendered from the document's Markdown (safe: `platform::markdown`).
pub struct Field {
    pub name: String,
    pub place: String,
    pub ty: String,
    pub required: bool,
    pub description: String,
}

pub struct Answer {
    pub status: String,
    pub description: String,
    pub ty: String,
}

pub struct Tag {
    pub name: String,
    pub operations: Vec<Operation>,
}

pub struct Schema {
    pub name: String,
    pub description: String,
    pub fields: Vec<Field>,
}

#[derive(Template)]
#[template(path = "api_docs.html")]
pub struct DocsPage {
    pub title: String,
    pub intro: String,
    pub tags: Vec<Tag>,
    pub schemas: Vec<Schema>,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

/// A description of the document, which is Markdown (doc comments), as HTML.
fn md(v: &Value, key: &str) -> String {
    crate::platform::markdown::render(&text(v, key))
}

/// A short, readable type: `User`, `[Member]`, `string (uuid)?`.
pub fn type_name(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_string();
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(list) = schema.get(key).and_then(Value::as_array) {
            let parts: Vec<String> = list
                .iter()
                .filter(|s| s.get("type").and_then(Value::as_str) != Some("null"))
                .map(type_name)
                .collect();
            let nullable = list.len() > parts.len();
            return format!("{}{}", parts.join(" | "), if nullable { "?" } else { "" });
        }
    }
    let (base, nullable) = match schema.get("type") {
        Some(Value::String(t)) => (t.clone(), false),
        Some(Value::Array(ts)) => (
            ts.iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .collect::<Vec<_>>()
                .join(" | "),
            ts.iter().any(|t| t == "null"),
        ),
        _ => ("any".to_string(), false),
    };
    let base = match base.as_str() {
        "array" => format!(
            "[{}]",
            schema.get("items").map(type_name).unwrap_or_default()
        ),
        _ => match schema.get("format").and_then(Value::as_str) {
            Some(f) => format!("{base} ({f})"),
            None => base,
        },
    };
    format!("{base}{}", if nullable { "?" } else { "" })
}

fn body_type(content_holder: &Value) -> String {
    content_holder
        .get("content")
        .and_then(|c| c.get("application/json"))
        .and_then(|j| j.get("schema"))
        .map(type_name)
        .unwrap_or_default()
}

fn fields_of(schema: &Value) -> Vec<Field> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut fields: Vec<Field> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .map(|(name, p)| Field {
                    name: name.clone(),
                    place: String::new(),
                    ty: type_name(p),
                    required: required.contains(&name.as_str()),
                    description: md(p, "description"),
                })
                .collect()
        })
        .unwrap_or_default();
    // Flattened structs come out as allOf [$ref, {properties}].
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        for part in parts {
            if let Some(r) = part.get("$ref") {
                fields.push(Field {
                    name: "…".into(),
                    place: String::new(),
                    ty: type_name(&serde_json::json!({ "$ref": r })),
                    required: true,
                    description: "<p>all fields of this type</p>".into(),
                });
            } else {
                fields.extend(fields_of(part));
            }
        }
    }
    fields
}

pub fn page(doc: &Value) -> DocsPage {
    let mut tags: Vec<Tag> = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for method in ["get", "post", "put", "patch", "delete"] {
                let Some(op) = item.get(method) else { continue };
                let tag = op
                    .get("tags")
                    .and_then(|t| t.get(0))
                    .and_then(Value::as_str)
                    .unwrap_or("other")
                    .to_string();
                let params = op
                    .get("parameters")
                    .and_then(Value::as_array)
                    .map(|ps| {
                        ps.iter()
                            .map(|p| Field {
                                name: text(p, "name"),
                                place: text(p, "in"),
                                ty: p.get("schema").map(type_name).unwrap_or_default(),
                                required: p.get("required") == Some(&Value::Bool(true)),
                                description: md(p, "description"),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let responses = op
                    .get("responses")
                    .and_then(Value::as_object)
                    .map(|rs| {
                        rs.iter()
                            .map(|(status, r)| Answer {
                                status: status.clone(),
                                description: md(r, "description"),
                                ty: body_type(r),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let summary = [text(op, "summary"), text(op, "description")]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n\n");
                let summary = crate::platform::markdown::render(&summary);
                let operation = Operation {
                    anchor: text(op, "operationId"),
                    method: method.to_uppercase(),
                    path: path.clone(),
                    summary,
                    public: op
                        .get("security")
                        .and_then(Value::as_array)
                        .is_some_and(|s| {
                            s.iter()
                                .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
                        }),
                    params,
                    request: op.get("requestBody").map(body_type),
                    responses,
                };
                match tags.iter_mut().find(|t| t.name == tag) {
                    Some(t) => t.operations.push(operation),
                    None => tags.push(Tag {
                        name: tag,
                        operations: vec![operation],
                    }),
                }
            }
        }
    }
    let schemas = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|s| {
            s.iter()
                .map(|(name, schema)| Schema {
                    name: name.clone(),
                    description: md(schema, "description"),
                    fields: fields_of(schema),
                })
                .collect()
        })
        .unwrap_or_default();
    DocsPage {
        title: text(&doc["info"], "title"),
        intro: md(&doc["info"], "description"),
        tags,
        schemas,
    }
}
