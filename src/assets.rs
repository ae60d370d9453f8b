//! Integrity hashes of the vendored scripts, written by `.ci/assets` next to the files.

/// sha384 (base64) of `static/vendor/htmx-2.0.11.min.js`.
pub const HTMX_SRI: &str = include_str!("../static/vendor/htmx-2.0.11.min.js.sri");

/// sha384 (base64) of `static/vendor/htmx-ext-sse-2.2.4.min.js`.
pub const HTMX_SSE_SRI: &str = include_str!("../static/vendor/htmx-ext-sse-2.2.4.min.js.sri");

/// sha384 (base64) of `static/vendor/idiomorph-ext-0.8.0.min.js` (htmx's `morph` swap).
pub const IDIOMORPH_SRI: &str = include_str!("../static/vendor/idiomorph-ext-0.8.0.min.js.sri");

/// sha384 (base64) of `static/vendor/sortable-1.15.7.min.js` (the catalog builder's drag and drop).
pub const SORTABLE_SRI: &str = include_str!("../static/vendor/sortable-1.15.7.min.js.sri");
