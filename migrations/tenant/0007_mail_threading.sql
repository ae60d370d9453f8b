-- Notification mail: an HTML alternative, its own Message-ID, the thread it belongs to (sent as
-- In-Reply-To/References so all mail about one issue reads as one conversation), the
-- List-Unsubscribe target, and the notification it delivers.
ALTER TABLE outbound_emails
    ADD COLUMN body_html TEXT,
    ADD COLUMN message_id TEXT,
    ADD COLUMN thread_id TEXT,
    ADD COLUMN unsubscribe_url TEXT,
    ADD COLUMN notification_id UUID REFERENCES notifications(id) ON DELETE SET NULL;
CREATE INDEX idx_outbound_emails_notification ON outbound_emails (notification_id);
