//! Issue categories (a tree, admin-managed) and the priority matrix, through /v1 and the page.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::issues::Desk;
use crate::support::id_of;

#[tokio::test]
async fn categories_form_a_tree_refuse_cycles_and_stay_while_used() {
    let d = Desk::new().await;
    let mk = |name: &'static str, parent: Option<String>| {
        let d = &d;
        async move {
            d.call(
                "POST",
                "/v1/issue-categories",
                &d.admin,
                json!({"name": name, "parent_id": parent}),
            )
            .await
        }
    };
    let (s, hw) = mk("Hardware", None).await;
    assert_eq!(s, StatusCode::CREATED, "{hw}");
    let hw = id_of(&hw);
    let (_, laptops) = mk("Laptops", Some(hw.clone())).await;
    assert_eq!(laptops["path"], "Hardware / Laptops");
    assert_eq!(laptops["depth"], 2);
    let laptops = id_of(&laptops);
    let (s, dup) = mk("laptops", Some(hw.clone())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(dup["error"]["details"]["name"].is_string(), "{dup}");
    let (s, _) = mk("Laptops", None).await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "the same name at another level is fine"
    );

    let (s, cycle) = d
        .call(
            "PUT",
            &format!("/v1/issue-categories/{hw}"),
            &d.admin,
            json!({"name": "Hardware", "parent_id": laptops}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        cycle["error"]["details"]["parent_id"].is_string(),
        "{cycle}"
    );

    let (_, list) = d
        .call("GET", "/v1/issue-categories", &d.agent, Value::Null)
        .await;
    let paths: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["Hardware", "Hardware / Laptops", "Laptops"]);

    let (_, issue) = d
        .call(
            "POST",
            "/v1/issues",
            &d.admin,
            json!({"title": "Screen flickers", "category_id": laptops}),
        )
        .await;
    assert_eq!(issue["category_id"], laptops.as_str());
    for (id, why) in [(&laptops, "used by an issue"), (&hw, "has a sub-category")] {
        let (s, _) = d
            .call(
                "DELETE",
                &format!("/v1/issue-categories/{id}"),
                &d.admin,
                Value::Null,
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{why}");
    }
    // Deactivated, it is no longer offered for new issues.
    let (s, _) = d
        .call(
            "PUT",
            &format!("/v1/issue-categories/{laptops}"),
            &d.admin,
            json!({"name": "Laptops", "parent_id": hw, "is_active": false}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = d
        .call(
            "POST",
            "/v1/issues",
            &d.admin,
            json!({"title": "Another", "category_id": laptops}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");

    // Agents read; settings:update changes.
    let (s, _) = d
        .call(
            "POST",
            "/v1/issue-categories",
            &d.agent,
            json!({"name": "Mine"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_priority_matrix_decides_new_issues_and_the_page_edits_both() {
    let d = Desk::new().await;
    let (_, m) = d
        .call("GET", "/v1/priority-matrix", &d.agent, Value::Null)
        .await;
    assert_eq!(m["cells"].as_array().unwrap().len(), 16);
    let (s, e) = d
        .call(
            "PUT",
            "/v1/priority-matrix",
            &d.admin,
            json!({"cells": [{"impact": "minor", "urgency": "low", "priority": "urgent"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        e["error"]["details"]["cells[0].priority"].is_string(),
        "{e}"
    );
    let (s, _) = d
        .call(
            "PUT",
            "/v1/priority-matrix",
            &d.agent,
            json!({"cells": [{"impact": "minor", "urgency": "low", "priority": "high"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let b = d.app.browser_login("admin@example.com").await;
    let page = d
        .app
        .page("GET", "/issues/settings", Some(&b.cookie), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let saved = d
        .app
        .page(
            "POST",
            "/issues/settings/matrix",
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf), ("minor.low", "high")]),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (_, issue) = d
        .call(
            "POST",
            "/v1/issues",
            &d.admin,
            json!({"title": "Odd", "impact": "minor", "urgency": "low"}),
        )
        .await;
    assert_eq!(issue["priority"], "high");
    let audited: Value = sqlx::query_scalar(&format!(
        "SELECT changes FROM tenant_{}.audit_logs WHERE entity_type = 'priority_matrix'",
        d.app.slug
    ))
    .fetch_one(&d.app.state.pool)
    .await
    .unwrap();
    assert_eq!(
        audited["cells"][0],
        json!({"impact": "minor", "urgency": "low", "old": "low", "new": "high"})
    );

    let bad = d
        .app
        .page(
            "POST",
            "/issues/settings/categories",
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf), ("name", " ")]),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains(r#"data-field-error="name""#));
    let made = d
        .app
        .page(
            "POST",
            "/issues/settings/categories",
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf), ("name", "Network")]),
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let new_form = d
        .app
        .page("GET", "/issues/new", Some(&b.cookie), None)
        .await;
    assert!(new_form.body.contains(">Network</option>"));
}
