//! The streaming path: metric-point messages parsed, stored (in the consumer's batches, into a
//! scratch SQLite store) and scored by the live scorers on one task — what one consumer
//! does per core once the broker has handed it the bytes; and, when `REDPANDA_BROKERS` is set,
//! the same points produced to a scratch topic and consumed by the bot's own consumer.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use tokio::sync::{mpsc, watch};

use crate::sinks::redpanda::RedpandaConfig;
use crate::sources::metric_stream::{MetricPoint, MetricStream, PointIngest};
use crate::store::{Location, Store};

/// Points per batch, as the consumer gathers them.
const BATCH: usize = 1_000;

#[derive(Debug, Clone, Serialize)]
pub struct StreamTiming {
    pub points: usize,
    pub metrics: usize,
    pub parse_points_per_second: f64,
    pub store_points_per_second: f64,
    pub score_points_per_second: f64,
    /// Parse + store + score, end to end on one core.
    pub points_per_second: f64,
    pub incidents_opened: usize,
    /// Through a real broker, when one was configured.
    pub through_broker: Option<BrokerTiming>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BrokerTiming {
    pub brokers: String,
    pub produce_points_per_second: f64,
    /// Consumed, stored, committed and scored by one consumer.
    pub consume_points_per_second: f64,
}

impl fmt::Display for StreamTiming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "streaming path, {} points over {} metrics on one core: {:.0} points/s end to end (parse {:.0}/s, store {:.0}/s, score {:.0}/s); {} incident(s) opened",
            self.points,
            self.metrics,
            self.points_per_second,
            self.parse_points_per_second,
            self.store_points_per_second,
            self.score_points_per_second,
            self.incidents_opened
        )?;
        if let Some(broker) = &self.through_broker {
            write!(
                f,
                "\nthrough the broker at {}: produced {:.0} points/s; consumed, stored and scored {:.0} points/s by one consumer",
                broker.brokers, broker.produce_points_per_second, broker.consume_points_per_second
            )?;
        }
        Ok(())
    }
}

/// Runs the benchmark in a scratch folder under `scratch_dir`, removed afterwards. One
/// metric in ten carries an incident. With a broker, the points also go through it.
pub async fn run(
    scratch_dir: &std::path::Path,
    points: usize,
    metrics: usize,
    broker: Option<RedpandaConfig>,
) -> anyhow::Result<StreamTiming> {
    let dir = scratch_dir.join(format!(
        "anomaly-hunter-bench-stream-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Arc::new(Store::open(Location::Sqlite(dir.join("bench.db"))).await?);
    let messages = messages(points, metrics.max(1));
    let mut ingest = PointIngest::new(store);
    let (mut parse, mut store_time, mut score) = (0.0, 0.0, 0.0);
    let mut opened = 0;
    for chunk in messages.chunks(BATCH) {
        let started = Instant::now();
        let batch: Vec<_> = chunk.iter().filter_map(|m| MetricPoint::parse(m)).collect();
        parse += started.elapsed().as_secs_f64();
        let started = Instant::now();
        ingest.store(&batch).await?;
        store_time += started.elapsed().as_secs_f64();
        let started = Instant::now();
        opened += ingest.detect(&batch).await.len();
        score += started.elapsed().as_secs_f64();
    }
    let through_broker = match &broker {
        Some(config) => {
            let store = Arc::new(Store::open(Location::Sqlite(dir.join("broker.db"))).await?);
            Some(through_broker(config, store, &messages).await?)
        }
        None => None,
    };
    let _ = std::fs::remove_dir_all(&dir);
    let n = messages.len() as f64;
    Ok(StreamTiming {
        points: messages.len(),
        metrics,
        parse_points_per_second: n / parse,
        store_points_per_second: n / store_time,
        score_points_per_second: n / score,
        points_per_second: n / (parse + store_time + score),
        incidents_opened: opened,
        through_broker,
    })
}

/// Produces `messages` to a scratch topic of one partition, then consumes them with the bot's
/// consumer until all are stored and scored.
async fn through_broker(
    config: &RedpandaConfig,
    store: Arc<Store>,
    messages: &[Vec<u8>],
) -> anyhow::Result<BrokerTiming> {
    let topic = format!("anomaly-hunter-bench-{}", uuid::Uuid::new_v4().simple());
    let admin: AdminClient<DefaultClientContext> = config.client_config().create()?;
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    admin
        .create_topics(
            [&NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
            &options,
        )
        .await?;
    let producer: FutureProducer = config.producer_config().create()?;
    let started = Instant::now();
    for chunk in messages.chunks(10_000) {
        let deliveries: Vec<_> = chunk
            .iter()
            .map(|payload| {
                producer.send(
                    FutureRecord::<(), _>::to(&topic).payload(payload),
                    Timeout::Never,
                )
            })
            .collect();
        for delivery in futures_util::future::join_all(deliveries).await {
            delivery.map_err(|(e, _)| anyhow::anyhow!("the broker did not take a point: {e}"))?;
        }
    }
    let produced = started.elapsed().as_secs_f64();

    let (incidents, mut opened) = mpsc::channel(1_024);
    tokio::spawn(async move { while opened.recv().await.is_some() {} });
    let group = format!("{topic}-consumer");
    let mut stream = MetricStream::new(config, &topic, &group, store, incidents)?;
    let (_stop, mut stopped) = watch::channel(false);
    let joined = Instant::now();
    // The clock starts with the first batch: joining the group is not throughput.
    let mut first_batch: Option<(Instant, usize)> = None;
    let mut consumed = 0;
    while consumed < messages.len() {
        anyhow::ensure!(
            joined.elapsed() < Duration::from_secs(600),
            "consumed only {consumed} of {} points in 10 minutes",
            messages.len()
        );
        let handled = stream.step(&mut stopped).await.unwrap_or(0);
        consumed += handled;
        if handled > 0 && first_batch.is_none() {
            first_batch = Some((Instant::now(), handled));
        }
    }
    let (started, first) = first_batch.unwrap_or((joined, 0));
    let n = messages.len() as f64;
    Ok(BrokerTiming {
        brokers: config.brokers.clone(),
        produce_points_per_second: n / produced,
        consume_points_per_second: (consumed - first) as f64 / started.elapsed().as_secs_f64(),
    })
}

/// JSON messages as producers send them, interleaved across metrics, one a minute each.
fn messages(points: usize, metrics: usize) -> Vec<Vec<u8>> {
    let start_ms = 1_700_000_000_000_i64;
    (0..points)
        .map(|n| {
            let (i, metric) = ((n / metrics) as i64, n % metrics);
            let noise = 2.0 * ((i as f64 * 12.9898 + metric as f64).sin() * 43_758.547).fract();
            let incident = metric % 10 == 0 && (i % 1_000) >= 600 && (i % 1_000) < 640;
            let value = 100.0 + noise + if incident { 60.0 } else { 0.0 };
            serde_json::json!({"metric": format!("metric_{metric}"), "timestamp": start_ms + i * 60_000, "value": value})
                .to_string()
                .into_bytes()
        })
        .collect()
}
