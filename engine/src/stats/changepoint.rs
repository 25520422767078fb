//! Change points by binary segmentation with a two-sample t statistic and a robust noise
//! scale. Level changes are found on the values themselves; variance changes are level
//! changes of the log of local spread, which reuses the same machinery.

use super::robust::{median, robust_scale, MAD_TO_SIGMA};

/// One accepted change point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChangePoint {
    /// First index of the new regime.
    pub index: usize,
    /// Mean of the segment before (within the enclosing segment that was split).
    pub before: f64,
    /// Mean of the segment after.
    pub after: f64,
    /// Shift divided by the noise scale (a standardised effect size).
    pub effect: f64,
    /// Two-sample t statistic of the split.
    pub t_stat: f64,
    /// Difference of the means of the points right after and right before (a tenth of the
    /// segment, at least `min_segment`, on each side).
    pub local_shift: f64,
}

/// Settings for [`level_changes`].
#[derive(Debug, Clone, Copy)]
pub struct SegmentationSettings {
    /// Minimum points on each side of a change.
    pub min_segment: usize,
    /// Minimum t statistic for a split to be accepted.
    pub min_t: f64,
    /// Minimum |shift| in units of the noise scale.
    pub min_effect: f64,
}

impl Default for SegmentationSettings {
    fn default() -> Self {
        Self {
            min_segment: 4,
            min_t: 8.0,
            min_effect: 3.0,
        }
    }
}

/// Noise scale estimated from first differences (`1.4826·MAD(Δy)/√2`): unaffected by a few
/// level shifts, which is exactly what we must not count as noise.
pub fn difference_noise_scale(y: &[f64]) -> Option<f64> {
    let differences: Vec<f64> = y.windows(2).map(|w| w[1] - w[0]).collect();
    let center = median(&differences)?;
    let deviations: Vec<f64> = differences.iter().map(|d| (d - center).abs()).collect();
    let scale = MAD_TO_SIGMA * median(&deviations)? / std::f64::consts::SQRT_2;
    if scale > 0.0 {
        Some(scale)
    } else {
        robust_scale(y).filter(|s| *s > 0.0)
    }
}

/// Level change points of `y` (finite values), sorted by index. A split must also be abrupt:
/// the jump across it locally must be at least half the difference of the segment means, so
/// a steady trend or a slow wave is not cut into fake steps.
pub fn level_changes(y: &[f64], settings: SegmentationSettings) -> Vec<ChangePoint> {
    let Some(noise) = difference_noise_scale(y) else {
        return Vec::new();
    };
    let prefix = PrefixSums::new(y);
    let mut found = Vec::new();
    let mut pending = vec![(0usize, y.len())];
    while let Some((start, end)) = pending.pop() {
        if let Some(change) = best_split(&prefix, start, end, noise, settings) {
            pending.push((start, change.index));
            pending.push((change.index, end));
            found.push(change);
        }
    }
    found.sort_by_key(|c| c.index);
    found
}

/// Variance change points: level changes of `ln(spread)` where spread is the robust scale
/// of consecutive blocks of `block` values. Indices are mapped back to `y`.
pub fn variance_changes(
    y: &[f64],
    block: usize,
    settings: SegmentationSettings,
) -> Vec<ChangePoint> {
    let block = block.max(4);
    let log_spread: Vec<f64> = y
        .chunks(block)
        .filter(|c| c.len() == block)
        .map(|c| robust_scale(c).unwrap_or(0.0).max(1e-12).ln())
        .collect();
    level_changes(&log_spread, settings)
        .into_iter()
        .map(|c| ChangePoint {
            index: c.index * block,
            ..c
        })
        .collect()
}

fn best_split(
    prefix: &PrefixSums,
    start: usize,
    end: usize,
    noise: f64,
    settings: SegmentationSettings,
) -> Option<ChangePoint> {
    let length = end - start;
    if length < 2 * settings.min_segment {
        return None;
    }
    let mut best: Option<ChangePoint> = None;
    for index in start + settings.min_segment..=end - settings.min_segment {
        let left = (index - start) as f64;
        let right = (end - index) as f64;
        let before = prefix.mean(start, index);
        let after = prefix.mean(index, end);
        let t_stat = (after - before).abs() / (noise * (1.0 / left + 1.0 / right).sqrt());
        if best.as_ref().is_none_or(|b| t_stat > b.t_stat) {
            let w = settings
                .min_segment
                .max(length / 10)
                .min(index - start)
                .min(end - index);
            best = Some(ChangePoint {
                index,
                before,
                after,
                effect: (after - before) / noise,
                t_stat,
                local_shift: prefix.mean(index, index + w) - prefix.mean(index - w, index),
            });
        }
    }
    best.filter(|b| {
        b.t_stat >= settings.min_t
            && b.effect.abs() >= settings.min_effect
            && b.local_shift.abs() >= 0.5 * (b.after - b.before).abs()
    })
}

struct PrefixSums(Vec<f64>);

impl PrefixSums {
    fn new(y: &[f64]) -> Self {
        let mut sums = Vec::with_capacity(y.len() + 1);
        sums.push(0.0);
        let mut total = 0.0;
        for v in y {
            total += v;
            sums.push(total);
        }
        Self(sums)
    }

    fn mean(&self, start: usize, end: usize) -> f64 {
        (self.0[end] - self.0[start]) / (end - start) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::synthetic::rng::Rng;

    /// Seeded Gaussian noise with standard deviation 0.3 (noise index i).
    fn wiggle(i: usize) -> f64 {
        Rng::new(i as u64).normal() * 0.3
    }

    #[test]
    fn finds_a_single_step() {
        let y: Vec<f64> = (0..100)
            .map(|i| wiggle(i) + if i >= 60 { 10.0 } else { 0.0 })
            .collect();
        let changes = level_changes(&y, SegmentationSettings::default());
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].index, 60);
        assert!((changes[0].after - changes[0].before - 10.0).abs() < 0.3);
    }

    #[test]
    fn finds_two_steps_and_none_in_noise() {
        let y: Vec<f64> = (0..120)
            .map(|i| wiggle(i) + if (40..80).contains(&i) { -8.0 } else { 0.0 })
            .collect();
        let indices: Vec<usize> = level_changes(&y, SegmentationSettings::default())
            .iter()
            .map(|c| c.index)
            .collect();
        assert_eq!(indices, vec![40, 80]);
        let flat: Vec<f64> = (0..120).map(wiggle).collect();
        assert!(level_changes(&flat, SegmentationSettings::default()).is_empty());
        let ramp: Vec<f64> = (0..120).map(|i| wiggle(i) + 0.2 * i as f64).collect();
        assert!(level_changes(&ramp, SegmentationSettings::default()).is_empty());
    }

    #[test]
    fn finds_a_variance_change() {
        let y: Vec<f64> = (0..400)
            .map(|i| wiggle(i) * if i >= 200 { 8.0 } else { 1.0 })
            .collect();
        let changes = variance_changes(
            &y,
            10,
            SegmentationSettings {
                min_t: 5.0,
                min_effect: 2.0,
                min_segment: 3,
            },
        );
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].index, 200);
    }
}
