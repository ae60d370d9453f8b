use axum::http::StatusCode;
use serde_json::json;

use firelater::platform::tenancy;

use crate::support::{PASSWORD, TestApp};

#[tokio::test]
async fn login_is_uniform_for_unknown_user_and_wrong_password() {
    let app = TestApp::new().await;
    let (s1, b1) = app.json("POST", "/v1/auth/login", None, Some(json!({"tenant": app.slug.as_str(), "email": "nobody@example.com", "password": "whatever123"}))).await;
    let (s2, b2) = app.json("POST", "/v1/auth/login", None, Some(json!({"tenant": app.slug.as_str(), "email": "admin@example.com", "password": "wrong-password"}))).await;
    assert_eq!(
        (s1, s2),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(b1["error"]["message"], b2["error"]["message"]);
}

#[tokio::test]
async fn create_user_validates_and_detects_duplicates() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (s, body) = app
        .json(
            "POST",
            "/v1/users",
            Some(&admin),
            Some(json!({"email": "bad", "name": "", "password": "password"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    for f in ["email", "name", "password"] {
        assert!(body["error"]["details"][f].is_string(), "{f}: {body}");
    }
    let new = json!({"email": "ada@example.com", "name": "Ada", "password": PASSWORD, "roles": ["agent"]});
    let (s, user) = app
        .json("POST", "/v1/users", Some(&admin), Some(new.clone()))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(user["roles"], json!(["agent"]));
    let (s, _) = app.json("POST", "/v1/users", Some(&admin), Some(new)).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, body) = app
        .json("GET", "/v1/users?sort=nope", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("nope"));
}

#[tokio::test]
async fn requester_cannot_reach_admin_routes() {
    let app = TestApp::new().await;
    let (_, token) = app.user_with_role("requester").await;
    let (s, _) = app.json("GET", "/v1/users", Some(&token), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .json(
            "POST",
            "/v1/groups",
            Some(&token),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.json("GET", "/v1/audit-logs", Some(&token), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = TestApp::new().await;
    let pair = app.login("admin@example.com", PASSWORD).await;
    let first = pair["refresh_token"].as_str().unwrap().to_string();
    let (s, second) = app
        .json(
            "POST",
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": first})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let second = second["refresh_token"].as_str().unwrap().to_string();
    // Replaying the spent token fails and kills the family, so the successor dies too.
    let (s, _) = app
        .json(
            "POST",
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": first})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = app
        .json(
            "POST",
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": second})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn password_change_and_expiry_kill_access_tokens() {
    let app = TestApp::new().await;
    let (id, token) = app.user_with_role("agent").await;
    let (s, _) = app.json("GET", "/v1/auth/me", Some(&token), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .json(
            "PUT",
            &format!("/v1/users/{id}/password"),
            Some(&token),
            Some(json!({"current_password": PASSWORD, "new_password": "another good passphrase"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.json("GET", "/v1/auth/me", Some(&token), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let admin = app.admin_token().await;
    app.clock.advance(chrono::Duration::minutes(16));
    let (s, _) = app.json("GET", "/v1/auth/me", Some(&admin), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn api_keys_are_scoped_and_cannot_exceed_their_creator() {
    let app = TestApp::new().await;
    let (_, agent) = app.user_with_role("agent").await;
    let (s, body) = app
        .json(
            "POST",
            "/v1/api-keys",
            Some(&agent),
            Some(json!({"name": "ci", "scopes": ["users:create"]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (s, key) = app
        .json(
            "POST",
            "/v1/api-keys",
            Some(&agent),
            Some(json!({"name": "ci", "scopes": ["users:read"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let key = key["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("fl_"));
    let (s, _) = app.json("GET", "/v1/users", Some(&key), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.json("GET", "/v1/groups", Some(&key), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .json("GET", &format!("/v1/users?api_key={key}"), None, None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn mutations_write_audit_rows() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (_, g) = app
        .json(
            "POST",
            "/v1/groups",
            Some(&admin),
            Some(json!({"name": "Service Desk", "type": "team"})),
        )
        .await;
    let id = g["id"].as_str().unwrap();
    let (s, log) = app
        .json(
            "GET",
            &format!("/v1/audit-logs/group/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(log["meta"]["total"], 1);
    assert_eq!(log["data"][0]["action"], "create");
    assert_eq!(log["data"][0]["changes"]["name"]["new"], "Service Desk");
}

/// Principals are remembered between requests, yet a change to a role, a person or the tenant
/// is seen by the very next request made with the same token or session.
#[tokio::test]
async fn a_remembered_principal_follows_role_and_tenant_changes_at_once() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (s, role) = app
        .json(
            "POST",
            "/v1/roles",
            Some(&admin),
            Some(json!({"display_name": "Auditor", "permissions": ["issues:read"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{role}");
    let role_id = role["id"].as_str().unwrap().to_string();
    let (user_id, token) = app.user_with_role("auditor").await;
    let email = app.email_of(&user_id).await;
    let browser = app.browser_login(&email).await;
    let webhooks = |t: String| {
        let app = &app;
        async move { app.json("GET", "/v1/webhooks", Some(&t), None).await.0 }
    };
    let page = |c: String| {
        let app = &app;
        async move {
            app.page("GET", "/admin/webhooks", Some(&c), None)
                .await
                .status
        }
    };
    // Twice, so the second answer comes from the remembered principal.
    for _ in 0..2 {
        assert_eq!(webhooks(token.clone()).await, StatusCode::FORBIDDEN);
        assert_eq!(page(browser.cookie.clone()).await, StatusCode::FORBIDDEN);
    }
    let (s, body) = app
        .json(
            "PUT",
            &format!("/v1/roles/{role_id}"),
            Some(&admin),
            Some(
                json!({"display_name": "Auditor", "permissions": ["issues:read", "webhooks:read"]}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(webhooks(token.clone()).await, StatusCode::OK);
    assert_eq!(page(browser.cookie.clone()).await, StatusCode::OK);

    tenancy::set_status(&app.state.pool, &app.slug, "suspended")
        .await
        .unwrap();
    assert_eq!(webhooks(token.clone()).await, StatusCode::UNAUTHORIZED);
    let suspended = app
        .page("GET", "/admin/webhooks", Some(&browser.cookie), None)
        .await;
    assert_eq!(suspended.status, StatusCode::SEE_OTHER, "to the login page");
    tenancy::set_status(&app.state.pool, &app.slug, "active")
        .await
        .unwrap();
    assert_eq!(webhooks(token).await, StatusCode::OK);
}
