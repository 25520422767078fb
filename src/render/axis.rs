//! Where a chart's axes put their ticks and what the ticks say: round numbers on the value
//! axis, whole minutes, hours, days or weeks of UTC on the time axis. A handful of ticks
//! whatever the numbers — at the edges of f64 too — so drawing takes the same few
//! milliseconds for every series.

use chrono::{DateTime, Datelike, Timelike};

/// Ticks on an axis: about this many, never more than twice this.
pub const TICKS: usize = 6;

/// Round values (1, 2 or 5 × a power of ten) from `low` to `high`, at most `2 · TICKS` of
/// them; empty when the range is not a finite, increasing one.
pub fn value_ticks(low: f64, high: f64) -> Vec<f64> {
    if !(low.is_finite() && high.is_finite() && low < high) {
        return Vec::new();
    }
    // Halves first: `high − low` may not be a finite f64 even when both are.
    let half_span = high / 2.0 - low / 2.0;
    let step = round_step(2.0 * (half_span / TICKS as f64));
    if !(step.is_finite() && step > 0.0) {
        return Vec::new();
    }
    // A tick a rounding error outside the range still counts (−0.3 / 0.1 is −2.9999…).
    let slack = 1e-9;
    let first = (low / step - slack).ceil();
    (0..2 * TICKS)
        .map(|k| (first + k as f64) * step)
        .take_while(|tick| *tick / step <= high / step + slack)
        .map(|tick| {
            if tick.abs() < step * slack {
                0.0
            } else {
                tick.clamp(low, high)
            }
        })
        .collect()
}

/// The round step (1, 2 or 5 × a power of ten) nearest above `raw`.
fn round_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return f64::NAN;
    }
    let power = 10f64.powi(raw.log10().floor() as i32);
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|step| *step >= raw * (1.0 - 1e-12))
        .unwrap_or(10.0 * power)
}

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Steps a time axis may take, shortest first.
const TIME_STEPS: [i64; 18] = [
    SECOND,
    5 * SECOND,
    15 * SECOND,
    30 * SECOND,
    MINUTE,
    5 * MINUTE,
    10 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    7 * DAY,
    14 * DAY,
];

/// Ticks on a time axis from `first` to `last` (UTC ms): multiples of a step that fits the
/// span (UTC midnight for days, Mondays for weeks), with their labels.
pub fn time_ticks(first: i64, last: i64) -> Vec<(i64, String)> {
    let span = last.saturating_sub(first);
    if span <= 0 {
        return vec![(first, time_label(first, SECOND, None))];
    }
    let Some(step) = TIME_STEPS
        .into_iter()
        .find(|step| span / step <= TICKS as i64)
    else {
        return month_ticks(first, last);
    };
    // Weeks start on Monday: 1970-01-05 was one. In i128: no overflow at i64's ends.
    let origin: i128 = if step % (7 * DAY) == 0 {
        4 * DAY as i128
    } else {
        0
    };
    let step = i128::from(step);
    let mut tick = -(-(i128::from(first) - origin)).div_euclid(step) * step + origin;
    let mut ticks = Vec::with_capacity(2 * TICKS);
    let mut previous = None;
    while tick <= i128::from(last) && ticks.len() < 2 * TICKS {
        let at = tick as i64; // between `first` and `last`, so an i64
        ticks.push((at, time_label(at, step as i64, previous)));
        previous = Some(at);
        tick += step;
    }
    ticks
}

/// Ticks at the start of every 1, 2, 3, 6 or 12·k months (UTC), for spans of months and
/// years, labelled with month and year.
fn month_ticks(first: i64, last: i64) -> Vec<(i64, String)> {
    let month_of = |ms: i64| {
        DateTime::from_timestamp_millis(ms)
            .map(|t| i64::from(t.year()) * 12 + i64::from(t.month0()))
    };
    let (Some(from), Some(to)) = (month_of(first), month_of(last)) else {
        return Vec::new();
    };
    let months = (to - from).max(1);
    let step = [1, 2, 3, 6, 12]
        .into_iter()
        .find(|step| months / step <= TICKS as i64)
        .unwrap_or_else(|| (months / TICKS as i64 / 12 + 1) * 12);
    let start_of = |month: i64| {
        let year = i32::try_from(month.div_euclid(12)).ok()?;
        let month = u32::try_from(month.rem_euclid(12) + 1).ok()?;
        let day = chrono::NaiveDate::from_ymd_opt(year, month, 1)?;
        Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
    };
    let mut month = from.div_euclid(step) * step;
    let mut ticks = Vec::with_capacity(2 * TICKS);
    while month <= to && ticks.len() < 2 * TICKS {
        if let Some(at) = start_of(month).filter(|at| (first..=last).contains(at)) {
            let label = DateTime::from_timestamp_millis(at)
                .map(|t| t.format("%b %Y").to_string())
                .unwrap_or_default();
            ticks.push((at, label));
        }
        month += step;
    }
    ticks
}

/// What a time tick says: the clock within a day (the date too at the first tick and where
/// the day changes), the date for steps of a day or more.
fn time_label(ms: i64, step: i64, previous: Option<i64>) -> String {
    let Some(at) = DateTime::from_timestamp_millis(ms) else {
        return String::new();
    };
    if step >= DAY {
        return at.format("%b %-d").to_string();
    }
    let clock = if step < MINUTE || at.second() != 0 {
        at.format("%H:%M:%S")
    } else {
        at.format("%H:%M")
    };
    let new_day = previous
        .and_then(DateTime::from_timestamp_millis)
        .is_none_or(|before| before.num_days_from_ce() != at.num_days_from_ce());
    if new_day {
        format!("{} {clock}", at.format("%b %-d"))
    } else {
        clock.to_string()
    }
}

/// The time axis's description: the span's first and last day, in UTC.
pub fn time_caption(first: i64, last: i64) -> String {
    let day = |ms| DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%d").to_string());
    match (day(first), day(last)) {
        (Some(a), Some(b)) if a == b => format!("time (UTC), {a}"),
        (Some(a), Some(b)) => format!("time (UTC), {a} to {b}"),
        _ => "time (UTC)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_the_hour(ms: i64) -> bool {
        DateTime::from_timestamp_millis(ms).is_some_and(|t| t.minute() == 0 && t.second() == 0)
    }

    #[test]
    fn value_ticks_are_round_and_few_whatever_the_range() {
        assert_eq!(
            value_ticks(0.0, 100.0),
            [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(
            value_ticks(-0.3, 0.3),
            [-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3]
        );
        for (low, high) in [
            (-f64::MAX, f64::MAX),
            (-3e16, 0.0),
            (1e308, f64::MAX),
            (-1.0, 1e300),
        ] {
            let ticks = value_ticks(low, high);
            assert!(
                (2..=2 * TICKS).contains(&ticks.len()),
                "{low}..{high}: {ticks:?}"
            );
            assert!(ticks
                .iter()
                .all(|t| t.is_finite() && (low..=high).contains(t)));
        }
        assert!(value_ticks(1.0, 1.0).is_empty());
        assert!(
            value_ticks(5e-324, 1e-323).is_empty(),
            "no round step that small"
        );
        assert!(value_ticks(f64::NAN, 1.0).is_empty());
    }

    #[test]
    fn time_ticks_fit_the_span_and_fall_on_round_times() {
        let start = 1_309_482_001_000; // 2011-07-01T01:00:01Z
        let hours = time_ticks(start, start + 30 * HOUR);
        assert!((3..=2 * TICKS).contains(&hours.len()), "{hours:?}");
        assert!(hours.iter().all(|(t, _)| on_the_hour(*t)), "{hours:?}");
        assert_eq!(hours[0].1, "Jul 1 06:00", "the date at the first tick");
        assert_eq!(hours[1].1, "12:00");
        assert!(
            hours.iter().any(|(_, label)| label == "Jul 2 00:00"),
            "{hours:?}"
        );

        let days = time_ticks(start, start + 67 * DAY);
        assert!(
            days.iter().all(|(_, label)| label.starts_with("Jul")
                || label.starts_with("Aug")
                || label.starts_with("Sep")),
            "{days:?}"
        );
        assert!(days.len() <= 2 * TICKS);

        let months = time_ticks(start, start + 214 * DAY);
        let labels: Vec<&str> = months.iter().map(|(_, label)| label.as_str()).collect();
        assert_eq!(
            labels,
            ["Aug 2011", "Sep 2011", "Oct 2011", "Nov 2011", "Dec 2011", "Jan 2012"]
        );

        let weeks = time_ticks(start, start + 40 * DAY);
        let monday = |ms: i64| {
            DateTime::from_timestamp_millis(ms).unwrap().weekday() == chrono::Weekday::Mon
        };
        assert!(weeks.iter().all(|(t, _)| monday(*t)), "{weeks:?}");

        let minutes = time_ticks(start, start + 20 * MINUTE);
        assert!(
            minutes.iter().all(|(t, _)| t % (5 * MINUTE) == 0),
            "{minutes:?}"
        );
        assert!(time_ticks(i64::MIN, i64::MAX).len() <= 2 * TICKS);
        assert_eq!(time_ticks(start, start).len(), 1);
    }

    #[test]
    fn the_caption_names_the_days_in_utc() {
        assert_eq!(
            time_caption(1_309_482_001_000, 1_309_482_001_000 + 3 * DAY),
            "time (UTC), 2011-07-01 to 2011-07-04"
        );
    }
}
