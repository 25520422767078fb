//! The editable set of Prometheus queries fetched beside an investigated series
//! (`commands/related-queries.toml`): candidate causes for the Root Cause Agent and deploy
//! markers for the Change Detective. Reading the file and filling in placeholders; no I/O
//! beyond reading the file.

use std::path::Path;

use serde::Deserialize;

use crate::render::number;
use engine::series::events::Event;

use super::prometheus::PromSeries;

/// The copy built into the binary, used when `PROMETHEUS_RELATED_QUERIES` names no file.
pub const BUILT_IN: &str = include_str!("../../commands/related-queries.toml");

/// Series one related query contributes at most.
pub const MAX_SERIES_PER_QUERY: usize = 5;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RelatedQuery {
    /// The column name the Root Cause Agent shows when the result has no metric name.
    pub name: String,
    pub query: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct EventQuery {
    /// The event kind (`deploy`, `config`).
    pub kind: String,
    pub query: String,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct QuerySet {
    #[serde(default)]
    pub related: Vec<RelatedQuery>,
    #[serde(default)]
    pub events: Vec<EventQuery>,
}

impl QuerySet {
    /// The built-in set.
    pub fn built_in() -> Self {
        Self::parse(BUILT_IN, "the built-in related-queries.toml")
            .expect("the built-in query set parses (tested)")
    }

    /// Reads a query set file; the error names the file and what is wrong in it.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    fn parse(text: &str, origin: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| format!("{origin} is not a valid query set: {e}"))
    }
}

/// Fills `$selector` and `$rate` in a query template. `None` when the series has no service
/// labels: a related query without a selector would match every service.
pub fn fill(template: &str, selector: &str, step_ms: i64) -> Option<String> {
    if selector.is_empty() {
        return None;
    }
    let rate_seconds = (4 * step_ms / 1000).max(60);
    Some(
        template
            .replace("$selector", selector)
            .replace("$rate", &format!("{rate_seconds}s")),
    )
}

/// The name of a related column: the series' metric name, or the query's name when the result
/// has none; when one query returned several series, their distinguishing labels follow.
pub fn column_name(query: &RelatedQuery, series: &PromSeries, several: bool) -> String {
    let base = series
        .labels
        .get("__name__")
        .cloned()
        .unwrap_or_else(|| query.name.clone());
    if !several {
        return base;
    }
    match super::promql::label_list(&series.labels) {
        labels if labels.is_empty() => base,
        labels => format!("{base}{{{labels}}}"),
    }
}

/// Deploy-like events in an event query's answer: a value that changes between samples, or a
/// series that starts after the range did (a new version in a build-info metric).
pub fn events_in(query: &EventQuery, answer: &[PromSeries], range_start_ms: i64) -> Vec<Event> {
    let mut events = Vec::new();
    for series in answer {
        let labels = super::promql::label_list(&series.labels);
        let name = series
            .labels
            .get("__name__")
            .map_or(query.kind.as_str(), String::as_str);
        let finite: Vec<(i64, f64)> = series
            .samples
            .iter()
            .copied()
            .filter(|(_, v)| v.is_finite())
            .collect();
        if let Some((first, _)) = finite.first() {
            // A step or two of delay is normal for a series that existed all along.
            if *first > range_start_ms && series.samples.len() > 1 {
                let step = series.samples[1].0 - series.samples[0].0;
                if *first > range_start_ms + 2 * step {
                    events.push(Event {
                        timestamp: *first,
                        kind: query.kind.clone(),
                        description: format!("{name}{{{labels}}} appeared"),
                    });
                }
            }
        }
        for pair in finite.windows(2) {
            let ((_, before), (at, after)) = (pair[0], pair[1]);
            if after != before {
                events.push(Event {
                    timestamp: at,
                    kind: query.kind.clone(),
                    description: format!(
                        "{name}{{{labels}}} {} → {}",
                        number(before),
                        number(after)
                    ),
                });
            }
        }
    }
    events.sort_by_key(|e| e.timestamp);
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_set_parses_and_fills() {
        let set = QuerySet::built_in();
        assert!(set.related.len() >= 8);
        assert!(set.events.iter().all(|e| e.kind == "deploy"));
        for query in &set.related {
            let filled = fill(&query.query, "job=\"api\"", 15_000).unwrap();
            assert!(!filled.contains('$'), "{filled}");
        }
        assert_eq!(fill("x{$selector}", "", 15_000), None);
        assert_eq!(
            fill("rate(x{$selector}[$rate])", "job=\"a\"", 60_000).unwrap(),
            "rate(x{job=\"a\"}[240s])"
        );
    }

    #[test]
    fn a_wrong_file_says_what_is_wrong() {
        let e = QuerySet::parse("[[related]]\nname = 'x'\n", "q.toml").unwrap_err();
        assert!(e.contains("q.toml") && e.contains("query"), "{e}");
        let e = QuerySet::parse("[[relatd]]\n", "q.toml").unwrap_err();
        assert!(e.contains("relatd"), "{e}");
    }

    #[test]
    fn changes_and_new_series_are_events() {
        let query = EventQuery {
            kind: "deploy".into(),
            query: "q".into(),
        };
        let step = 15_000;
        let generation = PromSeries {
            labels: [
                ("__name__".to_string(), "gen".to_string()),
                ("deployment".to_string(), "api".to_string()),
            ]
            .into(),
            samples: (0..10)
                .map(|i| (i * step, if i < 6 { 41.0 } else { 42.0 }))
                .collect(),
        };
        let new_version = PromSeries {
            labels: [("version".to_string(), "1.2".to_string())].into(),
            samples: (7..10).map(|i| (i * step, 1.0)).collect(),
        };
        let events = events_in(&query, &[generation, new_version], 0);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].timestamp, 6 * step);
        assert!(events[0].description.contains("41 → 42"), "{events:?}");
        assert_eq!(events[1].timestamp, 7 * step);
        assert!(events[1].description.contains("appeared"));
    }
}
