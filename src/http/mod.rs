//! HTTP endpoints other tools and people call: the JSON API under `/api/v1` and the
//! investigation pages. Handlers only translate HTTP to the neutral `chat` service and back.

pub mod api;
pub mod extract;
pub mod links;
pub mod pages;
pub mod problem;
pub mod verdict_doc;

use problem::Problem;
use verdict_doc::VerdictDoc;

use crate::store::{Store, StoredInvestigation};

/// A stored investigation, and its verdict read as the API describes it (one read).
pub async fn stored_verdict(
    store: &Store,
    id: &str,
) -> Result<(StoredInvestigation, VerdictDoc), Problem> {
    use serde::Deserialize as _;
    let stored = store.investigation(id).await?;
    let verdict = VerdictDoc::deserialize(&stored.verdict).map_err(Problem::internal)?;
    Ok((stored, verdict))
}

/// A stored investigation's chart as PNG, drawn from what was kept of its series; only the
/// stretch from `from` to `to` (UTC ms) when both are given.
pub async fn chart_png(store: &Store, id: &str, stretch: Stretch) -> Result<Vec<u8>, Problem> {
    let (_, verdict) = stored_verdict(store, id).await?;
    let chart = store.chart(id).await?.ok_or_else(|| {
        Problem::not_found(format!(
            "investigation {id} was stored before charts were kept: run it again for a chart"
        ))
    })?;
    let chart = match (stretch.from, stretch.to) {
        (Some(from), Some(to)) => chart.between(from, to),
        _ => chart,
    };
    use crate::render::chart::{self, ChartError};
    let title = chart::title(&verdict.metric, verdict.severity, verdict.confidence);
    chart::png_in_time(chart, verdict.metric, title)
        .await
        .map_err(|e| match e {
            ChartError::TooSlow => Problem::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                e.to_string(),
            ),
            ChartError::Drawing(_) => Problem::internal(e),
        })
}

/// `?from=&to=` (UTC ms): the stretch of a chart to draw, to zoom in.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Stretch {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// Compares without stopping at the first difference, so timing tells nothing of a secret.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
