//! Holiday dates from an iCalendar (RFC 5545) file: the subset holiday calendars use — one
//! VEVENT per holiday with an all-day (or dated) DTSTART, an optional exclusive DTEND for
//! multi-day holidays, and a SUMMARY. Recurring events (RRULE) are reported, not guessed at.

use chrono::NaiveDate;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub date: NaiveDate,
    pub name: String,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub holidays: Vec<Holiday>,
    /// Events that could not be read, with the reason (`"Easter: recurring (RRULE)"`).
    pub skipped: Vec<String>,
}

/// The longest holiday an event may span; beyond this it is more likely a mistake.
const MAX_DAYS: i64 = 31;

/// Lines with RFC 5545 folding undone (a line starting with a space or tab continues the last).
fn unfold(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        match (line.strip_prefix([' ', '\t']), out.last_mut()) {
            (Some(rest), Some(last)) => last.push_str(rest),
            _ => out.push(line.to_string()),
        }
    }
    out
}

fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push(' '),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out.trim().to_string()
}

/// `YYYYMMDD` at the start of a DATE or DATE-TIME value.
fn date_of(value: &str) -> Option<NaiveDate> {
    let digits = value.get(..8)?;
    NaiveDate::parse_from_str(digits, "%Y%m%d").ok()
}

#[derive(Default)]
struct Event {
    start: Option<String>,
    end: Option<String>,
    summary: Option<String>,
    recurring: bool,
}

pub fn parse(text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let mut event: Option<Event> = None;
    for line in unfold(text) {
        let Some((name_params, value)) = line.split_once(':') else {
            continue;
        };
        let name = name_params
            .split(';')
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match (name.as_str(), event.as_mut()) {
            ("BEGIN", _) if value.eq_ignore_ascii_case("VEVENT") => event = Some(Event::default()),
            ("END", Some(_)) if value.eq_ignore_ascii_case("VEVENT") => {
                if let Some(e) = event.take() {
                    finish(e, &mut parsed);
                }
            }
            ("DTSTART", Some(e)) => e.start = Some(value.trim().to_string()),
            ("DTEND", Some(e)) => e.end = Some(value.trim().to_string()),
            ("SUMMARY", Some(e)) => e.summary = Some(unescape(value)),
            ("RRULE", Some(e)) => e.recurring = true,
            _ => {}
        }
    }
    parsed
}

fn finish(e: Event, parsed: &mut Parsed) {
    let name = e.summary.unwrap_or_default();
    let label = if name.is_empty() { "(no name)" } else { &name };
    if e.recurring {
        parsed.skipped.push(format!("{label}: recurring (RRULE)"));
        return;
    }
    let Some(start) = e.start.as_deref().and_then(date_of) else {
        parsed.skipped.push(format!("{label}: no readable DTSTART"));
        return;
    };
    // DTEND of an all-day event is exclusive; a timed or missing end means one day.
    let days = match e.end.as_deref().filter(|v| v.len() == 8).and_then(date_of) {
        Some(end) if end > start => (end - start).num_days(),
        _ => 1,
    };
    if days > MAX_DAYS {
        parsed
            .skipped
            .push(format!("{label}: spans {days} days (at most {MAX_DAYS})"));
        return;
    }
    for d in start.iter_days().take(days as usize) {
        parsed.holidays.push(Holiday {
            date: d,
            name: name.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn reads_all_day_timed_folded_multi_day_and_reports_recurring() {
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n\
            BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\nDTEND;VALUE=DATE:20261226\r\nSUMMARY:Christmas Day\r\nEND:VEVENT\r\n\
            BEGIN:VEVENT\r\nDTSTART:20260101T000000Z\r\nSUMMARY:New Year\\, again\r\nEND:VEVENT\r\n\
            BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260406\r\nDTEND;VALUE=DATE:20260408\r\nSUMMARY:Long\r\n  weekend\r\nEND:VEVENT\r\n\
            BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260501\r\nRRULE:FREQ=YEARLY\r\nSUMMARY:May Day\r\nEND:VEVENT\r\n\
            BEGIN:VEVENT\r\nSUMMARY:Broken\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let p = parse(ics);
        let got: Vec<(NaiveDate, &str)> = p
            .holidays
            .iter()
            .map(|h| (h.date, h.name.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (d("2026-12-25"), "Christmas Day"),
                (d("2026-01-01"), "New Year, again"),
                (d("2026-04-06"), "Long weekend"),
                (d("2026-04-07"), "Long weekend"),
            ]
        );
        assert_eq!(
            p.skipped,
            vec!["May Day: recurring (RRULE)", "Broken: no readable DTSTART"]
        );
    }

    #[test]
    fn ignores_text_that_is_not_a_calendar() {
        assert_eq!(parse("hello\nworld"), Parsed::default());
    }
}
