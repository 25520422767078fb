//! The Numenta Anomaly Benchmark (NAB) score of the live anomaly score, computed exactly as
//! NAB's own scorer computes it (`nab_scoring`): every file is read in time order and scored
//! one point at a time with no look-ahead, as the metrics stream scores it; one threshold per
//! profile is chosen for the whole corpus by NAB's sweep; the totals are normalised against
//! the null and the perfect detector. The bot's `bench nab --results` writes NAB's result
//! files so that NAB's `run.py --optimize --score --normalize` can check the numbers
//! independently.
//!
//! It also judges the investigation (`detect`) on the same files: how many reported windows
//! overlap a labelled one (precision), how many labelled windows a reported one overlaps
//! (recall), and the Brier score of "this file holds an anomaly".

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::efficacy::{calibration, write_calibration, CalibrationBand};
use super::nab_scoring::{
    best, normalised, scorable_rows, sweep, Profile, ThresholdScore, PROFILES,
};
use crate::agents::synthesizer::Weights;
use crate::investigation::investigate;
use crate::series::csv::{read_rows_as_written, CsvOptions};
use crate::series::timestamp::TimestampFormat;
use crate::series::Series;
use crate::stats::live_score::{score_points, LiveScoreConfig};

/// The detector's name in NAB's results (NAB splits file names on `_`, so none here).
pub const DETECTOR: &str = "anomalyhunter";

/// One labelled file of the corpus.
pub struct LabelledFile {
    /// `category/file.csv`, as `windows.json` names it.
    pub name: String,
    /// Every row as written (a blank value is NaN).
    pub timestamps: Vec<i64>,
    pub values: Vec<f64>,
    /// Labelled anomaly windows, as inclusive row ranges.
    pub windows: Vec<(usize, usize)>,
}

/// Reads the corpus: `windows.json` (file → `[start, end]` timestamps) and the CSV files it
/// names, relative to `dir`.
pub fn load(dir: &Path) -> Result<Vec<LabelledFile>, CorpusError> {
    let labels_path = dir.join("windows.json");
    let fail = |what: String| CorpusError(what);
    let labels = std::fs::read_to_string(&labels_path).map_err(|e| {
        fail(format!(
            "cannot read {}: {e}; pass the NAB corpus folder (windows.json and the CSV folders it names)",
            labels_path.display()
        ))
    })?;
    let labels: BTreeMap<String, Vec<[String; 2]>> =
        serde_json::from_str(&labels).map_err(|e| {
            fail(format!(
                "{}: not NAB's windows format: {e}",
                labels_path.display()
            ))
        })?;
    labels
        .into_iter()
        .map(|(name, windows)| {
            let (timestamps, values) =
                read_rows_as_written(&dir.join(&name), &CsvOptions::default())
                    .map_err(|e| fail(e.to_string()))?
                    .columns();
            // NAB finds a window's bounds at the first row with that timestamp.
            let row_of = |text: &str| -> Result<usize, CorpusError> {
                let at = TimestampFormat::Calendar.parse(text).ok_or_else(|| {
                    fail(format!("{name}: window bound `{text}` is no timestamp"))
                })?;
                timestamps.iter().position(|&t| t == at).ok_or_else(|| {
                    fail(format!(
                        "{name}: window bound `{text}` is not a row of the file"
                    ))
                })
            };
            let windows = windows
                .iter()
                .map(|[start, end]| Ok((row_of(start)?, row_of(end)?)))
                .collect::<Result<_, CorpusError>>()?;
            Ok(LabelledFile {
                name,
                timestamps,
                values,
                windows,
            })
        })
        .collect()
}

/// Why the corpus could not be read, in words.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CorpusError(String);

/// The live score of every row of `file`, as the metrics stream computes it.
pub fn live_scores(file: &LabelledFile, config: LiveScoreConfig) -> Vec<f64> {
    score_points(&file.timestamps, &file.values, config)
        .iter()
        .map(|point| point.score)
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct NabReport {
    pub detector: &'static str,
    pub files: usize,
    pub rows: usize,
    pub windows: usize,
    /// Per profile, at the threshold NAB's optimiser picks.
    pub optimised: Vec<ProfileScore>,
    /// Per profile, at the live alert threshold (what `serve` pages on).
    pub at_alert_threshold: Vec<ProfileScore>,
    /// Rows scored per second by the live score (one core).
    pub points_per_second: f64,
    /// `detect` on every whole file.
    pub investigations: InvestigationScore,
}

/// How the investigation's verdicts compare with the labels.
#[derive(Debug, Clone, Serialize)]
pub struct InvestigationScore {
    pub reported_windows: usize,
    /// Reported windows that overlap a labelled window.
    pub true_windows: usize,
    /// `true_windows / reported_windows`.
    pub precision: f64,
    /// Labelled windows that a reported window overlaps.
    pub labelled_windows_found: usize,
    pub recall: f64,
    /// Mean squared error of P(anomalous) against "the file has a labelled window".
    pub brier: f64,
    /// Reliability of the stated confidence: a verdict is right when it calls a labelled file
    /// anomalous with a window on a label, or an unlabelled file normal.
    pub calibration: Vec<CalibrationBand>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProfileScore {
    pub profile: &'static str,
    pub threshold: f64,
    /// NAB's normalised score: 0 for no detections, 100 for every window hit at its start.
    pub score: f64,
    /// Scored rows at or above the threshold.
    pub detections: usize,
    pub windows_hit: usize,
}

/// Scores the corpus with the live score tuned as `config`; returns the report and every
/// file's scores.
pub fn run(corpus: &[LabelledFile], config: LiveScoreConfig) -> (NabReport, Vec<Vec<f64>>) {
    let started = Instant::now();
    let scores: Vec<Vec<f64>> = corpus
        .iter()
        .map(|file| live_scores(file, config))
        .collect();
    let elapsed = started.elapsed().as_secs_f64();
    let rows: usize = corpus.iter().map(|file| file.values.len()).sum();
    let windows: usize = corpus.iter().map(|file| file.windows.len()).sum();
    let swept: Vec<(ProfileScore, ProfileScore)> = PROFILES
        .iter()
        .map(|profile| profile_scores(corpus, &scores, profile, config.alert_score))
        .collect();
    let report = NabReport {
        detector: DETECTOR,
        files: corpus.len(),
        rows,
        windows,
        optimised: swept
            .iter()
            .map(|(optimised, _)| optimised.clone())
            .collect(),
        at_alert_threshold: swept.into_iter().map(|(_, at_alert)| at_alert).collect(),
        points_per_second: rows as f64 / elapsed.max(1e-9),
        investigations: judge_investigations(corpus),
    };
    (report, scores)
}

/// Investigates every whole file as `detect` would and compares the verdicts with the labels.
pub fn judge_investigations(corpus: &[LabelledFile]) -> InvestigationScore {
    let (mut reported, mut true_windows, mut found, mut labelled, mut squared) = (0, 0, 0, 0, 0.0);
    let mut judged = Vec::new();
    for file in corpus {
        let Ok(series) =
            Series::from_points(&file.name, file.timestamps.clone(), file.values.clone())
        else {
            continue;
        };
        let verdict = investigate(&series, &[], Weights::default());
        let labels: Vec<(i64, i64)> = file
            .windows
            .iter()
            .map(|&(start, end)| (file.timestamps[start], file.timestamps[end]))
            .collect();
        let overlaps = |a: (i64, i64), b: (i64, i64)| a.0 <= b.1 && b.0 <= a.1;
        let windows: Vec<(i64, i64)> = verdict
            .anomalies
            .iter()
            .map(|a| (a.start_ms, a.end_ms))
            .collect();
        reported += windows.len();
        true_windows += windows
            .iter()
            .filter(|w| labels.iter().any(|l| overlaps(**w, *l)))
            .count();
        labelled += labels.len();
        found += labels
            .iter()
            .filter(|l| windows.iter().any(|w| overlaps(*w, **l)))
            .count();
        let p_anomalous = if verdict.anomalous {
            verdict.confidence
        } else {
            1.0 - verdict.confidence
        };
        let outcome = f64::from(u8::from(!labels.is_empty()));
        squared += (p_anomalous - outcome).powi(2);
        let located = windows
            .iter()
            .any(|w| labels.iter().any(|l| overlaps(*w, *l)));
        let right = if labels.is_empty() {
            !verdict.anomalous
        } else {
            verdict.anomalous && located
        };
        judged.push((verdict.confidence, right));
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    InvestigationScore {
        reported_windows: reported,
        true_windows,
        precision: ratio(true_windows, reported),
        labelled_windows_found: found,
        recall: ratio(found, labelled),
        brier: squared / corpus.len().max(1) as f64,
        calibration: calibration(&judged),
    }
}

/// One profile's score at the threshold NAB's optimiser picks, and at `alert_score`, from
/// one sweep over the whole corpus.
fn profile_scores(
    corpus: &[LabelledFile],
    scores: &[Vec<f64>],
    profile: &Profile,
    alert_score: f64,
) -> (ProfileScore, ProfileScore) {
    let mut rows = Vec::new();
    let mut windows = 0;
    for (file, file_scores) in corpus.iter().zip(scores) {
        rows.extend(scorable_rows(file_scores, &file.windows, windows, profile));
        windows += file.windows.len();
    }
    let swept = sweep(rows, profile);
    // Rows scoring at least `alert_score`: the smallest swept threshold not below it.
    let at_alert = swept
        .iter()
        .rev()
        .find(|score| score.threshold >= alert_score)
        .copied()
        .unwrap_or(swept[0]);
    let summary = |chosen: ThresholdScore| ProfileScore {
        profile: profile.name,
        threshold: chosen.threshold,
        score: normalised(chosen.raw, windows, profile),
        detections: chosen.detections,
        windows_hit: chosen.windows_hit,
    };
    (summary(best(&swept)), summary(at_alert))
}

impl fmt::Display for NabReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "NAB: {} files, {} rows, {} labelled windows; the live score, one point at a time",
            self.files, self.rows, self.windows
        )?;
        writeln!(
            f,
            "profile         threshold  score  detections  windows hit"
        )?;
        let rows = |f: &mut fmt::Formatter<'_>, scores: &[ProfileScore], note: &str| {
            scores.iter().try_for_each(|s| {
                writeln!(
                    f,
                    "{:<14}  {:>9.4}  {:>5.1}  {:>10}  {:>6}/{:<4} {note}",
                    s.profile, s.threshold, s.score, s.detections, s.windows_hit, self.windows
                )
            })
        };
        rows(f, &self.optimised, "(NAB's optimised threshold)")?;
        rows(f, &self.at_alert_threshold, "(the live alert threshold)")?;
        let judged = &self.investigations;
        writeln!(
            f,
            "detect on every whole file: {} of {} reported windows overlap a labelled one (precision {:.0}%), {} of {} labelled windows found (recall {:.0}%), Brier {:.3}",
            judged.true_windows,
            judged.reported_windows,
            judged.precision * 100.0,
            judged.labelled_windows_found,
            self.windows,
            judged.recall * 100.0,
            judged.brier
        )?;
        write_calibration(f, &judged.calibration)?;
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
            r#"{"real/a.csv": [["2014-04-10 07:10:00.000000", "2014-04-10 07:19:00.000000"]]}"#,
        )
        .unwrap();
        let corpus = load(&dir).unwrap();
        assert_eq!(corpus[0].name, "real/a.csv");
        assert_eq!(corpus[0].values.len(), 60);
        assert_eq!(corpus[0].windows, [(10, 19)]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
