//! Live metrics from a real Kafka-protocol broker (tansu on loopback): two `serve` processes in
//! one consumer group split the partitions, store every point, and an injected incident spanning
//! many points yields exactly one alert in the Slack alert channel. Without a broker: a dead one
//! is reported once with its reason, and a restarted detector remembers the usual bursts.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use anomaly_hunter::store::{Location, Store, DEFAULT_FILE};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use serde_json::json;

use anomaly_hunter::sources::metric_stream::{PointIngest, SCORER_IDLE};
use support::broker::{free_port, tansu, Broker};
use support::fake_discord::{FakeDiscord, CHANNEL_ID, TOKEN};
use support::fake_slack::{FakeSlack, BOT_TOKEN};
use support::serve::ServeProcess;

const TOPIC: &str = "metrics.points";
const ALERT_CHANNEL: &str = "C0ALERTS";
const METRICS: [&str; 6] = [
    "checkout_latency",
    "cart_errors",
    "db_cpu",
    "queue_depth",
    "api_p99",
    "disk_busy",
];
const POINTS: i64 = 400;
/// `checkout_latency` jumps by 60% for these points.
const INCIDENT: std::ops::Range<i64> = 250..290;

fn value(metric: &str, i: i64) -> f64 {
    let noise = 2.0 * ((i as f64 * 12.9898 + metric.len() as f64).sin() * 43_758.547).fract();
    let incident = metric == "checkout_latency" && INCIDENT.contains(&i);
    100.0 + noise + if incident { 60.0 } else { 0.0 }
}

async fn create_topic(brokers: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let topic = NewTopic::new(TOPIC, partitions, TopicReplication::Fixed(1));
    let results = admin
        .create_topics([&topic], &AdminOptions::new())
        .await
        .unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

async fn produce_points(brokers: &str) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let start_ms = chrono::Utc::now().timestamp_millis() - POINTS * 60_000;
    for i in 0..POINTS {
        for metric in METRICS {
            let point = json!({"metric": metric, "timestamp": start_ms + i * 60_000, "value": value(metric, i)});
            let payload = point.to_string();
            producer
                .send(
                    FutureRecord::to(TOPIC).key(metric).payload(&payload),
                    Duration::from_secs(10),
                )
                .await
                .unwrap();
        }
    }
}

/// Waits until the bots have scored every produced point and investigated every incident
/// they opened (their `/metrics` say so); returns how many incidents were opened.
async fn settled(bots: &[&ServeProcess]) -> u64 {
    let counter = |text: &str, name: &str| -> u64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (mut points, mut opened, mut handled) = (0, 0, 0);
        for bot in bots {
            let text = bot.metrics().await;
            points += counter(&text, "anomaly_hunter_stream_points_total ");
            opened += counter(&text, "anomaly_hunter_stream_incidents_total ");
            handled += counter(&text, "anomaly_hunter_stream_incidents_handled_total ");
        }
        let all_points = POINTS as u64 * METRICS.len() as u64;
        if points >= all_points && opened == handled || std::time::Instant::now() > deadline {
            assert!(
                points >= all_points,
                "{points} of {all_points} points scored"
            );
            return opened;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn partitions(health: &serde_json::Value) -> Vec<i64> {
    health["integrations"]["metrics_partitions"]
        .as_array()
        .map(|p| p.iter().filter_map(|n| n.as_i64()).collect())
        .unwrap_or_default()
}

#[cfg_attr(
    not(test_tansu),
    ignore = "needs a Kafka-protocol broker: set ANOMALY_HUNTER_TEST_TANSU (bash .ci/run installs tansu)"
)]
#[tokio::test(flavor = "multi_thread")]
async fn two_bots_split_the_partitions_and_an_incident_alerts_once() {
    let Some(tansu) = tansu("two_bots_split_the_partitions") else {
        return;
    };
    let broker = Broker::start(&tansu, free_port());
    let brokers = broker.address();
    create_topic(&brokers, 2).await;
    let (slack, slack_url) = FakeSlack::start().await;
    let env = [
        ("REDPANDA_BROKERS", brokers.as_str()),
        ("REDPANDA_METRICS_TOPIC", TOPIC),
        ("SLACK_BOT_TOKEN", BOT_TOKEN),
        ("SLACK_SIGNING_SECRET", "stream-test-secret"),
        ("SLACK_API_URL", slack_url.as_str()),
        ("ALERT_SLACK_CHANNEL", ALERT_CHANNEL),
    ];
    let first = ServeProcess::start("stream", &env);
    let second = ServeProcess::start_in(first.data_dir.clone(), &env);

    // Both members joined: each holds one of the two partitions.
    let mut held = (vec![], vec![]);
    for _ in 0..300 {
        held = (
            partitions(&first.health().await),
            partitions(&second.health().await),
        );
        if held.0.len() == 1 && held.1.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all: BTreeSet<i64> = held.0.iter().chain(&held.1).copied().collect();
    assert_eq!(
        (held.0.len(), held.1.len(), all.len()),
        (1, 1, 2),
        "{held:?}\n{}",
        first.log()
    );

    produce_points(&brokers).await;

    let alerts = slack.wait_for("chat.postMessage", 1, 60).await;
    assert_eq!(alerts.len(), 1, "an alert; log:\n{}", first.log());
    assert_eq!(settled(&[&first, &second]).await, 1, "one incident opened");
    let alerts = slack.calls("chat.postMessage");
    assert_eq!(
        alerts.len(),
        1,
        "one alert for the whole incident, not one per point"
    );
    assert_eq!(alerts[0].body["channel"], ALERT_CHANNEL);
    assert!(
        alerts[0].body.to_string().contains("checkout_latency"),
        "{}",
        alerts[0].body
    );

    let store = Store::open(Location::Sqlite(first.data_dir.join(DEFAULT_FILE)))
        .await
        .unwrap();
    for metric in METRICS {
        let series = store.recent_series(metric, None).await.unwrap();
        assert_eq!(
            series.len() as i64,
            POINTS,
            "every point of {metric} stored"
        );
    }
    let history = store.history(Some("checkout_latency"), 10).await.unwrap();
    assert_eq!(history.len(), 1, "one investigation for the incident");
    assert!(history[0].anomalous);
}

#[cfg_attr(
    not(test_tansu),
    ignore = "needs a Kafka-protocol broker: set ANOMALY_HUNTER_TEST_TANSU (bash .ci/run installs tansu)"
)]
#[tokio::test(flavor = "multi_thread")]
async fn the_stream_benchmark_runs_the_consumer_path_through_a_broker() {
    let Some(tansu) = tansu("the_stream_benchmark") else {
        return;
    };
    let broker = Broker::start(&tansu, free_port());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_anomaly-hunter"))
        .args([
            "bench",
            "stream",
            "--points",
            "20000",
            "--metrics",
            "20",
            "--format",
            "json",
        ])
        .env("REDPANDA_BROKERS", broker.address())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let timing: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(timing["points"], 20_000);
    assert_eq!(
        timing["incidents_opened"], 2,
        "metric_0 and metric_10 carry one incident each"
    );
    for rate in [
        "points_per_second",
        "parse_points_per_second",
        "store_points_per_second",
    ] {
        assert!(timing[rate].as_f64().unwrap() > 0.0, "{rate}");
    }
    let through = &timing["through_broker"];
    assert!(
        through["consume_points_per_second"].as_f64().unwrap() > 0.0,
        "{timing}"
    );
    assert!(
        through["produce_points_per_second"].as_f64().unwrap() > 0.0,
        "{timing}"
    );
}

#[cfg_attr(
    not(test_tansu),
    ignore = "needs a Kafka-protocol broker: set ANOMALY_HUNTER_TEST_TANSU (bash .ci/run installs tansu)"
)]
#[tokio::test(flavor = "multi_thread")]
async fn an_incident_alerts_once_in_a_discord_channel_with_a_verdict_thread() {
    let Some(tansu) = tansu("an_incident_alerts_once_in_a_discord_channel") else {
        return;
    };
    let broker = Broker::start(&tansu, free_port());
    let brokers = broker.address();
    create_topic(&brokers, 1).await;
    let (discord, discord_url) = FakeDiscord::start().await;
    let channel = CHANNEL_ID.to_string();
    let bot = ServeProcess::start(
        "stream-discord",
        &[
            ("REDPANDA_BROKERS", brokers.as_str()),
            ("REDPANDA_METRICS_TOPIC", TOPIC),
            ("DISCORD_TOKEN", TOKEN),
            ("DISCORD_API_URL", discord_url.as_str()),
            ("ALERT_DISCORD_CHANNEL", channel.as_str()),
        ],
    );
    assert!(discord.wait_connected(1, 0, 30).await, "{}", bot.log());

    produce_points(&brokers).await;

    let in_channel = format!("/channels/{CHANNEL_ID}/messages");
    let headlines = discord.wait_for("POST", |p| p == in_channel, 1, 60).await;
    assert_eq!(headlines.len(), 1, "an alert; log:\n{}", bot.log());
    let headline = headlines[0].body["content"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        headline.contains("Anomaly on `checkout_latency`"),
        "{headline}"
    );
    let threads = discord
        .wait_for(
            "POST",
            |p| p.starts_with(&in_channel) && p.ends_with("/threads"),
            1,
            20,
        )
        .await;
    assert_eq!(threads.len(), 1, "a thread from the alert");
    let thread = threads[0].path.split('/').nth(4).unwrap().to_string();
    let verdicts = discord
        .wait_for(
            "POST",
            |p| p == format!("/channels/{thread}/messages"),
            1,
            20,
        )
        .await;
    assert!(
        verdicts[0].body["embeds"][0].is_object(),
        "the verdict embed in the thread"
    );
    assert_eq!(settled(&[&bot]).await, 1, "one incident opened");
    let headlines = discord.wait_for("POST", |p| p == in_channel, 2, 0).await;
    assert_eq!(headlines.len(), 1, "one alert for the whole incident");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_broker_is_reported_once_with_its_reason_and_the_bot_keeps_serving() {
    let port = free_port();
    let bot = ServeProcess::start(
        "stream-dead-broker",
        &[
            ("REDPANDA_BROKERS", &format!("127.0.0.1:{port}")),
            ("REDPANDA_METRICS_TOPIC", TOPIC),
        ],
    );
    let warnings = |log: &str, about: &str| -> Vec<String> {
        log.lines()
            .filter(|line| line.contains(" WARN ") && line.contains(about))
            .map(str::to_string)
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let log = loop {
        let log = bot.log();
        // The relay gives up on a pass after 5 s; the consumer retries every second.
        if !warnings(&log, "events wait in the outbox").is_empty()
            || std::time::Instant::now() > deadline
        {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let relay = warnings(&log, "events wait in the outbox");
    assert_eq!(relay.len(), 1, "the relay warns once: {log}");
    assert!(
        relay[0].contains("last error") && relay[0].contains("Connection refused"),
        "and says why: {}",
        relay[0]
    );
    let consumer = warnings(&log, "metrics stream unavailable");
    assert_eq!(
        consumer.len(),
        1,
        "the consumer warns once, not per retry: {log}"
    );
    assert!(
        consumer[0].contains("Connection refused"),
        "{}",
        consumer[0]
    );
    assert_eq!(bot.health().await["status"], "ok");
}

#[tokio::test]
async fn after_a_restart_the_detector_still_knows_the_metrics_usual_bursts() {
    let dir = std::env::temp_dir().join(format!(
        "anomaly-hunter-stream-restart-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let store = std::sync::Arc::new(
        Store::open(Location::Sqlite(dir.join(DEFAULT_FILE)))
            .await
            .unwrap(),
    );
    // A nightly-job burst of +60 for 40 points every 300; the last one is +200.
    let point = |i: i64| {
        let burst = if i >= 150 && i % 300 < 40 {
            if i >= 1_500 {
                200.0
            } else {
                60.0
            }
        } else {
            0.0
        };
        (
            "batch_queue".to_string(),
            1_700_000_000_000 + i * 60_000,
            value("x", i) + burst,
        )
    };
    let mut alerts = Vec::new();
    for (range, process) in [
        (0..899, "first"),
        (899..1_400, "restarted"),
        (1_400..1_800, "restarted again"),
    ] {
        let mut ingest = PointIngest::new(store.clone());
        for chunk in range.collect::<Vec<i64>>().chunks(100) {
            if chunk[0] == 1_099 {
                // An idle scorer evicted (memory bounded) is seeded again from the store.
                let later = std::time::Instant::now() + SCORER_IDLE + Duration::from_secs(1);
                ingest.evict_idle(later);
                assert_eq!(ingest.scorers(), 0);
            }
            let batch: Vec<_> = chunk.iter().map(|&i| point(i)).collect();
            ingest.store(&batch).await.unwrap();
            for _ in ingest.detect(&batch).await {
                alerts.push((process, chunk[0]));
            }
        }
    }
    assert_eq!(
        alerts,
        [("first", 300), ("restarted again", 1_500)],
        "the first burst and the stronger one alert; the usual ones do not, restart, eviction or not"
    );
}
