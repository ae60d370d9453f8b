-- Integrations (email, Slack, Teams, PagerDuty, SMS, generic webhook) and the channels that
-- use them. `secrets` holds the write-only settings (tokens, passwords, webhook URLs) as one
-- JSON object sealed with AES-256-GCM; `config` holds the readable ones.
ALTER TABLE integrations ADD COLUMN secrets TEXT;
CREATE UNIQUE INDEX uq_integrations_name ON integrations (lower(name));

-- A channel is where a group's (or everyone's) events go: a Slack or Teams channel, a PagerDuty
-- service, a generic webhook or a group mail address. `events` holds spec event names or
-- wildcards (`issue.*`, `*`); `min_priority` keeps only issues at least that urgent.
ALTER TABLE notification_channels
    ADD COLUMN group_id UUID REFERENCES groups(id) ON DELETE CASCADE,
    ADD COLUMN events TEXT[] NOT NULL DEFAULT '{issue.*}',
    ADD COLUMN min_priority VARCHAR(20),
    ADD COLUMN updated_at TIMESTAMPTZ DEFAULT now();
CREATE UNIQUE INDEX uq_notification_channels_name ON notification_channels (lower(name));
CREATE INDEX idx_notification_channels_integration ON notification_channels (integration_id);
CREATE INDEX idx_notification_channels_group ON notification_channels (group_id);

-- Deliveries through an integration: the integration used, the rendered message, when to send
-- (quiet hours move it), a template problem that made it fall back to the default, and one row
-- per (event, channel) for channel deliveries, as per (event, user, channel) for people.
ALTER TABLE notifications
    ADD COLUMN integration_id UUID REFERENCES integrations(id) ON DELETE SET NULL,
    ADD COLUMN template_error TEXT;
CREATE UNIQUE INDEX uq_notifications_event_target ON notifications (event_id, channel_id)
    WHERE event_id IS NOT NULL AND channel_id IS NOT NULL;
CREATE INDEX idx_notifications_channel ON notifications (channel_id);
CREATE INDEX idx_notifications_integration ON notifications (integration_id);

-- Admin-edited templates only (the defaults ship with the code): one per event and channel kind.
CREATE UNIQUE INDEX uq_notification_templates_kind
    ON notification_templates (event_category, event_type, channel_type);

-- Quiet hours: an index for the per-user lookup at fan-out.
CREATE INDEX idx_user_quiet_hours_user ON user_quiet_hours (user_id);
