//! Feedback and the learning it drives: each verdict people judge updates the agents'
//! reliability and the metric's alert threshold, in the same transaction as the feedback.

use serde::Serialize;
use sqlx::Row;

use super::{now_ms, Store, StoreError};
use crate::language_model::evidence::Remark;
use engine::agents::synthesizer::Weights;
use engine::agents::AgentName;
use engine::learning::reliability::{self, PRIOR_AGREED, PRIOR_DISAGREED};
use engine::learning::threshold::MetricThreshold;
use engine::learning::FeedbackVerdict;

/// What a person said.
#[derive(Debug, Clone)]
pub struct NewFeedback {
    pub investigation_id: String,
    pub verdict: FeedbackVerdict,
    pub root_cause: Option<String>,
    pub author: Option<String>,
    pub platform: Option<String>,
}

/// What the feedback changed.
#[derive(Debug, Clone, Serialize)]
pub struct FeedbackOutcome {
    pub metric: String,
    pub threshold_before: f64,
    pub threshold_after: f64,
    /// Synthesizer weights after the update, by agent.
    pub weights: Vec<(String, f64)>,
}

/// The agents whose votes the synthesizer weighs (the Root Cause Agent explains, it does not vote).
const VOTING_AGENTS: [AgentName; 2] = [AgentName::PatternAnalyst, AgentName::ChangeDetective];

/// Feedback as the investigation page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct FeedbackEntry {
    pub verdict: FeedbackVerdict,
    pub root_cause: Option<String>,
    pub author: Option<String>,
    /// `slack`, `discord`, `api`, `web`, `cli`.
    pub platform: Option<String>,
    /// UTC milliseconds.
    pub created_at: i64,
}

impl Store {
    /// Everything people said about an investigation, oldest first.
    pub async fn feedback_on(
        &self,
        investigation_id: &str,
    ) -> Result<Vec<FeedbackEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT verdict, root_cause, author, platform, created_at FROM feedback
             WHERE investigation_id = $1 ORDER BY created_at, id",
        )
        .bind(investigation_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .filter_map(|row| {
                let verdict: String = row.try_get("verdict").ok()?;
                Some(Ok(FeedbackEntry {
                    verdict: FeedbackVerdict::parse(&verdict)?,
                    root_cause: row.try_get("root_cause").ok()?,
                    author: row.try_get("author").ok()?,
                    platform: row.try_get("platform").ok()?,
                    created_at: row.try_get("created_at").ok()?,
                }))
            })
            .collect()
    }

    /// What people said in a verdict's thread (feedback), oldest first.
    pub async fn remarks(&self, investigation_id: &str) -> Result<Vec<Remark>, StoreError> {
        let feedback = self.feedback_on(investigation_id).await?;
        Ok(feedback
            .into_iter()
            .map(|f| Remark {
                verdict: f.verdict,
                root_cause: f.root_cause,
            })
            .collect())
    }

    /// Records feedback and applies its learning atomically. Concurrent feedback on the same
    /// metric is serialised by touching its threshold row first (a row lock on PostgreSQL, the
    /// write lock on SQLite), so no update is lost.
    pub async fn add_feedback(&self, feedback: NewFeedback) -> Result<FeedbackOutcome, StoreError> {
        let stored = self.investigation(&feedback.investigation_id).await?;
        if !stored.anomalous && feedback.verdict == FeedbackVerdict::FalsePositive {
            return Err(StoreError::NotAnAlert(stored.id));
        }
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO metric_thresholds (metric, threshold_offset, false_positives, confirmed, weakest_confirmed, updated_at)
             VALUES ($1, 0, 0, 0, NULL, $2)
             ON CONFLICT (metric) DO UPDATE SET updated_at = excluded.updated_at",
        )
        .bind(&stored.metric)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO feedback (id, investigation_id, verdict, root_cause, author, platform, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&feedback.investigation_id)
        .bind(feedback.verdict.as_str())
        .bind(feedback.root_cause.as_deref().map(str::trim).filter(|t| !t.is_empty()))
        .bind(feedback.author.as_deref())
        .bind(feedback.platform.as_deref())
        .bind(now)
        .execute(&mut *tx)
        .await?;

        let confirmed = feedback.verdict == FeedbackVerdict::Confirmed;
        // What really happened: an alert people confirmed. A confirmed quiet verdict means
        // there was nothing, and agents that voted "anomalous" on it were wrong.
        let truly_anomalous = stored.anomalous && confirmed;
        let votes = sqlx::query(
            "SELECT agent, anomaly_probability FROM agent_findings WHERE investigation_id = $1",
        )
        .bind(&feedback.investigation_id)
        .fetch_all(&mut *tx)
        .await?;
        for row in votes {
            let agent: String = row.try_get("agent")?;
            if !VOTING_AGENTS.iter().any(|a| a.id() == agent) {
                continue;
            }
            let agreed = reliability::agreed(row.try_get("anomaly_probability")?, truly_anomalous);
            sqlx::query(
                "INSERT INTO agent_reliability (agent, agreed, disagreed) VALUES ($1, $2, $3)
                 ON CONFLICT (agent) DO UPDATE SET agreed = agent_reliability.agreed + $4, disagreed = agent_reliability.disagreed + $5",
            )
            .bind(&agent)
            .bind(PRIOR_AGREED + f64::from(u8::from(agreed)))
            .bind(PRIOR_DISAGREED + f64::from(u8::from(!agreed)))
            .bind(f64::from(u8::from(agreed)))
            .bind(f64::from(u8::from(!agreed)))
            .execute(&mut *tx)
            .await?;
        }

        let before = read_threshold(&mut tx, &stored.metric).await?;
        // Thresholds learn from alerts only: a quiet verdict says nothing about where the bar
        // for alerting should be.
        let after = if stored.anomalous {
            before.after_feedback(stored.evidence_log_odds, confirmed)
        } else {
            before
        };
        // A NULL double cannot be bound through sqlx 0.8's Any driver on PostgreSQL (it goes
        // out typed as float4), so "no confirmation yet" is written as a literal NULL.
        let weakest = match after.weakest_confirmed {
            Some(_) => "$6",
            None => "NULL",
        };
        let sql = format!(
            "UPDATE metric_thresholds SET threshold_offset = $1, false_positives = $2, confirmed = $3, updated_at = $4, weakest_confirmed = {weakest}
             WHERE metric = $5"
        );
        let mut update = sqlx::query(&sql)
            .bind(after.offset)
            .bind(i64::from(after.false_positives))
            .bind(i64::from(after.confirmed))
            .bind(now)
            .bind(&stored.metric);
        if let Some(weakest) = after.weakest_confirmed {
            update = update.bind(weakest);
        }
        update.execute(&mut *tx).await?;
        tx.commit().await?;

        let weights = self.learned_weights(&stored.metric).await?;
        Ok(FeedbackOutcome {
            metric: stored.metric,
            threshold_before: before.offset,
            threshold_after: after.offset,
            weights: vec![
                (
                    AgentName::PatternAnalyst.id().to_string(),
                    weights.pattern_analyst,
                ),
                (
                    AgentName::ChangeDetective.id().to_string(),
                    weights.change_detective,
                ),
            ],
        })
    }

    /// The synthesizer weights learned so far for `metric`.
    pub async fn learned_weights(&self, metric: &str) -> Result<Weights, StoreError> {
        let mut weights = Weights::default();
        for row in sqlx::query("SELECT agent, agreed, disagreed FROM agent_reliability")
            .fetch_all(self.pool())
            .await?
        {
            let agent: String = row.try_get("agent")?;
            let weight = reliability::weight(row.try_get("agreed")?, row.try_get("disagreed")?);
            if agent == AgentName::PatternAnalyst.id() {
                weights.pattern_analyst = weight;
            } else if agent == AgentName::ChangeDetective.id() {
                weights.change_detective = weight;
            }
        }
        let mut conn = self.pool().acquire().await?;
        weights.threshold_offset = read_threshold(&mut conn, metric).await?.offset;
        Ok(weights)
    }
}

async fn read_threshold(
    conn: &mut sqlx::AnyConnection,
    metric: &str,
) -> Result<MetricThreshold, StoreError> {
    let row = sqlx::query("SELECT threshold_offset, false_positives, confirmed, weakest_confirmed FROM metric_thresholds WHERE metric = $1")
        .bind(metric)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(MetricThreshold::default());
    };
    Ok(MetricThreshold {
        offset: row.try_get("threshold_offset")?,
        false_positives: u32::try_from(row.try_get::<i64, _>("false_positives")?)
            .unwrap_or(u32::MAX),
        confirmed: u32::try_from(row.try_get::<i64, _>("confirmed")?).unwrap_or(u32::MAX),
        weakest_confirmed: row.try_get("weakest_confirmed")?,
    })
}
