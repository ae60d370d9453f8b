//! The browser flows without a browser: CSRF, login throttling, form errors as 422, and the
//! password-reset e-mail round trip.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{PASSWORD, TestApp, csrf_in};

#[tokio::test]
async fn state_changes_without_the_csrf_token_or_from_another_site_are_refused() {
    let app = TestApp::new().await;
    let browser = app.browser_login("admin@example.com").await;
    let count = |app: &TestApp| {
        let pool = app.state.pool.clone();
        let slug = app.slug.clone();
        async move {
            let mut tx = firelater::platform::tenancy::begin(&pool, &slug)
                .await
                .unwrap();
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM groups WHERE name LIKE 'CSRF%'")
                .fetch_one(&mut *tx)
                .await
                .unwrap()
        }
    };
    // No token.
    let page = app
        .page(
            "POST",
            "/admin/groups",
            Some(&browser.cookie),
            Some(&[("name", "CSRF none")]),
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("reload the page"));
    // Someone else's token.
    let page = app
        .page(
            "POST",
            "/admin/groups",
            Some(&browser.cookie),
            Some(&[("_csrf", "forged-token"), ("name", "CSRF forged")]),
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    // The right token, sent by a page of another site.
    let req = axum::http::Request::post("/admin/groups")
        .header("cookie", &browser.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .body(axum::body::Body::from(format!(
            "_csrf={}&name=CSRF+cross",
            browser.csrf
        )))
        .unwrap();
    assert_eq!(app.call(req).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(count(&app).await, 0);
    // The same form from our own page works.
    let page = app
        .page(
            "POST",
            "/admin/groups",
            Some(&browser.cookie),
            Some(&[
                ("_csrf", &browser.csrf),
                ("name", "CSRF ok"),
                ("type", "team"),
            ]),
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(count(&app).await, 1);
}

#[tokio::test]
async fn failed_logins_are_throttled_with_retry_after_and_the_block_expires() {
    let app = TestApp::new().await;
    let attempt = |password: &'static str| {
        app.json(
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"tenant": app.slug.as_str(), "email": "admin@example.com", "password": password})),
        )
    };
    for _ in 0..5 {
        assert_eq!(attempt("wrong password!").await.0, StatusCode::UNAUTHORIZED);
    }
    // Five free failures, then a block: even the right password waits now.
    let req = axum::http::Request::post("/v1/auth/login")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            json!({"tenant": app.slug.as_str(), "email": "admin@example.com", "password": PASSWORD})
                .to_string(),
        ))
        .unwrap();
    let res = tower::ServiceExt::oneshot(firelater::app::router(app.state.clone()), req)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "Retry-After {retry}");
    // The login page says the same, in HTML.
    let login = app.page("GET", "/login", None, None).await;
    let cookie = login.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = app
        .page(
            "POST",
            "/login",
            Some(&cookie),
            Some(&[
                ("_csrf", &csrf_in(&login.body)),
                ("tenant", app.slug.as_str()),
                ("email", "admin@example.com"),
                ("password", PASSWORD),
                ("next", "/"),
            ]),
        )
        .await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.headers.contains_key("retry-after"));
    // No permanent lockout: once the block has passed, the right password works.
    app.clock
        .advance(chrono::Duration::seconds(retry as i64 + 1));
    app.login("admin@example.com", PASSWORD).await;
}

#[tokio::test]
async fn invalid_forms_answer_422_with_the_errors_next_to_the_fields() {
    let app = TestApp::new().await;
    let browser = app.browser_login("admin@example.com").await;
    let page = app
        .page(
            "POST",
            "/admin/users",
            Some(&browser.cookie),
            Some(&[
                ("_csrf", &browser.csrf),
                ("name", ""),
                ("email", "not-an-email"),
                ("password", "short"),
                ("timezone", "Mars/Olympus"),
            ]),
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    let doc = scraper::Html::parse_document(&page.body);
    let invalid = scraper::Selector::parse("[aria-invalid=true]").unwrap();
    let names: Vec<_> = doc
        .select(&invalid)
        .filter_map(|e| e.value().attr("name"))
        .collect();
    for field in ["name", "email", "password", "timezone"] {
        assert!(
            names.contains(&field),
            "{field} not marked invalid: {names:?}"
        );
    }
    // What the user typed is kept.
    assert!(page.body.contains("value=\"not-an-email\""));
}

/// A refused role form keeps every value and ticked permission (422 for a missing name, 409
/// for a key that is taken), and the transaction still works after the conflict.
#[tokio::test]
async fn a_refused_role_form_keeps_what_was_typed() {
    let app = TestApp::new().await;
    let browser = app.browser_login("admin@example.com").await;
    let (app, browser) = (&app, &browser);
    let post = |fields: Vec<(&'static str, &'static str)>| {
        let mut form = vec![("_csrf", browser.csrf.as_str())];
        form.extend(fields);
        async move {
            app.page("POST", "/admin/roles", Some(&browser.cookie), Some(&form))
                .await
        }
    };
    let ticked = "value=\"issues:read\" checked";
    let page = post(vec![
        ("display_name", ""),
        ("description", "Night shift"),
        ("permissions", "issues:read"),
    ])
    .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("value=\"Night shift\""), "{}", page.body);
    assert!(page.body.contains(ticked));
    let made = post(vec![("display_name", "Night desk")]).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER);
    let taken = post(vec![
        ("display_name", "Night desk"),
        ("description", "Second try"),
        ("permissions", "issues:read"),
    ])
    .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(taken.body.contains("already exists"), "{}", taken.body);
    assert!(taken.body.contains("value=\"Second try\""));
    assert!(taken.body.contains(ticked));
}

/// The people and profile forms go through `save_form` too: a taken e-mail is a 409 beside the
/// field, a bad zone a 422, both with what was typed; a good save is a 303 to the page.
#[tokio::test]
async fn refused_people_and_profile_forms_keep_what_was_typed() {
    let app = TestApp::new().await;
    let browser = app.browser_login("admin@example.com").await;
    let (app, browser) = (&app, &browser);
    let post = |path: &'static str, fields: Vec<(&'static str, &'static str)>| {
        let mut form = vec![("_csrf", browser.csrf.as_str())];
        form.extend(fields);
        async move {
            app.page("POST", path, Some(&browser.cookie), Some(&form))
                .await
        }
    };
    let taken = post(
        "/admin/users",
        vec![
            ("email", "admin@example.com"),
            ("name", "Second Ada"),
            ("phone", "+44 20 7946 0000"),
        ],
    )
    .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.body);
    assert!(
        taken.body.contains("value=\"Second Ada\""),
        "{}",
        taken.body
    );
    assert!(taken.body.contains("value=\"+44 20 7946 0000\""));

    let bad_zone = post(
        "/profile",
        vec![
            ("name", "Ada Renamed"),
            ("timezone", "Mars/Olympus"),
            ("phone", "555"),
        ],
    )
    .await;
    assert_eq!(
        bad_zone.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bad_zone.body
    );
    assert!(
        bad_zone.body.contains("value=\"Ada Renamed\""),
        "{}",
        bad_zone.body
    );
    let saved = post(
        "/profile",
        vec![
            ("name", "Ada Renamed"),
            ("timezone", "Europe/London"),
            ("phone", "555"),
        ],
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let me = app
        .page("GET", "/profile", Some(&browser.cookie), None)
        .await;
    assert!(me.body.contains("value=\"Ada Renamed\""), "{}", me.body);
}

#[tokio::test]
async fn forgot_password_mails_a_single_use_link_that_sets_a_new_password() {
    let app = TestApp::new().await;
    let (s, _) = app
        .json(
            "POST",
            "/v1/auth/forgot-password",
            None,
            Some(json!({"tenant": app.slug.as_str(), "email": "admin@example.com"})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    // Unknown addresses get the same answer and no mail.
    let (s, _) = app
        .json(
            "POST",
            "/v1/auth/forgot-password",
            None,
            Some(json!({"tenant": app.slug.as_str(), "email": "nobody@example.com"})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let mut tx = firelater::platform::tenancy::begin(&app.state.pool, &app.slug)
        .await
        .unwrap();
    let mails: Vec<(String, String)> =
        sqlx::query_as("SELECT to_address, body_text FROM outbound_emails ORDER BY created_at")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    drop(tx);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].0, "admin@example.com");
    let token = mails[0]
        .1
        .split("token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    // The e-mail is delivered by the job queue, enqueued with it.
    let queued: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM public.jobs WHERE tenant_slug = $1 AND task = 'mail.send'",
    )
    .bind(app.slug.as_str())
    .fetch_one(&app.state.pool)
    .await
    .unwrap();
    assert_eq!(queued, 1);

    // The link's page, then the form.
    let reset = app
        .page("GET", &format!("/reset-password?token={token}"), None, None)
        .await;
    assert_eq!(reset.status, StatusCode::OK);
    let cookie = reset.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let done = app
        .page(
            "POST",
            "/reset-password",
            Some(&cookie),
            Some(&[
                ("_csrf", &csrf_in(&reset.body)),
                ("token", &token),
                ("new_password", "a fresh long secret"),
            ]),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    app.login("admin@example.com", "a fresh long secret").await;
    // Single use.
    let (s, body) = app
        .json(
            "POST",
            "/v1/auth/reset-password",
            None,
            Some(json!({"token": token, "new_password": "yet another secret"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["details"]["token"].is_string());
}

/// Behind a load balancer everyone shares its address: the throttle follows the forwarded
/// client address (only from trusted proxies), and guessing one person's password from one
/// place blocks that place, not the person signing in from elsewhere.
#[tokio::test]
async fn the_login_throttle_blocks_the_guesser_not_the_person_behind_a_proxy() {
    let mut app = TestApp::new().await;
    let mut config = (*app.state.config).clone();
    config.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
    app.state.config = std::sync::Arc::new(config);
    let login = |from: &'static str, password: &'static str| {
        let req = axum::http::Request::post("/v1/auth/login")
            .header("content-type", "application/json")
            .header("x-forwarded-for", from)
            .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                [10, 0, 0, 2],
                443,
            ))))
            .body(axum::body::Body::from(
                json!({"tenant": app.slug.as_str(), "email": "admin@example.com", "password": password})
                    .to_string(),
            ))
            .unwrap();
        app.call(req)
    };
    for _ in 0..5 {
        assert_eq!(
            login("198.51.100.1", "wrong password!").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login("198.51.100.1", PASSWORD).await.0,
        StatusCode::TOO_MANY_REQUESTS,
        "the guesser's address waits"
    );
    let (s, body) = login("198.51.100.2", PASSWORD).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the person, from elsewhere, signs in: {body}"
    );
}

/// Pages and API answers are never stored by the browser (Back after signing out shows
/// nothing; no page sits in the back/forward cache holding its live stream); assets are.
#[tokio::test]
async fn pages_and_api_answers_are_not_stored_by_the_browser() {
    let app = TestApp::new().await;
    let browser = app.browser_login("admin@example.com").await;
    let page = app
        .page("GET", "/issues", Some(&browser.cookie), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers["cache-control"], "no-store");
    let css = app.page("GET", "/static/app.css", None, None).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(
        css.headers
            .get("cache-control")
            .is_none_or(|v| v != "no-store")
    );
}

#[tokio::test]
async fn a_form_address_opened_as_a_page_goes_to_the_page_of_its_form() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (_, issue) = app
        .json(
            "POST",
            "/v1/issues",
            Some(&admin),
            Some(json!({"title": "Reload after a refused resolve"})),
        )
        .await;
    let id = issue["id"].as_str().unwrap();
    let b = app.browser_login("admin@example.com").await;
    // A refused form is shown at its POST address; Reload or Back then opens that address.
    let refused = app
        .page(
            "POST",
            &format!("/issues/{id}/resolve"),
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf)]),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let again = app
        .page(
            "GET",
            &format!("/issues/{id}/resolve"),
            Some(&b.cookie),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "not a blank 405");
    assert_eq!(
        again.location.as_deref(),
        Some(format!("/issues/{id}").as_str())
    );
    let bulk = app.page("GET", "/issues/bulk", Some(&b.cookie), None).await;
    assert_eq!(bulk.location.as_deref(), Some("/issues"));
    // The API keeps its 405.
    let (s, _) = app
        .json(
            "GET",
            &format!("/v1/issues/{id}/resolve"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
}
