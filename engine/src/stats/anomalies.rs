//! Outlier primitives over standardised residuals (z-scores): point outliers, runs, CUSUM
//! regions for collective anomalies, and constant runs (flat-lines).

use super::robust::normal_sf;

/// An inclusive index range `[start, end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub start: usize,
    pub end: usize,
}

impl Run {
    /// Number of points covered (a run is never empty).
    pub fn points(&self) -> usize {
        self.end - self.start + 1
    }
}

/// The |z| above which a point is an outlier in a series of `n` points: the two-sided
/// Bonferroni bound for a 1% family-wise false-alarm rate under Gaussian noise, never below 6
/// because operational noise has heavier tails than Gaussian.
pub fn point_threshold(n: usize) -> f64 {
    let alpha = 0.01 / (2.0 * n.max(1) as f64);
    let mut z = 6.0;
    while normal_sf(z) > alpha && z < 8.0 {
        z += 0.05;
    }
    z
}

/// Groups the `true` positions of `mask` into runs, bridging holes of at most `max_gap`.
pub fn runs(mask: &[bool], max_gap: usize) -> Vec<Run> {
    let mut found: Vec<Run> = Vec::new();
    for (i, flagged) in mask.iter().enumerate() {
        if !flagged {
            continue;
        }
        match found.last_mut() {
            Some(run) if i - run.end <= max_gap + 1 => run.end = i,
            _ => found.push(Run { start: i, end: i }),
        }
    }
    found
}

/// A region where the cumulative sum of z-scores drifted persistently in one direction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CusumRegion {
    pub run: Run,
    /// +1 for values above baseline, −1 for below.
    pub direction: i8,
    /// Highest CUSUM statistic reached.
    pub peak: f64,
    /// Mean z-score over the region.
    pub mean_z: f64,
}

/// Two-sided tabular CUSUM over z-scores with allowance `k` and decision interval `h`.
/// A region starts where its statistic last left zero and ends where it peaked.
pub fn cusum_regions(z: &[f64], k: f64, h: f64) -> Vec<CusumRegion> {
    let mut regions = Vec::new();
    for direction in [1i8, -1i8] {
        let sign = f64::from(direction);
        let mut statistic = 0.0;
        let mut start = 0;
        let mut peak = (0.0, 0usize);
        for (i, value) in z.iter().enumerate() {
            let next = (statistic + sign * value - k).max(0.0);
            if statistic == 0.0 && next > 0.0 {
                start = i;
                peak = (0.0, i);
            }
            statistic = next;
            if statistic > peak.0 {
                peak = (statistic, i);
            }
            let ended = statistic == 0.0 || i + 1 == z.len();
            if ended && peak.0 >= h {
                let run = Run { start, end: peak.1 };
                let mean_z = z[run.start..=run.end].iter().sum::<f64>() / run.points() as f64;
                regions.push(CusumRegion {
                    run,
                    direction,
                    peak: peak.0,
                    mean_z,
                });
                peak = (0.0, i);
            } else if statistic == 0.0 {
                peak = (0.0, i);
            }
        }
    }
    regions.sort_by_key(|r| r.run.start);
    regions
}

/// Runs of at least `min_len` identical consecutive values.
pub fn constant_runs(values: &[f64], min_len: usize) -> Vec<Run> {
    let mut found = Vec::new();
    let mut start = 0;
    for i in 1..=values.len() {
        if i == values.len() || values[i] != values[start] {
            if i - start >= min_len.max(2) {
                found.push(Run { start, end: i - 1 });
            }
            start = i;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_grows_with_length() {
        assert_eq!(point_threshold(10), 6.0);
        assert!(point_threshold(100_000_000) > 6.2);
    }

    #[test]
    fn runs_bridge_small_holes() {
        let mask = [false, true, true, false, true, false, false, false, true];
        assert_eq!(
            runs(&mask, 1),
            vec![Run { start: 1, end: 4 }, Run { start: 8, end: 8 }]
        );
    }

    #[test]
    fn cusum_finds_a_sustained_shift_and_its_start() {
        let mut z = vec![0.0; 100];
        for v in &mut z[40..60] {
            *v = 3.0;
        }
        let regions = cusum_regions(&z, 1.0, 10.0);
        assert_eq!(regions.len(), 1);
        assert_eq!(regions[0].run, Run { start: 40, end: 59 });
        assert_eq!(regions[0].direction, 1);
        assert!((regions[0].peak - 40.0).abs() < 1e-12);
    }

    #[test]
    fn cusum_ignores_noise_below_allowance() {
        let z: Vec<f64> = (0..1000)
            .map(|i| if i % 2 == 0 { 0.9 } else { -0.9 })
            .collect();
        assert!(cusum_regions(&z, 1.0, 5.0).is_empty());
    }

    #[test]
    fn constant_runs_found() {
        let v = [1.0, 2.0, 2.0, 2.0, 3.0, 0.0, 0.0];
        assert_eq!(constant_runs(&v, 3), vec![Run { start: 1, end: 3 }]);
        assert_eq!(constant_runs(&v, 2).len(), 2);
    }
}
