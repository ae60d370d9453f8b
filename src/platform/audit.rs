//! Audit rows: who did what to which entity, with a field-level before/after diff, written in
//! the same transaction as the change.

use std::net::IpAddr;

use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::auth::{Principal, RequestMeta};
use super::tenancy::TenantTx;
use crate::platform::error::AppError;

/// Who acts: a signed-in user, or a named system actor for background work.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: Option<Uuid>,
    pub name: String,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl Actor {
    pub fn user(p: &Principal, meta: &RequestMeta) -> Self {
        Actor {
            user_id: Some(p.user_id),
            name: p.name.clone(),
            ip: meta.ip,
            user_agent: meta.user_agent.clone(),
        }
    }

    pub fn system(name: &str) -> Self {
        Actor {
            user_id: None,
            name: format!("system:{name}"),
            ip: None,
            user_agent: None,
        }
    }
}

/// `{field: {"old": x, "new": y}}` for the fields that differ between two serialised states.
/// Secret-bearing fields are never put in a diff.
pub fn diff<T: Serialize>(before: Option<&T>, after: Option<&T>) -> Value {
    let to_map = |v: Option<&T>| match v.map(serde_json::to_value) {
        Some(Ok(Value::Object(m))) => m,
        _ => Map::new(),
    };
    let (b, a) = (to_map(before), to_map(after));
    let mut out = Map::new();
    let keys: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    for k in keys {
        if k.contains("password") || k.contains("hash") || k.contains("secret") || k == "updated_at"
        {
            continue;
        }
        let (old, new) = (
            b.get(k).cloned().unwrap_or(Value::Null),
            a.get(k).cloned().unwrap_or(Value::Null),
        );
        if old != new {
            out.insert(k.clone(), json!({"old": old, "new": new}));
        }
    }
    Value::Object(out)
}

pub async fn record(
    tx: &mut TenantTx,
    actor: &Actor,
    action: &str,
    entity_type: &str,
    entity_id: Uuid,
    changes: Value,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO audit_logs (user_id, actor_name, action, entity_type, entity_id, changes, ip_address, user_agent)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(actor.user_id)
    .bind(&actor.name)
    .bind(action)
    .bind(entity_type)
    .bind(entity_id)
    .bind(changes)
    .bind(actor.ip.map(ipnetwork::IpNetwork::from))
    .bind(&actor.user_agent)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct S {
        name: &'static str,
        n: i32,
        password_hash: &'static str,
    }

    #[test]
    fn diff_lists_changed_fields_only_and_hides_secrets() {
        let a = S {
            name: "a",
            n: 1,
            password_hash: "x",
        };
        let b = S {
            name: "b",
            n: 1,
            password_hash: "y",
        };
        assert_eq!(
            diff(Some(&a), Some(&b)),
            json!({"name": {"old": "a", "new": "b"}})
        );
        assert_eq!(diff(None, Some(&a))["n"], json!({"old": null, "new": 1}));
    }
}
