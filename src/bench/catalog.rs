//! `firelater bench catalog`: a published item with a 60-field form and 20 conditions, then,
//! through the real HTTP server, (1) JSON submissions of a full set of answers and (2) the
//! portal's htmx re-render of the fields while someone types. Reports throughput and latency
//! percentiles of each.

use std::sync::Arc;

use anyhow::{Context, anyhow};
use serde_json::{Value, json};

use super::load::{Http, drive};
use super::{ensure_tenant, reset_password};
use crate::app;
use crate::platform::clock::SystemClock;
use crate::platform::config::Config;
use crate::platform::db::Database;

/// 20 dropdowns, 20 texts each shown when its dropdown is "a", 20 bounded numbers.
fn big_form() -> Value {
    let mut fields = Vec::new();
    let mut logic = Vec::new();
    for i in 1..=20 {
        fields.push(json!({"id": format!("s{i}"), "type": "select", "label": format!("Choice {i}"), "required": true,
            "options": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]}));
        fields.push(json!({"id": format!("t{i}"), "type": "text", "label": format!("Detail {i}"), "required": true,
            "validation": {"min_length": 2, "max_length": 200}}));
        fields.push(
            json!({"id": format!("n{i}"), "type": "number", "label": format!("Amount {i}"),
            "validation": {"min": 0, "max": 100, "step": 1}}),
        );
        logic.push(json!({"field": format!("t{i}"), "show_when": {"field": format!("s{i}"), "operator": "equals", "value": "a"}}));
    }
    json!({"fields": fields, "conditional_logic": logic})
}

pub async fn run(config: Config, concurrency: usize, seconds: u64) -> anyhow::Result<()> {
    let db = Database::open(&config, 20).await?;
    let result = bench(&db.pool, &config, concurrency, seconds).await;
    db.close(&config, false).await;
    result
}

async fn bench(pool: &sqlx::PgPool, config: &Config, c: usize, s: u64) -> anyhow::Result<()> {
    let slug = ensure_tenant(pool).await?;
    let admin_email = "admin@bench.invalid";
    let password = reset_password(pool, &slug, admin_email).await?;
    let state = app::state(pool.clone(), config.clone(), Arc::new(SystemClock));
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let base = format!("http://{}", listener.local_addr()?);
    let router = app::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    server_rt.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        axum::serve(listener, router).await
    });
    let http = Arc::new(Http {
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(c * 2)
            .build()?,
        base: base.clone(),
    });
    let token = Arc::new(http.login(admin_email, &password).await?);
    let cookie = Arc::new(http.browser_login(admin_email, &password).await?);
    let item = http
        .send(
            reqwest::Method::POST,
            "/v1/catalog/items",
            &token,
            Some(json!({"name": "Bench: 60 fields, 20 conditions", "form_schema": big_form()})),
        )
        .await?;
    let id = item["id"].as_str().context("item id")?.to_string();
    http.send(
        reqwest::Method::POST,
        &format!("/v1/catalog/items/{id}/publish"),
        &token,
        None,
    )
    .await?;
    let mut answers = serde_json::Map::new();
    for i in 1..=20 {
        answers.insert(format!("s{i}"), json!(if i % 2 == 0 { "a" } else { "b" }));
        answers.insert(format!("t{i}"), json!("needed for the quarter close"));
        answers.insert(format!("n{i}"), json!(i));
    }
    let body = Arc::new(json!({"catalog_item_id": id, "form_data": answers}));
    println!(
        "driving {base} with {c} concurrent clients, {s} s per scenario (form: 60 fields, 20 conditions)"
    );

    let submit = {
        let (http, token, body) = (http.clone(), token.clone(), body.clone());
        drive(c, s, move || {
            let (http, token, body) = (http.clone(), token.clone(), body.clone());
            async move {
                let r = http
                    .send(
                        reqwest::Method::POST,
                        "/v1/requests",
                        &token,
                        Some((*body).clone()),
                    )
                    .await?;
                if r["request_number"].is_null() {
                    return Err(anyhow!("no request number: {r}"));
                }
                Ok(true)
            }
        })
        .await
    };
    println!("submit a request (POST /v1/requests, JSON)");
    submit.print("api");

    // The portal page's CSRF token, then the htmx re-render with half the answers typed.
    let page = http
        .client
        .get(format!("{base}/catalog/items/{id}"))
        .header("cookie", cookie.as_str())
        .send()
        .await?
        .text()
        .await?;
    let csrf = Arc::new(
        page.split("name=\"csrf-token\" content=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .context("no CSRF token on the item page")?
            .to_string(),
    );
    let mut form: Vec<(String, String)> = Vec::new();
    for i in 1..=20 {
        form.push((format!("f_s{i}"), if i % 3 == 0 { "a" } else { "b" }.into()));
        form.push((format!("f_t{i}"), "typing".into()));
    }
    let form = Arc::new(form);
    let evaluate = {
        let (http, cookie, csrf, form, base) = (
            http.clone(),
            cookie.clone(),
            csrf.clone(),
            form.clone(),
            base.clone(),
        );
        let url = Arc::new(format!("{base}/catalog/items/{id}/evaluate"));
        drive(c, s, move || {
            let (http, cookie, csrf, form, url, base) = (
                http.clone(),
                cookie.clone(),
                csrf.clone(),
                form.clone(),
                url.clone(),
                base.clone(),
            );
            async move {
                let res = http
                    .client
                    .post(url.as_str())
                    .header("cookie", cookie.as_str())
                    .header("x-csrf-token", csrf.as_str())
                    .header("origin", base.as_str())
                    .header("hx-request", "true")
                    .form(&*form)
                    .send()
                    .await?;
                if !res.status().is_success() {
                    return Err(anyhow!("evaluate: {}", res.status()));
                }
                res.bytes().await?;
                Ok(true)
            }
        })
        .await
    };
    println!("re-render the fields as conditions change (POST …/evaluate, htmx)");
    evaluate.print("web");
    server_rt.shutdown_background();
    Ok(())
}
