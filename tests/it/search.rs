//! Search: ranked full-text and number matching, filtered by what the caller may see.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::issues::Desk;

fn titles(body: &Value, kind: &str) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["type"] == kind)
        .map(|h| h["title"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn search_finds_by_words_number_and_comments_within_permissions() {
    let d = Desk::new().await;
    let (_, other) = d
        .call("POST", "/v1/groups", &d.admin, json!({"name": "Finance"}))
        .await;
    let (_, secret) = d
        .call(
            "POST",
            "/v1/issues",
            &d.admin,
            json!({"title": "Payroll export failing", "assigned_group": other["id"]}),
        )
        .await;
    let (_, mine) = d
        .call(
            "POST",
            "/v1/issues",
            &d.requester,
            json!({"title": "Cannot print invoices", "description": "The payroll printer jams"}),
        )
        .await;
    d.call(
        "POST",
        &format!("/v1/issues/{}/comments", mine["id"].as_str().unwrap()),
        &d.agent,
        json!({"content": "Replaced the fuser assembly", "is_internal": true}),
    )
    .await;

    let (s, all) = d
        .call("GET", "/v1/search?q=payroll", &d.admin, Value::Null)
        .await;
    assert_eq!(s, StatusCode::OK, "{all}");
    let mut found = titles(&all, "issue");
    found.sort();
    assert_eq!(found, ["Cannot print invoices", "Payroll export failing"]);

    let (_, theirs) = d
        .call(
            "GET",
            "/v1/search/issues?q=payroll",
            &d.requester,
            Value::Null,
        )
        .await;
    assert_eq!(titles(&theirs, "issue"), ["Cannot print invoices"]);
    // Each hit says its status and shows its description around the word.
    assert_eq!(theirs["data"][0]["status"], "new");
    assert_eq!(theirs["data"][0]["snippet"], "The payroll printer jams");
    let (_, outsider) = d
        .call("GET", "/v1/search?q=payroll", &d.outsider, Value::Null)
        .await;
    assert_eq!(
        titles(&outsider, "issue"),
        ["Cannot print invoices"],
        "unassigned only"
    );

    let number = secret["issue_number"].as_str().unwrap();
    let short = number.trim_start_matches("ISS-").trim_start_matches('0');
    let (_, by_number) = d
        .call(
            "GET",
            &format!("/v1/search?q=ISS-{short}"),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(by_number["data"][0]["number"], number);

    // Internal notes are searchable for agents, not for the requester.
    let (_, agent_hits) = d
        .call("GET", "/v1/search/issues?q=fuser", &d.agent, Value::Null)
        .await;
    assert_eq!(titles(&agent_hits, "issue"), ["Cannot print invoices"]);
    let (_, req_hits) = d
        .call(
            "GET",
            "/v1/search/issues?q=fuser",
            &d.requester,
            Value::Null,
        )
        .await;
    assert!(titles(&req_hits, "issue").is_empty());

    let (s, _) = d.call("GET", "/v1/search?q=", &d.admin, Value::Null).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // The page jumps straight to an exact number.
    let b = d.app.browser_login("admin@example.com").await;
    let jump = d
        .app
        .page("GET", &format!("/search?q={number}"), Some(&b.cookie), None)
        .await;
    assert_eq!(jump.status, StatusCode::SEE_OTHER);
    assert_eq!(
        jump.location.unwrap(),
        format!("/issues/{}", secret["id"].as_str().unwrap())
    );
}

/// The command palette's options, as (label, data-href or data-post) in order.
fn options(html: &str) -> Vec<(String, String)> {
    let doc = scraper::Html::parse_fragment(html);
    let sel = scraper::Selector::parse("[role=option]").unwrap();
    doc.select(&sel)
        .map(|o| {
            let label = o
                .select(&scraper::Selector::parse("span").unwrap())
                .next()
                .map(|s| s.text().collect::<String>())
                .unwrap_or_else(|| o.text().collect());
            let to = o
                .value()
                .attr("data-href")
                .or(o.value().attr("data-post"))
                .unwrap_or_default()
                .to_string();
            (label, to)
        })
        .collect()
}

#[tokio::test]
async fn the_palette_finds_pages_issues_and_actions_within_what_each_person_may_do() {
    let d = Desk::new().await;
    let (_, issue) = d
        .call(
            "POST",
            "/v1/issues",
            &d.requester,
            json!({"title": "Laptop will not charge"}),
        )
        .await;
    let (id, number) = (
        issue["id"].as_str().unwrap(),
        issue["issue_number"].as_str().unwrap(),
    );
    let agent_email = d.app.email_of(&d.agent_id).await;
    let agent = d.app.browser_login(&agent_email).await;
    let get = |who: &crate::support::Browser, q: &str, extra: &str| {
        let url = format!(
            "/palette?{}{extra}",
            serde_urlencoded::to_string([("q", q)]).unwrap()
        );
        let cookie = who.cookie.clone();
        let app = &d.app;
        async move {
            let r = app.page("GET", &url, Some(&cookie), None).await;
            assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.body);
            options(&r.body)
        }
    };

    // "assign ISS-n to me": the action first, as the form the Assign button posts.
    let found = get(&agent, &format!("assign {number} to me"), "").await;
    assert_eq!(
        found[0],
        (
            format!("Assign {number} to me"),
            format!("/issues/{id}/assign")
        ),
        "{found:?}"
    );
    // Fuzzy over pages: "nots" finds the notification settings.
    let found = get(&agent, "nots", "").await;
    assert!(
        found
            .iter()
            .any(|(l, to)| l == "Notification settings" && to == "/profile/notifications"),
        "{found:?}"
    );
    // Words find issues by title; the last option searches everything.
    let found = get(&agent, "charge", "").await;
    assert!(
        found
            .iter()
            .any(|(l, to)| l == &format!("{number} Laptop will not charge")
                && to == &format!("/issues/{id}")),
        "{found:?}"
    );
    assert_eq!(found.last().unwrap().1, "/search?q=charge");
    // On the issue's page, an empty box offers that issue's actions.
    let found = get(&agent, "", &format!("&issue={id}")).await;
    assert!(
        found
            .iter()
            .any(|(l, _)| l == &format!("Resolve {number}…")),
        "{found:?}"
    );

    // A requester gets no agent actions and no admin pages; an outsider's issue stays hidden.
    let requester_email = d.app.email_of(&d.requester_id).await;
    let requester = d.app.browser_login(&requester_email).await;
    let found = get(&requester, number, "").await;
    let labels: Vec<&str> = found.iter().map(|(l, _)| l.as_str()).collect();
    assert!(
        labels.contains(&format!("Open {number}").as_str()),
        "{labels:?}"
    );
    assert!(
        !labels
            .iter()
            .any(|l| l.starts_with("Assign") || l.starts_with("Resolve")),
        "{labels:?}"
    );
    assert!(
        get(&requester, "users", "")
            .await
            .iter()
            .all(|(l, _)| l != "Users")
    );
    let (_, group) = d
        .call("POST", "/v1/groups", &d.admin, json!({"name": "Payroll"}))
        .await;
    let (_, hidden) = d
        .call(
            "POST",
            "/v1/issues",
            &d.admin,
            json!({"title": "Salary file", "assigned_group": group["id"]}),
        )
        .await;
    let hidden_number = hidden["issue_number"].as_str().unwrap();
    let found = get(&agent, &format!("open {hidden_number}"), "").await;
    assert!(
        found
            .iter()
            .all(|(l, to)| to.starts_with("/search") || !l.contains(hidden_number)),
        "another group's issue is not offered: {found:?}"
    );
    // Junk is answered, not a server error.
    for q in ["\u{0}", &"x".repeat(5000), "ISS-", "%%%"] {
        let url = format!(
            "/palette?{}&issue=not-a-uuid",
            serde_urlencoded::to_string([("q", q)]).unwrap()
        );
        let r = d.app.page("GET", &url, Some(&agent.cookie), None).await;
        assert!(
            r.status.is_success() || r.status.is_client_error(),
            "{q}: {}",
            r.status
        );
    }
}
