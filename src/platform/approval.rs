//! What an area tells the approvals engine about its records: how to name one in an approver's
//! inbox and what to do when its chain is settled. The engine (`crate::approvals`) knows
//! nothing of requests or changes; an area plugs in by declaring a `Subject` in its module.

use uuid::Uuid;

use crate::platform::audience::BoxFuture;
use crate::platform::audit::Actor;
use crate::platform::error::AppError;
use crate::platform::tenancy::{Slug, TenantTx};

/// A record awaiting a decision, as an inbox lists it.
#[derive(Clone, Debug)]
pub struct Described {
    pub id: Uuid,
    /// `REQ-00012`.
    pub number: String,
    pub title: String,
    /// Its page (`/requests/{id}`).
    pub path: String,
    pub requester: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    Approved,
    Rejected,
}

pub trait Subject: Send + Sync {
    /// The `entity_type` of its approval rows (`request`).
    fn entity(&self) -> &'static str;
    fn describe<'a>(
        &'a self,
        tx: &'a mut TenantTx,
        ids: &'a [Uuid],
    ) -> BoxFuture<'a, Result<Vec<Described>, AppError>>;
    /// What the approver decides on, as (label, answer) pairs: shown on the one-click decision
    /// page, where the approver may not be signed in.
    fn details<'a>(
        &'a self,
        tx: &'a mut TenantTx,
        id: Uuid,
    ) -> BoxFuture<'a, Result<Vec<(String, String)>, AppError>>;
    /// A later step (`step`, 0-based) opened: its approvers should hear of it.
    fn step_opened<'a>(
        &'a self,
        tx: &'a mut TenantTx,
        tenant: &'a Slug,
        actor: &'a Actor,
        id: Uuid,
        step: i32,
    ) -> BoxFuture<'a, Result<(), AppError>>;
    /// The step (`step`, 0-based) is still undecided after its reminder time: the approvers
    /// who have not decided should hear of it again.
    fn remind<'a>(
        &'a self,
        tx: &'a mut TenantTx,
        tenant: &'a Slug,
        actor: &'a Actor,
        id: Uuid,
        step: i32,
    ) -> BoxFuture<'a, Result<(), AppError>>;
    /// The chain reached a verdict at `now`: move the record on, in the deciding transaction.
    #[expect(
        clippy::too_many_arguments,
        reason = "who decided what, when, on which record"
    )]
    fn settled<'a>(
        &'a self,
        tx: &'a mut TenantTx,
        tenant: &'a Slug,
        actor: &'a Actor,
        id: Uuid,
        verdict: Settled,
        comment: Option<&'a str>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'a, Result<(), AppError>>;
}
