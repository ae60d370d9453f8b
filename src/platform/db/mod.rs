//! Database access: the pool, the private-cluster bootstrap and the migration runner.

pub mod cluster;
pub mod migrate;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::platform::config::Config;
use cluster::PrivateCluster;

/// The database this process talks to, plus the private cluster when it runs one.
pub struct Database {
    pub pool: PgPool,
    pub cluster: Option<PrivateCluster>,
}

pub const DEFAULT_DB: &str = "firelater";

impl Database {
    /// Connects to `DATABASE_URL`, or starts (or reuses) the private cluster under the data dir.
    pub async fn open(config: &Config, pool_size: u32) -> anyhow::Result<Self> {
        let (options, cluster) = match &config.database_url {
            Some(url) => (
                PgConnectOptions::from_str(url).context("DATABASE_URL: cannot be parsed")?,
                None,
            ),
            None => {
                let cluster = PrivateCluster::start(&config.data_dir.join("pg"), false)?;
                (cluster_options(&cluster, DEFAULT_DB), Some(cluster))
            }
        };
        let pool = connect_creating(options, pool_size).await?;
        Ok(Database { pool, cluster })
    }

    /// Stops the private cluster if this process started it and no server holds the data dir.
    pub async fn close(self, config: &Config, is_server: bool) {
        self.pool.close().await;
        if let Some(cluster) = self.cluster {
            let server_running_elsewhere =
                !is_server && cluster::DataDirLock::is_held(&config.data_dir);
            if (is_server || cluster.started_here()) && !server_running_elsewhere {
                cluster.stop();
            }
        }
    }
}

pub fn cluster_options(cluster: &PrivateCluster, database: &str) -> PgConnectOptions {
    PgConnectOptions::new()
        .socket(cluster.socket_dir())
        .port(cluster.port())
        .username(cluster::SUPERUSER)
        .database(database)
}

/// Connects, creating the database first when it does not exist and the role may create it.
pub async fn connect_creating(options: PgConnectOptions, pool_size: u32) -> anyhow::Result<PgPool> {
    let options = options
        .log_statements(tracing::log::LevelFilter::Trace)
        .application_name("firelater");
    let pool_opts = || {
        PgPoolOptions::new()
            .max_connections(pool_size)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
    };
    // Several processes (or test threads) may start at once on a new server: losing the race
    // to create the database (42P04, 23505) or meeting another CREATE DATABASE still copying
    // template1 (55006) just means trying again.
    let name = options.get_database().unwrap_or(DEFAULT_DB).to_string();
    for _ in 0..50 {
        match pool_opts().connect_with(options.clone()).await {
            Ok(pool) => return Ok(pool),
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {
                let admin = pool_opts()
                    .max_connections(1)
                    .connect_with(options.clone().database("postgres"))
                    .await?;
                let created = sqlx::raw_sql(&format!("CREATE DATABASE {}", quote_ident(&name)))
                    .execute(&admin)
                    .await;
                admin.close().await;
                match created {
                    Ok(_) => {}
                    Err(sqlx::Error::Database(e))
                        if matches!(e.code().as_deref(), Some("42P04" | "23505" | "55006")) =>
                    {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => {
                        return Err(e).with_context(|| format!("cannot create database {name}"));
                    }
                }
            }
            Err(e) => return Err(e).context("cannot connect to PostgreSQL"),
        }
    }
    anyhow::bail!("cannot create database {name}: still contended after 50 attempts")
}

/// Quotes an SQL identifier. Only for names this code validated (schema/role/database names).
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}
