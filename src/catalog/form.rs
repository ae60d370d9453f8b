//! A catalog form as a page shows it: sections of fields with their current values, whether
//! each is shown and required (decided by the domain rules, never by the browser), the choices
//! of its pickers and its error. The requester portal, the builder's live preview and a
//! request's answers all render from this.

use std::collections::BTreeMap;

use domain::catalog::answers::{self, Context};
use domain::catalog::conditions::{Answers, Layout, layout};
use domain::catalog::schema::{Field, FieldType, FormSchema};
use serde_json::Value;
use uuid::Uuid;

use crate::platform::error::AppError;
use crate::platform::tenancy::TenantTx;

pub struct FormView {
    pub sections: Vec<SectionView>,
}

pub struct SectionView {
    pub title: Option<String>,
    pub fields: Vec<FieldView>,
}

pub struct FieldView {
    pub id: String,
    /// The input's name: `f_<id>`.
    pub name: String,
    pub kind: &'static str,
    pub label: String,
    pub placeholder: String,
    pub help: String,
    pub required: bool,
    pub visible: bool,
    /// Single-valued inputs.
    pub value: String,
    /// Multi-valued inputs (option values), and ticked state for a checkbox.
    pub values: Vec<String>,
    pub checked: bool,
    pub options: Vec<(String, String)>,
    pub error: Option<String>,
    /// Input bounds for the browser's own hints (the server still decides).
    pub min: String,
    pub max: String,
    pub step: String,
    pub maxlength: String,
    pub accept: String,
    pub multiple_files: bool,
}

impl FieldView {
    pub fn is(&self, kind: &str) -> bool {
        self.kind == kind
    }

    pub fn selected(&self, value: &str) -> bool {
        self.value == value || self.values.iter().any(|v| v == value)
    }
}

/// The choices a picker offers this requester.
async fn picker_choices(
    tx: &mut TenantTx,
    f: &Field,
    answers: &Answers,
    shown: &Layout,
) -> Result<Vec<(String, String)>, AppError> {
    let rows: Vec<(Uuid, String)> = match f.kind {
        FieldType::UserPicker => {
            sqlx::query_as(
                "SELECT u.id, u.name FROM users u WHERE u.status = 'active'
                   AND ($1::uuid IS NULL OR EXISTS (SELECT 1 FROM group_members gm WHERE gm.user_id = u.id AND gm.group_id = $1))
                 ORDER BY u.name LIMIT 500",
            )
            .bind(f.filter_by_group)
            .fetch_all(&mut **tx)
            .await?
        }
        FieldType::GroupPicker => {
            sqlx::query_as(
                "SELECT id, name FROM groups WHERE ($1::text IS NULL OR type = $1) ORDER BY name LIMIT 500",
            )
            .bind(f.filter_by_type.as_deref())
            .fetch_all(&mut **tx)
            .await?
        }
        FieldType::ApplicationPicker => {
            let filter = f.filter.clone().unwrap_or_default();
            sqlx::query_as(
                "SELECT id, name || ' (' || app_id || ')' FROM applications
                 WHERE (cardinality($1::text[]) = 0 OR COALESCE(status, 'active') = ANY($1))
                   AND (cardinality($2::text[]) = 0 OR tier = ANY($2))
                 ORDER BY name LIMIT 500",
            )
            .bind(&filter.status)
            .bind(&filter.tier)
            .fetch_all(&mut **tx)
            .await?
        }
        FieldType::EnvironmentPicker => {
            let app = f
                .requires_application_field
                .as_deref()
                .filter(|a| shown.is_visible(a))
                .and_then(|a| answers.get(a))
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<Uuid>().ok());
            match (&f.requires_application_field, app) {
                (Some(_), None) => Vec::new(),
                _ => {
                    sqlx::query_as(
                        "SELECT e.id, CASE WHEN $1::uuid IS NULL THEN a.name || ' — ' || e.name ELSE e.name END
                         FROM environments e JOIN applications a ON a.id = e.application_id
                         WHERE ($1::uuid IS NULL OR e.application_id = $1) AND COALESCE(a.status, 'active') = 'active'
                         ORDER BY a.name, e.name LIMIT 500",
                    )
                    .bind(app)
                    .fetch_all(&mut **tx)
                    .await?
                }
            }
        }
        _ => Vec::new(),
    };
    Ok(rows.into_iter().map(|(i, n)| (i.to_string(), n)).collect())
}

fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// Builds the view for `answers`; `errors` are keyed by field id.
pub async fn view(
    tx: &mut TenantTx,
    schema: &FormSchema,
    answers: &Answers,
    errors: &BTreeMap<String, String>,
    ctx: Context,
) -> Result<FormView, AppError> {
    let shown = layout(schema, answers, ctx.today);
    let mut views: BTreeMap<String, FieldView> = BTreeMap::new();
    for f in &schema.fields {
        let v = answers.get(&f.id);
        let options = if f.kind.has_options() {
            f.options
                .iter()
                .map(|o| (o.value.clone(), o.label.clone()))
                .collect()
        } else if f.kind.is_picker() && shown.is_visible(&f.id) {
            picker_choices(tx, f, answers, &shown).await?
        } else {
            Vec::new()
        };
        let rules = &f.validation;
        let num = |n: Option<f64>| n.map(|n| n.to_string()).unwrap_or_default();
        let date = |d: &Option<String>| {
            d.as_deref()
                .and_then(|d| domain::catalog::dates::RelativeDate::parse(d).ok())
                .map(|r| r.resolve(ctx.today).format("%Y-%m-%d").to_string())
                .map(|d| {
                    if f.kind == FieldType::Datetime {
                        format!("{d}T00:00")
                    } else {
                        d
                    }
                })
                .unwrap_or_default()
        };
        let (min, max) = match f.kind {
            FieldType::Number => (num(rules.min), num(rules.max)),
            FieldType::Date | FieldType::Datetime => (date(&rules.min_date), date(&rules.max_date)),
            _ => (String::new(), String::new()),
        };
        let values = match v {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        views.insert(
            f.id.clone(),
            FieldView {
                id: f.id.clone(),
                name: format!("f_{}", f.id),
                kind: f.kind.key(),
                label: f.label.clone(),
                placeholder: f.placeholder.clone().unwrap_or_default(),
                help: f.help_text.clone().unwrap_or_default(),
                required: shown.is_required(&f.id),
                visible: shown.is_visible(&f.id),
                value: text_of(v),
                values,
                checked: v.and_then(Value::as_bool).unwrap_or(false),
                options,
                error: errors.get(&f.id).cloned(),
                min,
                max,
                step: num(rules.step),
                maxlength: rules.max_length.map(|m| m.to_string()).unwrap_or_default(),
                accept: rules
                    .allowed_types
                    .iter()
                    .map(|t| format!(".{t}"))
                    .collect::<Vec<_>>()
                    .join(","),
                multiple_files: rules.max_files.is_none_or(|n| n > 1),
            },
        );
    }
    let mut sections = Vec::new();
    let mut loose = Vec::new();
    // Fields outside any section come first, in form order; then each section.
    for f in &schema.fields {
        if schema.section_of(&f.id).is_none()
            && let Some(v) = views.remove(&f.id)
        {
            loose.push(v);
        }
    }
    if !loose.is_empty() {
        sections.push(SectionView {
            title: None,
            fields: loose,
        });
    }
    for s in &schema.sections {
        let fields = s.fields.iter().filter_map(|id| views.remove(id)).collect();
        sections.push(SectionView {
            title: Some(s.title.clone()),
            fields,
        });
    }
    Ok(FormView { sections })
}

/// One answer as words, with the labels of the version it was given under.
pub fn answer_text(f: &Field, v: &Value, names: &BTreeMap<Uuid, String>) -> String {
    let option = |s: &str| {
        f.options
            .iter()
            .find(|o| o.value == s)
            .map_or_else(|| s.to_string(), |o| o.label.clone())
    };
    match (f.kind, v) {
        (FieldType::Checkbox, Value::Bool(b)) => if *b { "Yes" } else { "No" }.into(),
        (k, Value::String(s)) if k.has_options() => option(s),
        (FieldType::File, _) => answers::files(v)
            .unwrap_or_default()
            .iter()
            .map(|f| f.filename.clone())
            .collect::<Vec<_>>()
            .join(", "),
        (_, Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(option)
            .collect::<Vec<_>>()
            .join(", "),
        (k, Value::String(s)) if k.is_picker() => s
            .parse::<Uuid>()
            .ok()
            .and_then(|id| names.get(&id).cloned())
            .unwrap_or_else(|| "(no longer exists)".into()),
        (FieldType::Datetime, Value::String(s)) => s.replace('T', " "),
        (_, Value::String(s)) => s.clone(),
        (_, Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// Checks pickers' records: active, of this tenant, matching the field's filter.
pub async fn check_lookups(
    tx: &mut TenantTx,
    lookups: &[answers::Lookup],
    errors: &mut BTreeMap<String, String>,
) -> Result<(), AppError> {
    use answers::LookupKind;
    for l in lookups {
        let ok: bool = match &l.kind {
            LookupKind::User { group } => {
                sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM users u WHERE u.id = $1 AND u.status = 'active'
                       AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM group_members gm WHERE gm.user_id = u.id AND gm.group_id = $2)))",
                )
                .bind(l.id)
                .bind(group)
                .fetch_one(&mut **tx)
                .await?
            }
            LookupKind::Group { group_type } => {
                sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM groups WHERE id = $1 AND ($2::text IS NULL OR type = $2))",
                )
                .bind(l.id)
                .bind(group_type)
                .fetch_one(&mut **tx)
                .await?
            }
            LookupKind::Application { filter } => {
                sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM applications WHERE id = $1
                       AND (cardinality($2::text[]) = 0 OR COALESCE(status, 'active') = ANY($2))
                       AND (cardinality($3::text[]) = 0 OR tier = ANY($3)))",
                )
                .bind(l.id)
                .bind(&filter.status)
                .bind(&filter.tier)
                .fetch_one(&mut **tx)
                .await?
            }
            LookupKind::Environment { application } => {
                let app = Some(*application).filter(|a| !a.is_nil());
                sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM environments e JOIN applications a ON a.id = e.application_id
                       WHERE e.id = $1 AND ($2::uuid IS NULL OR e.application_id = $2)
                         AND COALESCE(a.status, 'active') = 'active')",
                )
                .bind(l.id)
                .bind(app)
                .fetch_one(&mut **tx)
                .await?
            }
        };
        if !ok {
            errors.insert(
                l.field.clone(),
                "Choose one of the listed entries; this one is not available.".into(),
            );
        }
    }
    Ok(())
}

/// The names of the records picker answers point at (for showing answers).
pub async fn picked_names(
    tx: &mut TenantTx,
    schema: &FormSchema,
    values: &Answers,
) -> Result<BTreeMap<Uuid, String>, AppError> {
    let ids: Vec<Uuid> = schema
        .fields
        .iter()
        .filter(|f| f.kind.is_picker())
        .filter_map(|f| values.get(&f.id)?.as_str()?.parse().ok())
        .collect();
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, name::text FROM users WHERE id = ANY($1)
         UNION ALL SELECT id, name::text FROM groups WHERE id = ANY($1)
         UNION ALL SELECT id, name || ' (' || app_id || ')' FROM applications WHERE id = ANY($1)
         UNION ALL SELECT e.id, a.name || ' — ' || e.name FROM environments e JOIN applications a ON a.id = e.application_id WHERE e.id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().collect())
}
