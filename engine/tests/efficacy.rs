//! The acceptance targets of the engine on the efficacy grid (every incident kind on every
//! normal family at every placement, 20 seeds, the generator's ranges fixed before tuning):
//! recall 100% easy and medium and ≥ 95% hard in every placement, first weekend and Friday
//! evening included; false alarms ≤ 1% in every normal family; Brier score ≤ 0.05.

use anomaly_hunter_engine::evaluation::efficacy;

#[test]
fn efficacy_targets_are_met_in_every_placement_and_family() {
    let report = efficacy::run(0..20);
    println!("{report}");
    for (placement, recall) in &report.recall_by_placement {
        assert_eq!(recall["easy"], 1.0, "easy recall at {placement}");
        assert_eq!(recall["medium"], 1.0, "medium recall at {placement}");
        assert!(
            recall["hard"] >= 0.95,
            "hard recall at {placement}: {}",
            recall["hard"]
        );
    }
    assert_eq!(report.recall_by_placement.len(), 4);
    for (family, rate) in &report.false_positives_by_family {
        assert!(*rate <= 0.01, "false alarms on {family}: {rate}");
    }
    assert_eq!(report.false_positives_by_family.len(), 9);
    assert!(report.brier_score <= 0.05, "Brier {}", report.brier_score);
    assert!(
        report
            .outcomes
            .iter()
            .filter(|o| !o.expected_anomalous)
            .count()
            >= 3000
    );
}
