-- Each tenant's schema version and the stamp of the permission set it was brought in line with,
-- so readiness is one query and start-up skips tenants already current.
ALTER TABLE tenants ADD COLUMN schema_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN permissions_stamp TEXT;
