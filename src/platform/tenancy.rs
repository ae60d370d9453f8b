//! Schema-per-tenant: the ONE place that turns a slug into schema/role names, the tenant
//! transaction every tenant query runs in, and provisioning.

use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::platform::db::{migrate, quote_ident};
use crate::platform::error::AppError;
use crate::platform::module::Manifest;

/// A tenant slug that passed `domain::identity::check_slug`; the only way to build one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    pub fn parse(raw: &str) -> Result<Self, domain::identity::SlugProblem> {
        domain::identity::check_slug(raw)?;
        Ok(Slug(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `tenant_<slug>`: both the schema and the database role of the tenant.
    pub fn schema(&self) -> String {
        format!("tenant_{}", self.0)
    }
}

impl std::fmt::Display for Slug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Tenant {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub status: String,
    pub plan: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

pub type TenantTx = Transaction<'static, Postgres>;

/// Opens a transaction scoped to one tenant: `search_path` and role are set transaction-locally
/// in one round trip, so nothing leaks to the next borrower of the connection and a query naming
/// another tenant's table fails with "permission denied".
pub async fn begin(pool: &PgPool, slug: &Slug) -> Result<TenantTx, AppError> {
    let mut tx = pool.begin().await?;
    let schema = slug.schema();
    sqlx::query("SELECT set_config('search_path', $1, true), set_config('role', $2, true)")
        .bind(format!("{schema}, public"))
        .bind(&schema)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// What the opening statement of a request's transaction learns about its tenant.
#[derive(Debug, Clone, Copy)]
pub struct TenantState {
    pub active: bool,
    /// Bumped whenever anything a principal is made of changes (see `auth::cache`).
    pub auth_epoch: i64,
}

/// `begin`, also reading the tenant's status and auth epoch in the same round trip: a request
/// learns all it needs about its tenant from the statement that opens its transaction.
/// `None` when there is no such tenant.
pub async fn open(pool: &PgPool, slug: &Slug) -> Result<Option<(TenantTx, TenantState)>, AppError> {
    let mut tx = pool.begin().await?;
    let schema = slug.schema();
    // The subqueries are planned and permission-checked as the pool's role, before the
    // set_config calls switch to the tenant role for the rest of the transaction.
    let row: (Option<String>, Option<i64>) = sqlx::query_as(
        "SELECT (SELECT status::text FROM public.tenants WHERE slug = $3),
                (SELECT auth_epoch FROM public.tenants WHERE slug = $3)
         FROM (SELECT set_config('search_path', $1, true), set_config('role', $2, true)) AS scoped",
    )
    .bind(format!("{schema}, public"))
    .bind(&schema)
    .bind(slug.as_str())
    .fetch_one(&mut *tx)
    .await?;
    Ok(match row {
        (Some(status), Some(auth_epoch)) => Some((
            tx,
            TenantState {
                active: status == "active",
                auth_epoch,
            },
        )),
        _ => None,
    })
}

/// Looks up an active tenant by slug (public schema; no tenant role needed).
pub async fn find_active(pool: &PgPool, slug: &str) -> Result<Option<Slug>, AppError> {
    let Ok(slug) = Slug::parse(slug) else {
        return Ok(None);
    };
    let active: Option<bool> =
        sqlx::query_scalar("SELECT status = 'active' FROM public.tenants WHERE slug = $1")
            .bind(slug.as_str())
            .fetch_optional(pool)
            .await?;
    Ok(if active == Some(true) {
        Some(slug)
    } else {
        None
    })
}

pub async fn list(pool: &PgPool) -> anyhow::Result<Vec<Tenant>> {
    Ok(sqlx::query_as(
        "SELECT t.id, t.slug, t.name, t.status, p.name AS plan, t.created_at
         FROM public.tenants t LEFT JOIN public.plans p ON p.id = t.plan_id ORDER BY t.slug",
    )
    .fetch_all(pool)
    .await?)
}

pub async fn set_status(pool: &PgPool, slug: &Slug, status: &str) -> anyhow::Result<()> {
    let n =
        sqlx::query("UPDATE public.tenants SET status = $2, auth_epoch = auth_epoch + 1, updated_at = NOW() WHERE slug = $1")
            .bind(slug.as_str())
            .bind(status)
            .execute(pool)
            .await?
            .rows_affected();
    if n == 0 {
        bail!("no tenant with slug '{slug}'");
    }
    Ok(())
}

pub struct NewTenant {
    pub slug: Slug,
    pub name: String,
    pub plan: String,
    pub admin_email: String,
    pub admin_name: String,
    pub admin_password: String,
}

pub struct Provisioned {
    pub tenant_id: Uuid,
    pub admin_id: Uuid,
    pub elapsed: std::time::Duration,
}

/// Creates schema + role + tenant migrations + seed rows + the first admin in ONE transaction:
/// a failure anywhere leaves nothing behind (PostgreSQL DDL and CREATE ROLE are transactional).
pub async fn provision(
    pool: &PgPool,
    manifest: &Manifest,
    new: &NewTenant,
) -> anyhow::Result<Provisioned> {
    provision_with(pool, manifest, new, |_| Ok(())).await
}

/// `provision` with a hook run just before commit; tests use it to prove the rollback.
pub async fn provision_with(
    pool: &PgPool,
    manifest: &Manifest,
    new: &NewTenant,
    before_commit: impl FnOnce(&Uuid) -> anyhow::Result<()>,
) -> anyhow::Result<Provisioned> {
    let started = Instant::now();
    let schema = new.slug.schema();
    let ident = quote_ident(&schema);
    let password_hash = crate::platform::auth::password::hash(&new.admin_password)?;
    let mut tx = pool.begin().await?;
    // Role DDL (pg_auth_members) does not tolerate concurrent grants: provision one at a time.
    sqlx::query("SELECT pg_advisory_xact_lock(7041982)")
        .execute(&mut *tx)
        .await?;
    let tenant_id: Uuid = sqlx::query_scalar(
        "INSERT INTO public.tenants (name, slug, plan_id, status, billing_email)
         VALUES ($1, $2, (SELECT id FROM public.plans WHERE name = $3), 'active', $4) RETURNING id",
    )
    .bind(&new.name)
    .bind(new.slug.as_str())
    .bind(&new.plan)
    .bind(&new.admin_email)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            anyhow::anyhow!("a tenant with slug '{}' already exists", new.slug)
        }
        _ => anyhow::Error::from(e),
    })?;
    // The role is cluster-wide and may survive from a database that shared this cluster; reuse it.
    sqlx::raw_sql(&format!(
        "DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{schema}') THEN
                CREATE ROLE {ident} NOLOGIN;
            END IF;
         END $$;
         GRANT firelater_tenant TO {ident};
         GRANT {ident} TO CURRENT_USER;
         CREATE SCHEMA {ident};
         REVOKE ALL ON SCHEMA {ident} FROM PUBLIC;"
    ))
    .execute(&mut *tx)
    .await
    .context("creating the tenant schema and role")?;
    sqlx::query("SELECT set_config('search_path', $1, true)")
        .bind(format!("{schema}, public"))
        .execute(&mut *tx)
        .await?;
    migrate::apply(&mut tx, &migrate::TENANT)
        .await
        .context("tenant migrations")?;
    grant_tenant_role(&mut tx, &schema).await?;
    crate::platform::module::sync_permissions(&mut tx, manifest).await?;
    record_versions(&mut tx, &new.slug, &manifest.permissions_stamp()).await?;
    let admin_id: Uuid = sqlx::query_scalar(
        "WITH u AS (INSERT INTO users (email, name, password_hash) VALUES ($1, $2, $3) RETURNING id),
              r AS (INSERT INTO user_roles (user_id, role_id) SELECT u.id, roles.id FROM u, roles WHERE roles.name = 'admin')
         SELECT id FROM u",
    )
    .bind(domain::identity::normalize_email(&new.admin_email))
    .bind(&new.admin_name)
    .bind(&password_hash)
    .fetch_one(&mut *tx)
    .await?;
    before_commit(&tenant_id)?;
    tx.commit().await?;
    Ok(Provisioned {
        tenant_id,
        admin_id,
        elapsed: started.elapsed(),
    })
}

/// The tenant role may read and write its own schema's data, never its migration ledger.
async fn grant_tenant_role(conn: &mut sqlx::PgConnection, schema: &str) -> anyhow::Result<()> {
    let ident = quote_ident(schema);
    sqlx::raw_sql(&format!(
        "GRANT USAGE ON SCHEMA {ident} TO {ident};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {ident} TO {ident};
         GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {ident} TO {ident};
         GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {ident} TO {ident};
         REVOKE INSERT, UPDATE, DELETE ON {ident}.firelater_migrations FROM {ident};"
    ))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Upgrades every tenant schema and brings its permissions in line with the manifest, one
/// transaction per tenant, so an interrupted run resumes where it stopped. Tenants already at
/// the newest version and permission stamp are skipped without opening their schema.
/// `progress` is told about each tenant upgraded.
pub async fn migrate_all(
    pool: &PgPool,
    manifest: &Manifest,
    mut progress: impl FnMut(&str, usize),
) -> anyhow::Result<usize> {
    let latest = migrate::latest(&migrate::TENANT);
    let stamp = manifest.permissions_stamp();
    let slugs: Vec<String> = sqlx::query_scalar(
        "SELECT slug FROM public.tenants
         WHERE schema_version < $1 OR permissions_stamp IS DISTINCT FROM $2 ORDER BY slug",
    )
    .bind(latest)
    .bind(&stamp)
    .fetch_all(pool)
    .await?;
    let mut total = 0;
    for raw in slugs {
        let slug = Slug::parse(&raw).map_err(|p| anyhow::anyhow!("tenant '{raw}': slug {p}"))?;
        let schema = slug.schema();
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT set_config('search_path', $1, true)")
            .bind(format!("{schema}, public"))
            .execute(&mut *tx)
            .await?;
        let n = migrate::apply(&mut tx, &migrate::TENANT)
            .await
            .with_context(|| format!("tenant {raw}"))?;
        if n > 0 {
            grant_tenant_role(&mut tx, &schema).await?;
        }
        crate::platform::module::sync_permissions(&mut tx, manifest)
            .await
            .with_context(|| format!("tenant {raw}: permissions"))?;
        record_versions(&mut tx, &slug, &stamp).await?;
        tx.commit().await?;
        progress(&raw, n);
        total += n;
    }
    Ok(total)
}

async fn record_versions(conn: &mut PgConnection, slug: &Slug, stamp: &str) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE public.tenants SET schema_version = $2, permissions_stamp = $3 WHERE slug = $1",
    )
    .bind(slug.as_str())
    .bind(migrate::latest(&migrate::TENANT))
    .bind(stamp)
    .execute(conn)
    .await?;
    Ok(())
}

/// True when `public` and every tenant schema are at the newest migration: one query over
/// `public`, whatever the number of tenants (each tenant's version is recorded as it migrates).
pub async fn migrations_current(pool: &PgPool) -> anyhow::Result<bool> {
    let (public, behind): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COALESCE(MAX(version), 0) FROM public.firelater_migrations),
                (SELECT COUNT(*) FROM public.tenants WHERE schema_version < $1)",
    )
    .bind(migrate::latest(&migrate::TENANT))
    .fetch_one(pool)
    .await?;
    Ok(public >= migrate::latest(&migrate::PUBLIC) && behind == 0)
}

/// `/readyz`'s memory: once every schema was seen current it stays so for this process (a newer
/// binary's migrations run before it serves), so later probes only check the database answers.
#[derive(Clone, Default)]
pub struct Readiness(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Readiness {
    pub async fn check(&self, pool: &PgPool) -> anyhow::Result<bool> {
        use std::sync::atomic::Ordering;
        if self.0.load(Ordering::Relaxed) {
            sqlx::query("SELECT 1").execute(pool).await?;
            return Ok(true);
        }
        let current = migrations_current(pool).await?;
        if current {
            self.0.store(true, Ordering::Relaxed);
        }
        Ok(current)
    }
}

/// Marks a point to return to: a failed attempt (a rejected form) is undone with
/// `rollback_to_savepoint`, and the same transaction goes on to render the answer.
pub async fn savepoint(tx: &mut TenantTx) -> Result<(), AppError> {
    sqlx::query("SAVEPOINT attempt").execute(&mut **tx).await?;
    Ok(())
}

pub async fn rollback_to_savepoint(tx: &mut TenantTx) -> Result<(), AppError> {
    sqlx::query("ROLLBACK TO SAVEPOINT attempt")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Runs a `SELECT EXISTS (… WHERE id = $1)` check (reference validation in forms and bodies).
pub async fn exists(tx: &mut TenantTx, sql: &str, id: uuid::Uuid) -> Result<bool, AppError> {
    Ok(sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?)
}
