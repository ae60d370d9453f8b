//! The demo catalog: three categories, realistic items with conditional forms and approval
//! chains, and a few requests in different states, so the portal, the inbox and the request
//! queue show something on first start.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::catalog::actions::{self, CategoryBody, ItemBody};
use crate::platform::audit::Actor;
use crate::platform::tenancy::{Slug, TenantTx};
use crate::requests::actions::{SubmitBody, Submitter};

const MANAGER: usize = 1;
const ALEX: usize = 2;
const RILEY: usize = 4;
const DESK: usize = 1;
const INFRA: usize = 2;

fn options(pairs: &[(&str, &str)]) -> Value {
    json!(
        pairs
            .iter()
            .map(|(v, l)| json!({"value": v, "label": l}))
            .collect::<Vec<_>>()
    )
}

/// The demo items' icons (the others show their category's).
fn icon_for(item: &str) -> Option<&'static str> {
    Some(match item {
        "Laptop" => "laptop",
        "Monitor and accessories" => "monitor",
        "VPN access" => "wifi",
        "New shared mailbox" => "mail",
        "Desk booking for a visitor" => "briefcase",
        _ => return None,
    })
}

/// Fulfilment tasks of the demo items: ordering and setup wait for each other, the rest run
/// side by side.
fn tasks_for(item: &str) -> Value {
    match item {
        "Laptop" => json!([
            {"key": "order", "title": "Order the laptop from the supplier"},
            {"key": "accounts", "title": "Prepare the accounts and licences"},
            {"key": "image", "title": "Install the standard image and the chosen software", "depends_on": ["order"]},
            {"key": "handover", "title": "Hand the laptop over and collect the old one", "depends_on": ["image", "accounts"]}
        ]),
        "Monitor and accessories" => json!([
            {"key": "pick", "title": "Take the items from the store room"},
            {"key": "deliver", "title": "Bring them to the requester's desk", "depends_on": ["pick"]}
        ]),
        _ => json!([]),
    }
}

pub async fn seed(
    tx: &mut TenantTx,
    slug: &Slug,
    people: &[Uuid],
    groups: &[Uuid],
    today: chrono::NaiveDate,
) -> anyhow::Result<()> {
    let actor = Actor::system("demo-seed");
    let err =
        |what: &str, e: crate::platform::error::AppError| anyhow::anyhow!("demo {what}: {e:?}");
    // Riley's manager is Max: manager approvals go to them.
    sqlx::query("UPDATE users SET manager_id = $1 WHERE id = $2")
        .bind(people[MANAGER])
        .bind(people[RILEY])
        .execute(&mut **tx)
        .await?;
    let mut cats = Vec::new();
    for (i, (name, color, icon)) in [
        ("Hardware", "#1d4ed8", "package"),
        ("Software and access", "#047857", "key-round"),
        ("Workplace", "#b45309", "building"),
    ]
    .into_iter()
    .enumerate()
    {
        let body = CategoryBody {
            name: name.into(),
            color: Some(color.into()),
            icon: Some(icon.into()),
            sort_order: Some(i as i32),
            ..Default::default()
        };
        let c = actions::save_category(tx, slug, &actor, None, &body)
            .await
            .map_err(|e| err(name, e))?;
        cats.push(c.id);
    }
    let manager = json!({"stages": [{"name": "Your manager", "approvers": [{"type": "manager"}]}]});
    let manager_then_owner = json!({"stages": [
        {"name": "Your manager", "approvers": [{"type": "manager"}]},
        {"name": "Application owner", "approvers": [{"type": "application_owner", "field": "application"}]}]});
    let none = json!({"stages": []});
    let items: Vec<(&str, &str, usize, usize, Value, Value, i32)> = vec![
        (
            "Laptop",
            "A new or replacement laptop, set up with your accounts.",
            0,
            DESK,
            json!({"fields": [
              {"id": "model", "type": "radio", "label": "Which laptop?", "required": true, "default": "standard",
               "options": options(&[("standard", "Standard (14\", for office work)"), ("performance", "Performance (16\", for development and design)")])},
              {"id": "ram", "type": "select", "label": "Memory", "required": true, "default": "32",
               "options": options(&[("32", "32 GB"), ("64", "64 GB")]),
               "help_text": "64 GB is for video, data and large builds."},
              {"id": "software", "type": "checkbox_group", "label": "Software to install",
               "options": options(&[("office", "Microsoft Office"), ("adobe", "Adobe Creative Cloud"), ("ide", "Developer tools")])},
              {"id": "justification", "type": "textarea", "label": "Why do you need the performance model?",
               "validation": {"min_length": 20}},
              {"id": "needed_by", "type": "date", "label": "Needed by", "required": true,
               "validation": {"min_date": "+2d", "max_date": "+90d"}},
              {"id": "replaces", "type": "checkbox", "label": "It replaces a laptop I will hand back"}
            ],
            "conditional_logic": [
              {"field": "ram", "show_when": {"field": "model", "operator": "equals", "value": "performance"}},
              {"field": "justification", "show_when": {"field": "model", "operator": "equals", "value": "performance"},
               "require_when": {"field": "model", "operator": "equals", "value": "performance"}}
            ]}),
            manager.clone(),
            40,
        ),
        (
            "Monitor and accessories",
            "A second screen, keyboard, mouse or headset.",
            0,
            DESK,
            json!({"fields": [
              {"id": "things", "type": "multi_select", "label": "What do you need?", "required": true,
               "options": options(&[("monitor", "27\" monitor"), ("keyboard", "Keyboard"), ("mouse", "Mouse"), ("headset", "Headset")])},
              {"id": "quantity", "type": "number", "label": "How many of each?", "default": 1, "validation": {"min": 1, "max": 3, "step": 1}}
            ]}),
            none.clone(),
            8,
        ),
        (
            "Software access",
            "Access to one of our applications, in the environment you need.",
            1,
            DESK,
            json!({"fields": [
              {"id": "application", "type": "application_picker", "label": "Application", "required": true, "filter": {"status": ["active"]}},
              {"id": "environment", "type": "environment_picker", "label": "Environment", "required": true, "requires_application_field": "application"},
              {"id": "level", "type": "select", "label": "Access level", "required": true,
               "options": options(&[("read", "Read only"), ("write", "Read and write"), ("admin", "Administrator")]), "default": "read"},
              {"id": "reason", "type": "textarea", "label": "What will you use it for?", "required": true, "validation": {"min_length": 10}}
            ]}),
            manager_then_owner,
            4,
        ),
        (
            "VPN access",
            "Work from outside the office on the company network.",
            1,
            INFRA,
            json!({"fields": [
              {"id": "device", "type": "select", "label": "Device", "required": true,
               "options": options(&[("laptop", "Company laptop"), ("phone", "Company phone")])},
              {"id": "until", "type": "date", "label": "Until (leave empty for permanent access)", "validation": {"min_date": "today", "max_date": "+1y"}}
            ]}),
            manager.clone(),
            2,
        ),
        (
            "New shared mailbox",
            "A mailbox a team shares, like support@ or invoices@.",
            1,
            INFRA,
            json!({"fields": [
              {"id": "address", "type": "text", "label": "Address (before the @)", "required": true,
               "validation": {"pattern": "[a-z0-9.-]{2,40}", "max_length": 40}, "placeholder": "invoices",
               "help_text": "Lower-case letters, digits, dots and dashes."},
              {"id": "owners", "type": "group_picker", "label": "Team that owns it", "required": true}
            ]}),
            none.clone(),
            4,
        ),
        (
            "Building badge",
            "A new or replacement badge for the office doors.",
            2,
            DESK,
            json!({"fields": [
                {"id": "kind", "type": "radio", "label": "What happened?", "required": true,
                 "options": options(&[("new", "I need my first badge"), ("lost", "I lost my badge"), ("broken", "My badge stopped working")])},
                {"id": "lost_where", "type": "text", "label": "Where did you last have it?"},
                {"id": "for_person", "type": "user_picker", "label": "Badge for", "required": true}
              ],
              "conditional_logic": [{"field": "lost_where", "show_when": {"field": "kind", "operator": "equals", "value": "lost"}}]}),
            none.clone(),
            24,
        ),
        (
            "Desk booking for a visitor",
            "A desk and guest Wi-Fi for someone visiting.",
            2,
            DESK,
            json!({"fields": [
              {"id": "visitor", "type": "text", "label": "Visitor's name", "required": true},
              {"id": "arrives", "type": "datetime", "label": "Arrives", "required": true, "validation": {"min_date": "today"}},
              {"id": "days", "type": "number", "label": "Days", "default": 1, "validation": {"min": 1, "max": 10}}
            ]}),
            none,
            1,
        ),
    ];
    let mut ids = Vec::new();
    for (i, (name, short, cat, group, form, chain, hours)) in items.into_iter().enumerate() {
        let body = ItemBody {
            name: name.into(),
            category_id: Some(cats[cat]),
            short_desc: Some(short.into()),
            form_schema: Some(form),
            fulfillment_group_id: Some(groups[group]),
            approval_chain: Some(chain),
            task_templates: Some(tasks_for(name)),
            icon: icon_for(name).map(str::to_string),
            estimated_hours: Some(hours),
            sort_order: Some(i as i32),
            ..Default::default()
        };
        let item = actions::save_item(tx, slug, &actor, None, &body)
            .await
            .map_err(|e| err(name, e))?;
        actions::publish(tx, slug, &actor, item.id)
            .await
            .map_err(|e| err(name, e))?;
        ids.push(item.id);
    }
    // "New hire": the first day and the laptop asked once; VPN only for people working from
    // home; the accessories can be unticked.
    let new_hire = crate::catalog::bundles::BundleBody {
        name: "New hire".into(),
        short_desc: Some("Everything a new colleague needs on their first day.".into()),
        category_id: Some(cats[0]),
        form_schema: Some(json!({"fields": [
            {"id": "needed_by", "type": "date", "label": "First working day", "required": true,
             "validation": {"min_date": "+2d", "max_date": "+90d"}},
            {"id": "model", "type": "radio", "label": "Which laptop?", "required": true, "default": "standard",
             "options": options(&[("standard", "Standard (14\", for office work)"), ("performance", "Performance (16\", for development and design)")])},
            {"id": "remote", "type": "checkbox", "label": "They will also work from home"}
        ]})),
        items: json!([
            {"item_id": ids[0]},
            {"item_id": ids[5]},
            {"item_id": ids[1], "optional": true},
            {"item_id": ids[3], "include_when": {"field": "remote", "operator": "not_empty"}}
        ]),
        ..Default::default()
    };
    crate::catalog::bundles::save(tx, slug, &actor, None, &new_hire)
        .await
        .map_err(|e| err("New hire bundle", e))?;
    // Riley asks for a performance laptop (waiting for Max) and for a monitor (being done).
    let riley = Actor {
        user_id: Some(people[RILEY]),
        name: "Riley Requester".into(),
        ip: None,
        user_agent: Some("demo seed".into()),
    };
    let who = Submitter {
        user: people[RILEY],
        today,
        now: chrono::Utc::now(),
        api: true,
        files: Default::default(),
    };
    let needed = (today + chrono::Days::new(14))
        .format("%Y-%m-%d")
        .to_string();
    let laptop = SubmitBody {
        catalog_item_id: Some(ids[0]),
        form_data: json!({"model": "performance", "ram": "64", "software": ["office", "ide"],
            "justification": "I build the data pipelines and the current laptop runs out of memory.",
            "needed_by": needed})
        .as_object()
        .cloned()
        .unwrap_or_default(),
        ..Default::default()
    };
    crate::requests::actions::submit(tx, slug, &riley, &who, &laptop)
        .await
        .map_err(|e| err("laptop request", e))?;
    let monitor = SubmitBody {
        catalog_item_id: Some(ids[1]),
        form_data: json!({"things": ["monitor", "keyboard"], "quantity": 1})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        ..Default::default()
    };
    let r = crate::requests::actions::submit(tx, slug, &riley, &who, &monitor)
        .await
        .map_err(|e| err("monitor request", e))?;
    let assign = crate::requests::actions::ActionBody {
        assigned_to: Some(people[ALEX]),
        assigned_group: Some(groups[DESK]),
        notes: None,
    };
    crate::requests::actions::act(
        tx,
        slug,
        &actor,
        crate::requests::store::Scope::All,
        r.id,
        domain::requests::Action::Assign,
        &assign,
        who.now,
    )
    .await
    .map_err(|e| err("monitor assignment", e))?;
    Ok(())
}
