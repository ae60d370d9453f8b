//! Integrations and notification channels against local stand-ins the tests start: a Slack
//! (bot token), Teams, PagerDuty, SMS and generic webhook receiver, and an SMTP sink as the
//! tenant's own mail server. Secrets are write-only; deliveries retry until the provider answers
//! (delivered exactly once), 4xx stops and is listed; templates shape the messages, with a
//! broken one falling back to the default; quiet hours hold a person's messages.

use axum::http::StatusCode;
use base64::Engine;
use chrono::{Duration, Timelike};
use serde_json::{Value, json};

use crate::issues::Desk;
use crate::support::receiver::Receiver;
use crate::support::{SmtpSink, id_of};

async fn integration(d: &Desk, body: Value) -> String {
    let (s, i) = d.call("POST", "/v1/integrations", &d.admin, body).await;
    assert_eq!(s, StatusCode::CREATED, "{i}");
    id_of(&i)
}

async fn channel(d: &Desk, body: Value) -> String {
    let (s, c) = d
        .call("POST", "/v1/notification-channels", &d.admin, body)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    id_of(&c)
}

async fn raise(d: &Desk, body: Value) -> Value {
    let (s, i) = d.call("POST", "/v1/issues", &d.admin, body).await;
    assert_eq!(s, StatusCode::CREATED, "{i}");
    i
}

fn schema(d: &Desk) -> String {
    format!("tenant_{}", d.app.slug)
}

#[tokio::test]
async fn integrations_keep_secrets_write_only_and_validate_by_type() {
    let d = Desk::new().await;
    let (s, e) = d
        .call(
            "POST",
            "/v1/integrations",
            &d.admin,
            json!({"type": "slack", "name": "Slack", "config": {"colour": "red"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let fields = &e["error"]["details"];
    assert!(fields["config.colour"].is_string(), "{e}");
    assert!(fields["secrets.webhook_url"].is_string(), "{e}");
    let (s, e) = d
        .call(
            "POST",
            "/v1/integrations",
            &d.admin,
            json!({"type": "pagerduty", "name": "PD", "config": {"base_url": "http://169.254.169.254/"},
                   "secrets": {"routing_key": "k"}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(
        e["error"]["details"]["config.base_url"]
            .as_str()
            .unwrap()
            .contains("metadata"),
        "{e}"
    );
    // An SMTP server is checked as URLs are: metadata, private and loopback hosts (this
    // test's guard allows only 127.0.0.0/8) are refused when saved.
    for host in ["169.254.169.254", "10.1.2.3", "[::1]"] {
        let (s, e) = d
            .call(
                "POST",
                "/v1/integrations",
                &d.admin,
                json!({"type": "email", "name": format!("SMTP {host}"),
                       "config": {"host": host, "port": "25", "tls": "none",
                                  "from": "Desk <desk@acme.test>"}}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{host}: {e}");
        assert!(
            e["error"]["details"]["config.host"].is_string(),
            "{host}: {e}"
        );
    }
    let (s, e) = d
        .call(
            "POST",
            "/v1/integrations",
            &d.admin,
            json!({"type": "fax", "name": "Fax"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"]["details"]["type"].is_string());

    let rx = Receiver::start(200).await;
    rx.success_body(r#"{"ok":true}"#);
    let id = integration(
        &d,
        json!({"type": "slack", "name": "Slack", "config": {"base_url": rx.base, "channel": "#ops"},
               "secrets": {"bot_token": "xoxb-very-secret"}}),
    )
    .await;
    let (_, got) = d
        .call(
            "GET",
            &format!("/v1/integrations/{id}"),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(
        got["secrets_set"],
        json!({"bot_token": true, "webhook_url": false})
    );
    assert!(!got.to_string().contains("xoxb-very-secret"), "{got}");
    let stored: String = sqlx::query_scalar(&format!(
        "SELECT secrets FROM {}.integrations WHERE id = $1",
        schema(&d)
    ))
    .bind(uuid::Uuid::parse_str(&id).unwrap())
    .fetch_one(&d.app.state.pool)
    .await
    .unwrap();
    assert!(!stored.contains("xoxb"), "sealed at rest");

    // An update without secrets keeps them; the test reaches the provider with the token.
    let (s, up) = d
        .call(
            "PUT",
            &format!("/v1/integrations/{id}"),
            &d.admin,
            json!({"type": "slack", "name": "Slack workspace", "config": {"base_url": rx.base, "channel": "#desk"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{up}");
    assert_eq!(up["secrets_set"]["bot_token"], true);
    let (s, t) = d
        .call(
            "POST",
            &format!("/v1/integrations/{id}/test"),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["ok"], true, "{t}");
    let seen = rx.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/api/chat.postMessage");
    assert_eq!(seen[0].header("authorization"), "Bearer xoxb-very-secret");
    assert_eq!(seen[0].json()["channel"], "#desk");
    let (_, got) = d
        .call(
            "GET",
            &format!("/v1/integrations/{id}"),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(got["last_test_status"], "ok");

    // Clearing the only credential is refused.
    let (s, e) = d
        .call(
            "PUT",
            &format!("/v1/integrations/{id}"),
            &d.admin,
            json!({"type": "slack", "name": "Slack workspace", "secrets": {"bot_token": null}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");

    // Agents cannot see integrations; another tenant's id is not found.
    let (s, _) = d
        .call("GET", "/v1/integrations", &d.agent, Value::Null)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let other = Desk::new().await;
    let (s, _) = other
        .call(
            "GET",
            &format!("/v1/integrations/{id}"),
            &other.admin,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Audit rows never hold the secret.
    let audit: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT changes::text FROM {}.audit_logs WHERE entity_type = 'integration'",
        schema(&d)
    ))
    .fetch_all(&d.app.state.pool)
    .await
    .unwrap();
    assert_eq!(audit.len(), 2, "create and update");
    assert!(audit.iter().all(|a| !a.contains("xoxb")));
}

#[tokio::test]
async fn a_group_channel_gets_its_events_exactly_once_through_an_outage() {
    let d = Desk::new().await;
    let rx = Receiver::start(200).await;
    rx.success_body(r#"{"ok":true}"#);
    let slack = integration(
        &d,
        json!({"type": "slack", "name": "Slack", "config": {"base_url": rx.base, "channel": "#general"},
               "secrets": {"bot_token": "xoxb-1"}}),
    )
    .await;
    channel(
        &d,
        json!({"name": "Desk room", "integration_id": slack, "target": "#desk",
               "group_id": d.group, "events": ["issue.created"]}),
    )
    .await;

    // Not the group's: nothing.
    raise(&d, json!({"title": "Printer jam"})).await;
    d.app.run_jobs().await;
    assert!(rx.seen().is_empty());

    rx.then(&[503, 500]);
    let issue = raise(
        &d,
        json!({"title": "VPN down", "assigned_group": d.group, "priority": "high"}),
    )
    .await;
    d.app.run_jobs().await;
    assert_eq!(rx.seen().len(), 1, "first attempt answered 503");
    d.app.clock.advance(Duration::seconds(31));
    d.app.run_jobs().await;
    assert_eq!(rx.seen().len(), 2, "second after ~30 s, answered 500");
    d.app.clock.advance(Duration::minutes(3));
    d.app.run_jobs().await;
    d.app.clock.advance(Duration::days(2));
    d.app.run_jobs().await;
    let seen = rx.seen();
    assert_eq!(
        seen.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [503, 500, 200],
        "delivered once"
    );
    let msg = seen[2].json();
    assert_eq!(msg["channel"], "#desk");
    let text = msg["text"].as_str().unwrap();
    let number = issue["issue_number"].as_str().unwrap();
    assert!(text.contains(number) && text.contains("VPN down"), "{text}");
    assert!(
        text.contains(&format!("/issues/{}", id_of(&issue))),
        "{text}"
    );
    let (status, attempts): (String, i32) = sqlx::query_as(&format!(
        "SELECT status, attempts FROM {}.notifications WHERE channel_id IS NOT NULL",
        schema(&d)
    ))
    .fetch_one(&d.app.state.pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), attempts), ("sent", 3));
}

#[tokio::test]
async fn pagerduty_teams_webhook_and_sms_speak_their_providers_formats() {
    let d = Desk::new().await;
    let rx = Receiver::start(202).await;
    let pd = integration(
        &d,
        json!({"type": "pagerduty", "name": "PagerDuty", "config": {"base_url": rx.base},
               "secrets": {"routing_key": "R0UTING"}}),
    )
    .await;
    channel(
        &d,
        json!({"name": "Page on-call", "integration_id": pd, "min_priority": "high",
               "events": ["issue.created", "issue.resolved"]}),
    )
    .await;
    let teams = integration(
        &d,
        json!({"type": "teams", "name": "Teams", "secrets": {"webhook_url": format!("{}/teams", rx.base)}}),
    )
    .await;
    channel(
        &d,
        json!({"name": "Teams ops", "integration_id": teams, "events": ["issue.created"]}),
    )
    .await;
    let hook = integration(
        &d,
        json!({"type": "webhook", "name": "Bus", "config": {"url": format!("{}/bus", rx.base)},
               "secrets": {"authorization": "Bearer bus-token"}}),
    )
    .await;
    channel(
        &d,
        json!({"name": "Bus", "integration_id": hook, "events": ["issue.created"]}),
    )
    .await;
    let sms = integration(
        &d,
        json!({"type": "sms", "name": "Texts", "config": {"base_url": rx.base, "account_sid": "AC123",
               "from_number": "+15550000000"}, "secrets": {"auth_token": "tok"}}),
    )
    .await;
    channel(
        &d,
        json!({"name": "Duty phone", "integration_id": sms, "target": "+15551112222",
               "events": ["issue.created"], "min_priority": "critical"}),
    )
    .await;

    let low = raise(&d, json!({"title": "Mouse squeaks", "priority": "low"})).await;
    d.app.run_jobs().await;
    let paths: Vec<String> = rx.seen().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        {
            let mut p = paths.clone();
            p.sort();
            p
        },
        ["/bus", "/teams"],
        "PagerDuty and SMS wait for urgent issues: {paths:?}"
    );
    let bus = rx.seen().into_iter().find(|r| r.path == "/bus").unwrap();
    assert_eq!(bus.header("authorization"), "Bearer bus-token");
    assert_eq!(bus.json()["type"], "issue.created");
    assert_eq!(bus.json()["data"]["issue_number"], low["issue_number"]);
    let card = rx
        .seen()
        .into_iter()
        .find(|r| r.path == "/teams")
        .unwrap()
        .json();
    assert_eq!(
        card["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );

    let urgent = raise(
        &d,
        json!({"title": "Core switch down", "priority": "critical"}),
    )
    .await;
    let id = id_of(&urgent);
    d.app.run_jobs().await;
    let trigger = rx
        .seen()
        .into_iter()
        .find(|r| r.path == "/v2/enqueue")
        .expect("a PagerDuty event");
    let t = trigger.json();
    assert_eq!(t["routing_key"], "R0UTING");
    assert_eq!(t["event_action"], "trigger");
    assert_eq!(t["payload"]["severity"], "critical");
    let dedup = t["dedup_key"].as_str().unwrap().to_string();
    assert!(dedup.ends_with(&id), "{dedup}");
    let text = rx
        .seen()
        .into_iter()
        .find(|r| r.path == "/2010-04-01/Accounts/AC123/Messages.json")
        .expect("an SMS");
    let auth = base64::engine::general_purpose::STANDARD.encode("AC123:tok");
    assert_eq!(text.header("authorization"), format!("Basic {auth}"));
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&text.body).unwrap();
    assert!(form.contains(&("To".into(), "+15551112222".into())));
    assert!(form.contains(&("From".into(), "+15550000000".into())));
    assert!(
        form.iter()
            .any(|(k, v)| k == "Body" && v.contains("Core switch down"))
    );

    // Resolving resolves the same PagerDuty incident.
    let (s, r) = d
        .call(
            "POST",
            &format!("/v1/issues/{id}/resolve"),
            &d.admin,
            json!({"resolution_code": "fixed", "resolution_notes": "Replaced the PSU"}),
        )
        .await;
    assert!(s.is_success(), "{r}");
    d.app.run_jobs().await;
    let pd_events: Vec<Value> = rx
        .seen()
        .into_iter()
        .filter(|r| r.path == "/v2/enqueue")
        .map(|r| r.json())
        .collect();
    assert_eq!(pd_events.len(), 2);
    assert_eq!(pd_events[1]["event_action"], "resolve");
    assert_eq!(pd_events[1]["dedup_key"], dedup.as_str());
}

#[tokio::test]
async fn a_refused_message_stops_is_listed_and_can_be_sent_again() {
    let d = Desk::new().await;
    let rx = Receiver::start(400).await;
    let teams = integration(
        &d,
        json!({"type": "teams", "name": "Teams", "secrets": {"webhook_url": rx.url}}),
    )
    .await;
    channel(
        &d,
        json!({"name": "Ops", "integration_id": teams, "events": ["issue.*"]}),
    )
    .await;
    raise(&d, json!({"title": "Disk full"})).await;
    d.app.run_jobs().await;
    d.app.clock.advance(Duration::hours(1));
    d.app.run_jobs().await;
    assert_eq!(rx.seen().len(), 1, "a 4xx is not retried");
    // An hour on, the desk's access token has expired.
    let admin = d.app.admin_token().await;
    let (s, problems) = d
        .call("GET", "/v1/notification-deliveries", &admin, Value::Null)
        .await;
    assert_eq!(s, StatusCode::OK);
    let p = &problems["data"][0];
    assert_eq!(p["status"], "failed", "{problems}");
    assert_eq!(p["user_name"], "Ops");
    assert!(p["error"].as_str().unwrap().contains("HTTP 400"), "{p}");

    rx.otherwise(200);
    let (s, _) = d
        .call(
            "POST",
            &format!("/v1/notification-deliveries/{}/retry", id_of(p)),
            &admin,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    d.app.run_jobs().await;
    assert_eq!(rx.seen().len(), 2);
    let (_, problems) = d
        .call("GET", "/v1/notification-deliveries", &admin, Value::Null)
        .await;
    assert_eq!(problems["data"], json!([]));
    let (s, _) = d
        .call(
            "POST",
            &format!("/v1/notification-deliveries/{}/retry", id_of(p)),
            &admin,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "already delivered");

    // The integration is deleted while a message waits for its retry: it fails, and goes
    // nowhere else.
    rx.otherwise(503);
    let (s, _) = d
        .call("POST", "/v1/issues", &admin, json!({"title": "Fan loud"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    d.app.run_jobs().await;
    assert_eq!(rx.seen().len(), 3);
    let (s, _) = d
        .call(
            "DELETE",
            &format!("/v1/integrations/{teams}"),
            &admin,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    d.app.clock.advance(Duration::minutes(1));
    d.app.run_jobs().await;
    assert_eq!(rx.seen().len(), 3);
    let (_, problems) = d
        .call("GET", "/v1/notification-deliveries", &admin, Value::Null)
        .await;
    assert_eq!(
        problems["data"][0]["error"], "its integration is gone",
        "{problems}"
    );
}

#[tokio::test]
async fn templates_shape_messages_with_a_preview_and_a_broken_one_falls_back() {
    let d = Desk::new().await;
    let (s, e) = d
        .call(
            "PUT",
            "/v1/notification-templates/issue.created/chat",
            &d.admin,
            json!({"subject": "New: {{number}}", "body": "{{ titel }}"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(
        e["error"]["details"]["body"]
            .as_str()
            .unwrap()
            .contains("'{{titel}}' is not a variable"),
        "{e}"
    );
    let (s, p) = d
        .call(
            "POST",
            "/v1/notification-templates/preview",
            &d.admin,
            json!({"subject": "New: {{number}}", "body": "{{title}} ({{priority}})"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["subject"], "New: ISS-00042");
    assert_eq!(p["body"], "Mail server down (high)");
    let (s, t) = d
        .call(
            "PUT",
            "/v1/notification-templates/issue.created/chat",
            &d.admin,
            json!({"subject": "New {{number}}", "body": "{{title}} — raised by {{actor}}"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["custom"], true);

    let rx = Receiver::start(200).await;
    let hook = integration(
        &d,
        json!({"type": "webhook", "name": "Bus", "config": {"url": rx.url}}),
    )
    .await;
    channel(
        &d,
        json!({"name": "Bus", "integration_id": hook, "events": ["issue.*"]}),
    )
    .await;
    let issue = raise(&d, json!({"title": "Backup failed"})).await;
    d.app.run_jobs().await;
    let first = rx.seen()[0].json();
    assert_eq!(
        first["subject"],
        format!("New {}", issue["issue_number"].as_str().unwrap())
    );
    assert_eq!(first["text"], "Backup failed — raised by Admin");

    // A template broken behind the API's back: the default goes out, and the problem is listed.
    sqlx::query(&format!(
        "UPDATE {}.notification_templates SET body_template = '{{{{gone}}}}'",
        schema(&d)
    ))
    .execute(&d.app.state.pool)
    .await
    .unwrap();
    raise(&d, json!({"title": "Tape stuck"})).await;
    d.app.run_jobs().await;
    let second = rx.seen()[1].json();
    assert!(
        second["subject"]
            .as_str()
            .unwrap()
            .contains("was raised: Tape stuck"),
        "{second}"
    );
    let (_, problems) = d
        .call("GET", "/v1/notification-deliveries", &d.admin, Value::Null)
        .await;
    let listed = problems["data"][0]["template_error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        listed.contains("'{{gone}}' is not a variable"),
        "{problems}"
    );

    let (s, t) = d
        .call(
            "DELETE",
            "/v1/notification-templates/issue.created/chat",
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t["custom"], false);
    let (s, _) = d
        .call(
            "PUT",
            "/v1/notification-templates/issue.created/chat",
            &d.agent,
            json!({"body": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn quiet_hours_hold_a_persons_mail_until_they_end_unless_it_is_critical() {
    let d = Desk::new().await;
    let sink = SmtpSink::start().await;
    let mail = integration(
        &d,
        json!({"type": "email", "name": "Our SMTP", "config": {"host": "127.0.0.1",
               "port": sink.url.rsplit(':').next().unwrap(), "tls": "none",
               "from": "Desk <desk@acme.test>"}}),
    )
    .await;
    assert!(!mail.is_empty());
    // Quiet from an hour ago to an hour from now, every day (the event's time is the real
    // time), with critical issues let through.
    let now = chrono::Utc::now();
    let hm = |t: chrono::DateTime<chrono::Utc>| format!("{:02}:{:02}", t.hour(), t.minute());
    let (s, p) = d
        .call(
            "PUT",
            &format!("/v1/users/{}/notifications", d.agent_id),
            &d.agent,
            json!({"preferences": [], "quiet_hours": [{"start": hm(now - Duration::hours(1)),
                   "end": hm(now + Duration::hours(1)), "timezone": "UTC", "exceptions": ["critical"]}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let (s, e) = d
        .call(
            "PUT",
            &format!("/v1/users/{}/notifications", d.agent_id),
            &d.agent,
            json!({"preferences": [], "phone": "555", "quiet_hours": [{"start": "25:00", "end": "07:00",
                   "exceptions": ["sometimes"]}]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let fields = &e["error"]["details"];
    assert!(fields["phone"].is_string() && fields["quiet_hours[0].start"].is_string());
    assert!(fields["quiet_hours[0].exceptions"].is_string(), "{e}");

    raise(
        &d,
        json!({"title": "Slow wiki", "assigned_group": d.group, "priority": "low"}),
    )
    .await;
    raise(
        &d,
        json!({"title": "Payroll down", "assigned_group": d.group, "priority": "critical"}),
    )
    .await;
    d.app.run_jobs().await;
    let subjects = |s: &SmtpSink| -> Vec<String> {
        s.mails()
            .iter()
            .filter_map(|m| crate::support::mail_header(m, "Subject"))
            .collect()
    };
    let got = subjects(&sink);
    assert!(
        got.iter().any(|s| s.contains("Payroll down")),
        "critical gets through: {got:?}"
    );
    assert!(
        !got.iter().any(|s| s.contains("Slow wiki")),
        "held: {got:?}"
    );
    let raw = sink.mails().concat();
    assert!(
        raw.contains("desk@acme.test"),
        "sent from the tenant's own server and sender"
    );
    d.app.clock.advance(Duration::minutes(61));
    d.app.run_jobs().await;
    d.app.clock.advance(Duration::minutes(2));
    d.app.run_jobs().await;
    assert!(
        subjects(&sink).iter().any(|s| s.contains("Slow wiki")),
        "sent when quiet ends"
    );
}

#[tokio::test]
async fn the_integration_channel_and_template_pages_work_with_field_errors() {
    let d = Desk::new().await;
    let b = d.app.browser_login("admin@example.com").await;
    let list = d
        .app
        .page("GET", "/admin/integrations", Some(&b.cookie), None)
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("No integrations yet"));
    let form = d
        .app
        .page(
            "GET",
            "/admin/integrations/new?type=pagerduty",
            Some(&b.cookie),
            None,
        )
        .await;
    assert!(form.body.contains("name=\"secrets.routing_key\""));
    let bad = d
        .app
        .page(
            "POST",
            "/admin/integrations",
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf), ("type", "pagerduty"), ("name", "PD")]),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body
            .contains("data-field-error=\"secrets.routing_key\""),
        "{}",
        bad.body
    );
    let rx = Receiver::start(202).await;
    let ok = d
        .app
        .page(
            "POST",
            "/admin/integrations",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("type", "pagerduty"),
                ("name", "PD"),
                ("config.base_url", &rx.base),
                ("secrets.routing_key", "KEY"),
            ]),
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let at = ok.location.unwrap();
    let shown = d.app.page("GET", &at, Some(&b.cookie), None).await;
    assert!(shown.body.contains("set — leave empty to keep"));
    assert!(!shown.body.contains("KEY\""));
    let tested = d
        .app
        .page(
            "POST",
            &format!("{at}/test"),
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf)]),
        )
        .await;
    assert!(tested.body.contains("Test sent."), "{}", tested.body);
    let actions: Vec<String> = rx
        .seen()
        .iter()
        .map(|r| {
            r.json()["event_action"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(actions, ["trigger", "resolve"], "a test pages nobody");

    let integration_id = at.rsplit('/').next().unwrap().to_string();
    let bad = d
        .app
        .page(
            "POST",
            "/admin/notification-channels",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("name", "Pager"),
                ("integration_id", &integration_id),
                ("target", "#nope"),
                ("events", "issue.created"),
            ]),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("data-field-error=\"target\""));
    let ok = d
        .app
        .page(
            "POST",
            "/admin/notification-channels",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("name", "Pager"),
                ("integration_id", &integration_id),
                ("group_id", &d.group),
                ("min_priority", "high"),
                ("events", "issue.created"),
                ("events", "issue.resolved"),
            ]),
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let page = d
        .app
        .page("GET", "/admin/notification-channels", Some(&b.cookie), None)
        .await;
    assert!(page.body.contains("data-channel=\"Pager\""));
    assert!(page.body.contains("Service Desk"));

    let edit = d
        .app
        .page(
            "GET",
            "/admin/notification-templates/issue.assigned/email",
            Some(&b.cookie),
            None,
        )
        .await;
    assert_eq!(edit.status, StatusCode::OK);
    let preview = d
        .app
        .page(
            "POST",
            "/admin/notification-templates/preview",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("event", "issue.assigned"),
                ("channel", "email"),
                ("subject", "[{{number}}] to {{assignee}}"),
                ("body", "{{title}}"),
            ]),
        )
        .await;
    assert!(
        preview.body.contains("[ISS-00042] to Alex Agent"),
        "{}",
        preview.body
    );
    let bad = d
        .app
        .page(
            "POST",
            "/admin/notification-templates/issue.assigned/email",
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf), ("subject", "{{number"), ("body", "x")]),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("data-field-error=\"subject\""));

    let prefs = d
        .app
        .page(
            "POST",
            "/profile/notifications",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("phone", "12"),
                ("quiet_start", "22:00"),
                ("quiet_end", ""),
            ]),
        )
        .await;
    assert_eq!(prefs.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(prefs.body.contains("data-field-error=\"phone\""));
    assert!(prefs.body.contains("period 1:"), "{}", prefs.body);
}
