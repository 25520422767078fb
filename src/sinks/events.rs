//! The verdict event: what every investigation publishes to the event stream. The schema is
//! documented in `docs/events.md`; a change that is not backwards compatible raises
//! `SCHEMA_VERSION`.

use serde::Serialize;

use crate::pipeline::Origin;
use engine::investigation::Verdict;
use engine::series::timestamp::to_rfc3339;

/// Version of the event's JSON shape.
pub const SCHEMA_VERSION: u32 = 1;

/// One verdict, as published (JSON, keyed by metric).
#[derive(Debug, Clone, Serialize)]
pub struct VerdictEvent<'a> {
    pub schema_version: u32,
    /// The investigation's id: unique per event, the key to `history` and `feedback`.
    pub id: &'a str,
    pub metric: &'a str,
    pub severity: u8,
    pub confidence: f64,
    pub anomalous: bool,
    pub verdict: &'a str,
    pub hypothesis: &'a str,
    pub pattern: Option<&'a str>,
    pub agents: Vec<AgentSummary<'a>>,
    pub windows: Vec<WindowSummary<'a>>,
    /// `cli`, `slack`, `discord`, `stream`.
    pub source: &'a str,
    /// The chat channel and message that asked, when a person asked.
    pub origin: Option<OriginRef<'a>>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentSummary<'a> {
    pub agent: &'static str,
    pub confidence: f64,
    pub finding: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowSummary<'a> {
    pub start: &'a str,
    pub end: &'a str,
    pub kind: engine::agents::WindowKind,
    pub score: f64,
    pub magnitude: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OriginRef<'a> {
    pub platform: &'a str,
    pub channel: &'a str,
    pub message: Option<&'a str>,
}

impl<'a> VerdictEvent<'a> {
    pub fn new(verdict: &'a Verdict, origin: &'a Origin, created_at_ms: i64) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            id: &verdict.id,
            metric: &verdict.metric,
            severity: verdict.severity,
            confidence: verdict.confidence,
            anomalous: verdict.anomalous,
            verdict: &verdict.verdict,
            hypothesis: &verdict.hypothesis,
            pattern: verdict.pattern,
            agents: verdict
                .agents
                .iter()
                .map(|report| AgentSummary {
                    agent: report.agent.id(),
                    confidence: report.confidence,
                    finding: &report.finding,
                })
                .collect(),
            windows: verdict
                .anomalies
                .iter()
                .map(|window| WindowSummary {
                    start: &window.start,
                    end: &window.end,
                    kind: window.kind,
                    score: window.score,
                    magnitude: window.magnitude,
                })
                .collect(),
            source: &origin.source,
            origin: origin.channel.as_deref().map(|channel| OriginRef {
                platform: &origin.source,
                channel,
                message: origin.message.as_deref(),
            }),
            created_at: to_rfc3339(created_at_ms),
        }
    }

    /// The record key: events of one metric share a partition, so they stay in order.
    pub fn key(&self) -> &str {
        self.metric
    }
}
