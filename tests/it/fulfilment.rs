//! Fulfilment tasks: templates checked at save, tasks created on approval in dependency order,
//! start/complete/skip with their refusals, the request completing with its last task, the
//! people told, the page's forms, and another tenant seeing nothing.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, id_of};

fn task<'a>(tasks: &'a Value, key: &str) -> &'a Value {
    tasks["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == key)
        .unwrap_or_else(|| panic!("no task {key} in {tasks}"))
}

struct Setup {
    app: TestApp,
    agent: String,
    agent_id: String,
    requester: String,
    request: String,
}

async fn setup() -> Setup {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (_, group) = app
        .json(
            "POST",
            "/v1/groups",
            Some(&admin),
            Some(json!({"name": "Workplace"})),
        )
        .await;
    let group = id_of(&group);
    let (agent_id, agent) = app.user_with_role("agent").await;
    let (s, _) = app
        .json(
            "POST",
            &format!("/v1/groups/{group}/members"),
            Some(&admin),
            Some(json!({"user_id": agent_id})),
        )
        .await;
    assert!(s.is_success());
    let form = json!({"fields": [{"id": "why", "type": "text", "label": "Why"}]});
    // Templates are checked at save: unknown keys, self-waits and circles name their path.
    let (s, bad) = app
        .json(
            "POST",
            "/v1/catalog/items",
            Some(&admin),
            Some(
                json!({"name": "Laptop", "form_schema": form, "task_templates": [
                {"key": "a", "title": "A", "depends_on": ["b"]},
                {"key": "b", "title": "B", "depends_on": ["a"]},
                {"key": "c", "title": "", "depends_on": ["nope"]}]}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    let details = &bad["error"]["details"];
    assert_eq!(
        details["task_templates[2].depends_on"],
        "No task has key 'nope'."
    );
    assert_eq!(details["task_templates[2].title"], "is required");
    let (s, bad) = app
        .json(
            "POST",
            "/v1/catalog/items",
            Some(&admin),
            Some(
                json!({"name": "Laptop", "form_schema": form, "task_templates": [
                {"key": "a", "title": "A", "depends_on": ["b"]},
                {"key": "b", "title": "B", "depends_on": ["a"]}]}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert!(
        bad["error"]["details"]["task_templates[0].depends_on"]
            .as_str()
            .unwrap()
            .contains("circle"),
        "{bad}"
    );
    let (s, bad) = app
        .json(
            "POST",
            "/v1/catalog/items",
            Some(&admin),
            Some(
                json!({"name": "Laptop", "form_schema": form, "task_templates": [{"title": "A"}]}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert!(
        bad["error"]["details"]["task_templates[0]"].is_string(),
        "{bad}"
    );

    let (s, item) = app
        .json(
            "POST",
            "/v1/catalog/items",
            Some(&admin),
            Some(json!({"name": "Laptop", "form_schema": form, "fulfillment_group_id": group,
                "task_templates": [
                    {"key": "order", "title": "Order the laptop"},
                    {"key": "accounts", "title": "Prepare the accounts"},
                    {"key": "image", "title": "Install the image", "depends_on": ["order"]},
                    {"key": "handover", "title": "Hand it over", "depends_on": ["image", "accounts"]}]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{item}");
    assert_eq!(item["task_templates"][2]["depends_on"], json!(["order"]));
    let item = id_of(&item);
    let (s, _) = app
        .json(
            "POST",
            &format!("/v1/catalog/items/{item}/publish"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, requester) = app.user_with_role("requester").await;
    let (s, r) = app
        .json(
            "POST",
            "/v1/requests",
            Some(&requester),
            Some(json!({"catalog_item_id": item, "form_data": {"why": "new starter"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["status"], "approved", "no chain: approved at once");
    Setup {
        request: id_of(&r),
        app,
        agent,
        agent_id,
        requester,
    }
}

#[tokio::test]
async fn tasks_wait_for_each_other_and_the_last_one_completes_the_request() {
    let Setup {
        app,
        agent,
        agent_id,
        requester,
        request,
    } = setup().await;
    let tasks_url = format!("/v1/requests/{request}/tasks");
    // The requester follows the tasks but cannot work them.
    let (s, tasks) = app.json("GET", &tasks_url, Some(&requester), None).await;
    assert_eq!(s, StatusCode::OK, "{tasks}");
    assert_eq!(tasks["data"].as_array().unwrap().len(), 4);
    for (key, status) in [
        ("order", "ready"),
        ("accounts", "ready"),
        ("image", "waiting"),
        ("handover", "waiting"),
    ] {
        assert_eq!(task(&tasks, key)["status"], status, "{key}");
    }
    assert!(
        task(&tasks, "order")["task_number"]
            .as_str()
            .unwrap()
            .starts_with("TSK-")
    );
    assert!(
        task(&tasks, "order")["assigned_group_name"] == "Workplace",
        "tasks inherit the item's group"
    );
    let act = |key: &str, action: &str, body: Value, token: &str| {
        let url = format!(
            "/v1/requests/{request}/tasks/{}/{action}",
            task(&tasks, key)["id"].as_str().unwrap()
        );
        let (app, token) = (&app, token.to_string());
        async move { app.json("POST", &url, Some(&token), Some(body)).await }
    };
    let (s, _) = act("order", "start", json!({}), &requester).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A waiting task can only be skipped.
    let (s, e) = act("image", "start", json!({}), &agent).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert_eq!(e["error"]["details"]["allowed"], json!(["skip"]));
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("waits for other tasks"),
        "{e}"
    );

    // The ready ones' group heard about them.
    app.run_jobs().await;
    let heard: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT subject FROM tenant_{}.notifications WHERE user_id = $1 AND channel = 'in_app'",
        app.slug
    ))
    .bind(uuid::Uuid::parse_str(&agent_id).unwrap())
    .fetch_all(&app.state.pool)
    .await
    .unwrap();
    assert!(
        heard
            .iter()
            .any(|s| s.contains("has a fulfilment task ready")),
        "{heard:?}"
    );

    let (s, done) = act("order", "start", json!({}), &agent).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["task"]["status"], "in_progress");
    assert_eq!(
        done["task"]["assigned_to_name"], "agent",
        "starting takes it"
    );
    assert_eq!(done["request"]["status"], "in_progress");
    // Skipping needs a reason.
    let (s, e) = act("accounts", "skip", json!({"notes": "  "}), &agent).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"]["details"]["notes"].is_string(), "{e}");
    let (s, _) = act(
        "accounts",
        "skip",
        json!({"notes": "The accounts already exist."}),
        &agent,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, now) = app.json("GET", &tasks_url, Some(&agent), None).await;
    assert_eq!(
        task(&now, "handover")["status"],
        "waiting",
        "still waits for the image"
    );
    let (s, done) = act(
        "order",
        "complete",
        json!({"notes": "Ordered, PO 4711."}),
        &agent,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(done["task"]["notes"], "Ordered, PO 4711.");
    let (_, now) = app.json("GET", &tasks_url, Some(&agent), None).await;
    assert_eq!(task(&now, "image")["status"], "ready");
    assert_eq!(task(&now, "handover")["status"], "waiting");
    let (s, again) = act("order", "complete", json!({}), &agent).await;
    assert_eq!(s, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["error"]["details"]["allowed"], json!([]));
    // A ready task can be done without starting it.
    let (s, _) = act("image", "complete", json!({}), &agent).await;
    assert_eq!(s, StatusCode::OK);
    let (s, done) = act("handover", "complete", json!({}), &agent).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["request"]["status"], "completed");
    assert_eq!(
        done["request"]["completion_notes"],
        "Every fulfilment task is done."
    );
    let (_, history) = app
        .json(
            "GET",
            &format!("/v1/requests/{request}/history"),
            Some(&requester),
            None,
        )
        .await;
    let moves: Vec<&str> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to_status"].as_str().unwrap())
        .collect();
    assert_eq!(moves, ["approved", "in_progress", "completed"]);
    let events: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT event_type FROM tenant_{}.domain_events WHERE entity_id = $1 ORDER BY id",
        app.slug
    ))
    .bind(uuid::Uuid::parse_str(&request).unwrap())
    .fetch_all(&app.state.pool)
    .await
    .unwrap();
    assert_eq!(
        events.iter().filter(|e| *e == "request.completed").count(),
        1
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "request.task_updated")
            .count(),
        5
    );
    // Once the request is done its tasks are frozen.
    let (s, _) = act("accounts", "skip", json!({"notes": "x"}), &agent).await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Another tenant finds neither the request nor its tasks.
    let other = TestApp::new().await;
    let (_, other_agent) = other.user_with_role("agent").await;
    let (s, _) = other
        .json("GET", &tasks_url, Some(&other_agent), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let url = format!(
        "/v1/requests/{request}/tasks/{}/start",
        task(&tasks, "image")["id"].as_str().unwrap()
    );
    let (s, _) = other
        .json("POST", &url, Some(&other_agent), Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_request_page_works_the_tasks_and_cancelling_skips_them() {
    let Setup {
        app,
        agent: _,
        agent_id,
        requester,
        request,
    } = setup().await;
    let email = app.email_of(&agent_id).await;
    let b = app.browser_login(&email).await;
    let page = app
        .page(
            "GET",
            &format!("/requests/{request}"),
            Some(&b.cookie),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Fulfilment tasks"), "{}", page.body);
    assert!(page.body.contains("0 of 4 done"));
    assert!(page.body.contains("Order the laptop"));
    let (_, tasks) = app
        .json(
            "GET",
            &format!("/v1/requests/{request}/tasks"),
            Some(&requester),
            None,
        )
        .await;
    let order = task(&tasks, "order")["id"].as_str().unwrap().to_string();
    let url = format!("/requests/{request}/tasks/{order}");
    // A skip without a reason re-renders the page with the message at that task.
    let refused = app
        .page(
            "POST",
            &url,
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf), ("action", "skip"), ("notes", "")]),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("Say why the task is skipped."));
    let done = app
        .page(
            "POST",
            &url,
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("action", "complete"),
                ("notes", "Ordered."),
            ]),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let page = app
        .page(
            "GET",
            &format!("/requests/{request}"),
            Some(&b.cookie),
            None,
        )
        .await;
    assert!(page.body.contains("1 of 4 done"), "{}", page.body);
    // The requester sees the tasks but no buttons.
    let mine = app.email_of(&requester_id_of(&app, &requester).await).await;
    let rb = app.browser_login(&mine).await;
    let page = app
        .page(
            "GET",
            &format!("/requests/{request}"),
            Some(&rb.cookie),
            None,
        )
        .await;
    assert!(page.body.contains("Order the laptop"));
    assert!(!page.body.contains(&format!("/tasks/{order}\"")));
    // Cancelling skips what is left, with the reason.
    let (s, r) = app
        .json(
            "DELETE",
            &format!("/v1/requests/{request}"),
            Some(&requester),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (_, tasks) = app
        .json(
            "GET",
            &format!("/v1/requests/{request}/tasks"),
            Some(&requester),
            None,
        )
        .await;
    assert_eq!(task(&tasks, "order")["status"], "completed");
    assert_eq!(task(&tasks, "handover")["status"], "skipped");
    assert_eq!(
        task(&tasks, "handover")["notes"],
        "The request was cancelled."
    );
}

async fn requester_id_of(app: &TestApp, token: &str) -> String {
    let (_, me) = app.json("GET", "/v1/auth/me", Some(token), None).await;
    me["user"]["id"].as_str().unwrap().to_string()
}
