//! Geometry for the home page's small charts. The template draws the SVG from these numbers
//! (so every label is escaped like any other text), with a `<title>` per bar for hover and
//! screen readers and a sentence summarising the chart.

use chrono::{Duration, NaiveDate};

use super::store::SlaDay;

/// One day's column of the SLA chart: met stacked under breached.
pub struct Column {
    pub x: u32,
    pub met_y: u32,
    pub met_h: u32,
    pub breached_y: u32,
    pub breached_h: u32,
    pub title: String,
}

pub struct SlaChart {
    pub columns: Vec<Column>,
    pub width: u32,
    pub height: u32,
    pub bar: u32,
    pub met: i64,
    pub breached: i64,
    pub first: String,
    pub last: String,
}

impl SlaChart {
    /// Met as a share of all resolved with an SLA, "—" when there were none.
    pub fn compliance(&self) -> String {
        let all = self.met + self.breached;
        if all == 0 {
            return "—".into();
        }
        format!("{:.0} %", self.met as f64 * 100.0 / all as f64)
    }
}

const HEIGHT: u32 = 96;
const BAR: u32 = 14;
const GAP: u32 = 4;

/// The 30 days ending `today`, empty days included, scaled to the busiest day.
pub fn sla(days: &[SlaDay], today: NaiveDate) -> SlaChart {
    let dates: Vec<NaiveDate> = (0..30).rev().map(|d| today - Duration::days(d)).collect();
    let peak = days
        .iter()
        .map(|d| d.met + d.breached)
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = |n: i64| ((n as f64 / peak as f64) * f64::from(HEIGHT)).round() as u32;
    let columns = dates
        .iter()
        .enumerate()
        .map(|(n, date)| {
            let d = days.iter().find(|d| d.day == *date);
            let (met, breached) = d.map_or((0, 0), |d| (d.met, d.breached));
            let (met_h, breached_h) = (scale(met), scale(breached));
            Column {
                x: n as u32 * (BAR + GAP),
                met_y: HEIGHT - met_h,
                met_h,
                breached_y: HEIGHT - met_h - breached_h,
                breached_h,
                title: format!(
                    "{}: {met} met, {breached} breached",
                    date.format("%a %-d %b")
                ),
            }
        })
        .collect();
    SlaChart {
        columns,
        width: 30 * (BAR + GAP) - GAP,
        height: HEIGHT,
        bar: BAR,
        met: days.iter().map(|d| d.met).sum(),
        breached: days.iter().map(|d| d.breached).sum(),
        first: dates[0].format("%-d %b").to_string(),
        last: today.format("%-d %b").to_string(),
    }
}

/// A horizontal bar: its label, count and length (percent of the longest).
pub struct Bar {
    pub label: String,
    pub count: i64,
    pub percent: u32,
}

pub fn bars<L: ToString>(items: &[(L, i64)]) -> Vec<Bar> {
    let peak = items.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    items
        .iter()
        .map(|(l, n)| Bar {
            label: l.to_string(),
            count: *n,
            percent: ((*n as f64 / peak as f64) * 100.0).round() as u32,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_days_scaled_to_the_busiest() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let days = [
            SlaDay {
                day: today,
                met: 3,
                breached: 1,
            },
            SlaDay {
                day: today - Duration::days(29),
                met: 1,
                breached: 0,
            },
        ];
        let c = sla(&days, today);
        assert_eq!(c.columns.len(), 30);
        let last = c.columns.last().unwrap();
        assert_eq!(last.met_h + last.breached_h, HEIGHT);
        assert_eq!(last.title, "Wed 2 Dec: 3 met, 1 breached");
        assert_eq!(c.columns[0].met_h, HEIGHT / 4);
        assert_eq!(c.compliance(), "80 %");
        assert_eq!(sla(&[], today).compliance(), "—");
    }

    #[test]
    fn bars_are_relative_to_the_longest() {
        let b = bars(&[("Service Desk", 8), ("Network", 2)]);
        assert_eq!(b[0].percent, 100);
        assert_eq!(b[1].percent, 25);
    }
}
