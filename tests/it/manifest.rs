//! The module manifest is the one list: the permissions in code are exactly the seeded table
//! (with the system roles' defaults), events are the spec's, navigation and webhook settings
//! offer nothing of a module that is not built.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use firelater::platform::module::{Manifest, SystemRole};
use firelater::platform::tenancy;
use serde_json::json;

use crate::support::TestApp;

/// The spec's webhook events (spec/firelater-spec.md, "Webhook Events").
const SPEC_EVENTS: &[&str] = &[
    "issue.created",
    "issue.updated",
    "issue.assigned",
    "issue.escalated",
    "issue.resolved",
    "issue.closed",
    "issue.sla_warning",
    "issue.sla_breached",
    "request.created",
    "request.submitted",
    "request.approved",
    "request.rejected",
    "request.completed",
    "change.created",
    "change.submitted",
    "change.approved",
    "change.rejected",
    "change.started",
    "change.completed",
    "change.failed",
    "change.rolled_back",
    "oncall.shift_starting",
    "oncall.escalation",
    "health.score_changed",
    "health.threshold_crossed",
];

fn declared(m: &Manifest) -> BTreeSet<String> {
    m.permissions().map(|p| p.perm.key().to_string()).collect()
}

/// Every `Perm::new("…")` written in the source.
fn constants_in_source() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut dirs = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for piece in text.split("Perm::new(\"").skip(1) {
                    let key = piece.split('"').next().unwrap();
                    if key != "…" {
                        found.insert(key.to_string());
                    }
                }
            }
        }
    }
    found
}

#[tokio::test]
async fn permissions_in_code_are_the_seeded_table() {
    let m = firelater::app::manifest();
    let keys = declared(&m);
    assert_eq!(
        keys.len(),
        m.permissions().count(),
        "a permission is declared twice"
    );
    for k in &keys {
        let (r, a) = k.split_once(':').expect("resource:action");
        assert!(
            !r.is_empty()
                && !a.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == ':'),
            "{k}"
        );
    }
    assert_eq!(
        constants_in_source(),
        keys,
        "every typed permission constant is in some module's manifest, and only those"
    );
    for n in m.nav() {
        if let Some(p) = n.perm {
            assert!(keys.contains(p.key()), "navigation needs undeclared {p}");
        }
    }

    let app = TestApp::new().await;
    let mut tx = tenancy::begin(&app.state.pool, &app.slug).await.unwrap();
    let table: BTreeSet<String> =
        sqlx::query_scalar("SELECT resource || ':' || action FROM permissions")
            .fetch_all(&mut *tx)
            .await
            .unwrap()
            .into_iter()
            .collect();
    assert_eq!(table, keys, "the tenant's permission table");
    for role in [
        SystemRole::Admin,
        SystemRole::Manager,
        SystemRole::Agent,
        SystemRole::Requester,
    ] {
        let granted: BTreeSet<String> = sqlx::query_scalar(
            "SELECT p.resource || ':' || p.action FROM role_permissions rp
             JOIN roles r ON r.id = rp.role_id JOIN permissions p ON p.id = rp.permission_id
             WHERE r.name = $1",
        )
        .bind(role.name())
        .fetch_all(&mut *tx)
        .await
        .unwrap()
        .into_iter()
        .collect();
        let expected: BTreeSet<String> = m
            .permissions()
            .filter(|p| role == SystemRole::Admin || p.roles.contains(&role))
            .map(|p| p.perm.key().to_string())
            .collect();
        assert_eq!(granted, expected, "the {} role's defaults", role.name());
    }
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn events_are_the_specs_and_unbuilt_modules_offer_none() {
    let m = firelater::app::manifest();
    let events = m.event_names();
    assert!(!events.is_empty());
    for e in &events {
        assert!(SPEC_EVENTS.contains(e), "{e} is not a spec webhook event");
    }
    // When the spec file sits beside the project (as in CI), the list above is the spec's.
    let spec = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/spec/firelater-spec.md"
    ));
    if let Ok(text) = std::fs::read_to_string(spec) {
        let section = text
            .split("Webhook Events")
            .nth(1)
            .and_then(|s| s.split("Catalog Form Schema").next())
            .expect("the spec lists webhook events");
        let listed: BTreeSet<&str> = section
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| w.contains('.') && !w.starts_with('#'))
            .collect();
        assert_eq!(listed, SPEC_EVENTS.iter().copied().collect());
    }
    // What people can be told about is what the areas emit, and each area's categories are
    // its own.
    let emitted = m.emitted_names();
    let mut categories = BTreeSet::new();
    for a in m.audiences() {
        assert!(categories.insert(a.category()), "{} twice", a.category());
        for t in a.topics() {
            let name = a.event_name(t);
            assert!(emitted.contains(&name.as_str()), "{name} is not emitted");
        }
    }

    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (s, body) = app
        .json(
            "POST",
            "/v1/webhooks",
            Some(&admin),
            Some(json!({"name": "Changes", "url": "http://127.0.0.1:9/hook", "events": ["change.*"]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (s, body) = app
        .json(
            "POST",
            "/v1/webhooks",
            Some(&admin),
            Some(json!({"name": "Changes", "url": "http://127.0.0.1:9/hook", "events": ["change.created"]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (s, perms) = app.json("GET", "/v1/permissions", Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK);
    let offered: Vec<&str> = perms["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["key"].as_str())
        .collect();
    for unbuilt in ["changes:approve", "oncall:read", "cloud:read"] {
        assert!(
            !offered.contains(&unbuilt),
            "{unbuilt} is offered: {offered:?}"
        );
    }
    assert!(offered.contains(&"issues:read"));
}
