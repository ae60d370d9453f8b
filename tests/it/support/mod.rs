//! TestApp: a fresh tenant per test, provisioned through the real provisioning code, with the
//! router driven in-process. The database is `DATABASE_URL`, or a private cluster the tests
//! start themselves (no running server needed).

pub mod receiver;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use firelater::app;
use firelater::platform::clock::ShiftedClock;
use firelater::platform::config::Config;
use firelater::platform::db::{self, cluster::PrivateCluster, migrate};
use firelater::platform::state::AppState;
use firelater::platform::tenancy::{self, NewTenant, Slug};
use http_body_util::BodyExt;
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::OnceCell;
use tower::ServiceExt;

static OPTIONS: std::sync::OnceLock<sqlx::postgres::PgConnectOptions> = std::sync::OnceLock::new();
static MIGRATED: OnceCell<()> = OnceCell::const_new();

/// Each #[tokio::test] has its own runtime, so each test gets its own small pool; the cluster
/// and the public migrations are set up once per test process.
pub async fn pool() -> PgPool {
    let options = OPTIONS
        .get_or_init(|| match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => url
                .parse::<sqlx::postgres::PgConnectOptions>()
                .expect("DATABASE_URL")
                .database("firelater_it"),
            _ => {
                let cluster =
                    PrivateCluster::start(&std::env::temp_dir().join("firelater-it-pg"), true)
                        .expect("private cluster");
                db::cluster_options(&cluster, "firelater_it")
            }
        })
        .clone();
    let pool = db::connect_creating(options, 8).await.expect("connect");
    MIGRATED
        .get_or_init(|| async {
            migrate::migrate_public(&pool)
                .await
                .expect("public migrations");
            app::prepare_sessions(&pool).await.expect("sessions");
        })
        .await;
    pool
}

/// A database of its own (created and migrated), for tests that run job workers: a worker claims
/// every tenant's jobs, so it must not share the queue with other tests running at the same time.
pub struct IsolatedDb {
    pub name: String,
    pub pool: PgPool,
}

impl IsolatedDb {
    pub async fn new() -> Self {
        pool().await; // the cluster exists
        let name = format!(
            "firelater_it_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        );
        let options = OPTIONS.get().unwrap().clone().database(&name);
        let pool = db::connect_creating(options, 8).await.expect("connect");
        migrate::migrate_public(&pool)
            .await
            .expect("public migrations");
        IsolatedDb { name, pool }
    }

    /// A `DATABASE_URL` for a `firelater` subprocess.
    pub fn url(&self) -> String {
        let o = OPTIONS.get().unwrap();
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => {
                let (base, query) = url.split_once('?').unwrap_or((&url, ""));
                let server = base.rsplit_once('/').map(|(s, _)| s).unwrap_or(base);
                let query = if query.is_empty() {
                    String::new()
                } else {
                    format!("?{query}")
                };
                format!("{server}/{}{query}", self.name)
            }
            _ => format!(
                "postgres://{}@localhost:{}/{}?host={}",
                o.get_username(),
                o.get_port(),
                self.name,
                o.get_socket().expect("private cluster socket").display()
            ),
        }
    }

    pub async fn tenant(&self) -> Slug {
        let slug = Slug::parse(&unique_slug()).unwrap();
        tenancy::provision(
            &self.pool,
            &firelater::app::manifest(),
            &NewTenant {
                slug: slug.clone(),
                name: "Jobs Org".into(),
                plan: "professional".into(),
                admin_email: "admin@example.com".into(),
                admin_name: "Admin".into(),
                admin_password: PASSWORD.into(),
            },
        )
        .await
        .expect("provision");
        slug
    }

    pub async fn drop(self) {
        self.pool.close().await;
        let admin = pool().await;
        let _ = sqlx::raw_sql(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        ))
        .execute(&admin)
        .await;
    }
}

pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub state: AppState,
    pub slug: Slug,
    pub clock: ShiftedClock,
}

pub fn unique_slug() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

impl TestApp {
    pub async fn new() -> Self {
        let pool = pool().await;
        let slug = Slug::parse(&unique_slug()).unwrap();
        tenancy::provision(
            &pool,
            &firelater::app::manifest(),
            &NewTenant {
                slug: slug.clone(),
                name: "Test Org".into(),
                plan: "professional".into(),
                admin_email: "admin@example.com".into(),
                admin_name: "Admin".into(),
                admin_password: PASSWORD.into(),
            },
        )
        .await
        .expect("provision");
        let mut config = Config::from_lookup(|_| None).unwrap();
        config.secret_key = b"test-secret-key-test-secret-key-0123".to_vec();
        // Uploaded files go to a scratch directory (tenants are unique, so runs never clash).
        config.data_dir = std::env::temp_dir().join("firelater-it-data");
        // Webhook receivers in the tests listen on loopback, which the SSRF guard refuses
        // unless explicitly allowed.
        config.outbound_allow =
            firelater::platform::outbound::Allow::parse("127.0.0.0/8").expect("a CIDR");
        let clock = ShiftedClock::default();
        let state = firelater::app::state(pool, config, Arc::new(clock.clone()));
        TestApp { state, slug, clock }
    }

    /// One request through the whole router: status, headers and the body's bytes.
    pub async fn respond(
        &self,
        req: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, axum::body::Bytes) {
        let res = app::router(self.state.clone()).oneshot(req).await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, headers, bytes)
    }

    pub async fn call(&self, req: Request<Body>) -> (StatusCode, Value) {
        let (status, _, bytes) = self.respond(req).await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn json(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut b = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json");
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        self.call(
            b.body(
                body.map(|v| Body::from(v.to_string()))
                    .unwrap_or_else(Body::empty),
            )
            .unwrap(),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Value {
        let (s, body) = self
            .json("POST", "/v1/auth/login", None, Some(serde_json::json!({"tenant": self.slug.as_str(), "email": email, "password": password})))
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        body
    }

    pub async fn admin_token(&self) -> String {
        self.login("admin@example.com", PASSWORD).await["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Creates a user with `role` and returns (id, access token).
    pub async fn user_with_role(&self, role: &str) -> (String, String) {
        let admin = self.admin_token().await;
        let email = format!(
            "{role}-{}@example.com",
            &uuid::Uuid::new_v4().simple().to_string()[..6]
        );
        let (s, u) = self
            .json("POST", "/v1/users", Some(&admin), Some(serde_json::json!({"email": email, "name": role, "password": PASSWORD, "roles": [role]})))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{u}");
        let token = self.login(&email, PASSWORD).await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        (u["id"].as_str().unwrap().to_string(), token)
    }

    /// The sign-in address of one of this tenant's users.
    pub async fn email_of(&self, user_id: &str) -> String {
        sqlx::query_scalar(&format!(
            "SELECT email FROM tenant_{}.users WHERE id = $1",
            self.slug
        ))
        .bind(uuid::Uuid::parse_str(user_id).expect("a user id"))
        .fetch_one(&self.state.pool)
        .await
        .expect("the user exists")
    }
}

/// A signed-in browser: its session cookie and the CSRF token its pages carry.
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Page {
    /// The toast a redirect carries (`platform::toast`), decoded.
    pub fn toast(&self) -> Option<serde_json::Value> {
        let raw = self
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("fl_toast="))?;
        let value = raw.split(';').next()?;
        let json: String = url::form_urlencoded::parse(format!("t={value}").as_bytes())
            .next()?
            .1
            .into_owned();
        serde_json::from_str(&json).ok()
    }
}

fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("firelater_session="))
        .map(|c| c.split(';').next().unwrap().to_string())
}

pub fn csrf_in(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("input[name=_csrf], meta[name=csrf-token]").unwrap();
    let el = doc.select(&sel).next().expect("a CSRF token on the page");
    el.value()
        .attr("value")
        .or_else(|| el.value().attr("content"))
        .unwrap()
        .to_string()
}

impl TestApp {
    /// One HTML request; `form` makes it a url-encoded POST.
    pub async fn page(
        &self,
        method: &str,
        uri: &str,
        cookie: Option<&str>,
        form: Option<&[(&str, &str)]>,
    ) -> Page {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(c) = cookie {
            b = b.header("cookie", c);
        }
        let body = match form {
            Some(fields) => {
                b = b.header("content-type", "application/x-www-form-urlencoded");
                Body::from(serde_urlencoded::to_string(fields).unwrap())
            }
            None => Body::empty(),
        };
        self.send(b.body(body).unwrap()).await
    }

    /// A multipart POST like a browser's file upload: text fields, then one file
    /// `(field, filename, content type, bytes)`.
    pub async fn upload(
        &self,
        uri: &str,
        cookie: &str,
        fields: &[(&str, &str)],
        file: (&str, &str, &str, &[u8]),
    ) -> Page {
        let boundary = "----firelater-test-boundary";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        let (field, filename, content_type, bytes) = file;
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let req = Request::builder()
            .method("POST")
            .uri(uri)
            .header("cookie", cookie)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    async fn send(&self, req: Request<Body>) -> Page {
        let (status, headers, bytes) = self.respond(req).await;
        Page {
            status,
            location: headers
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use firelater::platform::clock::Clock;
        self.clock.now()
    }

    /// Runs this tenant's due jobs (timers, event dispatch, mail) at the injected clock's now —
    /// fast-forward by `clock.advance`, then run.
    pub async fn run_jobs(&self) -> usize {
        let worker = firelater::platform::jobs::Worker::new(
            self.state.pool.clone(),
            app::job_registry(&self.state).unwrap(),
            Arc::new(self.clock.clone()),
            1,
        );
        worker.drain(&self.slug, 500).await.unwrap()
    }

    /// Signs in through the login form, like a browser.
    pub async fn browser_login(&self, email: &str) -> Browser {
        let login = self.page("GET", "/login", None, None).await;
        let cookie = session_cookie(&login.headers).expect("session cookie");
        let csrf = csrf_in(&login.body);
        let done = self
            .page(
                "POST",
                "/login",
                Some(&cookie),
                Some(&[
                    ("_csrf", &csrf),
                    ("tenant", self.slug.as_str()),
                    ("email", email),
                    ("password", PASSWORD),
                    ("next", "/"),
                ]),
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        // The session id rotates on login.
        let cookie = session_cookie(&done.headers).unwrap_or(cookie);
        let home = self.page("GET", "/", Some(&cookie), None).await;
        assert_eq!(home.status, StatusCode::OK);
        Browser {
            csrf: csrf_in(&home.body),
            cookie,
        }
    }
}

/// The `id` of a created record, as text (panics naming the body when there is none).
pub fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

/// The item of a `{"data": [...]}` list whose `name` is `name`.
pub fn named(list: &Value, name: &str) -> Value {
    list["data"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["name"] == name))
        .unwrap_or_else(|| panic!("no '{name}' in {list}"))
        .clone()
}

impl TestApp {
    /// An API call with a raw body of `content_type` (uploads, calendars).
    pub async fn raw(
        &self,
        method: &str,
        uri: &str,
        token: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", content_type)
            .body(Body::from(body))
            .expect("a well-formed request");
        self.call(req).await
    }
}

/// An SMTP server on loopback that accepts everything and keeps each message's raw text.
#[derive(Clone)]
pub struct SmtpSink {
    pub url: String,
    mails: Arc<std::sync::Mutex<Vec<String>>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let url = format!("smtp://{}", listener.local_addr().expect("an address"));
        let mails: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let kept = mails.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(smtp_session(stream, kept.clone()));
            }
        });
        SmtpSink { url, mails }
    }

    pub fn mails(&self) -> Vec<String> {
        self.mails.lock().expect("sink lock").clone()
    }
}

async fn smtp_session(
    stream: tokio::net::TcpStream,
    mails: Arc<std::sync::Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let (mut in_data, mut message) = (false, String::new());
    while let Some(line) = lines.next_line().await? {
        let line = line.trim_end_matches('\r');
        if in_data {
            if line == "." {
                mails
                    .lock()
                    .expect("sink lock")
                    .push(std::mem::take(&mut message));
                in_data = false;
                write.write_all(b"250 queued\r\n").await?;
            } else {
                // Undo dot-stuffing.
                message.push_str(line.strip_prefix('.').unwrap_or(line));
                message.push_str("\r\n");
            }
            continue;
        }
        let verb = line.get(..4).unwrap_or(line).to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
            "DATA" => {
                in_data = true;
                b"354 go ahead\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"250 ok\r\n",
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

/// A header of a raw message (folded lines joined), if present.
pub fn mail_header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next().unwrap_or_default();
    let mut found: Option<String> = None;
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = found.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if found.is_some() {
            break;
        }
        if let Some((n, v)) = line.split_once(':')
            && n.eq_ignore_ascii_case(name)
        {
            found = Some(v.trim().to_string());
        }
    }
    found
}
