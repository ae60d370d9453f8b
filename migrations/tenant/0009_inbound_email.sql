-- Mail into issues: the tenant's inbound settings (one row) and a log of every message taken
-- in, keyed by its Message-ID so a message delivered twice is processed once.
CREATE TABLE inbound_mail_settings (
    id                BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    address           VARCHAR(320),
    create_requesters BOOLEAN NOT NULL DEFAULT false,
    default_group_id  UUID REFERENCES groups(id) ON DELETE SET NULL,
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO inbound_mail_settings (id) VALUES (true);

CREATE TABLE inbound_emails (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    message_id   TEXT,
    from_address TEXT NOT NULL,
    subject      TEXT,
    outcome      VARCHAR(20) NOT NULL,          -- 'created', 'commented', 'ignored'
    reason       TEXT,
    issue_id     UUID REFERENCES issues(id) ON DELETE SET NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX uq_inbound_emails_message ON inbound_emails (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX idx_inbound_emails_issue ON inbound_emails (issue_id);
CREATE INDEX idx_inbound_emails_received ON inbound_emails (received_at DESC);

-- Replies name the notification mail they answer.
CREATE INDEX idx_outbound_emails_message ON outbound_emails (message_id) WHERE message_id IS NOT NULL;
