//! Whether a stretch of a series stands out from the rest of that same series, judged at the
//! stretch's own length: the per-series calibration of an anomalous window.
//!
//! A stretch of 40 points that sits 2.5 noise scales high is an incident on a metric whose
//! points are independent and an ordinary afternoon on one that wanders (AR(1) noise with
//! coefficient 0.95 moves a 40-point mean about as much as a single point). No global
//! threshold on point-level z-scores can tell the two apart; the series itself can: slide a
//! window of the same length over the rest of it, and the spread of those means is what this
//! metric does at that length on its own — memory, heavy tails and leftover rhythm included.
//! A stretch stands out when its mean passes the level that noise alone would pass somewhere
//! among that many independent placements with a small probability (a scan statistic, with
//! the null read from the series instead of assumed).
//!
//! One constant: the risk, the chance that a series with nothing wrong has a stretch passing
//! the bar. The spread is read robustly (median and MAD of the means), so an incident or two
//! elsewhere in the series barely move it.

use std::ops::RangeInclusive;

use super::robust::{median, MAD_TO_SIGMA};
use super::tail::rare_level;

/// Fewest independent placements of a window's length outside it: with fewer, the series
/// holds too little of its own behaviour at that length to judge by (a change that fills most
/// of it), and [`standing`] says nothing.
pub const MIN_PLACEMENTS: usize = 12;

/// How far the mean of `z` over `window` stands out from the means of every other placement
/// of the same length that does not overlap it, as a share of the level that noise alone
/// passes among those placements with probability `risk` (≥ 1: it stands out). `None` when
/// too few placements remain to judge by.
pub fn standing(z: &[f64], window: RangeInclusive<usize>, risk: f64) -> Option<f64> {
    let width = window.end().checked_sub(*window.start())? + 1;
    let enough = z.len().checked_sub(width)? / width >= MIN_PLACEMENTS;
    enough.then(|| judge(z, window, width, risk)).flatten()
}

/// [`standing`] for a window too long for the rest of the series to hold [`MIN_PLACEMENTS`]
/// of it: its most extreme stretch at the longest length that leaves that many outside it,
/// against the stretches of that length outside it. Four days of wander at the start of three
/// weeks of a metric with memory are compared with the metric's other wanders instead of being
/// waved through; a level far from everything after it still stands out. `x` must be the
/// series itself (its rhythm taken out), not scores against a baseline that follows a lasting
/// change. `None` when too little lies outside the window.
pub fn standing_of_stretches(x: &[f64], window: RangeInclusive<usize>, risk: f64) -> Option<f64> {
    let width = window.end().checked_sub(*window.start())? + 1;
    let len = width.min(x.len().checked_sub(width)? / MIN_PLACEMENTS);
    (len > 0).then(|| judge(x, window, len, risk)).flatten()
}

/// The most extreme mean of `values` over `len` points inside `window`, against the means of
/// every placement of that length outside it, as a share of the scan bar at `risk`.
fn judge(values: &[f64], window: RangeInclusive<usize>, len: usize, risk: f64) -> Option<f64> {
    let (start, end) = (*window.start(), *window.end());
    let n = values.len();
    if end >= n || len == 0 || end + 1 < start + len {
        return None;
    }
    let mut running = Vec::with_capacity(n + 1);
    running.push(0.0);
    for v in values {
        running.push(running.last().copied().unwrap_or(0.0) + v);
    }
    let mean_at = |p: usize| (running[p + len] - running[p]) / len as f64;
    let overlaps = |p: usize| p + len > start && p <= end;
    let others: Vec<f64> = (0..=n - len)
        .filter(|&p| !overlaps(p))
        .map(mean_at)
        .filter(|m| m.is_finite())
        .collect();
    let centre = median(&others)?;
    let deviations: Vec<f64> = others.iter().map(|m| (m - centre).abs()).collect();
    let scale = MAD_TO_SIGMA * median(&deviations)?;
    if scale.is_nan() || scale <= 0.0 {
        return None;
    }
    let stretches = (end + 1 - start) / len;
    let tested = (start..=end + 1 - len)
        .map(|p| (mean_at(p) - centre).abs())
        .fold(0.0, f64::max);
    // Independent placements: one in every `len` positions. The largest of the overlapping
    // ones goes further than the largest of those, by about the root of the length (the
    // scan statistic's excess), and a scale read from few placements is itself uncertain.
    // The window's own stretches count among those scanned when the most extreme is tested.
    let independent: Vec<f64> = others
        .iter()
        .step_by(len)
        .map(|m| (m - centre) / scale)
        .collect();
    let scanned = ((independent.len() + stretches - 1) as f64 * (len as f64).sqrt()) as usize;
    let bar = rare_level(
        &independent,
        risk,
        scan_bar(scanned, independent.len(), risk),
    );
    Some(tested / scale / bar)
}

/// The |z| that the largest of `count` placements passes with probability `risk`, when the
/// scale they are measured in was read from `samples` independent ones: Student's t with that
/// many degrees of freedom less one, so a scale read from few placements asks for more.
fn scan_bar(count: usize, samples: usize, risk: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let per_placement = risk / (2.0 * count.max(1) as f64);
    let degrees = samples.saturating_sub(1).max(1) as f64;
    StudentsT::new(0.0, 1.0, degrees).map_or(f64::INFINITY, |t| t.inverse_cdf(1.0 - per_placement))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::rng::Rng;

    fn autoregressive(rng: &mut Rng, phi: f64, n: usize) -> Vec<f64> {
        let mut level = 0.0;
        let innovation = (1.0 - phi * phi).sqrt();
        (0..n)
            .map(|_| {
                level = phi * level + innovation * rng.normal();
                level
            })
            .collect()
    }

    /// Start of the stretch of `len` points whose mean is furthest from zero.
    fn largest_stretch(x: &[f64], len: usize) -> usize {
        let mean = |p: usize| (x[p..p + len].iter().sum::<f64>() / len as f64).abs();
        (0..=x.len() - len)
            .max_by(|&a, &b| mean(a).total_cmp(&mean(b)))
            .unwrap()
    }

    #[test]
    fn a_stretch_of_independent_noise_lifted_stands_out_and_the_same_on_wandering_noise_does_not() {
        let mut rng = Rng::new(5);
        let mut independent: Vec<f64> = (0..3_000).map(|_| rng.normal()).collect();
        let mut wandering = autoregressive(&mut rng, 0.95, 3_000);
        for v in independent[1_000..1_040]
            .iter_mut()
            .chain(&mut wandering[1_000..1_040])
        {
            *v += 2.5;
        }
        let lifted = |z: &[f64]| standing(z, 1_000..=1_039, 0.01).unwrap();
        assert!(lifted(&independent) > 2.0, "{}", lifted(&independent));
        assert!(lifted(&wandering) < 1.0, "{}", lifted(&wandering));
    }

    #[test]
    fn the_largest_stretch_of_a_normal_series_stands_out_about_as_often_as_the_risk_says() {
        for (phi, len) in [
            (0.0, 1),
            (0.0, 10),
            (0.0, 40),
            (0.95, 10),
            (0.95, 40),
            (0.95, 150),
        ] {
            let passing = (0..200)
                .filter(|&seed| {
                    let mut rng = Rng::new(1_000 + seed);
                    let z = autoregressive(&mut rng, phi, 3_000);
                    let best = largest_stretch(&z, len);
                    standing(&z, best..=best + len - 1, 0.01).unwrap() >= 1.0
                })
                .count();
            assert!(passing <= 6, "AR({phi}), {len} points: {passing} of 200");
        }
    }

    #[test]
    fn a_change_that_fills_the_series_cannot_be_judged_this_way() {
        let z = vec![0.0; 100];
        assert_eq!(standing(&z, 20..=99, 0.01), None);
    }

    #[test]
    fn a_long_stretch_is_judged_by_its_most_extreme_part_against_the_rest() {
        let mut rng = Rng::new(9);
        // The first 200 of 800 points: too long to compare whole (600 / 200 < 12 placements).
        let wandering = autoregressive(&mut rng, 0.97, 800);
        let best = largest_stretch(&wandering, 200);
        assert_eq!(standing(&wandering, best..=best + 199, 0.01), None);
        let wander = standing_of_stretches(&wandering, 0..=199, 0.01).unwrap();
        assert!(wander < 1.0, "a wander of a metric with memory: {wander}");
        let mut lifted: Vec<f64> = (0..800).map(|_| rng.normal()).collect();
        for v in &mut lifted[..200] {
            *v += 6.0;
        }
        let level = standing_of_stretches(&lifted, 0..=199, 0.01).unwrap();
        assert!(level > 2.0, "a level far from the rest: {level}");
    }
}
