-- A notification whose person can no longer see its record when it is due is withdrawn, and so
-- is the mail that would have carried it.
ALTER TABLE outbound_emails DROP CONSTRAINT IF EXISTS outbound_emails_status_check;
ALTER TABLE outbound_emails ADD CONSTRAINT outbound_emails_status_check
    CHECK (status IN ('pending', 'sent', 'failed', 'withdrawn'));
