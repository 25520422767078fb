//! Learning from feedback, end to end through the store (SQLite, and PostgreSQL when
//! configured): a metric whose benign batch-job bumps are marked false positive stops
//! alerting on them within 10 feedbacks while its real outages are still found, and a
//! confirmed root cause is cited by the next similar incident.

mod support;

use anomaly_hunter::pipeline::{investigate_and_record, Origin};
use anomaly_hunter::store::{NewFeedback, Store};
use engine::agents::synthesizer::Weights;
use engine::investigation::investigate;
use engine::learning::FeedbackVerdict;
use engine::series::Series;
use engine::synthetic::rng::Rng;

const METRIC: &str = "checkout_latency_ms";
const POINTS: usize = 1440;

/// A day of minutely latency around 200 ms with 3% noise.
fn background(rng: &mut Rng) -> Vec<f64> {
    (0..POINTS)
        .map(|_| 200.0 * (1.0 + 0.03 * rng.normal()))
        .collect()
}

/// A nightly batch job: latency 25–35% higher for five minutes. Real, but nobody cares.
fn benign_bump(seed: u64) -> Series {
    let mut rng = Rng::new(seed);
    let mut values = background(&mut rng);
    let at = rng.index(300, 1100);
    let lift = rng.range(1.25, 1.35);
    values[at..at + 5].iter_mut().for_each(|v| *v *= lift);
    series(values)
}

/// The service went down: latency reads zero for 30–45 minutes.
fn outage(seed: u64) -> Series {
    let mut rng = Rng::new(seed);
    let mut values = background(&mut rng);
    let at = rng.index(300, 1100);
    let length = rng.index(30, 46);
    values[at..at + length].iter_mut().for_each(|v| *v = 0.0);
    series(values)
}

fn series(values: Vec<f64>) -> Series {
    let timestamps = (0..POINTS as i64)
        .map(|i| 1_704_067_200_000 + i * 60_000)
        .collect();
    Series::from_points(METRIC, timestamps, values).unwrap()
}

async fn judge(store: &Store, id: &str, verdict: FeedbackVerdict, root_cause: Option<&str>) {
    store
        .add_feedback(NewFeedback {
            investigation_id: id.to_string(),
            verdict,
            root_cause: root_cause.map(str::to_string),
            author: Some("sre".into()),
            platform: Some("test".into()),
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn false_positives_teach_the_metric_to_stay_quiet_but_not_blind() {
    let bumps: Vec<Series> = (0..30).map(|round| benign_bump(1000 + round)).collect();
    let untaught = bumps
        .iter()
        .filter(|b| investigate(b, &[], Weights::default()).anomalous)
        .count();
    assert!(
        untaught >= 25,
        "without feedback the bumps alert ({untaught} of 30)"
    );
    for (backend, store) in support::stores("learning").await {
        let mut feedbacks = 0;
        let mut alerts_after_ten = 0;
        for (round, bump) in bumps.iter().enumerate() {
            let verdict = investigate_and_record(&store, bump, &[], &Origin::new("test"))
                .await
                .unwrap();
            if verdict.anomalous {
                if feedbacks >= 10 {
                    alerts_after_ten += 1;
                }
                judge(&store, &verdict.id, FeedbackVerdict::FalsePositive, None).await;
                feedbacks += 1;
            }
            if round % 5 == 4 {
                let real = investigate_and_record(
                    &store,
                    &outage(2000 + round as u64),
                    &[],
                    &Origin::new("test"),
                )
                .await
                .unwrap();
                assert!(
                    real.anomalous,
                    "{backend}: round {round}: a real outage must still be found: {}",
                    real.verdict
                );
                assert!(real.severity >= 8, "{backend}: an outage stays severe");
                judge(&store, &real.id, FeedbackVerdict::Confirmed, None).await;
            }
        }
        assert!(feedbacks >= 1, "{backend}: the first bump alerts");
        assert!(
            feedbacks <= 10,
            "{backend}: it took {feedbacks} false-positive feedbacks to go quiet"
        );
        assert_eq!(alerts_after_ten, 0, "{backend}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_confirmed_root_cause_is_cited_by_the_next_similar_incident() {
    for (backend, store) in support::stores("recall").await {
        let first = investigate_and_record(&store, &outage(1), &[], &Origin::new("test"))
            .await
            .unwrap();
        assert!(first.similar_incidents.is_empty(), "{backend}");
        judge(
            &store,
            &first.id,
            FeedbackVerdict::Confirmed,
            Some("payments DB failover"),
        )
        .await;
        let next = investigate_and_record(&store, &outage(2), &[], &Origin::new("test"))
            .await
            .unwrap();
        assert_eq!(next.similar_incidents.len(), 1, "{backend}");
        assert_eq!(
            next.similar_incidents[0].root_cause.as_deref(),
            Some("payments DB failover"),
            "{backend}"
        );
        assert!(
            next.hypothesis
                .contains("1 confirmed as “payments DB failover”"),
            "{backend}: {}",
            next.hypothesis
        );
        let root = next
            .agents
            .iter()
            .find(|a| a.agent.id() == "root_cause")
            .unwrap();
        let before = first
            .agents
            .iter()
            .find(|a| a.agent.id() == "root_cause")
            .unwrap();
        assert!(
            root.confidence > before.confidence,
            "{backend}: a confirmed match raises the Root Cause Agent's confidence"
        );
        assert!(
            root.evidence.iter().any(|e| e.name == "similar_incident"),
            "{backend}"
        );

        let unrelated = investigate_and_record(&store, &benign_bump(3), &[], &Origin::new("test"))
            .await
            .unwrap();
        assert!(
            unrelated
                .similar_incidents
                .iter()
                .all(|s| s.root_cause.is_none()),
            "{backend}: a short bump is not an outage"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_confirmation_the_same_shape_is_flagged_with_more_confidence() {
    let untaught = investigate(&benign_bump(12), &[], Weights::default());
    assert!(untaught.anomalous, "{}", untaught.verdict);
    assert!(
        untaught.confidence < 0.95,
        "room to grow: {}",
        untaught.confidence
    );
    for (backend, store) in support::stores("confirmed").await {
        let first = investigate_and_record(&store, &benign_bump(11), &[], &Origin::new("test"))
            .await
            .unwrap();
        assert!(first.anomalous, "{backend}: {}", first.verdict);
        judge(&store, &first.id, FeedbackVerdict::Confirmed, None).await;
        let next = investigate_and_record(&store, &benign_bump(12), &[], &Origin::new("test"))
            .await
            .unwrap();
        assert!(
            next.similar_incidents
                .iter()
                .any(|s| s.feedback == Some(FeedbackVerdict::Confirmed)),
            "{backend}: the confirmed bump is recalled"
        );
        assert!(
            next.confidence > untaught.confidence,
            "{backend}: {} after a confirmation vs {} before",
            next.confidence,
            untaught.confidence
        );
    }
}
