//! Degenerate but legal series get sensible verdicts and never a panic.

use anomaly_hunter_engine::agents::synthesizer::Weights;
use anomaly_hunter_engine::investigation::{investigate, Verdict};
use anomaly_hunter_engine::series::Series;
use anomaly_hunter_engine::synthetic::rng::Rng;

fn verdict_of(values: Vec<f64>, timestamps: Option<Vec<i64>>) -> Verdict {
    let timestamps = timestamps.unwrap_or_else(|| {
        (0..values.len() as i64)
            .map(|i| 1_700_000_000_000 + i * 60_000)
            .collect()
    });
    investigate(
        &Series::from_points("m", timestamps, values).unwrap(),
        &[],
        Weights::default(),
    )
}

#[test]
fn flat_series_are_normal() {
    for value in [0.0, 5.0, -3.0, 1e300, 1e-300] {
        let v = verdict_of(vec![value; 200], None);
        assert!(!v.anomalous, "constant {value}: {}", v.verdict);
        assert!(v.confidence.is_finite());
    }
}

#[test]
fn noise_and_straight_lines_are_normal() {
    let mut rng = Rng::new(3);
    assert!(
        !verdict_of((0..20).map(|_| rng.uniform()).collect(), None).anomalous,
        "20 random points"
    );
    assert!(
        !verdict_of((0..300).map(|_| rng.normal()).collect(), None).anomalous,
        "white noise"
    );
    assert!(
        !verdict_of((0..100).map(f64::from).collect(), None).anomalous,
        "a straight ramp"
    );
}

#[test]
fn irregular_sampling_is_not_an_outage() {
    let mut rng = Rng::new(5);
    let mut t = 1_700_000_000_000i64;
    let timestamps: Vec<i64> = (0..300)
        .map(|_| {
            t += (rng.range(1.0, 600.0) * 1000.0) as i64;
            t
        })
        .collect();
    let v = verdict_of(
        (0..300).map(|_| 10.0 + rng.normal()).collect(),
        Some(timestamps),
    );
    assert!(!v.anomalous, "{}", v.verdict);
}

#[test]
fn a_lone_spike_and_a_drop_to_zero_are_found() {
    let mut spike = vec![0.0; 300];
    spike[150] = 100.0;
    let v = verdict_of(spike, None);
    assert!(
        v.anomalous
            && v.anomalies
                .iter()
                .any(|a| a.start_index <= 150 && a.end_index >= 150),
        "{}",
        v.verdict
    );

    let mut rng = Rng::new(9);
    let mut down: Vec<f64> = (0..300).map(|_| 50.0 + rng.normal()).collect();
    down[200..240].iter_mut().for_each(|v| *v = 0.0);
    let v = verdict_of(down, None);
    assert!(
        v.anomalous && v.severity >= 8,
        "an outage is at least severity 8: {}",
        v.verdict
    );
}
