//! The application registry through /v1: numbers, validation, filters, environments, soft
//! delete, permissions.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::TestApp;

#[tokio::test]
async fn applications_are_numbered_validated_filtered_and_soft_deleted() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (_, group) = app
        .json(
            "POST",
            "/v1/groups",
            Some(&admin),
            Some(json!({"name": "Payments Team"})),
        )
        .await;
    let (s, bad) = app
        .json(
            "POST",
            "/v1/applications",
            Some(&admin),
            Some(
                json!({"name": " ", "tier": "P9", "criticality": "meh", "tags": ["ok", ""],
                        "owner_group_id": uuid::Uuid::new_v4(), "metadata": {"n": 1}}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    for f in [
        "name",
        "tier",
        "criticality",
        "tags",
        "owner_group_id",
        "metadata",
    ] {
        assert!(bad["error"]["details"][f].is_string(), "{f}: {bad}");
    }
    let (s, payroll) = app
        .json(
            "POST",
            "/v1/applications",
            Some(&admin),
            Some(
                json!({"name": "Payroll", "tier": "P1", "owner_group_id": group["id"],
                        "tags": ["finance", "sap"], "metadata": {"cost_center": "CC-7"}}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{payroll}");
    assert!(payroll["app_id"].as_str().unwrap().starts_with("APP-"));
    assert_eq!(payroll["status"], "active");
    assert_eq!(payroll["owner_group_name"], "Payments Team");
    let (_, wiki) = app
        .json(
            "POST",
            "/v1/applications",
            Some(&admin),
            Some(json!({"name": "Wiki", "tier": "P4"})),
        )
        .await;
    assert_ne!(payroll["app_id"], wiki["app_id"]);

    let names = |body: &serde_json::Value| -> Vec<String> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, by_tier) = app
        .json("GET", "/v1/applications?tier=P1", Some(&admin), None)
        .await;
    assert_eq!(names(&by_tier), ["Payroll"]);
    let (_, by_tag) = app
        .json("GET", "/v1/applications?tag=sap", Some(&admin), None)
        .await;
    assert_eq!(names(&by_tag), ["Payroll"]);
    let (_, by_text) = app
        .json("GET", "/v1/applications?q=wik", Some(&admin), None)
        .await;
    assert_eq!(names(&by_text), ["Wiki"]);
    let (_, sorted) = app
        .json(
            "GET",
            "/v1/applications?sort=tier&order=desc",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(names(&sorted), ["Wiki", "Payroll"]);
    // Sorting by a column whose name ends in "id" (the tie-break is on `id`).
    let (s, by_number) = app
        .json("GET", "/v1/applications?sort=app_id", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{by_number}");
    assert_eq!(names(&by_number), ["Payroll", "Wiki"]);
    let (s, body) = app
        .json("GET", "/v1/applications?colour=red", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour")
    );

    let id = payroll["id"].as_str().unwrap();
    let (s, env) = app
        .json("POST", &format!("/v1/applications/{id}/environments"), Some(&admin),
              Some(json!({"name": "Production", "type": "prod", "url": "https://payroll.example.com", "cloud_provider": "aws"})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{env}");
    let (s, dup) = app
        .json(
            "POST",
            &format!("/v1/applications/{id}/environments"),
            Some(&admin),
            Some(json!({"name": "production", "type": "prod"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(dup["error"]["details"]["name"].is_string());
    let (s, _) = app
        .json(
            "POST",
            &format!("/v1/applications/{id}/environments"),
            Some(&admin),
            Some(json!({"name": "QA", "type": "qa", "url": "ftp://x"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, listed) = app
        .json(
            "GET",
            "/v1/applications?include=environments&tier=P1",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(listed["data"][0]["environments"][0]["name"], "Production");

    let (s, updated) = app
        .json(
            "PUT",
            &format!("/v1/applications/{id}"),
            Some(&admin),
            Some(json!({"name": "Payroll (SAP)", "tier": "P2", "tags": ["finance"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(updated["tier"], "P2");
    let (_, audit) = app
        .json(
            "GET",
            &format!("/v1/audit-logs/application/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        audit["data"][0]["changes"]["tier"],
        json!({"old": "P1", "new": "P2"})
    );

    let req = axum::http::Request::get("/v1/applications/export?tag=finance")
        .header("authorization", format!("Bearer {admin}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let res = tower::ServiceExt::oneshot(firelater::app::router(app.state.clone()), req)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let csv = String::from_utf8(bytes.to_vec()).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("app_id,name,description,tier"),
        "{csv}"
    );
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].contains("Payroll (SAP),,P2,active"), "{csv}");
    // PUT replaced the whole record, so the owner group it left out is gone.
    assert!(!lines[1].contains("Payments Team"), "{csv}");

    let (s, gone) = app
        .json(
            "DELETE",
            &format!("/v1/applications/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(gone["status"], "inactive");
    let (s, _) = app
        .json("GET", &format!("/v1/applications/{id}"), Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::OK, "soft-deleted applications stay readable");
}

#[tokio::test]
async fn agents_read_the_registry_and_requesters_do_not() {
    let app = TestApp::new().await;
    let (_, agent) = app.user_with_role("agent").await;
    let (_, requester) = app.user_with_role("requester").await;
    let (s, _) = app
        .json("GET", "/v1/applications", Some(&agent), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .json(
            "POST",
            "/v1/applications",
            Some(&agent),
            Some(json!({"name": "X", "tier": "P3"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .json("GET", "/v1/applications", Some(&requester), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_registry_pages_register_filter_show_and_retire() {
    let app = TestApp::new().await;
    let b = app.browser_login("admin@example.com").await;
    let cookie = Some(b.cookie.as_str());
    let bad = app
        .page(
            "POST",
            "/applications",
            cookie,
            Some(&[
                ("_csrf", &b.csrf),
                ("name", ""),
                ("tier", "P7"),
                ("metadata", "no equals sign"),
            ]),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("data-field-error=\"metadata\""),
        "{}",
        bad.body
    );
    let made = app
        .page(
            "POST",
            "/applications",
            cookie,
            Some(&[
                ("_csrf", &b.csrf),
                ("name", "Customer Portal"),
                ("tier", "P1"),
                ("status", "active"),
                ("lifecycle_stage", "production"),
                ("criticality", "mission_critical"),
                ("tags", "web, customer"),
                ("metadata", "cost_center=CC-9"),
            ]),
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let detail_url = made.location.unwrap();
    let added = app
        .page(
            "POST",
            &format!("{detail_url}/environments"),
            cookie,
            Some(&[
                ("_csrf", &b.csrf),
                ("name", "prod"),
                ("type", "prod"),
                ("url", "https://portal.example.com"),
            ]),
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER);
    let detail = app.page("GET", &detail_url, cookie, None).await;
    assert!(detail.body.contains("https://portal.example.com"));
    assert!(detail.body.contains("CC-9"));

    let listed = app
        .page("GET", "/applications?tier=P1&tag=web", cookie, None)
        .await;
    assert!(listed.body.contains("Customer Portal"));
    let other = app.page("GET", "/applications?tier=P2", cookie, None).await;
    assert!(!other.body.contains("Customer Portal"));

    let retired = app
        .page(
            "POST",
            &format!("{detail_url}/retire"),
            cookie,
            Some(&[("_csrf", &b.csrf)]),
        )
        .await;
    assert_eq!(retired.status, StatusCode::SEE_OTHER);
    let detail = app.page("GET", &detail_url, cookie, None).await;
    assert!(detail.body.contains("id=\"app-status\">Inactive<"));
}

async fn post_csv(app: &TestApp, uri: &str, token: &str, csv: &str) -> (StatusCode, Value) {
    let req = axum::http::Request::post(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "text/csv")
        .body(axum::body::Body::from(csv.to_string()))
        .unwrap();
    app.call(req).await
}

async fn count_apps(app: &TestApp, token: &str) -> i64 {
    let (_, list) = app.json("GET", "/v1/applications", Some(token), None).await;
    list["meta"]["total"].as_i64().unwrap()
}

#[tokio::test]
async fn csv_import_previews_rejects_bad_rows_whole_and_updates_by_number() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    app.json(
        "POST",
        "/v1/groups",
        Some(&admin),
        Some(json!({"name": "Payments Team"})),
    )
    .await;

    let bad = "name,tier,owner_group,tags\r\nLedger,P2,payments team,finance;sap\r\nBroken,P9,Nobody,\r\n";
    let (s, body) = post_csv(&app, "/v1/applications/import", &admin, bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let details = &body["error"]["details"];
    assert!(details["line 3: tier"].is_string(), "{body}");
    assert_eq!(details["line 3: owner_group"], "no group named 'Nobody'");
    assert!(details.get("line 2: tier").is_none(), "{body}");
    assert_eq!(
        count_apps(&app, &admin).await,
        0,
        "a bad row writes nothing"
    );

    let good =
        "name,tier,owner_group,tags\r\nLedger,P2,payments team,finance;sap\r\nKiosk,p4,,\r\n";
    let (s, dry) = post_csv(&app, "/v1/applications/import?dry_run=true", &admin, good).await;
    assert_eq!(s, StatusCode::OK, "{dry}");
    assert_eq!(dry["committed"], false);
    assert_eq!(dry["rows"][1]["tier"], "P4");
    assert_eq!(
        count_apps(&app, &admin).await,
        0,
        "a dry run writes nothing"
    );

    let (s, done) = post_csv(&app, "/v1/applications/import", &admin, good).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["committed"], true);
    assert!(
        done["rows"][0]["app_id"]
            .as_str()
            .unwrap()
            .starts_with("APP-")
    );
    let (_, ledger) = app
        .json("GET", "/v1/applications?q=Ledger", Some(&admin), None)
        .await;
    assert_eq!(ledger["data"][0]["owner_group_name"], "Payments Team");
    assert_eq!(ledger["data"][0]["tags"], json!(["finance", "sap"]));

    // An exported file, edited, imports as updates of the same applications.
    let req = axum::http::Request::get("/v1/applications/export")
        .header("authorization", format!("Bearer {admin}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let res = tower::ServiceExt::oneshot(firelater::app::router(app.state.clone()), req)
        .await
        .unwrap();
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let edited = String::from_utf8(bytes.to_vec())
        .unwrap()
        .replace("Kiosk", "Kiosk v2");
    let (s, again) = post_csv(&app, "/v1/applications/import", &admin, &edited).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["rows"][0]["action"], "update");
    assert_eq!(count_apps(&app, &admin).await, 2);
    let (_, kiosk) = app
        .json("GET", "/v1/applications?q=Kiosk", Some(&admin), None)
        .await;
    assert_eq!(kiosk["data"][0]["name"], "Kiosk v2");

    let (_, agent) = app.user_with_role("agent").await;
    let (s, _) = post_csv(&app, "/v1/applications/import", &agent, good).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn csv_import_page_previews_then_commits() {
    let app = TestApp::new().await;
    let b = app.browser_login("admin@example.com").await;
    let bad = b"name,tier\nGood,P1\nBad,P0\n";
    let preview = app
        .upload(
            "/applications/import",
            &b.cookie,
            &[("_csrf", &b.csrf)],
            ("file", "apps.csv", "text/csv", bad),
        )
        .await;
    assert_eq!(preview.status, StatusCode::UNPROCESSABLE_ENTITY);
    let doc = scraper::Html::parse_document(&preview.body);
    let sel = |s| scraper::Selector::parse(s).unwrap();
    assert_eq!(
        doc.select(&sel("tr[data-line='3'] [data-row-error=tier]"))
            .count(),
        1,
        "{}",
        preview.body
    );
    assert_eq!(doc.select(&sel("#import-commit")).count(), 0);

    let no_token = app
        .upload(
            "/applications/import",
            &b.cookie,
            &[],
            ("file", "apps.csv", "text/csv", b"name,tier\nGood,P1\n"),
        )
        .await;
    assert_eq!(
        no_token.status,
        StatusCode::BAD_REQUEST,
        "CSRF applies to uploads"
    );

    let good = "name,tier\nGood,P1\nAlso good,P3\n";
    let preview = app
        .upload(
            "/applications/import",
            &b.cookie,
            &[("_csrf", &b.csrf)],
            ("file", "apps.csv", "text/csv", good.as_bytes()),
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    let doc = scraper::Html::parse_document(&preview.body);
    let carried = doc
        .select(&sel("#import-commit textarea[name=csv]"))
        .next()
        .expect("a commit form")
        .text()
        .collect::<String>();
    let done = app
        .page(
            "POST",
            "/applications/import/commit",
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf), ("csv", &carried)]),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("id=\"import-done\""), "{}", done.body);
    let list = app
        .page("GET", "/applications", Some(&b.cookie), None)
        .await;
    assert!(list.body.contains("Also good"));
}
