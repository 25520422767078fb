//! The event outbox: verdict events written with their investigation, read back in order
//! by the relay and marked once the broker has them. Plus leases, so only one relay publishes
//! at a time whatever the number of bot processes.

use sqlx::{Any, Row, Transaction};

use super::{now_ms, Store, StoreError};
use crate::pipeline::Origin;
use crate::sinks::events::VerdictEvent;
use crate::telemetry::OutboxState;
use engine::investigation::Verdict;

/// An event waiting for the broker.
#[derive(Debug, Clone)]
pub struct PendingEvent {
    pub investigation_id: String,
    pub key: String,
    pub payload: String,
    pub attempts: i64,
}

/// Published events are kept this long (for inspection), then pruned.
const KEEP_PUBLISHED_MS: i64 = 7 * 24 * 3_600_000;

impl Store {
    /// Writes the verdict's event inside the investigation's transaction.
    pub(super) async fn queue_event(
        tx: &mut Transaction<'_, Any>,
        verdict: &Verdict,
        origin: &Origin,
        created_at: i64,
    ) -> Result<(), StoreError> {
        let event = VerdictEvent::new(verdict, origin, created_at);
        let payload =
            serde_json::to_string(&event).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query(
            "INSERT INTO event_outbox (investigation_id, sequence, event_key, payload, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&verdict.id)
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(event.key())
        .bind(payload)
        .bind(created_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The oldest unpublished events, in the order they were written.
    pub async fn pending_events(&self, limit: i64) -> Result<Vec<PendingEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT investigation_id, event_key, payload, attempts FROM event_outbox
             WHERE published_at IS NULL ORDER BY sequence LIMIT $1",
        )
        .bind(limit.max(1))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PendingEvent {
                    investigation_id: row.try_get("investigation_id")?,
                    key: row.try_get("event_key")?,
                    payload: row.try_get("payload")?,
                    attempts: row.try_get("attempts")?,
                })
            })
            .collect()
    }

    /// How many events wait for the broker, and since when the oldest has.
    pub async fn event_backlog(&self) -> Result<OutboxState, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM event_outbox WHERE published_at IS NULL",
        )
        .fetch_one(self.pool())
        .await?;
        let oldest: Option<i64> = row.try_get("oldest")?;
        Ok(OutboxState {
            backlog: row.try_get("n")?,
            oldest_pending_seconds: oldest
                .map_or(0.0, |created| (now_ms() - created).max(0) as f64 / 1000.0),
        })
    }

    pub async fn mark_published(&self, investigation_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE event_outbox SET published_at = $1, attempts = attempts + 1, last_error = NULL WHERE investigation_id = $2")
            .bind(now_ms())
            .bind(investigation_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Notes a failed attempt; the event stays pending.
    pub async fn mark_attempt_failed(
        &self,
        investigation_id: &str,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE event_outbox SET attempts = attempts + 1, last_error = $1 WHERE investigation_id = $2")
            .bind(error)
            .bind(investigation_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Drops events published more than a week ago.
    pub async fn prune_published_events(&self) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM event_outbox WHERE published_at < $1")
            .bind(now_ms() - KEEP_PUBLISHED_MS)
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected())
    }

    /// Takes or renews the lease `name` for `holder` until `ttl_ms` from now; false when
    /// another holder's lease has not expired.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let result = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder OR leases.expires_at < $4",
        )
        .bind(name)
        .bind(holder)
        .bind(now + ttl_ms)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Who holds the lease `name` and until when (ms), if anyone does.
    pub async fn lease_holder(&self, name: &str) -> Result<Option<(String, i64)>, StoreError> {
        let row = sqlx::query(
            "SELECT holder, expires_at FROM leases WHERE name = $1 AND expires_at >= $2",
        )
        .bind(name)
        .bind(now_ms())
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| Ok((row.try_get("holder")?, row.try_get("expires_at")?)))
            .transpose()
    }

    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
