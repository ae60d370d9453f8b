//! Seeds the bench tenant with a realistic desk: groups of agents, requesters, applications and
//! N issues (most closed, a working set open) with comments — in set-based SQL so a million
//! issues take minutes, not hours.

use std::time::Instant;

use sqlx::PgPool;

use crate::platform::tenancy::{self, Slug};

/// Rows per insert statement: keeps each statement's memory modest at 1M issues.
const CHUNK: i64 = 100_000;

pub async fn issue_count(pool: &PgPool, slug: &Slug) -> anyhow::Result<i64> {
    let mut tx = tenancy::begin(pool, slug).await?;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM issues")
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(n)
}

/// People, groups and applications (once per tenant).
async fn cast(pool: &PgPool, slug: &Slug) -> anyhow::Result<()> {
    let mut tx = tenancy::begin(pool, slug).await?;
    let groups: i64 = sqlx::query_scalar("SELECT count(*) FROM groups")
        .fetch_one(&mut *tx)
        .await?;
    if groups >= 20 {
        return Ok(());
    }
    for sql in [
        "INSERT INTO groups (name, type) SELECT 'Team ' || g, 'team' FROM generate_series(1, 20) g",
        // Agents log in only through the bench's own minted sessions: no usable password.
        "INSERT INTO users (email, name, status, password_hash)
         SELECT 'agent' || a || '@bench.invalid', 'Agent ' || a, 'active', NULL FROM generate_series(1, 60) a",
        "INSERT INTO users (email, name, status, password_hash)
         SELECT 'user' || r || '@bench.invalid', 'Requester ' || r, 'active', NULL FROM generate_series(1, 2000) r",
        "INSERT INTO user_roles (user_id, role_id)
         SELECT u.id, r.id FROM users u, roles r
         WHERE u.email LIKE 'agent%@bench.invalid' AND r.name = 'agent'",
        "INSERT INTO user_roles (user_id, role_id)
         SELECT u.id, r.id FROM users u, roles r
         WHERE u.email LIKE 'user%@bench.invalid' AND r.name = 'requester'",
        // Three agents per group.
        "INSERT INTO group_members (group_id, user_id)
         SELECT g.id, a.id FROM
           (SELECT id, row_number() OVER (ORDER BY name) - 1 AS n FROM groups WHERE name LIKE 'Team %') g
           JOIN (SELECT id, row_number() OVER (ORDER BY email) - 1 AS n FROM users WHERE email LIKE 'agent%@bench.invalid') a
             ON a.n % 20 = g.n",
        "INSERT INTO applications (app_id, name, tier, status)
         SELECT 'APP-' || lpad(x::text, 5, '0'), 'Service ' || x,
                (ARRAY['P1','P2','P3','P4'])[1 + x % 4], 'active'
         FROM generate_series(1, 300) x",
    ] {
        sqlx::query(sql).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Adds issues (with comments) until the tenant has `target`, then vacuums and analyzes.
pub async fn seed(pool: &PgPool, slug: &Slug, target: i64) -> anyhow::Result<()> {
    cast(pool, slug).await?;
    let have = issue_count(pool, slug).await?;
    if have < target {
        add_issues(pool, slug, have, target).await?;
    }
    // What autovacuum has long since done on a desk in use: fresh statistics, and a visibility
    // map so that counts can be answered from the index alone. Also after earlier runs' writes.
    for table in [
        "issues",
        "issue_comments",
        "users",
        "groups",
        "group_members",
    ] {
        sqlx::query(&format!("VACUUM (ANALYZE) {}.{table}", slug.schema()))
            .execute(pool)
            .await?;
    }
    Ok(())
}

async fn add_issues(pool: &PgPool, slug: &Slug, have: i64, target: i64) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut from = have + 1;
    while from <= target {
        let to = (from + CHUNK - 1).min(target);
        let mut tx = tenancy::begin(pool, slug).await?;
        // The distributions: 60 % closed, 15 % resolved, the rest open (new/assigned/in
        // progress/pending); priorities 3/17/50/30 %; created over two years, open ones recent.
        sqlx::query(
            "WITH g AS (SELECT array_agg(id ORDER BY name) AS ids FROM groups WHERE name LIKE 'Team %'),
                  ag AS (SELECT array_agg(id ORDER BY email) AS ids FROM users WHERE email LIKE 'agent%@bench.invalid'),
                  rq AS (SELECT array_agg(id ORDER BY email) AS ids FROM users WHERE email LIKE 'user%@bench.invalid'),
                  ap AS (SELECT array_agg(id ORDER BY app_id) AS ids FROM applications),
                  pol AS (SELECT id FROM sla_policies WHERE is_default AND entity_type = 'issue' LIMIT 1),
                  s AS (
                    SELECT n, hashint8(n) AS h,
                           CASE WHEN n % 100 < 60 THEN 'closed' WHEN n % 100 < 75 THEN 'resolved'
                                WHEN n % 100 < 80 THEN 'new' WHEN n % 100 < 88 THEN 'assigned'
                                WHEN n % 100 < 96 THEN 'in_progress' ELSE 'pending' END AS status,
                           CASE WHEN n % 97 < 3 THEN 'critical' WHEN n % 97 < 20 THEN 'high'
                                WHEN n % 97 < 68 THEN 'medium' ELSE 'low' END AS priority
                    FROM generate_series($1::bigint, $2::bigint) n)
             INSERT INTO issues (issue_number, title, description, status, priority, issue_type, source,
                 application_id, reporter_id, assigned_group, assigned_to, sla_policy_id,
                 created_at, updated_at, first_response_at, resolved_at, closed_at,
                 response_due_at, resolution_due_at, resolution_code, resolution_notes)
             SELECT 'ISS-' || lpad(s.n::text, GREATEST(5, length(s.n::text)), '0'),
                    (ARRAY['VPN drops','Printer offline','Cannot log in','Slow dashboard','Payment failed',
                           'Disk almost full','Email bounce','Build broken','SSO error','Report wrong'])[1 + abs(s.h) % 10]
                      || ' on ' || 'Service ' || (1 + abs(s.h) % 300),
                    'Seen by several users since this morning. Steps attached.',
                    s.status, s.priority, 'issue', 'portal',
                    ap.ids[1 + abs(s.h) % 300], rq.ids[1 + abs(s.h / 7) % 2000],
                    CASE WHEN s.status = 'new' THEN NULL ELSE g.ids[1 + abs(s.h / 3) % 20] END,
                    CASE WHEN s.status IN ('new', 'assigned') THEN NULL ELSE ag.ids[1 + abs(s.h / 5) % 60] END,
                    pol.id, t.created, t.created + interval '2 hours',
                    CASE WHEN s.status <> 'new' THEN t.created + interval '20 minutes' END,
                    CASE WHEN s.status IN ('resolved','closed') THEN t.created + interval '1 day' END,
                    CASE WHEN s.status = 'closed' THEN t.created + interval '3 days' END,
                    CASE WHEN s.status NOT IN ('resolved','closed') THEN t.created + interval '1 hour' END,
                    CASE WHEN s.status NOT IN ('resolved','closed') THEN t.created + interval '2 days' END,
                    CASE WHEN s.status IN ('resolved','closed') THEN 'fixed' END,
                    CASE WHEN s.status IN ('resolved','closed') THEN 'Restarted the service.' END
             FROM s CROSS JOIN g CROSS JOIN ag CROSS JOIN rq CROSS JOIN ap LEFT JOIN pol ON true
             CROSS JOIN LATERAL (SELECT now() - CASE WHEN s.status IN ('resolved','closed')
                     THEN make_interval(mins => (abs(s.h) % (730 * 1440))::int)
                     ELSE make_interval(mins => (abs(s.h) % (30 * 1440))::int) END AS created) t",
        )
        .bind(from)
        .bind(to)
        .execute(&mut *tx)
        .await?;
        // Every other issue has two comments (one an internal note).
        sqlx::query(
            "INSERT INTO issue_comments (issue_id, user_id, content, content_type, is_internal, created_at, updated_at)
             SELECT i.id, i.assigned_to, c.text, 'markdown', c.internal, i.created_at + c.after, i.created_at + c.after
             FROM issues i
             CROSS JOIN (VALUES ('Looking into it now.', false, interval '20 minutes'),
                                ('Checked the logs; the upstream timed out.', true, interval '1 hour')) c(text, internal, after)
             WHERE i.assigned_to IS NOT NULL
               AND substring(i.issue_number FROM 5)::bigint BETWEEN $1 AND $2
               AND substring(i.issue_number FROM 5)::bigint % 2 = 0",
        )
        .bind(from)
        .bind(to)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        println!(
            "  seeded issues {from}–{to} ({:.0} s so far)",
            started.elapsed().as_secs_f64()
        );
        from = to + 1;
    }
    let mut tx = tenancy::begin(pool, slug).await?;
    // New issues continue the numbering after the seeded ones.
    sqlx::query("SELECT setval('id_seq_issue', $1)")
        .bind(target)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
