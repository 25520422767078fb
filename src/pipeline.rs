//! What every entry point runs around the engine's pure investigation: the weights learned
//! for the metric, similar past incidents recalled, the verdict stored (with its event),
//! reported and counted.

use std::time::Instant;

use engine::investigation::{investigate, Verdict};
use engine::series::events::Event;
use engine::series::Series;

use crate::store::{Store, StoreError};
use crate::telemetry;

/// Where a request for an investigation came from; stored with it and carried in its event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// `cli`, `slack`, `discord`, `stream`.
    pub source: String,
    /// The chat channel that asked, when a person asked in chat.
    pub channel: Option<String>,
    /// The message that asked (on Discord the verdict thread starts from it).
    pub message: Option<String>,
}

impl Origin {
    pub fn new(source: &str) -> Self {
        Self {
            source: source.to_string(),
            ..Self::default()
        }
    }

    /// A request made in a chat channel.
    pub fn chat(platform: &str, channel: &str, message: Option<&str>) -> Self {
        Self {
            source: platform.to_string(),
            channel: Some(channel.to_string()),
            message: message.map(str::to_string),
        }
    }
}

/// Past incidents cited per investigation.
pub const SIMILAR_LIMIT: usize = 5;

/// What every entry point runs: investigate with the weights learned for this metric, recall
/// similar past incidents, and store the result (with its event, when events are on).
pub async fn investigate_and_record(
    store: &Store,
    series: &Series,
    events: &[Event],
    origin: &Origin,
) -> Result<Verdict, StoreError> {
    let started = Instant::now();
    let outcome = record(store, series, events, origin).await;
    let result = match &outcome {
        Ok(verdict) if verdict.anomalous => telemetry::Outcome::Anomalous,
        Ok(_) => telemetry::Outcome::Normal,
        Err(_) => telemetry::Outcome::Failed,
    };
    telemetry::investigation(result, started.elapsed());
    if let Ok(verdict) = &outcome {
        crate::sinks::error_reporting::report_verdict(verdict);
    }
    outcome
}

async fn record(
    store: &Store,
    series: &Series,
    events: &[Event],
    origin: &Origin,
) -> Result<Verdict, StoreError> {
    let weights = store.learned_weights(&series.metric).await?;
    let mut verdict = compute(|| investigate(series, events, weights));
    if let Some(what) = verdict.non_finite() {
        return Err(StoreError::NotFinite {
            metric: series.metric.clone(),
            what,
        });
    }
    if let (Some(fingerprint), Some(kind)) = (
        verdict.fingerprint.clone(),
        verdict.main_window().map(|w| format!("{:?}", w.kind)),
    ) {
        let similar = store
            .similar_incidents(
                &fingerprint,
                &kind,
                &verdict.metric,
                &verdict.id,
                SIMILAR_LIMIT,
            )
            .await?;
        verdict.recall(similar);
    }
    store.save_investigation(&verdict, origin).await?;
    Ok(verdict)
}

/// Runs CPU-bound work (investigating, parsing, charting) without starving the async runtime:
/// `block_in_place` on a multi-threaded runtime, inline on a single-threaded one (where it is
/// not allowed).
pub fn compute<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}
