//! Pattern Analyst: point and collective outliers against the robust, seasonality-aware
//! baseline; flat-lines and zero runs (outages); missing rows (no data: where the values
//! never dropped, rows are simply absent, which is a fact about the data, not an outage).
//!
//! # Free constants
//!
//! Eight, each with its mechanism: the point-outlier bound is the level the metric's own tail
//! passes by chance with probability 1% anywhere in the series, never below the Gaussian
//! bound for that many points (`Context::outlier_threshold`: the risk `OUTLIER_RISK` is the
//! constant), and two neighbouring readings are outliers together at the level each passes
//! with the square root of that chance (no new constant: independent noise, the same risk);
//! `CUSUM_ALLOWANCE` 1σ, `CUSUM_THRESHOLD` 25σ·points and `CUSUM_CLIP` 4σ (a collective
//! shift of about 2σ sustained for a dozen points, that one spike cannot fake); collective
//! runs of at least 3 points; `MATERIALITY` 0.5% of the level (a departure smaller than
//! that is no news whatever its z); `MIN_FLAT_RUN` 5 identical readings (a flat-line); and
//! 0.8, how much of the way to the outlier bound makes a probability of one half.

use super::{
    strength_to_probability, window_magnitude, AgentName, AgentReport, Context, Evidence, Window,
    WindowKind, OUTLIER_RISK,
};
use crate::series::{Gap, GAP_FACTOR};
use crate::stats::anomalies::{constant_runs, cusum_regions, point_threshold, runs, Run};
use crate::stats::seasonality::DAY_MS;
use crate::stats::tail::rare_level;
use crate::stats::{iqr_fences, percentile};

/// CUSUM allowance: shifts under ~2σ are not collective anomalies.
pub(crate) const CUSUM_ALLOWANCE: f64 = 1.0;
/// CUSUM decision interval, in σ·points.
pub(crate) const CUSUM_THRESHOLD: f64 = 25.0;
/// z-scores are clipped here before the CUSUM so one spike cannot pass for a collective shift.
pub(crate) const CUSUM_CLIP: f64 = 4.0;
/// A deviation smaller than this share of the metric's level is not material.
const MATERIALITY: f64 = 0.005;
/// Fewest consecutive identical or zero readings that count as a flat-line or outage.
const MIN_FLAT_RUN: usize = 5;

pub fn investigate(context: &Context) -> AgentReport {
    let z = context.z();
    let threshold = context.outlier_threshold();
    let level = context.level();

    let mut windows = Vec::new();
    windows.extend(point_outliers(context, z, threshold, level));
    let (collective, collective_peak) = collective_outliers(context, z);
    windows.extend(collective);
    let outages = outages(context);
    windows.extend(outages.iter().copied());
    let mut windows: Vec<Window> = windows
        .into_iter()
        .filter_map(|w| context.in_focus(w))
        .collect();
    windows.sort_by_key(|w| w.start);

    let max_z = z[context.focus()]
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let anomaly_probability = windows
        .iter()
        .filter(|w| w.kind != WindowKind::NoData)
        .map(|w| w.score)
        .fold(strength_to_probability(max_z / threshold * 0.8), f64::max);
    let mut evidence = evidence(context, z, threshold, max_z, &windows);
    if collective_peak > 0.0 {
        // A sustained departure can be certain while no single point is an outlier; say so.
        evidence.insert(
            1,
            Evidence::new(
                "sustained_departure",
                collective_peak,
                format!(
                    "largest CUSUM of the clipped z-scores (σ·points); a collective anomaly from {CUSUM_THRESHOLD:.0}"
                ),
            ),
        );
    }
    let finding = finding(context, &windows, max_z);
    AgentReport::detection(
        AgentName::PatternAnalyst,
        finding,
        evidence,
        anomaly_probability,
        windows,
    )
}

/// Points whose |z| passes the length-aware threshold, or that pass with a neighbour the
/// lower bar two neighbouring readings of the metric's noise pass together
/// ([`pair_threshold`]), and whose deviation is material.
fn point_outliers(context: &Context, z: &[f64], threshold: f64, level: f64) -> Vec<Window> {
    let d = context.decomposition;
    let pair = pair_threshold(z);
    let beyond_pair = |i: usize, j: usize| {
        z[i].abs() >= pair && z[j].abs() >= pair && z[i].signum() == z[j].signum()
    };
    let strength = |i: usize| {
        let paired = [i.checked_sub(1), Some(i + 1).filter(|&j| j < z.len())]
            .into_iter()
            .flatten()
            .filter(|&j| beyond_pair(i, j))
            .map(|j| z[i].abs().min(z[j].abs()) / pair)
            .fold(0.0, f64::max);
        (z[i].abs() / threshold).max(paired)
    };
    let mask: Vec<bool> = (0..z.len())
        .map(|i| strength(i) >= 1.0 && d.residual[i].abs() >= MATERIALITY * level)
        .collect();
    runs(&mask, 1)
        .into_iter()
        .map(|run| {
            let peak = (run.start..=run.end).map(strength).fold(0.0, f64::max);
            let magnitude = window_magnitude(context, run.start, run.end);
            Window {
                start: run.start,
                end: run.end,
                kind: WindowKind::excursion(magnitude),
                score: strength_to_probability(peak),
                magnitude,
            }
        })
        .collect()
}

/// The |z| that two neighbouring readings both pass with probability 1% anywhere in the
/// series, if the noise's readings are independent: each with the square root of that
/// chance, read from the metric's own tail as for a single point, and never below the single
/// point's Gaussian bound. Only a heavy tail brings it below the single-point bound: there a
/// reading of 50 noise scales is an ordinary day, and two in a row are not.
///
/// Read only where two neighbours pass the bound's floor (the tail is read by sorting; most
/// series have no such pair, and the answer cannot matter there).
fn pair_threshold(z: &[f64]) -> f64 {
    let floor = point_threshold(z.len());
    let beyond_floor = |pair: &[f64]| {
        pair[0].abs() >= floor && pair[1].abs() >= floor && pair[0].signum() == pair[1].signum()
    };
    if !z.windows(2).any(beyond_floor) {
        return floor;
    }
    let risk_over_all = (OUTLIER_RISK * z.len() as f64).sqrt();
    rare_level(z, risk_over_all, floor)
}

/// Sustained departures found by CUSUM over clipped z-scores: a seasonal series that left its
/// usual shape, or a non-seasonal one that left its level for a while; and the highest CUSUM
/// reached in the judged range.
fn collective_outliers(context: &Context, z: &[f64]) -> (Vec<Window>, f64) {
    let clipped: Vec<f64> = z.iter().map(|v| v.clamp(-CUSUM_CLIP, CUSUM_CLIP)).collect();
    let kind = if context.decomposition.seasonality.is_some() {
        WindowKind::SeasonalityBreak
    } else {
        WindowKind::LevelShift
    };
    let regions: Vec<_> = cusum_regions(&clipped, CUSUM_ALLOWANCE, CUSUM_THRESHOLD)
        .into_iter()
        .filter(|region| region.run.end >= context.focus_start)
        .collect();
    let peak = regions.iter().map(|r| r.peak).fold(0.0, f64::max);
    let windows = regions
        .into_iter()
        .filter(|region| region.run.points() >= 3)
        .map(|region| Window {
            start: region.run.start,
            end: region.run.end,
            kind,
            score: strength_to_probability(region.peak / CUSUM_THRESHOLD),
            magnitude: window_magnitude(context, region.run.start, region.run.end),
        })
        .filter(|window| window.magnitude.abs() >= MATERIALITY)
        .collect();
    (windows, peak)
}

/// Zero runs where the metric is normally non-zero and flat-lines where it normally moves
/// (outages); silent gaps and runs of blank cells (no data).
pub(crate) fn outages(context: &Context) -> Vec<Window> {
    let series = context.series;
    let values = &series.values;
    let n = values.len();
    let mut found = Vec::new();
    let zero_share = values.iter().filter(|v| **v == 0.0).count() as f64 / n as f64;
    let repeat_share = values.windows(2).filter(|w| w[0] == w[1]).count() as f64 / n as f64;
    let min_run = MIN_FLAT_RUN.max(n / 200);
    let ceiling = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    for run in constant_runs(values, min_run) {
        let is_zero = values[run.start] == 0.0 && zero_share < 0.2;
        // Pinned at the series maximum is saturation (a quota, a pool size), not silence.
        let is_stuck =
            repeat_share < 0.2 && run.points() >= 2 * min_run && values[run.start] < ceiling;
        if is_zero || is_stuck {
            found.push(outage_window(
                context,
                run,
                1.5 + run.points() as f64 / (4.0 * min_run as f64),
            ));
        }
    }
    let min_gap_ms = (GAP_FACTOR + 2) * series.interval_ms;
    for gap in series
        .gaps
        .iter()
        .filter(|g| g.before - g.after >= min_gap_ms && !routine_silence(g, &series.gaps))
    {
        let run = Run {
            start: series.index_at(gap.after),
            end: series.index_at(gap.before),
        };
        found.push(no_data_window(run));
    }
    found.extend(blank_runs(series).into_iter().map(no_data_window));
    found
}

/// Rows missing between `run.start` and `run.end` (the points on either side).
fn no_data_window(run: Run) -> Window {
    Window {
        start: run.start,
        end: run.end,
        kind: WindowKind::NoData,
        score: 1.0,
        magnitude: 0.0,
    }
}

/// Silences the metric keeps: at least three others at least half as long (it often goes
/// quiet this long), or one at the same hours on another day (idle nights, batch windows).
fn routine_silence(gap: &Gap, gaps: &[Gap]) -> bool {
    let length = |g: &Gap| g.before - g.after;
    let similar: Vec<&Gap> = gaps
        .iter()
        .filter(|g| *g != gap && 2 * length(g) >= length(gap))
        .collect();
    // Starts a whole number of days apart, give or take half the silence.
    let same_hours = |g: &&Gap| {
        let apart = (g.after - gap.after).abs();
        let off_by = (apart + DAY_MS / 2) % DAY_MS - DAY_MS / 2;
        apart >= DAY_MS / 2 && 2 * off_by.abs() <= length(gap)
    };
    similar.len() >= 3 || similar.iter().any(same_hours)
}

fn outage_window(context: &Context, run: Run, strength: f64) -> Window {
    Window {
        start: run.start,
        end: run.end,
        kind: WindowKind::Outage,
        score: strength_to_probability(strength),
        magnitude: window_magnitude(context, run.start, run.end).min(-1.0),
    }
}

/// Runs of at least three consecutive blank value cells, placed between their neighbours.
fn blank_runs(series: &crate::series::Series) -> Vec<Run> {
    let mut found = Vec::new();
    let blanks = &series.blank_at;
    let mut start = 0;
    for i in 1..=blanks.len() {
        let contiguous = i < blanks.len() && blanks[i] - blanks[i - 1] <= series.interval_ms * 2;
        if !contiguous {
            if i - start >= 3 {
                let first = series.index_at(blanks[start]).saturating_sub(1);
                found.push(Run {
                    start: first,
                    end: series.index_at(blanks[i - 1]),
                });
            }
            start = i;
        }
    }
    found
}

fn evidence(
    context: &Context,
    z: &[f64],
    threshold: f64,
    max_z: f64,
    windows: &[Window],
) -> Vec<Evidence> {
    let values = &context.series.values;
    let d = context.decomposition;
    let mut evidence = vec![Evidence::new(
        "max_robust_z",
        max_z,
        format!(
            "largest |z| against the baseline; outlier threshold {threshold:.2} (further out when the metric's own tail is heavy)"
        ),
    )];
    let outliers = z.iter().filter(|v| v.abs() >= threshold).count();
    evidence.push(Evidence::new(
        "outlier_points",
        outliers as f64,
        "points beyond the threshold",
    ));
    if let Some((low, high)) = iqr_fences(values, 3.0) {
        let outside = values.iter().filter(|v| **v < low || **v > high).count();
        evidence.push(Evidence::new(
            "beyond_iqr_fences",
            outside as f64,
            format!("points outside the far-out IQR fences [{low:.4}, {high:.4}]"),
        ));
    }
    for p in [50.0, 95.0, 99.0] {
        if let Some(value) = percentile(values, p) {
            evidence.push(Evidence::new(
                &format!("p{p:.0}"),
                value,
                "percentile of the values",
            ));
        }
    }
    evidence.push(Evidence::new(
        "noise_scale",
        d.scale,
        "robust standard deviation of the residuals",
    ));
    if let Some(season) = d.seasonality {
        evidence.push(Evidence::new(
            "seasonal_period_hours",
            season.period_ms as f64 / 3.6e6,
            format!(
                "{} seasonal baseline, autocorrelation {:.2}",
                season.label(),
                season.strength
            ),
        ));
    }
    let density = spike_density_ratio(z);
    evidence.push(Evidence::new(
        "spike_density_ratio",
        density,
        "share of |z| > 3 points in the last third ÷ the first two thirds",
    ));
    let missing = context.series.blank_at.len() + context.series.gaps.len();
    if missing > 0 {
        evidence.push(Evidence::new(
            "missing_data",
            missing as f64,
            "blank cells plus silent gaps",
        ));
    }
    for w in windows
        .iter()
        .filter(|w| w.kind == WindowKind::NoData)
        .take(5)
    {
        let t = &context.series.timestamps;
        evidence.push(Evidence::new(
            "no_data_hours",
            (t[w.end] - t[w.start]) as f64 / 3.6e6,
            format!(
                "no rows from {} to {}",
                context.time_of(w.start),
                context.time_of(w.end)
            ),
        ));
    }
    for w in windows
        .iter()
        .filter(|w| w.kind != WindowKind::NoData)
        .take(5)
    {
        evidence.push(Evidence::new(
            w.kind.label(),
            w.magnitude * 100.0,
            format!(
                "{} to {}, {:+.0}% vs baseline",
                context.time_of(w.start),
                context.time_of(w.end),
                w.magnitude * 100.0
            ),
        ));
    }
    evidence
}

/// How much denser spikes are at the end than before (1 = unchanged).
fn spike_density_ratio(z: &[f64]) -> f64 {
    let split = z.len() * 2 / 3;
    let rate = |part: &[f64]| {
        (part.iter().filter(|v| v.abs() > 3.0).count() as f64 + 0.5) / part.len().max(1) as f64
    };
    rate(&z[split..]) / rate(&z[..split])
}

fn finding(context: &Context, windows: &[Window], max_z: f64) -> String {
    let metric = &context.series.metric;
    let (missing, windows): (Vec<Window>, Vec<Window>) =
        windows.iter().partition(|w| w.kind == WindowKind::NoData);
    let missing = match missing.first() {
        Some(first) => format!(
            "{}; ",
            capitalize(&no_data_phrase(context, first, missing.len()))
        ),
        None => String::new(),
    };
    let Some(worst) = windows.iter().max_by(|a, b| a.score.total_cmp(&b.score)) else {
        return format!(
            "{missing}{metric} stays within its expected band (largest deviation {max_z:.1}σ)."
        );
    };
    let others = windows.len() - 1;
    let extra = if others > 0 {
        format!(" and {others} more anomalous window(s)")
    } else {
        String::new()
    };
    format!(
        "{missing}{} in {metric} at {} ({:+.0}% vs baseline){extra}.",
        capitalize(worst.kind.label()),
        context.time_of(worst.start),
        worst.magnitude * 100.0
    )
}

/// `text` with its first letter upper-cased (`"level shift"` → `"Level shift"`).
/// `no data from … to … (21 h)`, and how many more stretches lack data, for a person.
pub fn no_data_phrase(context: &Context, first: &Window, stretches: usize) -> String {
    let t = &context.series.timestamps;
    let hours = (t[first.end] - t[first.start]) as f64 / 3.6e6;
    let more = match stretches {
        0 | 1 => String::new(),
        2 => " and 1 more stretch".to_string(),
        k => format!(" and {} more stretches", k - 1),
    };
    format!(
        "no data from {} to {} ({}){more}",
        context.time_of(first.start),
        context.time_of(first.end),
        if hours >= 1.0 {
            format!("{hours:.0} h")
        } else {
            format!("{:.0} min", hours * 60.0)
        }
    )
}

pub fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn gap(from_hour: i64, hours: i64) -> Gap {
        Gap {
            after: from_hour * HOUR,
            before: (from_hour + hours) * HOUR,
        }
    }

    #[test]
    fn two_readings_in_a_row_need_less_than_one_only_where_the_tail_is_heavy() {
        let mut rng = crate::synthetic::rng::Rng::new(7);
        let gaussian: Vec<f64> = (0..2000).map(|_| rng.normal()).collect();
        let single = |z: &[f64]| rare_level(z, OUTLIER_RISK, point_threshold(z.len()));
        assert_eq!(pair_threshold(&gaussian), single(&gaussian));
        let heavy: Vec<f64> = (0..2000).map(|_| rng.student_t(2)).collect();
        assert!(
            pair_threshold(&heavy) < single(&heavy) / 3.0,
            "{} vs {}",
            pair_threshold(&heavy),
            single(&heavy)
        );
    }

    #[test]
    fn silences_that_recur_are_routine_and_a_lone_one_is_not() {
        // Idle from 01:00 to 05:00 on two days.
        let nightly = [gap(1, 4), gap(25, 4)];
        assert!(routine_silence(&nightly[1], &nightly));
        // A lone four-hour silence in the afternoon, beside short ones.
        let lone = [gap(14, 4), gap(30, 1), gap(40, 1)];
        assert!(!routine_silence(&lone[0], &lone));
        // A metric that often goes quiet for an hour or two.
        let often: Vec<Gap> = (0..5).map(|k| gap(10 * k + 3, 2)).collect();
        assert!(routine_silence(&often[2], &often));
    }
}
