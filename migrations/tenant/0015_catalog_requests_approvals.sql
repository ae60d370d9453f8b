-- The service catalog, service requests and the shared approvals engine.
--
-- Catalog items keep their working draft in catalog_items (form_schema is the draft) and every
-- published form in catalog_item_versions: a request records the version it was submitted
-- under, so its answers keep that version's labels after the item changes.
--
-- Approvals are one engine for every kind of record (requests now, changes next), so its rows
-- live in `approvals` keyed by (entity_type, entity_id) rather than in the spec's
-- request-only request_approvals table, which stays unused. The column names follow the spec's
-- (step_number, approver_id, status, decision_at, comments).

ALTER TABLE users ADD COLUMN manager_id UUID REFERENCES users(id) ON DELETE SET NULL;
CREATE INDEX idx_users_manager ON users(manager_id);

ALTER TABLE catalog_items
    ALTER COLUMN form_schema SET DEFAULT '{"version": "1.0", "fields": []}',
    ADD COLUMN version INTEGER NOT NULL DEFAULT 1,
    ADD COLUMN published_version INTEGER,
    ADD COLUMN fulfillment_group_id UUID REFERENCES groups(id) ON DELETE SET NULL,
    ADD COLUMN approval_chain JSONB NOT NULL DEFAULT '{"stages": []}',
    ADD COLUMN task_templates JSONB NOT NULL DEFAULT '[]',
    ADD COLUMN created_by UUID REFERENCES users(id) ON DELETE SET NULL,
    ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        to_tsvector('simple'::regconfig, coalesce(name, '') || ' ' || coalesce(short_desc, '') || ' '
            || coalesce(description, ''))) STORED;
CREATE INDEX idx_catalog_items_group ON catalog_items(fulfillment_group_id);
CREATE INDEX idx_catalog_items_sla ON catalog_items(sla_policy_id);
CREATE INDEX idx_catalog_items_search ON catalog_items USING gin(search_vector);

CREATE TABLE catalog_item_versions (
    item_id         UUID NOT NULL REFERENCES catalog_items(id) ON DELETE CASCADE,
    version         INTEGER NOT NULL,
    name            VARCHAR(255) NOT NULL,
    form_schema     JSONB NOT NULL,
    approval_chain  JSONB NOT NULL,
    task_templates  JSONB NOT NULL,
    published_by    UUID REFERENCES users(id) ON DELETE SET NULL,
    published_at    TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (item_id, version)
);

ALTER TABLE service_requests
    ADD COLUMN form_version INTEGER,
    ADD COLUMN parent_id UUID REFERENCES service_requests(id) ON DELETE CASCADE,
    ADD COLUMN title VARCHAR(500) NOT NULL DEFAULT '',
    ADD COLUMN cancel_reason TEXT;
CREATE INDEX idx_requests_item ON service_requests(catalog_item_id);
CREATE INDEX idx_requests_bundle ON service_requests(bundle_id);
CREATE INDEX idx_requests_for ON service_requests(requested_for_id);
CREATE INDEX idx_requests_group ON service_requests(assigned_group);
CREATE INDEX idx_requests_parent ON service_requests(parent_id);
CREATE INDEX idx_requests_sla ON service_requests(sla_policy_id);

CREATE TABLE request_status_history (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    request_id      UUID NOT NULL REFERENCES service_requests(id) ON DELETE CASCADE,
    from_status     VARCHAR(50),
    to_status       VARCHAR(50) NOT NULL,
    changed_by      UUID REFERENCES users(id) ON DELETE SET NULL,
    reason          TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_request_history_request ON request_status_history(request_id, created_at);
CREATE INDEX idx_request_history_user ON request_status_history(changed_by);

CREATE TABLE request_comments (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    request_id      UUID NOT NULL REFERENCES service_requests(id) ON DELETE CASCADE,
    user_id         UUID REFERENCES users(id) ON DELETE SET NULL,
    content         TEXT NOT NULL,
    is_internal     BOOLEAN NOT NULL DEFAULT false,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_request_comments_request ON request_comments(request_id, created_at);
CREATE INDEX idx_request_comments_user ON request_comments(user_id);

-- The chain a record was submitted with, frozen, and where it stands.
CREATE TABLE approval_runs (
    entity_type     VARCHAR(50) NOT NULL,
    entity_id       UUID NOT NULL,
    chain           JSONB NOT NULL,
    -- What later steps resolve their approvers from: the person it is for, the fallback group,
    -- the answers (an application owner step reads its field).
    context         JSONB NOT NULL DEFAULT '{}',
    requester_id    UUID REFERENCES users(id) ON DELETE SET NULL,
    current_step    INTEGER,
    status          VARCHAR(20) NOT NULL DEFAULT 'pending',  -- 'pending', 'approved', 'rejected', 'cancelled'
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (entity_type, entity_id)
);
CREATE INDEX idx_approval_runs_requester ON approval_runs(requester_id);

-- One row per person who may decide at a step (created when the step starts).
CREATE TABLE approvals (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    entity_type     VARCHAR(50) NOT NULL,
    entity_id       UUID NOT NULL,
    step_number     INTEGER NOT NULL,
    approver_id     UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status          VARCHAR(20) NOT NULL DEFAULT 'pending',  -- 'pending', 'approved', 'rejected', 'closed'
    decided_by      UUID REFERENCES users(id) ON DELETE SET NULL,  -- a delegate acting on behalf
    decision_at     TIMESTAMPTZ,
    comments        TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (entity_type, entity_id, step_number, approver_id),
    FOREIGN KEY (entity_type, entity_id) REFERENCES approval_runs(entity_type, entity_id) ON DELETE CASCADE
);
CREATE INDEX idx_approvals_approver ON approvals(approver_id, status);
CREATE INDEX idx_approvals_decided_by ON approvals(decided_by);

-- Out-of-office: `delegate_id` decides for `user_id` between the dates (no onward delegation).
CREATE TABLE approval_delegations (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    delegate_id     UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    starts_on       DATE NOT NULL,
    ends_on         DATE NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    CHECK (user_id <> delegate_id),
    CHECK (starts_on <= ends_on)
);
CREATE INDEX idx_delegations_user ON approval_delegations(user_id);
CREATE INDEX idx_delegations_delegate ON approval_delegations(delegate_id);
CREATE INDEX idx_catalog_items_created_by ON catalog_items(created_by);
CREATE INDEX idx_catalog_versions_published_by ON catalog_item_versions(published_by);

-- The builder's one-step undo: the draft form before its last change.
ALTER TABLE catalog_items ADD COLUMN form_schema_undo JSONB;
