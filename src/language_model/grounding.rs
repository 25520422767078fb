//! Grounding, enforced in code: the answer must be the strict JSON object of [`schema`], every
//! claim must cite evidence ids that exist, and every figure written anywhere in the answer must
//! be one the brief states, checked as what it is: a number (as written, rounded, or a ratio
//! written as a percentage) against the brief's values and the numbers of its texts — never an
//! evidence id or a fragment of a date —, a time of day or a date against its times, a
//! duration against its durations. An answer that fails is rejected whole; the statistics' own
//! text is used instead.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::evidence::Brief;
use super::figures::{figures, Figure};

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
    #[error("the answer writes {0}, which is not in the evidence")]
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
    let known = Known::of(brief);
    let written = std::iter::once(&answer.summary)
        .chain(answer.claims.iter().map(|c| &c.text))
        .chain(&answer.next_steps)
        .chain(&answer.caveats);
    for text in written {
        if let Some(figure) = figures(text).into_iter().find(|f| !known.admits(f)) {
            return Err(Rejection::NumberNotInEvidence(figure.text().to_string()));
        }
    }
    Ok(answer)
}

/// What the brief states, by kind: the numbers of its values and texts (never an evidence
/// id, never a fragment of a date or a time), its times of day, its days, its durations
/// (written ones, and each window's length).
#[derive(Debug, Default)]
struct Known {
    numbers: Vec<f64>,
    minutes_of_day: Vec<u32>,
    days: Vec<chrono::NaiveDate>,
    durations_ms: Vec<f64>,
}

impl Known {
    fn of(brief: &Brief) -> Self {
        let mut known = Self::default();
        known.read(&serde_json::to_value(brief).unwrap_or_default());
        known
    }

    /// Everything `value` states, but the evidence ids.
    fn read(&mut self, value: &Value) {
        match value {
            Value::Number(n) => self.numbers.extend(n.as_f64()),
            Value::String(text) => self.read_text(text),
            Value::Array(items) => items.iter().for_each(|item| self.read(item)),
            Value::Object(fields) => {
                for (key, field) in fields {
                    if key != "id" {
                        self.read(field);
                    }
                }
                self.read_window(fields);
            }
            Value::Bool(_) | Value::Null => {}
        }
    }

    fn read_text(&mut self, text: &str) {
        for figure in figures(text) {
            match figure {
                Figure::Number { value, .. } => self.numbers.push(value),
                Figure::Duration { value, unit_ms, .. } => {
                    self.numbers.push(value);
                    self.durations_ms.push(value * unit_ms);
                }
                Figure::Clock { minute_of_day, .. } => self.minutes_of_day.push(minute_of_day),
                Figure::Date {
                    day, minute_of_day, ..
                } => {
                    self.days.push(day);
                    self.minutes_of_day.extend(minute_of_day);
                }
            }
        }
    }

    /// A window `{start, end}` (RFC 3339): how long it lasted is stated too.
    fn read_window(&mut self, fields: &serde_json::Map<String, Value>) {
        let time = |key: &str| {
            fields
                .get(key)
                .and_then(Value::as_str)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        };
        if let (Some(start), Some(end)) = (time("start"), time("end")) {
            self.durations_ms
                .push((end - start).num_milliseconds() as f64);
        }
    }

    /// Whether the answer may write `figure`: a number the brief holds (as written, rounded,
    /// or a ratio as a percentage; signs aside), a time of day or a day it names, a duration
    /// it states (to the precision written). A reading in ms or s may also be one of its
    /// numbers (latency is measured in them); minutes, hours and days are durations only.
    fn admits(&self, figure: &Figure) -> bool {
        match figure {
            Figure::Number {
                value, decimals, ..
            } => self.has_number(*value, *decimals),
            Figure::Duration {
                value,
                decimals,
                unit_ms,
                ..
            } => {
                let tolerance = (0.5 * 10f64.powi(-decimals) + 1e-9) * unit_ms;
                self.durations_ms
                    .iter()
                    .any(|known| (value * unit_ms - known).abs() <= tolerance)
                    || (*unit_ms <= 1e3 && self.has_number(*value, *decimals))
            }
            Figure::Clock { minute_of_day, .. } => self.minutes_of_day.contains(minute_of_day),
            Figure::Date {
                day, minute_of_day, ..
            } => {
                self.days.contains(day)
                    && minute_of_day.is_none_or(|m| self.minutes_of_day.contains(&m))
            }
        }
    }

    fn has_number(&self, value: f64, decimals: i32) -> bool {
        let tolerance = 0.5 * 10f64.powi(-decimals) + 1e-9;
        self.numbers.iter().any(|k| {
            let k = k.abs();
            (value - k).abs() <= tolerance || (value - k * 100.0).abs() <= tolerance
        })
    }
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

    /// A brief of 40 evidence items (ids E1…E41) whose only `34` is an id and whose only
    /// `55` is the minutes of its timestamps; one window of 15 minutes.
    fn brief_with_many_ids() -> Brief {
        let evidence: Vec<Value> = (0..38)
            .map(|i| json!({"name": format!("stat_{}", (b'a' + (i % 26) as u8) as char), "value": 0.5, "detail": "a statistic"}))
            .collect();
        let verdict = json!({
            "metric": "payment_latency", "anomalous": true, "severity": 8, "confidence": 0.9,
            "agents": [{"agent": "pattern_analyst", "confidence": 0.9, "finding": "Spike at 2026-11-20T08:55:00Z.",
                        "evidence": evidence}],
            "anomalies": [{"start": "2026-11-20T08:55:00Z", "end": "2026-11-20T09:10:00Z", "kind": "spike", "score": 0.9, "magnitude": 0.5}],
            "similar_incidents": []
        });
        Brief::new(&Task::Summary, &verdict, &[])
    }

    #[test]
    fn ids_and_fragments_of_dates_are_not_numbers_the_evidence_holds() {
        let brief = brief_with_many_ids();
        assert!(brief.ids().any(|id| id == "E34"));
        for (summary, invented) in [
            ("Payment latency rose 34%.", "34"),
            ("Payment latency rose 5500%.", "5500"),
            ("It rose 20 times.", "20"),
            ("It began on 2026-11-21.", "2026-11-21"),
        ] {
            assert_eq!(
                check(answer(summary, &["E1"]), &brief),
                Err(Rejection::NumberNotInEvidence(invented.into())),
                "{summary}"
            );
        }
        assert!(check(answer("It rose 50% (E2).", &["E2"]), &brief).is_ok());
    }

    #[test]
    fn times_and_durations_are_checked_as_such() {
        let brief = brief_with_many_ids();
        for honest in [
            "It began at 08:55 UTC on 2026-11-20 and lasted 15 minutes.",
            "It began at 2026-11-20T08:55:00Z and lasted 0.25 hours.",
            "A spike at 08:55 that lasted 15 min.",
        ] {
            assert!(check(answer(honest, &["E1"]), &brief).is_ok(), "{honest}");
        }
        for (summary, invented) in [
            ("It began at 08:56.", "08:56"),
            ("It lasted 16 minutes.", "16 minutes"),
            ("It lasted 2 hours.", "2 hours"),
        ] {
            assert_eq!(
                check(answer(summary, &["E1"]), &brief),
                Err(Rejection::NumberNotInEvidence(invented.into())),
                "{summary}"
            );
        }
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
}
