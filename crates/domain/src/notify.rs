//! Notification rules that need no I/O: message templates (`{{variable}}` substitution that
//! refuses unknown names instead of sending a message with a hole in it) and quiet hours (when a
//! person does not want to be disturbed, and when that ends).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Why a template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// `{{` without its `}}`, at this byte offset.
    Unclosed(usize),
    /// A name that is not one of the variables.
    Unknown(String),
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TemplateError::Unclosed(at) => write!(f, "'{{{{' at character {at} is never closed"),
            TemplateError::Unknown(name) => write!(f, "'{{{{{name}}}}}' is not a variable"),
        }
    }
}

impl std::error::Error for TemplateError {}

/// Renders `{{ name }}` placeholders from `vars`. Any unknown name or unclosed placeholder is an
/// error, so a broken template is caught (and reported) rather than half-sent.
pub fn render(template: &str, vars: &BTreeMap<&str, String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    let mut offset = 0;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or(TemplateError::Unclosed(offset + start))?;
        let name = after[..end].trim();
        let value = vars
            .get(name)
            .ok_or_else(|| TemplateError::Unknown(name.to_string()))?;
        out.push_str(value);
        let consumed = start + 2 + end + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

/// One quiet period: on `weekday` (0 = Sunday … 6 = Saturday, `None` = every day) from `start`
/// to `end` local time in `zone`. An end at or before the start runs past midnight into the
/// next day (22:00–07:00).
#[derive(Debug, Clone, PartialEq)]
pub struct QuietWindow {
    pub weekday: Option<u32>,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub zone: Tz,
}

impl QuietWindow {
    /// The instant this window (begun on a local date at or before `at`) ends, if `at` is in it.
    fn ends_after(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&self.zone);
        // A window crossing midnight may have begun yesterday.
        for back in [0, 1] {
            let day = local.date_naive() - Duration::days(back);
            if let Some(w) = self.weekday
                && day.weekday().num_days_from_sunday() != w
            {
                continue;
            }
            let crosses = self.end <= self.start;
            let end_day = if crosses {
                day + Duration::days(1)
            } else {
                day
            };
            let begin = resolve(&self.zone, day.and_time(self.start));
            let end = resolve(&self.zone, end_day.and_time(self.end));
            if begin <= at && at < end {
                return Some(end);
            }
        }
        None
    }
}

/// A local time as an instant: in a DST gap the clock's next valid minute, in an overlap the
/// earlier of the two.
fn resolve(zone: &Tz, local: chrono::NaiveDateTime) -> DateTime<Utc> {
    let mut probe = local;
    for _ in 0..180 {
        if let Some(t) = zone.from_local_datetime(&probe).earliest() {
            return t.with_timezone(&Utc);
        }
        probe += Duration::minutes(1);
    }
    Utc.from_utc_datetime(&local)
}

/// When a message due at `at` may be delivered: `at` itself outside quiet hours, else the end of
/// the quiet period (following back-to-back windows, e.g. Friday night into Saturday).
pub fn deliver_at(windows: &[QuietWindow], at: DateTime<Utc>) -> DateTime<Utc> {
    let mut t = at;
    // Each step moves strictly later; a week of back-to-back windows is the most that can chain.
    for _ in 0..(windows.len() * 8 + 1) {
        match windows.iter().filter_map(|w| w.ends_after(t)).max() {
            Some(end) => t = end,
            None => return t,
        }
    }
    t
}

/// The next instant after `after` when the clock in `zone` shows `at` (a daily digest's send
/// time); on a day when that local time does not exist (DST gap), the first valid minute after.
pub fn next_local(zone: &Tz, at: NaiveTime, after: DateTime<Utc>) -> DateTime<Utc> {
    let today = after.with_timezone(zone).date_naive();
    let candidate = resolve(zone, today.and_time(at));
    if candidate > after {
        candidate
    } else {
        resolve(zone, (today + Duration::days(1)).and_time(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            ("number", "ISS-00042".into()),
            ("title", "Mail down".into()),
        ])
    }

    #[test]
    fn renders_and_refuses_holes() {
        assert_eq!(
            render("[{{number}}] {{ title }}!", &vars()),
            Ok("[ISS-00042] Mail down!".into())
        );
        assert_eq!(render("no vars", &vars()), Ok("no vars".into()));
        assert_eq!(
            render("{{ nope }}", &vars()),
            Err(TemplateError::Unknown("nope".into()))
        );
        assert_eq!(
            render("ok {{title", &vars()),
            Err(TemplateError::Unclosed(3))
        );
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn window(weekday: Option<u32>, start: &str, end: &str, zone: Tz) -> QuietWindow {
        QuietWindow {
            weekday,
            start: NaiveTime::parse_from_str(start, "%H:%M").unwrap_or_default(),
            end: NaiveTime::parse_from_str(end, "%H:%M").unwrap_or_default(),
            zone,
        }
    }

    #[test]
    fn the_next_digest_time_is_local() {
        let eight = NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default();
        let ny = chrono_tz::America::New_York;
        // 07:00 in New York (EST, UTC-5): today at 08:00; 09:00: tomorrow.
        assert_eq!(
            next_local(&ny, eight, at("2026-12-01T12:00:00Z")),
            at("2026-12-01T13:00:00Z")
        );
        assert_eq!(
            next_local(&ny, eight, at("2026-12-01T14:00:00Z")),
            at("2026-12-02T13:00:00Z")
        );
        // 02:30 does not exist on the spring-forward day: 03:00 instead.
        let half_two = NaiveTime::from_hms_opt(2, 30, 0).unwrap_or_default();
        assert_eq!(
            next_local(&ny, half_two, at("2026-03-08T05:00:00Z")),
            at("2026-03-08T07:00:00Z")
        );
    }

    #[test]
    fn quiet_hours_in_the_users_zone_across_midnight_and_days() {
        let nights = [window(None, "22:00", "07:00", chrono_tz::Europe::Berlin)];
        // 23:30 Berlin (CET, UTC+1) on a Tuesday waits for 07:00 Berlin.
        assert_eq!(
            deliver_at(&nights, at("2026-12-01T22:30:00Z")),
            at("2026-12-02T06:00:00Z")
        );
        // 03:00 Berlin: begun yesterday evening.
        assert_eq!(
            deliver_at(&nights, at("2026-12-02T02:00:00Z")),
            at("2026-12-02T06:00:00Z")
        );
        // Midday is not quiet.
        let noon = at("2026-12-02T11:00:00Z");
        assert_eq!(deliver_at(&nights, noon), noon);
        // Saturday all day (6) chained after Friday night: Friday 23:00 waits for Sunday 00:00.
        let weekend = [
            window(Some(5), "22:00", "00:00", chrono_tz::UTC),
            window(Some(6), "00:00", "00:00", chrono_tz::UTC),
        ];
        assert_eq!(
            deliver_at(&weekend, at("2026-12-04T23:00:00Z")),
            at("2026-12-06T00:00:00Z")
        );
    }
}
