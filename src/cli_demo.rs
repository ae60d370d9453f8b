//! The demo tenant: on first start of an empty installation (FIRELATER_DEMO on), provision
//! `demo` with one user per system role and a few groups, and print how to sign in.

mod catalog;
mod desk;

use serde_json::json;

use crate::identity::users_store::{self, NewUser};
use crate::platform::audit::{self, Actor};
use crate::platform::config::Config;
use crate::platform::tenancy::{self, NewTenant, Slug};

pub async fn ensure_demo(pool: &sqlx::PgPool, config: &Config) -> anyhow::Result<()> {
    let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM public.tenants)")
        .fetch_one(pool)
        .await?;
    if any {
        return Ok(());
    }
    let slug = Slug::parse("demo").map_err(|p| anyhow::anyhow!("{p}"))?;
    let password = std::env::var("FIRELATER_ADMIN_PASSWORD")
        .ok()
        .filter(|p| domain::identity::check_password(p, "").is_ok())
        .unwrap_or_else(|| crate::platform::auth::tokens::random_secret()[..16].to_string());
    let admin_email = "admin@demo.firelater.test";
    let done = tenancy::provision(
        pool,
        &crate::app::manifest(),
        &NewTenant {
            slug: slug.clone(),
            name: "Demo Company".into(),
            plan: "professional".into(),
            admin_email: admin_email.into(),
            admin_name: "Ada Admin".into(),
            admin_password: password.clone(),
        },
    )
    .await?;
    let mut tx = tenancy::begin(pool, &slug).await?;
    let actor = Actor::system("demo-seed");
    let hash = crate::platform::auth::password::hash(&password)?;
    let people = [
        (
            "manager@demo.firelater.test",
            "Max Manager",
            "manager",
            "Europe/Berlin",
        ),
        (
            "agent@demo.firelater.test",
            "Alex Agent",
            "agent",
            "America/New_York",
        ),
        (
            "agent2@demo.firelater.test",
            "Sam Support",
            "agent",
            "Europe/London",
        ),
        (
            "requester@demo.firelater.test",
            "Riley Requester",
            "requester",
            "UTC",
        ),
    ];
    // Two more requesters who raise issues in the demo desk but do not sign in.
    let reporters = [
        (
            "jordan.lee@demo.firelater.test",
            "Jordan Lee",
            "requester",
            "Europe/Berlin",
        ),
        (
            "priya.shah@demo.firelater.test",
            "Priya Shah",
            "requester",
            "Asia/Kolkata",
        ),
    ];
    let mut ids = vec![done.admin_id];
    for (n, (email, name, role, tz)) in people.into_iter().chain(reporters).enumerate() {
        let id = users_store::create(
            &mut tx,
            NewUser {
                email,
                name,
                password_hash: (n < 4).then(|| hash.clone()),
                timezone: tz,
                phone: None,
            },
        )
        .await?;
        users_store::set_roles(&mut tx, id, &[role.to_string()], None).await?;
        audit::record(
            &mut tx,
            &actor,
            "create",
            "user",
            id,
            json!({"email": {"old": null, "new": email}}),
        )
        .await?;
        ids.push(id);
    }
    let groups = [
        (
            "IT Operations",
            "department",
            None::<usize>,
            Some(1usize),
            vec![(1usize, "lead"), (2, "member"), (3, "member")],
        ),
        (
            "Service Desk",
            "team",
            Some(0),
            Some(1),
            vec![(2, "lead"), (3, "member")],
        ),
        (
            "Infrastructure",
            "team",
            Some(0),
            Some(1),
            vec![(1, "lead"), (0, "member")],
        ),
    ];
    let mut group_ids = Vec::new();
    for (name, kind, parent, manager, members) in groups {
        let id: uuid::Uuid = sqlx::query_scalar("INSERT INTO groups (name, type, parent_id, manager_id) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(name)
            .bind(kind)
            .bind(parent.map(|i: usize| group_ids[i]))
            .bind(manager.map(|i| ids[i]))
            .fetch_one(&mut *tx)
            .await?;
        for (member, role) in members {
            sqlx::query("INSERT INTO group_members (group_id, user_id, role) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(ids[member])
                .bind(role)
                .execute(&mut *tx)
                .await?;
        }
        audit::record(
            &mut tx,
            &actor,
            "create",
            "group",
            id,
            json!({"name": {"old": null, "new": name}}),
        )
        .await?;
        group_ids.push(id);
    }
    // A few applications, owned and supported by the groups above (ids: 0 IT Operations,
    // 1 Service Desk, 2 Infrastructure; people: 0 admin, 1 manager, 2 agent, 3 agent2).
    let apps = [
        (
            "Customer Portal",
            "P1",
            "mission_critical",
            1,
            2,
            0,
            &["web", "customer"][..],
        ),
        (
            "Payroll",
            "P2",
            "business_critical",
            0,
            0,
            1,
            &["finance", "sap"][..],
        ),
        (
            "Internal Wiki",
            "P4",
            "administrative",
            1,
            1,
            3,
            &["docs"][..],
        ),
        (
            "Mail Gateway",
            "P2",
            "business_critical",
            2,
            2,
            2,
            &["email", "infra"][..],
        ),
    ];
    for (name, tier, criticality, owner_group, support_group, owner, tags) in apps {
        let body = crate::registry::actions::ApplicationBody {
            name: name.into(),
            tier: tier.into(),
            criticality: Some(criticality.into()),
            owner_group_id: Some(group_ids[owner_group]),
            support_group_id: Some(group_ids[support_group]),
            owner_user_id: Some(ids[owner]),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        };
        let app = crate::registry::actions::save(&mut tx, &slug, &actor, None, &body)
            .await
            .map_err(|e| anyhow::anyhow!("demo application {name}: {e:?}"))?;
        for (env, kind) in [("production", "prod"), ("staging", "staging")] {
            let env = crate::registry::actions::EnvironmentBody {
                name: env.into(),
                env_type: kind.into(),
                cloud_provider: Some("aws".into()),
                cloud_region: Some("eu-central-1".into()),
                ..Default::default()
            };
            crate::registry::actions::save_environment(&mut tx, &slug, &actor, app.id, None, &env)
                .await
                .map_err(|e| anyhow::anyhow!("demo environment: {e:?}"))?;
        }
    }
    let now = chrono::Utc::now();
    catalog::seed(&mut tx, &slug, &ids, &group_ids, now.date_naive()).await?;
    desk::seed(&mut tx, &slug, &ids, &group_ids, now).await?;
    tx.commit().await?;
    println!();
    println!("  FireLater demo is ready at {}/login", config.base_url);
    println!("  organization: demo    e-mail: {admin_email}    password: {password}");
    println!("  (manager@, agent@, agent2@, requester@demo.firelater.test use the same password)");
    println!();
    Ok(())
}
