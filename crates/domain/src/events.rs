//! Event names and the patterns that subscribe to them (webhooks, notification channels).

/// Whether `event` is covered by `pattern` (`issue.created`, `issue.*` or `*`).
pub fn covers(pattern: &str, event: &str) -> bool {
    pattern == "*"
        || pattern == event
        || pattern
            .strip_suffix(".*")
            .is_some_and(|prefix| event.split_once('.').is_some_and(|(p, _)| p == prefix))
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn patterns_cover_events() {
        assert!(covers("*", "issue.created"));
        assert!(covers("issue.*", "issue.sla_breached"));
        assert!(covers("issue.created", "issue.created"));
        assert!(!covers("issue.*", "change.created"));
        assert!(!covers("iss.*", "issue.created"));
        assert!(!covers("issue.created", "issue.closed"));
        assert!(!covers("issue.*", "issue"));
    }
}
