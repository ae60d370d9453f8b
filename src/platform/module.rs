//! The module manifest: what each product area brings to the platform. `app.rs` lists the
//! modules once; navigation, the permission table and its pickers, the webhook event list, the
//! job registry, the outbox subscribers and the routers are all read from that list, so adding
//! an area touches its own folder and one line there — and settings never offer what is not
//! built.

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;

use crate::platform::approval::Subject;
use crate::platform::audience::Audience;
use crate::platform::events::Subscriber;
use crate::platform::jobs::Registry;
use crate::platform::state::AppState;
use crate::platform::web::Routes;

/// A permission (`resource:action`), declared as a typed constant by the area that owns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Perm(&'static str);

impl Perm {
    /// `key` is `resource:action`; the manifest test checks every declared key's shape.
    pub const fn new(key: &'static str) -> Perm {
        Perm(key)
    }

    pub fn key(self) -> &'static str {
        self.0
    }

    pub fn resource(self) -> &'static str {
        self.0.split_once(':').map_or(self.0, |(r, _)| r)
    }

    pub fn action(self) -> &'static str {
        self.0.split_once(':').map_or("", |(_, a)| a)
    }
}

impl std::fmt::Display for Perm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// The system roles a tenant is provisioned with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SystemRole {
    Admin,
    Manager,
    Agent,
    Requester,
}

impl SystemRole {
    pub fn name(self) -> &'static str {
        match self {
            SystemRole::Admin => "admin",
            SystemRole::Manager => "manager",
            SystemRole::Agent => "agent",
            SystemRole::Requester => "requester",
        }
    }
}

use SystemRole::{Agent, Manager, Requester};

/// Who gets a permission when it first appears in a tenant (administrators always do; after
/// that, tenant admins decide).
pub const STAFF: &[SystemRole] = &[Manager, Agent];
pub const EVERYONE: &[SystemRole] = &[Manager, Agent, Requester];
pub const MANAGERS: &[SystemRole] = &[Manager];
pub const ADMINS: &[SystemRole] = &[];

/// A permission as the manifest declares it.
#[derive(Clone, Copy, Debug)]
pub struct PermDef {
    pub perm: Perm,
    pub description: &'static str,
    /// System roles besides `admin` that hold it by default.
    pub roles: &'static [SystemRole],
}

pub const fn perm(perm: Perm, description: &'static str, roles: &'static [SystemRole]) -> PermDef {
    PermDef {
        perm,
        description,
        roles,
    }
}

/// Where a navigation entry sits; the bar shows the sections in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// Inline in the bar: what people work in every day.
    Work,
    /// The menus after it: setting the desk up, people, connections, the machinery.
    ServiceDesk,
    People,
    Integrations,
    System,
}

impl Section {
    /// The menu's name; `None` for the entries shown inline.
    pub fn menu(self) -> Option<&'static str> {
        match self {
            Section::Work => None,
            Section::ServiceDesk => Some("Service desk"),
            Section::People => Some("People"),
            Section::Integrations => Some("Integrations"),
            Section::System => Some("System"),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct NavEntry {
    pub key: &'static str,
    pub label: &'static str,
    pub href: &'static str,
    /// Shown only to those who hold it (`None`: everyone signed in).
    pub perm: Option<Perm>,
    pub section: Section,
    /// Hidden from those who hold it: a requester's "My requests" is an agent's "Issues".
    pub unless: Option<Perm>,
}

/// A spec webhook event an area emits.
#[derive(Clone, Copy, Debug)]
pub struct EventDef {
    pub name: &'static str,
    pub label: &'static str,
}

pub type ApiRoutes = fn() -> OpenApiRouter<AppState>;
pub type WebRoutes = fn() -> Routes;
pub type Jobs = fn(&AppState, &mut Registry) -> anyhow::Result<()>;
pub type Subscribers = fn(&AppState) -> Vec<Arc<dyn Subscriber>>;

/// What one area declares about itself.
pub struct Module {
    pub name: &'static str,
    pub nav: &'static [NavEntry],
    pub permissions: &'static [PermDef],
    pub events: &'static [EventDef],
    /// Events it emits beyond the spec's webhook list: not offered by name to webhooks (they
    /// reach `issue.*`-style and `*` subscribers), but people can be told about them.
    pub other_events: &'static [EventDef],
    /// `issue.*` and how the webhook form words it.
    pub event_wildcard: Option<EventDef>,
    pub api: Option<ApiRoutes>,
    pub web: Option<WebRoutes>,
    pub jobs: Option<Jobs>,
    pub subscribers: Option<Subscribers>,
    /// Who is told about its events, if people are.
    pub audience: Option<&'static dyn Audience>,
    /// Its records that go through approval chains, if any.
    pub approvals: Option<&'static dyn Subject>,
    /// The records it owns, so the audit log (and anything else listing entities) can name
    /// them and link to their pages.
    pub entities: &'static [EntityDef],
}

/// A kind of record: its `entity_type` in audit rows, how a person calls one, the SQL that
/// names a batch (`$1` is a `uuid[]`; answers `(id, name)`), and its page (`{id}` replaced).
#[derive(Clone, Copy, Debug)]
pub struct EntityDef {
    pub entity_type: &'static str,
    pub label: &'static str,
    pub names: &'static str,
    pub page: &'static str,
}

impl Module {
    pub const fn new(name: &'static str) -> Module {
        Module {
            name,
            nav: &[],
            permissions: &[],
            events: &[],
            other_events: &[],
            event_wildcard: None,
            api: None,
            web: None,
            jobs: None,
            subscribers: None,
            audience: None,
            approvals: None,
            entities: &[],
        }
    }
}

/// The modules of this binary, in the order `app.rs` lists them.
pub struct Manifest {
    modules: Vec<Module>,
    /// Navigation by section, then in module order: sorted once, read on every page.
    nav: Vec<&'static NavEntry>,
}

impl Manifest {
    pub fn new(modules: Vec<Module>) -> Manifest {
        let mut nav: Vec<&'static NavEntry> = modules.iter().flat_map(|m| m.nav).collect();
        // A stable sort keeps module order within a section.
        nav.sort_by_key(|n| n.section);
        Manifest { modules, nav }
    }

    pub fn modules(&self) -> &[Module] {
        &self.modules
    }

    /// The navigation bar's entries: by section, then in module order.
    pub fn nav(&self) -> &[&'static NavEntry] {
        &self.nav
    }

    pub fn permissions(&self) -> impl Iterator<Item = &PermDef> {
        self.modules.iter().flat_map(|m| m.permissions)
    }

    pub fn entities(&self) -> impl Iterator<Item = &EntityDef> {
        self.modules.iter().flat_map(|m| m.entities)
    }

    pub fn events(&self) -> impl Iterator<Item = &EventDef> {
        self.modules.iter().flat_map(|m| m.events)
    }

    pub fn event_names(&self) -> Vec<&'static str> {
        self.events().map(|e| e.name).collect()
    }

    /// Every event the areas emit that people can be told about: the spec's and the others.
    pub fn emitted_names(&self) -> Vec<&'static str> {
        self.modules
            .iter()
            .flat_map(|m| m.events.iter().chain(m.other_events))
            .map(|e| e.name)
            .collect()
    }

    /// The wildcards a webhook may subscribe to: `*` and one per area that emits events.
    pub fn event_wildcards(&self) -> Vec<EventDef> {
        std::iter::once(EventDef {
            name: "*",
            label: "Everything",
        })
        .chain(self.modules.iter().filter_map(|m| m.event_wildcard))
        .collect()
    }

    /// The areas whose events reach people.
    pub fn audiences(&self) -> impl Iterator<Item = &'static dyn Audience> + '_ {
        self.modules.iter().filter_map(|m| m.audience)
    }

    /// The audience for an entity type (`issue`), or for a preference category (`issues`).
    pub fn audience(&self, entity_or_category: &str) -> Option<&'static dyn Audience> {
        self.audiences()
            .find(|a| a.entity() == entity_or_category || a.category() == entity_or_category)
    }

    /// The area whose records carry approvals of `entity_type`.
    pub fn approval_subject(&self, entity_type: &str) -> Option<&'static dyn Subject> {
        self.modules
            .iter()
            .filter_map(|m| m.approvals)
            .find(|s| s.entity() == entity_type)
    }

    pub fn api_router(&self) -> OpenApiRouter<AppState> {
        self.modules
            .iter()
            .filter_map(|m| m.api)
            .fold(OpenApiRouter::new(), |r, api| r.merge(api()))
    }

    pub fn web_routes(&self) -> Routes {
        self.modules
            .iter()
            .filter_map(|m| m.web)
            .fold(Routes::new(), |r, web| r.merge(web()))
    }

    pub fn subscribers(&self, state: &AppState) -> Vec<Arc<dyn Subscriber>> {
        self.modules
            .iter()
            .filter_map(|m| m.subscribers)
            .flat_map(|s| s(state))
            .collect()
    }

    pub fn job_registry(&self, state: &AppState) -> anyhow::Result<Registry> {
        let mut reg = Registry::default();
        for jobs in self.modules.iter().filter_map(|m| m.jobs) {
            jobs(state, &mut reg)?;
        }
        Ok(reg)
    }

    /// A stamp of the declared permissions: a tenant whose stamp differs is brought in line.
    pub fn permissions_stamp(&self) -> String {
        let mut keys: Vec<String> = self
            .permissions()
            .map(|p| {
                let roles: Vec<&str> = p.roles.iter().map(|r| r.name()).collect();
                format!("{}={}", p.perm, roles.join("+"))
            })
            .collect();
        keys.sort();
        let digest = <sha2::Sha256 as sha2::Digest>::digest(keys.join(",").as_bytes());
        digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
    }
}

/// Makes a tenant's permission table exactly the manifest's: new permissions are added and
/// granted to `admin` and their default system roles; permissions no module declares any more
/// (or never built) are removed with their grants. Runs in the caller's tenant transaction.
pub async fn sync_permissions(
    conn: &mut sqlx::PgConnection,
    manifest: &Manifest,
) -> anyhow::Result<()> {
    let defs: Vec<&PermDef> = manifest.permissions().collect();
    let resources: Vec<&str> = defs.iter().map(|d| d.perm.resource()).collect();
    let actions: Vec<&str> = defs.iter().map(|d| d.perm.action()).collect();
    let descriptions: Vec<&str> = defs.iter().map(|d| d.description).collect();
    let grants: Vec<String> = defs
        .iter()
        .map(|d| {
            std::iter::once("admin")
                .chain(d.roles.iter().map(|r| r.name()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    sqlx::query(
        "WITH declared AS (
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
                AS d(resource, action, description, roles)),
         removed AS (
            DELETE FROM permissions p WHERE NOT EXISTS (
                SELECT 1 FROM declared d WHERE d.resource = p.resource AND d.action = p.action)),
         added AS (
            INSERT INTO permissions (resource, action, description)
            SELECT resource, action, description FROM declared
            ON CONFLICT (resource, action) DO UPDATE SET description = EXCLUDED.description
            RETURNING id, resource, action, (xmax = 0) AS inserted)
         INSERT INTO role_permissions (role_id, permission_id)
         SELECT r.id, a.id FROM added a
         JOIN declared d ON d.resource = a.resource AND d.action = a.action
         JOIN roles r ON r.is_system AND r.name = ANY (string_to_array(d.roles, ','))
         WHERE a.inserted
         ON CONFLICT DO NOTHING",
    )
    .bind(&resources)
    .bind(&actions)
    .bind(&descriptions)
    .bind(&grants)
    .execute(conn)
    .await?;
    Ok(())
}
