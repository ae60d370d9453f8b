-- Issues, SLA and search (issue 3).

-- next_id() truncated numbers past 99999 (LPAD cuts longer strings): ISS-100000 became ISS-10000.
CREATE OR REPLACE FUNCTION next_id(p_entity_type VARCHAR(50))
RETURNS VARCHAR(50) LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    v_prefix VARCHAR(10);
    v_next BIGINT;
BEGIN
    SELECT prefix INTO v_prefix FROM id_sequences WHERE entity_type = p_entity_type;
    IF v_prefix IS NULL THEN
        RAISE EXCEPTION 'unknown id sequence %', p_entity_type;
    END IF;
    v_next := nextval(('id_seq_' || p_entity_type)::regclass);
    RETURN v_prefix || '-' || LPAD(v_next::TEXT, GREATEST(5, length(v_next::TEXT)), '0');
END;
$$;

-- ---------- issues ----------
ALTER TABLE issues
    ALTER COLUMN status SET NOT NULL,
    ALTER COLUMN priority SET NOT NULL,
    ALTER COLUMN created_at SET NOT NULL,
    ALTER COLUMN updated_at SET NOT NULL,
    ALTER COLUMN escalation_level SET NOT NULL,
    ALTER COLUMN sla_breached SET NOT NULL,
    ADD COLUMN priority_rank SMALLINT GENERATED ALWAYS AS (
        CASE priority WHEN 'critical' THEN 1 WHEN 'high' THEN 2 WHEN 'medium' THEN 3 ELSE 4 END) STORED,
    -- true when someone set the priority; false when the impact × urgency matrix derived it
    ADD COLUMN priority_explicit BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN response_warned_at TIMESTAMPTZ,
    ADD COLUMN resolution_warned_at TIMESTAMPTZ,
    ADD COLUMN response_breached_at TIMESTAMPTZ,
    ADD COLUMN resolution_breached_at TIMESTAMPTZ,
    -- business minutes (the wall-clock ones are time_to_first_response / time_to_resolution)
    ADD COLUMN business_time_to_first_response INTEGER,
    ADD COLUMN business_time_to_resolution INTEGER,
    ADD COLUMN deleted_at TIMESTAMPTZ,
    ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, issue_number), 'A') ||
        setweight(to_tsvector('english'::regconfig, title), 'A') ||
        setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B')) STORED;

-- The queue: open issues, newest first / by priority / by due time / per group, keyset-paged.
CREATE INDEX idx_issues_open_created ON issues (created_at DESC, id DESC)
    WHERE status NOT IN ('resolved', 'closed') AND deleted_at IS NULL;
CREATE INDEX idx_issues_open_priority ON issues (priority_rank, created_at DESC, id DESC)
    WHERE status NOT IN ('resolved', 'closed') AND deleted_at IS NULL;
CREATE INDEX idx_issues_open_group ON issues (assigned_group, created_at DESC, id DESC)
    WHERE status NOT IN ('resolved', 'closed') AND deleted_at IS NULL;
CREATE INDEX idx_issues_open_due ON issues ((COALESCE(resolution_due_at, 'infinity'::timestamptz)), id)
    WHERE status NOT IN ('resolved', 'closed') AND deleted_at IS NULL;
CREATE INDEX idx_issues_created_id ON issues (created_at DESC, id DESC);
CREATE INDEX idx_issues_updated ON issues (updated_at DESC, id DESC);
CREATE INDEX idx_issues_reporter_created ON issues (reporter_id, created_at DESC, id DESC);
CREATE INDEX idx_issues_category ON issues (category_id);
CREATE INDEX idx_issues_environment ON issues (environment_id);
CREATE INDEX idx_issues_parent ON issues (parent_issue_id);
CREATE INDEX idx_issues_sla_policy ON issues (sla_policy_id);
CREATE INDEX idx_issues_search ON issues USING GIN (search_vector);
CREATE INDEX idx_issues_title_trgm ON issues USING GIN (title public.gin_trgm_ops);
CREATE INDEX idx_issue_categories_parent ON issue_categories (parent_id);

ALTER TABLE issue_comments
    ALTER COLUMN created_at SET NOT NULL,
    ALTER COLUMN updated_at SET NOT NULL,
    ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        to_tsvector('english'::regconfig, content)) STORED;
CREATE INDEX idx_issue_comments_search ON issue_comments USING GIN (search_vector);
CREATE INDEX idx_issue_comments_user ON issue_comments (user_id);
CREATE INDEX idx_issue_status_history_changed_by ON issue_status_history (changed_by);
ALTER TABLE issue_status_history ALTER COLUMN created_at SET NOT NULL;

CREATE TABLE issue_links (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    issue_id        UUID NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    linked_issue_id UUID NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    link_type       VARCHAR(20) NOT NULL CHECK (link_type IN ('related', 'duplicate_of', 'caused_by')),
    created_by      UUID REFERENCES users(id),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (issue_id, linked_issue_id, link_type),
    CHECK (issue_id <> linked_issue_id)
);
CREATE INDEX idx_issue_links_linked ON issue_links (linked_issue_id);
CREATE INDEX idx_issue_links_created_by ON issue_links (created_by);

-- impact × urgency → priority, editable by admins
CREATE TABLE priority_matrix (
    impact   VARCHAR(50) NOT NULL,
    urgency  VARCHAR(50) NOT NULL,
    priority VARCHAR(20) NOT NULL CHECK (priority IN ('critical', 'high', 'medium', 'low')),
    PRIMARY KEY (impact, urgency)
);
INSERT INTO priority_matrix (impact, urgency, priority) VALUES
    ('widespread', 'immediate', 'critical'), ('widespread', 'high', 'critical'),
    ('widespread', 'medium', 'high'), ('widespread', 'low', 'medium'),
    ('significant', 'immediate', 'critical'), ('significant', 'high', 'high'),
    ('significant', 'medium', 'high'), ('significant', 'low', 'medium'),
    ('moderate', 'immediate', 'high'), ('moderate', 'high', 'medium'),
    ('moderate', 'medium', 'medium'), ('moderate', 'low', 'low'),
    ('minor', 'immediate', 'medium'), ('minor', 'high', 'medium'),
    ('minor', 'medium', 'low'), ('minor', 'low', 'low');

-- a user's saved queue filters (a query string, so a view is also a shareable URL)
CREATE TABLE saved_views (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    entity_type VARCHAR(50) NOT NULL DEFAULT 'issue',
    name        VARCHAR(100) NOT NULL,
    query       TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (user_id, entity_type, name)
);

-- ---------- SLA ----------
ALTER TABLE sla_policies
    ADD COLUMN sort_order INTEGER NOT NULL DEFAULT 100,
    ADD COLUMN is_active BOOLEAN NOT NULL DEFAULT true,
    ADD COLUMN business_hours_id UUID REFERENCES business_hours(id) ON DELETE SET NULL,
    -- statuses during which both clocks stand still
    ADD COLUMN pause_statuses TEXT[] NOT NULL DEFAULT '{pending}';
CREATE INDEX idx_sla_policies_business_hours ON sla_policies (business_hours_id);
CREATE INDEX idx_sla_targets_policy ON sla_targets (policy_id);
ALTER TABLE sla_targets ALTER COLUMN warning_percent SET NOT NULL,
    ALTER COLUMN business_hours_only SET NOT NULL;
UPDATE sla_policies SET sort_order = 1000 WHERE is_default;

-- ---------- permissions ----------
INSERT INTO permissions (resource, action, description)
VALUES ('issues', 'read_all', 'Read all issues, not only own and own groups''');
INSERT INTO role_permissions (role_id, permission_id)
SELECT ro.id, p.id FROM roles ro, permissions p
WHERE ro.name IN ('admin', 'manager') AND p.resource = 'issues' AND p.action = 'read_all';
