//! The one integration-test binary, laid out like the areas.

mod attachments;
mod browser;
mod catalog;
mod edge;
mod fulfilment;
mod identity;
mod inbound;
mod integrations;
mod issue_settings;
mod issues;
mod issues_web;
mod jobs;
mod jobs_resilience;
mod live;
mod manifest;
mod migrations;
mod notifications;
mod platform;
mod registry;
mod routes;
mod search;
mod sla;
mod sla_config;
mod support;
mod web;
mod webhooks;
