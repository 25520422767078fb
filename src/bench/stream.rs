//! The streaming path without the network: metric-point messages parsed, stored (in the
//! consumer's batches, into a scratch SQLite store) and scored by the streaming detectors, on
//! one task — what one consumer does per core once the broker has handed it the bytes.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::sources::metric_stream::{MetricPoint, PointIngest};
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
        )
    }
}

/// Runs the benchmark in a scratch folder under `scratch_dir`, removed afterwards. One
/// metric in ten carries an incident.
pub async fn run(
    scratch_dir: &std::path::Path,
    points: usize,
    metrics: usize,
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
