//! The failures an independent generator and held-out real metrics showed, each rebuilt here
//! with data of our own: incidents on the first weekend of a one-week series, a plain step
//! the Root Cause Agent misread, a gap in an hourly metric called an outage, and level
//! "changes" that were fragments of a daily wave.

use anomaly_hunter_engine::agents::synthesizer::Weights;
use anomaly_hunter_engine::agents::{AgentName, AgentReport, WindowKind};
use anomaly_hunter_engine::investigation::{investigate, Verdict};
use anomaly_hunter_engine::series::timestamp::to_rfc3339;
use anomaly_hunter_engine::series::Series;
use anomaly_hunter_engine::synthetic::grid::{generate, Family, Kind, Placement};
use anomaly_hunter_engine::synthetic::rng::Rng;

/// 2024-01-01T00:00:00Z, a Monday.
const MONDAY: i64 = 1_704_067_200_000;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// A daily wave peaking mid-afternoon, in [-1, 1].
fn wave(t: i64) -> f64 {
    let hour = (t - MONDAY).rem_euclid(DAY) as f64 / HOUR as f64;
    (std::f64::consts::TAU * (hour - 9.0) / 24.0).sin()
}

/// One week, Monday to Sunday, 5-minute points: a daily wave, 3% noise, the weekend 25%
/// quieter (as it is for business traffic).
fn quiet_weekend_week(seed: u64) -> (Vec<i64>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let timestamps: Vec<i64> = (0..7 * 288).map(|i| MONDAY + i * 5 * MINUTE).collect();
    let values = timestamps
        .iter()
        .map(|&t| {
            let weekend = if (t - MONDAY) / DAY >= 5 { 0.75 } else { 1.0 };
            500.0 * weekend * (1.0 + 0.2 * wave(t)) * (1.0 + 0.03 * rng.normal())
        })
        .collect();
    (timestamps, values)
}

fn verdict(name: &str, timestamps: Vec<i64>, values: Vec<f64>) -> Verdict {
    let series = Series::from_points(name, timestamps, values).unwrap();
    investigate(&series, &[], Weights::default())
}

fn index_at(timestamps: &[i64], t: i64) -> usize {
    timestamps.partition_point(|x| *x < t)
}

fn report(verdict: &Verdict, agent: AgentName) -> &AgentReport {
    verdict.agents.iter().find(|r| r.agent == agent).unwrap()
}

#[test]
fn a_quiet_first_weekend_alone_is_the_calendar() {
    for seed in 0..5 {
        let (timestamps, values) = quiet_weekend_week(seed);
        let v = verdict("orders", timestamps, values);
        assert!(!v.anomalous, "seed {seed}: {}", v.verdict);
        assert!(v.verdict.contains("weekend"), "{}", v.verdict);
    }
}

const FRIDAY: i64 = MONDAY + 4 * DAY;
const SATURDAY: i64 = MONDAY + 5 * DAY;
const SUNDAY: i64 = MONDAY + 6 * DAY;

fn spike_on_saturday_afternoon(t: &[i64], v: &mut [f64]) {
    v[index_at(t, SATURDAY + 15 * HOUR)] *= 9.22;
}

fn outage_on_sunday_night(t: &[i64], v: &mut [f64]) {
    let from = index_at(t, SUNDAY + 22 * HOUR);
    let to = index_at(t, SUNDAY + 23 * HOUR + 30 * MINUTE);
    v[from..to].iter_mut().for_each(|x| *x = 1.0);
}

fn step_from_friday_evening(t: &[i64], v: &mut [f64]) {
    let from = index_at(t, FRIDAY + 18 * HOUR + 25 * MINUTE);
    v[from..].iter_mut().for_each(|x| *x *= 1.25);
}

#[test]
fn incidents_on_the_first_weekend_are_anomalous_with_the_calendar_named() {
    type Inject = fn(&[i64], &mut [f64]);
    // What each incident must be reported as: where the main window begins (± 10 minutes) and
    // its direction. (On a quieter weekend a +25% step from Friday evening leaves the weekend
    // near the weekday level: the data show a rise on Friday evening, and that is what counts.)
    let cases: [(&str, Inject, i64, f64); 3] = [
        (
            "a one-point spike of +822% on Saturday afternoon",
            spike_on_saturday_afternoon,
            SATURDAY + 15 * HOUR,
            1.0,
        ),
        (
            "an outage to near zero on Sunday night",
            outage_on_sunday_night,
            SUNDAY + 22 * HOUR,
            -1.0,
        ),
        (
            "a step of +25% from Friday 18:25 that stays",
            step_from_friday_evening,
            FRIDAY + 18 * HOUR + 25 * MINUTE,
            1.0,
        ),
    ];
    for (what, inject, starts, direction) in cases {
        for seed in 0..3 {
            let (timestamps, mut values) = quiet_weekend_week(seed);
            inject(&timestamps, &mut values);
            let v = verdict("orders", timestamps, values);
            assert!(v.anomalous, "{what}, seed {seed}: {}", v.verdict);
            let main = v.main_window().unwrap();
            assert!(
                (main.start_ms - starts).abs() <= 10 * MINUTE && main.magnitude * direction > 0.15,
                "{what}, seed {seed}: {}",
                v.verdict
            );
            if what.contains("outage") {
                assert_eq!(main.kind, WindowKind::Outage, "{}", v.verdict);
            }
            assert!(
                v.verdict.contains("first weekend"),
                "{what}: the calendar alternative is named: {}",
                v.verdict
            );
        }
    }
}

/// Three days of one-minute latency with a daily wave; the last 150 minutes at 4×.
fn latency_with_a_step_at_the_end(step: f64) -> (Vec<i64>, Vec<f64>) {
    let mut rng = Rng::new(42);
    let n = 3 * 1440;
    let timestamps: Vec<i64> = (0..n).map(|i| MONDAY + i * MINUTE).collect();
    let values = timestamps
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let v = 50.0 + 15.0 * wave(t) + 2.0 * rng.normal();
            if i >= n as usize - 150 {
                v * step
            } else {
                v
            }
        })
        .collect();
    (timestamps, values)
}

#[test]
fn an_ongoing_4x_step_is_read_as_up_and_sustained() {
    let (timestamps, values) = latency_with_a_step_at_the_end(4.0);
    let v = verdict("api_latency_ms", timestamps, values);
    assert!(v.anomalous, "{}", v.verdict);
    let root = report(&v, AgentName::RootCause);
    let evidence = |name: &str| {
        root.evidence
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("{name} in {:?}", root.evidence))
            .value
    };
    assert!(evidence("shift_pct") > 200.0, "{:?}", root.evidence);
    assert_eq!(evidence("sustained"), 1.0, "{:?}", root.evidence);
    assert!(
        v.pattern.is_some(),
        "a known pattern fits a lasting step up: {}",
        root.finding
    );
    assert_eq!(v.consensus, 3, "{}", v.verdict);
    assert!(v.confidence > 0.9, "{}", v.confidence);
}

#[test]
fn a_daily_wave_is_no_level_change() {
    for step in [1.0, 4.0] {
        let (timestamps, values) = latency_with_a_step_at_the_end(step);
        let step_starts = timestamps[timestamps.len() - 150];
        let v = verdict("api_latency_ms", timestamps.clone(), values);
        let change = report(&v, AgentName::ChangeDetective);
        let before_the_step: Vec<_> = change
            .windows
            .iter()
            .filter(|w| timestamps[w.end] < step_starts - 30 * MINUTE)
            .collect();
        assert!(
            before_the_step.is_empty(),
            "step ×{step}: fragments of the daily wave read as changes: {:?}\n{:?}",
            before_the_step,
            change.evidence
        );
    }
}

#[test]
fn missing_rows_are_missing_data_not_an_outage() {
    // Sixty days of an hourly cost per click (0.05–0.2), 21 hours of rows missing on day 50.
    let mut rng = Rng::new(3);
    let mut timestamps = Vec::new();
    let mut values = Vec::new();
    for i in 0..60 * 24 {
        if (50 * 24..50 * 24 + 21).contains(&i) {
            continue;
        }
        let t = MONDAY + i * HOUR;
        timestamps.push(t);
        values.push((0.12 + 0.04 * wave(t) + 0.012 * rng.normal()).clamp(0.05, 0.2));
    }
    let gap_from = MONDAY + (50 * 24 - 1) * HOUR;
    let v = verdict("cost_per_click", timestamps, values);
    assert!(
        v.anomalies.iter().all(|a| a.kind != WindowKind::Outage),
        "{}",
        v.verdict
    );
    assert!(v.severity < 8, "{}", v.verdict);
    let named = format!("no data from {}", to_rfc3339(gap_from)).to_lowercase();
    assert!(
        v.verdict.to_lowercase().contains(&named),
        "the gap is named as missing data ({named}): {}",
        v.verdict
    );
}

/// What the metrics stream investigates when its live score opens an incident: the hours before
/// it and the first minutes of it, the rise still going on. On a Sunday afternoon, in data that
/// began that morning, a rise is no week starting in some time zone: the calendar explains
/// quieter stretches, and a rise only when it is over (the working day).
#[test]
fn a_rise_still_going_on_on_a_sunday_afternoon_is_an_incident() {
    let sunday_morning = MONDAY + 6 * DAY + 9 * HOUR + 40 * MINUTE;
    let timestamps: Vec<i64> = (0..270).map(|i| sunday_morning + i * MINUTE).collect();
    let values = (0..270)
        .map(|i| {
            let noise = 2.0 * ((i as f64 * 12.9898).sin() * 43_758.547).fract();
            100.0 + noise + if i >= 250 { 60.0 } else { 0.0 }
        })
        .collect();
    let verdict = verdict("checkout_latency", timestamps, values);
    assert!(verdict.anomalous, "{}", verdict.verdict);
}

/// Two days of one-minute points from `start`: a daily wave, 3% noise, the weekend 25% quieter.
fn two_days_from(start: i64, seed: u64) -> (Vec<i64>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let timestamps: Vec<i64> = (0..2 * 1440 - 1).map(|i| start + i * MINUTE).collect();
    let values = timestamps
        .iter()
        .map(|&t| {
            let weekend = if (t - MONDAY).rem_euclid(7 * DAY) >= 5 * DAY {
                0.75
            } else {
                1.0
            };
            500.0 * weekend * (1.0 + 0.2 * wave(t)) * (1.0 + 0.03 * rng.normal())
        })
        .collect();
    (timestamps, values)
}

/// The verdicts that call [`two_days_from`] `start` anomalous, over seeds 0 to 9.
fn alarms_on_ten_seeds(start: i64) -> Vec<String> {
    (0..10)
        .filter_map(|seed| {
            let (timestamps, values) = two_days_from(start, seed);
            let v = verdict("orders", timestamps, values);
            v.anomalous.then(|| format!("seed {seed}: {}", v.verdict))
        })
        .collect()
}

#[test]
fn two_days_across_a_weekend_edge_are_no_incident() {
    // A weekday and a weekend day teach no daily profile: each judged against the mean of the
    // two, both read as "seasonality breaks". One day's rhythm is fitted instead, and the
    // weekend's step is the calendar.
    let starts = [
        (
            "Thursday 17:04 to Saturday",
            FRIDAY - DAY + 17 * HOUR + 4 * MINUTE,
        ),
        ("Sunday 11:59 to Tuesday", SUNDAY + 11 * HOUR + 59 * MINUTE),
        // Ten hours of Saturday are too few to fit a weekend against the weekdays: the two
        // days' profile judged each day against the other. The weekend is fitted beside the
        // day's rhythm instead.
        (
            "Thursday 09:51 to Saturday morning",
            FRIDAY - DAY + 9 * HOUR + 51 * MINUTE,
        ),
    ];
    for (what, start) in starts {
        let alarms = alarms_on_ten_seeds(start);
        assert!(alarms.len() <= 1, "{what}: {alarms:#?}");
    }
    // Saturday to Monday morning ends in the rise back to weekday traffic: no calendar period
    // explains a rise the data end in (it is what the metrics stream investigates the moment
    // an incident opens), so it is reported, hedged: a warning that names the weekend.
    for seed in 0..3 {
        let (timestamps, values) = two_days_from(SATURDAY + 8 * HOUR + 56 * MINUTE, seed);
        let v = verdict("orders", timestamps, values);
        if v.anomalous {
            assert!(v.severity <= 6, "seed {seed}: {}", v.verdict);
            assert!(v.verdict.contains("first weekend"), "{}", v.verdict);
        }
    }
}

/// One-minute points from `start` for `days` (less a minute): business traffic, 80% busier
/// from 08:00 to 19:00 UTC on weekdays, on a slight daily wave, noise of 3% of the quiet
/// level.
fn working_hours_from(start: i64, days: i64, seed: u64) -> (Vec<i64>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let timestamps: Vec<i64> = (0..days * 1440 - 1).map(|i| start + i * MINUTE).collect();
    let values = timestamps
        .iter()
        .map(|&t| {
            let since_monday = (t - MONDAY).rem_euclid(7 * DAY);
            let hour = since_monday % DAY / HOUR;
            let busy = since_monday < 5 * DAY && (8..19).contains(&hour);
            let factor = if busy { 1.8 } else { 1.0 };
            200.0 * (factor * (1.0 + 0.1 * wave(t)) + 0.03 * rng.normal())
        })
        .collect();
    (timestamps, values)
}

#[test]
fn working_hours_are_the_rhythm_of_a_day_or_two_and_a_spike_in_them_is_not() {
    // A smooth wave leaves the working day's square step behind: every 08:00 rise and 19:00
    // fall was an "incident". The working hours are fitted as one of the day's shapes.
    let starts = [
        (
            "Tuesday 19:33, one day",
            MONDAY + DAY + 19 * HOUR + 33 * MINUTE,
            1,
        ),
        (
            "Wednesday 16:37, two days",
            MONDAY + 2 * DAY + 16 * HOUR + 37 * MINUTE,
            2,
        ),
        (
            "Thursday 10:10 to Saturday",
            FRIDAY - DAY + 10 * HOUR + 10 * MINUTE,
            2,
        ),
    ];
    for (what, start, days) in starts {
        let mut alarms = Vec::new();
        for seed in 0..5 {
            let (timestamps, values) = working_hours_from(start, days, seed);
            let v = verdict("requests", timestamps, values);
            if v.anomalous {
                alarms.push(format!("seed {seed}: {}", v.verdict));
            }
        }
        assert!(alarms.is_empty(), "{what}: {alarms:#?}");
    }
    // Six times the level for three minutes in the afternoon of a working day is found.
    let start = MONDAY + 2 * DAY + 16 * HOUR + 37 * MINUTE;
    let spike_at = MONDAY + 3 * DAY + 14 * HOUR;
    for seed in 0..3 {
        let (timestamps, mut values) = working_hours_from(start, 2, seed);
        let at = index_at(&timestamps, spike_at);
        values[at..at + 3].iter_mut().for_each(|v| *v *= 6.0);
        let v = verdict("requests", timestamps, values);
        assert!(v.anomalous, "seed {seed}: {}", v.verdict);
        let main = v.main_window().unwrap();
        assert!(
            (main.start_ms - spike_at).abs() <= 5 * MINUTE,
            "seed {seed}: {}",
            v.verdict
        );
    }
}

#[test]
fn a_quieter_weekend_the_data_end_two_hours_into_is_the_calendar() {
    // Two days that end two hours into Saturday: the weekend has begun on the hour, quieter.
    let start = FRIDAY - DAY + 2 * HOUR + 7 * MINUTE;
    let alarms = alarms_on_ten_seeds(start);
    assert!(alarms.len() <= 1, "{alarms:#?}");
    // The same drop from Friday 18:25 is something that happened: no day begins then.
    for seed in 0..3 {
        let (timestamps, mut values) = two_days_from(start, seed);
        let (from, to) = (
            index_at(&timestamps, FRIDAY + 18 * HOUR + 25 * MINUTE),
            index_at(&timestamps, SATURDAY),
        );
        values[from..to].iter_mut().for_each(|x| *x *= 0.75);
        let v = verdict("orders", timestamps, values);
        assert!(v.anomalous, "seed {seed}: {}", v.verdict);
    }
}

/// Four days of five-minute points from Thursday 22:55 with no daily rhythm, 3% noise, the
/// weekend 22% quieter.
fn four_flat_days(seed: u64) -> (Vec<i64>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let start = FRIDAY - HOUR - 5 * MINUTE;
    let timestamps: Vec<i64> = (0..4 * 288).map(|i| start + i * 5 * MINUTE).collect();
    let values = timestamps
        .iter()
        .map(|&t| {
            let weekend = (SATURDAY..SUNDAY + DAY).contains(&t);
            90.0 * if weekend { 0.78 } else { 1.0 } * (1.0 + 0.03 * rng.normal())
        })
        .collect();
    (timestamps, values)
}

/// Errors per five minutes, about 6 and Poisson, from Friday 18:15 for four days, tripled
/// from Sunday 19:20: the same on weekends, a rise that stays.
fn errors_tripled_on_a_sunday_evening(seed: u64) -> (Vec<i64>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let start = FRIDAY + 18 * HOUR + 15 * MINUTE;
    let rise = SUNDAY + 19 * HOUR + 20 * MINUTE;
    let timestamps: Vec<i64> = (0..4 * 288 - 1).map(|i| start + i * 5 * MINUTE).collect();
    let values = timestamps
        .iter()
        .map(|&t| rng.poisson(if t >= rise { 18.0 } else { 6.0 }) as f64)
        .collect();
    (timestamps, values)
}

#[test]
fn a_quieter_weekend_without_a_daily_rhythm_is_the_calendar_and_a_change_in_it_is_not() {
    // With no rhythm to fit, the weekend was judged against a level that followed it a few
    // hours late: its start and end were "level shifts". It is a level of its own.
    for seed in 0..5 {
        let (timestamps, values) = four_flat_days(seed);
        let v = verdict("orders", timestamps, values);
        assert!(!v.anomalous, "seed {seed}: {}", v.verdict);
    }
    // In data from Friday evening, most of the quiet part of a metric that tripled on Sunday
    // evening is weekend, and all its weekdays come after the rise: yet it changed when it
    // changed, and no weekend takes it away.
    for seed in 0..5 {
        let (timestamps, values) = errors_tripled_on_a_sunday_evening(seed);
        let v = verdict("errors", timestamps, values);
        assert!(v.anomalous, "seed {seed}: {}", v.verdict);
    }
}

#[test]
fn a_friday_evening_step_in_two_days_that_end_on_a_saturday_is_found() {
    let start = FRIDAY - DAY + 9 * HOUR + 51 * MINUTE;
    // A step of +25% from Friday 18:25 that stays is still found.
    for seed in 0..3 {
        let (timestamps, mut values) = two_days_from(start, seed);
        step_from_friday_evening(&timestamps, &mut values);
        let v = verdict("orders", timestamps, values);
        assert!(v.anomalous, "seed {seed}: {}", v.verdict);
    }
}

/// Thirty hours of flat one-minute latency that end `end`, within ±5% of its level, at 4×
/// for the last 100 minutes (the Prometheus end-to-end test's incident).
fn step_in_the_last_thirty_hours(end: i64, seed: u64) -> (Vec<i64>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let onset = end - 100 * MINUTE;
    let timestamps: Vec<i64> = (end - 30 * HOUR..=end).step_by(MINUTE as usize).collect();
    let values = timestamps
        .iter()
        .map(|&t| {
            let v = 120.0 * rng.range(0.95, 1.05);
            if t >= onset {
                4.0 * v
            } else {
                v
            }
        })
        .collect();
    (timestamps, values)
}

/// Found by the Prometheus end-to-end test at 02:40 on a Monday: a day fitted to thirty
/// hours that held four of Monday gave Monday a level and a wave of its own, and the wave
/// drew the incident's rise; the window opened at midnight, at +173% instead of +300%.
#[test]
fn a_step_opens_its_window_where_it_starts_at_every_hour_of_the_week() {
    for hour in (0..7 * 24).step_by(2) {
        let end = MONDAY + hour * HOUR + 20 * MINUTE;
        let (timestamps, values) = step_in_the_last_thirty_hours(end, hour as u64);
        let v = verdict("api_latency_seconds", timestamps, values);
        let window = &v.anomalies[0];
        let start = window.start_ms;
        let onset = end - 100 * MINUTE;
        assert!(
            (start - onset).abs() <= 10 * MINUTE && window.magnitude > 2.5,
            "ending {}: window from {} at {:+.0}%, the step began at {}",
            to_rfc3339(end),
            to_rfc3339(start),
            100.0 * window.magnitude,
            to_rfc3339(onset)
        );
    }
}

/// Two weekdays of five-minute points: a daily wave of ±40%, noise of 4% of the value (so
/// the busy hours are noisier), the noise `after_factor` times larger from Wednesday noon.
fn wave_with_proportional_noise(after_factor: f64, seed: u64) -> (Vec<i64>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let start = MONDAY + DAY;
    let noon = start + DAY + 12 * HOUR;
    let timestamps: Vec<i64> = (0..2 * 288).map(|i| start + i * 5 * MINUTE).collect();
    let values = timestamps
        .iter()
        .map(|&t| {
            let noise = if t >= noon { 0.04 * after_factor } else { 0.04 };
            300.0 * (1.0 + 0.4 * wave(t)) * (1.0 + noise * rng.normal())
        })
        .collect();
    (timestamps, values)
}

/// A day of one-minute business traffic from Tuesday 05:00, 80% busier from 08:00 to 19:00
/// UTC, with noise of 3% of the value: the working hours are noisier by as much.
fn working_hours_with_proportional_noise(seed: u64) -> (Vec<i64>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let start = MONDAY + DAY + 5 * HOUR;
    let timestamps: Vec<i64> = (0..1440 - 1).map(|i| start + i * MINUTE).collect();
    let values = timestamps
        .iter()
        .map(|&t| {
            let hour = (t - MONDAY).rem_euclid(DAY) / HOUR;
            let busy = if (8..19).contains(&hour) { 1.8 } else { 1.0 };
            200.0 * busy * (1.0 + 0.1 * wave(t)) * (1.0 + 0.03 * rng.normal())
        })
        .collect();
    (timestamps, values)
}

/// A change of spread must show in the value's unit and as a share of the baseline alike:
/// the working hours' larger noise is the level's, a wave's quiet hours are relatively
/// noisier, and tripled noise is both. (Reading the test in each level's own noise scale
/// instead absorbs a change of spread that falls on the busy hours: the tripled noise of a
/// Wednesday afternoon went unseen.)
#[test]
fn noise_that_grows_with_a_rhythm_is_no_change_of_spread_but_noise_that_triples_is() {
    let variance_changes = |v: &Verdict| {
        report(v, AgentName::ChangeDetective)
            .windows
            .iter()
            .filter(|w| w.kind == WindowKind::VarianceChange)
            .count()
    };
    for seed in 0..5 {
        let (timestamps, values) = working_hours_with_proportional_noise(seed);
        let v = verdict("requests", timestamps, values);
        assert_eq!(variance_changes(&v), 0, "seed {seed}: {}", v.verdict);
        let (timestamps, values) = wave_with_proportional_noise(1.0, seed);
        let v = verdict("requests", timestamps, values);
        assert_eq!(variance_changes(&v), 0, "seed {seed}: {}", v.verdict);
        assert!(!v.anomalous, "seed {seed}: {}", v.verdict);
    }
    for seed in 0..3 {
        let (timestamps, values) = wave_with_proportional_noise(3.0, seed);
        let v = verdict("requests", timestamps, values);
        assert_eq!(variance_changes(&v), 1, "seed {seed}: {}", v.verdict);
    }
}

/// Errors per five minutes, about 6 and Poisson, for four days from Monday 18:15, `factor`
/// times as many from Wednesday 19:20 on.
fn errors_rising_on_a_wednesday(factor: f64, seed: u64) -> (Vec<i64>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let start = MONDAY + 18 * HOUR + 15 * MINUTE;
    let rise = MONDAY + 2 * DAY + 19 * HOUR + 20 * MINUTE;
    let timestamps: Vec<i64> = (0..4 * 288 - 1).map(|i| start + i * 5 * MINUTE).collect();
    let values = timestamps
        .iter()
        .map(|&t| rng.poisson(if t >= rise { 6.0 * factor } else { 6.0 }) as f64)
        .collect();
    (timestamps, values)
}

/// A doubled error count that stays is found. The level test asked a shift to be 3 times the
/// noise of one bucket median to the next: a count of 6 in buckets of five readings has a
/// noise of about 2, so doubling it passed 2 times in 5. The bar is now 2 times how far the
/// buckets wander on their own (more than the next-bucket noise for a metric with memory).
#[test]
fn a_doubled_error_count_that_stays_is_found() {
    for seed in 0..5 {
        let (timestamps, values) = errors_rising_on_a_wednesday(2.0, seed);
        let v = verdict("errors", timestamps, values);
        assert!(v.anomalous, "seed {seed}: {}", v.verdict);
    }
}

/// Two days of one-minute points from Tuesday 09:00: a daily wave of ±25% and AR(1) noise
/// with coefficient 0.95 and a stationary spread of 6% (a metric that wanders).
fn wandering_days(seed: u64) -> (Vec<i64>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let start = MONDAY + DAY + 9 * HOUR;
    let timestamps: Vec<i64> = (0..2 * 1440 - 1).map(|i| start + i * MINUTE).collect();
    let mut memory = 0.0;
    let values = timestamps
        .iter()
        .map(|&t| {
            memory = 0.95 * memory + (1.0f64 - 0.95 * 0.95).sqrt() * rng.normal();
            300.0 * (1.0 + 0.25 * wave(t)) * (1.0 + 0.06 * memory)
        })
        .collect();
    (timestamps, values)
}

/// The baseline bends with a wandering metric's wander almost everywhere, so one sharper
/// excursion stood out from the residual's other stretches (on the grid, a quarter of such
/// normal series raised an alarm; `efficacy.rs` holds that figure). A stretch must now also
/// stand out once only the rhythm and the day's level are taken out: a doubling for three
/// hours still does.
#[test]
fn a_doubling_for_three_hours_in_a_metric_that_wanders_is_found() {
    for seed in 0..5 {
        let (timestamps, mut values) = wandering_days(seed);
        let from = index_at(&timestamps, MONDAY + 2 * DAY + 15 * HOUR);
        values[from..from + 180].iter_mut().for_each(|x| *x *= 2.0);
        let v = verdict("latency", timestamps, values);
        assert!(v.anomalous, "seed {seed}: {}", v.verdict);
        let t = MONDAY + 2 * DAY + 16 * HOUR;
        assert!(
            v.anomalies.iter().any(|w| w.start_ms <= t && t <= w.end_ms),
            "seed {seed}: {:?}",
            v.anomalies
        );
    }
}

/// Twelve days of hourly readings from Monday, flat at 500 with 2% noise; from Saturday 15:00
/// on, `per_day` more of it each day (1% a day ends 3.5 noise scales up).
fn flat_days_drifting_from_saturday(per_day: f64, seed: u64) -> (Vec<i64>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let onset = SATURDAY + 15 * HOUR;
    let timestamps: Vec<i64> = (0..12 * 24).map(|i| MONDAY + i * HOUR).collect();
    let values = timestamps
        .iter()
        .map(|&t| {
            let days = (t - onset).max(0) as f64 / DAY as f64;
            500.0 * (1.0 + per_day * days) + 10.0 * rng.normal()
        })
        .collect();
    (timestamps, values)
}

/// A bend in a quiet metric's trend needed F ≥ 25 over a straight line whatever the metric:
/// the bar of a metric whose buckets remember about half of the last one. Buckets with no
/// memory pass 10 by chance about once in a hundred, and the bar now rises with the memory
/// the bend leaves, (1+ρ)/(1−ρ): drifts of 1% a day from a first Saturday, missed 1 time in
/// 10 before, are all found, and the same days with no drift raise nothing.
#[test]
fn a_slow_drift_from_the_first_weekend_is_found_on_a_quiet_metric() {
    for seed in 0..10 {
        let (timestamps, values) = flat_days_drifting_from_saturday(0.01, seed);
        let end = *timestamps.last().unwrap();
        let v = verdict("queue_depth", timestamps, values);
        assert!(v.anomalous, "seed {seed}: {}", v.verdict);
        assert!(
            v.anomalies.iter().any(|w| w.end_ms == end),
            "seed {seed}: {:?}",
            v.anomalies
        );
        let (timestamps, values) = flat_days_drifting_from_saturday(0.0, seed);
        let v = verdict("queue_depth", timestamps, values);
        assert!(!v.anomalous, "seed {seed}, no drift: {}", v.verdict);
    }
}

/// One day of one-minute readings from Thursday 11:00 around 100, AR(1) noise with
/// coefficient 0.95 and a stationary spread of 5% (a metric that wanders); from 40% of the
/// day on, every 15 minutes, two readings at three times the level.
fn bursts_in_a_wandering_day(seed: u64) -> (Vec<i64>, Vec<f64>, i64) {
    let mut rng = Rng::new(seed);
    let start = MONDAY + 3 * DAY + 11 * HOUR;
    let timestamps: Vec<i64> = (0..1440).map(|i| start + i * MINUTE).collect();
    let first_burst = 576;
    let mut memory = 0.0;
    let values = (0..timestamps.len())
        .map(|i| {
            memory = 0.95 * memory + (1.0f64 - 0.95 * 0.95).sqrt() * rng.normal();
            let burst = i >= first_burst && (i - first_burst) % 15 < 2;
            let level = 100.0 * (1.0 + 0.05 * memory);
            if burst {
                3.0 * level
            } else {
                level
            }
        })
        .collect();
    let first_burst_ms = timestamps[first_burst];
    (timestamps, values, first_burst_ms)
}

/// Bursts every 15 minutes that begin midway were taken for the metric's 15-minute rhythm:
/// the part of the day before them "repeated" at that lag only because a metric with memory
/// correlates with itself at any short lag. A rhythm must now be a peak of its own in every
/// part of the series.
#[test]
fn bursts_that_begin_midway_through_a_day_are_not_its_rhythm() {
    for seed in 0..5 {
        let (timestamps, values, first_burst) = bursts_in_a_wandering_day(seed);
        let v = verdict("errors", timestamps, values);
        assert!(v.anomalous, "seed {seed}: {}", v.verdict);
        assert_ne!(v.seasonality.as_deref(), Some("15 min"), "seed {seed}");
        let near = |t: i64| (t - first_burst).abs() <= 30 * MINUTE;
        assert!(
            v.anomalies.iter().any(|w| near(w.start_ms)),
            "seed {seed}: {:?}",
            v.anomalies
        );
    }
}

/// In a day of data, the trend before a bend is read from less than a day: the rising half of
/// the day's rhythm, extrapolated, put the falling half far below it ("gradual drift of −47%"
/// on 12 of the grid's 80 normal days of one-minute counts). What follows such a bend is
/// judged against the level before it instead.
#[test]
fn a_day_of_counts_rising_and_falling_with_the_day_is_no_drift() {
    let mut drifts = Vec::new();
    for placement in Placement::ALL {
        for seed in 0..20 {
            let case = generate(
                Kind::ErrorBursts,
                Family::SmallCounts,
                placement,
                seed,
                false,
            );
            let v = investigate(&case.series, &[], Weights::default());
            let drift = report(&v, AgentName::ChangeDetective)
                .windows
                .iter()
                .any(|w| w.kind == WindowKind::Drift);
            if drift {
                drifts.push(format!("{placement:?} seed {seed}: {}", v.verdict));
            }
        }
    }
    assert!(drifts.is_empty(), "{drifts:#?}");
}

/// Eight days of 5-minute CPU readings from Monday at 40% ± 2%, the first three days and seven
/// hours 15% lower, then four times the level from Thursday 07:00 until 18:00.
fn a_surge_after_a_quiet_start(seed: u64) -> (Vec<i64>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let surge = MONDAY + 3 * DAY + 7 * HOUR;
    let over = MONDAY + 3 * DAY + 18 * HOUR;
    let timestamps: Vec<i64> = (0..8 * 288).map(|i| MONDAY + i * 5 * MINUTE).collect();
    let values = timestamps
        .iter()
        .map(|&t| {
            let level = match t {
                t if t >= over => 40.0,
                t if t >= surge => 160.0,
                _ => 34.0,
            };
            level * (1.0 + 0.02 * rng.normal())
        })
        .collect();
    (timestamps, values)
}

/// A window that touched another of the opposite direction was merged with it, so a surge
/// right after a quieter stretch was reported from the start of the quiet stretch (and,
/// judged as one, the whole did not stand out: rds_cpu_utilization_e47b3b's labelled surge
/// on a Sunday morning was missed). Windows of opposite directions are one event only when
/// they share most of the shorter one.
#[test]
fn a_surge_right_after_a_quiet_stretch_is_a_window_of_its_own() {
    let surge = MONDAY + 3 * DAY + 7 * HOUR;
    for seed in 0..5 {
        let (timestamps, values) = a_surge_after_a_quiet_start(seed);
        let v = verdict("cpu", timestamps, values);
        assert!(v.anomalous, "seed {seed}: {}", v.verdict);
        assert!(
            v.anomalies
                .iter()
                .any(|w| (w.start_ms - surge).abs() <= 30 * MINUTE && w.magnitude > 1.0),
            "seed {seed}: {:?}",
            v.anomalies
        );
    }
}
