//! One-click approval from e-mail: the approver's mail carries a link made for them; opening it
//! decides nothing; the page's POST decides as them; the link works once, only for its own
//! approval, and expires.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{TestApp, id_of};

/// The decision link in the newest mail to `email`.
async fn link_in_mail(app: &TestApp, email: &str) -> String {
    let body: String = sqlx::query_scalar(&format!(
        "SELECT body_text FROM tenant_{}.outbound_emails WHERE to_address = $1 ORDER BY created_at DESC LIMIT 1",
        app.slug
    ))
    .bind(email)
    .fetch_one(&app.state.pool)
    .await
    .expect("a mail to the approver");
    let start = body
        .find("/approvals/email?token=")
        .unwrap_or_else(|| panic!("no decision link in {body}"));
    let rest = &body[start..];
    rest[..rest.find(char::is_whitespace).unwrap_or(rest.len())].to_string()
}

async fn request_status(app: &TestApp, token: &str, id: &str) -> String {
    let (_, r) = app
        .json("GET", &format!("/v1/requests/{id}"), Some(token), None)
        .await;
    r["status"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_string()
}

#[tokio::test]
async fn a_mailed_link_confirms_first_decides_once_and_expires() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (boss_id, _) = app.user_with_role("manager").await;
    let boss_email = app.email_of(&boss_id).await;
    let item_body = json!({"name": "VPN", "form_schema": {"fields": [{"id": "why", "type": "text", "label": "Why"}]},
        "approval_chain": {"stages": [{"approvers": [{"type": "user", "id": boss_id}]}]}});
    let (_, item) = app
        .json("POST", "/v1/catalog/items", Some(&admin), Some(item_body))
        .await;
    let item = id_of(&item);
    app.json(
        "POST",
        &format!("/v1/catalog/items/{item}/publish"),
        Some(&admin),
        None,
    )
    .await;
    let (_, requester) = app.user_with_role("requester").await;
    let submit = || async {
        let (s, r) = app
            .json(
                "POST",
                "/v1/requests",
                Some(&requester),
                Some(json!({"catalog_item_id": item, "form_data": {"why": "travel"}})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        app.run_jobs().await;
        id_of(&r)
    };
    let first = submit().await;
    let link = link_in_mail(&app, &boss_email).await;

    // Opening it (as a mail scanner would, without a session) decides nothing.
    for _ in 0..2 {
        let page = app.page("GET", &link, None, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("Nothing is decided until you press"));
        assert!(page.body.contains("VPN"));
        assert!(page.body.contains("travel"), "the answers are on the page");
    }
    assert_eq!(
        request_status(&app, &requester, &first).await,
        "pending_approval"
    );
    let token = link.split("token=").nth(1).unwrap().to_string();
    // The page's form needs its session's CSRF token, like every form.
    let visit = app.page("GET", &link, None, None).await;
    let cookie = visit
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("firelater_session="))
        .map(|c| c.split(';').next().unwrap().to_string())
        .expect("a session for the form");
    let csrf = crate::support::csrf_in(&visit.body);
    let post = |decision: &'static str, comments: &'static str, token: String| {
        let (app, cookie, csrf) = (&app, cookie.clone(), csrf.clone());
        async move {
            app.page(
                "POST",
                "/approvals/email",
                Some(&cookie),
                Some(&[
                    ("_csrf", &csrf),
                    ("token", &token),
                    ("decision", decision),
                    ("comments", comments),
                ]),
            )
            .await
        }
    };
    // Rejecting needs a reason; the refusal leaves the link usable.
    let refused = post("reject", "", token.clone()).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(refused.body.contains("id=\"comments-error\""));
    let done = post("approve", "Fine by me", token.clone()).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("You approved"), "{}", done.body);
    assert_eq!(request_status(&app, &requester, &first).await, "approved");
    // Decided as the approver, with the comment.
    let (_, chain) = app
        .json(
            "GET",
            &format!("/v1/requests/{first}/approvals"),
            Some(&requester),
            None,
        )
        .await;
    let decided = &chain["steps"][0]["approvals"][0];
    assert_eq!(decided["status"], "approved", "{chain}");
    assert_eq!(decided["comments"], "Fine by me");
    // Used once: neither the page nor the POST works again.
    let again = app.page("GET", &link, None, None).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.body.contains("already used"));
    let again = post("reject", "changed my mind", token.clone()).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert_eq!(request_status(&app, &requester, &first).await, "approved");

    // A made-up token, and another tenant's name on a real-looking one, find nothing.
    let fake = post("approve", "", format!("{}.nope", app.slug)).await;
    assert_eq!(fake.status, StatusCode::GONE);
    assert!(fake.body.contains("not valid"));

    // A second request's link expires after three days.
    let second = submit().await;
    let link = link_in_mail(&app, &boss_email).await;
    app.clock.advance(chrono::Duration::hours(73));
    let late = app.page("GET", &link, None, None).await;
    assert_eq!(late.status, StatusCode::GONE);
    assert!(late.body.contains("expired"));
    let token = link.split("token=").nth(1).unwrap().to_string();
    let late = post("approve", "", token).await;
    assert_eq!(late.status, StatusCode::GONE);
    // (Access tokens do not last three days either.)
    let admin = app.admin_token().await;
    assert_eq!(
        request_status(&app, &admin, &second).await,
        "pending_approval"
    );
}
