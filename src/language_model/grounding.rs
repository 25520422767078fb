//! Grounding, enforced in code: the answer must be the strict JSON object of [`schema`], every
//! claim must cite evidence ids that exist, and every number written anywhere in the answer must
//! be one the brief contains (as written, rounded, or a ratio written as a percentage). An
//! answer that fails is rejected whole; the statistics' own text is used instead.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::evidence::Brief;

/// The instructions every request carries.
pub const SYSTEM_PROMPT: &str = "You are the writing assistant of Anomaly Hunter, a bot that investigates metrics with statistics. \
The statistics have already decided whether the series is anomalous, how severe it is and how confident they are; you never change or re-judge that. \
Use only the JSON document you are given. Every claim must cite the ids (E1, E2, …) of the evidence items it rests on. \
Write only numbers that appear in the evidence, as they appear there (a ratio such as 3.07 may be written as 307%); do not compute new numbers (no differences, sums, durations or averages). \
If the evidence does not answer the question, say \"Not in the evidence\" and make no claims. \
Answer with the JSON object of the schema and nothing else: summary (at most two sentences), claims, next_steps (at most three, concrete checks), caveats.";

/// The name of the answer's schema (and of the Anthropic tool that carries it).
pub const SCHEMA_NAME: &str = "grounded_answer";

/// Longest accepted summary, in characters (two sentences).
const MAX_SUMMARY_CHARS: usize = 600;

/// The answer every provider is held to.
pub fn schema() -> Value {
    let text_list = json!({"type": "array", "items": {"type": "string"}});
    json!({
        "type": "object",
        "properties": {
            "summary": {"type": "string"},
            "claims": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string"},
                        "evidence_ids": text_list,
                    },
                    "required": ["text", "evidence_ids"],
                    "additionalProperties": false,
                },
            },
            "next_steps": text_list,
            "caveats": text_list,
        },
        "required": ["summary", "claims", "next_steps", "caveats"],
        "additionalProperties": false,
    })
}

/// An answer that passed every check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroundedAnswer {
    pub summary: String,
    pub claims: Vec<Claim>,
    pub next_steps: Vec<String>,
    pub caveats: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub text: String,
    pub evidence_ids: Vec<String>,
}

/// Why an answer was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the answer is not the required JSON object: {0}")]
    NotTheSchema(String),
    #[error("the answer has no summary, or one longer than two sentences")]
    BadSummary,
    #[error("a claim cites `{0}`, which is not an evidence id")]
    UnknownEvidence(String),
    #[error("a claim cites no evidence: “{0}”")]
    Uncited(String),
    #[error("the answer writes {0}, a number that is not in the evidence")]
    NumberNotInEvidence(String),
}

impl Rejection {
    /// Stable label, as counted on `/metrics` and in `stats`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotTheSchema(_) => "not_the_schema",
            Self::BadSummary => "bad_summary",
            Self::UnknownEvidence(_) => "unknown_evidence_id",
            Self::Uncited(_) => "uncited_claim",
            Self::NumberNotInEvidence(_) => "number_not_in_evidence",
        }
    }
}

/// Reads and checks an answer against the brief it was given.
pub fn check(answer: Value, brief: &Brief) -> Result<GroundedAnswer, Rejection> {
    let answer: GroundedAnswer =
        serde_json::from_value(answer).map_err(|e| Rejection::NotTheSchema(e.to_string()))?;
    let summary = answer.summary.trim();
    if summary.is_empty() || summary.chars().count() > MAX_SUMMARY_CHARS {
        return Err(Rejection::BadSummary);
    }
    let ids: Vec<&str> = brief.ids().collect();
    for claim in &answer.claims {
        if claim.evidence_ids.is_empty() {
            return Err(Rejection::Uncited(claim.text.clone()));
        }
        if let Some(unknown) = claim
            .evidence_ids
            .iter()
            .find(|id| !ids.contains(&id.trim()))
        {
            return Err(Rejection::UnknownEvidence(unknown.clone()));
        }
    }
    let known = numbers_in(&brief.to_message());
    let written = std::iter::once(&answer.summary)
        .chain(answer.claims.iter().map(|c| &c.text))
        .chain(&answer.next_steps)
        .chain(&answer.caveats);
    for text in written {
        if let Some(number) = numbers_in_words(text)
            .into_iter()
            .find(|n| !n.is_in(&known))
        {
            return Err(Rejection::NumberNotInEvidence(number.text));
        }
    }
    Ok(answer)
}

/// A number as written in an answer: its value and how many decimals it was given with.
#[derive(Debug, Clone, PartialEq)]
struct Written {
    text: String,
    value: f64,
    decimals: i32,
}

impl Written {
    /// Whether this is one of `known` as written, rounded, or ×100 (a ratio as a percentage);
    /// signs are ignored ("fell 95%" for a change of −0.95).
    fn is_in(&self, known: &[f64]) -> bool {
        let tolerance = 0.5 * 10f64.powi(-self.decimals) + 1e-9;
        known.iter().any(|k| {
            let k = k.abs();
            (self.value - k).abs() <= tolerance || (self.value - k * 100.0).abs() <= tolerance
        })
    }
}

/// Every number in a text, as values (for the brief: all of them count as known).
fn numbers_in(text: &str) -> Vec<f64> {
    scan(text, false).into_iter().map(|n| n.value).collect()
}

/// The numbers an answer writes, leaving out digits that belong to a name (`E3`, `p99`,
/// `http2`, `v1.2`).
fn numbers_in_words(text: &str) -> Vec<Written> {
    scan(text, true)
}

fn scan(text: &str, skip_names: bool) -> Vec<Written> {
    let chars: Vec<char> = text.chars().collect();
    let mut numbers = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let in_name = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        let start = i;
        let mut digits = String::new();
        let mut decimals = 0;
        while i < chars.len() {
            let c = chars[i];
            let next_is_digit = chars.get(i + 1).is_some_and(char::is_ascii_digit);
            let thousands = c == ','
                && chars.len() > i + 3
                && chars[i + 1..i + 4].iter().all(char::is_ascii_digit)
                && chars.get(i + 4).is_none_or(|c| !c.is_ascii_digit())
                && !digits.contains('.');
            if c.is_ascii_digit() {
                digits.push(c);
                if digits.contains('.') {
                    decimals += 1;
                }
            } else if c == '.' && next_is_digit && !digits.contains('.') {
                digits.push('.');
            } else if !thousands {
                break;
            }
            i += 1;
        }
        if skip_names && in_name {
            continue;
        }
        if let Ok(value) = digits.parse::<f64>() {
            numbers.push(Written {
                text: chars[start..i].iter().collect(),
                value,
                decimals,
            });
        }
    }
    numbers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language_model::evidence::Task;

    fn brief() -> Brief {
        let verdict = json!({
            "metric": "db_latency", "anomalous": true, "severity": 9, "confidence": 0.96,
            "agents": [{"agent": "change_detective", "confidence": 0.97, "finding": "Level shift at 08:21.",
                        "evidence": [{"name": "shift_ratio", "value": 3.0712, "detail": "after ÷ before"},
                                     {"name": "p99_ms", "value": 1234.5, "detail": "p99 after"}]}],
            "anomalies": [], "similar_incidents": []
        });
        Brief::new(
            &Task::Question("why now, after 14:05?".into()),
            &verdict,
            &[],
        )
    }

    fn answer(summary: &str, ids: &[&str]) -> Value {
        json!({"summary": summary, "claims": [{"text": "The level shifted.", "evidence_ids": ids}],
               "next_steps": ["Check the pool"], "caveats": []})
    }

    #[test]
    fn numbers_from_the_evidence_pass_in_any_honest_form() {
        for summary in [
            "Latency rose 307% at 08:21 (p99 1,234.5 ms).",
            "A 3.07× shift, severity 9, 96% confident.",
            "Shift ratio 3.0712 (E2); p99 about 1235 ms.",
            "Nothing since 14:05 explains it.",
        ] {
            assert_eq!(
                check(answer(summary, &["E2"]), &brief()).map(|a| a.summary),
                Ok(summary.to_string())
            );
        }
    }

    #[test]
    fn an_invented_number_is_rejected() {
        assert_eq!(
            check(
                answer("Latency rose 250% in 42 minutes.", &["E2"]),
                &brief()
            ),
            Err(Rejection::NumberNotInEvidence("250".into()))
        );
        let mut step = answer("Latency rose.", &["E2"]);
        step["next_steps"] = json!(["Raise the pool to 50 connections"]);
        assert_eq!(
            check(step, &brief()).unwrap_err().reason(),
            "number_not_in_evidence",
            "next steps are held to the evidence too"
        );
    }

    #[test]
    fn claims_must_cite_real_evidence() {
        assert_eq!(
            check(answer("Latency rose.", &["E9"]), &brief()),
            Err(Rejection::UnknownEvidence("E9".into()))
        );
        assert_eq!(
            check(answer("Latency rose.", &[]), &brief())
                .unwrap_err()
                .reason(),
            "uncited_claim"
        );
    }

    #[test]
    fn anything_but_the_schema_is_rejected() {
        for bad in [
            json!("Latency rose."),
            json!({"summary": "x", "claims": []}),
            json!({"summary": "x", "claims": [], "next_steps": [], "caveats": [], "severity": 3}),
            json!({"summary": "  ", "claims": [], "next_steps": [], "caveats": []}),
        ] {
            assert!(check(bad.clone(), &brief()).is_err(), "{bad}");
        }
        let unknowable = json!({"summary": "Not in the evidence: deploys are not recorded.",
                                "claims": [], "next_steps": [], "caveats": []});
        assert!(
            check(unknowable, &brief()).is_ok(),
            "saying so is an answer"
        );
    }

    #[test]
    fn digits_inside_names_are_not_numbers() {
        let found: Vec<String> = numbers_in_words("E3 and p99 on http2, v1.2 vs 7 and 5xx")
            .into_iter()
            .map(|n| n.text)
            .collect();
        assert_eq!(found, ["7", "5"]);
    }
}
