//! What the optional language model was asked and what became of it: one row per request, for
//! `stats` (tokens, latency, rejections) and so an accepted answer can be read back.

use serde::Serialize;
use sqlx::Row;

use super::{now_ms, Store, StoreError};

/// One request to the model.
#[derive(Debug, Clone)]
pub struct ModelAnswerRecord {
    pub investigation_id: String,
    /// `summary` or `question`.
    pub purpose: &'static str,
    pub provider: &'static str,
    pub model: String,
    /// `accepted`, `rejected`, `failed`, `skipped`.
    pub outcome: &'static str,
    /// Why it was not accepted: a label (`number_not_in_evidence`, `circuit_open`), or the
    /// error message of a failure.
    pub reason: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub latency_ms: f64,
    /// The accepted answer, as JSON.
    pub answer: Option<serde_json::Value>,
}

/// The model's record, for `stats`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModelStats {
    pub requests: i64,
    pub accepted: i64,
    pub rejected: i64,
    pub failed: i64,
    pub skipped: i64,
    /// Why answers were not used (`number_not_in_evidence`, `circuit_open`, …), most first.
    pub reasons: Vec<(String, i64)>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// Of the requests sent, in milliseconds.
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
}

/// An answer the model gave and the checks accepted.
#[derive(Debug, Clone)]
pub struct AcceptedAnswer {
    pub model: String,
    pub answer: serde_json::Value,
}

impl Store {
    /// The latest accepted summary of an investigation, if a model wrote one.
    pub async fn accepted_summary(
        &self,
        investigation_id: &str,
    ) -> Result<Option<AcceptedAnswer>, StoreError> {
        let row = sqlx::query(
            "SELECT model, answer_json FROM model_answers
             WHERE investigation_id = $1 AND purpose = 'summary' AND outcome = 'accepted'
             ORDER BY created_at DESC LIMIT 1",
        )
        .bind(investigation_id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let json: Option<String> = row.try_get("answer_json")?;
        Ok(json
            .and_then(|json| serde_json::from_str(&json).ok())
            .map(|answer| AcceptedAnswer {
                model: row.try_get("model").unwrap_or_default(),
                answer,
            }))
    }

    pub async fn record_model_answer(&self, record: &ModelAnswerRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO model_answers (id, investigation_id, purpose, provider, model, outcome, reason, prompt_tokens, completion_tokens, latency_ms, answer_json, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(&record.investigation_id)
        .bind(record.purpose)
        .bind(record.provider)
        .bind(&record.model)
        .bind(record.outcome)
        .bind(&record.reason)
        .bind(record.prompt_tokens as i64)
        .bind(record.completion_tokens as i64)
        .bind(record.latency_ms)
        .bind(record.answer.as_ref().map(|a| a.to_string()))
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub(super) async fn model_stats(&self) -> Result<ModelStats, StoreError> {
        let rows = sqlx::query(
            "SELECT outcome, reason, prompt_tokens, completion_tokens, latency_ms FROM model_answers",
        )
        .fetch_all(self.pool())
        .await?;
        let mut stats = ModelStats::default();
        let mut latencies = Vec::new();
        let mut reasons = std::collections::BTreeMap::<String, i64>::new();
        for row in &rows {
            let outcome: String = row.try_get("outcome")?;
            stats.requests += 1;
            match outcome.as_str() {
                "accepted" => stats.accepted += 1,
                "rejected" => stats.rejected += 1,
                "failed" => stats.failed += 1,
                _ => stats.skipped += 1,
            }
            // A failure's reason is its error message; rejections and skips have labels.
            if let (Some(reason), "rejected" | "skipped") = (
                row.try_get::<Option<String>, _>("reason")?,
                outcome.as_str(),
            ) {
                *reasons.entry(reason).or_default() += 1;
            }
            stats.prompt_tokens += row.try_get::<i64, _>("prompt_tokens")?;
            stats.completion_tokens += row.try_get::<i64, _>("completion_tokens")?;
            if outcome != "skipped" {
                latencies.push(row.try_get::<f64, _>("latency_ms")?);
            }
        }
        stats.reasons = reasons.into_iter().collect();
        stats.reasons.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        latencies.sort_by(f64::total_cmp);
        let at = |q: f64| {
            (!latencies.is_empty())
                .then(|| latencies[((latencies.len() - 1) as f64 * q).round() as usize])
        };
        stats.latency_p50_ms = at(0.5);
        stats.latency_p95_ms = at(0.95);
        Ok(stats)
    }
}
