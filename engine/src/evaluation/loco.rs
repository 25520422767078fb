//! Leave one category out: how the live score does on metrics its parameters were not chosen
//! on. For each category of the corpus, the parameters are chosen on the other categories
//! alone — by the same search that chose the defaults: from the defaults, each parameter in
//! turn is moved a step down or up and kept where the training score (NAB's standard profile,
//! at the threshold NAB's optimiser picks on the training files) improves, for two rounds —
//! and the threshold with them; the held-out category is then scored with those parameters at
//! that threshold, by NAB's rules. A number on data the parameters saw is a tuning aid; the
//! mean of the held-out folds is the evidence.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::nab::{live_scores, LabelledFile};
use super::nab_scoring::{best, normalised, scorable_rows, sweep, ThresholdScore, PROFILES};
use crate::stats::live_score::LiveScoreConfig;

/// One parameter of the live score that the search may move, and the steps it tries.
struct Knob {
    name: &'static str,
    /// The parameter's value in `config`, and `config` with it set to another value.
    get: fn(&LiveScoreConfig) -> f64,
    set: fn(&mut LiveScoreConfig, f64),
    /// What a step is: ×/÷ this factor (counts, scales), or ± this amount (weights).
    step: Step,
}

#[derive(Clone, Copy)]
enum Step {
    Times(f64),
    Plus(f64),
}

impl Knob {
    /// The parameter a step down and a step up from where it is in `config`.
    fn moves(&self, config: &LiveScoreConfig) -> [LiveScoreConfig; 2] {
        let now = (self.get)(config);
        let (down, up) = match self.step {
            Step::Times(f) => (now / f, now * f),
            Step::Plus(d) => (now - d, now + d),
        };
        [down, up].map(|value| {
            let mut moved = *config;
            (self.set)(&mut moved, value);
            moved
        })
    }
}

/// Rounds a count parameter, never below 1.
fn count(value: f64) -> usize {
    value.round().max(1.0) as usize
}

/// The live score's detection parameters the search moves (its computation-only settings —
/// how often baselines are refreshed, the shape memory's stride — stay as they are).
const KNOBS: [Knob; 16] = [
    Knob {
        name: "level_window",
        get: |c| c.level_window as f64,
        set: |c, v| c.level_window = count(v),
        step: Step::Times(1.5),
    },
    Knob {
        name: "level_points",
        get: |c| c.level_points as f64,
        set: |c, v| c.level_points = count(v),
        step: Step::Times(1.5),
    },
    Knob {
        name: "spread_points",
        get: |c| c.spread_points as f64,
        set: |c, v| c.spread_points = count(v),
        step: Step::Times(1.5),
    },
    Knob {
        name: "phase_residual_window",
        get: |c| c.phase_residual_window as f64,
        set: |c, v| c.phase_residual_window = count(v),
        step: Step::Times(1.5),
    },
    Knob {
        name: "shape_segment",
        get: |c| c.shape_segment as f64,
        set: |c, v| c.shape_segment = count(v),
        step: Step::Times(1.5),
    },
    Knob {
        name: "block",
        get: |c| c.block as f64,
        set: |c, v| c.block = count(v),
        step: Step::Times(1.5),
    },
    Knob {
        name: "blocks",
        get: |c| c.blocks as f64,
        set: |c, v| c.blocks = count(v),
        step: Step::Times(1.5),
    },
    Knob {
        name: "quiet",
        get: |c| c.quiet as f64,
        set: |c, v| c.quiet = count(v),
        step: Step::Times(1.5),
    },
    Knob {
        name: "incident_memory",
        get: |c| c.incident_memory as f64,
        set: |c, v| c.incident_memory = count(v),
        step: Step::Times(1.5),
    },
    Knob {
        name: "weight_level",
        get: |c| c.weights[0],
        set: |c, v| c.weights[0] = v.max(0.05),
        step: Step::Plus(0.1),
    },
    Knob {
        name: "weight_phase",
        get: |c| c.weights[2],
        set: |c, v| c.weights[2] = v.max(0.05),
        step: Step::Plus(0.1),
    },
    Knob {
        name: "weight_shape",
        get: |c| c.weights[3],
        set: |c, v| c.weights[3] = v.max(0.05),
        step: Step::Plus(0.1),
    },
    Knob {
        name: "floor_level",
        get: |c| c.floors[0],
        set: |c, v| c.floors[0] = v,
        step: Step::Times(1.5),
    },
    Knob {
        name: "floor_spread",
        get: |c| c.floors[1],
        set: |c, v| c.floors[1] = v,
        step: Step::Times(1.5),
    },
    Knob {
        name: "floor_phase",
        get: |c| c.floors[2],
        set: |c, v| c.floors[2] = v,
        step: Step::Times(1.5),
    },
    Knob {
        name: "floor_shape",
        get: |c| c.floors[3],
        set: |c, v| c.floors[3] = v,
        step: Step::Times(1.5),
    },
];

/// Parameters that can be set by hand but that the search leaves where they are.
const BY_HAND: [Knob; 2] = [
    Knob {
        name: "tail_history",
        get: |c| c.tail_history as f64,
        set: |c, v| c.tail_history = v.round().max(0.0) as usize,
        step: Step::Times(2.0),
    },
    Knob {
        name: "tail_return",
        get: |c| c.tail_return as f64,
        set: |c, v| c.tail_return = v.round().max(0.0) as usize,
        step: Step::Times(2.0),
    },
];

/// `config` with the parameter `name` set to `value`, for trying one by hand; the names are
/// [`parameter_names`].
pub fn with_parameter(config: LiveScoreConfig, name: &str, value: f64) -> Option<LiveScoreConfig> {
    let knob = KNOBS.iter().chain(&BY_HAND).find(|k| k.name == name)?;
    let mut moved = config;
    (knob.set)(&mut moved, value);
    Some(moved)
}

/// The parameters the search moves, then those only set by hand.
pub fn parameter_names() -> impl Iterator<Item = &'static str> {
    KNOBS.iter().chain(&BY_HAND).map(|k| k.name)
}

/// Rounds of the search over every knob.
const ROUNDS: usize = 2;

/// One held-out category.
#[derive(Debug, Clone, Serialize)]
pub struct Fold {
    pub category: String,
    pub files: usize,
    pub windows: usize,
    /// The parameters the search moved away from the defaults on the other categories.
    pub moved: Vec<String>,
    /// The standard-profile threshold chosen on the other categories.
    pub threshold: f64,
    /// The other categories' score with those parameters (what the search saw).
    pub training_score: f64,
    /// The held-out category's standard score with them; `None` for a category without
    /// labelled windows, which NAB's normalisation cannot score (its false alarms are counted).
    pub held_out_score: Option<f64>,
    /// Detections on the held-out files, and labelled windows hit.
    pub detections: usize,
    pub windows_hit: usize,
}

/// Every fold and the mean of the scorable ones.
#[derive(Debug, Clone, Serialize)]
pub struct LocoReport {
    pub folds: Vec<Fold>,
    /// Mean held-out standard score over the folds that have labelled windows.
    pub mean: f64,
    /// Configurations scored over the whole search.
    pub configurations: usize,
}

/// Runs the leave-one-category-out protocol over `corpus` (categories are the folder part of
/// each file's name), starting every search from `defaults`.
pub fn run(corpus: &[LabelledFile], defaults: LiveScoreConfig) -> LocoReport {
    let mut categories: Vec<String> = corpus.iter().map(|f| category(&f.name)).collect();
    categories.sort();
    categories.dedup();
    let mut scores = ScoreCache::new(corpus);
    let folds: Vec<Fold> = categories
        .iter()
        .map(|held_out| fold(corpus, &mut scores, held_out, defaults))
        .collect();
    let scorable: Vec<f64> = folds.iter().filter_map(|f| f.held_out_score).collect();
    LocoReport {
        mean: scorable.iter().sum::<f64>() / scorable.len().max(1) as f64,
        configurations: scores.len(),
        folds,
    }
}

fn category(name: &str) -> String {
    name.split_once('/').map_or(name, |(c, _)| c).to_string()
}

/// The held-out score of one category.
fn fold(
    corpus: &[LabelledFile],
    scores: &mut ScoreCache,
    held_out: &str,
    defaults: LiveScoreConfig,
) -> Fold {
    let training: Vec<usize> = (0..corpus.len())
        .filter(|&i| category(&corpus[i].name) != held_out)
        .collect();
    let testing: Vec<usize> = (0..corpus.len())
        .filter(|&i| category(&corpus[i].name) == held_out)
        .collect();
    let mut chosen = defaults;
    let mut chosen_score = standard(corpus, scores.of(&chosen), &training);
    for _ in 0..ROUNDS {
        for knob in &KNOBS {
            for candidate in knob.moves(&chosen) {
                let score = standard(corpus, scores.of(&candidate), &training);
                if score.0 > chosen_score.0 + 1e-9 {
                    (chosen, chosen_score) = (candidate, score);
                }
            }
        }
    }
    let (training_score, threshold) = chosen_score;
    let held = at_threshold(corpus, scores.of(&chosen), &testing, threshold.threshold);
    let windows: usize = testing.iter().map(|&i| corpus[i].windows.len()).sum();
    Fold {
        category: held_out.to_string(),
        files: testing.len(),
        windows,
        moved: KNOBS
            .iter()
            .filter(|k| ((k.get)(&chosen) - (k.get)(&defaults)).abs() > 1e-9)
            .map(|k| format!("{} {} → {}", k.name, (k.get)(&defaults), (k.get)(&chosen)))
            .collect(),
        threshold: threshold.threshold,
        training_score,
        held_out_score: (windows > 0).then(|| normalised(held.raw, windows, &PROFILES[0])),
        detections: held.detections,
        windows_hit: held.windows_hit,
    }
}

/// The rows of `files` under NAB's standard profile, windows numbered across them.
fn rows(
    corpus: &[LabelledFile],
    scores: &[Vec<f64>],
    files: &[usize],
) -> (Vec<super::nab_scoring::ScorableRow>, usize) {
    let mut rows = Vec::new();
    let mut windows = 0;
    for &i in files {
        rows.extend(scorable_rows(
            &scores[i],
            &corpus[i].windows,
            windows,
            &PROFILES[0],
        ));
        windows += corpus[i].windows.len();
    }
    (rows, windows)
}

/// The standard score of `files` at the threshold NAB's optimiser picks on them.
fn standard(
    corpus: &[LabelledFile],
    scores: &[Vec<f64>],
    files: &[usize],
) -> (f64, ThresholdScore) {
    let (rows, windows) = rows(corpus, scores, files);
    let chosen = best(&sweep(rows, &PROFILES[0]));
    (normalised(chosen.raw, windows, &PROFILES[0]), chosen)
}

/// The raw standard score of `files` when rows scoring at least `threshold` are detections.
fn at_threshold(
    corpus: &[LabelledFile],
    scores: &[Vec<f64>],
    files: &[usize],
    threshold: f64,
) -> ThresholdScore {
    let (rows, _) = rows(corpus, scores, files);
    let swept = sweep(rows, &PROFILES[0]);
    // The sweep runs from the highest threshold down: the last entry at or above `threshold`
    // detects exactly the rows scoring at least `threshold`.
    swept
        .iter()
        .rev()
        .find(|s| s.threshold >= threshold)
        .copied()
        .unwrap_or(swept[0])
}

/// Every file's live scores per configuration, computed once (on two threads).
struct ScoreCache<'a> {
    corpus: &'a [LabelledFile],
    scored: BTreeMap<String, Vec<Vec<f64>>>,
}

impl<'a> ScoreCache<'a> {
    fn new(corpus: &'a [LabelledFile]) -> Self {
        Self {
            corpus,
            scored: BTreeMap::new(),
        }
    }

    fn len(&self) -> usize {
        self.scored.len()
    }

    fn of(&mut self, config: &LiveScoreConfig) -> &[Vec<f64>] {
        let corpus = self.corpus;
        self.scored
            .entry(format!("{config:?}"))
            .or_insert_with(|| score_all(corpus, *config))
    }
}

fn score_all(corpus: &[LabelledFile], config: LiveScoreConfig) -> Vec<Vec<f64>> {
    let half = corpus.len() / 2;
    let (first, second) = corpus.split_at(half);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| {
            second
                .iter()
                .map(|f| live_scores(f, config))
                .collect::<Vec<_>>()
        });
        let mut scores: Vec<Vec<f64>> = first.iter().map(|f| live_scores(f, config)).collect();
        scores.extend(other.join().unwrap_or_default());
        scores
    })
}

impl fmt::Display for LocoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Leave one category out ({} configurations scored): parameters and threshold chosen on the other categories, standard profile",
            self.configurations
        )?;
        writeln!(
            f,
            "held out                 files  windows  threshold  training  held-out  detections  hit"
        )?;
        for fold in &self.folds {
            let held = fold
                .held_out_score
                .map_or("   —  ".to_string(), |s| format!("{s:>6.1}"));
            writeln!(
                f,
                "{:<24} {:>5}  {:>7}  {:>9.4}  {:>8.1}  {held}    {:>8}  {:>3}/{}",
                fold.category,
                fold.files,
                fold.windows,
                fold.threshold,
                fold.training_score,
                fold.detections,
                fold.windows_hit,
                fold.windows
            )?;
            if !fold.moved.is_empty() {
                writeln!(f, "    moved: {}", fold.moved.join(", "))?;
            }
        }
        writeln!(
            f,
            "LOCO mean of the held-out scores (folds with labelled windows): {:.1}",
            self.mean
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small labelled corpus: two categories, a level step in each file.
    fn corpus() -> Vec<LabelledFile> {
        let file = |name: &str, step_at: usize| {
            let timestamps: Vec<i64> = (0..1_200).map(|i| i as i64 * 300_000).collect();
            let values: Vec<f64> = (0..1_200)
                .map(|i| {
                    let noise = ((i * 7_919) % 13) as f64 / 13.0;
                    if i >= step_at {
                        40.0 + noise
                    } else {
                        10.0 + noise
                    }
                })
                .collect();
            LabelledFile {
                name: name.to_string(),
                timestamps,
                values,
                windows: vec![(step_at - 20, step_at + 60)],
            }
        };
        vec![
            file("a/one.csv", 700),
            file("a/two.csv", 900),
            file("b/three.csv", 800),
        ]
    }

    #[test]
    fn each_category_is_scored_with_parameters_chosen_without_it() {
        let report = run(&corpus(), LiveScoreConfig::default());
        let names: Vec<&str> = report.folds.iter().map(|f| f.category.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        for fold in &report.folds {
            assert!(fold.held_out_score.is_some(), "{fold:?}");
            assert!(fold.windows_hit >= 1, "a clean step is found: {fold:?}");
        }
        let scores: Vec<f64> = report
            .folds
            .iter()
            .filter_map(|f| f.held_out_score)
            .collect();
        assert!((report.mean - (scores[0] + scores[1]) / 2.0).abs() < 1e-9);
        assert!(
            report.configurations > KNOBS.len(),
            "the search tried the knobs"
        );
    }
}
