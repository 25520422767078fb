//! Change Detective: what changed and when. Level and variance change points, gradual drift
//! (a bend away from the old trend), periodic bursts, seasonal-pattern breaks, and the
//! recorded events (deploys, config changes) closest to each change.
//!
//! # Free constants
//!
//! Twenty-nine, in six mechanisms — the largest share of the engine's, and the first place to
//! look when a change must pay for itself in `bench nab --loco` and the efficacy grid:
//! - summaries: `MAX_BUCKETS` 240 and `MAX_DRIFT_BUCKETS` 64 bucket medians (enough for a
//!   change point, few enough for the O(m²) estimators);
//! - level shifts: segments of at least a fiftieth of the buckets, t ≥ 8 and an effect of at
//!   least 2 wander scales (the difference-noise scale over √(1−ρ), ρ the buckets' memory
//!   within their segments, clamped at 0.9: the per-series calibration of a shift), and
//!   `MIN_RELATIVE_SHIFT` 2% of the level;
//! - variance: blocks of a hundredth of the series, segments of 3 blocks, t ≥ 6 and an effect
//!   of 2, and a ratio of at least 2; on a rhythm, found in the value's unit and as a share
//!   of the baseline alike, within a segment of each other (no constant of its own);
//! - drift: `MIN_DRIFT_SEGMENT` 8 buckets a side, a bend after the first quarter of the
//!   buckets (the old trend read from enough of the data), F ≥ `MIN_BEND_F_INDEPENDENT` 10
//!   times (1+ρ)/(1−ρ), ρ the memory the bend leaves in the buckets (clamped at 0.9: the
//!   per-series calibration of a bend), departures with Kendall τ > 0.5, an excess of 4
//!   residual scales and `MIN_RELATIVE_DRIFT` 3% of the level — measured from the old level,
//!   not the old trend, when that trend was read from less than a day;
//! - bursts: `BURST_Z` 4, `MIN_BURSTS` 6, and strength from 4 bursts, 20% irregularity,
//!   capped at 3;
//! - seasonal breaks: stretches of a day (weekly cycle) or a sixth of the period, |z| clipped
//!   at 6, memory clamped at 0.9, half the points beyond 1σ on one side;
//! - events: an hour (or ten intervals) before a change, three intervals after, and an event
//!   halving the doubt about the change it explains.

use super::{
    strength_to_probability, window_magnitude, AgentName, AgentReport, Context, Evidence, Window,
    WindowKind,
};
use crate::series::events::Event;
use crate::stats::anomalies::{point_threshold, runs};
use crate::stats::bursts::burst_periodicity;
use crate::stats::changepoint::{
    difference_noise_scale, level_changes, variance_changes, ChangePoint, SegmentationSettings,
};
use crate::stats::robust::median_in_place;
use crate::stats::seasonality::{autocorrelation, DAY_MS, WEEK_MS};
use crate::stats::trend::{slope_change, SlopeChange};

/// The deseasonalised series is summarised into at most this many bucket medians to find
/// level shifts, and into coarser, quieter buckets to find slow drift.
const MAX_BUCKETS: usize = 240;
const MAX_DRIFT_BUCKETS: usize = 64;
/// A level shift smaller than this share of the level is not worth a page.
const MIN_RELATIVE_SHIFT: f64 = 0.02;
/// Drift must move the level by at least this share before it is reported.
const MIN_RELATIVE_DRIFT: f64 = 0.03;
/// Fewest bursts that make a rhythm.
const MIN_BURSTS: usize = 6;
/// z above which a point belongs to a burst.
const BURST_Z: f64 = 4.0;

/// A change with the evidence that explains it.
struct Change {
    window: Window,
    description: String,
    evidence: Evidence,
}

pub fn investigate(context: &Context) -> AgentReport {
    let buckets = Buckets::of(context, MAX_BUCKETS);
    let mut changes = Vec::new();
    changes.extend(level_shifts(context, &buckets));
    changes.extend(drift(context, &Buckets::of(context, MAX_DRIFT_BUCKETS)));
    changes.extend(variance_shifts(context));
    changes.extend(periodic_bursts(context));
    changes.extend(seasonal_breaks(context));
    resolve_drift_versus_shift(&mut changes);
    let mut changes: Vec<Change> = changes
        .into_iter()
        .filter_map(|c| {
            context
                .in_focus(c.window)
                .map(|window| Change { window, ..c })
        })
        .collect();
    changes.sort_by_key(|c| c.window.start);

    let mut evidence: Vec<Evidence> = changes.iter().map(|c| c.evidence.clone()).collect();
    let mut linked = Vec::new();
    for change in &mut changes {
        if let Some(event) = nearest_event(context, change.window.start) {
            let minutes = (context.series.timestamps[change.window.start] - event.timestamp) as f64
                / 60_000.0;
            evidence.push(Evidence::new(
                "event_correlation",
                minutes,
                format!(
                    "{} `{}` {:.0} min before the {}",
                    event.kind,
                    event.description,
                    minutes,
                    change.window.kind.label()
                ),
            ));
            change.window.score = 1.0 - (1.0 - change.window.score) * 0.5;
            linked.push((change.window.kind, event.clone()));
        }
    }
    let anomaly_probability = changes.iter().map(|c| c.window.score).fold(0.02, f64::max);
    let finding = finding(context, &changes, &linked);
    AgentReport::detection(
        AgentName::ChangeDetective,
        finding,
        evidence,
        anomaly_probability,
        changes.into_iter().map(|c| c.window).collect(),
    )
}

/// Medians of consecutive blocks of the deseasonalised series: robust to spikes and small
/// enough for the O(m²) trend estimators.
struct Buckets {
    size: usize,
    values: Vec<f64>,
}

impl Buckets {
    fn of(context: &Context, max_buckets: usize) -> Self {
        let deseasonalised = context.deseasonalised();
        let size = deseasonalised.len().div_ceil(max_buckets).max(1);
        let values = deseasonalised
            .chunks(size)
            .map(|chunk| median_in_place(&mut chunk.to_vec()).unwrap_or(0.0))
            .collect();
        Self { size, values }
    }

    fn point(&self, bucket: usize, n: usize) -> usize {
        (bucket * self.size).min(n - 1)
    }
}

/// Stretches whose level differs from the usual one. Change points cut the bucket series into
/// segments; the longest segment is the usual level, and every other segment that sits
/// materially away from it is a window (so a dip and its recovery give one window, not two).
fn level_shifts(context: &Context, buckets: &Buckets) -> Vec<Change> {
    let m = buckets.values.len();
    let settings = SegmentationSettings {
        min_segment: (m / 50).max(3),
        min_t: 8.0,
        min_effect: 2.0,
    };
    let changes = level_changes(&buckets.values, settings);
    let (Some(first_change), Some(noise)) =
        (changes.first(), difference_noise_scale(&buckets.values))
    else {
        return Vec::new();
    };
    let bounds: Vec<usize> = std::iter::once(0)
        .chain(changes.iter().map(|c| c.index))
        .chain(std::iter::once(m))
        .collect();
    let segments: Vec<(usize, usize, f64)> = bounds
        .windows(2)
        .map(|w| {
            (
                w[0],
                w[1],
                buckets.values[w[0]..w[1]].iter().sum::<f64>() / (w[1] - w[0]) as f64,
            )
        })
        .collect();
    let Some(&(_, _, usual)) = segments.iter().max_by_key(|(from, to, _)| to - from) else {
        return Vec::new();
    };
    let noise = wander_scale(&buckets.values, &segments, noise);
    let level = context.level();
    let n = context.series.len();
    let mut found = Vec::new();
    for (k, &(from, to, mean)) in segments.iter().enumerate() {
        let shift = mean - usual;
        let relative = shift / level;
        if relative.abs() < MIN_RELATIVE_SHIFT || shift.abs() < settings.min_effect * noise {
            continue;
        }
        let opening = if k > 0 { &changes[k - 1] } else { first_change };
        let strength = (opening.t_stat / settings.min_t)
            .min(shift.abs() / (settings.min_effect * noise))
            .min(relative.abs() / MIN_RELATIVE_SHIFT);
        let start = buckets.point(from, n);
        let end = if to == m {
            n - 1
        } else {
            buckets.point(to, n).saturating_sub(1)
        };
        found.push(Change {
            window: Window {
                start,
                end,
                kind: WindowKind::LevelShift,
                score: strength_to_probability(strength),
                magnitude: relative,
            },
            description: format!(
                "level shift of {:+.0}% at {}",
                relative * 100.0,
                context.time_of(start)
            ),
            evidence: Evidence::new(
                "level_shift_pct",
                relative * 100.0,
                format!(
                    "{} to {} vs the usual level, t = {:.1}",
                    context.time_of(start),
                    context.time_of(end),
                    opening.t_stat
                ),
            ),
        });
    }
    found
}

/// How far the bucket medians wander within their segments: the difference noise scale
/// `noise` reads only what changes from one bucket to the next, and a series with memory
/// (lag-one autocorrelation ρ of the deviations from each segment's mean, clamped at 0.9)
/// wanders 1/√(1−ρ) times further than that on its own.
fn wander_scale(values: &[f64], segments: &[(usize, usize, f64)], noise: f64) -> f64 {
    let deviations: Vec<f64> = segments
        .iter()
        .flat_map(|&(from, to, mean)| values[from..to].iter().map(move |v| v - mean))
        .collect();
    let memory = autocorrelation(&deviations, 1).clamp(0.0, 0.9);
    noise / (1.0 - memory).sqrt()
}

/// F a bend over a straight line must reach in buckets with no memory: about the 1% tail of
/// the best of the bend's admissible positions in independent noise. Buckets with memory ρ
/// carry (1+ρ)/(1−ρ) times the variance of the trend read from them, so the bar rises by as
/// much: the calibration of a bend to the series' own wander.
const MIN_BEND_F_INDEPENDENT: f64 = 10.0;
/// Fewest buckets on each side of a bend (and a quarter of the fewest buckets in all): a
/// handful of points cannot show a trend change.
const MIN_DRIFT_SEGMENT: usize = 8;

fn drift(context: &Context, buckets: &Buckets) -> Option<Change> {
    let m = buckets.values.len();
    if m < 4 * MIN_DRIFT_SEGMENT {
        return None;
    }
    let bend = slope_change(&buckets.values, (m / 8).max(MIN_DRIFT_SEGMENT))?;
    // An old trend read from the first quarter of the data or less says too little about
    // where the data would have gone: a bend there is more likely the baseline's edge.
    if bend.onset < m / 4 {
        return None;
    }
    let n = context.series.len();
    let start = buckets.point(bend.onset, n);
    let timestamps = &context.series.timestamps;
    let excess = if timestamps[start] - timestamps[0] < DAY_MS {
        departure_from_old_level(&buckets.values, &bend)
    } else {
        bend.excess
    };
    let bend = SlopeChange { excess, ..bend };
    let level = context.level();
    let relative = bend.excess / level;
    let f = (line_sse(&buckets.values) - bend.sse)
        / (bend.sse / (m as f64 - 3.0)).max(f64::MIN_POSITIVE);
    let consistent = bend.departure_trend.tau * bend.excess.signum() > 0.5;
    let residuals: Vec<f64> = bend.residuals(&buckets.values).collect();
    let memory = autocorrelation(&residuals, 1).clamp(0.0, 0.9);
    let min_f = MIN_BEND_F_INDEPENDENT * (1.0 + memory) / (1.0 - memory);
    let strength = (f / min_f)
        .min(bend.excess.abs() / (4.0 * bend.residual_scale))
        .min(relative.abs() / MIN_RELATIVE_DRIFT);
    tracing::debug!(
        f,
        excess = bend.excess,
        residual_scale = bend.residual_scale,
        relative,
        "drift candidate"
    );
    if !consistent || strength < 1.0 {
        return None;
    }
    if bend.sse >= best_step_sse(&buckets.values) {
        return None; // a step fits as well: the level-shift search reports it
    }
    Some(Change {
        window: Window {
            start,
            end: n - 1,
            kind: WindowKind::Drift,
            score: strength_to_probability(strength),
            magnitude: relative,
        },
        description: format!(
            "gradual drift of {:+.1}% since {}",
            relative * 100.0,
            context.time_of(start)
        ),
        evidence: Evidence::new(
            "drift_pct",
            relative * 100.0,
            format!(
                "bend at {}, F = {f:.0} over a straight line, Kendall τ of the departures {:.2}",
                context.time_of(start),
                bend.departure_trend.tau
            ),
        ),
    })
}

/// How far the bend's last fitted value lies from the median level before the onset. An old
/// trend read from less than a day cannot be told from the rising or falling half of the
/// day's own rhythm, so what came after is judged against where the level was, not where
/// that half-day was heading.
fn departure_from_old_level(values: &[f64], bend: &SlopeChange) -> f64 {
    let last = values.len() - 1;
    let fitted_end = bend.before.at(last as f64) + bend.excess;
    let old_level = median_in_place(&mut values[..bend.onset].to_vec()).unwrap_or(fitted_end);
    fitted_end - old_level
}

/// Squared error of the least-squares straight line through `(i, y[i])`.
fn line_sse(y: &[f64]) -> f64 {
    let n = y.len() as f64;
    let mean_x = (n - 1.0) / 2.0;
    let mean_y = y.iter().sum::<f64>() / n;
    let (sxy, sxx) = y.iter().enumerate().fold((0.0, 0.0), |(sxy, sxx), (i, v)| {
        let dx = i as f64 - mean_x;
        (sxy + dx * (v - mean_y), sxx + dx * dx)
    });
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    y.iter()
        .enumerate()
        .map(|(i, v)| (v - mean_y - slope * (i as f64 - mean_x)).powi(2))
        .sum()
}

/// Smallest squared error of a single-step (two means) fit, to tell a ramp from a step.
fn best_step_sse(y: &[f64]) -> f64 {
    let n = y.len();
    let total: f64 = y.iter().sum();
    let total_sq: f64 = y.iter().map(|v| v * v).sum();
    let mut left = 0.0;
    let mut best = f64::INFINITY;
    for k in 1..n {
        left += y[k - 1];
        let right = total - left;
        let sse = total_sq - left * left / k as f64 - right * right / (n - k) as f64;
        best = best.min(sse);
    }
    best
}

/// When a drift and a level shift describe the same movement, keep the better-fitting one.
fn resolve_drift_versus_shift(changes: &mut Vec<Change>) {
    let drift = changes
        .iter()
        .position(|c| c.window.kind == WindowKind::Drift);
    if let Some(d) = drift {
        let onset = changes[d].window.start;
        changes.retain(|c| c.window.kind != WindowKind::LevelShift || c.window.start < onset);
    }
}

fn variance_shifts(context: &Context) -> Vec<Change> {
    let d = context.decomposition;
    let n = d.residual.len();
    let block = (n / 100).max(10);
    if n < 8 * block {
        return Vec::new();
    }
    let settings = SegmentationSettings {
        min_segment: 3,
        min_t: 6.0,
        min_effect: 2.0,
    };
    spread_changes(context, block, settings)
        .into_iter()
        .filter(|c| (c.after - c.before).abs() >= std::f64::consts::LN_2)
        .map(|c| {
            let ratio = (c.after - c.before).exp();
            let start = c.index.min(n - 1);
            Change {
                window: Window {
                    start,
                    end: n - 1,
                    kind: WindowKind::VarianceChange,
                    score: strength_to_probability(
                        (c.t_stat / 6.0).min((ratio.ln().abs()) / std::f64::consts::LN_2),
                    ),
                    magnitude: window_magnitude(context, start, n - 1),
                },
                description: format!("volatility ×{ratio:.1} from {}", context.time_of(start)),
                evidence: Evidence::new(
                    "variance_ratio",
                    ratio,
                    format!("spread changed ×{ratio:.2} at {}", context.time_of(start)),
                ),
            }
        })
        .collect()
}

/// Changes of the residuals' spread. Noise that grows with a rhythm's level (busy hours are
/// noisier) is the rhythm, not a change of spread, and noise of one size on a rhythm is
/// relatively larger in its quiet hours: on a rhythm, a change counts when it shows both in
/// the value's unit and as a share of the baseline, within a segment of the same point and in
/// the same direction.
fn spread_changes(
    context: &Context,
    block: usize,
    settings: SegmentationSettings,
) -> Vec<ChangePoint> {
    let d = context.decomposition;
    let in_unit = variance_changes(&d.residual, block, settings);
    if d.seasonality.is_none() {
        return in_unit;
    }
    let relative: Vec<f64> = (0..d.residual.len())
        .map(|i| d.residual[i] / d.baseline(i).abs().max(f64::MIN_POSITIVE))
        .collect();
    let in_share = variance_changes(&relative, block, settings);
    let reach = settings.min_segment * block;
    let direction = |c: &ChangePoint| (c.after - c.before).signum();
    in_unit
        .into_iter()
        .filter(|c| {
            in_share
                .iter()
                .any(|s| s.index.abs_diff(c.index) <= reach && direction(s) == direction(c))
        })
        .collect()
}

/// Upward bursts that recur at a regular spacing (cron jobs, retry storms, GC cycles).
fn periodic_bursts(context: &Context) -> Option<Change> {
    let d = context.decomposition;
    let n = d.residual.len();
    let mask: Vec<bool> = (0..n).map(|i| d.z(i) >= BURST_Z).collect();
    let bursts = runs(&mask, 1);
    if bursts.len() < MIN_BURSTS {
        return None;
    }
    let starts: Vec<i64> = bursts
        .iter()
        .map(|r| context.series.timestamps[r.start])
        .collect();
    let season_ms = context
        .decomposition
        .seasonality
        .map_or(i64::MAX, |s| s.period_ms);
    let periodicity = burst_periodicity(&starts)
        .filter(|p| p.is_periodic() && p.bursts >= MIN_BURSTS && p.period_ms < season_ms / 2)?;
    let start = bursts[0].start;
    let end = bursts[bursts.len() - 1].end;
    let minutes = periodicity.period_ms as f64 / 60_000.0;
    let strength = (bursts.len() as f64 / 4.0)
        .min(0.2 / periodicity.irregularity.max(0.01))
        .min(3.0);
    Some(Change {
        window: Window {
            start,
            end,
            kind: WindowKind::Burst,
            score: strength_to_probability(strength),
            magnitude: window_magnitude(context, start, end),
        },
        description: format!(
            "{} bursts every {minutes:.0} min since {}",
            bursts.len(),
            context.time_of(start)
        ),
        evidence: Evidence::new(
            "burst_period_minutes",
            minutes,
            format!(
                "{} bursts, spacing irregularity {:.2}",
                bursts.len(),
                periodicity.irregularity
            ),
        ),
    })
}

/// Stretches of a seasonal series (a day of a weekly cycle, a sixth of a daily one) whose
/// residuals all lean one way: the usual shape did not happen (a holiday, a failed batch).
/// The mean residual is tested with an effective sample size that allows for the noise's
/// own memory (lag-1 autocorrelation), and a Bonferroni bound over all stretches.
fn seasonal_breaks(context: &Context) -> Vec<Change> {
    let d = context.decomposition;
    let Some(season) = d.seasonality else {
        return Vec::new();
    };
    let interval = context.series.interval_ms.max(1);
    let segment_ms = if season.period_ms >= WEEK_MS {
        DAY_MS
    } else {
        season.period_ms / 6
    };
    let length = ((segment_ms / interval) as usize).max(6);
    let n = d.residual.len();
    let memory = autocorrelation(&d.residual, 1).clamp(0.0, 0.9);
    let shrink = ((1.0 - memory) / (1.0 + memory)).sqrt();
    let threshold = point_threshold(n / length);
    let mut found = Vec::new();
    for start in (0..n).step_by(length) {
        let end = (start + length).min(n) - 1;
        let z: Vec<f64> = (start..=end).map(|i| d.z(i).clamp(-6.0, 6.0)).collect();
        if z.len() < length / 2 {
            continue;
        }
        let mean = z.iter().sum::<f64>() / z.len() as f64;
        let t = mean.abs() * (z.len() as f64).sqrt() * shrink;
        let agreement = z
            .iter()
            .filter(|v| v.signum() == mean.signum() && v.abs() > 1.0)
            .count() as f64
            / z.len() as f64;
        let strength = (t / threshold).min(agreement / 0.5);
        if strength >= 1.0 {
            found.push(Change {
                window: Window {
                    start,
                    end,
                    kind: WindowKind::SeasonalityBreak,
                    score: strength_to_probability(strength),
                    magnitude: window_magnitude(context, start, end),
                },
                description: format!(
                    "the usual {} pattern broke on {}",
                    season.label(),
                    &context.time_of(start)[..10]
                ),
                evidence: Evidence::new(
                    "seasonal_break_mean_z",
                    mean,
                    format!(
                        "{} to {}: {:.0}% of points on one side of the seasonal baseline",
                        context.time_of(start),
                        context.time_of(end),
                        agreement * 100.0
                    ),
                ),
            });
        }
    }
    found
}

/// How long before a change an event may be its cause: an hour, or ten intervals of a
/// coarsely sampled series.
pub fn event_lookback_ms(interval_ms: i64) -> i64 {
    (60 * 60_000i64).max(10 * interval_ms)
}

/// The latest event at most a few intervals after, or an hour before, the change.
pub(crate) fn nearest_event<'a>(context: &'a Context, index: usize) -> Option<&'a Event> {
    let at = context.series.timestamps[index];
    let before = event_lookback_ms(context.series.interval_ms);
    let after = 3 * context.series.interval_ms;
    context
        .events
        .iter()
        .filter(|e| e.timestamp >= at - before && e.timestamp <= at + after)
        .min_by_key(|e| (at - e.timestamp).abs())
}

fn finding(context: &Context, changes: &[Change], linked: &[(WindowKind, Event)]) -> String {
    let metric = &context.series.metric;
    let Some(main) = changes
        .iter()
        .max_by(|a, b| a.window.score.total_cmp(&b.window.score))
    else {
        return format!("No level, variance, trend or rhythm change in {metric}.");
    };
    let mut text = super::pattern_analyst::capitalize(&main.description);
    if changes.len() > 1 {
        text.push_str(&format!(" ({} changes in all)", changes.len()));
    }
    if let Some((_, event)) = linked
        .iter()
        .find(|(kind, _)| *kind == main.window.kind)
        .or(linked.first())
    {
        text.push_str(&format!(
            ", right after {} `{}`",
            event.kind, event.description
        ));
    }
    text.push('.');
    text
}
