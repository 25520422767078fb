//! Windows that match what happened: a verdict lists every incident that stood out (the one
//! it names first, the others strongest first), and the runs of a daily job are no incident.

use anomaly_hunter_engine::agents::synthesizer::Weights;
use anomaly_hunter_engine::investigation::{investigate, Anomaly, Verdict};
use anomaly_hunter_engine::series::Series;
use anomaly_hunter_engine::synthetic::rng::Rng;

/// 2024-01-01T00:00:00Z, a Monday.
const MONDAY: i64 = 1_704_067_200_000;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Two weeks of 5-minute points: a daily wave and 3% noise around 200.
fn two_weeks(seed: u64) -> (Vec<i64>, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let timestamps: Vec<i64> = (0..14 * 288).map(|i| MONDAY + i * 5 * MINUTE).collect();
    let values = timestamps
        .iter()
        .map(|&t| {
            let hour = (t - MONDAY).rem_euclid(DAY) as f64 / HOUR as f64;
            let wave = (std::f64::consts::TAU * (hour - 9.0) / 24.0).sin();
            200.0 * (1.0 + 0.2 * wave) * (1.0 + 0.03 * rng.normal())
        })
        .collect();
    (timestamps, values)
}

fn index_at(timestamps: &[i64], t: i64) -> usize {
    timestamps.partition_point(|x| *x < t)
}

/// Multiplies the points from `from` for `minutes` by `factor`.
fn inject(t: &[i64], v: &mut [f64], from: i64, minutes: i64, factor: f64) {
    let (start, end) = (index_at(t, from), index_at(t, from + minutes * MINUTE));
    v[start..=end].iter_mut().for_each(|x| *x *= factor);
}

fn verdict(timestamps: Vec<i64>, values: Vec<f64>) -> Verdict {
    let series = Series::from_points("orders", timestamps, values).unwrap();
    investigate(&series, &[], Weights::default())
}

fn covered(v: &Verdict, at: i64) -> bool {
    v.anomalies
        .iter()
        .any(|w| w.start_ms - 10 * MINUTE <= at && at <= w.end_ms + 10 * MINUTE)
}

#[test]
fn every_incident_that_stands_out_is_listed_the_named_one_first() {
    // Five incidents of different sizes on different days and hours: the verdict names the
    // largest, and the smaller ones are listed after it instead of counted away.
    let incidents = [
        (2 * DAY + 14 * HOUR, 20, 5.0),
        (4 * DAY + 10 * HOUR, 15, 2.5),
        (6 * DAY + 20 * HOUR, 30, 0.3),
        (8 * DAY + 16 * HOUR, 10, 2.0),
        (11 * DAY + 4 * HOUR, 20, 2.2),
    ];
    for seed in 0..3 {
        let (timestamps, mut values) = two_weeks(seed);
        for (at, minutes, factor) in incidents {
            inject(&timestamps, &mut values, MONDAY + at, minutes, factor);
        }
        let v = verdict(timestamps, values);
        assert!(v.anomalous, "seed {seed}: {}", v.verdict);
        for (at, _, factor) in incidents {
            assert!(
                covered(&v, MONDAY + at),
                "seed {seed}: the {factor}× incident on day {} is listed: {:?}",
                at / DAY,
                v.anomalies
            );
        }
        let main = v.main_window().unwrap();
        assert!(
            (main.start_ms - (MONDAY + 2 * DAY + 14 * HOUR)).abs() <= 10 * MINUTE,
            "seed {seed}: the 5× spike is named first: {}",
            v.verdict
        );
        let strength =
            |w: &anomaly_hunter_engine::investigation::Anomaly| w.magnitude.abs() * w.score;
        assert!(
            v.anomalies[1..]
                .windows(2)
                .all(|pair| strength(&pair[0]) >= strength(&pair[1])),
            "seed {seed}: the others strongest first: {:?}",
            v.anomalies
        );
    }
}

/// A backup at about 03:05–03:40 every night, lifting the metric tenfold for ten minutes.
fn with_a_nightly_job(seed: u64) -> (Vec<i64>, Vec<f64>) {
    let (timestamps, mut values) = two_weeks(seed);
    let mut rng = Rng::new(seed + 100);
    for day in 0..14 {
        let jitter = (rng.uniform() * 35.0) as i64;
        let from = MONDAY + day * DAY + 3 * HOUR + 5 * MINUTE + jitter * MINUTE;
        inject(&timestamps, &mut values, from, 10, 10.0);
    }
    (timestamps, values)
}

/// Windows in the first five hours of a day, where the job runs.
fn at_night(w: &&Anomaly) -> bool {
    (w.start_ms - MONDAY).rem_euclid(DAY) < 5 * HOUR
}

#[test]
fn the_runs_of_a_daily_job_are_no_incident() {
    for seed in 0..3 {
        let (timestamps, values) = with_a_nightly_job(seed);
        let v = verdict(timestamps, values);
        assert_eq!(
            v.anomalies.iter().filter(at_night).count(),
            0,
            "seed {seed}: no run of the job is listed: {}",
            v.verdict
        );
        assert!(
            v.verdict.contains("around 03:") && v.verdict.contains("a daily job"),
            "seed {seed}: the job is named: {}",
            v.verdict
        );
    }
}

#[test]
fn an_incident_among_the_runs_of_a_daily_job_is_found_alone() {
    for seed in 0..3 {
        let (timestamps, mut values) = with_a_nightly_job(seed);
        let incident = MONDAY + 9 * DAY + 14 * HOUR;
        inject(&timestamps, &mut values, incident, 10, 4.0);
        let v = verdict(timestamps, values);
        assert!(v.anomalous, "seed {seed}: {}", v.verdict);
        assert!(covered(&v, incident), "seed {seed}: {:?}", v.anomalies);
        assert_eq!(
            v.anomalies.iter().filter(at_night).count(),
            0,
            "seed {seed}: no run of the job is listed: {:?}",
            v.anomalies
        );
        assert!(v.verdict.contains("recurs on"), "{}", v.verdict);
    }
}
