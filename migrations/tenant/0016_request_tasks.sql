-- Fulfilment tasks (TSK-00001) that a request gets from its catalog item's task templates when
-- it is approved. `task_key` and `depends_on` are the template's keys: a task waits until the
-- tasks it names are completed or skipped.

CREATE TABLE request_tasks (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    request_id      UUID NOT NULL REFERENCES service_requests(id) ON DELETE CASCADE,
    task_number     VARCHAR(50) NOT NULL UNIQUE,
    task_key        VARCHAR(50) NOT NULL,
    title           VARCHAR(500) NOT NULL,
    description     TEXT,
    sort_order      INTEGER NOT NULL DEFAULT 0,
    depends_on      TEXT[] NOT NULL DEFAULT '{}',
    status          VARCHAR(20) NOT NULL,  -- 'waiting', 'ready', 'in_progress', 'completed', 'skipped'
    assigned_group  UUID REFERENCES groups(id) ON DELETE SET NULL,
    assigned_to     UUID REFERENCES users(id) ON DELETE SET NULL,
    notes           TEXT,                  -- what was done, or why it was skipped
    started_at      TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ,
    finished_by     UUID REFERENCES users(id) ON DELETE SET NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (request_id, task_key)
);
CREATE INDEX idx_request_tasks_request ON request_tasks(request_id, sort_order);
CREATE INDEX idx_request_tasks_assigned ON request_tasks(assigned_to, status);
CREATE INDEX idx_request_tasks_group ON request_tasks(assigned_group, status);
CREATE INDEX idx_request_tasks_finished_by ON request_tasks(finished_by);

-- One-click decisions from e-mail: the link carries a random token whose hash is kept here.
-- It is bound to one approval and its approver, used once, and expires.
CREATE TABLE approval_tokens (
    token_hash      BYTEA PRIMARY KEY,
    approval_id     UUID NOT NULL REFERENCES approvals(id) ON DELETE CASCADE,
    user_id         UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at      TIMESTAMPTZ NOT NULL,
    used_at         TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_approval_tokens_approval ON approval_tokens(approval_id);
CREATE INDEX idx_approval_tokens_user ON approval_tokens(user_id);
