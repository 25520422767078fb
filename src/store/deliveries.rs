//! Which chat deliveries have been taken. Platforms deliver one human action more than once
//! (Slack retries, a mention arriving as both `message` and `app_mention`, a Discord gateway
//! replaying after a resume), and with several replicas behind one address each may receive
//! it: the claim is an insert into the shared store, so exactly one process answers.

use sqlx::Row;

use super::{now_ms, Store, StoreError};

/// Deliveries older than this are forgotten (platforms retry for minutes, not days).
pub const REMEMBERED_FOR_MS: i64 = 24 * 3_600_000;

impl Store {
    /// True for the first claim of `key` in this store, from any process.
    pub async fn claim_delivery(&self, key: &str) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO deliveries (delivery_key, received_at) VALUES ($1, $2)
             ON CONFLICT (delivery_key) DO NOTHING",
        )
        .bind(key)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Deletes each metric's points older than `retention_ms` before its newest point (a
    /// live metric keeps its last `retention_ms`; a CSV of last year, ingested to investigate,
    /// is not wiped for being old), and deliveries and leases older than a day; returns the
    /// points deleted. Investigations, feedback and alerts are kept.
    pub async fn prune(&self, retention_ms: i64) -> Result<u64, StoreError> {
        let newest =
            sqlx::query("SELECT metric, MAX(ts) AS newest FROM metric_points GROUP BY metric")
                .fetch_all(self.pool())
                .await?;
        let mut points = 0;
        for row in newest {
            let metric: String = row.try_get("metric")?;
            let newest: i64 = row.try_get("newest")?;
            points += sqlx::query("DELETE FROM metric_points WHERE metric = $1 AND ts < $2")
                .bind(&metric)
                .bind(newest.saturating_sub(retention_ms))
                .execute(self.pool())
                .await?
                .rows_affected();
        }
        sqlx::query("DELETE FROM deliveries WHERE received_at < $1")
            .bind(now_ms() - REMEMBERED_FOR_MS)
            .execute(self.pool())
            .await?;
        // Claims on single alerts outlive their holders; expired a day ago, they are noise.
        sqlx::query("DELETE FROM leases WHERE expires_at < $1")
            .bind(now_ms() - REMEMBERED_FOR_MS)
            .execute(self.pool())
            .await?;
        Ok(points)
    }
}
