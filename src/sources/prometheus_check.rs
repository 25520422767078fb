//! What a check of a Prometheus query fetches: each series it returns (bounded), the related
//! series of the same service for the Root Cause Agent, and deploys for the Change Detective.

use std::collections::HashMap;

use futures_util::future::{join, join_all};
use futures_util::stream::{self, StreamExt};

use crate::config::PrometheusSettings;
use engine::series::events::Event;
use engine::series::{align, RelatedColumn, Series};

use super::prometheus::{PromSeries, Prometheus, PrometheusConfig, PrometheusError, QueryRange};
use super::promql::service_selector;
use super::related_queries::{self, QuerySet, MAX_SERIES_PER_QUERY};

/// Series of one query investigated at most; the rest are counted, not dropped silently.
pub const MAX_SERIES: usize = 20;

/// Related series given to the Root Cause Agent at most.
pub const MAX_RELATED: usize = 30;

/// Services whose related series are fetched at the same time.
const SERVICES_AT_ONCE: usize = 4;

/// The range a check without `last …` looks at.
pub const DEFAULT_LOOKBACK_MS: i64 = 6 * 3_600_000;

/// Prometheus plus the related-query set.
#[derive(Clone)]
pub struct PrometheusSource {
    client: Prometheus,
    queries: QuerySet,
}

/// What surrounds the series of one service: related series (named) and deploy events.
struct Surroundings {
    related: Vec<(String, PromSeries)>,
    events: Vec<Event>,
}

/// A query's series, ready to investigate.
pub struct Fetched {
    /// Each series with the events that may explain it.
    pub series: Vec<(Series, Vec<Event>)>,
    /// Series the query returned in all (more than investigated when over [`MAX_SERIES`]).
    pub returned: usize,
    /// Series with too few usable points to investigate, by name.
    pub too_short: Vec<String>,
}

impl PrometheusSource {
    pub fn new(client: Prometheus, queries: QuerySet) -> Self {
        Self { client, queries }
    }

    /// The HTTP API client.
    pub fn client(&self) -> &Prometheus {
        &self.client
    }

    /// Prometheus as the `PROMETHEUS_*` settings configure it; `None` when `PROMETHEUS_URL`
    /// is not set.
    pub fn from_settings(settings: &PrometheusSettings) -> anyhow::Result<Option<Self>> {
        let Some(config) = PrometheusConfig::from_settings(settings) else {
            return Ok(None);
        };
        let queries = match &settings.prometheus_related_queries {
            Some(path) => QuerySet::read(path)
                .map_err(|e| anyhow::anyhow!("PROMETHEUS_RELATED_QUERIES: {e}"))?,
            None => QuerySet::built_in(),
        };
        Ok(Some(Self::new(Prometheus::new(config)?, queries)))
    }

    /// Where Prometheus is, credentials left out.
    pub fn url(&self) -> String {
        self.client.display_url()
    }

    /// The series of `query` over the last `lookback_ms` before `now_ms` (with the history
    /// the baseline needs), each with its related series and deploys.
    pub async fn fetch(
        &self,
        query: &str,
        lookback_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<Fetched, PrometheusError> {
        let lookback_ms = lookback_ms.unwrap_or(DEFAULT_LOOKBACK_MS);
        let min_step = self.client.min_step_ms().await;
        let range = QueryRange::for_check(now_ms, lookback_ms, min_step);
        let answer = self.client.query_range(query, range).await?;
        let returned = answer.len();
        if answer.iter().all(|s| s.samples.is_empty()) {
            return Err(PrometheusError::NoData {
                query: query.to_string(),
            });
        }
        let answer: Vec<PromSeries> = answer.into_iter().take(MAX_SERIES).collect();
        let services = self.services_around(&answer, range).await;
        let mut fetched = Fetched {
            series: Vec::new(),
            returned,
            too_short: Vec::new(),
        };
        for prom in answer {
            let selector = service_selector(&prom.labels);
            let Surroundings { related, events } = &services[&selector];
            let own_labels = prom.labels.clone();
            match prom.into_series(query, Some(now_ms - lookback_ms)) {
                Ok(mut series) => {
                    series.related = related
                        .iter()
                        .filter(|(_, candidate)| candidate.labels != own_labels)
                        .map(|(name, candidate)| RelatedColumn {
                            name: name.clone(),
                            values: candidate.aligned_to(
                                &series.timestamps,
                                align::tolerance(series.interval_ms),
                            ),
                        })
                        .filter(|column| column.values.iter().any(|v| v.is_finite()))
                        .take(MAX_RELATED)
                        .collect();
                    fetched.series.push((series, events.clone()));
                }
                Err(_) => fetched
                    .too_short
                    .push(super::promql::series_name(query, &own_labels)),
            }
        }
        Ok(fetched)
    }

    /// What surrounds each distinct service among `answer`, a few services at a time so a
    /// slow Prometheus costs a few timeouts, not one per series.
    async fn services_around(
        &self,
        answer: &[PromSeries],
        range: QueryRange,
    ) -> HashMap<String, Surroundings> {
        let mut selectors: Vec<String> =
            answer.iter().map(|s| service_selector(&s.labels)).collect();
        selectors.sort();
        selectors.dedup();
        stream::iter(selectors)
            .map(|selector| async move {
                let found = self.around(&selector, range).await;
                (selector, found)
            })
            .buffer_unordered(SERVICES_AT_ONCE)
            .collect()
            .await
    }

    /// The related series and deploy events of the service `selector` names, fetched
    /// concurrently; a query that fails or returns nothing is skipped.
    async fn around(&self, selector: &str, range: QueryRange) -> Surroundings {
        let related = self.queries.related.iter().filter_map(|q| {
            let filled = related_queries::fill(&q.query, selector, range.step_ms)?;
            Some(async move { (q, self.answer(&filled, range).await) })
        });
        let events = self.queries.events.iter().filter_map(|q| {
            let filled = related_queries::fill(&q.query, selector, range.step_ms)?;
            Some(async move { (q, self.answer(&filled, range).await) })
        });
        let (related, events) = join(join_all(related), join_all(events)).await;
        let mut columns = Vec::new();
        for (query, answer) in related {
            let several = answer.len() > 1;
            for series in answer.into_iter().take(MAX_SERIES_PER_QUERY) {
                columns.push((
                    related_queries::column_name(query, &series, several),
                    series,
                ));
            }
        }
        let mut found: Vec<Event> = events
            .iter()
            .flat_map(|(query, answer)| related_queries::events_in(query, answer, range.start_ms))
            .collect();
        found.sort_by_key(|e| e.timestamp);
        Surroundings {
            related: columns,
            events: found,
        }
    }

    async fn answer(&self, query: &str, range: QueryRange) -> Vec<PromSeries> {
        match self.client.query_range(query, range).await {
            Ok(series) => series,
            Err(e) => {
                tracing::debug!(query, error = %e, "related query skipped");
                Vec::new()
            }
        }
    }
}
