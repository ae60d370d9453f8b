//! Issue rules: the status machine and the impact × urgency priority matrix.

/// Issue statuses in lifecycle order.
pub const STATUSES: &[&str] = &[
    "new",
    "assigned",
    "in_progress",
    "pending",
    "resolved",
    "closed",
];
pub const PRIORITIES: &[&str] = &["critical", "high", "medium", "low"];
pub const IMPACTS: &[&str] = &["widespread", "significant", "moderate", "minor"];
pub const URGENCIES: &[&str] = &["immediate", "high", "medium", "low"];
pub const SEVERITIES: &[&str] = &["S1", "S2", "S3", "S4"];
pub const TYPES: &[&str] = &["issue", "problem", "question"];
pub const SOURCES: &[&str] = &["portal", "email", "phone", "monitoring", "api"];

/// How an issue was resolved: (code, label).
pub const RESOLUTIONS: &[(&str, &str)] = &[
    ("fixed", "Fixed"),
    ("workaround", "Worked around"),
    ("duplicate", "Duplicate"),
    ("cannot_reproduce", "Cannot reproduce"),
    ("no_fault_found", "No fault found"),
    ("user_error", "User error"),
];

pub fn is_resolution(code: &str) -> bool {
    RESOLUTIONS.iter().any(|(c, _)| *c == code)
}

/// Statuses in which an issue still needs work.
pub fn is_open(status: &str) -> bool {
    !matches!(status, "resolved" | "closed")
}

/// What someone can do to an issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Give it an assignee user and/or group (also "reassign").
    Assign,
    /// Work has started.
    Start,
    /// Waiting on someone else (the SLA clocks pause by default).
    Pend,
    /// Raise the escalation level (and maybe move it to another group).
    Escalate,
    Resolve,
    Close,
    Reopen,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::Assign,
        Action::Start,
        Action::Pend,
        Action::Escalate,
        Action::Resolve,
        Action::Close,
        Action::Reopen,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::Assign => "assign",
            Action::Start => "start",
            Action::Pend => "pend",
            Action::Escalate => "escalate",
            Action::Resolve => "resolve",
            Action::Close => "close",
            Action::Reopen => "reopen",
        }
    }

    /// The action that moves an issue into `status` (for status pickers).
    pub fn into_status(status: &str) -> Option<Action> {
        Some(match status {
            "assigned" => Action::Assign,
            "in_progress" => Action::Start,
            "pending" => Action::Pend,
            "resolved" => Action::Resolve,
            "closed" => Action::Close,
            _ => return None,
        })
    }
}

/// The status after `action`, or `None` when the action is not allowed from `from`.
/// `assigned_user` says whether the issue (after the action) has an assignee user: reopening
/// goes back to `assigned` with one and to `new` without.
pub fn next(from: &str, action: Action, assigned_user: bool) -> Option<&'static str> {
    use Action::*;
    let open = is_open(from);
    Some(match action {
        Assign if open => match from {
            "new" | "assigned" => "assigned",
            "in_progress" => "in_progress",
            "pending" => "pending",
            _ => return None,
        },
        Start if matches!(from, "new" | "assigned" | "pending") => "in_progress",
        Pend if matches!(from, "new" | "assigned" | "in_progress") => "pending",
        Escalate if open => STATUSES.iter().find(|s| **s == from).copied()?,
        Resolve if open => "resolved",
        Close if from == "resolved" => "closed",
        Reopen if !open => {
            if assigned_user {
                "assigned"
            } else {
                "new"
            }
        }
        _ => return None,
    })
}

/// The actions allowed from `from` (what a 409 lists).
pub fn allowed(from: &str) -> Vec<&'static str> {
    Action::ALL
        .iter()
        .filter(|a| next(from, **a, false).is_some())
        .map(|a| a.name())
        .collect()
}

/// The default matrix (rows: impact widespread → minor; columns: urgency immediate → low).
pub const DEFAULT_MATRIX: [[&str; 4]; 4] = [
    ["critical", "critical", "high", "medium"],
    ["critical", "high", "high", "medium"],
    ["high", "medium", "medium", "low"],
    ["medium", "medium", "low", "low"],
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle() {
        assert_eq!(next("new", Action::Assign, true), Some("assigned"));
        assert_eq!(
            next("in_progress", Action::Assign, true),
            Some("in_progress")
        );
        assert_eq!(next("assigned", Action::Start, true), Some("in_progress"));
        assert_eq!(next("in_progress", Action::Pend, true), Some("pending"));
        assert_eq!(next("pending", Action::Start, true), Some("in_progress"));
        assert_eq!(next("pending", Action::Resolve, true), Some("resolved"));
        assert_eq!(next("resolved", Action::Close, true), Some("closed"));
        assert_eq!(next("closed", Action::Reopen, true), Some("assigned"));
        assert_eq!(next("resolved", Action::Reopen, false), Some("new"));
        assert_eq!(next("pending", Action::Escalate, true), Some("pending"));
    }

    #[test]
    fn illegal_moves_are_refused_and_listed() {
        assert_eq!(next("new", Action::Close, false), None);
        assert_eq!(next("closed", Action::Resolve, false), None);
        assert_eq!(next("in_progress", Action::Reopen, false), None);
        assert_eq!(allowed("closed"), ["reopen"]);
        assert_eq!(allowed("resolved"), ["close", "reopen"]);
        assert_eq!(
            allowed("new"),
            ["assign", "start", "pend", "escalate", "resolve"]
        );
    }
}
