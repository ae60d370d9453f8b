-- An event a subscriber could not handle is parked with its error instead of blocking the
-- tenant's later events; an administrator retries it from the jobs page.
ALTER TABLE domain_events ADD COLUMN dispatch_attempts INT NOT NULL DEFAULT 0;
ALTER TABLE domain_events ADD COLUMN dispatch_error TEXT;
ALTER TABLE domain_events ADD COLUMN parked_at TIMESTAMPTZ;
DROP INDEX idx_domain_events_pending;
CREATE INDEX idx_domain_events_pending ON domain_events(id) WHERE dispatched_at IS NULL AND parked_at IS NULL;
CREATE INDEX idx_domain_events_parked ON domain_events(parked_at) WHERE parked_at IS NOT NULL AND dispatched_at IS NULL;
