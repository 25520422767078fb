//! PNG chart of a series: the values, the baseline band (baseline ± 3σ) and the anomalous
//! windows shaded. The font is embedded so charts render the same on any machine.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::investigation::Verdict;
use crate::series::Series;
use crate::stats::seasonality::Decomposition;

const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
/// More points than pixels only blurs the line; longer series are thinned to this many.
const MAX_DRAWN_POINTS: usize = 4000;

#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart to {path}: {message}")]
pub struct ChartError {
    path: String,
    message: String,
}

/// Draws the chart to `path` (PNG, 1200×500).
pub fn draw(
    path: &Path,
    series: &Series,
    decomposition: &Decomposition,
    verdict: &Verdict,
) -> Result<(), ChartError> {
    let fail = |e: &dyn std::fmt::Display| ChartError {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    static FONT_ONCE: Once = Once::new();
    FONT_ONCE.call_once(|| {
        // The embedded font is known-good; if registration failed, text would be missing only.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
    let root = BitMapBackend::new(path, (1200, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let step = series.len().div_ceil(MAX_DRAWN_POINTS).max(1);
    let x = |i: usize| (series.timestamps[i] - series.timestamps[0]) as f64 / 3_600_000.0;
    let band = 3.0 * decomposition.scale;
    let (low, high) = series.values.iter().enumerate().fold(
        (f64::INFINITY, f64::NEG_INFINITY),
        |(lo, hi), (i, v)| {
            let b = decomposition.baseline(i);
            (lo.min(*v).min(b - band), hi.max(*v).max(b + band))
        },
    );
    let pad = ((high - low) * 0.05).max(1e-9);
    let title = format!(
        "{} — severity {}/10, confidence {}",
        verdict.metric,
        verdict.severity,
        super::percent(verdict.confidence)
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d(
            0.0..x(series.len() - 1).max(1e-9),
            (low - pad)..(high + pad),
        )
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc(format!(
            "hours since {}",
            crate::series::timestamp::to_rfc3339(series.timestamps[0])
        ))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| fail(&e))?;
    for a in &verdict.anomalies {
        let shade = [
            (x(a.start_index), low - pad),
            (x(a.end_index).max(x(a.start_index) + 1e-6), high + pad),
        ];
        chart
            .draw_series(std::iter::once(Rectangle::new(
                shade,
                RED.mix(0.18).filled(),
            )))
            .map_err(|e| fail(&e))?;
    }
    let indices = (0..series.len()).step_by(step);
    let upper: Vec<(f64, f64)> = indices
        .clone()
        .map(|i| (x(i), decomposition.baseline(i) + band))
        .collect();
    let lower: Vec<(f64, f64)> = indices
        .clone()
        .rev()
        .map(|i| (x(i), decomposition.baseline(i) - band))
        .collect();
    let polygon: Vec<(f64, f64)> = upper.into_iter().chain(lower).collect();
    chart
        .draw_series(std::iter::once(Polygon::new(
            polygon,
            BLUE.mix(0.12).filled(),
        )))
        .map_err(|e| fail(&e))?;
    chart
        .draw_series(LineSeries::new(
            indices.map(|i| (x(i), series.values[i])),
            BLACK.stroke_width(1),
        ))
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}

/// The chart as PNG bytes, for uploading into a chat thread.
pub fn png(
    series: &Series,
    decomposition: &Decomposition,
    verdict: &Verdict,
) -> Result<Vec<u8>, ChartError> {
    let path = std::env::temp_dir().join(format!("anomaly-hunter-chart-{}.png", verdict.id));
    draw(&path, series, decomposition, verdict)?;
    let bytes = std::fs::read(&path).map_err(|e| ChartError {
        path: path.display().to_string(),
        message: e.to_string(),
    });
    let _ = std::fs::remove_file(&path);
    bytes
}
