//! `/`: the home page, in parts chosen by what the viewer may do.

use askama::Template;
use axum::response::Response;

use super::charts::{self, Bar, SlaChart};
use super::store::{self, Setup, WorkItem};
use crate::issues::mine::{self, Mine};
use crate::issues::perm::{ISSUES_READ, ISSUES_READ_ALL, ISSUES_UPDATE};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::WebError;
use crate::platform::web::{Chrome, Hx};
use crate::render_page;

/// One step of the admin's setup checklist.
pub struct Step {
    pub done: bool,
    pub label: &'static str,
    pub hint: &'static str,
    pub href: &'static str,
}

fn steps(s: &Setup) -> Vec<Step> {
    vec![
        Step {
            done: s.users,
            label: "Invite your team",
            hint: "Add agents and requesters, or let inbound email create requesters.",
            href: "/admin/users",
        },
        Step {
            done: s.groups,
            label: "Put agents in groups",
            hint: "Issues are routed to a group's queue; its members hear about them.",
            href: "/admin/groups",
        },
        Step {
            done: s.hours,
            label: "Set your business hours",
            hint: "SLA clocks count only the hours and days your desk works.",
            href: "/sla",
        },
        Step {
            done: s.email,
            label: "Connect an email server",
            hint: "So notifications reach people's inboxes.",
            href: "/admin/integrations",
        },
        Step {
            done: s.integrations,
            label: "Connect Slack, PagerDuty or a webhook",
            hint: "Tell chat and paging tools about urgent issues.",
            href: "/admin/integrations",
        },
    ]
}

#[derive(Template)]
#[template(path = "home/home.html", blocks = ["content"])]
struct HomePage {
    chrome: Chrome,
    /// A requester's own issues (viewers who do not work on issues).
    mine: Option<Mine>,
    can_create: bool,
    work: Option<Vec<WorkItem>>,
    sla: Option<SlaChart>,
    backlog: Bars,
    volume: Bars,
    setup: Option<Vec<Step>>,
}

/// A bar chart's bars and their sum (zero: the chart says so in words instead).
pub struct Bars {
    pub bars: Vec<Bar>,
    pub total: i64,
}

impl Bars {
    fn of(bars: Vec<Bar>) -> Bars {
        let total = bars.iter().map(|b| b.count).sum();
        Bars { bars, total }
    }
}

/// The agent's lists: key, heading, what an empty list says, and the queue that holds them all.
const WORK_LISTS: &[(&str, &str, &str, &str)] = &[
    (
        "assigned",
        "Assigned to you",
        "Nothing assigned to you is open.",
        "assigned_to=me",
    ),
    (
        "soon",
        "Breaching within 4 hours",
        "Nothing of yours or your groups' is about to breach.",
        "sla=breaching_soon&sort=resolution_due_at",
    ),
    (
        "unassigned",
        "Unassigned in your groups",
        "Every issue in your groups has someone on it.",
        "mine=groups&assigned_to=none",
    ),
];

impl HomePage {
    fn list(&self, name: &str) -> Vec<&WorkItem> {
        self.work
            .iter()
            .flatten()
            .filter(|w| w.list == name)
            .collect()
    }

    fn total(&self, name: &str) -> i64 {
        self.list(name).first().map_or(0, |w| w.total)
    }

    fn desk_parts(&self) -> [(&'static str, &'static str, &Bars, &'static str); 2] {
        [
            (
                "backlog",
                "Open issues by age",
                &self.backlog,
                "Nothing is open.",
            ),
            (
                "volume",
                "Raised in the last 30 days, by group",
                &self.volume,
                "Nothing was raised in the last 30 days.",
            ),
        ]
    }

    fn steps_left(&self) -> usize {
        self.setup.iter().flatten().filter(|s| !s.done).count()
    }
}

pub async fn home(mut ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    let p = &ctx.principal;
    let (reads, works, oversees) = (
        p.can(ISSUES_READ),
        p.can(ISSUES_UPDATE),
        p.can(ISSUES_READ_ALL),
    );
    let sets_up = p.can(crate::admin::perm::SETTINGS_UPDATE);
    let (me, now) = (p.user_id, ctx.now);
    let zone: chrono_tz::Tz = p.timezone.parse().unwrap_or(chrono_tz::UTC);
    let mine = if reads && !works {
        Some(mine::mine(&mut ctx.tx, me).await?)
    } else {
        None
    };
    let work = if works {
        Some(store::work(&mut ctx.tx, me, now).await?)
    } else {
        None
    };
    let (sla, backlog, volume) = if oversees {
        let today = now.with_timezone(&zone).date_naive();
        let days = store::sla_days(&mut ctx.tx, now, zone.name()).await?;
        let desk = store::desk(&mut ctx.tx, now).await?;
        (
            Some(charts::sla(&days, today)),
            Bars::of(charts::bars(&desk.backlog)),
            Bars::of(charts::bars(&desk.volume)),
        )
    } else {
        (None, Bars::of(Vec::new()), Bars::of(Vec::new()))
    };
    let setup = if sets_up {
        Some(steps(&store::setup(&mut ctx.tx).await?))
    } else {
        None
    };
    ctx.tx.commit().await?;
    let page = HomePage {
        chrome: Chrome::new(&ctx.principal, &ctx.csrf, "home", &ctx.manifest, ctx.now),
        mine,
        can_create: ctx.principal.can(crate::issues::perm::ISSUES_CREATE),
        work,
        sla,
        backlog,
        volume,
        setup,
    };
    Ok(render_page!(hx, page))
}
