//! Date bounds of date fields: an absolute date (`2027-01-31`) or one relative to the day the
//! request is submitted, in the requester's zone: `today`, `+90d`, `-1y`, `+2w`, `+6m`.

use std::cmp::Ordering;

use chrono::{Datelike, Days, Months, NaiveDate};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelativeDate {
    On(NaiveDate),
    /// Offset from the submit date.
    Days(i64),
    Months(i64),
}

impl RelativeDate {
    pub fn parse(s: &str) -> Result<RelativeDate, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("today") {
            return Ok(RelativeDate::Days(0));
        }
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return Ok(RelativeDate::On(d));
        }
        let bad = || {
            format!(
                "“{s}” is not a date: use a date like 2027-01-31, “today”, or an offset like +90d, -2w, +6m, -1y."
            )
        };
        let (sign, rest) = match s.as_bytes().first() {
            Some(b'+') => (1, &s[1..]),
            Some(b'-') => (-1, &s[1..]),
            _ => return Err(bad()),
        };
        let unit = rest.chars().last().ok_or_else(bad)?;
        let n: i64 = rest[..rest.len() - unit.len_utf8()]
            .parse()
            .map_err(|_| bad())?;
        if !(0..=1000).contains(&n) {
            return Err(bad());
        }
        let n = sign * n;
        Ok(match unit.to_ascii_lowercase() {
            'd' => RelativeDate::Days(n),
            'w' => RelativeDate::Days(7 * n),
            'm' => RelativeDate::Months(n),
            'y' => RelativeDate::Months(12 * n),
            _ => return Err(bad()),
        })
    }

    /// The date it means for a request submitted on `today` (the requester's local date).
    pub fn resolve(&self, today: NaiveDate) -> NaiveDate {
        match *self {
            RelativeDate::On(d) => d,
            RelativeDate::Days(n) if n >= 0 => today + Days::new(n as u64),
            RelativeDate::Days(n) => today - Days::new(n.unsigned_abs()),
            RelativeDate::Months(n) if n >= 0 => today
                .checked_add_months(Months::new(n as u32))
                .unwrap_or(NaiveDate::MAX),
            RelativeDate::Months(n) => today
                .checked_sub_months(Months::new(n.unsigned_abs() as u32))
                .unwrap_or(NaiveDate::MIN),
        }
    }

    /// How two bounds compare on every submit date, where that is known: both absolute, or both
    /// relative (compared as of the first day of a 31-day month, so `+1m` and `+31d` tie).
    pub fn comparable(&self, other: &RelativeDate) -> Option<Ordering> {
        match (self, other) {
            (RelativeDate::On(a), RelativeDate::On(b)) => Some(a.cmp(b)),
            (RelativeDate::On(_), _) | (_, RelativeDate::On(_)) => None,
            _ => {
                let base = NaiveDate::from_ymd_opt(2001, 1, 1)?;
                debug_assert_eq!(base.day(), 1);
                Some(self.resolve(base).cmp(&other.resolve(base)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn relative_dates_resolve_against_the_submit_date() {
        let today = d("2026-12-03");
        for (expr, want) in [
            ("today", "2026-12-03"),
            ("+90d", "2027-03-03"),
            ("-1y", "2025-12-03"),
            ("+2w", "2026-12-17"),
            ("+3m", "2027-03-03"),
            ("2027-01-31", "2027-01-31"),
        ] {
            assert_eq!(
                RelativeDate::parse(expr).unwrap().resolve(today),
                d(want),
                "{expr}"
            );
        }
        // The end of a month clamps rather than spilling into the next.
        assert_eq!(
            RelativeDate::parse("+1m").unwrap().resolve(d("2027-01-31")),
            d("2027-02-28")
        );
    }

    #[test]
    fn junk_bounds_are_refused_with_an_example() {
        for bad in [
            "tomorrow",
            "+90",
            "90d",
            "+d",
            "+5x",
            "2027-02-30",
            "+99999d",
            "",
        ] {
            let e = RelativeDate::parse(bad).unwrap_err();
            assert!(e.contains("+90d"), "{bad}: {e}");
        }
    }
}
