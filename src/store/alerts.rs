//! Alertmanager alerts and the chat threads that answer them. An alert is recorded before the
//! webhook answers, then its thread is posted by a worker; whatever is not yet posted (after a
//! restart, or while a chat API is down) is still pending here.

use sqlx::Row;

use super::{now_ms, Store, StoreError};
use crate::sources::alertmanager::{Alert, ReceivedAlert};

/// Attempts to post an alert's thread or resolution before it is given up (and logged).
pub const MAX_ATTEMPTS: i64 = 20;

/// An alert that still needs something posted.
#[derive(Debug, Clone)]
pub struct PendingAlert {
    pub fingerprint: String,
    pub starts_at: i64,
    pub alert: Alert,
    /// `None` until its thread is posted.
    pub threads: Option<AlertThreads>,
    /// When it stopped firing, once Alertmanager said it is resolved.
    pub ends_at: Option<i64>,
    pub resolved: bool,
    pub attempts: i64,
}

/// Where an alert's thread lives, per platform.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertThreads {
    pub investigation_id: Option<String>,
    /// Slack channel and thread timestamp.
    pub slack: Option<(String, String)>,
    /// Discord thread (a channel id).
    pub discord: Option<String>,
}

impl Store {
    /// Records alerts: a new (fingerprint, start) is a new row; one already known only gains
    /// its resolution. Returns how many were new. One transaction: all or nothing.
    pub async fn record_alerts(&self, alerts: &[ReceivedAlert]) -> Result<usize, StoreError> {
        let mut tx = self.pool().begin().await?;
        let mut new = 0;
        for received in alerts {
            let payload = serde_json::to_string(&received.alert)
                .map_err(|e| StoreError::BadAlert(e.to_string()))?;
            let status = if received.resolved {
                "resolved"
            } else {
                "firing"
            };
            let inserted = sqlx::query(
                "INSERT INTO alerts (fingerprint, starts_at, alertname, status, ends_at, payload, received_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (fingerprint, starts_at) DO NOTHING",
            )
            .bind(&received.fingerprint)
            .bind(received.starts_at)
            .bind(&received.alertname)
            .bind(status)
            .bind(received.ends_at)
            .bind(&payload)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            new += inserted.rows_affected() as usize;
            if inserted.rows_affected() == 0 && received.resolved {
                sqlx::query(
                    "UPDATE alerts SET status = 'resolved', ends_at = $3 WHERE fingerprint = $1 AND starts_at = $2 AND status = 'firing'",
                )
                .bind(&received.fingerprint)
                .bind(received.starts_at)
                .bind(received.ends_at)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(new)
    }

    /// The fingerprint and the alert whose thread holds investigation `investigation_id`, if
    /// one does.
    pub async fn alert_of_investigation(
        &self,
        investigation_id: &str,
    ) -> Result<Option<(String, Alert)>, StoreError> {
        let row = sqlx::query(
            "SELECT fingerprint, payload FROM alerts WHERE investigation_id = $1 ORDER BY starts_at DESC LIMIT 1",
        )
        .bind(investigation_id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let payload: String = row.try_get("payload")?;
        let alert: Alert =
            serde_json::from_str(&payload).map_err(|e| StoreError::BadAlert(e.to_string()))?;
        Ok(Some((row.try_get("fingerprint")?, alert)))
    }

    /// Alerts whose thread or resolution is not posted yet, oldest first.
    pub async fn pending_alerts(&self) -> Result<Vec<PendingAlert>, StoreError> {
        self.pending(None).await
    }

    /// The alert as the store has it now, if something of it is still to post (another
    /// replica may have posted it since the pending list was read).
    pub async fn pending_alert(
        &self,
        fingerprint: &str,
        starts_at: i64,
    ) -> Result<Option<PendingAlert>, StoreError> {
        Ok(self.pending(Some((fingerprint, starts_at))).await?.pop())
    }

    async fn pending(&self, only: Option<(&str, i64)>) -> Result<Vec<PendingAlert>, StoreError> {
        let (fingerprint, starts_at) = only.unzip();
        let rows = sqlx::query(
            "SELECT fingerprint, starts_at, status, ends_at, payload, posted_at, investigation_id, slack_channel, slack_thread, discord_thread, attempts
             FROM alerts
             WHERE attempts < $1 AND (posted_at IS NULL OR (status = 'resolved' AND resolution_posted_at IS NULL)
               OR EXISTS (SELECT 1 FROM alert_updates u WHERE u.fingerprint = alerts.fingerprint AND u.starts_at = alerts.starts_at AND u.posted_at IS NULL))
               AND ($2 IS NULL OR (fingerprint = $2 AND starts_at = $3))
             ORDER BY received_at, fingerprint",
        )
        .bind(MAX_ATTEMPTS)
        .bind(fingerprint)
        .bind(starts_at)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let payload: String = row.try_get("payload")?;
                let alert: Alert = serde_json::from_str(&payload)
                    .map_err(|e| StoreError::BadAlert(e.to_string()))?;
                let posted: Option<i64> = row.try_get("posted_at")?;
                let slack_channel: Option<String> = row.try_get("slack_channel")?;
                let slack_thread: Option<String> = row.try_get("slack_thread")?;
                let status: String = row.try_get("status")?;
                let threads = AlertThreads {
                    investigation_id: row.try_get("investigation_id")?,
                    slack: slack_channel.zip(slack_thread),
                    discord: row.try_get("discord_thread")?,
                };
                Ok(PendingAlert {
                    fingerprint: row.try_get("fingerprint")?,
                    starts_at: row.try_get("starts_at")?,
                    alert,
                    threads: posted.map(|_| threads),
                    ends_at: row.try_get("ends_at")?,
                    resolved: status == "resolved",
                    attempts: row.try_get("attempts")?,
                })
            })
            .collect()
    }

    /// The alert's thread is posted.
    pub async fn alert_posted(
        &self,
        alert: &PendingAlert,
        threads: &AlertThreads,
    ) -> Result<(), StoreError> {
        let (slack_channel, slack_thread) = threads.slack.clone().unzip();
        sqlx::query(
            "UPDATE alerts SET posted_at = $3, investigation_id = $4, slack_channel = $5, slack_thread = $6, discord_thread = $7, attempts = 0, last_error = NULL
             WHERE fingerprint = $1 AND starts_at = $2",
        )
        .bind(&alert.fingerprint)
        .bind(alert.starts_at)
        .bind(now_ms())
        .bind(&threads.investigation_id)
        .bind(slack_channel)
        .bind(slack_thread)
        .bind(&threads.discord)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The alert's resolution is posted in its thread.
    pub async fn alert_resolution_posted(&self, alert: &PendingAlert) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE alerts SET resolution_posted_at = $3 WHERE fingerprint = $1 AND starts_at = $2",
        )
        .bind(&alert.fingerprint)
        .bind(alert.starts_at)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Posting failed; it is tried again later, up to [`MAX_ATTEMPTS`] times.
    pub async fn alert_attempt_failed(
        &self,
        alert: &PendingAlert,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE alerts SET attempts = attempts + 1, last_error = $3 WHERE fingerprint = $1 AND starts_at = $2",
        )
        .bind(&alert.fingerprint)
        .bind(alert.starts_at)
        .bind(error)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
