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

#[tokio::test]
async fn undecided_steps_are_reminded_then_time_out() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (boss_id, _) = app.user_with_role("manager").await;
    // Around the clock, so the test does not depend on the time of day it runs at.
    sqlx::query(&format!(
        "UPDATE tenant_{}.business_hours SET is_default = false",
        app.slug
    ))
    .execute(&app.state.pool)
    .await
    .unwrap();
    let publish = |name: &'static str, stage: serde_json::Value| {
        let (app, admin) = (&app, admin.clone());
        async move {
            let (s, item) = app
                .json(
                    "POST",
                    "/v1/catalog/items",
                    Some(&admin),
                    Some(json!({"name": name, "form_schema": {"fields": [{"id": "n", "type": "text", "label": "N"}]},
                        "approval_chain": {"stages": [stage]}})),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{item}");
            let id = id_of(&item);
            app.json(
                "POST",
                &format!("/v1/catalog/items/{id}/publish"),
                Some(&admin),
                None,
            )
            .await;
            id
        }
    };
    let strict = publish(
        "Firewall rule",
        json!({"approvers": [{"type": "user", "id": boss_id}], "remind_after_hours": 2, "timeout_after_hours": 4}),
    )
    .await;
    let lenient = publish(
        "Parking space",
        json!({"approvers": [{"type": "user", "id": boss_id}], "timeout_after_hours": 1, "on_timeout": "escalate"}),
    )
    .await;
    let (_, requester) = app.user_with_role("requester").await;
    let mut ids = Vec::new();
    for item in [&strict, &lenient] {
        let (s, r) = app
            .json(
                "POST",
                "/v1/requests",
                Some(&requester),
                Some(json!({"catalog_item_id": item, "form_data": {}})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        ids.push(id_of(&r));
    }
    app.run_jobs().await;
    let status = |id: String| {
        let app = &app;
        async move {
            let admin = app.admin_token().await;
            let (_, r) = app
                .json("GET", &format!("/v1/requests/{id}"), Some(&admin), None)
                .await;
            r["status"].as_str().unwrap().to_string()
        }
    };
    let reminded = || {
        let app = &app;
        let boss = boss_id.clone();
        async move {
            let n: i64 = sqlx::query_scalar(&format!(
                "SELECT count(*) FROM tenant_{}.notifications WHERE user_id = $1 AND channel = 'in_app'
                   AND subject LIKE '%still waits for your approval%'",
                app.slug
            ))
            .bind(uuid::Uuid::parse_str(&boss).unwrap())
            .fetch_one(&app.state.pool)
            .await
            .unwrap();
            n
        }
    };
    assert_eq!(reminded().await, 0);
    app.clock.advance(chrono::Duration::minutes(150));
    app.run_jobs().await;
    assert_eq!(reminded().await, 1, "reminded after two hours");
    assert_eq!(status(ids[0].clone()).await, "pending_approval");
    // The escalating step went to the tenant admins after its hour.
    let (_, inbox) = app
        .json(
            "GET",
            "/v1/approvals?status=pending",
            Some(&app.admin_token().await),
            None,
        )
        .await;
    let parking = inbox["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["entity_id"] == ids[1])
        .unwrap_or_else(|| panic!("escalated to the admin: {inbox}"))
        .clone();
    let (s, _) = app
        .json(
            "POST",
            &format!("/v1/approvals/{}/approve", id_of(&parking)),
            Some(&app.admin_token().await),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(status(ids[1].clone()).await, "approved");
    // Four hours without a decision reject the strict one, saying why.
    app.clock.advance(chrono::Duration::minutes(100));
    app.run_jobs().await;
    assert_eq!(status(ids[0].clone()).await, "rejected");
    let (_, history) = app
        .json(
            "GET",
            &format!("/v1/requests/{}/history", ids[0]),
            Some(&app.admin_token().await),
            None,
        )
        .await;
    let last = history["data"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["reason"], "Nobody decided within 4 business hours.");
}
