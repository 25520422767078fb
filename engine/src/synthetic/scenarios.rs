//! The efficacy tiers of the product brief, generated on realistic backgrounds (noise with
//! some memory, daily and weekly seasonality, slow trend), each with a known answer.
//!
//! - easy: a sudden ≥5× spike; a complete outage (the metric drops to zero);
//! - medium: a gradual 30% degradation over 2 hours that persists; periodic 15-minute error
//!   bursts;
//! - hard: a 1%-per-day drift that starts mid-series and lasts 7 days; one weekday whose
//!   business-hours shape is missing, as on a holiday;
//! - normal: the same backgrounds with nothing injected.

use super::rng::Rng;
use crate::series::Series;
use crate::stats::seasonality::{DAY_MS, HOUR_MS, MINUTE_MS, WEEK_MS};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    Easy,
    Medium,
    Hard,
    Normal,
}

impl Tier {
    pub fn label(self) -> &'static str {
        match self {
            Self::Easy => "easy",
            Self::Medium => "medium",
            Self::Hard => "hard",
            Self::Normal => "normal",
        }
    }
}

/// One generated case with its known answer.
pub struct Case {
    pub scenario: &'static str,
    pub tier: Tier,
    pub seed: u64,
    pub series: Series,
    /// Where the injected anomaly is (UTC ms, inclusive); `None` for normal series.
    pub truth: Option<(i64, i64)>,
}

/// The scenarios of each anomalous tier.
pub const SCENARIOS: [(&str, Tier); 6] = [
    ("spike", Tier::Easy),
    ("outage", Tier::Easy),
    ("degradation", Tier::Medium),
    ("error_bursts", Tier::Medium),
    ("daily_drift", Tier::Hard),
    ("holiday", Tier::Hard),
];

/// 2024-01-01T00:00:00Z, a Monday, so weekly shapes line up with weekdays.
pub const EPOCH_MONDAY: i64 = 1_704_067_200_000;

/// Every case: one per seed for each anomalous scenario and each normal background.
pub fn efficacy_cases(seeds: std::ops::Range<u64>) -> Vec<Case> {
    let mut cases = Vec::new();
    for seed in seeds {
        for (scenario, tier) in SCENARIOS {
            cases.push(generate(scenario, tier, seed, true));
            cases.push(generate(scenario, Tier::Normal, seed, false));
        }
    }
    cases
}

/// The background of a scenario: sampling, span and shape.
struct Background {
    step_ms: i64,
    span_ms: i64,
    base: f64,
    /// Noise standard deviation as a share of the base.
    noise: f64,
    /// Daily swing as a share of the base.
    daily: f64,
    /// Weekday business-hours bump (weekends stay low).
    weekly: bool,
    /// Linear trend, share of base per day.
    trend_per_day: f64,
}

fn background(scenario: &str, rng: &mut Rng) -> Background {
    let trend_per_day = rng.range(-0.004, 0.004);
    let noise = rng.range(0.02, 0.05);
    match scenario {
        "spike" | "outage" => Background {
            step_ms: MINUTE_MS,
            span_ms: 2 * DAY_MS,
            base: rng.range(50.0, 500.0),
            noise,
            daily: rng.range(0.1, 0.4),
            weekly: false,
            trend_per_day,
        },
        "degradation" => Background {
            step_ms: 5 * MINUTE_MS,
            span_ms: 4 * DAY_MS,
            base: rng.range(80.0, 300.0),
            noise,
            daily: rng.range(0.1, 0.3),
            weekly: false,
            trend_per_day,
        },
        "error_bursts" => Background {
            step_ms: MINUTE_MS,
            span_ms: DAY_MS,
            base: rng.range(5.0, 40.0),
            noise: rng.range(0.05, 0.1),
            daily: 0.0,
            weekly: false,
            trend_per_day,
        },
        "daily_drift" => Background {
            step_ms: HOUR_MS,
            span_ms: 21 * DAY_MS,
            base: rng.range(200.0, 800.0),
            noise: rng.range(0.01, 0.02),
            daily: rng.range(0.2, 0.4),
            weekly: false,
            trend_per_day: trend_per_day / 4.0,
        },
        _ => Background {
            step_ms: HOUR_MS,
            span_ms: 5 * WEEK_MS,
            base: rng.range(100.0, 1000.0),
            noise,
            daily: 0.0,
            weekly: true,
            trend_per_day: trend_per_day / 4.0,
        },
    }
}

/// Generates one case; `inject` adds the scenario's anomaly.
pub fn generate(scenario: &'static str, tier: Tier, seed: u64, inject: bool) -> Case {
    let mut rng = Rng::new(seed.wrapping_mul(1000) + scenario.len() as u64 * 7 + u64::from(inject));
    let bg = background(scenario, &mut rng);
    let points = (bg.span_ms / bg.step_ms) as usize;
    let timestamps: Vec<i64> = (0..points)
        .map(|i| EPOCH_MONDAY + i as i64 * bg.step_ms)
        .collect();
    let mut values = clean_background(&bg, &timestamps, &mut rng);
    let truth = inject.then(|| inject_anomaly(scenario, &bg, &timestamps, &mut values, &mut rng));
    let name = if inject {
        scenario.to_string()
    } else {
        format!("normal_{scenario}")
    };
    let series =
        Series::from_points(name, timestamps, values).expect("generated series have enough points");
    Case {
        scenario,
        tier,
        seed,
        series,
        truth,
    }
}

fn clean_background(bg: &Background, timestamps: &[i64], rng: &mut Rng) -> Vec<f64> {
    let mut noise = 0.0;
    timestamps
        .iter()
        .map(|t| {
            let elapsed_days = (t - EPOCH_MONDAY) as f64 / DAY_MS as f64;
            noise = 0.5 * noise + (1.0f64 - 0.25).sqrt() * rng.normal();
            bg.base
                * (1.0 + bg.trend_per_day * elapsed_days)
                * (1.0 + seasonal_shape(bg, *t, false))
                * (1.0 + bg.noise * noise)
        })
        .collect()
}

/// Relative seasonal effect at `t`; `holiday` makes a weekday look like a weekend.
fn seasonal_shape(bg: &Background, t: i64, holiday: bool) -> f64 {
    let hour = ((t - EPOCH_MONDAY) % DAY_MS) as f64 / HOUR_MS as f64;
    let daily = bg.daily * daily_wave(t);
    if !bg.weekly {
        return daily;
    }
    let weekday = ((t - EPOCH_MONDAY) % WEEK_MS) / DAY_MS;
    let business = (8.0..19.0).contains(&hour) && weekday < 5 && !holiday;
    0.1 * daily_wave(t) + if business { 0.8 } else { 0.0 }
}

/// (weekday, 0 = Monday; hour of day) of a UTC timestamp.
pub fn weekday_and_hour(t: i64) -> (i64, f64) {
    let since = t - EPOCH_MONDAY;
    (
        since.div_euclid(DAY_MS).rem_euclid(7),
        since.rem_euclid(DAY_MS) as f64 / HOUR_MS as f64,
    )
}

/// −1..1 over a day, highest mid-afternoon: the daily rhythm of every generated series.
pub fn daily_wave(t: i64) -> f64 {
    let hour = ((t - EPOCH_MONDAY) % DAY_MS) as f64 / HOUR_MS as f64;
    (std::f64::consts::TAU * (hour - 9.0) / 24.0).sin()
}

fn inject_anomaly(
    scenario: &str,
    bg: &Background,
    timestamps: &[i64],
    values: &mut [f64],
    rng: &mut Rng,
) -> (i64, i64) {
    let n = values.len();
    let at = |i: usize| timestamps[i.min(n - 1)];
    match scenario {
        "spike" => {
            let start = rng.index(n / 2, n - 10);
            let width = rng.index(1, 4);
            let factor = rng.range(5.0, 8.0);
            for v in &mut values[start..start + width] {
                *v = bg.base * factor;
            }
            (at(start), at(start + width - 1))
        }
        "outage" => {
            let start = rng.index(n / 2, n - 80);
            let width = rng.index(20, 61);
            for v in &mut values[start..start + width] {
                *v = 0.0;
            }
            (at(start), at(start + width - 1))
        }
        "degradation" => {
            let ramp = (2 * HOUR_MS / bg.step_ms) as usize;
            let start = rng.index(n / 2, n - ramp - (6 * HOUR_MS / bg.step_ms) as usize);
            for (k, v) in values[start..].iter_mut().enumerate() {
                *v *= 1.0 + 0.3 * (k as f64 / ramp as f64).min(1.0);
            }
            (at(start), at(n - 1))
        }
        "error_bursts" => {
            let start = rng.index(n / 3, n / 2);
            let every = (15 * MINUTE_MS / bg.step_ms) as usize;
            let mut last = start;
            for burst in (start..n - 3).step_by(every) {
                let width = rng.index(2, 4);
                let factor = rng.range(3.0, 5.0);
                for v in &mut values[burst..burst + width] {
                    *v *= factor;
                }
                last = burst + width - 1;
            }
            (at(start), at(last))
        }
        "daily_drift" => {
            let start = n - (7 * DAY_MS / bg.step_ms) as usize;
            for (k, v) in values[start..].iter_mut().enumerate() {
                let days = k as f64 * bg.step_ms as f64 / DAY_MS as f64;
                *v *= 1.01f64.powf(days);
            }
            (at(start), at(n - 1))
        }
        _ => {
            let week = rng.index(2, 4) as i64;
            let weekday = rng.index(0, 5) as i64;
            let day_start = EPOCH_MONDAY + week * WEEK_MS + weekday * DAY_MS;
            for (t, v) in timestamps.iter().zip(values.iter_mut()) {
                if (day_start..day_start + DAY_MS).contains(t) {
                    *v *= (1.0 + seasonal_shape(bg, *t, true))
                        / (1.0 + seasonal_shape(bg, *t, false));
                }
            }
            (day_start + 8 * HOUR_MS, day_start + 19 * HOUR_MS)
        }
    }
}
