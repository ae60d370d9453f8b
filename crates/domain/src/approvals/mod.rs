//! Approval chains, shared by service requests and changes. A chain is a list of stages run in
//! order; a stage has approvers and a rule (all, any, a quorum, a percentage). This module
//! decides who may decide at a stage and what the decisions so far add up to; the server only
//! loads and saves.
//!
//! Edge rules:
//! - The requester never approves their own request: they are removed from every stage.
//! - A stage whose approvers resolve to nobody goes to the fallback set (the fulfilment group's
//!   manager, else the tenant admins), again without the requester; if that is empty too the
//!   stage waits, it never approves by itself.
//! - Any rejection rejects the stage (and so the chain), unless the stage says
//!   `"reject_when": "impossible"`: then it is rejected only once its rule can no longer be met.
//! - A delegate decides "on behalf of" the approver; the decision counts as the approver's.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chain {
    #[serde(default)]
    pub stages: Vec<Stage>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub approvers: Vec<Approver>,
    #[serde(default)]
    pub rule: Rule,
    #[serde(default, skip_serializing_if = "RejectWhen::is_default")]
    pub reject_when: RejectWhen,
    /// Business hours after which the approvers who have not decided are reminded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind_after_hours: Option<u32>,
    /// Business hours after which the step times out, doing `on_timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_after_hours: Option<u32>,
    #[serde(default, skip_serializing_if = "OnTimeout::is_default")]
    pub on_timeout: OnTimeout,
}

/// What a step that nobody decided in time does: reject the record, or go to the fallback
/// approvers (the fulfilment group's manager, else the tenant admins).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnTimeout {
    #[default]
    Reject,
    Escalate,
}

impl OnTimeout {
    fn is_default(&self) -> bool {
        *self == OnTimeout::Reject
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Approver {
    User {
        id: Uuid,
    },
    Group {
        id: Uuid,
    },
    /// The manager of the person the request is for (or of the requester's primary group).
    Manager,
    Role {
        name: String,
    },
    /// The owner of the application a form field names.
    ApplicationOwner {
        field: String,
    },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    #[default]
    All,
    Any,
    Quorum(u32),
    Percent(u32),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectWhen {
    #[default]
    Any,
    Impossible,
}

impl RejectWhen {
    fn is_default(&self) -> bool {
        *self == RejectWhen::Any
    }
}

impl Rule {
    /// Approvals needed out of `n` people who may decide (at least one: nobody never approves).
    pub fn needed(self, n: usize) -> usize {
        let n = n.max(1);
        match self {
            Rule::All => n,
            Rule::Any => 1,
            Rule::Quorum(q) => (q as usize).clamp(1, n),
            Rule::Percent(p) => (n * p as usize).div_ceil(100).clamp(1, n),
        }
    }

    pub fn describe(self, n: usize) -> String {
        match self {
            Rule::All if n == 1 => "The approver decides".into(),
            Rule::All => format!("All {n} approvers must approve"),
            Rule::Any => "Any one approver decides".into(),
            _ => format!("{} of {n} approvers must approve", self.needed(n)),
        }
    }
}

/// Problems with a chain as saved, keyed by path.
pub fn check(chain: &Chain) -> std::collections::BTreeMap<String, String> {
    let mut errs = std::collections::BTreeMap::new();
    if chain.stages.len() > 10 {
        errs.insert("stages".into(), "A chain has at most 10 stages.".into());
    }
    for (i, s) in chain.stages.iter().enumerate() {
        if s.approvers.is_empty() {
            errs.insert(
                format!("stages[{i}].approvers"),
                "Add at least one approver.".into(),
            );
        }
        for (key, hours) in [
            ("remind_after_hours", s.remind_after_hours),
            ("timeout_after_hours", s.timeout_after_hours),
        ] {
            if hours.is_some_and(|h| !(1..=720).contains(&h)) {
                errs.insert(
                    format!("stages[{i}].{key}"),
                    "Use 1 to 720 business hours.".into(),
                );
            }
        }
        if let (Some(r), Some(t)) = (s.remind_after_hours, s.timeout_after_hours)
            && r >= t
        {
            errs.insert(
                format!("stages[{i}].remind_after_hours"),
                "Remind before the step times out.".into(),
            );
        }
        match s.rule {
            Rule::Quorum(0) => {
                errs.insert(
                    format!("stages[{i}].rule"),
                    "A quorum needs at least one approval.".into(),
                );
            }
            Rule::Percent(p) if p == 0 || p > 100 => {
                errs.insert(
                    format!("stages[{i}].rule"),
                    "Use a percentage from 1 to 100.".into(),
                );
            }
            _ => {}
        }
    }
    errs
}

/// Who may decide at a stage: its resolved approvers without the requester, else the fallback
/// without the requester. Sorted, without duplicates.
pub fn deciders(resolved: &[Uuid], fallback: &[Uuid], requester: Uuid) -> Vec<Uuid> {
    let pick = |ids: &[Uuid]| -> Vec<Uuid> {
        ids.iter()
            .copied()
            .filter(|u| *u != requester)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let own = pick(resolved);
    if own.is_empty() { pick(fallback) } else { own }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approved,
    Rejected,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pending,
    Approved,
    Rejected,
}

/// A stage's tally: `deciders` may decide; `decisions` are (approver, decision), one per approver
/// (later ones replace earlier ones — the store keeps one row per approver).
pub fn stage_outcome(stage: &Stage, deciders: &[Uuid], decisions: &[(Uuid, Decision)]) -> Outcome {
    let n = deciders.len();
    let counted = |d: Decision| {
        decisions
            .iter()
            .filter(|(u, x)| *x == d && deciders.contains(u))
            .map(|(u, _)| *u)
            .collect::<BTreeSet<_>>()
            .len()
    };
    let (yes, no) = (counted(Decision::Approved), counted(Decision::Rejected));
    let needed = stage.rule.needed(n);
    if n > 0 && yes >= needed {
        return Outcome::Approved;
    }
    let undecided = n.saturating_sub(yes + no);
    let rejected = match stage.reject_when {
        RejectWhen::Any => no > 0,
        RejectWhen::Impossible => n > 0 && yes + undecided < needed,
    };
    if rejected {
        Outcome::Rejected
    } else {
        Outcome::Pending
    }
}

/// The chain's state from its stages' outcomes, in order: the index of the stage now deciding
/// (when pending) and the overall outcome. Stages after a pending one have not started.
pub fn chain_outcome(stages: &[Outcome]) -> (Option<usize>, Outcome) {
    for (i, o) in stages.iter().enumerate() {
        match o {
            Outcome::Approved => continue,
            Outcome::Rejected => return (None, Outcome::Rejected),
            Outcome::Pending => return (Some(i), Outcome::Pending),
        }
    }
    (None, Outcome::Approved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn u(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn stage(rule: Rule, reject_when: RejectWhen) -> Stage {
        Stage {
            name: None,
            approvers: vec![Approver::Manager],
            rule,
            reject_when,
            remind_after_hours: None,
            timeout_after_hours: None,
            on_timeout: OnTimeout::Reject,
        }
    }

    #[test]
    fn reminders_come_before_timeouts() {
        let chain: Chain = serde_json::from_value(json!({"stages": [
            {"approvers": [{"type": "manager"}], "remind_after_hours": 8, "timeout_after_hours": 4},
            {"approvers": [{"type": "manager"}], "timeout_after_hours": 0, "on_timeout": "escalate"}]}))
        .unwrap();
        let e = check(&chain);
        assert_eq!(
            e["stages[0].remind_after_hours"],
            "Remind before the step times out."
        );
        assert!(e.contains_key("stages[1].timeout_after_hours"));
        assert_eq!(chain.stages[1].on_timeout, OnTimeout::Escalate);
    }

    #[test]
    fn the_issue_shape_parses() {
        let c: Chain = serde_json::from_value(json!({"stages": [
            {"approvers": [{"type": "user", "id": u(1)}, {"type": "group", "id": u(2)}, {"type": "manager"}], "rule": "all"},
            {"approvers": [{"type": "role", "name": "manager"}], "rule": {"quorum": 2}},
            {"approvers": [{"type": "application_owner", "field": "app"}], "rule": {"percent": 50}, "reject_when": "impossible"}
        ]}))
        .unwrap();
        assert_eq!(c.stages[1].rule, Rule::Quorum(2));
        assert!(check(&c).is_empty());
        let bad: Chain =
            serde_json::from_value(json!({"stages": [{"approvers": [], "rule": {"quorum": 0}}]}))
                .unwrap();
        let e = check(&bad);
        assert!(e.contains_key("stages[0].approvers") && e.contains_key("stages[0].rule"));
    }

    #[test]
    fn rules_count_what_they_say() {
        for (rule, n, need) in [
            (Rule::All, 3, 3),
            (Rule::Any, 3, 1),
            (Rule::Quorum(2), 3, 2),
            (Rule::Quorum(5), 3, 3),
            (Rule::Percent(50), 3, 2),
            (Rule::Percent(100), 4, 4),
            (Rule::Percent(1), 4, 1),
            (Rule::All, 0, 1),
        ] {
            assert_eq!(rule.needed(n), need, "{rule:?} of {n}");
        }
    }

    #[test]
    fn the_requester_never_decides_and_nobody_never_approves() {
        assert_eq!(deciders(&[u(1), u(2), u(1)], &[u(9)], u(2)), vec![u(1)]);
        // Only the requester resolved: the fallback decides.
        assert_eq!(deciders(&[u(2)], &[u(9), u(2)], u(2)), vec![u(9)]);
        // Nobody at all: the stage waits.
        let none = deciders(&[u(2)], &[u(2)], u(2));
        assert!(none.is_empty());
        let s = stage(Rule::Any, RejectWhen::Any);
        assert_eq!(
            stage_outcome(&s, &none, &[(u(2), Decision::Approved)]),
            Outcome::Pending
        );
    }

    #[test]
    fn tallies() {
        let people = [u(1), u(2), u(3)];
        let a = |n| (u(n), Decision::Approved);
        let r = |n| (u(n), Decision::Rejected);
        let cases = [
            (
                Rule::All,
                RejectWhen::Any,
                vec![a(1), a(2)],
                Outcome::Pending,
            ),
            (
                Rule::All,
                RejectWhen::Any,
                vec![a(1), a(2), a(3)],
                Outcome::Approved,
            ),
            (Rule::Any, RejectWhen::Any, vec![a(3)], Outcome::Approved),
            (
                Rule::Quorum(2),
                RejectWhen::Any,
                vec![a(1), r(2)],
                Outcome::Rejected,
            ),
            (
                Rule::Quorum(2),
                RejectWhen::Impossible,
                vec![a(1), r(2)],
                Outcome::Pending,
            ),
            (
                Rule::Quorum(2),
                RejectWhen::Impossible,
                vec![r(1), r(2)],
                Outcome::Rejected,
            ),
            (
                Rule::Quorum(2),
                RejectWhen::Impossible,
                vec![a(1), r(2), a(3)],
                Outcome::Approved,
            ),
            (
                Rule::Percent(60),
                RejectWhen::Any,
                vec![a(1)],
                Outcome::Pending,
            ),
            // Someone who is not a decider counts for nothing.
            (
                Rule::Any,
                RejectWhen::Any,
                vec![a(7), r(8)],
                Outcome::Pending,
            ),
        ];
        for (rule, rw, decisions, want) in cases {
            assert_eq!(
                stage_outcome(&stage(rule, rw), &people, &decisions),
                want,
                "{rule:?} {rw:?} {decisions:?}"
            );
        }
    }

    #[test]
    fn stages_run_in_order() {
        use Outcome::*;
        assert_eq!(
            chain_outcome(&[Approved, Pending, Pending]),
            (Some(1), Pending)
        );
        assert_eq!(
            chain_outcome(&[Approved, Rejected, Pending]),
            (None, Rejected)
        );
        assert_eq!(chain_outcome(&[Approved, Approved]), (None, Approved));
        assert_eq!(chain_outcome(&[]), (None, Approved));
    }
}
