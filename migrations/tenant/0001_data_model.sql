-- The whole tenant data model of the spec, created in every tenant schema (tenant_<slug>).
-- Deviations from the spec's SQL (see DESIGN.md §2):
--  * human-readable numbers come from per-schema sequences through next_id(), whose search_path
--    is pinned, so concurrent creators never block each other or collide;
--  * no subquery partial index on app_health_scores (invalid); latest score lives on applications;
--  * attachments and audit_logs carry no tenant_id (the schema is the tenant).

CREATE TABLE id_sequences (
    entity_type     VARCHAR(50) PRIMARY KEY,  -- 'request', 'issue', 'change', 'task', 'application'
    prefix          VARCHAR(10) NOT NULL,     -- 'REQ', 'ISS', 'CHG', 'TSK', 'APP'
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

INSERT INTO id_sequences (entity_type, prefix) VALUES
    ('request', 'REQ'), ('issue', 'ISS'), ('change', 'CHG'), ('task', 'TSK'), ('application', 'APP');

CREATE SEQUENCE id_seq_request;
CREATE SEQUENCE id_seq_issue;
CREATE SEQUENCE id_seq_change;
CREATE SEQUENCE id_seq_task;
CREATE SEQUENCE id_seq_application;

-- nextval never blocks and never hands out a number twice, even under concurrent inserts;
-- a rolled-back insert leaves a gap, which is acceptable for human-readable numbers.
-- SET search_path FROM CURRENT pins the tenant schema this function was created in.
CREATE FUNCTION next_id(p_entity_type VARCHAR(50))
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
    RETURN v_prefix || '-' || LPAD(v_next::TEXT, 5, '0');
END;
$$;

-- ============================================
-- IDENTITY & ACCESS
-- ============================================

CREATE TABLE users (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    email           VARCHAR(255) NOT NULL UNIQUE,
    name            VARCHAR(255) NOT NULL,
    avatar_url      TEXT,
    phone           VARCHAR(50),
    timezone        VARCHAR(100) DEFAULT 'UTC',
    status          VARCHAR(20) DEFAULT 'active',  -- 'active', 'inactive', 'pending'
    auth_provider   VARCHAR(50) DEFAULT 'local',   -- 'local', 'google', 'okta', 'azure_ad'
    external_id     VARCHAR(255),                  -- SSO provider ID
    password_hash   TEXT,                          -- For local auth only
    last_login_at   TIMESTAMPTZ,
    settings        JSONB DEFAULT '{}',
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_users_email ON users(email);
CREATE INDEX idx_users_external_id ON users(auth_provider, external_id) WHERE external_id IS NOT NULL;

-- ============================================
-- ROLES & PERMISSIONS (RBAC)
-- ============================================

CREATE TABLE roles (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name            VARCHAR(100) NOT NULL UNIQUE,  -- 'admin', 'manager', 'agent', 'requester'
    display_name    VARCHAR(255) NOT NULL,
    description     TEXT,
    is_system       BOOLEAN DEFAULT false,         -- System roles cannot be deleted
    created_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE permissions (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    resource        VARCHAR(100) NOT NULL,         -- 'issues', 'changes', 'catalog', etc.
    action          VARCHAR(50) NOT NULL,          -- 'create', 'read', 'update', 'delete', 'approve'
    description     TEXT,
    UNIQUE(resource, action)
);

CREATE TABLE role_permissions (
    role_id         UUID REFERENCES roles(id) ON DELETE CASCADE,
    permission_id   UUID REFERENCES permissions(id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, permission_id)
);

CREATE TABLE user_roles (
    user_id         UUID REFERENCES users(id) ON DELETE CASCADE,
    role_id         UUID REFERENCES roles(id) ON DELETE CASCADE,
    granted_by      UUID REFERENCES users(id),
    granted_at      TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, role_id)
);

-- System roles and the permission matrix are seeded at the end of this file.

-- ============================================
-- GROUPS
-- ============================================

CREATE TABLE groups (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name            VARCHAR(255) NOT NULL,
    description     TEXT,
    type            VARCHAR(50) DEFAULT 'team',    -- 'team', 'department', 'distribution'
    parent_id       UUID REFERENCES groups(id) ON DELETE SET NULL,
    manager_id      UUID REFERENCES users(id) ON DELETE SET NULL,
    email           VARCHAR(255),                  -- Group email for notifications
    settings        JSONB DEFAULT '{}',
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_groups_parent ON groups(parent_id);
CREATE INDEX idx_groups_type ON groups(type);

CREATE TABLE group_members (
    group_id        UUID REFERENCES groups(id) ON DELETE CASCADE,
    user_id         UUID REFERENCES users(id) ON DELETE CASCADE,
    role            VARCHAR(50) DEFAULT 'member',  -- 'member', 'lead'
    joined_at       TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (group_id, user_id)
);

CREATE INDEX idx_group_members_user ON group_members(user_id);

-- ============================================
-- APPLICATION REGISTRY
-- ============================================

CREATE TABLE applications (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    app_id          VARCHAR(50) NOT NULL UNIQUE,   -- Human-readable ID like "APP-00001"
    name            VARCHAR(255) NOT NULL,
    description     TEXT,
    tier            VARCHAR(10) NOT NULL,          -- 'P1', 'P2', 'P3', 'P4'
    status          VARCHAR(50) DEFAULT 'active',  -- 'active', 'inactive', 'deprecated'
    lifecycle_stage VARCHAR(50) DEFAULT 'production', -- 'development', 'staging', 'production', 'sunset'
    owner_user_id   UUID REFERENCES users(id) ON DELETE SET NULL,
    owner_group_id  UUID REFERENCES groups(id) ON DELETE SET NULL,
    support_group_id UUID REFERENCES groups(id) ON DELETE SET NULL,
    business_unit   VARCHAR(255),
    criticality     VARCHAR(50),                   -- 'mission_critical', 'business_critical', 'business_operational', 'administrative'
    tags            TEXT[],
    metadata        JSONB DEFAULT '{}',
    health_score    DECIMAL(5,2),                  -- Calculated score 0-100
    health_score_updated_at TIMESTAMPTZ,
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_applications_app_id ON applications(app_id);
CREATE INDEX idx_applications_tier ON applications(tier);
CREATE INDEX idx_applications_status ON applications(status);
CREATE INDEX idx_applications_owner_user ON applications(owner_user_id);
CREATE INDEX idx_applications_owner_group ON applications(owner_group_id);
CREATE INDEX idx_applications_support_group ON applications(support_group_id);

CREATE TABLE environments (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    application_id  UUID REFERENCES applications(id) ON DELETE CASCADE,
    name            VARCHAR(100) NOT NULL,         -- 'development', 'staging', 'production'
    type            VARCHAR(50) NOT NULL,          -- 'dev', 'test', 'staging', 'prod'
    url             TEXT,
    cloud_provider  VARCHAR(50),                   -- 'aws', 'gcp', 'azure', 'on-prem'
    cloud_account   VARCHAR(255),                  -- AWS account ID, etc.
    cloud_region    VARCHAR(50),
    resource_ids    JSONB DEFAULT '[]',            -- List of cloud resource IDs
    status          VARCHAR(50) DEFAULT 'active',
    metadata        JSONB DEFAULT '{}',
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW(),
    UNIQUE(application_id, name)
);

CREATE INDEX idx_environments_application ON environments(application_id);
CREATE INDEX idx_environments_type ON environments(type);

-- ============================================
-- SLA CONFIGURATION
-- ============================================

CREATE TABLE sla_policies (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name            VARCHAR(255) NOT NULL,
    description     TEXT,
    entity_type     VARCHAR(50) NOT NULL,          -- 'issue', 'request', 'change'
    is_default      BOOLEAN DEFAULT false,
    conditions      JSONB DEFAULT '{}',            -- {"priority": "critical", "tier": "P1"}
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE sla_targets (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    policy_id       UUID REFERENCES sla_policies(id) ON DELETE CASCADE,
    metric_type     VARCHAR(50) NOT NULL,          -- 'response_time', 'resolution_time', 'first_update'
    priority        VARCHAR(20) NOT NULL,          -- 'critical', 'high', 'medium', 'low'
    target_minutes  INTEGER NOT NULL,              -- Target time in minutes
    warning_percent INTEGER DEFAULT 80,            -- Warn at 80% of target
    business_hours_only BOOLEAN DEFAULT true,
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    UNIQUE(policy_id, metric_type, priority)
);

-- Business hours definition
CREATE TABLE business_hours (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name            VARCHAR(255) NOT NULL DEFAULT 'Default',
    timezone        VARCHAR(100) NOT NULL DEFAULT 'UTC',
    is_default      BOOLEAN DEFAULT false,
    created_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE business_hours_schedule (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    business_hours_id UUID REFERENCES business_hours(id) ON DELETE CASCADE,
    day_of_week     INTEGER NOT NULL,              -- 0=Sunday, 6=Saturday
    start_time      TIME NOT NULL,
    end_time        TIME NOT NULL,
    UNIQUE(business_hours_id, day_of_week)
);

CREATE TABLE business_hours_holidays (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    business_hours_id UUID REFERENCES business_hours(id) ON DELETE CASCADE,
    holiday_date    DATE NOT NULL,
    name            VARCHAR(255),
    UNIQUE(business_hours_id, holiday_date)
);

-- ============================================
-- SERVICE CATALOG
-- ============================================

CREATE TABLE catalog_categories (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name            VARCHAR(255) NOT NULL,
    description     TEXT,
    icon            VARCHAR(100),
    color           VARCHAR(20),                   -- Hex color for UI
    sort_order      INTEGER DEFAULT 0,
    parent_id       UUID REFERENCES catalog_categories(id) ON DELETE SET NULL,
    status          VARCHAR(50) DEFAULT 'active',  -- 'active', 'hidden'
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_catalog_categories_parent ON catalog_categories(parent_id);
CREATE INDEX idx_catalog_categories_sort ON catalog_categories(sort_order);

CREATE TABLE catalog_items (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    category_id     UUID REFERENCES catalog_categories(id) ON DELETE SET NULL,
    name            VARCHAR(255) NOT NULL,
    short_desc      VARCHAR(500),
    description     TEXT,                          -- Rich text / markdown
    icon            VARCHAR(100),
    image_url       TEXT,                          -- Item image
    status          VARCHAR(50) DEFAULT 'draft',   -- 'draft', 'active', 'retired'
    form_schema     JSONB NOT NULL DEFAULT '[]',   -- Dynamic form fields (JSON Schema)
    fulfillment_type VARCHAR(50) DEFAULT 'manual', -- 'manual', 'automated', 'hybrid'
    fulfillment_config JSONB DEFAULT '{}',         -- Automation config

    -- Approvals
    approval_required BOOLEAN DEFAULT false,
    approval_type   VARCHAR(50) DEFAULT 'sequential', -- 'sequential', 'parallel', 'any'
    approval_groups UUID[],                        -- Array of group IDs for approval chain

    -- SLA & Fulfillment
    sla_policy_id   UUID REFERENCES sla_policies(id),
    default_priority VARCHAR(20) DEFAULT 'medium',
    estimated_hours INTEGER,                       -- Expected fulfillment time

    -- Cost tracking
    cost            DECIMAL(10,2),
    cost_type       VARCHAR(50),                   -- 'one_time', 'monthly', 'yearly'
    cost_center     VARCHAR(100),

    -- Visibility
    visible_to_groups UUID[],                      -- NULL = visible to all

    tags            TEXT[],
    sort_order      INTEGER DEFAULT 0,
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_catalog_items_category ON catalog_items(category_id);
CREATE INDEX idx_catalog_items_status ON catalog_items(status);

CREATE TABLE catalog_bundles (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name            VARCHAR(255) NOT NULL,
    description     TEXT,
    icon            VARCHAR(100),
    status          VARCHAR(50) DEFAULT 'active',
    discount_percent DECIMAL(5,2),                 -- Bundle discount
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE catalog_bundle_items (
    bundle_id       UUID REFERENCES catalog_bundles(id) ON DELETE CASCADE,
    item_id         UUID REFERENCES catalog_items(id) ON DELETE CASCADE,
    quantity        INTEGER DEFAULT 1,
    sort_order      INTEGER DEFAULT 0,
    PRIMARY KEY (bundle_id, item_id)
);

CREATE TABLE service_requests (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    request_number  VARCHAR(50) NOT NULL UNIQUE,   -- "REQ-00001"
    catalog_item_id UUID REFERENCES catalog_items(id),
    bundle_id       UUID REFERENCES catalog_bundles(id),

    -- People
    requester_id    UUID REFERENCES users(id),
    requested_for_id UUID REFERENCES users(id),    -- Can request on behalf of others
    assigned_to     UUID REFERENCES users(id),
    assigned_group  UUID REFERENCES groups(id),

    -- Status
    status          VARCHAR(50) DEFAULT 'new',     -- 'new', 'pending_approval', 'approved', 'in_progress', 'completed', 'cancelled', 'rejected'
    priority        VARCHAR(20) DEFAULT 'medium',

    -- Form data
    form_data       JSONB DEFAULT '{}',            -- Submitted form values

    -- Approval tracking
    approval_status VARCHAR(50),                   -- 'pending', 'approved', 'rejected'
    current_approval_step INTEGER DEFAULT 0,

    -- SLA tracking
    sla_policy_id   UUID REFERENCES sla_policies(id),
    response_due_at TIMESTAMPTZ,
    resolution_due_at TIMESTAMPTZ,
    responded_at    TIMESTAMPTZ,
    sla_breached    BOOLEAN DEFAULT false,

    -- Completion
    due_date        TIMESTAMPTZ,
    completed_at    TIMESTAMPTZ,
    completion_notes TEXT,

    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_requests_number ON service_requests(request_number);
CREATE INDEX idx_requests_status ON service_requests(status);
CREATE INDEX idx_requests_requester ON service_requests(requester_id);
CREATE INDEX idx_requests_assigned ON service_requests(assigned_to);
CREATE INDEX idx_requests_created ON service_requests(created_at DESC);

CREATE TABLE request_approvals (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    request_id      UUID REFERENCES service_requests(id) ON DELETE CASCADE,
    step_number     INTEGER NOT NULL,
    approver_group_id UUID REFERENCES groups(id),
    approver_id     UUID REFERENCES users(id),     -- Actual approver
    status          VARCHAR(50) DEFAULT 'pending', -- 'pending', 'approved', 'rejected'
    decision_at     TIMESTAMPTZ,
    comments        TEXT,
    created_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_request_approvals_request ON request_approvals(request_id);
CREATE INDEX idx_request_approvals_status ON request_approvals(status);

-- ============================================
-- ISSUE MANAGEMENT (Incidents)
-- ============================================

CREATE TABLE issue_categories (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name            VARCHAR(255) NOT NULL,
    parent_id       UUID REFERENCES issue_categories(id) ON DELETE SET NULL,
    sort_order      INTEGER DEFAULT 0,
    is_active       BOOLEAN DEFAULT true,
    created_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE issues (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    issue_number    VARCHAR(50) NOT NULL UNIQUE,   -- "ISS-00001"
    title           VARCHAR(500) NOT NULL,
    description     TEXT,
    status          VARCHAR(50) DEFAULT 'new',     -- 'new', 'assigned', 'in_progress', 'pending', 'resolved', 'closed'
    priority        VARCHAR(20) DEFAULT 'medium',  -- 'critical', 'high', 'medium', 'low'
    severity        VARCHAR(20),                   -- 'S1', 'S2', 'S3', 'S4'
    impact          VARCHAR(50),                   -- 'widespread', 'significant', 'moderate', 'minor'
    urgency         VARCHAR(50),                   -- 'immediate', 'high', 'medium', 'low'

    -- Classification
    category_id     UUID REFERENCES issue_categories(id),
    issue_type      VARCHAR(50) DEFAULT 'issue',   -- 'issue', 'problem', 'question'
    source          VARCHAR(50),                   -- 'portal', 'email', 'phone', 'monitoring', 'api'

    -- Relationships
    application_id  UUID REFERENCES applications(id) ON DELETE SET NULL,
    environment_id  UUID REFERENCES environments(id) ON DELETE SET NULL,
    reporter_id     UUID REFERENCES users(id),
    assigned_to     UUID REFERENCES users(id) ON DELETE SET NULL,
    assigned_group  UUID REFERENCES groups(id) ON DELETE SET NULL,

    -- Escalation
    escalation_level INTEGER DEFAULT 0,
    escalated_at    TIMESTAMPTZ,
    escalation_policy_id UUID,                     -- References oncall_escalation_policies

    -- SLA tracking
    sla_policy_id   UUID REFERENCES sla_policies(id),
    response_due_at TIMESTAMPTZ,
    resolution_due_at TIMESTAMPTZ,
    first_response_at TIMESTAMPTZ,
    sla_breached    BOOLEAN DEFAULT false,
    sla_breach_type VARCHAR(50),                   -- 'response', 'resolution', 'both'

    -- Resolution
    resolution_code VARCHAR(100),
    resolution_notes TEXT,
    resolved_at     TIMESTAMPTZ,
    resolved_by     UUID REFERENCES users(id),
    closed_at       TIMESTAMPTZ,
    closed_by       UUID REFERENCES users(id),

    -- Related issues
    parent_issue_id UUID REFERENCES issues(id),    -- For child issues / sub-tasks
    related_change_id UUID,                        -- Link to change that caused/fixed this

    -- External references
    external_refs   JSONB DEFAULT '[]',            -- [{type: 'jira', id: 'PROJ-123', url: '...'}]

    -- Metrics (calculated)
    time_to_first_response INTEGER,                -- Minutes
    time_to_resolution INTEGER,                    -- Minutes

    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_issues_number ON issues(issue_number);
CREATE INDEX idx_issues_status ON issues(status);
CREATE INDEX idx_issues_priority ON issues(priority);
CREATE INDEX idx_issues_application ON issues(application_id);
CREATE INDEX idx_issues_assigned_to ON issues(assigned_to);
CREATE INDEX idx_issues_assigned_group ON issues(assigned_group);
CREATE INDEX idx_issues_reporter ON issues(reporter_id);
CREATE INDEX idx_issues_created ON issues(created_at DESC);
CREATE INDEX idx_issues_sla_breach ON issues(sla_breached) WHERE sla_breached = true;
CREATE INDEX idx_issues_open ON issues(status) WHERE status NOT IN ('resolved', 'closed');

CREATE TABLE issue_comments (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    issue_id        UUID REFERENCES issues(id) ON DELETE CASCADE,
    user_id         UUID REFERENCES users(id),
    content         TEXT NOT NULL,
    content_type    VARCHAR(50) DEFAULT 'text',    -- 'text', 'markdown'
    is_internal     BOOLEAN DEFAULT false,         -- Internal notes vs visible to requester
    is_resolution   BOOLEAN DEFAULT false,         -- Mark as resolution note
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_issue_comments_issue ON issue_comments(issue_id);
CREATE INDEX idx_issue_comments_created ON issue_comments(created_at);

CREATE TABLE issue_worklogs (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    issue_id        UUID REFERENCES issues(id) ON DELETE CASCADE,
    user_id         UUID REFERENCES users(id),
    time_spent      INTEGER NOT NULL,              -- Minutes
    work_date       DATE NOT NULL DEFAULT CURRENT_DATE,
    description     TEXT,
    billable        BOOLEAN DEFAULT false,
    created_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_issue_worklogs_issue ON issue_worklogs(issue_id);
CREATE INDEX idx_issue_worklogs_user ON issue_worklogs(user_id);

-- Status history for tracking
CREATE TABLE issue_status_history (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    issue_id        UUID REFERENCES issues(id) ON DELETE CASCADE,
    from_status     VARCHAR(50),
    to_status       VARCHAR(50) NOT NULL,
    changed_by      UUID REFERENCES users(id),
    reason          TEXT,
    created_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_issue_status_history_issue ON issue_status_history(issue_id);

-- ============================================
-- ON-CALL MANAGEMENT
-- ============================================

CREATE TABLE oncall_schedules (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name            VARCHAR(255) NOT NULL,
    description     TEXT,
    timezone        VARCHAR(100) DEFAULT 'UTC',
    group_id        UUID REFERENCES groups(id) ON DELETE SET NULL,
    rotation_type   VARCHAR(50) DEFAULT 'weekly', -- 'daily', 'weekly', 'bi_weekly', 'custom'
    rotation_length INTEGER DEFAULT 1,            -- Number of days/weeks per rotation
    handoff_time    TIME DEFAULT '09:00',
    handoff_day     INTEGER DEFAULT 1,            -- 0=Sunday, 1=Monday for weekly
    status          VARCHAR(50) DEFAULT 'active',
    color           VARCHAR(20),                  -- For calendar display
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_oncall_schedules_group ON oncall_schedules(group_id);
CREATE INDEX idx_oncall_schedules_status ON oncall_schedules(status);

CREATE TABLE oncall_rotations (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    schedule_id     UUID REFERENCES oncall_schedules(id) ON DELETE CASCADE,
    user_id         UUID REFERENCES users(id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,             -- Order in rotation (1, 2, 3...)
    is_active       BOOLEAN DEFAULT true,
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    UNIQUE(schedule_id, user_id)
);

CREATE INDEX idx_oncall_rotations_schedule ON oncall_rotations(schedule_id);
CREATE INDEX idx_oncall_rotations_user ON oncall_rotations(user_id);

CREATE TABLE oncall_shifts (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    schedule_id     UUID REFERENCES oncall_schedules(id) ON DELETE CASCADE,
    user_id         UUID REFERENCES users(id),
    start_time      TIMESTAMPTZ NOT NULL,
    end_time        TIMESTAMPTZ NOT NULL,
    shift_type      VARCHAR(50) DEFAULT 'primary', -- 'primary', 'secondary', 'override'
    layer           INTEGER DEFAULT 1,            -- For multi-layer schedules
    override_reason TEXT,
    original_user_id UUID REFERENCES users(id),   -- Who was originally scheduled (for overrides)
    created_by      UUID REFERENCES users(id),
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    CONSTRAINT valid_shift_times CHECK (end_time > start_time)
);

CREATE INDEX idx_oncall_shifts_schedule ON oncall_shifts(schedule_id);
CREATE INDEX idx_oncall_shifts_user ON oncall_shifts(user_id);
CREATE INDEX idx_oncall_shifts_time ON oncall_shifts(start_time, end_time);
CREATE INDEX idx_oncall_shifts_current ON oncall_shifts(schedule_id, start_time, end_time)
    WHERE shift_type IN ('primary', 'override');

CREATE TABLE oncall_escalation_policies (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name            VARCHAR(255) NOT NULL,
    description     TEXT,
    repeat_count    INTEGER DEFAULT 3,            -- How many times to cycle through steps
    repeat_delay_minutes INTEGER DEFAULT 5,       -- Delay between repeats
    is_default      BOOLEAN DEFAULT false,
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE oncall_escalation_steps (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    policy_id       UUID REFERENCES oncall_escalation_policies(id) ON DELETE CASCADE,
    step_number     INTEGER NOT NULL,
    delay_minutes   INTEGER DEFAULT 5,            -- Wait before this step
    notify_type     VARCHAR(50) NOT NULL,         -- 'schedule', 'user', 'group'
    schedule_id     UUID REFERENCES oncall_schedules(id) ON DELETE CASCADE,
    user_id         UUID REFERENCES users(id) ON DELETE CASCADE,
    group_id        UUID REFERENCES groups(id) ON DELETE CASCADE,
    notification_channels VARCHAR(50)[] DEFAULT ARRAY['email'], -- 'email', 'sms', 'slack', 'phone'
    UNIQUE(policy_id, step_number)
);

CREATE INDEX idx_oncall_escalation_steps_policy ON oncall_escalation_steps(policy_id);

-- Link schedules to applications
CREATE TABLE oncall_schedule_applications (
    schedule_id     UUID REFERENCES oncall_schedules(id) ON DELETE CASCADE,
    application_id  UUID REFERENCES applications(id) ON DELETE CASCADE,
    PRIMARY KEY (schedule_id, application_id)
);

-- ============================================
-- CHANGE MANAGEMENT
-- ============================================

-- Change windows MUST be defined before change_requests (referenced by FK)
CREATE TABLE change_windows (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name            VARCHAR(255) NOT NULL,
    description     TEXT,
    type            VARCHAR(50) NOT NULL,         -- 'maintenance', 'freeze', 'emergency_only', 'blackout'
    recurrence      VARCHAR(50),                  -- 'one_time', 'weekly', 'monthly', 'custom'
    recurrence_rule TEXT,                         -- iCal RRULE format for complex patterns
    start_time      TIME,
    end_time        TIME,
    start_date      DATE,                         -- For one-time windows
    end_date        DATE,                         -- For one-time windows
    day_of_week     INTEGER[],                    -- For weekly: [0,6] = Sun, Sat
    timezone        VARCHAR(100) DEFAULT 'UTC',
    applications    UUID[],                       -- Specific apps, or NULL for all
    tiers           VARCHAR(10)[],                -- Applicable tiers: ['P1', 'P2']
    status          VARCHAR(50) DEFAULT 'active',
    notify_before_minutes INTEGER DEFAULT 60,     -- Alert before window starts
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_change_windows_type ON change_windows(type);
CREATE INDEX idx_change_windows_status ON change_windows(status);

-- Change templates for standard changes
CREATE TABLE change_templates (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name            VARCHAR(255) NOT NULL,
    description     TEXT,
    type            VARCHAR(50) DEFAULT 'standard', -- 'standard', 'normal'
    category        VARCHAR(100),
    default_risk_level VARCHAR(20) DEFAULT 'low',
    implementation_plan_template TEXT,
    rollback_plan_template TEXT,
    test_plan_template TEXT,
    default_tasks   JSONB DEFAULT '[]',           -- Pre-defined task list
    approval_required BOOLEAN DEFAULT false,
    approval_groups UUID[],
    is_active       BOOLEAN DEFAULT true,
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE change_requests (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    change_number   VARCHAR(50) NOT NULL UNIQUE,  -- "CHG-00001"
    title           VARCHAR(500) NOT NULL,
    description     TEXT,
    justification   TEXT,

    -- Classification
    type            VARCHAR(50) DEFAULT 'normal', -- 'standard', 'normal', 'emergency'
    category        VARCHAR(100),
    risk_level      VARCHAR(20) DEFAULT 'medium', -- 'low', 'medium', 'high', 'critical'
    impact          VARCHAR(50),                  -- 'none', 'minor', 'moderate', 'significant', 'major'
    urgency         VARCHAR(50),                  -- 'low', 'medium', 'high'

    -- Status workflow
    status          VARCHAR(50) DEFAULT 'draft',  -- See status values below

    -- Relationships
    template_id     UUID REFERENCES change_templates(id),
    application_id  UUID REFERENCES applications(id) ON DELETE SET NULL,
    environment_id  UUID REFERENCES environments(id) ON DELETE SET NULL,
    requester_id    UUID REFERENCES users(id),
    implementer_id  UUID REFERENCES users(id) ON DELETE SET NULL,
    assigned_group  UUID REFERENCES groups(id) ON DELETE SET NULL,

    -- Schedule
    planned_start   TIMESTAMPTZ,
    planned_end     TIMESTAMPTZ,
    actual_start    TIMESTAMPTZ,
    actual_end      TIMESTAMPTZ,
    downtime_minutes INTEGER,                     -- Expected downtime

    -- Change window
    change_window_id UUID REFERENCES change_windows(id) ON DELETE SET NULL,

    -- Plans
    implementation_plan TEXT,
    rollback_plan   TEXT,
    test_plan       TEXT,
    communication_plan TEXT,

    -- Risk assessment
    risk_assessment JSONB DEFAULT '{}',           -- Structured risk scores

    -- CAB (Change Advisory Board)
    cab_required    BOOLEAN DEFAULT false,
    cab_date        TIMESTAMPTZ,
    cab_decision    VARCHAR(50),                  -- 'approved', 'rejected', 'deferred'
    cab_notes       TEXT,

    -- Outcome
    outcome         VARCHAR(50),                  -- 'successful', 'failed', 'partial', 'rolled_back'
    outcome_notes   TEXT,
    post_implementation_review BOOLEAN DEFAULT false,

    -- Related items
    related_issue_id UUID REFERENCES issues(id),  -- Issue this change addresses
    caused_issue_id UUID REFERENCES issues(id),   -- Issue caused by this change

    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

-- Change request statuses:
-- 'draft' -> 'submitted' -> 'review' -> 'approved' -> 'scheduled' -> 'implementing' -> 'completed'
--                       |            |                                            -> 'failed'
--                       |            -> 'rejected'                                -> 'rolled_back'
--                       -> 'cancelled'

CREATE INDEX idx_changes_number ON change_requests(change_number);
CREATE INDEX idx_changes_status ON change_requests(status);
CREATE INDEX idx_changes_type ON change_requests(type);
CREATE INDEX idx_changes_application ON change_requests(application_id);
CREATE INDEX idx_changes_requester ON change_requests(requester_id);
CREATE INDEX idx_changes_planned_start ON change_requests(planned_start);
CREATE INDEX idx_changes_created ON change_requests(created_at DESC);

CREATE TABLE change_tasks (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    change_id       UUID REFERENCES change_requests(id) ON DELETE CASCADE,
    task_number     VARCHAR(50) NOT NULL,         -- "TSK-00001"
    title           VARCHAR(500) NOT NULL,
    description     TEXT,
    task_type       VARCHAR(50) DEFAULT 'implementation', -- 'pre_check', 'implementation', 'validation', 'rollback'
    status          VARCHAR(50) DEFAULT 'pending', -- 'pending', 'in_progress', 'completed', 'skipped', 'failed'
    sort_order      INTEGER DEFAULT 0,
    assigned_to     UUID REFERENCES users(id) ON DELETE SET NULL,
    planned_start   TIMESTAMPTZ,
    planned_end     TIMESTAMPTZ,
    actual_start    TIMESTAMPTZ,
    actual_end      TIMESTAMPTZ,
    duration_minutes INTEGER,
    is_blocking     BOOLEAN DEFAULT true,         -- Must complete before next task
    notes           TEXT,
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_change_tasks_change ON change_tasks(change_id);
CREATE INDEX idx_change_tasks_assigned ON change_tasks(assigned_to);
CREATE INDEX idx_change_tasks_status ON change_tasks(status);

CREATE TABLE change_approvals (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    change_id       UUID REFERENCES change_requests(id) ON DELETE CASCADE,
    step_number     INTEGER DEFAULT 1,
    approver_group  UUID REFERENCES groups(id) ON DELETE SET NULL,
    approver_id     UUID REFERENCES users(id),    -- Actual approver
    status          VARCHAR(50) DEFAULT 'pending', -- 'pending', 'approved', 'rejected'
    decision_at     TIMESTAMPTZ,
    comments        TEXT,
    required        BOOLEAN DEFAULT true,
    delegated_from  UUID REFERENCES users(id),    -- If approval was delegated
    created_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_change_approvals_change ON change_approvals(change_id);
CREATE INDEX idx_change_approvals_status ON change_approvals(status);

-- Status history for changes
CREATE TABLE change_status_history (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    change_id       UUID REFERENCES change_requests(id) ON DELETE CASCADE,
    from_status     VARCHAR(50),
    to_status       VARCHAR(50) NOT NULL,
    changed_by      UUID REFERENCES users(id),
    reason          TEXT,
    created_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_change_status_history_change ON change_status_history(change_id);

-- ============================================
-- APPLICATION HEALTH SCORING
-- ============================================

CREATE TABLE app_health_scores (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    application_id  UUID REFERENCES applications(id) ON DELETE CASCADE,
    calculated_at   TIMESTAMPTZ DEFAULT NOW(),
    overall_score   DECIMAL(5,2) NOT NULL,         -- 0-100

    -- Component scores (all 0-100)
    issue_score     DECIMAL(5,2),                  -- Based on recent issues
    change_score    DECIMAL(5,2),                  -- Based on change success rate
    sla_score       DECIMAL(5,2),                  -- Based on SLA compliance
    uptime_score    DECIMAL(5,2),                  -- From cloud integrations

    -- Component weights used
    issue_weight    DECIMAL(3,2) DEFAULT 0.40,
    change_weight   DECIMAL(3,2) DEFAULT 0.25,
    sla_weight      DECIMAL(3,2) DEFAULT 0.25,
    uptime_weight   DECIMAL(3,2) DEFAULT 0.10,

    -- Raw metrics used in calculation
    issues_30d      INTEGER DEFAULT 0,
    critical_issues_30d INTEGER DEFAULT 0,
    high_issues_30d INTEGER DEFAULT 0,
    total_changes_30d INTEGER DEFAULT 0,
    failed_changes_30d INTEGER DEFAULT 0,
    rolled_back_changes_30d INTEGER DEFAULT 0,
    sla_breaches_30d INTEGER DEFAULT 0,
    total_sla_tracked_30d INTEGER DEFAULT 0,
    uptime_percent_30d DECIMAL(5,2),

    -- Tier-adjusted multiplier
    tier            VARCHAR(10),
    tier_weight     DECIMAL(3,2),                  -- P1=1.5, P2=1.2, P3=1.0, P4=0.8

    -- Score trend
    score_change    DECIMAL(5,2),                  -- Change from previous calculation
    trend           VARCHAR(20),                   -- 'improving', 'stable', 'declining'

    metadata        JSONB DEFAULT '{}'
);

-- Index for time-series queries
CREATE INDEX idx_health_scores_app_time ON app_health_scores(application_id, calculated_at DESC);
CREATE INDEX idx_health_scores_score ON app_health_scores(overall_score);

-- The latest score per application is kept on applications.health_score (the spec's
-- subquery partial index is invalid in PostgreSQL).

-- Health score configuration per tier
CREATE TABLE health_score_config (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tier            VARCHAR(10) NOT NULL UNIQUE,   -- 'P1', 'P2', 'P3', 'P4'
    tier_weight     DECIMAL(3,2) NOT NULL,         -- Penalty multiplier

    -- Thresholds for score bands
    critical_threshold INTEGER DEFAULT 50,         -- Below = critical
    warning_threshold INTEGER DEFAULT 75,          -- Below = warning
    good_threshold INTEGER DEFAULT 90,             -- Below = good, above = excellent

    -- Issue penalties (points deducted per issue)
    critical_issue_penalty INTEGER DEFAULT 15,
    high_issue_penalty INTEGER DEFAULT 8,
    medium_issue_penalty INTEGER DEFAULT 3,
    low_issue_penalty INTEGER DEFAULT 1,

    -- Weights (should sum to 1.0)
    issue_weight    DECIMAL(3,2) DEFAULT 0.40,
    change_weight   DECIMAL(3,2) DEFAULT 0.25,
    sla_weight      DECIMAL(3,2) DEFAULT 0.25,
    uptime_weight   DECIMAL(3,2) DEFAULT 0.10,

    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

-- Default configuration
INSERT INTO health_score_config (tier, tier_weight) VALUES
    ('P1', 1.5),
    ('P2', 1.2),
    ('P3', 1.0),
    ('P4', 0.8);

-- ============================================
-- CLOUD INTEGRATIONS
-- ============================================

CREATE TABLE cloud_accounts (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    provider        VARCHAR(50) NOT NULL,         -- 'aws', 'gcp', 'azure'
    account_id      VARCHAR(255) NOT NULL,        -- AWS Account ID, GCP Project, Azure Subscription
    name            VARCHAR(255) NOT NULL,
    description     TEXT,

    -- Credentials (encrypted at application level)
    credential_type VARCHAR(50) NOT NULL,         -- 'role_arn', 'access_key', 'service_account', 'managed_identity'
    credentials     JSONB,                        -- Encrypted credential data
    role_arn        TEXT,                         -- For AWS cross-account role assumption
    external_id     VARCHAR(255),                 -- For AWS role assumption

    -- Sync configuration
    sync_enabled    BOOLEAN DEFAULT true,
    sync_interval   INTEGER DEFAULT 3600,         -- Seconds
    sync_resources  BOOLEAN DEFAULT true,
    sync_costs      BOOLEAN DEFAULT true,
    sync_metrics    BOOLEAN DEFAULT false,        -- CloudWatch/Stackdriver metrics
    regions         TEXT[],                       -- Regions to sync, NULL = all

    -- Sync status
    last_sync_at    TIMESTAMPTZ,
    last_sync_status VARCHAR(50),                 -- 'success', 'partial', 'failed'
    last_sync_error TEXT,
    next_sync_at    TIMESTAMPTZ,

    status          VARCHAR(50) DEFAULT 'active', -- 'active', 'inactive', 'error'
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW(),
    UNIQUE(provider, account_id)
);

CREATE INDEX idx_cloud_accounts_provider ON cloud_accounts(provider);
CREATE INDEX idx_cloud_accounts_status ON cloud_accounts(status);

CREATE TABLE cloud_resources (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    cloud_account_id UUID REFERENCES cloud_accounts(id) ON DELETE CASCADE,
    resource_id     VARCHAR(500) NOT NULL,        -- ARN, resource ID, full path
    resource_type   VARCHAR(100) NOT NULL,        -- 'ec2:instance', 'rds:cluster', 's3:bucket'
    name            VARCHAR(255),
    region          VARCHAR(50),
    availability_zone VARCHAR(50),
    status          VARCHAR(50),                  -- Provider-specific status

    -- Resource details
    tags            JSONB DEFAULT '{}',
    metadata        JSONB DEFAULT '{}',           -- Provider-specific metadata
    configuration   JSONB DEFAULT '{}',           -- Instance type, size, etc.

    -- Link to application (can be auto-mapped via tags)
    application_id  UUID REFERENCES applications(id) ON DELETE SET NULL,
    environment_id  UUID REFERENCES environments(id) ON DELETE SET NULL,
    auto_mapped     BOOLEAN DEFAULT false,        -- Was this mapping automatic?

    -- Cost tracking (updated by cost sync)
    hourly_cost     DECIMAL(12,4),
    monthly_cost    DECIMAL(12,2),
    cost_updated_at TIMESTAMPTZ,

    -- Lifecycle
    first_seen      TIMESTAMPTZ DEFAULT NOW(),
    last_seen       TIMESTAMPTZ DEFAULT NOW(),
    is_deleted      BOOLEAN DEFAULT false,        -- Soft delete when resource disappears
    deleted_at      TIMESTAMPTZ,

    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW(),
    UNIQUE(cloud_account_id, resource_id)
);

CREATE INDEX idx_cloud_resources_account ON cloud_resources(cloud_account_id);
CREATE INDEX idx_cloud_resources_type ON cloud_resources(resource_type);
CREATE INDEX idx_cloud_resources_application ON cloud_resources(application_id);
CREATE INDEX idx_cloud_resources_environment ON cloud_resources(environment_id);
CREATE INDEX idx_cloud_resources_last_seen ON cloud_resources(last_seen);

-- Cost reports aggregated by period
CREATE TABLE cloud_cost_reports (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    cloud_account_id UUID REFERENCES cloud_accounts(id) ON DELETE CASCADE,
    application_id  UUID REFERENCES applications(id) ON DELETE SET NULL,
    environment_id  UUID REFERENCES environments(id) ON DELETE SET NULL,

    period_type     VARCHAR(20) NOT NULL,         -- 'daily', 'monthly'
    period_start    DATE NOT NULL,
    period_end      DATE NOT NULL,

    total_cost      DECIMAL(12,2) NOT NULL,
    currency        VARCHAR(10) DEFAULT 'USD',

    -- Breakdowns
    cost_by_service JSONB DEFAULT '{}',           -- {"EC2": 100.00, "RDS": 50.00}
    cost_by_region  JSONB DEFAULT '{}',
    cost_by_resource_type JSONB DEFAULT '{}',

    -- Comparison
    previous_period_cost DECIMAL(12,2),
    cost_change_percent DECIMAL(5,2),

    created_at      TIMESTAMPTZ DEFAULT NOW(),
    UNIQUE(cloud_account_id, application_id, period_type, period_start)
);

CREATE INDEX idx_cloud_costs_account ON cloud_cost_reports(cloud_account_id);
CREATE INDEX idx_cloud_costs_application ON cloud_cost_reports(application_id);
CREATE INDEX idx_cloud_costs_period ON cloud_cost_reports(period_start, period_end);

-- Cloud metrics for uptime/health scoring
CREATE TABLE cloud_metrics (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    cloud_account_id UUID REFERENCES cloud_accounts(id) ON DELETE CASCADE,
    resource_id     VARCHAR(500),
    application_id  UUID REFERENCES applications(id) ON DELETE SET NULL,

    metric_name     VARCHAR(100) NOT NULL,        -- 'cpu_utilization', 'availability', 'error_rate'
    metric_namespace VARCHAR(100),                -- 'AWS/EC2', 'AWS/RDS'

    timestamp       TIMESTAMPTZ NOT NULL,
    value           DECIMAL(20,6) NOT NULL,
    unit            VARCHAR(50),                  -- 'Percent', 'Count', 'Bytes'

    dimensions      JSONB DEFAULT '{}',           -- Additional metric dimensions

    created_at      TIMESTAMPTZ DEFAULT NOW()
);

-- Partition by time for efficient querying
CREATE INDEX idx_cloud_metrics_time ON cloud_metrics(timestamp DESC);
CREATE INDEX idx_cloud_metrics_app ON cloud_metrics(application_id, metric_name, timestamp DESC);

-- Auto-mapping rules for resources to applications
CREATE TABLE cloud_resource_mapping_rules (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name            VARCHAR(255) NOT NULL,
    description     TEXT,
    priority        INTEGER DEFAULT 100,          -- Lower = higher priority

    -- Matching criteria
    provider        VARCHAR(50),                  -- NULL = all providers
    resource_type   VARCHAR(100),                 -- NULL = all types
    tag_key         VARCHAR(255) NOT NULL,        -- e.g., 'Application', 'app-id'
    tag_value_pattern VARCHAR(255),               -- Regex pattern, NULL = use value as app_id

    -- Target
    application_id  UUID REFERENCES applications(id) ON DELETE CASCADE,
    environment_type VARCHAR(50),                 -- Map to environment by type

    is_active       BOOLEAN DEFAULT true,
    created_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_mapping_rules_priority ON cloud_resource_mapping_rules(priority);

-- ============================================
-- AUDIT & ACTIVITY
-- ============================================

CREATE TABLE audit_logs (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         UUID,
    action          VARCHAR(100) NOT NULL, -- 'create', 'update', 'delete', 'approve', etc.
    entity_type     VARCHAR(100) NOT NULL, -- 'issue', 'change_request', etc.
    entity_id       UUID NOT NULL,
    changes         JSONB,                 -- {field: {old: x, new: y}}
    ip_address      INET,
    user_agent      TEXT,
    created_at      TIMESTAMPTZ DEFAULT NOW()
);

-- Partition audit logs by month for performance
-- CREATE TABLE audit_logs_2024_01 PARTITION OF audit_logs
-- FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');

-- ============================================
-- ATTACHMENTS
-- ============================================

CREATE TABLE attachments (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    entity_type     VARCHAR(100) NOT NULL,
    entity_id       UUID NOT NULL,
    filename        VARCHAR(500) NOT NULL,
    content_type    VARCHAR(100),
    size_bytes      BIGINT,
    storage_path    TEXT NOT NULL,         -- S3 path
    uploaded_by     UUID REFERENCES users(id),
    created_at      TIMESTAMPTZ DEFAULT NOW()
);

-- ============================================
-- NOTIFICATIONS & INTEGRATIONS
-- ============================================

-- Integration configurations (Slack, PagerDuty, etc.)
CREATE TABLE integrations (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    type            VARCHAR(50) NOT NULL,         -- 'slack', 'pagerduty', 'teams', 'email', 'webhook'
    name            VARCHAR(255) NOT NULL,
    description     TEXT,

    -- Configuration (encrypted sensitive fields)
    config          JSONB NOT NULL DEFAULT '{}',  -- API keys, webhook URLs, etc.

    -- Status
    status          VARCHAR(50) DEFAULT 'active', -- 'active', 'inactive', 'error'
    last_test_at    TIMESTAMPTZ,
    last_test_status VARCHAR(50),
    last_error      TEXT,

    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_integrations_type ON integrations(type);

-- Notification channels (where to send)
CREATE TABLE notification_channels (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    integration_id  UUID REFERENCES integrations(id) ON DELETE CASCADE,
    name            VARCHAR(255) NOT NULL,
    channel_type    VARCHAR(50) NOT NULL,         -- 'email', 'slack_channel', 'slack_dm', 'pagerduty_service', 'webhook'

    -- Channel-specific config
    config          JSONB NOT NULL DEFAULT '{}',  -- {channel_id, email, webhook_url, etc.}

    is_default      BOOLEAN DEFAULT false,
    status          VARCHAR(50) DEFAULT 'active',
    created_at      TIMESTAMPTZ DEFAULT NOW()
);

-- User notification preferences
CREATE TABLE notification_preferences (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         UUID REFERENCES users(id) ON DELETE CASCADE,
    event_category  VARCHAR(100) NOT NULL,        -- 'issues', 'changes', 'requests', 'oncall'
    event_type      VARCHAR(100) NOT NULL,        -- 'assigned', 'status_changed', 'sla_warning', etc.

    -- Channels enabled for this event
    email_enabled   BOOLEAN DEFAULT true,
    slack_enabled   BOOLEAN DEFAULT false,
    sms_enabled     BOOLEAN DEFAULT false,
    push_enabled    BOOLEAN DEFAULT true,

    -- Timing preferences
    instant         BOOLEAN DEFAULT true,         -- Send immediately
    digest          BOOLEAN DEFAULT false,        -- Include in digest
    quiet_hours     BOOLEAN DEFAULT true,         -- Respect quiet hours

    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW(),
    UNIQUE(user_id, event_category, event_type)
);

CREATE INDEX idx_notification_prefs_user ON notification_preferences(user_id);

-- User quiet hours / do not disturb
CREATE TABLE user_quiet_hours (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         UUID REFERENCES users(id) ON DELETE CASCADE,
    day_of_week     INTEGER,                      -- NULL = all days, 0-6 = specific day
    start_time      TIME NOT NULL,
    end_time        TIME NOT NULL,
    timezone        VARCHAR(100) NOT NULL,
    exceptions      VARCHAR(50)[],                -- Event types that bypass quiet hours: ['oncall', 'critical']
    created_at      TIMESTAMPTZ DEFAULT NOW()
);

-- Notification queue/log
CREATE TABLE notifications (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         UUID REFERENCES users(id) ON DELETE SET NULL,
    channel_id      UUID REFERENCES notification_channels(id) ON DELETE SET NULL,

    -- Event details
    event_category  VARCHAR(100) NOT NULL,
    event_type      VARCHAR(100) NOT NULL,
    entity_type     VARCHAR(100),
    entity_id       UUID,

    -- Content
    subject         VARCHAR(500),
    content         TEXT,
    content_html    TEXT,
    data            JSONB DEFAULT '{}',           -- Structured data for templates

    -- Delivery
    priority        VARCHAR(20) DEFAULT 'normal', -- 'low', 'normal', 'high', 'urgent'
    status          VARCHAR(50) DEFAULT 'pending', -- 'pending', 'sent', 'failed', 'skipped'
    attempts        INTEGER DEFAULT 0,
    max_attempts    INTEGER DEFAULT 3,
    scheduled_at    TIMESTAMPTZ DEFAULT NOW(),
    sent_at         TIMESTAMPTZ,
    error           TEXT,

    -- Tracking
    opened_at       TIMESTAMPTZ,
    clicked_at      TIMESTAMPTZ,

    created_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_notifications_user ON notifications(user_id);
CREATE INDEX idx_notifications_status ON notifications(status);
CREATE INDEX idx_notifications_scheduled ON notifications(scheduled_at) WHERE status = 'pending';
CREATE INDEX idx_notifications_entity ON notifications(entity_type, entity_id);

-- Notification templates
CREATE TABLE notification_templates (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    event_category  VARCHAR(100) NOT NULL,
    event_type      VARCHAR(100) NOT NULL,
    channel_type    VARCHAR(50) NOT NULL,         -- 'email', 'slack', 'sms'

    subject_template TEXT,                        -- For email
    body_template   TEXT NOT NULL,                -- Handlebars/Mustache template
    is_default      BOOLEAN DEFAULT false,

    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW(),
    UNIQUE(event_category, event_type, channel_type, is_default)
);

-- Webhook subscriptions for external integrations
CREATE TABLE webhooks (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name            VARCHAR(255) NOT NULL,
    url             TEXT NOT NULL,
    secret          TEXT,                         -- For signature verification
    events          TEXT[] NOT NULL,              -- ['issue.created', 'change.approved']

    -- Configuration
    active          BOOLEAN DEFAULT true,
    headers         JSONB DEFAULT '{}',           -- Custom headers to include
    retry_count     INTEGER DEFAULT 3,

    -- Status
    last_triggered_at TIMESTAMPTZ,
    last_status     VARCHAR(50),
    failure_count   INTEGER DEFAULT 0,

    created_at      TIMESTAMPTZ DEFAULT NOW(),
    updated_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_webhooks_active ON webhooks(active) WHERE active = true;

-- Webhook delivery log
CREATE TABLE webhook_deliveries (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    webhook_id      UUID REFERENCES webhooks(id) ON DELETE CASCADE,
    event           VARCHAR(100) NOT NULL,
    payload         JSONB NOT NULL,

    -- Response
    status_code     INTEGER,
    response_body   TEXT,
    response_time_ms INTEGER,

    -- Retry tracking
    attempt         INTEGER DEFAULT 1,
    success         BOOLEAN,
    error           TEXT,

    created_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE INDEX idx_webhook_deliveries_webhook ON webhook_deliveries(webhook_id);
CREATE INDEX idx_webhook_deliveries_created ON webhook_deliveries(created_at DESC);
