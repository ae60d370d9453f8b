//! `firelater bench issues`: seeds a tenant with N issues, serves the real HTTP app on a local
//! port and drives it with concurrent clients; then runs the same operations straight through
//! the same pool (no HTTP, no auth, no JSON) as the ceiling, and reports both.

pub mod catalog;
mod load;
mod mix;
mod seed;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, anyhow};
use rand::Rng;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use self::load::{Http, drive, report, rss_mib};
use crate::app;
use crate::issues::actions::{self, Acting, NewIssue, ResolveBody};
use crate::issues::activity::{self, CommentBody};
use crate::issues::queue;
use crate::issues::store::{self, Scope};
use crate::platform::audit::Actor;
use crate::platform::auth::{AuthVia, Principal, load_user, password};
use crate::platform::clock::{Clock, SystemClock};
use crate::platform::config::Config;
use crate::platform::db::Database;
use crate::platform::db::migrate;
use crate::platform::tenancy::{self, NewTenant, Slug};

pub struct Args {
    pub issues: i64,
    pub concurrency: usize,
    pub seconds: u64,
    /// `jsm`: the service-desk mix at C=1 and C=`concurrency` instead of one scenario at a time.
    pub mix: Option<String>,
}

const SLUG: &str = "bench";
/// The list every scenario asks for: open high/critical issues, most urgent first.
const LIST: &str = "priority=critical,high&sort=priority&order=desc&per_page=25";
/// How far the "deep page" is: this many pages of 25 in, by keyset cursor.
const DEEP_PAGES: usize = 200;

pub(crate) async fn reset_password(
    pool: &PgPool,
    slug: &Slug,
    email: &str,
) -> anyhow::Result<String> {
    let secret: String = rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    let hash = password::hash(&secret)?;
    let mut tx = tenancy::begin(pool, slug).await?;
    sqlx::query("UPDATE users SET password_hash = $2 WHERE email = $1")
        .bind(email)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(secret)
}

async fn principal(pool: &PgPool, slug: &Slug, email: &str) -> anyhow::Result<Principal> {
    let mut tx = tenancy::begin(pool, slug).await?;
    let id: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&mut *tx)
        .await?;
    let u = load_user(&mut tx, id).await?.context("bench user")?;
    tx.commit().await?;
    Ok(Principal {
        slug: slug.clone(),
        user_id: u.id,
        name: u.name,
        email: u.email,
        timezone: u.timezone,
        permissions: u.permissions.into_iter().collect(),
        via: AuthVia::Token,
    })
}

pub async fn issues(config: Config, args: Args) -> anyhow::Result<()> {
    if let Some(mix) = args.mix.as_deref().filter(|m| *m != "jsm") {
        anyhow::bail!("--mix: unknown mix '{mix}' (known: jsm)");
    }
    let db = Database::open(&config, 20).await?;
    let postmaster = db.cluster.as_ref().and_then(|c| c.postmaster_pid());
    let result = run(&db.pool, &config, &args, postmaster).await;
    db.close(&config, false).await;
    result
}

/// Migrates and provisions the bench tenant when it is not there yet.
pub(crate) async fn ensure_tenant(pool: &PgPool) -> anyhow::Result<Slug> {
    migrate::migrate_public(pool).await?;
    app::prepare_sessions(pool).await?;
    tenancy::migrate_all(pool, &crate::app::manifest(), |_, _| {}).await?;
    let slug = Slug::parse(SLUG).map_err(|e| anyhow!("{e:?}"))?;
    if tenancy::find_active(pool, SLUG).await?.is_none() {
        tenancy::provision(
            pool,
            &crate::app::manifest(),
            &NewTenant {
                slug: slug.clone(),
                name: "Benchmark".into(),
                plan: "professional".into(),
                admin_email: "admin@bench.invalid".into(),
                admin_name: "Bench admin".into(),
                admin_password: Uuid::new_v4().to_string(),
            },
        )
        .await?;
    }
    Ok(slug)
}

async fn run(
    pool: &PgPool,
    config: &Config,
    args: &Args,
    postmaster: Option<u32>,
) -> anyhow::Result<()> {
    let slug = ensure_tenant(pool).await?;
    let t = Instant::now();
    println!(
        "seeding tenant '{SLUG}' to {} issues (kept between runs)…",
        args.issues
    );
    seed::seed(pool, &slug, args.issues).await?;
    let total = seed::issue_count(pool, &slug).await?;
    println!(
        "  {total} issues ready in {:.0} s",
        t.elapsed().as_secs_f64()
    );

    let admin_email = "admin@bench.invalid";
    let agent_email = "agent1@bench.invalid";
    let admin_pw = reset_password(pool, &slug, admin_email).await?;
    let agent_pw = reset_password(pool, &slug, agent_email).await?;

    let state = crate::app::state(pool.clone(), config.clone(), Arc::new(SystemClock));
    // The server runs on a runtime of its own, with named threads, so its CPU is measured
    // apart from the load generator's.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(mix::SERVER_THREADS)
        .thread_keep_alive(std::time::Duration::from_secs(3600))
        .enable_all()
        .build()?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let base = format!("http://{}", listener.local_addr()?);
    let router =
        app::router(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    server_rt.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        axum::serve(listener, router).await
    });
    let http = Arc::new(Http {
        // No redirects: the login's 303 carries the rotated session cookie.
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(args.concurrency * 2)
            .build()?,
        base,
    });
    let admin = Arc::new(http.login(admin_email, &admin_pw).await?);
    let cookie = Arc::new(http.browser_login(agent_email, &agent_pw).await?);
    let admin_p = Arc::new(principal(pool, &slug, admin_email).await?);
    let agent_p = Arc::new(principal(pool, &slug, agent_email).await?);

    // Fixtures: open issues to read and comment on; the deep page's cursor; a group to assign to.
    let mut tx = tenancy::begin(pool, &slug).await?;
    let open: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM issues WHERE status IN ('assigned','in_progress') ORDER BY created_at DESC LIMIT 2000",
    )
    .fetch_all(&mut *tx)
    .await?;
    let group: Uuid =
        sqlx::query_scalar("SELECT id FROM groups WHERE name LIKE 'Team %' ORDER BY name LIMIT 1")
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    let open = Arc::new(open);
    let mut cursor = None;
    for _ in 0..DEEP_PAGES {
        let page = http
            .send(
                reqwest::Method::GET,
                &format!(
                    "/v1/issues?{LIST}{}",
                    cursor
                        .as_ref()
                        .map(|c| format!("&cursor={c}"))
                        .unwrap_or_default()
                ),
                &admin,
                None,
            )
            .await?;
        match page["meta"]["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let deep_cursor = Arc::new(cursor.unwrap_or_default());
    if args.mix.is_some() {
        let mut sign_ins = Vec::new();
        for i in 1..=10 {
            let email = format!("agent{i}@bench.invalid");
            let password = reset_password(pool, &slug, &email).await?;
            sign_ins.push((email, password));
        }
        let fixtures = Arc::new(mix::Fixtures {
            http: http.clone(),
            token: admin.clone(),
            open: open.clone(),
            group,
            postmaster,
            sign_ins,
        });
        let mut levels = vec![1];
        if args.concurrency > 1 {
            levels.push(args.concurrency);
        }
        println!(
            "\ndriving {} with the JSM-like mix, {} s per level",
            http.base, args.seconds
        );
        for c in levels {
            mix::run(pool, fixtures.clone(), c, args.seconds).await?;
        }
        server_rt.shutdown_background();
        return Ok(());
    }
    let (c, s) = (args.concurrency, args.seconds);
    println!(
        "\ndriving {} with {c} concurrent clients, {s} s per scenario",
        http.base
    );

    let pick = |ids: &Arc<Vec<Uuid>>| ids[rand::thread_rng().gen_range(0..ids.len())];
    let new_issue = move || NewIssue {
        title: "Checkout returns 502".into(),
        description: Some("Customers see a gateway error at payment.".into()),
        priority: Some("high".into()),
        assigned_group: Some(group),
        ..Default::default()
    };

    // ---- create ----
    let created = Arc::new(std::sync::Mutex::new(Vec::<Uuid>::new()));
    let api_create = {
        let (http, admin, created) = (http.clone(), admin.clone(), created.clone());
        drive(c, s, move || {
            let (http, admin, created) = (http.clone(), admin.clone(), created.clone());
            async move {
                let body = json!({
                    "title": "Checkout returns 502", "description": "Customers see a gateway error at payment.",
                    "priority": "high", "assigned_group": group});
                let v = http
                    .send(reqwest::Method::POST, "/v1/issues", &admin, Some(body))
                    .await?;
                let id: Uuid = serde_json::from_value(v["id"].clone())?;
                created.lock().map_err(|_| anyhow!("lock"))?.push(id);
                Ok(true)
            }
        })
        .await
    };
    let raw_created = Arc::new(std::sync::Mutex::new(Vec::<Uuid>::new()));
    let raw_create = {
        let (pool, slug, p, created) = (
            pool.clone(),
            slug.clone(),
            admin_p.clone(),
            raw_created.clone(),
        );
        drive(c, s, move || {
            let (pool, slug, p, created) = (pool.clone(), slug.clone(), p.clone(), created.clone());
            async move {
                let mut tx = tenancy::begin(&pool, &slug).await?;
                let actor = Actor::system("bench");
                let mut a = Acting::open(&mut tx, &p, actor, SystemClock.now()).await?;
                let issue = actions::create(&mut a, &new_issue(), "api").await?;
                tx.commit().await?;
                created.lock().map_err(|_| anyhow!("lock"))?.push(issue.id);
                Ok(true)
            }
        })
        .await
    };
    report("create issue", &api_create, Some(&raw_create));

    // ---- list (page 1 and deep) ----
    for (name, extra) in [
        ("list open, filtered + sorted, page 1", String::new()),
        (
            "list open, filtered + sorted, deep page (keyset, ~5,000 rows in)",
            format!("&cursor={deep_cursor}"),
        ),
    ] {
        let path = format!("/v1/issues?{LIST}{extra}");
        let api = {
            let (http, admin, path) = (http.clone(), admin.clone(), path.clone());
            drive(c, s, move || {
                let (http, admin, path) = (http.clone(), admin.clone(), path.clone());
                async move {
                    http.send(reqwest::Method::GET, &path, &admin, None).await?;
                    Ok(true)
                }
            })
            .await
        };
        let params: HashMap<String, String> =
            serde_urlencoded::from_str(path.split_once('?').map_or("", |x| x.1))?;
        let raw = {
            let (pool, slug, p, params) = (
                pool.clone(),
                slug.clone(),
                admin_p.clone(),
                Arc::new(params),
            );
            drive(c, s, move || {
                let (pool, slug, p, params) =
                    (pool.clone(), slug.clone(), p.clone(), params.clone());
                async move {
                    let mut tx = tenancy::begin(&pool, &slug).await?;
                    let q = queue::Query::parse(&params, "open")?;
                    let scope = Scope::of(&mut tx, &p).await?;
                    queue::list(&mut tx, &scope, &q, p.user_id, SystemClock.now()).await?;
                    tx.commit().await?;
                    Ok(true)
                }
            })
            .await
        };
        report(name, &api, Some(&raw));
    }

    // ---- get ----
    let api = {
        let (http, admin, open) = (http.clone(), admin.clone(), open.clone());
        drive(c, s, move || {
            let (http, admin, id) = (http.clone(), admin.clone(), pick(&open));
            async move {
                http.send(
                    reqwest::Method::GET,
                    &format!("/v1/issues/{id}"),
                    &admin,
                    None,
                )
                .await?;
                Ok(true)
            }
        })
        .await
    };
    let raw = {
        let (pool, slug, p, open) = (pool.clone(), slug.clone(), admin_p.clone(), open.clone());
        drive(c, s, move || {
            let (pool, slug, p, id) = (pool.clone(), slug.clone(), p.clone(), pick(&open));
            async move {
                let mut tx = tenancy::begin(&pool, &slug).await?;
                let scope = Scope::of(&mut tx, &p).await?;
                store::get(&mut tx, &scope, id).await?;
                tx.commit().await?;
                Ok(true)
            }
        })
        .await
    };
    report("get issue", &api, Some(&raw));

    // ---- comment ----
    let api = {
        let (http, admin, open) = (http.clone(), admin.clone(), open.clone());
        drive(c, s, move || {
            let (http, admin, id) = (http.clone(), admin.clone(), pick(&open));
            async move {
                let body = json!({"content": "Restarted the gateway; watching."});
                http.send(
                    reqwest::Method::POST,
                    &format!("/v1/issues/{id}/comments"),
                    &admin,
                    Some(body),
                )
                .await?;
                Ok(true)
            }
        })
        .await
    };
    let raw = {
        let (pool, slug, p, open) = (pool.clone(), slug.clone(), admin_p.clone(), open.clone());
        drive(c, s, move || {
            let (pool, slug, p, id) = (pool.clone(), slug.clone(), p.clone(), pick(&open));
            async move {
                let mut tx = tenancy::begin(&pool, &slug).await?;
                let mut a =
                    Acting::open(&mut tx, &p, Actor::system("bench"), SystemClock.now()).await?;
                let body = CommentBody {
                    content: "Restarted the gateway; watching.".into(),
                    is_internal: false,
                };
                activity::add_comment(&mut a, id, &body).await?;
                tx.commit().await?;
                Ok(true)
            }
        })
        .await
    };
    report("add comment", &api, Some(&raw));

    // ---- resolve (each issue once: the ones the create scenarios made) ----
    let take = |list: &Arc<std::sync::Mutex<Vec<Uuid>>>| list.lock().ok().and_then(|mut l| l.pop());
    let api = {
        let (http, admin, created) = (http.clone(), admin.clone(), created.clone());
        drive(c, s, move || {
            let (http, admin, id) = (http.clone(), admin.clone(), take(&created));
            async move {
                let Some(id) = id else { return Ok(false) };
                let body =
                    json!({"resolution_code": "fixed", "resolution_notes": "Gateway restarted."});
                http.send(
                    reqwest::Method::POST,
                    &format!("/v1/issues/{id}/resolve"),
                    &admin,
                    Some(body),
                )
                .await?;
                Ok(true)
            }
        })
        .await
    };
    let raw = {
        let (pool, slug, p, created) = (
            pool.clone(),
            slug.clone(),
            admin_p.clone(),
            raw_created.clone(),
        );
        drive(c, s, move || {
            let (pool, slug, p, id) = (pool.clone(), slug.clone(), p.clone(), take(&created));
            async move {
                let Some(id) = id else { return Ok(false) };
                let mut tx = tenancy::begin(&pool, &slug).await?;
                let mut a =
                    Acting::open(&mut tx, &p, Actor::system("bench"), SystemClock.now()).await?;
                let body = ResolveBody {
                    resolution_code: "fixed".into(),
                    resolution_notes: "Gateway restarted.".into(),
                };
                actions::resolve(&mut a, id, &body).await?;
                tx.commit().await?;
                Ok(true)
            }
        })
        .await
    };
    report("resolve", &api, Some(&raw));

    // ---- queue HTML (an agent's "My groups" tab) ----
    let api = {
        let (http, cookie) = (http.clone(), cookie.clone());
        drive(c, s, move || {
            let (http, cookie) = (http.clone(), cookie.clone());
            async move {
                let res = http
                    .client
                    .get(format!("{}/issues?mine=groups", http.base))
                    .header("cookie", cookie.as_str())
                    .send()
                    .await?;
                anyhow::ensure!(res.status().is_success(), "queue: {}", res.status());
                let html = res.text().await?;
                anyhow::ensure!(html.contains("issue-total"), "queue page without a queue");
                Ok(true)
            }
        })
        .await
    };
    let raw = {
        let (pool, slug, p) = (pool.clone(), slug.clone(), agent_p.clone());
        let params: HashMap<String, String> = [("mine".to_string(), "groups".to_string())].into();
        let params = Arc::new(params);
        drive(c, s, move || {
            let (pool, slug, p, params) = (pool.clone(), slug.clone(), p.clone(), params.clone());
            async move {
                let mut tx = tenancy::begin(&pool, &slug).await?;
                let q = queue::Query::parse(&params, "open")?;
                let scope = Scope::of(&mut tx, &p).await?;
                queue::list(&mut tx, &scope, &q, p.user_id, SystemClock.now()).await?;
                tx.commit().await?;
                Ok(true)
            }
        })
        .await
    };
    report("queue HTML page (agent, My groups)", &api, Some(&raw));

    let (rss, peak) = rss_mib();
    println!("\nprocess memory (server + load generator): RSS {rss:.0} MiB, peak {peak:.0} MiB");
    server_rt.shutdown_background();
    Ok(())
}
