//! The store, on SQLite and on PostgreSQL (when `ANOMALY_HUNTER_TEST_POSTGRES_URL` is set):
//! migrations, round trips, idempotent ingest, feedback and stats, concurrent writers, and a
//! damaged SQLite file that must be refused and left untouched.

mod support;

use std::sync::Arc;

use anomaly_hunter::pipeline::{investigate_and_record, Origin};
use anomaly_hunter::store::{Location, NewFeedback, Store, StoreError};
use engine::learning::FeedbackVerdict;
use engine::series::csv::{read_csv, CsvOptions};
use engine::series::Series;

fn example(name: &str) -> Series {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    read_csv(&path, &CsvOptions::default()).unwrap()
}

/// Investigates an example file and stores the verdict, as `source` would.
async fn record(store: &Store, file: &str, source: &str) -> engine::investigation::Verdict {
    investigate_and_record(store, &example(file), &[], &Origin::new(source))
        .await
        .unwrap()
}

fn feedback(id: &str, verdict: FeedbackVerdict, root_cause: Option<&str>) -> NewFeedback {
    NewFeedback {
        investigation_id: id.to_string(),
        verdict,
        root_cause: root_cause.map(str::to_string),
        author: Some("tester".into()),
        platform: Some("test".into()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn investigations_round_trip() {
    for (backend, store) in support::stores("round_trip").await {
        let series = example("db_query_latency.csv");
        let verdict = investigate_and_record(&store, &series, &[], &Origin::new("cli"))
            .await
            .unwrap();
        let stored = store.investigation(&verdict.id).await.unwrap();
        assert_eq!(stored.metric, "db_query_latency", "{backend}");
        assert!(stored.anomalous, "{backend}");
        assert_eq!(
            stored.verdict["pattern"], "connection_pool_exhaustion",
            "{backend}"
        );
        assert_eq!(
            stored.verdict["agents"].as_array().unwrap().len(),
            3,
            "{backend}"
        );
        let history = store.history(Some("db_query_latency"), 10).await.unwrap();
        assert_eq!(history.len(), 1, "{backend}");
        assert_eq!(history[0].id, verdict.id, "{backend}");
        assert!(
            store.history(Some("other"), 10).await.unwrap().is_empty(),
            "{backend}"
        );
        assert!(
            matches!(
                store.investigation("nope").await,
                Err(StoreError::UnknownInvestigation(_))
            ),
            "{backend}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ingest_is_idempotent_and_feeds_metric_checks() {
    for (backend, store) in support::stores("ingest").await {
        let series = example("memory_leak.csv");
        for _ in 0..2 {
            store
                .ingest_points("heap", &series.timestamps, &series.values)
                .await
                .unwrap();
        }
        let loaded = store.load_series("heap", None).await.unwrap();
        assert_eq!(
            loaded.timestamps, series.timestamps,
            "{backend}: stored once, in order"
        );
        assert_eq!(loaded.values, series.values, "{backend}");
        let latest = store.latest_point("heap").await.unwrap().unwrap();
        let recent = store
            .load_series("heap", Some(latest - 6 * 3_600_000))
            .await
            .unwrap();
        assert_eq!(recent.len(), 6 * 60 + 1, "{backend}: --since 6h");
        let asked = store
            .recent_series("heap", Some(6 * 3_600_000))
            .await
            .unwrap();
        assert_eq!(asked.asked_from, Some(latest - 6 * 3_600_000), "{backend}");
        assert_eq!(
            asked.len() - asked.focus_start(),
            6 * 60 + 1,
            "{backend}: the asked six hours"
        );
        assert!(
            asked.focus_start() > 0,
            "{backend}: with the history before them"
        );
        let verdict = investigate_and_record(&store, &loaded, &[], &Origin::new("cli"))
            .await
            .unwrap();
        assert_eq!(verdict.pattern, Some("memory_leak"), "{backend}");
        assert!(
            matches!(
                store.load_series("unknown", None).await,
                Err(StoreError::UnknownMetric(_))
            ),
            "{backend}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scripted_session_shows_in_stats() {
    for (backend, store) in support::stores("stats").await {
        let leak = record(&store, "memory_leak.csv", "cli").await;
        let disk = record(&store, "disk_io_spike.csv", "cli").await;
        let quiet = record(&store, "normal_cpu.csv", "cli").await;
        assert!(!quiet.anomalous);
        assert!(
            matches!(
                store
                    .add_feedback(feedback(&quiet.id, FeedbackVerdict::FalsePositive, None))
                    .await,
                Err(StoreError::NotAnAlert(_))
            ),
            "{backend}: a quiet verdict cannot be a false positive"
        );
        let untouched = store
            .add_feedback(feedback(&quiet.id, FeedbackVerdict::Confirmed, None))
            .await
            .unwrap();
        assert_eq!(
            untouched.threshold_after, 0.0,
            "{backend}: confirming a quiet verdict moves no threshold"
        );
        store
            .add_feedback(feedback(
                &leak.id,
                FeedbackVerdict::Confirmed,
                Some("cache never evicted"),
            ))
            .await
            .unwrap();
        let outcome = store
            .add_feedback(feedback(&disk.id, FeedbackVerdict::FalsePositive, None))
            .await
            .unwrap();
        assert!(
            outcome.threshold_after > outcome.threshold_before,
            "{backend}: a false positive raises the bar"
        );
        let stats = store.stats().await.unwrap();
        assert_eq!(stats.investigations, 3, "{backend}");
        assert_eq!(stats.anomalous, 2, "{backend}");
        assert_eq!(
            (stats.confirmed, stats.false_positives),
            (2, 1),
            "{backend}: the quiet verdict was confirmed too"
        );
        assert_eq!(stats.precision, Some(0.5), "{backend}");
        let pattern_agent = stats
            .agents
            .iter()
            .find(|a| a.agent == "pattern_analyst")
            .unwrap();
        assert_eq!(pattern_agent.judged, 3, "{backend}");
        assert!(
            pattern_agent.agreement.is_some() && pattern_agent.weight < 1.0,
            "{backend}: one wrong vote lowers the weight"
        );
        assert!(
            stats
                .patterns
                .iter()
                .any(|p| p.pattern == "memory_leak" && p.confirmed == 1),
            "{backend}"
        );
        assert!(
            stats
                .patterns
                .iter()
                .any(|p| p.pattern == "disk_io_saturation" && p.false_positives == 1),
            "{backend}"
        );
        assert_eq!(stats.calibration.len(), 1, "{backend}");
        assert_eq!(stats.calibration[0].judged, 3, "{backend}");
        assert!(
            (stats.calibration[0].accuracy - 2.0 / 3.0).abs() < 1e-9,
            "{backend}"
        );
        assert!(
            stats
                .thresholds
                .iter()
                .any(|t| t.metric == "disk_io_spike" && t.false_positives == 1),
            "{backend}"
        );
        let text = stats.to_string();
        for needle in [
            "Precision from feedback: 50%",
            "Calibration over time",
            "Learned thresholds",
            "memory_leak",
        ] {
            assert!(
                text.contains(needle),
                "{backend}: {needle} missing from\n{text}"
            );
        }
        assert!(matches!(
            store
                .add_feedback(feedback("missing", FeedbackVerdict::Confirmed, None))
                .await,
            Err(StoreError::UnknownInvestigation(_))
        ));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writers_lose_nothing() {
    for (backend, store) in support::stores("concurrent").await {
        let store = Arc::new(store);
        let series = Arc::new(example("cache_invalidation_storm.csv"));
        let tasks: Vec<_> = (0..24)
            .map(|_| {
                let (store, series) = (store.clone(), series.clone());
                tokio::spawn(async move {
                    investigate_and_record(&store, &series, &[], &Origin::new("test"))
                        .await
                        .unwrap()
                        .id
                })
            })
            .collect();
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.unwrap());
        }
        assert_eq!(
            store.history(None, 1000).await.unwrap().len(),
            24,
            "{backend}: every investigation stored"
        );
        let feedback_tasks: Vec<_> = ids
            .iter()
            .map(|id| {
                let (store, id) = (store.clone(), id.clone());
                tokio::spawn(async move {
                    store
                        .add_feedback(feedback(&id, FeedbackVerdict::FalsePositive, None))
                        .await
                        .unwrap()
                })
            })
            .collect();
        for task in feedback_tasks {
            task.await.unwrap();
        }
        let stats = store.stats().await.unwrap();
        assert_eq!(stats.false_positives, 24, "{backend}");
        let threshold = stats
            .thresholds
            .iter()
            .find(|t| t.metric == "cache_invalidation_storm")
            .unwrap();
        assert_eq!(
            threshold.false_positives, 24,
            "{backend}: no lost threshold update"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_sqlite_file_is_refused_and_left_alone() {
    let path = support::scratch_path("damaged", "anomaly-hunter.db");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();
    let error = Store::open(Location::Sqlite(path.clone()))
        .await
        .err()
        .expect("must refuse");
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
    assert!(error.to_string().contains("left untouched"), "{error}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        garbage,
        "the file is not overwritten"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_threads_find_their_investigation() {
    use anomaly_hunter::store::ThreadRef;
    for (backend, store) in support::stores("threads").await {
        let first = record(&store, "disk_io_spike.csv", "slack").await;
        let rerun = record(&store, "disk_io_spike.csv", "slack").await;
        let thread = ThreadRef {
            platform: "slack".into(),
            channel: "C024BE91L".into(),
            thread_id: "1716371715.000200".into(),
        };
        assert_eq!(
            store.investigation_for_thread(&thread).await.unwrap(),
            None,
            "{backend}"
        );
        store.link_thread(&thread, &first.id).await.unwrap();
        assert_eq!(
            store.investigation_for_thread(&thread).await.unwrap(),
            Some(first.id.clone()),
            "{backend}"
        );
        store.link_thread(&thread, &rerun.id).await.unwrap();
        assert_eq!(
            store.investigation_for_thread(&thread).await.unwrap(),
            Some(rerun.id),
            "{backend}: a rerun takes the thread over"
        );
        let other = ThreadRef {
            platform: "discord".into(),
            ..thread
        };
        assert_eq!(
            store.investigation_for_thread(&other).await.unwrap(),
            None,
            "{backend}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_event_outbox_keeps_order_and_one_relay_holds_the_lease() {
    for (backend, store) in support::stores("event_outbox").await {
        let quiet = record(&store, "normal_cpu.csv", "cli").await;
        assert_eq!(
            store.event_backlog().await.unwrap().backlog,
            0,
            "{backend}: no outbox, no events"
        );

        let store = store.with_event_outbox();
        let origin = Origin::chat("discord", "42", Some("4242"));
        let mut ids = Vec::new();
        for file in ["memory_leak.csv", "disk_io_spike.csv", "memory_leak.csv"] {
            let verdict = investigate_and_record(&store, &example(file), &[], &origin)
                .await
                .unwrap();
            ids.push(verdict.id);
        }
        let pending = store.pending_events(10).await.unwrap();
        let order: Vec<&str> = pending
            .iter()
            .map(|e| e.investigation_id.as_str())
            .collect();
        assert_eq!(
            order,
            ids.iter().map(String::as_str).collect::<Vec<_>>(),
            "{backend}"
        );
        assert!(!order.contains(&quiet.id.as_str()));
        let event: serde_json::Value = serde_json::from_str(&pending[0].payload).unwrap();
        assert_eq!(pending[0].key, "memory_leak");
        assert_eq!(
            event["origin"],
            serde_json::json!({"platform": "discord", "channel": "42", "message": "4242"})
        );

        store
            .mark_attempt_failed(&ids[0], "broker down")
            .await
            .unwrap();
        store.mark_published(&ids[0]).await.unwrap();
        assert_eq!(store.event_backlog().await.unwrap().backlog, 2, "{backend}");
        assert_eq!(
            store.pending_events(10).await.unwrap()[0].investigation_id,
            ids[1]
        );

        assert!(
            store
                .acquire_lease("event-relay", "a", 60_000)
                .await
                .unwrap(),
            "{backend}"
        );
        assert!(
            store
                .acquire_lease("event-relay", "a", 60_000)
                .await
                .unwrap(),
            "{backend}: renewal"
        );
        assert!(
            !store
                .acquire_lease("event-relay", "b", 60_000)
                .await
                .unwrap(),
            "{backend}: held by a"
        );
        store.release_lease("event-relay", "b").await.unwrap();
        assert!(
            !store
                .acquire_lease("event-relay", "b", 60_000)
                .await
                .unwrap(),
            "{backend}: only a releases"
        );
        store.release_lease("event-relay", "a").await.unwrap();
        assert!(
            store.acquire_lease("event-relay", "b", 1).await.unwrap(),
            "{backend}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        assert!(
            store
                .acquire_lease("event-relay", "a", 60_000)
                .await
                .unwrap(),
            "{backend}: b's lease expired"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_batch_with_repeated_points_is_stored_once_with_the_last_value() {
    for (backend, store) in support::stores("stream_batch").await {
        let rows: Vec<(&str, i64, f64)> = (0..100)
            .flat_map(|i| [("a", i * 60_000, i as f64), ("b", i * 60_000, 1.0)])
            .chain([("a", 0, 42.0)])
            .collect();
        assert_eq!(store.ingest_rows(&rows).await.unwrap(), 200, "{backend}");
        let a = store.recent_series("a", None).await.unwrap();
        assert_eq!(
            (a.len(), a.values[0]),
            (100, 42.0),
            "{backend}: the replayed point wins"
        );
        let before = store.points_before("a", 3 * 60_000, 2).await.unwrap();
        assert_eq!(
            before,
            vec![(60_000, 1.0), (120_000, 2.0)],
            "{backend}: oldest first"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_files_other_columns_are_stored_and_loaded_as_related_series() {
    for (backend, store) in support::stores("related").await {
        let mut series = example("db_query_latency.csv");
        series.metric = "api_latency".into();
        // A blank cell in the related column, and a look-alike metric that is not related.
        series.related[0].values[5] = f64::NAN;
        store
            .ingest_points("api_latencyx.other", &[series.timestamps[0]], &[1.0])
            .await
            .unwrap();
        assert_eq!(
            store.ingest_series(&series).await.unwrap(),
            720,
            "{backend}"
        );

        let loaded = store.load_series("api_latency", None).await.unwrap();
        assert_eq!(loaded.related.len(), 1, "{backend}: {:?}", loaded.related);
        assert_eq!(loaded.related[0].name, "db_connections_active", "{backend}");
        let (stored, original) = (&loaded.related[0].values, &series.related[0].values);
        assert!(stored[5].is_nan(), "{backend}: a blank stays blank");
        assert_eq!(stored[..5], original[..5], "{backend}");
        assert_eq!(stored[6..], original[6..], "{backend}");
        let column = store
            .load_series("api_latency.db_connections_active", None)
            .await
            .unwrap();
        assert_eq!(column.len(), 719, "{backend}: a metric of its own too");

        let verdict = investigate_and_record(&store, &loaded, &[], &Origin::new("cli"))
            .await
            .unwrap();
        assert_eq!(
            verdict.pattern,
            Some("connection_pool_exhaustion"),
            "{backend}"
        );
        assert!(
            verdict.hypothesis.contains("db_connections_active"),
            "{backend}: the stored metric's related series is ranked as the file's column: {}",
            verdict.hypothesis
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_related_metric_a_few_seconds_off_is_aligned_to_the_nearest_point() {
    for (backend, store) in support::stores("related_offset").await {
        let minute = 60_000;
        let timestamps: Vec<i64> = (0..60).map(|i| 1_700_000_000_000 + i * minute).collect();
        let values: Vec<f64> = (0..60).map(|i| 100.0 + (i % 7) as f64).collect();
        store
            .ingest_points("queue_depth", &timestamps, &values)
            .await
            .unwrap();
        // Another exporter's clock runs 7 s late, and it missed one scrape.
        let (late, busy): (Vec<i64>, Vec<f64>) = timestamps
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 30)
            .map(|(i, t)| (t + 7_000, i as f64))
            .unzip();
        store
            .ingest_points("queue_depth.workers_busy", &late, &busy)
            .await
            .unwrap();
        let loaded = store.load_series("queue_depth", None).await.unwrap();
        assert_eq!(loaded.related[0].name, "workers_busy", "{backend}");
        let column = &loaded.related[0].values;
        assert_eq!(
            (column[0], column[10], column[59]),
            (0.0, 10.0, 59.0),
            "{backend}"
        );
        assert!(
            column[30].is_nan(),
            "{backend}: the missed scrape stays blank"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn alerts_are_recorded_once_and_stay_pending_until_posted() {
    use anomaly_hunter::sources::alertmanager::parse_notification;
    use anomaly_hunter::store::AlertThreads;
    let notification = |status: &str, ends: &str| {
        format!(
            r#"{{"version":"4","status":"{status}","alerts":[{{"status":"{status}","labels":{{"alertname":"HighLatency"}},
            "annotations":{{}},"startsAt":"2026-12-01T09:00:00Z","endsAt":"{ends}","generatorURL":"","fingerprint":"f1"}}]}}"#
        )
    };
    let firing =
        parse_notification(notification("firing", "0001-01-01T00:00:00Z").as_bytes()).unwrap();
    let resolved =
        parse_notification(notification("resolved", "2026-12-01T09:12:00Z").as_bytes()).unwrap();
    for (backend, store) in support::stores("alerts").await {
        assert_eq!(store.record_alerts(&firing).await.unwrap(), 1, "{backend}");
        assert_eq!(
            store.record_alerts(&firing).await.unwrap(),
            0,
            "{backend}: a repeat is not new"
        );
        let pending = store.pending_alerts().await.unwrap();
        assert_eq!(pending.len(), 1, "{backend}");
        assert!(pending[0].threads.is_none() && !pending[0].resolved);
        let threads = AlertThreads {
            investigation_id: Some("inv-1".into()),
            slack: Some(("C0ALERTS".into(), "1700000000.000001".into())),
            discord: None,
        };
        store.alert_posted(&pending[0], &threads).await.unwrap();
        assert!(
            store.pending_alerts().await.unwrap().is_empty(),
            "{backend}"
        );

        // Resolved: pending again, with its thread, until the resolution is posted.
        assert_eq!(
            store.record_alerts(&resolved).await.unwrap(),
            0,
            "{backend}"
        );
        let pending = store.pending_alerts().await.unwrap();
        assert_eq!(pending.len(), 1, "{backend}");
        assert!(pending[0].resolved);
        assert_eq!(pending[0].threads.as_ref(), Some(&threads), "{backend}");
        assert_eq!(
            pending[0].ends_at.unwrap() - pending[0].starts_at,
            12 * 60_000
        );
        store
            .alert_attempt_failed(&pending[0], "Slack is down")
            .await
            .unwrap();
        assert_eq!(store.pending_alerts().await.unwrap()[0].attempts, 1);
        store.alert_resolution_posted(&pending[0]).await.unwrap();
        assert!(
            store.pending_alerts().await.unwrap().is_empty(),
            "{backend}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_keeps_each_metrics_latest_stretch_and_deliveries_are_claimed_once() {
    for (backend, store) in support::stores("retention").await {
        // `live` is recent, `old` is a CSV of long ago: each keeps 10 minutes before its newest.
        let now = chrono::Utc::now().timestamp_millis();
        let rows: Vec<(&str, i64, f64)> = (0..60)
            .flat_map(|i| {
                [
                    ("live", now - i * 60_000, 1.0),
                    ("old", 1_000_000 + i * 60_000, 2.0),
                ]
            })
            .collect();
        store.ingest_rows(&rows).await.unwrap();
        let deleted = store.prune(10 * 60_000).await.unwrap();
        assert_eq!(deleted, 2 * 49, "{backend}");
        for metric in ["live", "old"] {
            let kept = store.points_before(metric, i64::MAX, 1_000).await.unwrap();
            assert_eq!(kept.len(), 11, "{backend}: {metric}");
        }

        assert!(
            store.claim_delivery("slack:message:C1:1.0").await.unwrap(),
            "{backend}"
        );
        assert!(
            !store.claim_delivery("slack:message:C1:1.0").await.unwrap(),
            "{backend}: once"
        );
        assert!(
            store.claim_delivery("slack:message:C1:2.0").await.unwrap(),
            "{backend}"
        );
    }
}
