//! The issue page's one activity stream: comments, status changes and field changes in the
//! order they happened, each with who and when. Field changes come from the issue's audit rows
//! (the same diff the audit log keeps), worded for people; requesters see comments that are
//! not internal and status changes only.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::activity::{Comment, HistoryEntry};
use crate::platform::error::AppError;
use crate::platform::markdown;
use crate::platform::tenancy::TenantTx;
use crate::platform::web::label;

pub enum Kind {
    /// The comment and its rendered Markdown.
    Comment(Comment, String),
    /// From → to, and the reason given.
    Status {
        from: Option<String>,
        to: String,
        reason: Option<String>,
    },
    /// (field label, old, new) — words, not codes.
    Fields(Vec<(&'static str, String, String)>),
}

pub struct Entry {
    pub at: DateTime<Utc>,
    pub who: Option<String>,
    pub kind: Kind,
}

/// The fields a person changes on the issue page, as the diff names them, with their labels.
/// Computed fields (deadlines, metrics, ids behind the names) stay out of the stream.
const SHOWN: &[(&str, &str)] = &[
    ("title", "Title"),
    ("description", "Description"),
    ("priority", "Priority"),
    ("impact", "Impact"),
    ("urgency", "Urgency"),
    ("severity", "Severity"),
    ("issue_type", "Type"),
    ("category_name", "Category"),
    ("application_name", "Application"),
    ("environment_name", "Environment"),
];

fn words(field: &str, v: &Value) -> String {
    match v {
        Value::Null => "none".into(),
        Value::String(s) if field == "description" => {
            let line = s.lines().next().unwrap_or_default();
            let short: String = line.chars().take(80).collect();
            if short.len() < s.len() {
                format!("“{short}…”")
            } else {
                format!("“{short}”")
            }
        }
        Value::String(s)
            if matches!(
                field,
                "title" | "category_name" | "application_name" | "environment_name"
            ) =>
        {
            s.clone()
        }
        Value::String(s) => label(s),
        other => other.to_string(),
    }
}

/// The field changes of one audit diff, in the order of `SHOWN`.
pub fn field_changes(changes: &Value) -> Vec<(&'static str, String, String)> {
    SHOWN
        .iter()
        .filter_map(|(field, name)| {
            let c = changes.get(*field)?;
            Some((
                *name,
                words(field, c.get("old").unwrap_or(&Value::Null)),
                words(field, c.get("new").unwrap_or(&Value::Null)),
            ))
        })
        .collect()
}

/// Everything that happened to the issue, oldest first. `comments` and `history` are what the
/// viewer may see (already filtered); field changes are added for agents.
pub async fn stream(
    tx: &mut TenantTx,
    issue: Uuid,
    comments: Vec<Comment>,
    history: Vec<HistoryEntry>,
    agent: bool,
) -> Result<Vec<Entry>, AppError> {
    let mut out: Vec<Entry> = Vec::new();
    for c in comments {
        let html = markdown::render(&c.content);
        out.push(Entry {
            at: c.created_at,
            who: c.user_name.clone(),
            kind: Kind::Comment(c, html),
        });
    }
    for h in history {
        out.push(Entry {
            at: h.created_at,
            who: h.changed_by_name,
            kind: Kind::Status {
                from: h.from_status,
                to: h.to_status,
                reason: h.reason,
            },
        });
    }
    if agent {
        let rows: Vec<(DateTime<Utc>, Option<String>, Value)> = sqlx::query_as(
            "SELECT created_at, actor_name, changes FROM audit_logs
             WHERE entity_type = 'issue' AND entity_id = $1 AND action = 'update'
             ORDER BY created_at, id",
        )
        .bind(issue)
        .fetch_all(&mut **tx)
        .await?;
        for (at, who, changes) in rows {
            let fields = field_changes(&changes);
            if !fields.is_empty() {
                out.push(Entry {
                    at,
                    who,
                    kind: Kind::Fields(fields),
                });
            }
        }
    }
    // Stable: what happened in one request keeps the order above (comment, status, fields).
    out.sort_by_key(|e| e.at);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diffs_read_as_labelled_words_and_computed_fields_stay_out() {
        let changes = json!({
            "priority": {"old": "low", "new": "high"},
            "category_name": {"old": null, "new": "Hardware"},
            "resolution_due_at": {"old": "2026-12-02T10:00:00Z", "new": "2026-12-02T12:00:00Z"},
            "impact": {"old": "minor", "new": "widespread"},
            "description": {"old": "x", "new": "The screen flickers when docked\nand more"}
        });
        assert_eq!(
            field_changes(&changes),
            vec![
                (
                    "Description",
                    "“x”".to_string(),
                    "“The screen flickers when docked…”".to_string()
                ),
                ("Priority", "Low".into(), "High".into()),
                ("Impact", "Minor".into(), "Widespread".into()),
                ("Category", "none".into(), "Hardware".into()),
            ]
        );
    }
}
