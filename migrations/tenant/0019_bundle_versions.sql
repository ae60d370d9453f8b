-- Bundle versions: every saved change to a bundle's questions or items is a new version; a
-- bundle request keeps the version it was submitted under (`service_requests.form_version`),
-- so its page shows the shared answers with the labels that were asked.
ALTER TABLE catalog_bundles ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

CREATE TABLE catalog_bundle_versions (
    bundle_id   UUID NOT NULL REFERENCES catalog_bundles(id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    name        VARCHAR(255) NOT NULL,
    form_schema JSONB NOT NULL,
    items       JSONB NOT NULL,
    saved_by    UUID REFERENCES users(id) ON DELETE SET NULL,
    saved_at    TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (bundle_id, version)
);
CREATE INDEX idx_catalog_bundle_versions_user ON catalog_bundle_versions(saved_by);

INSERT INTO catalog_bundle_versions (bundle_id, version, name, form_schema, items)
SELECT b.id, 1, b.name, b.form_schema,
       COALESCE((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                    'item_id', i.item_id, 'quantity', i.quantity, 'optional', i.is_optional,
                    'include_when', i.include_when)) ORDER BY i.sort_order)
                 FROM catalog_bundle_items i WHERE i.bundle_id = b.id), '[]')
FROM catalog_bundles b;
UPDATE service_requests SET form_version = 1 WHERE bundle_id IS NOT NULL AND form_version IS NULL;
