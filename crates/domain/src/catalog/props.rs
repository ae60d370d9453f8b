//! Property tests: random valid schemas and random answers.

use chrono::NaiveDate;
use proptest::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

use super::answers::{self, Context};
use super::conditions::{Answers, layout};
use super::schema::{self, FormSchema};

const KINDS: [&str; 7] = [
    "text",
    "number",
    "select",
    "multi_select",
    "checkbox",
    "date",
    "radio",
];
const OPTS: [&str; 3] = ["a", "b", "c"];

fn field_json(i: usize, kind: &str, required: bool) -> Value {
    let mut f = json!({"id": format!("f{i}"), "type": kind, "label": format!("Field {i}"), "required": required});
    if matches!(kind, "select" | "multi_select" | "radio") {
        f["options"] = json!(
            OPTS.iter()
                .map(|o| json!({"value": o, "label": o.to_uppercase()}))
                .collect::<Vec<_>>()
        );
    }
    if kind == "number" {
        f["validation"] = json!({"min": 0, "max": 50});
    }
    f
}

/// A leaf on field `c` (of `kind`) chosen by `pick`.
fn leaf_json(c: usize, kind: &str, pick: u8) -> Value {
    let field = format!("f{c}");
    let (op, value) = match (kind, pick % 4) {
        (_, 0) => ("not_empty", Value::Null),
        ("text", 1) => ("contains", json!("a")),
        ("text", _) => ("equals", json!("abc")),
        ("number", 1) => ("gt", json!(10)),
        ("number", _) => ("lte", json!(25)),
        ("select" | "radio", 1) => ("equals", json!("a")),
        ("select" | "radio", _) => ("in", json!(["b", "c"])),
        ("multi_select", _) => ("contains", json!("b")),
        ("checkbox", _) => ("equals", json!(true)),
        ("date", 1) => ("gte", json!("today")),
        ("date", _) => ("lt", json!("2027-01-01")),
        _ => ("empty", Value::Null),
    };
    let mut l = json!({"field": field, "operator": op});
    if !value.is_null() {
        l["value"] = value;
    }
    l
}

#[derive(Debug, Clone)]
struct Case {
    schema: Value,
    answers: Answers,
    order: Vec<usize>,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..9)
        .prop_flat_map(|n| {
            (
                proptest::collection::vec((0..KINDS.len(), any::<bool>()), n),
                // Per field: maybe a show rule and maybe a require rule on an earlier field.
                proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>()), n),
                proptest::collection::vec((any::<bool>(), 0u8..6, 0i64..60), n),
                Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
            )
        })
        .prop_map(|(kinds, rules, vals, order)| {
            let fields: Vec<Value> =
                kinds.iter().enumerate().map(|(i, (k, r))| field_json(i, KINDS[*k], *r)).collect();
            let mut logic = Vec::new();
            for (i, (show, spick, req, rpick)) in rules.iter().enumerate() {
                if i == 0 {
                    continue;
                }
                let mut rule = json!({"field": format!("f{i}")});
                if show % 2 == 0 {
                    let c = *show as usize % i;
                    rule["show_when"] = leaf_json(c, KINDS[kinds[c].0], *spick);
                }
                if req % 3 == 0 {
                    let c = *req as usize % i;
                    let other = (*req as usize / 3) % i;
                    rule["require_when"] = json!({"any": [leaf_json(c, KINDS[kinds[c].0], *rpick),
                        {"all": [leaf_json(other, KINDS[kinds[other].0], rpick.wrapping_add(1))]}]});
                }
                if rule.as_object().is_some_and(|o| o.len() > 1) {
                    logic.push(rule);
                }
            }
            let mut answers = Answers::new();
            for (i, (present, pick, n)) in vals.iter().enumerate() {
                if !present {
                    continue;
                }
                let v = match (KINDS[kinds[i].0], pick) {
                    // Some answers are of the wrong type on purpose.
                    (_, 5) => json!({"nested": true}),
                    ("text", _) => json!(["abc", "xa", "", "zzz", "ABC"][*pick as usize % 5]),
                    ("number", _) => json!(n),
                    ("select" | "radio", _) => json!(["a", "b", "c", "d"][*pick as usize % 4]),
                    ("multi_select", _) => json!(OPTS[..(*pick as usize % 4).min(3)]),
                    ("checkbox", _) => json!(pick % 2 == 0),
                    ("date", _) => json!(format!("2026-12-{:02}", 1 + n % 28)),
                    _ => Value::Null,
                };
                answers.insert(format!("f{i}"), v);
            }
            Case { schema: json!({"fields": fields, "conditional_logic": logic}), answers, order }
        })
}

fn ctx() -> Context {
    Context {
        today: NaiveDate::from_ymd_opt(2026, 12, 3).unwrap(),
        requester: Uuid::from_u128(1),
    }
}

fn reordered(s: &FormSchema, order: &[usize]) -> FormSchema {
    let mut s2 = s.clone();
    s2.fields = order.iter().map(|&i| s.fields[i].clone()).collect();
    s2.conditional_logic.reverse();
    s2
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn generated_schemas_pass_and_evaluation_is_total(c in case()) {
        let s = schema::parse(&c.schema).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        let checked = answers::check(&s, &c.answers, ctx(), true);
        for f in &s.fields {
            let shown = checked.layout.is_visible(&f.id);
            if !shown {
                prop_assert!(!checked.values.contains_key(&f.id), "hidden {} stored", f.id);
                prop_assert!(!checked.errors.contains_key(&f.id), "hidden {} has an error", f.id);
                prop_assert!(!checked.layout.is_required(&f.id), "hidden {} required", f.id);
            }
        }
        // Every stored answer is one of the submitted (or default) values.
        for (k, v) in &checked.values {
            prop_assert!(c.answers.get(k) == Some(v) || s.field(k).and_then(|f| f.default.as_ref()) == Some(v));
        }
    }

    #[test]
    fn evaluation_is_deterministic_and_independent_of_order(c in case()) {
        let s = schema::parse(&c.schema).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        let a = answers::check(&s, &c.answers, ctx(), true);
        let b = answers::check(&s, &c.answers, ctx(), true);
        let r = answers::check(&reordered(&s, &c.order), &c.answers, ctx(), true);
        prop_assert_eq!(&a.values, &b.values);
        prop_assert_eq!(&a.errors, &r.errors);
        prop_assert_eq!(&a.values, &r.values);
        prop_assert_eq!(&a.layout, &r.layout);
        prop_assert_eq!(layout(&s, &c.answers, ctx().today), layout(&reordered(&s, &c.order), &c.answers, ctx().today));
    }

    /// Whatever JSON arrives, parsing either refuses it with paths or yields a schema that
    /// evaluates without panicking.
    #[test]
    fn junk_schemas_are_refused_or_evaluate(c in case(), drop in 0usize..8, op in 0usize..12) {
        let mut v = c.schema.clone();
        if let Some(rule) = v["conditional_logic"].as_array_mut().and_then(|l| l.first_mut())
            && let Some(leaf) = rule.get_mut("show_when") {
                leaf["operator"] = json!(super::conditions::Operator::ALL[op].key());
            }
        if let Some(fields) = v["fields"].as_array_mut()
            && drop < fields.len() && fields.len() > 1 {
                fields.remove(drop);
            }
        match schema::parse(&v) {
            Ok(s) => { answers::check(&s, &c.answers, ctx(), true); }
            Err(e) => prop_assert!(!e.is_empty()),
        }
    }
}
