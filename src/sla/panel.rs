//! The SLA panel of an issue or a request: both clocks now, and the timeline that explains each due time.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::engine::{self, ClockState, ExplainStep};
use super::timers::{self, Clocked};
use crate::platform::error::AppError;
use crate::platform::tenancy::TenantTx;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClockView {
    #[serde(flatten)]
    pub clock: ClockState,
    /// Started / paused / resumed / outside business hours / holidays / due, in order.
    pub explain: Vec<ExplainStep>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SlaPanel {
    pub policy_id: Option<Uuid>,
    pub policy_name: Option<String>,
    pub response: Option<ClockView>,
    pub resolution: Option<ClockView>,
}

/// The panel for an issue or request the caller may already see; times in the text are in `tz`.
pub async fn panel(
    tx: &mut TenantTx,
    record: Clocked,
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> Result<SlaPanel, AppError> {
    let loaded = timers::load(tx, record, now, false).await?;
    let view = |c: Option<&ClockState>, schedule| {
        c.map(|c| ClockView {
            explain: engine::explain(c, schedule, loaded.created_at, tz),
            clock: c.clone(),
        })
    };
    let (response, resolution) = match &loaded.clocks {
        Some(clocks) => (
            view(clocks.response.as_ref(), &clocks.response_schedule),
            view(clocks.resolution.as_ref(), &clocks.resolution_schedule),
        ),
        None => (None, None),
    };
    Ok(SlaPanel {
        policy_id: loaded.policy.as_ref().map(|p| p.id),
        policy_name: loaded.policy.as_ref().map(|p| p.name.clone()),
        response,
        resolution,
    })
}

impl SlaPanel {
    /// The clocks that have a target, with their names for people.
    pub fn clocks(&self) -> Vec<(&'static str, &ClockView)> {
        [
            ("Response", &self.response),
            ("Resolution", &self.resolution),
        ]
        .into_iter()
        .filter_map(|(label, c)| c.as_ref().map(|c| (label, c)))
        .collect()
    }
}
