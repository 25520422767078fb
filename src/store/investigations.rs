//! Saving investigations (verdict, windows, agent findings, fingerprint) and reading them back.

use serde::Serialize;
use sqlx::Row;

use super::{now_ms, Store, StoreError};
use crate::pipeline::Origin;
use engine::chart::ChartData;
use engine::investigation::Verdict;
use engine::learning::fingerprint::Fingerprint;
use engine::series::timestamp::to_rfc3339;

/// An investigation as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredInvestigation {
    pub id: String,
    pub metric: String,
    pub source: String,
    pub created_at: i64,
    pub anomalous: bool,
    pub evidence_log_odds: f64,
    /// The full verdict as it was reported.
    pub verdict: serde_json::Value,
}

/// One line of `anomaly-hunter history`.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub id: String,
    pub metric: String,
    pub created_at: String,
    pub anomalous: bool,
    pub severity: i64,
    pub confidence: f64,
    pub pattern: Option<String>,
    /// Latest feedback: `confirmed` or `false_positive`.
    pub feedback: Option<String>,
    pub verdict: String,
}

/// Which investigations a page of the history holds.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub metric: Option<String>,
    /// At least this severity.
    pub min_severity: Option<i64>,
    /// Only anomalous (`true`) or only normal (`false`) verdicts.
    pub anomalous: Option<bool>,
}

/// A value bound to a placeholder of a query built from a filter.
enum Bind {
    Text(String),
    Int(i64),
}

impl Store {
    /// Stores a verdict with its windows, agent findings and (when events are on) its event in
    /// one transaction.
    pub async fn save_investigation(
        &self,
        verdict: &Verdict,
        origin: &Origin,
    ) -> Result<(), StoreError> {
        let fingerprint = verdict.fingerprint.as_ref();
        let created_at = now_ms();
        let verdict_json =
            serde_json::to_string(verdict).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let main_kind = verdict.main_window().map(|w| format!("{:?}", w.kind));
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO investigations (id, metric, source, anomalous, severity, confidence, evidence_log_odds, pattern, window_kind, fingerprint, created_at, verdict_json)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&verdict.id)
        .bind(&verdict.metric)
        .bind(&origin.source)
        .bind(i64::from(verdict.anomalous))
        .bind(i64::from(verdict.severity))
        .bind(verdict.confidence)
        .bind(verdict.evidence_log_odds)
        .bind(verdict.pattern.map(str::to_string))
        .bind(main_kind.clone())
        .bind(fingerprint.map(Fingerprint::to_bytes))
        .bind(created_at)
        .bind(verdict_json)
        .execute(&mut *tx)
        .await?;
        for (position, window) in verdict.anomalies.iter().enumerate() {
            sqlx::query(
                "INSERT INTO anomaly_windows (investigation_id, position, kind, start_at, end_at, score, magnitude)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&verdict.id)
            .bind(position as i64)
            .bind(format!("{:?}", window.kind))
            .bind(window.start_ms)
            .bind(window.end_ms)
            .bind(window.score)
            .bind(window.magnitude)
            .execute(&mut *tx)
            .await?;
        }
        for report in &verdict.agents {
            let evidence = serde_json::to_string(&report.evidence)
                .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
            sqlx::query(
                "INSERT INTO agent_findings (investigation_id, agent, confidence, anomaly_probability, finding, evidence_json)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&verdict.id)
            .bind(report.agent.id())
            .bind(report.confidence)
            .bind(report.anomaly_probability)
            .bind(&report.finding)
            .bind(evidence)
            .execute(&mut *tx)
            .await?;
        }
        let chart_json =
            serde_json::to_string(&verdict.chart).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query(
            "INSERT INTO investigation_charts (investigation_id, chart_json) VALUES ($1, $2)",
        )
        .bind(&verdict.id)
        .bind(chart_json)
        .execute(&mut *tx)
        .await?;
        if self.event_outbox_enabled() {
            Self::queue_event(&mut tx, verdict, origin, created_at).await?;
        }
        tx.commit().await?;
        if let Some(signal) = &self.event_outbox {
            signal.notify_one();
        }
        if let (Some(fingerprint), Some(kind)) = (fingerprint, main_kind) {
            self.remember_fingerprint(
                &verdict.id,
                &verdict.metric,
                &kind,
                fingerprint,
                created_at,
                verdict.pattern,
            )
            .await;
        }
        Ok(())
    }

    /// One stored investigation.
    pub async fn investigation(&self, id: &str) -> Result<StoredInvestigation, StoreError> {
        let row = sqlx::query("SELECT id, metric, source, created_at, anomalous, evidence_log_odds, verdict_json FROM investigations WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::UnknownInvestigation(id.to_string()))?;
        let json: String = row.try_get("verdict_json")?;
        Ok(StoredInvestigation {
            id: row.try_get("id")?,
            metric: row.try_get("metric")?,
            source: row.try_get("source")?,
            created_at: row.try_get("created_at")?,
            anomalous: row.try_get::<i64, _>("anomalous")? != 0,
            evidence_log_odds: row.try_get("evidence_log_odds")?,
            verdict: serde_json::from_str(&json).unwrap_or(serde_json::Value::Null),
        })
    }

    /// What an investigation's chart draws; `None` for one stored before charts were kept
    /// (or none stored at all: the caller has read the investigation already).
    pub async fn chart(&self, id: &str) -> Result<Option<ChartData>, StoreError> {
        let json: Option<String> = sqlx::query_scalar(
            "SELECT chart_json FROM investigation_charts WHERE investigation_id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(json.and_then(|json| serde_json::from_str(&json).ok()))
    }

    /// The latest investigations, newest first, optionally of one metric.
    pub async fn history(
        &self,
        metric: Option<&str>,
        limit: i64,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let filter = HistoryFilter {
            metric: metric.map(str::to_string),
            ..HistoryFilter::default()
        };
        self.history_after(&filter, limit, None).await
    }

    /// A page of the history that `filter` lets through: the investigations that come after
    /// investigation `after`, newest first (a cursor that stays right while new
    /// investigations arrive).
    pub async fn history_after(
        &self,
        filter: &HistoryFilter,
        limit: i64,
        after: Option<&str>,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut conditions = Vec::new();
        let mut binds: Vec<Bind> = Vec::new();
        let mut condition = |sql: &str, value: Bind| {
            binds.push(value);
            conditions.push(sql.replace('?', &format!("${}", binds.len() + 1)));
        };
        if let Some(metric) = &filter.metric {
            condition("i.metric = ?", Bind::Text(metric.clone()));
        }
        if let Some(severity) = filter.min_severity {
            condition("i.severity >= ?", Bind::Int(severity));
        }
        if let Some(anomalous) = filter.anomalous {
            condition("i.anomalous = ?", Bind::Int(i64::from(anomalous)));
        }
        if let Some(after) = after {
            condition(
                "EXISTS (SELECT 1 FROM investigations c WHERE c.id = ?
                         AND (i.created_at < c.created_at OR (i.created_at = c.created_at AND i.id < c.id)))",
                Bind::Text(after.to_string()),
            );
        }
        let filter = match conditions.is_empty() {
            true => String::new(),
            false => format!("WHERE {}", conditions.join(" AND ")),
        };
        let sql = format!(
            "SELECT i.id, i.metric, i.created_at, i.anomalous, i.severity, i.confidence, i.pattern, i.verdict_json,
                    (SELECT f.verdict FROM feedback f WHERE f.investigation_id = i.id ORDER BY f.created_at DESC, f.id DESC LIMIT 1) AS feedback
             FROM investigations i {filter} ORDER BY i.created_at DESC, i.id DESC LIMIT $1"
        );
        let mut query = sqlx::query(&sql).bind(limit.max(1));
        for value in binds {
            query = match value {
                Bind::Text(text) => query.bind(text),
                Bind::Int(number) => query.bind(number),
            };
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| {
                let json: String = row.try_get("verdict_json")?;
                let sentence = serde_json::from_str::<serde_json::Value>(&json)
                    .ok()
                    .and_then(|v| v["verdict"].as_str().map(str::to_string))
                    .unwrap_or_default();
                Ok(HistoryEntry {
                    id: row.try_get("id")?,
                    metric: row.try_get("metric")?,
                    created_at: to_rfc3339(row.try_get("created_at")?),
                    anomalous: row.try_get::<i64, _>("anomalous")? != 0,
                    severity: row.try_get("severity")?,
                    confidence: row.try_get("confidence")?,
                    pattern: row.try_get("pattern")?,
                    feedback: row.try_get("feedback")?,
                    verdict: sentence,
                })
            })
            .collect()
    }
}
