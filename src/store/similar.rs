//! "Seen before": nearest past incidents by shape fingerprint. Every fingerprint is held in
//! memory (18 floats an incident, ~10 MB per 100 000) and scanned exhaustively, which answers
//! in about a millisecond. The database is read in full once, on first use; after that each
//! search first reads what was stored since (by this or any other process sharing the store),
//! so replicas see each other's incidents.

use std::collections::HashSet;

use sqlx::Row;

use super::{Store, StoreError};
use engine::learning::fingerprint::{Fingerprint, SIMILAR_DISTANCE};
use engine::learning::{FeedbackVerdict, SimilarIncident};

/// Added to the distance when the main window is of another kind (a spike vs a level shift).
const OTHER_KIND_PENALTY: f64 = 0.5;
/// Subtracted when it is the same metric: its own history is the best witness.
const SAME_METRIC_BONUS: f64 = 0.1;

struct Entry {
    id: String,
    metric: String,
    kind: String,
    created_at: i64,
    pattern: Option<String>,
    fingerprint: Fingerprint,
}

/// Rows stored up to this long before the newest one seen are read again on refresh: another
/// process may commit an incident stamped a little earlier than one already read.
const REFRESH_OVERLAP_MS: i64 = 60_000;

#[derive(Default)]
pub(super) struct FingerprintIndex {
    entries: Vec<Entry>,
    ids: HashSet<String>,
    /// Newest `created_at` read from the database.
    newest: i64,
}

impl FingerprintIndex {
    fn add(&mut self, entry: Entry) {
        if self.ids.insert(entry.id.clone()) {
            self.newest = self.newest.max(entry.created_at);
            self.entries.push(entry);
        }
    }
}

impl FingerprintIndex {
    /// The `k` nearest entries within the similarity radius, nearest first.
    fn nearest(
        &self,
        fingerprint: &Fingerprint,
        kind: &str,
        metric: &str,
        exclude: &str,
        k: usize,
    ) -> Vec<(&Entry, f64)> {
        let mut scored: Vec<(&Entry, f64)> = self
            .entries
            .iter()
            .filter(|e| e.id != exclude)
            .map(|e| {
                let mut distance = e.fingerprint.distance(fingerprint);
                if e.kind != kind {
                    distance += OTHER_KIND_PENALTY;
                }
                if e.metric == metric {
                    distance -= SAME_METRIC_BONUS;
                }
                (e, distance.max(0.0))
            })
            .filter(|(_, d)| *d <= SIMILAR_DISTANCE)
            .collect();
        scored.sort_by(|a, b| a.1.total_cmp(&b.1));
        scored.truncate(k);
        scored
    }
}

impl Store {
    /// The nearest past incidents to `fingerprint`, with what people said about them.
    pub async fn similar_incidents(
        &self,
        fingerprint: &Fingerprint,
        kind: &str,
        metric: &str,
        exclude_id: &str,
        k: usize,
    ) -> Result<Vec<SimilarIncident>, StoreError> {
        self.ensure_index().await?;
        let mut found: Vec<SimilarIncident> = match self.index.read().await.as_ref() {
            Some(index) => index
                .nearest(fingerprint, kind, metric, exclude_id, k)
                .into_iter()
                .map(|(entry, distance)| SimilarIncident {
                    id: entry.id.clone(),
                    metric: entry.metric.clone(),
                    created_at: entry.created_at,
                    distance,
                    pattern: entry.pattern.clone(),
                    feedback: None,
                    root_cause: None,
                })
                .collect(),
            None => Vec::new(),
        };
        for incident in &mut found {
            let latest = sqlx::query(
                "SELECT verdict, root_cause FROM feedback WHERE investigation_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1",
            )
            .bind(&incident.id)
            .fetch_optional(self.pool())
            .await?;
            if let Some(row) = latest {
                incident.feedback = FeedbackVerdict::parse(&row.try_get::<String, _>("verdict")?);
                incident.root_cause = row.try_get("root_cause")?;
            }
        }
        Ok(found)
    }

    /// Loads every stored fingerprint into memory the first time, and what was stored since
    /// (by any process) each time after.
    pub async fn ensure_index(&self) -> Result<(), StoreError> {
        let since = self
            .index
            .read()
            .await
            .as_ref()
            .map(|index| index.newest - REFRESH_OVERLAP_MS);
        let rows = sqlx::query("SELECT id, metric, window_kind, created_at, pattern, fingerprint FROM investigations WHERE fingerprint IS NOT NULL AND created_at >= $1")
            .bind(since.unwrap_or(i64::MIN))
            .fetch_all(self.pool())
            .await?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(fingerprint) =
                Fingerprint::from_bytes(&row.try_get::<Vec<u8>, _>("fingerprint")?)
            else {
                continue;
            };
            entries.push(Entry {
                id: row.try_get("id")?,
                metric: row.try_get("metric")?,
                kind: row
                    .try_get::<Option<String>, _>("window_kind")?
                    .unwrap_or_default(),
                created_at: row.try_get("created_at")?,
                pattern: row.try_get("pattern")?,
                fingerprint,
            });
        }
        let mut guard = self.index.write().await;
        let index = guard.get_or_insert_with(FingerprintIndex::default);
        for entry in entries {
            index.add(entry);
        }
        Ok(())
    }

    /// Adds a just-saved incident to the in-memory index (when it is loaded).
    pub(super) async fn remember_fingerprint(
        &self,
        id: &str,
        metric: &str,
        kind: &str,
        fingerprint: &Fingerprint,
        created_at: i64,
        pattern: Option<&str>,
    ) {
        if let Some(index) = self.index.write().await.as_mut() {
            index.add(Entry {
                id: id.to_string(),
                metric: metric.to_string(),
                kind: kind.to_string(),
                created_at,
                pattern: pattern.map(str::to_string),
                fingerprint: fingerprint.clone(),
            });
        }
    }
}

/// A past incident brought in from elsewhere (another tool's history, a benchmark).
#[derive(Debug, Clone)]
pub struct ImportedIncident {
    pub id: String,
    pub metric: String,
    /// Kind of the main anomalous window, as stored (`LevelShift`, `Spike`, …).
    pub kind: String,
    pub pattern: Option<String>,
    pub created_at: i64,
    pub fingerprint: Fingerprint,
}

/// Incidents per multi-row INSERT (7 parameters each).
const IMPORT_BATCH: usize = 100;

impl Store {
    /// Stores past incidents in bulk (as anomalous investigations without agent detail).
    pub async fn import_incidents(&self, incidents: &[ImportedIncident]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for chunk in incidents.chunks(IMPORT_BATCH) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p = 7 * i;
                    format!(
                        "(${}, ${}, 'import', 1, 5, 0.9, 3.0, ${}, ${}, ${}, ${}, ${})",
                        p + 1,
                        p + 2,
                        p + 3,
                        p + 4,
                        p + 5,
                        p + 6,
                        p + 7
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO investigations (id, metric, source, anomalous, severity, confidence, evidence_log_odds, pattern, window_kind, fingerprint, created_at, verdict_json) VALUES {}",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for incident in chunk {
                query = query
                    .bind(&incident.id)
                    .bind(&incident.metric)
                    .bind(incident.pattern.clone())
                    .bind(&incident.kind)
                    .bind(incident.fingerprint.to_bytes())
                    .bind(incident.created_at)
                    .bind("{}");
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        if let Some(index) = self.index.write().await.as_mut() {
            for i in incidents {
                index.add(Entry {
                    id: i.id.clone(),
                    metric: i.metric.clone(),
                    kind: i.kind.clone(),
                    created_at: i.created_at,
                    pattern: i.pattern.clone(),
                    fingerprint: i.fingerprint.clone(),
                });
            }
        }
        Ok(())
    }
}
