//! The one integration-test binary, laid out like the areas.

mod browser;
mod identity;
mod platform;
mod support;
