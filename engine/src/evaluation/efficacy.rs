//! Efficacy over the grid of `synthetic::grid`: recall per tier in each placement and per cell
//! (kind × family × placement), false alarms per normal family, mean confidence and the Brier
//! score of the confidence.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::Serialize;

use crate::agents::synthesizer::Weights;
use crate::investigation::{investigate, Verdict};
use crate::synthetic::grid::{grid_cases, Family, GridCase, Kind, Placement};
use crate::synthetic::scenarios::Tier;

/// One case's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The injected kind, or `normal`.
    pub kind: &'static str,
    pub family: &'static str,
    pub placement: &'static str,
    /// The kind whose sampling and span the series has (a normal twin's too).
    pub layout: &'static str,
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
    /// The same per placement: placement → tier → recall.
    pub recall_by_placement: BTreeMap<&'static str, BTreeMap<&'static str, f64>>,
    /// Every cell of the grid that holds an incident, with its recall over the seeds.
    pub cells: Vec<Cell>,
    pub false_positive_rate: f64,
    /// False-positive rate per normal family (over every layout and placement).
    pub false_positives_by_family: BTreeMap<&'static str, f64>,
    pub mean_confidence: f64,
    pub brier_score: f64,
    /// Reliability table: for verdicts whose confidence falls in each band, how often they
    /// were right. Calibrated confidence means the two columns agree.
    pub calibration: Vec<CalibrationBand>,
    pub outcomes: Vec<Outcome>,
}

/// One cell of the grid: an incident kind on a family at a placement.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub kind: &'static str,
    pub family: &'static str,
    pub placement: &'static str,
    pub cases: usize,
    pub recall: f64,
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

/// Runs every cell of the grid once per seed, with its normal twin.
pub fn run(seeds: Range<u64>) -> EfficacyReport {
    let outcomes: Vec<Outcome> = grid_cases(seeds).iter().map(evaluate).collect();
    summarise(outcomes)
}

fn evaluate(case: &GridCase) -> Outcome {
    let verdict = investigate(&case.series, &[], Weights::default());
    Outcome {
        kind: case.kind.map_or("normal", Kind::label),
        family: case.family.label(),
        placement: case.placement.label(),
        layout: case.layout_of.label(),
        tier: case.kind.map_or(Tier::Normal, Kind::tier).label(),
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
fn overlaps(verdict: &Verdict, case: &GridCase, (start, end): (i64, i64)) -> bool {
    let slack = 3_600_000;
    verdict.anomalies.iter().any(|a| {
        let a_start = case.series.timestamps[a.start_index];
        let a_end = case.series.timestamps[a.end_index];
        a_start <= end + slack && a_end >= start - slack
    })
}

const TIERS: [Tier; 3] = [Tier::Easy, Tier::Medium, Tier::Hard];

/// Share of `outcomes` that are right (no outcome: 1, nothing to miss).
fn share_right(outcomes: &[&Outcome]) -> f64 {
    if outcomes.is_empty() {
        return 1.0;
    }
    outcomes.iter().filter(|o| o.correct()).count() as f64 / outcomes.len() as f64
}

fn summarise(outcomes: Vec<Outcome>) -> EfficacyReport {
    let select = |keep: &dyn Fn(&Outcome) -> bool| -> Vec<&Outcome> {
        outcomes.iter().filter(|o| keep(o)).collect()
    };
    let recall = TIERS
        .iter()
        .map(|tier| {
            (
                tier.label(),
                share_right(&select(&|o| o.tier == tier.label())),
            )
        })
        .collect();
    let recall_by_placement = Placement::ALL
        .iter()
        .map(|placement| {
            let of_tier = TIERS
                .iter()
                .map(|tier| {
                    let cases =
                        select(&|o| o.tier == tier.label() && o.placement == placement.label());
                    (tier.label(), share_right(&cases))
                })
                .collect();
            (placement.label(), of_tier)
        })
        .collect();
    let mut cells = Vec::new();
    for kind in Kind::ALL {
        for family in Family::ALL {
            for placement in Placement::ALL {
                let cases = select(&|o| {
                    o.kind == kind.label()
                        && o.family == family.label()
                        && o.placement == placement.label()
                });
                if !cases.is_empty() {
                    cells.push(Cell {
                        kind: kind.label(),
                        family: family.label(),
                        placement: placement.label(),
                        cases: cases.len(),
                        recall: share_right(&cases),
                    });
                }
            }
        }
    }
    let alarm_rate = |of: &[&Outcome]| 1.0 - share_right(of);
    let false_positive_rate = alarm_rate(&select(&|o| !o.expected_anomalous));
    let false_positives_by_family = Family::ALL
        .iter()
        .map(|family| {
            let normals = select(&|o| !o.expected_anomalous && o.family == family.label());
            (family.label(), alarm_rate(&normals))
        })
        .collect();
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
        recall_by_placement,
        cells,
        false_positive_rate,
        false_positives_by_family,
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

/// Wrong verdicts printed one per line before the rest are only counted.
const LISTED_MISSES: usize = 40;

impl fmt::Display for EfficacyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Efficacy over {} cases", self.cases)?;
        write!(f, "  recall            ")?;
        for tier in TIERS {
            write!(f, "{:>8}", tier.label())?;
        }
        writeln!(f)?;
        let rows = std::iter::once(("all", &self.recall))
            .chain(self.recall_by_placement.iter().map(|(p, r)| (*p, r)));
        for (placement, recall) in rows {
            write!(f, "    {placement:<17}")?;
            for tier in TIERS {
                write!(f, "{:>7.1}%", recall[tier.label()] * 100.0)?;
            }
            writeln!(f)?;
        }
        writeln!(
            f,
            "  false positives {:>5.1}%",
            self.false_positive_rate * 100.0
        )?;
        for (family, rate) in &self.false_positives_by_family {
            writeln!(f, "    {family:<18} {:>5.1}%", rate * 100.0)?;
        }
        writeln!(
            f,
            "  mean confidence {:>5.1}%",
            self.mean_confidence * 100.0
        )?;
        writeln!(f, "  Brier score     {:>6.3}", self.brier_score)?;
        write_calibration(f, &self.calibration)?;
        let weak: Vec<&Cell> = self.cells.iter().filter(|c| c.recall < 1.0).collect();
        if !weak.is_empty() {
            writeln!(f, "  cells below 100% recall:")?;
            for c in weak {
                writeln!(
                    f,
                    "    {:<13} on {:<16} {:<18} {:>5.1}% of {}",
                    c.kind,
                    c.family,
                    c.placement,
                    c.recall * 100.0,
                    c.cases
                )?;
            }
        }
        let misses: Vec<&Outcome> = self.outcomes.iter().filter(|o| !o.correct()).collect();
        if !misses.is_empty() {
            writeln!(f, "  wrong verdicts:")?;
            for o in misses.iter().take(LISTED_MISSES) {
                writeln!(
                    f,
                    "    {} on {} at {} seed {}: anomalous={} located={} confidence={:.2} kinds={:?}",
                    o.kind, o.family, o.placement, o.seed, o.anomalous, o.located, o.confidence, o.kinds
                )?;
            }
            if misses.len() > LISTED_MISSES {
                writeln!(f, "    … and {} more", misses.len() - LISTED_MISSES)?;
            }
        }
        Ok(())
    }
}
