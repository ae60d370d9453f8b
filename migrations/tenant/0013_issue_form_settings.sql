-- How the tenant's raise form asks: whether requesters say how widely and how urgently a
-- problem affects them (impact × urgency, which then sets the priority through the matrix).
-- One row; off by default — the service desk sets the priority.
CREATE TABLE issue_form_settings (
    singleton                BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    requesters_rate_impact   BOOLEAN NOT NULL DEFAULT false,
    updated_at               TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO issue_form_settings DEFAULT VALUES;
