//! Fuzzy matching for the command palette: the query's letters in order inside the candidate
//! ("nch" finds "Notification channels"), scored so that word starts and runs of adjacent
//! letters rank first and a match at the very start beats one further in.

/// `None` when `query`'s characters (ignoring case and spaces) do not all occur in `text` in
/// order; otherwise a score, higher is better. An empty query matches everything with 0.
pub fn score(query: &str, text: &str) -> Option<i32> {
    let q: Vec<char> = query
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    let t: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let mut total = 0;
    let mut at = 0;
    let mut previous: Option<usize> = None;
    for qc in q {
        let found = (at..t.len()).find(|&i| t[i] == qc)?;
        // Prefer a later occurrence that starts a word over an earlier one inside a word
        // ("ch" in "Notification channels" → the "ch" of "channels").
        let word_start = |i: usize| i == 0 || !t[i - 1].is_alphanumeric();
        let pick = if word_start(found) || previous == Some(found.wrapping_sub(1)) {
            found
        } else {
            (found..t.len())
                .find(|&i| t[i] == qc && word_start(i))
                .unwrap_or(found)
        };
        total += 1;
        if word_start(pick) {
            total += 8;
        }
        match previous {
            Some(p) if pick == p + 1 => total += 5,
            Some(p) => total -= ((pick - p - 1) as i32).min(5),
            None => total -= (pick as i32).min(10),
        }
        previous = Some(pick);
        at = pick + 1;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::score;

    #[test]
    fn letters_in_order_match_and_others_do_not() {
        assert!(score("nch", "Notification channels").is_some());
        assert!(score("ISS", "iss-42 printer").is_some());
        assert!(score("xyz", "Notification channels").is_none());
        assert!(
            score("hcn", "Notification channels").is_none(),
            "order matters"
        );
        assert_eq!(score("", "anything"), Some(0));
    }

    #[test]
    fn word_starts_and_runs_rank_first() {
        let s = |q, t| score(q, t).expect("the letters are in order");
        assert!(s("us", "Users") > s("us", "Undelivered messages"));
        assert!(s("nch", "Notification channels") > s("nch", "Inbound email channels"));
        assert!(s("iss", "Issues") > s("iss", "Undelivered messages: missing"));
        assert!(s("api", "API keys") > s("api", "Applications"));
    }
}
