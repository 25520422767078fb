//! The acceptance targets of the core engine on the seeded synthetic tiers and the wider set of
//! normal series (heavy-tailed noise, a first weekend, small counts, sparse series with holes),
//! 20 seeds each: recall 100% easy and medium, ≥ 95% hard, ≤ 1% false positives, Brier score
//! ≤ 0.05.

use anomaly_hunter_engine::evaluation::efficacy;

#[test]
fn efficacy_targets_are_met() {
    let report = efficacy::run(0..20);
    println!("{report}");
    assert_eq!(report.recall["easy"], 1.0, "easy recall");
    assert_eq!(report.recall["medium"], 1.0, "medium recall");
    assert!(
        report.recall["hard"] >= 0.95,
        "hard recall {}",
        report.recall["hard"]
    );
    assert!(
        report.false_positive_rate <= 0.01,
        "false positives {}",
        report.false_positive_rate
    );
    for family in [
        "heavy_tailed",
        "weekend_step",
        "quantised_counter",
        "sparse_gaps",
    ] {
        assert!(
            report.false_positives_by_kind[family] <= 0.05,
            "{family}: {}",
            report.false_positives_by_kind[family]
        );
    }
    assert!(report.brier_score <= 0.05, "Brier {}", report.brier_score);
    assert!(
        report
            .outcomes
            .iter()
            .filter(|o| !o.expected_anomalous)
            .count()
            >= 200
    );
}
