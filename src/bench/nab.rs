//! The Numenta Anomaly Benchmark (NAB) score of the live-metrics streaming detector. Every
//! file is read in time order, one point at a time with no look-ahead, exactly as the metrics
//! stream feeds it; a point that opens an incident is a detection. Detections are scored by
//! NAB's rules (stated in the corpus README) and normalised so that the null detector scores 0
//! and the perfect one 100. NAB picks one threshold per profile; the analogue here is the
//! detector's `open_z`, swept over a grid.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use serde::Serialize;

use crate::series::csv::{read_csv, CsvOptions};
use crate::series::timestamp::TimestampFormat;
use crate::stats::streaming::{Step, StreamingConfig, StreamingDetector};

/// NAB's weights for one application profile (true negatives count nothing).
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    pub name: &'static str,
    pub true_positive: f64,
    pub false_positive: f64,
    pub false_negative: f64,
}

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

/// The `open_z` values tried: NAB's threshold sweep in this detector's terms.
const OPEN_Z_GRID: [f64; 9] = [3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 16.0];

/// One labelled file of the corpus.
pub struct LabelledFile {
    /// `category/file.csv`, as `windows.json` names it.
    pub name: String,
    pub values: Vec<f64>,
    /// Labelled anomaly windows, as inclusive row ranges.
    pub windows: Vec<(usize, usize)>,
}

/// NAB's scaled sigmoid: near 1 well inside a window's start, 0 at its end, falling to −1 for
/// positions more than 3 window widths past it.
fn scaled_sigmoid(position: f64) -> f64 {
    if position > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * position).exp()) - 1.0
    }
}

/// Rows at the start of a file whose detections are not scored (the probationary period).
pub fn probationary_rows(rows: usize) -> usize {
    (rows * 15 / 100).min(750)
}

/// One file's outcome under one profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FileScore {
    /// NAB's raw score.
    pub raw: f64,
    /// Windows with a scored detection (the same under every profile).
    pub windows_hit: usize,
}

/// One file's NAB score for the rows flagged in `detections` (ascending): the first
/// detection in a window earns up to the true-positive weight (more the earlier it comes), a
/// detection outside every window costs up to the false-positive weight (less right after a
/// window), and a window without a detection costs the false-negative weight.
pub fn score_file(
    rows: usize,
    windows: &[(usize, usize)],
    detections: &[usize],
    profile: &Profile,
) -> FileScore {
    let probation = probationary_rows(rows);
    let mut hit = vec![false; windows.len()];
    let mut score = 0.0;
    for &row in detections.iter().filter(|&&row| row >= probation) {
        match windows
            .iter()
            .position(|&(start, end)| (start..=end).contains(&row))
        {
            Some(w) if !hit[w] => {
                hit[w] = true;
                let (start, end) = windows[w];
                let position = -((end - row + 1) as f64) / (end - start + 1) as f64;
                score += profile.true_positive * scaled_sigmoid(position) / scaled_sigmoid(-1.0);
            }
            Some(_) => {}
            None => {
                let cost = match windows.iter().rev().find(|&&(_, end)| end < row) {
                    Some(&(start, end)) if end > start => {
                        scaled_sigmoid((row - end) as f64 / (end - start) as f64)
                    }
                    _ => -1.0,
                };
                score += profile.false_positive * cost;
            }
        }
    }
    let windows_hit = hit.iter().filter(|hit| **hit).count();
    let missed = windows.len() - windows_hit;
    FileScore {
        raw: score - profile.false_negative * missed as f64,
        windows_hit,
    }
}

/// A corpus total on NAB's 0 (no detections) to 100 (every window hit at its start) scale.
pub fn normalised(raw: f64, windows: usize, profile: &Profile) -> f64 {
    let null = -profile.false_negative * windows as f64;
    let perfect = profile.true_positive * windows as f64;
    100.0 * (raw - null) / (perfect - null)
}

/// The rows where the streaming detector opens an incident.
pub fn detections(values: &[f64], config: StreamingConfig) -> Vec<usize> {
    let mut detector = StreamingDetector::new(config);
    values
        .iter()
        .enumerate()
        .filter(|&(_, &value)| matches!(detector.push(value), Step::Alert { .. }))
        .map(|(row, _)| row)
        .collect()
}

/// Reads the corpus: `windows.json` (file → `[start, end]` timestamps) and the CSV files it
/// names, relative to `dir`.
pub fn load(dir: &Path) -> anyhow::Result<Vec<LabelledFile>> {
    let labels_path = dir.join("windows.json");
    let labels = std::fs::read_to_string(&labels_path).with_context(|| {
        format!(
            "cannot read {}; pass --data with the NAB corpus folder (windows.json and the CSV folders it names)",
            labels_path.display()
        )
    })?;
    let labels: BTreeMap<String, Vec<[String; 2]>> = serde_json::from_str(&labels)
        .with_context(|| format!("{}: not NAB's windows format", labels_path.display()))?;
    labels
        .into_iter()
        .map(|(name, windows)| {
            let series = read_csv(&dir.join(&name), &CsvOptions::default())?;
            let row_of = |text: &str, after: bool| -> anyhow::Result<usize> {
                let at = TimestampFormat::Calendar
                    .parse(text)
                    .with_context(|| format!("{name}: window bound `{text}` is no timestamp"))?;
                let rows_before = series
                    .timestamps
                    .partition_point(|&t| t < at || after && t == at);
                Ok(if after {
                    rows_before.saturating_sub(1)
                } else {
                    rows_before
                })
            };
            let windows = windows
                .iter()
                .map(|[start, end]| Ok((row_of(start, false)?, row_of(end, true)?)))
                .collect::<anyhow::Result<_>>()?;
            Ok(LabelledFile {
                name,
                values: series.values,
                windows,
            })
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct NabReport {
    pub files: usize,
    pub rows: usize,
    pub windows: usize,
    /// The detector's default `open_z`, the one `serve` uses.
    pub default_open_z: f64,
    pub sweep: Vec<SweepPoint>,
    /// Per profile: the best `open_z` and its normalised score.
    pub best: BTreeMap<&'static str, (f64, f64)>,
    /// Rows scored per second, all sweep points together (one core).
    pub points_per_second: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SweepPoint {
    pub open_z: f64,
    pub detections: usize,
    pub windows_hit: usize,
    /// Normalised score per profile.
    pub scores: BTreeMap<&'static str, f64>,
}

/// Scores the corpus at every `open_z` of the grid.
pub fn run(corpus: &[LabelledFile]) -> NabReport {
    let windows: usize = corpus.iter().map(|file| file.windows.len()).sum();
    let started = Instant::now();
    let sweep: Vec<SweepPoint> = OPEN_Z_GRID
        .iter()
        .map(|&open_z| sweep_point(corpus, open_z, windows))
        .collect();
    let rows: usize = corpus.iter().map(|file| file.values.len()).sum();
    let best = PROFILES
        .iter()
        .map(|profile| {
            let top = sweep
                .iter()
                .max_by(|a, b| a.scores[profile.name].total_cmp(&b.scores[profile.name]))
                .map_or((0.0, 0.0), |point| {
                    (point.open_z, point.scores[profile.name])
                });
            (profile.name, top)
        })
        .collect();
    NabReport {
        files: corpus.len(),
        rows,
        windows,
        default_open_z: StreamingConfig::default().open_z,
        sweep,
        best,
        points_per_second: (rows * OPEN_Z_GRID.len()) as f64
            / started.elapsed().as_secs_f64().max(1e-9),
    }
}

fn sweep_point(corpus: &[LabelledFile], open_z: f64, windows: usize) -> SweepPoint {
    let config = StreamingConfig {
        open_z,
        ..StreamingConfig::default()
    };
    let flagged: Vec<Vec<usize>> = corpus
        .iter()
        .map(|file| detections(&file.values, config))
        .collect();
    let file_scores = |profile: &Profile| -> Vec<FileScore> {
        corpus
            .iter()
            .zip(&flagged)
            .map(|(file, rows)| score_file(file.values.len(), &file.windows, rows, profile))
            .collect()
    };
    let scores = PROFILES
        .iter()
        .map(|profile| {
            let raw = file_scores(profile).iter().map(|score| score.raw).sum();
            (profile.name, normalised(raw, windows, profile))
        })
        .collect();
    // Which windows were hit does not depend on the profile.
    let windows_hit = file_scores(&PROFILES[0])
        .iter()
        .map(|score| score.windows_hit)
        .sum();
    SweepPoint {
        open_z,
        detections: flagged.iter().map(Vec::len).sum(),
        windows_hit,
        scores,
    }
}

impl fmt::Display for NabReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "NAB: {} files, {} rows, {} labelled windows; streaming detector, one point at a time",
            self.files, self.rows, self.windows
        )?;
        writeln!(
            f,
            "open_z  detections  windows hit  standard  reward_low_fp  reward_low_fn"
        )?;
        for point in &self.sweep {
            let marker = if point.open_z == self.default_open_z {
                " (default)"
            } else {
                ""
            };
            writeln!(
                f,
                "{:>6.1}  {:>10}  {:>6}/{:<4}  {:>8.1}  {:>13.1}  {:>13.1}{marker}",
                point.open_z,
                point.detections,
                point.windows_hit,
                self.windows,
                point.scores["standard"],
                point.scores["reward_low_fp"],
                point.scores["reward_low_fn"],
            )?;
        }
        for (profile, (open_z, score)) in &self.best {
            writeln!(f, "best {profile}: {score:.1} at open_z {open_z}")?;
        }
        writeln!(
            f,
            "{:.0} points/s scored (one core). Published standard scores, full corpus: ARTime 74.9, HTM 70.1–70.5, CAD OSE 69.9, Skyline 58.2, windowed Gaussian 39.6",
            self.points_per_second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STANDARD: Profile = PROFILES[0];

    #[test]
    fn a_detection_at_a_window_start_earns_the_full_weight_and_later_less() {
        // 1,000 rows: the first 150 are probationary; one window at rows 500..=599.
        let windows = [(500, 599)];
        let at_start = score_file(1_000, &windows, &[500], &STANDARD).raw;
        assert!((at_start - 1.0).abs() < 1e-12, "{at_start}");
        let at_end = score_file(1_000, &windows, &[599], &STANDARD).raw;
        assert!(
            at_end.abs() < 0.1,
            "the last row earns about nothing: {at_end}"
        );
        let only_first_counts = score_file(1_000, &windows, &[520, 530, 540], &STANDARD).raw;
        assert_eq!(
            only_first_counts,
            score_file(1_000, &windows, &[520], &STANDARD).raw
        );
    }

    #[test]
    fn misses_and_false_alarms_cost_their_weights_and_probation_is_free() {
        let windows = [(500, 599)];
        assert_eq!(score_file(1_000, &windows, &[], &STANDARD).raw, -1.0);
        assert_eq!(
            score_file(1_000, &windows, &[100], &STANDARD).raw,
            -1.0,
            "probation"
        );
        let before_any_window = score_file(1_000, &windows, &[300, 500], &STANDARD).raw;
        assert!((before_any_window - (1.0 - 0.11)).abs() < 1e-12);
        let just_after = score_file(1_000, &windows, &[500, 601], &STANDARD).raw;
        let long_after = score_file(1_000, &windows, &[500, 950], &STANDARD).raw;
        assert!(just_after > long_after, "{just_after} vs {long_after}");
        assert!(
            (long_after - (1.0 - 0.11)).abs() < 1e-12,
            "over 3 widths away"
        );
    }

    #[test]
    fn the_null_detector_scores_zero_and_the_perfect_one_a_hundred() {
        assert_eq!(normalised(-4.0, 4, &STANDARD), 0.0);
        assert_eq!(normalised(4.0, 4, &STANDARD), 100.0);
        let low_fn = PROFILES[2];
        assert_eq!(normalised(-8.0, 4, &low_fn), 0.0);
    }

    #[test]
    fn window_bounds_become_rows_of_the_file() {
        let dir = std::env::temp_dir().join(format!("anomaly-hunter-nab-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("real")).unwrap();
        let mut csv = String::from("timestamp,value\n");
        for minute in 0..60 {
            csv.push_str(&format!(
                "2014-04-10 07:{minute:02}:00,{}\n",
                10 + minute % 3
            ));
        }
        std::fs::write(dir.join("real/a.csv"), csv).unwrap();
        std::fs::write(
            dir.join("windows.json"),
            r#"{"real/a.csv": [["2014-04-10 07:10:00.000000", "2014-04-10 07:19:30.000000"]]}"#,
        )
        .unwrap();
        let corpus = load(&dir).unwrap();
        assert_eq!(corpus[0].name, "real/a.csv");
        assert_eq!(corpus[0].values.len(), 60);
        assert_eq!(corpus[0].windows, [(10, 19)]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
