//! The platform every product area stands on.

pub mod apidocs;
pub mod audience;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod edge;
pub mod error;
pub mod events;
pub mod forms;
pub mod jobs;
pub mod json;
pub mod listing;
pub mod live;
pub mod mail;
pub mod markdown;
pub mod module;
pub mod openapi;
pub mod outbound;
pub mod state;
pub mod storage;
pub mod tenancy;
pub mod toast;
pub mod web;
