//! Self-monitoring: what the bot counts about itself, served as Prometheus text on
//! `GET /metrics` through the `metrics` facade and its Prometheus exporter, with the process's
//! own metrics (CPU, memory, open files, threads) from `metrics-process`. Any part of the bot
//! records through the functions here without carrying a handle; the recorder is installed on
//! first use.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Upper bounds (seconds) of the investigation duration histogram.
const DURATION_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0];

/// Upper bounds (seconds) of the language model's answer time histogram.
const MODEL_DURATION_BUCKETS: [f64; 9] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0];

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

/// The outbox as the store sees it, for `/metrics` and `/healthz`.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct OutboxState {
    /// Events not yet published.
    pub backlog: i64,
    /// Age of the oldest of them, in seconds (0 when none).
    pub oldest_pending_seconds: f64,
}

struct Exporter {
    handle: Option<PrometheusHandle>,
    process: metrics_process::Collector,
}

static EXPORTER: OnceLock<Exporter> = OnceLock::new();
/// Whether this process holds the event relay's lease (also shown on `/healthz`).
static RELAY_LEASE_HELD: AtomicBool = AtomicBool::new(false);

/// Installs the Prometheus recorder once and describes every series; the series the bot
/// always has start at zero, so a scrape sees them before the first event.
fn exporter() -> &'static Exporter {
    EXPORTER.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("anomaly_hunter_investigation_duration_seconds".into()),
                &DURATION_BUCKETS,
            )
            .and_then(|builder| {
                builder.set_buckets_for_metric(
                    Matcher::Full("anomaly_hunter_llm_request_duration_seconds".into()),
                    &MODEL_DURATION_BUCKETS,
                )
            })
            .and_then(|builder| builder.install_recorder())
            .map_err(|e| eprintln!("warning: /metrics is off: {e}"))
            .ok();
        let process = metrics_process::Collector::default();
        process.describe();
        describe();
        for outcome in [Outcome::Anomalous, Outcome::Normal, Outcome::Failed] {
            counter!("anomaly_hunter_investigations_total", "result" => outcome.label())
                .absolute(0);
        }
        for name in [
            "anomaly_hunter_panics_total",
            "anomaly_hunter_stream_points_total",
            "anomaly_hunter_stream_incidents_total",
            "anomaly_hunter_stream_incidents_handled_total",
        ] {
            counter!(name).absolute(0);
        }
        gauge!("anomaly_hunter_investigations_running").set(0.0);
        gauge!("anomaly_hunter_investigations_queued").set(0.0);
        Exporter { handle, process }
    })
}

fn describe() {
    describe_counter!(
        "anomaly_hunter_investigations_total",
        "Investigations by result."
    );
    describe_histogram!(
        "anomaly_hunter_investigation_duration_seconds",
        metrics::Unit::Seconds,
        "Time to investigate, store and recall similar incidents."
    );
    describe_gauge!(
        "anomaly_hunter_investigations_running",
        "Investigations running now."
    );
    describe_gauge!(
        "anomaly_hunter_investigations_queued",
        "Investigations waiting for a free slot."
    );
    describe_counter!(
        "anomaly_hunter_commands_refused_total",
        "Commands refused: busy, or over a rate limit."
    );
    describe_counter!(
        "anomaly_hunter_chat_commands_total",
        "Chat commands by platform and command."
    );
    describe_counter!(
        "anomaly_hunter_alertmanager_notifications_total",
        "Alertmanager webhook notifications by result."
    );
    describe_counter!(
        "anomaly_hunter_errors_total",
        "Errors logged, by component."
    );
    describe_counter!(
        "anomaly_hunter_panics_total",
        "Panics (bugs); each also goes to Sentry."
    );
    describe_gauge!(
        "anomaly_hunter_event_backlog",
        "Verdict events waiting in the outbox for the broker."
    );
    describe_gauge!(
        "anomaly_hunter_event_oldest_pending_seconds",
        "Age of the oldest verdict event not yet published."
    );
    describe_counter!(
        "anomaly_hunter_events_published_total",
        "Verdict events this process published."
    );
    describe_counter!(
        "anomaly_hunter_event_publish_failures_total",
        "Publish attempts that failed (retried later)."
    );
    describe_gauge!(
        "anomaly_hunter_relay_lease_held",
        "1 while this process holds the event relay's lease."
    );
    describe_counter!(
        "anomaly_hunter_stream_points_total",
        "Metric points the stream stored and scored."
    );
    describe_counter!(
        "anomaly_hunter_stream_incidents_total",
        "Incidents the live score opened."
    );
    describe_counter!(
        "anomaly_hunter_stream_incidents_handled_total",
        "Stream incidents investigated (and posted when anomalous)."
    );
    describe_counter!(
        "anomaly_hunter_llm_requests_total",
        "Language model requests by result: accepted, rejected (not grounded), failed, skipped."
    );
    describe_counter!(
        "anomaly_hunter_llm_not_used_total",
        "Model answers rejected by the grounding check, or requests skipped, by reason."
    );
    describe_counter!(
        "anomaly_hunter_llm_tokens_total",
        "Tokens the language model used, prompt and completion."
    );
    describe_histogram!(
        "anomaly_hunter_llm_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time for a language model answer, retry included."
    );
}

/// Counts a finished (or failed) investigation and how long it took.
pub fn investigation(outcome: Outcome, elapsed: Duration) {
    exporter();
    counter!("anomaly_hunter_investigations_total", "result" => outcome.label()).increment(1);
    histogram!("anomaly_hunter_investigation_duration_seconds").record(elapsed.as_secs_f64());
}

/// Counts a chat command (`check`, `stats`, `history`, `help`, `thread_reply`, `button`…).
pub fn chat_command(platform: &str, command: &str) {
    exporter();
    counter!("anomaly_hunter_chat_commands_total", "platform" => platform.to_string(), "command" => command.to_string())
        .increment(1);
}

/// Counts an Alertmanager notification by what became of it (`recorded`, `refused`, `failed`).
pub fn alert_notification(result: &str) {
    exporter();
    counter!("anomaly_hunter_alertmanager_notifications_total", "result" => result.to_string())
        .increment(1);
}

/// Counts a remote-write request by its result (`accepted`, `malformed`, `busy`,
/// `broker_unavailable`), its samples, and those selected and put on the metrics topic.
pub fn remote_write(result: &str, samples: usize, forwarded: usize) {
    exporter();
    counter!("anomaly_hunter_remote_write_requests_total", "result" => result.to_string())
        .increment(1);
    counter!("anomaly_hunter_remote_write_samples_total").increment(samples as u64);
    counter!("anomaly_hunter_remote_write_samples_forwarded_total").increment(forwarded as u64);
}

/// Counts work refused, by reason (`busy`, `user_rate`, `channel_rate`).
pub fn refused(reason: &str) {
    exporter();
    counter!("anomaly_hunter_commands_refused_total", "reason" => reason.to_string()).increment(1);
}

/// Sets the number of investigations running and waiting.
pub fn work_queue(running: usize, queued: usize) {
    exporter();
    gauge!("anomaly_hunter_investigations_running").set(running as f64);
    gauge!("anomaly_hunter_investigations_queued").set(queued as f64);
}

/// Counts verdict events the relay published, or failed to publish.
pub fn events_published(n: u64) {
    exporter();
    counter!("anomaly_hunter_events_published_total").increment(n);
}

pub fn event_failed() {
    exporter();
    counter!("anomaly_hunter_event_publish_failures_total").increment(1);
}

/// Whether this process holds the relay lease now.
pub fn relay_lease(held: bool) {
    exporter();
    RELAY_LEASE_HELD.store(held, Ordering::Relaxed);
    gauge!("anomaly_hunter_relay_lease_held").set(if held { 1.0 } else { 0.0 });
}

pub fn relay_lease_held() -> bool {
    RELAY_LEASE_HELD.load(Ordering::Relaxed)
}

/// Counts points the metrics stream stored and scored, and the incidents they opened.
pub fn stream_points(points: usize, incidents: usize) {
    exporter();
    counter!("anomaly_hunter_stream_points_total").increment(points as u64);
    counter!("anomaly_hunter_stream_incidents_total").increment(incidents as u64);
}

/// Counts a stream incident investigated (and posted, when anomalous).
pub fn stream_incident_handled() {
    exporter();
    counter!("anomaly_hunter_stream_incidents_handled_total").increment(1);
}

/// Counts a request to the language model: its result (`accepted`, `rejected`, `failed`,
/// `skipped`), why it was not accepted, its tokens and (when it was sent) how long it took.
pub fn model_exchange(
    provider: &str,
    result: &str,
    reason: Option<&str>,
    prompt_tokens: u64,
    completion_tokens: u64,
    latency: Option<Duration>,
) {
    exporter();
    let provider = provider.to_string();
    counter!("anomaly_hunter_llm_requests_total", "provider" => provider.clone(), "result" => result.to_string())
        .increment(1);
    if let (Some(reason), "rejected" | "skipped") = (reason, result) {
        counter!("anomaly_hunter_llm_not_used_total", "reason" => reason.to_string()).increment(1);
    }
    counter!("anomaly_hunter_llm_tokens_total", "kind" => "prompt").increment(prompt_tokens);
    counter!("anomaly_hunter_llm_tokens_total", "kind" => "completion")
        .increment(completion_tokens);
    if let Some(latency) = latency {
        histogram!("anomaly_hunter_llm_request_duration_seconds", "provider" => provider)
            .record(latency.as_secs_f64());
    }
}

/// Counts every panic (a bug: no input should reach one), then runs the hook installed before
/// (sentry's, which reports it, and the default, which prints it). Call after Sentry's init.
pub fn count_panics() {
    exporter();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        counter!("anomaly_hunter_panics_total").increment(1);
        previous(info);
    }));
}

/// Counts an error logged by `component` (the module that logged it).
pub fn error(component: &str) {
    exporter();
    counter!("anomaly_hunter_errors_total", "component" => component.to_string()).increment(1);
}

/// The Prometheus text exposition, process metrics included; the outbox is read from the
/// store by the caller (`None` when events are off).
pub fn render(outbox: Option<OutboxState>) -> String {
    let exporter = exporter();
    if let Some(outbox) = outbox {
        gauge!("anomaly_hunter_event_backlog").set(outbox.backlog as f64);
        gauge!("anomaly_hunter_event_oldest_pending_seconds").set(outbox.oldest_pending_seconds);
    }
    exporter.process.collect();
    exporter
        .handle
        .as_ref()
        .map(PrometheusHandle::render)
        .unwrap_or_default()
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

    /// The value of the sample line that starts with `series`.
    fn sample(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_process_metrics_are_exposed() {
        investigation(Outcome::Normal, Duration::from_micros(2_000));
        investigation(Outcome::Anomalous, Duration::from_secs(2));
        chat_command("slack", "check \"x\"");
        let text = render(Some(OutboxState {
            backlog: 4,
            oldest_pending_seconds: 1.5,
        }));
        let bucket = |le: &str| {
            sample(
                &text,
                &format!("anomaly_hunter_investigation_duration_seconds_bucket{{le=\"{le}\"}} "),
            )
        };
        assert!(bucket("0.0025") >= 1.0);
        assert!(bucket("5") > bucket("0.0025"), "{text}");
        assert!(bucket("+Inf") >= 2.0);
        assert_eq!(sample(&text, "anomaly_hunter_event_backlog "), 4.0);
        assert_eq!(
            sample(&text, "anomaly_hunter_event_oldest_pending_seconds "),
            1.5
        );
        assert!(text.contains(r#"command="check \"x\"""#), "{text}");
        assert!(
            sample(&text, "process_resident_memory_bytes ") > 0.0,
            "{text}"
        );
        assert!(sample(&text, "process_open_fds ") > 0.0, "{text}");
    }

    #[test]
    fn panics_are_counted() {
        count_panics();
        let before = sample(&render(None), "anomaly_hunter_panics_total ");
        let _ = std::panic::catch_unwind(|| panic!("a bug"));
        assert_eq!(
            sample(&render(None), "anomaly_hunter_panics_total "),
            before + 1.0
        );
    }
}
