//! PNG chart of a series: the values, the baseline band (baseline ± 3σ), the anomalous
//! windows shaded, the history before an asked range greyed, and "now" marked at the last
//! point, with the metric on the y axis and a legend. Long series are thinned to the
//! minimum and maximum of each stretch, so a one-point spike is still drawn. What a chart
//! draws ([`ChartData`]) is kept with the investigation, so the chart can be drawn again
//! later without the series. The font is embedded so charts render the same on any machine.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use serde::{Deserialize, Serialize};

use crate::agents::synthesizer::level_before;
use crate::investigation::Anomaly;
use crate::series::Series;
use crate::stats::seasonality::Decomposition;

const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
/// More points than pixels only blurs the line; longer series are thinned to about this many
/// (the lowest and the highest of each stretch of about two pixels).
const MAX_DRAWN_POINTS: usize = 1600;

/// What a chart draws, small enough to keep with every investigation (about 70 KB at most).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartData {
    /// `[UTC ms, value, expected value]` in time order, thinned to [`MAX_DRAWN_POINTS`].
    pub points: Vec<(i64, f64, f64)>,
    /// Half the width of the expected band (3σ).
    pub band: f64,
    /// The anomalous windows, `[start, end]` in UTC ms.
    pub windows: Vec<(i64, i64)>,
    /// Where the asked range begins, when history before it was read only for the baseline.
    pub focus_start: Option<i64>,
}

impl ChartData {
    /// What the chart of `series` draws, given its baseline and anomalous windows.
    pub fn of(series: &Series, decomposition: &Decomposition, anomalies: &[Anomaly]) -> Self {
        // Each window's level before it, once per window rather than once per drawn point.
        let levels: Vec<(&Anomaly, Option<f64>)> = anomalies
            .iter()
            .map(|a| {
                let before = level_before(a.start_index);
                (
                    a,
                    decomposition.deseasonalised_median(&series.values, before),
                )
            })
            .collect();
        let points = thinned(&series.values, MAX_DRAWN_POINTS)
            .into_iter()
            .map(|i| {
                let expected = expected(decomposition, &levels, i);
                (series.timestamps[i], series.values[i], expected)
            })
            .collect();
        let focus = series.focus_start();
        Self {
            points,
            band: 3.0 * decomposition.scale,
            windows: anomalies.iter().map(|a| (a.start_ms, a.end_ms)).collect(),
            focus_start: (focus > 0).then(|| series.timestamps[focus]),
        }
    }

    /// The stretch from `from` to `to` (UTC ms) alone, to zoom in; the whole chart when that
    /// stretch holds fewer than two drawn points.
    pub fn between(&self, from: i64, to: i64) -> Self {
        let points: Vec<_> = self
            .points
            .iter()
            .filter(|(t, _, _)| (from..=to).contains(t))
            .copied()
            .collect();
        if points.len() < 2 {
            return self.clone();
        }
        Self {
            points,
            windows: self
                .windows
                .iter()
                .filter(|(start, end)| *start <= to && *end >= from)
                .map(|(start, end)| (*start.max(&from), *end.min(&to)))
                .collect(),
            focus_start: self.focus_start.filter(|t| *t > from),
            ..self.clone()
        }
    }
}

/// The chart's heading: `metric — severity 7/10, confidence 87%`.
pub fn title(metric: &str, severity: u8, confidence: f64) -> String {
    format!(
        "{metric} — severity {severity}/10, confidence {}",
        super::percent(confidence)
    )
}

#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart to {path}: {message}")]
pub struct ChartError {
    path: String,
    message: String,
}

/// Width and height of a chart, in pixels.
pub const SIZE: (u32, u32) = (1200, 500);
/// The blank border around the chart, and the width of the y axis's labels, in pixels.
const MARGIN: u32 = 12;
const Y_LABELS: u32 = 70;
/// Where the plotted time axis begins and ends, in pixels from the chart's left edge (so a
/// page can tell which time a point on the picture is).
pub const PLOT_X: (u32, u32) = (MARGIN + Y_LABELS, SIZE.0 - MARGIN);
/// The colour of the "now" mark at the last point.
const NOW: RGBColor = RGBColor(0, 140, 70);

/// Draws the chart to `path` (PNG, 1200×500); [`png`] is the way in.
fn draw(path: &Path, chart: &ChartData, metric: &str, title: &str) -> Result<(), ChartError> {
    let fail = |e: &dyn std::fmt::Display| ChartError {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    paint(&root, chart, metric, title).map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))
}

/// Paints the chart on any plotters backend (a PNG file, or a pixel buffer in tests).
fn paint<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    data: &ChartData,
    metric: &str,
    title: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    static FONT_ONCE: Once = Once::new();
    FONT_ONCE.call_once(|| {
        // The embedded font is known-good; if registration failed, text would be missing only.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
    root.fill(&WHITE)?;
    let (Some(first), Some(last)) = (data.points.first(), data.points.last()) else {
        return Ok(());
    };
    let x = |t: i64| (t - first.0) as f64 / 3_600_000.0;
    let band = data.band;
    let (low, high) = data
        .points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, v, b)| {
            (lo.min(*v).min(b - band), hi.max(*v).max(b + band))
        });
    let pad = ((high - low) * 0.05).max(1e-9);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(MARGIN)
        .x_label_area_size(36)
        .y_label_area_size(Y_LABELS)
        .build_cartesian_2d(0.0..x(last.0).max(1e-9), (low - pad)..(high + pad))?;
    chart
        .configure_mesh()
        .x_desc(format!(
            "hours since {}",
            crate::series::timestamp::to_rfc3339(first.0)
        ))
        .y_desc(metric)
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    if let Some(focus) = data.focus_start {
        let history = BLACK.mix(0.06);
        chart
            .draw_series([Rectangle::new(
                [(x(first.0), low - pad), (x(focus), high + pad)],
                history.filled(),
            )])?
            .label("history before the asked range (baseline only)")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], history.filled()));
    }
    let shaded = RED.mix(0.18);
    for (k, (start, end)) in data.windows.iter().enumerate() {
        let shade = [
            (x(*start), low - pad),
            (x(*end).max(x(*start) + 1e-6), high + pad),
        ];
        let drawn = chart.draw_series(std::iter::once(Rectangle::new(shade, shaded.filled())))?;
        if k == 0 {
            drawn.label("anomalous window").legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 16, y + 5)], shaded.filled())
            });
        }
    }
    let upper = data.points.iter().map(|(t, _, b)| (x(*t), b + band));
    let lower = data.points.iter().rev().map(|(t, _, b)| (x(*t), b - band));
    let polygon: Vec<(f64, f64)> = upper.chain(lower).collect();
    let expected = BLUE.mix(0.12);
    chart
        .draw_series(std::iter::once(Polygon::new(polygon, expected.filled())))?
        .label("expected (baseline ± 3σ)")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], expected.filled()));
    chart
        .draw_series(LineSeries::new(
            data.points.iter().map(|(t, v, _)| (x(*t), *v)),
            BLACK.stroke_width(1),
        ))?
        .label(metric)
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.stroke_width(2)));
    let (now, value, _) = *last;
    chart
        .draw_series([PathElement::new(
            [(x(now), low - pad), (x(now), high + pad)],
            NOW.stroke_width(2),
        )])?
        .label(format!(
            "now: {} at {}",
            super::number(value),
            crate::series::timestamp::to_rfc3339(now)
        ))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], NOW.stroke_width(2)));
    chart.draw_series([Circle::new((x(now), value), 4, NOW.filled())])?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 14))
        .draw()?;
    Ok(())
}

/// What point `i` was expected to be: the baseline, except inside an anomalous window, where
/// the level stays what the data was before the window began (as the synthesizer judges
/// whether it is still going on; only the seasonal pattern moves on) — a baseline that
/// follows the incident would draw the incident as normal. `levels`: each window with its
/// level before.
fn expected(decomposition: &Decomposition, levels: &[(&Anomaly, Option<f64>)], i: usize) -> f64 {
    let level_before = levels
        .iter()
        .find(|(a, _)| (a.start_index..=a.end_index).contains(&i))
        .and_then(|(_, level)| *level);
    match level_before {
        Some(level) => level + decomposition.seasonal[i],
        None => decomposition.baseline(i),
    }
}

/// Indices of the points to draw: all of them up to `max_points`, else the lowest and the
/// highest point of each stretch (in time order), so that no spike is thinned away, and the
/// last point ("now").
fn thinned(values: &[f64], max_points: usize) -> Vec<usize> {
    let stretch = (2 * values.len()).div_ceil(max_points.max(2));
    if stretch <= 1 {
        return (0..values.len()).collect();
    }
    let mut drawn = Vec::with_capacity(2 * values.len() / stretch + 2);
    for start in (0..values.len()).step_by(stretch) {
        let end = (start + stretch).min(values.len());
        let by_value = |a: &usize, b: &usize| values[*a].total_cmp(&values[*b]);
        let lowest = (start..end).min_by(by_value).unwrap_or(start);
        let highest = (start..end).max_by(by_value).unwrap_or(start);
        drawn.push(lowest.min(highest));
        if lowest != highest {
            drawn.push(lowest.max(highest));
        }
    }
    if !values.is_empty() && drawn.last() != Some(&(values.len() - 1)) {
        drawn.push(values.len() - 1);
    }
    drawn
}

/// The chart as PNG bytes, for a chat thread or the investigation page; `title` from
/// [`title`].
pub fn png(chart: &ChartData, metric: &str, title: &str) -> Result<Vec<u8>, ChartError> {
    let path =
        std::env::temp_dir().join(format!("anomaly-hunter-chart-{}.png", uuid::Uuid::new_v4()));
    draw(&path, chart, metric, title)?;
    let bytes = std::fs::read(&path).map_err(|e| ChartError {
        path: path.display().to_string(),
        message: e.to_string(),
    });
    let _ = std::fs::remove_file(&path);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_a_window_the_expected_level_is_the_one_before_it() {
        let series = Series {
            timestamps: (0..6).map(|i| i * 60_000).collect(),
            values: vec![10.0, 11.0, 12.0, 90.0, 91.0, 20.0],
            ..Series::default()
        };
        let decomposition = Decomposition {
            seasonality: None,
            trend: vec![10.0, 11.0, 40.0, 80.0, 80.0, 20.0],
            seasonal: vec![0.0, 0.0, 0.0, 1.0, 2.0, 0.0],
            residual: vec![0.0; 6],
            scale: 1.0,
            scale_by_level: Vec::new(),
            counts: false,
        };
        let window = Anomaly {
            start: String::new(),
            end: String::new(),
            kind: crate::agents::WindowKind::LevelShift,
            score: 1.0,
            magnitude: 7.0,
            start_index: 3,
            end_index: 4,
            start_ms: 0,
            end_ms: 0,
        };
        let chart = ChartData::of(&series, &decomposition, std::slice::from_ref(&window));
        let expected: Vec<f64> = chart.points.iter().map(|p| p.2).collect();
        assert_eq!(expected, [10.0, 11.0, 40.0, 12.0, 13.0, 20.0]);
    }

    #[test]
    fn zooming_keeps_the_stretch_and_clips_its_windows() {
        let chart = ChartData {
            points: (0..10).map(|i| (i * 1000, i as f64, 0.0)).collect(),
            band: 1.0,
            windows: vec![(2000, 5000), (8000, 9000)],
            focus_start: Some(1000),
        };
        let zoomed = chart.between(3000, 6000);
        assert_eq!(zoomed.points.len(), 4);
        assert_eq!(zoomed.windows, [(3000, 5000)]);
        assert_eq!(zoomed.focus_start, None, "the stretch is all asked range");
        assert_eq!(
            chart.between(3000, 3500),
            chart,
            "too narrow: the whole chart"
        );
    }

    #[test]
    fn thinning_keeps_every_spike_and_the_order_of_time() {
        let mut values: Vec<f64> = (0..100_000).map(|i| (i % 7) as f64).collect();
        values[12_345] = 1_000.0;
        values[67_891] = -1_000.0;
        let drawn = thinned(&values, 4_000);
        assert!(drawn.len() <= 4_003, "{}", drawn.len());
        assert_eq!(drawn.last(), Some(&99_999), "now is always drawn");
        assert!(drawn.contains(&12_345) && drawn.contains(&67_891));
        assert!(drawn.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            thinned(&values[..100], 4_000).len(),
            100,
            "short series whole"
        );
    }

    /// Renders the chart of a series with one spike into a pixel buffer.
    fn pixels_of_a_spike() -> Vec<u8> {
        let n = 300;
        let timestamps: Vec<i64> = (0..n).map(|i| i as i64 * 60_000).collect();
        let mut values: Vec<f64> = (0..n).map(|i| 100.0 + (i % 5) as f64).collect();
        values[100] = 400.0;
        let series = Series::from_points("latency", timestamps, values).unwrap();
        let verdict = crate::investigation::investigate(&series, &[], Default::default());
        assert!(verdict.anomalous, "{}", verdict.verdict);
        let decomposition = crate::investigation::decomposition_of(&series);
        let mut buffer = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buffer, SIZE).into_drawing_area();
            let data = ChartData::of(&series, &decomposition, &verdict.anomalies);
            assert_eq!(
                data, verdict.chart,
                "the verdict keeps what its chart draws"
            );
            let title = title(&verdict.metric, verdict.severity, verdict.confidence);
            paint(&root, &data, &verdict.metric, &title).unwrap();
            root.present().unwrap();
        }
        buffer
    }

    /// Columns (x pixels) holding at least one pixel of `colour`.
    fn columns_with(buffer: &[u8], colour: (u8, u8, u8)) -> Vec<u32> {
        (0..SIZE.0)
            .filter(|x| {
                (0..SIZE.1).any(|y| {
                    let at = ((y * SIZE.0 + x) * 3) as usize;
                    (buffer[at], buffer[at + 1], buffer[at + 2]) == colour
                })
            })
            .collect()
    }

    #[test]
    fn now_is_marked_at_the_last_point_and_only_the_window_is_shaded() {
        let buffer = pixels_of_a_spike();
        let now: Vec<u32> = columns_with(&buffer, (NOW.0, NOW.1, NOW.2))
            .into_iter()
            .filter(|x| *x > 200)
            .collect();
        assert!(
            !now.is_empty() && now.iter().all(|x| *x > SIZE.0 * 3 / 4),
            "the now mark sits at the right end: {now:?}"
        );
        let shade = RED.mix(0.18);
        let blended = |c: u8| (f64::from(c) * 0.18 + 255.0 * 0.82).round() as u8;
        let shaded = columns_with(
            &buffer,
            (blended(shade.0), blended(shade.1), blended(shade.2)),
        );
        assert!(!shaded.is_empty(), "the spike's window is shaded");
        assert!(
            shaded.len() < (SIZE.0 / 20) as usize,
            "a one-minute spike shades a sliver, not the rest of the chart: {} columns",
            shaded.len()
        );
    }
}
