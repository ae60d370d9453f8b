//! Bad input at the edge: a NUL character anywhere (JSON, forms, query strings — signed in or
//! not) is a 422 naming the field, never a server error; oversized bodies are 413 and query
//! strings that do not parse are 400, both with the API's JSON error body.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn nul_bytes_oversized_bodies_and_bad_queries_get_clear_client_errors() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;

    // Unauthenticated sign-in with a NUL in the password.
    let (s, body) = app
        .json(
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"tenant": app.slug, "email": "admin@example.com", "password": "a\u{0}b"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"]["details"]["password"],
        "must not contain a NUL character"
    );

    // A nested JSON field is named by its path.
    let (s, body) = app
        .json(
            "POST",
            "/v1/issues",
            Some(&admin),
            Some(json!({"title": "ok", "external_refs": [{"system": "x\u{0}"}]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["details"]["external_refs[0].system"].is_string(),
        "{body}"
    );

    // JSON of the wrong shape: the field by its path, worded like the API's own checks.
    let (s, body) = app
        .json(
            "POST",
            "/v1/issues",
            Some(&admin),
            Some(json!({"description": "no title"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"]["title"], "is required", "{body}");
    assert_eq!(body["error"]["message"], "title is required.", "{body}");
    let (s, body) = app
        .json(
            "POST",
            "/v1/issues",
            Some(&admin),
            Some(json!({"title": "ok", "priority": 5})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"]["details"]["priority"], "must be a string",
        "{body}"
    );

    // Query strings, signed in: a malformed query parameter (400, as the document says for
    // every list), named.
    let (s, body) = app
        .json("GET", "/v1/issues?q=a%00b", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("“q” must not contain a NUL"),
        "{body}"
    );

    // The browser's sign-in form.
    let page = app
        .page(
            "POST",
            "/login",
            None,
            Some(&[("tenant", "x\u{0}"), ("email", "a@b.c"), ("password", "p")]),
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("NUL"), "{}", page.body);

    // Larger than the limit: 413 with the JSON error.
    let big = vec![b' '; firelater::platform::edge::BODY_LIMIT + 10];
    let (s, body) = app
        .raw("POST", "/v1/issues", &admin, "application/json", big)
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");

    // A query string that does not parse: the JSON 400, not text.
    let (s, body) = app
        .json("GET", "/v1/notifications?unread=AAA", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "bad_request");

    // Asking for no fields at all.
    let (s, body) = app
        .json("GET", "/v1/users?fields=", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
}
