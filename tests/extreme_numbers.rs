//! Any finite f64 series gets a finite verdict or a clear refusal, and a chart drawn in bounded
//! time: ±f64::MAX, subnormals, constants, one huge outlier, mixtures of all of them.

use std::time::{Duration, Instant};

use anomaly_hunter::http::verdict_doc::VerdictDoc;
use anomaly_hunter::render::chart;
use engine::agents::synthesizer::Weights;
use engine::chart::ChartData;
use engine::investigation::decomposition_of;
use engine::investigation::investigate;
use engine::series::Series;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Numbers at the edges of f64 and ordinary ones.
fn extreme() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::MAX),
        Just(-f64::MAX),
        Just(1e308),
        Just(-1e308),
        Just(1e305),
        Just(-3e16),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        Just(-5e-324),
        Just(1e-300),
        Just(0.0),
        Just(1.0),
        Just(100.0),
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
    ]
}

/// A series: a level, noise of some amplitude, and a few extreme points placed anywhere.
fn series() -> impl Strategy<Value = Vec<f64>> {
    (
        extreme(),
        extreme(),
        20usize..240,
        prop::collection::vec((any::<prop::sample::Index>(), extreme()), 0..4),
        any::<bool>(),
    )
        .prop_map(|(level, noise, n, outliers, random)| {
            let mut values: Vec<f64> = (0..n)
                .map(|i| {
                    let wobble = ((i * 7919) % 13) as f64 / 13.0 - 0.5;
                    let v = level + noise * wobble;
                    if v.is_finite() {
                        v
                    } else {
                        level
                    }
                })
                .collect();
            if random {
                for (k, v) in values.iter_mut().enumerate() {
                    if k % 3 == 0 {
                        *v = -*v;
                    }
                }
            }
            for (at, value) in outliers {
                let i = at.index(n);
                values[i] = value;
            }
            values
        })
}

/// The verdict of `values` (one a minute): finite everywhere, as JSON too, and its chart drawn
/// within the bound.
fn assert_finite_verdict_and_chart(values: &[f64]) {
    let timestamps = (0..values.len() as i64)
        .map(|i| 1_700_000_000_000 + i * 60_000)
        .collect();
    let series = Series::from_points("m", timestamps, values.to_vec()).unwrap();
    let verdict = investigate(&series, &[], Weights::default());
    assert_eq!(verdict.non_finite(), None, "{values:?}");
    let json = serde_json::to_value(&verdict).unwrap();
    let doc: Result<VerdictDoc, _> = serde_json::from_value(json.clone());
    assert!(doc.is_ok(), "{json}");
    assert_chart_in_time(&verdict.chart);
}

/// Draws `data` and requires it done within two seconds (a few milliseconds normally).
fn assert_chart_in_time(data: &ChartData) {
    let started = Instant::now();
    let drawn = chart::png(data, "m", "t");
    assert!(drawn.is_ok(), "{drawn:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "drawing took {:?}",
        started.elapsed()
    );
}

#[test]
fn the_fuzzers_series_get_finite_verdicts_and_charts() {
    let mut hanging = vec![-3e16; 19];
    hanging.extend([-f64::MAX, -3e16, 0.0]);
    let mut infinite: Vec<f64> = (0..42).map(|i| 100.0 + f64::from(i % 7)).collect();
    infinite.push(1e308);
    let mut plateau = vec![1e308; 40];
    plateau[20] = -1e308;
    let alternating: Vec<f64> = (0..40)
        .map(|i| if i % 2 == 0 { 1e308 } else { -1e308 })
        .collect();
    let large: Vec<f64> = (0..60).map(|i| 1e305 * (1.0 + f64::from(i % 5))).collect();
    for values in [hanging, infinite, plateau, alternating, large] {
        assert_finite_verdict_and_chart(&values);
    }
}

#[test]
fn the_chart_that_hung_draws_in_time() {
    // What the chart of the fuzzer's series held before values were investigated in a safe
    // unit: the drawing spun forever on it.
    let mut values = vec![-3e16; 19];
    values.extend([-f64::MAX, -3e16, 0.0]);
    let timestamps = (0..22).map(|i| 1_700_000_000_000 + i * 60_000).collect();
    let series = Series::from_points("m", timestamps, values).unwrap();
    let data = ChartData::of(&series, &decomposition_of(&series), &[]);
    assert_chart_in_time(&data);
}

/// Any chart data at all, as a stored row might hold it.
fn chart_data() -> impl Strategy<Value = ChartData> {
    let time = prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        -10_000_000_000_000i64..10_000_000_000_000,
    ];
    (
        prop::collection::vec((time.clone(), extreme(), extreme()), 0..50),
        extreme(),
        prop::collection::vec((time.clone(), time.clone()), 0..4),
        prop::option::of(time),
        -400i32..400,
    )
        .prop_map(|(mut points, band, windows, focus_start, unit_exponent)| {
            points.sort_by_key(|p| p.0);
            ChartData {
                points,
                band,
                windows,
                focus_start,
                unit_exponent,
            }
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_finite_series_gets_a_finite_verdict_and_a_chart(values in series()) {
        assert_finite_verdict_and_chart(&values);
    }

    #[test]
    fn any_chart_data_draws_in_time(data in chart_data()) {
        assert_chart_in_time(&data);
    }
}
