//! Similar-incident retrieval over many stored incidents: bulk import into a scratch SQLite
//! store, the one-time index load, then P50/P95 of warm queries.

use std::fmt;
use std::time::Instant;

use serde::Serialize;

use crate::store::{ImportedIncident, Location, Store};
use engine::learning::fingerprint::{Fingerprint, LENGTH, SEGMENTS};
use engine::synthetic::rng::Rng;

#[derive(Debug, Clone, Serialize)]
pub struct SimilarTiming {
    pub incidents: usize,
    pub import_seconds: f64,
    pub index_load_ms: f64,
    pub queries: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

impl fmt::Display for SimilarTiming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "similar-incident retrieval over {} incidents: P50 {:.3} ms, P95 {:.3} ms ({} queries); index load {:.0} ms; import {:.1} s",
            self.incidents, self.p50_ms, self.p95_ms, self.queries, self.index_load_ms, self.import_seconds
        )
    }
}

const KINDS: [&str; 4] = ["LevelShift", "Spike", "Drift", "Outage"];
const QUERIES: usize = 200;

/// Runs the benchmark in a scratch folder under `scratch_dir`, removed afterwards.
pub async fn run(scratch_dir: &std::path::Path, incidents: usize) -> anyhow::Result<SimilarTiming> {
    let dir = scratch_dir.join(format!(
        "anomaly-hunter-bench-similar-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let result = measure(&dir, incidents).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure(dir: &std::path::Path, incidents: usize) -> anyhow::Result<SimilarTiming> {
    let store = Store::open(Location::Sqlite(dir.join("bench.db"))).await?;
    let mut rng = Rng::new(7);
    let prototypes: Vec<Fingerprint> = (0..64)
        .map(|_| random_fingerprint(&mut rng, None))
        .collect();
    let started = Instant::now();
    let batch: Vec<ImportedIncident> = (0..incidents)
        .map(|i| ImportedIncident {
            id: format!("bench-{i:08}"),
            metric: format!("service_{}_latency", i % 500),
            kind: KINDS[i % KINDS.len()].to_string(),
            pattern: Some("connection_pool_exhaustion".into()),
            created_at: 1_700_000_000_000 + i as i64 * 60_000,
            fingerprint: random_fingerprint(&mut rng, Some(&prototypes[i % prototypes.len()])),
        })
        .collect();
    store.import_incidents(&batch).await?;
    let import_seconds = started.elapsed().as_secs_f64();

    let reopened = Store::open(Location::Sqlite(dir.join("bench.db"))).await?;
    let started = Instant::now();
    reopened.ensure_index().await?;
    let index_load_ms = started.elapsed().as_secs_f64() * 1000.0;

    let mut samples = Vec::with_capacity(QUERIES);
    for q in 0..QUERIES {
        let query = random_fingerprint(&mut rng, Some(&prototypes[q % prototypes.len()]));
        let started = Instant::now();
        let found = reopened
            .similar_incidents(&query, KINDS[q % KINDS.len()], "service_1_latency", "", 5)
            .await?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(
            !found.is_empty(),
            "a query near a prototype found no similar incident"
        );
    }
    samples.sort_by(f64::total_cmp);
    Ok(SimilarTiming {
        incidents,
        import_seconds,
        index_load_ms,
        queries: QUERIES,
        p50_ms: samples[QUERIES / 2],
        p95_ms: samples[QUERIES * 95 / 100],
    })
}

/// A random shape, or a small perturbation of `near`.
fn random_fingerprint(rng: &mut Rng, near: Option<&Fingerprint>) -> Fingerprint {
    let mut values = [0.0f32; LENGTH];
    for (i, slot) in values.iter_mut().enumerate().take(SEGMENTS) {
        *slot = match near {
            Some(p) => p.0[i] + (rng.normal() * 0.05) as f32,
            None => rng.normal() as f32,
        };
    }
    values[SEGMENTS] = near.map_or(1.0, |p| p.0[SEGMENTS]);
    values[SEGMENTS + 1] = near.map_or(rng.range(0.1, 2.0) as f32, |p| p.0[SEGMENTS + 1]);
    Fingerprint(values)
}
