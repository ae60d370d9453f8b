//! In-app notifications: who hears about an issue event, preferences, watchers, the inbox
//! (API and pages) and the live signal that reaches only its own user.

use std::collections::HashSet;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::issues::Desk;
use crate::live::{Stream, live};
use crate::support::{SmtpSink, id_of, mail_header};

async fn inbox(d: &Desk, token: &str) -> Value {
    let (s, body) = d.call("GET", "/v1/notifications", token, Value::Null).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body
}

fn subjects(inbox: &Value) -> Vec<String> {
    inbox["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["subject"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn the_right_people_hear_about_an_issue_as_they_chose() {
    let d = Desk::new().await;
    // Raised by the requester (who hears nothing of their own act), then routed to the desk:
    // the group's agent hears while nobody is assigned, and so does the reporter.
    let (s, issue) = d
        .call(
            "POST",
            "/v1/issues",
            &d.requester,
            json!({"title": "Laptop will not boot"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{issue}");
    let id = id_of(&issue);
    let number = issue["issue_number"].as_str().unwrap().to_string();
    d.app.run_jobs().await;
    assert!(
        subjects(&inbox(&d, &d.requester).await).is_empty(),
        "never your own changes"
    );
    let (s, routed) = d
        .call(
            "POST",
            &format!("/v1/issues/{id}/assign"),
            &d.admin,
            json!({"assigned_group": d.group}),
        )
        .await;
    assert!(s.is_success(), "{routed}");
    d.app.run_jobs().await;
    let agent_box = inbox(&d, &d.agent).await;
    assert_eq!(
        subjects(&agent_box),
        [format!("{number} was assigned: Laptop will not boot")],
        "{agent_box}"
    );
    assert_eq!(
        subjects(&inbox(&d, &d.requester).await),
        [format!("{number} was assigned: Laptop will not boot")]
    );
    assert!(
        subjects(&inbox(&d, &d.outsider).await).is_empty(),
        "not their group"
    );
    assert!(
        subjects(&inbox(&d, &d.admin).await).is_empty(),
        "not involved"
    );

    // The requester turns "resolved" off; the outsider may not watch what they cannot see.
    let (s, prefs) = d
        .call(
            "PUT",
            &format!("/v1/users/{}/notifications", d.requester_id),
            &d.requester,
            json!({"preferences": [{"event_category": "issues", "event_type": "resolved", "in_app": false}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{prefs}");
    let resolved = prefs["preferences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["event_type"] == "resolved")
        .unwrap()
        .clone();
    assert_eq!(resolved["in_app"], false);
    let (s, _) = d
        .call(
            "POST",
            &format!("/v1/issues/{id}/watch"),
            &d.outsider,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = d
        .call(
            "POST",
            &format!("/v1/issues/{id}/watch"),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    let before = inbox(&d, &d.requester).await["unread"].as_i64().unwrap();
    let (s, _) = d
        .call(
            "POST",
            &format!("/v1/issues/{id}/assign"),
            &d.admin,
            json!({"assigned_to": d.agent_id}),
        )
        .await;
    assert!(s.is_success());
    let (s, _) = d
        .call(
            "POST",
            &format!("/v1/issues/{id}/resolve"),
            &d.agent,
            json!({"resolution_code": "fixed", "resolution_notes": "Reseated the RAM"}),
        )
        .await;
    assert!(s.is_success());
    d.app.run_jobs().await;
    let mine = inbox(&d, &d.requester).await;
    assert!(subjects(&mine).iter().any(|s| s.contains("was assigned")));
    assert!(
        !subjects(&mine).iter().any(|s| s.contains("was resolved")),
        "turned off: {mine}"
    );
    assert!(mine["unread"].as_i64().unwrap() > before);
    let watcher = inbox(&d, &d.admin).await;
    assert!(
        subjects(&watcher)
            .iter()
            .any(|s| s.contains("was resolved")),
        "the watcher hears what others do: {watcher}"
    );

    // Reading: one, someone else's (404), all.
    let first = id_of(&mine["data"][0]);
    let (s, _) = d
        .call(
            "POST",
            &format!("/v1/notifications/{first}/read"),
            &d.agent,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not the agent's");
    let (s, _) = d
        .call(
            "POST",
            &format!("/v1/notifications/{first}/read"),
            &d.requester,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let after = inbox(&d, &d.requester).await;
    assert_eq!(after["unread"], mine["unread"].as_i64().unwrap() - 1);
    let (_, marked) = d
        .call(
            "POST",
            "/v1/notifications/read-all",
            &d.requester,
            Value::Null,
        )
        .await;
    assert_eq!(marked["marked"], after["unread"]);
    assert_eq!(inbox(&d, &d.requester).await["unread"], 0);

    // Preferences: validated, and only your own unless you administer users.
    let (s, e) = d
        .call(
            "PUT",
            &format!("/v1/users/{}/notifications", d.requester_id),
            &d.requester,
            json!({"preferences": [{"event_category": "issues", "event_type": "teleported", "in_app": true}]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        e["error"]["details"]["preferences[0].event_type"].is_string(),
        "{e}"
    );
    let (s, _) = d
        .call(
            "GET",
            &format!("/v1/users/{}/notifications", d.requester_id),
            &d.agent,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = d
        .call(
            "GET",
            &format!("/v1/users/{}/notifications", d.requester_id),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn a_new_notification_signals_only_its_users_tabs_and_the_pages_work() {
    let d = Desk::new().await;
    live(&d.app).await;
    let agent = d
        .app
        .browser_login(&d.app.email_of(&d.agent_id).await)
        .await;
    let requester = d
        .app
        .browser_login(&d.app.email_of(&d.requester_id).await)
        .await;
    let mut agent_tab = Stream::open(&d.app, &agent.cookie).await;
    let mut requester_tab = Stream::open(&d.app, &requester.cookie).await;

    let (_, issue) = d
        .call(
            "POST",
            "/v1/issues",
            &d.requester,
            json!({"title": "Monitor flickers"}),
        )
        .await;
    d.call(
        "POST",
        &format!("/v1/issues/{}/assign", id_of(&issue)),
        &d.admin,
        json!({"assigned_group": d.group}),
    )
    .await;
    d.app.run_jobs().await;
    let notes = inbox(&d, &d.agent).await;
    let note = id_of(&notes["data"][0]);
    let seen = agent_tab
        .until(&("notification".into(), note.clone()))
        .await;
    assert!(seen.iter().any(|(e, _)| e == "issue"));
    // The requester's tab heard about the issue, never about the agent's notification.
    let seen = requester_tab.until(&("issue".into(), id_of(&issue))).await;
    let notified: HashSet<&String> = seen
        .iter()
        .filter(|(e, _)| e == "notification")
        .map(|(_, id)| id)
        .collect();
    assert!(!notified.contains(&note), "{seen:?}");

    // The pages: the bell counts, opening marks read and leads to the issue.
    let bell = d
        .app
        .page("GET", "/notifications/bell", Some(&agent.cookie), None)
        .await;
    let unread = notes["unread"].as_i64().unwrap();
    assert!(unread >= 1);
    let counted = format!("data-unread=\"{unread}\"");
    assert!(bell.body.contains(&counted), "{}", bell.body);
    let list = d
        .app
        .page("GET", "/notifications", Some(&agent.cookie), None)
        .await;
    assert!(list.body.contains("Monitor flickers"));
    assert!(list.body.contains("data-read=\"no\""));
    let opened = d
        .app
        .page(
            "POST",
            &format!("/notifications/{note}/open"),
            Some(&agent.cookie),
            Some(&[("_csrf", &agent.csrf)]),
        )
        .await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER);
    assert_eq!(
        opened.location.as_deref(),
        Some(format!("/issues/{}", id_of(&issue)).as_str())
    );
    let bell = d
        .app
        .page("GET", "/notifications/bell", Some(&agent.cookie), None)
        .await;
    let counted = format!("data-unread=\"{}\"", unread - 1);
    assert!(bell.body.contains(&counted), "{}", bell.body);

    // Preferences page: untick "was assigned", and it stays unticked.
    let saved = d
        .app
        .page(
            "POST",
            "/profile/notifications",
            Some(&agent.cookie),
            Some(&[
                ("_csrf", &agent.csrf),
                ("in_app", "issue.created"),
                ("in_app", "issue.resolved"),
            ]),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK);
    assert!(saved.body.contains("Saved."));
    assert!(saved.body.contains(
        "value=\"issue.created\" aria-label=\"In the app when an issue was raised\" checked"
    ));
    assert!(saved.body.contains(
        "value=\"issue.assigned\" aria-label=\"In the app when an issue was assigned\">"
    ));
    let (_, second) = d
        .call(
            "POST",
            "/v1/issues",
            &d.requester,
            json!({"title": "Second screen dead"}),
        )
        .await;
    d.call(
        "POST",
        &format!("/v1/issues/{}/assign", id_of(&second)),
        &d.admin,
        json!({"assigned_group": d.group}),
    )
    .await;
    d.app.run_jobs().await;
    assert!(
        !subjects(&inbox(&d, &d.agent).await)
            .iter()
            .any(|s| s.contains("Second screen dead")),
        "turned off on the page"
    );

    // Watching from the issue page.
    let page = d
        .app
        .page(
            "GET",
            &format!("/issues/{}", id_of(&issue)),
            Some(&agent.cookie),
            None,
        )
        .await;
    assert!(page.body.contains(">Watch<"));
    let toggled = d
        .app
        .page(
            "POST",
            &format!("/issues/{}/watch", id_of(&issue)),
            Some(&agent.cookie),
            Some(&[("_csrf", &agent.csrf)]),
        )
        .await;
    assert_eq!(toggled.status, StatusCode::SEE_OTHER);
    let page = d
        .app
        .page(
            "GET",
            &format!("/issues/{}", id_of(&issue)),
            Some(&agent.cookie),
            None,
        )
        .await;
    assert!(page.body.contains(">Stop watching<"));
}

#[tokio::test]
async fn mail_about_one_issue_threads_as_one_conversation() {
    let mut d = Desk::new().await;
    let sink = SmtpSink::start().await;
    let mut config = (*d.app.state.config).clone();
    config.smtp_url = Some(sink.url.clone());
    d.app.state.config = std::sync::Arc::new(config);

    // The agent wants no mail when an issue is resolved.
    let (s, _) = d
        .call(
            "PUT",
            &format!("/v1/users/{}/notifications", d.agent_id),
            &d.agent,
            json!({"preferences": [{"event_category": "issues", "event_type": "resolved", "in_app": true, "email": false}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, issue) = d
        .call(
            "POST",
            "/v1/issues",
            &d.requester,
            json!({"title": "VPN drops <hourly>"}),
        )
        .await;
    let id = id_of(&issue);
    let number = issue["issue_number"].as_str().unwrap().to_string();
    for (path, token, body) in [
        ("assign", &d.admin, json!({"assigned_group": d.group})),
        ("assign", &d.admin, json!({"assigned_to": d.agent_id})),
        (
            "resolve",
            &d.admin,
            json!({"resolution_code": "fixed", "resolution_notes": "New firmware"}),
        ),
    ] {
        let (s, b) = d
            .call("POST", &format!("/v1/issues/{id}/{path}"), token, body)
            .await;
        assert!(s.is_success(), "{path}: {b}");
    }
    d.app.run_jobs().await;
    d.app.run_jobs().await;

    let agent_email = d.app.email_of(&d.agent_id).await;
    let requester_email = d.app.email_of(&d.requester_id).await;
    let mails = sink.mails();
    let to = |m: &String| mail_header(m, "To").unwrap_or_default();
    let agent_mails: Vec<&String> = mails
        .iter()
        .filter(|m| to(m).contains(&agent_email))
        .collect();
    let requester_mails: Vec<&String> = mails
        .iter()
        .filter(|m| to(m).contains(&requester_email))
        .collect();
    assert_eq!(
        requester_mails.len(),
        3,
        "assigned ×2 and resolved: {mails:?}"
    );
    assert_eq!(
        agent_mails.len(),
        2,
        "both assignments; resolved mail turned off"
    );

    let root = format!("<issue.{id}@127.0.0.1>");
    let mut ids = HashSet::new();
    for m in mails.iter() {
        assert_eq!(
            mail_header(m, "Subject").unwrap(),
            format!("[{number}] VPN drops <hourly>")
        );
        assert_eq!(
            mail_header(m, "In-Reply-To").as_deref(),
            Some(root.as_str())
        );
        assert_eq!(mail_header(m, "References").as_deref(), Some(root.as_str()));
        let message_id = mail_header(m, "Message-ID").expect("a Message-ID");
        assert!(message_id.starts_with("<n.") && message_id.ends_with("@127.0.0.1>"));
        assert!(ids.insert(message_id), "each mail has its own id");
        assert_eq!(
            mail_header(m, "List-Unsubscribe").as_deref(),
            Some("<http://127.0.0.1:8080/profile/notifications>")
        );
        assert!(
            mail_header(m, "Content-Type")
                .unwrap()
                .starts_with("multipart/alternative")
        );
        assert!(m.contains("text/plain") && m.contains("text/html"));
        assert!(
            m.contains("&lt;hourly&gt;"),
            "the HTML part escapes the title"
        );
    }
    let pending: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM tenant_{}.notifications WHERE channel = 'email' AND status <> 'sent'",
        d.app.slug
    ))
    .fetch_one(&d.app.state.pool)
    .await
    .unwrap();
    assert_eq!(pending, 0, "every email notification is marked sent");
}

#[tokio::test]
async fn mail_that_cannot_be_sent_is_listed_and_sent_again() {
    let mut d = Desk::new().await;
    // Nothing listens on this port: every send fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("smtp://{}", closed.local_addr().unwrap());
    drop(closed);
    let set_smtp = |d: &mut Desk, url: &str| {
        let mut config = (*d.app.state.config).clone();
        config.smtp_url = Some(url.to_string());
        d.app.state.config = std::sync::Arc::new(config);
    };
    set_smtp(&mut d, &dead);
    let (_, issue) = d
        .call(
            "POST",
            "/v1/issues",
            &d.requester,
            json!({"title": "Printer jams"}),
        )
        .await;
    let (s, _) = d
        .call(
            "POST",
            &format!("/v1/issues/{}/assign", id_of(&issue)),
            &d.admin,
            json!({"assigned_group": d.group}),
        )
        .await;
    assert!(s.is_success());
    d.app.run_jobs().await;

    let (s, _) = d
        .call("GET", "/v1/notification-deliveries", &d.agent, Value::Null)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, problems) = d
        .call("GET", "/v1/notification-deliveries", &d.admin, Value::Null)
        .await;
    assert_eq!(s, StatusCode::OK, "{problems}");
    let problems = problems["data"].as_array().unwrap().clone();
    assert_eq!(
        problems.len(),
        2,
        "the agent's and the requester's mail: {problems:?}"
    );
    for p in &problems {
        assert_eq!(p["status"], "pending", "still being retried");
        assert_eq!(p["attempts"], 1);
        assert!(p["error"].as_str().unwrap().contains("sending mail") || !p["error"].is_null());
    }
    let b = d.app.browser_login("admin@example.com").await;
    let page = d
        .app
        .page("GET", "/admin/notifications", Some(&b.cookie), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body.matches("data-problem=\"pending\"").count(), 2);

    // The mail server is back: one is sent again at once, from the page.
    let sink = SmtpSink::start().await;
    set_smtp(&mut d, &sink.url);
    let first = id_of(&problems[0]);
    let retried = d
        .app
        .page(
            "POST",
            &format!("/admin/notifications/{first}/retry"),
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf)]),
        )
        .await;
    assert_eq!(retried.status, StatusCode::SEE_OTHER);
    d.app.run_jobs().await;
    assert_eq!(sink.mails().len(), 1);
    let (_, left) = d
        .call("GET", "/v1/notification-deliveries", &d.admin, Value::Null)
        .await;
    assert_eq!(left["data"].as_array().unwrap().len(), 1);
    let (s, _) = d
        .call(
            "POST",
            &format!("/v1/notification-deliveries/{first}/retry"),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "already sent");
}

#[tokio::test]
async fn digest_mail_waits_for_one_daily_message() {
    let mut d = Desk::new().await;
    let sink = SmtpSink::start().await;
    let mut config = (*d.app.state.config).clone();
    config.smtp_url = Some(sink.url.clone());
    d.app.state.config = std::sync::Arc::new(config);
    let (s, p) = d
        .call(
            "PUT",
            &format!("/v1/users/{}/notifications", d.agent_id),
            &d.agent,
            json!({"preferences": [{"event_category": "issues", "event_type": "created", "in_app": true,
                   "email": true, "digest": true}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let chosen = p["preferences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["event_category"] == "issues" && x["event_type"] == "created")
        .cloned()
        .unwrap_or_default();
    assert_eq!(chosen["digest"], true, "{p}");
    let mut numbers = Vec::new();
    for title in ["Toner low", "Projector dim"] {
        let (_, issue) = d
            .call(
                "POST",
                "/v1/issues",
                &d.admin,
                json!({"title": title, "assigned_group": d.group}),
            )
            .await;
        numbers.push(issue["issue_number"].as_str().unwrap().to_string());
    }
    d.app.run_jobs().await;
    let digest = |s: &SmtpSink| {
        s.mails()
            .into_iter()
            .filter(|m| mail_header(m, "Subject").is_some_and(|s| s.contains("Daily digest")))
            .collect::<Vec<_>>()
    };
    assert!(digest(&sink).is_empty(), "nothing before 08:00");
    // In-app notifications still arrive at once (raised and assigned, for each).
    let (_, inbox) = d
        .call("GET", "/v1/notifications", &d.agent, Value::Null)
        .await;
    assert_eq!(inbox["unread"], 4);
    d.app.clock.advance(chrono::Duration::hours(25));
    d.app.run_jobs().await;
    let mails = digest(&sink);
    assert_eq!(mails.len(), 1, "one message for both");
    assert_eq!(
        mail_header(&mails[0], "Subject").unwrap(),
        "[FireLater] Daily digest: 2 updates"
    );
    for n in &numbers {
        assert!(mails[0].contains(n.as_str()), "{n} listed");
    }
    d.app.clock.advance(chrono::Duration::hours(25));
    d.app.run_jobs().await;
    assert_eq!(digest(&sink).len(), 1, "nothing new, no second digest");
}

/// Watching and group membership are re-checked against what a person may see: once the agent
/// is taken out of the group, neither the digest mail already waiting nor a later update about
/// the group's issue reaches them.
#[tokio::test]
async fn an_agent_taken_out_of_a_group_stops_hearing_about_its_issues() {
    let mut d = Desk::new().await;
    let sink = SmtpSink::start().await;
    let mut config = (*d.app.state.config).clone();
    config.smtp_url = Some(sink.url.clone());
    d.app.state.config = std::sync::Arc::new(config);
    let digest_all: Vec<Value> = ["created", "assigned", "updated"]
        .iter()
        .map(|e| {
            json!({"event_category": "issues", "event_type": e, "in_app": true, "email": true,
                   "digest": true})
        })
        .collect();
    let (s, _) = d
        .call(
            "PUT",
            &format!("/v1/users/{}/notifications", d.agent_id),
            &d.agent,
            json!({ "preferences": digest_all }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, issue) = d
        .call(
            "POST",
            "/v1/issues",
            &d.admin,
            json!({"title": "Printer on fire", "assigned_group": d.group}),
        )
        .await;
    let id = id_of(&issue);
    let (s, _) = d
        .call(
            "POST",
            &format!("/v1/issues/{id}/watch"),
            &d.agent,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    d.app.run_jobs().await;
    let told = inbox(&d, &d.agent).await["unread"].as_i64().unwrap();
    assert!(told >= 1, "told while in the group");

    let (s, _) = d
        .call(
            "DELETE",
            &format!("/v1/groups/{}/members/{}", d.group, d.agent_id),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = d
        .call(
            "PUT",
            &format!("/v1/issues/{id}"),
            &d.admin,
            json!({"title": "Printer on fire, building evacuated"}),
        )
        .await;
    assert!(s.is_success());
    d.app.run_jobs().await;
    assert_eq!(
        inbox(&d, &d.agent).await["unread"].as_i64().unwrap(),
        told,
        "a watcher who can no longer see the issue is not told"
    );
    d.app.clock.advance(chrono::Duration::hours(25));
    d.app.run_jobs().await;
    // The reporter (the admin) still hears of the breach; the agent gets nothing.
    for m in sink.mails() {
        assert_eq!(
            mail_header(&m, "To").as_deref(),
            Some("admin@example.com"),
            "the waiting digest mail is withdrawn: {m}"
        );
    }
    let withdrawn: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM tenant_{}.notifications WHERE status = 'withdrawn'",
        d.app.slug
    ))
    .fetch_one(&d.app.state.pool)
    .await
    .unwrap();
    assert_eq!(withdrawn, told, "each waiting digest mail");
}

#[tokio::test]
async fn internal_notes_stay_with_the_desk_and_replies_carry_their_text() {
    let d = Desk::new().await;
    let (s, issue) = d
        .call(
            "POST",
            "/v1/issues",
            &d.requester,
            json!({"title": "Printer jams on page two"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{issue}");
    let id = id_of(&issue);
    let (s, _) = d
        .call(
            "POST",
            &format!("/v1/issues/{id}/assign"),
            &d.admin,
            json!({"assigned_to": d.agent_id}),
        )
        .await;
    assert!(s.is_success());
    d.app.run_jobs().await;
    let before = inbox(&d, &d.requester).await["unread"].as_i64().unwrap();
    let agent_before = inbox(&d, &d.agent).await["unread"].as_i64().unwrap();

    // The admin writes an internal note: the assigned agent hears of it, the requester does not.
    let (s, c) = d
        .call(
            "POST",
            &format!("/v1/issues/{id}/comments"),
            &d.admin,
            json!({"content": "Suspect the fuser; vendor ticket 4471.", "is_internal": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    d.app.run_jobs().await;
    assert_eq!(
        inbox(&d, &d.requester).await["unread"].as_i64().unwrap(),
        before,
        "a requester is never told of an internal note"
    );
    let agent_box = inbox(&d, &d.agent).await;
    assert_eq!(agent_box["unread"].as_i64().unwrap(), agent_before + 1);

    // A public reply reaches the requester with what was written.
    let (s, _) = d
        .call(
            "POST",
            &format!("/v1/issues/{id}/comments"),
            &d.agent,
            json!({"content": "Please try the tray on the left for now."}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    d.app.run_jobs().await;
    let mine = inbox(&d, &d.requester).await;
    assert_eq!(mine["unread"].as_i64().unwrap(), before + 1, "{mine}");
    let newest = &mine["data"][0];
    assert!(
        newest["content"]
            .as_str()
            .unwrap_or_default()
            .contains("Please try the tray on the left"),
        "{newest}"
    );
    assert!(
        !mine.to_string().contains("vendor ticket 4471"),
        "the note's text never reaches the requester"
    );
}
