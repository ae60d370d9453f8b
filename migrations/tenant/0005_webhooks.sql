-- Outbound webhooks (Standard Webhooks). `secret` holds the signing secret sealed with
-- AES-256-GCM (never the plain value); during a rotation the previous secret keeps signing
-- until `previous_secret_expires_at`. An endpoint failing continuously for
-- `disable_after_hours` is disabled.
ALTER TABLE webhooks
    ADD COLUMN previous_secret TEXT,
    ADD COLUMN previous_secret_expires_at TIMESTAMPTZ,
    ADD COLUMN failing_since TIMESTAMPTZ,
    ADD COLUMN disabled_reason TEXT,
    ADD COLUMN disable_after_hours INTEGER NOT NULL DEFAULT 120
        CHECK (disable_after_hours BETWEEN 1 AND 720);
CREATE UNIQUE INDEX uq_webhooks_name ON webhooks (lower(name));

-- One row per attempt. `message_id` is the `webhook-id` receivers deduplicate on: the same for
-- every attempt, redelivery and replay of one event to one endpoint.
ALTER TABLE webhook_deliveries
    ADD COLUMN message_id TEXT NOT NULL,
    ADD COLUMN event_id BIGINT;
DROP INDEX idx_webhook_deliveries_webhook;
CREATE INDEX idx_webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at DESC);
CREATE INDEX idx_webhook_deliveries_message ON webhook_deliveries (message_id);
