//! Metric points (for `detect --metric`) and recorded events.

use sqlx::Row;

use super::{Store, StoreError};
use engine::series::events::Event;
use engine::series::{align, median_interval, RawRow, Series};

/// Rows per multi-row INSERT: well inside both backends' parameter limits.
const BATCH: usize = 300;

/// A check of a metric's last hours also reads this many times as much history before them.
pub const HISTORY_FACTOR: i64 = 4;

/// Related series loaded with a metric at most (the Root Cause Agent ranks them all).
const MAX_RELATED: usize = 50;

/// The stored name of a column that came with `metric` (`api_latency.db_connections_active`
/// for the `db_connections_active` column of `api_latency`'s file): a check of `metric` loads
/// every stored metric named `metric.…` as a candidate cause.
pub fn related_metric(metric: &str, column: &str) -> String {
    format!("{metric}.{column}")
}

/// Points a check without a look-back reads at most (70 days of one-minute points).
pub const MAX_CHECK_POINTS: i64 = 100_000;

impl Store {
    /// Stores points of `metric`; a point at an already stored timestamp replaces it, so
    /// loading the same file twice changes nothing. Returns the number of points written.
    pub async fn ingest_points(
        &self,
        metric: &str,
        timestamps: &[i64],
        values: &[f64],
    ) -> Result<usize, StoreError> {
        let rows: Vec<(&str, i64, f64)> = timestamps
            .iter()
            .zip(values)
            .map(|(ts, value)| (metric, *ts, *value))
            .collect();
        self.ingest_rows(&rows).await
    }

    /// Stores a series and each of its related columns, the latter as metrics named
    /// [`related_metric`] (blank cells are skipped), in one transaction. Returns the number
    /// of points written for the series itself.
    pub async fn ingest_series(&self, series: &Series) -> Result<usize, StoreError> {
        let related: Vec<(String, &[f64])> = series
            .related
            .iter()
            .map(|column| {
                (
                    related_metric(&series.metric, &column.name),
                    &column.values[..],
                )
            })
            .collect();
        let mut rows: Vec<(&str, i64, f64)> = series
            .timestamps
            .iter()
            .zip(&series.values)
            .map(|(ts, value)| (series.metric.as_str(), *ts, *value))
            .collect();
        for (name, values) in &related {
            rows.extend(
                series
                    .timestamps
                    .iter()
                    .zip(values.iter())
                    .filter(|(_, value)| value.is_finite())
                    .map(|(ts, value)| (name.as_str(), *ts, *value)),
            );
        }
        self.ingest_rows(&rows).await?;
        Ok(series.len())
    }

    /// Stores points of several metrics in one transaction (the metrics stream's batches),
    /// with the same replace-on-same-timestamp rule.
    pub async fn ingest_rows(&self, rows: &[(&str, i64, f64)]) -> Result<usize, StoreError> {
        // One statement may not touch a row twice (PostgreSQL refuses): the last value wins.
        let mut latest = std::collections::HashMap::with_capacity(rows.len());
        for (position, (metric, ts, _)) in rows.iter().enumerate() {
            latest.insert((*metric, *ts), position);
        }
        let rows: Vec<(&str, i64, f64)> = rows
            .iter()
            .enumerate()
            .filter(|(position, (metric, ts, _))| latest[&(*metric, *ts)] == *position)
            .map(|(_, row)| *row)
            .collect();
        let mut tx = self.pool().begin().await?;
        for chunk in rows.chunks(BATCH) {
            let placeholders: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
                .collect();
            let sql = format!(
                "INSERT INTO metric_points (metric, ts, value) VALUES {} ON CONFLICT (metric, ts) DO UPDATE SET value = excluded.value",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for (metric, ts, value) in chunk {
                query = query.bind(*metric).bind(*ts).bind(*value);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }

    /// The last `limit` points `(timestamp, value)` of `metric` stored before `before` (UTC
    /// ms), oldest first: the history a live scorer starts from.
    pub async fn points_before(
        &self,
        metric: &str,
        before: i64,
        limit: i64,
    ) -> Result<Vec<(i64, f64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT ts, value FROM metric_points WHERE metric = $1 AND ts < $2 ORDER BY ts DESC LIMIT $3",
        )
        .bind(metric)
        .bind(before)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut points = rows
            .iter()
            .map(|row| {
                Ok((
                    row.try_get::<i64, _>("ts")?,
                    row.try_get::<f64, _>("value")?,
                ))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        points.reverse();
        Ok(points)
    }

    /// The stored series of `metric`, from `since` (UTC ms) on, the whole of it asked about.
    pub async fn load_series(
        &self,
        metric: &str,
        since: Option<i64>,
    ) -> Result<Series, StoreError> {
        let rows = sqlx::query(
            "SELECT ts, value FROM metric_points WHERE metric = $1 AND ts >= $2 ORDER BY ts",
        )
        .bind(metric)
        .bind(since.unwrap_or(i64::MIN))
        .fetch_all(self.pool())
        .await?;
        if rows.is_empty() {
            return Err(StoreError::UnknownMetric(metric.to_string()));
        }
        let mut timestamps = Vec::with_capacity(rows.len());
        let mut values = Vec::with_capacity(rows.len());
        for row in rows {
            timestamps.push(row.try_get::<i64, _>("ts")?);
            values.push(row.try_get::<f64, _>("value")?);
        }
        let (related_names, related) = self
            .related_columns(metric, &timestamps)
            .await?
            .into_iter()
            .unzip::<_, _, Vec<String>, Vec<Vec<f64>>>();
        let rows = timestamps
            .iter()
            .zip(values)
            .enumerate()
            .map(|(i, (&timestamp, value))| RawRow {
                timestamp,
                value: Some(value),
                related: related.iter().map(|column| column[i]).collect(),
            })
            .collect();
        Series::from_rows(metric, related_names, rows).map_err(|e| StoreError::Unusable {
            metric: metric.to_string(),
            detail: e.to_string(),
        })
    }

    /// The metrics stored as related to `metric` ([`related_metric`]), each as a column
    /// aligned with `timestamps` — the nearest point within half the usual interval, NaN where
    /// it has none — by column name.
    async fn related_columns(
        &self,
        metric: &str,
        timestamps: &[i64],
    ) -> Result<Vec<(String, Vec<f64>)>, StoreError> {
        let (Some(&first), Some(&last)) = (timestamps.first(), timestamps.last()) else {
            return Ok(Vec::new());
        };
        let tolerance = align::tolerance(median_interval(timestamps));
        let prefix = related_metric(metric, "");
        // substr, not LIKE: `_` and `%` are ordinary in metric names, and SQLite's LIKE
        // ignores case.
        let rows = sqlx::query(
            "SELECT metric, ts, value FROM metric_points
             WHERE substr(metric, 1, CAST($1 AS INTEGER)) = $2 AND ts >= $3 AND ts <= $4
             ORDER BY metric, ts",
        )
        .bind(prefix.chars().count() as i64)
        .bind(&prefix)
        .bind(first.saturating_sub(tolerance))
        .bind(last.saturating_add(tolerance))
        .fetch_all(self.pool())
        .await?;
        let mut samples: Vec<(String, Vec<(i64, f64)>)> = Vec::new();
        for row in rows {
            let name: String = row.try_get("metric")?;
            let column = name[prefix.len()..].to_string();
            if samples.last().is_none_or(|(last, _)| *last != column) {
                if samples.len() == MAX_RELATED {
                    break;
                }
                samples.push((column, Vec::new()));
            }
            if let Some((_, points)) = samples.last_mut() {
                points.push((row.try_get("ts")?, row.try_get("value")?));
            }
        }
        Ok(samples
            .into_iter()
            .map(|(column, points)| (column, align::nearest(timestamps, &points, tolerance)))
            .collect())
    }

    /// The stored series of `metric` for a check of its last `lookback_ms` (before its latest
    /// point) — what `detect --metric --since` and chat checks investigate — or its latest
    /// [`MAX_CHECK_POINTS`].
    /// A look-back also brings [`HISTORY_FACTOR`] times as much history before it, marked as
    /// such ([`Series::asked_from`]): an incident that fills the asked range must be judged
    /// against what came before, not become its own baseline.
    pub async fn recent_series(
        &self,
        metric: &str,
        lookback_ms: Option<i64>,
    ) -> Result<Series, StoreError> {
        let Some(window) = lookback_ms else {
            // Without a look-back, the latest points only: a check's work stays bounded
            // however long the metric has been stored.
            let oldest_kept = sqlx::query(
                "SELECT ts FROM metric_points WHERE metric = $1 ORDER BY ts DESC LIMIT 1 OFFSET $2",
            )
            .bind(metric)
            .bind(MAX_CHECK_POINTS - 1)
            .fetch_optional(self.pool())
            .await?
            .map(|row| row.try_get::<i64, _>("ts"))
            .transpose()?;
            return self.load_series(metric, oldest_kept).await;
        };
        let latest = self
            .latest_point(metric)
            .await?
            .ok_or_else(|| StoreError::UnknownMetric(metric.to_string()))?;
        let asked_from = latest.saturating_sub(window);
        let history_from = asked_from.saturating_sub(window.saturating_mul(HISTORY_FACTOR));
        let mut series = self.load_series(metric, Some(history_from)).await?;
        series.asked_from = Some(asked_from);
        Ok(series)
    }

    /// The recorded events that could explain a change in `series`: from the Change
    /// Detective's look-back before its first point to its last point.
    pub async fn events_for(&self, series: &Series) -> Result<Vec<Event>, StoreError> {
        let (Some(first), Some(last)) = (series.timestamps.first(), series.timestamps.last())
        else {
            return Ok(Vec::new());
        };
        let lookback = engine::agents::change_detective::event_lookback_ms(series.interval_ms);
        self.events_between(first - lookback, *last).await
    }

    /// The most recent stored timestamp of `metric`, to anchor `--since`.
    pub async fn latest_point(&self, metric: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT MAX(ts) AS latest FROM metric_points WHERE metric = $1")
            .bind(metric)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<Option<i64>, _>("latest")?)
    }

    /// Records events; an identical event (time, kind, description) is stored once.
    pub async fn save_events(&self, events: &[Event]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for event in events {
            sqlx::query("INSERT INTO events (ts, kind, description) VALUES ($1, $2, $3) ON CONFLICT (ts, kind, description) DO NOTHING")
                .bind(event.timestamp)
                .bind(&event.kind)
                .bind(&event.description)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Events between `from` and `to` (UTC ms, inclusive), in time order.
    pub async fn events_between(&self, from: i64, to: i64) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT ts, kind, description FROM events WHERE ts >= $1 AND ts <= $2 ORDER BY ts",
        )
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Event {
                    timestamp: row.try_get("ts")?,
                    kind: row.try_get("kind")?,
                    description: row.try_get("description")?,
                })
            })
            .collect()
    }
}
