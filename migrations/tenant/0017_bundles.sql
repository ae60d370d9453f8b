-- Bundles: shared questions asked once (`form_schema`, the catalog form format) and items that
-- are mandatory or optional, each optionally included only when a condition on those
-- questions holds. A bundle request is a parent with one child request per item.

ALTER TABLE catalog_bundles
    ALTER COLUMN status SET DEFAULT 'active',
    ADD COLUMN short_desc VARCHAR(500),
    ADD COLUMN category_id UUID REFERENCES catalog_categories(id) ON DELETE SET NULL,
    ADD COLUMN form_schema JSONB NOT NULL DEFAULT '{"version": "1.0", "fields": []}',
    ADD COLUMN sort_order INTEGER NOT NULL DEFAULT 0;
CREATE INDEX idx_catalog_bundles_category ON catalog_bundles(category_id);

ALTER TABLE catalog_bundle_items
    ADD COLUMN is_optional BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN include_when JSONB;
CREATE INDEX idx_catalog_bundle_items_item ON catalog_bundle_items(item_id);
