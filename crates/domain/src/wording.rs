//! How times read to people: "5 min ago", "in 2 h 14 min", and the exact instant in the
//! viewer's zone ("Wed 2 Dec 2026, 14:05 CET") for a title or a tooltip. `static/js/app.js`
//! refreshes the relative words in an open page with the same rules (`relativeWords`).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// "just now", "12 min ago", "in 2 h 14 min", "3 days ago"; past a week, the date in `zone`
/// ("2 Dec", with the year when it is not `now`'s).
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>, zone: Tz) -> String {
    let secs = (at - now).num_seconds();
    match span(secs) {
        None if secs.unsigned_abs() < 45 => "just now".into(),
        None => date(at, now, zone),
        Some(span) if secs > 0 => format!("in {span}"),
        Some(span) => format!("{span} ago"),
    }
}

/// An open issue's resolution deadline as a queue shows it: "breaches in 12 min", "breached
/// 3 h ago", "breaches now"; past a week either way, "due 9 Dec".
pub fn countdown(due: DateTime<Utc>, now: DateTime<Utc>, zone: Tz) -> String {
    let secs = (due - now).num_seconds();
    match span(secs) {
        None if secs.unsigned_abs() < 45 => "breaches now".into(),
        None => format!("due {}", date(due, now, zone)),
        Some(span) if secs > 0 => format!("breaches in {span}"),
        Some(span) => format!("breached {span} ago"),
    }
}

/// "12 min", "2 h 14 min", "3 days" for a distance under a week (and over 45 s).
fn span(secs: i64) -> Option<String> {
    let s = secs.unsigned_abs();
    Some(if s < 45 {
        return None;
    } else if s < 3600 {
        format!("{} min", (s + 30) / 60)
    } else if s < 86_400 {
        let (h, m) = (s / 3600, (s % 3600) / 60);
        if m == 0 {
            format!("{h} h")
        } else {
            format!("{h} h {m} min")
        }
    } else if s < 7 * 86_400 {
        match s / 86_400 {
            1 => "1 day".into(),
            d => format!("{d} days"),
        }
    } else {
        return None;
    })
}

fn date(at: DateTime<Utc>, now: DateTime<Utc>, zone: Tz) -> String {
    let local = at.with_timezone(&zone);
    let same_year =
        local.format("%Y").to_string() == now.with_timezone(&zone).format("%Y").to_string();
    local
        .format(if same_year { "%-d %b" } else { "%-d %b %Y" })
        .to_string()
}

/// "Wed 2 Dec 2026, 14:05 CET": the instant in the viewer's zone, with the zone named.
pub fn exact(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .format("%a %-d %b %Y, %H:%M %Z")
        .to_string()
}

/// A stored code as a person reads it: `in_progress` → "In progress", `cannot_reproduce` →
/// "Cannot reproduce", `S1` stays "S1".
pub fn label(code: &str) -> String {
    if let Some((_, l)) = crate::issues::RESOLUTIONS.iter().find(|(c, _)| *c == code) {
        return (*l).to_string();
    }
    label_first(&code.replace('_', " "))
}

/// A field's error as a sentence under the field: "is required" on `title` reads
/// "Title is required."; other messages stay as written.
pub fn field_sentence(field: &str, message: &str) -> String {
    const VERB_FIRST: &[&str] = &[
        "is ", "are ", "must ", "has ", "have ", "was ", "cannot ", "can ", "does ", "needs ",
        "should ", "already ", "may ",
    ];
    let m = message.trim();
    if !VERB_FIRST.iter().any(|v| m.starts_with(v)) {
        // Already a sentence or a located message ("line 2: …"): as written.
        return m.to_string();
    }
    let name = field.strip_suffix("_id").unwrap_or(field);
    let body = format!("{} {}", label(name), m.trim_end_matches('.'));
    if body.ends_with(['.', '?', '!', ')']) {
        body
    } else {
        format!("{body}.")
    }
}

/// The first letter upper-cased, the rest untouched.
fn label_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 13, 5, 0).unwrap()
    }

    #[test]
    fn near_times_read_as_spans() {
        let z = chrono_tz::Europe::Berlin;
        let at = |d: Duration| relative(now() + d, now(), z);
        assert_eq!(at(Duration::seconds(-20)), "just now");
        assert_eq!(at(Duration::minutes(-5)), "5 min ago");
        assert_eq!(at(Duration::minutes(12)), "in 12 min");
        assert_eq!(at(Duration::minutes(134)), "in 2 h 14 min");
        assert_eq!(at(Duration::hours(-3)), "3 h ago");
        assert_eq!(at(Duration::hours(-30)), "1 day ago");
        assert_eq!(at(Duration::days(3)), "in 3 days");
    }

    #[test]
    fn deadlines_count_down_and_then_say_since_when() {
        let z = chrono_tz::UTC;
        let due = |d: Duration| countdown(now() + d, now(), z);
        assert_eq!(due(Duration::minutes(12)), "breaches in 12 min");
        assert_eq!(due(Duration::minutes(-190)), "breached 3 h 10 min ago");
        assert_eq!(due(Duration::seconds(10)), "breaches now");
        assert_eq!(due(Duration::days(10)), "due 12 Dec");
        assert_eq!(due(Duration::days(-8)), "due 24 Nov");
    }

    #[test]
    fn far_times_read_as_dates_in_the_viewers_zone() {
        // 23:30 UTC on 20 Nov is already 21 Nov in Tokyo.
        let at = Utc.with_ymd_and_hms(2026, 11, 20, 23, 30, 0).unwrap();
        assert_eq!(relative(at, now(), chrono_tz::Asia::Tokyo), "21 Nov");
        assert_eq!(relative(at, now(), chrono_tz::UTC), "20 Nov");
        let last_year = Utc.with_ymd_and_hms(2025, 6, 1, 8, 0, 0).unwrap();
        assert_eq!(relative(last_year, now(), chrono_tz::UTC), "1 Jun 2025");
    }

    #[test]
    fn codes_read_as_words() {
        assert_eq!(label("in_progress"), "In progress");
        assert_eq!(label("workaround"), "Worked around");
        assert_eq!(label("new"), "New");
        assert_eq!(label("S1"), "S1");
        assert_eq!(label(""), "");
    }

    #[test]
    fn field_errors_read_as_sentences() {
        assert_eq!(field_sentence("title", "is required"), "Title is required.");
        assert_eq!(
            field_sentence("holidays", "line 2: '2026-13-01' is not a date"),
            "line 2: '2026-13-01' is not a date"
        );
        assert_eq!(
            field_sentence("email", "Someone already uses this address."),
            "Someone already uses this address."
        );
        assert_eq!(
            field_sentence("display_name", "must be at most 100 characters"),
            "Display name must be at most 100 characters."
        );
    }

    #[test]
    fn exact_names_the_zone() {
        assert_eq!(
            exact(now(), chrono_tz::Europe::Berlin),
            "Wed 2 Dec 2026, 14:05 CET"
        );
        assert_eq!(
            exact(now(), chrono_tz::America::New_York),
            "Wed 2 Dec 2026, 08:05 EST"
        );
    }
}
