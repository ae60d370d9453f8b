-- Platform tables the spec implies but does not list: credentials, tokens, the domain-event
-- outbox; plus indexes for audit queries and every foreign key the identity screens filter on.

ALTER TABLE users
    ALTER COLUMN status SET NOT NULL,
    ALTER COLUMN timezone SET NOT NULL,
    ALTER COLUMN created_at SET NOT NULL,
    ALTER COLUMN updated_at SET NOT NULL,
    ADD CONSTRAINT users_status_check CHECK (status IN ('active', 'inactive', 'pending')),
    -- Tokens and sessions issued before this instant are dead (password change, deactivation).
    ADD COLUMN credentials_changed_at TIMESTAMPTZ NOT NULL DEFAULT NOW();
-- Emails are matched case-insensitively.
CREATE UNIQUE INDEX uq_users_email_lower ON users (lower(email));

ALTER TABLE groups
    ADD CONSTRAINT groups_type_check CHECK (type IN ('team', 'department', 'distribution'));
CREATE UNIQUE INDEX uq_groups_name_lower ON groups (lower(name));
CREATE INDEX idx_groups_manager ON groups(manager_id);
ALTER TABLE group_members ADD CONSTRAINT group_members_role_check CHECK (role IN ('member', 'lead'));
CREATE INDEX idx_user_roles_role ON user_roles(role_id);
CREATE INDEX idx_role_permissions_permission ON role_permissions(permission_id);

CREATE TABLE api_keys (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         VARCHAR(255) NOT NULL,
    -- First characters of the secret part, shown in lists so people can tell keys apart.
    key_prefix   VARCHAR(32) NOT NULL,
    key_hash     BYTEA NOT NULL UNIQUE,
    scopes       TEXT[] NOT NULL DEFAULT '{}',
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_api_keys_user ON api_keys(user_id);

CREATE TABLE refresh_tokens (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- Every token minted by rotation from one login shares a family; reuse of a spent
    -- token revokes the family.
    family_id   UUID NOT NULL,
    token_hash  BYTEA NOT NULL UNIQUE,
    expires_at  TIMESTAMPTZ NOT NULL,
    spent_at    TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_refresh_tokens_user ON refresh_tokens(user_id);
CREATE INDEX idx_refresh_tokens_family ON refresh_tokens(family_id);

CREATE TABLE password_reset_tokens (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash  BYTEA NOT NULL UNIQUE,
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_password_reset_tokens_user ON password_reset_tokens(user_id);

-- Domain-event outbox: written in the transaction of the mutation, dispatched by a job.
CREATE TABLE domain_events (
    id            BIGSERIAL PRIMARY KEY,
    event_type    VARCHAR(100) NOT NULL,
    entity_type   VARCHAR(100) NOT NULL,
    entity_id     UUID NOT NULL,
    actor_id      UUID,
    payload       JSONB NOT NULL DEFAULT '{}',
    occurred_at   TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    dispatched_at TIMESTAMPTZ
);
CREATE INDEX idx_domain_events_pending ON domain_events(id) WHERE dispatched_at IS NULL;
CREATE INDEX idx_domain_events_entity ON domain_events(entity_type, entity_id);

-- Outbound mail (password resets now; notifications later) — the record of what was sent.
CREATE TABLE outbound_emails (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    to_address  VARCHAR(255) NOT NULL,
    subject     VARCHAR(500) NOT NULL,
    body_text   TEXT NOT NULL,
    status      VARCHAR(20) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    sent_at     TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- Completion records of the queue self-test job (admin "test the workers" button).
CREATE TABLE job_probes (
    id           BIGSERIAL PRIMARY KEY,
    job_id       BIGINT NOT NULL UNIQUE,
    requested_by UUID REFERENCES users(id) ON DELETE SET NULL,
    completed_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_job_probes_requested_by ON job_probes(requested_by);

ALTER TABLE audit_logs
    ALTER COLUMN created_at SET NOT NULL,
    ADD COLUMN actor_name VARCHAR(255);
CREATE INDEX idx_audit_logs_entity ON audit_logs(entity_type, entity_id, created_at DESC);
CREATE INDEX idx_audit_logs_user ON audit_logs(user_id, created_at DESC);
CREATE INDEX idx_audit_logs_created ON audit_logs(created_at DESC);
CREATE INDEX idx_audit_logs_action ON audit_logs(action);

CREATE INDEX idx_attachments_entity ON attachments(entity_type, entity_id);
CREATE INDEX idx_attachments_uploaded_by ON attachments(uploaded_by);

-- ============================================
-- SEED: system roles and the permission matrix
-- ============================================
INSERT INTO roles (name, display_name, description, is_system) VALUES
    ('admin', 'Administrator', 'Full system access', true),
    ('manager', 'Manager', 'Manage team and approve changes', true),
    ('agent', 'Agent', 'Handle issues and requests', true),
    ('requester', 'Requester', 'Submit and view own requests', true);

INSERT INTO permissions (resource, action, description)
SELECT r.resource, a.action, initcap(a.action) || ' ' || replace(r.resource, '_', ' ')
FROM (VALUES
    ('issues', ARRAY['read','create','update','delete','assign']),
    ('requests', ARRAY['read','create','update','delete','approve']),
    ('catalog', ARRAY['read','create','update','delete']),
    ('changes', ARRAY['read','create','update','delete','approve']),
    ('applications', ARRAY['read','create','update','delete']),
    ('oncall', ARRAY['read','create','update','delete']),
    ('users', ARRAY['read','create','update','delete']),
    ('groups', ARRAY['read','create','update','delete']),
    ('roles', ARRAY['read','create','update','delete']),
    ('reports', ARRAY['read','export']),
    ('cloud', ARRAY['read','create','update','delete']),
    ('sla', ARRAY['read','create','update','delete']),
    ('integrations', ARRAY['read','create','update','delete']),
    ('webhooks', ARRAY['read','create','update','delete']),
    ('settings', ARRAY['read','update']),
    ('audit', ARRAY['read']),
    ('api_keys', ARRAY['read','create','delete','manage']),
    ('jobs', ARRAY['read','update'])
) AS r(resource, actions)
CROSS JOIN LATERAL unnest(r.actions) AS a(action);

INSERT INTO role_permissions (role_id, permission_id)
SELECT ro.id, p.id FROM roles ro CROSS JOIN permissions p WHERE ro.name = 'admin';

INSERT INTO role_permissions (role_id, permission_id)
SELECT ro.id, p.id FROM roles ro JOIN permissions p ON (p.resource || ':' || p.action) = ANY (ARRAY[
    'issues:read','issues:create','issues:update','issues:delete','issues:assign',
    'requests:read','requests:create','requests:update','requests:delete','requests:approve',
    'catalog:read','catalog:create','catalog:update','catalog:delete',
    'changes:read','changes:create','changes:update','changes:delete','changes:approve',
    'applications:read','applications:create','applications:update','applications:delete',
    'oncall:read','oncall:create','oncall:update','oncall:delete',
    'users:read','groups:read','groups:create','groups:update','roles:read',
    'reports:read','reports:export','cloud:read','sla:read',
    'integrations:read','webhooks:read','api_keys:read','api_keys:create','api_keys:delete'])
WHERE ro.name = 'manager';

INSERT INTO role_permissions (role_id, permission_id)
SELECT ro.id, p.id FROM roles ro JOIN permissions p ON (p.resource || ':' || p.action) = ANY (ARRAY[
    'issues:read','issues:create','issues:update','issues:assign',
    'requests:read','requests:create','requests:update',
    'catalog:read','changes:read','changes:create','changes:update',
    'applications:read','oncall:read','users:read','groups:read','roles:read',
    'reports:read','cloud:read','sla:read','api_keys:read','api_keys:create','api_keys:delete'])
WHERE ro.name = 'agent';

INSERT INTO role_permissions (role_id, permission_id)
SELECT ro.id, p.id FROM roles ro JOIN permissions p ON (p.resource || ':' || p.action) = ANY (ARRAY[
    'issues:read','issues:create','requests:read','requests:create','catalog:read'])
WHERE ro.name = 'requester';

-- ============================================
-- SEED: default business hours and SLA policy
-- ============================================
WITH bh AS (
    INSERT INTO business_hours (name, timezone, is_default) VALUES ('Default', 'UTC', true) RETURNING id
)
INSERT INTO business_hours_schedule (business_hours_id, day_of_week, start_time, end_time)
SELECT bh.id, d, '09:00', '17:00' FROM bh CROSS JOIN generate_series(1, 5) AS d;

WITH pol AS (
    INSERT INTO sla_policies (name, description, entity_type, is_default)
    VALUES ('Default issue SLA', 'Applies when no other policy matches', 'issue', true) RETURNING id
)
INSERT INTO sla_targets (policy_id, metric_type, priority, target_minutes, business_hours_only)
SELECT pol.id, t.metric, t.priority, t.minutes, t.priority <> 'critical'
FROM pol CROSS JOIN (VALUES
    ('response_time', 'critical', 15), ('resolution_time', 'critical', 240),
    ('response_time', 'high', 60), ('resolution_time', 'high', 480),
    ('response_time', 'medium', 240), ('resolution_time', 'medium', 1440),
    ('response_time', 'low', 480), ('resolution_time', 'low', 2880)
) AS t(metric, priority, minutes);
