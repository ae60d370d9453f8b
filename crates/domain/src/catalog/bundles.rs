//! Bundles: several catalog items requested together ("New hire"). The bundle asks its shared
//! questions once; an item is mandatory or optional (the requester may untick it), and may be
//! included only when a condition on the shared questions holds.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::conditions::{Answers, Condition};
use super::schema::{FormSchema, check_outside_condition};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleItem {
    pub item_id: Uuid,
    #[serde(default = "one")]
    pub quantity: i32,
    #[serde(default)]
    pub optional: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_when: Option<Condition>,
}

fn one() -> i32 {
    1
}

pub const MAX_ITEMS: usize = 20;

/// Problems with a bundle's item list, keyed `items[2].include_when.field`.
pub fn check_items(questions: &FormSchema, items: &[BundleItem]) -> BTreeMap<String, String> {
    let mut errs = BTreeMap::new();
    if items.is_empty() {
        errs.insert("items".into(), "Add at least one item.".into());
    } else if items.len() > MAX_ITEMS {
        errs.insert(
            "items".into(),
            format!("A bundle has at most {MAX_ITEMS} items."),
        );
    }
    let mut seen = BTreeSet::new();
    for (i, it) in items.iter().enumerate() {
        if !seen.insert(it.item_id) {
            errs.insert(
                format!("items[{i}].item_id"),
                "This item is in the bundle already.".into(),
            );
        }
        if !(1..=100).contains(&it.quantity) {
            errs.insert(
                format!("items[{i}].quantity"),
                "Use a quantity from 1 to 100.".into(),
            );
        }
        if let Some(c) = &it.include_when {
            errs.extend(check_outside_condition(
                questions,
                c,
                &format!("items[{i}].include_when"),
            ));
        }
    }
    errs
}

/// Whether the item's condition holds for the (checked) answers to the shared questions.
pub fn applies(
    questions: &FormSchema,
    it: &BundleItem,
    answers: &Answers,
    today: NaiveDate,
) -> bool {
    it.include_when
        .as_ref()
        .is_none_or(|c| c.holds(questions, today, &|id| answers.get(id)))
}

/// The items a submission includes, in order: those whose condition holds, less the optional
/// ones the requester unticked.
pub fn chosen<'a>(
    questions: &FormSchema,
    items: &'a [BundleItem],
    answers: &Answers,
    unticked: &BTreeSet<Uuid>,
    today: NaiveDate,
) -> Vec<&'a BundleItem> {
    items
        .iter()
        .filter(|it| applies(questions, it, answers, today))
        .filter(|it| !(it.optional && unticked.contains(&it.item_id)))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::catalog::schema::parse;

    #[test]
    fn conditions_and_unticking_choose_the_items() {
        let q = parse(&json!({"fields": [
            {"id": "role", "type": "select", "label": "Role", "options": [
                {"value": "dev", "label": "Developer"}, {"value": "sales", "label": "Sales"}]}]}))
        .unwrap();
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let items: Vec<BundleItem> = serde_json::from_value(json!([
            {"item_id": a},
            {"item_id": b, "optional": true},
            {"item_id": c, "include_when": {"field": "role", "operator": "equals", "value": "dev"}}
        ]))
        .unwrap();
        assert!(check_items(&q, &items).is_empty());
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let dev = json!({"role": "dev"}).as_object().cloned().unwrap();
        let sales = json!({"role": "sales"}).as_object().cloned().unwrap();
        let ids = |v: Vec<&BundleItem>| v.iter().map(|i| i.item_id).collect::<Vec<_>>();
        assert_eq!(
            ids(chosen(&q, &items, &dev, &BTreeSet::new(), today)),
            [a, b, c]
        );
        assert_eq!(
            ids(chosen(&q, &items, &sales, &BTreeSet::new(), today)),
            [a, b]
        );
        // Only optional items can be unticked.
        let off = BTreeSet::from([a, b]);
        assert_eq!(ids(chosen(&q, &items, &dev, &off, today)), [a, c]);
    }

    #[test]
    fn item_lists_are_checked() {
        let q =
            parse(&json!({"fields": [{"id": "role", "type": "text", "label": "Role"}]})).unwrap();
        let a = Uuid::from_u128(1);
        let items: Vec<BundleItem> = serde_json::from_value(json!([
            {"item_id": a, "quantity": 0},
            {"item_id": a, "include_when": {"field": "nope", "operator": "equals", "value": "x"}}
        ]))
        .unwrap();
        let e = check_items(&q, &items);
        assert!(e.contains_key("items[0].quantity"), "{e:?}");
        assert!(e.contains_key("items[1].item_id"), "{e:?}");
        assert!(e.contains_key("items[1].include_when.field"), "{e:?}");
        assert_eq!(check_items(&q, &[])["items"], "Add at least one item.");
    }
}
