-- SLA clocks for service requests, as issues have them: when each clock was warned about and
-- breached (each event fires once; a recorded breach stands), and which clock breached.
ALTER TABLE service_requests
    ADD COLUMN response_warned_at TIMESTAMPTZ,
    ADD COLUMN resolution_warned_at TIMESTAMPTZ,
    ADD COLUMN response_breached_at TIMESTAMPTZ,
    ADD COLUMN resolution_breached_at TIMESTAMPTZ,
    ADD COLUMN sla_breach_type VARCHAR(50);
UPDATE service_requests SET sla_breached = false WHERE sla_breached IS NULL;
ALTER TABLE service_requests
    ALTER COLUMN sla_breached SET NOT NULL,
    ALTER COLUMN sla_breached SET DEFAULT false;
-- The request queue's "breached" and "due soon" tabs.
CREATE INDEX idx_requests_resolution_due ON service_requests(resolution_due_at)
    WHERE status NOT IN ('completed', 'rejected', 'cancelled');


-- Every tenant starts with a default request policy, as with issues: business hours, clocks
-- standing still while approvers decide.
WITH pol AS (
    INSERT INTO sla_policies (name, description, entity_type, is_default, sort_order, pause_statuses)
    VALUES ('Default request SLA', 'Applies to requests whose item names no policy and no other request policy matches',
            'request', true, 1000, '{pending_approval}')
    RETURNING id
)
INSERT INTO sla_targets (policy_id, metric_type, priority, target_minutes, business_hours_only)
SELECT pol.id, t.metric, t.priority, t.minutes, true
FROM pol CROSS JOIN (VALUES
    ('response_time', 'critical', 60), ('resolution_time', 'critical', 480),
    ('response_time', 'high', 240), ('resolution_time', 'high', 960),
    ('response_time', 'medium', 480), ('resolution_time', 'medium', 2400),
    ('response_time', 'low', 960), ('resolution_time', 'low', 4800)
) AS t(metric, priority, minutes);
