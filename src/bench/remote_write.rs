//! `bench remote-write`: the CPU path of Prometheus' remote write on one thread — decode
//! (snappy, protobuf), select, name each series and encode its samples for the metrics topic,
//! then score each sample with its series' live scorer, as the consuming replica does.
//! Requests are shaped as Prometheus sends them: up to 2,000 samples, one per series per
//! scrape, a tenth of the series not selected. Each series' scorer is first brought to its
//! steady state, untimed (8,000 points through the consumer's path: its longest ring, the
//! shape memory, is then full): a new scorer's first points are cheaper to score, and the
//! first writes to its memory cost page faults, neither of which a running replica pays. The
//! broker and the store are left out: their cost is `bench stream`'s.

use std::fmt;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use prost::Message as _;
use serde::Serialize;

use crate::sources::metric_stream::{MetricPoint, PointIngest};
use crate::sources::promql::SeriesSelector;
use crate::sources::remote_write::decode;
use crate::sources::remote_write::prompb::{Label, Sample, TimeSeries, WriteRequest};
use crate::store::{Location, Store};

/// Prometheus' default `max_samples_per_send`.
const SAMPLES_PER_REQUEST: usize = 2_000;
/// Points each scorer is fed before the timed scrapes.
const WARM_POINTS: usize = 8_000;
const STEP_MS: i64 = 15_000;
const SELECTOR: &str = r#"{__name__=~"http_.*|.*_latency_seconds"}"#;

#[derive(Debug, Clone, Serialize)]
pub struct RemoteWriteTiming {
    pub series: usize,
    /// Points each scorer was fed, untimed, before the timed scrapes.
    pub warm_points: usize,
    pub scrapes: usize,
    pub requests: usize,
    pub compressed_bytes_per_request: f64,
    /// Samples in the timed requests, and those selected and scored.
    pub samples: usize,
    pub scored: usize,
    pub decode_seconds: f64,
    pub score_seconds: f64,
    /// Samples through decode and score per second of one thread.
    pub samples_per_second: f64,
}

impl fmt::Display for RemoteWriteTiming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "remote write of {} series (scorers warmed on {} points each) × {} scrapes in {} requests ({:.0} bytes each): {} samples ({} selected and scored) decoded in {:.2} s and scored in {:.2} s on one thread = {:.0} samples/s",
            self.series,
            self.warm_points,
            self.scrapes,
            self.requests,
            self.compressed_bytes_per_request,
            self.samples,
            self.scored,
            self.decode_seconds,
            self.score_seconds,
            self.samples_per_second
        )
    }
}

/// `series` series: their scorers warmed, then `scrapes` scrapes timed.
pub async fn run(series: usize, scrapes: usize) -> anyhow::Result<RemoteWriteTiming> {
    anyhow::ensure!(
        series > 0 && scrapes > 0,
        "give at least 1 series and 1 scrape"
    );
    let dir = std::env::temp_dir().join(format!(
        "anomaly-hunter-bench-remote-write-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Arc::new(Store::open(Location::Sqlite(dir.join("bench.db"))).await?);
    let selector: SeriesSelector = SELECTOR.parse().map_err(anyhow::Error::msg)?;
    let start_ms = chrono::Utc::now().timestamp_millis() - (WARM_POINTS + scrapes) as i64 * STEP_MS;
    let mut ingest = PointIngest::new(store);
    warm(&mut ingest, series, start_ms, &selector).await?;
    let bodies: Vec<Vec<u8>> = (WARM_POINTS..WARM_POINTS + scrapes)
        .flat_map(|scrape| requests(series, start_ms + scrape as i64 * STEP_MS, scrape))
        .collect();
    let (mut decode_seconds, mut score_seconds) = (0.0, 0.0);
    let (mut samples, mut scored) = (0, 0);
    for body in &bodies {
        let decoding = Instant::now();
        let decoded = decode(body, &selector).map_err(anyhow::Error::msg)?;
        for (series, timestamp, value) in &decoded.points {
            black_box(MetricPoint::encode(series, *timestamp, *value));
        }
        decode_seconds += decoding.elapsed().as_secs_f64();
        let scoring = Instant::now();
        black_box(ingest.detect(&decoded.points).await);
        score_seconds += scoring.elapsed().as_secs_f64();
        samples += decoded.samples;
        scored += decoded.points.len();
    }
    let _ = std::fs::remove_dir_all(&dir);
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    Ok(RemoteWriteTiming {
        series,
        warm_points: WARM_POINTS,
        scrapes,
        requests: bodies.len(),
        compressed_bytes_per_request: bytes as f64 / bodies.len().max(1) as f64,
        samples,
        scored,
        decode_seconds,
        score_seconds,
        samples_per_second: samples as f64 / (decode_seconds + score_seconds),
    })
}

/// Feeds every selected series [`WARM_POINTS`] points through the consumer's path (named as
/// remote write names them: one scrape decoded), so the timed scrapes meet running scorers.
async fn warm(
    ingest: &mut PointIngest,
    series: usize,
    start_ms: i64,
    selector: &SeriesSelector,
) -> anyhow::Result<()> {
    let mut names = Vec::new();
    for body in requests(series, start_ms, 0) {
        let decoded = decode(&body, selector).map_err(anyhow::Error::msg)?;
        names.extend(decoded.points.into_iter().map(|(name, _, _)| name));
    }
    for scrape in 0..WARM_POINTS {
        let at = start_ms + scrape as i64 * STEP_MS;
        let points: Vec<(String, i64, f64)> = names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), at, reading(i, at, scrape)))
            .collect();
        ingest.detect(&points).await;
    }
    Ok(())
}

/// One scrape of every series, as snappy-compressed requests of up to 2,000 samples.
fn requests(series: usize, at_ms: i64, scrape: usize) -> Vec<Vec<u8>> {
    let all: Vec<TimeSeries> = (0..series).map(|i| one_series(i, at_ms, scrape)).collect();
    all.chunks(SAMPLES_PER_REQUEST)
        .map(|chunk| {
            let request = WriteRequest {
                timeseries: chunk.to_vec(),
            };
            snap::raw::Encoder::new()
                .compress_vec(&request.encode_to_vec())
                .unwrap_or_default()
        })
        .collect()
}

/// Series `i`: a request counter's rate or a latency with a daily swing and noise; every tenth
/// is `up`, which the selector leaves out.
fn one_series(i: usize, at_ms: i64, scrape: usize) -> TimeSeries {
    let name = match i % 10 {
        0 => "up",
        1..=5 => "http_requests_per_second",
        _ => "db_latency_seconds",
    };
    let label = |name: &str, value: String| Label {
        name: name.to_string(),
        value,
    };
    TimeSeries {
        labels: vec![
            label("__name__", name.to_string()),
            label("instance", format!("host-{}:9100", i % 100)),
            label("job", "api".to_string()),
            label("route", format!("/r/{i}")),
        ],
        samples: vec![Sample {
            value: reading(i, at_ms, scrape),
            timestamp: at_ms,
        }],
    }
}

/// Series `i`'s value: a daily swing and noise.
fn reading(i: usize, at_ms: i64, scrape: usize) -> f64 {
    let day = (at_ms as f64 / 86_400_000.0 * std::f64::consts::TAU).sin();
    let noise = ((i * 7_919 + scrape * 104_729) as f64 * 0.618).fract();
    100.0 + 20.0 * day + 5.0 * noise
}
