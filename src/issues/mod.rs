//! Issues (incidents): what broke, who works on it, and how fast it must be handled.

pub mod actions;
pub mod store;
