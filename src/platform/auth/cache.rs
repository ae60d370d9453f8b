//! Who a credential belongs to, remembered between requests. Every request still opens its
//! tenant transaction with one statement that also reads the tenant's status and *auth epoch*;
//! the epoch is bumped by triggers whenever anything a principal is made of changes (roles,
//! role permissions, a user's status, credentials, name, e-mail or zone, an API key's
//! revocation, expiry or scopes). A remembered principal is used only while its tenant's epoch
//! is the one it was loaded under, so a change is seen by the very next request — the cache
//! saves the user and permission look-ups, never a check.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Principal;
use crate::platform::tenancy::Slug;

/// Entries kept before the cache starts afresh (a bound, not an eviction policy: at this size
/// a full reload costs one statement per active person).
const CAPACITY: usize = 20_000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Credential {
    /// A person (browser session or access token).
    User(Slug, Uuid),
    /// An API key, by the hash of its secret.
    Key(Slug, Vec<u8>),
}

#[derive(Clone, Debug)]
pub struct Cached {
    pub principal: Principal,
    /// The tenant's auth epoch when this was loaded.
    pub epoch: i64,
    /// The user's credential version (tokens and sessions carry the one they were issued with).
    pub cv: i64,
    /// Whether the user is active.
    pub active: bool,
    /// An API key's expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// When an API key's use was last recorded (at most once a minute).
    pub used_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Default)]
pub struct PrincipalCache(Arc<Mutex<HashMap<Credential, Cached>>>);

impl PrincipalCache {
    /// The remembered principal, if it was loaded under `epoch`.
    pub fn get(&self, credential: &Credential, epoch: i64) -> Option<Cached> {
        let map = self.0.lock().ok()?;
        map.get(credential).filter(|c| c.epoch == epoch).cloned()
    }

    /// The remembered principal whatever its epoch (the caller checks the epoch later, inside
    /// the request's transaction).
    pub fn peek(&self, credential: &Credential) -> Option<Cached> {
        self.0.lock().ok()?.get(credential).cloned()
    }

    pub fn put(&self, credential: Credential, entry: Cached) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= CAPACITY {
                map.clear();
            }
            map.insert(credential, entry);
        }
    }

    pub fn forget(&self, credential: &Credential) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(credential);
        }
    }
}
