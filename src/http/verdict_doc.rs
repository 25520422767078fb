//! The verdict JSON as other programs read it (`detect --format json`, the API, the stored
//! verdict): one description that is both the OpenAPI schema and what the investigation page
//! reads a stored verdict into. Unknown keys are refused, so a test that reads real verdicts
//! through it keeps the published schema true to what the bot sends.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One investigation's verdict. Keys an older verdict lacks read as empty.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct VerdictDoc {
    pub id: String,
    pub metric: String,
    pub anomalous: bool,
    /// 0 (normal) to 10.
    pub severity: u8,
    /// 0 to 0.99: never a certainty.
    pub confidence: f64,
    /// One sentence for people.
    pub verdict: String,
    /// The Root Cause Agent's hypothesis, with what similar past incidents say.
    pub hypothesis: String,
    /// Catalogue id of the suspected failure pattern (`memory_leak`, …).
    pub pattern: Option<String>,
    /// How many of the three agents found the anomaly.
    pub consensus: u8,
    pub agents: Vec<AgentDoc>,
    /// Every window that stood out: the one the verdict names first, then the others
    /// strongest first.
    pub anomalies: Vec<AnomalyDoc>,
    /// Past incidents of a similar shape, with what people said about them.
    pub similar_incidents: Vec<SimilarDoc>,
    /// Points judged: the asked range or the whole series.
    pub points: usize,
    /// Points before the asked range, read only to know what normal looked like.
    pub baseline_points: usize,
    /// Detected seasonal period (`daily`, …).
    pub seasonality: Option<String>,
    pub elapsed_ms: f64,
}

/// One agent's report.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentDoc {
    /// `pattern_analyst`, `change_detective` or `root_cause`.
    pub agent: String,
    pub confidence: f64,
    /// One sentence.
    pub finding: String,
    pub evidence: Vec<EvidenceDoc>,
}

/// One number an agent's finding rests on.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceDoc {
    pub name: String,
    pub value: f64,
    pub detail: String,
}

/// An anomalous window.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnomalyDoc {
    /// RFC 3339.
    pub start: String,
    pub end: String,
    /// `spike`, `dip`, `level_shift`, `drift`, `outage`, …
    pub kind: String,
    pub score: f64,
    /// Peak deviation relative to the metric's level (+0.35 = 35% above normal).
    pub magnitude: f64,
}

/// A past incident of a similar shape.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimilarDoc {
    pub id: String,
    pub metric: String,
    /// UTC milliseconds.
    pub created_at: i64,
    /// Shape distance (0 = identical).
    pub distance: f64,
    pub pattern: Option<String>,
    /// `confirmed` or `false_positive`, when people said.
    pub feedback: Option<String>,
    pub root_cause: Option<String>,
}

impl AgentDoc {
    /// The agent's name as people read it.
    pub fn title(&self) -> &str {
        match self.agent.as_str() {
            "pattern_analyst" => "Pattern Analyst",
            "change_detective" => "Change Detective",
            "root_cause" => "Root Cause Agent",
            other => other,
        }
    }
}
