//! Changing a request's answers resets its approvals; out-of-office delegation with its rules.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{TestApp, id_of};

#[tokio::test]
async fn new_answers_start_the_approvals_again_until_work_starts() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (_, me) = app.json("GET", "/v1/auth/me", Some(&admin), None).await;
    let (_, item) = app
        .json(
            "POST",
            "/v1/catalog/items",
            Some(&admin),
            Some(json!({"name": "VPN", "form_schema": {"fields": [
                {"id": "why", "type": "text", "label": "Why", "required": true, "validation": {"max_length": 20}}]},
                "approval_chain": {"stages": [{"approvers": [{"type": "user", "id": me["user"]["id"]}]}]}})),
        )
        .await;
    let item = id_of(&item);
    app.json(
        "POST",
        &format!("/v1/catalog/items/{item}/publish"),
        Some(&admin),
        None,
    )
    .await;
    let (requester_id, requester) = app.user_with_role("requester").await;
    let (_, r) = app
        .json(
            "POST",
            "/v1/requests",
            Some(&requester),
            Some(json!({"catalog_item_id": item, "form_data": {"why": "travel"}})),
        )
        .await;
    let id = id_of(&r);
    let url = format!("/v1/requests/{id}");
    let (s, _) = app
        .json(
            "POST",
            &format!("{url}/approve"),
            Some(&admin),
            Some(json!({"comments": "ok"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // Bad answers are refused by field; someone else's request is not found.
    let (s, e) = app
        .json(
            "PUT",
            &url,
            Some(&requester),
            Some(json!({"form_data": {"why": "x".repeat(30)}})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"]["details"]["form_data.why"].is_string(), "{e}");
    let (_, stranger) = app.user_with_role("requester").await;
    let (s, _) = app
        .json(
            "PUT",
            &url,
            Some(&stranger),
            Some(json!({"form_data": {"why": "mine now"}})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The same answers change nothing; new ones send it back for approval.
    let (s, same) = app
        .json(
            "PUT",
            &url,
            Some(&requester),
            Some(json!({"form_data": {"why": "travel"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(same["status"], "approved");
    let (s, changed) = app
        .json(
            "PUT",
            &url,
            Some(&requester),
            Some(json!({"form_data": {"why": "home office"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{changed}");
    assert_eq!(changed["status"], "pending_approval");
    assert_eq!(changed["form_data"]["why"], "home office");
    let (_, chain) = app
        .json("GET", &format!("{url}/approvals"), Some(&requester), None)
        .await;
    assert_eq!(
        chain["steps"][0]["approvals"][0]["status"], "pending",
        "{chain}"
    );
    let (_, history) = app
        .json("GET", &format!("{url}/history"), Some(&requester), None)
        .await;
    let last = history["data"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["to_status"], "pending_approval");
    assert!(last["reason"].as_str().unwrap().contains("answers changed"));
    // The same through the page: the form is filled in; errors stay in place.
    let email = app.email_of(&requester_id).await;
    let b = app.browser_login(&email).await;
    let shown = app
        .page("GET", &format!("/requests/{id}"), Some(&b.cookie), None)
        .await;
    assert!(shown.body.contains("id=\"edit-answers-link\""));
    let form = app
        .page(
            "GET",
            &format!("/requests/{id}/edit"),
            Some(&b.cookie),
            None,
        )
        .await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("value=\"home office\""), "{}", form.body);
    let edit_url = format!("/requests/{id}/edit");
    let long = "y".repeat(30);
    let refused = app
        .page(
            "POST",
            &edit_url,
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf), ("f_why", &long)]),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains(&long), "what was typed stays");
    let saved = app
        .page(
            "POST",
            &edit_url,
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf), ("f_why", "a new laptop bag")]),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (_, now) = app.json("GET", &url, Some(&requester), None).await;
    assert_eq!(now["form_data"]["why"], "a new laptop bag");
    // Once work starts the answers stay.
    app.json(
        "POST",
        &format!("{url}/approve"),
        Some(&admin),
        Some(json!({})),
    )
    .await;
    let (s, _) = app
        .json(
            "POST",
            &format!("{url}/assign"),
            Some(&admin),
            Some(json!({"assigned_to": me["user"]["id"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = app
        .json(
            "PUT",
            &url,
            Some(&requester),
            Some(json!({"form_data": {"why": "again"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
}

#[tokio::test]
async fn a_delegate_decides_on_behalf_and_cannot_pass_it_on() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (boss_id, boss) = app.user_with_role("manager").await;
    let (deputy_id, deputy) = app.user_with_role("manager").await;
    let (_, third) = app.user_with_role("agent").await;
    let (_, item) = app
        .json(
            "POST",
            "/v1/catalog/items",
            Some(&admin),
            Some(json!({"name": "Badge", "form_schema": {"fields": [{"id": "n", "type": "text", "label": "N"}]},
                "approval_chain": {"stages": [{"approvers": [{"type": "user", "id": boss_id}]}]}})),
        )
        .await;
    let item = id_of(&item);
    app.json(
        "POST",
        &format!("/v1/catalog/items/{item}/publish"),
        Some(&admin),
        None,
    )
    .await;
    let today = app.clock_now().date_naive();
    let week = today + chrono::Days::new(7);
    // Bad periods and people are refused by field.
    let (s, e) = app
        .json(
            "POST",
            "/v1/approvals/delegations",
            Some(&boss),
            Some(json!({"delegate_id": boss_id, "starts_on": week, "ends_on": today})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"]["details"]["delegate_id"].is_string());
    assert!(e["error"]["details"]["ends_on"].is_string());
    let (s, d) = app
        .json(
            "POST",
            "/v1/approvals/delegations",
            Some(&boss),
            Some(json!({"delegate_id": deputy_id, "starts_on": today, "ends_on": week})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    // The deputy, away themselves, cannot hand the boss's approvals on.
    let (s, e) = app
        .json(
            "POST",
            "/v1/approvals/delegations",
            Some(&third),
            Some(json!({"delegate_id": boss_id, "starts_on": today, "ends_on": today})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    // Both see it; only the boss can end it.
    let (_, list) = app
        .json("GET", "/v1/approvals/delegations", Some(&deputy), None)
        .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let (s, _) = app
        .json(
            "DELETE",
            &format!("/v1/approvals/delegations/{}", id_of(&d)),
            Some(&deputy),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (_, requester) = app.user_with_role("requester").await;
    let (_, r) = app
        .json(
            "POST",
            "/v1/requests",
            Some(&requester),
            Some(json!({"catalog_item_id": item, "form_data": {}})),
        )
        .await;
    let (_, inbox) = app
        .json("GET", "/v1/approvals?status=pending", Some(&deputy), None)
        .await;
    let approval = id_of(&inbox["data"][0]);
    let (s, decided) = app
        .json(
            "POST",
            &format!("/v1/approvals/{approval}/approve"),
            Some(&deputy),
            Some(json!({"comments": "for the boss"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{decided}");
    let (_, chain) = app
        .json(
            "GET",
            &format!("/v1/requests/{}/approvals", id_of(&r)),
            Some(&requester),
            None,
        )
        .await;
    let a = &chain["steps"][0]["approvals"][0];
    assert_eq!(a["approver_id"], boss_id, "{chain}");
    assert_eq!(a["decided_by"], deputy_id);

    // The page: a period that makes no sense is refused in place; ending asks first.
    let email = app.email_of(&boss_id).await;
    let b = app.browser_login(&email).await;
    let refused = app
        .page(
            "POST",
            "/approvals/delegations",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("delegate_id", &deputy_id),
                ("starts_on", "2026-13-01"),
                ("ends_on", ""),
            ]),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("Use a date like"), "{}", refused.body);
    let page = app.page("GET", "/approvals", Some(&b.cookie), None).await;
    assert!(page.body.contains("decides for you"));
    assert!(page.body.contains("data-confirm=\"End this delegation?"));
    let ended = app
        .page(
            "POST",
            &format!("/approvals/delegations/{}/delete", id_of(&d)),
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf)]),
        )
        .await;
    assert_eq!(ended.status, StatusCode::SEE_OTHER);
    let (_, list) = app
        .json("GET", "/v1/approvals/delegations", Some(&boss), None)
        .await;
    assert!(list["data"].as_array().unwrap().is_empty());
}
