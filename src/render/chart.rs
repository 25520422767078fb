//! PNG chart of what an investigation kept ([`ChartData`], the engine's): the values, the
//! baseline band (baseline ± 3σ), the anomalous windows shaded, the history before an asked
//! range greyed, and "now" marked at the last point, with dates and times on one axis, the
//! metric on the other, and a legend. The font is embedded so charts render the same on any
//! machine.

use std::sync::Once;

use engine::chart::{thinned, ChartData, MAX_DRAWN_POINTS};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use super::axis;
use super::typeset::Typeset;

const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// The chart's heading: `metric — severity 7/10, confidence 87%`.
pub fn title(metric: &str, severity: u8, confidence: f64) -> String {
    format!(
        "{metric} — severity {severity}/10, confidence {}",
        super::percent(confidence)
    )
}

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("cannot draw the chart: {0}")]
    Drawing(String),
    #[error("the chart was not drawn within {} s; try again, or ask for a shorter stretch", DEADLINE.as_secs())]
    TooSlow,
}

/// How long a caller waits for a chart. A chart is a few milliseconds of work; this is the
/// bound for a machine that is busy with something else.
pub const DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);
/// Charts drawn at once: a flood of chart requests takes at most this many cores.
const DRAWING_AT_ONCE: usize = 2;

/// [`png`] on a thread of its own, off the async workers, waited for at most [`DEADLINE`]
/// (a drawing that overruns keeps its slot until it ends, so a flood cannot pile up). The
/// thread does not hold the process open: shutting down ends a drawing in flight.
pub async fn png_in_time(
    chart: ChartData,
    metric: String,
    title: String,
) -> Result<Vec<u8>, ChartError> {
    static SLOTS: std::sync::OnceLock<std::sync::Arc<tokio::sync::Semaphore>> =
        std::sync::OnceLock::new();
    let slots =
        SLOTS.get_or_init(|| std::sync::Arc::new(tokio::sync::Semaphore::new(DRAWING_AT_ONCE)));
    let drawn = async {
        let slot = slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ChartError::Drawing(e.to_string()))?;
        let (done, result) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("chart".into())
            .spawn(move || {
                let _ = done.send(png(&chart, &metric, &title));
                drop(slot);
            })
            .map_err(|e| ChartError::Drawing(e.to_string()))?;
        result
            .await
            .map_err(|_| ChartError::Drawing("the drawing thread stopped".into()))?
    };
    tokio::time::timeout(DEADLINE, drawn)
        .await
        .unwrap_or(Err(ChartError::TooSlow))
}

/// Width and height of a chart, in pixels.
pub const SIZE: (u32, u32) = (1200, 500);
/// The blank border around the chart, and the width of the y axis's labels, in pixels.
const MARGIN: u32 = 12;
const Y_LABELS: u32 = 80;
/// Where the plotted time axis begins and ends, in pixels from the chart's left edge (so a
/// page can tell which time a point on the picture is).
pub const PLOT_X: (u32, u32) = (MARGIN + Y_LABELS, SIZE.0 - MARGIN);
/// The colour of the "now" mark at the last point.
const NOW: RGBColor = RGBColor(0, 140, 70);

/// The chart as PNG bytes, for a chat thread or the investigation page; `title` from
/// [`title`]. Whatever the numbers, the drawing is a few milliseconds of work: a bounded
/// number of points and ticks on axes that any finite range fits.
pub fn png(chart: &ChartData, metric: &str, title: &str) -> Result<Vec<u8>, ChartError> {
    let pixels = pixels(chart, metric, title)?;
    let mut bytes = Vec::with_capacity(64 * 1024);
    let mut encoder = ::png::Encoder::new(&mut bytes, SIZE.0, SIZE.1);
    encoder.set_color(::png::ColorType::Rgb);
    encoder.set_depth(::png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&pixels))
        .map_err(|e| ChartError::Drawing(e.to_string()))?;
    Ok(bytes)
}

/// The chart's RGB pixels, row by row.
fn pixels(chart: &ChartData, metric: &str, title: &str) -> Result<Vec<u8>, ChartError> {
    static FONT_ONCE: Once = Once::new();
    FONT_ONCE.call_once(|| {
        // plotters sizes some text itself; the glyphs are drawn by `Typeset`. The embedded
        // font is known-good; if registration failed, only plotters' estimates would suffer.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
    let fail = |e: &dyn std::fmt::Display| ChartError::Drawing(e.to_string());
    let mut pixels = vec![255u8; (SIZE.0 * SIZE.1 * 3) as usize];
    {
        let backend = Typeset::new(BitMapBackend::with_buffer(&mut pixels, SIZE), FONT)
            .map_err(|e| fail(&e))?;
        let root = backend.into_drawing_area();
        paint(&root, chart, metric, title).map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))?;
    }
    Ok(pixels)
}

/// The value axis in drawing units: a value is drawn at `(value − mid) / half`, so the data
/// spans −1 to 1 whatever its range — ±f64::MAX included, where `high − low` itself is not
/// a finite number.
struct ValueFrame {
    mid: f64,
    half: f64,
}

impl ValueFrame {
    /// The frame around every finite value of `values`.
    fn around(values: impl Iterator<Item = f64>) -> Self {
        let (low, high) = values
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if low > high {
            return Self {
                mid: 0.0,
                half: 1.0,
            };
        }
        let mid = low / 2.0 + high / 2.0;
        let half = high / 2.0 - low / 2.0;
        // A flat line (or one only subnormals apart) gets a band around it.
        let half = if (half / 2.0).is_normal() && half > mid.abs() * 1e-12 {
            half
        } else if (mid.abs() * 0.1).is_normal() {
            mid.abs() * 0.1
        } else {
            1.0
        };
        Self { mid, half }
    }

    /// Where `value` is drawn, kept within the plot (a non-finite value sits at its edge).
    fn y(&self, value: f64) -> f64 {
        let y = (value / 2.0 - self.mid / 2.0) / (self.half / 2.0);
        if y.is_nan() {
            0.0
        } else {
            y.clamp(-Y_REACH, Y_REACH)
        }
    }

    /// The lowest and highest value the plot shows (saturating at ±f64::MAX).
    fn shown(&self) -> (f64, f64) {
        let edge = |sign: f64| {
            let value = 2.0 * (self.mid / 2.0 + sign * Y_REACH * (self.half / 2.0));
            value.clamp(-f64::MAX, f64::MAX)
        };
        (edge(-1.0), edge(1.0))
    }
}

/// The plot reaches 5% beyond the data on each side.
const Y_REACH: f64 = 1.05;

/// A linear axis whose ticks are the ones given (plotters' own tick search is not bounded
/// for ranges near f64's limits).
struct Ticked {
    from: f64,
    to: f64,
    ticks: Vec<f64>,
}

impl Ticked {
    fn new(from: f64, to: f64, ticks: &[(f64, String)]) -> Self {
        Self {
            from,
            to,
            ticks: ticks.iter().map(|t| t.0).collect(),
        }
    }
}

impl Ranged for Ticked {
    type ValueType = f64;
    type FormatOption = DefaultFormatting;

    fn map(&self, value: &f64, (start, end): (i32, i32)) -> i32 {
        let share = (value - self.from) / (self.to - self.from);
        let share = if share.is_nan() {
            0.5
        } else {
            share.clamp(-0.1, 1.1)
        };
        start + (f64::from(end - start) * share).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.from..self.to
    }
}

/// Nearest tick's label to `at` (a key point plotters hands back).
fn label_at(ticks: &[(f64, String)], at: f64) -> String {
    ticks
        .iter()
        .min_by(|a, b| (a.0 - at).abs().total_cmp(&(b.0 - at).abs()))
        .map(|(_, label)| label.clone())
        .unwrap_or_default()
}

/// Paints the chart on any plotters backend (a PNG, or a pixel buffer in tests).
fn paint<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    data: &ChartData,
    metric: &str,
    title: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let mut points: Vec<(i64, f64, f64)> = data
        .points
        .iter()
        .filter(|(_, v, e)| v.is_finite() && e.is_finite())
        .copied()
        .collect();
    if points.len() > 2 * MAX_DRAWN_POINTS {
        let values: Vec<f64> = points.iter().map(|p| p.1).collect();
        points = thinned(&values, MAX_DRAWN_POINTS)
            .into_iter()
            .map(|i| points[i])
            .collect();
    }
    let (Some(&first), Some(&last)) = (points.first(), points.last()) else {
        return Ok(());
    };
    let band = if data.band.is_finite() {
        data.band.abs()
    } else {
        0.0
    };
    let frame = ValueFrame::around(points.iter().flat_map(|(_, v, e)| [*v, e - band, e + band]));
    let y = |v: f64| frame.y(v);
    let span = (last.0 as f64 - first.0 as f64).max(1.0);
    let x = |t: i64| (t as f64 - first.0 as f64).clamp(0.0, span);

    let (low, high) = frame.shown();
    let value_ticks: Vec<(f64, String)> = axis::value_ticks(low, high)
        .into_iter()
        .map(|v| (y(v), super::number(v)))
        .collect();
    let time_ticks: Vec<(f64, String)> = axis::time_ticks(first.0, last.0)
        .into_iter()
        .map(|(t, label)| (x(t), label))
        .collect();
    let x_range = Ticked::new(0.0, span, &time_ticks);
    let y_range = Ticked::new(-Y_REACH, Y_REACH, &value_ticks);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(MARGIN)
        .x_label_area_size(40)
        .y_label_area_size(Y_LABELS)
        .build_cartesian_2d(x_range, y_range)?;
    let y_caption = match data.unit_exponent {
        0 => metric.to_string(),
        exponent => format!("{metric} (×1e{exponent})"),
    };
    chart
        .configure_mesh()
        .x_desc(axis::time_caption(first.0, last.0))
        .y_desc(y_caption)
        .x_label_formatter(&|at| label_at(&time_ticks, *at))
        .y_label_formatter(&|at| label_at(&value_ticks, *at))
        .label_style(("sans-serif", 13))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .draw()?;
    let (bottom, top) = (-Y_REACH, Y_REACH);
    if let Some(focus) = data.focus_start {
        let history = BLACK.mix(0.06);
        chart
            .draw_series([Rectangle::new(
                [(0.0, bottom), (x(focus), top)],
                history.filled(),
            )])?
            .label("history before the asked range (baseline only)")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], history.filled()));
    }
    let shaded = RED.mix(0.18);
    for (k, (start, end)) in data.windows.iter().enumerate() {
        let shade = [
            (x(*start), bottom),
            (x(*end).max(x(*start) + span * 1e-4), top),
        ];
        let drawn = chart.draw_series(std::iter::once(Rectangle::new(shade, shaded.filled())))?;
        if k == 0 {
            drawn.label("anomalous window").legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 16, y + 5)], shaded.filled())
            });
        }
    }
    let upper = points.iter().map(|(t, _, e)| (x(*t), y(e + band)));
    let lower = points.iter().rev().map(|(t, _, e)| (x(*t), y(e - band)));
    let polygon: Vec<(f64, f64)> = upper.chain(lower).collect();
    let expected = BLUE.mix(0.12);
    chart
        .draw_series(std::iter::once(Polygon::new(polygon, expected.filled())))?
        .label("expected (baseline ± 3σ)")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], expected.filled()));
    chart
        .draw_series(LineSeries::new(
            points.iter().map(|(t, v, _)| (x(*t), y(*v))),
            BLACK.stroke_width(1),
        ))?
        .label(metric)
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.stroke_width(2)));
    let (now, value, _) = last;
    chart
        .draw_series([PathElement::new(
            [(x(now), bottom), (x(now), top)],
            NOW.stroke_width(2),
        )])?
        .label(format!(
            "now: {} at {}",
            super::number(value),
            engine::series::timestamp::to_rfc3339(now)
        ))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], NOW.stroke_width(2)));
    chart.draw_series([Circle::new((x(now), y(value)), 4, NOW.filled())])?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 14))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use engine::series::Series;

    use super::*;

    /// Renders the chart of a series with one spike into a pixel buffer.
    fn pixels_of_a_spike() -> Vec<u8> {
        let n = 300;
        let timestamps: Vec<i64> = (0..n).map(|i| i as i64 * 60_000).collect();
        let mut values: Vec<f64> = (0..n).map(|i| 100.0 + (i % 5) as f64).collect();
        values[100] = 400.0;
        let series = Series::from_points("latency", timestamps, values).unwrap();
        let verdict = engine::investigation::investigate(&series, &[], Default::default());
        assert!(verdict.anomalous, "{}", verdict.verdict);
        let decomposition = engine::investigation::decomposition_of(&series);
        let windows: Vec<(usize, usize)> = verdict
            .anomalies
            .iter()
            .map(|a| (a.start_index, a.end_index))
            .collect();
        let data = ChartData::of(&series, &decomposition, &windows);
        assert_eq!(
            data, verdict.chart,
            "the verdict keeps what its chart draws"
        );
        let title = title(&verdict.metric, verdict.severity, verdict.confidence);
        pixels(&data, &verdict.metric, &title).unwrap()
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
