//! Robust location and scale: median, MAD, percentiles and IQR fences.

/// Consistency constant that makes the MAD estimate the standard deviation of a normal sample.
pub const MAD_TO_SIGMA: f64 = 1.4826;

/// Median of the finite values; `None` when there are none. Sorts a copy (O(n) selection).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    median_in_place(&mut finite)
}

/// Median that reorders `values` (all must be finite); avoids a copy on hot paths.
pub fn median_in_place(values: &mut [f64]) -> Option<f64> {
    middle_pair(values).map(|(lower, upper)| (lower + upper) / 2.0)
}

/// The two middle order statistics (equal for an odd count), found by selection in O(n).
fn middle_pair(values: &mut [f64]) -> Option<(f64, f64)> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mid = n / 2;
    let (_, upper_mid, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let upper_mid = *upper_mid;
    if n % 2 == 1 {
        return Some((upper_mid, upper_mid));
    }
    let lower_mid = values[..mid]
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    Some((lower_mid, upper_mid))
}

/// Median absolute deviation from the median (unscaled).
pub fn mad(values: &[f64]) -> Option<f64> {
    let center = median(values)?;
    let mut deviations: Vec<f64> = values
        .iter()
        .filter(|v| v.is_finite())
        .map(|v| (v - center).abs())
        .collect();
    median_in_place(&mut deviations)
}

/// A robust estimate of the standard deviation: `1.4826 · MAD`, with two guards.
///
/// MAD only sees the central half of the data. On a metric that flips between a few levels
/// (CPU reported in 0.002 steps, small counts) that half can be nearly constant, and every
/// visit to the other level would read as a wild outlier. So:
/// - with 30 values or more, the scale is never below half the interdecile spread
///   (`(P90 − P10) / 2.563` is σ for normal data, so the guard is idle there, and a
///   contamination under 10% cannot move it);
/// - when more than a fifth of the values tie with a middle value, the full interdecile
///   spread is used, and when even that is zero, the mean absolute deviation.
pub fn robust_scale(values: &[f64]) -> Option<f64> {
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (lower_mid, upper_mid) = middle_pair(&mut finite)?;
    let center = (lower_mid + upper_mid) / 2.0;
    let tied_with = |middle: f64| finite.iter().filter(|v| **v == middle).count();
    let tied = tied_with(lower_mid).max(tied_with(upper_mid));
    let interdecile_sigma = interdecile_range(&mut finite) / 2.563;
    let mut deviations: Vec<f64> = finite.iter().map(|v| (v - center).abs()).collect();
    let mad_sigma = MAD_TO_SIGMA * median_in_place(&mut deviations)?;
    if tied * 5 <= deviations.len() && mad_sigma > 0.0 {
        let guard = if deviations.len() >= MIN_FOR_SPREAD_GUARD {
            0.5 * interdecile_sigma
        } else {
            0.0
        };
        return Some(mad_sigma.max(guard));
    }
    if interdecile_sigma > 0.0 {
        return Some(interdecile_sigma.max(mad_sigma));
    }
    let mean_abs = deviations.iter().sum::<f64>() / deviations.len() as f64;
    Some(1.2533 * mean_abs)
}

/// The finest spread that can be noise in `values`: their largest magnitude × 1e-12. An f64
/// resolves about 1e-16 of a value, so anything finer is rounding, and a scale below it
/// would turn an ordinary step into a z-score of 1e300 (or infinity).
pub fn resolution(values: &[f64]) -> f64 {
    values
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, v| m.max(v.abs()))
        * 1e-12
}

/// Below this many values the 10th and 90th percentiles are the extremes themselves, too
/// fragile to guard anything.
const MIN_FOR_SPREAD_GUARD: usize = 30;

/// P90 − P10 by selection (nearest rank), O(n); reorders `values`.
fn interdecile_range(values: &mut [f64]) -> f64 {
    let n = values.len();
    if n < 2 {
        return 0.0;
    }
    let rank = |p: f64| ((n - 1) as f64 * p).round() as usize;
    let high = *values.select_nth_unstable_by(rank(0.9), f64::total_cmp).1;
    let low = *values.select_nth_unstable_by(rank(0.1), f64::total_cmp).1;
    high - low
}

/// Percentile `p` in [0, 100] with linear interpolation between order statistics
/// (the "R-7" definition used by numpy and spreadsheets).
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_unstable_by(f64::total_cmp);
    Some(percentile_of_sorted(&sorted, p))
}

/// Percentile of an already sorted, finite, non-empty slice.
pub fn percentile_of_sorted(sorted: &[f64], p: f64) -> f64 {
    let rank = (p.clamp(0.0, 100.0) / 100.0) * (sorted.len() - 1) as f64;
    let low = rank.floor() as usize;
    let high = rank.ceil() as usize;
    let fraction = rank - low as f64;
    sorted[low] + (sorted[high] - sorted[low]) * fraction
}

/// Tukey fences `[Q1 − k·IQR, Q3 + k·IQR]`; k = 1.5 marks outliers, k = 3 far-out values.
pub fn iqr_fences(values: &[f64], k: f64) -> Option<(f64, f64)> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_unstable_by(f64::total_cmp);
    let q1 = percentile_of_sorted(&sorted, 25.0);
    let q3 = percentile_of_sorted(&sorted, 75.0);
    let iqr = q3 - q1;
    Some((q1 - k * iqr, q3 + k * iqr))
}

/// Standard normal upper-tail probability P(Z > z) (statrs: accurate in the far tail too,
/// where a polynomial approximation's absolute error swamps the probability).
pub fn normal_sf(z: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    if z.is_nan() {
        return f64::NAN;
    }
    Normal::standard().sf(z)
}

/// Fewest blocks [`long_run_variance`] splits a series into: enough differences for a median.
const MIN_MEMORY_BLOCKS: usize = 30;

/// The variance per point of a sum of consecutive `values`: for independent noise its
/// variance, for noise with memory far more — AR(1) with coefficient ρ has (1+ρ)/(1−ρ) times
/// its variance. A statistic that sums deviations (a CUSUM, a segment mean) must be judged on
/// this scale, or a metric that wanders reads as one that keeps changing.
///
/// Read robustly from the differences of neighbouring block sums at every offset (blocks long
/// enough to hold the memory, at most a thirtieth of the series): one change of
/// level moves only the differences whose blocks straddle it, so the incident under
/// investigation barely counts. `None`
/// for fewer than two points a block.
pub fn long_run_variance(values: &[f64]) -> Option<f64> {
    let block = (values.len() / MIN_MEMORY_BLOCKS).min(64);
    if block < 2 {
        return None;
    }
    // Every pair of neighbouring blocks, at every offset: many differences, each block sum
    // from the running total.
    let mut running = vec![0.0];
    for v in values {
        running.push(running.last().unwrap_or(&0.0) + v);
    }
    let differences: Vec<f64> = (0..=values.len() - 2 * block)
        .map(|t| running[t + 2 * block] - 2.0 * running[t + block] + running[t])
        .collect();
    let spread = MAD_TO_SIGMA * mad(&differences)? / std::f64::consts::SQRT_2;
    Some(spread * spread / block as f64).filter(|v| v.is_finite())
}

/// Highest lag-one autocorrelation [`lag_one_memory`] believes from a short series.
const MAX_LAG_ONE: f64 = 0.95;

/// (1+ρ)/(1−ρ) for the lag-one autocorrelation ρ of `residuals` (what is left after a fit,
/// centred): how much more a fitted parameter moves than it would on independent residuals,
/// for series too short for [`long_run_variance`]. ρ is the sample autocorrelation less one
/// standard error (1/√n), kept in [0, 0.95]: memory the residuals do not clearly show is not
/// assumed.
pub fn lag_one_memory(residuals: &[f64]) -> f64 {
    let energy: f64 = residuals.iter().map(|r| r * r).sum();
    if residuals.len() < 3 || energy.is_nan() || energy <= 0.0 {
        return 1.0;
    }
    let lagged: f64 = residuals.windows(2).map(|w| w[0] * w[1]).sum();
    let standard_error = 1.0 / (residuals.len() as f64).sqrt();
    let rho = (lagged / energy - standard_error).clamp(0.0, MAX_LAG_ONE);
    (1.0 + rho) / (1.0 - rho)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::rng::Rng;

    /// `n` points of AR(1) noise with coefficient `phi` and unit innovations.
    fn autoregressive(rng: &mut Rng, phi: f64, n: usize) -> Vec<f64> {
        let mut level = 0.0;
        (0..n)
            .map(|_| {
                level = phi * level + rng.normal();
                level
            })
            .collect()
    }

    #[test]
    fn median_of_odd_and_even_samples() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[f64::NAN, 5.0]), Some(5.0));
    }

    #[test]
    fn mad_matches_hand_computation() {
        // median 3, |deviations| = 2 1 0 1 97 → median 1
        assert_eq!(mad(&[1.0, 2.0, 3.0, 4.0, 100.0]), Some(1.0));
        let scale = robust_scale(&[1.0, 2.0, 3.0, 4.0, 100.0]).unwrap();
        assert!((scale - 1.4826).abs() < 1e-12);
    }

    #[test]
    fn robust_scale_copes_with_ties() {
        // 75% tied: interdecile range P90 − P10 = 2 − 0 (nearest rank), ÷ 2.563
        let values = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 4.0];
        assert!((robust_scale(&values).unwrap() - 2.0 / 2.563).abs() < 1e-9);
        // 95% tied: the interdecile range is zero, so 1.2533 · mean |dev| = 1.2533 · 4/20
        let mut flat = vec![0.0; 19];
        flat.push(4.0);
        assert!((robust_scale(&flat).unwrap() - 1.2533 * 0.2).abs() < 1e-9);
        // a quantized metric: half at 0.134, a fifth at 0.066 → the low mode is not an outlier
        let mut quantized = vec![0.134; 50];
        quantized.extend(vec![0.066; 20]);
        quantized.extend(vec![0.132; 30]);
        let scale = robust_scale(&quantized).unwrap();
        assert!((0.134 - 0.066) / scale < 3.0, "{scale}");
        // a second level visited 20% of the time, with no exact ties: still no outliers
        let two_level: Vec<f64> = (0..100)
            .map(|i| {
                if i % 5 == 0 {
                    0.068
                } else {
                    0.1 + (i % 7) as f64 * 1e-4
                }
            })
            .collect();
        let scale = robust_scale(&two_level).unwrap();
        assert!((0.1 - 0.068) / scale < 6.0, "{scale}");
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let values = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&values, 50.0), Some(2.5));
        assert_eq!(percentile(&values, 25.0), Some(1.75));
        assert_eq!(percentile(&values, 100.0), Some(4.0));
    }

    #[test]
    fn iqr_fences_match_tukey() {
        let values: Vec<f64> = (1..=9).map(f64::from).collect();
        // Q1 = 3, Q3 = 7, IQR = 4
        assert_eq!(iqr_fences(&values, 1.5), Some((-3.0, 13.0)));
    }

    #[test]
    fn long_run_variance_sees_memory_but_not_a_level_shift() {
        let mut rng = Rng::new(5);
        let white: Vec<f64> = (0..3000).map(|_| rng.normal()).collect();
        let white_variance = long_run_variance(&white).unwrap();
        assert!((0.7..1.4).contains(&white_variance), "{white_variance}");
        let wandering = autoregressive(&mut rng, 0.95, 3000);
        // AR(0.95) with unit innovations: 1 / (1 − ρ)² = 400.
        let variance = long_run_variance(&wandering).unwrap();
        assert!((150.0..800.0).contains(&variance), "{variance}");
        let shifted: Vec<f64> = white
            .iter()
            .enumerate()
            .map(|(i, v)| v + if i > 2000 { 6.0 } else { 0.0 })
            .collect();
        assert!(long_run_variance(&shifted).unwrap() < 1.5);
        assert_eq!(long_run_variance(&white[..40]), None);
    }

    #[test]
    fn lag_one_memory_is_one_without_memory() {
        let mut rng = Rng::new(9);
        let white: Vec<f64> = (0..200).map(|_| rng.normal()).collect();
        assert!(lag_one_memory(&white) < 1.5);
        let ar = autoregressive(&mut rng, 0.8, 200);
        let memory = lag_one_memory(&ar);
        assert!(
            (3.0..20.0).contains(&memory),
            "AR(0.8): 9 (less a standard error: 6), read {memory}"
        );
    }

    #[test]
    fn normal_tail_matches_tables() {
        assert!((normal_sf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_sf(1.96) - 0.024_997_9).abs() < 1e-6);
        assert!((normal_sf(-1.0) - 0.841_344_7).abs() < 1e-6);
    }
}
