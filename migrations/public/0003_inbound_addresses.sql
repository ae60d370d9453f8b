-- Which tenant a support address belongs to, for mail arriving at the built-in SMTP listener.
-- Tenant roles manage only their own rows (row-level security, set up with the grants).
CREATE TABLE inbound_addresses (
    address     VARCHAR(320) PRIMARY KEY,      -- lower-case
    tenant_slug VARCHAR(100) NOT NULL REFERENCES tenants(slug) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_inbound_addresses_tenant ON inbound_addresses (tenant_slug);
