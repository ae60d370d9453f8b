-- A tenant's auth epoch: bumped (by triggers on the tenant's identity tables) whenever anything
-- a signed-in principal is made of changes, so a remembered principal is used only while it is
-- still true. Read in the same statement that opens every tenant transaction.
ALTER TABLE tenants ADD COLUMN auth_epoch BIGINT NOT NULL DEFAULT 0;

-- The trigger function runs as its owner (tenant roles may not write public.tenants) and
-- bumps only the tenant whose schema the changed table lives in.
CREATE FUNCTION bump_auth_epoch() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE public.tenants SET auth_epoch = auth_epoch + 1
    WHERE 'tenant_' || slug = TG_TABLE_SCHEMA;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION bump_auth_epoch() FROM PUBLIC;
