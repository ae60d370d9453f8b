//! Outbound webhooks against a local receiver the test starts: signatures checked by this
//! file's own implementation of the Standard Webhooks scheme, retries until delivered exactly
//! once, an endpoint down for an hour losing nothing, 410 and 4xx handling, rotation, test,
//! redelivery, replay and validation.

use std::collections::HashMap;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::issues::Desk;
use crate::support::id_of;
use crate::support::receiver::{Received, Receiver};

fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.header(name)
}

/// The Standard Webhooks check, written here from the specification (not the code under test):
/// one of the space-separated `v1,` signatures must be the base64 HMAC-SHA256, keyed by the
/// secret's base64 part, of "id.timestamp.body".
fn signed_with(secret: &str, r: &Received) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .expect("base64 key");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    let content = format!(
        "{}.{}.{}",
        header(r, "webhook-id"),
        header(r, "webhook-timestamp"),
        r.body
    );
    mac.update(content.as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    header(r, "webhook-signature")
        .split(' ')
        .any(|s| s == expected)
}

async fn hook(d: &Desk, rx: &Receiver, events: Value) -> (String, String) {
    let (s, w) = d
        .call(
            "POST",
            "/v1/webhooks",
            &d.admin,
            json!({"name": format!("Ops bus {}", uuid::Uuid::new_v4().simple()), "url": rx.url,
                   "events": events, "headers": {"X-Team": "ops"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let secret = w["secret"].as_str().expect("the secret, once").to_string();
    (id_of(&w), secret)
}

async fn raise(d: &Desk, title: &str) -> Value {
    let (s, i) = d
        .call("POST", "/v1/issues", &d.admin, json!({"title": title}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{i}");
    i
}

#[tokio::test]
async fn a_failing_receiver_gets_the_event_exactly_once_signed_and_logged() {
    let d = Desk::new().await;
    let rx = Receiver::start(200).await;
    rx.then(&[500, 500]);
    let (id, secret) = hook(&d, &rx, json!(["issue.created"])).await;
    let (_, w) = d
        .call("GET", &format!("/v1/webhooks/{id}"), &d.admin, Value::Null)
        .await;
    assert!(w.get("secret").is_none(), "the secret is write-only: {w}");
    assert_eq!(w["header_names"], json!(["X-Team"]));
    let stored: String = sqlx::query_scalar(&format!(
        "SELECT secret FROM tenant_{}.webhooks WHERE id = $1",
        d.app.slug
    ))
    .bind(uuid::Uuid::parse_str(&id).unwrap())
    .fetch_one(&d.app.state.pool)
    .await
    .unwrap();
    assert!(!stored.contains(&secret[6..]), "sealed at rest");

    let issue = raise(&d, "Mail queue stuck").await;
    d.app.run_jobs().await;
    assert_eq!(rx.seen().len(), 1, "first attempt, answered 500");
    d.app.clock.advance(Duration::seconds(6));
    d.app.run_jobs().await;
    assert_eq!(rx.seen().len(), 2, "second attempt after ~5 s");
    d.app.run_jobs().await;
    assert_eq!(rx.seen().len(), 2, "the third waits ~5 min");
    d.app.clock.advance(Duration::minutes(6));
    d.app.run_jobs().await;
    d.app.clock.advance(Duration::days(2));
    d.app.run_jobs().await;
    let seen = rx.seen();
    assert_eq!(
        seen.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [500, 500, 200],
        "delivered once, then never again"
    );
    let ids: Vec<&str> = seen.iter().map(|r| header(r, "webhook-id")).collect();
    assert!(ids.iter().all(|i| *i == ids[0] && i.starts_with("msg_")));
    for r in &seen {
        assert!(signed_with(&secret, r), "signature of {r:?}");
        assert!(!signed_with("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", r));
        let ts: i64 = header(r, "webhook-timestamp").parse().unwrap();
        assert!((ts - d.app.clock_now().timestamp()).abs() < 3 * 86_400);
        assert_eq!(header(r, "x-team"), "ops");
        assert_eq!(header(r, "content-type"), "application/json");
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["type"], "issue.created");
        assert_eq!(body["data"]["issue"]["issue_number"], issue["issue_number"]);
        assert!(body["timestamp"].is_string());
    }

    // Two days on, the desk's access token has long expired.
    let admin = d.app.admin_token().await;
    let (_, log) = d
        .call(
            "GET",
            &format!("/v1/webhooks/{id}/deliveries"),
            &admin,
            Value::Null,
        )
        .await;
    let log = log["data"].as_array().unwrap().clone();
    let summary: Vec<(i64, bool, i64)> = log
        .iter()
        .map(|l| {
            (
                l["attempt"].as_i64().unwrap(),
                l["success"].as_bool().unwrap(),
                l["status_code"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(summary, [(3, true, 200), (2, false, 500), (1, false, 500)]);
    assert!(log.iter().all(|l| l["message_id"] == ids[0]));
    let (_, w) = d
        .call("GET", &format!("/v1/webhooks/{id}"), &admin, Value::Null)
        .await;
    assert_eq!(w["failure_count"], 0);
    assert_eq!(w["last_status"], "200");

    // Redelivering a logged message sends it again with the same id.
    let (s, _) = d
        .call(
            "POST",
            &format!("/v1/webhooks/{id}/deliveries/{}/redeliver", id_of(&log[2])),
            &admin,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    d.app.run_jobs().await;
    let seen = rx.seen();
    assert_eq!(seen.len(), 4);
    assert_eq!(header(&seen[3], "webhook-id"), ids[0]);
    assert_eq!(seen[3].body, seen[0].body, "the same bytes");
}

#[tokio::test]
async fn an_endpoint_down_for_an_hour_loses_nothing() {
    let d = Desk::new().await;
    let rx = Receiver::start(503).await;
    let (_, secret) = hook(&d, &rx, json!(["issue.created"])).await;
    // A second endpoint that never comes back, disabled after failing for an hour.
    let dead = Receiver::start(503).await;
    let (s, doomed) = d
        .call(
            "POST",
            "/v1/webhooks",
            &d.admin,
            json!({"name": "Doomed", "url": dead.url, "events": ["issue.created"], "disable_after_hours": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{doomed}");
    for n in 0..3 {
        raise(&d, &format!("Outage item {n}")).await;
    }
    d.app.run_jobs().await;
    for _ in 0..6 {
        d.app.clock.advance(Duration::minutes(10));
        d.app.run_jobs().await;
    }
    assert!(rx.seen().iter().all(|r| r.answered == 503));
    rx.otherwise(200);
    for _ in 0..12 {
        d.app.clock.advance(Duration::minutes(30));
        d.app.run_jobs().await;
    }
    let mut delivered: HashMap<String, usize> = HashMap::new();
    for r in rx.seen().iter().filter(|r| r.answered == 200) {
        assert!(signed_with(&secret, r));
        *delivered
            .entry(header(r, "webhook-id").to_string())
            .or_default() += 1;
    }
    assert_eq!(delivered.len(), 3, "every message arrived: {delivered:?}");
    assert!(
        delivered.values().all(|n| *n == 1),
        "none twice: {delivered:?}"
    );

    let admin = d.app.admin_token().await;
    let (_, doomed) = d
        .call(
            "GET",
            &format!("/v1/webhooks/{}", id_of(&doomed)),
            &admin,
            Value::Null,
        )
        .await;
    assert_eq!(doomed["active"], false, "{doomed}");
    assert_eq!(
        doomed["disabled_reason"],
        "every delivery failed for an hour"
    );
    let tries = dead.seen().len();
    d.app.clock.advance(Duration::hours(12));
    d.app.run_jobs().await;
    assert_eq!(
        dead.seen().len(),
        tries,
        "a disabled endpoint is left alone"
    );
}

#[tokio::test]
async fn gone_disables_client_errors_stop_and_secrets_rotate() {
    let d = Desk::new().await;
    // A 4xx other than 429 is not retried.
    let rx = Receiver::start(400).await;
    let (id, secret) = hook(&d, &rx, json!(["issue.created"])).await;
    raise(&d, "Bad request").await;
    d.app.run_jobs().await;
    d.app.clock.advance(Duration::minutes(10));
    d.app.run_jobs().await;
    assert_eq!(rx.seen().len(), 1);

    // Rotation: the test message carries two signatures, one per secret.
    rx.otherwise(200);
    let (s, rotated) = d
        .call(
            "POST",
            &format!("/v1/webhooks/{id}/rotate-secret"),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{rotated}");
    assert_eq!(rotated["rotating"], true);
    let new_secret = rotated["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    let (s, tested) = d
        .call(
            "POST",
            &format!("/v1/webhooks/{id}/test"),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{tested}");
    assert_eq!(tested["success"], true);
    assert_eq!(tested["event"], "webhook.test");
    let test = rx.seen().pop().unwrap();
    assert!(signed_with(&secret, &test) && signed_with(new_secret, &test));

    // Replay: the events of the last hour again, with their original ids.
    let since = (d.app.clock_now() - Duration::hours(3)).to_rfc3339();
    let (s, replayed) = d
        .call(
            "POST",
            &format!("/v1/webhooks/{id}/replay"),
            &d.admin,
            json!({"since": since}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{replayed}");
    assert!(replayed["queued"].as_i64().unwrap() >= 1);
    d.app.run_jobs().await;
    let first = rx.seen()[0].clone();
    assert!(
        rx.seen()[2..]
            .iter()
            .any(|r| header(r, "webhook-id") == header(&first, "webhook-id"))
    );

    // 410 Gone disables the endpoint; nothing more is sent.
    rx.otherwise(410);
    raise(&d, "Gone").await;
    d.app.run_jobs().await;
    let (_, w) = d
        .call("GET", &format!("/v1/webhooks/{id}"), &d.admin, Value::Null)
        .await;
    assert_eq!(w["active"], false);
    assert!(w["disabled_reason"].as_str().unwrap().contains("410"));
    // Those who manage webhooks are told; agents are not.
    let (_, inbox) = d
        .call("GET", "/v1/notifications", &d.admin, Value::Null)
        .await;
    assert!(
        inbox["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["subject"]
                .as_str()
                .is_some_and(|s| s.contains("was disabled: the endpoint answered 410 Gone"))),
        "{inbox}"
    );
    let (_, theirs) = d
        .call("GET", "/v1/notifications", &d.agent, Value::Null)
        .await;
    assert!(!theirs.to_string().contains("was disabled"));
    let count = rx.seen().len();
    raise(&d, "After disable").await;
    d.app.run_jobs().await;
    assert_eq!(rx.seen().len(), count);
}

#[tokio::test]
async fn bad_endpoints_and_outsiders_are_refused() {
    let d = Desk::new().await;
    let bad = |url: &str, events: Value, headers: Value| json!({"name": "Bad", "url": url, "events": events, "headers": headers});
    for (body, field) in [
        (bad("http://10.0.0.1/hook", json!(["*"]), json!({})), "url"),
        (
            bad("http://[::ffff:127.0.0.1]/", json!(["*"]), json!({})),
            "url",
        ),
        (
            bad("http://169.254.169.254/", json!(["*"]), json!({})),
            "url",
        ),
        (bad("ftp://example.com/", json!(["*"]), json!({})), "url"),
        (bad("https://example.com/", json!([]), json!({})), "events"),
        (
            bad("https://example.com/", json!(["issue.nope"]), json!({})),
            "events[0]",
        ),
        (
            bad("https://example.com/", json!(["nope.*"]), json!({})),
            "events[0]",
        ),
        (
            bad(
                "https://example.com/",
                json!(["*"]),
                json!({"webhook-id": "x"}),
            ),
            "headers.webhook-id",
        ),
    ] {
        let (s, e) = d.call("POST", "/v1/webhooks", &d.admin, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["error"]["details"][field].is_string(), "{field}: {e}");
    }
    let ok = json!({"name": "Fine", "url": "https://example.com/hook", "events": ["issue.*"]});
    let (s, _) = d.call("POST", "/v1/webhooks", &d.agent, ok.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "admins manage webhooks");
    let (s, _) = d.call("GET", "/v1/webhooks", &d.agent, Value::Null).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "agents do not see them");
    let (s, _) = d.call("POST", "/v1/webhooks", &d.admin, ok.clone()).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = d.call("POST", "/v1/webhooks", &d.admin, ok).await;
    assert_eq!(s, StatusCode::CONFLICT, "names are unique");
    let (s, list) = d.call("GET", "/v1/webhooks", &d.admin, Value::Null).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_pages_add_test_and_log_a_webhook() {
    let d = Desk::new().await;
    let rx = Receiver::start(200).await;
    let b = d.app.browser_login("admin@example.com").await;
    let list = d
        .app
        .page("GET", "/admin/webhooks", Some(&b.cookie), None)
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("No webhooks yet"));

    let bad = d
        .app
        .page(
            "POST",
            "/admin/webhooks",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("name", "Bus"),
                ("url", "http://192.168.1.10/hook"),
                ("events", "issue.created"),
                ("headers", "no colon here"),
            ]),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("line 1: write it as Name: value"),
        "{}",
        bad.body
    );
    let bad = d
        .app
        .page(
            "POST",
            "/admin/webhooks",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("name", "Bus"),
                ("url", "http://192.168.1.10/hook"),
                ("disable_after_hours", "120"),
            ]),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let doc = scraper::Html::parse_document(&bad.body);
    for field in ["url", "events"] {
        let sel = scraper::Selector::parse(&format!("[data-field-error={field}]")).unwrap();
        assert!(
            doc.select(&sel).next().is_some(),
            "{field} error shown: {}",
            bad.body
        );
    }
    assert!(bad.body.contains("value=\"Bus\""), "input kept");

    let made = d
        .app
        .page(
            "POST",
            "/admin/webhooks",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("name", "Bus"),
                ("url", &rx.url),
                ("events", "issue.*"),
                ("headers", "X-Team: ops"),
                ("disable_after_hours", "48"),
            ]),
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let doc = scraper::Html::parse_document(&made.body);
    let secret: String = doc
        .select(&scraper::Selector::parse("#secret-value").unwrap())
        .next()
        .expect("the secret, shown once")
        .text()
        .collect();
    assert!(secret.starts_with("whsec_"));
    let id = doc
        .select(&scraper::Selector::parse("#webhook-form").unwrap())
        .next()
        .unwrap()
        .value()
        .attr("action")
        .unwrap()
        .trim_start_matches("/admin/webhooks/")
        .to_string();
    let again = d
        .app
        .page(
            "GET",
            &format!("/admin/webhooks/{id}"),
            Some(&b.cookie),
            None,
        )
        .await;
    assert!(!again.body.contains(&secret), "never shown again");
    assert!(again.body.contains("X-Team"), "header names are listed");

    let tested = d
        .app
        .page(
            "POST",
            &format!("/admin/webhooks/{id}/test"),
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf)]),
        )
        .await;
    assert!(
        tested.body.contains("Test delivered: 200"),
        "{}",
        tested.body
    );
    let sent = rx.seen().pop().unwrap();
    assert!(signed_with(&secret, &sent));
    assert_eq!(header(&sent, "x-team"), "ops");
    assert!(
        tested.body.contains("webhook.test"),
        "the attempt is in the log"
    );

    // Unticking "Active" pauses it; the list says so.
    let saved = d
        .app
        .page(
            "POST",
            &format!("/admin/webhooks/{id}"),
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("name", "Bus"),
                ("url", &rx.url),
                ("events", "issue.*"),
                ("disable_after_hours", "48"),
            ]),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let list = d
        .app
        .page("GET", "/admin/webhooks", Some(&b.cookie), None)
        .await;
    assert!(list.body.contains("disabled"), "{}", list.body);
    let (_, w) = d
        .call("GET", &format!("/v1/webhooks/{id}"), &d.admin, Value::Null)
        .await;
    assert_eq!(
        w["header_names"],
        json!(["X-Team"]),
        "headers kept when left empty"
    );
}
