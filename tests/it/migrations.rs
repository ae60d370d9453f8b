//! `firelater migrate` brings a tenant created by an older release to exactly the schema a
//! freshly provisioned tenant has, and running it again changes nothing.

use std::borrow::Cow;
use std::process::Command;

use firelater::platform::db::{migrate, quote_ident};
use firelater::platform::tenancy::Slug;
use sqlx::migrate::Migrator;

use crate::support::{IsolatedDb, unique_slug};

/// Everything that makes up a tenant schema, with the schema's own name factored out:
/// columns, constraints, indexes, functions, sequences, grants and the seeded reference rows.
async fn fingerprint(pool: &sqlx::PgPool, schema: &str) -> Vec<String> {
    let catalog = [
        "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || COALESCE(column_default, '')
           FROM information_schema.columns WHERE table_schema = $1",
        "SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
           FROM pg_constraint WHERE connamespace = $1::regnamespace",
        "SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = $1",
        "SELECT 'function ' || p.proname || ' ' || md5(p.prosrc) || ' ' || COALESCE(array_to_string(p.proconfig, ','), '')
           FROM pg_proc p WHERE p.pronamespace = $1::regnamespace",
        "SELECT 'sequence ' || sequence_name FROM information_schema.sequences WHERE sequence_schema = $1",
        "SELECT 'grant ' || table_name || ' ' || privilege_type FROM information_schema.role_table_grants
           WHERE table_schema = $1 AND grantee = $1",
        "SELECT 'trigger ' || event_object_table || ' ' || trigger_name || ' ' || action_statement
           FROM information_schema.triggers WHERE trigger_schema = $1",
    ];
    let mut all = Vec::new();
    for sql in catalog {
        let rows: Vec<String> = sqlx::query_scalar(sql)
            .bind(schema)
            .fetch_all(pool)
            .await
            .unwrap();
        all.extend(rows.into_iter().map(|r| r.replace(schema, "<tenant>")));
    }
    let s = quote_ident(schema);
    for seeded in [
        format!("SELECT 'role ' || name FROM {s}.roles"),
        format!("SELECT 'permission ' || resource || ':' || action FROM {s}.permissions"),
        format!(
            "SELECT 'grant ' || r.name || ' ' || p.resource || ':' || p.action FROM {s}.role_permissions rp
             JOIN {s}.roles r ON r.id = rp.role_id JOIN {s}.permissions p ON p.id = rp.permission_id"
        ),
        format!("SELECT 'sla ' || name FROM {s}.sla_policies"),
        format!("SELECT 'hours ' || name FROM {s}.business_hours"),
        format!("SELECT 'migration ' || version FROM {s}.firelater_migrations"),
    ] {
        let rows: Vec<String> = sqlx::query_scalar(&seeded).fetch_all(pool).await.unwrap();
        all.extend(rows);
    }
    all.sort();
    all
}

/// Creates a tenant the way the first release did: only the first tenant migration.
async fn old_tenant(db: &IsolatedDb) -> Slug {
    let slug = Slug::parse(&unique_slug()).unwrap();
    let schema = slug.schema();
    let first = Migrator {
        migrations: Cow::Owned(migrate::TENANT.migrations[..1].to_vec()),
        ignore_missing: false,
        locking: false,
        no_tx: false,
    };
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query("INSERT INTO public.tenants (name, slug, status) VALUES ('Old', $1, 'active')")
        .bind(slug.as_str())
        .execute(&mut *tx)
        .await
        .unwrap();
    let ident = quote_ident(&schema);
    sqlx::raw_sql(&format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{schema}') THEN CREATE ROLE {ident} NOLOGIN; END IF; END $$;
         GRANT firelater_tenant TO {ident}; CREATE SCHEMA {ident};
         SELECT set_config('search_path', '{schema}, public', true);"
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    assert_eq!(migrate::apply(&mut tx, &first).await.unwrap(), 1);
    tx.commit().await.unwrap();
    slug
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_brings_old_tenants_to_the_fresh_schema() {
    assert!(
        migrate::TENANT.migrations.len() >= 2,
        "needs an older release to upgrade from"
    );
    let db = IsolatedDb::new().await;
    let old = old_tenant(&db).await;
    let fresh = db.tenant().await;
    assert_ne!(
        fingerprint(&db.pool, &old.schema()).await,
        fingerprint(&db.pool, &fresh.schema()).await
    );

    let run = || {
        Command::new(env!("CARGO_BIN_EXE_firelater"))
            .arg("migrate")
            .env("DATABASE_URL", db.url())
            .env(
                "FIRELATER_SECRET_KEY",
                "test-secret-key-test-secret-key-0123",
            )
            .output()
            .expect("run firelater migrate")
    };
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("tenant {old}:")), "{stdout}");

    let (old_fp, fresh_fp) = (
        fingerprint(&db.pool, &old.schema()).await,
        fingerprint(&db.pool, &fresh.schema()).await,
    );
    let only_old: Vec<_> = old_fp.iter().filter(|l| !fresh_fp.contains(l)).collect();
    let only_fresh: Vec<_> = fresh_fp.iter().filter(|l| !old_fp.contains(l)).collect();
    assert!(
        only_old.is_empty() && only_fresh.is_empty(),
        "after migrate, old-only: {only_old:#?}\nfresh-only: {only_fresh:#?}"
    );
    // Idempotent: a second run applies nothing.
    let again = run();
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("done: 0 tenant migration(s) applied"));
    db.drop().await;
}
