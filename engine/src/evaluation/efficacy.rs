//! Efficacy: recall per tier, false-positive rate on normal series, mean confidence and the
//! Brier score of the confidence, over the seeded scenarios of `synthetic::scenarios`.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::Serialize;

use crate::agents::synthesizer::Weights;
use crate::investigation::{investigate, Verdict};
use crate::synthetic::normals::{normal_cases, FAMILIES};
use crate::synthetic::scenarios::{efficacy_cases, Case, Tier};

/// One case's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub scenario: &'static str,
    pub tier: &'static str,
    pub seed: u64,
    pub expected_anomalous: bool,
    pub anomalous: bool,
    /// A reported window overlaps the injected anomaly.
    pub located: bool,
    pub confidence: f64,
    pub severity: u8,
    pub kinds: Vec<String>,
}

impl Outcome {
    pub fn correct(&self) -> bool {
        if self.expected_anomalous {
            self.anomalous && self.located
        } else {
            !self.anomalous
        }
    }

    /// The probability the verdict gives to "anomalous".
    fn probability_anomalous(&self) -> f64 {
        if self.anomalous {
            self.confidence
        } else {
            1.0 - self.confidence
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EfficacyReport {
    pub cases: usize,
    /// Share of anomalous cases detected and located, per tier.
    pub recall: BTreeMap<&'static str, f64>,
    pub false_positive_rate: f64,
    /// False-positive rate per kind of normal series: the tiers' backgrounds (`background`)
    /// and each family of the wider normal set.
    pub false_positives_by_kind: BTreeMap<&'static str, f64>,
    pub mean_confidence: f64,
    pub brier_score: f64,
    /// Reliability table: for verdicts whose confidence falls in each band, how often they
    /// were right. Calibrated confidence means the two columns agree.
    pub calibration: Vec<CalibrationBand>,
    pub outcomes: Vec<Outcome>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CalibrationBand {
    pub from: f64,
    pub to: f64,
    pub verdicts: usize,
    pub mean_confidence: f64,
    pub accuracy: f64,
}

/// Confidence bands of the reliability table.
const BANDS: [(f64, f64); 5] = [(0.0, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.01)];

/// The reliability table of `(stated confidence, was the verdict right)` pairs.
pub fn calibration(judged: &[(f64, bool)]) -> Vec<CalibrationBand> {
    BANDS
        .iter()
        .map(|&(from, to)| {
            let band: Vec<&(f64, bool)> = judged
                .iter()
                .filter(|(confidence, _)| *confidence >= from && *confidence < to)
                .collect();
            let count = band.len().max(1) as f64;
            CalibrationBand {
                from,
                to: to.min(1.0),
                verdicts: band.len(),
                mean_confidence: band.iter().map(|(c, _)| c).sum::<f64>() / count,
                accuracy: band.iter().filter(|(_, right)| *right).count() as f64 / count,
            }
        })
        .collect()
}

/// Prints the rows of a reliability table that hold verdicts.
pub fn write_calibration(f: &mut fmt::Formatter<'_>, bands: &[CalibrationBand]) -> fmt::Result {
    writeln!(
        f,
        "  calibration (confidence band: verdicts, mean confidence → share right)"
    )?;
    for band in bands.iter().filter(|b| b.verdicts > 0) {
        writeln!(
            f,
            "    {:.1}–{:.1}: {:>4}, {:>5.1}% → {:>5.1}%",
            band.from,
            band.to,
            band.verdicts,
            band.mean_confidence * 100.0,
            band.accuracy * 100.0
        )?;
    }
    Ok(())
}

/// Runs every case, one per seed for each scenario, background and family of normals.
pub fn run(seeds: Range<u64>) -> EfficacyReport {
    let mut cases = efficacy_cases(seeds.clone());
    cases.extend(normal_cases(seeds));
    let outcomes: Vec<Outcome> = cases.iter().map(evaluate).collect();
    summarise(outcomes)
}

fn evaluate(case: &Case) -> Outcome {
    let verdict = investigate(&case.series, &[], Weights::default());
    Outcome {
        scenario: case.scenario,
        tier: case.tier.label(),
        seed: case.seed,
        expected_anomalous: case.truth.is_some(),
        anomalous: verdict.anomalous,
        located: case
            .truth
            .is_some_and(|truth| overlaps(&verdict, case, truth)),
        confidence: verdict.confidence,
        severity: verdict.severity,
        kinds: verdict
            .anomalies
            .iter()
            .map(|a| format!("{:?}", a.kind))
            .collect(),
    }
}

/// A reported window touches the truth, allowing the width of one hour of slack.
fn overlaps(verdict: &Verdict, case: &Case, (start, end): (i64, i64)) -> bool {
    let slack = 3_600_000;
    verdict.anomalies.iter().any(|a| {
        let a_start = case.series.timestamps[a.start_index];
        let a_end = case.series.timestamps[a.end_index];
        a_start <= end + slack && a_end >= start - slack
    })
}

fn summarise(outcomes: Vec<Outcome>) -> EfficacyReport {
    let mut recall = BTreeMap::new();
    for tier in [Tier::Easy, Tier::Medium, Tier::Hard] {
        let of_tier: Vec<&Outcome> = outcomes.iter().filter(|o| o.tier == tier.label()).collect();
        let hits = of_tier.iter().filter(|o| o.correct()).count();
        recall.insert(tier.label(), hits as f64 / of_tier.len().max(1) as f64);
    }
    let normals: Vec<&Outcome> = outcomes.iter().filter(|o| !o.expected_anomalous).collect();
    let alarm_rate = |of: &[&&Outcome]| {
        of.iter().filter(|o| o.anomalous).count() as f64 / of.len().max(1) as f64
    };
    let false_positive_rate = alarm_rate(&normals.iter().collect::<Vec<_>>());
    let mut false_positives_by_kind = BTreeMap::new();
    for kind in std::iter::once("background").chain(FAMILIES) {
        let of_kind: Vec<&&Outcome> = normals
            .iter()
            .filter(|o| normal_kind(o.scenario) == kind)
            .collect();
        false_positives_by_kind.insert(kind, alarm_rate(&of_kind));
    }
    let count = outcomes.len().max(1) as f64;
    let mean_confidence = outcomes.iter().map(|o| o.confidence).sum::<f64>() / count;
    let brier_score = outcomes
        .iter()
        .map(|o| (o.probability_anomalous() - f64::from(u8::from(o.expected_anomalous))).powi(2))
        .sum::<f64>()
        / count;
    EfficacyReport {
        cases: outcomes.len(),
        recall,
        false_positive_rate,
        false_positives_by_kind,
        mean_confidence,
        brier_score,
        calibration: calibration(
            &outcomes
                .iter()
                .map(|o| (o.confidence, o.correct()))
                .collect::<Vec<_>>(),
        ),
        outcomes,
    }
}

/// `background` for the tiers' normal series, else the family of the wider normal set.
fn normal_kind(scenario: &'static str) -> &'static str {
    FAMILIES
        .into_iter()
        .find(|family| *family == scenario)
        .unwrap_or("background")
}

impl fmt::Display for EfficacyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Efficacy over {} cases", self.cases)?;
        for (tier, recall) in &self.recall {
            writeln!(f, "  recall {tier:<7} {:>6.1}%", recall * 100.0)?;
        }
        writeln!(
            f,
            "  false positives {:>5.1}%",
            self.false_positive_rate * 100.0
        )?;
        for (kind, rate) in &self.false_positives_by_kind {
            writeln!(f, "    {kind:<18} {:>5.1}%", rate * 100.0)?;
        }
        writeln!(
            f,
            "  mean confidence {:>5.1}%",
            self.mean_confidence * 100.0
        )?;
        writeln!(f, "  Brier score     {:>6.3}", self.brier_score)?;
        write_calibration(f, &self.calibration)?;
        let misses: Vec<&Outcome> = self.outcomes.iter().filter(|o| !o.correct()).collect();
        if !misses.is_empty() {
            writeln!(f, "  wrong verdicts:")?;
            for o in misses {
                writeln!(
                    f,
                    "    {} {} seed {}: anomalous={} located={} confidence={:.2} kinds={:?}",
                    o.tier, o.scenario, o.seed, o.anomalous, o.located, o.confidence, o.kinds
                )?;
            }
        }
        Ok(())
    }
}
