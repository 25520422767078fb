//! Watches and the series they score. Any replica adds, lists, snoozes or removes a watch;
//! the one holding its lease scores it and records here, per series, the last timestamp
//! scored and the incidents opened — what a restart or another replica continues from.

use serde::Serialize;
use sqlx::Row;

use super::{now_ms, Store, StoreError};

/// A week in ms: the alert budget's unit.
const WEEK_MS: f64 = 7.0 * 86_400_000.0;

/// A watch as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Watch {
    pub id: String,
    /// A metric name or a PromQL expression.
    pub query: String,
    pub step_ms: i64,
    pub series_cap: i64,
    /// `slack` or `discord`, with its channel; neither: the alert channels.
    pub platform: Option<String>,
    pub channel: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub snoozed_until: Option<i64>,
    /// `starting`, `healthy` or `failing` (see `state_detail`), as its runner last saw it.
    pub state: String,
    pub state_detail: Option<String>,
    pub series_count: i64,
    pub left_out: i64,
    pub checked_at: Option<i64>,
}

/// What a new watch asks for.
#[derive(Debug, Clone)]
pub struct NewWatch {
    pub query: String,
    pub step_ms: i64,
    pub series_cap: i64,
    pub platform: Option<String>,
    pub channel: Option<String>,
    pub created_by: String,
}

/// One series of a watch, as its runner left it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredSeries {
    pub series: String,
    pub first_scored_at: i64,
    pub last_scored_at: i64,
    /// Points scored live (after the seed), and incidents opened on it since it was first
    /// scored.
    pub points_scored: i64,
    pub incidents: i64,
}

/// Incidents per series-week of a watch: its alert budget as spent so far.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AlertBudget {
    pub incidents: i64,
    pub series_weeks: f64,
}

impl AlertBudget {
    /// `None` before any series has been scored for a while.
    pub fn per_series_week(&self) -> Option<f64> {
        (self.series_weeks > 0.0).then(|| self.incidents as f64 / self.series_weeks)
    }
}

const WATCH_COLUMNS: &str = "id, query, step_ms, series_cap, platform, channel, created_by, created_at, snoozed_until, state, state_detail, series_count, left_out, checked_at";

fn watch_from(row: &sqlx::any::AnyRow) -> Result<Watch, StoreError> {
    Ok(Watch {
        id: row.try_get("id")?,
        query: row.try_get("query")?,
        step_ms: row.try_get("step_ms")?,
        series_cap: row.try_get("series_cap")?,
        platform: row.try_get("platform")?,
        channel: row.try_get("channel")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        snoozed_until: row.try_get("snoozed_until")?,
        state: row.try_get("state")?,
        state_detail: row.try_get("state_detail")?,
        series_count: row.try_get("series_count")?,
        left_out: row.try_get("left_out")?,
        checked_at: row.try_get("checked_at")?,
    })
}

impl Store {
    /// Stores a new watch under a short id (`w-` and 8 hex digits) and returns it.
    pub async fn add_watch(&self, new: &NewWatch) -> Result<Watch, StoreError> {
        let id = format!("w-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        sqlx::query(
            "INSERT INTO watches (id, query, step_ms, series_cap, platform, channel, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(&new.query)
        .bind(new.step_ms)
        .bind(new.series_cap)
        .bind(&new.platform)
        .bind(&new.channel)
        .bind(&new.created_by)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        self.watch(&id)
            .await?
            .ok_or_else(|| StoreError::UnknownWatch(id))
    }

    pub async fn watch(&self, id: &str) -> Result<Option<Watch>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {WATCH_COLUMNS} FROM watches WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(watch_from).transpose()
    }

    /// Every watch, or only those posting to `place` (platform, channel), oldest first.
    pub async fn watches(&self, place: Option<(&str, &str)>) -> Result<Vec<Watch>, StoreError> {
        let (platform, channel) = place.unzip();
        let rows = sqlx::query(&format!(
            "SELECT {WATCH_COLUMNS} FROM watches
             WHERE ($1 IS NULL OR (platform = $1 AND channel = $2)) ORDER BY created_at, id"
        ))
        .bind(platform)
        .bind(channel)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(watch_from).collect()
    }

    /// Removes a watch and what its series remember. False when there was none.
    pub async fn remove_watch(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM watch_series WHERE watch_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let removed = sqlx::query("DELETE FROM watches WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(removed.rows_affected() == 1)
    }

    /// Posts nothing new for this watch until `until` (ms; `None` lifts the snooze). False
    /// when there is no such watch.
    pub async fn snooze_watch(&self, id: &str, until: Option<i64>) -> Result<bool, StoreError> {
        let updated = sqlx::query("UPDATE watches SET snoozed_until = $2 WHERE id = $1")
            .bind(id)
            .bind(until)
            .execute(self.pool())
            .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// What the watch's runner saw on its last round.
    pub async fn watch_checked(
        &self,
        id: &str,
        state: &str,
        detail: Option<&str>,
        series_count: usize,
        left_out: usize,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE watches SET state = $2, state_detail = $3, series_count = $4, left_out = $5, checked_at = $6 WHERE id = $1",
        )
        .bind(id)
        .bind(state)
        .bind(detail)
        .bind(series_count as i64)
        .bind(left_out as i64)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The series a watch has scored.
    pub async fn scored_series(&self, watch_id: &str) -> Result<Vec<ScoredSeries>, StoreError> {
        let rows = sqlx::query(
            "SELECT series, first_scored_at, last_scored_at, points_scored, incidents
             FROM watch_series WHERE watch_id = $1 ORDER BY series",
        )
        .bind(watch_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ScoredSeries {
                    series: row.try_get("series")?,
                    first_scored_at: row.try_get("first_scored_at")?,
                    last_scored_at: row.try_get("last_scored_at")?,
                    points_scored: row.try_get("points_scored")?,
                    incidents: row.try_get("incidents")?,
                })
            })
            .collect()
    }

    /// Records a round of scoring: per series, how far it got and the points and incidents
    /// it added (`points_scored` and `incidents` are added to the counts). One transaction;
    /// nothing is recorded for a watch removed meanwhile.
    pub async fn record_scored(
        &self,
        watch_id: &str,
        series: &[ScoredSeries],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for scored in series {
            sqlx::query(
                "INSERT INTO watch_series (watch_id, series, first_scored_at, last_scored_at, points_scored, incidents)
                 SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM watches WHERE id = $1)
                 ON CONFLICT (watch_id, series) DO UPDATE SET last_scored_at = excluded.last_scored_at,
                   points_scored = watch_series.points_scored + excluded.points_scored,
                   incidents = watch_series.incidents + excluded.incidents",
            )
            .bind(watch_id)
            .bind(&scored.series)
            .bind(scored.first_scored_at)
            .bind(scored.last_scored_at)
            .bind(scored.points_scored)
            .bind(scored.incidents)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Feedback on one of this series' incidents: departures up to `departure` are not
    /// incidents there.
    pub async fn tolerate_on_series(
        &self,
        watch_id: &str,
        series: &str,
        departure: f64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE watch_series SET tolerated = CASE WHEN tolerated > $3 THEN tolerated ELSE $3 END
             WHERE watch_id = $1 AND series = $2",
        )
        .bind(watch_id)
        .bind(series)
        .bind(departure)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The watch's series with a departure feedback said is not an incident there (in robust
    /// scales).
    pub async fn tolerated_departures(
        &self,
        watch_id: &str,
    ) -> Result<Vec<(String, f64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT series, tolerated FROM watch_series WHERE watch_id = $1 AND tolerated > 0",
        )
        .bind(watch_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("series")?, row.try_get("tolerated")?)))
            .collect()
    }

    /// Incidents opened and series-weeks scored by a watch.
    pub async fn alert_budget(&self, watch_id: &str) -> Result<AlertBudget, StoreError> {
        let series = self.scored_series(watch_id).await?;
        Ok(AlertBudget {
            incidents: series.iter().map(|s| s.incidents).sum(),
            series_weeks: series
                .iter()
                .map(|s| (s.last_scored_at - s.first_scored_at) as f64 / WEEK_MS)
                .sum(),
        })
    }

    /// The start of the newest incident still firing under `fingerprint`, if one is.
    pub async fn firing_since(&self, fingerprint: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT MAX(starts_at) AS since FROM alerts WHERE fingerprint = $1 AND status = 'firing'",
        )
        .bind(fingerprint)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("since")?)
    }

    /// How many of a watch's series have an incident firing (fingerprints `<watch id>/…`).
    pub async fn watch_incidents_open(&self, watch_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(DISTINCT fingerprint) AS open FROM alerts WHERE fingerprint LIKE $1 AND status = 'firing'",
        )
        .bind(format!("{watch_id}/%"))
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("open")?)
    }

    /// Adds news to an incident's thread (an alert row), posted after its thread.
    pub async fn add_alert_update(
        &self,
        fingerprint: &str,
        starts_at: i64,
        at: i64,
        text: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO alert_updates (fingerprint, starts_at, at, text) VALUES ($1, $2, $3, $4)
             ON CONFLICT (fingerprint, starts_at, at) DO NOTHING",
        )
        .bind(fingerprint)
        .bind(starts_at)
        .bind(at)
        .bind(text)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// An alert's updates not posted yet, oldest first: (at, text).
    pub async fn pending_alert_updates(
        &self,
        fingerprint: &str,
        starts_at: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, text FROM alert_updates WHERE fingerprint = $1 AND starts_at = $2 AND posted_at IS NULL ORDER BY at",
        )
        .bind(fingerprint)
        .bind(starts_at)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("at")?, row.try_get("text")?)))
            .collect()
    }

    pub async fn alert_update_posted(
        &self,
        fingerprint: &str,
        starts_at: i64,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE alert_updates SET posted_at = $4 WHERE fingerprint = $1 AND starts_at = $2 AND at = $3",
        )
        .bind(fingerprint)
        .bind(starts_at)
        .bind(at)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
