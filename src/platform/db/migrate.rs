//! Schema migrations for `public` and for every tenant schema. Each schema records its own
//! applied versions in `firelater_migrations`, so a tenant can be upgraded (or resumed)
//! independently; the SQL files are embedded so the binary runs from any directory.

use anyhow::{Context, bail};
use sqlx::PgConnection;
use sqlx::migrate::Migrator;

pub static PUBLIC: Migrator = sqlx::migrate!("migrations/public");
pub static TENANT: Migrator = sqlx::migrate!("migrations/tenant");

/// Applies the pending migrations of `migrator` to the schema first on the connection's
/// `search_path`. The caller owns the transaction. Returns how many were applied.
pub async fn apply(conn: &mut PgConnection, migrator: &Migrator) -> anyhow::Result<usize> {
    // Checked first rather than `IF NOT EXISTS`, whose notice would be logged on every run.
    let ledger: Option<String> = sqlx::query_scalar(
        // In the schema being migrated, not anywhere on the search path (public has one too).
        "SELECT to_regclass(quote_ident(current_schema()) || '.firelater_migrations')::text",
    )
    .fetch_one(&mut *conn)
    .await?;
    if ledger.is_none() {
        sqlx::raw_sql(
            "CREATE TABLE firelater_migrations (
            version BIGINT PRIMARY KEY,
            description TEXT NOT NULL,
            checksum BYTEA NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW())",
        )
        .execute(&mut *conn)
        .await?;
    }
    let applied: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT version, checksum FROM firelater_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await?;
    let mut count = 0;
    for m in migrator.iter() {
        if let Some((_, checksum)) = applied.iter().find(|(v, _)| *v == m.version) {
            if checksum.as_slice() != &*m.checksum {
                bail!(
                    "migration {} ({}) was changed after it was applied",
                    m.version,
                    m.description
                );
            }
            continue;
        }
        sqlx::raw_sql(&m.sql)
            .execute(&mut *conn)
            .await
            .with_context(|| format!("migration {} ({})", m.version, m.description))?;
        sqlx::query(
            "INSERT INTO firelater_migrations (version, description, checksum) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(&*m.description)
        .bind(&*m.checksum)
        .execute(&mut *conn)
        .await?;
        count += 1;
    }
    Ok(count)
}

/// The newest version a schema should be at.
pub fn latest(migrator: &Migrator) -> i64 {
    migrator.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The version a schema is at (0 when it has never been migrated).
pub async fn current(conn: &mut PgConnection, schema: &str) -> anyhow::Result<i64> {
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'firelater_migrations')",
    )
    .bind(schema)
    .fetch_one(&mut *conn)
    .await?;
    if !exists {
        return Ok(0);
    }
    let sql = format!(
        "SELECT COALESCE(MAX(version), 0) FROM {}.firelater_migrations",
        super::quote_ident(schema)
    );
    Ok(sqlx::query_scalar(&sql).fetch_one(&mut *conn).await?)
}

/// Upgrades `public`. Serialised across processes by a transaction-scoped advisory lock.
pub async fn migrate_public(pool: &sqlx::PgPool) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(7041981)")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SELECT set_config('search_path', 'public', true)")
        .execute(&mut *tx)
        .await?;
    // The group role every tenant role belongs to; cluster-wide, so created only if missing.
    sqlx::raw_sql(
        "DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'firelater_tenant') THEN
                CREATE ROLE firelater_tenant NOLOGIN;
            END IF;
         END $$",
    )
    .execute(&mut *tx)
    .await?;
    let n = apply(&mut tx, &PUBLIC).await?;
    // Tenant roles may enqueue and read only their own jobs, and manage only their own inbound
    // addresses (row-level security below).
    sqlx::raw_sql(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON public.jobs TO firelater_tenant;
         GRANT USAGE ON SEQUENCE public.jobs_id_seq TO firelater_tenant;
         ALTER TABLE public.jobs ENABLE ROW LEVEL SECURITY;
         DROP POLICY IF EXISTS tenant_own_jobs ON public.jobs;
         CREATE POLICY tenant_own_jobs ON public.jobs TO firelater_tenant
            USING ('tenant_' || tenant_slug = current_user)
            WITH CHECK ('tenant_' || tenant_slug = current_user);
         GRANT SELECT, INSERT, UPDATE, DELETE ON public.inbound_addresses TO firelater_tenant;
         ALTER TABLE public.inbound_addresses ENABLE ROW LEVEL SECURITY;
         DROP POLICY IF EXISTS tenant_own_addresses ON public.inbound_addresses;
         CREATE POLICY tenant_own_addresses ON public.inbound_addresses TO firelater_tenant
            USING ('tenant_' || tenant_slug = current_user)
            WITH CHECK ('tenant_' || tenant_slug = current_user);",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(n)
}
