//! The tenant's inbound-mail settings: its support address (unique across tenants, so the
//! built-in SMTP listener knows whose mail it is), whether unknown senders become requesters,
//! and the group new issues go to.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::platform::audit::{self, Actor};
use crate::platform::error::AppError;
use crate::platform::listing::Problems;
use crate::platform::tenancy::{Slug, TenantTx};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct InboundSettings {
    /// Mail to this address (at the built-in SMTP listener) comes to this organization.
    pub address: Option<String>,
    /// Unknown senders become requesters (else their mail is ignored and logged).
    pub create_requesters: bool,
    /// New issues from mail go to this group.
    pub default_group_id: Option<Uuid>,
}

pub async fn get(tx: &mut TenantTx) -> Result<InboundSettings, AppError> {
    Ok(sqlx::query_as(
        "SELECT address, create_requesters, default_group_id FROM inbound_mail_settings WHERE id",
    )
    .fetch_one(&mut **tx)
    .await?)
}

pub async fn save(
    tx: &mut TenantTx,
    tenant: &Slug,
    actor: &Actor,
    b: &InboundSettings,
) -> Result<InboundSettings, AppError> {
    let mut p = Problems::default();
    let address = b
        .address
        .as_deref()
        .map(|a| a.trim().to_ascii_lowercase())
        .filter(|a| !a.is_empty());
    if let Some(a) = &address
        && a.parse::<lettre::Address>().is_err()
    {
        p.add(
            "address",
            "must be a mail address, e.g. support@acme.example",
        );
    }
    if let Some(g) = b.default_group_id
        && !crate::platform::tenancy::exists(
            tx,
            "SELECT EXISTS (SELECT 1 FROM groups WHERE id = $1)",
            g,
        )
        .await?
    {
        p.add("default_group_id", "is not a group of this organization");
    }
    p.into_result()?;
    let before = get(tx).await?;
    sqlx::query("DELETE FROM public.inbound_addresses WHERE tenant_slug = $1")
        .bind(tenant.as_str())
        .execute(&mut **tx)
        .await?;
    if let Some(a) = &address {
        // Row-level security hides other tenants' addresses, so a clash shows only as a
        // conflict on insert.
        sqlx::query("INSERT INTO public.inbound_addresses (address, tenant_slug) VALUES ($1, $2)")
            .bind(a)
            .bind(tenant.as_str())
            .execute(&mut **tx)
            .await
            .map_err(|e| match e {
                sqlx::Error::Database(d) if d.is_unique_violation() => {
                    AppError::field("address", "is used by another organization")
                }
                e => e.into(),
            })?;
    }
    sqlx::query(
        "UPDATE inbound_mail_settings SET address = $1, create_requesters = $2, default_group_id = $3,
            updated_at = now() WHERE id",
    )
    .bind(&address)
    .bind(b.create_requesters)
    .bind(b.default_group_id)
    .execute(&mut **tx)
    .await?;
    let after = get(tx).await?;
    let changes = json!({"old": before, "new": after});
    audit::record(
        tx,
        actor,
        "update",
        "inbound_mail_settings",
        Uuid::nil(),
        changes,
    )
    .await?;
    Ok(after)
}

/// Whose support address this is (for the SMTP listener, outside any tenant).
pub async fn tenant_of(pool: &sqlx::PgPool, address: &str) -> Result<Option<Slug>, AppError> {
    let slug: Option<String> = sqlx::query_scalar(
        "SELECT a.tenant_slug FROM public.inbound_addresses a
         JOIN public.tenants t ON t.slug = a.tenant_slug AND t.status = 'active'
         WHERE a.address = lower($1)",
    )
    .bind(address.trim())
    .fetch_optional(pool)
    .await?;
    Ok(slug.and_then(|s| Slug::parse(&s).ok()))
}
