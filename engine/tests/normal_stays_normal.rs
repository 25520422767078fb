//! Noise that is normal stays normal: heavy tails, a first weekend, small counts and sparse
//! reporting are judged against the metric's own character, while a real incident in the
//! same data is still found.

use anomaly_hunter_engine::agents::synthesizer::Weights;
use anomaly_hunter_engine::investigation::investigate;
use anomaly_hunter_engine::series::Series;
use anomaly_hunter_engine::synthetic::normals::{generate, normal_cases};
use anomaly_hunter_engine::synthetic::scenarios::efficacy_cases;

fn with_values(series: &Series, values: Vec<f64>) -> Series {
    Series::from_points(series.metric.clone(), series.timestamps.clone(), values).unwrap()
}

#[test]
fn a_first_weekend_is_a_calendar_effect_not_an_incident() {
    for seed in 0..5 {
        let case = generate("weekend_step", seed);
        let verdict = investigate(&case.series, &[], Weights::default());
        assert!(!verdict.anomalous, "seed {seed}: {}", verdict.verdict);
        assert!(verdict.severity <= 3, "seed {seed}: {}", verdict.severity);
        assert!(
            verdict.verdict.contains("calendar effect") && verdict.verdict.contains("weekend"),
            "seed {seed}: {}",
            verdict.verdict
        );
    }
}

#[test]
fn single_readings_in_heavy_tailed_noise_are_normal_but_an_outage_in_it_is_not() {
    let case = generate("heavy_tailed", 3);
    let verdict = investigate(&case.series, &[], Weights::default());
    assert!(!verdict.anomalous, "{}", verdict.verdict);
    let pattern = &verdict.agents[0];
    assert!(
        pattern.evidence[0].detail.contains("outlier threshold"),
        "{:?}",
        pattern.evidence[0]
    );

    // The same noise with the metric stuck far above its level for 30 points.
    let mut values = case.series.values.clone();
    let median = anomaly_hunter_engine::stats::median(&values).unwrap();
    let n = values.len();
    for v in &mut values[n / 2..n / 2 + 30] {
        *v = median * 4.0;
    }
    let verdict = investigate(&with_values(&case.series, values), &[], Weights::default());
    assert!(verdict.anomalous, "{}", verdict.verdict);
    let main = verdict.main_window().unwrap();
    assert!(
        main.start_index <= n / 2 + 30 && main.end_index >= n / 2,
        "{main:?}"
    );
}

#[test]
fn the_largest_reading_of_heavy_tailed_noise_twice_in_a_row_is_an_outlier() {
    // Heavy-tailed noise makes its largest reading once; independent noise does not make it
    // twice in a row.
    for seed in 0..5 {
        let case = generate("heavy_tailed", seed);
        let mut values = case.series.values.clone();
        let median = anomaly_hunter_engine::stats::median(&values).unwrap();
        let n = values.len();
        let largest = (1..n - 1)
            .max_by(|&a, &b| {
                (values[a] - median)
                    .abs()
                    .total_cmp(&(values[b] - median).abs())
            })
            .unwrap();
        values[largest + 1] = values[largest];
        let verdict = investigate(&with_values(&case.series, values), &[], Weights::default());
        let pattern = &verdict.agents[0];
        assert!(
            pattern
                .windows
                .iter()
                .any(|w| w.start <= largest + 1 && w.end >= largest),
            "seed {seed}: {}",
            pattern.finding
        );
    }
}

#[test]
fn small_counts_and_sparse_reporting_are_normal() {
    for seed in 0..5 {
        for family in ["quantised_counter", "sparse_gaps"] {
            let case = generate(family, seed);
            let verdict = investigate(&case.series, &[], Weights::default());
            assert!(!verdict.anomalous, "{family} {seed}: {}", verdict.verdict);
        }
    }
}

#[test]
fn a_burst_of_counts_far_beyond_poisson_noise_is_found() {
    let case = generate("quantised_counter", 2);
    let mut values = case.series.values.clone();
    let median = anomaly_hunter_engine::stats::median(&values).unwrap();
    let at = values.len() * 2 / 3;
    for v in &mut values[at..at + 3] {
        *v = (median * 8.0 + 20.0).round();
    }
    let verdict = investigate(&with_values(&case.series, values), &[], Weights::default());
    assert!(verdict.anomalous, "{}", verdict.verdict);
    let main = verdict.main_window().unwrap();
    assert!(
        main.start_index <= at + 2 && main.end_index >= at,
        "{main:?}"
    );
}

#[test]
fn an_agent_claims_certainty_only_on_evidence_that_passes_its_own_bar() {
    let cases = efficacy_cases(0..4).into_iter().chain(normal_cases(0..4));
    for case in cases {
        let verdict = investigate(&case.series, &[], Weights::default());
        let pattern = &verdict.agents[0];
        let value = |name: &str| {
            pattern
                .evidence
                .iter()
                .find(|e| e.name == name)
                .map_or(0.0, |e| e.value)
        };
        let sure_of_an_anomaly =
            pattern.confidence >= 0.9 && !pattern.finding.contains("stays within");
        let outage = pattern.finding.starts_with("Outage");
        assert!(
            !sure_of_an_anomaly
                || outage
                || value("max_robust_z") >= 6.0
                || value("sustained_departure") >= 25.0,
            "{} seed {}: {} at {} on {:?}",
            case.scenario,
            case.seed,
            pattern.finding,
            pattern.confidence,
            pattern.evidence
        );
        if pattern.finding.contains("stays within") {
            assert!(
                pattern.confidence >= 0.5,
                "found nothing, so it is fairly sure nothing is there"
            );
        }
    }
}

/// A day of a metric with a daily rhythm (a day is too short to see the rhythm twice) is the
/// rhythm, not a drift; error bursts on the same day are still found.
#[test]
fn one_day_of_a_daily_rhythm_is_the_rhythm_and_bursts_on_it_are_not() {
    use anomaly_hunter_engine::synthetic::grid::{self, Family, Kind, Placement};
    for seed in 0..10 {
        for family in [Family::Daily, Family::Trend] {
            let normal = grid::generate(Kind::ErrorBursts, family, Placement::Night, seed, false);
            let verdict = investigate(&normal.series, &[], Weights::default());
            assert!(
                !verdict.anomalous,
                "{family:?} seed {seed}: {}",
                verdict.verdict
            );
            assert_eq!(verdict.seasonality.as_deref(), Some("daily"));
            let bursts = grid::generate(Kind::ErrorBursts, family, Placement::Night, seed, true);
            let verdict = investigate(&bursts.series, &[], Weights::default());
            assert!(
                verdict.anomalous,
                "{family:?} seed {seed}: {}",
                verdict.verdict
            );
        }
    }
}

/// On a day of a daily rhythm, a step of +40% at 13:20 that stays is still an incident: the
/// rhythm fitted to one day cannot swallow a change.
#[test]
fn a_step_on_one_day_of_a_daily_rhythm_is_found() {
    const MINUTE: i64 = 60_000;
    let start = 1_704_067_200_000; // Monday 00:00 UTC
    let timestamps: Vec<i64> = (0..1_440).map(|i| start + i * MINUTE).collect();
    for seed in 0..5u32 {
        let values: Vec<f64> = (0..1_440)
            .map(|i| {
                let hour = i as f64 / 60.0;
                let wave = 100.0 + 25.0 * (std::f64::consts::TAU * (hour - 9.0) / 24.0).sin();
                let noise =
                    ((f64::from(seed) * 7.1 + i as f64 * 12.9898).sin() * 43_758.547).fract() - 0.5;
                wave * if i >= 800 { 1.4 } else { 1.0 } + 4.0 * noise
            })
            .collect();
        let series = Series::from_points("latency", timestamps.clone(), values).unwrap();
        let verdict = investigate(&series, &[], Weights::default());
        assert!(verdict.anomalous, "seed {seed}: {}", verdict.verdict);
        let main = verdict.main_window().unwrap();
        assert!(
            (795..=810).contains(&main.start_index) && main.magnitude > 0.2,
            "seed {seed}: {}",
            verdict.verdict
        );
    }
}
