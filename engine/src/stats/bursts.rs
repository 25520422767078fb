//! Burst periodicity: are the bursts of a series evenly spaced (a cron job, a retry storm,
//! a GC cycle) or random?

use super::robust::{median, MAD_TO_SIGMA};

/// Regular spacing of bursts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurstPeriodicity {
    /// Median time between burst starts.
    pub period_ms: i64,
    /// Robust coefficient of variation of the spacing (0 = perfectly regular).
    pub irregularity: f64,
    pub bursts: usize,
}

impl BurstPeriodicity {
    /// Regular enough to call periodic: at least four bursts, spacing within ~20%.
    pub fn is_periodic(&self) -> bool {
        self.bursts >= 4 && self.irregularity <= 0.2
    }
}

/// Spacing statistics of burst start times (sorted, in ms). `None` with fewer than 3 bursts.
pub fn burst_periodicity(starts_ms: &[i64]) -> Option<BurstPeriodicity> {
    if starts_ms.len() < 3 {
        return None;
    }
    let spacing: Vec<f64> = starts_ms.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
    let center = median(&spacing)?;
    if center <= 0.0 {
        return None;
    }
    let deviations: Vec<f64> = spacing.iter().map(|s| (s - center).abs()).collect();
    Some(BurstPeriodicity {
        period_ms: center as i64,
        irregularity: MAD_TO_SIGMA * median(&deviations)? / center,
        bursts: starts_ms.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_bursts_are_periodic() {
        let starts: Vec<i64> = (0..6).map(|i| i * 900_000 + (i % 2) * 30_000).collect();
        let p = burst_periodicity(&starts).unwrap();
        assert!(p.is_periodic());
        assert!((p.period_ms - 900_000).abs() <= 30_000);
    }

    #[test]
    fn random_bursts_are_not() {
        let starts = [0, 100_000, 1_000_000, 1_200_000, 4_000_000, 4_100_000];
        assert!(!burst_periodicity(&starts).unwrap().is_periodic());
    }
}
