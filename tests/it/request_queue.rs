//! The service desk's request queue: tabs and filters, saved views, all-or-nothing bulk actions,
//! keyset cursors refused when forged, and requesters keeping "My requests".

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, id_of};

fn count(html: &str, css: &str) -> usize {
    let doc = scraper::Html::parse_document(html);
    doc.select(&scraper::Selector::parse(css).unwrap()).count()
}

async fn publish(app: &TestApp, admin: &str, body: Value) -> String {
    let (s, item) = app
        .json("POST", "/v1/catalog/items", Some(admin), Some(body))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{item}");
    let id = id_of(&item);
    let (s, _) = app
        .json(
            "POST",
            &format!("/v1/catalog/items/{id}/publish"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    id
}

#[tokio::test]
async fn the_desk_works_requests_from_a_queue_with_views_and_bulk_actions() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let form = json!({"fields": [{"id": "why", "type": "text", "label": "Why"}]});
    let (boss_id, _) = app.user_with_role("agent").await;
    let (agent_id, _) = app.user_with_role("agent").await;
    let (_, requester) = app.user_with_role("requester").await;
    let chain =
        json!({"stages": [{"approvers": [{"type": "user", "id": boss_id}], "rule": "all"}]});
    let plain = publish(
        &app,
        &admin,
        json!({"name": "Headset", "form_schema": form}),
    )
    .await;
    let gated = publish(
        &app,
        &admin,
        json!({"name": "Laptop", "form_schema": form, "approval_chain": chain}),
    )
    .await;
    let mut ids = Vec::new();
    for item in [&plain, &plain, &gated] {
        let (s, r) = app
            .json(
                "POST",
                "/v1/requests",
                Some(&requester),
                Some(json!({"catalog_item_id": item, "form_data": {"why": "work"}})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        ids.push((id_of(&r), r["request_number"].as_str().unwrap().to_string()));
    }

    let b = app.browser_login("admin@example.com").await;
    let queue = app.page("GET", "/requests", Some(&b.cookie), None).await;
    assert_eq!(queue.status, StatusCode::OK);
    assert_eq!(count(&queue.body, "#request-queue tr[data-request]"), 3);
    assert!(
        queue.body.contains("sse:request"),
        "the queue refreshes live"
    );
    let waiting = app
        .page(
            "GET",
            "/requests?status=pending_approval",
            Some(&b.cookie),
            None,
        )
        .await;
    assert_eq!(count(&waiting.body, "tr[data-request]"), 1);
    assert_eq!(
        count(&waiting.body, "a[data-tab=approval][aria-current=page]"),
        1
    );
    assert!(waiting.body.contains("SLA paused for approval"));
    let found = app
        .page(
            "GET",
            &format!("/requests?q={}", ids[2].1.to_lowercase()),
            Some(&b.cookie),
            None,
        )
        .await;
    assert_eq!(count(&found.body, "tr[data-request]"), 1, "by number");
    let bad = app
        .page("GET", "/requests?cursor=nonsense", Some(&b.cookie), None)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // Bulk: cancelling a request that is already cancelled stops the batch; nothing changes.
    let (s, _) = app
        .json(
            "DELETE",
            &format!("/v1/requests/{}", ids[1].0),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let r = app
        .page(
            "POST",
            "/requests/bulk",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("action", "cancel"),
                ("ids", &ids[0].0),
                ("ids", &ids[1].0),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains(&ids[1].1) && r.body.contains("nothing was changed"));
    let (_, first) = app
        .json(
            "GET",
            &format!("/v1/requests/{}", ids[0].0),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(first["status"], "approved", "the first was not cancelled");
    let user = format!("user:{agent_id}");
    let r = app
        .page(
            "POST",
            "/requests/bulk",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("action", "assign"),
                ("value", &user),
                ("ids", &ids[0].0),
                ("ids", &ids[2].0),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, mine) = app
        .json(
            "GET",
            &format!("/v1/requests?assigned_to={agent_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(mine["meta"]["total"], 2, "{mine}");

    // Saved views keep only the queue's own parameters.
    let r = app
        .page(
            "POST",
            "/requests/views",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("name", "Laptops"),
                ("query", &format!("catalog_item_id={gated}&bogus=1")),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.location.as_deref(),
        Some(format!("/requests?catalog_item_id={gated}").as_str())
    );
    let view = app
        .page(
            "GET",
            &format!("/requests?catalog_item_id={gated}"),
            Some(&b.cookie),
            None,
        )
        .await;
    assert_eq!(count(&view.body, "a[data-view=Laptops]"), 1);
    assert_eq!(count(&view.body, "tr[data-request]"), 1);
    let nameless = app
        .page(
            "POST",
            "/requests/views",
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf), ("name", " "), ("query", "")]),
        )
        .await;
    assert_eq!(nameless.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(nameless.body.contains("a view needs a name"));

    // A requester keeps "My requests" and cannot act in bulk.
    let email: String = sqlx::query_scalar(&format!(
        "SELECT u.email FROM tenant_{}.users u JOIN tenant_{}.service_requests r ON r.requester_id = u.id LIMIT 1",
        app.slug, app.slug
    ))
    .fetch_one(&app.state.pool)
    .await
    .unwrap();
    let rb = app.browser_login(&email).await;
    let own = app.page("GET", "/requests", Some(&rb.cookie), None).await;
    assert_eq!(count(&own.body, "#request-queue"), 0);
    assert!(own.body.contains("My requests"));
    let r = app
        .page(
            "POST",
            "/requests/bulk",
            Some(&rb.cookie),
            Some(&[
                ("_csrf", &rb.csrf),
                ("action", "cancel"),
                ("ids", &ids[0].0),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
