//! The issue pages: queue, new issue (422 and success), the issue page with its SLA panel, the
//! action forms, inline edit, saved views and atomic bulk actions.

use axum::http::StatusCode;
use serde_json::json;

use crate::issues::Desk;

fn select(html: &str, css: &str) -> usize {
    let doc = scraper::Html::parse_document(html);
    doc.select(&scraper::Selector::parse(css).unwrap()).count()
}

#[tokio::test]
async fn an_agent_works_an_issue_from_the_pages() {
    let d = Desk::new().await;
    let b = d.app.browser_login("admin@example.com").await;
    let queue = d.app.page("GET", "/issues", Some(&b.cookie), None).await;
    assert_eq!(queue.status, StatusCode::OK);
    assert_eq!(select(&queue.body, "#queue-tabs a[data-tab]"), 5);

    let bad = d
        .app
        .page(
            "POST",
            "/issues",
            Some(&b.cookie),
            Some(&[("_csrf", &b.csrf), ("title", ""), ("impact", "cosmic")]),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        select(&bad.body, "[data-field-error=title]"),
        1,
        "{}",
        bad.body
    );
    assert_eq!(select(&bad.body, "[data-field-error=impact]"), 1);

    let made = d
        .app
        .page(
            "POST",
            "/issues",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("title", "VPN drops every hour"),
                ("description", "Since **Monday** <script>x</script>"),
                ("impact", "moderate"),
                ("urgency", "immediate"),
                ("assigned_group", &d.group),
            ]),
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let url = made.location.unwrap();
    let page = d.app.page("GET", &url, Some(&b.cookie), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<strong>Monday</strong>"));
    assert!(
        !page.body.contains("<script>x</script>"),
        "raw HTML is escaped"
    );
    assert_eq!(select(&page.body, "#sla-panel [data-clock=response]"), 1);
    assert_eq!(
        select(
            &page.body,
            "#sla-panel [data-explain=resolution] li[data-kind=due]"
        ),
        1
    );
    assert!(page.body.contains(">High<"), "moderate × immediate = high");

    let post = |path: String, fields: Vec<(&'static str, String)>| {
        let d = &d;
        let b = &b;
        async move {
            let mut form: Vec<(&str, &str)> = vec![("_csrf", b.csrf.as_str())];
            form.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
            d.app
                .page("POST", &path, Some(&b.cookie), Some(&form))
                .await
        }
    };
    let r = post(
        format!("{url}/assign"),
        vec![("assigned_to", d.agent_id.clone())],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = post(
        format!("{url}/comments"),
        vec![("content", "Rebooted the concentrator".into())],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = post(
        format!("{url}/resolve"),
        vec![
            ("resolution_code", "fixed".into()),
            ("resolution_notes", "".into()),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(select(&r.body, "[data-field-error=resolution_notes]"), 1);
    let r = post(
        format!("{url}/resolve"),
        vec![
            ("resolution_code", "fixed".into()),
            ("resolution_notes", "Firmware update".into()),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = post(
        format!("{url}/resolve"),
        vec![
            ("resolution_code", "fixed".into()),
            ("resolution_notes", "again".into()),
        ],
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "a second resolve is refused"
    );
    assert!(r.body.contains("allowed: close, reopen"), "{}", r.body);
    let page = d.app.page("GET", &url, Some(&b.cookie), None).await;
    assert_eq!(select(&page.body, "#issue-status[data-status=resolved]"), 1);
    assert!(page.body.contains("Rebooted the concentrator"));
    assert_eq!(
        select(
            &page.body,
            "#sla-panel [data-clock=resolution][data-state=met]"
        ),
        1
    );
}

#[tokio::test]
async fn bulk_actions_are_all_or_nothing_and_views_are_saved() {
    let d = Desk::new().await;
    let mk = |title: &'static str| {
        let d = &d;
        async move {
            let (_, i) = d
                .call("POST", "/v1/issues", &d.admin, json!({"title": title}))
                .await;
            i["id"].as_str().unwrap().to_string()
        }
    };
    let (one, two) = (mk("Alpha").await, mk("Beta").await);
    let b = d.app.browser_login("admin@example.com").await;
    // Closing needs "resolved": the first would pass nothing, so neither changes.
    let r = d
        .app
        .page(
            "POST",
            "/issues/bulk",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("action", "close"),
                ("ids", &one),
                ("ids", &two),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("nothing was changed"));
    let r = d
        .app
        .page(
            "POST",
            "/issues/bulk",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("action", "priority"),
                ("value", "critical"),
                ("ids", &one),
                ("ids", &two),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, crit) = d
        .call(
            "GET",
            "/v1/issues?priority=critical",
            &d.admin,
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(crit["meta"]["total"], 2);

    // A bulk change by someone who cannot see one of the issues changes nothing.
    let (_, other) = d
        .call("POST", "/v1/groups", &d.admin, json!({"name": "Hidden"}))
        .await;
    let (_, hidden) = d
        .call(
            "POST",
            "/v1/issues",
            &d.admin,
            json!({"title": "Elsewhere", "assigned_group": other["id"]}),
        )
        .await;
    let agent_email = d.app.email_of(&d.agent_id).await;
    let ab = d.app.browser_login(&agent_email).await;
    let r = d
        .app
        .page(
            "POST",
            "/issues/bulk",
            Some(&ab.cookie),
            Some(&[
                ("_csrf", &ab.csrf),
                ("action", "priority"),
                ("value", "low"),
                ("ids", &one),
                ("ids", hidden["id"].as_str().unwrap()),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let (_, still) = d
        .call(
            "GET",
            &format!("/v1/issues/{one}"),
            &d.admin,
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(
        still["priority"], "critical",
        "the visible one was not changed either"
    );

    // Inline edit (a queue row's form, back to the queue with a toast) and saved views.
    let quick_url = format!("/issues/{two}/quick");
    let quick = |fields: Vec<(String, String)>| {
        let mut form = vec![("_csrf".to_string(), b.csrf.clone())];
        form.extend(fields);
        let (app, cookie, url) = (&d.app, b.cookie.clone(), quick_url.clone());
        async move {
            let form: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            app.page("POST", &url, Some(&cookie), Some(&form)).await
        }
    };
    let row = |status: &str, priority: Option<&str>| {
        let mut f = vec![("status", status), ("back", "status=open")];
        f.extend(priority.map(|p| ("priority", p)));
        f.into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    let r = quick(row("in_progress", Some("high"))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, two_now) = d
        .call(
            "GET",
            &format!("/v1/issues/{two}"),
            &d.admin,
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(two_now["status"], "in_progress");
    assert_eq!(two_now["priority"], "high");
    assert_eq!(r.location.as_deref(), Some("/issues?status=open"));
    let toast = r.toast().expect("a toast says what was saved");
    let number = two_now["issue_number"].as_str().unwrap();
    assert_eq!(
        toast["text"],
        format!("{number} saved: priority High, status In progress.")
    );
    assert!(
        toast.get("undo").is_none(),
        "no undo: the workflow cannot go back to New"
    );
    let r = quick(row("pending", Some("medium"))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // Its undo is the reverse, posted back to the same address.
    let undo = r.toast().unwrap()["undo"].clone();
    assert_eq!(undo["action"], format!("/issues/{two}/quick"));
    let fields: Vec<(String, String)> = serde_json::from_value(undo["fields"].clone()).unwrap();
    let r = quick(fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, undone) = d
        .call(
            "GET",
            &format!("/v1/issues/{two}"),
            &d.admin,
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(
        (undone["status"].as_str(), undone["priority"].as_str()),
        (Some("in_progress"), Some("high")),
        "undo put back what was there"
    );
    // Refused: the browser goes back to the queue (not left at the POST address) and the
    // reason comes as an error toast.
    let r = quick(row("resolved", None)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location.as_deref(), Some("/issues?status=open"));
    let toast = r.toast().unwrap();
    assert_eq!(toast["kind"], "error");
    assert!(
        toast["text"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{number} was not changed: resolving needs")),
        "{toast}"
    );
    assert!(toast.get("undo").is_none());
    let r = d
        .app
        .page(
            "POST",
            "/issues/views",
            Some(&b.cookie),
            Some(&[
                ("_csrf", &b.csrf),
                ("name", "Hot"),
                ("query", "priority=high&bogus=1"),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location.as_deref(), Some("/issues?priority=high"));
    let queue = d
        .app
        .page("GET", "/issues?priority=high", Some(&b.cookie), None)
        .await;
    assert_eq!(select(&queue.body, "a[data-view=Hot]"), 1);
    assert_eq!(select(&queue.body, "tr[data-issue]"), 1);
}

fn text_in(html: &str, css: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    doc.select(&scraper::Selector::parse(css).unwrap())
        .map(|e| {
            e.text()
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[tokio::test]
async fn an_agent_edits_the_details_and_the_activity_stream_tells_it_in_order() {
    let d = Desk::new().await;
    let (_, issue) = d
        .call(
            "POST",
            "/v1/issues",
            &d.requester,
            json!({"title": "Monitor flickers", "description": "Since the update"}),
        )
        .await;
    let id = issue["id"].as_str().unwrap();
    let url = format!("/issues/{id}");
    let (_, cat) = d
        .call(
            "POST",
            "/v1/issue-categories",
            &d.admin,
            json!({"name": "Hardware"}),
        )
        .await;
    let cat = cat["id"].as_str().unwrap();
    let (_, app) = d
        .call(
            "POST",
            "/v1/applications",
            &d.admin,
            json!({"name": "Intranet", "tier": "P3"}),
        )
        .await;
    let (_, other_app) = d
        .call(
            "POST",
            "/v1/applications",
            &d.admin,
            json!({"name": "Payroll", "tier": "P2"}),
        )
        .await;
    let (_, env) = d
        .call(
            "POST",
            &format!(
                "/v1/applications/{}/environments",
                other_app["id"].as_str().unwrap()
            ),
            &d.admin,
            json!({"name": "production", "type": "prod"}),
        )
        .await;
    let b = d.app.browser_login("admin@example.com").await;
    d.call(
        "POST",
        &format!("/v1/issues/{id}/comments"),
        &d.admin,
        json!({"content": "Which monitor model?"}),
    )
    .await;

    // An environment of another application is refused beside its field, keeping what was typed.
    let app_id = app["id"].as_str().unwrap();
    let env_id = env["id"].as_str().unwrap();
    let form = |env: &'static str| {
        vec![
            ("_csrf", b.csrf.clone()),
            ("title", "Monitor flickers when docked".to_string()),
            ("description", "Since the update".to_string()),
            ("priority", "high".to_string()),
            ("impact", "moderate".to_string()),
            ("urgency", "".to_string()),
            ("issue_type", "issue".to_string()),
            ("category_id", cat.to_string()),
            ("application_id", app_id.to_string()),
            (
                "environment_id",
                if env.is_empty() {
                    String::new()
                } else {
                    env_id.to_string()
                },
            ),
        ]
    };
    let bad = form("other");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = d.app.page("POST", &url, Some(&b.cookie), Some(&bad)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(select(&r.body, "details#edit-details[open]"), 1);
    assert_eq!(
        select(&r.body, "[data-field-error=environment_id]"),
        1,
        "{}",
        r.body
    );
    assert_eq!(
        select(
            &r.body,
            "input[name=title][value='Monitor flickers when docked']"
        ),
        1
    );

    let good = form("");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = d.app.page("POST", &url, Some(&b.cookie), Some(&good)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.toast().unwrap()["text"], "Saved.");
    let (_, now) = d
        .call(
            "GET",
            &format!("/v1/issues/{id}"),
            &d.admin,
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(now["title"], "Monitor flickers when docked");
    assert_eq!(now["priority"], "high");
    assert_eq!(now["category_id"], cat);
    assert_eq!(now["application_id"], app_id);
    // Saving again unchanged changes nothing and adds nothing to the stream.
    let r = d.app.page("POST", &url, Some(&b.cookie), Some(&good)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    let page = d.app.page("GET", &url, Some(&b.cookie), None).await;
    let entries = text_in(&page.body, "#activity > li");
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| {
            if e.contains("moved it") || e.contains("raised it") {
                "status"
            } else if e.contains(" changed ") {
                "fields"
            } else {
                "comment"
            }
        })
        .collect();
    assert_eq!(kinds, ["status", "comment", "fields"], "{entries:#?}");
    let fields = &entries[2];
    for part in [
        "changed Title from Monitor flickers to Monitor flickers when docked",
        "Priority from Medium to High",
        "Impact from none to Moderate",
        "Category from none to Hardware",
        "Application from none to Intranet",
    ] {
        assert!(fields.contains(part), "{part} in {fields}");
    }

    // The requester sees the conversation and the statuses, not the form or the field edits.
    let requester_email = d.app.email_of(&d.requester_id).await;
    let r = d.app.browser_login(&requester_email).await;
    let page = d.app.page("GET", &url, Some(&r.cookie), None).await;
    assert_eq!(select(&page.body, "#edit-details"), 0);
    assert_eq!(select(&page.body, "#activity [data-entry=fields]"), 0);
    assert_eq!(select(&page.body, "#activity [data-comment]"), 1);
}

#[tokio::test]
async fn the_audit_log_names_and_links_records_and_words_each_change() {
    let d = Desk::new().await;
    let (_, issue) = d
        .call(
            "POST",
            "/v1/issues",
            &d.admin,
            json!({"title": "Door badge fails"}),
        )
        .await;
    let id = issue["id"].as_str().unwrap();
    let number = issue["issue_number"].as_str().unwrap();
    d.call(
        "PUT",
        &format!("/v1/issues/{id}"),
        &d.agent,
        json!({"priority": "high"}),
    )
    .await;
    let b = d.app.browser_login("admin@example.com").await;
    let page = d
        .app
        .page(
            "GET",
            &format!("/admin/audit?entity_type=issue&actor={}", d.agent_id),
            Some(&b.cookie),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let rows = text_in(&page.body, "#audit-table tbody tr");
    assert_eq!(rows.len(), 1, "only the agent's change: {rows:#?}");
    assert!(rows[0].contains("Update"), "{}", rows[0]);
    assert!(rows[0].contains("Priority: Medium → High"), "{}", rows[0]);
    assert_eq!(
        select(&page.body, &format!("#audit-table a[href='/issues/{id}']")),
        1
    );
    assert!(rows[0].contains(&format!("{number} Door badge fails")));
    // The filters are dropdowns of what occurs, chosen ones kept.
    assert_eq!(
        select(
            &page.body,
            "select[name=entity_type] option[value=issue][selected]"
        ),
        1
    );
    assert_eq!(
        text_in(&page.body, "select[name=entity_type] option[value=issue]"),
        ["Issue"]
    );
    assert_eq!(
        select(
            &page.body,
            &format!(
                "select[name=actor] option[value='{}'][selected]",
                d.agent_id
            )
        ),
        1
    );
}
