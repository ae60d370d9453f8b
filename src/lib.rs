//! FireLater: a lean IT Service Management platform. One binary serves the browser UI (askama +
//! htmx), the JSON API under `/v1`, and the background workers. See DESIGN.md in the shared
//! folder and README.md for the layout.

pub mod admin;
pub mod app;
pub mod approvals;
pub mod assets;
pub mod bench;
pub mod catalog;
pub mod cli;
mod cli_demo;
pub mod home;
pub mod identity;
pub mod inbound;
pub mod integrations;
pub mod issues;
pub mod notifications;
pub mod platform;
pub mod registry;
pub mod requests;
pub mod search;
pub mod sla;
pub mod webhooks;
