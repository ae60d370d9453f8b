//! Checking a submission against its schema. The server is the only evaluator: the browser
//! sends what the person typed and gets back the fields to show and the errors to mark.
//!
//! - Hidden fields' values are dropped, never stored; a field is required only when shown.
//! - An answer missing from a JSON submission takes the field's `default` (a form in the
//!   browser was prefilled with it, so a blank there is a deliberate blank).
//! - Pickers name records the server must look up: they come back as [`Lookup`]s, which the
//!   caller checks against the tenant's data (active, matching the field's filter) and turns
//!   into errors keyed by the same field id.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::conditions::{Answers, Layout, is_given, layout, parse_datetime};
use super::dates::RelativeDate;
use super::schema::{AppFilter, Field, FieldType, FormSchema, compile_pattern};

/// Longest answers when the schema sets no `max_length`: room for any real request, not for
/// megabytes.
pub const DEFAULT_MAX_TEXT: usize = 1_000;
pub const DEFAULT_MAX_LONG_TEXT: usize = 20_000;

/// Who submits and when (their local date, for relative date bounds).
#[derive(Clone, Copy, Debug)]
pub struct Context {
    pub today: NaiveDate,
    pub requester: Uuid,
}

/// A record an answer names, to be checked by the caller.
#[derive(Clone, Debug, PartialEq)]
pub struct Lookup {
    pub field: String,
    pub id: Uuid,
    pub kind: LookupKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum LookupKind {
    /// An active user, a member of `group` when the field filters by one.
    User {
        group: Option<Uuid>,
    },
    /// An active group, of `group_type` when the field filters by one.
    Group {
        group_type: Option<String>,
    },
    Application {
        filter: AppFilter,
    },
    /// An environment of `application` (the answer of the field it depends on).
    Environment {
        application: Uuid,
    },
}

/// A file answer as the server hands it over after storing an upload.
#[derive(Clone, Debug, PartialEq)]
pub struct FileAnswer {
    pub filename: String,
    pub size_bytes: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Checked {
    /// The answers to store: visible fields only, normalised.
    pub values: Answers,
    /// Problems keyed by field id, as sentences.
    pub errors: BTreeMap<String, String>,
    pub lookups: Vec<Lookup>,
    pub layout: Layout,
}

/// Validates `answers` (already normalised, e.g. by [`coerce_form`]) against `schema`.
pub fn check(
    schema: &FormSchema,
    answers: &Answers,
    ctx: Context,
    apply_defaults: bool,
) -> Checked {
    let mut answers = answers.clone();
    if apply_defaults {
        for f in &schema.fields {
            if let (false, Some(d)) = (answers.contains_key(&f.id), &f.default) {
                answers.insert(f.id.clone(), d.clone());
            }
        }
    }
    let layout = layout(schema, &answers, ctx.today);
    let mut out = Checked::default();
    for f in &schema.fields {
        if !layout.is_visible(&f.id) {
            continue;
        }
        let v = answers.get(&f.id).filter(|v| is_given(Some(v)));
        let Some(v) = v else {
            if layout.is_required(&f.id) {
                let msg = match f.kind {
                    FieldType::Checkbox => "Tick this box to continue.".to_string(),
                    k if k.has_options() || k.is_picker() => {
                        format!("Choose {}.", article(&f.label))
                    }
                    _ => format!("{} is required.", f.label),
                };
                out.errors.insert(f.id.clone(), msg);
            }
            continue;
        };
        match check_value(schema, f, v, ctx, &answers, &layout) {
            Ok(lookup) => {
                out.values.insert(f.id.clone(), v.clone());
                out.lookups.extend(lookup);
            }
            Err(e) => {
                out.errors.insert(f.id.clone(), e);
            }
        }
    }
    out.layout = layout;
    out
}

fn article(label: &str) -> String {
    let l = label.trim();
    let first_lower = l
        .chars()
        .next()
        .map(|c| c.to_lowercase().to_string())
        .unwrap_or_default();
    let rest: String = l.chars().skip(1).collect();
    format!("a value for “{first_lower}{rest}”")
}

/// The default must be a value the field could hold (checked at save time).
pub fn check_default(f: &Field, v: &Value) -> Result<(), String> {
    if f.kind.is_picker() || f.kind == FieldType::File {
        return Err("This kind of field cannot have a default.".into());
    }
    shape(f, v).map(|_| ())
}

/// Type and option checks that do not depend on the submit date or other answers.
fn shape(f: &Field, v: &Value) -> Result<(), String> {
    let label = &f.label;
    match f.kind {
        FieldType::Text | FieldType::Textarea | FieldType::RichText => match v.as_str() {
            Some(_) => Ok(()),
            None => Err(format!("{label} must be text.")),
        },
        FieldType::Number => match v.as_f64() {
            Some(n) if n.is_finite() => Ok(()),
            _ => Err(format!("{label} must be a number.")),
        },
        FieldType::Checkbox => match v {
            Value::Bool(_) => Ok(()),
            _ => Err(format!("{label} is ticked or not (true or false).")),
        },
        FieldType::Select | FieldType::Radio => match v.as_str() {
            Some(s) if f.options.iter().any(|o| o.value == s) => Ok(()),
            _ => Err(format!("Choose one of the options for {label}.")),
        },
        FieldType::MultiSelect | FieldType::CheckboxGroup => {
            let items = v
                .as_array()
                .ok_or_else(|| format!("{label} takes a list of options."))?;
            let mut seen = std::collections::BTreeSet::new();
            for i in items {
                match i.as_str() {
                    Some(s) if f.options.iter().any(|o| o.value == s) => {
                        if !seen.insert(s) {
                            return Err(format!("“{s}” is chosen twice."));
                        }
                    }
                    _ => return Err(format!("Choose only the listed options for {label}.")),
                }
            }
            Ok(())
        }
        FieldType::Date => match v
            .as_str()
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        {
            Some(_) => Ok(()),
            None => Err(format!("{label} must be a date like 2027-01-31.")),
        },
        FieldType::Datetime => match v
            .as_str()
            .filter(|s| s.contains('T'))
            .and_then(parse_datetime)
        {
            Some(_) => Ok(()),
            None => Err(format!(
                "{label} must be a date and time like 2027-01-31T09:30."
            )),
        },
        FieldType::File => files(v)
            .map(|_| ())
            .ok_or_else(|| format!("{label} takes uploaded files.")),
        FieldType::UserPicker
        | FieldType::GroupPicker
        | FieldType::ApplicationPicker
        | FieldType::EnvironmentPicker => match v.as_str().and_then(|s| Uuid::parse_str(s).ok()) {
            Some(_) => Ok(()),
            None => Err(format!("Choose {} from the list.", article(label))),
        },
    }
}

/// File answers: `[{"filename": …, "size_bytes": …, …}]`.
pub fn files(v: &Value) -> Option<Vec<FileAnswer>> {
    v.as_array()?
        .iter()
        .map(|f| {
            Some(FileAnswer {
                filename: f.get("filename")?.as_str()?.to_string(),
                size_bytes: f.get("size_bytes")?.as_u64()?,
            })
        })
        .collect()
}

fn check_value(
    schema: &FormSchema,
    f: &Field,
    v: &Value,
    ctx: Context,
    answers: &Answers,
    layout: &Layout,
) -> Result<Option<Lookup>, String> {
    shape(f, v)?;
    let rules = &f.validation;
    let label = &f.label;
    match f.kind {
        FieldType::Text | FieldType::Textarea | FieldType::RichText => {
            let s = v.as_str().unwrap_or_default();
            let len = s.chars().count();
            let default_max = if f.kind == FieldType::Text {
                DEFAULT_MAX_TEXT
            } else {
                DEFAULT_MAX_LONG_TEXT
            };
            let max = rules.max_length.map_or(default_max, |m| m as usize);
            if let Some(min) = rules.min_length
                && len < min as usize
            {
                return Err(format!(
                    "{label} needs at least {min} characters (now {len})."
                ));
            }
            if len > max {
                return Err(format!(
                    "{label} can be at most {max} characters (now {len})."
                ));
            }
            if let Some(p) = &rules.pattern {
                let re = compile_pattern(p)?;
                if !re.is_match(s) {
                    return Err(format!("{label} is not in the expected format."));
                }
            }
        }
        FieldType::Number => {
            let n = v.as_f64().unwrap_or_default();
            if let Some(min) = rules.min
                && n < min
            {
                return Err(format!("{label} must be at least {min}."));
            }
            if let Some(max) = rules.max
                && n > max
            {
                return Err(format!("{label} must be at most {max}."));
            }
            if let Some(step) = rules.step {
                let k = (n - rules.min.unwrap_or(0.0)) / step;
                if (k - k.round()).abs() > 1e-9 {
                    return Err(format!("{label} goes in steps of {step}."));
                }
            }
        }
        FieldType::MultiSelect | FieldType::CheckboxGroup => {
            let n = v.as_array().map_or(0, Vec::len) as u32;
            if let Some(max) = rules.max_selections.or(rules.max_selected)
                && n > max
            {
                return Err(format!("Choose at most {max} for {label}."));
            }
            if let Some(min) = rules.min_selected
                && n < min
            {
                return Err(format!("Choose at least {min} for {label}."));
            }
        }
        FieldType::Date | FieldType::Datetime => {
            let day = v.as_str().and_then(parse_datetime).map(|d| d.date());
            let day = day.unwrap_or(ctx.today);
            let bound = |s: &Option<String>| {
                s.as_deref()
                    .and_then(|s| RelativeDate::parse(s).ok())
                    .map(|r| r.resolve(ctx.today))
            };
            if let Some(min) = bound(&rules.min_date)
                && day < min
            {
                return Err(format!(
                    "{label} can be {} at the earliest.",
                    min.format("%-d %B %Y")
                ));
            }
            if let Some(max) = bound(&rules.max_date)
                && day > max
            {
                return Err(format!(
                    "{label} can be {} at the latest.",
                    max.format("%-d %B %Y")
                ));
            }
        }
        FieldType::File => {
            let list = files(v).unwrap_or_default();
            let max_files = rules.max_files.unwrap_or(super::MAX_FILES) as usize;
            if list.len() > max_files {
                return Err(format!("Attach at most {max_files} files."));
            }
            let max_mb = rules.max_size_mb.unwrap_or(super::MAX_FILE_MB);
            for file in &list {
                if file.size_bytes as f64 > max_mb * 1024.0 * 1024.0 {
                    return Err(format!("{} is larger than {max_mb} MB.", file.filename));
                }
                if !rules.allowed_types.is_empty() {
                    let ext = file
                        .filename
                        .rsplit_once('.')
                        .map(|(_, e)| e.to_ascii_lowercase());
                    if !ext.is_some_and(|e| {
                        rules
                            .allowed_types
                            .iter()
                            .any(|t| t.eq_ignore_ascii_case(&e))
                    }) {
                        return Err(format!(
                            "{} is not one of the accepted types ({}).",
                            file.filename,
                            rules.allowed_types.join(", ")
                        ));
                    }
                }
            }
        }
        FieldType::UserPicker
        | FieldType::GroupPicker
        | FieldType::ApplicationPicker
        | FieldType::EnvironmentPicker => {
            let id = v
                .as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .unwrap_or_default();
            let kind = match f.kind {
                FieldType::UserPicker => {
                    if f.allow_self == Some(false) && id == ctx.requester {
                        return Err("Choose someone other than yourself.".into());
                    }
                    LookupKind::User {
                        group: f.filter_by_group,
                    }
                }
                FieldType::GroupPicker => LookupKind::Group {
                    group_type: f.filter_by_type.clone(),
                },
                FieldType::ApplicationPicker => LookupKind::Application {
                    filter: f.filter.clone().unwrap_or_default(),
                },
                _ => {
                    let app_field = f.requires_application_field.as_deref();
                    let app = app_field
                        .filter(|a| layout.is_visible(a))
                        .and_then(|a| answers.get(a))
                        .and_then(Value::as_str)
                        .and_then(|s| Uuid::parse_str(s).ok());
                    match (app_field, app) {
                        (Some(_), Some(application)) => LookupKind::Environment { application },
                        (Some(a), None) => {
                            let app_label = schema.field(a).map_or(a, |f| f.label.as_str());
                            return Err(format!("Choose “{app_label}” first."));
                        }
                        // No application field: any environment of an active application.
                        (None, _) => LookupKind::Environment {
                            application: Uuid::nil(),
                        },
                    }
                }
            };
            return Ok(Some(Lookup {
                field: f.id.clone(),
                id,
                kind,
            }));
        }
        FieldType::Select | FieldType::Radio | FieldType::Checkbox => {}
    }
    Ok(None)
}

/// Turns an HTML form's pairs into typed answers: lists for multi-choice fields, booleans for
/// checkboxes, numbers where they parse (a value that does not stays text, so the check says
/// "must be a number"). Unknown names are ignored.
pub fn coerce_form(schema: &FormSchema, pairs: &[(String, String)]) -> Answers {
    let mut out = Map::new();
    for f in &schema.fields {
        let name = format!("f_{}", f.id);
        let mut vals = pairs
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str());
        let value = match f.kind {
            FieldType::MultiSelect | FieldType::CheckboxGroup => Value::Array(
                pairs
                    .iter()
                    .filter(|(k, v)| *k == name && !v.is_empty())
                    .map(|(_, v)| Value::String(v.clone()))
                    .collect(),
            ),
            FieldType::Checkbox => Value::Bool(vals.any(|v| !v.is_empty() && v != "false")),
            FieldType::File => continue,
            FieldType::Number => match vals.next().map(str::trim) {
                None | Some("") => continue,
                Some(s) => match s.parse::<i64>() {
                    Ok(i) => Value::from(i),
                    Err(_) => match s.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                        Some(n) => Value::Number(n),
                        None => Value::String(s.to_string()),
                    },
                },
            },
            FieldType::Textarea | FieldType::RichText => match vals.next() {
                Some(s) if !s.trim().is_empty() => Value::String(s.replace("\r\n", "\n")),
                _ => continue,
            },
            _ => match vals.next().map(str::trim) {
                Some(s) if !s.is_empty() => Value::String(s.to_string()),
                _ => continue,
            },
        };
        out.insert(f.id.clone(), value);
    }
    out
}

/// The answers a fresh form starts with: every field's default.
pub fn initial(schema: &FormSchema) -> Answers {
    schema
        .fields
        .iter()
        .filter_map(|f| f.default.clone().map(|d| (f.id.clone(), d)))
        .collect()
}
