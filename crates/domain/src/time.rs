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
