//! SLA configuration pages: the overview, and the helpers the policy and business-hours forms
//! share (`web_policies`, `web_hours`).

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::hours::{self, BusinessHours};
use super::policies::{self, Policy};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::WebError;
use crate::platform::web::{Chrome, Hx};
use crate::render_page;

pub(super) const PRIORITIES: &[&str] = domain::issues::PRIORITIES;

#[derive(Template)]
#[template(path = "sla/overview.html", blocks = ["content"])]
struct Overview {
    chrome: Chrome,
    policies: Vec<Policy>,
    hours: Vec<BusinessHours>,
    can_create: bool,
}

impl Overview {
    fn conditions(&self, p: &Policy) -> String {
        match p.conditions.as_object() {
            _ if p.is_default => "when no other policy matches".into(),
            Some(m) if !m.is_empty() => m
                .iter()
                .map(|(k, v)| {
                    let vals = match v {
                        Value::Array(l) => l
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(" or "),
                        v => v.as_str().unwrap_or("").to_string(),
                    };
                    format!("{} is {vals}", k.replace('_', " "))
                })
                .collect::<Vec<_>>()
                .join("; "),
            _ => "every issue".into(),
        }
    }

    fn targets(&self, p: &Policy) -> String {
        let short = |m: i32| match m {
            m if m % 1440 == 0 => format!("{}d", m / 1440),
            m if m % 60 == 0 => format!("{}h", m / 60),
            m => format!("{m}m"),
        };
        PRIORITIES
            .iter()
            .filter_map(|pr| {
                let find = |metric: &str| {
                    p.targets
                        .iter()
                        .find(|t| t.priority == *pr && t.metric_type == metric)
                        .map(|t| short(t.target_minutes))
                };
                match (find("response_time"), find("resolution_time")) {
                    (None, None) => None,
                    (r, s) => Some(format!(
                        "{pr} {} / {}",
                        r.unwrap_or_else(|| "–".into()),
                        s.unwrap_or_else(|| "–".into())
                    )),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub async fn overview(mut ctx: WebCtx, Hx(hx): Hx) -> Result<Response, WebError> {
    ctx.require(crate::sla::perm::SLA_READ)?;
    let policies = policies::list(&mut ctx.tx).await?;
    let hours = hours::list(&mut ctx.tx).await?;
    ctx.tx.commit().await?;
    let page = Overview {
        chrome: Chrome::new(&ctx.principal, &ctx.csrf, "sla", &ctx.manifest, ctx.now),
        policies,
        hours,
        can_create: ctx.principal.can(crate::sla::perm::SLA_CREATE),
    };
    Ok(render_page!(hx, page, StatusCode::OK))
}

/// Readers (agents) see the configuration; only editors get the buttons.
pub(super) fn can_save(p: &crate::platform::auth::Principal, existing: bool) -> bool {
    p.can(if existing {
        crate::sla::perm::SLA_UPDATE
    } else {
        crate::sla::perm::SLA_CREATE
    })
}

/// `targets[3].warning_percent` → (3, "warning_percent").
pub(super) fn indexed(key: &str, list: &str) -> Option<(usize, String)> {
    let rest = key.strip_prefix(list)?.strip_prefix('[')?;
    let (i, field) = rest.split_once("].")?;
    Some((i.parse().ok()?, field.to_string()))
}
