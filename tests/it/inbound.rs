//! Inbound email: new mail raises an issue (attachments kept), replies thread by header or
//! subject tag, automatic mail never creates anything, a message delivered twice counts once,
//! unknown senders follow the tenant's setting, and the built-in SMTP listener takes mail for
//! tenants' support addresses only.

use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::issues::Desk;
use crate::support::id_of;

fn message(from: &str, subject: &str, extra: &str, body: &str) -> String {
    format!(
        "From: Reggie Requester <{from}>\r\nTo: support@acme.test\r\nSubject: {subject}\r\n\
         Message-ID: <{}@mail.example>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n{extra}\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        uuid::Uuid::new_v4().simple()
    )
}

async fn post(d: &Desk, token: &str, raw: &str) -> (StatusCode, Value) {
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/v1/inbound/email")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(CONTENT_TYPE, "message/rfc822")
        .body(axum::body::Body::from(raw.to_string()))
        .unwrap();
    d.app.call(req).await
}

async fn requester_email(d: &Desk) -> String {
    d.app.email_of(&d.requester_id).await
}

#[tokio::test]
async fn new_mail_raises_an_issue_and_replies_thread_onto_it() {
    let d = Desk::new().await;
    let from = requester_email(&d).await;
    let boundary = "b0undary";
    let with_file = format!(
        "From: <{from}>\r\nTo: support@acme.test\r\nSubject: Printer on fire\r\n\
         Message-ID: <first-{}@mail.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain\r\n\r\nIt smokes on floor 3.\r\n\
         --{boundary}\r\nContent-Type: text/plain; name=\"log.txt\"\r\n\
         Content-Disposition: attachment; filename=\"log.txt\"\r\n\r\nE42 overheated\r\n\
         --{boundary}--\r\n",
        uuid::Uuid::new_v4().simple()
    );
    let (s, r) = post(&d, &d.admin, &with_file).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["outcome"], "created", "{r}");
    let issue_id = r["issue_id"].as_str().unwrap().to_string();
    let number = r["issue_number"].as_str().unwrap().to_string();
    let (_, issue) = d
        .call(
            "GET",
            &format!("/v1/issues/{issue_id}"),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(issue["title"], "Printer on fire");
    assert_eq!(issue["source"], "email");
    assert_eq!(issue["reporter_id"].as_str(), Some(d.requester_id.as_str()));
    assert!(issue["description"].as_str().unwrap().contains("floor 3"));
    let (_, files) = d
        .call(
            "GET",
            &format!("/v1/issues/{issue_id}/attachments"),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(files["data"][0]["filename"], "log.txt", "{files}");

    // The MTA delivers the same message again: nothing new.
    let (_, again) = post(&d, &d.admin, &with_file).await;
    assert_eq!(again["id"], r["id"]);
    let first_id = with_file
        .split("Message-ID: <")
        .nth(1)
        .and_then(|s| s.split('>').next())
        .unwrap()
        .to_string();

    // A reply naming the issue's thread root (as FireLater's own mail does).
    let reply = message(
        &from,
        "Re: something else entirely",
        &format!(
            "In-Reply-To: <issue.{issue_id}@127.0.0.1>\r\nReferences: <issue.{issue_id}@127.0.0.1>\r\n"
        ),
        "It is out now.\r\n\r\nOn Tue, Desk wrote:\r\n> we are on it",
    );
    let (_, r2) = post(&d, &d.admin, &reply).await;
    assert_eq!(r2["outcome"], "commented", "{r2}");
    assert_eq!(r2["issue_id"].as_str(), Some(issue_id.as_str()));
    // A reply to the first message itself, and one carrying only the subject tag.
    let by_ref = message(
        &from,
        "Re: Printer on fire",
        &format!("In-Reply-To: <{first_id}>\r\n"),
        "Smoke again.",
    );
    let (_, r3) = post(&d, &d.admin, &by_ref).await;
    assert_eq!(r3["outcome"], "commented", "{r3}");
    let by_tag = message(&from, &format!("Re: [{number}] Printer"), "", "Any news?");
    let (_, r4) = post(&d, &d.admin, &by_tag).await;
    assert_eq!(r4["outcome"], "commented", "{r4}");
    assert_eq!(r4["issue_id"].as_str(), Some(issue_id.as_str()));
    let (_, comments) = d
        .call(
            "GET",
            &format!("/v1/issues/{issue_id}/comments"),
            &d.admin,
            Value::Null,
        )
        .await;
    let texts: Vec<&str> = comments["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["It is out now.", "Smoke again.", "Any news?"],
        "quoted text dropped"
    );
    assert!(
        comments["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["user_id"].as_str() == Some(d.requester_id.as_str()))
    );

    // A tag naming an issue the sender may not see raises a new one instead.
    let (_, hidden) = d
        .call(
            "POST",
            "/v1/issues",
            &d.admin,
            json!({"title": "Board minutes"}),
        )
        .await;
    let hidden_number = hidden["issue_number"].as_str().unwrap();
    let nosy = message(
        &from,
        &format!("Re: [{hidden_number}] minutes"),
        "",
        "Let me see",
    );
    let (_, r5) = post(&d, &d.admin, &nosy).await;
    assert_eq!(r5["outcome"], "created");
    assert_ne!(r5["issue_id"], hidden["id"]);
}

#[tokio::test]
async fn automatic_mail_and_strangers_create_nothing_unless_allowed() {
    let d = Desk::new().await;
    let from = requester_email(&d).await;
    for (extra, sender, why) in [
        (
            "Auto-Submitted: auto-replied\r\n",
            from.as_str(),
            "Auto-Submitted",
        ),
        ("Precedence: bulk\r\n", from.as_str(), "Precedence"),
        ("X-Autoreply: yes\r\n", from.as_str(), "X-Autoreply"),
        ("", "MAILER-DAEMON@mail.example", "bounce"),
    ] {
        let (s, r) = post(
            &d,
            &d.admin,
            &message(sender, "Out of office", extra, "Away"),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(r["outcome"], "ignored", "{r}");
        assert!(r["reason"].as_str().unwrap().contains(why), "{r}");
    }
    let (_, r) = post(
        &d,
        &d.admin,
        &message("stranger@else.example", "Help", "", "Hi"),
    )
    .await;
    assert_eq!(r["outcome"], "ignored");
    assert!(r["reason"].as_str().unwrap().contains("not a user"));
    let (_, list) = d.call("GET", "/v1/issues", &d.admin, Value::Null).await;
    assert_eq!(list["data"], json!([]), "nothing raised");

    let (s, e) = d
        .call(
            "PUT",
            "/v1/inbound/settings",
            &d.admin,
            json!({"address": "not an address", "create_requesters": true, "default_group_id": null}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["details"]["address"].is_string());
    // Addresses are unique across tenants, and the test database outlives a run.
    let address = format!("Help-{}@Acme.test", d.app.slug);
    let (s, set) = d
        .call(
            "PUT",
            "/v1/inbound/settings",
            &d.admin,
            json!({"address": address, "create_requesters": true, "default_group_id": d.group}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{set}");
    assert_eq!(set["address"], address.to_lowercase());
    // Another organization cannot claim the same address.
    let other = Desk::new().await;
    let (s, e) = other
        .call(
            "PUT",
            "/v1/inbound/settings",
            &other.admin,
            json!({"address": address.to_lowercase(), "create_requesters": false, "default_group_id": null}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");

    let (_, r) = post(
        &d,
        &d.admin,
        &message("newbie@else.example", "Cannot log in", "", "Help"),
    )
    .await;
    assert_eq!(r["outcome"], "created", "{r}");
    let (_, issue) = d
        .call(
            "GET",
            &format!("/v1/issues/{}", r["issue_id"].as_str().unwrap()),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(
        issue["assigned_group"].as_str(),
        Some(d.group.as_str()),
        "routed to the desk"
    );
    assert_eq!(issue["reporter_name"], "Reggie Requester");
    let (_, users) = d
        .call("GET", "/v1/users?per_page=100", &d.admin, Value::Null)
        .await;
    assert!(users.to_string().contains("newbie@else.example"));

    // The MTA's key needs settings:update; an agent's does not do.
    let (s, _) = post(&d, &d.agent, &message(&from, "x", "", "y")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = post(&d, &d.admin, "not a mail").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (_, log) = d
        .call("GET", "/v1/inbound/emails", &d.admin, Value::Null)
        .await;
    assert_eq!(log["data"].as_array().unwrap().len(), 6);
    let b = d.app.browser_login("admin@example.com").await;
    let page = d
        .app
        .page("GET", "/admin/inbound-email", Some(&b.cookie), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("data-outcome=\"ignored\"") && page.body.contains("newbie@else.example")
    );
}

#[tokio::test]
async fn the_smtp_listener_takes_mail_for_known_addresses_only() {
    use firelater::platform::mail::{Email, SmtpTransport, Transport};
    let d = Desk::new().await;
    let address = format!("desk-{}@smtp.test", d.app.slug);
    let (s, _) = d
        .call(
            "PUT",
            "/v1/inbound/settings",
            &d.admin,
            json!({"address": address, "create_requesters": false, "default_group_id": null}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(firelater::inbound::smtp::serve(
        d.app.state.clone(),
        listener,
    ));
    let client = SmtpTransport::new("127.0.0.1", port, "none", None).unwrap();
    let from = requester_email(&d).await;
    let mail = Email {
        to: address.clone(),
        subject: "Keyboard missing keys".into(),
        body_text: "The Q key is gone.".into(),
        ..Default::default()
    };
    client.send(&from, &mail).await.expect("accepted");
    let (_, log) = d
        .call("GET", "/v1/inbound/emails", &d.admin, Value::Null)
        .await;
    assert_eq!(log["data"][0]["outcome"], "created", "{log}");
    let id = log["data"][0]["issue_id"].as_str().unwrap();
    let (_, issue) = d
        .call("GET", &format!("/v1/issues/{id}"), &d.admin, Value::Null)
        .await;
    assert_eq!(issue["title"], "Keyboard missing keys");
    let stray = Email {
        to: "nobody@smtp.test".into(),
        ..mail
    };
    let refused = client.send(&from, &stray).await;
    assert!(refused.is_err(), "not an open relay");
    assert!(id_of(&issue).len() > 10);
}
