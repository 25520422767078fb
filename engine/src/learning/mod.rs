//! Learning from feedback, as pure functions the store applies and persists:
//! - [`reliability`]: how far to trust each agent (a Beta posterior of its agreement with
//!   people's verdicts);
//! - [`threshold`]: how much evidence each metric needs before it alerts (false positives push
//!   it up, confirmations hold it below what was confirmed);
//! - [`fingerprint`]: the shape of an incident, so the next similar one is recognised.

pub mod fingerprint;
pub mod reliability;
pub mod threshold;

use serde::{Deserialize, Serialize};

/// What a person said about a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackVerdict {
    Confirmed,
    FalsePositive,
}

impl FeedbackVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::FalsePositive => "false_positive",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text
            .trim()
            .to_ascii_lowercase()
            .replace(['-', ' '], "_")
            .as_str()
        {
            "confirmed" | "confirm" | "true_positive" => Some(Self::Confirmed),
            "false_positive" | "fp" => Some(Self::FalsePositive),
            _ => None,
        }
    }
}

/// A past incident that looks like the current one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarIncident {
    pub id: String,
    pub metric: String,
    /// UTC milliseconds.
    pub created_at: i64,
    /// Shape distance (0 = identical).
    pub distance: f64,
    pub pattern: Option<String>,
    /// The latest feedback on it, if any.
    pub feedback: Option<FeedbackVerdict>,
    /// The root cause people recorded, if any.
    pub root_cause: Option<String>,
}

impl SimilarIncident {
    /// What people said about it: `confirmed: pool too small`, `false positive`, `not judged`.
    pub fn judgement(&self) -> String {
        judgement(self.feedback, self.root_cause.as_deref())
    }
}

/// What people said about a verdict, as one phrase: `confirmed: pool too small`,
/// `false positive`, `not judged`.
pub fn judgement(verdict: Option<FeedbackVerdict>, root_cause: Option<&str>) -> String {
    match (verdict, root_cause) {
        (Some(verdict), Some(cause)) => format!("{}: {cause}", verdict.as_str().replace('_', " ")),
        (Some(verdict), None) => verdict.as_str().replace('_', " "),
        (None, _) => "not judged".to_string(),
    }
}
