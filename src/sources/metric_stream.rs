//! Live metric points from a Kafka-protocol topic (`{metric, timestamp, value}` JSON), consumed
//! in a consumer group so several bot processes share the partitions. Each batch is stored
//! first and its offsets committed after, so a crash replays points rather than losing them;
//! every point then goes through its metric's live scorer, and a newly opened incident is
//! handed on (once per incident) to be investigated and posted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::KafkaError;
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use serde::Deserialize;
use tokio::sync::{mpsc, watch};

use crate::sinks::redpanda::{BrokerReports, RedpandaConfig};
use crate::store::{Store, StoreError};
use engine::stats::live_score::{LiveScoreConfig, LiveScorer};

/// Most points stored and committed together.
const BATCH: usize = 1_000;
/// Pause after a consumer error, so a broker that keeps failing does not spin a core.
const ERROR_PAUSE: Duration = Duration::from_millis(50);
/// How long a batch waits to fill once its first point arrived.
const LINGER: Duration = Duration::from_millis(50);

/// One point as produced to the metrics topic.
#[derive(Debug, Clone, Deserialize)]
pub struct MetricPoint {
    pub metric: String,
    /// RFC 3339, or Unix seconds / milliseconds.
    pub timestamp: serde_json::Value,
    pub value: f64,
}

impl MetricPoint {
    /// Parses one message; `None` for anything that is not a usable point.
    pub fn parse(payload: &[u8]) -> Option<(String, i64, f64)> {
        let point: MetricPoint = serde_json::from_slice(payload).ok()?;
        let metric = point.metric.trim();
        if metric.is_empty() || !point.value.is_finite() {
            return None;
        }
        Some((
            metric.to_string(),
            timestamp_ms(&point.timestamp)?,
            point.value,
        ))
    }

    /// The message for one point (timestamp in Unix milliseconds), as [`MetricPoint::parse`]
    /// reads it back. Written directly: remote write encodes every sample it forwards.
    pub fn encode(metric: &str, timestamp_ms: i64, value: f64) -> Vec<u8> {
        let mut out = Vec::with_capacity(metric.len() + 64);
        out.extend_from_slice(b"{\"metric\":");
        // A string and numbers always serialise.
        let _ = serde_json::to_writer(&mut out, metric);
        out.extend_from_slice(b",\"timestamp\":");
        let _ = serde_json::to_writer(&mut out, &timestamp_ms);
        out.extend_from_slice(b",\"value\":");
        let _ = serde_json::to_writer(&mut out, &value);
        out.push(b'}');
        out
    }
}

/// Unix seconds (below 10^11) or milliseconds, or an RFC 3339 string.
fn timestamp_ms(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::Number(n) => {
            let n = n.as_f64()?;
            Some(if n.abs() < 1e11 {
                (n * 1000.0) as i64
            } else {
                n as i64
            })
        }
        serde_json::Value::String(text) => chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.timestamp_millis()),
        _ => None,
    }
}

/// Adds a message's point (if it is one) to the batch and its offset to the commit list.
fn take(
    message: &rdkafka::message::BorrowedMessage<'_>,
    points: &mut Vec<(String, i64, f64)>,
    offsets: &mut HashMap<(String, i32), i64>,
) {
    match message.payload().and_then(MetricPoint::parse) {
        Some(point) => points.push(point),
        None => tracing::warn!(
            partition = message.partition(),
            offset = message.offset(),
            "skipped a message that is not a {{metric, timestamp, value}} point"
        ),
    }
    offsets.insert(
        (message.topic().to_string(), message.partition()),
        message.offset() + 1,
    );
}

/// Partitions this process holds, for `/healthz`.
#[derive(Clone, Default)]
pub struct Assignment(Arc<Mutex<Vec<i32>>>);

impl Assignment {
    pub fn partitions(&self) -> Vec<i32> {
        self.0.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

struct GroupContext {
    assignment: Assignment,
    reports: BrokerReports,
}

impl ClientContext for GroupContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, line: &str) {
        self.reports.log(level, facility, line);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.reports.error(error, reason);
    }
}

impl ConsumerContext for GroupContext {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let mut held = self.assignment.0.lock().unwrap_or_else(|p| p.into_inner());
        match rebalance {
            Rebalance::Assign(list) => {
                *held = list.elements().iter().map(|e| e.partition()).collect();
                held.sort_unstable();
                tracing::info!(partitions = ?*held, "metrics stream partitions assigned");
            }
            Rebalance::Revoke(_) => held.clear(),
            Rebalance::Error(e) => tracing::warn!(error = %e, "metrics stream rebalance failed"),
        }
    }
}

/// What happens to consumed points, whatever their transport: stored, then scored by each
/// metric's live scorer. (The benchmarks drive it directly.)
pub struct PointIngest {
    store: Arc<Store>,
    scorers: HashMap<String, MetricScorer>,
    last_eviction: Instant,
}

/// One metric's scorer, when it last got a point, and the last timestamp it scored: a point
/// at or before it (a redelivered message, a retried remote write) is stored, not scored again.
struct MetricScorer {
    scorer: LiveScorer,
    seen: Instant,
    last_ms: i64,
}

/// A metric without points for this long has its scorer dropped (it is seeded again from the
/// store if the metric comes back), so memory follows the live metrics, not every metric ever
/// seen.
pub const SCORER_IDLE: Duration = Duration::from_secs(3600);
/// Scorers kept at most; beyond, the longest idle go first.
pub const MAX_SCORERS: usize = 20_000;
/// Stored points read to tell a metric's step before its scorer is seeded.
const STEP_SAMPLE: i64 = 64;
/// Most stored points a scorer replays when it is seeded (two weeks at a 15 s step): a
/// metric sampled every second would otherwise replay over a million.
const MAX_SEED_POINTS: usize = 80_640;

impl PointIngest {
    pub fn new(store: Arc<Store>) -> Self {
        Self {
            store,
            scorers: HashMap::new(),
            last_eviction: Instant::now(),
        }
    }

    /// Metrics with a scorer in memory.
    pub fn scorers(&self) -> usize {
        self.scorers.len()
    }

    /// Drops the scorers idle since before `now - SCORER_IDLE`, and the longest idle beyond
    /// [`MAX_SCORERS`].
    pub fn evict_idle(&mut self, now: Instant) {
        self.scorers
            .retain(|_, scored| now.saturating_duration_since(scored.seen) < SCORER_IDLE);
        if self.scorers.len() > MAX_SCORERS {
            let mut seen: Vec<Instant> = self.scorers.values().map(|s| s.seen).collect();
            seen.sort_unstable();
            let cutoff = seen[self.scorers.len() - MAX_SCORERS];
            self.scorers.retain(|_, scored| scored.seen >= cutoff);
        }
        self.last_eviction = now;
    }

    /// Stores a batch in one transaction.
    pub async fn store(&self, points: &[(String, i64, f64)]) -> Result<(), StoreError> {
        let rows: Vec<(&str, i64, f64)> = points
            .iter()
            .map(|(metric, ts, value)| (metric.as_str(), *ts, *value))
            .collect();
        self.store.ingest_rows(&rows).await.map(|_| ())
    }

    /// Runs each point through its metric's live scorer; returns the metrics whose incident
    /// opened in this batch.
    pub async fn detect(&mut self, points: &[(String, i64, f64)]) -> Vec<String> {
        let mut opened = Vec::new();
        let now = Instant::now();
        if now.duration_since(self.last_eviction) > SCORER_IDLE / 4 {
            self.evict_idle(now);
        }
        for (metric, ts, value) in points {
            let scored = match self.scorers.get_mut(metric) {
                Some(scored) => scored,
                None => {
                    let scored = self.seeded_scorer(metric, *ts, now).await;
                    self.scorers.entry(metric.clone()).or_insert(scored)
                }
            };
            scored.seen = now;
            if *ts <= scored.last_ms {
                continue;
            }
            scored.last_ms = *ts;
            if scored.scorer.push(*ts, *value).alert {
                tracing::info!(metric, "new incident on the metrics stream");
                opened.push(metric.clone());
            }
        }
        opened
    }

    /// A scorer that already knows the metric's stored history before `first` — its
    /// baselines, its usual extremes and the incidents it remembers — so a restart or a
    /// rebalance neither starts blind nor alerts again on the usual (the current batch is
    /// already stored). It is calibrated on the metric's own long tail at the metric's step,
    /// as a watch is: a stream runs for weeks, and should page about as often as its own
    /// worst week says it should.
    async fn seeded_scorer(&self, metric: &str, first: i64, now: Instant) -> MetricScorer {
        let (config, history) = match self.stored_history(metric, first).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, metric, "no stored history for the scorer; it starts blind");
                (LiveScoreConfig::default(), Vec::new())
            }
        };
        let mut scorer = LiveScorer::new(config);
        for &(at, value) in &history {
            scorer.push(at, value);
        }
        MetricScorer {
            scorer,
            seen: now,
            last_ms: history.last().map_or(i64::MIN, |&(at, _)| at),
        }
    }

    /// The metric's scorer configuration at its own step, and the stored points before
    /// `first` it replays.
    async fn stored_history(
        &self,
        metric: &str,
        first: i64,
    ) -> Result<(LiveScoreConfig, Vec<(i64, f64)>), StoreError> {
        let recent = self.store.points_before(metric, first, STEP_SAMPLE).await?;
        let config = LiveScoreConfig::for_watch(median_step_ms(&recent).unwrap_or(60_000));
        let replayed = config.memory_points().min(MAX_SEED_POINTS) as i64;
        let history = self.store.points_before(metric, first, replayed).await?;
        Ok((config, history))
    }
}

/// The median spacing of points in time order; `None` below two points.
fn median_step_ms(points: &[(i64, f64)]) -> Option<i64> {
    let mut steps: Vec<i64> = points.windows(2).map(|w| w[1].0 - w[0].0).collect();
    if steps.is_empty() {
        return None;
    }
    let middle = steps.len() / 2;
    Some(*steps.select_nth_unstable(middle).1)
}

/// The consumer of one metrics topic.
pub struct MetricStream {
    consumer: StreamConsumer<GroupContext>,
    ingest: PointIngest,
    incidents: mpsc::Sender<String>,
    assignment: Assignment,
    reports: BrokerReports,
    /// The broker is away: said once, until it answers again.
    unavailable: bool,
}

impl MetricStream {
    /// Joins `group` on `topic`; newly opened incidents go to `incidents` as metric names.
    pub fn new(
        config: &RedpandaConfig,
        topic: &str,
        group: &str,
        store: Arc<Store>,
        incidents: mpsc::Sender<String>,
    ) -> Result<Self, KafkaError> {
        let assignment = Assignment::default();
        let reports = BrokerReports::default();
        let consumer: StreamConsumer<GroupContext> = config
            .client_config()
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            // A topic created after the bot started (by the first producer) is joined within
            // seconds, not at librdkafka's default five-minute metadata refresh.
            .set("topic.metadata.refresh.interval.ms", "10000")
            .create_with_context(GroupContext {
                assignment: assignment.clone(),
                reports: reports.clone(),
            })?;
        consumer.subscribe(&[topic])?;
        Ok(Self {
            consumer,
            ingest: PointIngest::new(store),
            incidents,
            assignment,
            reports,
            unavailable: false,
        })
    }

    pub fn assignment(&self) -> Assignment {
        self.assignment.clone()
    }

    /// Consumes until `shutdown` turns true.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        while self.step(&mut shutdown).await.is_some() {}
    }

    /// One batch: read, store, commit, score. Returns the points handled, or `None` once
    /// `shutdown` turned true (a batch not stored by then stays uncommitted, to be read again).
    pub async fn step(&mut self, shutdown: &mut watch::Receiver<bool>) -> Option<usize> {
        let batch = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return None,
            batch = self.next_batch() => batch,
        };
        let Some((points, offsets)) = batch else {
            return Some(0);
        };
        if !self.store_until_done(&points, shutdown).await {
            return None;
        }
        if let Err(e) = self.consumer.commit(&offsets, CommitMode::Async) {
            tracing::warn!(error = %e, "could not commit metric offsets; the points may be read again (they are stored idempotently)");
        }
        self.detect(&points).await;
        Some(points.len())
    }

    /// Waits for a point, then gathers more for a moment; returns the usable points and the
    /// offsets to commit (unusable messages are skipped, and committed too).
    async fn next_batch(&mut self) -> Option<(Vec<(String, i64, f64)>, TopicPartitionList)> {
        let mut points = Vec::new();
        let mut offsets = HashMap::new();
        let first = match self.consumer.recv().await {
            Ok(message) => message,
            Err(e) => {
                self.report_unavailable(&e);
                // librdkafka queues one error per failed reconnect: after an outage the queue
                // is drained quickly, or the stream would lag a second per queued error.
                tokio::time::sleep(ERROR_PAUSE).await;
                return None;
            }
        };
        if std::mem::take(&mut self.unavailable) {
            tracing::info!("metrics stream reachable again");
        }
        take(&first, &mut points, &mut offsets);
        drop(first);
        let deadline = tokio::time::Instant::now() + LINGER;
        while points.len() < BATCH {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Ok(Ok(message)) => take(&message, &mut points, &mut offsets),
                _ => break,
            }
        }
        let mut commit = TopicPartitionList::new();
        for ((topic, partition), next) in offsets {
            let _ = commit.add_partition_offset(&topic, partition, Offset::Offset(next));
        }
        Some((points, commit))
    }

    /// Warns once per outage, with librdkafka's reason; retries are only debug lines.
    fn report_unavailable(&mut self, error: &KafkaError) {
        if std::mem::replace(&mut self.unavailable, true) {
            return tracing::debug!(%error, "metrics stream still unavailable");
        }
        match self.reports.latest_problem() {
            Some(problem) => {
                tracing::warn!(%error, "metrics stream unavailable ({problem}); retrying")
            }
            None => tracing::warn!(%error, "metrics stream unavailable; retrying"),
        }
    }

    /// Stores the batch, retrying while the store is unavailable: its offsets are committed
    /// only afterwards, so nothing is skipped. False when shutdown came first.
    async fn store_until_done(
        &self,
        points: &[(String, i64, f64)],
        shutdown: &mut watch::Receiver<bool>,
    ) -> bool {
        let mut pauses = crate::retry::pauses(Duration::from_millis(200), Duration::from_secs(10));
        while let Err(e) = self.ingest.store(points).await {
            tracing::error!(error = %e, "cannot store metric points; retrying");
            let pause = pauses.next().unwrap_or(Duration::from_secs(10));
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => return false,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        true
    }

    /// Scores the batch; each newly opened incident is passed on.
    async fn detect(&mut self, points: &[(String, i64, f64)]) {
        let opened = self.ingest.detect(points).await;
        crate::telemetry::stream_points(points.len(), opened.len());
        for metric in opened {
            if self.incidents.send(metric).await.is_err() {
                return;
            }
        }
    }
}
