//! Prometheus remote write end to end: the real Prometheus (Debian's package) scrapes an
//! exporter this test serves every second and remote-writes to the bot, whose broker (tansu on
//! loopback) is down at first. The bot answers 503 until the broker is up, Prometheus retries,
//! and the samples of the outage arrive; an injected incident then gets exactly one alert.
//! What is not remote write is a 400, without the token a 401.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anomaly_hunter::sources::remote_write::prompb::{Label, Sample, TimeSeries, WriteRequest};
use anomaly_hunter::store::{Location, Store, DEFAULT_FILE};
use prost::Message as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::ClientConfig;
use support::broker::{free_port, tansu, Broker};
use support::fake_slack::{FakeSlack, BOT_TOKEN};
use support::prometheus::{start_prometheus, PROMETHEUS_ENV};
use support::serve::ServeProcess;

const TOPIC: &str = "metrics.points";
const ALERT_CHANNEL: &str = "C0ALERTS";
const TOKEN: &str = "remote-write-test-token";

/// Latency around 10 ms (±1 ms) at second `t`, or 80 ms in the incident.
fn latency(t: i64, incident: bool) -> f64 {
    let noise = ((t as f64 * 12.9898).sin() * 43_758.547).fract().abs() - 0.5;
    0.010 + 0.002 * noise + if incident { 0.07 } else { 0.0 }
}

/// Serves `/metrics` with one gauge; `incident` turns the incident on.
async fn exporter(incident: Arc<AtomicBool>) -> u16 {
    support::prometheus::serve_exporter(move || {
        let value = latency(chrono::Utc::now().timestamp(), incident.load(Ordering::SeqCst));
        format!(
            "# TYPE checkout_latency_seconds gauge\ncheckout_latency_seconds {value}\nother_gauge 1\n"
        )
    })
    .await
}

async fn create_topic(brokers: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let topic = NewTopic::new(TOPIC, 1, TopicReplication::Fixed(1));
    let results = admin
        .create_topics([&topic], &AdminOptions::new())
        .await
        .unwrap();
    // The bot's producer may have created it first, as Kafka brokers do on a first produce.
    for result in results {
        if let Err((_, code)) = result {
            assert_eq!(
                code,
                rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists,
                "{code:?}"
            );
        }
    }
}

fn snappy(bytes: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(bytes).unwrap()
}

/// `POST /api/v1/write` with `body`; the status.
async fn write(bot: &ServeProcess, body: Vec<u8>, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/api/v1/write", bot.url))
        .bearer_auth(token)
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap()
}

/// A counter's value on the bot's `/metrics` (0 when absent).
async fn counter(bot: &ServeProcess, line_start: &str) -> f64 {
    bot.metrics()
        .await
        .lines()
        .find_map(|line| line.strip_prefix(line_start))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The alert channel's posts about the gauge.
fn alerts(slack: &FakeSlack) -> Vec<serde_json::Value> {
    slack
        .calls("chat.postMessage")
        .into_iter()
        .map(|call| call.body)
        .filter(|body| {
            body["channel"] == ALERT_CHANNEL
                && body.to_string().contains("checkout_latency_seconds")
        })
        .collect()
}

#[cfg_attr(
    not(all(test_prometheus, test_tansu)),
    ignore = "needs Prometheus and a Kafka-protocol broker: set ANOMALY_HUNTER_TEST_PROMETHEUS and ANOMALY_HUNTER_TEST_TANSU (bash .ci/run installs both)"
)]
// Two workers: the exporter answers scrapes while the test blocks on a process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_write_from_prometheus_survives_a_broker_outage_and_alerts_once() {
    let test = "remote-write";
    let (Some(prometheus_binary), Some(tansu)) =
        (support::service_binary(PROMETHEUS_ENV, test), tansu(test))
    else {
        return;
    };
    let incident = Arc::new(AtomicBool::new(false));
    let exporter_port = exporter(incident.clone()).await;
    let series =
        format!("checkout_latency_seconds{{instance=\"127.0.0.1:{exporter_port}\",job=\"shop\"}}");

    // Two hours of the series' history are already stored (as an earlier stream left them), so
    // its scorer is not blind; the bot's broker is not up yet.
    let data_dir = support::scratch_dir(test).join("bot");
    std::fs::create_dir_all(&data_dir).unwrap();
    let store = Store::open(Location::Sqlite(data_dir.join(DEFAULT_FILE)))
        .await
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    let seconds: Vec<i64> = (now - 2 * 3600..now).collect();
    let values: Vec<f64> = seconds.iter().map(|&t| latency(t, false)).collect();
    let millis: Vec<i64> = seconds.iter().map(|t| t * 1000).collect();
    store
        .ingest_points(&series, &millis, &values)
        .await
        .unwrap();
    let broker_port = free_port();
    let brokers = format!("127.0.0.1:{broker_port}");
    let (slack, slack_api) = FakeSlack::start().await;
    let env = [
        ("REDPANDA_BROKERS", brokers.as_str()),
        ("REDPANDA_METRICS_TOPIC", TOPIC),
        (
            "ANOMALY_HUNTER_REMOTE_WRITE_MATCH",
            r#"{__name__=~".*_latency_seconds"}"#,
        ),
        ("ANOMALY_HUNTER_API_TOKEN", TOKEN),
        ("SLACK_BOT_TOKEN", BOT_TOKEN),
        ("SLACK_SIGNING_SECRET", "remote-write-secret"),
        ("SLACK_API_URL", slack_api.as_str()),
        ("ALERT_SLACK_CHANNEL", ALERT_CHANNEL),
    ];
    let bot = ServeProcess::start_in(data_dir, &env);

    // Not remote write: 400, for good. No token: 401.
    let valid = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![Label {
                name: "__name__".into(),
                value: "probe_latency_seconds".into(),
            }],
            samples: vec![Sample {
                value: 1.0,
                timestamp: now * 1000,
            }],
        }],
    }
    .encode_to_vec();
    for (malformed, says) in [
        (b"not snappy at all".to_vec(), "snappy"),
        (valid.clone(), "snappy"),
        (snappy(b"\x0a\x05\xff\xff"), "WriteRequest"),
    ] {
        let answer = write(&bot, malformed, TOKEN).await;
        assert_eq!(answer.status(), 400);
        let problem: serde_json::Value = answer.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains(says),
            "{problem}"
        );
    }
    assert_eq!(write(&bot, snappy(&valid), "wrong").await.status(), 401);
    // The broker is down: a valid request is a 503 that asks to come back, never a 2xx.
    let refused = write(&bot, snappy(&valid), TOKEN).await;
    assert_eq!(refused.status(), 503, "{}", bot.log());
    assert_eq!(refused.headers()["retry-after"], "1");

    // Prometheus scrapes every second and remote-writes to the bot; its retries get 503s.
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: shop\n    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\nremote_write:\n  - url: {}/api/v1/write\n    authorization:\n      credentials: {TOKEN}\n    queue_config:\n      min_backoff: 100ms\n      max_backoff: 1s\n      batch_send_deadline: 1s\n",
        bot.url
    );
    let prometheus = start_prometheus(
        &prometheus_binary,
        &support::scratch_dir("remote-write-prometheus"),
        &[],
        &config,
        "",
    );
    let unavailable = "anomaly_hunter_remote_write_requests_total{result=\"broker_unavailable\"}";
    let deadline = Instant::now() + Duration::from_secs(90);
    while counter(&bot, unavailable).await < 3.0 {
        assert!(
            Instant::now() < deadline,
            "Prometheus' writes were not refused while the broker is down:\n{}\n{}",
            bot.log(),
            prometheus.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let outage_end_ms = chrono::Utc::now().timestamp_millis();

    // The broker comes up: Prometheus' retries deliver what was scraped during the outage.
    let _broker = Broker::start(&tansu, broker_port);
    create_topic(&brokers).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let delivered = loop {
        let stored = store.recent_series(&series, None).await.unwrap();
        let live: Vec<i64> = stored
            .timestamps
            .iter()
            .copied()
            .filter(|&t| t >= now * 1000)
            .collect();
        if live.last().is_some_and(|&t| t > outage_end_ms + 5_000) {
            break live;
        }
        assert!(
            Instant::now() < deadline,
            "the samples never arrived:\n{}",
            bot.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let during_outage = delivered.iter().filter(|&&t| t < outage_end_ms).count();
    let outage_seconds = (outage_end_ms - delivered[0]) / 1000;
    assert!(
        during_outage as i64 >= outage_seconds - 2 && during_outage >= 3,
        "every second scraped during the outage arrived after it: {during_outage} samples over {outage_seconds} s"
    );
    assert!(
        delivered.windows(2).all(|w| w[1] - w[0] < 2_500),
        "no gap: {delivered:?}"
    );
    assert!(
        alerts(&slack).is_empty(),
        "nothing to say while all is well"
    );

    // The incident: one alert, in the alert channel, about the series — however long it lasts.
    incident.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(60);
    while alerts(&slack).is_empty() {
        assert!(Instant::now() < deadline, "no alert:\n{}", bot.log());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let posted = alerts(&slack);
    assert_eq!(posted.len(), 1, "one alert for the incident: {posted:#?}");
    assert!(
        posted[0].to_string().contains(&series.replace('"', "\\\"")),
        "{:#}",
        posted[0]
    );
    assert_eq!(
        counter(&bot, "anomaly_hunter_stream_incidents_total").await,
        1.0,
        "one incident opened"
    );
    // Only the selected series: `other_gauge` and Prometheus' own `up` are not stored.
    assert!(store
        .recent_series(
            &format!("other_gauge{{instance=\"127.0.0.1:{exporter_port}\",job=\"shop\"}}"),
            None
        )
        .await
        .is_err());
    drop(prometheus);
}

#[tokio::test]
async fn the_remote_write_benchmark_decodes_and_scores_every_selected_sample() {
    // 30 series, one request per scrape, three scrapes timed after the scorers are warmed.
    let timing = anomaly_hunter::bench::remote_write::run(30, 3)
        .await
        .unwrap();
    assert_eq!(timing.requests, 3);
    assert_eq!(timing.samples, 90);
    assert_eq!(
        timing.scored, 81,
        "every tenth series is `up`, not selected"
    );
    assert!(timing.samples_per_second > 0.0, "{timing}");
}
