//! The efficacy grid: every incident kind on every normal family, placed at every time of the
//! week where a calendar rule could mistake it — so recall is measured where the engine was
//! not tuned, not only on the backgrounds it grew up with.
//!
//! Every range below was fixed before the engine was tuned against the grid. Incidents are
//! sized by the brief's own words (a ≥5× spike, a 30% degradation, 1% a day of drift) with one
//! floor: never smaller than what a person would see on the family's noise (a spike at least
//! 12 noise scales, a degradation at least 3, a drift that ends at least 3.5 away), so a cell
//! that fails is the engine's miss, not an invisible incident.

use super::rng::Rng;
use super::scenarios::{daily_wave, weekday_and_hour, Tier, EPOCH_MONDAY};
use crate::series::Series;
use crate::stats::seasonality::{DAY_MS, HOUR_MS, MINUTE_MS, WEEK_MS};

/// What is normal for a metric: the background an incident is placed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Flat,
    Daily,
    Weekly,
    Trend,
    Autocorrelated,
    HeavyTailed,
    WeekendQuieter,
    SmallCounts,
    Sparse,
}

impl Family {
    pub const ALL: [Family; 9] = [
        Self::Flat,
        Self::Daily,
        Self::Weekly,
        Self::Trend,
        Self::Autocorrelated,
        Self::HeavyTailed,
        Self::WeekendQuieter,
        Self::SmallCounts,
        Self::Sparse,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Flat => "flat",
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::Trend => "trend",
            Self::Autocorrelated => "autocorrelated",
            Self::HeavyTailed => "heavy_tailed",
            Self::WeekendQuieter => "weekend_quieter",
            Self::SmallCounts => "small_counts",
            Self::Sparse => "sparse",
        }
    }

    /// Families whose weekdays differ from weekends, where a holiday can be seen at all.
    fn has_weekly_rhythm(self) -> bool {
        matches!(self, Self::Weekly | Self::WeekendQuieter)
    }
}

/// What happened: the product brief's incident kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Spike,
    Outage,
    Degradation,
    ErrorBursts,
    Drift,
    Holiday,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Self::Spike,
        Self::Outage,
        Self::Degradation,
        Self::ErrorBursts,
        Self::Drift,
        Self::Holiday,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Spike => "spike",
            Self::Outage => "outage",
            Self::Degradation => "degradation",
            Self::ErrorBursts => "error_bursts",
            Self::Drift => "drift",
            Self::Holiday => "holiday",
        }
    }

    pub fn tier(self) -> Tier {
        match self {
            Self::Spike | Self::Outage => Tier::Easy,
            Self::Degradation | Self::ErrorBursts => Tier::Medium,
            Self::Drift | Self::Holiday => Tier::Hard,
        }
    }

    /// The sampling and span a person would look at this kind of incident with, and how far
    /// into the span it begins (a share drawn from the range).
    fn layout(self) -> Layout {
        let (step_ms, span_ms, start_share) = match self {
            Self::Spike | Self::Outage => (MINUTE_MS, 2 * DAY_MS, (0.5, 0.9)),
            Self::Degradation => (5 * MINUTE_MS, 4 * DAY_MS, (0.5, 0.85)),
            Self::ErrorBursts => (MINUTE_MS, DAY_MS, (0.35, 0.6)),
            Self::Drift => (HOUR_MS, 21 * DAY_MS, (2.0 / 3.0, 2.0 / 3.0)),
            Self::Holiday => (HOUR_MS, 5 * WEEK_MS, (0.45, 0.75)),
        };
        Layout {
            step_ms,
            span_ms,
            start_share,
        }
    }
}

/// When in the week the incident begins (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Placement {
    /// Tuesday to Thursday, 13:00–17:00.
    WeekdayAfternoon,
    /// The small hours of a weekday, 01:00–05:00 Tuesday to Friday.
    Night,
    /// Saturday or Sunday, 09:00–21:00, in a series that holds no earlier weekend.
    FirstWeekend,
    /// Friday, 18:00–22:00, the weekend right after.
    FridayEvening,
}

impl Placement {
    pub const ALL: [Placement; 4] = [
        Self::WeekdayAfternoon,
        Self::Night,
        Self::FirstWeekend,
        Self::FridayEvening,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::WeekdayAfternoon => "weekday_afternoon",
            Self::Night => "night",
            Self::FirstWeekend => "first_weekend",
            Self::FridayEvening => "friday_evening",
        }
    }

    /// (weekday 0 = Monday, first hour, last hour) of the anchor, drawn from.
    fn window(self) -> ((usize, usize), (f64, f64)) {
        match self {
            Self::WeekdayAfternoon => ((1, 4), (13.0, 17.0)),
            Self::Night => ((1, 5), (1.0, 5.0)),
            Self::FirstWeekend => ((5, 7), (9.0, 21.0)),
            Self::FridayEvening => ((4, 5), (18.0, 22.0)),
        }
    }
}

/// The grid's cells that make sense: a holiday is a whole weekday without its weekday shape,
/// so it needs a family with a weekly rhythm and a weekday placement.
pub fn applies(kind: Kind, family: Family, placement: Placement) -> bool {
    kind != Kind::Holiday
        || (family.has_weekly_rhythm() && placement == Placement::WeekdayAfternoon)
}

/// One generated series with its known answer.
#[derive(Debug, Clone)]
pub struct GridCase {
    pub family: Family,
    pub placement: Placement,
    /// The layout the series was drawn with (for a normal case, the kind it stands beside).
    pub layout_of: Kind,
    /// What was injected; `None` for a normal series.
    pub kind: Option<Kind>,
    pub seed: u64,
    pub series: Series,
    /// Where the incident is (UTC ms, inclusive); `None` for a normal series.
    pub truth: Option<(i64, i64)>,
}

/// Every applicable cell once per seed, each with its normal twin: the same family, layout and
/// placement drawn afresh with nothing injected.
pub fn grid_cases(seeds: std::ops::Range<u64>) -> Vec<GridCase> {
    let mut cases = Vec::new();
    for seed in seeds {
        for kind in Kind::ALL {
            for family in Family::ALL {
                for placement in Placement::ALL {
                    if applies(kind, family, placement) {
                        cases.push(generate(kind, family, placement, seed, true));
                        cases.push(generate(kind, family, placement, seed, false));
                    }
                }
            }
        }
    }
    cases
}

struct Layout {
    step_ms: i64,
    span_ms: i64,
    start_share: (f64, f64),
}

/// Generates one cell's series; `inject` adds the incident.
pub fn generate(
    kind: Kind,
    family: Family,
    placement: Placement,
    seed: u64,
    inject: bool,
) -> GridCase {
    let mut rng = Rng::new(
        0x6A1D
            ^ seed.wrapping_mul(104_729)
            ^ (kind as u64) << 48
            ^ (family as u64) << 40
            ^ (placement as u64) << 32
            ^ u64::from(inject) << 56,
    );
    let layout = kind.layout();
    let (timestamps, anchor) = time_axis(&layout, kind, placement, &mut rng);
    let background = Background::draw(family, &mut rng);
    let mut values = background.expected(&timestamps);
    let mut present = background.presence(&timestamps, &mut rng);
    let truth = inject.then(|| {
        inject_incident(
            kind,
            &background,
            &timestamps,
            anchor,
            &mut values,
            &mut present,
            &mut rng,
        )
    });
    let noisy = background.add_noise(&values, &mut rng);
    let (timestamps, values) = readings(timestamps, noisy, present);
    let name = match inject {
        true => format!("{}_on_{}", kind.label(), family.label()),
        false => format!("normal_{}", family.label()),
    };
    let series =
        Series::from_points(name, timestamps, values).expect("generated series have enough points");
    GridCase {
        family,
        placement,
        layout_of: kind,
        kind: inject.then_some(kind),
        seed,
        series,
        truth,
    }
}

/// The steps that have a reading, with their values.
fn readings(timestamps: Vec<i64>, values: Vec<f64>, present: Vec<bool>) -> (Vec<i64>, Vec<f64>) {
    timestamps
        .into_iter()
        .zip(values)
        .zip(present)
        .filter_map(|(point, present)| present.then_some(point))
        .unzip()
}

/// `span_ms` of `family`'s normal behaviour at `step_ms`, from the first Monday of the epoch,
/// with nothing injected: what a watch on an ordinary metric of that family sees.
pub fn normal_stretch(family: Family, seed: u64, step_ms: i64, span_ms: i64) -> Series {
    let mut rng = Rng::new(0x3EE7 ^ seed.wrapping_mul(104_729) ^ (family as u64) << 40);
    let timestamps: Vec<i64> = (0..span_ms / step_ms)
        .map(|i| EPOCH_MONDAY + i * step_ms)
        .collect();
    let background = Background::draw(family, &mut rng);
    let values = background.expected(&timestamps);
    let present = background.presence(&timestamps, &mut rng);
    let noisy = background.add_noise(&values, &mut rng);
    let (timestamps, values) = readings(timestamps, noisy, present);
    Series::from_points(format!("normal_{}", family.label()), timestamps, values)
        .expect("weeks of a family have enough points")
}

/// The series' timestamps and the index where the incident begins: the anchor is drawn in the
/// placement's part of the week (week 5 of the epoch, so weeks of history fit before it); a
/// first-weekend series starts no earlier than that week's Monday.
fn time_axis(
    layout: &Layout,
    kind: Kind,
    placement: Placement,
    rng: &mut Rng,
) -> (Vec<i64>, usize) {
    let ((first_day, end_day), (first_hour, last_hour)) = placement.window();
    let week_start = EPOCH_MONDAY + 5 * WEEK_MS;
    let day = if kind == Kind::Holiday {
        rng.index(0, 5)
    } else {
        rng.index(first_day, end_day)
    };
    // Drawn for every kind so each cell keeps its stream; a holiday is a whole day.
    let hour = rng.range(first_hour, last_hour);
    let hour = if kind == Kind::Holiday { 0.0 } else { hour };
    let anchor_ms = week_start + day as i64 * DAY_MS + (hour * HOUR_MS as f64) as i64;
    let share = rng.range(layout.start_share.0, layout.start_share.1);
    let share_ms = (share * layout.span_ms as f64) as i64;
    let before_ms = match placement {
        Placement::FirstWeekend => share_ms.min(anchor_ms - week_start),
        _ => share_ms,
    };
    let after_ms = layout.span_ms - share_ms;
    let before = (before_ms / layout.step_ms) as usize;
    let after = (after_ms / layout.step_ms) as usize;
    let anchor_ms = anchor_ms - anchor_ms.rem_euclid(layout.step_ms);
    let first = anchor_ms - before as i64 * layout.step_ms;
    let timestamps = (0..before + after)
        .map(|i| first + i as i64 * layout.step_ms)
        .collect();
    (timestamps, before)
}

/// How the noise of a family is drawn.
#[derive(Debug, Clone, Copy)]
enum Noise {
    /// Independent normal noise, standard deviation a share of the expected value.
    Gaussian { share: f64 },
    /// AR(1) with coefficient `phi` and a stationary standard deviation `share` of the value.
    Autoregressive { phi: f64, share: f64 },
    /// Student-t with `degrees` of freedom, scaled by `share` of the base; never below 5% of it.
    StudentT { degrees: usize, share: f64 },
    /// Counts: Poisson around the expected value.
    Poisson,
}

struct Background {
    family: Family,
    base: f64,
    daily: f64,
    /// Weekday business hours (08–19) run 80% above the rest.
    business_hours: bool,
    /// Saturdays and Sundays run this share lower.
    weekend_drop: f64,
    /// Share of the base gained per day.
    trend_per_day: f64,
    noise: Noise,
    /// For sparse series: the chance a step has a reading, and the idle hours (none).
    presence: f64,
    idle_hours: (f64, f64),
}

impl Background {
    fn draw(family: Family, rng: &mut Rng) -> Self {
        let quiet = Self {
            family,
            base: rng.range(50.0, 500.0),
            daily: 0.0,
            business_hours: false,
            weekend_drop: 0.0,
            trend_per_day: 0.0,
            noise: Noise::Gaussian {
                share: rng.range(0.02, 0.05),
            },
            presence: 1.0,
            idle_hours: (0.0, 0.0),
        };
        match family {
            Family::Flat => quiet,
            Family::Daily => Self {
                daily: rng.range(0.1, 0.4),
                noise: Noise::Autoregressive {
                    phi: 0.5,
                    share: rng.range(0.02, 0.05),
                },
                ..quiet
            },
            Family::Weekly => Self {
                daily: 0.1,
                business_hours: true,
                noise: Noise::Autoregressive {
                    phi: 0.5,
                    share: rng.range(0.02, 0.05),
                },
                ..quiet
            },
            Family::Trend => {
                let sign = if rng.uniform() < 0.5 { -1.0 } else { 1.0 };
                Self {
                    trend_per_day: sign * rng.range(0.005, 0.01),
                    daily: rng.range(0.1, 0.3),
                    noise: Noise::Gaussian {
                        share: rng.range(0.02, 0.04),
                    },
                    ..quiet
                }
            }
            Family::Autocorrelated => Self {
                daily: rng.range(0.0, 0.3),
                noise: Noise::Autoregressive {
                    phi: rng.range(0.9, 0.97),
                    share: rng.range(0.03, 0.08),
                },
                ..quiet
            },
            Family::HeavyTailed => Self {
                noise: Noise::StudentT {
                    degrees: rng.index(2, 4),
                    share: rng.range(0.02, 0.1),
                },
                ..quiet
            },
            Family::WeekendQuieter => Self {
                weekend_drop: rng.range(0.2, 0.3),
                daily: rng.range(0.0, 0.3),
                ..quiet
            },
            Family::SmallCounts => Self {
                base: rng.range(2.0, 20.0),
                daily: rng.range(0.0, 0.5),
                noise: Noise::Poisson,
                ..quiet
            },
            Family::Sparse => {
                let idle_from = rng.range(0.0, 4.0);
                Self {
                    base: rng.range(10.0, 500.0),
                    noise: Noise::Gaussian {
                        share: rng.range(0.03, 0.1),
                    },
                    presence: rng.range(0.25, 0.7),
                    idle_hours: (idle_from, idle_from + rng.range(2.0, 6.0)),
                    ..quiet
                }
            }
        }
    }

    /// The value without noise at each timestamp.
    fn expected(&self, timestamps: &[i64]) -> Vec<f64> {
        let first = timestamps.first().copied().unwrap_or(EPOCH_MONDAY);
        timestamps
            .iter()
            .map(|&t| {
                let days = (t - first) as f64 / DAY_MS as f64;
                self.base * (1.0 + self.trend_per_day * days) * self.seasonal(t, false)
            })
            .collect()
    }

    /// The calendar's factor at `t`; `holiday` gives a weekday the weekend's shape.
    fn seasonal(&self, t: i64, holiday: bool) -> f64 {
        let (weekday, hour) = weekday_and_hour(t);
        let weekend = weekday >= 5 || holiday;
        let business = self.business_hours && !weekend && (8.0..19.0).contains(&hour);
        let weekend_factor = if weekend {
            1.0 - self.weekend_drop
        } else {
            1.0
        };
        (1.0 + self.daily * daily_wave(t)) * weekend_factor * if business { 1.8 } else { 1.0 }
    }

    /// The noise scale around an expected value, in the value's unit.
    fn noise_scale(&self, expected: f64) -> f64 {
        match self.noise {
            Noise::Gaussian { share } | Noise::Autoregressive { share, .. } => share * expected,
            Noise::StudentT { share, .. } => share * self.base,
            Noise::Poisson => expected.max(1.0).sqrt(),
        }
    }

    /// Which steps have a reading: all, except for the sparse family.
    fn presence(&self, timestamps: &[i64], rng: &mut Rng) -> Vec<bool> {
        timestamps
            .iter()
            .map(|&t| {
                let (_, hour) = weekday_and_hour(t);
                let idle = hour >= self.idle_hours.0 && hour < self.idle_hours.1;
                !idle && rng.uniform() < self.presence
            })
            .collect()
    }

    fn add_noise(&self, values: &[f64], rng: &mut Rng) -> Vec<f64> {
        let mut memory = 0.0;
        values
            .iter()
            .map(|&v| match self.noise {
                Noise::Gaussian { share } => v * (1.0 + share * rng.normal()),
                Noise::Autoregressive { phi, share } => {
                    memory = phi * memory + (1.0 - phi * phi).sqrt() * rng.normal();
                    v * (1.0 + share * memory)
                }
                Noise::StudentT { degrees, share } => {
                    (v + share * self.base * rng.student_t(degrees)).max(0.05 * self.base)
                }
                Noise::Poisson => rng.poisson(v) as f64,
            })
            .collect()
    }
}

/// Writes the incident into the expected values (noise comes after, as it would), makes every
/// step of it a reading, and returns where it is.
fn inject_incident(
    kind: Kind,
    background: &Background,
    timestamps: &[i64],
    start: usize,
    values: &mut [f64],
    present: &mut [bool],
    rng: &mut Rng,
) -> (i64, i64) {
    let n = values.len();
    let step = timestamps[1] - timestamps[0];
    let relative_noise = |v: f64| background.noise_scale(v) / v.max(f64::MIN_POSITIVE);
    let end = match kind {
        Kind::Spike => {
            let width = rng.index(1, 4);
            let factor = rng.range(5.0, 8.0);
            for v in &mut values[start..start + width] {
                *v = (*v * factor).max(*v + 12.0 * background.noise_scale(*v));
            }
            start + width - 1
        }
        Kind::Outage => {
            let width = rng.index(20, 61);
            values[start..start + width].fill(0.0);
            start + width - 1
        }
        Kind::Degradation => {
            let ramp = (2 * HOUR_MS / step) as f64;
            let level = values[start];
            let shift = 0.3f64.max(3.0 * relative_noise(level));
            for (k, v) in values[start..].iter_mut().enumerate() {
                *v *= 1.0 + shift * (k as f64 / ramp).min(1.0);
            }
            n - 1
        }
        Kind::ErrorBursts => {
            let every = (15 * MINUTE_MS / step) as usize;
            let mut last = start;
            for burst in (start..n - 3).step_by(every) {
                let width = rng.index(2, 4);
                let factor = rng.range(3.0, 5.0);
                for v in &mut values[burst..burst + width] {
                    *v = (*v * factor).max(*v + 8.0 * background.noise_scale(*v));
                }
                present[burst..burst + width].fill(true);
                last = burst + width - 1;
            }
            last
        }
        Kind::Drift => {
            let rate = 0.01f64.max(0.5 * relative_noise(background.base));
            for (k, v) in values[start..].iter_mut().enumerate() {
                let days = k as f64 * step as f64 / DAY_MS as f64;
                *v *= 1.0 + rate * days;
            }
            n - 1
        }
        Kind::Holiday => {
            let day_end = timestamps[start] + DAY_MS;
            let mut last = start;
            for i in (start..n).take_while(|&i| timestamps[i] < day_end) {
                let t = timestamps[i];
                values[i] *= background.seasonal(t, true) / background.seasonal(t, false);
                last = i;
            }
            last
        }
    };
    let first = match (kind, background.family) {
        // The holiday shows in business hours on a weekly family, all day on a quieter-weekend one.
        (Kind::Holiday, Family::Weekly) => start + (8 * HOUR_MS / step) as usize,
        _ => start,
    };
    let last = match (kind, background.family) {
        (Kind::Holiday, Family::Weekly) => start + (18 * HOUR_MS / step) as usize,
        _ => end,
    };
    if matches!(kind, Kind::Spike | Kind::Outage) {
        present[start..=end].fill(true);
    }
    (timestamps[first], timestamps[last.min(n - 1)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cell_places_its_incident_where_it_says() {
        for kind in Kind::ALL {
            for family in Family::ALL {
                for placement in Placement::ALL {
                    if !applies(kind, family, placement) {
                        continue;
                    }
                    let case = generate(kind, family, placement, 3, true);
                    let (start, end) = case.truth.unwrap();
                    let series = &case.series;
                    let inside = series
                        .timestamps
                        .iter()
                        .filter(|t| (start..=end).contains(*t));
                    assert!(start <= end && inside.count() > 0, "{kind:?} {family:?}");
                    let (weekday, hour) = weekday_and_hour(start);
                    if kind != Kind::Holiday {
                        let ((first, last), (from, to)) = placement.window();
                        assert!(
                            (first as i64..last as i64).contains(&weekday),
                            "{kind:?} {family:?} {placement:?}"
                        );
                        assert!(
                            hour >= from - 1.0 && hour < to,
                            "{kind:?} {placement:?} {hour}"
                        );
                    }
                    if placement == Placement::FirstWeekend {
                        let monday = start - (start - EPOCH_MONDAY).rem_euclid(WEEK_MS);
                        assert!(
                            series.timestamps[0] >= monday,
                            "no earlier weekend: {kind:?} {family:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn normal_twins_hold_nothing_and_counts_stay_counts() {
        let normal = generate(Kind::Spike, Family::SmallCounts, Placement::Night, 1, false);
        assert!(normal.truth.is_none() && normal.kind.is_none());
        assert!(normal
            .series
            .values
            .iter()
            .all(|v| v.fract() == 0.0 && *v >= 0.0));
        let sparse = generate(Kind::Outage, Family::Sparse, Placement::Night, 1, true);
        let (start, end) = sparse.truth.unwrap();
        let zeros = sparse
            .series
            .timestamps
            .iter()
            .zip(&sparse.series.values)
            .filter(|(t, v)| (start..=end).contains(*t) && **v == 0.0)
            .count();
        assert!(
            zeros >= 20,
            "an outage on a sparse metric is reported zeros: {zeros}"
        );
    }
}
