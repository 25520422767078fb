//! Verdict events through the outbox to a real Kafka-protocol broker (tansu on loopback):
//! the documented schema, a broker outage with a bot restart in the middle, and `detect`
//! handing over to `serve` when the broker is away.

mod support;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anomaly_hunter::pipeline::{investigate_and_record, Origin};
use anomaly_hunter::store::{Location, Store, DEFAULT_FILE};
use engine::series::csv::{read_csv, CsvOptions};
use serde_json::Value;

use support::broker::{free_port, read_topic, tansu, Broker};
use support::serve::{anomaly_hunter, ServeProcess};

const TOPIC: &str = "anomaly-hunter.verdicts";

fn example(file: &str, metric: &str) -> engine::series::Series {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(file);
    let options = CsvOptions {
        metric: Some(metric.to_string()),
        ..CsvOptions::default()
    };
    read_csv(&path, &options).unwrap()
}

fn fresh_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "anomaly-hunter-events-{test}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The store `serve` in `dir` uses, opened by the test process alongside it.
async fn shared_store(dir: &Path) -> Arc<Store> {
    let store = Store::open(Location::Sqlite(dir.join(DEFAULT_FILE)))
        .await
        .unwrap();
    Arc::new(store.with_event_outbox())
}

#[cfg_attr(
    not(test_tansu),
    ignore = "needs a Kafka-protocol broker: set ANOMALY_HUNTER_TEST_TANSU (bash .ci/run installs tansu)"
)]
#[tokio::test(flavor = "multi_thread")]
async fn detect_publishes_events_with_the_documented_schema_or_leaves_them_for_serve() {
    let Some(tansu) = tansu("detect_publishes_events") else {
        return;
    };
    let dir = fresh_dir("detect");
    let port = free_port();
    let detect = |file: &str| {
        let output = anomaly_hunter(&dir)
            .args([
                "detect",
                &format!("{}/examples/{file}", env!("CARGO_MANIFEST_DIR")),
            ])
            .args(["--format", "json"])
            .env("REDPANDA_BROKERS", format!("127.0.0.1:{port}"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let verdict: Value = serde_json::from_slice(&output.stdout).unwrap();
        (
            verdict,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };

    // No broker yet: the verdict is still given, the event waits in the outbox.
    let (first, said) = detect("memory_leak.csv");
    assert!(said.contains("event queued in the outbox"), "{said}");
    assert!(said.contains("Connection refused"), "says why: {said}");
    assert!(
        said.contains(
            "`anomaly-hunter serve` (or the next `detect`) publishes it when the broker is back"
        ),
        "{said}"
    );

    let broker = Broker::start(&tansu, port);
    let (second, said) = detect("db_query_latency.csv");
    assert!(
        said.contains("published 2 event(s) to anomaly-hunter.verdicts"),
        "{said}"
    );

    let records = read_topic(&broker.address(), TOPIC, 2, Duration::from_secs(30));
    // Two metrics, two keys: the events may sit on different partitions, which a consumer
    // reads in no set order.
    let mut ids: Vec<&str> = records
        .iter()
        .map(|r| r.payload["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected = [
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    ];
    expected.sort_unstable();
    assert_eq!(ids, expected);

    let documented =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/events.md")).unwrap();
    for record in &records {
        let event = &record.payload;
        let verdict = [&first, &second]
            .into_iter()
            .find(|v| v["id"] == event["id"])
            .unwrap();
        assert_eq!(
            record.key,
            verdict["metric"].as_str().unwrap(),
            "keyed by metric"
        );
        assert_eq!(event["schema_version"], 1);
        for field in [
            "metric",
            "severity",
            "confidence",
            "anomalous",
            "verdict",
            "hypothesis",
            "pattern",
        ] {
            assert_eq!(event[field], verdict[field], "{field}");
        }
        assert_eq!(event["source"], "cli");
        assert!(event["origin"].is_null());
        assert!(event["created_at"].as_str().unwrap().ends_with('Z'));
        let agents: Vec<&str> = event["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["agent"].as_str().unwrap())
            .collect();
        assert_eq!(
            agents,
            ["pattern_analyst", "change_detective", "root_cause"]
        );
        assert_eq!(
            event["windows"].as_array().unwrap().len(),
            verdict["anomalies"].as_array().unwrap().len()
        );
        for field in event.as_object().unwrap().keys() {
            assert!(
                documented.contains(&format!("| `{field}` |")),
                "docs/events.md documents `{field}`"
            );
        }
    }
    assert_eq!(second["anomalous"], true);
    assert_eq!(
        records[1].payload["windows"][0]["kind"],
        second["anomalies"][0]["kind"]
    );
}

#[cfg_attr(
    not(test_tansu),
    ignore = "needs a Kafka-protocol broker: set ANOMALY_HUNTER_TEST_TANSU (bash .ci/run installs tansu)"
)]
#[tokio::test(flavor = "multi_thread")]
async fn a_broker_outage_and_a_bot_restart_lose_nothing_and_duplicate_nothing() {
    let Some(tansu) = tansu("a_broker_outage_and_a_bot_restart") else {
        return;
    };
    let dir = fresh_dir("outage");
    let port = free_port();
    let brokers = format!("127.0.0.1:{port}");
    let env = [("REDPANDA_BROKERS", brokers.as_str())];
    let store = shared_store(&dir).await;
    let metrics = [
        "checkout_latency",
        "cart_errors",
        "db_cpu",
        "queue_depth",
        "api_p99",
    ];
    let files = [
        "db_query_latency.csv",
        "disk_io_spike.csv",
        "normal_cpu.csv",
        "memory_leak.csv",
        "cpu_throttling.csv",
    ];
    let series: Vec<_> = metrics
        .iter()
        .zip(files)
        .map(|(m, f)| example(f, m))
        .collect();
    let mut written: HashMap<String, Vec<String>> = HashMap::new();
    let investigate = |count: usize| {
        let store = store.clone();
        let series = series.clone();
        let mut ids = Vec::new();
        async move {
            for round in 0..count {
                let one = &series[round % series.len()];
                let verdict = investigate_and_record(&store, one, &[], &Origin::new("test"))
                    .await
                    .unwrap();
                ids.push((verdict.metric, verdict.id));
            }
            ids
        }
    };

    // The broker is down: 25 investigations with the first bot, then a restart, then 25 more.
    let first_bot = ServeProcess::start_in(dir.clone(), &env);
    for (metric, id) in investigate(25).await {
        written.entry(metric).or_default().push(id);
    }
    assert!(first_bot.stop().success(), "serve exits cleanly on SIGTERM");
    let second_bot = ServeProcess::start_in(dir.clone(), &env);
    for (metric, id) in investigate(25).await {
        written.entry(metric).or_default().push(id);
    }
    assert_eq!(
        store.event_backlog().await.unwrap().backlog,
        50,
        "all 50 events wait in the outbox"
    );
    assert!(second_bot
        .metrics()
        .await
        .contains("\nanomaly_hunter_event_backlog 50\n"));

    let broker = Broker::start(&tansu, port);
    let records = read_topic(&broker.address(), TOPIC, 50, Duration::from_secs(120));
    let ids: Vec<&str> = records
        .iter()
        .map(|r| r.payload["id"].as_str().unwrap())
        .collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(
        ids.len(),
        50,
        "exactly 50 events arrived: {}",
        second_bot.log()
    );
    assert_eq!(unique.len(), 50, "no event arrived twice");
    let mut received: HashMap<String, Vec<String>> = HashMap::new();
    for record in &records {
        assert_eq!(record.key, record.payload["metric"].as_str().unwrap());
        received
            .entry(record.key.clone())
            .or_default()
            .push(record.payload["id"].as_str().unwrap().to_string());
    }
    assert_eq!(
        received, written,
        "every metric's events arrive in the order they were written"
    );
    for _ in 0..50 {
        if store.event_backlog().await.unwrap().backlog == 0 {
            assert!(second_bot
                .metrics()
                .await
                .contains("\nanomaly_hunter_event_backlog 0\n"));
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the outbox still holds events after they were delivered");
}
