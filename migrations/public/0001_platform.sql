-- Shared tables: plans, tenants (with their shard/cluster), the job queue and login throttling.
-- Everything tenant-owned lives in the tenant schema (migrations/tenant).

CREATE TABLE plans (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name             VARCHAR(100) NOT NULL UNIQUE,
    display_name     VARCHAR(255) NOT NULL,
    max_users        INTEGER,
    max_applications INTEGER,
    features         JSONB NOT NULL DEFAULT '{}',
    price_monthly    DECIMAL(10,2),
    price_yearly     DECIMAL(10,2),
    is_active        BOOLEAN NOT NULL DEFAULT true,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

INSERT INTO plans (name, display_name, max_users, max_applications, features, price_monthly, price_yearly) VALUES
    ('starter', 'Starter', 10, 25, '{"sso": false, "cloud": false, "api": true}', 49.00, 490.00),
    ('professional', 'Professional', 100, 250, '{"sso": true, "cloud": true, "api": true}', 299.00, 2990.00),
    ('enterprise', 'Enterprise', NULL, NULL, '{"sso": true, "cloud": true, "api": true, "audit_export": true}', NULL, NULL);

CREATE TABLE tenants (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name          VARCHAR(255) NOT NULL,
    slug          VARCHAR(100) NOT NULL UNIQUE,
    plan_id       UUID REFERENCES plans(id),
    status        VARCHAR(50) NOT NULL DEFAULT 'active'
                  CHECK (status IN ('provisioning', 'active', 'suspended', 'cancelled')),
    settings      JSONB NOT NULL DEFAULT '{}',
    billing_email VARCHAR(255),
    trial_ends_at TIMESTAMPTZ,
    -- Shard map: NULL means the primary cluster this process is connected to.
    cluster_dsn   TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_tenants_plan ON tenants(plan_id);

-- Durable job queue shared by all tenants. Each job names its tenant (NULL = platform job).
-- Jobs are inserted inside the caller's transaction, so a rolled-back change enqueues nothing.
CREATE TABLE jobs (
    id           BIGSERIAL PRIMARY KEY,
    tenant_slug  VARCHAR(100),
    task         VARCHAR(100) NOT NULL,
    payload      JSONB NOT NULL DEFAULT '{}',
    -- A job key makes a pending job replaceable/cancellable (SLA and escalation timers).
    job_key      TEXT,
    run_at       TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 10,
    last_error   TEXT,
    locked_at    TIMESTAMPTZ,
    locked_by    TEXT,
    -- 'pending' → (locked) → deleted on success, or 'failed' after max_attempts.
    status       VARCHAR(20) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'failed')),
    -- Set when a keyed job is re-requested while it runs: it runs once more afterwards.
    rerun        BOOLEAN NOT NULL DEFAULT false,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE UNIQUE INDEX uq_jobs_key ON jobs(tenant_slug, job_key) NULLS NOT DISTINCT WHERE job_key IS NOT NULL;
CREATE INDEX idx_jobs_ready ON jobs(run_at) WHERE status = 'pending' AND locked_at IS NULL;
CREATE INDEX idx_jobs_locked ON jobs(locked_by) WHERE locked_at IS NOT NULL;
CREATE INDEX idx_jobs_tenant_status ON jobs(tenant_slug, status);

-- Workers announce themselves; a worker whose heartbeat stops is presumed dead and its
-- locked jobs return to the queue.
CREATE TABLE job_workers (
    id             TEXT PRIMARY KEY,
    started_at     TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    heartbeat_at   TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- Recurring jobs (cron-style): the scheduler enqueues `task` at each due time.
CREATE TABLE job_schedules (
    name         TEXT PRIMARY KEY,
    task         VARCHAR(100) NOT NULL,
    every_secs   INTEGER NOT NULL CHECK (every_secs > 0),
    next_run_at  TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- Login throttling buckets (per account and per IP); shared so several instances agree.
CREATE TABLE login_attempts (
    bucket       TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL DEFAULT 0,
    window_start TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    blocked_until TIMESTAMPTZ
);

INSERT INTO job_schedules (name, task, every_secs) VALUES ('cleanup', 'platform.cleanup', 3600);
