//! Conditions of a form: `{field, operator, value}` leaves and `all`/`any` groups, which nest;
//! a group states its own precedence, so there is nothing implicit to learn.
//!
//! Evaluation rules:
//! - Text compares case-insensitively, numbers as numbers, dates as dates (a date-only value
//!   against a date-and-time answer compares the answer's day). Relative dates (`today`, `+7d`)
//!   resolve against the submit date.
//! - `not_equals`, `not_in` and `not_contains` are exactly the negations of `equals`, `in` and
//!   `contains`; `gt`…`lte` on an empty answer are false.
//! - A field is visible when its `show_when` holds **and** every field that condition names is
//!   visible: hiding a field hides what depends on it. A hidden field's answer does not exist
//!   for any condition (so `require_when` on it sees it as empty).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::dates::RelativeDate;
use super::schema::{Field, FieldType, FormSchema, Rule};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    Equals,
    NotEquals,
    In,
    NotIn,
    Contains,
    NotContains,
    Gt,
    Gte,
    Lt,
    Lte,
    Empty,
    NotEmpty,
}

impl Operator {
    pub const ALL: [Operator; 12] = [
        Operator::Equals,
        Operator::NotEquals,
        Operator::In,
        Operator::NotIn,
        Operator::Contains,
        Operator::NotContains,
        Operator::Gt,
        Operator::Gte,
        Operator::Lt,
        Operator::Lte,
        Operator::Empty,
        Operator::NotEmpty,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Operator::Equals => "equals",
            Operator::NotEquals => "not_equals",
            Operator::In => "in",
            Operator::NotIn => "not_in",
            Operator::Contains => "contains",
            Operator::NotContains => "not_contains",
            Operator::Gt => "gt",
            Operator::Gte => "gte",
            Operator::Lt => "lt",
            Operator::Lte => "lte",
            Operator::Empty => "empty",
            Operator::NotEmpty => "not_empty",
        }
    }

    pub fn from_key(key: &str) -> Option<Operator> {
        Operator::ALL.into_iter().find(|o| o.key() == key)
    }

    /// How the builder words it.
    pub fn label(self) -> &'static str {
        match self {
            Operator::Equals => "is",
            Operator::NotEquals => "is not",
            Operator::In => "is one of",
            Operator::NotIn => "is none of",
            Operator::Contains => "contains",
            Operator::NotContains => "does not contain",
            Operator::Gt => "is more than",
            Operator::Gte => "is at least",
            Operator::Lt => "is less than",
            Operator::Lte => "is at most",
            Operator::Empty => "is empty",
            Operator::NotEmpty => "is filled in",
        }
    }

    pub fn takes_value(self) -> bool {
        !matches!(self, Operator::Empty | Operator::NotEmpty)
    }

    pub fn takes_list(self) -> bool {
        matches!(self, Operator::In | Operator::NotIn)
    }

    /// The operators that mean something for a controlling field of this type.
    pub fn valid_for(kind: FieldType) -> &'static [Operator] {
        use Operator::*;
        match kind {
            FieldType::Text | FieldType::Textarea | FieldType::RichText => &[
                Equals,
                NotEquals,
                In,
                NotIn,
                Contains,
                NotContains,
                Empty,
                NotEmpty,
            ],
            FieldType::Number => &[
                Equals, NotEquals, In, NotIn, Gt, Gte, Lt, Lte, Empty, NotEmpty,
            ],
            FieldType::Date | FieldType::Datetime => {
                &[Equals, NotEquals, Gt, Gte, Lt, Lte, Empty, NotEmpty]
            }
            FieldType::Select | FieldType::Radio => {
                &[Equals, NotEquals, In, NotIn, Empty, NotEmpty]
            }
            FieldType::MultiSelect | FieldType::CheckboxGroup => {
                &[Contains, NotContains, Empty, NotEmpty]
            }
            FieldType::Checkbox => &[Equals, NotEquals, Empty, NotEmpty],
            FieldType::File => &[Empty, NotEmpty],
            FieldType::UserPicker
            | FieldType::GroupPicker
            | FieldType::ApplicationPicker
            | FieldType::EnvironmentPicker => &[Equals, NotEquals, In, NotIn, Empty, NotEmpty],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Condition {
    All { all: Vec<Condition> },
    Any { any: Vec<Condition> },
    Leaf(Leaf),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Leaf {
    pub field: String,
    pub operator: Operator,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

// By hand rather than `untagged`, so a wrong leaf says what is wrong with it instead of "did
// not match any variant".
impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = Value::deserialize(d)?;
        let Value::Object(map) = &v else {
            return Err(D::Error::custom(
                "a condition is an object: {field, operator, value}, {all: […]} or {any: […]}",
            ));
        };
        let group = |key: &str| -> Result<Vec<Condition>, D::Error> {
            if map.len() != 1 {
                return Err(D::Error::custom(format!(
                    "a group holds only “{key}”; put other conditions inside it"
                )));
            }
            Vec::<Condition>::deserialize(&map[key]).map_err(D::Error::custom)
        };
        if map.contains_key("all") {
            Ok(Condition::All { all: group("all")? })
        } else if map.contains_key("any") {
            Ok(Condition::Any { any: group("any")? })
        } else {
            Leaf::deserialize(v)
                .map(Condition::Leaf)
                .map_err(D::Error::custom)
        }
    }
}

/// The answers of a form, normalised (see `answers::coerce`), keyed by field id.
pub type Answers = Map<String, Value>;

impl Condition {
    /// Every field this condition names.
    pub fn fields<'a>(&'a self, out: &mut BTreeSet<&'a str>) {
        match self {
            Condition::All { all: cs } | Condition::Any { any: cs } => {
                cs.iter().for_each(|c| c.fields(out))
            }
            Condition::Leaf(l) => {
                out.insert(l.field.as_str());
            }
        }
    }

    /// Whether it holds; `value_of` answers `None` for an empty or hidden field.
    pub fn holds<'a>(
        &self,
        schema: &FormSchema,
        today: NaiveDate,
        value_of: &impl Fn(&str) -> Option<&'a Value>,
    ) -> bool {
        match self {
            Condition::All { all } => all.iter().all(|c| c.holds(schema, today, value_of)),
            Condition::Any { any } => any.iter().any(|c| c.holds(schema, today, value_of)),
            Condition::Leaf(l) => match schema.field(&l.field) {
                Some(f) => l.holds(f, value_of(&l.field), today),
                None => false,
            },
        }
    }
}

pub fn rule_dependencies(r: &Rule) -> BTreeSet<&str> {
    let mut out = BTreeSet::new();
    for c in [&r.show_when, &r.require_when].into_iter().flatten() {
        c.fields(&mut out);
    }
    out
}

/// An answer counts as given: not null, not blank, not an empty list, not an unticked box.
pub fn is_given(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

impl Leaf {
    pub fn holds(&self, ctrl: &Field, answer: Option<&Value>, today: NaiveDate) -> bool {
        let answer = answer.filter(|v| is_given(Some(v)));
        let target = self.value.as_ref();
        match self.operator {
            Operator::Empty => answer.is_none(),
            Operator::NotEmpty => answer.is_some(),
            Operator::Equals => eq(ctrl, answer, target, today),
            Operator::NotEquals => !eq(ctrl, answer, target, today),
            Operator::In => in_list(ctrl, answer, target, today),
            Operator::NotIn => !in_list(ctrl, answer, target, today),
            Operator::Contains => contains(ctrl, answer, target),
            Operator::NotContains => !contains(ctrl, answer, target),
            Operator::Gt => order(ctrl, answer, target, today).is_some_and(Ordering::is_gt),
            Operator::Gte => order(ctrl, answer, target, today).is_some_and(Ordering::is_ge),
            Operator::Lt => order(ctrl, answer, target, today).is_some_and(Ordering::is_lt),
            Operator::Lte => order(ctrl, answer, target, today).is_some_and(Ordering::is_le),
        }
    }

    /// The value fits the operator and the controlling field (checked at save time).
    pub fn check_value(&self, ctrl: &Field) -> Result<(), String> {
        let op = self.operator;
        match (&self.value, op.takes_value()) {
            (None | Some(Value::Null), false) => Ok(()),
            (Some(_), false) => Err(format!("“{}” takes no value.", op.label())),
            (None | Some(Value::Null), true) => Err("Choose a value to compare with.".into()),
            (Some(Value::Array(items)), true) if op.takes_list() => {
                if items.is_empty() {
                    return Err("List at least one value.".into());
                }
                items.iter().try_for_each(|v| check_scalar(ctrl, v))
            }
            (Some(_), true) if op.takes_list() => Err("List the values in an array.".into()),
            (Some(v), true) => check_scalar(ctrl, v),
        }
    }
}

fn check_scalar(ctrl: &Field, v: &Value) -> Result<(), String> {
    let ok = match ctrl.kind {
        FieldType::Number => v.is_number(),
        FieldType::Checkbox => v.is_boolean(),
        FieldType::Date | FieldType::Datetime => match v.as_str() {
            Some(s) => {
                return RelativeDate::parse(s)
                    .map(|_| ())
                    .or_else(|e| parse_datetime(s).map(|_| ()).ok_or(e));
            }
            None => false,
        },
        k if k.has_options() => {
            return match v.as_str() {
                Some(s) if ctrl.options.iter().any(|o| o.value == s) => Ok(()),
                Some(s) => Err(format!("“{s}” is not an option of “{}”.", ctrl.label)),
                None => Err("Compare with one of the field's option values.".into()),
            };
        }
        _ => v.is_string(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "This value cannot be compared with a {} field.",
            ctrl.kind.label().to_lowercase()
        ))
    }
}

fn lower(v: &Value) -> Option<String> {
    v.as_str().map(str::to_lowercase)
}

fn eq(ctrl: &Field, answer: Option<&Value>, target: Option<&Value>, today: NaiveDate) -> bool {
    let (Some(a), Some(t)) = (answer, target) else {
        return false;
    };
    match ctrl.kind {
        FieldType::Number | FieldType::Date | FieldType::Datetime => {
            order(ctrl, Some(a), Some(t), today) == Some(Ordering::Equal)
        }
        FieldType::Checkbox => a.as_bool() == t.as_bool(),
        _ => lower(a).is_some() && lower(a) == lower(t),
    }
}

fn in_list(ctrl: &Field, answer: Option<&Value>, target: Option<&Value>, today: NaiveDate) -> bool {
    match target {
        Some(Value::Array(items)) => items.iter().any(|t| eq(ctrl, answer, Some(t), today)),
        _ => false,
    }
}

fn contains(ctrl: &Field, answer: Option<&Value>, target: Option<&Value>) -> bool {
    let (Some(a), Some(t)) = (answer, target.and_then(lower)) else {
        return false;
    };
    if ctrl.kind.is_multi() {
        a.as_array()
            .is_some_and(|items| items.iter().any(|i| lower(i).as_deref() == Some(&t)))
    } else {
        lower(a).is_some_and(|a| a.contains(&t))
    }
}

fn order(
    ctrl: &Field,
    answer: Option<&Value>,
    target: Option<&Value>,
    today: NaiveDate,
) -> Option<Ordering> {
    let (a, t) = (answer?, target?);
    match ctrl.kind {
        FieldType::Number => a.as_f64()?.partial_cmp(&t.as_f64()?),
        FieldType::Date | FieldType::Datetime => {
            let answer = parse_datetime(a.as_str()?)?;
            let t = t.as_str()?;
            match parse_datetime(t).filter(|_| t.contains('T')) {
                Some(when) => Some(answer.cmp(&when)),
                None => {
                    let day = match RelativeDate::parse(t) {
                        Ok(r) => r.resolve(today),
                        Err(_) => parse_datetime(t)?.date(),
                    };
                    Some(answer.date().cmp(&day))
                }
            }
        }
        _ => None,
    }
}

/// `2027-01-31` (midnight) or `2027-01-31T09:30[:00]`, local wall time.
pub fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

/// Which fields are shown and which are required, for these answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    pub visible: BTreeMap<String, bool>,
    pub required: BTreeMap<String, bool>,
}

impl Layout {
    pub fn is_visible(&self, id: &str) -> bool {
        self.visible.get(id).copied().unwrap_or(false)
    }

    pub fn is_required(&self, id: &str) -> bool {
        self.required.get(id).copied().unwrap_or(false)
    }
}

/// Visibility and requiredness of every field. Deterministic and independent of the order of
/// fields and rules; a cycle (which `schema::check` refuses) hides the fields in it.
pub fn layout(schema: &FormSchema, answers: &Answers, today: NaiveDate) -> Layout {
    let mut visible: BTreeMap<String, bool> = BTreeMap::new();
    let mut visiting = BTreeSet::new();
    for f in &schema.fields {
        resolve_visible(schema, answers, today, &f.id, &mut visible, &mut visiting);
    }
    let value_of = |id: &str| -> Option<&Value> {
        if visible.get(id).copied().unwrap_or(false) {
            answers.get(id)
        } else {
            None
        }
    };
    let required = schema
        .fields
        .iter()
        .map(|f| {
            let shown = visible.get(&f.id).copied().unwrap_or(false);
            let req = shown
                && match schema.rule(&f.id).and_then(|r| r.require_when.as_ref()) {
                    Some(c) => c.holds(schema, today, &value_of),
                    None => f.required,
                };
            (f.id.clone(), req)
        })
        .collect();
    Layout { visible, required }
}

fn resolve_visible(
    schema: &FormSchema,
    answers: &Answers,
    today: NaiveDate,
    id: &str,
    memo: &mut BTreeMap<String, bool>,
    visiting: &mut BTreeSet<String>,
) -> bool {
    if let Some(v) = memo.get(id) {
        return *v;
    }
    if !visiting.insert(id.to_string()) {
        return false;
    }
    let shown = match schema.rule(id).and_then(|r| r.show_when.as_ref()) {
        None => schema.field(id).is_some(),
        Some(cond) => {
            let mut names = BTreeSet::new();
            cond.fields(&mut names);
            let mut all_shown = true;
            for n in names {
                all_shown &= resolve_visible(schema, answers, today, n, memo, visiting);
            }
            all_shown && cond.holds(schema, today, &|f: &str| answers.get(f))
        }
    };
    visiting.remove(id);
    memo.insert(id.to_string(), shown);
    shown
}
