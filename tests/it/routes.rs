//! Walks of the whole route table: the `/v1` routes come from the OpenAPI document (which is
//! generated from the router itself), the pages from `app::web_routes()`. New routes are covered
//! without touching these tests — and a new route with an id must be taught to `ids_for`.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, id_of};

const PUBLIC_API: &[&str] = &[
    "/v1/auth/login",
    "/v1/auth/refresh",
    "/v1/auth/forgot-password",
    "/v1/auth/reset-password",
];
const PUBLIC_PAGES: &[&str] = &[
    "/login",
    "/logout",
    "/forgot-password",
    "/reset-password",
    "/approvals/email",
];
const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

async fn openapi(app: &TestApp) -> Value {
    let (s, doc) = app.json("GET", "/v1/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    doc
}

/// (path template, METHOD) of every `/v1` operation.
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS {
            if item.get(*m).is_some() {
                ops.push((path.clone(), m.to_uppercase()));
            }
        }
    }
    ops
}

fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut uri = template.to_string();
    for (name, value) in values {
        uri = uri.replace(&format!("{{{name}}}"), value);
    }
    assert!(!uri.contains('{'), "no value for a parameter of {template}");
    uri
}

#[tokio::test]
async fn openapi_document_describes_every_operation() {
    let app = TestApp::new().await;
    let doc = openapi(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let ops = operations(&doc);
    assert!(ops.len() >= 36, "only {} operations documented", ops.len());
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut ids = std::collections::HashSet::new();
    for (path, method) in &ops {
        let op = &doc["paths"][path][method.to_lowercase()];
        let id = op["operationId"].as_str().expect("operationId");
        assert!(ids.insert(id.to_string()), "duplicate operationId {id}");
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|k| k.starts_with('2')),
            "{method} {path} documents no success answer"
        );
        if !PUBLIC_API.contains(&path.as_str()) {
            assert!(
                responses.contains_key("401"),
                "{method} {path} lacks its 401"
            );
        }
        // Actions that take no input: job retry/discard, logout, secret rotation, a webhook
        // test and redelivery.
        let bodyless = path.contains("/jobs/")
            || [
                "/logout",
                "/rotate-secret",
                "/test",
                "/redeliver",
                "/read",
                "/read-all",
                "/watch",
                "/retry",
                "/publish",
                "/clone",
            ]
            .iter()
            .any(|end| path.ends_with(end));
        if method == "PUT" || (method == "POST" && !bodyless) {
            assert!(
                op.get("requestBody").is_some(),
                "{method} {path} has no request body schema"
            );
        }
    }
    // Every reference points at a schema that exists.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "dangling $ref {name}");
    }
    // The reference page is built from the same document and needs no network.
    let page = app.page("GET", "/docs", None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    for (path, _) in &ops {
        assert!(page.body.contains(path.as_str()), "/docs lacks {path}");
    }
    assert!(
        !page.body.contains("https://"),
        "/docs must not load remote assets"
    );
}

#[tokio::test]
async fn every_route_refuses_anonymous_callers() {
    let app = TestApp::new().await;
    let doc = openapi(&app).await;
    let any_id = [
        ("id", uuid::Uuid::new_v4().to_string()),
        ("user_id", uuid::Uuid::new_v4().to_string()),
        ("env_id", uuid::Uuid::new_v4().to_string()),
        ("comment_id", uuid::Uuid::new_v4().to_string()),
        ("worklog_id", uuid::Uuid::new_v4().to_string()),
        ("link_id", uuid::Uuid::new_v4().to_string()),
        ("attachment_id", uuid::Uuid::new_v4().to_string()),
        ("delivery_id", uuid::Uuid::new_v4().to_string()),
        ("task_id", uuid::Uuid::new_v4().to_string()),
        ("entity_type", "user".to_string()),
        ("event", "issue.created".to_string()),
        ("channel", "chat".to_string()),
    ];
    for (path, method) in operations(&doc) {
        let uri = fill(&path, &any_id);
        let (s, body) = app.json(&method, &uri, None, Some(json!({}))).await;
        if PUBLIC_API.contains(&path.as_str()) {
            assert!(
                matches!(
                    s,
                    StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY
                ),
                "{method} {uri}: {s}"
            );
        } else {
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{method} {uri}");
            assert_eq!(body["error"]["code"], "unauthorized", "{method} {uri}");
        }
    }

    // Pages: an anonymous visitor (with a valid CSRF token, so only sign-in is being tested)
    // is sent to the login form for every page and every form action.
    let login = app.page("GET", "/login", None, None).await;
    let cookie = login
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = crate::support::csrf_in(&login.body);
    let paths = firelater::app::web_routes().paths;
    assert!(paths.len() >= 20, "web route table looks incomplete");
    for path in paths {
        if PUBLIC_PAGES.contains(&path) {
            continue;
        }
        let uri = fill(path, &any_id);
        for (method, form) in [
            ("GET", None),
            ("POST", Some(&[("_csrf", csrf.as_str())][..])),
        ] {
            let page = app.page(method, &uri, Some(&cookie), form).await;
            // A form's address opened as a page goes to its page (which then asks to sign in).
            let form_page = firelater::platform::web::page_of(&uri);
            match page.status {
                StatusCode::METHOD_NOT_ALLOWED => {}
                StatusCode::SEE_OTHER => assert!(
                    page.location.as_deref().unwrap().starts_with("/login")
                        || (method == "GET" && page.location.as_deref() == Some(&form_page)),
                    "{method} {uri} → {:?}",
                    page.location
                ),
                other => panic!("{method} {uri}: anonymous visitor got {other}"),
            }
        }
    }
}

/// The records of tenant A that tenant B will try to reach.
struct Ids {
    user: String,
    group: String,
    role: String,
    key: String,
    job: String,
    app: String,
    env: String,
    issue: String,
    comment: String,
    worklog: String,
    link: String,
    policy: String,
    hours: String,
    category: String,
    attachment: String,
    webhook: String,
    delivery: String,
    notification: String,
    integration: String,
    channel: String,
    catalog_category: String,
    catalog_item: String,
    request: String,
    approval: String,
    task: String,
    bundle: String,
}

impl Ids {
    fn for_path(&self, path: &str) -> Vec<(&'static str, String)> {
        let mut segments = path
            .trim_start_matches("/v1")
            .trim_start_matches("/admin")
            .split('/')
            .skip(1);
        let mut resource = segments.next().unwrap_or_default();
        while ["sla", "catalog", "manage"].contains(&resource) {
            resource = segments.next().unwrap_or_default();
        }
        if path.contains("issue-categories") {
            resource = "issue-categories";
        }
        let id = match resource {
            "policies" => &self.policy,
            "categories" => &self.catalog_category,
            "items" => &self.catalog_item,
            "requests" => &self.request,
            "approvals" => &self.approval,
            "bundles" => &self.bundle,
            "issue-categories" => &self.category,
            "business-hours" => &self.hours,
            "users" | "audit-logs" => &self.user,
            "groups" => &self.group,
            "roles" => &self.role,
            "api-keys" => &self.key,
            "jobs" => &self.job,
            "applications" => &self.app,
            "issues" => &self.issue,
            "webhooks" => &self.webhook,
            "notifications" | "notification-deliveries" => &self.notification,
            "integrations" => &self.integration,
            "notification-channels" => &self.channel,
            // Named by event and channel kind, not records: each tenant has its own set.
            "notification-templates" => &self.notification,
            other => panic!("teach routes.rs which record to use for /{other}/{{id}}"),
        };
        vec![
            ("id", id.clone()),
            ("user_id", self.user.clone()),
            ("env_id", self.env.clone()),
            ("comment_id", self.comment.clone()),
            ("worklog_id", self.worklog.clone()),
            ("link_id", self.link.clone()),
            ("attachment_id", self.attachment.clone()),
            ("delivery_id", self.delivery.clone()),
            ("task_id", self.task.clone()),
            ("entity_type", "user".to_string()),
            ("event", "issue.created".to_string()),
            ("channel", "chat".to_string()),
        ]
    }
}

async fn records_in(a: &TestApp) -> Ids {
    let admin = a.admin_token().await;
    let (_, me) = a.json("GET", "/v1/auth/me", Some(&admin), None).await;
    let (_, group) = a
        .json(
            "POST",
            "/v1/groups",
            Some(&admin),
            Some(json!({"name": "Ops"})),
        )
        .await;
    let (_, role) = a
        .json(
            "POST",
            "/v1/roles",
            Some(&admin),
            Some(json!({"display_name": "Auditor", "permissions": ["audit:read"]})),
        )
        .await;
    let (_, key) = a
        .json(
            "POST",
            "/v1/api-keys",
            Some(&admin),
            Some(json!({"name": "ci", "scopes": ["users:read"]})),
        )
        .await;
    let (_, app) = a
        .json(
            "POST",
            "/v1/applications",
            Some(&admin),
            Some(json!({"name": "Payroll", "tier": "P2"})),
        )
        .await;
    let app_id = app["id"].as_str().unwrap().to_string();
    let (_, env) = a
        .json(
            "POST",
            &format!("/v1/applications/{app_id}/environments"),
            Some(&admin),
            Some(json!({"name": "prod", "type": "prod"})),
        )
        .await;
    let issue = |title: &'static str| {
        let admin = admin.clone();
        async move {
            let (_, i) = a
                .json(
                    "POST",
                    "/v1/issues",
                    Some(&admin),
                    Some(json!({"title": title})),
                )
                .await;
            i["id"].as_str().unwrap().to_string()
        }
    };
    let (issue_id, other_issue) = (issue("Broken").await, issue("Related").await);
    let (_, comment) = a
        .json(
            "POST",
            &format!("/v1/issues/{issue_id}/comments"),
            Some(&admin),
            Some(json!({"content": "hello"})),
        )
        .await;
    let (_, worklog) = a
        .json(
            "POST",
            &format!("/v1/issues/{issue_id}/worklogs"),
            Some(&admin),
            Some(json!({"time_spent": 10})),
        )
        .await;
    let (_, links) = a
        .json(
            "POST",
            &format!("/v1/issues/{issue_id}/link"),
            Some(&admin),
            Some(json!({"issue_id": other_issue, "link_type": "related"})),
        )
        .await;
    let boundary = "b0undary";
    let upload = axum::http::Request::builder()
        .method("POST")
        .uri(format!("/v1/issues/{issue_id}/attachments"))
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(axum::body::Body::from(format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello\r\n--{boundary}--\r\n"
        )))
        .expect("a well-formed request");
    let (_, attachment) = a.call(upload).await;
    let (_, category) = a
        .json(
            "POST",
            "/v1/issue-categories",
            Some(&admin),
            Some(json!({"name": "Hardware"})),
        )
        .await;
    let (_, policy) = a
        .json(
            "POST",
            "/v1/sla/policies",
            Some(&admin),
            Some(json!({"name": "Gold", "conditions": {"tier": "P1"}})),
        )
        .await;
    let (_, hours) = a
        .json(
            "POST",
            "/v1/sla/business-hours",
            Some(&admin),
            Some(json!({"name": "Night", "timezone": "UTC"})),
        )
        .await;
    // Port 9 (discard) refuses the connection: the test attempt still writes a log row.
    let (_, webhook) = a
        .json(
            "POST",
            "/v1/webhooks",
            Some(&admin),
            Some(json!({"name": "Hook", "url": "http://127.0.0.1:9/", "events": ["*"]})),
        )
        .await;
    let (_, delivery) = a
        .json(
            "POST",
            &format!("/v1/webhooks/{}/test", id_of(&webhook)),
            Some(&admin),
            None,
        )
        .await;
    let (_, integration) = a
        .json(
            "POST",
            "/v1/integrations",
            Some(&admin),
            Some(json!({"type": "webhook", "name": "Bus", "config": {"url": "https://example.com/bus"}})),
        )
        .await;
    let (_, channel) = a
        .json(
            "POST",
            "/v1/notification-channels",
            Some(&admin),
            Some(json!({"name": "Bus", "integration_id": id_of(&integration)})),
        )
        .await;
    let notification: uuid::Uuid = sqlx::query_scalar(&format!(
        "INSERT INTO tenant_{}.notifications (user_id, event_category, event_type, subject, link)
         SELECT id, 'issues', 'created', 'A note', '/issues' FROM tenant_{}.users
         WHERE email = 'admin@example.com' RETURNING id",
        a.slug, a.slug
    ))
    .fetch_one(&a.state.pool)
    .await
    .expect("a notification for tenant A's admin");
    let (_, catalog_category) = a
        .json(
            "POST",
            "/v1/catalog/categories",
            Some(&admin),
            Some(json!({"name": "Hardware"})),
        )
        .await;
    let approver = me["user"]["id"].as_str().unwrap().to_string();
    let (_, item) = a
        .json(
            "POST",
            "/v1/catalog/items",
            Some(&admin),
            Some(
                json!({"name": "Laptop", "category_id": id_of(&catalog_category),
                "form_schema": {"fields": [{"id": "model", "type": "text", "label": "Model"}]},
                "approval_chain": {"stages": [{"approvers": [{"type": "user", "id": approver}]}]}}),
            ),
        )
        .await;
    let catalog_item = id_of(&item);
    a.json(
        "POST",
        &format!("/v1/catalog/items/{catalog_item}/publish"),
        Some(&admin),
        None,
    )
    .await;
    // Raised by the agent so the admin can decide on it.
    let (_, agent) = a.user_with_role("agent").await;
    let (_, request) = a
        .json(
            "POST",
            "/v1/requests",
            Some(&agent),
            Some(json!({"catalog_item_id": catalog_item, "form_data": {"model": "X1"}})),
        )
        .await;
    let (_, approvals) = a
        .json("GET", "/v1/approvals?status=pending", Some(&admin), None)
        .await;
    let (_, bundle) = a
        .json(
            "POST",
            "/v1/catalog/bundles",
            Some(&admin),
            Some(json!({"name": "Starter", "items": [{"item_id": catalog_item}]})),
        )
        .await;
    // A second item without a chain, whose request gets a fulfilment task at once.
    let (_, plain) = a
        .json(
            "POST",
            "/v1/catalog/items",
            Some(&admin),
            Some(json!({"name": "Mouse", "form_schema": {"fields": [{"id": "n", "type": "text", "label": "N"}]},
                "task_templates": [{"key": "give", "title": "Hand it over"}]})),
        )
        .await;
    a.json(
        "POST",
        &format!("/v1/catalog/items/{}/publish", id_of(&plain)),
        Some(&admin),
        None,
    )
    .await;
    let (_, fulfilled) = a
        .json(
            "POST",
            "/v1/requests",
            Some(&agent),
            Some(json!({"catalog_item_id": id_of(&plain), "form_data": {}})),
        )
        .await;
    let (_, tasks) = a
        .json(
            "GET",
            &format!("/v1/requests/{}/tasks", id_of(&fulfilled)),
            Some(&admin),
            None,
        )
        .await;
    let job: i64 =
        sqlx::query_scalar("SELECT id FROM public.jobs WHERE tenant_slug = $1 ORDER BY id LIMIT 1")
            .bind(a.slug.as_str())
            .fetch_one(&a.state.pool)
            .await
            .expect("tenant A has a job (its mutations enqueue event dispatch)");
    Ids {
        user: me["user"]["id"].as_str().unwrap().into(),
        group: group["id"].as_str().unwrap().into(),
        role: role["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{role}"))
            .into(),
        key: key["id"].as_str().unwrap_or_else(|| panic!("{key}")).into(),
        job: job.to_string(),
        app: app_id,
        env: env["id"].as_str().unwrap().into(),
        issue: issue_id,
        comment: comment["id"].as_str().unwrap().into(),
        worklog: worklog["id"].as_str().unwrap().into(),
        link: links["data"][0]["link_id"].as_str().unwrap().into(),
        policy: policy["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{policy}"))
            .into(),
        attachment: attachment["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{attachment}"))
            .into(),
        category: category["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{category}"))
            .into(),
        hours: hours["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{hours}"))
            .into(),
        webhook: id_of(&webhook),
        delivery: id_of(&delivery),
        notification: notification.to_string(),
        integration: id_of(&integration),
        channel: id_of(&channel),
        catalog_category: id_of(&catalog_category),
        catalog_item,
        request: id_of(&request),
        approval: approvals["data"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{approvals}"))
            .into(),
        bundle: id_of(&bundle),
        task: tasks["data"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{tasks}"))
            .into(),
    }
}

/// A body that would be accepted, so only the tenant boundary can refuse it.
fn valid_body(method: &str, path: &str, b_user: &str) -> Option<Value> {
    Some(match (method, path) {
        ("PUT", "/v1/users/{id}") => json!({"name": "Renamed"}),
        ("PUT", "/v1/users/{id}/password") => json!({"new_password": "a brand new secret"}),
        ("PUT", "/v1/groups/{id}") => json!({"name": "Renamed"}),
        ("POST", "/v1/groups/{id}/members") => json!({"user_id": b_user}),
        ("PUT", "/v1/roles/{id}") => json!({"display_name": "Renamed", "permissions": []}),
        ("PUT", "/v1/applications/{id}") => json!({"name": "Renamed", "tier": "P1"}),
        ("POST", "/v1/applications/{id}/environments") => json!({"name": "qa", "type": "test"}),
        ("PUT", "/v1/applications/{id}/environments/{env_id}") => {
            json!({"name": "renamed", "type": "test"})
        }
        ("PUT", "/v1/issues/{id}") => json!({"title": "Renamed"}),
        ("POST", "/v1/issues/{id}/assign" | "/v1/issues/{id}/reassign") => {
            json!({"assigned_to": b_user})
        }
        ("POST", "/v1/issues/{id}/resolve") => {
            json!({"resolution_code": "fixed", "resolution_notes": "done"})
        }
        ("POST", "/v1/issues/{id}/reopen") => json!({"reason": "again"}),
        ("POST", "/v1/issues/{id}/escalate" | "/v1/issues/{id}/close") => json!({}),
        ("POST", "/v1/issues/{id}/comments") | ("PUT", "/v1/issues/{id}/comments/{comment_id}") => {
            json!({"content": "hi"})
        }
        ("POST", "/v1/issues/{id}/worklogs") | ("PUT", "/v1/issues/{id}/worklogs/{worklog_id}") => {
            json!({"time_spent": 5})
        }
        ("POST", "/v1/issues/{id}/link") => {
            json!({"issue_id": uuid::Uuid::new_v4(), "link_type": "related"})
        }
        ("PUT", "/v1/issue-categories/{id}") => json!({"name": "Renamed"}),
        ("PUT", "/v1/sla/policies/{id}") => json!({"name": "Renamed"}),
        ("PUT", "/v1/sla/business-hours/{id}") => json!({"name": "Renamed", "timezone": "UTC"}),
        ("PUT", "/v1/webhooks/{id}") => {
            json!({"name": "Renamed", "url": "https://example.com/hook", "events": ["*"]})
        }
        ("POST", "/v1/webhooks/{id}/replay") => json!({"since": "2020-01-01T00:00:00Z"}),
        ("PUT", "/v1/users/{id}/notifications") => json!({"preferences": []}),
        ("PUT", "/v1/integrations/{id}") => {
            json!({"type": "webhook", "name": "Renamed", "config": {"url": "https://example.com/h"}})
        }
        ("PUT", "/v1/notification-channels/{id}") => {
            json!({"name": "Renamed", "integration_id": uuid::Uuid::new_v4()})
        }
        ("PUT", "/v1/catalog/categories/{id}" | "/v1/catalog/items/{id}") => {
            json!({"name": "Renamed"})
        }
        ("PUT", "/v1/catalog/bundles/{id}") => {
            json!({"name": "Renamed", "items": [{"item_id": uuid::Uuid::new_v4()}]})
        }
        ("POST", "/v1/requests/{id}/assign" | "/v1/requests/{id}/reassign") => {
            json!({"assigned_to": b_user})
        }
        ("POST", "/v1/requests/{id}/complete" | "/v1/requests/{id}/reopen") => json!({}),
        (
            "POST",
            "/v1/requests/{id}/approve"
            | "/v1/requests/{id}/reject"
            | "/v1/approvals/{id}/approve"
            | "/v1/approvals/{id}/reject",
        ) => json!({"comments": "fine"}),
        ("POST", "/v1/requests/{id}/comments") => json!({"content": "hi"}),
        ("PUT", "/v1/requests/{id}") => json!({"form_data": {}}),
        (
            "POST",
            "/v1/requests/{id}/tasks/{task_id}/start"
            | "/v1/requests/{id}/tasks/{task_id}/complete"
            | "/v1/requests/{id}/tasks/{task_id}/skip",
        ) => json!({"notes": "done"}),
        _ => return None,
    })
}

#[tokio::test]
async fn another_tenants_ids_answer_404_on_every_route() {
    let a = TestApp::new().await;
    let b = TestApp::new().await;
    let ids = records_in(&a).await;
    let b_admin = b.admin_token().await;
    let (_, b_me) = b.json("GET", "/v1/auth/me", Some(&b_admin), None).await;
    let b_user = b_me["user"]["id"].as_str().unwrap().to_string();

    let doc = openapi(&b).await;
    for (path, method) in operations(&doc) {
        if !path.contains('{') {
            continue;
        }
        let uri = fill(&path, &ids.for_path(&path));
        let (s, body) = b
            .json(
                &method,
                &uri,
                Some(&b_admin),
                valid_body(&method, &path, &b_user),
            )
            .await;
        if path.starts_with("/v1/notification-templates/") {
            // Named by event and channel kind: tenant B reaches its own templates.
            continue;
        }
        if path.starts_with("/v1/audit-logs/") {
            // A filter, not a record: another tenant's entity simply has no entries here.
            assert_eq!(s, StatusCode::OK, "{uri}");
            assert_eq!(body["data"], json!([]), "{uri}");
        } else {
            assert_eq!(s, StatusCode::NOT_FOUND, "{method} {uri}: {body}");
        }
    }

    let browser = b.browser_login("admin@example.com").await;
    for path in firelater::app::web_routes().paths {
        // Templates are named by event and channel kind: tenant B reaches its own.
        if !path.contains('{') || path.starts_with("/admin/notification-templates/") {
            continue;
        }
        let uri = fill(path, &ids.for_path(path));
        for (method, form) in [
            ("GET", None),
            (
                "POST",
                Some(&[("_csrf", browser.csrf.as_str()), ("name", "Renamed")][..]),
            ),
        ] {
            let mut page = b.page(method, &uri, Some(&browser.cookie), form).await;
            // A form's address opened as a page sends on to its page: that one is not found.
            if method == "GET" && page.status == StatusCode::SEE_OTHER {
                assert_eq!(
                    page.location.as_deref(),
                    Some(firelater::platform::web::page_of(&uri).as_str())
                );
                page = followed(&b, page, &browser.cookie).await;
            }
            assert!(
                matches!(
                    page.status,
                    StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
                ),
                "{method} {uri}: {}",
                page.status
            );
        }
    }
    // And nothing of A changed.
    let a_admin = a.admin_token().await;
    let (_, group) = a
        .json(
            "GET",
            &format!("/v1/groups/{}", ids.group),
            Some(&a_admin),
            None,
        )
        .await;
    assert_eq!(group["name"], "Ops");
}

/// An id in the path that is not an id answers 404 like a missing record: the JSON error under
/// `/v1`, a page in the browser — never 400 or 500.
#[tokio::test]
async fn junk_ids_in_paths_answer_404_in_the_callers_format() {
    let app = TestApp::new().await;
    let admin = app.admin_token().await;
    let doc = openapi(&app).await;
    let junk = |template: &str| {
        let mut uri = String::new();
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            let end = rest[start..].find('}').unwrap() + start;
            uri.push_str(&rest[..start]);
            uri.push_str("not-an-id");
            rest = &rest[end + 1..];
        }
        uri.push_str(rest);
        uri
    };
    for (path, method) in operations(&doc) {
        // Named by event and channel kind, or a filter by entity type: not record ids.
        if !path.contains('{')
            || path.starts_with("/v1/notification-templates/")
            || path.starts_with("/v1/users/{id}/notifications")
            || path.starts_with("/v1/audit-logs/")
        {
            continue;
        }
        let (s, body) = app
            .json(&method, &junk(&path), Some(&admin), Some(json!({})))
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "not_found", "{method} {path}");
    }
    let browser = app.browser_login("admin@example.com").await;
    for path in firelater::app::web_routes().paths {
        if !path.contains('{') || path.starts_with("/admin/notification-templates/") {
            continue;
        }
        let page = app
            .page("GET", &junk(path), Some(&browser.cookie), None)
            .await;
        let page = followed(&app, page, &browser.cookie).await;
        assert!(
            matches!(
                page.status,
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            ),
            "GET {path}: {}",
            page.status
        );
        if page.status == StatusCode::NOT_FOUND {
            assert!(page.body.contains("<html"), "GET {path} answers a page");
        }
    }
}

/// Where the redirects of a form address opened as a page end (its page, maybe reached a
/// level at a time); a list page at the end counts as "not found" for these checks.
async fn followed(
    app: &TestApp,
    mut page: crate::support::Page,
    cookie: &str,
) -> crate::support::Page {
    for _ in 0..5 {
        match (page.status, page.location.clone()) {
            (StatusCode::SEE_OTHER, Some(to)) if !to.starts_with("/login") => {
                page = app.page("GET", &to, Some(cookie), None).await;
                // A list page (no id in its address) shows nothing of the record asked for.
                let has_id = to
                    .split('/')
                    .any(|p| p.parse::<uuid::Uuid>().is_ok() || p.len() > 30);
                if page.status == StatusCode::OK && !has_id {
                    page.status = StatusCode::NOT_FOUND;
                    page.body = format!("<html>{to}: a list page</html>");
                }
            }
            _ => break,
        }
    }
    page
}
