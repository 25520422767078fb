//! Labelled streams of the three kinds of metric that NAB's held-out categories hold and its
//! development split does not: bursty counts at 5 minutes (mentions, requests), sparse hourly
//! business metrics with missing rows (cost per click), and irregularly sampled gauges with a
//! rush-hour rhythm (road speed). Each file is labelled the way NAB labels its own: one window
//! per incident, centred on its onset, the windows together a tenth of the file.
//!
//! They exist to show how the live score behaves on data shaped unlike the split it was tuned
//! on — a tuning aid, not a judge. Every range below was fixed from the public descriptions of
//! those categories before the live score was measured on them.

use super::rng::Rng;
use super::scenarios::{daily_wave, weekday_and_hour, EPOCH_MONDAY};
use crate::evaluation::nab::LabelledFile;
use crate::stats::seasonality::{DAY_MS, HOUR_MS, MINUTE_MS};

/// A kind of stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StreamKind {
    /// Counts every 5 minutes with a daily rhythm, a slowly wandering rate and news bursts of
    /// their own; the incidents are bursts far above the usual ones, or a surge that lasts.
    BurstyCounts,
    /// An hourly price-like metric (0.05–2) with a daily rhythm, memory, and stretches of
    /// missing hours; the incidents are a change of level for hours or a short spike.
    SparseHourly,
    /// A speed every 5 minutes give or take, a third of the readings missing, slower in the
    /// rush hours of weekdays; the incidents are a collapse outside the rush hours.
    IrregularGauge,
}

impl StreamKind {
    pub const ALL: [StreamKind; 3] = [Self::BurstyCounts, Self::SparseHourly, Self::IrregularGauge];

    pub fn label(self) -> &'static str {
        match self {
            Self::BurstyCounts => "burstyCounts",
            Self::SparseHourly => "sparseHourly",
            Self::IrregularGauge => "irregularGauge",
        }
    }
}

/// `files` labelled streams of each kind, seeded, kind after kind in the order of
/// [`StreamKind::ALL`].
pub fn corpus(files: u64) -> Vec<LabelledFile> {
    StreamKind::ALL
        .iter()
        .flat_map(|&kind| (0..files).map(move |seed| generate(kind, seed)))
        .collect()
}

/// One labelled stream.
pub fn generate(kind: StreamKind, seed: u64) -> LabelledFile {
    let mut rng = Rng::new(0x5EED_57A2 ^ seed.wrapping_mul(7_919) ^ (kind as u64) << 40);
    let drawn = match kind {
        StreamKind::BurstyCounts => bursty_counts(&mut rng),
        StreamKind::SparseHourly => sparse_hourly(&mut rng),
        StreamKind::IrregularGauge => irregular_gauge(&mut rng),
    };
    let windows = nab_windows(drawn.values.len(), &drawn.onsets);
    LabelledFile {
        name: format!("{}/{}_{seed}.csv", kind.label(), kind.label()),
        timestamps: drawn.timestamps,
        values: drawn.values,
        windows,
    }
}

struct Drawn {
    timestamps: Vec<i64>,
    values: Vec<f64>,
    /// Rows where incidents begin, in order.
    onsets: Vec<usize>,
}

/// NAB's windows: centred on each onset, each a tenth of the file divided by their number.
fn nab_windows(rows: usize, onsets: &[usize]) -> Vec<(usize, usize)> {
    if onsets.is_empty() {
        return Vec::new();
    }
    let half = rows / 10 / onsets.len() / 2;
    onsets
        .iter()
        .map(|&at| (at.saturating_sub(half), (at + half).min(rows - 1)))
        .collect()
}

/// One to three onsets, spread over the file after its first fifth, at least a window apart.
fn onsets(rng: &mut Rng, rows: usize) -> Vec<usize> {
    let count = rng.index(1, 4);
    let first = rows / 5;
    let span = (rows - first - rows / 20) / count;
    (0..count)
        .map(|k| first + k * span + rng.index(span / 5, span * 4 / 5))
        .collect()
}

/// Log-uniform in [low, high).
fn log_range(rng: &mut Rng, low: f64, high: f64) -> f64 {
    rng.range(low.ln(), high.ln()).exp()
}

/// Tweets-like counts: Poisson around a rate with a daily rhythm, a log-AR(1) wander, and
/// bursts that decay (one to three a day, ×1.5–×4 at their peak); incidents are bursts of
/// ×8–×25 decaying over hours, or a surge of ×2.5–×4 lasting a day.
fn bursty_counts(rng: &mut Rng) -> Drawn {
    let step = 5 * MINUTE_MS;
    let rows = rng.index(8_000, 16_000);
    let base = log_range(rng, 3.0, 300.0);
    let amplitude = rng.range(0.3, 0.8);
    let weekend = rng.range(0.6, 1.0);
    let bursts_per_row = rng.range(1.0, 3.0) * step as f64 / DAY_MS as f64;
    let start = EPOCH_MONDAY + rng.index(0, 7) as i64 * DAY_MS;
    let incidents = onsets(rng, rows);
    let mut wander = 0.0;
    let mut burst = 0.0;
    let mut half_life_rows = 1.0;
    let (mut surge, mut surge_until) = (0.0, 0);
    let (mut timestamps, mut values) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
    for i in 0..rows {
        let t = start + i as i64 * step;
        wander = 0.995 * wander + 0.2 * (1.0 - 0.995f64.powi(2)).sqrt() * rng.normal();
        if rng.uniform() < bursts_per_row {
            burst += log_range(rng, 0.5, 3.0);
            half_life_rows = rng.range(3.0, 24.0);
        }
        if incidents.contains(&i) {
            if rng.uniform() < 0.6 {
                burst += log_range(rng, 7.0, 24.0);
                half_life_rows = rng.range(12.0, 72.0);
            } else {
                surge = rng.range(1.5, 3.0);
                surge_until = i + (DAY_MS / step) as usize;
            }
        }
        let surging = if i < surge_until { surge } else { 0.0 };
        let weekend_factor = if weekday_and_hour(t).0 >= 5 {
            weekend
        } else {
            1.0
        };
        let calendar = (1.0 + amplitude * daily_wave(t)) * weekend_factor;
        let rate = base * calendar * wander.exp() * (1.0 + burst + surging);
        timestamps.push(t);
        values.push(rng.poisson(rate) as f64);
        burst *= 0.5f64.powf(1.0 / half_life_rows);
    }
    Drawn {
        timestamps,
        values,
        onsets: incidents,
    }
}

/// Ad-exchange-like: hourly, a daily rhythm and AR(1) memory around a price of 0.05–2, two or
/// three stretches of 5–30 missing hours and 0–3% missing rows besides; incidents are a level
/// change of 40–80% (either way) for 6–48 hours, or a spike of ×2.5–×4 for 1–3 hours.
fn sparse_hourly(rng: &mut Rng) -> Drawn {
    let step = HOUR_MS;
    let slots = rng.index(1_300, 1_900);
    let base = log_range(rng, 0.05, 2.0);
    let amplitude = rng.range(0.1, 0.4);
    let noise = rng.range(0.05, 0.15);
    let missing_rate = rng.range(0.0, 0.03);
    let start = EPOCH_MONDAY + rng.index(0, 7) as i64 * DAY_MS;
    let gaps: Vec<(usize, usize)> = (0..rng.index(2, 4))
        .map(|_| {
            let at = rng.index(slots / 10, slots * 9 / 10);
            (at, at + rng.index(5, 31))
        })
        .collect();
    let incident_slots = onsets(rng, slots);
    let mut effects = vec![1.0; slots];
    for &at in &incident_slots {
        let (factor, hours) = if rng.uniform() < 0.6 {
            let sign = if rng.uniform() < 0.5 { -1.0 } else { 1.0 };
            (1.0 + sign * rng.range(0.4, 0.8), rng.index(6, 49))
        } else {
            (rng.range(2.5, 4.0), rng.index(1, 4))
        };
        for effect in effects.iter_mut().skip(at).take(hours) {
            *effect = factor;
        }
    }
    let mut memory = 0.0;
    let (mut timestamps, mut values, mut onsets) = (Vec::new(), Vec::new(), Vec::new());
    for (slot, effect) in effects.iter().enumerate() {
        memory = 0.8 * memory + 0.6 * rng.normal();
        let t = start + slot as i64 * step;
        let gap = gaps.iter().any(|&(from, to)| (from..to).contains(&slot));
        let incident = incident_slots.contains(&slot);
        if (gap || rng.uniform() < missing_rate) && !incident {
            continue;
        }
        if incident {
            onsets.push(values.len());
        }
        let value = base * (1.0 + amplitude * daily_wave(t)) * (1.0 + noise * memory) * effect;
        timestamps.push(t);
        values.push((value.max(0.2 * base) * 10_000.0).round() / 10_000.0);
    }
    Drawn {
        timestamps,
        values,
        onsets,
    }
}

/// Traffic-like: a speed of 45–70 read every 5 minutes with a jitter of up to a minute, a
/// third of the readings missing; weekday rush hours (7–9, 16–18) run 20–50% slower; noise
/// 3–8%. Incidents are a collapse to 15–40% of the speed for 30 minutes to 3 hours.
fn irregular_gauge(rng: &mut Rng) -> Drawn {
    let step = 5 * MINUTE_MS;
    let slots = rng.index(3_000, 4_000);
    let speed = rng.range(45.0, 70.0);
    let rush = rng.range(0.2, 0.5);
    let noise = rng.range(0.03, 0.08);
    let start = EPOCH_MONDAY + rng.index(0, 7) as i64 * DAY_MS;
    let incident_slots = onsets(rng, slots);
    let mut effects = vec![1.0; slots];
    for &at in &incident_slots {
        let factor = rng.range(0.15, 0.4);
        let length = rng.index(6, 37);
        for effect in effects.iter_mut().skip(at).take(length) {
            *effect = factor;
        }
    }
    let (mut timestamps, mut values, mut onsets) = (Vec::new(), Vec::new(), Vec::new());
    for (slot, effect) in effects.iter().enumerate() {
        let t = start + slot as i64 * step + rng.index(0, 60) as i64 * 1_000;
        let incident = incident_slots.contains(&slot);
        if rng.uniform() < 1.0 / 3.0 && !incident {
            continue;
        }
        if incident {
            onsets.push(values.len());
        }
        let (weekday, hour) = weekday_and_hour(t);
        let rush_hour = weekday < 5 && ((7.0..9.0).contains(&hour) || (16.0..18.0).contains(&hour));
        let expected = speed * if rush_hour { 1.0 - rush } else { 1.0 } * effect;
        timestamps.push(t);
        values.push((expected * (1.0 + noise * rng.normal())).max(1.0).round());
    }
    Drawn {
        timestamps,
        values,
        onsets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_labelled_as_nab_labels_its_files() {
        for kind in StreamKind::ALL {
            for seed in 0..3 {
                let file = generate(kind, seed);
                let rows = file.values.len();
                assert!(file.timestamps.windows(2).all(|w| w[0] < w[1]), "{kind:?}");
                assert!(!file.windows.is_empty() && file.windows.len() <= 3);
                let labelled: usize = file.windows.iter().map(|(s, e)| e - s + 1).sum();
                assert!(labelled <= rows / 10 + file.windows.len(), "{kind:?}");
                assert!(file.windows.windows(2).all(|w| w[0].1 < w[1].0), "{kind:?}");
                assert!(
                    file.windows[0].0 >= rows * 15 / 100,
                    "{kind:?}: after probation"
                );
            }
        }
    }
}
