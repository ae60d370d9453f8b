//! Edits the form builder makes to a schema: add a field of a type at a place, move a field
//! (within or between sections), remove one, add or remove a section. The result is checked
//! by `schema::check` like any saved schema; these only keep the structure consistent.
//!
//! Order: fields outside any section come first, in `fields` order; then each section in its
//! own `fields` order — the same order the form renders in.

use super::schema::{Choice, Field, FieldType, FormSchema, Section, Validation};

/// Where a field goes: a section (None: outside sections) and a position in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub section: Option<String>,
    pub index: usize,
}

fn next_id(schema: &FormSchema, prefix: &str) -> String {
    let taken = |id: &str| {
        schema.fields.iter().any(|f| f.id == id) || schema.sections.iter().any(|s| s.id == id)
    };
    (1..)
        .map(|n| format!("{prefix}_{n}"))
        .find(|id| !taken(id))
        .unwrap_or_default()
}

/// The fields outside sections, in order.
pub fn loose(schema: &FormSchema) -> Vec<String> {
    schema
        .fields
        .iter()
        .filter(|f| schema.section_of(&f.id).is_none())
        .map(|f| f.id.clone())
        .collect()
}

/// Adds a new field of `kind` at `at`; returns its id.
pub fn add_field(schema: &mut FormSchema, kind: FieldType, at: &Place) -> Result<String, String> {
    let id = next_id(schema, "field");
    let options = if kind.has_options() {
        (1..=2)
            .map(|n| Choice {
                value: format!("option_{n}"),
                label: format!("Option {n}"),
            })
            .collect()
    } else {
        Vec::new()
    };
    schema.fields.push(Field {
        id: id.clone(),
        kind,
        label: kind.label().to_string(),
        placeholder: None,
        help_text: None,
        required: false,
        options,
        default: None,
        validation: Validation::default(),
        allow_self: None,
        filter_by_group: None,
        filter_by_type: None,
        filter: None,
        requires_application_field: None,
    });
    move_field(schema, &id, at)?;
    Ok(id)
}

/// Moves a field to `at` (an index past the end appends).
pub fn move_field(schema: &mut FormSchema, id: &str, at: &Place) -> Result<(), String> {
    if schema.field(id).is_none() {
        return Err(format!("There is no field “{id}”."));
    }
    if let Some(s) = &at.section
        && !schema.sections.iter().any(|x| &x.id == s)
    {
        return Err(format!("There is no section “{s}”."));
    }
    for s in &mut schema.sections {
        s.fields.retain(|f| f != id);
    }
    match &at.section {
        Some(target) => {
            let s = schema
                .sections
                .iter_mut()
                .find(|s| &s.id == target)
                .ok_or_else(|| format!("There is no section “{target}”."))?;
            let i = at.index.min(s.fields.len());
            s.fields.insert(i, id.to_string());
        }
        None => {
            let mut order = loose(schema);
            order.retain(|f| f != id);
            let i = at.index.min(order.len());
            order.insert(i, id.to_string());
            // Loose fields take the front of `fields` in their new order; the rest follow.
            let mut fields = std::mem::take(&mut schema.fields);
            let mut sorted = Vec::with_capacity(fields.len());
            for o in &order {
                if let Some(pos) = fields.iter().position(|f| &f.id == o) {
                    sorted.push(fields.remove(pos));
                }
            }
            sorted.extend(fields);
            schema.fields = sorted;
        }
    }
    Ok(())
}

/// Removes a field; refused while a condition or another field depends on it.
pub fn remove_field(schema: &mut FormSchema, id: &str) -> Result<(), String> {
    let label = |i: &str| schema.field(i).map_or(i.to_string(), |f| f.label.clone());
    for r in &schema.conditional_logic {
        if r.field != id && super::conditions::rule_dependencies(r).contains(id) {
            return Err(format!(
                "“{}” has a condition on this field; change that condition first.",
                label(&r.field)
            ));
        }
    }
    if let Some(f) = schema
        .fields
        .iter()
        .find(|f| f.requires_application_field.as_deref() == Some(id))
    {
        return Err(format!(
            "“{}” takes its application from this field.",
            f.label
        ));
    }
    schema.fields.retain(|f| f.id != id);
    schema.conditional_logic.retain(|r| r.field != id);
    for s in &mut schema.sections {
        s.fields.retain(|f| f != id);
    }
    Ok(())
}

pub fn add_section(schema: &mut FormSchema, title: &str) -> String {
    let id = next_id(schema, "section");
    schema.sections.push(Section {
        id: id.clone(),
        title: title.to_string(),
        fields: Vec::new(),
    });
    id
}

/// Removes a section; its fields stay, outside sections.
pub fn remove_section(schema: &mut FormSchema, id: &str) {
    schema.sections.retain(|s| s.id != id);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::schema;
    use serde_json::json;

    fn order(s: &FormSchema) -> Vec<String> {
        let mut out = loose(s);
        for sec in &s.sections {
            out.extend(sec.fields.iter().cloned());
        }
        out
    }

    #[test]
    fn the_builder_adds_moves_and_removes() {
        let mut s = FormSchema::default();
        let at = |section: Option<&str>, index| Place {
            section: section.map(str::to_string),
            index,
        };
        let a = add_field(&mut s, FieldType::Text, &at(None, 0)).unwrap();
        let b = add_field(&mut s, FieldType::Select, &at(None, 0)).unwrap();
        assert_eq!(order(&s), [b.clone(), a.clone()]);
        assert_eq!(
            s.field(&b).unwrap().options.len(),
            2,
            "a choice field starts with options"
        );
        let sec = add_section(&mut s, "Details");
        let c = add_field(&mut s, FieldType::Date, &at(Some(&sec), 9)).unwrap();
        move_field(&mut s, &a, &at(Some(&sec), 0)).unwrap();
        assert_eq!(order(&s), [b.clone(), a.clone(), c.clone()]);
        move_field(&mut s, &c, &at(None, 0)).unwrap();
        assert_eq!(order(&s), [c.clone(), b.clone(), a.clone()]);
        assert!(schema::check(&s).is_empty(), "{:?}", schema::check(&s));
        // A field others depend on cannot go.
        s.conditional_logic.push(
            serde_json::from_value(
                json!({"field": a, "show_when": {"field": b, "operator": "not_empty"}}),
            )
            .unwrap(),
        );
        assert!(
            remove_field(&mut s, &b)
                .unwrap_err()
                .contains("has a condition")
        );
        remove_field(&mut s, &a).unwrap();
        assert!(s.conditional_logic.is_empty(), "its own rule goes with it");
        remove_field(&mut s, &b).unwrap();
        remove_section(&mut s, &sec);
        assert_eq!(order(&s), [c]);
        assert!(move_field(&mut s, "nope", &at(None, 0)).is_err());
    }
}
