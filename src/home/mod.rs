//! The landing page: what each person needs first. A requester sees their requests; an agent
//! their work, what breaches soon and what waits unassigned in their groups; a manager the
//! desk's health (SLA compliance over 30 days, backlog by age, volume by group, as small
//! server-drawn charts); an admin a setup checklist that ticks itself.

mod charts;
mod store;
mod web;

use axum::routing::get;

use crate::platform::module::{Module, NavEntry, Section};
use crate::platform::web::Routes;

fn web_routes() -> Routes {
    Routes::new().route("/", get(web::home))
}

pub fn module() -> Module {
    Module {
        nav: &[NavEntry {
            key: "home",
            label: "Home",
            href: "/",
            perm: None,
            section: Section::Work,
            unless: None,
        }],
        web: Some(web_routes),
        ..Module::new("home")
    }
}
