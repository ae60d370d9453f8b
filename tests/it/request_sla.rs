//! SLA clocks for service requests with the injected clock: the item's policy (or the default
//! request policy), clocks paused while approvers decide, the first response stopping the
//! response clock, warning and breach events fired once by the timers, completion stopping the
//! clocks, and request policies refusing issue statuses.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestApp, id_of};

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("a time, got {v}"))
        .parse()
        .unwrap()
}

/// A fresh access token: tokens live 15 minutes and this test moves the clock by hours.
async fn token(app: &TestApp, user: &str) -> String {
    let email = app.email_of(user).await;
    app.login(&email, PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

fn near(a: DateTime<Utc>, b: DateTime<Utc>) {
    assert!((a - b).num_seconds().abs() <= 5, "{a} is not {b}");
}

async fn sla_events(app: &TestApp, id: &str) -> Vec<String> {
    sqlx::query_scalar(&format!(
        "SELECT event_type || ':' || COALESCE(payload->>'metric', '') FROM tenant_{}.domain_events
         WHERE entity_id = $1 AND event_type LIKE 'request.sla%' ORDER BY occurred_at, id",
        app.slug
    ))
    .bind(uuid::Uuid::parse_str(id).unwrap())
    .fetch_all(&app.state.pool)
    .await
    .unwrap()
}

async fn get(app: &TestApp, path: &str) -> Value {
    let (s, v) = app
        .json("GET", path, Some(&app.admin_token().await), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

#[tokio::test]
async fn request_clocks_pause_for_approval_warn_breach_once_and_stop_on_completion() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    // A request policy may only pause in request statuses.
    let (s, bad) = app
        .json(
            "POST",
            "/v1/sla/policies",
            Some(&admin),
            Some(json!({"name": "Wrong", "entity_type": "request", "pause_statuses": ["pending"]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert!(
        bad["error"]["details"]["pause_statuses"]
            .as_str()
            .unwrap()
            .contains("pending_approval"),
        "{bad}"
    );
    // Round the clock, so every due time is plain arithmetic.
    let targets = json!([
        {"metric_type": "response_time", "priority": "medium", "target_minutes": 30, "business_hours_only": false},
        {"metric_type": "resolution_time", "priority": "medium", "target_minutes": 120, "business_hours_only": false}]);
    let (s, policy) = app
        .json(
            "POST",
            "/v1/sla/policies",
            Some(&admin),
            Some(json!({"name": "Hardware", "entity_type": "request", "targets": targets})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{policy}");
    assert_eq!(policy["pause_statuses"], json!(["pending_approval"]));
    let policy = id_of(&policy);

    // An item takes a request policy, not an issue one.
    let issue_policy: String = sqlx::query_scalar(&format!(
        "SELECT id::text FROM tenant_{}.sla_policies WHERE entity_type = 'issue' AND is_default",
        app.slug
    ))
    .fetch_one(&app.state.pool)
    .await
    .unwrap();
    let (boss_id, _) = app.user_with_role("agent").await;
    let (agent_id, _) = app.user_with_role("agent").await;
    let (requester_id, _) = app.user_with_role("requester").await;
    let form = json!({"fields": [{"id": "why", "type": "text", "label": "Why"}]});
    let chain =
        json!({"stages": [{"approvers": [{"type": "user", "id": boss_id}], "rule": "all"}]});
    let item = |sla: &str| {
        json!({"name": "Dock", "form_schema": form, "approval_chain": chain, "sla_policy_id": sla,
            "task_templates": [{"key": "ship", "title": "Ship the dock"}]})
    };
    let (s, bad) = app
        .json(
            "POST",
            "/v1/catalog/items",
            Some(&admin),
            Some(item(&issue_policy)),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert_eq!(
        bad["error"]["details"]["sla_policy_id"],
        "no such SLA policy for requests"
    );
    let (s, made) = app
        .json(
            "POST",
            "/v1/catalog/items",
            Some(&admin),
            Some(item(&policy)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    let item_id = id_of(&made);
    let (s, _) = app
        .json(
            "POST",
            &format!("/v1/catalog/items/{item_id}/publish"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let (s, r) = app
        .json(
            "POST",
            "/v1/requests",
            Some(&token(&app, &requester_id).await),
            Some(json!({"catalog_item_id": item_id, "form_data": {"why": "new desk"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let id = id_of(&r);
    assert_eq!(r["status"], "pending_approval");
    assert_eq!(r["sla_policy_id"], policy.as_str());
    // Waiting for approval pauses both clocks: no due time yet.
    assert!(r["response_due_at"].is_null(), "{r}");
    assert!(r["resolution_due_at"].is_null(), "{r}");
    let t0 = at(&r["created_at"]);
    let panel = get(&app, &format!("/v1/requests/{id}/sla")).await;
    assert_eq!(panel["policy_name"], "Hardware");
    assert_eq!(panel["response"]["paused"], true, "{panel}");

    // An hour later the boss approves: the clocks run from here, an hour late.
    app.clock.advance(Duration::minutes(60));
    let boss = token(&app, &boss_id).await;
    let (_, inbox) = app
        .json("GET", "/v1/approvals?status=pending", Some(&boss), None)
        .await;
    let approval = inbox["data"][0]["id"].as_str().unwrap().to_string();
    let (s, _) = app
        .json(
            "POST",
            &format!("/v1/approvals/{approval}/approve"),
            Some(&boss),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let r = get(&app, &format!("/v1/requests/{id}")).await;
    assert_eq!(r["status"], "approved");
    // (The test's clock runs on from the shifted start, a second or so per step.)
    near(at(&r["response_due_at"]), t0 + Duration::minutes(60 + 30));
    near(
        at(&r["resolution_due_at"]),
        t0 + Duration::minutes(60 + 120),
    );

    app.run_jobs().await;
    assert!(sla_events(&app, &id).await.is_empty(), "nothing is due yet");
    // 80 % of the response target: the warning, once.
    app.clock.advance(Duration::minutes(25));
    app.run_jobs().await;
    app.run_jobs().await;
    assert_eq!(
        sla_events(&app, &id).await,
        ["request.sla_warning:response"]
    );
    // Assigning a person is the first response: the response clock is met and never breaches.
    let (s, assigned) = app
        .json(
            "POST",
            &format!("/v1/requests/{id}/assign"),
            Some(&app.admin_token().await),
            Some(json!({"assigned_to": agent_id})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{assigned}");
    assert!(assigned["responded_at"].is_string(), "{assigned}");
    app.clock.advance(Duration::minutes(10));
    app.run_jobs().await;
    assert_eq!(
        sla_events(&app, &id).await,
        ["request.sla_warning:response"]
    );
    let panel = get(&app, &format!("/v1/requests/{id}/sla")).await;
    assert_eq!(panel["response"]["state"], "met", "{panel}");

    // Past 80 % of the resolution target, then past its due time: warned, then breached —
    // each once, however often the jobs run.
    app.clock.advance(Duration::minutes(65));
    app.run_jobs().await;
    app.clock.advance(Duration::minutes(25));
    for _ in 0..3 {
        app.run_jobs().await;
    }
    assert_eq!(
        sla_events(&app, &id).await,
        [
            "request.sla_warning:response",
            "request.sla_warning:resolution",
            "request.sla_breached:resolution"
        ]
    );
    let r = get(&app, &format!("/v1/requests/{id}")).await;
    assert_eq!(r["sla_breached"], true);
    assert_eq!(r["sla_breach_type"], "resolution");
    // The agent hears of the breach.
    let told: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM tenant_{}.notifications WHERE user_id = $1 AND entity_id = $2
           AND channel = 'in_app' AND subject LIKE '%breached its SLA%'",
        app.slug
    ))
    .bind(uuid::Uuid::parse_str(&agent_id).unwrap())
    .bind(uuid::Uuid::parse_str(&id).unwrap())
    .fetch_one(&app.state.pool)
    .await
    .unwrap();
    assert_eq!(told, 1);

    // Completing stops the clocks; the breach stands.
    let (s, done) = app
        .json(
            "POST",
            &format!("/v1/requests/{id}/complete"),
            Some(&app.admin_token().await),
            Some(json!({"notes": "Shipped late."})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{done}");
    let panel = get(&app, &format!("/v1/requests/{id}/sla")).await;
    assert_eq!(panel["resolution"]["state"], "breached", "{panel}");
    assert!(!panel["resolution"]["stopped_at"].is_null(), "{panel}");
    let timers: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE tenant_slug = $1 AND job_key LIKE $2")
            .bind(app.slug.as_str())
            .bind(format!("sla:request:{id}:%"))
            .fetch_one(&app.state.pool)
            .await
            .unwrap();
    assert_eq!(timers, 0, "no timer is left for a closed request");

    // Another tenant cannot see its clocks.
    let other = TestApp::new().await;
    let (s, _) = other
        .json(
            "GET",
            &format!("/v1/requests/{id}/sla"),
            Some(&other.admin_token().await),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_item_without_a_policy_gets_the_default_request_policy_in_business_hours() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (s, item) = app
        .json(
            "POST",
            "/v1/catalog/items",
            Some(&admin),
            Some(json!({"name": "Mouse", "form_schema": {"fields": [
                {"id": "hand", "type": "text", "label": "Which hand"}]}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{item}");
    let item = id_of(&item);
    let (s, published) = app
        .json(
            "POST",
            &format!("/v1/catalog/items/{item}/publish"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{published}");
    let (s, r) = app
        .json(
            "POST",
            "/v1/requests",
            Some(&admin),
            Some(json!({"catalog_item_id": item, "form_data": {"hand": "left"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["status"], "approved");
    let panel = get(&app, &format!("/v1/requests/{}/sla", id_of(&r))).await;
    assert_eq!(panel["policy_name"], "Default request SLA", "{panel}");
    // Medium: five business days to complete, counted in the default hours (09–17, Mon–Fri).
    assert_eq!(panel["resolution"]["target_minutes"], 2400);
    assert_eq!(panel["resolution"]["business_hours_only"], true);
    let due = at(&r["resolution_due_at"]);
    assert!(
        due - at(&r["created_at"]) >= Duration::days(5),
        "40 business hours are at least five calendar days: {due}"
    );
}
