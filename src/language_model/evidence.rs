//! What a model is given: the verdict's facts as a list of evidence items with ids (E1…En) —
//! each agent's finding and measured statistics, the anomalous windows, similar past incidents
//! and what people said in the thread — built from the verdict *as stored*, so what is sent
//! after a restart, or shown by `llm preview`, is the same document. Raw rows are never in it
//! unless the operator asks (`LLM_SEND_SERIES`), and then only a downsampled copy.

use serde::Serialize;
use serde_json::{json, Map, Value};

use engine::learning::FeedbackVerdict;
use engine::series::timestamp::to_rfc3339;

/// The most points of the series a model is shown, when it is shown any.
pub const MAX_SERIES_POINTS: usize = 120;

/// What the model is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// Two sentences an on-call engineer reads first.
    Summary,
    /// A question someone asked in the verdict's thread.
    Question(String),
}

/// One thing a person said about the verdict (feedback in its thread).
#[derive(Debug, Clone, PartialEq)]
pub struct Remark {
    pub verdict: FeedbackVerdict,
    pub root_cause: Option<String>,
}

/// The document sent as the user message: the task, the verdict's headline facts and the
/// evidence items the answer must cite.
#[derive(Debug, Clone, Serialize)]
pub struct Brief {
    pub task: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    pub verdict: Value,
    pub evidence: Vec<Value>,
    /// `{timestamps, values}`, downsampled; only with `LLM_SEND_SERIES=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<Value>,
}

impl Brief {
    /// The brief for `task` about a stored verdict (its JSON) and the remarks in its thread.
    pub fn new(task: &Task, verdict: &Value, remarks: &[Remark]) -> Self {
        let (task_text, question) = match task {
            Task::Summary => (
                "Summarise this verdict for the on-call engineer in at most two sentences, then list the claims it rests on and what to check first.",
                None,
            ),
            Task::Question(q) => (
                "Answer the engineer's question from this evidence only. If the evidence cannot answer it, say so in the summary (\"Not in the evidence: …\") and make no claims.",
                Some(q.clone()),
            ),
        };
        Self {
            task: task_text.to_string(),
            question,
            verdict: headline(verdict),
            evidence: items(verdict, remarks),
            series: None,
        }
    }

    /// Adds a downsampled copy of the series (the operator chose to send it).
    pub fn with_series(mut self, timestamps: &[i64], values: &[f64]) -> Self {
        let (timestamps, values) = downsample(timestamps, values, MAX_SERIES_POINTS);
        let timestamps: Vec<String> = timestamps.into_iter().map(to_rfc3339).collect();
        self.series = Some(json!({"timestamps": timestamps, "values": values}));
        self
    }

    /// The ids an answer may cite.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.evidence.iter().filter_map(|item| item["id"].as_str())
    }

    /// The user message: this document as JSON.
    pub fn to_message(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The verdict's own conclusions (not evidence to cite, context to read).
fn headline(verdict: &Value) -> Value {
    let mut facts = Map::new();
    for key in [
        "metric",
        "anomalous",
        "severity",
        "confidence",
        "consensus",
        "verdict",
        "hypothesis",
        "pattern",
        "seasonality",
        "points",
        "baseline_points",
    ] {
        if let Some(value) = verdict.get(key).filter(|v| !v.is_null()) {
            facts.insert(key.to_string(), value.clone());
        }
    }
    Value::Object(facts)
}

/// Every fact with an id: findings and statistics per agent, windows, similar incidents,
/// remarks — in that order, numbered from E1.
fn items(verdict: &Value, remarks: &[Remark]) -> Vec<Value> {
    let mut items: Vec<Value> = Vec::new();
    let empty = Vec::new();
    let list = |key: &str| verdict[key].as_array().unwrap_or(&empty).clone();
    for agent in list("agents") {
        items.push(json!({
            "agent": agent["agent"],
            "finding": agent["finding"],
            "confidence": agent["confidence"],
        }));
        for statistic in agent["evidence"].as_array().unwrap_or(&empty) {
            items.push(json!({
                "agent": agent["agent"],
                "statistic": statistic["name"],
                "value": statistic["value"],
                "detail": statistic["detail"],
            }));
        }
    }
    for window in list("anomalies") {
        items.push(json!({
            "window": {"start": window["start"], "end": window["end"]},
            "kind": window["kind"],
            "score": window["score"],
            "magnitude": window["magnitude"],
        }));
    }
    for incident in list("similar_incidents") {
        let day = incident["created_at"]
            .as_i64()
            .map(|ms| to_rfc3339(ms)[..10].to_string());
        let people_said =
            serde_json::from_value::<engine::learning::SimilarIncident>(incident.clone())
                .map(|s| s.judgement())
                .unwrap_or_default();
        items.push(json!({
            "similar_incident": {
                "metric": incident["metric"],
                "day": day,
                "pattern": incident["pattern"],
                "people_said": people_said,
            }
        }));
    }
    for remark in remarks {
        items.push(json!({
            "thread_feedback": {
                "verdict": remark.verdict.as_str(),
                "root_cause": remark.root_cause,
            }
        }));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| with_id(format!("E{}", i + 1), item))
        .collect()
}

/// `item` with `id` as its first field.
fn with_id(id: String, item: Value) -> Value {
    let mut object = Map::new();
    object.insert("id".to_string(), Value::String(id));
    if let Value::Object(fields) = item {
        object.extend(fields.into_iter().filter(|(_, v)| !v.is_null()));
    }
    Value::Object(object)
}

/// At most `max` points, each the mean of its bucket of consecutive points (at the bucket's
/// first timestamp), so a model sees the shape without the rows.
pub fn downsample(timestamps: &[i64], values: &[f64], max: usize) -> (Vec<i64>, Vec<f64>) {
    let n = timestamps.len().min(values.len());
    if n <= max || max == 0 {
        return (timestamps[..n].to_vec(), values[..n].to_vec());
    }
    let bucket = n.div_ceil(max);
    (0..n)
        .step_by(bucket)
        .map(|start| {
            let end = (start + bucket).min(n);
            let mean = values[start..end].iter().sum::<f64>() / (end - start) as f64;
            (timestamps[start], (mean * 1e4).round() / 1e4)
        })
        .unzip()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict() -> Value {
        json!({
            "id": "inv-1", "metric": "db_latency", "anomalous": true, "severity": 9, "confidence": 0.96,
            "verdict": "Critical anomaly", "hypothesis": "Pool exhausted.", "pattern": null,
            "agents": [
                {"agent": "pattern_analyst", "confidence": 0.99, "finding": "Spike of +307%.",
                 "evidence": [{"name": "max_robust_z", "value": 20.4, "detail": "largest |z|"}]},
                {"agent": "change_detective", "confidence": 0.9, "finding": "Shift at 08:21.", "evidence": []}
            ],
            "anomalies": [{"start": "2026-11-20T08:17:00Z", "end": "2026-11-20T08:40:00Z", "kind": "level_shift", "score": 0.98, "magnitude": 3.07}],
            "similar_incidents": [{"id": "inv-0", "metric": "db_latency", "created_at": 1_763_000_000_000i64, "distance": 0.1,
                                   "pattern": "connection_pool_exhaustion", "feedback": "confirmed", "root_cause": "pgbouncer"}]
        })
    }

    #[test]
    fn every_fact_has_an_id_and_nothing_is_raw() {
        let remarks = [Remark {
            verdict: FeedbackVerdict::Confirmed,
            root_cause: Some("pool size 20".into()),
        }];
        let brief = Brief::new(&Task::Summary, &verdict(), &remarks);
        let ids: Vec<&str> = brief.ids().collect();
        assert_eq!(ids, ["E1", "E2", "E3", "E4", "E5", "E6"]);
        assert_eq!(brief.evidence[1]["statistic"], "max_robust_z");
        assert_eq!(brief.evidence[3]["window"]["start"], "2026-11-20T08:17:00Z");
        assert_eq!(
            brief.evidence[3]["magnitude"], 3.07,
            "windows carry their size"
        );
        assert_eq!(
            brief.evidence[5]["thread_feedback"]["root_cause"],
            "pool size 20"
        );
        assert_eq!(
            brief.evidence[4]["similar_incident"]["people_said"],
            "confirmed: pgbouncer"
        );
        assert!(brief.verdict.get("pattern").is_none(), "nulls dropped");
        assert!(brief.series.is_none());
        assert!(!brief.to_message().contains("\"values\""));
        assert!(brief.verdict.get("id").is_none());
    }

    #[test]
    fn a_series_is_sent_only_downsampled() {
        let timestamps: Vec<i64> = (0..1000).map(|i| i * 60_000).collect();
        let values: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        let (t, v) = downsample(&timestamps, &values, MAX_SERIES_POINTS);
        assert!(t.len() <= MAX_SERIES_POINTS && t.len() >= MAX_SERIES_POINTS - 10);
        assert_eq!(v[0], 4.0, "a bucket's mean");
        let brief = Brief::new(&Task::Summary, &verdict(), &[]).with_series(&timestamps, &values);
        let series = brief.series.unwrap();
        assert_eq!(series["values"].as_array().unwrap().len(), t.len());
    }
}
