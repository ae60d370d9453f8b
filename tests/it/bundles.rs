//! Bundles: saved with their conditions checked by path; a submission asks the shared
//! questions once, fills the items' same-id fields, honours include_when and unticked optional
//! items, and makes a parent with a child per item; the parent follows its children; the
//! portal page; roles and another tenant.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, id_of};

async fn item(app: &TestApp, admin: &str, body: Value) -> String {
    let (s, i) = app
        .json("POST", "/v1/catalog/items", Some(admin), Some(body))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{i}");
    let id = id_of(&i);
    let (s, _) = app
        .json(
            "POST",
            &format!("/v1/catalog/items/{id}/publish"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    id
}

struct Setup {
    app: TestApp,
    admin: String,
    bundle: String,
    laptop: String,
    mouse: String,
}

async fn setup() -> Setup {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (_, me) = app.json("GET", "/v1/auth/me", Some(&admin), None).await;
    let laptop = item(
        &app,
        &admin,
        json!({"name": "Laptop", "form_schema": {"fields": [
            {"id": "site", "type": "text", "label": "Office", "required": true},
            {"id": "model", "type": "select", "label": "Model", "required": true,
             "options": [{"value": "std", "label": "Standard"}, {"value": "pro", "label": "Pro"}]}]},
            "task_templates": [{"key": "give", "title": "Hand it over"}]}),
    )
    .await;
    let mouse = item(
        &app,
        &admin,
        json!({"name": "Mouse", "form_schema": {"fields": [{"id": "site", "type": "text", "label": "Office"}]},
            "approval_chain": {"stages": [{"approvers": [{"type": "user", "id": me["user"]["id"]}]}]}}),
    )
    .await;
    let ide = item(
        &app,
        &admin,
        json!({"name": "Developer tools", "form_schema": {"fields": [{"id": "n", "type": "text", "label": "Notes"}]}}),
    )
    .await;
    let questions = json!({"fields": [
        {"id": "site", "type": "text", "label": "Office", "required": true},
        {"id": "role", "type": "select", "label": "Role", "required": true,
         "options": [{"value": "dev", "label": "Developer"}, {"value": "sales", "label": "Sales"}]}]});
    // The condition must name a shared question, with an operator that fits it.
    let (s, bad) = app
        .json(
            "POST",
            "/v1/catalog/bundles",
            Some(&admin),
            Some(json!({"name": "New hire", "form_schema": questions, "items": [
                {"item_id": laptop},
                {"item_id": ide, "include_when": {"field": "team", "operator": "equals", "value": "dev"}}]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert!(
        bad["error"]["details"]["items[1].include_when.field"].is_string(),
        "{bad}"
    );
    let (s, bad) = app
        .json(
            "POST",
            "/v1/catalog/bundles",
            Some(&admin),
            Some(json!({"name": "New hire", "items": [{"item_id": uuid::Uuid::new_v4(), "quantity": 0}]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert!(
        bad["error"]["details"]["items[0].item_id"].is_string(),
        "{bad}"
    );
    assert!(
        bad["error"]["details"]["items[0].quantity"].is_string(),
        "{bad}"
    );
    let (s, b) = app
        .json(
            "POST",
            "/v1/catalog/bundles",
            Some(&admin),
            Some(json!({"name": "New hire", "form_schema": questions, "items": [
                {"item_id": laptop},
                {"item_id": mouse, "optional": true, "quantity": 2},
                {"item_id": ide, "include_when": {"field": "role", "operator": "equals", "value": "dev"}}]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["items"].as_array().unwrap().len(), 3);
    assert_eq!(b["items"][1]["optional"], true);
    Setup {
        bundle: id_of(&b),
        app,
        admin,
        laptop,
        mouse,
    }
}

fn child_titles(r: &Value) -> Vec<String> {
    r["children"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|c| c["title"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_bundle_request_makes_children_and_follows_them() {
    let Setup {
        app,
        admin,
        bundle,
        laptop,
        mouse: _,
    } = setup().await;
    let (_, requester) = app.user_with_role("requester").await;
    // Requesters read bundles but cannot change them.
    let (s, list) = app
        .json("GET", "/v1/catalog/bundles", Some(&requester), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let (s, _) = app
        .json(
            "PUT",
            &format!("/v1/catalog/bundles/{bundle}"),
            Some(&requester),
            Some(json!({"name": "Mine", "items": [{"item_id": laptop}]})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Each item's own questions are checked too, keyed by field.
    let submit = |form: Value, exclude: Value| {
        let (app, requester, bundle) = (&app, requester.clone(), bundle.clone());
        async move {
            app.json(
                "POST",
                "/v1/requests",
                Some(&requester),
                Some(json!({"bundle_id": bundle, "form_data": form, "exclude_items": exclude})),
            )
            .await
        }
    };
    let (s, e) = submit(json!({"site": "Berlin", "role": "sales"}), json!([])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"]["details"]["form_data.model"].is_string(), "{e}");
    let (s, e) = submit(
        json!({"site": "Berlin", "role": "sales", "model": "std", "n": "only for developers"}),
        json!([]),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"]["details"]["form_data.n"].is_string(), "{e}");

    // Sales: the laptop and the two mice; the developer tools are not for them.
    let (s, r) = submit(
        json!({"site": "Berlin", "role": "sales", "model": "std"}),
        json!([]),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["status"], "in_progress");
    assert_eq!(r["bundle_id"], bundle);
    assert_eq!(child_titles(&r), ["Laptop", "2 × Mouse"]);
    let parent = id_of(&r);
    let children = r["children"].as_array().unwrap().clone();
    let (_, laptop_req) = app
        .json(
            "GET",
            &format!("/v1/requests/{}", id_of(&children[0])),
            Some(&requester),
            None,
        )
        .await;
    assert_eq!(
        laptop_req["form_data"],
        json!({"site": "Berlin", "model": "std"}),
        "the shared office filled the item's field"
    );
    assert_eq!(laptop_req["parent_id"], parent);
    assert_eq!(laptop_req["status"], "approved");
    assert_eq!(
        children[1]["status"], "pending_approval",
        "the mouse has its own approval"
    );

    // A parent with open children cannot be completed by hand.
    let (s, e) = app
        .json(
            "POST",
            &format!("/v1/requests/{parent}/complete"),
            Some(&admin),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    // The laptop's task completes the laptop; the parent waits for the mouse.
    let (_, tasks) = app
        .json(
            "GET",
            &format!("/v1/requests/{}/tasks", id_of(&children[0])),
            Some(&admin),
            None,
        )
        .await;
    let (s, done) = app
        .json(
            "POST",
            &format!(
                "/v1/requests/{}/tasks/{}/complete",
                id_of(&children[0]),
                id_of(&tasks["data"][0])
            ),
            Some(&admin),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["request"]["status"], "completed");
    let (_, p) = app
        .json(
            "GET",
            &format!("/v1/requests/{parent}"),
            Some(&requester),
            None,
        )
        .await;
    assert_eq!(p["status"], "in_progress");
    // Cancelling the mouse closes the bundle request as completed (one item was done).
    let (s, _) = app
        .json(
            "DELETE",
            &format!("/v1/requests/{}", id_of(&children[1])),
            Some(&requester),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, p) = app
        .json(
            "GET",
            &format!("/v1/requests/{parent}"),
            Some(&requester),
            None,
        )
        .await;
    assert_eq!(p["status"], "completed", "{p}");

    // A developer who unticks the mouse gets the laptop and the tools; cancelling the parent
    // cancels both.
    let (_, b) = app
        .json(
            "GET",
            &format!("/v1/catalog/bundles/{bundle}"),
            Some(&admin),
            None,
        )
        .await;
    let mouse_id = b["items"][1]["item_id"].as_str().unwrap().to_string();
    let (s, r) = submit(
        json!({"site": "Berlin", "role": "dev", "model": "pro"}),
        json!([mouse_id]),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(child_titles(&r), ["Laptop", "Developer tools"]);
    let parent = id_of(&r);
    let (s, p) = app
        .json(
            "DELETE",
            &format!("/v1/requests/{parent}"),
            Some(&requester),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["status"], "cancelled");
    assert!(
        p["children"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "cancelled"),
        "{p}"
    );

    // Another tenant sees neither the bundle nor can request it.
    let other = TestApp::new().await;
    let (_, stranger) = other.user_with_role("requester").await;
    let (s, _) = other
        .json(
            "GET",
            &format!("/v1/catalog/bundles/{bundle}"),
            Some(&stranger),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, e) = other
        .json(
            "POST",
            "/v1/requests",
            Some(&stranger),
            Some(json!({"bundle_id": bundle, "form_data": {}})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"]["details"]["bundle_id"].is_string());
}

#[tokio::test]
async fn the_bundle_page_reacts_and_submits() {
    let Setup {
        app,
        admin: _,
        bundle,
        laptop: _,
        mouse,
    } = setup().await;
    let (requester_id, _) = app.user_with_role("requester").await;
    let email = app.email_of(&requester_id).await;
    let b = app.browser_login(&email).await;
    let portal = app.page("GET", "/catalog", Some(&b.cookie), None).await;
    assert!(portal.body.contains(&format!("/catalog/bundles/{bundle}")));
    let page = app
        .page(
            "GET",
            &format!("/catalog/bundles/{bundle}"),
            Some(&b.cookie),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("data-bundle-item=\"Laptop\""));
    assert!(!page.body.contains("data-bundle-item=\"Developer tools\""));
    // The office is asked once, in the shared questions.
    assert_eq!(page.body.matches("name=\"f_site\"").count(), 1);
    let evaluated = app
        .page(
            "POST",
            &format!("/catalog/bundles/{bundle}/evaluate"),
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf), ("f_role", "dev"), ("include", &mouse)]),
        )
        .await;
    assert!(
        evaluated
            .body
            .contains("data-bundle-item=\"Developer tools\"")
    );
    let refused = app
        .page(
            "POST",
            &format!("/catalog/bundles/{bundle}/request"),
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("f_role", "sales"),
                ("requested_for_id", &requester_id),
            ]),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("answers need attention"),
        "{}",
        refused.body
    );
    let sent = app
        .page(
            "POST",
            &format!("/catalog/bundles/{bundle}/request"),
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("f_role", "sales"),
                ("f_site", "Lisbon"),
                ("f_model", "std"),
                ("requested_for_id", &requester_id),
            ]),
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let parent = app
        .page(
            "GET",
            sent.location.as_deref().unwrap(),
            Some(&b.cookie),
            None,
        )
        .await;
    assert!(
        parent.body.contains("The bundle&#x27;s requests")
            || parent.body.contains("The bundle's requests"),
        "{}",
        parent.body
    );
    // The mouse was not ticked, so only the laptop is in it.
    assert!(parent.body.contains("Laptop"));
    assert!(!parent.body.contains("Mouse"));
}

#[tokio::test]
async fn files_in_a_bundle_go_to_the_request_whose_form_asks_for_them() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let laptop = item(
        &app,
        &admin,
        json!({"name": "Laptop", "form_schema": {"fields": [
            {"id": "quote", "type": "file", "label": "Supplier quote", "required": true}]}}),
    )
    .await;
    let badge = item(
        &app,
        &admin,
        json!({"name": "Badge", "form_schema": {"fields": [
            {"id": "photo", "type": "file", "label": "Photo for the badge"}]}}),
    )
    .await;
    let (s, b) = app
        .json(
            "POST",
            "/v1/catalog/bundles",
            Some(&admin),
            Some(json!({"name": "Starter", "items": [{"item_id": laptop}, {"item_id": badge}]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let bundle = id_of(&b);
    let br = app.browser_login("admin@example.com").await;
    let page = app
        .page(
            "GET",
            &format!("/catalog/bundles/{bundle}"),
            Some(&br.cookie),
            None,
        )
        .await;
    assert!(page.body.contains("enctype=\"multipart/form-data\""));
    let uri = format!("/catalog/bundles/{bundle}/request");
    let fields = [("_csrf", br.csrf.as_str())];
    // The laptop's quote is required: only the photo sent → the page again, saying so.
    let r = app
        .upload(
            &uri,
            &br.cookie,
            &fields,
            ("f_photo", "me.png", "image/png", b"\x89PNG\r\n\x1a\n0000"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Choose the files again"), "{}", r.body);
    let r = app
        .upload(
            &uri,
            &br.cookie,
            &fields,
            ("f_quote", "quote.pdf", "application/pdf", b"%PDF-1.4 quote"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let parent = r.location.unwrap().rsplit('/').next().unwrap().to_string();
    let (_, p) = app
        .json("GET", &format!("/v1/requests/{parent}"), Some(&admin), None)
        .await;
    let files: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT r.title, a.filename FROM tenant_{0}.attachments a
         JOIN tenant_{0}.service_requests r ON r.id = a.entity_id
         WHERE a.entity_type = 'request' AND r.parent_id = $1",
        app.slug
    ))
    .bind(uuid::Uuid::parse_str(&parent).unwrap())
    .fetch_all(&app.state.pool)
    .await
    .unwrap();
    assert_eq!(
        files,
        [("Laptop".to_string(), "quote.pdf".to_string())],
        "{p}"
    );
    let laptop_child = p["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["title"] == "Laptop")
        .unwrap()["id"]
        .clone();
    let (_, child) = app
        .json(
            "GET",
            &format!("/v1/requests/{}", laptop_child.as_str().unwrap()),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(child["form_data"]["quote"][0]["filename"], "quote.pdf");
}

#[tokio::test]
async fn a_bundle_request_keeps_the_questions_of_its_version() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let mouse = item(
        &app,
        &admin,
        json!({"name": "Mouse", "form_schema": {"fields": [
            {"id": "hand", "type": "text", "label": "Which hand"}]}}),
    )
    .await;
    let body = |label: &str, quantity: i32| {
        json!({"name": "Desk kit", "form_schema": {"fields": [
            {"id": "room", "type": "text", "label": label, "required": true}]},
            "items": [{"item_id": mouse, "quantity": quantity}]})
    };
    let (s, b) = app
        .json(
            "POST",
            "/v1/catalog/bundles",
            Some(&admin),
            Some(body("Which room", 1)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["version"], 1);
    let bundle = id_of(&b);
    let (s, r) = app
        .json(
            "POST",
            "/v1/requests",
            Some(&admin),
            Some(json!({"bundle_id": bundle, "form_data": {"room": "4.12", "hand": "left"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["form_version"], 1);
    // Renaming the question is a new version; saving the same again is not.
    for _ in 0..2 {
        let (s, b) = app
            .json(
                "PUT",
                &format!("/v1/catalog/bundles/{bundle}"),
                Some(&admin),
                Some(body("Office and floor", 2)),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["version"], 2);
    }
    let b2 = app.browser_login("admin@example.com").await;
    let page = app
        .page(
            "GET",
            &format!("/requests/{}", id_of(&r)),
            Some(&b2.cookie),
            None,
        )
        .await;
    assert!(page.body.contains("Which room"), "{}", page.body);
    assert!(!page.body.contains("Office and floor"));
    let versions: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM tenant_{}.catalog_bundle_versions WHERE bundle_id = $1",
        app.slug
    ))
    .bind(uuid::Uuid::parse_str(&bundle).unwrap())
    .fetch_one(&app.state.pool)
    .await
    .unwrap();
    assert_eq!(versions, 2);
}
