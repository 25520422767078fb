//! Speed: a full investigation on 500 points, and on 1 million points end to end from a CSV
//! file (parse + investigate); its chart drawn from the copy an investigation keeps (what the
//! page and chart.png do); the live score of 1 million points, alone and end to end from the
//! same file (what `score` does before printing). P50/P95 and points per second.

use std::fmt;
use std::time::Instant;

use serde::Serialize;

use crate::render::chart;
use engine::agents::synthesizer::Weights;
use engine::investigation::investigate;
use engine::series::csv::{read_csv, read_rows_as_written, CsvOptions};
use engine::stats::live_score::{score_points, LiveScoreConfig};
use engine::synthetic::scenarios::{generate, Tier};

#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    pub label: String,
    pub points: usize,
    pub runs: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub points_per_second: f64,
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<34} {:>9} points  {:>4} runs  P50 {:>9.3} ms  P95 {:>9.3} ms  {:>12.0} points/s",
            self.label, self.points, self.runs, self.p50_ms, self.p95_ms, self.points_per_second
        )
    }
}

/// Times `runs` calls of `work`, which returns the number of points it handled.
fn time(
    label: &str,
    runs: usize,
    mut work: impl FnMut() -> anyhow::Result<usize>,
) -> anyhow::Result<Timing> {
    let mut samples = Vec::with_capacity(runs);
    let mut points = 0;
    for _ in 0..runs {
        let started = Instant::now();
        points = work()?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Ok(Timing {
        label: label.to_string(),
        points,
        runs,
        p50_ms: at(0.5),
        p95_ms: at(0.95),
        points_per_second: points as f64 / (at(0.5) / 1000.0),
    })
}

/// Runs both measurements; the 1M-point CSV is written to `scratch_dir` and removed after.
pub fn run(scratch_dir: &std::path::Path) -> anyhow::Result<Vec<Timing>> {
    let small = generate("spike", Tier::Easy, 1, true).series;
    let small = engine::series::Series::from_points(
        "api_latency",
        small.timestamps[..500].to_vec(),
        small.values[..500].to_vec(),
    )?;
    let mut timings = vec![time("detect, 500 points (in memory)", 300, || {
        Ok(investigate(&small, &[], Weights::default()).points)
    })?];

    let path = scratch_dir.join("anomaly-hunter-bench-1m.csv");
    write_large_csv(&path, 1_000_000)?;
    let result = (|| {
        let detect = time("detect, 1,000,000 points (CSV file)", 5, || {
            let series = read_csv(&path, &CsvOptions::default())?;
            Ok(investigate(&series, &[], Weights::default()).points)
        })?;
        let verdict = investigate(
            &read_csv(&path, &CsvOptions::default())?,
            &[],
            Weights::default(),
        );
        let title = chart::title(&verdict.metric, verdict.severity, verdict.confidence);
        let drawn = time("chart PNG of 1,000,000 (kept copy)", 20, || {
            chart::png(&verdict.chart, &verdict.metric, &title)?;
            Ok(verdict.chart.points.len())
        })?;
        let (timestamps, values) = read_rows_as_written(&path, &CsvOptions::default())?.columns();
        let live = time("live score, 1,000,000 points", 5, || {
            Ok(score_points(&timestamps, &values, LiveScoreConfig::default()).len())
        })?;
        let score = time("score, 1,000,000 points (CSV file)", 5, || {
            let (timestamps, values) =
                read_rows_as_written(&path, &CsvOptions::default())?.columns();
            Ok(score_points(&timestamps, &values, LiveScoreConfig::default()).len())
        })?;
        Ok::<_, anyhow::Error>([detect, drawn, live, score])
    })();
    let _ = std::fs::remove_file(&path);
    timings.extend(result?);
    Ok(timings)
}

/// One million minutely points with a daily cycle, noise and one injected spike.
fn write_large_csv(path: &std::path::Path, points: usize) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut rng = engine::synthetic::rng::Rng::new(42);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "timestamp,value")?;
    let start = 1_600_000_000i64;
    for i in 0..points {
        let daily = (std::f64::consts::TAU * i as f64 / 1440.0).sin();
        let spike = if i == points * 3 / 4 { 500.0 } else { 0.0 };
        writeln!(
            out,
            "{},{:.3}",
            start + i as i64 * 60,
            100.0 + 20.0 * daily + rng.normal() * 3.0 + spike
        )?;
    }
    out.flush()?;
    Ok(())
}
