//! Table tests of named edge cases of the business-time engine (the property tests against the
//! minute-stepping oracle are in `time_oracle.rs`).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use domain::time::{Schedule, Step, Window};

fn nine_to_five(tz: Tz) -> Schedule {
    let w = vec![Window::new(
        NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
    )];
    let mut days: [Vec<Window>; 7] = Default::default();
    for d in days.iter_mut().take(5) {
        *d = w.clone();
    }
    Schedule {
        tz,
        days,
        holidays: BTreeSet::new(),
    }
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[test]
fn friday_afternoon_rolls_over_the_weekend() {
    let s = nine_to_five(Tz::UTC);
    // Fri 2026-11-27 16:00 + 2 h → Mon 10:00.
    assert_eq!(
        s.add(utc("2026-11-27T16:00:00Z"), Duration::hours(2)),
        Some(utc("2026-11-30T10:00:00Z"))
    );
    assert_eq!(
        s.between(utc("2026-11-27T16:00:00Z"), utc("2026-11-30T10:00:00Z")),
        Duration::hours(2)
    );
}

#[test]
fn holidays_are_skipped() {
    let mut s = nine_to_five(Tz::UTC);
    s.holidays
        .insert(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
    assert_eq!(
        s.add(utc("2026-11-27T16:00:00Z"), Duration::hours(2)),
        Some(utc("2026-12-01T10:00:00Z"))
    );
}

#[test]
fn zone_matters() {
    let s = nine_to_five(chrono_tz::America::New_York);
    // 09:00 in New York on a winter Monday is 14:00 UTC.
    assert_eq!(
        s.add(utc("2026-11-30T00:00:00Z"), Duration::minutes(1)),
        Some(utc("2026-11-30T14:01:00Z"))
    );
}

#[test]
fn spring_forward_gap_counts_zero_and_fall_back_overlap_counts_twice() {
    let night = Window::new(
        NaiveTime::from_hms_opt(0, 0, 0).unwrap(),
        NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
    );
    let s = Schedule {
        tz: chrono_tz::Europe::Berlin,
        days: std::array::from_fn(|_| vec![night]),
        holidays: BTreeSet::new(),
    };
    // 2026-03-29: 02:00 → 03:00 local; the 00:00–06:00 window lasts 5 real hours.
    assert_eq!(
        s.between(utc("2026-03-28T22:00:00Z"), utc("2026-03-29T12:00:00Z")),
        Duration::hours(5)
    );
    // 2026-10-25: 03:00 → 02:00 local; the window lasts 7 real hours.
    assert_eq!(
        s.between(utc("2026-10-24T21:00:00Z"), utc("2026-10-25T12:00:00Z")),
        Duration::hours(7)
    );
}

#[test]
fn windows_past_midnight_belong_to_their_start_date() {
    let w = Window::new(
        NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
        NaiveTime::from_hms_opt(2, 0, 0).unwrap(),
    );
    let mut days: [Vec<Window>; 7] = Default::default();
    days[4] = vec![w]; // Friday night only
    let s = Schedule {
        tz: Tz::UTC,
        days,
        holidays: BTreeSet::new(),
    };
    assert!(s.is_business(utc("2026-11-28T01:30:00Z"))); // Saturday 01:30, Friday's window
    // Three hours are left of this Friday's window; the fourth is next Friday's.
    assert_eq!(
        s.add(utc("2026-11-27T23:00:00Z"), Duration::hours(3)),
        Some(utc("2026-11-28T02:00:00Z"))
    );
    assert_eq!(
        s.add(utc("2026-11-27T23:00:00Z"), Duration::hours(4)),
        Some(utc("2026-12-04T23:00:00Z"))
    );
}

#[test]
fn empty_schedule_has_no_due_time() {
    let s = Schedule {
        tz: Tz::UTC,
        days: Default::default(),
        holidays: BTreeSet::new(),
    };
    assert_eq!(
        s.add(utc("2026-11-27T16:00:00Z"), Duration::minutes(1)),
        None
    );
    assert_eq!(
        s.add(utc("2026-11-27T16:00:00Z"), Duration::zero()),
        Some(utc("2026-11-27T16:00:00Z"))
    );
}

#[test]
fn pauses_push_the_due_time_by_the_business_time_they_took() {
    let s = nine_to_five(Tz::UTC);
    let start = utc("2026-11-30T09:00:00Z"); // Monday
    let pauses = [(
        utc("2026-11-30T10:00:00Z"),
        Some(utc("2026-11-30T12:00:00Z")),
    )];
    assert_eq!(
        s.due_with_pauses(start, Duration::hours(4), &pauses),
        Some(utc("2026-11-30T15:00:00Z"))
    );
    // Still paused: no due time.
    assert_eq!(
        s.due_with_pauses(
            start,
            Duration::hours(4),
            &[(utc("2026-11-30T10:00:00Z"), None)]
        ),
        None
    );
    // A clock that reached its target before the pause is unaffected.
    assert_eq!(
        s.due_with_pauses(start, Duration::minutes(30), &pauses),
        Some(utc("2026-11-30T09:30:00Z"))
    );
    assert_eq!(
        s.elapsed_with_pauses(start, utc("2026-11-30T13:00:00Z"), &pauses),
        Duration::hours(2)
    );
}

#[test]
fn explain_walks_to_the_same_due_time() {
    let mut s = nine_to_five(chrono_tz::Europe::Berlin);
    s.holidays
        .insert(NaiveDate::from_ymd_opt(2026, 12, 28).unwrap());
    // Friday 16:00 Berlin, 3 business hours, paused Friday 16:30–16:45.
    let start = utc("2026-12-25T15:00:00Z");
    let pauses = [(
        utc("2026-12-25T15:30:00Z"),
        Some(utc("2026-12-25T15:45:00Z")),
    )];
    let steps = s.explain(start, Duration::hours(3), &pauses, 50);
    let due = s
        .due_with_pauses(start, Duration::hours(3), &pauses)
        .unwrap();
    assert_eq!(steps.last().unwrap(), &(due, Step::Due));
    assert_eq!(steps[0], (start, Step::Started));
    assert_eq!(
        steps[1],
        (
            utc("2026-12-25T15:30:00Z"),
            Step::Paused {
                until: Some(utc("2026-12-25T15:45:00Z"))
            }
        )
    );
    // The weekend and the Monday holiday are one skipped span, naming the holiday.
    let skipped: Vec<_> = steps
        .iter()
        .filter_map(|(at, st)| match st {
            Step::Skipped { until, holidays } => Some((*at, *until, holidays.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(skipped.len(), 1, "{steps:?}");
    assert_eq!(skipped[0].0, utc("2026-12-25T16:00:00Z"));
    assert_eq!(skipped[0].1, utc("2026-12-29T08:00:00Z"));
    assert_eq!(
        skipped[0].2,
        vec![NaiveDate::from_ymd_opt(2026, 12, 28).unwrap()]
    );
    // 30 min on Friday before the pause, 15 after it, 2 h 15 on Tuesday.
    assert_eq!(due, utc("2026-12-29T10:15:00Z"));
}

#[test]
fn explain_stops_at_an_open_pause() {
    let s = Schedule::always();
    let start = utc("2026-03-01T00:00:00Z");
    let steps = s.explain(
        start,
        Duration::hours(5),
        &[(utc("2026-03-01T01:00:00Z"), None)],
        50,
    );
    assert_eq!(steps.last().unwrap().1, Step::Paused { until: None });
}
