//! NAB's scoring rules, as its own `nab/sweeper.py` and `nab/optimizer.py` apply them: every
//! row whose anomaly score reaches the threshold is a detection; inside a labelled window only
//! the first detection counts, earning more the earlier it comes; a detection outside every
//! window costs the false-positive weight (less right after a window); a window without a
//! detection costs the false-negative weight; the probationary rows at the start of a file are
//! not scored. One threshold per profile is chosen for the whole corpus by sweeping every
//! distinct score, and the total is normalised so that the null detector scores 0 and the
//! perfect one 100. Pure functions: no files, no clock.

/// NAB's weights for one application profile (true negatives count nothing).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    pub name: &'static str,
    pub true_positive: f64,
    pub false_positive: f64,
    pub false_negative: f64,
}

/// NAB's three application profiles (`config/profiles.json`).
pub const PROFILES: [Profile; 3] = [
    Profile {
        name: "standard",
        true_positive: 1.0,
        false_positive: 0.11,
        false_negative: 1.0,
    },
    Profile {
        name: "reward_low_fp",
        true_positive: 1.0,
        false_positive: 0.22,
        false_negative: 1.0,
    },
    Profile {
        name: "reward_low_fn",
        true_positive: 1.0,
        false_positive: 0.11,
        false_negative: 2.0,
    },
];

/// NAB's scaled sigmoid: near 1 well inside a window's start, 0 at its end, falling to −1 for
/// positions more than 3 window widths past it.
fn scaled_sigmoid(position: f64) -> f64 {
    if position > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * position).exp()) - 1.0
    }
}

/// Rows at the start of a file whose detections are not scored (the probationary period):
/// 15% of the file, at most 750 rows.
pub fn probationary_rows(rows: usize) -> usize {
    (rows * 15 / 100).min(750)
}

/// One scorable row: its anomaly score, what it would earn (or cost) as a detection, and the
/// labelled window it lies in, numbered across the corpus.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScorableRow {
    pub anomaly_score: f64,
    pub weight: f64,
    pub window: Option<usize>,
}

/// The scorable rows of one file (`scores` one per row, `windows` inclusive row ranges in
/// order, numbered from `first_window`), weighted as NAB's `calcSweepScore` does.
pub fn scorable_rows(
    scores: &[f64],
    windows: &[(usize, usize)],
    first_window: usize,
    profile: &Profile,
) -> Vec<ScorableRow> {
    let probation = probationary_rows(scores.len());
    let max_true_positive = scaled_sigmoid(-1.0);
    let mut rows = Vec::with_capacity(scores.len().saturating_sub(probation));
    for (row, &anomaly_score) in scores.iter().enumerate().skip(probation) {
        let inside = windows
            .iter()
            .position(|&(start, end)| (start..=end).contains(&row));
        let weight = match inside {
            Some(w) => {
                let (start, end) = windows[w];
                let position = -((end - row + 1) as f64) / (end - start + 1) as f64;
                profile.true_positive * scaled_sigmoid(position) / max_true_positive
            }
            None => {
                let cost = match windows.iter().rev().find(|&&(_, end)| end < row) {
                    Some(&(start, end)) => {
                        scaled_sigmoid((row - end) as f64 / (end - start) as f64)
                    }
                    None => -1.0,
                };
                profile.false_positive * cost
            }
        };
        rows.push(ScorableRow {
            anomaly_score,
            weight,
            window: inside.map(|w| first_window + w),
        });
    }
    rows
}

/// The raw score at one threshold of the sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdScore {
    /// Rows scoring at least this are detections.
    pub threshold: f64,
    pub raw: f64,
    /// Scorable rows at or above the threshold.
    pub detections: usize,
    /// Labelled windows with a detection.
    pub windows_hit: usize,
}

/// NAB's sweep (`calcScoreByThreshold`): the raw score at every distinct anomaly score, from
/// above the highest (no detections) down to the lowest, over `rows` of any number of files.
pub fn sweep(mut rows: Vec<ScorableRow>, profile: &Profile) -> Vec<ThresholdScore> {
    rows.sort_by(|a, b| b.anomaly_score.total_cmp(&a.anomaly_score));
    let windows = rows
        .iter()
        .filter_map(|row| row.window)
        .max()
        .map_or(0, |w| w + 1);
    let mut window_parts: Vec<Option<f64>> = vec![None; windows];
    for window in rows.iter().filter_map(|row| row.window) {
        window_parts[window] = Some(-profile.false_negative);
    }
    let mut false_positives = 0.0;
    let total = |parts: &[Option<f64>], false_positives: f64| -> f64 {
        false_positives + parts.iter().flatten().sum::<f64>()
    };
    let mut hit = vec![false; windows];
    let mut windows_hit = 0;
    let mut threshold = 1.1;
    let mut scores = Vec::new();
    for (detections, row) in rows.iter().enumerate() {
        if row.anomaly_score != threshold {
            scores.push(ThresholdScore {
                threshold,
                raw: total(&window_parts, false_positives),
                detections,
                windows_hit,
            });
            threshold = row.anomaly_score;
        }
        match row.window {
            Some(w) => {
                let part = window_parts[w].get_or_insert(-profile.false_negative);
                *part = part.max(row.weight);
                windows_hit += usize::from(!std::mem::replace(&mut hit[w], true));
            }
            None => false_positives += row.weight,
        }
    }
    scores.push(ThresholdScore {
        threshold,
        raw: total(&window_parts, false_positives),
        detections: rows.len(),
        windows_hit,
    });
    scores
}

/// The threshold NAB's optimiser picks: the highest raw score, the higher threshold on a tie.
pub fn best(scores: &[ThresholdScore]) -> ThresholdScore {
    scores
        .iter()
        .copied()
        .reduce(|best, next| if next.raw > best.raw { next } else { best })
        .unwrap_or(ThresholdScore {
            threshold: 1.1,
            raw: 0.0,
            detections: 0,
            windows_hit: 0,
        })
}

/// A corpus total on NAB's 0 (no detections) to 100 (every window hit at its start) scale.
pub fn normalised(raw: f64, windows: usize, profile: &Profile) -> f64 {
    let null = -profile.false_negative * windows as f64;
    let perfect = profile.true_positive * windows as f64;
    100.0 * (raw - null) / (perfect - null)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STANDARD: Profile = PROFILES[0];

    /// One file's raw score when exactly the rows in `detections` score 1.
    fn raw(rows: usize, windows: &[(usize, usize)], detections: &[usize]) -> f64 {
        let scores: Vec<f64> = (0..rows)
            .map(|row| f64::from(u8::from(detections.contains(&row))))
            .collect();
        let sweep = sweep(scorable_rows(&scores, windows, 0, &STANDARD), &STANDARD);
        sweep
            .iter()
            .find(|score| score.threshold == 1.0)
            .map_or(sweep[0].raw, |score| score.raw)
    }

    #[test]
    fn a_detection_at_a_window_start_earns_the_full_weight_and_later_less() {
        // 1,000 rows: the first 150 are probationary; one window at rows 500..=599.
        let windows = [(500, 599)];
        let at_start = raw(1_000, &windows, &[500]);
        assert!((at_start - 1.0).abs() < 1e-12, "{at_start}");
        let at_end = raw(1_000, &windows, &[599]);
        assert!(
            at_end.abs() < 0.1,
            "the last row earns about nothing: {at_end}"
        );
        assert_eq!(
            raw(1_000, &windows, &[520, 530, 540]),
            raw(1_000, &windows, &[520])
        );
    }

    #[test]
    fn misses_and_false_alarms_cost_their_weights_and_probation_is_free() {
        let windows = [(500, 599)];
        assert_eq!(raw(1_000, &windows, &[]), -1.0);
        assert_eq!(raw(1_000, &windows, &[100]), -1.0, "probation");
        let before_any_window = raw(1_000, &windows, &[300, 500]);
        assert!((before_any_window - (1.0 - 0.11)).abs() < 1e-12);
        let just_after = raw(1_000, &windows, &[500, 601]);
        let long_after = raw(1_000, &windows, &[500, 950]);
        assert!(just_after > long_after, "{just_after} vs {long_after}");
        assert!(
            (long_after - (1.0 - 0.11)).abs() < 1e-12,
            "over 3 widths away"
        );
    }

    #[test]
    fn the_sweep_tries_every_distinct_score_and_the_best_wins() {
        // Rows 500 (in the window) scores 0.9, row 300 (a false alarm) 0.95.
        let mut scores = vec![0.0; 1_000];
        scores[500] = 0.9;
        scores[300] = 0.95;
        let rows = scorable_rows(&scores, &[(500, 599)], 0, &STANDARD);
        let sweep = sweep(rows, &STANDARD);
        let thresholds: Vec<f64> = sweep.iter().map(|s| s.threshold).collect();
        assert_eq!(thresholds, [1.1, 0.95, 0.9, 0.0]);
        let top = best(&sweep);
        assert_eq!(top.threshold, 0.9);
        assert_eq!(top.windows_hit, 1);
        assert_eq!(
            sweep[1].windows_hit, 0,
            "at 0.95 only the false alarm is detected"
        );
        assert!((top.raw - 0.89).abs() < 1e-12, "{top:?}");
    }

    #[test]
    fn the_null_detector_scores_zero_and_the_perfect_one_a_hundred() {
        assert_eq!(normalised(-4.0, 4, &STANDARD), 0.0);
        assert_eq!(normalised(4.0, 4, &STANDARD), 100.0);
        assert_eq!(normalised(-8.0, 4, &PROFILES[2]), 0.0);
    }
}
