//! TestApp: a fresh tenant per test, provisioned through the real provisioning code, with the
//! router driven in-process. The database is `DATABASE_URL`, or a private cluster the tests
//! start themselves (no running server needed).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use firelater::app::{self, AppState};
use firelater::platform::clock::ShiftedClock;
use firelater::platform::config::Config;
use firelater::platform::db::{self, cluster::PrivateCluster, migrate};
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
        let clock = ShiftedClock::default();
        let state = AppState::new(pool, config, Arc::new(clock.clone()));
        TestApp { state, slug, clock }
    }

    pub async fn call(&self, req: Request<Body>) -> (StatusCode, Value) {
        let res = app::router(self.state.clone()).oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
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
}
