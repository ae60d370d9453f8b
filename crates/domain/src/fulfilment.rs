//! Fulfilment tasks: the templates a catalog item carries and the rules of the tasks a request
//! gets from them.
//!
//! A template names the tasks it waits for (`depends_on`, by key). Tasks without unfinished
//! dependencies are `ready` at once, so independent tasks run in parallel; the others wait
//! and become ready when everything they wait for is completed or skipped. The request is done
//! when every task is.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskTemplate {
    /// Names the task for `depends_on`; unique within the item.
    pub key: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The group that does it; left out: the request's fulfilment group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_group_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

pub const MAX_TASKS: usize = 30;

/// Save-time problems, keyed by path (`[2].depends_on`).
pub fn check(templates: &[TaskTemplate]) -> BTreeMap<String, String> {
    let mut errs = BTreeMap::new();
    if templates.len() > MAX_TASKS {
        errs.insert(
            String::new(),
            format!("An item has at most {MAX_TASKS} tasks."),
        );
    }
    let mut keys = BTreeSet::new();
    for (i, t) in templates.iter().enumerate() {
        let key = t.key.trim();
        let ok_key = !key.is_empty()
            && key.len() <= 50
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok_key {
            errs.insert(
                format!("[{i}].key"),
                "Use 1–50 letters, digits, '-' or '_'.".into(),
            );
        } else if !keys.insert(key) {
            errs.insert(format!("[{i}].key"), format!("'{key}' is used twice."));
        }
        let title = t.title.trim().chars().count();
        if title == 0 {
            errs.insert(format!("[{i}].title"), "is required".into());
        } else if title > 500 {
            errs.insert(
                format!("[{i}].title"),
                "must be at most 500 characters".into(),
            );
        }
        if t.description
            .as_deref()
            .is_some_and(|d| d.chars().count() > 5000)
        {
            errs.insert(
                format!("[{i}].description"),
                "must be at most 5000 characters".into(),
            );
        }
    }
    for (i, t) in templates.iter().enumerate() {
        for d in &t.depends_on {
            if d == &t.key {
                errs.insert(
                    format!("[{i}].depends_on"),
                    "A task cannot wait for itself.".into(),
                );
            } else if !keys.contains(d.as_str()) {
                errs.insert(
                    format!("[{i}].depends_on"),
                    format!("No task has key '{d}'."),
                );
            }
        }
    }
    if errs.is_empty()
        && let Some(i) = cycle(templates)
    {
        errs.insert(
            format!("[{i}].depends_on"),
            "These tasks wait for each other in a circle, so none could start.".into(),
        );
    }
    errs
}

/// The index of a task on a dependency cycle, if there is one (Kahn's algorithm).
fn cycle(templates: &[TaskTemplate]) -> Option<usize> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    loop {
        let before = done.len();
        for t in templates {
            if !done.contains(t.key.as_str())
                && t.depends_on.iter().all(|d| done.contains(d.as_str()))
            {
                done.insert(&t.key);
            }
        }
        if done.len() == templates.len() {
            return None;
        }
        if done.len() == before {
            return templates
                .iter()
                .position(|t| !done.contains(t.key.as_str()));
        }
    }
}

pub const STATUSES: &[&str] = &["waiting", "ready", "in_progress", "completed", "skipped"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskAction {
    Start,
    Complete,
    Skip,
}

impl TaskAction {
    pub fn key(self) -> &'static str {
        match self {
            TaskAction::Start => "start",
            TaskAction::Complete => "complete",
            TaskAction::Skip => "skip",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "start" => Some(TaskAction::Start),
            "complete" => Some(TaskAction::Complete),
            "skip" => Some(TaskAction::Skip),
            _ => None,
        }
    }

    pub fn target(self) -> &'static str {
        match self {
            TaskAction::Start => "in_progress",
            TaskAction::Complete => "completed",
            TaskAction::Skip => "skipped",
        }
    }
}

/// A waiting task can only be skipped (which releases what waits for it); a ready one can be
/// started or done straight away.
pub fn allowed(status: &str) -> &'static [TaskAction] {
    use TaskAction::*;
    match status {
        "waiting" => &[Skip],
        "ready" => &[Start, Complete, Skip],
        "in_progress" => &[Complete, Skip],
        _ => &[],
    }
}

pub fn is_done(status: &str) -> bool {
    matches!(status, "completed" | "skipped")
}

/// The status a task starts in, given which tasks it waits for.
pub fn initial(depends_on: &[String]) -> &'static str {
    if depends_on.is_empty() {
        "ready"
    } else {
        "waiting"
    }
}

/// A task as far as release is concerned.
pub struct Node<'a> {
    pub key: &'a str,
    pub status: &'a str,
    pub depends_on: &'a [String],
}

/// Keys of waiting tasks whose dependencies are all done now.
pub fn released<'a>(tasks: &[Node<'a>]) -> Vec<&'a str> {
    let done: BTreeSet<&str> = tasks
        .iter()
        .filter(|t| is_done(t.status))
        .map(|t| t.key)
        .collect();
    tasks
        .iter()
        .filter(|t| t.status == "waiting")
        .filter(|t| t.depends_on.iter().all(|d| done.contains(d.as_str())))
        .map(|t| t.key)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(key: &str, deps: &[&str]) -> TaskTemplate {
        TaskTemplate {
            key: key.into(),
            title: format!("Do {key}"),
            description: None,
            assigned_group_id: None,
            assigned_to: None,
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn templates_are_checked() {
        assert!(
            check(&[
                t("order", &[]),
                t("image", &["order"]),
                t("ship", &["image"])
            ])
            .is_empty()
        );
        let e = check(&[t("a", &[]), t("a", &[])]);
        assert_eq!(e["[1].key"], "'a' is used twice.");
        let e = check(&[t("a", &["b"])]);
        assert_eq!(e["[0].depends_on"], "No task has key 'b'.");
        let e = check(&[t("a", &["a"])]);
        assert_eq!(e["[0].depends_on"], "A task cannot wait for itself.");
        let e = check(&[t("a", &["c"]), t("b", &["a"]), t("c", &["b"]), t("d", &[])]);
        assert!(e["[0].depends_on"].contains("circle"), "{e:?}");
        let e = check(&[t("has space", &[])]);
        assert!(e.contains_key("[0].key"));
        let mut blank = t("a", &[]);
        blank.title = "  ".into();
        assert_eq!(check(&[blank])["[0].title"], "is required");
    }

    #[test]
    fn machine_and_release() {
        assert_eq!(initial(&[]), "ready");
        assert_eq!(initial(&["a".into()]), "waiting");
        assert!(allowed("waiting").contains(&TaskAction::Skip));
        assert!(!allowed("waiting").contains(&TaskAction::Start));
        assert!(allowed("completed").is_empty());
        let a = vec![];
        let on_a = vec!["a".to_string()];
        let on_ab = vec!["a".to_string(), "b".to_string()];
        let nodes = [
            Node {
                key: "a",
                status: "completed",
                depends_on: &a,
            },
            Node {
                key: "b",
                status: "in_progress",
                depends_on: &a,
            },
            Node {
                key: "c",
                status: "waiting",
                depends_on: &on_a,
            },
            Node {
                key: "d",
                status: "waiting",
                depends_on: &on_ab,
            },
        ];
        assert_eq!(released(&nodes), vec!["c"]);
    }
}
