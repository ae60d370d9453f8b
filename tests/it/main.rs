//! The one integration-test binary, laid out like the areas.

mod browser;
mod identity;
mod jobs;
mod platform;
mod routes;
mod support;
