//! A watched series' incidents, from its live score one point at a time: opened by the live
//! alert, told again when the series goes clearly further than it was last told, and resolved
//! once it is back where it was (or the score finds it unremarkable) for a few points. What
//! a watch posts in one incident's thread comes from here; the watch itself does the I/O.

use super::live_score::{LiveScoreConfig, LiveScorer};

/// Consecutive calm points that close an incident: enough that one ordinary point inside a
/// burst does not resolve it.
pub const CALM_POINTS: usize = 5;

/// Within this many of its earlier robust scales the series is back where it was.
const BACK_TO_LEVEL_SCALES: f64 = 3.0;

/// A departure must grow by this factor over the last one told before it is told again, so a
/// thread gets a few updates, not one per point.
const WORSE_FACTOR: f64 = 1.5;

/// What happened to a watched series at one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IncidentEvent {
    /// The live alert: a new incident.
    Opened {
        at: i64,
        value: f64,
        /// Where the series was before: its recent median.
        before: f64,
        score: f64,
        /// How far `value` is from `before`, in the series' robust scales: the size feedback
        /// may later tolerate ([`WatchedSeries::tolerate`]).
        departure: f64,
    },
    /// The open incident went further from where the series was.
    Worse { at: i64, value: f64, before: f64 },
    /// The series was back to normal from `at` (the first of the calm points).
    Resolved { opened_at: i64, at: i64 },
}

/// An incident that is open.
#[derive(Debug, Clone, Copy)]
struct Open {
    opened_at: i64,
    before: f64,
    scale: f64,
    /// Largest departure told so far, in scales.
    told: f64,
    calm_since: Option<i64>,
    calm: usize,
}

/// One series under watch: its live scorer and its open incident, if any.
#[derive(Debug, Clone)]
pub struct WatchedSeries {
    scorer: LiveScorer,
    open: Option<Open>,
    /// Departures (in scales) this series is known to make without it being an incident:
    /// feedback said so. An alert no further than this opens nothing.
    tolerated: f64,
    last_at: Option<i64>,
}

impl WatchedSeries {
    pub fn new(config: LiveScoreConfig) -> Self {
        Self {
            scorer: LiveScorer::new(config),
            open: None,
            tolerated: 0.0,
            last_at: None,
        }
    }

    /// Scores the point (one later than the last) and says what it did to the incident.
    pub fn push(&mut self, at: i64, value: f64) -> Option<IncidentEvent> {
        if self.last_at.is_some_and(|last| at <= last) {
            return None;
        }
        self.last_at = Some(at);
        let (before, scale) = self.scorer.level();
        let scored = self.scorer.push(at, value);
        if !value.is_finite() {
            return None;
        }
        if scored.alert && self.open.is_none() {
            let departure = (value - before).abs() / scale;
            if departure <= self.tolerated {
                return None;
            }
            self.open = Some(Open {
                opened_at: at,
                before,
                scale,
                told: departure,
                calm_since: None,
                calm: 0,
            });
            return Some(IncidentEvent::Opened {
                at,
                value,
                before,
                score: scored.score,
                departure,
            });
        }
        let open = self.open.as_mut()?;
        let departure = (value - open.before).abs() / open.scale;
        let calm = departure <= BACK_TO_LEVEL_SCALES || scored.unusual < 0.5;
        if !calm {
            open.calm = 0;
            open.calm_since = None;
            if departure >= open.told * WORSE_FACTOR {
                open.told = departure;
                return Some(IncidentEvent::Worse {
                    at,
                    value,
                    before: open.before,
                });
            }
            return None;
        }
        open.calm += 1;
        let since = *open.calm_since.get_or_insert(at);
        if open.calm < CALM_POINTS {
            return None;
        }
        let opened_at = open.opened_at;
        self.open = None;
        Some(IncidentEvent::Resolved {
            opened_at,
            at: since,
        })
    }

    /// When the open incident opened.
    pub fn open_since(&self) -> Option<i64> {
        self.open.map(|open| open.opened_at)
    }

    /// The timestamp of the last point scored.
    pub fn last_at(&self) -> Option<i64> {
        self.last_at
    }

    /// Takes over an incident recorded as open elsewhere (before a restart, by another
    /// replica): its later points continue it, and it resolves here.
    pub fn adopt(&mut self, opened_at: i64) {
        let (before, scale) = self.scorer.level();
        let open = self.open.get_or_insert(Open {
            opened_at,
            before,
            scale,
            told: f64::INFINITY,
            calm_since: None,
            calm: 0,
        });
        open.opened_at = opened_at;
    }

    /// Drops an open incident nobody was told about (one that opened while seeding).
    pub fn forget_open(&mut self) {
        self.open = None;
    }

    /// Feedback: an incident of this departure (in the scales of where the series was) was not
    /// one, so alerts no further than a little beyond it open nothing from now on.
    pub fn tolerate(&mut self, departure: f64) {
        self.tolerated = self.tolerated.max(departure * 1.2);
    }

    /// How far `value` is from where the series was, in its robust scales.
    pub fn departure(&self, value: f64) -> f64 {
        let (before, scale) = self.scorer.level();
        (value - before).abs() / scale
    }

    pub fn heap_bytes(&self) -> usize {
        self.scorer.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Noise of ±1 around 100, a minute apart, with `incident` added from point 600.
    fn events(incident: &[f64]) -> Vec<IncidentEvent> {
        let mut series = WatchedSeries::new(LiveScoreConfig::default());
        (0..900)
            .filter_map(|i| {
                let noise = ((i as f64 * 12.9898).sin() * 43_758.547).fract();
                let extra = (i as usize)
                    .checked_sub(600)
                    .and_then(|k| incident.get(k))
                    .unwrap_or(&0.0);
                series.push(i * 60_000, 100.0 + noise + extra)
            })
            .collect()
    }

    #[test]
    fn an_incident_opens_once_worsens_and_resolves_when_the_series_is_back() {
        let mut incident = vec![10.0; 10];
        incident.extend([40.0; 10]);
        let events = events(&incident);
        assert!(
            matches!(events[0], IncidentEvent::Opened { at, .. } if (600..603).contains(&(at / 60_000))),
            "{events:?}"
        );
        assert!(
            events[1..events.len() - 1]
                .iter()
                .all(|e| matches!(e, IncidentEvent::Worse { .. })),
            "{events:?}"
        );
        assert!(events.len() >= 3, "{events:?}");
        assert_eq!(
            events.last(),
            Some(&IncidentEvent::Resolved {
                opened_at: match events[0] {
                    IncidentEvent::Opened { at, .. } => at,
                    _ => unreachable!(),
                },
                at: 620 * 60_000
            }),
            "{events:?}"
        );
    }

    #[test]
    fn tolerated_departures_open_nothing() {
        let mut series = WatchedSeries::new(LiveScoreConfig::default());
        let mut opened = 0;
        for i in 0..900_i64 {
            let noise = ((i as f64 * 12.9898).sin() * 43_758.547).fract();
            let burst = if (600..605).contains(&i) { 10.0 } else { 0.0 };
            if i == 500 {
                series.tolerate(series.departure(110.5));
            }
            opened += usize::from(matches!(
                series.push(i * 60_000, 100.0 + noise + burst),
                Some(IncidentEvent::Opened { .. })
            ));
        }
        assert_eq!(opened, 0);
    }
}
