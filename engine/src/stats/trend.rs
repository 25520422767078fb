//! Robust trend: Theil–Sen slope, the Mann–Kendall monotonic-trend test, and a hinge
//! (broken-stick) fit that finds where a series started to drift away from its old trend.
//!
//! These are O(n²); callers pass aggregated series (a few hundred points at most).

use super::robust::{median_in_place, normal_sf, robust_scale};

/// A straight line `y = intercept + slope · x`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    pub slope: f64,
    pub intercept: f64,
}

impl Line {
    pub fn at(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }
}

/// Theil–Sen estimator over points `(i, y[i])`: the median of all pairwise slopes, with the
/// intercept as the median of `y − slope·x`. Robust to ~29% arbitrary outliers.
pub fn theil_sen(y: &[f64]) -> Option<Line> {
    let points: Vec<(f64, f64)> = y
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, v)| (i as f64, *v))
        .collect();
    if points.len() < 2 {
        return None;
    }
    let mut slopes = Vec::with_capacity(points.len() * (points.len() - 1) / 2);
    for (i, (xi, yi)) in points.iter().enumerate() {
        for (xj, yj) in &points[i + 1..] {
            slopes.push((yj - yi) / (xj - xi));
        }
    }
    let slope = median_in_place(&mut slopes)?;
    let mut intercepts: Vec<f64> = points.iter().map(|(x, y)| y - slope * x).collect();
    let intercept = median_in_place(&mut intercepts)?;
    Some(Line { slope, intercept })
}

/// Result of the Mann–Kendall test for a monotonic trend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannKendall {
    /// Kendall's tau in [−1, 1]: +1 strictly increasing, −1 strictly decreasing.
    pub tau: f64,
    /// Normal-approximation z statistic with continuity correction.
    pub z: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

/// Mann–Kendall test on the finite values in time order (no tie correction in the variance,
/// which makes it slightly conservative when ties are frequent).
pub fn mann_kendall(y: &[f64]) -> Option<MannKendall> {
    let values: Vec<f64> = y.iter().copied().filter(|v| v.is_finite()).collect();
    let n = values.len();
    if n < 4 {
        return None;
    }
    let mut s: i64 = 0;
    for i in 0..n {
        for j in i + 1..n {
            s += match values[j].partial_cmp(&values[i]) {
                Some(std::cmp::Ordering::Greater) => 1,
                Some(std::cmp::Ordering::Less) => -1,
                _ => 0,
            };
        }
    }
    let nf = n as f64;
    let variance = nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0;
    let z = match s.signum() {
        1 => (s as f64 - 1.0) / variance.sqrt(),
        -1 => (s as f64 + 1.0) / variance.sqrt(),
        _ => 0.0,
    };
    Some(MannKendall {
        tau: s as f64 / (nf * (nf - 1.0) / 2.0),
        z,
        p_value: (2.0 * normal_sf(z.abs())).min(1.0),
    })
}

/// A change of slope: before `onset` the series follows `before`; after it, it bends away.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlopeChange {
    /// Index (into the input) where the new slope starts.
    pub onset: usize,
    /// Trend fitted to the points before the onset, extrapolated to judge what came after.
    pub before: Line,
    /// Extra slope per index step after the onset.
    pub extra_slope: f64,
    /// How far the last point's fitted value lies from the old trend's extrapolation.
    pub excess: f64,
    /// Robust scale of the residuals around the broken-stick fit.
    pub residual_scale: f64,
    /// Mann–Kendall test of the post-onset departures from the old trend.
    pub departure_trend: MannKendall,
    /// Sum of squared residuals of the broken-stick fit (for comparing with a step fit).
    pub sse: f64,
}

impl SlopeChange {
    /// What the broken-stick fit leaves of `y`, the series it was fitted to.
    pub fn residuals<'a>(&self, y: &'a [f64]) -> impl Iterator<Item = f64> + 'a {
        let Line { intercept, slope } = self.before;
        hinge_residuals(y, self.onset, [intercept, slope, self.extra_slope])
    }
}

/// Fits `y = a + b·i + c·max(0, i − τ)` by least squares for every admissible τ and returns
/// the best. `min_segment` points are required on each side.
pub fn slope_change(y: &[f64], min_segment: usize) -> Option<SlopeChange> {
    let n = y.len();
    if n < 2 * min_segment.max(3) || y.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut best: Option<(usize, [f64; 3], f64)> = None;
    for tau in min_segment..=(n - min_segment) {
        let Some(coefficients) = least_squares_hinge(y, tau) else {
            continue;
        };
        let sse = hinge_residuals(y, tau, coefficients)
            .map(|r| r * r)
            .sum::<f64>();
        if best.as_ref().is_none_or(|(_, _, best_sse)| sse < *best_sse) {
            best = Some((tau, coefficients, sse));
        }
    }
    let (onset, [a, b, c], sse) = best?;
    let residuals: Vec<f64> = hinge_residuals(y, onset, [a, b, c]).collect();
    let residual_scale = robust_scale(&residuals)?;
    let before = theil_sen(&y[..onset]).unwrap_or(Line {
        slope: b,
        intercept: a,
    });
    let departures: Vec<f64> = (onset..n).map(|i| y[i] - before.at(i as f64)).collect();
    Some(SlopeChange {
        onset,
        before: Line {
            slope: b,
            intercept: a,
        },
        extra_slope: c,
        excess: c * (n - 1 - onset) as f64,
        residual_scale,
        departure_trend: mann_kendall(&departures)?,
        sse,
    })
}

fn hinge_residuals(y: &[f64], tau: usize, [a, b, c]: [f64; 3]) -> impl Iterator<Item = f64> + '_ {
    y.iter().enumerate().map(move |(i, v)| {
        let x = i as f64;
        v - (a + b * x + c * (x - tau as f64).max(0.0))
    })
}

/// The hinge model `a + b·i + c·max(0, i − τ)` fitted to `y` by least squares.
fn least_squares_hinge(y: &[f64], tau: usize) -> Option<[f64; 3]> {
    least_squares(y.iter().enumerate().map(|(i, &v)| {
        let x = i as f64;
        ([1.0, x, (x - tau as f64).max(0.0)], v)
    }))
}

/// Least squares of each value on its regressors (a regressor that is zero throughout gets a
/// zero coefficient), by Gauss–Jordan elimination of the normal equations; `None` when the
/// regressors cannot be told apart.
pub fn least_squares<const K: usize>(
    rows: impl IntoIterator<Item = ([f64; K], f64)>,
) -> Option<[f64; K]> {
    let mut normal = [[0.0f64; K]; K];
    let mut rhs = [0.0f64; K];
    for (r, v) in rows {
        for (i, x) in r.iter().enumerate() {
            for (j, y) in r.iter().enumerate() {
                normal[i][j] += x * y;
            }
            rhs[i] += x * v;
        }
    }
    for (i, row) in normal.iter_mut().enumerate() {
        if row[i] == 0.0 {
            row[i] = 1.0;
        }
    }
    for col in 0..K {
        let pivot =
            (col..K).max_by(|&x, &y| normal[x][col].abs().total_cmp(&normal[y][col].abs()))?;
        normal.swap(col, pivot);
        rhs.swap(col, pivot);
        if normal[col][col].abs() < 1e-12 {
            return None;
        }
        for r in 0..K {
            if r != col {
                let factor = normal[r][col] / normal[col][col];
                let pivot_row = normal[col];
                for (k, x) in normal[r].iter_mut().enumerate() {
                    *x -= factor * pivot_row[k];
                }
                rhs[r] -= factor * rhs[col];
            }
        }
    }
    let solution: [f64; K] = std::array::from_fn(|i| rhs[i] / normal[i][i]);
    solution.iter().all(|c| c.is_finite()).then_some(solution)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theil_sen_ignores_an_outlier() {
        let mut y: Vec<f64> = (0..20).map(|i| 2.0 + 0.5 * i as f64).collect();
        y[7] = 1000.0;
        let line = theil_sen(&y).unwrap();
        assert!((line.slope - 0.5).abs() < 1e-12);
        assert!((line.intercept - 2.0).abs() < 1e-12);
    }

    #[test]
    fn mann_kendall_matches_hand_computation() {
        // strictly increasing, n = 5: S = 10, var = 5·4·15/18 = 16.667, z = 9/4.0825 = 2.2045
        let result = mann_kendall(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!(result.tau, 1.0);
        assert!((result.z - 2.204_540_7).abs() < 1e-6);
        assert!((result.p_value - 0.027_486).abs() < 1e-4);
    }

    #[test]
    fn mann_kendall_sees_no_trend_in_alternation() {
        let y: Vec<f64> = (0..40)
            .map(|i| if i % 2 == 0 { 1.0 } else { 2.0 })
            .collect();
        assert!(mann_kendall(&y).unwrap().p_value > 0.5);
    }

    #[test]
    fn slope_change_finds_the_bend() {
        let y: Vec<f64> = (0..60)
            .map(|i| 10.0 + 0.1 * i as f64 + if i > 40 { 0.5 * (i - 40) as f64 } else { 0.0 })
            .collect();
        let bend = slope_change(&y, 5).unwrap();
        assert_eq!(bend.onset, 40);
        assert!((bend.extra_slope - 0.5).abs() < 1e-6);
        assert!((bend.excess - 9.5).abs() < 1e-6);
        assert!(bend.departure_trend.tau > 0.9);
    }
}
