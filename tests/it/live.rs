//! Live updates: a committed change reaches every open SSE stream of its tenant as an id-only
//! signal, filtered by read permission, never another tenant's; the queue page re-fetches itself
//! on it.

use std::collections::HashSet;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use firelater::app;
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use crate::issues::Desk;
use crate::support::{TestApp, id_of};

/// One open `/live` stream, read event by event.
pub struct Stream {
    body: Body,
    buf: String,
}

pub type Signal = (String, String);

impl Stream {
    pub async fn open(app: &TestApp, cookie: &str) -> Stream {
        let req = Request::get("/live")
            .header("cookie", cookie)
            .body(Body::empty())
            .expect("a request");
        let res = app::router(app.state.clone())
            .oneshot(req)
            .await
            .expect("the router answers");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        Stream {
            body: res.into_body(),
            buf: String::new(),
        }
    }

    /// The next named event (comments and keep-alives skipped); None when the stream ended or
    /// nothing came for 10 s.
    pub async fn next(&mut self) -> Option<Signal> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut event, mut data) = (None, String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if let Some(event) = event {
                    return Some((event, data));
                }
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .ok()??
                .ok()?;
            if let Ok(bytes) = frame.into_data() {
                self.buf.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }

    /// Every event up to and including `wanted` (panics if it never comes).
    pub async fn until(&mut self, wanted: &Signal) -> Vec<Signal> {
        let mut seen = Vec::new();
        loop {
            let s = self
                .next()
                .await
                .unwrap_or_else(|| panic!("{wanted:?} never arrived; saw {seen:?}"));
            seen.push(s.clone());
            if &s == wanted {
                return seen;
            }
        }
    }

    /// Whether the server ends the stream (rather than it idling for 10 s).
    async fn ends(&mut self) -> bool {
        let wait = async {
            while let Some(frame) = self.body.frame().await {
                if frame.is_err() {
                    break;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .is_ok()
    }
}

pub async fn live(app: &TestApp) {
    app.state.live.start(app.state.pool.clone());
    app.state.live.listening().await;
}

#[tokio::test]
async fn changes_reach_every_open_stream_of_their_tenant_by_permission() {
    let d = Desk::new().await;
    let other = TestApp::new().await;
    live(&d.app).await;
    live(&other).await;
    let agent = d
        .app
        .browser_login(&d.app.email_of(&d.agent_id).await)
        .await;
    let requester = d
        .app
        .browser_login(&d.app.email_of(&d.requester_id).await)
        .await;
    let stranger = other.browser_login("admin@example.com").await;
    let mut tab1 = Stream::open(&d.app, &agent.cookie).await;
    let mut tab2 = Stream::open(&d.app, &agent.cookie).await;
    let mut own = Stream::open(&d.app, &requester.cookie).await;
    let mut elsewhere = Stream::open(&other, &stranger.cookie).await;

    let (s, user) = d
        .call(
            "POST",
            "/v1/users",
            &d.admin,
            json!({"email": "new.hire@example.com", "name": "New Hire", "password": "correct horse battery staple"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{user}");
    let (s, issue) = d
        .call(
            "POST",
            "/v1/issues",
            &d.admin,
            json!({"title": "Printer on fire", "assigned_group": d.group}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{issue}");
    // Nothing is signalled before the outbox is dispatched (i.e. after commit, by the worker).
    d.app.run_jobs().await;
    let user_changed = ("user".to_string(), id_of(&user));
    let issue_changed = ("issue".to_string(), id_of(&issue));

    // Both of the agent's tabs hear about the user and the issue (agents may read both).
    for tab in [&mut tab1, &mut tab2] {
        let seen = tab.until(&issue_changed).await;
        assert!(seen.contains(&user_changed), "{seen:?}");
        assert!(seen.iter().all(|(_, id)| !id.is_empty()));
    }
    // The requester cannot read users, so only issue signals reach them.
    let seen = own.until(&issue_changed).await;
    assert!(seen.iter().all(|(e, _)| e == "issue"), "{seen:?}");

    // Three changes to one issue in one dispatch make one signal: the next one after it is a
    // different issue's.
    for text in ["on it", "toner replaced", "still smoking"] {
        let (s, _) = d
            .call(
                "POST",
                &format!("/v1/issues/{}/comments", id_of(&issue)),
                &d.admin,
                json!({"content": text}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    d.app.run_jobs().await;
    let (_, sentinel) = d
        .call("POST", "/v1/issues", &d.admin, json!({"title": "Sentinel"}))
        .await;
    d.app.run_jobs().await;
    let sentinel_changed = ("issue".to_string(), id_of(&sentinel));
    // (The agent's own notification signals are interleaved; they are tested elsewhere.)
    let about_issues: Vec<Signal> = tab1
        .until(&sentinel_changed)
        .await
        .into_iter()
        .filter(|(e, _)| e != "notification")
        .collect();
    assert_eq!(
        about_issues,
        vec![issue_changed.clone(), sentinel_changed.clone()]
    );

    // The other tenant's stream heard none of this: its first issue signal is its own.
    let admin = other.admin_token().await;
    let (_, theirs) = other
        .json(
            "POST",
            "/v1/issues",
            Some(&admin),
            Some(json!({"title": "Their own problem"})),
        )
        .await;
    other.run_jobs().await;
    let seen = elsewhere
        .until(&("issue".to_string(), id_of(&theirs)))
        .await;
    let ours: HashSet<String> = [&user, &issue, &sentinel].into_iter().map(id_of).collect();
    assert!(seen.iter().all(|(_, id)| !ours.contains(id)), "{seen:?}");

    // Shutting down ends open streams, so a graceful shutdown is not held up.
    d.app.state.live.close();
    assert!(tab1.ends().await);
}

#[tokio::test]
async fn the_queue_page_refreshes_itself_on_issue_signals() {
    let d = Desk::new().await;
    let b = d.app.browser_login("admin@example.com").await;
    let page = d
        .app
        .page("GET", "/issues?priority=medium", Some(&b.cookie), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let doc = scraper::Html::parse_document(&page.body);
    let one = |css: &str| {
        doc.select(&scraper::Selector::parse(css).expect("a selector"))
            .next()
            .unwrap_or_else(|| panic!("no {css}"))
            .value()
            .clone()
    };
    assert_eq!(one("[sse-connect]").attr("sse-connect"), Some("/live"));
    let region = one("#issue-queue");
    assert_eq!(
        region.attr("hx-trigger"),
        Some("sse:issue delay:300ms, sse:resync")
    );
    assert_eq!(region.attr("hx-get"), Some("/issues?priority=medium"));
    assert_eq!(region.attr("data-live-refresh"), Some("queue-stale"));
    assert!(one("#queue-stale").attr("hidden").is_some());
}
