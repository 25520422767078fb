//! `bench watch`: one replica running one watch of many series at a 15 s step, against a
//! local Prometheus-compatible endpoint this process serves (`query_range` answered from a
//! formula, so its own cost is building the JSON). The watch is seeded from the endpoint's
//! history, then stepped through rounds as the clock would step it; measured: the process'
//! CPU per round as a share of one core over the step, the heap the series' scorers hold,
//! and the resident memory.

use std::fmt;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Form, State};
use axum::routing::post;
use serde::{Deserialize, Serialize};

use crate::sources::prometheus::{Prometheus, PrometheusConfig};
use crate::sources::watches::{RunningWatch, WatchRunner};
use crate::store::{Location, NewWatch, Store};

/// The step the issue names.
const STEP_MS: i64 = 15_000;

#[derive(Debug, Clone, Serialize)]
pub struct WatchTiming {
    pub series: usize,
    pub step_seconds: f64,
    pub seed_hours: f64,
    pub seed_seconds: f64,
    pub rounds: usize,
    /// Process CPU per round (query, parse, score, record), seconds.
    pub cpu_seconds_per_round: f64,
    /// That CPU as a share of one core over the step.
    pub cores: f64,
    pub scorer_bytes_per_series: f64,
    pub rss_mib: f64,
}

impl fmt::Display for WatchTiming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "watch of {} series at a {} s step, seeded from {} h of history in {:.1} s: {:.3} s of CPU per round over {} rounds = {:.3} of one core; scorers {:.0} KiB per series; resident memory {:.0} MiB",
            self.series,
            self.step_seconds,
            self.seed_hours,
            self.seed_seconds,
            self.cpu_seconds_per_round,
            self.rounds,
            self.cores,
            self.scorer_bytes_per_series / 1024.0,
            self.rss_mib
        )
    }
}

/// The endpoint's series and where its history begins (ms).
#[derive(Clone, Copy)]
struct Endpoint {
    series: usize,
    history_from: i64,
}

#[derive(Deserialize)]
struct RangeForm {
    start: f64,
    end: f64,
    step: f64,
}

/// `series` series seeded from `seed_hours` of history, then `rounds` steps.
pub async fn run(series: usize, seed_hours: f64, rounds: usize) -> anyhow::Result<WatchTiming> {
    let dir =
        std::env::temp_dir().join(format!("anomaly-hunter-bench-watch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Arc::new(Store::open(Location::Sqlite(dir.join("bench.db"))).await?);
    let mut now = chrono::Utc::now().timestamp_millis().div_euclid(STEP_MS) * STEP_MS;
    let endpoint = Endpoint {
        series,
        history_from: now - (seed_hours * 3_600_000.0) as i64,
    };
    let url = serve_endpoint(endpoint).await?;
    let prometheus = Prometheus::new(PrometheusConfig {
        url,
        bearer_token: None,
        basic_auth: None,
        headers: Vec::new(),
        timeout: Duration::from_secs(300),
        min_step_ms: Some(STEP_MS),
    })?;
    // No chat here: incidents are recorded, not posted.
    let runner = WatchRunner::new(store.clone(), prometheus, || {});
    let watch = store
        .add_watch(&NewWatch {
            query: "bench_metric".into(),
            step_ms: STEP_MS,
            series_cap: series as i64,
            platform: None,
            channel: None,
            created_by: "bench".into(),
        })
        .await?;
    let mut run = RunningWatch::new(watch);
    let seeding = Instant::now();
    runner.round(&mut run, now).await;
    let seed_seconds = seeding.elapsed().as_secs_f64();
    anyhow::ensure!(
        run.footprint().0 == series,
        "the seed scored {} of {series} series",
        run.footprint().0
    );
    let cpu_before = process_cpu_seconds()?;
    for _ in 0..rounds {
        now += STEP_MS;
        runner.round(&mut run, now).await;
    }
    let cpu_seconds_per_round = (process_cpu_seconds()? - cpu_before) / rounds.max(1) as f64;
    let (scored, bytes) = run.footprint();
    let timing = WatchTiming {
        series: scored,
        step_seconds: STEP_MS as f64 / 1000.0,
        seed_hours,
        seed_seconds,
        rounds,
        cpu_seconds_per_round,
        cores: cpu_seconds_per_round / (STEP_MS as f64 / 1000.0),
        scorer_bytes_per_series: bytes as f64 / scored.max(1) as f64,
        rss_mib: resident_mib()?,
    };
    drop(run);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(timing)
}

/// Serves `/api/v1/query_range` on a loopback port; returns its base URL.
async fn serve_endpoint(endpoint: Endpoint) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let router = axum::Router::new()
        .route("/api/v1/query_range", post(query_range))
        .with_state(endpoint);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(url)
}

/// The matrix of every series over the asked range (empty before the history begins).
async fn query_range(State(endpoint): State<Endpoint>, Form(range): Form<RangeForm>) -> String {
    let step = (range.step * 1000.0).round() as i64;
    let start = ((range.start * 1000.0).round() as i64).max(endpoint.history_from);
    let end = (range.end * 1000.0).round() as i64;
    let mut body = String::from(r#"{"status":"success","data":{"resultType":"matrix","result":["#);
    if start <= end && step > 0 {
        let first = start + (end - start).rem_euclid(step);
        for series in 0..endpoint.series {
            if series > 0 {
                body.push(',');
            }
            let _ = write!(
                body,
                r#"{{"metric":{{"__name__":"bench_metric","instance":"i-{series}"}},"values":["#
            );
            let mut at = first;
            while at <= end {
                if at != first {
                    body.push(',');
                }
                let _ = write!(body, r#"[{},"{}"]"#, at as f64 / 1000.0, value(series, at));
                at += step;
            }
            body.push_str("]}");
        }
    }
    body.push_str("]}}");
    body
}

/// A daily wave with noise, different per series; to four decimals, as exporters write.
fn value(series: usize, at: i64) -> f64 {
    let hours = at as f64 / 3_600_000.0;
    let phase = series as f64 * 0.37;
    let noise = ((at as f64 * 1e-3 * 12.9898 + phase).sin() * 43_758.547).fract();
    let value = 100.0 + 20.0 * (hours / 24.0 * std::f64::consts::TAU + phase).sin() + 3.0 * noise;
    (value * 1e4).round() / 1e4
}

/// User + system CPU of this process so far, seconds.
fn process_cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the command name: state is field 3, utime 14 and stime 15 (1-based).
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(i - 3)
            .ok_or_else(|| anyhow::anyhow!("short /proc/self/stat"))?
            .parse::<f64>()?)
    };
    Ok((ticks(14)? + ticks(15)?) / 100.0)
}

fn resident_mib() -> anyhow::Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/self/status"))?
        .parse()?;
    Ok(kib / 1024.0)
}
