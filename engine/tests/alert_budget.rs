//! A watch on ordinary metrics pages rarely: every normal family of the efficacy grid, seeded
//! with two weeks of its history and then scored live for a week at a watch's default step,
//! opens at most one incident per series-week (the budget).

use anomaly_hunter_engine::evaluation::alert_budget;

#[test]
fn a_watch_opens_at_most_one_incident_per_series_week_on_every_normal_family() {
    let budget = alert_budget::run(0..4, 60_000);
    assert_eq!(budget.len(), 9);
    for family in &budget {
        assert!(
            family.per_series_week <= 1.0,
            "{}: {:.2} incidents per series-week ({budget:#?})",
            family.family,
            family.per_series_week
        );
    }
}
