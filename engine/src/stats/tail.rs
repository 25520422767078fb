//! How far out "rare" starts for a metric's own noise, from the shape of its tail.
//!
//! A fixed |z| bound assumes Gaussian noise. Latency, queue depths and other operational
//! metrics have heavy tails: in Student-t noise with 2 degrees of freedom, a few readings in a
//! thousand sit 30 robust units from the median without anything being wrong.
//!
//! The tail's heaviness is read from the ratio of two central-enough quantiles of |z| (the
//! 97.5th over the 75th percentile: 1.95 for Gaussian noise, 2.9 for Student-t with ν = 3,
//! 3.9 for ν = 2), which a handful of real anomalies cannot move. It gives the extreme-value
//! shape ξ (0 for Gaussian-like tails, 1/ν for Student-t), and the power law of that shape
//! carries the 97.5th percentile out to the level that all `n` points together pass by chance
//! with a small probability (the peaks-over-threshold idea behind SPOT, Siffer et al., KDD
//! 2017).
//!
//! Heavy-tailed noise is heavy everywhere; an incident is heavy somewhere. So the level is
//! read in each quarter of the series and the second quietest decides: recurring error
//! bursts in the second half do not pass for the metric's normal tail, and one unusually
//! calm quarter does not make the rest look alarming.

/// (ratio of the 97.5th to the 75th percentile of |z|, tail shape ξ) for Student-t noise
/// with ν = ∞, 10, 5, 3, 2, 1.
const RATIO_TO_SHAPE: [(f64, f64); 6] = [
    (1.949, 0.0),
    (2.157, 0.1),
    (2.431, 0.2),
    (2.935, 1.0 / 3.0),
    (3.868, 0.5),
    (10.5, 1.0),
];
/// Share of the points beyond the upper quantile the tail is carried from.
const UPPER_SHARE: f64 = 0.025;
/// Fewest points a quarter needs to say anything about its tail.
const MIN_BLOCK: usize = 200;

/// The tail shape ξ whose Student-t has this quantile ratio (linear between the table's rows).
fn shape_of_ratio(ratio: f64) -> f64 {
    let first = RATIO_TO_SHAPE[0];
    if ratio <= first.0 {
        return 0.0;
    }
    RATIO_TO_SHAPE
        .windows(2)
        .find(|pair| ratio <= pair[1].0)
        .map_or(1.0, |pair| {
            let ((r0, s0), (r1, s1)) = (pair[0], pair[1]);
            s0 + (s1 - s0) * (ratio - r0) / (r1 - r0)
        })
}

/// The level one block's tail says a single point passes with probability `risk`.
fn block_level(magnitudes: &[f64], risk: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = magnitudes
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    if sorted.len() < MIN_BLOCK {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| crate::stats::robust::percentile_of_sorted(&sorted, q);
    let (middle, upper) = (at(75.0), at(100.0 * (1.0 - UPPER_SHARE)));
    if middle <= 0.0 {
        return None;
    }
    let shape = shape_of_ratio(upper / middle);
    Some(upper * (UPPER_SHARE / risk).max(1.0).powf(shape))
}

/// The |z| that noise alone passes somewhere among all of `z` with probability `risk`,
/// judged from the tail of the second quietest quarter (the quietest when there are only one
/// or two); never below `floor` (the Gaussian bound).
pub fn rare_level(z: &[f64], risk: f64, floor: f64) -> f64 {
    let per_point = risk / z.len().max(1) as f64;
    let block = (z.len() / 4).max(MIN_BLOCK);
    let mut levels: Vec<f64> = z
        .chunks(block)
        .filter_map(|chunk| {
            let magnitudes: Vec<f64> = chunk.iter().map(|v| v.abs()).collect();
            block_level(&magnitudes, per_point)
        })
        .collect();
    levels.sort_by(f64::total_cmp);
    let judged = if levels.len() >= 3 {
        levels.get(1)
    } else {
        levels.first()
    };
    judged.map_or(floor, |level| level.max(floor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::rng::Rng;

    fn student_t(rng: &mut Rng, degrees: usize) -> f64 {
        let chi: f64 = (0..degrees).map(|_| rng.normal().powi(2)).sum();
        rng.normal() / (chi / degrees as f64).sqrt()
    }

    #[test]
    fn gaussian_noise_keeps_the_gaussian_bound() {
        let mut rng = Rng::new(3);
        let z: Vec<f64> = (0..5000).map(|_| rng.normal()).collect();
        assert_eq!(rare_level(&z, 0.01, 6.0), 6.0);
    }

    #[test]
    fn heavy_tails_push_rare_far_out() {
        let mut rng = Rng::new(4);
        let heavy: Vec<f64> = (0..2000).map(|_| student_t(&mut rng, 2)).collect();
        assert!(rare_level(&heavy, 0.01, 6.0) > 60.0);
    }

    #[test]
    fn an_incident_in_one_part_is_not_the_metric_s_tail() {
        let mut rng = Rng::new(5);
        let mut z: Vec<f64> = (0..2000).map(|_| rng.normal()).collect();
        for i in (1000..2000).step_by(7) {
            z[i] = 30.0;
        }
        z[300] = 40.0;
        assert_eq!(rare_level(&z, 0.01, 6.0), 6.0);
    }

    #[test]
    fn shape_follows_the_table() {
        assert_eq!(shape_of_ratio(1.5), 0.0);
        assert!((shape_of_ratio(3.868) - 0.5).abs() < 1e-9);
        assert_eq!(shape_of_ratio(50.0), 1.0);
    }
}
