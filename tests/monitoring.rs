//! `GET /metrics` of a running `serve`: valid Prometheus text, the bot's own series and the
//! process's (CPU, memory, open files, threads).

mod support;

use support::serve::ServeProcess;

#[tokio::test]
async fn metrics_are_prometheus_text_with_the_bots_and_the_process_series() {
    let bot = ServeProcess::start("monitoring", &[]);
    let text = bot.metrics().await;
    let mut series = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                comment.starts_with("HELP ") || comment.starts_with("TYPE "),
                "{line}"
            );
            continue;
        }
        let (name, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        assert!(value.parse::<f64>().is_ok(), "a number: {line}");
        series.push(name.split('{').next().unwrap().to_string());
    }
    for expected in [
        "anomaly_hunter_investigations_total",
        "anomaly_hunter_investigations_running",
        "anomaly_hunter_investigations_queued",
        "anomaly_hunter_panics_total",
        "anomaly_hunter_stream_points_total",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_threads",
        "process_start_time_seconds",
    ] {
        assert!(
            series.iter().any(|s| s == expected),
            "{expected} in\n{text}"
        );
    }
    assert!(
        !text.contains("anomaly_hunter_event_backlog"),
        "no outbox series when events are off"
    );
}
