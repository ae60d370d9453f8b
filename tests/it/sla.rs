//! SLA clocks through /v1 with the injected clock: due times, pause/resume, re-prioritisation,
//! reopen, and warning/breach events fired once by the timers.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::issues::Desk;

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("a time, got {v}"))
        .parse()
        .unwrap()
}

fn near(a: DateTime<Utc>, b: DateTime<Utc>) {
    assert!((a - b).num_seconds().abs() <= 5, "{a} is not {b}");
}

async fn events(d: &Desk, id: &str) -> Vec<String> {
    sqlx::query_scalar(&format!(
        "SELECT event_type || ':' || COALESCE(payload->>'metric', '') FROM tenant_{}.domain_events
         WHERE entity_id = $1 AND event_type LIKE 'issue.sla%' ORDER BY occurred_at, id",
        d.app.slug
    ))
    .bind(uuid::Uuid::parse_str(id).unwrap())
    .fetch_all(&d.app.state.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn clocks_pause_move_with_priority_resume_on_reopen_and_fire_once() {
    let d = Desk::new().await;
    // Access tokens live 15 minutes and this test moves the clock by hours: every call signs in
    // afresh (`admin_token`).
    // Make "high" round-the-clock too, so every due time here is plain arithmetic.
    sqlx::query(&format!(
        "UPDATE tenant_{}.sla_targets SET business_hours_only = false",
        d.app.slug
    ))
    .execute(&d.app.state.pool)
    .await
    .unwrap();
    let (s, issue) = d
        .call(
            "POST",
            "/v1/issues",
            &d.app.admin_token().await,
            json!({"title": "Payments down", "priority": "critical", "assigned_group": d.group}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{issue}");
    let id = issue["id"].as_str().unwrap().to_string();
    let t0 = at(&issue["created_at"]);
    // Default policy, critical: response 15 min, resolution 240 min, warning at 80 %.
    assert_eq!(at(&issue["response_due_at"]), t0 + Duration::minutes(15));
    assert_eq!(at(&issue["resolution_due_at"]), t0 + Duration::minutes(240));

    d.app.run_jobs().await;
    assert!(events(&d, &id).await.is_empty(), "nothing is due yet");
    d.app.clock.advance(Duration::minutes(13));
    d.app.run_jobs().await;
    d.app.run_jobs().await;
    assert_eq!(events(&d, &id).await, ["issue.sla_warning:response"]);
    d.app.clock.advance(Duration::minutes(3));
    d.app.run_jobs().await;
    assert_eq!(
        events(&d, &id).await,
        ["issue.sla_warning:response", "issue.sla_breached:response"]
    );
    let (_, now) = d
        .call(
            "GET",
            &format!("/v1/issues/{id}"),
            &d.app.admin_token().await,
            Value::Null,
        )
        .await;
    assert_eq!(now["sla_breached"], true);
    assert_eq!(now["sla_breach_type"], "response");

    // Pending for an hour: the resolution clock stands still and its due time moves by that.
    let (s, pending) = d
        .call(
            "PUT",
            &format!("/v1/issues/{id}"),
            &d.app.admin_token().await,
            json!({"status": "pending", "reason": "waiting for the bank"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{pending}");
    assert!(
        pending["resolution_due_at"].is_null(),
        "no due time while paused"
    );
    d.app.clock.advance(Duration::minutes(60));
    d.app.run_jobs().await;
    let (_, resumed) = d
        .call(
            "PUT",
            &format!("/v1/issues/{id}"),
            &d.app.admin_token().await,
            json!({"status": "in_progress"}),
        )
        .await;
    near(
        at(&resumed["resolution_due_at"]),
        t0 + Duration::minutes(240 + 60),
    );

    // Re-prioritised to high (480 min): due from the original start, pause still excluded.
    let (_, high) = d
        .call(
            "PUT",
            &format!("/v1/issues/{id}"),
            &d.app.admin_token().await,
            json!({"priority": "high"}),
        )
        .await;
    near(
        at(&high["resolution_due_at"]),
        t0 + Duration::minutes(480 + 60),
    );

    // Resolved for 30 minutes, then reopened: the resolved span does not count.
    d.call(
        "POST",
        &format!("/v1/issues/{id}/resolve"),
        &d.app.admin_token().await,
        json!({"resolution_code": "workaround", "resolution_notes": "failover"}),
    )
    .await;
    d.app.clock.advance(Duration::minutes(30));
    d.app.run_jobs().await;
    let (_, reopened) = d
        .call(
            "POST",
            &format!("/v1/issues/{id}/reopen"),
            &d.app.admin_token().await,
            json!({"reason": "failover failed"}),
        )
        .await;
    let due = at(&reopened["resolution_due_at"]);
    near(due, t0 + Duration::minutes(480 + 60 + 30));

    let (s, panel) = d
        .call(
            "GET",
            &format!("/v1/issues/{id}/sla"),
            &d.app.admin_token().await,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{panel}");
    assert_eq!(panel["policy_name"], "Default issue SLA");
    assert_eq!(panel["response"]["state"], "breached");
    let steps: Vec<&str> = panel["resolution"]["explain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["started", "paused", "resumed", "paused", "resumed", "due"]
    );
    assert_eq!(at(&panel["resolution"]["explain"][5]["at"]), due);

    // Straight past the due time: the breach fires once; a warning that would come after the
    // breach is skipped as noise.
    d.app
        .clock
        .advance(due - d.app.clock_now() + Duration::minutes(1));
    d.app.run_jobs().await;
    d.app.run_jobs().await;
    assert_eq!(
        events(&d, &id).await,
        [
            "issue.sla_warning:response",
            "issue.sla_breached:response",
            "issue.sla_breached:resolution"
        ]
    );
    let (_, last) = d
        .call(
            "GET",
            &format!("/v1/issues/{id}"),
            &d.app.admin_token().await,
            Value::Null,
        )
        .await;
    assert_eq!(last["sla_breach_type"], "both");
}

#[tokio::test]
async fn business_hours_targets_skip_nights_and_weekends() {
    let d = Desk::new().await;
    let (_, issue) = d
        .call(
            "POST",
            "/v1/issues",
            &d.admin,
            json!({"title": "Slow wiki", "priority": "low"}),
        )
        .await;
    let t0 = at(&issue["created_at"]);
    // low: response 480 business minutes of Mon–Fri 09:00–17:00 UTC = one business day.
    let schedule = domain::time::Schedule {
        tz: chrono_tz::UTC,
        days: std::array::from_fn(|d| match d {
            0..=4 => vec![domain::time::Window::new(
                chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                chrono::NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
            )],
            _ => vec![],
        }),
        holidays: Default::default(),
    };
    assert_eq!(
        at(&issue["response_due_at"]),
        schedule.add(t0, Duration::minutes(480)).unwrap()
    );
    assert_eq!(
        at(&issue["resolution_due_at"]),
        schedule.add(t0, Duration::minutes(2880)).unwrap()
    );
}
