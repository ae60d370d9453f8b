//! Catalog rules: the form schema (parse and save-time checks), conditions (which fields are
//! shown and required for given answers) and the checks on a submission.

pub mod answers;
pub mod bundles;
pub mod conditions;
pub mod dates;
pub mod edit;
pub mod schema;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

/// Upload limits when a file field sets none, and the most a field may allow.
pub const MAX_FILES: u32 = 5;
pub const MAX_FILE_MB: f64 = 25.0;
