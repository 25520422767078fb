//! Seasonality: autocorrelation, period detection (daily, weekly, or the dominant lag) and a
//! robust decomposition `value = trend + seasonal + residual` that the agents share.
//!
//! The trend is a piecewise-linear line through block medians and the seasonal profile is the
//! per-phase median of the detrended values, so a few anomalous cycles do not bend the baseline.
//! Weekends get a profile of their own when the weekdays can teach one; when they cannot (two
//! days of which one is a weekend), one day's rhythm is fitted instead of a profile that would
//! judge each day against the mean of two different kinds of day. A series too short for
//! the profile gets one day's shape fitted: a wave, or the working day's square step, with
//! the weekend at a level of its own, adding to the level or multiplying it. A series with no
//! daily rhythm at all may still have a quieter weekend: it gets a level of its own too.
//!
//! # Free constants
//!
//! The baseline every agent reads: a profile from `MIN_CYCLES` 2 cycles, preferred to a
//! fitted day from `MIN_PROFILE_CYCLES` 3 (with two, each day is the other's baseline);
//! weekends of their own from `MIN_WEEKDAY_MS` 36 h of weekdays and half a day of weekend,
//! first fitted on the medians of 24 bands of the weekday profile (as many as a day's hours)
//! and then on the pairs clipped at 3 robust scales around that;
//! cycles that disagree by `DISAGREEMENT` 3× their usual range; values clipped at
//! `CLIP_SCALES` 4 before correlating; a fitted day from `MIN_WAVE_SPAN_MS` 18 h on
//! `WAVE_BUCKETS` 240 bucket means clipped at 3 robust scales, believed at `MIN_WAVE_SHARE`
//! 0.5 of what a line leaves (clipped around the fit with and without its step) or when as
//! significant as a step on the hourly medians (small counts hide a wave from the means), a
//! step beside it at `MIN_STEP_F` 25 with `MIN_STEP_SIDE` 8 buckets a side, `WORKING_HOURS`
//! 6–14 whole hours (as significant as a step on hourly medians, over a rise that stays too),
//! and a weekend fitted when each kind of day holds `MIN_KIND_OF_DAY_SHARE` 10%. A weekend
//! level without a rhythm adds none: the same day and a half, half a day, `MIN_WAVE_SHARE`
//! and, against one change anywhere, `MIN_STEP_F`.

use super::calendar::is_weekend;
use super::robust::{median_in_place, robust_scale};
use super::rolling::trailing_means;
use super::trend::least_squares;

pub use super::calendar::{DAY_MS, HOUR_MS, MINUTE_MS, WEEK_MS};

/// Cycles a series must span before a seasonal profile is trusted.
pub const MIN_CYCLES: i64 = 2;
/// Cycles a daily profile must span before it is preferred to a fitted day's shape: with two,
/// each day's baseline is the other day, and the wander of either shows twice, mirrored.
const MIN_PROFILE_CYCLES: i64 = 3;

/// Most buckets used for autocorrelation; keeps period detection O(1) in the series length.
const ACF_BUCKETS: usize = 2048;

/// A detected seasonal period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seasonality {
    pub period_ms: i64,
    /// Autocorrelation at the period lag (0..1): how much of the shape repeats.
    pub strength: f64,
}

impl Seasonality {
    pub fn label(&self) -> String {
        match self.period_ms {
            DAY_MS => "daily".to_string(),
            WEEK_MS => "weekly".to_string(),
            p => format!("{} min", p / MINUTE_MS),
        }
    }
}

/// Sample autocorrelation of `y` at `lag`, with the covariance averaged over the `n − lag`
/// pairs it has (so long lags are not shrunk towards zero, which would hide weekly cycles).
pub fn autocorrelation(y: &[f64], lag: usize) -> f64 {
    let n = y.len();
    if lag >= n || n < 3 {
        return 0.0;
    }
    let mean = y.iter().sum::<f64>() / n as f64;
    let variance: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    if variance <= 0.0 {
        return 0.0;
    }
    let covariance: f64 = (0..n - lag)
        .map(|i| (y[i] - mean) * (y[i + lag] - mean))
        .sum();
    (covariance / (n - lag) as f64) / (variance / n as f64)
}

/// Detects a daily or weekly cycle, or else the dominant autocorrelation period.
/// Requires at least [`MIN_CYCLES`] cycles of data.
pub fn detect_period(timestamps: &[i64], values: &[f64], interval_ms: i64) -> Option<Seasonality> {
    let span = timestamps.last()? - timestamps.first()?;
    let interval_ms = interval_ms.max(1);
    let bucket_ms = interval_ms * (span / (ACF_BUCKETS as i64 * interval_ms) + 1);
    let grid = regular_grid(timestamps, values, bucket_ms)?;
    let detrended = remove_linear_trend(&grid);
    let acf_at = |period_ms: i64| -> Option<f64> {
        let lag = (period_ms as f64 / bucket_ms as f64).round() as usize;
        if span + bucket_ms < MIN_CYCLES * period_ms || lag < 4 {
            return None;
        }
        let cycles_only = winsorised(&remove_moving_average(&grid, lag));
        Some(autocorrelation(&cycles_only, lag)).filter(|_| is_peak(&cycles_only, lag))
    };
    let daily = acf_at(DAY_MS);
    let weekly = acf_at(WEEK_MS);
    if let Some(w) = weekly {
        if w >= 0.3 && w > daily.unwrap_or(0.0) + 0.05 {
            return Some(Seasonality {
                period_ms: WEEK_MS,
                strength: w,
            });
        }
    }
    if let Some(d) = daily.filter(|d| *d >= 0.3) {
        return Some(Seasonality {
            period_ms: DAY_MS,
            strength: d,
        });
    }
    dominant_period(&detrended, bucket_ms, span + bucket_ms)
}

/// The lag with the highest autocorrelation after the first zero crossing, if it is a clear
/// peak (≥ 0.5 and well above the correlation at half the lag) seen at least three times and
/// present in every quarter of the series (every half when quarters are shorter than two
/// cycles) as a peak of its own: a rhythm that only starts midway is an anomaly (a new cron
/// job, throttling), not seasonality — and a quarter of a slow wave or of a metric with
/// memory correlates at any short lag without repeating anything.
fn dominant_period(detrended: &[f64], bucket_ms: i64, span: i64) -> Option<Seasonality> {
    let max_lag = detrended.len() / 3;
    let acf: Vec<f64> = (0..=max_lag)
        .map(|lag| autocorrelation(detrended, lag))
        .collect();
    let first_negative = acf.iter().position(|r| *r < 0.0)?;
    let (lag, strength) = acf
        .iter()
        .enumerate()
        .skip(first_negative)
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    let period_ms = lag as i64 * bucket_ms;
    let parts = if detrended.len() / 4 >= 2 * lag { 4 } else { 2 };
    let holds_throughout = detrended
        .chunks(detrended.len().div_ceil(parts))
        .map(remove_linear_trend)
        .all(|part| autocorrelation(&part, lag) >= 0.3 && is_peak(&part, lag));
    (*strength >= 0.5
        && lag >= 4
        && acf[lag / 2] < strength - 0.4
        && span >= 3 * period_ms
        && holds_throughout)
        .then_some(Seasonality {
            period_ms,
            strength: *strength,
        })
}

/// A lag is a seasonal peak when the correlation half a cycle away is clearly lower; this
/// rejects the uniformly high autocorrelation of trends and level shifts.
fn is_peak(y: &[f64], lag: usize) -> bool {
    autocorrelation(y, lag) - autocorrelation(y, lag / 2) >= 0.3
}

/// Means of `values` in consecutive `bucket_ms` buckets from the first timestamp; empty
/// buckets take the previous bucket's mean (only for correlation, never for detection).
pub fn regular_grid(timestamps: &[i64], values: &[f64], bucket_ms: i64) -> Option<Vec<f64>> {
    let totals = bucket_totals(timestamps, values, bucket_ms)?;
    let mut grid = Vec::with_capacity(totals.len());
    let mut last = values[0];
    for (sum, count) in totals {
        if count > 0 {
            last = sum / count as f64;
        }
        grid.push(last);
    }
    Some(grid)
}

/// (sum, count) of `values` in consecutive `bucket_ms` buckets from the first timestamp.
fn bucket_totals(timestamps: &[i64], values: &[f64], bucket_ms: i64) -> Option<Vec<(f64, u32)>> {
    let start = *timestamps.first()?;
    let buckets = ((timestamps.last()? - start) / bucket_ms + 1) as usize;
    let mut totals = vec![(0.0, 0u32); buckets];
    for (t, v) in timestamps.iter().zip(values) {
        let (sum, count) = &mut totals[((t - start) / bucket_ms) as usize];
        *sum += v;
        *count += 1;
    }
    Some(totals)
}

/// Subtracts a centred moving average one cycle wide: it removes level shifts and trends but
/// leaves a cycle of exactly that width untouched, so a step cannot pose as seasonality.
fn remove_moving_average(y: &[f64], width: usize) -> Vec<f64> {
    let n = y.len();
    if n == 0 {
        return Vec::new();
    }
    // Windows are centred, shifted inwards at the ends so each holds `width` values.
    let width = width.clamp(1, n);
    let means = trailing_means(y, width);
    let half = width / 2;
    (0..n)
        .map(|i| y[i] - means[i.saturating_sub(half).min(n - width) + width - 1])
        .collect()
}

/// Robust scales beyond which a value is clipped before correlating: a cycle's own swings
/// stay whole (a sine reaches 1.4 of them), a step or an outage is cut to size.
const CLIP_SCALES: f64 = 4.0;

/// `y` clipped to its median ± [`CLIP_SCALES`] robust scales, so that one incident's large
/// values (the last two hours at 4×) cannot outweigh days of a daily cycle in a correlation.
fn winsorised(y: &[f64]) -> Vec<f64> {
    let (Some(center), Some(scale)) = (super::median(y), robust_scale(y)) else {
        return y.to_vec();
    };
    let (low, high) = (center - CLIP_SCALES * scale, center + CLIP_SCALES * scale);
    y.iter()
        .map(|v| v.clamp(low.min(high), high.max(low)))
        .collect()
}

fn remove_linear_trend(y: &[f64]) -> Vec<f64> {
    let n = y.len() as f64;
    let mean_x = (n - 1.0) / 2.0;
    let mean_y = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in y.iter().enumerate() {
        let dx = i as f64 - mean_x;
        sxy += dx * (v - mean_y);
        sxx += dx * dx;
    }
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    y.iter()
        .enumerate()
        .map(|(i, v)| v - mean_y - slope * (i as f64 - mean_x))
        .collect()
}

/// `value = trend + seasonal + residual`, point by point, plus the residual noise scale.
#[derive(Debug, Clone)]
pub struct Decomposition {
    pub seasonality: Option<Seasonality>,
    pub trend: Vec<f64>,
    pub seasonal: Vec<f64>,
    pub residual: Vec<f64>,
    /// Robust standard deviation of the residuals (never zero).
    pub scale: f64,
    /// Noise scale by baseline level: `(upper edge of the baseline, scale)` for each quartile
    /// of the baseline. Noise usually grows with the level (busy hours are noisier than
    /// quiet ones), so one global scale would call every busy-hour wiggle an outlier.
    pub scale_by_level: Vec<(f64, f64)>,
    /// The values are small counts (non-negative integers, median ≤ [`SMALL_COUNT`]): their
    /// noise is Poisson-like, skewed upwards, and a z-score alone overstates a burst of 9 on a
    /// baseline of 2.
    pub counts: bool,
    /// How much quieter Saturdays and Sundays run than weekdays at the same hours (a share of
    /// the weekday level), when the baseline judges weekends as their own kind of day.
    pub quieter_weekend: Option<f64>,
}

/// Counts with a median above this are near enough to Gaussian for plain z-scores.
pub const SMALL_COUNT: f64 = 100.0;

impl Decomposition {
    /// The expected value at point `i`.
    pub fn baseline(&self, i: usize) -> f64 {
        self.trend[i] + self.seasonal[i]
    }

    /// Residual of point `i` in units of the noise scale at its baseline level. For small
    /// counts, the Poisson deviance residual when it is the more modest of the two: it has
    /// the Gaussian's tail probabilities where the plain z-score exaggerates them.
    pub fn z(&self, i: usize) -> f64 {
        let plain = self.residual[i] / self.scale_at(self.baseline(i));
        if !self.counts {
            return plain;
        }
        let expected = self.baseline(i).max(0.5);
        let deviance = poisson_deviance_residual(expected + self.residual[i], expected);
        if deviance.abs() < plain.abs() {
            deviance
        } else {
            plain
        }
    }

    /// Median of `values[range]` with the seasonal pattern taken out: the level a stretch sat
    /// at, whatever the time of day. `None` for an empty range.
    pub fn deseasonalised_median(
        &self,
        values: &[f64],
        range: std::ops::Range<usize>,
    ) -> Option<f64> {
        let levels: Vec<f64> = range.map(|i| values[i] - self.seasonal[i]).collect();
        super::median(&levels)
    }

    /// Noise scale for a point whose baseline is `level`.
    pub fn scale_at(&self, level: f64) -> f64 {
        self.scale_by_level
            .iter()
            .find(|(upper, _)| level <= *upper)
            .or(self.scale_by_level.last())
            .map_or(self.scale, |(_, scale)| *scale)
    }
}

/// Quartile bands of the baseline and the robust residual scale inside each. A band's scale is
/// kept within [½, 4] × the global scale so a quiet or tiny band cannot explode the z-scores.
fn scale_by_level(baseline: &[f64], residual: &[f64], global: f64) -> Vec<(f64, f64)> {
    const BANDS: usize = 4;
    let n = baseline.len();
    if n < BANDS * 20 {
        return vec![(f64::INFINITY, global)];
    }
    let mut sorted = baseline.to_vec();
    let edges: Vec<f64> = (1..BANDS)
        .map(|k| {
            *sorted
                .select_nth_unstable_by(k * n / BANDS, f64::total_cmp)
                .1
        })
        .chain(std::iter::once(f64::INFINITY))
        .collect();
    let mut members: Vec<Vec<f64>> = (0..BANDS)
        .map(|_| Vec::with_capacity(n / BANDS + 1))
        .collect();
    for (b, r) in baseline.iter().zip(residual) {
        let band = edges.iter().position(|edge| b <= edge).unwrap_or(BANDS - 1);
        members[band].push(*r);
    }
    edges
        .into_iter()
        .zip(members)
        .map(|(edge, band)| {
            let scale = robust_scale(&band)
                .filter(|_| band.len() >= 20)
                .unwrap_or(global);
            (edge, scale.clamp(0.5 * global, 4.0 * global))
        })
        .collect()
}

/// Decomposes the series. Without seasonality the trend blocks are short (≈5% of the series,
/// 10–2000 points) so the baseline follows slow wander; with it, one block is one cycle.
pub fn decompose(
    timestamps: &[i64],
    values: &[f64],
    interval_ms: i64,
    seasonality: Option<Seasonality>,
) -> Decomposition {
    let n = values.len();
    let span = timestamps
        .last()
        .zip(timestamps.first())
        .map_or(0, |(l, f)| l - f);
    let wave = match seasonality {
        None if span < MIN_CYCLES * DAY_MS => fitted_daily_wave(timestamps, values),
        // Days of two kinds, too few of one to teach its own profile: each day would be
        // judged against the mean of itself and a day of the other kind.
        Some(s)
            if s.period_ms == DAY_MS
                && (span < MIN_PROFILE_CYCLES * DAY_MS
                    || mixes_kinds_of_day(timestamps, interval_ms)) =>
        {
            fitted_daily_wave(timestamps, values)
        }
        _ => None,
    };
    let seasonality = seasonality.or(wave.as_ref().map(|w| w.seasonality));
    let block = match (seasonality, &wave) {
        (Some(s), None) => ((s.period_ms / interval_ms.max(1)) as usize).max(4),
        _ => (n / 20).clamp(10, 2000),
    };
    let first_trend = block_median_trend(values, block);
    let mut quieter_weekend = None;
    // The trend read again with the cycle taken out: a last block that holds only part of a
    // cycle (the night hours of a day just begun) would otherwise set the level too low.
    let beside = |seasonal: Vec<f64>| {
        let deseasonalised: Vec<f64> = values.iter().zip(&seasonal).map(|(v, s)| v - s).collect();
        (block_median_trend(&deseasonalised, block), seasonal)
    };
    let (trend, seasonal) = match (seasonality, wave) {
        (_, Some(wave)) => {
            quieter_weekend = wave.quieter_weekend;
            beside(wave.seasonal)
        }
        (Some(s), None) => {
            let weekend = match s.period_ms {
                DAY_MS => weekend_profile(timestamps, values, interval_ms),
                _ => None,
            };
            quieter_weekend = weekend.as_ref().map(|w| w.quieter_by);
            beside(weekend.map(|w| w.seasonal).unwrap_or_else(|| {
                seasonal_profile(timestamps, values, &first_trend, s.period_ms, interval_ms)
            }))
        }
        (None, None) => match weekend_level(timestamps, values, interval_ms) {
            Some(weekend) => {
                quieter_weekend = Some(weekend.quieter_by);
                beside(weekend.seasonal)
            }
            None => (first_trend, vec![0.0; n]),
        },
    };
    let residual: Vec<f64> = (0..n).map(|i| values[i] - trend[i] - seasonal[i]).collect();
    let scale = robust_scale(&residual)
        .filter(|s| *s > 0.0)
        .unwrap_or_else(|| fallback_scale(values))
        .max(super::robust::resolution(values));
    let baseline: Vec<f64> = (0..n).map(|i| trend[i] + seasonal[i]).collect();
    let scale_by_level = scale_by_level(&baseline, &residual, scale);
    Decomposition {
        seasonality,
        trend,
        seasonal,
        residual,
        scale,
        scale_by_level,
        counts: small_counts(values),
        quieter_weekend,
    }
}

/// Whether a tenth or more of the points fall on a weekend while the weekdays are too few
/// to learn a weekday profile from, or the weekend too short to be fitted against it
/// ([`weekend_profile`]).
fn mixes_kinds_of_day(timestamps: &[i64], interval_ms: i64) -> bool {
    let weekend = timestamps.iter().filter(|&&t| is_weekend(t)).count();
    let weekdays = timestamps.len() - weekend;
    weekend >= timestamps.len() / 10
        && (too_few_weekdays(weekdays, interval_ms) || too_short_a_weekend(weekend, interval_ms))
}

/// Whether `weekend` points at `interval_ms` fall short of half a day.
fn too_short_a_weekend(weekend: usize, interval_ms: i64) -> bool {
    (weekend as i64) < DAY_MS / 2 / interval_ms.max(1)
}

/// Whether `weekdays` points at `interval_ms` fall short of [`MIN_WEEKDAY_MS`].
fn too_few_weekdays(weekdays: usize, interval_ms: i64) -> bool {
    (weekdays as i64) < MIN_WEEKDAY_MS / interval_ms.max(1)
}

/// A daily rhythm fitted to a series too short to show it twice.
struct FittedWave {
    seasonality: Seasonality,
    /// The rhythm at each point (its level is the trend's).
    seasonal: Vec<f64>,
    /// How much quieter the weekend runs, a share of the level, when the fit holds one.
    quieter_weekend: Option<f64>,
}

/// Shortest span over which one day's wave is fitted: most of a day.
const MIN_WAVE_SPAN_MS: i64 = 18 * HOUR_MS;
/// Share of what the rest of the fit leaves that the wave must explain to be believed.
const MIN_WAVE_SHARE: f64 = 0.5;
/// Buckets the series is summarised into for the fit.
const WAVE_BUCKETS: i64 = 240;
/// F statistic a step must reach to be fitted beside the wave (its position is the best of
/// many, as for the Change Detective's bend).
const MIN_STEP_F: f64 = 25.0;
/// Fewest buckets on either side of a step.
const MIN_STEP_SIDE: usize = 8;
/// Working hours last from six to fourteen hours (whole hours of UTC, in any time zone).
const WORKING_HOURS: std::ops::RangeInclusive<u8> = 6..=14;
/// A weekend is fitted beside the rhythm when each kind of day holds this share of the data.
const MIN_KIND_OF_DAY_SHARE: f64 = 0.1;

/// The shape of one day's rhythm.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rhythm {
    /// One sinusoid of period 24 h: a smooth rise and fall.
    Wave,
    /// Busier on weekdays from `from` for `hours` (whole hours of UTC, wrapping at midnight):
    /// the working day's square step, on top of a wave.
    WorkingHours { from: u8, hours: u8 },
}

/// A rhythm, and whether the weekend runs at a level of its own beside it (with a wave of
/// its own size: a quieter weekend has a smaller wave).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Shape {
    rhythm: Rhythm,
    weekend: bool,
    /// Fitted to the log of the values: the rhythm multiplies the level.
    multiplicative: bool,
}

impl Shape {
    /// How many of [`Shape::at`]'s regressors the shape uses.
    fn regressors(self) -> usize {
        let rhythm = match self.rhythm {
            Rhythm::Wave => 2,
            Rhythm::WorkingHours { .. } => 3,
        };
        rhythm + if self.weekend { 3 } else { 0 }
    }

    /// The shape's regressors at `t`: the wave's two, the working hours', and the weekend's
    /// level and wave (a quieter weekend has a smaller wave).
    fn at(self, t: i64) -> [f64; 6] {
        let weekend = is_weekend(t);
        let phase = std::f64::consts::TAU * t.rem_euclid(DAY_MS) as f64 / DAY_MS as f64;
        let in_hours = match self.rhythm {
            Rhythm::Wave => false,
            Rhythm::WorkingHours { from, hours } => !weekend && within_hours(t, from, hours),
        };
        let (sin, cos) = phase.sin_cos();
        let in_hours = f64::from(u8::from(in_hours));
        let on_weekend = f64::from(u8::from(self.weekend && weekend));
        [
            sin,
            cos,
            in_hours,
            on_weekend,
            on_weekend * sin,
            on_weekend * cos,
        ]
    }
}

/// Whether `t` falls within `hours` whole hours of UTC from `from` (wrapping at midnight).
fn within_hours(t: i64, from: u8, hours: u8) -> bool {
    let hour = (t.rem_euclid(DAY_MS) / HOUR_MS) as u8;
    (hour + 24 - from) % 24 < hours
}

/// The regressors of one fit: level, slope per day, a step that stays from `step` on, and the
/// shape (when fitted).
fn design(first: i64, shape: Option<Shape>, step: Option<i64>) -> impl Fn(i64) -> [f64; 9] + Copy {
    move |t: i64| {
        let stepped = step.map_or(0.0, |at| f64::from(u8::from(t >= at)));
        let days = (t - first) as f64 / DAY_MS as f64;
        let mut row = [0.0; 9];
        row[..3].copy_from_slice(&[1.0, days, stepped]);
        row[3..].copy_from_slice(&shape.map_or([0.0; 6], |s| s.at(t)));
        row
    }
}

/// Where [`design`] puts the step, the working hours and the weekend's level.
const STEP_COLUMN: usize = 2;
const IN_HOURS_COLUMN: usize = 5;
const WEEKEND_COLUMN: usize = 6;

/// The daily rhythm of a series too short for the phase profile (fewer than [`MIN_CYCLES`]
/// days, where one day's values would explain themselves; fewer than
/// [`MIN_PROFILE_CYCLES`]; or days of two kinds with too few of one), long enough to see one
/// rise and fall. A day is the most common rhythm an operational metric has, in one of two
/// shapes: a smooth wave (one sinusoid of period 24 h) or the working day's square step
/// (busier on weekdays between two whole hours, 6–14 hours apart, on top of a wave); where the
/// data hold both kinds of day, the weekend may run at a lower level, with a wave of its own
/// size (a busier weekend is something that happened). The shape that explains more is
/// believed when it explains most of what a straight line leaves ([`MIN_WAVE_SHARE`]), or
/// when it is as significant as a step on the hourly medians (counts of one or two a minute
/// hide a wave from the means, while bursts in an afternoon do not move medians). It is
/// fitted beside the line and, when the data hold one, a step that stays
/// (a change is not part of the rhythm: it stays for the agents), on bucket means whose
/// residuals from a first fit are clipped at 3 robust scales, so that a spike or an outage
/// cannot make itself the rhythm.
fn fitted_daily_wave(timestamps: &[i64], values: &[f64]) -> Option<FittedWave> {
    let (&first, &last) = (timestamps.first()?, timestamps.last()?);
    let span = last - first;
    if span < MIN_WAVE_SPAN_MS || values.len() < 48 {
        return None;
    }
    let (times, means) = bucket_means(timestamps, values, span / WAVE_BUCKETS + 1);
    let weekend_share =
        times.iter().filter(|&&t| is_weekend(t)).count() as f64 / times.len().max(1) as f64;
    let both_kinds_of_day =
        (MIN_KIND_OF_DAY_SHARE..=1.0 - MIN_KIND_OF_DAY_SHARE).contains(&weekend_share);
    // A rhythm may add to the level or multiply it (working hours with a larger wave): where
    // every bucket is positive it is fitted on the log scale as well, and the better believed.
    let logs: Option<Vec<f64>> = means
        .iter()
        .all(|m| *m > 0.0)
        .then(|| means.iter().map(|m| m.ln()).collect());
    let (shape, raw, clipped, _) = [Some((false, &means)), logs.as_ref().map(|l| (true, l))]
        .into_iter()
        .flatten()
        .flat_map(|(multiplicative, y)| {
            [
                Some(Rhythm::Wave),
                working_hours(timestamps, values, first, multiplicative),
            ]
            .into_iter()
            .flatten()
            .flat_map(move |rhythm| {
                [false, both_kinds_of_day].map(|weekend| {
                    let shape = Shape {
                        rhythm,
                        weekend,
                        multiplicative,
                    };
                    (shape, y)
                })
            })
        })
        .filter_map(|(shape, y)| {
            let clipped = clipped_to_fit(&times, y, design(first, Some(shape), None))?;
            let fit = least_squares(rows(&times, &clipped, design(first, Some(shape), None)))?;
            // A weekend busier than the weekdays is no rhythm.
            if shape.weekend && fit[WEEKEND_COLUMN] > 0.0 {
                return None;
            }
            let sse =
                |shape: Option<Shape>| sum_of_squares(&times, &clipped, design(first, shape, None));
            let explained = 1.0 - sse(Some(shape))? / sse(None)?.max(f64::MIN_POSITIVE);
            Some((shape, y, clipped, explained))
        })
        .max_by(|a, b| a.3.total_cmp(&b.3))?;
    let sse = |y: &[f64], step: Option<i64>, shape: Option<Shape>| -> Option<(f64, [f64; 9])> {
        let row = design(first, shape, step);
        let c = least_squares(rows(&times, y, row))?;
        Some((residuals(&times, y, row, &c).map(|r| r * r).sum(), c))
    };
    let (plain_sse, _) = sse(&clipped, None, Some(shape))?;
    let stepped = times
        .get(MIN_STEP_SIDE..times.len().saturating_sub(MIN_STEP_SIDE))
        .unwrap_or(&[])
        .iter()
        .filter_map(|&at| Some((at, sse(&clipped, Some(at), Some(shape))?)))
        .min_by(|a, b| a.1 .0.total_cmp(&b.1 .0));
    let degrees = times.len() as f64 - 9.0;
    let step = stepped.filter(|(_, (step_sse, _))| {
        (plain_sse - step_sse) / (step_sse / degrees).max(f64::MIN_POSITIVE) >= MIN_STEP_F
    });
    let step_at = step.map(|(at, _)| at);
    // How much of what the line (and step) leave the shape explains on `y`, and its fit.
    let explained_on = |y: &[f64]| -> Option<(f64, [f64; 9])> {
        let (wave_sse, coefficients) = sse(y, step_at, Some(shape))?;
        let (rest_sse, _) = sse(y, step_at, None)?;
        Some((
            1.0 - wave_sse / rest_sse.max(f64::MIN_POSITIVE),
            coefficients,
        ))
    };
    // A clip favours the fit it was made around, so the shape must explain most under both:
    // clipped around the fit without the step, the values before a change are pulled up
    // towards a level that took part of it (four hours of a Monday before an incident, lifted
    // so, ran "above the weekend"); clipped around the fit with it, bursts are cut down to
    // the fit and seem to follow it. The rhythm itself is read beside the step.
    let (explained_without, fit_without) = explained_on(&clipped)?;
    let (explained, coefficients) = match step_at {
        Some(_) => {
            let (beside, coefficients) = explained_on(&clipped_to_fit(
                &times,
                raw,
                design(first, Some(shape), step_at),
            )?)?;
            (beside.min(explained_without), coefficients)
        }
        None => (explained_without, fit_without),
    };
    let believed = explained >= MIN_WAVE_SHARE
        || significant_on_medians(timestamps, values, first, shape, step_at);
    if explained.is_nan() || !believed {
        return None;
    }
    let fitted = |row: [f64; 9]| -> f64 { row.iter().zip(&coefficients).map(|(x, c)| x * c).sum() };
    let seasonal = timestamps
        .iter()
        .map(|&t| {
            let base = fitted(design(first, None, step_at)(t));
            let rhythm = fitted(design(first, Some(shape), step_at)(t)) - base;
            match shape.multiplicative {
                true => base.exp() * rhythm.exp_m1(),
                false => rhythm,
            }
        })
        .collect();
    let weekend = coefficients[WEEKEND_COLUMN];
    let quieter_weekend = (shape.weekend && weekend < 0.0).then(|| match shape.multiplicative {
        true => -weekend.exp_m1(),
        false => {
            let level = coefficients[0] + coefficients[1] * span as f64 / DAY_MS as f64 / 2.0;
            -weekend / level.abs().max(f64::MIN_POSITIVE)
        }
    });
    Some(FittedWave {
        seasonality: Seasonality {
            period_ms: DAY_MS,
            strength: explained,
        },
        seasonal,
        quieter_weekend,
    })
}

/// The working hours (on weekdays, 6–14 whole hours of UTC) that fit the hourly medians of
/// the values best beside a line and a wave (on the log scale for a `multiplicative` shape),
/// among those the data are seen to leave (hours the data end in could as well be a rise
/// that stays), and only when they are as significant as a step over the wave alone and over
/// the wave beside the best rise that stays (a degradation still there at the end is no
/// working day that happens to end an hour before the data do): medians, because working
/// hours raise the level, while bursts of errors in an afternoon only raise its mean. `None`
/// without weekday data or when the data are busier outside them.
fn working_hours(
    timestamps: &[i64],
    values: &[f64],
    first: i64,
    multiplicative: bool,
) -> Option<Rhythm> {
    let (hours_at, medians) = hourly_medians(timestamps, values, multiplicative);
    let sse = |shape: Shape, step: Option<i64>| -> Option<(f64, [f64; 9])> {
        let row = design(first, Some(shape), step);
        let fit = least_squares(rows(&hours_at, &medians, row))?;
        let sse = residuals(&hours_at, &medians, row, &fit)
            .map(|r| r * r)
            .sum();
        Some((sse, fit))
    };
    let shape = |rhythm| Shape {
        rhythm,
        weekend: false,
        multiplicative,
    };
    // What the working hours must beat: the wave alone, or beside a rise that stays (a
    // degradation the data end in leaves its last hours "out of hours" only by the choice of
    // hours).
    let wave_sse = std::iter::once(None)
        .chain(hours_at.iter().skip(1).map(|&at| Some(at)))
        .filter_map(|step| sse(shape(Rhythm::Wave), step))
        .filter(|(_, fit)| fit[STEP_COLUMN] >= 0.0)
        .map(|(sse, _)| sse)
        .min_by(f64::total_cmp)?;
    let degrees = hours_at.len() as f64 - 6.0;
    (0..24u8)
        .flat_map(|from| WORKING_HOURS.map(move |hours| Rhythm::WorkingHours { from, hours }))
        .filter_map(|rhythm| {
            let row = design(first, Some(shape(rhythm)), None);
            // Working hours the data end in could as well be a rise that stays.
            let in_hours: Vec<bool> = hours_at
                .iter()
                .map(|&t| row(t)[IN_HOURS_COLUMN] > 0.0)
                .collect();
            if !in_hours.windows(2).any(|pair| pair[0] && !pair[1]) {
                return None;
            }
            let (sse, fit) = sse(shape(rhythm), None)?;
            (fit[IN_HOURS_COLUMN] > 0.0).then_some((rhythm, sse))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .filter(|(_, sse)| (wave_sse - sse) / (sse / degrees).max(f64::MIN_POSITIVE) >= MIN_STEP_F)
        .map(|(rhythm, _)| rhythm)
}

/// The median of each hour of UTC that holds values (of their logs for a `multiplicative`
/// shape), at the middle of the hour: the level an hour ran at, whatever bursts it held.
fn hourly_medians(
    timestamps: &[i64],
    values: &[f64],
    multiplicative: bool,
) -> (Vec<i64>, Vec<f64>) {
    let mut hourly: Vec<(i64, Vec<f64>)> = Vec::new();
    for (&t, &v) in timestamps.iter().zip(values) {
        let hour = t.div_euclid(HOUR_MS) * HOUR_MS + HOUR_MS / 2;
        match hourly.last_mut() {
            Some(last) if last.0 == hour => last.1.push(v),
            _ => hourly.push((hour, vec![v])),
        }
    }
    hourly
        .into_iter()
        .filter_map(|(t, mut hour)| {
            let median = median_in_place(&mut hour)?;
            let median = if multiplicative { median.ln() } else { median };
            median.is_finite().then_some((t, median))
        })
        .unzip()
}

/// Whether `shape` is as significant as a step over a line (and a step that stays at
/// `step`) on the hourly medians: a rhythm that noise hides in the means of small counts
/// still shows there, while bursts in one afternoon do not.
fn significant_on_medians(
    timestamps: &[i64],
    values: &[f64],
    first: i64,
    shape: Shape,
    step: Option<i64>,
) -> bool {
    let (hours_at, medians) = hourly_medians(timestamps, values, shape.multiplicative);
    let fit =
        |shape: Option<Shape>| sum_of_squares(&hours_at, &medians, design(first, shape, step));
    let regressors = shape.regressors() as f64;
    let (Some(line), Some(rhythm)) = (fit(None), fit(Some(shape))) else {
        return false;
    };
    let degrees = hours_at.len() as f64 - 9.0;
    degrees > 0.0
        && (line - rhythm) / regressors / (rhythm / degrees).max(f64::MIN_POSITIVE) >= MIN_STEP_F
}

/// `means` with their residuals from a first fit of `row` clipped at 3 robust scales.
fn clipped_to_fit(
    times: &[i64],
    means: &[f64],
    row: impl Fn(i64) -> [f64; 9] + Copy,
) -> Option<Vec<f64>> {
    let fit = least_squares(rows(times, means, row))?;
    let first_residuals: Vec<f64> = residuals(times, means, row, &fit).collect();
    let bound = 3.0 * robust_scale(&first_residuals).filter(|s| *s > 0.0)?;
    Some(
        means
            .iter()
            .zip(&first_residuals)
            .map(|(v, r)| v - r + r.clamp(-bound, bound))
            .collect(),
    )
}

/// Residual sum of squares of the least-squares fit of `row` to `values`.
fn sum_of_squares(
    times: &[i64],
    values: &[f64],
    row: impl Fn(i64) -> [f64; 9] + Copy,
) -> Option<f64> {
    let fit = least_squares(rows(times, values, row))?;
    Some(residuals(times, values, row, &fit).map(|r| r * r).sum())
}

/// Means of `values` in buckets of `bucket_ms` from the first timestamp, each at the middle of
/// its bucket; empty buckets are left out.
fn bucket_means(timestamps: &[i64], values: &[f64], bucket_ms: i64) -> (Vec<i64>, Vec<f64>) {
    let first = timestamps[0];
    bucket_totals(timestamps, values, bucket_ms)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .filter(|(_, (_, count))| *count > 0)
        .map(|(b, (sum, count))| {
            (
                first + b as i64 * bucket_ms + bucket_ms / 2,
                sum / count as f64,
            )
        })
        .unzip()
}

/// `(row(t), value)` for each point: the input of [`least_squares`].
fn rows<'a, const K: usize>(
    timestamps: &'a [i64],
    values: &'a [f64],
    row: impl Fn(i64) -> [f64; K] + 'a,
) -> impl Iterator<Item = ([f64; K], f64)> + 'a {
    timestamps
        .iter()
        .zip(values)
        .map(move |(&t, &v)| (row(t), v))
}

/// `values − row(t)·coefficients`, point by point.
fn residuals<'a, const K: usize>(
    timestamps: &'a [i64],
    values: &'a [f64],
    row: impl Fn(i64) -> [f64; K] + 'a,
    coefficients: &'a [f64; K],
) -> impl Iterator<Item = f64> + 'a {
    timestamps.iter().zip(values).map(move |(&t, v)| {
        let r = row(t);
        v - r.iter().zip(coefficients).map(|(x, c)| x * c).sum::<f64>()
    })
}

/// Signed Poisson deviance residual of a count `observed` against a mean `expected` (> 0):
/// close to a standard normal deviate in the tails too (a saddle-point approximation).
pub fn poisson_deviance_residual(observed: f64, expected: f64) -> f64 {
    let observed = observed.max(0.0);
    let log_term = if observed > 0.0 {
        observed * (observed / expected).ln()
    } else {
        0.0
    };
    let deviance = 2.0 * (log_term - (observed - expected));
    deviance.max(0.0).sqrt() * (observed - expected).signum()
}

/// Whether `values` are small counts: all non-negative integers with a median of at most
/// [`SMALL_COUNT`].
fn small_counts(values: &[f64]) -> bool {
    values.iter().all(|v| *v >= 0.0 && v.fract() == 0.0)
        && super::median(values).is_some_and(|m| m <= SMALL_COUNT)
}

/// Scale for a series whose residuals are all zero (perfectly regular): a small fraction of
/// its level, so that any real departure still stands out without dividing by zero.
fn fallback_scale(values: &[f64]) -> f64 {
    let level = values.iter().map(|v| v.abs()).fold(0.0, f64::max);
    (level * 1e-3).max(1e-9)
}

/// Piecewise-linear interpolation through the medians of consecutive blocks, anchored at
/// block centres and extended along the first and last segments to the ends (so a series
/// that climbs does not look like a dip at its first point and a spike at its last).
///
/// A block whose median stands alone (an outage filling most of one block) would drag the
/// baseline into the anomaly and hide it, so block medians pass a Hampel filter first: one
/// far from the median of its four neighbours is replaced by that median. A real level shift
/// spans several blocks and survives.
pub fn block_median_trend(values: &[f64], block: usize) -> Vec<f64> {
    let n = values.len();
    let block = block.clamp(1, n.max(1));
    let mut anchors: Vec<(f64, f64)> = values
        .chunks(block)
        .enumerate()
        .filter_map(|(b, chunk)| {
            let mut copy = chunk.to_vec();
            let center = (b * block) as f64 + (chunk.len() as f64 - 1.0) / 2.0;
            median_in_place(&mut copy).map(|m| (center, m))
        })
        .collect();
    hampel_filter(&mut anchors);
    if anchors.len() == 1 {
        return vec![anchors[0].1; n];
    }
    let mut trend = Vec::with_capacity(n);
    let mut segment = 0;
    for i in 0..n {
        let x = i as f64;
        while segment + 2 < anchors.len() && anchors[segment + 1].0 < x {
            segment += 1;
        }
        let ((x0, y0), (x1, y1)) = (anchors[segment], anchors[segment + 1]);
        trend.push(y0 + (y1 - y0) * (x - x0) / (x1 - x0));
    }
    trend
}

/// Replaces isolated outlying anchor values by the median of their neighbourhood (two on each
/// side); "outlying" means more than four robust scales of all such deviations away.
fn hampel_filter(anchors: &mut [(f64, f64)]) {
    const REACH: usize = 2;
    if anchors.len() < 2 * REACH + 1 {
        return;
    }
    let local: Vec<f64> = (0..anchors.len())
        .map(|i| {
            let from = i.saturating_sub(REACH);
            let to = (i + REACH + 1).min(anchors.len());
            let mut window: Vec<f64> = anchors[from..to].iter().map(|a| a.1).collect();
            median_in_place(&mut window).unwrap_or(anchors[i].1)
        })
        .collect();
    let deviations: Vec<f64> = anchors.iter().zip(&local).map(|(a, m)| a.1 - m).collect();
    let Some(scale) = robust_scale(&deviations) else {
        return;
    };
    let floor = 1e-9 * local.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for ((anchor, median), deviation) in anchors.iter_mut().zip(local).zip(deviations) {
        if deviation.abs() > (4.0 * scale).max(floor) {
            anchor.1 = median;
        }
    }
}

/// For each point, the median of the detrended values at the same phase in the *other*
/// cycles (phase from the timestamp, so gaps do not shift it). Leaving the point's own cycle
/// out keeps an anomaly from pulling its own baseline towards itself, and keeps the residual
/// scale honest when there are only a few cycles.
fn seasonal_profile(
    timestamps: &[i64],
    values: &[f64],
    trend: &[f64],
    period_ms: i64,
    interval_ms: i64,
) -> Vec<f64> {
    let start = timestamps[0];
    let bins = (period_ms / interval_ms.max(1)).max(1) as usize;
    let phase = |t: i64| (((t - start) % period_ms) / interval_ms.max(1)) as usize % bins;
    let mut by_phase: Vec<Vec<(f64, usize)>> = vec![Vec::new(); bins];
    for (i, t) in timestamps.iter().enumerate() {
        by_phase[phase(*t)].push((values[i] - trend[i], i));
    }
    for bin in &mut by_phase {
        bin.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    }
    // How far apart the cycles usually are at one phase; far more than that is an incident.
    let mut ranges: Vec<f64> = by_phase
        .iter()
        .filter(|bin| bin.len() >= 2)
        .map(|bin| bin[bin.len() - 1].0 - bin[0].0)
        .collect();
    let disagreement = DISAGREEMENT * median_in_place(&mut ranges).unwrap_or(f64::INFINITY);
    let mut seasonal = vec![0.0; values.len()];
    for bin in &by_phase {
        let sorted: Vec<f64> = bin.iter().map(|(v, _)| *v).collect();
        for (rank, (_, index)) in bin.iter().enumerate() {
            seasonal[*index] = median_excluding(&sorted, rank, disagreement);
        }
    }
    seasonal
}

/// Weekday hours a series must hold before its weekends are judged against them: a day and a
/// half, so most hours of the day were seen on two weekdays.
const MIN_WEEKDAY_MS: i64 = 36 * HOUR_MS;

/// The daily profile of a series whose weekends differ from its weekdays, as most traffic
/// does (quieter, or without the working day's hump): weekdays judged against the other
/// weekdays, weekend points against the weekday profile shifted and scaled to fit the weekend
/// (`α + β · profile`: two numbers for all of it, so a spike, an outage or a step inside it
/// stays in the residual). Without it a few days holding one weekend mix both kinds of day into
/// one profile, and every day then departs from it. `None` without a day and a half of weekdays
/// and half a day of weekend, or when the weekend is not quieter this way or fits no better
/// (see [`weekend_fit`]).
fn weekend_profile(timestamps: &[i64], values: &[f64], interval_ms: i64) -> Option<WeekendProfile> {
    let interval_ms = interval_ms.max(1);
    let points_per_day = (DAY_MS / interval_ms).max(1) as usize;
    let (weekend, weekday) = kinds_of_day(timestamps, interval_ms)?;
    let weekday_times: Vec<i64> = weekday.iter().map(|&i| timestamps[i]).collect();
    let weekday_values: Vec<f64> = weekday.iter().map(|&i| values[i]).collect();
    let (weekday_seasonal, weekday_level) =
        weekday_profile(&weekday_times, &weekday_values, interval_ms);
    // The weekday profile by time of day, so a weekend point finds it at its hour.
    let phase = |t: i64| (t.rem_euclid(DAY_MS) / interval_ms) as usize % points_per_day;
    let mut by_phase: Vec<Vec<f64>> = vec![Vec::new(); points_per_day];
    for (t, s) in weekday_times.iter().zip(&weekday_seasonal) {
        by_phase[phase(*t)].push(*s);
    }
    let profile: Vec<Option<f64>> = by_phase.iter_mut().map(|b| median_in_place(b)).collect();
    let level_at = |i: usize| carried_level(&weekday, &weekday_level, i);
    let rows: Vec<(f64, f64)> = weekend
        .iter()
        .filter_map(|&i| Some((profile[phase(timestamps[i])]?, values[i] - level_at(i))))
        .collect();
    let fit = weekend_fit(&rows)?;
    let [shift, scale] = fit.coefficients;
    let level = weekend.iter().map(|&i| level_at(i)).sum::<f64>() / weekend.len() as f64;
    let quieter_by = fit.shortfall / (level + fit.typical).abs().max(f64::MIN_POSITIVE);
    let mut seasonal = vec![0.0; values.len()];
    for (&i, s) in weekday.iter().zip(weekday_seasonal) {
        seasonal[i] = s;
    }
    for &i in &weekend {
        seasonal[i] = shift + scale * profile[phase(timestamps[i])].unwrap_or(0.0);
    }
    Some(WeekendProfile {
        seasonal,
        quieter_by,
    })
}

/// The indices of the weekend's points and of the weekdays', when there are enough of each
/// to judge one against the other: a day and a half of weekdays, half a day of weekend.
fn kinds_of_day(timestamps: &[i64], interval_ms: i64) -> Option<(Vec<usize>, Vec<usize>)> {
    let (weekend, weekday): (Vec<usize>, Vec<usize>) =
        (0..timestamps.len()).partition(|&i| is_weekend(timestamps[i]));
    let enough = !too_few_weekdays(weekday.len(), interval_ms)
        && !too_short_a_weekend(weekend.len(), interval_ms);
    enough.then_some((weekend, weekday))
}

/// The weekday level carried across the weekend to point `i`: the mean of the weekday levels
/// either side of it (`weekday` the weekday points' indices, `level` their level).
fn carried_level(weekday: &[usize], level: &[f64], i: usize) -> f64 {
    let k = weekday.partition_point(|&w| w < i);
    let before = level[k.saturating_sub(1)];
    level.get(k).map_or(before, |after| match k {
        0 => *after,
        _ => (before + after) / 2.0,
    })
}

/// The weekend of a series without a daily rhythm, at a level of its own: the median of the
/// weekend's points against the weekday level carried across it. Without it, days that hold
/// one quieter weekend are judged against a level that follows the weekend a few hours late,
/// and its start and end are "level shifts". Believed on the same terms as a weekend beside a
/// profile ([`weekend_profile`]): a day and a half of weekdays and half a day of weekend, a
/// quieter weekend, and one number that explains half of what the weekday level alone leaves
/// (the gaps clipped at 3 robust scales around it, so a spike or an outage in the weekend does
/// not steer it) — and no single change of level anywhere that fits better
/// ([`a_step_fits_better`]: a metric that changed on a Sunday evening is no weekend).
fn weekend_level(timestamps: &[i64], values: &[f64], interval_ms: i64) -> Option<WeekendProfile> {
    let points_per_day = (DAY_MS / interval_ms.max(1)).max(1) as usize;
    let (weekend, weekday) = kinds_of_day(timestamps, interval_ms)?;
    let weekday_values: Vec<f64> = weekday.iter().map(|&i| values[i]).collect();
    let weekday_level = block_median_trend(&weekday_values, points_per_day);
    let level_at = |i: usize| carried_level(&weekday, &weekday_level, i);
    let gaps: Vec<f64> = weekend.iter().map(|&i| values[i] - level_at(i)).collect();
    let shift = median_in_place(&mut gaps.clone())?;
    let bound = 3.0 * robust_scale(&gaps)?;
    let clipped = gaps
        .iter()
        .map(|g| shift + (g - shift).clamp(-bound, bound));
    let (alone, left) = clipped.fold((0.0, 0.0), |(alone, left), g| {
        (alone + g * g, left + (g - shift).powi(2))
    });
    let explained = 1.0 - left / alone.max(f64::MIN_POSITIVE);
    if shift >= 0.0 || explained < MIN_WAVE_SHARE || a_step_fits_better(values, &weekend) {
        return None;
    }
    let level = weekend.iter().map(|&i| level_at(i)).sum::<f64>() / weekend.len() as f64;
    let mut seasonal = vec![0.0; values.len()];
    for &i in &weekend {
        seasonal[i] = shift;
    }
    Some(WeekendProfile {
        seasonal,
        quieter_by: -shift / level.abs().max(f64::MIN_POSITIVE),
    })
}

/// Whether one change of level, wherever it falls, fits `values` significantly better than
/// the weekend (the points at `weekend`) at a level of its own ([`MIN_STEP_F`], both as two
/// means): a metric that rose on a Sunday evening and stayed up in data from Friday evening to
/// Tuesday has its quiet part mostly in the weekend, but it changed when it changed, not when
/// the weekend ended.
fn a_step_fits_better(values: &[f64], weekend: &[usize]) -> bool {
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n.max(1) as f64;
    let centred: Vec<f64> = values.iter().map(|v| v - mean).collect();
    // What two means explain beyond one, for a part of `len` points whose centred values sum
    // to `sum`: sum² · n / (len · (n − len)).
    let explained = |sum: f64, len: usize| match len {
        0 => 0.0,
        _ if len >= n => 0.0,
        _ => sum * sum * n as f64 / (len * (n - len)) as f64,
    };
    let mut before = 0.0;
    let step = centred[..n.saturating_sub(1)]
        .iter()
        .enumerate()
        .map(|(i, v)| {
            before += v;
            explained(before, i + 1)
        })
        .fold(0.0, f64::max);
    let by_kind = explained(weekend.iter().map(|&i| centred[i]).sum(), weekend.len());
    let left = centred.iter().map(|v| v * v).sum::<f64>() - step;
    let degrees = n.saturating_sub(3).max(1) as f64;
    (step - by_kind) / (left / degrees).max(f64::MIN_POSITIVE) >= MIN_STEP_F
}

/// A daily profile with weekends of their own, and how much quieter they run.
struct WeekendProfile {
    seasonal: Vec<f64>,
    /// The weekend's shortfall against weekdays at the same hours, a share of their level.
    quieter_by: f64,
}

/// The weekdays' own profile (each weekday against the others) and level: the trend read
/// again with the cycle taken out, since a weekday cut short by the weekend or by the end of
/// the data holds part of a cycle and its median is no level.
fn weekday_profile(times: &[i64], values: &[f64], interval_ms: i64) -> (Vec<f64>, Vec<f64>) {
    let points_per_day = (DAY_MS / interval_ms).max(1) as usize;
    let without =
        |profile: &[f64]| -> Vec<f64> { values.iter().zip(profile).map(|(v, s)| v - s).collect() };
    let mut trend = block_median_trend(values, points_per_day);
    let mut profile = Vec::new();
    for _ in 0..2 {
        profile = seasonal_profile(times, values, &trend, DAY_MS, interval_ms);
        trend = block_median_trend(&without(&profile), points_per_day);
    }
    (profile, trend)
}

/// Bands of the weekday profile whose medians the weekend's first fit is made on.
const PROFILE_BANDS: usize = 24;

/// `weekend ≈ α + β · weekday profile`, fitted to `(profile, value less the weekday level)`
/// pairs.
struct WeekendFit {
    /// `[α, β]`.
    coefficients: [f64; 2],
    /// The weekday profile's mean over the weekend's points.
    typical: f64,
    /// How far the weekend runs below a weekday at the same hours, on average (value units).
    shortfall: f64,
}

/// [`WeekendFit`] of the pairs, fitted once more with residuals clipped at 3 robust scales (an
/// incident in the weekend does not steer it). Believed when the weekend is quieter on average
/// than a weekday at the same hours (a busier weekend is rare, and a change that began before
/// Saturday and carried on through it is no weekend) and the fit explains half of what the
/// weekday profile alone leaves.
fn weekend_fit(rows: &[(f64, f64)]) -> Option<WeekendFit> {
    let regressors =
        |rows: &[(f64, f64)]| rows.iter().map(|&(p, y)| ([1.0, p], y)).collect::<Vec<_>>();
    let residual = |fit: [f64; 2], (p, y): (f64, f64)| y - fit[0] - fit[1] * p;
    // The first fit is made on the medians of the pairs in bands of the profile, so that a
    // few spikes (a nightly job's tenfold runs) cannot steer the fit the clip is made around.
    let mut by_profile = rows.to_vec();
    by_profile.sort_by(|a, b| a.0.total_cmp(&b.0));
    let band = (rows.len() / PROFILE_BANDS).max(1);
    let medians: Vec<([f64; 2], f64)> = by_profile
        .chunks(band)
        .filter_map(|chunk| {
            let p = median_in_place(&mut chunk.iter().map(|r| r.0).collect::<Vec<_>>())?;
            let y = median_in_place(&mut chunk.iter().map(|r| r.1).collect::<Vec<_>>())?;
            Some(([1.0, p], y))
        })
        .collect();
    let first = least_squares(medians)?;
    let residuals: Vec<f64> = rows.iter().map(|&row| residual(first, row)).collect();
    let bound = 3.0 * robust_scale(&residuals)?;
    let clipped: Vec<(f64, f64)> = rows
        .iter()
        .zip(&residuals)
        .map(|(&(p, y), r)| (p, y - r + r.clamp(-bound, bound)))
        .collect();
    let fit = least_squares(regressors(&clipped))?;
    let sse =
        |fit: [f64; 2]| -> f64 { clipped.iter().map(|&row| residual(fit, row).powi(2)).sum() };
    let weekday_alone = sse([0.0, 1.0]);
    let explained = 1.0 - sse(fit) / weekday_alone;
    let typical = clipped.iter().map(|(p, _)| p).sum::<f64>() / clipped.len() as f64;
    let shortfall = -(fit[0] + (fit[1] - 1.0) * typical);
    (weekday_alone > 0.0 && explained >= MIN_WAVE_SHARE && shortfall >= 0.0).then_some(WeekendFit {
        coefficients: fit,
        typical,
        shortfall,
    })
}

/// Two cycles differ at one phase by more than this many times their usual range there: one
/// of them holds an incident.
const DISAGREEMENT: f64 = 3.0;

/// Median of a sorted slice without the element at `skip` (the element itself when alone).
/// Of an even number left, the mean of the middle two — unless they disagree by more than
/// `disagreement` (cycles normally do not): then one of them holds an incident, and the one
/// nearer the median of them all is taken, so that with three cycles one cycle's incident is
/// not carried, halved, into the baseline of the other two.
fn median_excluding(sorted: &[f64], skip: usize, disagreement: f64) -> f64 {
    let len = sorted.len();
    if len <= 1 {
        return sorted.first().copied().unwrap_or(0.0);
    }
    let at = |i: usize| if i < skip { sorted[i] } else { sorted[i + 1] };
    let remaining = len - 1;
    if remaining % 2 == 1 {
        return at(remaining / 2);
    }
    let (low, high) = (at(remaining / 2 - 1), at(remaining / 2));
    if high - low <= disagreement {
        return (low + high) / 2.0;
    }
    let all = if len % 2 == 1 {
        sorted[len / 2]
    } else {
        (sorted[len / 2 - 1] + sorted[len / 2]) / 2.0
    };
    if (low - all).abs() <= (high - all).abs() {
        low
    } else {
        high
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daily_series(days: i64, step_ms: i64) -> (Vec<i64>, Vec<f64>) {
        let timestamps: Vec<i64> = (0..days * DAY_MS / step_ms).map(|i| i * step_ms).collect();
        let values = timestamps
            .iter()
            .map(|t| 100.0 + 20.0 * ((*t as f64 / DAY_MS as f64) * std::f64::consts::TAU).sin())
            .collect();
        (timestamps, values)
    }

    /// Four days of five-minute points from `start` (UTC ms), a small wobble on each level.
    fn four_days(start: i64, level: impl Fn(i64) -> f64) -> (Vec<i64>, Vec<f64>) {
        let timestamps: Vec<i64> = (0..4 * 288).map(|i| start + i * 5 * MINUTE_MS).collect();
        let values = (timestamps.iter().enumerate())
            .map(|(i, &t)| level(t) * (1.0 + 0.03 * (i as f64 * 0.7).sin()))
            .collect();
        (timestamps, values)
    }

    #[test]
    fn a_weekend_without_a_rhythm_runs_at_its_own_level_unless_one_change_fits_better() {
        // 2024-01-05, a Friday; its weekend runs from 2024-01-06 00:00 to 2024-01-08 00:00.
        let friday = 1_704_412_800_000;
        let (saturday, monday) = (friday + DAY_MS, friday + 3 * DAY_MS);
        let weekend = |t: i64| (saturday..monday).contains(&t);
        let (t, v) = four_days(friday - HOUR_MS, |t| if weekend(t) { 70.0 } else { 90.0 });
        let quieter = weekend_level(&t, &v, 5 * MINUTE_MS).expect("a quieter weekend");
        assert!(
            (quieter.quieter_by - 0.22).abs() < 0.02,
            "{}",
            quieter.quieter_by
        );
        // From Friday evening, a rise on Sunday at 19:20 leaves most of the quiet part in the
        // weekend and every weekday after the rise: still a change, not a weekend.
        let rise = monday - 4 * HOUR_MS - 40 * MINUTE_MS;
        let (t, v) = four_days(friday + 18 * HOUR_MS, |t| if t < rise { 6.0 } else { 13.0 });
        let (weekend, _) = kinds_of_day(&t, 5 * MINUTE_MS).expect("both kinds of day");
        assert!(a_step_fits_better(&v, &weekend));
        assert!(weekend_level(&t, &v, 5 * MINUTE_MS).is_none());
    }

    #[test]
    fn autocorrelation_of_alternating_sequence() {
        let y = [1.0, -1.0, 1.0, -1.0, 1.0, -1.0];
        assert!((autocorrelation(&y, 1) + 1.0).abs() < 1e-12);
        assert!((autocorrelation(&y, 2) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn detects_a_daily_cycle() {
        let (t, v) = daily_series(5, 15 * MINUTE_MS);
        let season = detect_period(&t, &v, 15 * MINUTE_MS).unwrap();
        assert_eq!(season.period_ms, DAY_MS);
        assert!(season.strength > 0.5);
    }

    #[test]
    fn no_period_in_a_straight_line() {
        let t: Vec<i64> = (0..500).map(|i| i * MINUTE_MS).collect();
        let v: Vec<f64> = (0..500).map(|i| i as f64).collect();
        assert!(detect_period(&t, &v, MINUTE_MS).is_none());
    }

    #[test]
    fn a_rhythm_that_starts_midway_is_no_seasonality() {
        // 15-minute bursts from 40% of the way on, none before: a change, not a baseline.
        let t: Vec<i64> = (0..1440).map(|i| i * MINUTE_MS).collect();
        let v: Vec<f64> = (0..1440)
            .map(|i| {
                let noise = ((i * 7919) % 13) as f64 / 13.0;
                let burst = i >= 576 && i % 15 < 3;
                10.0 + noise + if burst { 40.0 } else { 0.0 }
            })
            .collect();
        assert!(detect_period(&t, &v, MINUTE_MS).is_none());
    }

    #[test]
    fn a_cycle_cut_short_at_the_end_does_not_pull_the_level_down() {
        // 3¼ days: the last block holds only the night hours of a new day.
        let (mut t, mut v) = daily_series(4, 15 * MINUTE_MS);
        let keep = t.len() - 3 * 24;
        t.truncate(keep);
        v.truncate(keep);
        let season = detect_period(&t, &v, 15 * MINUTE_MS);
        let d = decompose(&t, &v, 15 * MINUTE_MS, season);
        let worst = d.residual[keep - 20..]
            .iter()
            .fold(0.0f64, |m, r| m.max(r.abs()));
        assert!(worst < 2.0, "largest residual at the end {worst}");
    }

    #[test]
    fn poisson_deviance_residual_is_modest_where_counts_are_small() {
        assert_eq!(poisson_deviance_residual(3.0, 3.0), 0.0);
        // 19 on a mean of 3 has the tail probability of about 6 Gaussian sigmas, not 9.
        let z = poisson_deviance_residual(19.0, 3.0);
        assert!((5.8..6.4).contains(&z), "{z}");
        assert!(poisson_deviance_residual(0.0, 3.0) < -2.0);
    }

    #[test]
    fn decomposition_explains_a_clean_cycle() {
        let (t, v) = daily_series(4, HOUR_MS);
        let season = detect_period(&t, &v, HOUR_MS);
        let d = decompose(&t, &v, HOUR_MS, season);
        let worst = d.residual.iter().fold(0.0f64, |m, r| m.max(r.abs()));
        assert!(worst < 1.0, "largest residual {worst}");
    }

    #[test]
    fn noise_scale_follows_the_level() {
        // Quiet nights at 100 with noise ±1, busy days at 1000 with noise ±10.
        let baseline: Vec<f64> = (0..400)
            .map(|i| if i % 2 == 0 { 100.0 } else { 1000.0 })
            .collect();
        let residual: Vec<f64> = (0..400)
            .map(|i| if i % 2 == 0 { 1.0 } else { 10.0 } * if i % 4 < 2 { 1.0 } else { -1.0 })
            .collect();
        let bands = scale_by_level(&baseline, &residual, 1.4826);
        let busy = bands.iter().find(|(edge, _)| 1000.0 <= *edge).unwrap().1;
        let quiet = bands.iter().find(|(edge, _)| 100.0 <= *edge).unwrap().1;
        assert!((quiet - 1.4826).abs() < 1e-9, "{quiet}");
        assert!(
            (busy - 4.0 * 1.4826).abs() < 1e-9,
            "clamped at 4× the global scale: {busy}"
        );
    }

    #[test]
    fn an_outage_filling_a_block_does_not_drag_the_baseline() {
        let mut values = vec![200.0; 720];
        values[360..400].iter_mut().for_each(|v| *v = 0.0);
        let trend = block_median_trend(&values, 72);
        assert!(
            trend.iter().all(|t| (t - 200.0).abs() < 1e-9),
            "{:?}",
            &trend[350..410]
        );
        let step: Vec<f64> = (0..720)
            .map(|i| if i < 400 { 100.0 } else { 300.0 })
            .collect();
        let trend = block_median_trend(&step, 72);
        assert_eq!(trend[0], 100.0);
        assert_eq!(trend[719], 300.0, "a lasting shift survives the filter");
    }

    #[test]
    fn median_excluding_skips_one_rank() {
        let sorted = [1.0, 2.0, 3.0, 10.0];
        assert_eq!(median_excluding(&sorted, 3, 100.0), 2.0);
        assert_eq!(median_excluding(&sorted, 0, 100.0), 3.0);
        assert_eq!(median_excluding(&[1.0, 5.0], 0, 100.0), 5.0);
        let three = [1.0, 1.2, 40.0];
        assert_eq!(
            median_excluding(&three, 0, 100.0),
            20.6,
            "agreeing: their mean"
        );
        assert_eq!(
            median_excluding(&three, 0, 1.0),
            1.2,
            "one holds an incident: the one nearer the median of all"
        );
    }

    fn assert_close(actual: &[f64], expected: &[f64]) {
        let close = actual
            .iter()
            .zip(expected)
            .all(|(a, b)| (a - b).abs() < 1e-12);
        assert!(
            close && actual.len() == expected.len(),
            "{actual:?} ≠ {expected:?}"
        );
    }

    #[test]
    fn block_median_trend_interpolates_between_centres() {
        let steps = [1.0, 1.0, 1.0, 3.0, 3.0, 3.0];
        let expected = [1.0 / 3.0, 1.0, 5.0 / 3.0, 7.0 / 3.0, 3.0, 11.0 / 3.0];
        assert_close(&block_median_trend(&steps, 3), &expected);
        let ramp: Vec<f64> = (0..10).map(f64::from).collect();
        assert_close(&block_median_trend(&ramp, 3), &ramp);
    }

    #[test]
    fn one_day_of_a_wave_is_the_daily_rhythm_and_a_step_that_stays_is_not() {
        let t: Vec<i64> = (0..1_440)
            .map(|i| 1_704_067_200_000 + i * MINUTE_MS)
            .collect();
        let noise = |i: usize| ((i as f64 * 12.9898).sin() * 43_758.547).fract() - 0.5;
        let wave: Vec<f64> = t
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let hour = (t % DAY_MS) as f64 / HOUR_MS as f64;
                100.0 + 30.0 * (std::f64::consts::TAU * (hour - 9.0) / 24.0).sin() + 4.0 * noise(i)
            })
            .collect();
        let fitted = fitted_daily_wave(&t, &wave).expect("a day's wave");
        assert!(
            fitted.seasonality.strength > 0.9,
            "{}",
            fitted.seasonality.strength
        );
        let d = decompose(&t, &wave, MINUTE_MS, None);
        assert_eq!(d.seasonality.map(|s| s.period_ms), Some(DAY_MS));
        assert!(d.residual.iter().all(|r| r.abs() < 6.0));
        let step: Vec<f64> = (0..1_440)
            .map(|i| if i < 800 { 100.0 } else { 140.0 } + 4.0 * noise(i))
            .collect();
        // The step is fitted beside whatever rhythm is left, never taken for it.
        let rhythm = fitted_daily_wave(&t, &step).map_or(0.0, |w| {
            let (low, high) = w
                .seasonal
                .iter()
                .fold((0.0f64, 0.0f64), |(l, h), s| (l.min(*s), h.max(*s)));
            high - low
        });
        assert!(rhythm < 40.0 / 4.0, "{rhythm}");
    }

    #[test]
    fn a_degradation_the_data_end_in_is_no_working_day() {
        // Monday: level until noon, a four-hour climb to +60%, held to midnight. Working hours
        // from 13:00 for ten hours fit it but for the last hour, where a rise that stays fits.
        let (t, values) = five_minutes(1_704_067_200_000, 1, |t| {
            100.0 * (1.0 + 0.6 * ((hour(t) - 12.0) / 4.0).clamp(0.0, 1.0))
        });
        for multiplicative in [false, true] {
            assert_eq!(working_hours(&t, &values, t[0], multiplicative), None);
        }
    }

    #[test]
    fn a_day_of_small_counts_shows_its_wave_in_the_hourly_medians() {
        // Counts of 1 to 2 a minute: Poisson noise hides most of the wave from bucket means
        // (it explains less than half of what a line leaves), not from the hourly medians.
        let mut rng = crate::synthetic::rng::Rng::new(1);
        let (t, _) = five_minutes(1_704_067_200_000, 1, |_| 0.0);
        let t: Vec<i64> = (0..1_440).map(|i| t[0] + i * MINUTE_MS).collect();
        let values: Vec<f64> = t
            .iter()
            .map(|&t| {
                let wave = (std::f64::consts::TAU * (hour(t) - 9.0) / 24.0).sin();
                rng.poisson(1.5 + 0.7 * wave) as f64
            })
            .collect();
        let (times, means) = bucket_means(&t, &values, DAY_MS / WAVE_BUCKETS + 1);
        let wave = Shape {
            rhythm: Rhythm::Wave,
            weekend: false,
            multiplicative: false,
        };
        let sse = |shape| sum_of_squares(&times, &means, design(t[0], shape, None)).unwrap();
        assert!(1.0 - sse(Some(wave)) / sse(None) < MIN_WAVE_SHARE);
        assert!(significant_on_medians(&t, &values, t[0], wave, None));
        let fitted = fitted_daily_wave(&t, &values).expect("the day's wave");
        let (low, high) = fitted
            .seasonal
            .iter()
            .fold((0.0f64, 0.0f64), |(l, h), s| (l.min(*s), h.max(*s)));
        assert!((1.0..1.8).contains(&(high - low)), "{low} to {high}");
    }

    #[test]
    fn two_days_are_judged_against_a_fitted_day_not_against_each_other() {
        // Two and a half days of a wave; an hour of +30 on the second morning.
        let t: Vec<i64> = (0..3_600)
            .map(|i| 1_704_067_200_000 + i * MINUTE_MS)
            .collect();
        let noise = |i: usize| ((i as f64 * 12.9898).sin() * 43_758.547).fract() - 0.5;
        let incident = |i: usize| (1_440 + 600..1_440 + 660).contains(&i);
        let values: Vec<f64> = t
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let hour = (t % DAY_MS) as f64 / HOUR_MS as f64;
                let wave = 100.0 + 30.0 * (std::f64::consts::TAU * (hour - 9.0) / 24.0).sin();
                wave + 4.0 * noise(i) + if incident(i) { 30.0 } else { 0.0 }
            })
            .collect();
        let season = detect_period(&t, &values, MINUTE_MS);
        assert_eq!(season.map(|s| s.period_ms), Some(DAY_MS));
        let d = decompose(&t, &values, MINUTE_MS, season);
        let mean =
            |r: std::ops::Range<usize>| d.residual[r.clone()].iter().sum::<f64>() / r.len() as f64;
        // The incident departs once; the same hour of the first day, its only other cycle,
        // does not depart the other way.
        assert!(mean(1_440 + 600..1_440 + 660) > 20.0);
        assert!(mean(600..660).abs() < 5.0, "{}", mean(600..660));
    }

    /// `days` at 5 minutes from `start`, each value from its time, with a little noise.
    fn five_minutes(start: i64, days: i64, value: impl Fn(i64) -> f64) -> (Vec<i64>, Vec<f64>) {
        let noise = |i: i64| ((i as f64 * 12.9898).sin() * 43_758.547).fract() - 0.5;
        let t: Vec<i64> = (0..days * 288).map(|i| start + i * 5 * MINUTE_MS).collect();
        let values = t
            .iter()
            .zip(0..)
            .map(|(&t, i)| value(t) + 4.0 * noise(i))
            .collect();
        (t, values)
    }

    fn hour(t: i64) -> f64 {
        (t % DAY_MS) as f64 / HOUR_MS as f64
    }

    #[test]
    fn a_weekend_without_the_working_day_is_its_own_kind_of_day() {
        // Saturday 18:00 UTC (1970-01-03) to Wednesday: 180 in weekday working hours, else 100.
        let working = |t: i64| !is_weekend(t) && (8.0..19.0).contains(&hour(t));
        let (t, v) = five_minutes(2 * DAY_MS + 18 * HOUR_MS, 4, |t| {
            if working(t) {
                180.0
            } else {
                100.0
            }
        });
        let season = detect_period(&t, &v, 5 * MINUTE_MS);
        let d = decompose(&t, &v, 5 * MINUTE_MS, season);
        assert_eq!(d.seasonality.map(|s| s.period_ms), Some(DAY_MS));
        let on_weekend = |(t, r): (&i64, &f64)| is_weekend(*t).then_some(r.abs());
        let worst = t
            .iter()
            .zip(&d.residual)
            .filter_map(on_weekend)
            .fold(0.0, f64::max);
        assert!(worst < 15.0, "largest weekend residual {worst}");
    }

    #[test]
    fn a_rise_that_carries_on_into_the_weekend_is_no_weekend() {
        // Tuesday to Sunday (1970-01-06 to 01-11), the same wave every day, 40 higher from
        // Friday 18:25: the weekend is busier than the weekdays, which no weekend explains.
        let friday_evening = 8 * DAY_MS + 18 * HOUR_MS + 25 * MINUTE_MS;
        let (t, v) = five_minutes(5 * DAY_MS, 6, |t| {
            let wave = 30.0 * (std::f64::consts::TAU * hour(t) / 24.0).sin();
            100.0 + wave + if t >= friday_evening { 40.0 } else { 0.0 }
        });
        assert!(weekend_profile(&t, &v, 5 * MINUTE_MS).is_none());
    }
}
