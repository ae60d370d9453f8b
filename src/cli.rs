//! The command line: serve | worker | migrate | tenant … | demo.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::sync::watch;

use crate::app;
use crate::platform::clock::SystemClock;
use crate::platform::config::Config;
use crate::platform::db::Database;
use crate::platform::db::cluster::DataDirLock;
use crate::platform::db::migrate;
use crate::platform::jobs::Worker;
use crate::platform::tenancy::{self, NewTenant, Slug};

#[derive(Parser)]
#[command(
    name = "firelater",
    version,
    about = "FireLater — lean IT Service Management"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server and background workers.
    Serve,
    /// Run background workers only.
    Worker,
    /// Upgrade `public`, then every tenant schema (resumable).
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Measure throughput and latency against a seeded tenant (see the README).
    #[command(subcommand)]
    Bench(BenchCmd),
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Issues: create, list (page 1 and deep), get, comment, resolve and the queue page, through
    /// HTTP and straight through the pool.
    Issues {
        /// Issues in the bench tenant (seeded once, kept between runs; only ever grows).
        #[arg(long, default_value_t = 100_000)]
        issues: i64,
        /// Concurrent clients.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Seconds per scenario and side (HTTP, then raw).
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// `jsm`: the service-desk mix (comment 26 %, get 24 %, list 20 %, create 16 %,
        /// resolve 8 %) at C=1 and C=--concurrency with 10 concurrent sign-ins, reporting CPU
        /// and SQL statements per request.
        #[arg(long)]
        mix: Option<String>,
    },
    /// Catalog: submissions of a 60-field form with 20 conditions, and the portal's htmx
    /// re-render of its conditions, through the real HTTP server.
    Catalog {
        /// Concurrent clients.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Seconds per scenario.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

#[derive(Subcommand)]
enum TenantCmd {
    /// Provision a tenant with its first admin.
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        admin_email: String,
        #[arg(long, env = "FIRELATER_ADMIN_PASSWORD", hide_env_values = true)]
        admin_password: Option<String>,
        #[arg(long, default_value = "Administrator")]
        admin_name: String,
        #[arg(long, default_value = "professional")]
        plan: String,
    },
    /// List tenants.
    List,
    /// Suspend a tenant: nobody can sign in until it is resumed.
    Suspend { slug: String },
    /// Resume a suspended tenant.
    Resume { slug: String },
}

pub fn main() -> ExitCode {
    keep_large_allocations_returnable();
    let cli = Cli::parse();
    let mut config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("firelater: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config.log);
    if let Err(e) = config.ensure_secret_key() {
        eprintln!("firelater: {e:#}");
        return ExitCode::from(2);
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("firelater: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("firelater: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(config, true).await,
        Command::Worker => serve(config, false).await,
        Command::Migrate => {
            let db = Database::open(&config, 4).await?;
            let result = async {
                let n = migrate::migrate_public(&db.pool).await?;
                println!("public: {n} migration(s) applied");
                app::prepare_sessions(&db.pool).await?;
                let total = tenancy::migrate_all(&db.pool, &crate::app::manifest(), |slug, n| {
                    println!("tenant {slug}: {n} migration(s) applied")
                })
                .await?;
                println!("done: {total} tenant migration(s) applied");
                Ok(())
            }
            .await;
            db.close(&config, false).await;
            result
        }
        Command::Bench(BenchCmd::Issues {
            issues,
            concurrency,
            seconds,
            mix,
        }) => {
            let args = crate::bench::Args {
                issues,
                concurrency: concurrency.max(1),
                seconds: seconds.max(1),
                mix,
            };
            crate::bench::issues(config, args).await
        }
        Command::Bench(BenchCmd::Catalog {
            concurrency,
            seconds,
        }) => crate::bench::catalog::run(config, concurrency.max(1), seconds.max(1)).await,
        Command::Tenant(cmd) => {
            let db = Database::open(&config, 4).await?;
            let result = async {
                migrate::migrate_public(&db.pool).await?;
                tenant_command(&db.pool, cmd).await
            }
            .await;
            db.close(&config, false).await;
            result
        }
    }
}

async fn tenant_command(pool: &sqlx::PgPool, cmd: TenantCmd) -> anyhow::Result<()> {
    match cmd {
        TenantCmd::Create {
            slug,
            name,
            admin_email,
            admin_password,
            admin_name,
            plan,
        } => {
            let slug = Slug::parse(&slug).map_err(|p| anyhow::anyhow!("--slug: {p}"))?;
            if let Err(m) = domain::identity::check_email(&admin_email) {
                anyhow::bail!("--admin-email: {m}");
            }
            let (password, generated) = match admin_password {
                Some(p) => {
                    domain::identity::check_password(&p, &admin_email)
                        .map_err(|p| anyhow::anyhow!("--admin-password: {p}"))?;
                    (p, false)
                }
                None => (
                    crate::platform::auth::tokens::random_secret()[..20].to_string(),
                    true,
                ),
            };
            let done = tenancy::provision(
                pool,
                &crate::app::manifest(),
                &NewTenant {
                    slug: slug.clone(),
                    name,
                    plan,
                    admin_email: admin_email.clone(),
                    admin_name,
                    admin_password: password.clone(),
                },
            )
            .await?;
            println!(
                "tenant {slug} created in {} ms (id {})",
                done.elapsed.as_millis(),
                done.tenant_id
            );
            if generated {
                println!(
                    "admin login: organization {slug}, e-mail {admin_email}, password {password}  (shown once)"
                );
            }
            Ok(())
        }
        TenantCmd::List => {
            for t in tenancy::list(pool).await? {
                println!(
                    "{:<24} {:<10} {:<13} {}",
                    t.slug,
                    t.status,
                    t.plan.unwrap_or_default(),
                    t.name
                );
            }
            Ok(())
        }
        TenantCmd::Suspend { slug } => {
            let slug = Slug::parse(&slug).map_err(|p| anyhow::anyhow!("slug: {p}"))?;
            tenancy::set_status(pool, &slug, "suspended").await?;
            println!("tenant {slug} suspended");
            Ok(())
        }
        TenantCmd::Resume { slug } => {
            let slug = Slug::parse(&slug).map_err(|p| anyhow::anyhow!("slug: {p}"))?;
            tenancy::set_status(pool, &slug, "active").await?;
            println!("tenant {slug} resumed");
            Ok(())
        }
    }
}

async fn serve(config: Config, web: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let _lock = if web {
        Some(DataDirLock::acquire(&config.data_dir)?)
    } else {
        None
    };
    let db = Database::open(&config, 20).await?;
    let result = serve_on(&db, &config, web, started).await;
    db.close(&config, web).await;
    result
}

async fn serve_on(
    db: &Database,
    config: &Config,
    web: bool,
    started: Instant,
) -> anyhow::Result<()> {
    migrate::migrate_public(&db.pool).await?;
    app::prepare_sessions(&db.pool).await?;
    tenancy::migrate_all(&db.pool, &crate::app::manifest(), |slug, n| {
        if n > 0 {
            tracing::info!(tenant = slug, applied = n, "tenant migrated");
        }
    })
    .await?;
    if web && config.demo {
        crate::cli_demo::ensure_demo(&db.pool, config).await?;
    }
    let state = crate::app::state(db.pool.clone(), config.clone(), Arc::new(SystemClock));
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = Arc::new(Worker::new(
        db.pool.clone(),
        app::job_registry(&state)?,
        state.clock.clone(),
        4,
    ));
    let worker_task = tokio::spawn(worker.run(stop_rx.clone()));
    let live = state.live.clone();
    if web {
        live.start(db.pool.clone());
    }
    let smtp_task = match config.smtp_addr.filter(|_| web) {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("FIRELATER_SMTP_ADDR: cannot listen on {addr}"))?;
            tracing::info!(%addr, "taking inbound mail by SMTP");
            Some(tokio::spawn(crate::inbound::smtp::serve(
                state.clone(),
                listener,
            )))
        }
        None => None,
    };
    let shutdown = async move {
        let ctrl_c = tokio::signal::ctrl_c();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        tracing::info!("shutting down: no new connections, finishing in-flight requests");
        // Live streams never finish on their own; end them so the drain can complete.
        live.close();
    };
    if web {
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("FIRELATER_ADDR: cannot listen on {}", config.addr))?;
        tracing::info!(addr = %config.addr, startup_ms = started.elapsed().as_millis() as u64, "FireLater is listening on {}", config.base_url);
        let router =
            app::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        let server = axum::serve(listener, router).with_graceful_shutdown(shutdown);
        server.await?;
    } else {
        tracing::info!("worker running");
        shutdown.await;
    }
    if let Some(t) = smtp_task {
        t.abort();
    }
    let _ = stop_tx.send(true);
    // In-flight jobs get a bounded time to finish; their transactions roll back otherwise.
    let _ = tokio::time::timeout(Duration::from_secs(20), worker_task).await;
    Ok(())
}

/// glibc raises its mmap threshold after a large block is freed, so from the second sign-in on
/// each 19 MiB argon2 buffer comes from a thread's heap arena and stays resident: a few
/// concurrent sign-ins kept hundreds of MiB. A fixed threshold keeps blocks of 1 MiB and more
/// mmapped, so freeing one gives it back to the system.
fn keep_large_allocations_returnable() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; it runs before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
