//! The one integration-test binary, laid out like the areas.

mod identity;
mod platform;
mod support;
