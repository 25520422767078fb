//! Root Cause Agent: why. Measures the shape of the main departure (step or ramp, ceiling,
//! decay, periodicity, variance), ranks the other columns by how early and how strongly
//! they deviated, looks for a deploy at the onset, and matches all that against the
//! catalogue of known failure patterns.
//!
//! # Free constants
//!
//! About twenty-five, nearly all thresholds of the shape reading, each named where it is used:
//! locating the departure (`LOCATING_THRESHOLD` 8σ·points; a peak of 3σ; a shift of 5% of
//! the level or 4 noise scales; back within 3 noise scales = over), "sustained" (5% of the
//! level or 3 scales at the end), "gradual" (80% of the shift reached after a ramp; Kendall
//! τ > 0.4 still trending), the ceiling (within 0.2% of the maximum for a fifth of the time),
//! drops (10% of the level or 8 scales), decay (a peak of 6σ, half of it two points before,
//! down to 3σ), leading columns (strength ≥ 3, 3 points ≥ 4σ), `MIN_PATTERN_SCORE` 0.5 to
//! name a pattern, confidence blended 0.7 / 0.3 with the margin over the runner-up,
//! `DESCRIPTION_BUCKETS` 200 and `MAX_HISTORY_SHIFT` 20%. The catalogue's per-pattern
//! weights (`catalogue.rs`) are a hand-written description of each failure, not fitted.

use serde::Serialize;

use super::catalogue::{FailurePattern, CATALOGUE};
use super::pattern_analyst::{CUSUM_ALLOWANCE, CUSUM_CLIP, CUSUM_THRESHOLD};
use super::{strength_to_probability, AgentName, AgentReport, Context, Evidence, WindowKind};
use crate::series::events::Event;
use crate::stats::anomalies::{cusum_regions, runs, Run};
use crate::stats::bursts::burst_periodicity;
use crate::stats::changepoint::difference_noise_scale;
use crate::stats::robust::{median, resolution, robust_scale};
use crate::stats::trend::mann_kendall;

/// CUSUM decision interval for *locating* the main departure: lower than the Pattern
/// Analyst's, because here the question is where things moved most, not whether they did.
const LOCATING_THRESHOLD: f64 = 8.0;

/// A pattern must score at least this to be named as the hypothesis; below it the agent says
/// which pattern came closest instead of asserting it.
const MIN_PATTERN_SCORE: f64 = 0.5;

/// The measured shape of a series' main departure, as the catalogue reads it.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    /// +1 above normal, −1 below.
    pub direction: f64,
    /// Still away from the old level at the end of the series.
    pub sustained: bool,
    /// Where the departure ends (its last points, with the seasonal pattern taken out) against
    /// the level right before it, in % of the metric's level.
    pub shift_pct: f64,
    /// Reached its new level over a ramp rather than a step.
    pub gradual: bool,
    /// Kendall's τ of the deseasonalised values after the onset.
    pub trend_tau: f64,
    /// The second half of the post-onset stretch still trends the same way (no plateau).
    pub still_rising: bool,
    /// Sharp drops after climbs (restarts, GC): the teeth of a saw.
    pub sawtooth: usize,
    /// Share of post-onset points pinned at the series maximum.
    pub ceiling_share: f64,
    /// A related column that deviated is pinned at its own maximum.
    pub related_ceiling: bool,
    /// Residual spread after the onset ÷ before.
    pub variance_ratio: f64,
    /// Number of upward bursts.
    pub spikes: usize,
    pub bursts_periodic: bool,
    /// The largest surge decays gradually instead of vanishing at once.
    pub spike_then_decay: bool,
    /// Share of values at (or within 1% of the peak of) zero.
    pub zero_floor: f64,
    pub outage: bool,
    pub seasonality_break: bool,
    /// A deploy or config change right before the onset.
    pub deploy: Option<Event>,
    /// Lower-case metric name plus the names of columns that deviated.
    pub names: String,
}

/// Another column of the same input, ranked as a candidate cause.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateCause {
    pub column: String,
    /// Minutes it deviated before the investigated metric (negative = after).
    pub lead_minutes: f64,
    /// Median |robust z| after the onset, against its own earlier baseline.
    pub strength: f64,
}

/// The agent's best explanation.
#[derive(Debug, Clone, Serialize)]
pub struct Hypothesis {
    pub pattern: &'static str,
    pub name: &'static str,
    pub confidence: f64,
    pub text: String,
    pub candidates: Vec<CandidateCause>,
}

/// The main departure from baseline.
struct Departure {
    run: Run,
    direction: f64,
    strength: f64,
}

pub fn investigate(context: &Context) -> (AgentReport, Option<Hypothesis>) {
    let Some(departure) = main_departure(context) else {
        return (
            nothing_to_explain(context, "has no departure from its baseline"),
            None,
        );
    };
    let candidates = rank_related(context, departure.run.start);
    let shape = measure_shape(context, &departure, &candidates);
    tracing::debug!(?shape, onset = departure.run.start, "root cause shape");
    let mut ranked: Vec<(&FailurePattern, f64)> =
        CATALOGUE.iter().map(|p| (p, p.score(&shape))).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (best, best_score) = ranked[0];
    let runner_up = ranked.get(1).map_or(0.0, |r| r.1);
    let confidence = if best_score > 0.0 {
        best_score * (0.7 + 0.3 * (best_score - runner_up) / best_score)
    } else {
        0.1
    };
    let text = hypothesis_text(context, best, &departure, &shape, &candidates);
    let mut evidence: Vec<Evidence> = ranked
        .iter()
        .take(3)
        .filter(|(_, score)| *score > 0.0)
        .map(|(p, score)| Evidence::new("pattern_score", *score, p.name))
        .collect();
    evidence.extend(candidates.iter().take(5).map(|c| {
        Evidence::new(
            "candidate_cause",
            c.lead_minutes,
            format!(
                "`{}` deviated {} (strength {:.1}σ)",
                c.column,
                lead_words(c.lead_minutes),
                c.strength
            ),
        )
    }));
    evidence.push(Evidence::new(
        "shift_pct",
        shape.shift_pct,
        "the departure's last points vs the level right before it, % of the level",
    ));
    evidence.push(Evidence::new(
        "sustained",
        f64::from(u8::from(shape.sustained)),
        "1 when the departure runs to the end and is still away from the old level",
    ));
    evidence.push(Evidence::new(
        "variance_ratio",
        shape.variance_ratio,
        "residual spread after the onset ÷ before",
    ));
    evidence.push(Evidence::new(
        "trend_tau",
        shape.trend_tau,
        "Kendall τ after the onset",
    ));
    let matched = best_score >= MIN_PATTERN_SCORE;
    if !matched && departure.strength < 1.0 {
        // A wobble below the outlier threshold that fits no pattern: nothing to explain,
        // and no talk of an "onset".
        return (
            nothing_to_explain(context, "departs from its baseline by less than an outlier"),
            None,
        );
    }
    let hypothesis = matched.then(|| Hypothesis {
        pattern: best.id,
        name: best.name,
        confidence,
        text: text.clone(),
        candidates: candidates.clone(),
    });
    let report = AgentReport {
        agent: AgentName::RootCause,
        confidence,
        finding: if matched {
            text
        } else if best_score > 0.0 {
            format!(
                "No known failure pattern fits well; the closest is {} (score {best_score:.2}).",
                best.name.to_lowercase()
            )
        } else {
            "The departure matches no known failure pattern.".to_string()
        },
        evidence,
        anomaly_probability: strength_to_probability(departure.strength),
        windows: Vec::new(),
    };
    (report, hypothesis)
}

/// The report of an agent that found nothing to explain, saying why in plain words.
fn nothing_to_explain(context: &Context, why: &str) -> AgentReport {
    AgentReport {
        agent: AgentName::RootCause,
        confidence: 0.9,
        finding: format!("Nothing to explain: {} {why}.", context.series.metric),
        evidence: Vec::new(),
        anomaly_probability: 0.05,
        windows: Vec::new(),
    }
}

/// The main departure: a lasting shift when there is one, else the strongest collective
/// excursion (CUSUM) or the largest single outlier, whichever is stronger.
fn main_departure(context: &Context) -> Option<Departure> {
    let z = context.z();
    let clipped: Vec<f64> = z.iter().map(|v| v.clamp(-CUSUM_CLIP, CUSUM_CLIP)).collect();
    let threshold = context.outlier_threshold();
    let focus = context.focus_start;
    let region = cusum_regions(&clipped, CUSUM_ALLOWANCE, LOCATING_THRESHOLD)
        .into_iter()
        .filter(|r| r.run.end >= focus)
        .max_by(|a, b| a.peak.total_cmp(&b.peak));
    let (peak_index, peak_z) = z
        .iter()
        .enumerate()
        .skip(focus)
        .map(|(i, v)| (i, *v))
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))?;
    let from_region = region.map(|r| Departure {
        run: r.run,
        direction: f64::from(r.direction),
        strength: r.peak / CUSUM_THRESHOLD,
    });
    let from_point = (peak_z.abs() >= 3.0).then(|| Departure {
        run: Run {
            start: peak_index,
            end: peak_index,
        },
        direction: peak_z.signum(),
        strength: peak_z.abs() / threshold,
    });
    // What lasted matters most to an SRE; passing excursions explain only when nothing lasted.
    lasting_departure(context).or_else(|| {
        [from_region, from_point]
            .into_iter()
            .flatten()
            .max_by(|a, b| a.strength.total_cmp(&b.strength))
    })
}

/// A lasting departure: the end of the series sits away from its beginning (by 5% of the
/// level and 4 noise scales at least). Its onset is the last moment the series was still
/// within 3 noise scales of where it began: right before a step, at the foot of a ramp.
fn lasting_departure(context: &Context) -> Option<Departure> {
    let buckets = deseasonalised_buckets(context, 0);
    let m = buckets.len();
    if m < 8 {
        return None;
    }
    let noise = difference_noise_scale(&buckets)?;
    let baseline = median(&buckets[..m / 4])?;
    let tail = median(&buckets[m - (m / 10).max(2)..])?;
    let shift = tail - baseline;
    if shift.abs() < (0.05 * context.level()).max(4.0 * noise) {
        return None;
    }
    let direction = shift.signum();
    let onset_bucket = buckets
        .iter()
        .rposition(|v| (v - baseline) * direction < 3.0 * noise)
        .map_or(0, |i| i + 1);
    let n = context.series.len();
    let bucket_size = n.div_ceil(DESCRIPTION_BUCKETS).max(1);
    Some(Departure {
        run: Run {
            start: (onset_bucket * bucket_size).min(n - 1),
            end: n - 1,
        },
        direction,
        strength: shift.abs() / (4.0 * noise),
    })
}

/// Buckets the shape is described on.
const DESCRIPTION_BUCKETS: usize = 200;

/// Bucket medians (≤ 200) of the deseasonalised values from point `from` on.
fn deseasonalised_buckets(context: &Context, from: usize) -> Vec<f64> {
    let values = &context.series.values;
    let n = values.len();
    let size = (n - from).div_ceil(DESCRIPTION_BUCKETS).max(1);
    (from..n)
        .step_by(size)
        .filter_map(|start| {
            context
                .decomposition
                .deseasonalised_median(values, start..(start + size).min(n))
        })
        .collect()
}

fn measure_shape(context: &Context, departure: &Departure, candidates: &[CandidateCause]) -> Shape {
    let series = context.series;
    let d = context.decomposition;
    let n = series.len();
    let onset = departure.run.start;
    let level = context.level();
    let (baseline, shift) = departure_shift(context, departure);
    // A lasting shift defines the direction; the local departure only when nothing lasted.
    let sustained = departure.run.end + 1 >= n && shift.abs() >= (0.05 * level).max(3.0 * d.scale);
    let direction = if sustained {
        shift.signum()
    } else {
        departure.direction
    };
    let post = deseasonalised_buckets(context, onset);
    let gradual = is_gradual(&post, baseline);
    let spikes = runs(&(0..n).map(|i| d.z(i) >= 4.0).collect::<Vec<_>>(), 1);
    let spike_starts: Vec<i64> = spikes.iter().map(|r| series.timestamps[r.start]).collect();
    let names = std::iter::once(series.metric.to_lowercase())
        .chain(
            candidates
                .iter()
                .filter(|c| c.strength >= 3.0)
                .map(|c| c.column.to_lowercase()),
        )
        .collect::<Vec<_>>()
        .join(" ");
    Shape {
        direction,
        sustained,
        gradual,
        trend_tau: mann_kendall(&post).map_or(0.0, |t| t.tau * direction),
        still_rising: mann_kendall(&post[post.len() / 2..])
            .is_some_and(|t| t.tau * direction > 0.4),
        sawtooth: sawtooth_teeth(&series.values, level),
        ceiling_share: ceiling_share(&series.values, onset),
        related_ceiling: related_ceiling(context, onset, candidates),
        variance_ratio: variance_ratio(&d.residual, onset, resolution(&series.values)),
        spikes: spikes.len(),
        bursts_periodic: burst_periodicity(&spike_starts).is_some_and(|p| p.is_periodic()),
        spike_then_decay: spike_then_decay(context),
        zero_floor: zero_floor(&series.values),
        outage: super::pattern_analyst::outages(context)
            .iter()
            .any(|w| w.kind == WindowKind::Outage),
        shift_pct: 100.0 * shift / level,
        seasonality_break: d.seasonality.is_some()
            && !sustained
            && departure.run.points() >= 4
            && direction < 0.0,
        deploy: super::change_detective::nearest_event(context, onset)
            .filter(|e| is_change_event(e))
            .cloned(),
        names,
    }
}

/// The level right before `departure` (the seasonal pattern taken out) and how far its last
/// points sit from it: read from the departure itself, so a step of the last two hours of
/// three days is measured as the step, not as the last tenth of the series.
fn departure_shift(context: &Context, departure: &Departure) -> (f64, f64) {
    let d = context.decomposition;
    let values = &context.series.values;
    let n = values.len();
    let onset = departure.run.start;
    let baseline = d
        .deseasonalised_median(values, super::synthesizer::level_before(onset))
        .or_else(|| d.deseasonalised_median(values, 0..(n / 10).max(1)))
        .unwrap_or_else(|| context.level());
    let run = departure.run.end + 1 - onset;
    let tail_points = (run / 2).clamp(1, (n / 10).max(3));
    let tail = d
        .deseasonalised_median(
            values,
            departure.run.end + 1 - tail_points..departure.run.end + 1,
        )
        .unwrap_or(baseline);
    (baseline, tail - baseline)
}

fn is_change_event(event: &Event) -> bool {
    ["deploy", "release", "rollout", "config", "migration"]
        .iter()
        .any(|k| event.kind.contains(k))
}

/// A ramp: after the onset it takes a tenth of the remaining time (≥ 4 buckets) to cover
/// 80% of the final shift.
fn is_gradual(post: &[f64], baseline: f64) -> bool {
    if post.len() < 5 {
        return false;
    }
    let tail = median(&post[post.len() - (post.len() / 10).max(1)..]).unwrap_or(baseline);
    let shift = tail - baseline;
    if shift == 0.0 {
        return false;
    }
    let reached = post
        .iter()
        .position(|v| (v - baseline) / shift >= 0.8)
        .unwrap_or(post.len());
    reached >= 4.max(post.len() / 10)
}

fn sawtooth_teeth(values: &[f64], level: f64) -> usize {
    let differences: Vec<f64> = values.windows(2).map(|w| w[1] - w[0]).collect();
    let scale = robust_scale(&differences).unwrap_or(0.0);
    differences
        .iter()
        .filter(|d| **d < -(0.1 * level).max(8.0 * scale))
        .count()
}

fn ceiling_share(values: &[f64], onset: usize) -> f64 {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let tolerance = (max - min) * 0.002;
    let post = &values[onset..];
    if max <= min || post.is_empty() {
        return 0.0;
    }
    post.iter().filter(|v| **v >= max - tolerance).count() as f64 / post.len() as f64
}

fn related_ceiling(context: &Context, onset: usize, candidates: &[CandidateCause]) -> bool {
    context
        .series
        .related
        .iter()
        .filter(|c| {
            candidates
                .iter()
                .any(|k| k.column == c.name && k.strength >= 3.0)
        })
        .any(|c| {
            let finite: Vec<f64> = c
                .values
                .iter()
                .map(|v| if v.is_finite() { *v } else { f64::NEG_INFINITY })
                .collect();
            ceiling_share(&finite, onset) > 0.2
        })
}

/// Residual spread after `onset` ÷ before; a spread finer than the values' `resolution` counts
/// as that resolution (an exactly flat stretch before a noisy one is not an infinite ratio).
fn variance_ratio(residual: &[f64], onset: usize, resolution: f64) -> f64 {
    let (before, after) = residual.split_at(onset);
    match (robust_scale(before), robust_scale(after)) {
        (Some(b), Some(a)) if before.len() >= 10 && after.len() >= 10 && b > 0.0 => {
            a.max(resolution) / b.max(resolution)
        }
        _ => 1.0,
    }
}

/// The largest surge rises within two points, stays above 3σ for at least three points and
/// then recovers: a cache refilling, a queue draining (a lasting step does not qualify).
fn spike_then_decay(context: &Context) -> bool {
    let d = context.decomposition;
    let n = d.residual.len();
    let Some(peak) = (0..n).max_by(|a, b| d.z(*a).total_cmp(&d.z(*b))) else {
        return false;
    };
    let peak_z = d.z(peak);
    if peak_z < 6.0 || peak < 2 {
        return false;
    }
    let sharp_rise = d.z(peak - 2) < 0.5 * peak_z;
    let decay = (peak + 1..n)
        .take_while(|i| d.z(*i) >= 3.0 && d.z(*i) <= peak_z)
        .count();
    let recovered = peak + decay + 1 < n && decay < n / 8;
    sharp_rise && decay >= 3 && recovered
}

fn zero_floor(values: &[f64]) -> f64 {
    let peak = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if peak == 0.0 {
        return 1.0;
    }
    values.iter().filter(|v| v.abs() <= 0.01 * peak).count() as f64 / values.len() as f64
}

/// Ranks the other columns by how early (then how strongly) they left their own baseline.
pub fn rank_related(context: &Context, onset: usize) -> Vec<CandidateCause> {
    let series = context.series;
    let n = series.len();
    let baseline_end = onset.saturating_sub(n / 50).max(n / 10).min(n);
    let mut ranked: Vec<CandidateCause> = series
        .related
        .iter()
        .filter_map(|column| {
            let before: Vec<f64> = column.values[..baseline_end]
                .iter()
                .copied()
                .filter(|v| v.is_finite())
                .collect();
            let center = median(&before)?;
            let scale = robust_scale(&before)
                .filter(|s| *s > 0.0)
                .unwrap_or_else(|| center.abs().max(1.0) * 0.01);
            let z: Vec<f64> = column
                .values
                .iter()
                .map(|v| {
                    if v.is_finite() {
                        (v - center) / scale
                    } else {
                        0.0
                    }
                })
                .collect();
            let after: Vec<f64> = z[onset..].iter().map(|v| v.abs()).collect();
            let strength = median(&after)?;
            let search_from = onset.saturating_sub(n / 4).max(baseline_end.min(onset));
            let deviated_at = (search_from..n.saturating_sub(2))
                .find(|&i| (i..i + 3).all(|j| z[j].abs() >= 4.0))
                .unwrap_or(onset);
            let lead_minutes =
                (series.timestamps[onset] - series.timestamps[deviated_at]) as f64 / 60_000.0;
            Some(CandidateCause {
                column: column.name.clone(),
                lead_minutes,
                strength,
            })
        })
        .collect();
    ranked.sort_by(|a, b| {
        let deviated = |c: &CandidateCause| c.strength >= 3.0;
        deviated(b)
            .cmp(&deviated(a))
            .then(b.lead_minutes.total_cmp(&a.lead_minutes))
            .then(b.strength.total_cmp(&a.strength))
    });
    ranked
}

fn lead_words(minutes: f64) -> String {
    if minutes.abs() < 0.5 {
        "at the same time".to_string()
    } else if minutes > 0.0 {
        format!("{minutes:.0} min earlier")
    } else {
        format!("{:.0} min later", -minutes)
    }
}

fn hypothesis_text(
    context: &Context,
    pattern: &FailurePattern,
    departure: &Departure,
    shape: &Shape,
    candidates: &[CandidateCause],
) -> String {
    let mut text = format!(
        "{} suspected: {}. Onset {}",
        pattern.name,
        pattern.explanation,
        context.time_of(departure.run.start)
    );
    if let Some(lead) = candidates.iter().find(|c| c.strength >= 3.0) {
        text.push_str(&format!(
            "; `{}` deviated {}",
            lead.column,
            lead_words(lead.lead_minutes)
        ));
    }
    if let Some(event) = &shape.deploy {
        text.push_str(&format!(
            "; {} `{}` at {}",
            event.kind,
            event.description,
            crate::series::timestamp::to_rfc3339(event.timestamp)
        ));
    }
    text.push('.');
    text
}

/// Most a history of similar incidents can move the agent's confidence, either way.
const MAX_HISTORY_SHIFT: f64 = 0.2;

/// What similar past incidents add to the Root Cause Agent's report: a citation ("3 similar
/// incidents; 2 confirmed as `pool exhausted`"), evidence lines, and a confidence shift:
/// +0.1 per confirmed match, −0.1 per match judged a false positive (±0.2 at most).
/// Returns the sentence to append to the hypothesis, if any.
pub fn recall(
    report: &mut AgentReport,
    similar: &[crate::learning::SimilarIncident],
) -> Option<String> {
    use crate::learning::FeedbackVerdict;
    if similar.is_empty() {
        return None;
    }
    let confirmed: Vec<_> = similar
        .iter()
        .filter(|s| s.feedback == Some(FeedbackVerdict::Confirmed))
        .collect();
    let false_alarms = similar
        .iter()
        .filter(|s| s.feedback == Some(FeedbackVerdict::FalsePositive))
        .count();
    let mut sentence = format!(
        "Seen before: {} similar incident{}",
        similar.len(),
        if similar.len() == 1 { "" } else { "s" }
    );
    if !confirmed.is_empty() {
        sentence.push_str(&format!("; {} confirmed", confirmed.len()));
        if let Some(cause) = most_common(confirmed.iter().filter_map(|s| s.root_cause.as_deref())) {
            sentence.push_str(&format!(" as “{cause}”"));
        }
    }
    if false_alarms > 0 {
        sentence.push_str(&format!(
            "; {false_alarms} judged false positive{}",
            if false_alarms == 1 { "" } else { "s" }
        ));
    }
    sentence.push('.');
    let shift = (0.1 * confirmed.len() as f64).min(MAX_HISTORY_SHIFT)
        - (0.1 * false_alarms as f64).min(MAX_HISTORY_SHIFT);
    report.confidence = (report.confidence + shift).clamp(0.05, 0.99);
    report.finding = format!("{} {sentence}", report.finding);
    report.evidence.extend(similar.iter().map(|s| {
        Evidence::new(
            "similar_incident",
            s.distance,
            format!(
                "{} at {} ({}), id {}",
                s.metric,
                crate::series::timestamp::to_rfc3339(s.created_at),
                s.judgement(),
                s.id
            ),
        )
    }));
    Some(sentence)
}

fn most_common<'a>(items: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for item in items {
        match counts
            .iter_mut()
            .find(|(seen, _)| seen.eq_ignore_ascii_case(item))
        {
            Some((_, n)) => *n += 1,
            None => counts.push((item, 1)),
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(item, _)| item)
}
