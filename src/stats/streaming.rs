//! Streaming detection for live metrics: one point at a time, constant work per point, no
//! look-ahead. A robust baseline (median and MAD of the recent normal points) scores each new
//! point; a few clearly deviating points in a row open an incident, a calm stretch closes it,
//! so an incident raises one alert however many points it spans. An incident no stronger
//! than one the metric already had in its recent memory (a daily peak, a routine batch job's
//! burst) is its usual behaviour: tracked the same way, but it raises no alert.

use std::collections::VecDeque;

/// Tuning of [`StreamingDetector`]; the defaults suit minute-level infrastructure metrics.
#[derive(Debug, Clone, Copy)]
pub struct StreamingConfig {
    /// Normal points the baseline remembers.
    pub window: usize,
    /// Points needed before anything is scored.
    pub warmup: usize,
    /// |z| at or above which a point deviates.
    pub open_z: f64,
    /// Deviating points in a row that open an incident.
    pub open_points: usize,
    /// |z| below which a point is calm again.
    pub close_z: f64,
    /// Calm points in a row that close an incident.
    pub close_points: usize,
    /// An incident this long is the new normal: the baseline starts again from it.
    pub max_incident_points: usize,
    /// The baseline is recomputed every this many accepted points (cheap, and stable).
    pub refresh_every: usize,
    /// Points over which past incidents are remembered.
    pub memory: usize,
    /// An incident alerts only if its |z| exceeds every remembered incident of the same
    /// direction by this factor.
    pub novelty: f64,
}

impl Default for StreamingConfig {
    fn default() -> Self {
        Self {
            window: 240,
            warmup: 30,
            open_z: 6.0,
            open_points: 3,
            close_z: 3.0,
            close_points: 10,
            max_incident_points: 360,
            refresh_every: 8,
            memory: 2_016,
            novelty: 1.2,
        }
    }
}

/// What one point did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// Too few points for a baseline yet.
    Warming,
    Normal {
        z: f64,
    },
    /// Deviating, but no incident (yet, or already open).
    Deviating {
        z: f64,
    },
    /// Alert now: this point opened an incident, or took a recurring one beyond any
    /// remembered (once per incident either way).
    Alert {
        z: f64,
    },
    /// This point opened an incident like one already remembered: no alert (yet).
    RecurrenceOpened {
        z: f64,
    },
    /// The incident is over (calm again, or a new normal was accepted).
    IncidentClosed,
}

/// The detector for one metric.
#[derive(Debug, Clone)]
pub struct StreamingDetector {
    config: StreamingConfig,
    recent: VecDeque<f64>,
    median: f64,
    scale: f64,
    since_refresh: usize,
    deviating_run: usize,
    calm_run: usize,
    incident_points: Option<usize>,
    /// Points seen during the current incident, the seed of a new baseline if it lasts.
    incident_tail: VecDeque<f64>,
    /// Points pushed so far: the clock of `remembered`.
    seen: usize,
    /// Strongest |z| of the current incident, per [`direction`].
    incident_peak: [f64; 2],
    /// The current incident has raised its alert.
    alerted: bool,
    /// Past incidents' peaks per [`direction`], within `memory`.
    remembered: [WindowMax; 2],
}

/// Upward deviations are remembered apart from downward ones: index 0 up, 1 down.
fn direction(z: f64) -> usize {
    usize::from(z < 0.0)
}

impl StreamingDetector {
    pub fn new(config: StreamingConfig) -> Self {
        Self {
            config,
            recent: VecDeque::with_capacity(config.window),
            median: 0.0,
            scale: 0.0,
            since_refresh: 0,
            deviating_run: 0,
            calm_run: 0,
            incident_points: None,
            incident_tail: VecDeque::new(),
            seen: 0,
            incident_peak: [0.0; 2],
            alerted: false,
            remembered: [WindowMax::new(config.memory), WindowMax::new(config.memory)],
        }
    }

    /// Whether an incident is open.
    pub fn in_incident(&self) -> bool {
        self.incident_points.is_some()
    }

    /// Scores `value` and updates the state.
    pub fn push(&mut self, value: f64) -> Step {
        if !value.is_finite() {
            return Step::Warming;
        }
        self.seen += 1;
        if self.recent.len() < self.config.warmup {
            self.accept(value);
            return Step::Warming;
        }
        let z = (value - self.median) / self.scale;
        let deviating = z.abs() >= self.config.open_z;
        match self.incident_points {
            None if deviating => {
                self.deviating_run += 1;
                if self.deviating_run >= self.config.open_points {
                    self.incident_points = Some(self.deviating_run);
                    self.calm_run = 0;
                    self.incident_tail.clear();
                    self.incident_tail.push_back(value);
                    self.incident_peak = [0.0; 2];
                    self.note_peak(z);
                    return if self.alert_if_novel(z) {
                        Step::Alert { z }
                    } else {
                        Step::RecurrenceOpened { z }
                    };
                }
                Step::Deviating { z }
            }
            None => {
                self.deviating_run = 0;
                self.accept(value);
                Step::Normal { z }
            }
            Some(points) => self.during_incident(value, z, points + 1),
        }
    }

    fn during_incident(&mut self, value: f64, z: f64, points: usize) -> Step {
        self.incident_points = Some(points);
        self.note_peak(z);
        self.incident_tail.push_back(value);
        if self.incident_tail.len() > self.config.window {
            self.incident_tail.pop_front();
        }
        self.calm_run = if z.abs() < self.config.close_z {
            self.calm_run + 1
        } else {
            0
        };
        if self.calm_run >= self.config.close_points {
            self.end_incident();
            return Step::IncidentClosed;
        }
        if points >= self.config.max_incident_points {
            // It has lasted long enough to be how the metric is now.
            self.recent = std::mem::take(&mut self.incident_tail);
            self.refresh();
            self.end_incident();
            return Step::IncidentClosed;
        }
        let deviating = z.abs() >= self.config.open_z;
        if deviating && !self.alerted && self.alert_if_novel(z) {
            // The usual burst grew into something the metric has not done lately.
            return Step::Alert { z };
        }
        if deviating {
            Step::Deviating { z }
        } else {
            Step::Normal { z }
        }
    }

    /// Marks the current incident alerted when `z` is stronger than every remembered
    /// incident in its direction; returns whether it did.
    fn alert_if_novel(&mut self, z: f64) -> bool {
        self.alerted = self.remembered[direction(z)]
            .max(self.seen)
            .is_none_or(|peak| z.abs() > self.config.novelty * peak);
        self.alerted
    }

    fn note_peak(&mut self, z: f64) {
        let peak = &mut self.incident_peak[direction(z)];
        *peak = peak.max(z.abs());
    }

    fn end_incident(&mut self) {
        let peaks = std::mem::take(&mut self.incident_peak);
        for (remembered, peak) in self.remembered.iter_mut().zip(peaks) {
            if peak >= self.config.open_z {
                remembered.push(self.seen, peak);
            }
        }
        self.incident_points = None;
        self.alerted = false;
        self.deviating_run = 0;
        self.calm_run = 0;
        self.incident_tail.clear();
    }

    fn accept(&mut self, value: f64) {
        if self.recent.len() == self.config.window {
            self.recent.pop_front();
        }
        self.recent.push_back(value);
        self.since_refresh += 1;
        if self.recent.len() <= self.config.warmup
            || self.since_refresh >= self.config.refresh_every
        {
            self.refresh();
        }
    }

    /// Median and robust scale of the remembered points. The scale never falls below 1% of
    /// the level, so a flat or quantized metric does not alert on its smallest step.
    fn refresh(&mut self) {
        self.since_refresh = 0;
        let mut values: Vec<f64> = self.recent.iter().copied().collect();
        if values.is_empty() {
            return;
        }
        values.sort_by(f64::total_cmp);
        self.median = sorted_median(&values);
        let mut deviations: Vec<f64> = values.iter().map(|v| (v - self.median).abs()).collect();
        deviations.sort_by(f64::total_cmp);
        let mad = sorted_median(&deviations);
        self.scale = (1.4826 * mad).max(0.01 * self.median.abs()).max(1e-9);
    }
}

/// The largest value pushed within the last `span` ticks, in constant amortised time (a
/// monotonic queue: a value is dropped once a larger, newer one arrives).
#[derive(Debug, Clone)]
struct WindowMax {
    span: usize,
    queue: VecDeque<(usize, f64)>,
}

impl WindowMax {
    fn new(span: usize) -> Self {
        Self {
            span,
            queue: VecDeque::new(),
        }
    }

    fn push(&mut self, tick: usize, value: f64) {
        while self.queue.back().is_some_and(|&(_, v)| v <= value) {
            self.queue.pop_back();
        }
        self.queue.push_back((tick, value));
    }

    fn max(&mut self, now: usize) -> Option<f64> {
        while self
            .queue
            .front()
            .is_some_and(|&(tick, _)| tick + self.span < now)
        {
            self.queue.pop_front();
        }
        self.queue.front().map(|&(_, v)| v)
    }
}

fn sorted_median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A noisy level around 100 (deterministic pseudo-noise of ±2).
    fn normal(i: usize) -> f64 {
        100.0 + 2.0 * ((i as f64 * 12.9898).sin() * 43_758.547).fract()
    }

    fn run(values: impl IntoIterator<Item = f64>) -> Vec<Step> {
        let mut detector = StreamingDetector::new(StreamingConfig::default());
        values.into_iter().map(|v| detector.push(v)).collect()
    }

    fn opened(steps: &[Step]) -> Vec<usize> {
        steps
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Step::Alert { .. }))
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn an_incident_of_many_points_opens_once_and_closes_when_calm() {
        let values = (0..600).map(|i| {
            if (300..340).contains(&i) {
                160.0 + normal(i)
            } else {
                normal(i)
            }
        });
        let steps = run(values);
        assert_eq!(opened(&steps), vec![302], "third deviating point in a row");
        let closed = steps
            .iter()
            .position(|s| *s == Step::IncidentClosed)
            .unwrap();
        assert!((340..360).contains(&closed), "closed at {closed}");
    }

    #[test]
    fn noise_and_single_spikes_never_open_an_incident() {
        let values = (0..2_000).map(|i| if i % 97 == 0 { 400.0 } else { normal(i) });
        assert!(opened(&run(values)).is_empty());
    }

    #[test]
    fn a_lasting_level_shift_becomes_the_new_normal_after_one_alert() {
        let values = (0..1_500).map(|i| {
            if i >= 300 {
                300.0 + normal(i)
            } else {
                normal(i)
            }
        });
        let steps = run(values);
        assert_eq!(opened(&steps).len(), 1, "one alert for the shift");
        assert!(
            matches!(steps[1_499], Step::Normal { .. }),
            "{:?}",
            steps[1_499]
        );
    }

    #[test]
    fn a_recurring_burst_alerts_the_first_time_and_a_stronger_one_alerts_again() {
        // A 40-point burst of +60 every 300 points, then one of +200.
        let values = (0..2_000).map(|i| {
            let burst = if i >= 1_800 { 200.0 } else { 60.0 };
            if i >= 150 && i % 300 < 40 {
                burst + normal(i)
            } else {
                normal(i)
            }
        });
        let steps = run(values);
        assert_eq!(
            opened(&steps),
            vec![302, 1_802],
            "the first burst and the stronger one"
        );
        let recurrences = steps
            .iter()
            .filter(|s| matches!(s, Step::RecurrenceOpened { .. }))
            .count();
        assert_eq!(recurrences, 4, "bursts 2 to 5 are tracked without an alert");
    }

    #[test]
    fn a_usual_burst_that_grows_beyond_any_remembered_alerts_once_when_it_does() {
        // Bursts of +60 every 300 points; the fourth climbs to +200 after 10 points.
        let values = (0..1_400).map(|i| {
            let in_burst = i >= 150 && i % 300 < 40;
            let grown = (910..940).contains(&i);
            normal(i)
                + if grown {
                    200.0
                } else if in_burst {
                    60.0
                } else {
                    0.0
                }
        });
        assert_eq!(opened(&run(values)), vec![302, 910]);
    }

    #[test]
    fn a_flat_metric_does_not_alert_on_its_smallest_step() {
        let values = (0..500).map(|i| if i % 50 == 0 { 100.5 } else { 100.0 });
        assert!(opened(&run(values)).is_empty());
    }
}
