//! The catalog, requests and approvals: schema errors by path, publish and versions, submission
//! checks (hidden fields dropped, conditional required, pickers refusing other tenants' ids),
//! approval chains with their edge rules, fulfilment, the portal and the inbox pages.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, id_of};

fn laptop_form() -> Value {
    json!({
        "fields": [
            {"id": "model", "type": "select", "label": "Model", "required": true,
             "options": [{"value": "std", "label": "Standard"}, {"value": "pro", "label": "Pro"}], "default": "std"},
            {"id": "ram", "type": "select", "label": "Memory", "required": true,
             "options": [{"value": "16", "label": "16 GB"}, {"value": "32", "label": "32 GB"}]},
            {"id": "why", "type": "textarea", "label": "Why do you need it", "validation": {"min_length": 10}},
            {"id": "deliver_to", "type": "user_picker", "label": "Deliver to"},
            {"id": "app", "type": "application_picker", "label": "Application"}
        ],
        "conditional_logic": [
            {"field": "ram", "show_when": {"field": "model", "operator": "equals", "value": "pro"}},
            {"field": "why", "require_when": {"field": "model", "operator": "equals", "value": "pro"}}
        ]
    })
}

async fn publish(app: &TestApp, token: &str, body: Value) -> String {
    let (s, item) = app
        .json("POST", "/v1/catalog/items", Some(token), Some(body))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{item}");
    assert_eq!(item["status"], "draft");
    let id = id_of(&item);
    let (s, live) = app
        .json(
            "POST",
            &format!("/v1/catalog/items/{id}/publish"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{live}");
    assert_eq!(live["status"], "active");
    id
}

#[tokio::test]
async fn schemas_are_checked_by_path_and_published_versions_stay_frozen() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (s, bad) = app
        .json(
            "POST",
            "/v1/catalog/items",
            Some(&admin),
            Some(json!({"name": "Broken", "form_schema": {"fields": [
                {"id": "a", "type": "text", "label": "A", "validation": {"min_length": 9, "max_length": 2}},
                {"id": "a", "type": "colour", "label": "B"}]}})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad["error"]["details"]["form_schema.fields[1].type"].is_string(),
        "{bad}"
    );
    let (s, bad) = app
        .json(
            "POST",
            "/v1/catalog/items",
            Some(&admin),
            Some(json!({"name": "Broken", "form_schema": {"fields": [
                {"id": "a", "type": "text", "label": "A", "validation": {"min_length": 9, "max_length": 2}}]},
                "approval_chain": {"stages": [{"approvers": [{"type": "user", "id": uuid::Uuid::new_v4()}]}]}})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let details = &bad["error"]["details"];
    assert!(
        details["form_schema.fields[0].validation.max_length"].is_string(),
        "{bad}"
    );
    assert!(
        details["approval_chain.stages[0].approvers[0]"].is_string(),
        "{bad}"
    );

    let id = publish(
        &app,
        &admin,
        json!({"name": "Laptop", "form_schema": laptop_form()}),
    )
    .await;
    // Nothing changed: publishing again is a conflict.
    let (s, _) = app
        .json(
            "POST",
            &format!("/v1/catalog/items/{id}/publish"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);

    let (_, req) = app
        .json(
            "POST",
            "/v1/requests",
            Some(&admin),
            Some(json!({"catalog_item_id": id, "form_data": {}})),
        )
        .await;
    assert_eq!(req["form_version"], 1, "{req}");
    assert_eq!(
        req["form_data"]["model"], "std",
        "the default applies to an API answer left out"
    );

    // The draft renames the model options; the request keeps version 1's labels.
    let mut form = laptop_form();
    form["fields"][0]["options"][0]["label"] = json!("Basic");
    let (s, draft) = app
        .json(
            "PUT",
            &format!("/v1/catalog/items/{id}"),
            Some(&admin),
            Some(json!({"name": "Laptop", "form_schema": form})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{draft}");
    assert_eq!(draft["has_unpublished_changes"], true);
    assert_eq!(draft["published_version"], 1);
    let b = app.browser_login("admin@example.com").await;
    let page = app
        .page(
            "GET",
            &format!("/requests/{}", id_of(&req)),
            Some(&b.cookie),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Standard") && !page.body.contains("Basic"),
        "{}",
        page.body
    );
    let (_, v2) = app
        .json(
            "POST",
            &format!("/v1/catalog/items/{id}/publish"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(v2["published_version"], 2);
}

#[tokio::test]
async fn submissions_drop_hidden_answers_require_by_condition_and_refuse_foreign_ids() {
    let app = TestApp::new().await;
    let other = TestApp::new().await;
    let admin = app.admin_token().await;
    let id = publish(
        &app,
        &admin,
        json!({"name": "Laptop", "form_schema": laptop_form()}),
    )
    .await;
    let (_, requester) = app.user_with_role("requester").await;
    let other_admin = other.admin_token().await;
    let (_, foreign_app) = other
        .json(
            "POST",
            "/v1/applications",
            Some(&other_admin),
            Some(json!({"name": "Theirs", "tier": "P2"})),
        )
        .await;
    let (_, foreign_user) = other
        .json("GET", "/v1/auth/me", Some(&other_admin), None)
        .await;

    // Pro without a reason and memory; someone else's ids in the pickers.
    let (s, bad) = app
        .json(
            "POST",
            "/v1/requests",
            Some(&requester),
            Some(json!({"catalog_item_id": id, "form_data": {"model": "pro",
                "deliver_to": foreign_user["user"]["id"], "app": id_of(&foreign_app)}})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    let details = bad["error"]["details"].as_object().unwrap();
    for k in [
        "form_data.ram",
        "form_data.why",
        "form_data.deliver_to",
        "form_data.app",
    ] {
        assert!(details.contains_key(k), "{k}: {bad}");
    }
    // Standard: memory is hidden, so its answer is dropped and the reason is optional.
    let (s, ok) = app
        .json(
            "POST",
            "/v1/requests",
            Some(&requester),
            Some(json!({"catalog_item_id": id, "form_data": {"model": "std", "ram": "32"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ok}");
    assert!(ok["request_number"].as_str().unwrap().starts_with("REQ-"));
    assert_eq!(ok["status"], "approved", "no chain: approved at once");
    assert!(ok["form_data"].get("ram").is_none(), "{ok}");
    let (s, listed) = app
        .json(
            "GET",
            "/v1/requests?status=pending_approval,approved",
            Some(&requester),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{listed}");
    assert_eq!(listed["meta"]["total"], 1, "{listed}");
    let (_, none) = app
        .json(
            "GET",
            "/v1/requests?status=completed,cancelled",
            Some(&requester),
            None,
        )
        .await;
    assert_eq!(none["meta"]["total"], 0, "{none}");
    // Requesters cannot build the catalog, nor see drafts.
    let (s, _) = app
        .json(
            "POST",
            "/v1/catalog/items",
            Some(&requester),
            Some(json!({"name": "X"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, draft) = app
        .json(
            "POST",
            "/v1/catalog/items",
            Some(&admin),
            Some(json!({"name": "Secret draft"})),
        )
        .await;
    let (s, _) = app
        .json(
            "GET",
            &format!("/v1/catalog/items/{}", id_of(&draft)),
            Some(&requester),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .json(
            "POST",
            "/v1/requests",
            Some(&requester),
            Some(json!({"catalog_item_id": id_of(&draft), "form_data": {}})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Another tenant's requests are not found; a requester sees only their own.
    let (s, _) = other
        .json(
            "GET",
            &format!("/v1/requests/{}", id_of(&ok)),
            Some(&other_admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, second) = app.user_with_role("requester").await;
    let (s, _) = app
        .json(
            "GET",
            &format!("/v1/requests/{}", id_of(&ok)),
            Some(&second),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn chains_run_in_order_and_keep_their_edge_rules() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (boss_id, boss) = app.user_with_role("manager").await;
    let (_, finance) = app.user_with_role("agent").await;
    let (_, fin) = app.json("GET", "/v1/auth/me", Some(&finance), None).await;
    let (requester_id, requester) = app.user_with_role("requester").await;
    // The requester's manager, then finance.
    sqlx::query(&format!(
        "UPDATE tenant_{}.users SET manager_id = $1 WHERE id = $2",
        app.slug
    ))
    .bind(uuid::Uuid::parse_str(&boss_id).unwrap())
    .bind(uuid::Uuid::parse_str(&requester_id).unwrap())
    .execute(&app.state.pool)
    .await
    .unwrap();
    let chain = json!({"stages": [
        {"approvers": [{"type": "manager"}]},
        {"approvers": [{"type": "user", "id": fin["user"]["id"]}, {"type": "user", "id": requester_id}], "rule": "any"}]});
    let id = publish(
        &app,
        &admin,
        json!({"name": "VPN", "form_schema": {"fields": [{"id": "why", "type": "text", "label": "Why"}]},
               "approval_chain": chain}),
    )
    .await;
    let (s, r) = app
        .json(
            "POST",
            "/v1/requests",
            Some(&requester),
            Some(json!({"catalog_item_id": id, "form_data": {"why": "remote work"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["status"], "pending_approval");
    let rid = id_of(&r);

    // The manager is told it waits for them (in the app, through the outbox).
    app.run_jobs().await;
    let told = |user: String| {
        let app = &app;
        let rid = rid.clone();
        async move {
            let subjects: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT subject FROM tenant_{}.notifications WHERE user_id = $1 AND entity_id = $2 AND channel = 'in_app' ORDER BY created_at",
                app.slug
            ))
            .bind(uuid::Uuid::parse_str(&user).unwrap())
            .bind(uuid::Uuid::parse_str(&rid).unwrap())
            .fetch_all(&app.state.pool)
            .await
            .unwrap();
            subjects
        }
    };
    let boss_heard = told(boss_id.clone()).await;
    assert!(
        boss_heard.iter().any(|s| s.contains("waits for approval")),
        "{boss_heard:?}"
    );
    // Completing before approval is refused with the allowed moves.
    let (s, e) = app
        .json(
            "POST",
            &format!("/v1/requests/{rid}/complete"),
            Some(&admin),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(
        e["error"]["details"]["allowed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "cancel")
    );
    // Finance's step has not started: nothing waits on them yet.
    let (_, inbox) = app
        .json("GET", "/v1/approvals?status=pending", Some(&finance), None)
        .await;
    assert_eq!(inbox["data"].as_array().unwrap().len(), 0, "{inbox}");
    let (_, inbox) = app
        .json("GET", "/v1/approvals?status=pending", Some(&boss), None)
        .await;
    let first = inbox["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(inbox["data"][0]["number"], r["request_number"]);
    // Rejecting needs a reason.
    let (s, _) = app
        .json(
            "POST",
            &format!("/v1/approvals/{first}/reject"),
            Some(&boss),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app
        .json(
            "POST",
            &format!("/v1/approvals/{first}/approve"),
            Some(&boss),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // Deciding twice is a conflict.
    let (s, _) = app
        .json(
            "POST",
            &format!("/v1/approvals/{first}/approve"),
            Some(&boss),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Finance hears that step 2 waits for them.
    app.run_jobs().await;
    let fin_id = fin["user"]["id"].as_str().unwrap().to_string();
    let fin_heard = told(fin_id).await;
    assert!(
        fin_heard.iter().any(|s| s.contains("waits for approval")),
        "step 2 opened: {fin_heard:?}"
    );
    // Step 2 names the requester too, but they never decide on their own request.
    let (_, steps) = app
        .json(
            "GET",
            &format!("/v1/requests/{rid}/approvals"),
            Some(&requester),
            None,
        )
        .await;
    assert_eq!(steps["current_step"], 2, "{steps}");
    let names: Vec<&str> = steps["steps"][1]["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["approver_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["agent"], "{steps}");
    let (s, _) = app
        .json(
            "POST",
            &format!("/v1/requests/{rid}/approve"),
            Some(&requester),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, done) = app
        .json(
            "POST",
            &format!("/v1/requests/{rid}/approve"),
            Some(&finance),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "approved");
    assert_eq!(done["approval_status"], "approved");
    app.run_jobs().await;
    let asker_heard = told(requester_id.clone()).await;
    assert!(
        asker_heard.iter().any(|s| s.contains("was approved")),
        "{asker_heard:?}"
    );

    let (s, w) = app
        .json(
            "POST",
            &format!("/v1/requests/{rid}/assign"),
            Some(&admin),
            Some(json!({"assigned_to": fin["user"]["id"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{w}");
    assert_eq!(w["status"], "in_progress");
    let (s, c) = app
        .json(
            "POST",
            &format!("/v1/requests/{rid}/complete"),
            Some(&admin),
            Some(json!({"notes": "VPN profile sent"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["status"], "completed");
    let (_, history) = app
        .json(
            "GET",
            &format!("/v1/requests/{rid}/history"),
            Some(&requester),
            None,
        )
        .await;
    let path: Vec<&str> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to_status"].as_str().unwrap())
        .collect();
    assert_eq!(
        path,
        ["pending_approval", "approved", "in_progress", "completed"]
    );
    let events: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT event_type FROM tenant_{}.domain_events WHERE entity_id = $1 ORDER BY id",
        app.slug
    ))
    .bind(uuid::Uuid::parse_str(&rid).unwrap())
    .fetch_all(&app.state.pool)
    .await
    .unwrap();
    for e in [
        "request.created",
        "request.submitted",
        "request.approved",
        "request.completed",
    ] {
        assert!(events.iter().any(|x| x == e), "{e}: {events:?}");
    }
}

#[tokio::test]
async fn an_empty_approver_set_goes_to_the_fallback_and_a_rejection_rejects() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (_, requester) = app.user_with_role("requester").await;
    // Nobody manages the requester: the admins decide; nothing approves by itself.
    let id = publish(
        &app,
        &admin,
        json!({"name": "Badge", "form_schema": {"fields": [{"id": "floor", "type": "number", "label": "Floor"}]},
               "approval_chain": {"stages": [{"approvers": [{"type": "manager"}]}]}}),
    )
    .await;
    let (_, r) = app
        .json(
            "POST",
            "/v1/requests",
            Some(&requester),
            Some(json!({"catalog_item_id": id, "form_data": {"floor": 3}})),
        )
        .await;
    assert_eq!(r["status"], "pending_approval");
    let rid = id_of(&r);
    let (s, rejected) = app
        .json(
            "POST",
            &format!("/v1/requests/{rid}/reject"),
            Some(&admin),
            Some(json!({"comments": "Badges are issued at the front desk"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    let (s, _) = app
        .json(
            "DELETE",
            &format!("/v1/requests/{rid}"),
            Some(&requester),
            None,
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "a rejected request cannot be cancelled"
    );
}

#[tokio::test]
async fn a_requester_uses_the_portal_and_an_approver_the_inbox() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (_, me) = app.json("GET", "/v1/auth/me", Some(&admin), None).await;
    let id = publish(
        &app,
        &admin,
        json!({"name": "Laptop", "short_desc": "A new or replacement laptop", "form_schema": laptop_form(),
               "approval_chain": {"stages": [{"approvers": [{"type": "user", "id": me["user"]["id"]}]}]}}),
    )
    .await;
    let (requester_id, _) = app.user_with_role("requester").await;
    let email = app.email_of(&requester_id).await;
    let b = app.browser_login(&email).await;
    let portal = app.page("GET", "/catalog", Some(&b.cookie), None).await;
    assert_eq!(portal.status, StatusCode::OK);
    assert!(portal.body.contains("A new or replacement laptop"));
    let item = app
        .page(
            "GET",
            &format!("/catalog/items/{id}"),
            Some(&b.cookie),
            None,
        )
        .await;
    assert_eq!(item.status, StatusCode::OK);
    assert!(
        item.body.contains("id=\"fw-ram\" hidden"),
        "memory starts hidden"
    );
    // Choosing Pro shows the memory field (the server decides).
    let shown = app
        .page(
            "POST",
            &format!("/catalog/items/{id}/evaluate"),
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf), ("f_model", "pro")]),
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.contains("name=\"f_ram\""), "{}", shown.body);
    assert!(!shown.body.contains("<html"), "a fragment");
    // An error keeps the answers and marks the field.
    let bad = app
        .page(
            "POST",
            &format!("/catalog/items/{id}/request"),
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf), ("f_model", "pro"), ("f_why", "short")]),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("f_ram-error") && bad.body.contains("f_why-error"),
        "{}",
        bad.body
    );
    assert!(bad.body.contains(">short</textarea>"));
    let good = app
        .page(
            "POST",
            &format!("/catalog/items/{id}/request"),
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("f_model", "pro"),
                ("f_ram", "32"),
                ("f_why", "I edit video all day"),
            ]),
        )
        .await;
    assert_eq!(good.status, StatusCode::SEE_OTHER, "{}", good.body);
    let mine = app.page("GET", "/requests", Some(&b.cookie), None).await;
    assert!(
        mine.body.contains("Laptop") && mine.body.contains("Pending approval"),
        "{}",
        mine.body
    );

    let a = app.browser_login("admin@example.com").await;
    let inbox = app.page("GET", "/approvals", Some(&a.cookie), None).await;
    let doc = scraper::Html::parse_document(&inbox.body);
    let sel = scraper::Selector::parse("#pending-approvals li[data-approval]").unwrap();
    let approval = doc
        .select(&sel)
        .next()
        .and_then(|li| li.value().attr("data-approval"))
        .unwrap_or_else(|| panic!("{}", inbox.body))
        .to_string();
    let refused = app
        .page(
            "POST",
            &format!("/approvals/{approval}/decide"),
            Some(&a.cookie),
            Some(&[("_csrf", &a.csrf), ("decision", "reject"), ("comments", "")]),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("Say why you reject it"));
    let approved = app
        .page(
            "POST",
            &format!("/approvals/{approval}/decide"),
            Some(&a.cookie),
            Some(&[
                ("_csrf", &a.csrf),
                ("decision", "approve"),
                ("comments", ""),
                ("back", "/\\evil.example/"),
            ]),
        )
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER);
    assert_eq!(
        approved.location.as_deref(),
        Some("/approvals"),
        "never back to another site"
    );
    let mine = app.page("GET", "/requests", Some(&b.cookie), None).await;
    assert!(mine.body.contains("Approved"), "{}", mine.body);
}

async fn form_of(app: &TestApp, url: &str, token: &str) -> Value {
    let (_, i) = app.json("GET", url, Some(token), None).await;
    i["form_schema"].clone()
}

#[tokio::test]
async fn the_builder_saves_each_change_refuses_bad_ones_and_undoes() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (_, item) = app
        .json(
            "POST",
            "/v1/catalog/items",
            Some(&admin),
            Some(json!({"name": "Badge"})),
        )
        .await;
    let id = id_of(&item);
    let b = app.browser_login("admin@example.com").await;
    let url = format!("/catalog/items/{id}/builder");
    let op = |fields: Vec<(&'static str, String)>| {
        let mut f = vec![("_csrf", b.csrf.clone())];
        f.extend(fields);
        f
    };
    let send = |fields: Vec<(&'static str, String)>| {
        let url = url.clone();
        let cookie = b.cookie.clone();
        let fields = op(fields);
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.page("POST", &url, Some(&cookie), Some(&pairs)).await
        }
    };
    for kind in ["select", "text"] {
        let p = send(vec![("op", "add".into()), ("type", kind.into())]).await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    }
    let item_url = format!("/v1/catalog/items/{id}");
    let form = form_of(&app, &item_url, &admin).await;
    assert_eq!(form["fields"][0]["type"], "select");
    assert_eq!(form["fields"][1]["id"], "field_2");
    // Move the text field to the top.
    let p = send(vec![("op", "up".into()), ("field", "field_2".into())]).await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(
        form_of(&app, &item_url, &admin).await["fields"][0]["id"],
        "field_2"
    );
    // A blank label is refused on the label input; the draft is unchanged.
    let p = send(vec![
        ("op", "update".into()),
        ("field", "field_2".into()),
        ("label", " ".into()),
    ])
    .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("Every field needs a label."), "{}", p.body);
    // A condition on the dropdown's first option.
    let p = send(vec![
        ("op", "update".into()),
        ("field", "field_2".into()),
        ("label", "Which door?".into()),
        ("when_field", "field_1".into()),
        ("when_op", "equals".into()),
        ("when_value", "option_1".into()),
    ])
    .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let form = form_of(&app, &item_url, &admin).await;
    assert_eq!(
        form["conditional_logic"][0]["show_when"]["value"], "option_1",
        "{form}"
    );
    // Required only when the dropdown is the first option; the show condition stays.
    let with_require = |value: &str| {
        vec![
            ("op", "update".to_string()),
            ("field", "field_2".into()),
            ("label", "Which door?".into()),
            ("when_field", "field_1".into()),
            ("when_op", "equals".into()),
            ("when_value", "option_1".into()),
            ("req_field", "field_1".into()),
            ("req_op", "in".into()),
            ("req_value", value.to_string()),
        ]
    };
    let p = send(with_require("option_1, nope")).await;
    assert_eq!(
        p.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "nope is not an option"
    );
    assert!(p.body.contains("not an option"), "{}", p.body);
    let p = send(with_require("option_1")).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let form = form_of(&app, &item_url, &admin).await;
    assert_eq!(
        form["conditional_logic"][0]["require_when"]["value"],
        json!(["option_1"]),
        "{form}"
    );
    // The dropdown cannot go while the text depends on it.
    let p = send(vec![("op", "remove".into()), ("field", "field_1".into())]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Undo takes back the last saved change (the require condition), not the one before it.
    let p = send(vec![("op", "undo".into())]).await;
    assert_eq!(p.status, StatusCode::OK);
    let form = form_of(&app, &item_url, &admin).await;
    assert!(
        form["conditional_logic"][0].get("require_when").is_none(),
        "{form}"
    );
    assert_eq!(
        form["conditional_logic"][0]["show_when"]["value"],
        "option_1"
    );
    assert_eq!(form["fields"][0]["label"], "Which door?");
    // Requesters cannot open the builder.
    let (rid, _) = app.user_with_role("requester").await;
    let r = app.browser_login(&app.email_of(&rid).await).await;
    let page = app.page("GET", &url, Some(&r.cookie), None).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn search_finds_catalog_items_and_own_requests_only() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let id = publish(
        &app,
        &admin,
        json!({"name": "Ergonomic keyboard", "short_desc": "Split layout",
        "form_schema": {"fields": [{"id": "n", "type": "number", "label": "How many"}]}}),
    )
    .await;
    let (_, draft) = app
        .json(
            "POST",
            "/v1/catalog/items",
            Some(&admin),
            Some(json!({"name": "Keyboard draft"})),
        )
        .await;
    let (_, mine) = app.user_with_role("requester").await;
    let (_, other) = app.user_with_role("requester").await;
    let (_, r) = app
        .json(
            "POST",
            "/v1/requests",
            Some(&mine),
            Some(json!({"catalog_item_id": id, "form_data": {"n": 1}})),
        )
        .await;
    let titles = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                format!(
                    "{}:{}",
                    h["type"].as_str().unwrap(),
                    h["title"].as_str().unwrap()
                )
            })
            .collect()
    };
    let (s, hits) = app
        .json("GET", "/v1/search?q=keyboard", Some(&mine), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{hits}");
    let t = titles(&hits);
    assert!(
        t.contains(&"catalog_item:Ergonomic keyboard".to_string()),
        "{t:?}"
    );
    assert!(
        t.contains(&"request:Ergonomic keyboard".to_string()),
        "{t:?}"
    );
    assert!(!t.iter().any(|x| x.contains("draft")), "{t:?}");
    let (_, hits) = app
        .json("GET", "/v1/search?q=keyboard", Some(&other), None)
        .await;
    assert!(
        !titles(&hits).iter().any(|x| x.starts_with("request:")),
        "another requester's request"
    );
    let (_, hits) = app
        .json(
            "GET",
            &format!("/v1/search?q={}", r["request_number"].as_str().unwrap()),
            Some(&admin),
            None,
        )
        .await;
    assert!(titles(&hits).iter().any(|x| x.starts_with("request:")));
    let (_, hits) = app
        .json("GET", "/v1/search?q=keyboard", Some(&admin), None)
        .await;
    assert!(titles(&hits).contains(&format!("catalog_item:{}", draft["name"].as_str().unwrap())));
}

#[tokio::test]
async fn an_item_limited_to_groups_on_its_page_is_hidden_from_everyone_else() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let form = json!({"fields": [{"id": "n", "type": "text", "label": "N"}]});
    let id = publish(
        &app,
        &admin,
        json!({"name": "Finance tool", "form_schema": form}),
    )
    .await;
    let (_, group) = app
        .json(
            "POST",
            "/v1/groups",
            Some(&admin),
            Some(json!({"name": "Finance"})),
        )
        .await;
    let group = id_of(&group);
    let (member_id, member) = app.user_with_role("requester").await;
    let (_, outsider) = app.user_with_role("requester").await;
    app.json(
        "POST",
        &format!("/v1/groups/{group}/members"),
        Some(&admin),
        Some(json!({"user_id": member_id})),
    )
    .await;
    let b = app.browser_login("admin@example.com").await;
    let page = app
        .page(
            "GET",
            &format!("/catalog/manage/items/{id}"),
            Some(&b.cookie),
            None,
        )
        .await;
    assert!(page.body.contains("id=\"visible-groups\""));
    let saved = app
        .page(
            "POST",
            &format!("/catalog/manage/items/{id}"),
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("name", "Finance tool"),
                ("form_schema", &form.to_string()),
                ("visible_to_groups", &group),
            ]),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (_, item) = app
        .json(
            "GET",
            &format!("/v1/catalog/items/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(item["visible_to_groups"], json!([group]));
    let page = app
        .page(
            "GET",
            &format!("/catalog/manage/items/{id}"),
            Some(&b.cookie),
            None,
        )
        .await;
    assert!(
        page.body.contains(&format!("value=\"{group}\" checked")),
        "the box stays ticked"
    );
    let (s, _) = app
        .json(
            "GET",
            &format!("/v1/catalog/items/{id}"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .json(
            "GET",
            &format!("/v1/catalog/items/{id}"),
            Some(&outsider),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn icons_come_from_the_catalog_set_and_show_on_the_cards() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (s, bad) = app
        .json(
            "POST",
            "/v1/catalog/categories",
            Some(&admin),
            Some(json!({"name": "Hardware", "icon": "rocket-ship"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert!(
        bad["error"]["details"]["icon"]
            .as_str()
            .unwrap()
            .contains("laptop"),
        "{bad}"
    );
    let (s, cat) = app
        .json(
            "POST",
            "/v1/catalog/categories",
            Some(&admin),
            Some(json!({"name": "Hardware", "icon": "package"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{cat}");
    let form = json!({"fields": [{"id": "why", "type": "text", "label": "Why"}]});
    let (s, bad) = app
        .json(
            "POST",
            "/v1/catalog/items",
            Some(&admin),
            Some(json!({"name": "Laptop", "form_schema": form, "icon": "nope"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    for (name, icon) in [("Laptop", Some("laptop")), ("Dock", None)] {
        let (s, item) = app
            .json(
                "POST",
                "/v1/catalog/items",
                Some(&admin),
                Some(json!({"name": name, "form_schema": form, "icon": icon, "category_id": cat["id"]})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{item}");
        let (s, _) = app
            .json(
                "POST",
                &format!("/v1/catalog/items/{}/publish", id_of(&item)),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    let b = app.browser_login("admin@example.com").await;
    let portal = app.page("GET", "/catalog", Some(&b.cookie), None).await;
    let doc = scraper::Html::parse_document(&portal.body);
    let icon = |item: &str| {
        let sel = scraper::Selector::parse(&format!("a[data-item={item}] use")).unwrap();
        doc.select(&sel)
            .next()
            .and_then(|u| u.value().attr("href").map(str::to_string))
    };
    assert!(icon("Laptop").unwrap().ends_with("#laptop"));
    // Without its own, an item shows its category's.
    assert!(icon("Dock").unwrap().ends_with("#package"));
    let sprite = app
        .page(
            "GET",
            "/static/vendor/catalog-icons-0.460.0.svg",
            None,
            None,
        )
        .await;
    assert_eq!(sprite.status, StatusCode::OK);
    assert!(sprite.body.contains("<symbol id=\"laptop\""));
}
