//! A watch's alert budget on ordinary metrics: each normal family of the efficacy grid is
//! streamed through a watched series as a watch would — two weeks of history seeded
//! silently, then a week scored live — and every incident that week opens is a page nobody
//! needed. The figure per family is incidents per series-week.

use std::ops::Range;

use serde::Serialize;

use crate::stats::live_incident::{IncidentEvent, WatchedSeries};
use crate::stats::live_score::LiveScoreConfig;
use crate::stats::seasonality::WEEK_MS;
use crate::synthetic::grid::{normal_stretch, Family};

/// Weeks of history a watch seeds from before it scores live.
const SEED_WEEKS: i64 = 2;

/// One family's budget as spent.
#[derive(Debug, Clone, Serialize)]
pub struct FamilyBudget {
    pub family: &'static str,
    pub series: usize,
    pub incidents: usize,
    /// Incidents per series-week.
    pub per_series_week: f64,
}

/// Every family over `seeds`, at a watch's `step_ms`.
pub fn run(seeds: Range<u64>, step_ms: i64) -> Vec<FamilyBudget> {
    Family::ALL
        .iter()
        .map(|&family| {
            let incidents: usize = seeds
                .clone()
                .map(|seed| live_week_incidents(family, seed, step_ms))
                .sum();
            let series = seeds.clone().count();
            FamilyBudget {
                family: family.label(),
                series,
                incidents,
                per_series_week: incidents as f64 / series.max(1) as f64,
            }
        })
        .collect()
}

/// Incidents opened in the live week of one series.
fn live_week_incidents(family: Family, seed: u64, step_ms: i64) -> usize {
    let series = normal_stretch(family, seed, step_ms, (SEED_WEEKS + 1) * WEEK_MS);
    let live_from = series.timestamps.first().copied().unwrap_or(0) + SEED_WEEKS * WEEK_MS;
    let mut watched = WatchedSeries::new(LiveScoreConfig::for_watch(step_ms));
    let mut seeded = false;
    let mut incidents = 0;
    for (&at, &value) in series.timestamps.iter().zip(&series.values) {
        if at >= live_from && !seeded {
            // As a watch does after its seed: an incident open in the history is not told.
            watched.forget_open();
            seeded = true;
        }
        let event = watched.push(at, value);
        incidents += usize::from(seeded && matches!(event, Some(IncidentEvent::Opened { .. })));
    }
    incidents
}
