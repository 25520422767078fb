//! The acceptance targets of the core engine on the seeded synthetic tiers (10 seeds per
//! scenario, 60 normal series): recall 100% easy and medium, ≥ 80% hard, ≤ 3% false
//! positives, Brier score ≤ 0.15.

use anomaly_hunter::bench::efficacy;

#[test]
fn efficacy_targets_are_met() {
    let report = efficacy::run(10);
    println!("{report}");
    assert_eq!(report.recall["easy"], 1.0, "easy recall");
    assert_eq!(report.recall["medium"], 1.0, "medium recall");
    assert!(
        report.recall["hard"] >= 0.8,
        "hard recall {}",
        report.recall["hard"]
    );
    assert!(
        report.false_positive_rate <= 0.03,
        "false positives {}",
        report.false_positive_rate
    );
    assert!(report.brier_score <= 0.15, "Brier {}", report.brier_score);
    assert!(
        report
            .outcomes
            .iter()
            .filter(|o| !o.expected_anomalous)
            .count()
            >= 50
    );
}
