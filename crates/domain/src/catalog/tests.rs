use chrono::NaiveDate;
use serde_json::{Value, json};
use uuid::Uuid;

use super::answers::{self, Context, LookupKind};
use super::conditions::{Answers, layout};
use super::schema::{self, FieldType, FormSchema};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 3).unwrap()
}

fn ctx() -> Context {
    Context {
        today: today(),
        requester: Uuid::from_u128(7),
    }
}

fn schema(v: Value) -> FormSchema {
    schema::parse(&v).unwrap_or_else(|e| panic!("schema refused: {e:?}"))
}

fn errors(v: Value) -> Vec<(String, String)> {
    schema::parse(&v)
        .expect_err("schema accepted")
        .into_iter()
        .collect()
}

fn answers(v: Value) -> Answers {
    v.as_object().unwrap().clone()
}

/// The spec's own example, verbatim in shape.
fn spec_example() -> Value {
    json!({
      "version": "1.0",
      "fields": [
        {"id": "field_1", "type": "text", "label": "Laptop Model", "placeholder": "e.g., MacBook Pro 14\"",
         "required": true, "validation": {"min_length": 3, "max_length": 100}},
        {"id": "field_2", "type": "select", "label": "RAM Configuration", "required": true,
         "options": [{"value": "16gb", "label": "16 GB"}, {"value": "32gb", "label": "32 GB"},
                     {"value": "64gb", "label": "64 GB (+$200)"}], "default": "16gb"},
        {"id": "field_3", "type": "multi_select", "label": "Additional Software", "required": false,
         "options": [{"value": "office", "label": "Microsoft Office"}, {"value": "adobe", "label": "Adobe Creative Suite"},
                     {"value": "slack", "label": "Slack"}]},
        {"id": "field_4", "type": "textarea", "label": "Business Justification", "required": true,
         "validation": {"min_length": 50}},
        {"id": "field_5", "type": "date", "label": "Needed By", "required": true,
         "validation": {"min_date": "today", "max_date": "+90d"}},
        {"id": "field_6", "type": "user_picker", "label": "Deliver To", "required": true, "allow_self": true},
        {"id": "field_7", "type": "application_picker", "label": "Associated Application", "required": false,
         "filter": {"status": ["active"]}},
        {"id": "field_8", "type": "file", "label": "Supporting Documents", "required": false,
         "validation": {"max_files": 3, "max_size_mb": 10, "allowed_types": ["pdf", "doc", "docx", "png", "jpg"]}},
        {"id": "field_9", "type": "checkbox", "label": "I confirm this request is approved by my manager", "required": true},
        {"id": "field_10", "type": "number", "label": "Quantity", "required": true, "default": 1,
         "validation": {"min": 1, "max": 10}}
      ],
      "sections": [
        {"id": "section_1", "title": "Hardware Configuration", "fields": ["field_1", "field_2"]},
        {"id": "section_2", "title": "Software & Details", "fields": ["field_3", "field_4", "field_5"]}
      ],
      "conditional_logic": [
        {"field": "field_3", "show_when": {"field": "field_2", "operator": "in", "value": ["32gb", "64gb"]}}
      ]
    })
}

#[test]
fn the_spec_example_parses_and_round_trips() {
    let s = schema(spec_example());
    assert_eq!(s.fields.len(), 10);
    let again = schema(serde_json::to_value(&s).unwrap());
    assert_eq!(s, again);
}

#[test]
fn the_spec_condition_shows_software_only_for_big_ram() {
    let s = schema(spec_example());
    for (ram, shown) in [("16gb", false), ("32gb", true), ("64gb", true)] {
        let l = layout(&s, &answers(json!({"field_2": ram})), today());
        assert_eq!(l.is_visible("field_3"), shown, "{ram}");
    }
}

#[test]
fn save_time_errors_name_the_path() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"fields": [{"id": "a", "type": "txt", "label": "A"}]}),
            "fields[0].type",
            "not a field type",
        ),
        (
            json!({"fields": [{"id": "a", "type": "text", "label": "A"}, {"id": "a", "type": "text", "label": "B"}]}),
            "fields[1].id",
            "already has the id",
        ),
        (
            json!({"fields": [{"id": "a", "type": "select", "label": "A"}]}),
            "fields[0].options",
            "at least one option",
        ),
        (
            json!({"fields": [{"id": "a", "type": "text", "label": "A", "validation": {"min_length": 5, "max_length": 3}}]}),
            "fields[0].validation.max_length",
            "smaller than the minimum",
        ),
        (
            json!({"fields": [{"id": "a", "type": "text", "label": "A", "validation": {"min": 1}}]}),
            "fields[0].validation.min",
            "does not apply",
        ),
        (
            json!({"fields": [{"id": "a", "type": "text", "label": "A", "validation": {"max_lenght": 1}}]}),
            "fields[0].validation.max_lenght",
            "not a setting",
        ),
        (
            json!({"fields": [{"id": "a", "type": "text", "label": "A", "validation": {"pattern": "(["}}]}),
            "fields[0].validation.pattern",
            "not a valid regular expression",
        ),
        (
            json!({"fields": [{"id": "a", "type": "text", "label": "A", "validation": {"pattern": "(a{100}){100}"}}]}),
            "fields[0].validation.pattern",
            "too complex",
        ),
        (
            json!({"fields": [{"id": "d", "type": "date", "label": "D", "validation": {"min_date": "+10d", "max_date": "today"}}]}),
            "fields[0].validation.max_date",
            "before the earliest",
        ),
        (
            json!({"fields": [{"id": "d", "type": "date", "label": "D", "validation": {"min_date": "soon"}}]}),
            "fields[0].validation.min_date",
            "+90d",
        ),
        (
            json!({"fields": [{"id": "a", "type": "text", "label": "A"}], "sections": [{"id": "s", "title": "S", "fields": ["b"]}]}),
            "sections[0].fields[0]",
            "no field “b”",
        ),
        (
            json!({"fields": [{"id": "a", "type": "text", "label": "A"}],
                "sections": [{"id": "s", "title": "S", "fields": ["a"]}, {"id": "t", "title": "T", "fields": ["a"]}]}),
            "sections[1].fields[0]",
            "one section only",
        ),
        (
            json!({"fields": [{"id": "a", "type": "text", "label": "A"}],
                "conditional_logic": [{"field": "a", "show_when": {"field": "zz", "operator": "empty"}}]}),
            "conditional_logic[0].show_when.field",
            "no field “zz”",
        ),
        (
            json!({"fields": [{"id": "a", "type": "text", "label": "A"}, {"id": "n", "type": "number", "label": "N"}],
                "conditional_logic": [{"field": "a", "show_when": {"field": "n", "operator": "contains", "value": 1}}]}),
            "conditional_logic[0].show_when.operator",
            "cannot be used with a number",
        ),
        (
            json!({"fields": [{"id": "a", "type": "text", "label": "A"}, {"id": "n", "type": "number", "label": "N"}],
                "conditional_logic": [{"field": "a", "show_when": {"field": "n", "operator": "gt", "value": "x"}}]}),
            "conditional_logic[0].show_when.value",
            "cannot be compared",
        ),
        (
            json!({"fields": [{"id": "a", "type": "text", "label": "A"},
                           {"id": "s", "type": "select", "label": "S", "options": [{"value": "x", "label": "X"}]}],
                "conditional_logic": [{"field": "a", "show_when": {"any": [{"field": "s", "operator": "equals", "value": "y"}]}}]}),
            "conditional_logic[0].show_when.any[0].value",
            "not an option",
        ),
        (
            json!({"fields": [{"id": "a", "type": "text", "label": "A"}, {"id": "b", "type": "text", "label": "B"}],
                "conditional_logic": [
                    {"field": "a", "show_when": {"field": "b", "operator": "not_empty"}},
                    {"field": "b", "require_when": {"field": "a", "operator": "empty"}}]}),
            "conditional_logic[0]",
            "a → b → a",
        ),
        (
            json!({"fields": [{"id": "e", "type": "environment_picker", "label": "E", "requires_application_field": "x"}]}),
            "fields[0].requires_application_field",
            "not an application field",
        ),
        (
            json!({"fields": [{"id": "s", "type": "select", "label": "S", "options": [{"value": "x", "label": "X"}], "default": "y"}]}),
            "fields[0].default",
            "Choose one of the options",
        ),
    ];
    for (v, path, needle) in cases {
        let errs = errors(v.clone());
        let hit = errs.iter().find(|(p, _)| p == path);
        assert!(
            hit.is_some_and(|(_, m)| m.contains(needle)),
            "{v}: wanted {path} ~ {needle}, got {errs:?}"
        );
    }
}

/// One controlling field of each kind, and a dependent text field shown by a leaf on it.
fn leaf(kind: &str, extra: Value, op: &str, value: Value) -> FormSchema {
    let mut ctrl = json!({"id": "c", "type": kind, "label": "Control"});
    if let (Value::Object(c), Value::Object(e)) = (&mut ctrl, extra) {
        c.extend(e);
    }
    let mut cond = json!({"field": "c", "operator": op});
    if !value.is_null() {
        cond["value"] = value;
    }
    schema(json!({
        "fields": [ctrl, {"id": "t", "type": "text", "label": "Target"}],
        "conditional_logic": [{"field": "t", "show_when": cond}]
    }))
}

fn shown(s: &FormSchema, answer: Value) -> bool {
    let mut a = Answers::new();
    if !answer.is_null() {
        a.insert("c".into(), answer);
    }
    layout(s, &a, today()).is_visible("t")
}

#[test]
fn every_operator_on_every_kind_it_applies_to() {
    let opts = json!({"options": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]});
    let none = json!({});
    #[rustfmt::skip]
    let table: Vec<(&str, &Value, &str, Value, Value, bool)> = vec![
        // text: case-insensitive
        ("text", &none, "equals", json!("Mac"), json!("mac"), true),
        ("text", &none, "equals", json!("Mac"), json!("pc"), false),
        ("text", &none, "not_equals", json!("Mac"), json!("MAC"), false),
        ("text", &none, "not_equals", json!("Mac"), Value::Null, true),
        ("text", &none, "in", json!(["x", "Mac"]), json!("mac"), true),
        ("text", &none, "not_in", json!(["x", "Mac"]), json!("pc"), true),
        ("text", &none, "contains", json!("BOOK"), json!("MacBook Pro"), true),
        ("text", &none, "not_contains", json!("book"), json!("ThinkPad"), true),
        ("text", &none, "empty", Value::Null, json!("  "), true),
        ("text", &none, "not_empty", Value::Null, json!("x"), true),
        ("textarea", &none, "contains", json!("urgent"), json!("It is Urgent"), true),
        ("rich_text", &none, "empty", Value::Null, Value::Null, true),
        // numbers as numbers
        ("number", &none, "gt", json!(9), json!(10), true),
        ("number", &none, "gt", json!(10), json!(10), false),
        ("number", &none, "gte", json!(10), json!(10.0), true),
        ("number", &none, "lt", json!(2), json!(1.5), true),
        ("number", &none, "lte", json!(2), json!(3), false),
        ("number", &none, "equals", json!(2), json!(2.0), true),
        ("number", &none, "in", json!([1, 2]), json!(2), true),
        ("number", &none, "not_in", json!([1, 2]), json!(3), true),
        ("number", &none, "gt", json!(1), Value::Null, false),
        ("number", &none, "lte", json!(1), Value::Null, false),
        // dates as dates, relative to the submit date
        ("date", &none, "gt", json!("2026-12-31"), json!("2027-01-01"), true),
        ("date", &none, "lt", json!("+7d"), json!("2026-12-05"), true),
        ("date", &none, "gte", json!("today"), json!("2026-12-02"), false),
        ("date", &none, "equals", json!("2026-12-03"), json!("2026-12-03"), true),
        ("date", &none, "not_equals", json!("today"), json!("2026-12-03"), false),
        ("datetime", &none, "equals", json!("2026-12-03"), json!("2026-12-03T17:45"), true),
        ("datetime", &none, "gt", json!("2026-12-03T12:00"), json!("2026-12-03T12:30"), true),
        ("datetime", &none, "lte", json!("2026-12-03T12:00"), json!("2026-12-03T12:30"), false),
        ("date", &none, "empty", Value::Null, Value::Null, true),
        ("datetime", &none, "not_empty", Value::Null, json!("2026-12-03T12:30"), true),
        // choices
        ("select", &opts, "equals", json!("a"), json!("a"), true),
        ("select", &opts, "not_equals", json!("a"), json!("b"), true),
        ("radio", &opts, "in", json!(["a", "b"]), json!("b"), true),
        ("radio", &opts, "not_in", json!(["a"]), json!("a"), false),
        ("select", &opts, "empty", Value::Null, Value::Null, true),
        ("radio", &opts, "not_empty", Value::Null, json!("a"), true),
        ("multi_select", &opts, "contains", json!("b"), json!(["a", "b"]), true),
        ("multi_select", &opts, "contains", json!("b"), json!(["a"]), false),
        ("checkbox_group", &opts, "not_contains", json!("a"), json!(["b"]), true),
        ("checkbox_group", &opts, "empty", Value::Null, json!([]), true),
        ("multi_select", &opts, "not_empty", Value::Null, json!(["a"]), true),
        ("checkbox", &none, "equals", json!(true), json!(true), true),
        ("checkbox", &none, "equals", json!(true), json!(false), false),
        ("checkbox", &none, "not_equals", json!(true), Value::Null, true),
        ("file", &none, "not_empty", Value::Null, json!([{"filename": "a.pdf", "size_bytes": 1}]), true),
        ("file", &none, "empty", Value::Null, json!([]), true),
        // pickers compare ids
        ("user_picker", &none, "equals", json!("00000000-0000-0000-0000-000000000001"), json!("00000000-0000-0000-0000-000000000001"), true),
        ("group_picker", &none, "in", json!(["00000000-0000-0000-0000-000000000001"]), json!("00000000-0000-0000-0000-000000000002"), false),
        ("application_picker", &none, "not_empty", Value::Null, json!("00000000-0000-0000-0000-000000000002"), true),
        ("environment_picker", &none, "empty", Value::Null, Value::Null, true),
    ];
    for (kind, extra, op, value, answer, want) in table {
        let s = leaf(kind, extra.clone(), op, value.clone());
        assert_eq!(
            shown(&s, answer.clone()),
            want,
            "{kind} {op} {value} on {answer}"
        );
    }
}

#[test]
fn groups_nest_with_explicit_precedence() {
    // (a = x AND b = y) OR c is filled
    let s = schema(json!({
        "fields": [
            {"id": "a", "type": "text", "label": "A"}, {"id": "b", "type": "text", "label": "B"},
            {"id": "c", "type": "text", "label": "C"}, {"id": "t", "type": "text", "label": "T"}],
        "conditional_logic": [{"field": "t", "show_when": {"any": [
            {"all": [{"field": "a", "operator": "equals", "value": "x"}, {"field": "b", "operator": "equals", "value": "y"}]},
            {"field": "c", "operator": "not_empty"}]}}]
    }));
    let vis = |v: Value| layout(&s, &answers(v), today()).is_visible("t");
    assert!(vis(json!({"a": "x", "b": "y"})));
    assert!(!vis(json!({"a": "x", "b": "n"})));
    assert!(vis(json!({"a": "x", "b": "n", "c": "1"})));
    assert!(!vis(json!({})));
}

#[test]
fn hiding_a_field_hides_what_depends_on_it() {
    // a → b shown when a = yes; c shown when b is empty. With a = no, b is hidden, so c is too,
    // even though "b is empty" would hold.
    let s = schema(json!({
        "fields": [{"id": "a", "type": "text", "label": "A"}, {"id": "b", "type": "text", "label": "B"},
                   {"id": "c", "type": "text", "label": "C"}],
        "conditional_logic": [
            {"field": "b", "show_when": {"field": "a", "operator": "equals", "value": "yes"}},
            {"field": "c", "show_when": {"field": "b", "operator": "empty"}}]
    }));
    let l = layout(&s, &answers(json!({"a": "no"})), today());
    assert!(!l.is_visible("b") && !l.is_visible("c"));
    let l = layout(&s, &answers(json!({"a": "yes"})), today());
    assert!(l.is_visible("b") && l.is_visible("c"));
}

#[test]
fn require_when_makes_a_field_required_only_when_it_holds_and_the_field_is_shown() {
    let s = schema(json!({
        "fields": [{"id": "kind", "type": "select", "label": "Kind", "options": [{"value": "other", "label": "Other"}, {"value": "std", "label": "Standard"}]},
                   {"id": "why", "type": "textarea", "label": "Why"}],
        "conditional_logic": [{"field": "why", "require_when": {"field": "kind", "operator": "equals", "value": "other"}}]
    }));
    let c = answers::check(&s, &answers(json!({"kind": "other"})), ctx(), true);
    assert_eq!(
        c.errors.get("why").map(String::as_str),
        Some("Why is required.")
    );
    let c = answers::check(&s, &answers(json!({"kind": "std"})), ctx(), true);
    assert!(c.errors.is_empty());
}

#[test]
fn hidden_fields_are_dropped_and_never_required() {
    let s = schema(spec_example());
    let c = answers::check(
        &s,
        &answers(
            json!({"field_2": "16gb", "field_3": ["office"], "field_1": "ThinkPad X1",
            "field_4": "x".repeat(60), "field_5": "2026-12-10", "field_6": Uuid::from_u128(9).to_string(),
            "field_9": true}),
        ),
        ctx(),
        true,
    );
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert!(
        !c.values.contains_key("field_3"),
        "hidden software choice stored"
    );
    // The default quantity was applied to an API submission that left it out.
    assert_eq!(c.values.get("field_10"), Some(&json!(1)));
    assert_eq!(c.lookups.len(), 1);
    assert!(matches!(
        c.lookups[0].kind,
        LookupKind::User { group: None }
    ));
}

#[test]
fn each_type_checks_its_answers() {
    let s = schema(spec_example());
    let base = json!({"field_1": "ThinkPad X1", "field_2": "32gb", "field_4": "x".repeat(60),
        "field_5": "2026-12-10", "field_6": Uuid::from_u128(9).to_string(), "field_9": true, "field_10": 2});
    #[rustfmt::skip]
    let cases: Vec<(&str, Value, &str)> = vec![
        ("field_1", json!("ab"), "at least 3 characters"),
        ("field_1", json!("x".repeat(101)), "at most 100 characters"),
        ("field_1", json!(5), "must be text"),
        ("field_2", json!("128gb"), "Choose one of the options"),
        ("field_3", json!(["office", "office"]), "chosen twice"),
        ("field_3", json!(["word"]), "only the listed options"),
        ("field_4", json!("too short"), "at least 50 characters"),
        ("field_5", json!("2026-12-02"), "3 December 2026 at the earliest"),
        ("field_5", json!("2027-03-04"), "3 March 2027 at the latest"),
        ("field_5", json!("next week"), "must be a date"),
        ("field_6", json!("bob"), "from the list"),
        ("field_8", json!([{"filename": "a.exe", "size_bytes": 10}]), "accepted types"),
        ("field_8", json!([{"filename": "a.pdf", "size_bytes": 11 * 1024 * 1024}]), "larger than 10 MB"),
        ("field_8", json!([{"filename": "1.pdf", "size_bytes": 1}, {"filename": "2.pdf", "size_bytes": 1},
                           {"filename": "3.pdf", "size_bytes": 1}, {"filename": "4.pdf", "size_bytes": 1}]), "at most 3 files"),
        ("field_9", json!(false), "Tick this box"),
        ("field_10", json!(11), "at most 10"),
        ("field_10", json!(0), "at least 1"),
        ("field_10", json!("many"), "must be a number"),
    ];
    for (id, v, needle) in cases {
        let mut a = answers(base.clone());
        a.insert(id.into(), v.clone());
        let c = answers::check(&s, &a, ctx(), true);
        let e = c.errors.get(id).cloned().unwrap_or_default();
        assert!(e.contains(needle), "{id}={v}: {e:?} / {:?}", c.errors);
        assert_eq!(c.errors.len(), 1, "{id}={v}: {:?}", c.errors);
    }
    assert!(
        answers::check(&s, &answers(base), ctx(), true)
            .errors
            .is_empty()
    );
}

#[test]
fn selections_steps_patterns_and_self_pick() {
    let s = schema(json!({"fields": [
        {"id": "g", "type": "checkbox_group", "label": "G", "options": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}, {"value": "c", "label": "C"}],
         "validation": {"min_selected": 2, "max_selected": 2}},
        {"id": "m", "type": "multi_select", "label": "M", "options": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}],
         "validation": {"max_selections": 1}},
        {"id": "n", "type": "number", "label": "N", "validation": {"min": 0, "step": 0.5}},
        {"id": "p", "type": "text", "label": "P", "validation": {"pattern": "[A-Z]{3}-\\d{2}"}},
        {"id": "u", "type": "user_picker", "label": "U", "allow_self": false},
        {"id": "app", "type": "application_picker", "label": "App"},
        {"id": "env", "type": "environment_picker", "label": "Env", "requires_application_field": "app"}
    ]}));
    let check = |v: Value| answers::check(&s, &answers(v), ctx(), true).errors;
    let e = check(
        json!({"g": ["a"], "m": ["a", "b"], "n": 1.25, "p": "abc-12", "u": Uuid::from_u128(7).to_string(),
        "env": Uuid::from_u128(3).to_string()}),
    );
    assert!(e["g"].contains("at least 2"), "{e:?}");
    assert!(e["m"].contains("at most 1"), "{e:?}");
    assert!(e["n"].contains("steps of 0.5"), "{e:?}");
    assert!(e["p"].contains("expected format"), "{e:?}");
    assert!(e["u"].contains("other than yourself"), "{e:?}");
    assert!(e["env"].contains("Choose “App” first"), "{e:?}");
    let app = Uuid::from_u128(4);
    let c = answers::check(
        &s,
        &answers(
            json!({"g": ["a", "c"], "n": 1.5, "p": "ABC-12", "app": app.to_string(),
        "env": Uuid::from_u128(3).to_string()}),
        ),
        ctx(),
        true,
    );
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert!(
        c.lookups
            .iter()
            .any(|l| l.kind == LookupKind::Environment { application: app })
    );
}

#[test]
fn form_pairs_become_typed_answers() {
    let s = schema(spec_example());
    let pairs: Vec<(String, String)> = [
        ("f_field_1", " ThinkPad "),
        ("f_field_3", "office"),
        ("f_field_3", "slack"),
        ("f_field_9", "on"),
        ("f_field_10", "3"),
        ("f_field_4", "a\r\nb"),
        ("f_field_5", ""),
        ("other", "x"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let a = answers::coerce_form(&s, &pairs);
    assert_eq!(a.get("field_1"), Some(&json!("ThinkPad")));
    assert_eq!(a.get("field_3"), Some(&json!(["office", "slack"])));
    assert_eq!(a.get("field_9"), Some(&json!(true)));
    assert_eq!(a.get("field_10"), Some(&json!(3)));
    assert_eq!(a.get("field_4"), Some(&json!("a\nb")));
    assert!(!a.contains_key("field_5") && !a.contains_key("other"));
    // A fresh form starts from the defaults.
    let init = answers::initial(&s);
    assert_eq!(init.get("field_2"), Some(&json!("16gb")));
}

#[test]
fn every_type_has_a_key_and_a_label() {
    for t in FieldType::ALL {
        assert_eq!(FieldType::from_key(t.key()), Some(t));
        assert!(!t.label().is_empty());
    }
}
