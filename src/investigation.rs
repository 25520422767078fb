//! The one pipeline every entry point calls: series → shared decomposition → three agents
//! (concurrently) → synthesizer → verdict.

use std::time::Instant;

use serde::Serialize;

use crate::agents::synthesizer::{self, Weights};
use crate::agents::{
    change_detective, pattern_analyst, root_cause, AgentReport, Context, WindowKind,
};
use crate::series::events::Event;
use crate::series::timestamp::to_rfc3339;
use crate::series::Series;
use crate::stats::seasonality::{decompose, detect_period, Decomposition};

/// An anomalous window as reported to people and machines.
#[derive(Debug, Clone, Serialize)]
pub struct Anomaly {
    pub start: String,
    pub end: String,
    pub kind: WindowKind,
    pub score: f64,
    /// Peak deviation relative to the metric's level (+0.35 = 35% above normal).
    pub magnitude: f64,
    #[serde(skip)]
    pub start_index: usize,
    #[serde(skip)]
    pub end_index: usize,
}

/// The result of one investigation.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub id: String,
    pub metric: String,
    pub anomalous: bool,
    pub severity: u8,
    pub confidence: f64,
    pub verdict: String,
    pub hypothesis: String,
    /// Catalogue id of the suspected failure pattern, when one matched.
    pub pattern: Option<&'static str>,
    pub consensus: u8,
    pub agents: Vec<AgentReport>,
    pub anomalies: Vec<Anomaly>,
    pub points: usize,
    /// Detected seasonal period, e.g. `daily`.
    pub seasonality: Option<String>,
    pub elapsed_ms: f64,
}

/// Runs the full investigation of `series`.
pub fn investigate(series: &Series, events: &[Event], weights: Weights) -> Verdict {
    let started = Instant::now();
    let decomposition = decomposition_of(series);
    let context = Context::new(series, &decomposition, events);
    let (pattern, change, (root, hypothesis)) = std::thread::scope(|scope| {
        let pattern = scope.spawn(|| pattern_analyst::investigate(&context));
        let change = scope.spawn(|| change_detective::investigate(&context));
        let root = root_cause::investigate(&context);
        (join(pattern), join(change), root)
    });
    let reports = vec![pattern, change, root];
    let conclusion = synthesizer::synthesize(&context, &reports, hypothesis.as_ref(), weights);
    let anomalies = conclusion
        .windows
        .iter()
        .map(|w| Anomaly {
            start: to_rfc3339(series.timestamps[w.start]),
            end: to_rfc3339(series.timestamps[w.end]),
            kind: w.kind,
            score: round3(w.score),
            magnitude: round3(w.magnitude),
            start_index: w.start,
            end_index: w.end,
        })
        .collect();
    Verdict {
        id: uuid::Uuid::new_v4().to_string(),
        metric: series.metric.clone(),
        anomalous: conclusion.anomalous,
        severity: conclusion.severity,
        confidence: round3(conclusion.confidence),
        verdict: conclusion.verdict,
        hypothesis: conclusion.hypothesis,
        pattern: hypothesis
            .filter(|_| conclusion.anomalous)
            .map(|h| h.pattern),
        consensus: conclusion.consensus,
        agents: reports
            .into_iter()
            .map(|r| AgentReport {
                confidence: round3(r.confidence),
                ..r
            })
            .collect(),
        anomalies,
        points: series.len(),
        seasonality: decomposition.seasonality.map(|s| s.label()),
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    }
}

/// The shared baseline every agent reads (also drawn on charts).
pub fn decomposition_of(series: &Series) -> Decomposition {
    let seasonality = detect_period(&series.timestamps, &series.values, series.interval_ms);
    decompose(
        &series.timestamps,
        &series.values,
        series.interval_ms,
        seasonality,
    )
}

/// Agents are pure computations; a panic inside one is a bug worth surfacing as-is.
fn join<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}
