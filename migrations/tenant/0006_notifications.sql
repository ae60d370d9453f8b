-- In-app notifications and watchers. One notification row per (event, user, channel): the
-- unique key makes the outbox fan-out idempotent if a dispatch batch runs again.
ALTER TABLE notifications
    ADD COLUMN channel VARCHAR(20) NOT NULL DEFAULT 'in_app',
    ADD COLUMN event_id BIGINT,
    ADD COLUMN link TEXT,
    ADD COLUMN read_at TIMESTAMPTZ;
CREATE UNIQUE INDEX uq_notifications_event ON notifications (event_id, user_id, channel)
    WHERE event_id IS NOT NULL;
CREATE INDEX idx_notifications_inbox ON notifications (user_id, created_at DESC)
    WHERE channel = 'in_app';
CREATE INDEX idx_notifications_unread ON notifications (user_id)
    WHERE channel = 'in_app' AND read_at IS NULL;

-- The in-app channel of a preference (the spec's columns cover email, Slack, SMS and push).
ALTER TABLE notification_preferences ADD COLUMN in_app_enabled BOOLEAN NOT NULL DEFAULT true;

CREATE TABLE issue_watchers (
    issue_id   UUID NOT NULL REFERENCES issues(id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (issue_id, user_id)
);
CREATE INDEX idx_issue_watchers_user ON issue_watchers (user_id);
