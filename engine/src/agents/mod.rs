//! The three investigating agents and the synthesizer that combines them.
//!
//! Every agent reads the same [`Context`] (the series, its shared decomposition and any
//! recorded events) and returns an [`AgentReport`]. Agents run concurrently and never see
//! each other's reports; only the synthesizer does.

pub mod catalogue;
pub mod change_detective;
pub mod pattern_analyst;
pub mod root_cause;
pub mod synthesizer;

use serde::Serialize;

pub use root_cause::{Hypothesis, Shape};

use crate::series::events::Event;
use crate::series::Series;
use crate::stats::seasonality::Decomposition;

/// What every agent reads.
pub struct Context<'a> {
    pub series: &'a Series,
    pub decomposition: &'a Decomposition,
    pub events: &'a [Event],
    level: f64,
    /// First point of the range being judged; the points before it are history that only
    /// sets the baseline ([`Series::asked_from`]).
    pub focus_start: usize,
    /// Every point's z-score and the outlier threshold, computed once for all agents.
    z: std::sync::OnceLock<(Vec<f64>, f64)>,
    /// The series with its rhythm taken out, computed once.
    deseasonalised: std::sync::OnceLock<Vec<f64>>,
    /// The series with only its rhythm and its day-long level taken out, computed once.
    wander: std::sync::OnceLock<Vec<f64>>,
}

impl<'a> Context<'a> {
    pub fn new(series: &'a Series, decomposition: &'a Decomposition, events: &'a [Event]) -> Self {
        let median = crate::stats::median(&series.values).unwrap_or(0.0).abs();
        let level = if median > 0.0 {
            median
        } else {
            decomposition.scale
        }
        .max(crate::stats::robust::resolution(&series.values));
        Self {
            series,
            decomposition,
            events,
            level,
            focus_start: series.focus_start(),
            z: std::sync::OnceLock::new(),
            deseasonalised: std::sync::OnceLock::new(),
            wander: std::sync::OnceLock::new(),
        }
    }

    /// The series with its rhythm (the seasonal component) taken out: its level and what it
    /// does around it.
    pub fn deseasonalised(&self) -> &[f64] {
        self.deseasonalised.get_or_init(|| {
            let seasonal = &self.decomposition.seasonal;
            (self.series.values.iter().zip(seasonal))
                .map(|(v, s)| v - s)
                .collect()
        })
    }

    /// The series with only its rhythm and its slow level (block medians of a day) taken out:
    /// what a metric wanders on its own, which the shared baseline partly follows.
    pub fn wander(&self) -> &[f64] {
        self.wander.get_or_init(|| {
            let rhythm_out = self.deseasonalised();
            let day = crate::stats::seasonality::DAY_MS / self.series.interval_ms.max(1);
            let slow =
                crate::stats::seasonality::block_median_trend(rhythm_out, day.max(1) as usize);
            rhythm_out.iter().zip(&slow).map(|(v, t)| v - t).collect()
        })
    }

    /// Every point's z-score against the shared baseline.
    pub fn z(&self) -> &[f64] {
        &self.z_and_threshold().0
    }

    /// The |z| beyond which a point is an outlier: the Gaussian bound for this many points,
    /// or further out when the metric's own tail is heavier (a 1% chance that noise alone
    /// passes it anywhere in the series).
    pub fn outlier_threshold(&self) -> f64 {
        self.z_and_threshold().1
    }

    fn z_and_threshold(&self) -> &(Vec<f64>, f64) {
        self.z.get_or_init(|| {
            let d = self.decomposition;
            let z: Vec<f64> = (0..d.residual.len()).map(|i| d.z(i)).collect();
            let threshold = crate::stats::tail::rare_level(
                &z,
                OUTLIER_RISK,
                crate::stats::anomalies::point_threshold(z.len()),
            );
            (z, threshold)
        })
    }

    /// `window` as far as it lies in the judged range (cut at its start), or `None` when it
    /// ended before: what happened in the history is the baseline, not the answer.
    pub fn in_focus(&self, window: Window) -> Option<Window> {
        (window.end >= self.focus_start).then(|| Window {
            start: window.start.max(self.focus_start),
            ..window
        })
    }

    /// The indices of the judged range.
    pub fn focus(&self) -> std::ops::Range<usize> {
        self.focus_start..self.series.len()
    }

    /// Typical magnitude of the metric (|median|, or the noise scale for a metric that is
    /// mostly zero), for turning deviations into percentages.
    pub fn level(&self) -> f64 {
        self.level
    }

    /// Human time of point `i`.
    pub fn time_of(&self, i: usize) -> String {
        crate::series::timestamp::to_rfc3339(self.series.timestamps[i])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentName {
    PatternAnalyst,
    ChangeDetective,
    RootCause,
}

impl AgentName {
    /// Stable identifier, as in JSON and in the store.
    pub fn id(self) -> &'static str {
        match self {
            Self::PatternAnalyst => "pattern_analyst",
            Self::ChangeDetective => "change_detective",
            Self::RootCause => "root_cause",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::PatternAnalyst => "Pattern Analyst",
            Self::ChangeDetective => "Change Detective",
            Self::RootCause => "Root Cause Agent",
        }
    }
}

/// One measured fact behind a finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub name: String,
    pub value: f64,
    pub detail: String,
}

impl Evidence {
    pub fn new(name: &str, value: f64, detail: impl Into<String>) -> Self {
        Self {
            name: name.to_string(),
            value: rounded(value, 4),
            detail: detail.into(),
        }
    }
}

/// `value` to `decimals` decimals; a value too large to have any keeps all it has.
pub(crate) fn rounded(value: f64, decimals: i32) -> f64 {
    let unit = 10f64.powi(decimals);
    let rounded = (value * unit).round() / unit;
    if rounded.is_finite() {
        rounded
    } else {
        value
    }
}

/// The kind of an anomalous stretch of the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    Outage,
    LevelShift,
    Drift,
    SeasonalityBreak,
    Burst,
    VarianceChange,
    Spike,
    Dip,
    /// Rows missing from the data (a silent gap, a run of blank cells): a fact about the
    /// data, reported as such, never an anomaly on its own.
    NoData,
}

impl WindowKind {
    /// A short departure: a spike above the baseline, a dip below it.
    pub fn excursion(magnitude: f64) -> Self {
        if magnitude >= 0.0 {
            Self::Spike
        } else {
            Self::Dip
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Outage => "outage",
            Self::LevelShift => "level shift",
            Self::Drift => "drift",
            Self::SeasonalityBreak => "seasonality break",
            Self::Burst => "periodic bursts",
            Self::VarianceChange => "variance change",
            Self::Spike => "spike",
            Self::Dip => "dip",
            Self::NoData => "no data",
        }
    }
}

/// The window that drives a verdict: the highest score, ties going to the more serious kind
/// and then to the larger deviation (scores saturate at 1 for every clear incident).
pub fn main_window(windows: &[Window]) -> Option<&Window> {
    windows.iter().max_by(|a, b| {
        a.score
            .total_cmp(&b.score)
            .then(b.kind.cmp(&a.kind))
            .then(a.magnitude.abs().total_cmp(&b.magnitude.abs()))
    })
}

/// An anomalous stretch found by an agent, by point index (inclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub start: usize,
    pub end: usize,
    pub kind: WindowKind,
    /// Probability (0..1) that this window is a real anomaly.
    pub score: f64,
    /// Largest deviation from the baseline inside the window, relative to the metric's level
    /// (+0.35 = 35% above normal).
    pub magnitude: f64,
}

/// An agent's answer.
#[derive(Debug, Clone, Serialize)]
pub struct AgentReport {
    pub agent: AgentName,
    /// Confidence (0..1) in this agent's own finding.
    pub confidence: f64,
    /// One sentence.
    pub finding: String,
    pub evidence: Vec<Evidence>,
    /// Probability (0..1) this agent gives to "the series is anomalous".
    #[serde(skip)]
    pub anomaly_probability: f64,
    #[serde(skip)]
    pub windows: Vec<Window>,
}

impl AgentReport {
    /// A detecting agent's report: its confidence is the probability of its anomaly finding
    /// when it found something, and of "nothing wrong" when it did not.
    pub fn detection(
        agent: AgentName,
        finding: String,
        evidence: Vec<Evidence>,
        anomaly_probability: f64,
        windows: Vec<Window>,
    ) -> Self {
        let confidence = if windows.is_empty() {
            1.0 - anomaly_probability
        } else {
            anomaly_probability
        };
        Self {
            agent,
            confidence,
            finding,
            evidence,
            anomaly_probability,
            windows,
        }
    }
}

/// The chance that noise alone passes the outlier bound anywhere in a series.
pub const OUTLIER_RISK: f64 = 0.01;

/// The highest confidence stated anywhere: statistics on a few hundred points are never
/// certain, and a bot that says "100%" and is wrong once is not believed again.
pub const MAX_CONFIDENCE: f64 = 0.99;

/// Turns a detection strength (statistic ÷ its threshold; 1 = just detected) into a
/// probability: 0.5 at the threshold, ~0.95 at 1.5×, ~0.05 at 0.5×.
pub fn strength_to_probability(strength: f64) -> f64 {
    1.0 / (1.0 + (-6.0 * (strength - 1.0)).exp())
}

/// Peak relative deviation from the baseline over `start..=end`, signed.
pub fn window_magnitude(context: &Context, start: usize, end: usize) -> f64 {
    let level = context.level();
    let d = context.decomposition;
    (start..=end)
        .map(|i| d.residual[i])
        .max_by(|a, b| a.abs().total_cmp(&b.abs()))
        .map_or(0.0, |r| r / level)
}
