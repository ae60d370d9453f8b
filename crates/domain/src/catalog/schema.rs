//! The catalog form schema (the spec's "Catalog Form Schema Specification"): its types, and the
//! checks run when a schema is saved. A schema that passes [`parse`] can always be evaluated:
//! every field a condition names exists, operators fit the field's type, values have the right
//! shape and conditions have no cycles.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::conditions::{Condition, Leaf, Operator};
use super::dates::RelativeDate;

/// Schema problems keyed by path (`fields[3].validation.max_length`), worded as sentences.
pub type SchemaErrors = BTreeMap<String, String>;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormSchema {
    #[serde(default = "default_version")]
    pub version: String,
    #[serde(default)]
    pub fields: Vec<Field>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<Section>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditional_logic: Vec<Rule>,
}

fn default_version() -> String {
    "1.0".into()
}

impl Default for FormSchema {
    fn default() -> Self {
        FormSchema {
            version: default_version(),
            fields: Vec::new(),
            sections: Vec::new(),
            conditional_logic: Vec::new(),
        }
    }
}

/// The 16 field types of the spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Textarea,
    Number,
    Select,
    MultiSelect,
    Radio,
    Checkbox,
    CheckboxGroup,
    Date,
    Datetime,
    File,
    UserPicker,
    GroupPicker,
    ApplicationPicker,
    EnvironmentPicker,
    RichText,
}

impl FieldType {
    pub const ALL: [FieldType; 16] = [
        FieldType::Text,
        FieldType::Textarea,
        FieldType::Number,
        FieldType::Select,
        FieldType::MultiSelect,
        FieldType::Radio,
        FieldType::Checkbox,
        FieldType::CheckboxGroup,
        FieldType::Date,
        FieldType::Datetime,
        FieldType::File,
        FieldType::UserPicker,
        FieldType::GroupPicker,
        FieldType::ApplicationPicker,
        FieldType::EnvironmentPicker,
        FieldType::RichText,
    ];

    pub fn key(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Textarea => "textarea",
            FieldType::Number => "number",
            FieldType::Select => "select",
            FieldType::MultiSelect => "multi_select",
            FieldType::Radio => "radio",
            FieldType::Checkbox => "checkbox",
            FieldType::CheckboxGroup => "checkbox_group",
            FieldType::Date => "date",
            FieldType::Datetime => "datetime",
            FieldType::File => "file",
            FieldType::UserPicker => "user_picker",
            FieldType::GroupPicker => "group_picker",
            FieldType::ApplicationPicker => "application_picker",
            FieldType::EnvironmentPicker => "environment_picker",
            FieldType::RichText => "rich_text",
        }
    }

    pub fn from_key(key: &str) -> Option<FieldType> {
        FieldType::ALL.into_iter().find(|t| t.key() == key)
    }

    /// How the builder's palette names it.
    pub fn label(self) -> &'static str {
        match self {
            FieldType::Text => "Short text",
            FieldType::Textarea => "Long text",
            FieldType::Number => "Number",
            FieldType::Select => "Dropdown",
            FieldType::MultiSelect => "Multi-select",
            FieldType::Radio => "Radio buttons",
            FieldType::Checkbox => "Checkbox",
            FieldType::CheckboxGroup => "Checkbox group",
            FieldType::Date => "Date",
            FieldType::Datetime => "Date and time",
            FieldType::File => "File upload",
            FieldType::UserPicker => "Person",
            FieldType::GroupPicker => "Group",
            FieldType::ApplicationPicker => "Application",
            FieldType::EnvironmentPicker => "Environment",
            FieldType::RichText => "Formatted text",
        }
    }

    pub fn has_options(self) -> bool {
        matches!(
            self,
            FieldType::Select
                | FieldType::MultiSelect
                | FieldType::Radio
                | FieldType::CheckboxGroup
        )
    }

    /// Answers are lists (of option values or files).
    pub fn is_multi(self) -> bool {
        matches!(
            self,
            FieldType::MultiSelect | FieldType::CheckboxGroup | FieldType::File
        )
    }

    pub fn is_text(self) -> bool {
        matches!(
            self,
            FieldType::Text | FieldType::Textarea | FieldType::RichText
        )
    }

    pub fn is_picker(self) -> bool {
        matches!(
            self,
            FieldType::UserPicker
                | FieldType::GroupPicker
                | FieldType::ApplicationPicker
                | FieldType::EnvironmentPicker
        )
    }

    pub fn is_date(self) -> bool {
        matches!(self, FieldType::Date | FieldType::Datetime)
    }

    /// The validation keys that mean something for this type (the spec's table).
    fn validation_keys(self) -> &'static [&'static str] {
        match self {
            FieldType::Text => &["min_length", "max_length", "pattern"],
            FieldType::Textarea => &["min_length", "max_length"],
            FieldType::RichText => &["max_length"],
            FieldType::Number => &["min", "max", "step"],
            FieldType::MultiSelect => &["max_selections"],
            FieldType::CheckboxGroup => &["min_selected", "max_selected"],
            FieldType::Date | FieldType::Datetime => &["min_date", "max_date"],
            FieldType::File => &["max_files", "max_size_mb", "allowed_types"],
            _ => &[],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_text: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<Choice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Validation::is_empty")]
    pub validation: Validation,
    /// user_picker: may the requester pick themselves (default yes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_self: Option<bool>,
    /// user_picker: only members of this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_by_group: Option<uuid::Uuid>,
    /// group_picker: only groups of this type (`team`, `department`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_by_type: Option<String>,
    /// application_picker: `{"status": ["active"], "tier": [...]}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<AppFilter>,
    /// environment_picker: the application_picker field whose application owns the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_application_field: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppFilter {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tier: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_selections: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_selected: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_selected: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_files: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size_mb: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_types: Vec<String>,
}

impl Validation {
    pub fn is_empty(&self) -> bool {
        self.set_keys().is_empty()
    }

    fn set_keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        let mut push = |on: bool, k| {
            if on {
                keys.push(k)
            }
        };
        push(self.min_length.is_some(), "min_length");
        push(self.max_length.is_some(), "max_length");
        push(self.pattern.is_some(), "pattern");
        push(self.min.is_some(), "min");
        push(self.max.is_some(), "max");
        push(self.step.is_some(), "step");
        push(self.max_selections.is_some(), "max_selections");
        push(self.min_selected.is_some(), "min_selected");
        push(self.max_selected.is_some(), "max_selected");
        push(self.min_date.is_some(), "min_date");
        push(self.max_date.is_some(), "max_date");
        push(self.max_files.is_some(), "max_files");
        push(self.max_size_mb.is_some(), "max_size_mb");
        push(!self.allowed_types.is_empty(), "allowed_types");
        keys
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub fields: Vec<String>,
}

/// Conditions on one field: shown only when `show_when` holds; required (when shown) only when
/// `require_when` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_when: Option<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_when: Option<Condition>,
}

/// The longest pattern a builder may save; with the regex crate's size limit this bounds the
/// work any answer can cause.
pub const MAX_PATTERN_LEN: usize = 500;
const REGEX_SIZE_LIMIT: usize = 256 * 1024;
const MAX_FIELDS: usize = 200;

pub fn compile_pattern(pattern: &str) -> Result<regex::Regex, String> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(format!(
            "The pattern is longer than {MAX_PATTERN_LEN} characters."
        ));
    }
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => "The pattern is too complex.".to_string(),
            _ => "The pattern is not a valid regular expression.".to_string(),
        })
}

impl FormSchema {
    pub fn field(&self, id: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.id == id)
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.conditional_logic.iter().find(|r| r.field == id)
    }

    /// The section a field is in, if any.
    pub fn section_of(&self, id: &str) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| s.fields.iter().any(|f| f == id))
    }
}

/// Parses and checks a schema as saved. `Err` maps each problem to its path.
pub fn parse(value: &Value) -> Result<FormSchema, SchemaErrors> {
    let schema: FormSchema = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let msg = e.inner().to_string();
        let mut errs = SchemaErrors::new();
        errs.insert(path, shape_message(&msg));
        errs
    })?;
    let errs = check(&schema);
    if errs.is_empty() {
        Ok(schema)
    } else {
        Err(errs)
    }
}

/// serde's wording, made a sentence ("unknown variant `txt`, expected one of …").
fn shape_message(serde: &str) -> String {
    let text = serde.split(" at line ").next().unwrap_or(serde).trim();
    if let Some(rest) = text.strip_prefix("unknown variant ") {
        let name = rest.split('`').nth(1).unwrap_or("");
        return format!("“{name}” is not a field type or operator this form knows.");
    }
    if let Some(rest) = text.strip_prefix("unknown field ") {
        let name = rest.split('`').nth(1).unwrap_or("");
        return format!("“{name}” is not a setting here.");
    }
    if let Some(rest) = text.strip_prefix("missing field ") {
        let name = rest.split('`').nth(1).unwrap_or("");
        return format!("“{name}” is required.");
    }
    let mut s = text.to_string();
    if let Some(first) = s.get(0..1) {
        s.replace_range(0..1, &first.to_uppercase());
    }
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

/// The save-time checks on a well-shaped schema.
pub fn check(schema: &FormSchema) -> SchemaErrors {
    let mut errs = SchemaErrors::new();
    if schema.version != "1.0" {
        errs.insert("version".into(), "Only version “1.0” is supported.".into());
    }
    if schema.fields.len() > MAX_FIELDS {
        errs.insert(
            "fields".into(),
            format!("A form can have at most {MAX_FIELDS} fields."),
        );
    }
    let mut seen = BTreeSet::new();
    for (i, f) in schema.fields.iter().enumerate() {
        let at = |k: &str| format!("fields[{i}].{k}");
        if !valid_id(&f.id) {
            errs.insert(
                at("id"),
                "A field id uses letters, digits and underscores (at most 64), starting with a letter."
                    .into(),
            );
        } else if !seen.insert(f.id.as_str()) {
            errs.insert(
                at("id"),
                format!("Another field already has the id “{}”.", f.id),
            );
        }
        if f.label.trim().is_empty() {
            errs.insert(at("label"), "Every field needs a label.".into());
        }
        check_field(schema, i, f, &mut errs);
    }

    let mut placed = BTreeMap::new();
    let mut section_ids = BTreeSet::new();
    for (i, s) in schema.sections.iter().enumerate() {
        if !valid_id(&s.id) || !section_ids.insert(s.id.as_str()) {
            errs.insert(
                format!("sections[{i}].id"),
                "Each section needs its own id (letters, digits and underscores).".into(),
            );
        }
        if s.title.trim().is_empty() {
            errs.insert(
                format!("sections[{i}].title"),
                "A section needs a title.".into(),
            );
        }
        for (j, id) in s.fields.iter().enumerate() {
            let at = format!("sections[{i}].fields[{j}]");
            if schema.field(id).is_none() {
                errs.insert(at, format!("There is no field “{id}”."));
            } else if let Some(other) = placed.insert(id.as_str(), i) {
                errs.insert(
                    at,
                    format!(
                        "“{id}” is already in section “{}”; a field can be in one section only.",
                        schema.sections[other].title
                    ),
                );
            }
        }
    }

    let mut ruled = BTreeMap::new();
    for (i, r) in schema.conditional_logic.iter().enumerate() {
        let at = format!("conditional_logic[{i}]");
        if schema.field(&r.field).is_none() {
            errs.insert(
                format!("{at}.field"),
                format!("There is no field “{}”.", r.field),
            );
            continue;
        }
        if let Some(other) = ruled.insert(r.field.as_str(), i) {
            errs.insert(
                format!("{at}.field"),
                format!(
                    "“{}” already has conditions at conditional_logic[{other}]; combine them with “all” or “any”.",
                    r.field
                ),
            );
        }
        if r.show_when.is_none() && r.require_when.is_none() {
            errs.insert(at.clone(), "A rule needs show_when or require_when.".into());
        }
        for (name, cond) in [
            ("show_when", &r.show_when),
            ("require_when", &r.require_when),
        ] {
            if let Some(c) = cond {
                check_condition(schema, &r.field, c, &format!("{at}.{name}"), 0, &mut errs);
            }
        }
    }
    if errs.is_empty()
        && let Some((at, cycle)) = find_cycle(schema)
    {
        errs.insert(
            at,
            format!(
                "These conditions depend on each other in a circle: {}.",
                cycle.join(" → ")
            ),
        );
    }
    errs
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    id.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_field(schema: &FormSchema, i: usize, f: &Field, errs: &mut SchemaErrors) {
    let at = |k: &str| format!("fields[{i}].{k}");
    let v = &f.validation;
    for key in v.set_keys() {
        if !f.kind.validation_keys().contains(&key) {
            errs.insert(
                at(&format!("validation.{key}")),
                format!(
                    "{key} does not apply to a {} field.",
                    f.kind.label().to_lowercase()
                ),
            );
        }
    }
    if f.kind.has_options() {
        if f.options.is_empty() {
            errs.insert(at("options"), "Add at least one option.".into());
        }
        let mut values = BTreeSet::new();
        for (j, o) in f.options.iter().enumerate() {
            if o.value.trim().is_empty() {
                errs.insert(
                    at(&format!("options[{j}].value")),
                    "An option needs a value.".into(),
                );
            } else if !values.insert(o.value.as_str()) {
                errs.insert(
                    at(&format!("options[{j}].value")),
                    format!("Another option already has the value “{}”.", o.value),
                );
            }
            if o.label.trim().is_empty() {
                errs.insert(
                    at(&format!("options[{j}].label")),
                    "An option needs a label.".into(),
                );
            }
        }
    } else if !f.options.is_empty() {
        errs.insert(at("options"), "Only choice fields have options.".into());
    }
    let bound = |lo: Option<u32>, hi: Option<u32>, name: &str, errs: &mut SchemaErrors| {
        if let (Some(lo), Some(hi)) = (lo, hi)
            && lo > hi
        {
            errs.insert(
                at(&format!("validation.{name}")),
                "The maximum is smaller than the minimum.".into(),
            );
        }
    };
    bound(v.min_length, v.max_length, "max_length", errs);
    bound(v.min_selected, v.max_selected, "max_selected", errs);
    if let (Some(lo), Some(hi)) = (v.min, v.max)
        && lo > hi
    {
        errs.insert(
            at("validation.max"),
            "The maximum is smaller than the minimum.".into(),
        );
    }
    for (name, n) in [
        ("min", v.min),
        ("max", v.max),
        ("step", v.step),
        ("max_size_mb", v.max_size_mb),
    ] {
        if n.is_some_and(|n| !n.is_finite()) {
            errs.insert(
                at(&format!("validation.{name}")),
                "Use a finite number.".into(),
            );
        }
    }
    if v.step.is_some_and(|s| s <= 0.0) {
        errs.insert(
            at("validation.step"),
            "The step must be greater than zero.".into(),
        );
    }
    if v.max_size_mb
        .is_some_and(|s| s <= 0.0 || s > super::MAX_FILE_MB)
    {
        errs.insert(
            at("validation.max_size_mb"),
            format!("Allow between 0 and {} MB per file.", super::MAX_FILE_MB),
        );
    }
    if v.max_files == Some(0) || v.max_files.is_some_and(|n| n > super::MAX_FILES) {
        errs.insert(
            at("validation.max_files"),
            format!("Allow between 1 and {} files.", super::MAX_FILES),
        );
    }
    if v.max_selections == Some(0) {
        errs.insert(
            at("validation.max_selections"),
            "Allow at least one selection.".into(),
        );
    }
    let n_options = f.options.len() as u32;
    for (name, n) in [
        ("max_selections", v.max_selections),
        ("min_selected", v.min_selected),
    ] {
        if n.is_some_and(|n| n > n_options) && !f.options.is_empty() {
            errs.insert(
                at(&format!("validation.{name}")),
                format!("There are only {n_options} options."),
            );
        }
    }
    if let Some(p) = &v.pattern
        && let Err(e) = compile_pattern(p)
    {
        errs.insert(at("validation.pattern"), e);
    }
    let mut dates = [None, None];
    for (k, (name, d)) in [("min_date", &v.min_date), ("max_date", &v.max_date)]
        .into_iter()
        .enumerate()
    {
        if let Some(d) = d {
            match RelativeDate::parse(d) {
                Ok(r) => dates[k] = Some(r),
                Err(e) => {
                    errs.insert(at(&format!("validation.{name}")), e);
                }
            }
        }
    }
    if let [Some(lo), Some(hi)] = dates
        && lo.comparable(&hi).is_some_and(|o| o.is_gt())
    {
        errs.insert(
            at("validation.max_date"),
            "The latest date is before the earliest date.".into(),
        );
    }
    for t in &v.allowed_types {
        if t.is_empty() || !t.chars().all(|c| c.is_ascii_alphanumeric()) {
            errs.insert(
                at("validation.allowed_types"),
                "List file extensions without dots, like pdf or png.".into(),
            );
        }
    }
    let only = |on: bool, name: &str, kind: FieldType, errs: &mut SchemaErrors| {
        if on && f.kind != kind {
            errs.insert(
                at(name),
                format!(
                    "{name} applies to {} fields only.",
                    kind.label().to_lowercase()
                ),
            );
        }
    };
    only(
        f.allow_self.is_some(),
        "allow_self",
        FieldType::UserPicker,
        errs,
    );
    only(
        f.filter_by_group.is_some(),
        "filter_by_group",
        FieldType::UserPicker,
        errs,
    );
    only(
        f.filter_by_type.is_some(),
        "filter_by_type",
        FieldType::GroupPicker,
        errs,
    );
    only(
        f.filter.is_some(),
        "filter",
        FieldType::ApplicationPicker,
        errs,
    );
    only(
        f.requires_application_field.is_some(),
        "requires_application_field",
        FieldType::EnvironmentPicker,
        errs,
    );
    if let Some(app) = &f.requires_application_field {
        match schema.field(app) {
            Some(a) if a.kind == FieldType::ApplicationPicker => {}
            _ => {
                errs.insert(
                    at("requires_application_field"),
                    format!("“{app}” is not an application field of this form."),
                );
            }
        }
    }
    if let Some(d) = &f.default
        && let Err(e) = super::answers::check_default(f, d)
    {
        errs.insert(at("default"), e);
    }
}

/// Conditions nest at most this deep: enough for "(a and b) or (c and d)" with room to spare.
const MAX_DEPTH: usize = 4;

fn check_condition(
    schema: &FormSchema,
    owner: &str,
    c: &Condition,
    at: &str,
    depth: usize,
    errs: &mut SchemaErrors,
) {
    match c {
        Condition::All { all } | Condition::Any { any: all } => {
            let key = if matches!(c, Condition::All { .. }) {
                "all"
            } else {
                "any"
            };
            if depth >= MAX_DEPTH {
                errs.insert(
                    at.into(),
                    format!("Conditions nest at most {MAX_DEPTH} levels deep."),
                );
                return;
            }
            if all.is_empty() {
                errs.insert(
                    format!("{at}.{key}"),
                    "A group needs at least one condition.".into(),
                );
            }
            for (i, c) in all.iter().enumerate() {
                check_condition(
                    schema,
                    owner,
                    c,
                    &format!("{at}.{key}[{i}]"),
                    depth + 1,
                    errs,
                );
            }
        }
        Condition::Leaf(leaf) => check_leaf(schema, owner, leaf, at, errs),
    }
}

fn check_leaf(schema: &FormSchema, owner: &str, leaf: &Leaf, at: &str, errs: &mut SchemaErrors) {
    let Some(ctrl) = schema.field(&leaf.field) else {
        errs.insert(
            format!("{at}.field"),
            format!("There is no field “{}”.", leaf.field),
        );
        return;
    };
    if leaf.field == owner {
        errs.insert(
            format!("{at}.field"),
            "A field cannot depend on itself.".into(),
        );
        return;
    }
    let ops = Operator::valid_for(ctrl.kind);
    if !ops.contains(&leaf.operator) {
        errs.insert(
            format!("{at}.operator"),
            format!(
                "“{}” cannot be used with a {} field; use one of: {}.",
                leaf.operator.key(),
                ctrl.kind.label().to_lowercase(),
                ops.iter().map(|o| o.key()).collect::<Vec<_>>().join(", ")
            ),
        );
        return;
    }
    if let Err(e) = leaf.check_value(ctrl) {
        errs.insert(format!("{at}.value"), e);
    }
}

/// A circle of dependencies, if any: the path of the rule where it was found and the ids.
fn find_cycle(schema: &FormSchema) -> Option<(String, Vec<String>)> {
    let deps: BTreeMap<&str, BTreeSet<&str>> = schema
        .conditional_logic
        .iter()
        .map(|r| (r.field.as_str(), super::conditions::rule_dependencies(r)))
        .collect();
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    fn visit<'a>(
        n: &'a str,
        deps: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let start = stack.iter().position(|s| *s == n).unwrap_or(0);
                let mut cycle: Vec<String> = stack[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(n, 1);
        stack.push(n);
        for d in deps.get(n).into_iter().flatten() {
            if let Some(c) = visit(d, deps, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(n, 2);
        None
    }
    for (i, r) in schema.conditional_logic.iter().enumerate() {
        let mut stack = Vec::new();
        if let Some(c) = visit(r.field.as_str(), &deps, &mut state, &mut stack) {
            return Some((format!("conditional_logic[{i}]"), c));
        }
    }
    None
}

/// Save-time checks of a condition that lives outside the form it reads (a bundle item's
/// `include_when` on the bundle's questions); problems are keyed under `at`.
pub fn check_outside_condition(schema: &FormSchema, c: &Condition, at: &str) -> SchemaErrors {
    let mut errs = SchemaErrors::new();
    check_condition(schema, "", c, at, 0, &mut errs);
    errs
}
