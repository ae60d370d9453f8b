//! The form builder (`/catalog/items/{id}/builder`): a palette of the 16 field types, the
//! canvas of fields in their sections, a side panel for the selected field and a live preview
//! rendered by the requester's own form template. Every change is one POST that saves the
//! draft server-side (drag and drop posts the same operations as the keyboard buttons), and
//! the page answers with the builder re-rendered from the saved draft. A change that would
//! make the form invalid is refused with the error on the field it concerns.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::http::StatusCode;
use axum::response::Response;
use domain::catalog::answers::{self, Context};
use domain::catalog::conditions::{Condition, Leaf, Operator};
use domain::catalog::edit::{self, Place};
use domain::catalog::schema::{self, Choice, Field, FieldType, FormSchema, Rule};
use serde_json::Value;
use uuid::Uuid;

use super::actions;
use super::form::{self, FormView};
use super::perm::CATALOG_MANAGE;
use super::store::{self, Item, Viewer};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::WebError;
use crate::platform::web::{Chrome, Hx, PathId};
use crate::render_page;

pub struct CanvasField {
    pub id: String,
    pub label: String,
    pub kind: &'static str,
    pub required: bool,
    pub conditional: bool,
}

pub struct Group {
    /// Empty for the fields outside sections.
    pub section: String,
    pub title: String,
    pub fields: Vec<CanvasField>,
}

/// The selected field as the side panel edits it.
pub struct Panel {
    pub id: String,
    pub kind: FieldType,
    pub label: String,
    pub placeholder: String,
    pub help: String,
    pub required: bool,
    /// One option per line: `value | label`.
    pub options: String,
    pub validation: Vec<(&'static str, &'static str, String)>,
    /// "Show only when" and "required only when".
    pub show: CondInputs,
    pub require: CondInputs,
    /// Fields a condition may name (every other field).
    pub others: Vec<(String, String)>,
}

/// One condition as the panel's three inputs (`<prefix>field`, `<prefix>op`, `<prefix>value`).
pub struct CondInputs {
    pub prefix: &'static str,
    pub title: &'static str,
    pub field: String,
    pub op: String,
    pub value: String,
    pub operators: Vec<(&'static str, &'static str)>,
    /// An `all`/`any` group made in the JSON editor: shown as such and kept as it is.
    pub grouped: bool,
}

impl Panel {
    pub fn conditions(&self) -> [&CondInputs; 2] {
        [&self.show, &self.require]
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn inputs_of(
    schema: &FormSchema,
    cond: Option<&Condition>,
    prefix: &'static str,
    title: &'static str,
) -> CondInputs {
    let leaf = match cond {
        Some(Condition::Leaf(l)) => Some(l),
        _ => None,
    };
    let field = leaf.map(|l| l.field.clone()).unwrap_or_default();
    CondInputs {
        prefix,
        title,
        operators: schema
            .field(&field)
            .map(|c| Operator::valid_for(c.kind))
            .unwrap_or(&Operator::ALL)
            .iter()
            .map(|o| (o.key(), o.label()))
            .collect(),
        op: leaf
            .map(|l| l.operator.key().to_string())
            .unwrap_or_default(),
        value: leaf
            .and_then(|l| l.value.as_ref())
            .map(value_text)
            .unwrap_or_default(),
        field,
        grouped: cond.is_some() && leaf.is_none(),
    }
}

#[derive(Template)]
#[template(path = "catalog/builder.html", blocks = ["content", "builder"])]
pub struct BuilderPage {
    chrome: Chrome,
    item: Item,
    palette: Vec<(&'static str, &'static str)>,
    groups: Vec<Group>,
    sections: Vec<(String, String)>,
    panel: Option<Panel>,
    preview: FormView,
    errors: BTreeMap<String, String>,
    notice: Option<String>,
    can_undo: bool,
}

impl BuilderPage {
    fn error(&self, k: &str) -> Option<&String> {
        self.errors.get(k)
    }

    fn is_selected(&self, id: &str) -> bool {
        self.panel.as_ref().is_some_and(|p| p.id == id)
    }
}

/// A validation key the panel offers for a type, with its label.
fn validation_inputs(kind: FieldType) -> &'static [(&'static str, &'static str)] {
    match kind {
        FieldType::Text => &[
            ("min_length", "Shortest answer (characters)"),
            ("max_length", "Longest answer (characters)"),
            ("pattern", "Pattern (regular expression)"),
        ],
        FieldType::Textarea => &[
            ("min_length", "Shortest answer (characters)"),
            ("max_length", "Longest answer (characters)"),
        ],
        FieldType::RichText => &[("max_length", "Longest answer (characters)")],
        FieldType::Number => &[("min", "Smallest"), ("max", "Largest"), ("step", "Step")],
        FieldType::MultiSelect => &[("max_selections", "Most choices")],
        FieldType::CheckboxGroup => &[
            ("min_selected", "Fewest ticks"),
            ("max_selected", "Most ticks"),
        ],
        FieldType::Date | FieldType::Datetime => &[
            ("min_date", "Earliest (a date, today, +2d, -1y)"),
            ("max_date", "Latest (a date, today, +90d)"),
        ],
        FieldType::File => &[
            ("max_files", "Most files"),
            ("max_size_mb", "Largest file (MB)"),
            ("allowed_types", "File types (comma-separated: pdf, png)"),
        ],
        _ => &[],
    }
}

fn validation_value(f: &Field, key: &str) -> String {
    let v = serde_json::to_value(&f.validation).unwrap_or_default();
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn panel_of(schema: &FormSchema, id: &str) -> Option<Panel> {
    let f = schema.field(id)?;
    let rule = schema.rule(id);
    Some(Panel {
        id: f.id.clone(),
        kind: f.kind,
        label: f.label.clone(),
        placeholder: f.placeholder.clone().unwrap_or_default(),
        help: f.help_text.clone().unwrap_or_default(),
        required: f.required,
        options: f
            .options
            .iter()
            .map(|o| format!("{} | {}", o.value, o.label))
            .collect::<Vec<_>>()
            .join("\n"),
        validation: validation_inputs(f.kind)
            .iter()
            .map(|(k, l)| (*k, *l, validation_value(f, k)))
            .collect(),
        show: inputs_of(
            schema,
            rule.and_then(|r| r.show_when.as_ref()),
            "when_",
            "Show only when",
        ),
        require: inputs_of(
            schema,
            rule.and_then(|r| r.require_when.as_ref()),
            "req_",
            "Required only when",
        ),
        others: schema
            .fields
            .iter()
            .filter(|o| o.id != f.id)
            .map(|o| (o.id.clone(), o.label.clone()))
            .collect(),
    })
}

fn groups_of(schema: &FormSchema) -> Vec<Group> {
    let card = |id: &str| {
        schema.field(id).map(|f| CanvasField {
            id: f.id.clone(),
            label: f.label.clone(),
            kind: f.kind.label(),
            required: f.required,
            conditional: schema.rule(&f.id).is_some(),
        })
    };
    let mut out = vec![Group {
        section: String::new(),
        title: "Outside sections".into(),
        fields: edit::loose(schema)
            .iter()
            .filter_map(|id| card(id))
            .collect(),
    }];
    for s in &schema.sections {
        out.push(Group {
            section: s.id.clone(),
            title: s.title.clone(),
            fields: s.fields.iter().filter_map(|id| card(id)).collect(),
        });
    }
    out
}

async fn page(
    mut ctx: WebCtx,
    hx: bool,
    id: Uuid,
    selected: Option<String>,
    errors: BTreeMap<String, String>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let item = store::item(&mut ctx.tx, id, Viewer::Manager).await?;
    let schema = schema::parse(&item.form_schema).unwrap_or_default();
    let fctx = Context {
        today: ctx.principal.today(ctx.now),
        requester: ctx.principal.user_id,
    };
    let preview = form::view(
        &mut ctx.tx,
        &schema,
        &answers::initial(&schema),
        &BTreeMap::new(),
        fctx,
    )
    .await?;
    let can_undo = store::can_undo(&mut ctx.tx, id).await?;
    ctx.tx.commit().await?;
    let page = BuilderPage {
        chrome: Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "catalog_manage",
            &ctx.manifest,
            ctx.now,
        ),
        palette: FieldType::ALL
            .iter()
            .map(|t| (t.key(), t.label()))
            .collect(),
        groups: groups_of(&schema),
        sections: schema
            .sections
            .iter()
            .map(|s| (s.id.clone(), s.title.clone()))
            .collect(),
        panel: selected.and_then(|s| panel_of(&schema, &s)),
        preview,
        item,
        errors,
        notice,
        can_undo,
    };
    if hx {
        return Ok(crate::platform::web::html(
            status,
            askama::Template::render(&page.as_builder()),
        ));
    }
    Ok(render_page!(false, page, status))
}

pub async fn show(
    ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    axum::extract::Query(q): axum::extract::Query<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    ctx.require(CATALOG_MANAGE)?;
    page(
        ctx,
        hx,
        id,
        q.get("field").cloned(),
        BTreeMap::new(),
        None,
        StatusCode::OK,
    )
    .await
}

fn place(v: &BTreeMap<String, String>) -> Place {
    Place {
        section: v.get("section").filter(|s| !s.is_empty()).cloned(),
        index: v
            .get("index")
            .and_then(|i| i.parse().ok())
            .unwrap_or(usize::MAX),
    }
}

/// Applies the side panel's values to the field (errors keyed by the panel's input names).
fn update_field(
    schema: &mut FormSchema,
    id: &str,
    v: &BTreeMap<String, String>,
) -> Result<(), BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    let text = |k: &str| {
        v.get(k)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let Some(kind) = schema.field(id).map(|f| f.kind) else {
        errors.insert("field".into(), "That field is gone; choose another.".into());
        return Err(errors);
    };
    let mut validation = serde_json::Map::new();
    for (key, _) in validation_inputs(kind) {
        let Some(raw) = text(&format!("v_{key}")) else {
            continue;
        };
        let value = match *key {
            "pattern" | "min_date" | "max_date" => Value::String(raw),
            "allowed_types" => Value::Array(
                raw.split(',')
                    .map(|t| Value::String(t.trim().trim_start_matches('.').to_lowercase()))
                    .filter(|t| t.as_str() != Some(""))
                    .collect(),
            ),
            _ => match raw.parse::<f64>() {
                Ok(n) if ["min", "max", "step", "max_size_mb"].contains(key) => {
                    serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
                }
                Ok(n) if n >= 0.0 && n.fract() == 0.0 => Value::from(n as u64),
                _ => {
                    errors.insert(format!("v_{key}"), "Use a number.".into());
                    continue;
                }
            },
        };
        validation.insert(key.to_string(), value);
    }
    let validation = match serde_json::from_value(Value::Object(validation)) {
        Ok(v) => v,
        Err(_) => {
            errors.insert("v_min".into(), "These limits do not fit this field.".into());
            return Err(errors);
        }
    };
    let mut options = Vec::new();
    if kind.has_options() {
        for line in v.get("options").map(String::as_str).unwrap_or("").lines() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (value, label) = match line.split_once('|') {
                Some((a, b)) => (a.trim().to_string(), b.trim().to_string()),
                // A line without a value: the value is made from the label.
                None => (
                    line.to_lowercase()
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                        .collect(),
                    line.to_string(),
                ),
            };
            options.push(Choice { value, label });
        }
    }
    let rule = schema.rule(id).cloned();
    let when = condition_from(
        schema,
        v,
        "when_",
        rule.as_ref().and_then(|r| r.show_when.clone()),
        &mut errors,
    );
    let require_when = condition_from(
        schema,
        v,
        "req_",
        rule.as_ref().and_then(|r| r.require_when.clone()),
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(errors);
    }
    let Some(f) = schema.fields.iter_mut().find(|f| f.id == id) else {
        return Err(errors);
    };
    f.label = v
        .get("label")
        .cloned()
        .unwrap_or_default()
        .trim()
        .to_string();
    f.placeholder = text("placeholder");
    f.help_text = text("help_text");
    f.required = v.get("required").is_some_and(|r| r == "true");
    f.validation = validation;
    if kind.has_options() {
        f.options = options;
        // A default that is no longer an option would make the form invalid.
        if f.default
            .as_ref()
            .and_then(Value::as_str)
            .is_some_and(|d| !f.options.iter().any(|o| o.value == d))
        {
            f.default = None;
        }
    }
    schema.conditional_logic.retain(|r| r.field != id);
    if when.is_some() || require_when.is_some() {
        schema.conditional_logic.push(Rule {
            field: id.to_string(),
            show_when: when,
            require_when,
        });
    }
    Ok(())
}

/// A condition from the panel's three inputs named `<prefix>…`; a group condition the panel
/// cannot show (`keep`) stays unless the person chose a field there.
fn condition_from(
    schema: &FormSchema,
    v: &BTreeMap<String, String>,
    prefix: &str,
    keep: Option<Condition>,
    errors: &mut BTreeMap<String, String>,
) -> Option<Condition> {
    let text = |k: &str| {
        v.get(&format!("{prefix}{k}"))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let (Some(field), op) = (text("field"), text("op")) else {
        return keep.filter(|c| !matches!(c, Condition::Leaf(_)));
    };
    let Some(operator) = op.as_deref().and_then(Operator::from_key) else {
        errors.insert(format!("{prefix}op"), "Choose how to compare.".into());
        return None;
    };
    let ctrl = schema.field(&field).map(|f| f.kind);
    let raw = text("value").unwrap_or_default();
    let one = |s: &str| -> Value {
        match ctrl {
            Some(FieldType::Number) => s
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| Value::String(s.into()), Value::Number),
            Some(FieldType::Checkbox) => Value::Bool(matches!(s, "true" | "yes" | "ticked")),
            _ => Value::String(s.into()),
        }
    };
    let value = if !operator.takes_value() {
        None
    } else if operator.takes_list() {
        Some(Value::Array(
            raw.split(',').map(|s| one(s.trim())).collect(),
        ))
    } else {
        Some(one(&raw))
    };
    Some(Condition::Leaf(Leaf {
        field,
        operator,
        value,
    }))
}

/// Maps schema errors of a field to the panel's inputs.
fn panel_errors(
    schema: &FormSchema,
    id: &str,
    errs: schema::SchemaErrors,
) -> BTreeMap<String, String> {
    let index = schema.fields.iter().position(|f| f.id == id);
    let rule = schema.conditional_logic.iter().position(|r| r.field == id);
    let mut out = BTreeMap::new();
    for (path, msg) in errs {
        let key = match (index, rule) {
            (Some(i), _) if path.starts_with(&format!("fields[{i}].validation.")) => {
                format!("v_{}", path.rsplit('.').next().unwrap_or_default())
            }
            (Some(i), _) if path.starts_with(&format!("fields[{i}].options")) => "options".into(),
            (Some(i), _) if path.starts_with(&format!("fields[{i}].")) => {
                path.rsplit('.').next().unwrap_or("label").to_string()
            }
            (_, Some(r)) if path.starts_with(&format!("conditional_logic[{r}].")) => {
                let prefix = if path.contains(".require_when") {
                    "req_"
                } else {
                    "when_"
                };
                let part = if path.ends_with(".value") {
                    "value"
                } else if path.ends_with(".operator") {
                    "op"
                } else {
                    "field"
                };
                format!("{prefix}{part}")
            }
            _ => "notice".into(),
        };
        out.entry(key).or_insert(msg);
    }
    out
}

/// One builder operation: add, move, remove, update, add_section, remove_section, undo.
pub async fn apply(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(v): Form<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    ctx.require(CATALOG_MANAGE)?;
    let item = store::item(&mut ctx.tx, id, Viewer::Manager).await?;
    let mut schema = schema::parse(&item.form_schema).unwrap_or_default();
    let op = v.get("op").map(String::as_str).unwrap_or_default();
    let field = v.get("field").cloned().unwrap_or_default();
    let mut selected = Some(field.clone()).filter(|f| !f.is_empty());
    if op == "undo" {
        let undone = store::undo_form(&mut ctx.tx, id).await?;
        let notice = (!undone).then(|| "There is nothing to undo.".to_string());
        return page(
            ctx,
            hx,
            id,
            selected,
            BTreeMap::new(),
            notice,
            StatusCode::OK,
        )
        .await;
    }
    let edited: Result<(), BTreeMap<String, String>> = match op {
        "add" => match v.get("type").and_then(|t| FieldType::from_key(t)) {
            Some(kind) => edit::add_field(&mut schema, kind, &place(&v))
                .map(|new| selected = Some(new))
                .map_err(|e| BTreeMap::from([("notice".to_string(), e)])),
            None => Err(BTreeMap::from([(
                "notice".to_string(),
                "Choose a field type.".to_string(),
            )])),
        },
        "move" => edit::move_field(&mut schema, &field, &place(&v))
            .map_err(|e| BTreeMap::from([("notice".to_string(), e)])),
        "up" | "down" => {
            let order: Vec<String> = match schema.section_of(&field) {
                Some(s) => s.fields.clone(),
                None => edit::loose(&schema),
            };
            let at = order.iter().position(|f| *f == field).unwrap_or(0);
            let index = if op == "up" {
                at.saturating_sub(1)
            } else {
                at + 1
            };
            let section = schema.section_of(&field).map(|s| s.id.clone());
            edit::move_field(&mut schema, &field, &Place { section, index })
                .map_err(|e| BTreeMap::from([("notice".to_string(), e)]))
        }
        "remove" => {
            let r = edit::remove_field(&mut schema, &field);
            selected = None;
            r.map_err(|e| BTreeMap::from([("notice".to_string(), e)]))
        }
        "update" => update_field(&mut schema, &field, &v),
        "add_section" => {
            let title = v
                .get("title")
                .map(|t| t.trim().to_string())
                .unwrap_or_default();
            if title.is_empty() {
                Err(BTreeMap::from([(
                    "title".to_string(),
                    "Give the section a title.".to_string(),
                )]))
            } else {
                edit::add_section(&mut schema, &title);
                Ok(())
            }
        }
        "remove_section" => {
            edit::remove_section(
                &mut schema,
                v.get("section").map(String::as_str).unwrap_or(""),
            );
            Ok(())
        }
        _ => Err(BTreeMap::from([(
            "notice".to_string(),
            "Unknown change.".to_string(),
        )])),
    };
    let errors = match edited {
        Err(e) => e,
        Ok(()) => match schema::check(&schema) {
            errs if errs.is_empty() => BTreeMap::new(),
            errs => panel_errors(&schema, &field, errs),
        },
    };
    if !errors.is_empty() {
        let notice = errors.get("notice").cloned();
        return page(
            ctx,
            hx,
            id,
            selected,
            errors,
            notice,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let value = serde_json::to_value(&schema).unwrap_or_default();
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            actions::save_form(&mut ctx.tx, &slug, &actor, id, &value).await
        })
        .await?;
    match saved {
        Ok(_) => page(ctx, hx, id, selected, BTreeMap::new(), None, StatusCode::OK).await,
        Err(refused) => {
            let notice = refused
                .notice
                .clone()
                .or_else(|| refused.errors.0.values().next().cloned());
            page(
                ctx,
                hx,
                id,
                selected,
                BTreeMap::new(),
                notice,
                refused.status,
            )
            .await
        }
    }
}
