//! Business time: weekly schedules in an IANA time zone with holidays, and the arithmetic SLA
//! clocks need — add business time to an instant, measure business time between two instants,
//! and both with pauses.
//!
//! Definition (the property tests check the engine against exactly this, minute by minute):
//! an instant is *business time* when its local wall-clock time, in the schedule's zone, falls in
//! a window of the schedule. A window belongs to the local date it starts on (its weekday and its
//! holiday status); `end <= start` means it runs past midnight into the next date, and
//! `end == start` means a full 24 hours. So in a DST overlap an hour of local time can count twice
//! (it happens twice), and in a DST gap the missing local hour counts zero times.
//!
//! The engine walks constant-offset stretches of real time; within one, local time is a linear
//! function of real time, so each window is one interval there.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, SubsecRound,
    TimeZone, Utc,
};
use chrono_tz::Tz;

/// One business window on a weekday: local `start` to local `end` (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Window {
    pub fn new(start: NaiveTime, end: NaiveTime) -> Self {
        Window { start, end }
    }

    /// Length of the window.
    pub fn length(&self) -> Duration {
        let d = self.end - self.start;
        if d <= Duration::zero() {
            d + Duration::days(1)
        } else {
            d
        }
    }
}

#[derive(Clone, Debug)]
pub struct Schedule {
    pub tz: Tz,
    /// Indexed by `Weekday::num_days_from_monday()` (0 = Monday).
    pub days: [Vec<Window>; 7],
    pub holidays: BTreeSet<NaiveDate>,
}

/// How far ahead the engine looks for business time before deciding there is none.
const HORIZON_DAYS: i64 = 3 * 366;

impl Schedule {
    /// Around the clock, every day, no holidays: for targets that are not business-hours-only.
    pub fn always() -> Self {
        let full = vec![Window::new(NaiveTime::MIN, NaiveTime::MIN)];
        Schedule {
            tz: Tz::UTC,
            days: std::array::from_fn(|_| full.clone()),
            holidays: BTreeSet::new(),
        }
    }

    /// True when `at` is business time — the definition itself, used by the tests' oracle.
    pub fn is_business(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.tz).naive_local();
        let (date, time) = (local.date(), local.time());
        let today = self.open_on(date).iter().any(|w| {
            if w.end > w.start {
                w.start <= time && time < w.end
            } else {
                time >= w.start
            }
        });
        let spill = date.pred_opt().is_some_and(|prev| {
            self.open_on(prev)
                .iter()
                .any(|w| w.end <= w.start && time < w.end)
        });
        today || spill
    }

    fn open_on(&self, date: NaiveDate) -> &[Window] {
        if self.holidays.contains(&date) {
            &[]
        } else {
            &self.days[date.weekday().num_days_from_monday() as usize]
        }
    }

    /// Business windows as local (naive) intervals that touch `[from, to)`, merged and sorted.
    fn local_windows(
        &self,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> Vec<(NaiveDateTime, NaiveDateTime)> {
        let mut out: Vec<(NaiveDateTime, NaiveDateTime)> = Vec::new();
        let mut date = from.date() - Duration::days(1);
        while date <= to.date() {
            for w in self.open_on(date) {
                let s = date.and_time(w.start);
                let e = s + w.length();
                if e > from && s < to {
                    out.push((s, e));
                }
            }
            date += Duration::days(1);
        }
        out.sort();
        let mut merged: Vec<(NaiveDateTime, NaiveDateTime)> = Vec::with_capacity(out.len());
        for (s, e) in out {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        merged
    }

    fn offset_at(&self, at: DateTime<Utc>) -> Duration {
        Duration::seconds(
            self.tz
                .offset_from_utc_datetime(&at.naive_utc())
                .fix()
                .local_minus_utc() as i64,
        )
    }

    /// The end of the stretch starting at `at` in which the UTC offset stays the same (at most a
    /// day long; zones change offset at most once a day).
    fn stretch_end(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let offset = self.offset_at(at);
        let day_later = at + Duration::days(1);
        if self.offset_at(day_later) == offset {
            return day_later;
        }
        // Binary search, to the second, for the first instant with another offset.
        let (mut lo, mut hi) = (at.trunc_subsecs(0), day_later.trunc_subsecs(0));
        while hi - lo > Duration::seconds(1) {
            // Whole seconds: transitions happen on them, and so must the stretches.
            let mid = lo + Duration::seconds((hi - lo).num_seconds() / 2);
            if self.offset_at(mid) == offset {
                lo = mid
            } else {
                hi = mid
            }
        }
        hi
    }

    /// Business-time intervals (real time) inside `[from, to)`, in order.
    fn business_intervals(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let mut cursor = from;
        let mut pending: std::vec::IntoIter<(DateTime<Utc>, DateTime<Utc>)> =
            Vec::new().into_iter();
        std::iter::from_fn(move || {
            loop {
                if let Some(next) = pending.next() {
                    return Some(next);
                }
                if cursor >= to {
                    return None;
                }
                let end = self.stretch_end(cursor).min(to);
                let offset = self.offset_at(cursor);
                let (local_from, local_to) =
                    (cursor.naive_utc() + offset, end.naive_utc() + offset);
                pending = self
                    .local_windows(local_from, local_to)
                    .into_iter()
                    .map(|(s, e)| {
                        let s = s.max(local_from) - offset;
                        let e = e.min(local_to) - offset;
                        (Utc.from_utc_datetime(&s), Utc.from_utc_datetime(&e))
                    })
                    .filter(|(s, e)| s < e)
                    .collect::<Vec<_>>()
                    .into_iter();
                cursor = end;
            }
        })
    }

    /// Business time in `[from, to)` (zero when `to <= from`).
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        self.business_intervals(from, to)
            .fold(Duration::zero(), |sum, (s, e)| sum + (e - s))
    }

    /// The instant at which `amount` of business time has passed since `from`; `None` when the
    /// schedule has no business time within three years (empty schedule, all holidays).
    /// With `amount` zero, `from` itself.
    pub fn add(&self, from: DateTime<Utc>, amount: Duration) -> Option<DateTime<Utc>> {
        if amount <= Duration::zero() {
            return Some(from);
        }
        let mut left = amount;
        for (s, e) in self.business_intervals(from, from + Duration::days(HORIZON_DAYS)) {
            if e - s >= left {
                return Some(s + left);
            }
            left -= e - s;
        }
        None
    }

    /// The due time of a clock that started at `start`, needs `amount` of business time, and
    /// stood still during `pauses` (`[from, until)`, sorted, non-overlapping; `until = None`
    /// means still paused). `None` while paused before reaching the target, or when there is no
    /// business time ahead.
    pub fn due_with_pauses(
        &self,
        start: DateTime<Utc>,
        amount: Duration,
        pauses: &[(DateTime<Utc>, Option<DateTime<Utc>>)],
    ) -> Option<DateTime<Utc>> {
        let mut left = amount;
        let mut running_from = start;
        for &(pause_from, pause_until) in pauses {
            if pause_from > running_from {
                let done = self.between(running_from, pause_from);
                if done >= left {
                    return self.add(running_from, left);
                }
                left -= done;
            }
            running_from = running_from.max(pause_until?);
        }
        self.add(running_from, left)
    }

    /// Business time a clock has run by `now`, pauses excluded.
    pub fn elapsed_with_pauses(
        &self,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
        pauses: &[(DateTime<Utc>, Option<DateTime<Utc>>)],
    ) -> Duration {
        let mut paused = Duration::zero();
        for &(from, until) in pauses {
            let (from, until) = (from.max(start), until.unwrap_or(now).min(now));
            if until > from {
                paused += self.between(from, until);
            }
        }
        self.between(start, now) - paused
    }
}

/// One line of an "explain this deadline" timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Started,
    /// The clock stood still from here until `until` (`None`: still paused).
    Paused {
        until: Option<DateTime<Utc>>,
    },
    /// Time outside business hours, skipped until `until`; `holidays` lists the holiday dates
    /// inside the skipped span.
    Skipped {
        until: DateTime<Utc>,
        holidays: Vec<NaiveDate>,
    },
    Due,
}

impl Schedule {
    /// Why a clock is due when it is: the start, every pause, every span outside business hours
    /// (naming holidays) up to the due time, and the due time — each with its instant. The same
    /// walk as `due_with_pauses`, so the last step is exactly its answer. At most `limit` steps.
    pub fn explain(
        &self,
        start: DateTime<Utc>,
        amount: Duration,
        pauses: &[(DateTime<Utc>, Option<DateTime<Utc>>)],
        limit: usize,
    ) -> Vec<(DateTime<Utc>, Step)> {
        let mut steps = vec![(start, Step::Started)];
        let mut left = amount;
        let mut cursor = start;
        let mut pauses = pauses.iter().peekable();
        while steps.len() < limit {
            let next_pause = pauses.peek().map(|p| p.0.max(cursor));
            let horizon = next_pause.unwrap_or(cursor + Duration::days(HORIZON_DAYS));
            let mut reached = None;
            for (s, e) in self.business_intervals(cursor, horizon) {
                if s > cursor {
                    steps.push((cursor, self.skipped(cursor, s)));
                }
                if e - s >= left {
                    reached = Some(s + left);
                    break;
                }
                left -= e - s;
                cursor = e;
                if steps.len() >= limit {
                    return steps;
                }
            }
            if let Some(due) = reached {
                steps.push((due, Step::Due));
                return steps;
            }
            let Some(&&(from, until)) = pauses.next().as_ref() else {
                return steps; // no business time within the horizon
            };
            let from = from.max(cursor);
            if from > cursor {
                steps.push((cursor, self.skipped(cursor, from)));
            }
            steps.push((from, Step::Paused { until }));
            match until {
                Some(u) => cursor = cursor.max(u),
                None => return steps,
            }
        }
        steps
    }

    fn skipped(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Step {
        let (a, b) = (
            from.with_timezone(&self.tz).date_naive(),
            until.with_timezone(&self.tz).date_naive(),
        );
        Step::Skipped {
            until,
            holidays: self.holidays.range(a..=b).copied().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
