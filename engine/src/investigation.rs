//! The investigation: series → shared decomposition → three agents (concurrently) →
//! synthesizer → verdict. Pure: what to do with a verdict (store it, post it) is the caller's.

use std::time::Instant;

use serde::Serialize;

use crate::agents::synthesizer::{self, Weights};
use crate::agents::{
    change_detective, pattern_analyst, root_cause, AgentName, AgentReport, Context, WindowKind,
    MAX_CONFIDENCE,
};
use crate::chart::ChartData;
use crate::learning::fingerprint::Fingerprint;
use crate::learning::SimilarIncident;
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
    /// UTC milliseconds of `start` and `end`.
    #[serde(skip)]
    pub start_ms: i64,
    #[serde(skip)]
    pub end_ms: i64,
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
    /// Every window that stood out: the one the verdict names first, then the others
    /// strongest first.
    pub anomalies: Vec<Anomaly>,
    /// Past incidents of a similar shape, with what people said about them.
    pub similar_incidents: Vec<SimilarIncident>,
    /// Points judged: the asked range (`--since`, `last 6h`) or the whole series.
    pub points: usize,
    /// Points before the asked range, read only to know what normal looked like.
    pub baseline_points: usize,
    /// Detected seasonal period, e.g. `daily`.
    pub seasonality: Option<String>,
    pub elapsed_ms: f64,
    /// Combined evidence (log-odds) before the learned threshold; what learning compares.
    #[serde(skip)]
    pub evidence_log_odds: f64,
    /// Shape of the main anomalous window, for recognising it next time.
    #[serde(skip)]
    pub fingerprint: Option<Fingerprint>,
    /// What its chart draws, kept with it so the chart can be drawn again without the series.
    #[serde(skip)]
    pub chart: ChartData,
}

impl Verdict {
    /// Adds what similar past incidents say to the Root Cause Agent's report and the
    /// hypothesis.
    pub fn recall(&mut self, similar: Vec<SimilarIncident>) {
        let root = self
            .agents
            .iter_mut()
            .find(|r| r.agent == AgentName::RootCause);
        if let Some(sentence) = root.and_then(|report| root_cause::recall(report, &similar)) {
            if self.anomalous {
                self.hypothesis = format!("{} {sentence}", self.hypothesis);
            }
        }
        if self.anomalous {
            self.confidence = round3(confidence_after_recall(self.confidence, &similar));
        }
        self.similar_incidents = similar;
    }

    /// The first number of the verdict that is not finite, named; `None` when all are. JSON
    /// has no infinity: such a verdict would read back as `null` where a number belongs.
    pub fn non_finite(&self) -> Option<String> {
        let mut numbers: Vec<(String, f64)> = vec![
            ("confidence".into(), self.confidence),
            ("chart band".into(), self.chart.band),
        ];
        for report in &self.agents {
            numbers.push((
                format!("{} confidence", report.agent.id()),
                report.confidence,
            ));
            for evidence in &report.evidence {
                numbers.push((
                    format!("{} {}", report.agent.id(), evidence.name),
                    evidence.value,
                ));
            }
        }
        for window in &self.anomalies {
            numbers.push((format!("window at {} score", window.start), window.score));
            numbers.push((
                format!("window at {} magnitude", window.start),
                window.magnitude,
            ));
        }
        for (at, value, expected) in &self.chart.points {
            numbers.push((format!("chart value at {at}"), *value));
            numbers.push((format!("chart baseline at {at}"), *expected));
        }
        numbers
            .into_iter()
            .find(|(_, value)| !value.is_finite())
            .map(|(name, _)| name)
    }

    /// The window that drives the verdict, the one its sentence names.
    pub fn main_window(&self) -> Option<&Anomaly> {
        self.anomalies.first()
    }
}

/// An alert's confidence once similar past incidents are known: each one people confirmed
/// halves the remaining doubt, each one they called a false positive doubles it (two of each
/// count at most; never below 50%, never above [`MAX_CONFIDENCE`]). People's judgement of
/// the same shape is evidence the agents do not have, so it may lift a verdict past their
/// agreement cap.
fn confidence_after_recall(confidence: f64, similar: &[SimilarIncident]) -> f64 {
    use crate::learning::FeedbackVerdict;
    let judged = |verdict: FeedbackVerdict| {
        similar
            .iter()
            .filter(|s| s.feedback == Some(verdict))
            .count()
            .min(2) as i32
    };
    let doubt = (1.0 - confidence)
        * 0.5f64.powi(judged(FeedbackVerdict::Confirmed))
        * 2f64.powi(judged(FeedbackVerdict::FalsePositive));
    (1.0 - doubt).clamp(0.5, MAX_CONFIDENCE)
}

/// Runs the full investigation of `series`. Values beyond what the statistics can square
/// (±1e100) or too small to (1e-100) are investigated in a unit that brings them near one,
/// and the verdict says so: every number it states is in that unit.
pub fn investigate(series: &Series, events: &[Event], weights: Weights) -> Verdict {
    let exponent = series.safe_unit_exponent();
    if exponent == 0 {
        return investigate_as_is(series, events, weights);
    }
    let mut verdict = investigate_as_is(&series.in_unit(exponent), events, weights);
    verdict.verdict = format!(
        "{} Numbers are in units of 1e{exponent}: the values are too far from 1 for the \
         statistics to square them as they are.",
        verdict.verdict
    );
    verdict.chart.unit_exponent = exponent;
    verdict
}

fn investigate_as_is(series: &Series, events: &[Event], weights: Weights) -> Verdict {
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
            start_ms: series.timestamps[w.start],
            end_ms: series.timestamps[w.end],
        })
        .collect::<Vec<_>>();
    let windows: Vec<(usize, usize)> = anomalies
        .iter()
        .map(|a| (a.start_index, a.end_index))
        .collect();
    let chart = ChartData::of(series, &decomposition, &windows);
    Verdict {
        id: uuid::Uuid::new_v4().to_string(),
        metric: series.metric.clone(),
        anomalous: conclusion.anomalous,
        severity: conclusion.severity,
        confidence: round3(conclusion.confidence.min(MAX_CONFIDENCE)),
        verdict: conclusion.verdict,
        hypothesis: conclusion.hypothesis,
        pattern: hypothesis
            .filter(|_| conclusion.anomalous)
            .map(|h| h.pattern),
        consensus: conclusion.consensus,
        agents: reports
            .into_iter()
            .map(|r| AgentReport {
                confidence: round3(r.confidence.min(MAX_CONFIDENCE)),
                ..r
            })
            .collect(),
        anomalies,
        similar_incidents: Vec::new(),
        points: series.len() - context.focus_start,
        baseline_points: context.focus_start,
        seasonality: decomposition.seasonality.map(|s| s.label()),
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        evidence_log_odds: conclusion.evidence_log_odds,
        fingerprint: main_window_fingerprint(&context, &conclusion.windows),
        chart,
    }
}

/// Fingerprint of the main window (the first), cut to its core: the points that deviate
/// clearly (|z| ≥ 3 and ≥ 30% of the window's peak |z|), so two incidents of the same shape
/// match whatever margins the agents drew around them.
fn main_window_fingerprint(
    context: &Context,
    windows: &[crate::agents::Window],
) -> Option<Fingerprint> {
    let main = windows.first()?;
    let d = context.decomposition;
    let peak = (main.start..=main.end)
        .map(|i| d.z(i).abs())
        .fold(0.0, f64::max);
    let core = (0.3 * peak).max(3.0);
    let deviating = |i: &usize| d.z(*i).abs() >= core;
    let start = (main.start..=main.end)
        .find(deviating)
        .unwrap_or(main.start);
    let end = (main.start..=main.end)
        .rev()
        .find(deviating)
        .unwrap_or(main.end);
    Some(Fingerprint::of_window(
        &context.series.values,
        start,
        end,
        main.magnitude,
    ))
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
    crate::agents::rounded(value, 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_that_is_not_finite_is_named() {
        let values: Vec<f64> = (0..40).map(|i| 10.0 + f64::from(i % 3)).collect();
        let timestamps = (0..40).map(|i| i * 60_000).collect();
        let series = Series::from_points("m", timestamps, values).unwrap();
        let mut verdict = investigate(&series, &[], Weights::default());
        assert_eq!(verdict.non_finite(), None);
        verdict.agents[0].evidence[0].value = f64::INFINITY;
        let name = verdict.agents[0].evidence[0].name.clone();
        assert_eq!(
            verdict.non_finite(),
            Some(format!("pattern_analyst {name}"))
        );
        verdict.agents[0].evidence[0].value = 1.0;
        verdict.chart.points[3].2 = f64::NAN;
        assert!(verdict.non_finite().unwrap().starts_with("chart baseline"));
    }
}
