//! A local HTTP receiver standing in for webhook endpoints and providers (Slack, Teams,
//! PagerDuty, SMS): it answers from a script and remembers every request.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};

#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
    pub answered: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Default)]
struct Script {
    next: VecDeque<u16>,
    otherwise: u16,
    /// Answered with every 2xx (e.g. Slack's `{"ok":true}`).
    body: String,
    seen: Vec<Received>,
}

#[derive(Clone)]
pub struct Receiver {
    /// `http://127.0.0.1:PORT`: every path answers.
    pub base: String,
    /// `…/hook`.
    pub url: String,
    script: Arc<Mutex<Script>>,
}

impl Receiver {
    pub async fn start(otherwise: u16) -> Receiver {
        let script = Arc::new(Mutex::new(Script {
            otherwise,
            ..Default::default()
        }));
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url: format!("{base}/hook"),
            base,
            script,
        }
    }

    /// The next answers, in order; then `otherwise`.
    pub fn then(&self, statuses: &[u16]) {
        self.script.lock().expect("script").next.extend(statuses);
    }

    pub fn otherwise(&self, status: u16) {
        self.script.lock().expect("script").otherwise = status;
    }

    pub fn success_body(&self, body: &str) {
        self.script.lock().expect("script").body = body.to_string();
    }

    pub fn seen(&self) -> Vec<Received> {
        self.script.lock().expect("script").seen.clone()
    }
}

async fn answer(
    State(s): State<Arc<Mutex<Script>>>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    let mut s = s.lock().expect("script");
    let status = s.next.pop_front().unwrap_or(s.otherwise);
    s.seen.push(Received {
        path: uri.path().to_string(),
        headers,
        body,
        answered: status,
    });
    let reply = if (200..300).contains(&status) {
        s.body.clone()
    } else {
        "unavailable".into()
    };
    (StatusCode::from_u16(status).expect("a status"), reply)
}
