//! Watches: the bot hunts by itself. Each stored watch is run by one replica at a time (a
//! lease `watch:<id>` in the store, renewed by a heartbeat, so a dead replica's watches move
//! within [`LEASE_MS`] plus a heartbeat). Running a watch: every series its query returns
//! (up to its cap) gets a live scorer, seeded silently from up to two weeks of Prometheus
//! history at the watch's step, then fed every step from `query_range` after the last
//! timestamp it scored — which the store keeps, so a restart neither skips nor repeats a
//! point. An opened incident is recorded as an alert row (`<watch id>/<series>`, its start),
//! which the alert desk investigates and posts as one thread; later news and the resolution
//! go to that same thread.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::sources::alertmanager::{Alert, ReceivedAlert};
use crate::sources::prometheus::{PromSeries, Prometheus, QueryRange};
use crate::sources::promql::series_name;
use crate::store::{ScoredSeries, Store, Watch};
use engine::series::timestamp::to_rfc3339;
use engine::stats::live_incident::{IncidentEvent, WatchedSeries};
use engine::stats::live_score::LiveScoreConfig;

/// A watch's step unless it names one (`every 1m`).
pub const DEFAULT_STEP_MS: i64 = 60_000;
/// Series scored per watch unless it says otherwise; the rest are named as left out.
pub const DEFAULT_SERIES_CAP: i64 = 500;
/// History a new scorer is seeded from.
const SEED_MS: i64 = 14 * 86_400_000;
/// A watch's lease: renewed every [`HEARTBEAT`], so another replica takes a dead one's
/// watches within 10 + 3 s.
const LEASE_MS: i64 = 10_000;
const HEARTBEAT: Duration = Duration::from_secs(3);
/// How often the runner looks for new, removed and due watches.
const TICK: Duration = Duration::from_millis(500);
/// Steps asked of Prometheus per request (it refuses more than 11,000), and samples (series
/// × steps: Prometheus refuses more than 50 million by default, and each costs memory twice
/// on the way in).
const CHUNK_STEPS: i64 = 10_000;
const CHUNK_SAMPLES: i64 = 1_000_000;

/// The store's name of a watch's lease.
pub fn lease_name(watch_id: &str) -> String {
    format!("watch:{watch_id}")
}

/// Runs the watches this replica holds.
pub struct WatchRunner {
    store: Arc<Store>,
    prometheus: Prometheus,
    /// Tells whoever posts the alert rows that there is one to post.
    wake_poster: Box<dyn Fn() + Send + Sync>,
    holder: String,
    /// Watches whose lease this replica holds, renewed by the heartbeat.
    held: Arc<Mutex<BTreeSet<String>>>,
}

/// A watch this replica runs.
pub struct RunningWatch {
    watch: Watch,
    series: HashMap<String, SeriesState>,
    /// Fed up to here (ms); `None` before the first round.
    fed_to: Option<i64>,
    left_out: usize,
}

/// One series of a running watch.
struct SeriesState {
    watched: WatchedSeries,
    labels: BTreeMap<String, String>,
    /// Points up to here are history (the seed, or what was scored before a restart): they
    /// teach the scorer and post nothing.
    silent_until: i64,
    reconciled: bool,
    /// The alert row of the incident open now, if it was posted (not snoozed).
    posted_since: Option<i64>,
    /// Since the last record: the first live point, the last point, live points, incidents.
    first_live: Option<i64>,
    fresh_points: i64,
    fresh_incidents: i64,
}

impl WatchRunner {
    /// `wake_poster` is called after an incident's news is recorded (the alert desk's wake).
    pub fn new(
        store: Arc<Store>,
        prometheus: Prometheus,
        wake_poster: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        Self {
            store,
            prometheus,
            wake_poster: Box::new(wake_poster),
            holder: format!(
                "watches pid {} ({})",
                std::process::id(),
                uuid::Uuid::new_v4()
            ),
            held: Arc::default(),
        }
    }

    /// Runs until `stop` turns true, then gives its leases back.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let heartbeat = tokio::spawn(heartbeat(
            self.store.clone(),
            self.holder.clone(),
            self.held.clone(),
        ));
        let mut running: HashMap<String, RunningWatch> = HashMap::new();
        loop {
            self.claim(&mut running).await;
            for run in running.values_mut() {
                let now = chrono::Utc::now().timestamp_millis();
                if run.is_due(now) {
                    self.round(run, now).await;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = stop.changed() => break,
            }
        }
        heartbeat.abort();
        for id in running.keys() {
            if let Err(e) = self
                .store
                .release_lease(&lease_name(id), &self.holder)
                .await
            {
                tracing::warn!(error = %e, watch = %id, "cannot give a watch's lease back; it expires by itself");
            }
        }
    }

    /// Takes the lease of every watch nobody holds; drops watches removed or lost.
    async fn claim(&self, running: &mut HashMap<String, RunningWatch>) {
        let watches = match self.store.watches(None).await {
            Ok(watches) => watches,
            Err(e) => return tracing::error!(error = %e, "cannot read the watches"),
        };
        let held = self.held.lock().map(|h| h.clone()).unwrap_or_default();
        running.retain(|id, _| held.contains(id) && watches.iter().any(|w| &w.id == id));
        for watch in watches {
            if let Some(run) = running.get_mut(&watch.id) {
                run.watch = watch;
                continue;
            }
            match self
                .store
                .acquire_lease(&lease_name(&watch.id), &self.holder, LEASE_MS)
                .await
            {
                Ok(true) => {
                    tracing::info!(watch = %watch.id, query = %watch.query, "running a watch");
                    if let Ok(mut held) = self.held.lock() {
                        held.insert(watch.id.clone());
                    }
                    running.insert(watch.id.clone(), RunningWatch::new(watch));
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, watch = %watch.id, "cannot claim a watch"),
            }
        }
    }

    /// Feeds a watch its steps up to `now_ms`, records what happened, and says how it went.
    pub async fn round(&self, run: &mut RunningWatch, now_ms: i64) {
        let outcome = self.feed(run, now_ms).await;
        let (state, detail) = match &outcome {
            Ok(()) if run.series.is_empty() => ("failing", Some("the query returns no series")),
            Ok(()) => ("healthy", None),
            Err(e) => ("failing", Some(e.as_str())),
        };
        if let Err(e) = &outcome {
            tracing::warn!(watch = %run.watch.id, error = %e, "a watch's round failed; it is tried again next step");
        }
        let checked = self
            .store
            .watch_checked(&run.watch.id, state, detail, run.series.len(), run.left_out)
            .await;
        if let Err(e) = checked {
            tracing::warn!(error = %e, watch = %run.watch.id, "cannot record a watch's state");
        }
    }

    async fn feed(&self, run: &mut RunningWatch, now_ms: i64) -> Result<(), String> {
        let step = run.watch.step_ms.max(1_000);
        let end = newest_step(now_ms, step);
        let first = run.fed_to.is_none();
        if first {
            self.load(run).await?;
        }
        self.apply_feedback(run).await?;
        // A series first seen on the first round is history up to its end; one that appears
        // later is live from its first point.
        let new_series_silent_until = if first { end } else { i64::MIN };
        let from = run.fed_to.map_or(end - SEED_MS, |fed| fed + step);
        let steps_per_chunk = match run.series.len() as i64 {
            0 if first => self.steps_per_chunk(&run.watch.query, end, step).await?,
            count => (CHUNK_SAMPLES / count.max(1)).clamp(1, CHUNK_STEPS),
        };
        let mut start = from;
        while start <= end {
            let chunk_end = (start + (steps_per_chunk - 1) * step).min(end);
            let range = QueryRange {
                start_ms: start,
                end_ms: chunk_end,
                step_ms: step,
            };
            let answer = self
                .prometheus
                .query_range(&run.watch.query, range)
                .await
                .map_err(|e| e.to_string())?;
            for prom in answer {
                self.take(run, prom, new_series_silent_until).await?;
            }
            start = chunk_end + step;
        }
        run.fed_to = Some(end);
        for (key, state) in &mut run.series {
            if !state.reconciled && state.watched.last_at().is_some() {
                self.reconcile(&run.watch, key, state).await?;
            }
        }
        self.record(run).await
    }

    /// Steps per request that keep the samples of `query`'s series (as many as it returns at
    /// `end`) within [`CHUNK_SAMPLES`].
    async fn steps_per_chunk(&self, query: &str, end: i64, step: i64) -> Result<i64, String> {
        let range = QueryRange {
            start_ms: end,
            end_ms: end,
            step_ms: step,
        };
        let now = self
            .prometheus
            .query_range(query, range)
            .await
            .map_err(|e| e.to_string())?;
        Ok((CHUNK_SAMPLES / now.len().max(1) as i64).clamp(1, CHUNK_STEPS))
    }

    /// On the first round: the series the store remembers, with where each got to.
    async fn load(&self, run: &mut RunningWatch) -> Result<(), String> {
        let stored = self
            .store
            .scored_series(&run.watch.id)
            .await
            .map_err(|e| e.to_string())?;
        for scored in stored {
            let state = SeriesState::new(run.watch.step_ms, scored.last_scored_at);
            run.series.insert(scored.series, state);
        }
        Ok(())
    }

    /// Each round: the departures people said were not incidents (a false positive in a
    /// thread), so the next alert of that size on that series stays quiet.
    async fn apply_feedback(&self, run: &mut RunningWatch) -> Result<(), String> {
        let tolerated = self
            .store
            .tolerated_departures(&run.watch.id)
            .await
            .map_err(|e| e.to_string())?;
        for (series, departure) in tolerated {
            if let Some(state) = run.series.get_mut(&series) {
                state.watched.tolerate(departure);
            }
        }
        Ok(())
    }

    /// Feeds one series' samples of a chunk; a series past the cap is counted as left out.
    async fn take(
        &self,
        run: &mut RunningWatch,
        prom: PromSeries,
        new_series_silent_until: i64,
    ) -> Result<(), String> {
        let key = series_name(&run.watch.query, &prom.labels);
        let cap = usize::try_from(run.watch.series_cap).unwrap_or(usize::MAX);
        if !run.series.contains_key(&key) {
            if run.series.len() >= cap {
                run.left_out = run.left_out.max(1 + run.series.len() - cap);
                return Ok(());
            }
            let state = SeriesState::new(run.watch.step_ms, new_series_silent_until);
            run.series.insert(key.clone(), state);
        }
        let Some(state) = run.series.get_mut(&key) else {
            return Ok(());
        };
        if state.labels.is_empty() {
            state.labels = prom.labels;
        }
        for (at, value) in prom.samples {
            if state.watched.last_at().is_some_and(|last| at <= last) {
                continue;
            }
            let live = at > state.silent_until;
            if live && !state.reconciled {
                self.reconcile(&run.watch, &key, state).await?;
            }
            let event = state.watched.push(at, value);
            if !live {
                continue;
            }
            state.first_live.get_or_insert(at);
            state.fresh_points += 1;
            if let Some(event) = event {
                self.on_event(&run.watch, &key, state, event).await?;
            }
        }
        Ok(())
    }

    /// After the history: the incident the store has firing for this series is the open one
    /// (continued, never posted twice); one that opened only in the replay is dropped.
    async fn reconcile(
        &self,
        watch: &Watch,
        key: &str,
        state: &mut SeriesState,
    ) -> Result<(), String> {
        let firing = self
            .store
            .firing_since(&fingerprint(&watch.id, key))
            .await
            .map_err(|e| e.to_string())?;
        match firing {
            Some(since) => state.watched.adopt(since),
            None => state.watched.forget_open(),
        }
        state.posted_since = firing;
        state.reconciled = true;
        Ok(())
    }

    async fn on_event(
        &self,
        watch: &Watch,
        key: &str,
        state: &mut SeriesState,
        event: IncidentEvent,
    ) -> Result<(), String> {
        let fingerprint = fingerprint(&watch.id, key);
        let store_error = |e: crate::store::StoreError| e.to_string();
        match event {
            IncidentEvent::Opened {
                at,
                value,
                before,
                departure,
                ..
            } => {
                state.fresh_incidents += 1;
                let snoozed = watch.snoozed_until.is_some_and(|until| until > at);
                if snoozed {
                    tracing::info!(watch = %watch.id, series = key, "incident on a snoozed watch; not posted");
                    return Ok(());
                }
                let news = AlertNews::Opened {
                    value,
                    before,
                    departure,
                };
                let alert = incident_alert(watch, key, &state.labels, at, news);
                self.store
                    .record_alerts(&[alert])
                    .await
                    .map_err(store_error)?;
                state.posted_since = Some(at);
                tracing::info!(watch = %watch.id, series = key, "watch incident opened");
            }
            IncidentEvent::Worse { at, value, before } => {
                if let Some(since) = state.posted_since {
                    let text = format!(
                        "📈 *Further:* `{key}` at {} at {} (it was {} before).",
                        figure(value),
                        to_rfc3339(at),
                        figure(before)
                    );
                    self.store
                        .add_alert_update(&fingerprint, since, at, &text)
                        .await
                        .map_err(store_error)?;
                }
            }
            IncidentEvent::Resolved { at, .. } => {
                if let Some(since) = state.posted_since.take() {
                    let news = AlertNews::Resolved { at };
                    let alert = incident_alert(watch, key, &state.labels, since, news);
                    self.store
                        .record_alerts(&[alert])
                        .await
                        .map_err(store_error)?;
                    tracing::info!(watch = %watch.id, series = key, "watch incident resolved");
                }
            }
        }
        (self.wake_poster)();
        Ok(())
    }

    /// Where each series got to, and what it added.
    async fn record(&self, run: &mut RunningWatch) -> Result<(), String> {
        let step = run.watch.step_ms;
        let scored: Vec<ScoredSeries> = run
            .series
            .iter_mut()
            .filter_map(|(key, state)| {
                let last = state.watched.last_at()?;
                let fresh = ScoredSeries {
                    series: key.clone(),
                    // Before its first live point: the step after the history.
                    first_scored_at: state.first_live.unwrap_or(last + step),
                    last_scored_at: last,
                    points_scored: std::mem::take(&mut state.fresh_points),
                    incidents: std::mem::take(&mut state.fresh_incidents),
                };
                Some(fresh)
            })
            .collect();
        self.store
            .record_scored(&run.watch.id, &scored)
            .await
            .map_err(|e| e.to_string())
    }
}

impl RunningWatch {
    pub fn new(watch: Watch) -> Self {
        Self {
            watch,
            series: HashMap::new(),
            fed_to: None,
            left_out: 0,
        }
    }

    /// A step past the last one fed has had time to fill.
    pub fn is_due(&self, now_ms: i64) -> bool {
        let step = self.watch.step_ms.max(1_000);
        self.fed_to
            .is_none_or(|fed| newest_step(now_ms, step) > fed)
    }

    /// Series scored, and heap bytes their scorers hold.
    pub fn footprint(&self) -> (usize, usize) {
        let bytes = self.series.values().map(|s| s.watched.heap_bytes()).sum();
        (self.series.len(), bytes)
    }
}

/// The newest whole step a scrape has had time to fill (a step back, at most 15 s).
fn newest_step(now_ms: i64, step: i64) -> i64 {
    (now_ms - step.min(15_000)).div_euclid(step) * step
}

impl SeriesState {
    fn new(step_ms: i64, silent_until: i64) -> Self {
        Self {
            watched: WatchedSeries::new(LiveScoreConfig::for_watch(step_ms)),
            labels: BTreeMap::new(),
            silent_until,
            reconciled: false,
            posted_since: None,
            first_live: None,
            fresh_points: 0,
            fresh_incidents: 0,
        }
    }
}

/// Renews the leases this replica holds; one it could not renew is dropped (another replica
/// took it, or the store is away for longer than a lease).
async fn heartbeat(store: Arc<Store>, holder: String, held: Arc<Mutex<BTreeSet<String>>>) {
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        let ids = held.lock().map(|h| h.clone()).unwrap_or_default();
        for id in ids {
            match store
                .acquire_lease(&lease_name(&id), &holder, LEASE_MS)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(watch = %id, "lost a watch's lease to another replica");
                    if let Ok(mut held) = held.lock() {
                        held.remove(&id);
                    }
                }
                Err(e) => tracing::warn!(error = %e, watch = %id, "cannot renew a watch's lease"),
            }
        }
    }
}

/// The alert row of a watch's incident on one series.
pub fn fingerprint(watch_id: &str, series: &str) -> String {
    format!("{watch_id}/{series}")
}

/// The watch of an incident's alert row, read back from its [`fingerprint`].
pub fn watch_of_fingerprint(fingerprint: &str) -> Option<&str> {
    fingerprint.split_once('/').map(|(watch_id, _)| watch_id)
}

/// Annotation of a watch's alert: the series (the thread's feedback tolerates on it).
pub const SERIES_ANNOTATION: &str = "anomaly_hunter_watch";
/// Annotation of a watch's alert: how far the series departed when the incident opened, in
/// its robust scales.
pub const DEPARTURE_ANNOTATION: &str = "anomaly_hunter_departure";

/// What an incident's alert row says: how it opened, or when it ended.
enum AlertNews {
    Opened {
        value: f64,
        before: f64,
        departure: f64,
    },
    Resolved {
        at: i64,
    },
}

/// A watch's incident as an alert: firing from `starts_at`, or resolved; its thread goes to
/// the watch's channel (else the alert channels) and investigates the series.
fn incident_alert(
    watch: &Watch,
    key: &str,
    labels: &BTreeMap<String, String>,
    starts_at: i64,
    news: AlertNews,
) -> ReceivedAlert {
    let mut alert_labels: BTreeMap<String, String> = labels
        .iter()
        .filter(|(name, _)| name.as_str() != "__name__")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    alert_labels.insert("alertname".into(), format!("watch {}", watch.id));
    let mut annotations = BTreeMap::new();
    // A named series is investigated by itself; an expression's series with the others.
    let query = if labels.contains_key("__name__") {
        key.to_string()
    } else {
        watch.query.clone()
    };
    annotations.insert("anomaly_hunter_query".into(), query);
    annotations.insert(SERIES_ANNOTATION.into(), key.to_string());
    let ends_at = match news {
        AlertNews::Opened {
            value,
            before,
            departure,
        } => {
            annotations.insert(
                "summary".into(),
                format!("`{key}` at {}, it was {}", figure(value), figure(before)),
            );
            annotations.insert(DEPARTURE_ANNOTATION.into(), format!("{departure}"));
            None
        }
        AlertNews::Resolved { at } => Some(at),
    };
    match (watch.platform.as_deref(), &watch.channel) {
        (Some("slack"), Some(channel)) => {
            alert_labels.insert("slack_channel".into(), channel.clone());
        }
        (Some("discord"), Some(channel)) => {
            alert_labels.insert("discord_channel".into(), channel.clone());
        }
        _ => {}
    }
    let alert = Alert {
        status: if ends_at.is_some() {
            "resolved"
        } else {
            "firing"
        }
        .to_string(),
        labels: alert_labels,
        annotations,
        starts_at: to_rfc3339(starts_at),
        ends_at: ends_at.map(to_rfc3339).unwrap_or_default(),
        generator_url: String::new(),
        fingerprint: fingerprint(&watch.id, key),
    };
    ReceivedAlert {
        fingerprint: fingerprint(&watch.id, key),
        starts_at,
        alertname: format!("watch {}", watch.id),
        resolved: ends_at.is_some(),
        ends_at,
        alert,
    }
}

/// A value as people read it: 4 significant digits.
fn figure(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let digits = (3 - value.abs().log10().floor() as i32).max(0) as usize;
    format!("{value:.digits$}")
}
