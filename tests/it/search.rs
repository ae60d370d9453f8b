//! Search: ranked full-text and number matching, filtered by what the caller may see.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::issues::Desk;

fn titles(body: &Value, kind: &str) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["type"] == kind)
        .map(|h| h["title"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn search_finds_by_words_number_and_comments_within_permissions() {
    let d = Desk::new().await;
    let (_, other) = d
        .call("POST", "/v1/groups", &d.admin, json!({"name": "Finance"}))
        .await;
    let (_, secret) = d
        .call(
            "POST",
            "/v1/issues",
            &d.admin,
            json!({"title": "Payroll export failing", "assigned_group": other["id"]}),
        )
        .await;
    let (_, mine) = d
        .call(
            "POST",
            "/v1/issues",
            &d.requester,
            json!({"title": "Cannot print invoices", "description": "The payroll printer jams"}),
        )
        .await;
    d.call(
        "POST",
        &format!("/v1/issues/{}/comments", mine["id"].as_str().unwrap()),
        &d.agent,
        json!({"content": "Replaced the fuser assembly", "is_internal": true}),
    )
    .await;

    let (s, all) = d
        .call("GET", "/v1/search?q=payroll", &d.admin, Value::Null)
        .await;
    assert_eq!(s, StatusCode::OK, "{all}");
    let mut found = titles(&all, "issue");
    found.sort();
    assert_eq!(found, ["Cannot print invoices", "Payroll export failing"]);

    let (_, theirs) = d
        .call(
            "GET",
            "/v1/search/issues?q=payroll",
            &d.requester,
            Value::Null,
        )
        .await;
    assert_eq!(titles(&theirs, "issue"), ["Cannot print invoices"]);
    let (_, outsider) = d
        .call("GET", "/v1/search?q=payroll", &d.outsider, Value::Null)
        .await;
    assert_eq!(
        titles(&outsider, "issue"),
        ["Cannot print invoices"],
        "unassigned only"
    );

    let number = secret["issue_number"].as_str().unwrap();
    let short = number.trim_start_matches("ISS-").trim_start_matches('0');
    let (_, by_number) = d
        .call(
            "GET",
            &format!("/v1/search?q=ISS-{short}"),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(by_number["data"][0]["number"], number);

    // Internal notes are searchable for agents, not for the requester.
    let (_, agent_hits) = d
        .call("GET", "/v1/search/issues?q=fuser", &d.agent, Value::Null)
        .await;
    assert_eq!(titles(&agent_hits, "issue"), ["Cannot print invoices"]);
    let (_, req_hits) = d
        .call(
            "GET",
            "/v1/search/issues?q=fuser",
            &d.requester,
            Value::Null,
        )
        .await;
    assert!(titles(&req_hits, "issue").is_empty());

    let (s, _) = d.call("GET", "/v1/search?q=", &d.admin, Value::Null).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // The page jumps straight to an exact number.
    let b = d.app.browser_login("admin@example.com").await;
    let jump = d
        .app
        .page("GET", &format!("/search?q={number}"), Some(&b.cookie), None)
        .await;
    assert_eq!(jump.status, StatusCode::SEE_OTHER);
    assert_eq!(
        jump.location.unwrap(),
        format!("/issues/{}", secret["id"].as_str().unwrap())
    );
}
