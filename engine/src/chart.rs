//! What a verdict's chart draws: the series thinned to the chart's width (the lowest and
//! highest point of each stretch, so a one-point spike is still drawn), each point's expected
//! value, the band, the anomalous windows and where an asked range begins. It is kept with
//! the investigation so the chart can be drawn again without the series; drawing it is the
//! caller's (the bot's `render::chart`).

use serde::{Deserialize, Serialize};

use crate::agents::synthesizer::level_before;
use crate::series::Series;
use crate::stats::seasonality::Decomposition;

/// More points than pixels only blurs the line; longer series are thinned to about this many
/// (the lowest and the highest of each stretch of about two pixels).
pub const MAX_DRAWN_POINTS: usize = 1600;

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
    /// The values are in units of `10^unit_exponent` (0 for every everyday metric; see
    /// [`Series::safe_unit_exponent`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unit_exponent: i32,
}

fn is_zero(exponent: &i32) -> bool {
    *exponent == 0
}

impl ChartData {
    /// What the chart of `series` draws, given its baseline and its anomalous windows (first
    /// and last index, inclusive).
    pub fn of(series: &Series, decomposition: &Decomposition, windows: &[(usize, usize)]) -> Self {
        // Each window's level before it, once per window rather than once per drawn point.
        let levels: Vec<((usize, usize), Option<f64>)> = windows
            .iter()
            .map(|&(start, end)| {
                let before = level_before(start);
                (
                    (start, end),
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
            windows: windows
                .iter()
                .map(|&(start, end)| (series.timestamps[start], series.timestamps[end]))
                .collect(),
            focus_start: (focus > 0).then(|| series.timestamps[focus]),
            unit_exponent: 0,
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

/// What point `i` was expected to be: the baseline, except inside an anomalous window, where
/// the level stays what the data was before the window began (as the synthesizer judges
/// whether it is still going on; only the seasonal pattern moves on) — a baseline that
/// follows the incident would draw the incident as normal. `levels`: each window (first and
/// last index) with its level before.
fn expected(
    decomposition: &Decomposition,
    levels: &[((usize, usize), Option<f64>)],
    i: usize,
) -> f64 {
    let level_before = levels
        .iter()
        .find(|((start, end), _)| (*start..=*end).contains(&i))
        .and_then(|(_, level)| *level);
    match level_before {
        Some(level) => level + decomposition.seasonal[i],
        None => decomposition.baseline(i),
    }
}

/// Indices of the points to draw: all of them up to `max_points`, else the lowest and the
/// highest point of each stretch (in time order), so that no spike is thinned away, and the
/// last point ("now").
pub fn thinned(values: &[f64], max_points: usize) -> Vec<usize> {
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
            quieter_weekend: None,
        };
        let chart = ChartData::of(&series, &decomposition, &[(3, 4)]);
        assert_eq!(chart.windows, [(180_000, 240_000)]);
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
            unit_exponent: 0,
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
}
