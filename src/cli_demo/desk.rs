//! The demo desk: categories, a saved view and about forty issues in every state — raised
//! days or minutes ago, routed, worked, commented on, some resolved late — so the first
//! queue, search, home page and SLA charts show a desk in use. Every step goes through the
//! same actions as the pages and the API (audit rows, events, SLA clocks), each at its own
//! moment in the past.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::issues::actions::{
    self, Acting, AssignBody, CloseBody, IssueChanges, NewIssue, ResolveBody,
};
use crate::issues::activity::{self, CommentBody};
use crate::platform::audit::Actor;
use crate::platform::auth::{AuthVia, Principal, RequestMeta, load_user};
use crate::platform::tenancy::{Slug, TenantTx};

/// What happens to an issue after it is raised, in minutes after it was raised.
enum Step {
    /// To a group (index into the demo groups), and a person (index into the cast) if any.
    Route(usize, Option<usize>),
    Start(usize),
    Pending(usize, &'static str),
    Comment(usize, &'static str),
    Note(usize, &'static str),
    Resolve(usize, &'static str, &'static str),
    Close(usize),
}

use Step::*;

/// Who is who in `people` (the demo cast, in cli_demo's order, then two more requesters).
const ADMIN: usize = 0;
const MANAGER: usize = 1;
const ALEX: usize = 2;
const SAM: usize = 3;
const RILEY: usize = 4;
const JORDAN: usize = 5;
const PRIYA: usize = 6;
/// The demo groups.
const OPS: usize = 0;
const DESK: usize = 1;
const INFRA: usize = 2;

struct Script {
    title: &'static str,
    description: &'static str,
    reporter: usize,
    /// impact, urgency (the matrix sets the priority).
    impact: &'static str,
    urgency: &'static str,
    category: &'static str,
    app: Option<&'static str>,
    /// How long ago it was raised.
    minutes_ago: i64,
    steps: &'static [(i64, Step)],
}

#[expect(
    clippy::too_many_arguments,
    reason = "one line per scripted issue reads as a table"
)]
const fn s(
    title: &'static str,
    description: &'static str,
    reporter: usize,
    (impact, urgency): (&'static str, &'static str),
    category: &'static str,
    app: Option<&'static str>,
    minutes_ago: i64,
    steps: &'static [(i64, Step)],
) -> Script {
    Script {
        title,
        description,
        reporter,
        impact,
        urgency,
        category,
        app,
        minutes_ago,
        steps,
    }
}

const H: i64 = 60;
const D: i64 = 24 * H;
const HIGH: (&str, &str) = ("significant", "high");
const CRIT: (&str, &str) = ("widespread", "immediate");
const MED: (&str, &str) = ("moderate", "medium");
const LOW: (&str, &str) = ("minor", "low");

const SCRIPTS: &[Script] = &[
    // Open and fresh: waiting in the desk's queue.
    s(
        "Laptop will not wake from sleep",
        "Since yesterday's update my ThinkPad stays black after opening the lid. Holding the power button restarts it.",
        RILEY,
        MED,
        "Laptops",
        None,
        25,
        &[(5, Route(DESK, None))],
    ),
    s(
        "Printer on floor 2 jams on every page",
        "The HP by the kitchen pulls two sheets at once and jams. Tried another tray.",
        JORDAN,
        LOW,
        "Printers",
        None,
        50,
        &[(10, Route(DESK, None))],
    ),
    s(
        "Cannot open the payroll report",
        "Payroll shows 'Report server unavailable' when I open the monthly summary.",
        PRIYA,
        HIGH,
        "Software",
        Some("Payroll"),
        35,
        &[(3, Route(OPS, None))],
    ),
    s(
        "New starter needs an account on Monday",
        "Dana Kim joins Finance on Monday; needs mail, VPN and Payroll read access.",
        MANAGER,
        LOW,
        "Accounts",
        None,
        4 * H,
        &[(20, Route(DESK, None))],
    ),
    s(
        "Wi-Fi drops in meeting room Atlas",
        "Every few minutes the connection drops during calls in Atlas. Other rooms are fine.",
        RILEY,
        MED,
        "Wi-Fi",
        None,
        3 * H,
        &[(15, Route(INFRA, None))],
    ),
    s(
        "Shared mailbox 'billing' missing in Outlook",
        "The billing mailbox disappeared from Outlook this morning for the whole team.",
        JORDAN,
        HIGH,
        "Email",
        Some("Mail Gateway"),
        95,
        &[(10, Route(OPS, None))],
    ),
    // Being worked on.
    s(
        "Customer portal login page is slow",
        "Login takes 20–30 seconds for customers since about 9:00. Support hotline is getting calls.",
        MANAGER,
        CRIT,
        "Software",
        Some("Customer Portal"),
        70,
        &[
            (2, Route(OPS, Some(ALEX))),
            (6, Start(ALEX)),
            (
                12,
                Note(
                    ALEX,
                    "Database CPU at 95 %; a report query without an index is scanning sessions.",
                ),
            ),
            (
                20,
                Comment(
                    ALEX,
                    "We found the cause and are deploying a fix. Logins should be normal within 30 minutes.",
                ),
            ),
        ],
    ),
    s(
        "VPN disconnects every 10 minutes",
        "On home Wi-Fi the VPN client drops and reconnects every ten minutes.",
        RILEY,
        MED,
        "VPN",
        None,
        26 * H,
        &[
            (30, Route(INFRA, Some(SAM))),
            (2 * H, Start(SAM)),
            (
                3 * H,
                Comment(
                    SAM,
                    "Could you send the client log from Help → Export logs? That shows why it reconnects.",
                ),
            ),
            (
                5 * H,
                Comment(RILEY, "Attached is the log from this morning."),
            ),
        ],
    ),
    s(
        "Excel crashes when opening large files",
        "Files over 50 MB crash Excel on open. Smaller files are fine.",
        PRIYA,
        MED,
        "Software",
        None,
        2 * D + 3 * H,
        &[
            (H, Route(DESK, Some(ALEX))),
            (2 * H, Start(ALEX)),
            (
                4 * H,
                Comment(
                    ALEX,
                    "This is the 32-bit Office build. I will switch you to 64-bit tonight; please save your work before 18:00.",
                ),
            ),
        ],
    ),
    s(
        "Mail gateway queue growing",
        "Outbound queue on the gateway is at 4,000 messages and growing.",
        ADMIN,
        CRIT,
        "Email",
        Some("Mail Gateway"),
        40,
        &[
            (1, Route(INFRA, Some(SAM))),
            (4, Start(SAM)),
            (
                15,
                Note(
                    SAM,
                    "Upstream relay refusing TLS 1.0; switching the connector profile.",
                ),
            ),
        ],
    ),
    s(
        "Monitor flickers on the left edge",
        "The left third of my second monitor flickers after a few minutes.",
        JORDAN,
        LOW,
        "Laptops",
        None,
        3 * D,
        &[
            (2 * H, Route(DESK, Some(SAM))),
            (5 * H, Start(SAM)),
            (6 * H, Pending(SAM, "waiting for the replacement cable")),
            (
                6 * H + 5,
                Comment(
                    SAM,
                    "A new DisplayPort cable is ordered and should arrive on Thursday.",
                ),
            ),
        ],
    ),
    s(
        "Access to the Finance share",
        "I moved to Finance and need the Finance share on the file server.",
        RILEY,
        LOW,
        "Permissions",
        None,
        5 * D,
        &[
            (H, Route(DESK, Some(ALEX))),
            (2 * H, Pending(ALEX, "waiting for the manager's approval")),
            (
                2 * H + 3,
                Comment(
                    ALEX,
                    "I asked Max to approve the access; you will get it as soon as he does.",
                ),
            ),
        ],
    ),
    s(
        "Wiki search returns nothing",
        "Searching the internal wiki returns no results for any word.",
        PRIYA,
        MED,
        "Software",
        Some("Internal Wiki"),
        9 * H,
        &[(20, Route(OPS, Some(ALEX))), (H, Start(ALEX))],
    ),
    // Breaching or close to it (raised long enough ago that the clock has run).
    s(
        "Payroll export fails for the Berlin office",
        "The monthly export to the bank stops with error 502 for Berlin only.",
        MANAGER,
        HIGH,
        "Software",
        Some("Payroll"),
        2 * D,
        &[(30, Route(OPS, Some(ALEX)))],
    ),
    s(
        "Badge reader at the main entrance is offline",
        "Staff cannot badge in at the main entrance; reception is letting people in.",
        ADMIN,
        HIGH,
        "Hardware",
        None,
        6 * H,
        &[(10, Route(INFRA, None))],
    ),
    s(
        "Phone system drops external calls",
        "Calls from outside drop after about 45 seconds.",
        MANAGER,
        HIGH,
        "Network",
        None,
        5 * H,
        &[(20, Route(INFRA, Some(SAM)))],
    ),
    s(
        "Password reset emails not arriving",
        "Customers say the reset email never arrives; spam folder checked.",
        JORDAN,
        HIGH,
        "Email",
        Some("Customer Portal"),
        3 * H + 30,
        &[(15, Route(OPS, None))],
    ),
    // Resolved in the last weeks — some in time, some late.
    s(
        "Keyboard keys stick",
        "The E and R keys stick on my laptop.",
        RILEY,
        LOW,
        "Laptops",
        None,
        20 * D,
        &[
            (H, Route(DESK, Some(SAM))),
            (3 * H, Start(SAM)),
            (D, Resolve(SAM, "fixed", "Replaced the keyboard.")),
        ],
    ),
    s(
        "Cannot print to PDF",
        "The 'Save as PDF' printer is missing.",
        PRIYA,
        LOW,
        "Printers",
        None,
        18 * D,
        &[
            (2 * H, Route(DESK, Some(ALEX))),
            (
                3 * H,
                Resolve(
                    ALEX,
                    "fixed",
                    "Re-added the PDF printer; it is back in the list.",
                ),
            ),
        ],
    ),
    s(
        "Portal shows the old logo",
        "The customer portal still shows last year's logo on the login page.",
        MANAGER,
        MED,
        "Software",
        Some("Customer Portal"),
        16 * D,
        &[
            (H, Route(OPS, Some(ALEX))),
            (
                2 * D,
                Resolve(
                    ALEX,
                    "fixed",
                    "Cache purged after the release; the new logo shows.",
                ),
            ),
        ],
    ),
    s(
        "Slow file server in the afternoon",
        "Opening files takes ages between 14:00 and 16:00.",
        JORDAN,
        MED,
        "Network",
        None,
        15 * D,
        &[
            (H, Route(INFRA, Some(SAM))),
            (
                5 * D,
                Resolve(
                    SAM,
                    "workaround",
                    "Moved the backup window to the night; a proper fix needs new disks.",
                ),
            ),
        ],
    ),
    s(
        "Outlook asks for the password again and again",
        "Outlook keeps asking for my password every hour.",
        RILEY,
        MED,
        "Email",
        Some("Mail Gateway"),
        12 * D,
        &[
            (30, Route(DESK, Some(ALEX))),
            (
                4 * H,
                Resolve(
                    ALEX,
                    "fixed",
                    "Removed an old saved credential; it no longer asks.",
                ),
            ),
        ],
    ),
    s(
        "VPN certificate expired",
        "Everyone's VPN says the certificate has expired.",
        ADMIN,
        CRIT,
        "VPN",
        None,
        10 * D,
        &[
            (5, Route(INFRA, Some(SAM))),
            (10, Start(SAM)),
            (
                3 * H,
                Resolve(
                    SAM,
                    "fixed",
                    "Renewed the gateway certificate; clients reconnect on their own.",
                ),
            ),
        ],
    ),
    s(
        "Duplicate: printer jam on floor 2",
        "Same jam as last week.",
        JORDAN,
        LOW,
        "Printers",
        None,
        9 * D,
        &[
            (H, Route(DESK, Some(SAM))),
            (
                2 * H,
                Resolve(
                    SAM,
                    "duplicate",
                    "Same as the earlier printer ticket; the technician visit covers both.",
                ),
            ),
        ],
    ),
    s(
        "Teams camera not detected",
        "Teams says no camera is found, the camera app works.",
        PRIYA,
        LOW,
        "Software",
        None,
        8 * D,
        &[
            (H, Route(DESK, Some(ALEX))),
            (
                D,
                Resolve(
                    ALEX,
                    "user_error",
                    "Teams was set to a virtual camera; switched back to the built-in one.",
                ),
            ),
        ],
    ),
    s(
        "Payroll login loops back to the start page",
        "After signing in, Payroll shows the sign-in page again.",
        RILEY,
        HIGH,
        "Software",
        Some("Payroll"),
        7 * D,
        &[
            (20, Route(OPS, Some(ALEX))),
            (H, Start(ALEX)),
            (
                26 * H,
                Resolve(
                    ALEX,
                    "fixed",
                    "Session cookie domain corrected after the migration.",
                ),
            ),
        ],
    ),
    s(
        "Intermittent 500 errors on the portal",
        "Some customers see 'Internal error' when paying.",
        MANAGER,
        CRIT,
        "Software",
        Some("Customer Portal"),
        6 * D,
        &[
            (5, Route(OPS, Some(ALEX))),
            (10, Start(ALEX)),
            (
                2 * H,
                Note(
                    ALEX,
                    "Payment provider timeouts; raising the client timeout and adding a retry.",
                ),
            ),
            (
                3 * H,
                Resolve(ALEX, "fixed", "Deployed the retry; no errors since."),
            ),
        ],
    ),
    s(
        "Cannot reproduce: sound crackles in calls",
        "Crackling sound on calls, sometimes.",
        JORDAN,
        LOW,
        "Hardware",
        None,
        5 * D,
        &[
            (H, Route(DESK, Some(SAM))),
            (
                2 * D,
                Resolve(
                    SAM,
                    "cannot_reproduce",
                    "Tested three calls with the user; no crackling.",
                ),
            ),
        ],
    ),
    s(
        "Shared calendar not updating",
        "The team calendar stopped showing new events.",
        PRIYA,
        MED,
        "Email",
        Some("Mail Gateway"),
        4 * D,
        &[
            (H, Route(DESK, Some(ALEX))),
            (
                3 * H,
                Resolve(ALEX, "fixed", "Re-synced the calendar permissions."),
            ),
        ],
    ),
    s(
        "Second screen not recognised after docking",
        "When I dock, the second screen stays black.",
        RILEY,
        LOW,
        "Laptops",
        None,
        3 * D,
        &[
            (H, Route(DESK, Some(SAM))),
            (5 * H, Resolve(SAM, "fixed", "Updated the dock firmware.")),
        ],
    ),
    s(
        "Wiki pages load without styling",
        "The wiki looks like plain text, no layout.",
        MANAGER,
        LOW,
        "Software",
        Some("Internal Wiki"),
        2 * D,
        &[
            (H, Route(OPS, Some(ALEX))),
            (
                2 * H,
                Resolve(
                    ALEX,
                    "fixed",
                    "A proxy rule blocked the stylesheet; removed it.",
                ),
            ),
        ],
    ),
    s(
        "Guest Wi-Fi password for the workshop",
        "We need the guest Wi-Fi password for 20 visitors on Friday.",
        JORDAN,
        LOW,
        "Wi-Fi",
        None,
        30 * H,
        &[
            (H, Route(INFRA, Some(SAM))),
            (
                2 * H,
                Resolve(SAM, "fixed", "Sent the guest voucher codes to Jordan."),
            ),
        ],
    ),
    // Closed a while ago.
    s(
        "Old laptop to be wiped",
        "Please wipe and recycle my old laptop.",
        PRIYA,
        LOW,
        "Laptops",
        None,
        25 * D,
        &[
            (H, Route(DESK, Some(SAM))),
            (D, Resolve(SAM, "fixed", "Wiped and sent to recycling.")),
            (4 * D, Close(SAM)),
        ],
    ),
    s(
        "Distribution list for the sales team",
        "Create sales-all@ with the sales team in it.",
        MANAGER,
        LOW,
        "Email",
        Some("Mail Gateway"),
        22 * D,
        &[
            (H, Route(DESK, Some(ALEX))),
            (
                3 * H,
                Resolve(ALEX, "fixed", "Created sales-all@ with 14 members."),
            ),
            (3 * D, Close(ALEX)),
        ],
    ),
    s(
        "Mouse battery",
        "Wireless mouse needs batteries.",
        RILEY,
        LOW,
        "Hardware",
        None,
        21 * D,
        &[
            (30, Route(DESK, Some(SAM))),
            (H, Resolve(SAM, "fixed", "Dropped off new batteries.")),
            (2 * D, Close(SAM)),
        ],
    ),
    s(
        "Access to the design share removed",
        "Remove my access to the design share, I moved teams.",
        JORDAN,
        LOW,
        "Permissions",
        None,
        14 * D,
        &[
            (H, Route(DESK, Some(ALEX))),
            (2 * H, Resolve(ALEX, "fixed", "Access removed.")),
            (3 * D, Close(ALEX)),
        ],
    ),
    // A couple more fresh ones from requesters.
    s(
        "Teams status stuck on 'Away'",
        "My Teams status shows Away even while I work.",
        PRIYA,
        LOW,
        "Software",
        None,
        15,
        &[],
    ),
    s(
        "Headset for the new hire",
        "Dana will need a headset for calls.",
        MANAGER,
        LOW,
        "Hardware",
        None,
        2 * H,
        &[(30, Route(DESK, None))],
    ),
    s(
        "Can't connect to the office printer from a Mac",
        "The Mac says the printer is offline; Windows colleagues can print.",
        RILEY,
        LOW,
        "Printers",
        None,
        6 * D,
        &[
            (H, Route(DESK, Some(SAM))),
            (2 * H, Start(SAM)),
            (
                3 * H,
                Comment(
                    SAM,
                    "Which macOS version are you on? The driver differs between 14 and 15.",
                ),
            ),
            (D, Comment(RILEY, "It's macOS 15.1.")),
            (D + H, Pending(SAM, "ordering the new driver package")),
        ],
    ),
];

/// Categories as (name, parent).
const CATEGORIES: &[(&str, Option<&str>)] = &[
    ("Hardware", None),
    ("Laptops", Some("Hardware")),
    ("Printers", Some("Hardware")),
    ("Software", None),
    ("Network", None),
    ("VPN", Some("Network")),
    ("Wi-Fi", Some("Network")),
    ("Access", None),
    ("Accounts", Some("Access")),
    ("Permissions", Some("Access")),
    ("Email", None),
];

pub async fn seed(
    tx: &mut TenantTx,
    slug: &Slug,
    people: &[Uuid],
    groups: &[Uuid],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut category_ids = std::collections::HashMap::new();
    for (name, parent) in CATEGORIES {
        let id: Uuid = sqlx::query_scalar(
            "INSERT INTO issue_categories (name, parent_id) VALUES ($1, $2) RETURNING id",
        )
        .bind(name)
        .bind(parent.map(|p| category_ids[p]))
        .fetch_one(&mut **tx)
        .await?;
        category_ids.insert(*name, id);
    }
    let apps: Vec<(Uuid, String)> = sqlx::query_as("SELECT id, name FROM applications")
        .fetch_all(&mut **tx)
        .await?;
    let mut principals = Vec::new();
    for id in people {
        let row = load_user(tx, *id)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
            .ok_or_else(|| anyhow::anyhow!("demo user {id} is missing"))?;
        principals.push(row.into_principal(slug.clone(), AuthVia::Session));
    }
    let err =
        |what: &str, e: crate::platform::error::AppError| anyhow::anyhow!("demo {what}: {e:?}");
    // The demo's requesters say how much a problem affects them (the tenant option).
    sqlx::query("UPDATE issue_form_settings SET requesters_rate_impact = true")
        .execute(&mut **tx)
        .await?;
    // Oldest first, so issue numbers follow the order things happened.
    let mut scripts: Vec<&Script> = SCRIPTS.iter().collect();
    scripts.sort_by_key(|s| -s.minutes_ago);
    for script in scripts {
        let raised = now - Duration::minutes(script.minutes_ago);
        let body = NewIssue {
            title: script.title.into(),
            description: Some(script.description.into()),
            impact: Some(script.impact.into()),
            urgency: Some(script.urgency.into()),
            category_id: category_ids.get(script.category).copied(),
            application_id: script
                .app
                .and_then(|a| apps.iter().find(|(_, n)| n == a).map(|(id, _)| *id)),
            ..Default::default()
        };
        let issue = {
            let mut a = acting(tx, &principals[script.reporter], raised).await?;
            actions::create(&mut a, &body, "portal")
                .await
                .map_err(|e| err("issue", e))?
        };
        for (after, step) in script.steps {
            let at = raised + Duration::minutes(*after);
            if at > now {
                continue;
            }
            let who = match step {
                Route(..) => MANAGER,
                Start(p)
                | Pending(p, _)
                | Comment(p, _)
                | Note(p, _)
                | Resolve(p, ..)
                | Close(p) => *p,
            };
            let mut a = acting(tx, &principals[who], at).await?;
            let done = match step {
                Route(group, person) => actions::assign(
                    &mut a,
                    issue.id,
                    &AssignBody {
                        assigned_group: Some(groups[*group]),
                        assigned_to: person.map(|p| people[p]),
                        reason: None,
                    },
                    false,
                )
                .await
                .map(drop),
                Start(_) => status(&mut a, issue.id, "in_progress", None).await,
                Pending(_, why) => status(&mut a, issue.id, "pending", Some(why)).await,
                Comment(_, text) | Note(_, text) => activity::add_comment(
                    &mut a,
                    issue.id,
                    &CommentBody {
                        content: (*text).into(),
                        is_internal: matches!(step, Note(..)),
                    },
                )
                .await
                .map(drop),
                Resolve(_, code, notes) => actions::resolve(
                    &mut a,
                    issue.id,
                    &ResolveBody {
                        resolution_code: (*code).into(),
                        resolution_notes: (*notes).into(),
                    },
                )
                .await
                .map(drop),
                Close(_) => actions::close(&mut a, issue.id, &CloseBody::default())
                    .await
                    .map(drop),
            };
            done.map_err(|e| err(script.title, e))?;
        }
    }
    // History is not news: what the demo desk did days ago is written as already dispatched,
    // so nobody is notified of it when the server starts (SLA timers still fire as due).
    sqlx::query("UPDATE domain_events SET dispatched_at = occurred_at WHERE dispatched_at IS NULL")
        .execute(&mut **tx)
        .await?;
    // Alex keeps an eye on what is urgent.
    sqlx::query("INSERT INTO saved_views (user_id, entity_type, name, query) VALUES ($1, 'issue', 'High priority, open', 'priority=high&status=open')")
        .bind(people[ALEX])
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn acting<'a>(
    tx: &'a mut TenantTx,
    p: &'a Principal,
    at: DateTime<Utc>,
) -> anyhow::Result<Acting<'a>> {
    let meta = RequestMeta {
        ip: None,
        user_agent: Some("demo seed".into()),
    };
    Acting::open(tx, p, Actor::user(p, &meta), at)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))
}

async fn status(
    a: &mut Acting<'_>,
    id: Uuid,
    status: &str,
    reason: Option<&str>,
) -> Result<(), crate::platform::error::AppError> {
    let changes = IssueChanges {
        status: Some(status.into()),
        reason: reason.map(str::to_string),
        ..Default::default()
    };
    actions::update(a, id, &changes).await.map(drop)
}
