//! SLA configuration through /v1 and the pages: policies with conditions and targets, business
//! hours with holidays and .ics import, validation, in-use protection, and re-computation of
//! open issues when a policy changes.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::issues::Desk;
use crate::support::{id_of, named};

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("a time, got {v}"))
        .parse()
        .unwrap()
}

fn round_the_clock(priority: &str, response: i32, resolution: i32) -> Value {
    json!([
        {"metric_type": "response_time", "priority": priority, "target_minutes": response, "business_hours_only": false},
        {"metric_type": "resolution_time", "priority": priority, "target_minutes": resolution, "business_hours_only": false}
    ])
}

#[tokio::test]
async fn a_matching_policy_wins_the_default_moves_and_bad_input_is_named() {
    let d = Desk::new().await;
    let (s, p) = d
        .call(
            "POST",
            "/v1/sla/policies",
            &d.admin,
            json!({"name": "Critical apps", "sort_order": 10,
                   "conditions": {"priority": ["critical", "high"]},
                   "targets": round_the_clock("critical", 5, 60)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert_eq!(p["targets"][0]["warning_percent"], 80, "the default share");
    assert_eq!(p["pause_statuses"], json!(["pending"]));
    let pid = id_of(&p);

    let (_, issue) = d
        .call(
            "POST",
            "/v1/issues",
            &d.admin,
            json!({"title": "Checkout down", "priority": "critical"}),
        )
        .await;
    assert_eq!(issue["sla_policy_id"], pid);
    let t0 = at(&issue["created_at"]);
    assert_eq!(at(&issue["resolution_due_at"]), t0 + Duration::minutes(60));
    // "high" matches the conditions but the policy has no high target: no clocks.
    let (_, high) = d
        .call(
            "POST",
            "/v1/issues",
            &d.admin,
            json!({"title": "Slow reports", "priority": "high"}),
        )
        .await;
    assert_eq!(high["sla_policy_id"], pid);
    assert!(high["resolution_due_at"].is_null(), "{high}");
    // Low priority falls through to the default policy.
    let (_, low) = d
        .call(
            "POST",
            "/v1/issues",
            &d.admin,
            json!({"title": "Typo", "priority": "low"}),
        )
        .await;
    assert_ne!(low["sla_policy_id"], pid);

    let bad_bodies = [
        (json!({"name": "", "targets": []}), "name"),
        (
            json!({"name": "X", "conditions": {"colour": "red"}}),
            "conditions.colour",
        ),
        (
            json!({"name": "X", "conditions": {"priority": "urgent"}}),
            "conditions.priority",
        ),
        (
            json!({"name": "X", "conditions": {"category_id": "nope"}}),
            "conditions.category_id",
        ),
        (
            json!({"name": "X", "targets": [{"metric_type": "response_time", "priority": "low", "target_minutes": 0}]}),
            "targets[0].target_minutes",
        ),
        (
            json!({"name": "X", "targets": [
                {"metric_type": "response_time", "priority": "low", "target_minutes": 5},
                {"metric_type": "response_time", "priority": "low", "target_minutes": 9}]}),
            "targets[1].priority",
        ),
        (
            json!({"name": "X", "pause_statuses": ["closed"]}),
            "pause_statuses",
        ),
        (
            json!({"name": "X", "is_default": true, "conditions": {"tier": "P1"}}),
            "conditions",
        ),
        (
            json!({"name": "X", "business_hours_id": uuid::Uuid::new_v4()}),
            "business_hours_id",
        ),
    ];
    for (body, field) in bad_bodies {
        let (s, e) = d.call("POST", "/v1/sla/policies", &d.admin, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["error"]["details"][field].is_string(), "{field}: {e}");
    }

    // Used policies and the default stay; an unused one goes.
    let (s, e) = d
        .call(
            "DELETE",
            &format!("/v1/sla/policies/{pid}"),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let (_, list) = d
        .call("GET", "/v1/sla/policies", &d.admin, Value::Null)
        .await;
    let default_id = list["data"]
        .as_array()
        .and_then(|l| l.iter().find(|p| p["is_default"] == true))
        .map(id_of)
        .expect("a default policy");
    let (s, _) = d
        .call(
            "DELETE",
            &format!("/v1/sla/policies/{default_id}"),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, spare) = d
        .call(
            "POST",
            "/v1/sla/policies",
            &d.admin,
            json!({"name": "New default", "is_default": true, "targets": round_the_clock("low", 60, 600)}),
        )
        .await;
    let (_, old_default) = d
        .call(
            "GET",
            &format!("/v1/sla/policies/{default_id}"),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(old_default["is_default"], false, "one default per kind");
    let (_, promoted) = d
        .call(
            "PUT",
            &format!("/v1/sla/policies/{default_id}"),
            &d.admin,
            json!({"name": "Default issue SLA", "is_default": true, "targets": old_default["targets"]}),
        )
        .await;
    assert_eq!(promoted["is_default"], true);
    let spare = id_of(&spare);
    let (s, _) = d
        .call(
            "DELETE",
            &format!("/v1/sla/policies/{spare}"),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    // Agents read the configuration; changing it takes sla:create/update.
    let (s, _) = d
        .call("GET", "/v1/sla/policies", &d.agent, Value::Null)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = d
        .call(
            "POST",
            "/v1/sla/policies",
            &d.agent,
            json!({"name": "Mine"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = d
        .call("GET", "/v1/sla/policies", &d.requester, Value::Null)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let audited: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM tenant_{}.audit_logs WHERE entity_type = 'sla_policy'",
        d.app.slug
    ))
    .fetch_one(&d.app.state.pool)
    .await
    .unwrap();
    assert_eq!(audited, 4, "create, create, update, delete");
}

#[tokio::test]
async fn changing_a_policy_moves_the_due_times_of_its_open_issues() {
    let d = Desk::new().await;
    let (_, p) = d
        .call(
            "POST",
            "/v1/sla/policies",
            &d.admin,
            json!({"name": "Ops", "sort_order": 1, "targets": round_the_clock("medium", 30, 120)}),
        )
        .await;
    let pid = id_of(&p);
    let (_, issue) = d
        .call(
            "POST",
            "/v1/issues",
            &d.admin,
            json!({"title": "Printer jam"}),
        )
        .await;
    let id = id_of(&issue);
    let t0 = at(&issue["created_at"]);
    assert_eq!(at(&issue["resolution_due_at"]), t0 + Duration::minutes(120));
    let (s, _) = d
        .call(
            "PUT",
            &format!("/v1/sla/policies/{pid}"),
            &d.admin,
            json!({"name": "Ops", "sort_order": 1, "targets": round_the_clock("medium", 30, 480)}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    d.app.run_jobs().await;
    let (_, now) = d
        .call("GET", &format!("/v1/issues/{id}"), &d.admin, Value::Null)
        .await;
    assert_eq!(at(&now["resolution_due_at"]), t0 + Duration::minutes(480));
    // The timer moved with it: nothing fires at the old warning time.
    let timer: DateTime<Utc> = sqlx::query_scalar(
        "SELECT run_at FROM public.jobs WHERE tenant_slug = $1 AND job_key = $2",
    )
    .bind(d.app.slug.as_str())
    .bind(format!("sla:{id}:resolution"))
    .fetch_one(&d.app.state.pool)
    .await
    .unwrap();
    assert_eq!(timer, t0 + Duration::minutes(480 * 80 / 100));
}

const ICS: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n\
BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\nSUMMARY:Christmas Day\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261226\r\nSUMMARY:Boxing Day\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260501\r\nRRULE:FREQ=YEARLY\r\nSUMMARY:May Day\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

#[tokio::test]
async fn business_hours_validate_import_holidays_and_guard_their_use() {
    let d = Desk::new().await;
    let (s, e) = d
        .call(
            "POST",
            "/v1/sla/business-hours",
            &d.admin,
            json!({"name": "Berlin", "timezone": "Mars/Olympus",
                   "schedule": [{"day_of_week": 1, "start_time": "08:00", "end_time": "16:00"},
                                {"day_of_week": 1, "start_time": "9", "end_time": "17:00"},
                                {"day_of_week": 7, "start_time": "08:00", "end_time": "16:00"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let fields = &e["error"]["details"];
    for f in [
        "timezone",
        "schedule[1].day_of_week",
        "schedule[1].start_time",
        "schedule[2].day_of_week",
    ] {
        assert!(fields[f].is_string(), "{f}: {e}");
    }
    let (s, h) = d
        .call(
            "POST",
            "/v1/sla/business-hours",
            &d.admin,
            json!({"name": "Berlin", "timezone": "Europe/Berlin",
                   "schedule": [{"day_of_week": 1, "start_time": "08:00", "end_time": "16:00"},
                                {"day_of_week": 5, "start_time": "22:00", "end_time": "06:00"}],
                   "holidays": [{"date": "2026-12-24", "name": "Christmas Eve"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{h}");
    assert_eq!(h["schedule"][1]["end_time"], "06:00");
    let hid = id_of(&h);

    let uri = format!("/v1/sla/business-hours/{hid}/holidays/import");
    let import = |body: &'static str| {
        let body = body.as_bytes().to_vec();
        d.app.raw("POST", &uri, &d.admin, "text/calendar", body)
    };
    let (s, r) = import(ICS).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["added"], 2);
    assert_eq!(r["skipped"], json!(["May Day: recurring (RRULE)"]));
    assert_eq!(r["business_hours"]["holidays"].as_array().unwrap().len(), 3);
    let (_, again) = import(ICS).await;
    assert_eq!(
        (again["added"].clone(), again["already_present"].clone()),
        (json!(0), json!(2))
    );
    let (s, e) = import("not a calendar").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["details"]["file"].is_string());

    // A policy on these hours keeps them from being deleted; the default hours always stay.
    let (_, p) = d
        .call(
            "POST",
            "/v1/sla/policies",
            &d.admin,
            json!({"name": "Berlin desk", "business_hours_id": hid, "conditions": {"issue_type": "question"}}),
        )
        .await;
    assert_eq!(p["business_hours_name"], "Berlin");
    let (s, _) = d
        .call(
            "DELETE",
            &format!("/v1/sla/business-hours/{hid}"),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, list) = d
        .call("GET", "/v1/sla/business-hours", &d.admin, Value::Null)
        .await;
    let default_id = id_of(&list["data"][0]);
    assert_eq!(list["data"][0]["is_default"], true);
    let (s, _) = d
        .call(
            "DELETE",
            &format!("/v1/sla/business-hours/{default_id}"),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let pid = id_of(&p);
    d.call(
        "DELETE",
        &format!("/v1/sla/policies/{pid}"),
        &d.admin,
        Value::Null,
    )
    .await;
    let (s, _) = d
        .call(
            "DELETE",
            &format!("/v1/sla/business-hours/{hid}"),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn the_pages_create_a_policy_and_hours_and_show_errors_in_place() {
    let d = Desk::new().await;
    let b = d.app.browser_login("admin@example.com").await;
    let overview = d.app.page("GET", "/sla", Some(&b.cookie), None).await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(overview.body.contains("Default issue SLA"));
    assert!(
        overview.body.contains("Mon 09:00–17:00"),
        "{}",
        overview.body
    );

    let bad = d
        .app
        .page(
            "POST",
            "/sla/policies",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("name", "After hours"),
                ("entity_type", "issue"),
                ("is_active", "on"),
                ("response.critical", "ten"),
                ("resolution.critical", "0"),
            ]),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains(r#"data-field-error="response.critical""#));
    let bad = d
        .app
        .page(
            "POST",
            "/sla/policies",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("name", "After hours"),
                ("is_active", "on"),
                ("resolution.critical", "0"),
            ]),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body
            .contains(r#"data-field-error="resolution.critical""#),
        "the model's targets[0] error lands on its input"
    );
    let ok = d
        .app
        .page(
            "POST",
            "/sla/policies",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("name", "After hours"),
                ("is_active", "on"),
                ("sort_order", "5"),
                ("cond.priority", "critical"),
                ("cond.tier", "P1"),
                ("response.critical", "10"),
                ("resolution.critical", "90"),
                ("warn.critical", "50"),
                ("pause_statuses", "pending"),
            ]),
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let (_, list) = d
        .call("GET", "/v1/sla/policies", &d.admin, Value::Null)
        .await;
    let made = named(&list, "After hours");
    assert_eq!(
        made["conditions"],
        json!({"priority": ["critical"], "tier": ["P1"]})
    );
    assert_eq!(made["targets"][0]["warning_percent"], 50);
    assert_eq!(made["targets"][0]["business_hours_only"], false);
    let edit = d
        .app
        .page(
            "GET",
            &format!("/sla/policies/{}", id_of(&made)),
            Some(&b.cookie),
            None,
        )
        .await;
    assert!(edit.body.contains(r#"name="resolution.critical" aria-label="critical resolution minutes" inputmode="numeric" value="90""#));

    let made = d
        .app
        .page(
            "POST",
            "/sla/business-hours",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("name", "Night desk"),
                ("timezone", "America/New_York"),
                ("open.1", "on"),
                ("start.1", "22:00"),
                ("end.1", "06:00"),
                ("holidays", "2026-07-04 Independence Day\n2026-13-01 Nope"),
            ]),
        )
        .await;
    assert_eq!(made.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        made.body
            .contains("line 2: &#39;2026-13-01&#39; is not a date")
            || made.body.contains("line 2: '2026-13-01' is not a date"),
        "{}",
        made.body
    );
    let made = d
        .app
        .page(
            "POST",
            "/sla/business-hours",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("name", "Night desk"),
                ("timezone", "America/New_York"),
                ("open.1", "on"),
                ("start.1", "22:00"),
                ("end.1", "06:00"),
                ("holidays", "2026-07-04 Independence Day"),
            ]),
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let (_, hours) = d
        .call("GET", "/v1/sla/business-hours", &d.admin, Value::Null)
        .await;
    let night = named(&hours, "Night desk");
    assert_eq!(
        night["schedule"],
        json!([{"day_of_week": 1, "start_time": "22:00", "end_time": "06:00"}])
    );
    let hid = id_of(&night);
    let imported = d
        .app
        .upload(
            &format!("/sla/business-hours/{hid}/holidays"),
            &b.cookie,
            &[("_csrf", &b.csrf)],
            ("file", "us.ics", "text/calendar", ICS.as_bytes()),
        )
        .await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.body);
    assert!(
        imported
            .body
            .contains("Imported 2 holidays (0 already present)")
    );
    assert!(imported.body.contains("2026-12-25 Christmas Day"));

    // An agent sees the configuration without the buttons to change it.
    let (_, me) = d
        .call(
            "GET",
            &format!("/v1/users/{}", d.agent_id),
            &d.admin,
            Value::Null,
        )
        .await;
    let agent = d.app.browser_login(me["email"].as_str().unwrap()).await;
    let view = d
        .app
        .page(
            "GET",
            &format!("/sla/business-hours/{hid}"),
            Some(&agent.cookie),
            None,
        )
        .await;
    assert_eq!(view.status, StatusCode::OK);
    assert!(!view.body.contains("Save business hours"));
}
