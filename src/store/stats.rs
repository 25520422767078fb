//! `anomaly-hunter stats`: how the bot has been doing according to the people who judged it.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError};
use engine::agents::AgentName;
use engine::learning::reliability;

#[derive(Debug, Clone, Serialize)]
pub struct StatsReport {
    pub investigations: i64,
    pub anomalous: i64,
    pub with_feedback: i64,
    pub confirmed: i64,
    pub false_positives: i64,
    /// Confirmed ÷ judged anomalous verdicts.
    pub precision: Option<f64>,
    pub agents: Vec<AgentStats>,
    pub patterns: Vec<PatternStats>,
    /// Calibration per day: how confident the judged verdicts were and how often right.
    pub calibration: Vec<CalibrationPeriod>,
    pub thresholds: Vec<ThresholdStats>,
    /// The optional language model's requests, tokens, latency and rejections.
    pub language_model: super::ModelStats,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentStats {
    pub agent: String,
    pub mean_confidence: f64,
    pub judged: i64,
    /// Share of judged verdicts where this agent's vote matched the feedback.
    pub agreement: Option<f64>,
    /// Current synthesizer weight (1 = no learned adjustment).
    pub weight: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PatternStats {
    pub pattern: String,
    pub investigations: i64,
    pub confirmed: i64,
    pub false_positives: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CalibrationPeriod {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub judged: i64,
    pub mean_confidence: f64,
    /// Share of judged verdicts that people agreed with.
    pub accuracy: f64,
    pub brier_score: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ThresholdStats {
    pub metric: String,
    pub threshold_offset: f64,
    pub false_positives: i64,
    pub confirmed: i64,
}

/// One judged verdict: the latest feedback on an investigation.
struct Judged {
    created_at: i64,
    anomalous: bool,
    confidence: f64,
    pattern: Option<String>,
    confirmed: bool,
}

impl Judged {
    /// People agreed with the verdict ("false positive" is only accepted on alerts).
    fn right(&self) -> bool {
        self.confirmed
    }
}

impl Store {
    pub async fn stats(&self) -> Result<StatsReport, StoreError> {
        let totals = sqlx::query("SELECT COUNT(*) AS total, CAST(COALESCE(SUM(anomalous), 0) AS BIGINT) AS anomalous FROM investigations")
            .fetch_one(self.pool())
            .await?;
        let judged = self.judged().await?;
        let confirmed = judged.iter().filter(|j| j.confirmed).count() as i64;
        let false_positives = judged
            .iter()
            .filter(|j| j.anomalous && !j.confirmed)
            .count() as i64;
        let judged_alerts = judged.iter().filter(|j| j.anomalous).count();
        Ok(StatsReport {
            investigations: totals.try_get("total")?,
            anomalous: totals.try_get("anomalous")?,
            with_feedback: judged.len() as i64,
            confirmed,
            false_positives,
            precision: (judged_alerts > 0).then(|| {
                judged.iter().filter(|j| j.anomalous && j.confirmed).count() as f64
                    / judged_alerts as f64
            }),
            agents: self.agent_stats().await?,
            patterns: patterns(&judged, self.pattern_counts().await?),
            calibration: calibration(&judged),
            thresholds: self.thresholds().await?,
            language_model: self.model_stats().await?,
        })
    }

    async fn judged(&self) -> Result<Vec<Judged>, StoreError> {
        let rows = sqlx::query(
            "SELECT i.created_at, i.anomalous, i.confidence, i.pattern, f.verdict
             FROM investigations i JOIN feedback f ON f.investigation_id = i.id
             WHERE f.id = (SELECT f2.id FROM feedback f2 WHERE f2.investigation_id = i.id ORDER BY f2.created_at DESC, f2.id DESC LIMIT 1)",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Judged {
                    created_at: row.try_get("created_at")?,
                    anomalous: row.try_get::<i64, _>("anomalous")? != 0,
                    confidence: row.try_get("confidence")?,
                    pattern: row.try_get("pattern")?,
                    confirmed: row.try_get::<String, _>("verdict")? == "confirmed",
                })
            })
            .collect()
    }

    async fn agent_stats(&self) -> Result<Vec<AgentStats>, StoreError> {
        let weights: BTreeMap<String, f64> =
            sqlx::query("SELECT agent, agreed, disagreed FROM agent_reliability")
                .fetch_all(self.pool())
                .await?
                .iter()
                .map(|row| {
                    Ok((
                        row.try_get("agent")?,
                        reliability::weight(row.try_get("agreed")?, row.try_get("disagreed")?),
                    ))
                })
                .collect::<Result<_, sqlx::Error>>()?;
        let mut stats = Vec::new();
        for agent in [
            AgentName::PatternAnalyst,
            AgentName::ChangeDetective,
            AgentName::RootCause,
        ] {
            let mean =
                sqlx::query("SELECT AVG(confidence) AS mean FROM agent_findings WHERE agent = $1")
                    .bind(agent.id())
                    .fetch_one(self.pool())
                    .await?;
            let votes = sqlx::query(
                "SELECT a.anomaly_probability, f.verdict, i.anomalous FROM agent_findings a
                 JOIN feedback f ON f.investigation_id = a.investigation_id
                 JOIN investigations i ON i.id = a.investigation_id
                 WHERE a.agent = $1",
            )
            .bind(agent.id())
            .fetch_all(self.pool())
            .await?;
            let agreeing = votes
                .iter()
                .filter(|row| {
                    let probability: f64 = row.try_get("anomaly_probability").unwrap_or(0.0);
                    let verdict: String = row.try_get("verdict").unwrap_or_default();
                    let anomalous = row.try_get::<i64, _>("anomalous").unwrap_or(0) != 0;
                    reliability::agreed(probability, anomalous && verdict == "confirmed")
                })
                .count();
            stats.push(AgentStats {
                agent: agent.id().to_string(),
                mean_confidence: mean.try_get::<Option<f64>, _>("mean")?.unwrap_or(0.0),
                judged: votes.len() as i64,
                agreement: (!votes.is_empty()).then(|| agreeing as f64 / votes.len() as f64),
                weight: weights.get(agent.id()).copied().unwrap_or(1.0),
            });
        }
        Ok(stats)
    }

    async fn pattern_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        sqlx::query("SELECT pattern, COUNT(*) AS n FROM investigations WHERE pattern IS NOT NULL GROUP BY pattern ORDER BY n DESC")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| Ok((row.try_get("pattern")?, row.try_get("n")?)))
            .collect()
    }

    async fn thresholds(&self) -> Result<Vec<ThresholdStats>, StoreError> {
        sqlx::query("SELECT metric, threshold_offset, false_positives, confirmed FROM metric_thresholds ORDER BY metric")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| {
                Ok(ThresholdStats {
                    metric: row.try_get("metric")?,
                    threshold_offset: row.try_get("threshold_offset")?,
                    false_positives: row.try_get("false_positives")?,
                    confirmed: row.try_get("confirmed")?,
                })
            })
            .collect()
    }
}

fn patterns(judged: &[Judged], counts: Vec<(String, i64)>) -> Vec<PatternStats> {
    counts
        .into_iter()
        .map(|(pattern, investigations)| {
            let of_pattern = judged
                .iter()
                .filter(|j| j.pattern.as_deref() == Some(pattern.as_str()));
            let (confirmed, false_positives) =
                of_pattern.fold(
                    (0, 0),
                    |(c, f), j| if j.confirmed { (c + 1, f) } else { (c, f + 1) },
                );
            PatternStats {
                pattern,
                investigations,
                confirmed,
                false_positives,
            }
        })
        .collect()
}

fn calibration(judged: &[Judged]) -> Vec<CalibrationPeriod> {
    let mut by_day: BTreeMap<String, Vec<&Judged>> = BTreeMap::new();
    for j in judged {
        let day = engine::series::timestamp::to_rfc3339(j.created_at)[..10].to_string();
        by_day.entry(day).or_default().push(j);
    }
    by_day
        .into_iter()
        .map(|(day, verdicts)| {
            let n = verdicts.len() as f64;
            CalibrationPeriod {
                day,
                judged: verdicts.len() as i64,
                mean_confidence: verdicts.iter().map(|j| j.confidence).sum::<f64>() / n,
                accuracy: verdicts.iter().filter(|j| j.right()).count() as f64 / n,
                brier_score: verdicts
                    .iter()
                    .map(|j| (j.confidence - f64::from(u8::from(j.right()))).powi(2))
                    .sum::<f64>()
                    / n,
            }
        })
        .collect()
}

impl fmt::Display for StatsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Investigations: {} ({} anomalous)",
            self.investigations, self.anomalous
        )?;
        writeln!(
            f,
            "Feedback: {} judged — {} confirmed, {} false positives",
            self.with_feedback, self.confirmed, self.false_positives
        )?;
        match self.precision {
            Some(p) => writeln!(f, "Precision from feedback: {:.0}%", p * 100.0)?,
            None => writeln!(f, "Precision from feedback: no judged alerts yet")?,
        }
        writeln!(f, "\nAgents:")?;
        for a in &self.agents {
            let agreement = a
                .agreement
                .map_or("—".to_string(), |x| format!("{:.0}%", x * 100.0));
            writeln!(f, "  {:<17} mean confidence {:>4.0}%  agreement with feedback {:>4} of {:<3} judged  weight {:.2}", a.agent, a.mean_confidence * 100.0, agreement, a.judged, a.weight)?;
        }
        if !self.patterns.is_empty() {
            writeln!(f, "\nPatterns:")?;
            for p in &self.patterns {
                writeln!(
                    f,
                    "  {:<28} {:>4} investigations, {} confirmed, {} false positives",
                    p.pattern, p.investigations, p.confirmed, p.false_positives
                )?;
            }
        }
        if !self.calibration.is_empty() {
            writeln!(f, "\nCalibration over time (judged verdicts):")?;
            for c in &self.calibration {
                writeln!(
                    f,
                    "  {}  {:>4} judged  mean confidence {:>4.0}%  right {:>4.0}%  Brier {:.3}",
                    c.day,
                    c.judged,
                    c.mean_confidence * 100.0,
                    c.accuracy * 100.0,
                    c.brier_score
                )?;
            }
        }
        if !self.thresholds.is_empty() {
            writeln!(f, "\nLearned thresholds (extra log-odds needed to alert):")?;
            for t in &self.thresholds {
                writeln!(
                    f,
                    "  {:<28} +{:.2}  ({} false positives, {} confirmed)",
                    t.metric, t.threshold_offset, t.false_positives, t.confirmed
                )?;
            }
        }
        let model = &self.language_model;
        if model.requests > 0 {
            writeln!(f, "\nLanguage model:")?;
            writeln!(
                f,
                "  {} requests: {} accepted, {} rejected (not grounded), {} failed, {} skipped",
                model.requests, model.accepted, model.rejected, model.failed, model.skipped
            )?;
            let reasons: Vec<String> = model
                .reasons
                .iter()
                .map(|(reason, n)| format!("{reason} {n}"))
                .collect();
            if !reasons.is_empty() {
                writeln!(f, "  not used: {}", reasons.join(", "))?;
            }
            writeln!(
                f,
                "  tokens: {} prompt, {} completion",
                model.prompt_tokens, model.completion_tokens
            )?;
            if let (Some(p50), Some(p95)) = (model.latency_p50_ms, model.latency_p95_ms) {
                writeln!(f, "  latency: P50 {p50:.0} ms, P95 {p95:.0} ms")?;
            }
        }
        Ok(())
    }
}
