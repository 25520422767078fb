//! Synthesizer: combines the three reports into one verdict.
//!
//! A quieter stretch that is exactly a first weekend or night in a short series (or the end of
//! one the data begin in), or the working hours of the only day once they are over, is the
//! calendar at work (`stats::calendar`): it is named as such and makes
//! nothing anomalous on its own. A rise into a weekend is not. Nor is the same short departure
//! at the same time of day on most days (or most weekend days): the runs of a daily job.
//!
//! Every window that stands out is reported, the one the verdict names first and then the
//! others strongest first; the sentence names the main one and counts the rest.
//!
//! Severity rules (0–3 info, 4–6 warning, 7–8 error, 9–10 critical):
//! - not anomalous: `round(3 · P(anomalous))`, so 0–1 for a clean bill of health and at most 3;
//! - anomalous, base by the worst window: an outage is 8; any other kind starts at 4 and gains
//!   one point each at a deviation of 20%, 50% and 100% of the metric's level (so at most 7);
//! - +1 when the anomaly is still going on (its last window reaches the last point and the
//!   last points still sit away from the level before it);
//! - +1 when the case is certain: confidence ≥ 0.95 and all three agents agree;
//! - clamped to 4–10.
//!
//! Confidence is the probability of the verdict, at most 99%, and at most 90% when only two
//! agents agree (75% when one does).
//!
//! # Free constants
//!
//! Twenty-seven: windows count from an agent score of 0.5 and agreement adds half the weaker
//! agent's log-odds; a window must stand out from its own series with `STANDING_RISK` 1%
//! (`stats::standing`, the per-series calibration), and one longer than a spike also from the
//! series with its rhythm and day-long level taken out; `DEPARTED` 3 noise scales from the
//! [`level_before`] (`LEVEL_POINTS` 30) where a window starts and ends; `SHORT_POINTS` 15 /
//! `SHORT_SHARE` 2% make a spike or dip; `NEAR_ZERO` 5% for `MIN_OUTAGE_POINTS` 3
//! make an outage; `MAX_INCIDENTS` 3 named in the sentence, each at least
//! `COMPARABLE_STRENGTH` 30% of the strongest; a daily job's run lasts at most
//! `SCHEDULED_RUN_MS` 3 h and recurs within an hour of one time of day on 3 days or more,
//! half of those it spans, at up to twice or half the runs' median size
//! (`stats::calendar`); `EXPLAINED_PROBABILITY` 0.3 and `FIRST_WEEKEND_PROBABILITY` 0.8; the
//! calendar step on a whole hour within two readings (of a minute at least), found with 12
//! points a side, explaining a window that goes no further than `STEP_REACH` 1.5 times the
//! step (as for its edges), and lasting until the data are back past half of it (over
//! `LAST_POINTS`); a window that begins within `MIN_BEFORE_POINTS` 12 of the first point is
//! judged by the step it ends with; severity steps at 20%, 50% and 100% of the level,
//! "certain" at 0.95; agreement caps 0.9 and 0.75; `LAST_POINTS` 5 and 3 noise scales for
//! "ongoing".

use super::{AgentName, AgentReport, Context, Hypothesis, Window, WindowKind};
use crate::stats;
use crate::stats::calendar::{CalendarPeriod, DailySchedule};

/// What learning tunes: how much each agent's vote counts and how much evidence this metric
/// needs before it is called anomalous.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    pub pattern_analyst: f64,
    pub change_detective: f64,
    /// Added to the combined log-odds: positive makes alerts harder for this metric.
    pub threshold_offset: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            pattern_analyst: 1.0,
            change_detective: 1.0,
            threshold_offset: 0.0,
        }
    }
}

/// The synthesizer's conclusion (the verdict without the per-agent reports).
#[derive(Debug, Clone)]
pub struct Conclusion {
    /// Combined log-odds of "anomalous" before the metric's learned threshold offset.
    pub evidence_log_odds: f64,
    pub anomalous: bool,
    pub severity: u8,
    pub confidence: f64,
    pub consensus: u8,
    pub verdict: String,
    pub hypothesis: String,
    pub windows: Vec<Window>,
}

pub fn synthesize(
    context: &Context,
    reports: &[AgentReport],
    hypothesis: Option<&Hypothesis>,
    weights: Weights,
) -> Conclusion {
    let probability_of = |agent: AgentName| {
        reports
            .iter()
            .find(|r| r.agent == agent)
            .map_or(0.0, |r| r.anomaly_probability)
    };
    let pattern = weights.pattern_analyst * logit(probability_of(AgentName::PatternAnalyst));
    let change = weights.change_detective * logit(probability_of(AgentName::ChangeDetective));
    let agreement_bonus = if pattern > 0.0 && change > 0.0 {
        0.5 * pattern.min(change)
    } else {
        0.0
    };
    let evidence_log_odds = pattern.max(change) + agreement_bonus;
    let (missing, found): (Vec<Window>, Vec<Window>) = reports
        .iter()
        .flat_map(|r| r.windows.iter().copied())
        .partition(|w| w.kind == WindowKind::NoData);
    let missing = merge_windows(missing);
    let (level_like, passing): (Vec<Window>, Vec<Window>) = found
        .into_iter()
        .filter(|w| w.score >= 0.5)
        .partition(|w| is_level_like(w.kind));
    let (mut calendar, mut level_changes, mut before_steps) = (Vec::new(), Vec::new(), Vec::new());
    for window in merge_windows(level_like) {
        match calendar_split(context, window) {
            (Some(step), rest) => {
                calendar.push(step);
                before_steps.extend(rest);
            }
            (None, rest) => level_changes.extend(rest),
        }
    }
    // What the data did right before a calendar step stays; the rest near one is its edge.
    let candidates: Vec<Window> = level_changes
        .into_iter()
        .chain(passing)
        .filter(|w| !calendar.iter().any(|c| part_of_calendar_step(w, c)))
        .chain(before_steps)
        .collect();
    let (settled, ordinary): (Vec<Window>, Vec<Window>) = merge_windows(candidates)
        .into_iter()
        .map(|w| settle(context, w))
        .partition(|w| stands_out(context, w));
    let (schedules, all) = daily_schedules(context, merge_windows(settled));
    let windows = incidents(&all);
    let smaller = all.len() - windows.len();
    let mut probability = sigmoid(evidence_log_odds - weights.threshold_offset);
    let explained = !(calendar.is_empty() && ordinary.is_empty() && schedules.is_empty());
    if windows.is_empty() && explained {
        probability = probability.min(EXPLAINED_PROBABILITY);
    }
    let anomalous = probability >= 0.5 && !windows.is_empty();
    // The window the verdict names.
    let main = super::main_window(&windows).copied().filter(|_| anomalous);
    // An incident on the first weekend the data holds may be how this metric spends its
    // weekends: said, and believed a little less, but never taken for normal.
    let first_weekend = main.is_some_and(|main| on_first_weekend(context, &main));
    if first_weekend {
        probability = probability.min(FIRST_WEEKEND_PROBABILITY);
    }
    let consensus = reports
        .iter()
        .filter(|r| match r.agent {
            AgentName::RootCause => hypothesis.is_some() == anomalous,
            _ => (r.anomaly_probability >= 0.5) == anomalous,
        })
        .count() as u8;
    let confidence = if anomalous {
        probability
    } else {
        1.0 - probability
    }
    .min(agreement_cap(consensus));
    let severity = severity(
        context,
        anomalous,
        probability,
        confidence,
        consensus,
        &windows,
    );
    let severity = if first_weekend {
        severity.saturating_sub(1).max(4)
    } else {
        severity
    };
    Conclusion {
        evidence_log_odds,
        anomalous,
        severity,
        confidence,
        consensus,
        verdict: verdict_sentence(
            context,
            main.as_ref(),
            severity,
            consensus,
            (&windows, smaller),
            &calendar,
        ) + if first_weekend {
            FIRST_WEEKEND_NOTE
        } else {
            ""
        } + &schedules_sentence(&schedules)
            + &missing_data_sentence(context, &missing),
        hypothesis: hypothesis_sentence(anomalous, hypothesis),
        windows: main.map_or(Vec::new(), |main| reported(main, all)),
    }
}

/// Log-odds of `p`, bounded at ±34.5 (p within 1e-15 of 0 or 1). The bound is wide on
/// purpose: learned thresholds compare evidence on this scale, so a 3× stronger anomaly must
/// still read as stronger instead of saturating.
fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-15, 1.0 - 1e-15);
    (p / (1.0 - p)).ln()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Unions the windows of one event ([`belong_together`]); the merged window takes the most
/// serious kind.
fn merge_windows(mut windows: Vec<Window>) -> Vec<Window> {
    windows.sort_by_key(|w| w.start);
    let mut merged: Vec<Window> = Vec::new();
    for w in windows {
        match merged.last_mut() {
            Some(last) if belong_together(last, &w) => {
                last.end = last.end.max(w.end);
                last.kind = last.kind.min(w.kind);
                last.score = last.score.max(w.score);
                if w.magnitude.abs() > last.magnitude.abs() {
                    last.magnitude = w.magnitude;
                }
            }
            _ => merged.push(w),
        }
    }
    merged
}

/// Whether `next` (starting no earlier than `last`) is part of the same event: windows in one
/// direction that overlap or touch are; windows in opposite directions only when they share
/// most of the shorter one (a dip with the spike inside it), not where one ends as the other
/// begins (a quiet stretch and the surge after it are two events).
fn belong_together(last: &Window, next: &Window) -> bool {
    if (last.magnitude >= 0.0) == (next.magnitude >= 0.0) {
        return next.start <= last.end + 2;
    }
    let shared = (last.end.min(next.end) + 1).saturating_sub(next.start);
    let shorter = (last.end - last.start).min(next.end - next.start) + 1;
    2 * shared >= shorter
}

/// A window that lasts at most this many points (or this share of the series) and is over
/// before the end is a spike or a dip, whatever found it.
const SHORT_POINTS: usize = 15;
const SHORT_SHARE: f64 = 0.02;

/// Noise scales from the level before a window beyond which the data have departed from it.
const DEPARTED: f64 = 3.0;
/// A drop to at most this share of the level before, for at least this many points, is an
/// outage: what is left is no more than a trickle.
const NEAR_ZERO: f64 = 0.05;
const MIN_OUTAGE_POINTS: usize = 3;

/// `window` cut to where the data actually departed (the first and last points at least
/// [`DEPARTED`] noise scales from the level before it, in its direction): a window ends where
/// the data returned to normal. A short departure that is over is named a spike or a dip.
/// Outages keep their extent: a flat or silent run is its own evidence. So do drifts: they
/// depart from the old trend, not from the level before them, and run to the end.
fn settle(context: &Context, window: Window) -> Window {
    if matches!(window.kind, WindowKind::Outage | WindowKind::Drift) {
        return window;
    }
    let d = context.decomposition;
    let values = &context.series.values;
    let Some(before) = d.deseasonalised_median(values, level_before(window.start)) else {
        return window;
    };
    let direction = if window.magnitude >= 0.0 { 1.0 } else { -1.0 };
    let scale = d.scale_at(before);
    // Against the level before the window, not the baseline: the baseline follows a lasting
    // shift after a while, the level before it does not.
    let deviation = |i: usize| direction * (values[i] - d.seasonal[i] - before) / scale;
    let first = (window.start..=window.end).find(|&i| deviation(i) >= DEPARTED);
    let last = (window.start..=window.end)
        .rev()
        .find(|&i| deviation(i) >= DEPARTED);
    let (Some(start), Some(end)) = (first, last) else {
        return window;
    };
    let n = context.series.len();
    let short = end - start < SHORT_POINTS.max((SHORT_SHARE * n as f64) as usize);
    let over = end + LAST_POINTS < n;
    // Down to (near) nothing for a while: the service stopped, whatever found it.
    let silent = direction < 0.0
        && before > 0.0
        && end - start + 1 >= MIN_OUTAGE_POINTS
        && (start..=end).all(|i| values[i] <= NEAR_ZERO * before);
    let kind = match window.kind {
        _ if silent => WindowKind::Outage,
        WindowKind::LevelShift | WindowKind::SeasonalityBreak | WindowKind::Drift
            if short && over =>
        {
            WindowKind::excursion(direction)
        }
        kind => kind,
    };
    Window {
        start,
        end,
        kind,
        ..window
    }
}

/// The chance that a series with nothing wrong holds a stretch that [`stands_out`].
const STANDING_RISK: f64 = 0.01;

/// Whether `window` stands out from what this series does elsewhere at the window's length
/// (`stats::standing`): a wander that the metric's own memory makes ordinary is not an
/// incident. An outage is its own evidence, a drift has passed its own test of a bend in
/// the trend (which the baseline follows), and a change too long to compare with the rest
/// of the series is left to the agents' tests — unless the data begin with it: with no level
/// before it, its most extreme stretches are compared with the rest of the series.
fn stands_out(context: &Context, window: &Window) -> bool {
    if matches!(window.kind, WindowKind::Outage | WindowKind::Drift) {
        return true;
    }
    let range = window.start..=window.end;
    let standing =
        stats::standing::standing(context.z(), range.clone(), STANDING_RISK).or_else(|| {
            if window.start >= MIN_BEFORE_POINTS {
                return None;
            }
            let x = context.deseasonalised();
            stats::standing::standing_of_stretches(x, range.clone(), STANDING_RISK)
        });
    standing.is_none_or(|standing| standing >= 1.0) && stands_out_of_its_wander(context, window)
}

/// Whether a window longer than a spike stands out from the series with only its rhythm and
/// its slow level (day-long block medians) taken out, as well as from the residual. The
/// baseline bends with a wandering metric's wander almost everywhere — except at one sharp
/// excursion — so the residual's other stretches understate how far such a metric wanders at
/// that length; the rhythm-and-day view keeps the wander and still judges a failure of a day
/// or two against what the metric does on other days. (The rhythm alone is not enough: a
/// metric with other failures and regimes spreads the raw level's stretches too far.)
fn stands_out_of_its_wander(context: &Context, window: &Window) -> bool {
    if window.start < MIN_BEFORE_POINTS || window.end - window.start < SHORT_POINTS {
        return true;
    }
    stats::standing::standing(context.wander(), window.start..=window.end, STANDING_RISK)
        .is_none_or(|standing| standing >= 1.0)
}

/// Most windows a verdict lists: the incidents, not every wobble around them.
const MAX_INCIDENTS: usize = 3;
/// A window is listed when it is at least this share as strong as the strongest.
const COMPARABLE_STRENGTH: f64 = 0.3;

/// How strongly a window departs: its deviation weighted by its score.
fn strength(window: &Window) -> f64 {
    window.magnitude.abs() * window.score
}

/// `windows` strongest first.
fn by_strength(mut windows: Vec<Window>) -> Vec<Window> {
    windows.sort_by(|a, b| strength(b).total_cmp(&strength(a)));
    windows
}

/// The windows the verdict speaks of, in time order: the strongest and those at least
/// [`COMPARABLE_STRENGTH`] as strong, at most [`MAX_INCIDENTS`]. Naming every fragment
/// drowns the incident — on NAB's labelled files fewer than a third of all windows fell
/// inside a labelled anomaly — so the rest are counted in the sentence and listed after.
fn incidents(windows: &[Window]) -> Vec<Window> {
    let strongest = windows.iter().map(strength).fold(0.0, f64::max);
    let mut listed: Vec<Window> = by_strength(windows.to_vec())
        .into_iter()
        .filter(|w| strength(w) >= COMPARABLE_STRENGTH * strongest)
        .take(MAX_INCIDENTS)
        .collect();
    listed.sort_by_key(|w| w.start);
    listed
}

/// Every window that stood out, as the verdict reports them: `main`, the one it names, first,
/// then the others strongest first (chat shows the first three and counts the rest; the JSON
/// and the page list them all, so a smaller incident is never lost to presentation).
fn reported(main: Window, all: Vec<Window>) -> Vec<Window> {
    let rest = all.into_iter().filter(|w| *w != main).collect();
    std::iter::once(main).chain(by_strength(rest)).collect()
}

/// A departure that lasts at most this long may be one run of a daily job.
const SCHEDULED_RUN_MS: i64 = 3 * stats::calendar::HOUR_MS;

/// The windows split into the runs of daily jobs (`stats::calendar::daily_schedules`) and
/// the rest: the same short departure at the same time of day on most days is how this
/// metric spends that hour, not an incident.
fn daily_schedules(context: &Context, windows: Vec<Window>) -> (Vec<DailySchedule>, Vec<Window>) {
    let t = &context.series.timestamps;
    let short: Vec<usize> = (0..windows.len())
        .filter(|&i| t[windows[i].end] - t[windows[i].start] <= SCHEDULED_RUN_MS)
        .collect();
    let departures: Vec<(i64, f64)> = short
        .iter()
        .map(|&i| (t[windows[i].start], windows[i].magnitude))
        .collect();
    let schedules = stats::calendar::daily_schedules(&departures);
    let scheduled: Vec<usize> = schedules
        .iter()
        .flat_map(|s| s.members.iter().map(|&m| short[m]))
        .collect();
    let rest = (0..windows.len())
        .filter(|i| !scheduled.contains(i))
        .map(|i| windows[i])
        .collect();
    (schedules, rest)
}

/// ` A rise around 03:20 UTC recurs on 6 days: a daily job, not an incident.` for each
/// schedule, else nothing.
fn schedules_sentence(schedules: &[DailySchedule]) -> String {
    schedules
        .iter()
        .map(|s| {
            let minutes = s.time_of_day_ms / stats::calendar::MINUTE_MS;
            format!(
                " A {} around {:02}:{:02} UTC recurs on {} {}: a daily job or rhythm, not an incident.",
                if s.rising { "rise" } else { "drop" },
                minutes / 60,
                minutes % 60,
                s.days,
                s.on.label()
            )
        })
        .collect()
}

fn severity(
    context: &Context,
    anomalous: bool,
    probability: f64,
    confidence: f64,
    consensus: u8,
    windows: &[Window],
) -> u8 {
    if !anomalous {
        return (3.0 * probability).round() as u8;
    }
    let base = windows
        .iter()
        .map(|w| match w.kind {
            WindowKind::Outage => 8,
            _ => {
                4 + [0.2, 0.5, 1.0]
                    .iter()
                    .filter(|step| w.magnitude.abs() >= **step)
                    .count() as u8
            }
        })
        .max()
        .unwrap_or(4);
    let ongoing = windows.last().is_some_and(|w| still_going_on(context, w));
    let certain = confidence >= 0.95 && consensus == 3;
    (base + u8::from(ongoing) + u8::from(certain)).clamp(4, 10)
}

/// The highest confidence a verdict can state when only `consensus` of the three agents agree
/// with it: two of three cannot make it near certain, one of three even less.
fn agreement_cap(consensus: u8) -> f64 {
    match consensus {
        3.. => super::MAX_CONFIDENCE,
        2 => 0.9,
        _ => 0.75,
    }
}

/// The most a departure explained away — by the calendar, or as what this metric does
/// elsewhere anyway — can make "anomalous" (severity 1).
const EXPLAINED_PROBABILITY: f64 = 0.3;
/// The most an incident on a first weekend is believed: the weekend may be the cause.
const FIRST_WEEKEND_PROBABILITY: f64 = 0.8;
const FIRST_WEEKEND_NOTE: &str = " It falls on the first weekend in the data: if this metric is usually different at weekends, mark it a false positive.";

/// Changes of level or shape, which the calendar can explain; spikes, dips, bursts and
/// outages it never does.
fn is_level_like(kind: WindowKind) -> bool {
    matches!(
        kind,
        WindowKind::LevelShift
            | WindowKind::Drift
            | WindowKind::SeasonalityBreak
            | WindowKind::VarianceChange
    )
}

/// Whether `passing` (a spike or dip) is the edge of the calendar step `calendar`: near it
/// (within a quarter of its length), no larger and no longer than it, as the baseline catches
/// up with the step where it begins and where it ends. An outage next to a step is no edge of
/// it.
fn part_of_calendar_step(passing: &Window, calendar: &Window) -> bool {
    let margin = (calendar.end - calendar.start) / 4;
    let near = passing.end + margin >= calendar.start && passing.start <= calendar.end + margin;
    let edge = passing.kind != WindowKind::Outage
        && passing.end - passing.start <= calendar.end - calendar.start;
    near && edge && within_step_reach(passing, calendar)
}

/// The weekend or night that explains `window` (a change of level or shape, its fragments
/// merged), in a series too short to have shown one before.
fn calendar_period(context: &Context, window: &Window) -> Option<CalendarPeriod> {
    let t = &context.series.timestamps;
    stats::calendar::calendar_period(
        t[window.start],
        t[window.end],
        (t[0], t[t.len() - 1]),
        window.magnitude < 0.0,
    )
}

/// `window` split into the calendar step it holds, if any, and what is left before that step.
/// A calendar step is a weekend or a night the data have not shown before that begins when a
/// day begins somewhere (on a whole hour of UTC, to the resolution of the data); its
/// magnitude is the step it makes (the median after it against the level right before it,
/// not its largest point, which may be a spike of its own). A step at 18:25 is something that
/// happened, not the calendar.
fn calendar_split(context: &Context, window: Window) -> (Option<Window>, Option<Window>) {
    let d = context.decomposition;
    let values = &context.series.values;
    let median = |range: std::ops::Range<usize>| d.deseasonalised_median(values, range);
    if window.start < MIN_BEFORE_POINTS {
        return match leading_calendar(context, &window) {
            Some(calendar) => (Some(calendar), None),
            None => (None, Some(window)),
        };
    }
    let (Some(before), Some(during)) = (
        median(level_before(window.start)),
        median(window.start..window.end + 1),
    ) else {
        return (None, Some(window));
    };
    // Where the step is: the agents' windows may begin early (a bend fitted through it, a
    // trend that leans into it), so the best split in the window's first half decides (the
    // second half may hold an incident of its own: an outage on the Sunday night).
    let direction = (during - before).signum();
    let first_half = window.start..window.start + (window.end - window.start) / 2 + 1;
    let onset = step_onset(context, first_half, direction);
    let (Some(level), Some(after)) = (median(level_before(onset)), median(onset..window.end + 1))
    else {
        return (None, Some(window));
    };
    // Where the data leave the step's level again (the first stretch back past half of it),
    // whatever the agents' windows cut or merged: a working day ends in the evening, a night
    // that the baseline soon followed still lasts until the morning.
    let n = values.len();
    let halfway = (level + after) / 2.0;
    let held = |i: usize| {
        median(i..(i + LAST_POINTS).min(n)).is_some_and(|m| direction * (m - halfway) > 0.0)
    };
    let end = (onset..n)
        .find(|&i| !held(i))
        .map_or(n - 1, |i| i.max(onset + 1) - 1);
    let calendar = Window {
        start: onset,
        end,
        magnitude: (after - level) / context.level(),
        ..window
    };
    // A window that goes far beyond its step holds more than the calendar: bursts, a spike.
    let beyond_the_step = !within_step_reach(&window, &calendar);
    if !on_the_hour(context, onset)
        || beyond_the_step
        || calendar_period(context, &calendar).is_none()
    {
        return (None, Some(window));
    }
    // What came before the step stays, if the data really left the level before it there.
    let rest = (onset > window.start + 2)
        .then(|| Window {
            end: onset - 1,
            magnitude: super::window_magnitude(context, window.start, onset - 1),
            ..window
        })
        .filter(|rest| {
            median(rest.start..rest.end + 1).is_some_and(|m| {
                let departure = (m - before) / d.scale_at(before);
                departure * rest.magnitude.signum() >= DEPARTED
            })
        });
    (Some(calendar), rest)
}

/// Fewest points before a window that say what level it left; a window that begins sooner is
/// judged by the level it returns to.
const MIN_BEFORE_POINTS: usize = 12;

/// The calendar period a window at the very start of the data ends with: the night the data
/// began in, over when the day begins (a step on a whole hour at its end, to the level after
/// it). Its magnitude is the level it held against the level after it.
fn leading_calendar(context: &Context, window: &Window) -> Option<Window> {
    let d = context.decomposition;
    let values = &context.series.values;
    let n = values.len();
    let median = |range: std::ops::Range<usize>| d.deseasonalised_median(values, range);
    let after_window = window.end + 1..(window.end + 1 + LEVEL_POINTS).min(n);
    let (after, during) = (median(after_window)?, median(window.start..window.end + 1)?);
    let direction = (after - during).signum();
    let second_half = window.start + (window.end - window.start) / 2..(window.end + 2).min(n);
    let step = step_onset(context, second_half, direction);
    let held = median(window.start..step)?;
    let calendar = Window {
        end: step.checked_sub(1)?,
        magnitude: (held - after) / context.level(),
        ..*window
    };
    // The window is the stretch before the step (to within a quarter of it), no more.
    let within_the_step = within_step_reach(window, &calendar)
        && window.end - calendar.end <= (calendar.end - calendar.start) / 4;
    (on_the_hour(context, step) && within_the_step && calendar_period(context, &calendar).is_some())
        .then_some(calendar)
}

/// Whether the step at point `i` falls on a whole hour of UTC, to the resolution of the data
/// (within two readings, of a minute at least): when a day begins somewhere. The step finder
/// places a clean step within a reading or two; a wider tolerance would let a third of all
/// drops that happen to fall near an hour pass for the calendar.
fn on_the_hour(context: &Context, i: usize) -> bool {
    let t = context.series.timestamps[i];
    let tolerance = 2 * context.series.interval_ms.max(60_000);
    let off_the_hour = (t + 1_800_000).rem_euclid(3_600_000) - 1_800_000;
    off_the_hour.abs() <= tolerance
}

/// How far beyond a calendar step a window may go and still be that step (or its edge).
const STEP_REACH: f64 = 1.5;

/// Whether `window` goes no further than [`STEP_REACH`] times the calendar step `step`.
fn within_step_reach(window: &Window, step: &Window) -> bool {
    window.magnitude.abs() <= STEP_REACH * step.magnitude.abs()
}

/// Where a step in `direction` happens within `range`: the split that best separates the
/// points before it from those after it (an hour's worth or so on each side), with the
/// seasonal pattern taken out.
fn step_onset(context: &Context, range: std::ops::Range<usize>, direction: f64) -> usize {
    const SIDE: usize = 12;
    let d = context.decomposition;
    let values = &context.series.values;
    let n = values.len();
    let x = |i: usize| values[i] - d.seasonal[i];
    let mean = |r: std::ops::Range<usize>| {
        let len = r.len().max(1) as f64;
        r.map(x).sum::<f64>() / len
    };
    let gap = |i: usize| direction * (mean(i..(i + SIDE).min(n)) - mean(i.saturating_sub(SIDE)..i));
    let start = range.start;
    range
        .filter(|&i| i > 0)
        .max_by(|&a, &b| gap(a).total_cmp(&gap(b)))
        .unwrap_or(start)
}

/// Whether `window` falls on the only weekend of the data (Saturday to Monday, ± 12 hours
/// for the time zones): no other weekend shows what this metric's weekends look like.
fn on_first_weekend(context: &Context, window: &Window) -> bool {
    let t = &context.series.timestamps;
    stats::calendar::on_only_weekend(t[window.start], t[window.end], t[0], t[t.len() - 1])
}

/// Points at the end that say where the metric is now.
const LAST_POINTS: usize = 5;

/// The points before a window starting at `start` that give the level it departed from.
pub fn level_before(start: usize) -> std::ops::Range<usize> {
    start.saturating_sub(LEVEL_POINTS)..start
}

/// Points that give a level: before a window, or after one the data begin with.
const LEVEL_POINTS: usize = 30;

/// Whether `window` is still going on: it reaches the last point, and the last points (with
/// the seasonal pattern taken out) still sit at least 3 noise scales from the level before
/// the window. A spike that is over is over, however its window was drawn.
fn still_going_on(context: &Context, window: &Window) -> bool {
    let d = context.decomposition;
    let values = &context.series.values;
    let n = values.len();
    if window.end + 1 < n {
        return false;
    }
    let Some(before) = d.deseasonalised_median(values, level_before(window.start)) else {
        return true;
    };
    d.deseasonalised_median(values, n.saturating_sub(LAST_POINTS)..n)
        .is_some_and(|now| (now - before).abs() >= 3.0 * d.scale)
}

pub fn severity_label(severity: u8) -> &'static str {
    match severity {
        0..=3 => "info",
        4..=6 => "warning",
        7..=8 => "error",
        _ => "critical",
    }
}

/// The verdict's sentence: `main`, the window it names when the case is anomalous, and how many
/// others there are; else what explains the data.
fn verdict_sentence(
    context: &Context,
    main: Option<&Window>,
    severity: u8,
    consensus: u8,
    (windows, smaller): (&[Window], usize),
    calendar: &[Window],
) -> String {
    let metric = &context.series.metric;
    let Some(main) = main else {
        if let Some((w, period)) = calendar
            .iter()
            .find_map(|w| calendar_period(context, w).map(|p| (w, p)))
        {
            return format!(
                "{metric} looks normal: it runs {:+.0}% from {} to {}, which is {}: a calendar effect, and the data holds no earlier one to compare with.",
                w.magnitude * 100.0,
                context.time_of(w.start),
                context.time_of(w.end),
                period.label()
            );
        }
        if let Some(quieter) = context.decomposition.quieter_weekend {
            return format!(
                "{metric} looks normal: nothing departs from its baseline, which allows for its weekend running {:.0}% below its weekdays: a calendar effect ({consensus} of 3 agents agree).",
                quieter * 100.0
            );
        }
        return format!("{metric} looks normal: nothing departs from its baseline ({consensus} of 3 agents agree).");
    };
    let ongoing = if still_going_on(context, main) {
        ", ongoing"
    } else {
        ""
    };
    let others = match windows.len() - 1 {
        0 => String::new(),
        1 => " and 1 other window".to_string(),
        k => format!(" and {k} other windows"),
    };
    let others = match smaller {
        0 => others,
        1 => format!("{others} (and 1 smaller departure)"),
        k => format!("{others} (and {k} smaller departures)"),
    };
    format!(
        "{} anomaly in {metric}: {} from {} to {} ({:+.0}% vs baseline{ongoing}){others}; {consensus} of 3 agents agree.",
        super::pattern_analyst::capitalize(severity_label(severity)),
        main.kind.label(),
        context.time_of(main.start),
        context.time_of(main.end),
        main.magnitude * 100.0,
    )
}

/// ` No data from … to … (21 h).` when rows are missing, else nothing.
fn missing_data_sentence(context: &Context, missing: &[Window]) -> String {
    missing.first().map_or(String::new(), |first| {
        format!(
            " {}.",
            super::pattern_analyst::capitalize(&super::pattern_analyst::no_data_phrase(
                context,
                first,
                missing.len()
            ))
        )
    })
}

fn hypothesis_sentence(anomalous: bool, hypothesis: Option<&Hypothesis>) -> String {
    match (anomalous, hypothesis) {
        (true, Some(h)) => h.text.clone(),
        (true, None) => {
            "No known failure pattern fits; compare with recent changes and neighbouring metrics."
                .to_string()
        }
        (false, _) => "No action needed.".to_string(),
    }
}
