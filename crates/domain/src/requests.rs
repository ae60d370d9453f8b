//! The service request status machine: which actions each status allows.
//!
//! new → pending_approval → approved → in_progress → completed; rejected (by the approval
//! chain); cancelled from any open status. A completed request can be reopened (back to
//! in_progress). Approve and reject belong to the approvals engine: they are allowed while
//! approval is pending and only settle the request when the chain says so.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Approve,
    Reject,
    Assign,
    Reassign,
    Complete,
    Reopen,
    Cancel,
}

impl Action {
    pub fn key(self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Assign => "assign",
            Action::Reassign => "reassign",
            Action::Complete => "complete",
            Action::Reopen => "reopen",
            Action::Cancel => "cancel",
        }
    }
}

pub const STATUSES: &[&str] = &[
    "new",
    "pending_approval",
    "approved",
    "in_progress",
    "completed",
    "rejected",
    "cancelled",
];

pub fn allowed(status: &str) -> &'static [Action] {
    use Action::*;
    match status {
        "new" => &[Assign, Cancel],
        "pending_approval" => &[Approve, Reject, Assign, Reassign, Cancel],
        "approved" => &[Assign, Reassign, Complete, Cancel],
        "in_progress" => &[Reassign, Assign, Complete, Cancel],
        "completed" => &[Reopen],
        _ => &[],
    }
}

/// Where an action takes the request (approve/reject are decided by the chain).
pub fn target(status: &str, action: Action) -> Option<&'static str> {
    if !allowed(status).contains(&action) {
        return None;
    }
    Some(match action {
        Action::Complete => "completed",
        Action::Reopen => "in_progress",
        Action::Cancel => "cancelled",
        // Work starts when someone takes an approved request.
        Action::Assign | Action::Reassign if status == "approved" => "in_progress",
        _ => return Some(static_status(status)),
    })
}

fn static_status(status: &str) -> &'static str {
    STATUSES
        .iter()
        .find(|s| **s == status)
        .copied()
        .unwrap_or("new")
}

pub fn is_open(status: &str) -> bool {
    !matches!(status, "completed" | "rejected" | "cancelled")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine() {
        assert_eq!(target("approved", Action::Assign), Some("in_progress"));
        assert_eq!(
            target("pending_approval", Action::Assign),
            Some("pending_approval")
        );
        assert_eq!(target("in_progress", Action::Complete), Some("completed"));
        assert_eq!(target("completed", Action::Reopen), Some("in_progress"));
        assert_eq!(target("completed", Action::Cancel), None);
        assert_eq!(target("pending_approval", Action::Complete), None);
        assert_eq!(target("cancelled", Action::Reopen), None);
        for s in STATUSES {
            assert_eq!(
                is_open(s),
                !allowed(s).is_empty() && *s != "completed",
                "{s}"
            );
        }
    }
}
