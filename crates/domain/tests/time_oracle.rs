//! The business-time engine against a brute-force oracle that steps minute by minute and asks
//! `Schedule::is_business` — the definition. Random schedules (windows past midnight, several
//! windows a day, holidays) in zones with DST, half-hour DST, odd offsets and southern-hemisphere
//! DST, around DST changes.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use domain::time::{Schedule, Window};
use proptest::prelude::*;

const ZONES: [Tz; 7] = [
    Tz::UTC,
    chrono_tz::Europe::Berlin,
    chrono_tz::America::New_York,
    chrono_tz::Australia::Lord_Howe, // DST shifts by 30 minutes
    chrono_tz::Asia::Kolkata,        // +05:30, no DST
    chrono_tz::Pacific::Chatham,     // +12:45 / +13:45
    chrono_tz::America::Santiago,    // southern DST, changes at midnight
];

/// Instants near the DST changes of 2026 in the northern and southern zones above.
const ANCHORS: [&str; 6] = [
    "2026-03-08T00:00:00Z", // US spring forward
    "2026-03-29T00:00:00Z", // EU spring forward
    "2026-04-05T00:00:00Z", // AU/NZ/CL fall back
    "2026-09-06T00:00:00Z", // CL spring forward
    "2026-10-04T00:00:00Z", // AU/NZ spring forward
    "2026-10-25T00:00:00Z", // EU fall back
];

fn window() -> impl Strategy<Value = Window> {
    // Quarter-hour boundaries, 00:00–23:45; end <= start runs past midnight.
    (0u32..96, 0u32..96).prop_map(|(s, e)| {
        let t = |q: u32| NaiveTime::from_hms_opt(q / 4, (q % 4) * 15, 0).unwrap();
        Window::new(t(s), t(e))
    })
}

fn schedule() -> impl Strategy<Value = Schedule> {
    (
        0..ZONES.len(),
        proptest::collection::vec(proptest::collection::vec(window(), 0..3), 7),
        proptest::collection::vec(0i64..40, 0..6),
        0..ANCHORS.len(),
    )
        .prop_filter("some business time", |(_, days, _, _)| {
            days.iter().any(|d| !d.is_empty())
        })
        .prop_map(|(zone, days, holiday_offsets, anchor)| {
            let base: DateTime<Utc> = ANCHORS[anchor].parse().unwrap();
            let holidays: BTreeSet<NaiveDate> = holiday_offsets
                .iter()
                .map(|d| (base + Duration::days(d - 10)).date_naive())
                .collect();
            Schedule {
                tz: ZONES[zone],
                days: days.try_into().unwrap(),
                holidays,
            }
        })
}

/// A whole minute within ± 5 days of one of the anchors.
fn start() -> impl Strategy<Value = DateTime<Utc>> {
    (0..ANCHORS.len(), -7200i64..7200)
        .prop_map(|(a, m)| ANCHORS[a].parse::<DateTime<Utc>>().unwrap() + Duration::minutes(m))
}

fn oracle_between(s: &Schedule, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    let mut t = from;
    let mut n = 0;
    while t < to {
        if s.is_business(t) {
            n += 1;
        }
        t += Duration::minutes(1);
    }
    n
}

fn oracle_add(s: &Schedule, from: DateTime<Utc>, minutes: i64) -> Option<DateTime<Utc>> {
    let mut t = from;
    let mut left = minutes;
    let limit = from + Duration::days(60);
    while left > 0 {
        if t > limit {
            return None;
        }
        if s.is_business(t) {
            left -= 1;
        }
        t += Duration::minutes(1);
    }
    Some(t)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12_000, ..ProptestConfig::default() })]

    #[test]
    fn between_matches_the_oracle(s in schedule(), from in start(), span in 0i64..(3 * 1440)) {
        let to = from + Duration::minutes(span);
        prop_assert_eq!(s.between(from, to).num_minutes(), oracle_between(&s, from, to));
    }

    #[test]
    fn add_matches_the_oracle(s in schedule(), from in start(), minutes in 0i64..(16 * 60)) {
        let expected = oracle_add(&s, from, minutes);
        // The oracle gives up after 60 days; the engine looks further.
        if let Some(expected) = expected {
            prop_assert_eq!(s.add(from, Duration::minutes(minutes)), Some(expected));
        }
    }

    #[test]
    fn add_and_between_agree(s in schedule(), from in start(), minutes in 1i64..(40 * 60)) {
        if let Some(due) = s.add(from, Duration::minutes(minutes)) {
            prop_assert_eq!(s.between(from, due), Duration::minutes(minutes));
            // The due instant is the end of a business minute.
            prop_assert!(s.is_business(due - Duration::minutes(1)));
        }
    }

    #[test]
    fn pauses_are_excluded(
        s in schedule(),
        from in start(),
        minutes in 1i64..(8 * 60),
        pause_at in 0i64..(2 * 1440),
        pause_len in 0i64..(2 * 1440),
    ) {
        let p0 = from + Duration::minutes(pause_at);
        let p1 = p0 + Duration::minutes(pause_len);
        if let Some(due) = s.due_with_pauses(from, Duration::minutes(minutes), &[(p0, Some(p1))]) {
            prop_assert_eq!(s.elapsed_with_pauses(from, due, &[(p0, Some(p1))]), Duration::minutes(minutes));
            // Nothing earlier would do.
            let before = due - Duration::minutes(1);
            prop_assert!(s.elapsed_with_pauses(from, before, &[(p0, Some(p1))]) < Duration::minutes(minutes));
        }
    }
}

#[test]
fn the_oracle_sees_dst() {
    // Sanity check of the test itself: Berlin's 2026-03-29 has 23 hours.
    let full = Schedule {
        tz: chrono_tz::Europe::Berlin,
        days: std::array::from_fn(|_| vec![Window::new(NaiveTime::MIN, NaiveTime::MIN)]),
        holidays: BTreeSet::new(),
    };
    let day_start = chrono_tz::Europe::Berlin
        .with_ymd_and_hms(2026, 3, 29, 0, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let day_end = chrono_tz::Europe::Berlin
        .with_ymd_and_hms(2026, 3, 30, 0, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(oracle_between(&full, day_start, day_end), 23 * 60);
}
