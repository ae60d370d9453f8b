use std::collections::HashSet;

use axum::http::StatusCode;
use firelater::platform::jobs::{self, JobOptions};
use firelater::platform::tenancy::{self, NewTenant, Slug};
use serde_json::json;

use crate::support::{TestApp, pool, unique_slug};

#[tokio::test]
async fn provisioning_failure_leaves_nothing_behind() {
    let pool = pool().await;
    let slug = Slug::parse(&unique_slug()).unwrap();
    let new = NewTenant {
        slug: slug.clone(),
        name: "Doomed".into(),
        plan: "starter".into(),
        admin_email: "a@example.com".into(),
        admin_name: "A".into(),
        admin_password: "correct horse battery".into(),
    };
    let err = tenancy::provision_with(&pool, &firelater::app::manifest(), &new, |_| {
        Err(anyhow::anyhow!("injected failure"))
    })
    .await;
    assert!(err.is_err());
    let tenant: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM public.tenants WHERE slug = $1")
        .bind(slug.as_str())
        .fetch_one(&pool)
        .await
        .unwrap();
    let schema: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_namespace WHERE nspname = $1")
        .bind(slug.schema())
        .fetch_one(&pool)
        .await
        .unwrap();
    let role: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_roles WHERE rolname = $1")
        .bind(slug.schema())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((tenant, schema, role), (0, 0, 0));
}

#[tokio::test]
async fn human_numbers_are_unique_under_50_concurrent_creators() {
    let app = TestApp::new().await;
    let mut handles = Vec::new();
    for _ in 0..50 {
        let pool = app.state.pool.clone();
        let slug = app.slug.clone();
        handles.push(tokio::spawn(async move {
            let mut tx = tenancy::begin(&pool, &slug).await.unwrap();
            let n: String = sqlx::query_scalar("SELECT next_id('issue')")
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            n
        }));
    }
    let mut seen = HashSet::new();
    for h in handles {
        let n = h.await.unwrap();
        assert!(n.starts_with("ISS-") && n.len() == 9, "{n}");
        assert!(seen.insert(n));
    }
    assert_eq!(seen.len(), 50);
}

#[tokio::test]
async fn tenant_role_cannot_read_another_tenants_schema() {
    let a = TestApp::new().await;
    let b = TestApp::new().await;
    let mut tx = tenancy::begin(&a.state.pool, &a.slug).await.unwrap();
    let sql = format!("SELECT COUNT(*) FROM {}.users", b.slug.schema());
    let err = sqlx::query_scalar::<_, i64>(&sql)
        .fetch_one(&mut *tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
}

#[tokio::test]
async fn a_job_enqueued_in_a_rolled_back_transaction_never_exists() {
    let app = TestApp::new().await;
    let mut tx = tenancy::begin(&app.state.pool, &app.slug).await.unwrap();
    jobs::enqueue(
        &mut tx,
        Some(&app.slug),
        "diagnostics.probe",
        json!({}),
        JobOptions {
            key: Some("rollback-test".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM public.jobs WHERE tenant_slug = $1 AND job_key = 'rollback-test'",
    )
    .bind(app.slug.as_str())
    .fetch_one(&app.state.pool)
    .await
    .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::new().await;
    let (s, body) = app.json("GET", "/healthz", None, None).await;
    assert_eq!((s, body["status"].as_str()), (StatusCode::OK, Some("ok")));
}
