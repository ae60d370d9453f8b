//! The approval-chain editor: steps added, named, given approvers and rules, moved and removed
//! with buttons; each change saved to the item's draft when the chain is valid, refused in
//! place (422, the chain kept as typed) when not; closed to people who do not manage the
//! catalog.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, id_of};

async fn chain_of(app: &TestApp, admin: &str, item: &str) -> Value {
    let (_, i) = app
        .json(
            "GET",
            &format!("/v1/catalog/items/{item}"),
            Some(admin),
            None,
        )
        .await;
    i["approval_chain"].clone()
}

#[tokio::test]
async fn an_admin_builds_a_chain_step_by_step() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (_, group) = app
        .json(
            "POST",
            "/v1/groups",
            Some(&admin),
            Some(json!({"name": "Finance"})),
        )
        .await;
    let group = id_of(&group);
    let (s, item) = app
        .json(
            "POST",
            "/v1/catalog/items",
            Some(&admin),
            Some(json!({"name": "Phone", "form_schema": {"fields": [
                {"id": "why", "type": "text", "label": "Why"}]}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{item}");
    let item = id_of(&item);
    let path = format!("/catalog/manage/items/{item}/approvals");
    let b = app.browser_login("admin@example.com").await;
    let page = app.page("GET", &path, Some(&b.cookie), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"no-steps\""));
    let post = |fields: Vec<(&'static str, String)>| {
        let (app, b, path) = (&app, &b, &path);
        async move {
            let mut form: Vec<(&str, &str)> = vec![("_csrf", b.csrf.as_str())];
            form.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
            app.page("POST", path, Some(&b.cookie), Some(&form)).await
        }
    };

    // A new step names nobody yet: shown with what to add, nothing saved.
    let r = post(vec![("count", "0".into()), ("op", "add".into())]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("data-step=\"1\""));
    assert!(r.body.contains("Add at least one approver."), "{}", r.body);
    assert_eq!(chain_of(&app, &admin, &item).await, json!({"stages": []}));
    // Adding nobody is refused at the list.
    let r = post(vec![("count", "1".into()), ("op", "add_approver:0".into())]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Choose whom to add."));
    let r = post(vec![
        ("count", "1".into()),
        ("s0.name", "Line manager".into()),
        ("s0.add", "manager".into()),
        ("op", "add_approver:0".into()),
    ])
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        chain_of(&app, &admin, &item).await,
        json!({"stages": [{"name": "Line manager", "approvers": [{"type": "manager"}], "rule": "all"}]})
    );

    // A second step with a group and a quorum of nought: refused on its number, kept as typed.
    let r = post(vec![
        ("count", "2".into()),
        ("s0.name", "Line manager".into()),
        ("s0.approver", "manager".into()),
        ("s1.name", "Finance".into()),
        ("s1.approver", format!("group:{group}")),
        ("s1.rule", "quorum".into()),
        ("s1.n", "0".into()),
        ("op", "save".into()),
    ])
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("A quorum needs at least one approval."));
    assert!(r.body.contains("Anyone in Finance"));
    // Fixed, and moved first; its timeout escalates.
    let r = post(vec![
        ("count", "2".into()),
        ("s0.name", "Line manager".into()),
        ("s0.approver", "manager".into()),
        ("s1.name", "Finance".into()),
        ("s1.approver", format!("group:{group}")),
        ("s1.rule", "quorum".into()),
        ("s1.n", "2".into()),
        ("s1.remind", "4".into()),
        ("s1.timeout", "16".into()),
        ("s1.on_timeout", "escalate".into()),
        ("op", "up:1".into()),
    ])
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let chain = chain_of(&app, &admin, &item).await;
    assert_eq!(chain["stages"][0]["name"], "Finance");
    assert_eq!(chain["stages"][0]["rule"], json!({"quorum": 2}));
    assert_eq!(chain["stages"][0]["on_timeout"], "escalate");
    assert_eq!(chain["stages"][0]["timeout_after_hours"], 16);
    assert_eq!(chain["stages"][1]["name"], "Line manager");
    // The page shows the saved chain in people's words.
    let page = app.page("GET", &path, Some(&b.cookie), None).await;
    assert!(page.body.contains("The manager of the person it is for"));
    assert!(page.body.contains("Anyone in Finance"));
    // Removing the second step leaves the first.
    let r = post(vec![
        ("count", "2".into()),
        ("s0.name", "Finance".into()),
        ("s0.approver", format!("group:{group}")),
        ("s1.approver", "manager".into()),
        ("op", "remove:1".into()),
    ])
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        chain_of(&app, &admin, &item).await["stages"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // People who do not manage the catalog cannot open or change it.
    let (requester_id, _) = app.user_with_role("requester").await;
    let email = app.email_of(&requester_id).await;
    let rb = app.browser_login(&email).await;
    let page = app.page("GET", &path, Some(&rb.cookie), None).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let r = app
        .page(
            "POST",
            &path,
            Some(&rb.cookie),
            Some(&[("_csrf", &rb.csrf), ("count", "0"), ("op", "add")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_item_exports_and_imports_as_a_new_draft() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let (_, group) = app
        .json(
            "POST",
            "/v1/groups",
            Some(&admin),
            Some(json!({"name": "Workplace"})),
        )
        .await;
    let form = json!({"fields": [{"id": "why", "type": "text", "label": "Why", "required": true}]});
    let (s, item) = app
        .json(
            "POST",
            "/v1/catalog/items",
            Some(&admin),
            Some(
                json!({"name": "Desk lamp", "form_schema": form, "icon": "building",
                "fulfillment_group_id": group["id"], "tags": ["light"],
                "task_templates": [{"key": "ship", "title": "Ship the lamp"}]}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{item}");
    let b = app.browser_login("admin@example.com").await;
    let export = app
        .page(
            "GET",
            &format!("/catalog/manage/items/{}/export", id_of(&item)),
            Some(&b.cookie),
            None,
        )
        .await;
    assert_eq!(export.status, StatusCode::OK);
    assert!(
        export.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("Desk-lamp.json")
    );
    let doc: Value = serde_json::from_str(&export.body).unwrap();
    assert_eq!(doc["form_schema"]["fields"][0]["label"], "Why");

    // Pasted, it becomes a new draft with the same form and settings.
    let r = app
        .page(
            "POST",
            "/catalog/manage/items/import",
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf), ("json", &export.body)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let copy = r.location.unwrap().rsplit('/').next().unwrap().to_string();
    assert_ne!(copy, id_of(&item));
    let (_, imported) = app
        .json(
            "GET",
            &format!("/v1/catalog/items/{copy}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(imported["status"], "draft");
    assert_eq!(imported["form_schema"], item["form_schema"]);
    assert_eq!(imported["task_templates"], item["task_templates"]);
    assert_eq!(imported["icon"], "building");
    // As a file too.
    let r = app
        .upload(
            "/catalog/manage/items/import",
            &b.cookie,
            &[("_csrf", &b.csrf)],
            (
                "file",
                "Desk-lamp.json",
                "application/json",
                export.body.as_bytes(),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // Not an export: said, nothing made.
    let r = app
        .page(
            "POST",
            "/catalog/manage/items/import",
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf), ("json", "{\"title\": 1}")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("This is not an exported item"),
        "{}",
        r.body
    );

    // Another tenant lacks the group it names: refused with the field.
    let other = TestApp::new().await;
    let ob = other.browser_login("admin@example.com").await;
    let r = other
        .page(
            "POST",
            "/catalog/manage/items/import",
            Some(&ob.cookie),
            Some(&[("_csrf", &ob.csrf), ("json", &export.body)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("fulfillment_group_id: no such group"),
        "{}",
        r.body
    );
}
