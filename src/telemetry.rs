//! Self-monitoring: counters the bot keeps about itself, served as Prometheus text on
//! `GET /metrics`. Process-wide and lock-light, so any part of the bot can record without
//! carrying a handle around.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

/// Upper bounds (seconds) of the investigation duration histogram.
const DURATION_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0];

/// How an investigation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Anomalous,
    Normal,
    Failed,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Anomalous => "anomalous",
            Self::Normal => "normal",
            Self::Failed => "failed",
        }
    }
}

#[derive(Default)]
struct Telemetry {
    investigations: Mutex<BTreeMap<Outcome, u64>>,
    /// Cumulative counts per bucket of `DURATION_BUCKETS`, then +Inf.
    duration_buckets: [AtomicU64; DURATION_BUCKETS.len() + 1],
    duration_sum_micros: AtomicU64,
    chat_commands: Mutex<BTreeMap<(String, String), u64>>,
    errors: Mutex<BTreeMap<String, u64>>,
    alert_notifications: Mutex<BTreeMap<String, u64>>,
    panics: AtomicU64,
    /// Investigations running and waiting for a slot (see `chat::work`).
    running: AtomicU64,
    queued: AtomicU64,
    /// Commands refused: `busy` (queue full), `user_rate`, `channel_rate`.
    refused: Mutex<BTreeMap<String, u64>>,
    events_published: AtomicU64,
    events_failed: AtomicU64,
    /// 1 while this process holds the event relay's lease.
    relay_lease_held: AtomicU64,
    /// The metrics stream: points scored, incidents opened, incidents investigated.
    stream_points: AtomicU64,
    stream_incidents: AtomicU64,
    stream_incidents_handled: AtomicU64,
}

/// The outbox as the store sees it, for `/metrics` and `/healthz`.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct OutboxState {
    /// Events not yet published.
    pub backlog: i64,
    /// Age of the oldest of them, in seconds (0 when none).
    pub oldest_pending_seconds: f64,
}

static TELEMETRY: LazyLock<Telemetry> = LazyLock::new(Telemetry::default);

/// Counts a finished (or failed) investigation and how long it took.
pub fn investigation(outcome: Outcome, elapsed: Duration) {
    let t = &*TELEMETRY;
    bump(&t.investigations, outcome);
    let seconds = elapsed.as_secs_f64();
    for (bucket, bound) in t.duration_buckets.iter().zip(DURATION_BUCKETS) {
        if seconds <= bound {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
    }
    t.duration_buckets[DURATION_BUCKETS.len()].fetch_add(1, Ordering::Relaxed);
    t.duration_sum_micros
        .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
}

/// Counts a chat command (`check`, `stats`, `history`, `help`, `thread_reply`, `button`…).
pub fn chat_command(platform: &str, command: &str) {
    bump(
        &TELEMETRY.chat_commands,
        (platform.to_string(), command.to_string()),
    );
}

/// Counts an Alertmanager notification by what became of it (`recorded`, `refused`, `failed`).
pub fn alert_notification(result: &str) {
    bump(&TELEMETRY.alert_notifications, result.to_string());
}

/// Counts work refused, by reason (`busy`, `user_rate`, `channel_rate`).
pub fn refused(reason: &str) {
    bump(&TELEMETRY.refused, reason.to_string());
}

/// Sets the number of investigations running and waiting.
pub fn work_queue(running: usize, queued: usize) {
    TELEMETRY.running.store(running as u64, Ordering::Relaxed);
    TELEMETRY.queued.store(queued as u64, Ordering::Relaxed);
}

/// Counts verdict events the relay published, or failed to publish.
pub fn events_published(n: u64) {
    TELEMETRY.events_published.fetch_add(n, Ordering::Relaxed);
}

pub fn event_failed() {
    TELEMETRY.events_failed.fetch_add(1, Ordering::Relaxed);
}

/// Whether this process holds the relay lease now.
pub fn relay_lease(held: bool) {
    TELEMETRY
        .relay_lease_held
        .store(u64::from(held), Ordering::Relaxed);
}

/// Counts points the metrics stream stored and scored, and the incidents they opened.
pub fn stream_points(points: usize, incidents: usize) {
    let t = &*TELEMETRY;
    t.stream_points.fetch_add(points as u64, Ordering::Relaxed);
    t.stream_incidents
        .fetch_add(incidents as u64, Ordering::Relaxed);
}

/// Counts a stream incident investigated (and posted, when anomalous).
pub fn stream_incident_handled() {
    TELEMETRY
        .stream_incidents_handled
        .fetch_add(1, Ordering::Relaxed);
}

pub fn relay_lease_held() -> bool {
    TELEMETRY.relay_lease_held.load(Ordering::Relaxed) == 1
}

/// Counts every panic (a bug: no input should reach one), then runs the hook installed before
/// (sentry's, which reports it, and the default, which prints it). Call after Sentry's init.
pub fn count_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        TELEMETRY.panics.fetch_add(1, Ordering::Relaxed);
        previous(info);
    }));
}

/// Counts an error logged by `component` (the module that logged it).
pub fn error(component: &str) {
    bump(&TELEMETRY.errors, component.to_string());
}

fn bump<K: Ord>(counters: &Mutex<BTreeMap<K, u64>>, key: K) {
    let mut counters = counters
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    *counters.entry(key).or_default() += 1;
}

/// The Prometheus text exposition; the outbox is read from the store by the caller (`None`
/// when events are off).
pub fn render(outbox: Option<OutboxState>) -> String {
    let t = &*TELEMETRY;
    let mut out = String::new();
    header(
        &mut out,
        "investigations_total",
        "counter",
        "Investigations by result.",
    );
    let investigations = t.investigations.lock().unwrap_or_else(|p| p.into_inner());
    for outcome in [Outcome::Anomalous, Outcome::Normal, Outcome::Failed] {
        let n = investigations.get(&outcome).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "anomaly_hunter_investigations_total{{result=\"{}\"}} {n}",
            outcome.label()
        );
    }
    drop(investigations);
    header(
        &mut out,
        "investigation_duration_seconds",
        "histogram",
        "Time to investigate, store and recall similar incidents.",
    );
    for (bucket, bound) in t.duration_buckets.iter().zip(DURATION_BUCKETS) {
        let _ = writeln!(
            out,
            "anomaly_hunter_investigation_duration_seconds_bucket{{le=\"{bound}\"}} {}",
            bucket.load(Ordering::Relaxed)
        );
    }
    let count = t.duration_buckets[DURATION_BUCKETS.len()].load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "anomaly_hunter_investigation_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
    );
    let sum = t.duration_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
    let _ = writeln!(
        out,
        "anomaly_hunter_investigation_duration_seconds_sum {sum}"
    );
    let _ = writeln!(
        out,
        "anomaly_hunter_investigation_duration_seconds_count {count}"
    );
    if let Some(outbox) = outbox {
        let gauges = [
            (
                "event_backlog",
                "gauge",
                "Verdict events waiting in the outbox for the broker.",
                outbox.backlog as f64,
            ),
            (
                "event_oldest_pending_seconds",
                "gauge",
                "Age of the oldest verdict event not yet published.",
                outbox.oldest_pending_seconds,
            ),
            (
                "events_published_total",
                "counter",
                "Verdict events this process published.",
                t.events_published.load(Ordering::Relaxed) as f64,
            ),
            (
                "event_publish_failures_total",
                "counter",
                "Publish attempts that failed (retried later).",
                t.events_failed.load(Ordering::Relaxed) as f64,
            ),
            (
                "relay_lease_held",
                "gauge",
                "1 while this process holds the event relay's lease.",
                t.relay_lease_held.load(Ordering::Relaxed) as f64,
            ),
        ];
        for (name, kind, help, value) in gauges {
            header(&mut out, name, kind, help);
            let _ = writeln!(out, "anomaly_hunter_{name} {value}");
        }
    }
    for (name, help, value) in [
        (
            "investigations_running",
            "Investigations running now.",
            &t.running,
        ),
        (
            "investigations_queued",
            "Investigations waiting for a free slot.",
            &t.queued,
        ),
    ] {
        header(&mut out, name, "gauge", help);
        let _ = writeln!(
            out,
            "anomaly_hunter_{name} {}",
            value.load(Ordering::Relaxed)
        );
    }
    for (name, help, value) in [
        (
            "stream_points_total",
            "Metric points the stream stored and scored.",
            &t.stream_points,
        ),
        (
            "stream_incidents_total",
            "Incidents the live score opened.",
            &t.stream_incidents,
        ),
        (
            "stream_incidents_handled_total",
            "Stream incidents investigated (and posted when anomalous).",
            &t.stream_incidents_handled,
        ),
    ] {
        header(&mut out, name, "counter", help);
        let _ = writeln!(
            out,
            "anomaly_hunter_{name} {}",
            value.load(Ordering::Relaxed)
        );
    }
    header(
        &mut out,
        "panics_total",
        "counter",
        "Panics (bugs); each also goes to Sentry.",
    );
    let _ = writeln!(
        out,
        "anomaly_hunter_panics_total {}",
        t.panics.load(Ordering::Relaxed)
    );
    header(
        &mut out,
        "commands_refused_total",
        "counter",
        "Commands refused: busy, or over a rate limit.",
    );
    for (reason, n) in t.refused.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        let _ = writeln!(
            out,
            "anomaly_hunter_commands_refused_total{{reason=\"{reason}\"}} {n}"
        );
    }
    header(
        &mut out,
        "alertmanager_notifications_total",
        "counter",
        "Alertmanager webhook notifications by result.",
    );
    let notifications = t
        .alert_notifications
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    for (result, n) in notifications.iter() {
        let _ = writeln!(
            out,
            "anomaly_hunter_alertmanager_notifications_total{{result=\"{result}\"}} {n}"
        );
    }
    drop(notifications);
    header(
        &mut out,
        "chat_commands_total",
        "counter",
        "Chat commands by platform and command.",
    );
    for ((platform, command), n) in t
        .chat_commands
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
    {
        let _ = writeln!(
            out,
            "anomaly_hunter_chat_commands_total{{platform=\"{}\",command=\"{}\"}} {n}",
            escape(platform),
            escape(command)
        );
    }
    header(
        &mut out,
        "errors_total",
        "counter",
        "Errors logged, by component.",
    );
    for (component, n) in t.errors.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        let _ = writeln!(
            out,
            "anomaly_hunter_errors_total{{component=\"{}\"}} {n}",
            escape(component)
        );
    }
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(
        out,
        "# HELP anomaly_hunter_{name} {help}\n# TYPE anomaly_hunter_{name} {kind}"
    );
}

/// Label values may not hold raw quotes, backslashes or newlines.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A `tracing` layer that counts every ERROR event by its module, whatever the log filter.
pub struct ErrorCounter;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ErrorCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if *event.metadata().level() == tracing::Level::ERROR {
            error(event.metadata().target());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_labels_are_escaped() {
        investigation(Outcome::Normal, Duration::from_micros(2_000));
        investigation(Outcome::Anomalous, Duration::from_secs(2));
        chat_command("slack", "check \"x\"");
        let text = render(Some(OutboxState {
            backlog: 4,
            oldest_pending_seconds: 1.5,
        }));
        let bucket = |le: &str| {
            text.lines()
                .find(|l| {
                    l.starts_with(&format!(
                        "anomaly_hunter_investigation_duration_seconds_bucket{{le=\"{le}\"}}"
                    ))
                })
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap()
        };
        assert!(bucket("0.0025") >= 1);
        assert!(bucket("5") > bucket("0.0025"), "{text}");
        assert!(bucket("+Inf") >= 2);
        assert!(text.contains("anomaly_hunter_event_backlog 4"));
        assert!(text.contains(r#"command="check \"x\"""#), "{text}");
        assert!(text.contains("anomaly_hunter_event_oldest_pending_seconds 1.5"));
    }

    #[test]
    fn panics_are_counted() {
        count_panics();
        let before = TELEMETRY.panics.load(Ordering::Relaxed);
        let _ = std::panic::catch_unwind(|| panic!("a bug"));
        assert_eq!(TELEMETRY.panics.load(Ordering::Relaxed), before + 1);
        assert!(render(None).contains("anomaly_hunter_panics_total "));
    }
}
