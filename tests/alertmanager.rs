//! End to end with the real Prometheus and the real Alertmanager (Debian's packages): a rule
//! fires on a small exporter this test serves, Alertmanager calls the bot's webhook, and the
//! bot posts one investigation thread in the alert channel of the fake Slack; Alertmanager's
//! repeats post nothing more; the resolution lands in the same thread even when the bot was
//! restarted between firing and resolved.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::broker::free_port;
use support::fake_discord::{FakeDiscord, CHANNEL_ID, GUILD_ID};
use support::fake_slack::{Call, FakeSlack};
use support::prometheus::{
    start_alertmanager, start_prometheus, Backfill, ALERTMANAGER_ENV, PROMETHEUS_ENV,
};
use support::serve::ServeProcess;

const TOKEN: &str = "alertmanager-test-token";
const ALERT_CHANNEL: &str = "C0ALERTS";
const NORMAL: f64 = 0.12;
const INCIDENT: f64 = 0.9;

/// Serves `api_latency_seconds <level>` at `/metrics` on a free port; returns the port.
async fn exporter(level: Arc<AtomicU64>) -> u16 {
    support::prometheus::serve_exporter(move || {
        let level = f64::from_bits(level.load(Ordering::Relaxed));
        format!("# TYPE api_latency_seconds gauge\napi_latency_seconds {level}\n")
    })
    .await
}

fn prometheus_config(exporter: u16, alertmanager: u16) -> String {
    format!(
        "global:\n  scrape_interval: 15s\n  evaluation_interval: 1s\n\
         rule_files: ['{{rules}}']\n\
         alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['127.0.0.1:{alertmanager}']\n\
         scrape_configs:\n- job_name: api\n  scrape_interval: 1s\n  static_configs:\n  - targets: ['127.0.0.1:{exporter}']\n    labels: {{instance: 'api-1:8080'}}\n"
    )
}

const RULES: &str = "groups:\n- name: latency\n  interval: 1s\n  rules:\n  - alert: HighLatency\n    expr: api_latency_seconds > 0.5\n    labels: {severity: page}\n    annotations: {summary: 'API latency above 500 ms'}\n";

fn alertmanager_config(bot_port: u16) -> String {
    format!(
        "route:\n  receiver: bot\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 2s\n\
         receivers:\n- name: bot\n  webhook_configs:\n  - url: http://127.0.0.1:{bot_port}/alertmanager\n    send_resolved: true\n    http_config:\n      authorization:\n        credentials: {TOKEN}\n"
    )
}

/// 30 hours of normal latency up to a minute ago, as Prometheus would have scraped it.
fn history() -> Vec<Backfill<'static>> {
    let now = chrono::Utc::now().timestamp() / 15 * 15 - 60;
    let samples = (0..30 * 240)
        .map(|i| {
            let t = now - 30 * 3600 + i * 15;
            (t, NORMAL + 0.01 * ((i * 7919 % 101) as f64 / 101.0 - 0.5))
        })
        .collect();
    vec![Backfill {
        name: "api_latency_seconds",
        labels: &[("job", "api"), ("instance", "api-1:8080")],
        samples,
    }]
}

fn alert_heads(slack: &FakeSlack) -> Vec<Call> {
    slack
        .calls("chat.postMessage")
        .into_iter()
        .filter(|c| c.body["channel"] == ALERT_CHANNEL && c.body["thread_ts"].is_null())
        .collect()
}

fn in_thread(slack: &FakeSlack, containing: &str) -> Vec<Call> {
    slack
        .calls("chat.postMessage")
        .into_iter()
        .filter(|c| {
            c.body["channel"] == ALERT_CHANNEL
                && !c.body["thread_ts"].is_null()
                && c.body["text"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(containing)
        })
        .collect()
}

/// Discord threads started from a message in the alert channel: the message (= thread) ids.
fn discord_threads(discord: &FakeDiscord) -> Vec<String> {
    let prefix = format!("/channels/{CHANNEL_ID}/messages/");
    discord
        .calls()
        .into_iter()
        .filter(|c| {
            c.method == "POST" && c.path.starts_with(&prefix) && c.path.ends_with("/threads")
        })
        .map(|c| c.path.split('/').nth(4).unwrap().to_string())
        .collect()
}

/// Contents posted into Discord thread `thread`.
fn discord_posts(discord: &FakeDiscord, thread: &str) -> Vec<String> {
    let path = format!("/channels/{thread}/messages");
    discord
        .calls()
        .into_iter()
        .filter(|c| c.method == "POST" && c.path == path)
        .map(|c| c.body.to_string())
        .collect()
}

/// Polls `found` until it holds, or fails after `seconds` with `what` and the logs.
async fn eventually(seconds: u64, what: &str, logs: &dyn Fn() -> String, found: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !found() {
        assert!(
            Instant::now() < deadline,
            "{what} within {seconds} s\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn recorded(metrics: &str) -> u64 {
    metrics
        .lines()
        .find(|l| {
            l.starts_with("anomaly_hunter_alertmanager_notifications_total{result=\"recorded\"}")
        })
        .and_then(|l| l.split_whitespace().last())
        .map_or(0, |n| n.parse().unwrap())
}

#[cfg_attr(
    not(all(test_prometheus, test_alertmanager)),
    ignore = "needs Prometheus and Alertmanager: set ANOMALY_HUNTER_TEST_PROMETHEUS and ANOMALY_HUNTER_TEST_ALERTMANAGER"
)]
#[tokio::test]
async fn a_firing_alert_gets_one_thread_and_its_resolution_even_across_a_restart() {
    let test = "alertmanager-threads";
    let (Some(prometheus_binary), Some(alertmanager_binary)) = (
        support::service_binary(PROMETHEUS_ENV, test),
        support::service_binary(ALERTMANAGER_ENV, test),
    ) else {
        return;
    };
    let dir = support::scratch_dir(test);
    let level = Arc::new(AtomicU64::new(NORMAL.to_bits()));
    let exporter_port = exporter(level.clone()).await;
    let bot_port = free_port();
    let alertmanager =
        start_alertmanager(&alertmanager_binary, &dir, &alertmanager_config(bot_port));
    let prometheus = start_prometheus(
        &prometheus_binary,
        &dir,
        &history(),
        &prometheus_config(exporter_port, alertmanager.port),
        RULES,
    );
    let (slack, slack_api) = FakeSlack::start().await;
    let (discord, discord_api) = FakeDiscord::start().await;
    let (guild, channel) = (GUILD_ID.to_string(), CHANNEL_ID.to_string());
    let prometheus_url = prometheus.url();
    let address = format!("127.0.0.1:{bot_port}");
    let env = [
        ("SLACK_SIGNING_SECRET", "secret"),
        ("SLACK_BOT_TOKEN", support::fake_slack::BOT_TOKEN),
        ("SLACK_API_URL", slack_api.as_str()),
        ("PROMETHEUS_URL", prometheus_url.as_str()),
        ("ALERTMANAGER_WEBHOOK_TOKEN", TOKEN),
        ("ALERT_SLACK_CHANNEL", ALERT_CHANNEL),
        ("DISCORD_TOKEN", support::fake_discord::TOKEN),
        ("DISCORD_API_URL", discord_api.as_str()),
        ("DISCORD_GUILD_ID", guild.as_str()),
        ("ALERT_DISCORD_CHANNEL", channel.as_str()),
        ("ANOMALY_HUNTER_ADDR", address.as_str()),
    ];
    let bot = ServeProcess::start(test, &env);
    let data_dir = bot.data_dir.clone();
    let logs = || {
        format!(
            "bot:\n{}\nservers:\n{}",
            std::fs::read_to_string(data_dir.join("serve.log")).unwrap_or_default(),
            alertmanager.log()
        )
    };

    // Refusals: no token, a wrong one, a payload that is not Alertmanager's.
    let client = reqwest::Client::new();
    let webhook = format!("{}/alertmanager", bot.url);
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(client.post(&webhook).body("{}").send().await.unwrap()),
        401
    );
    let wrong = client.post(&webhook).bearer_auth("nope").body("{}");
    assert_eq!(status(wrong.send().await.unwrap()), 401);
    let bad = client
        .post(&webhook)
        .bearer_auth(TOKEN)
        .body("{\"version\":\"3\"}");
    let bad = bad.send().await.unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("version 3"));

    // The rule fires: one thread, the alert as its head and the investigation inside.
    level.store(INCIDENT.to_bits(), Ordering::Relaxed);
    eventually(60, "an alert thread", &logs, || {
        alert_heads(&slack).len() == 1
    })
    .await;
    let head = &alert_heads(&slack)[0];
    let text = head.body["text"].as_str().unwrap();
    assert!(
        text.contains("Firing") && text.contains("HighLatency"),
        "{text}"
    );
    assert!(text.contains("API latency above 500 ms"), "{text}");
    eventually(30, "the verdict in the thread", &logs, || {
        !in_thread(&slack, "api_latency_seconds").is_empty()
    })
    .await;
    let thread = in_thread(&slack, "api_latency_seconds")[0].body["thread_ts"].clone();
    eventually(30, "a Discord alert thread", &logs, || {
        discord_threads(&discord).len() == 1
    })
    .await;
    let discord_thread = discord_threads(&discord)[0].clone();
    eventually(30, "the verdict in the Discord thread", &logs, || {
        discord_posts(&discord, &discord_thread)
            .iter()
            .any(|p| p.contains("api_latency_seconds"))
    })
    .await;

    // Alertmanager sends the group again (repeat_interval 2 s): recorded, never posted twice.
    let mut metrics = bot.metrics().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while recorded(&metrics) < 3 {
        assert!(
            Instant::now() < deadline,
            "no repeats: {metrics}\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        metrics = bot.metrics().await;
    }
    assert_eq!(
        alert_heads(&slack).len(),
        1,
        "a re-sent group posts no second thread"
    );
    assert_eq!(discord_threads(&discord).len(), 1, "nor on Discord");

    // The bot goes down; the alert resolves meanwhile; Alertmanager retries until it is back.
    let stopped = bot.stop();
    assert!(stopped.success());
    level.store(NORMAL.to_bits(), Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let _bot = ServeProcess::start_in(data_dir.clone(), &env);
    eventually(90, "the resolution in the alert's thread", &logs, || {
        !in_thread(&slack, "Resolved").is_empty()
    })
    .await;
    let resolution = &in_thread(&slack, "Resolved")[0];
    assert_eq!(resolution.body["thread_ts"], thread, "in the same thread");
    let text = resolution.body["text"].as_str().unwrap();
    assert!(
        text.contains("HighLatency") && text.contains("after"),
        "{text}"
    );
    assert_eq!(alert_heads(&slack).len(), 1, "still one thread");
    eventually(30, "the resolution in the Discord thread", &logs, || {
        discord_posts(&discord, &discord_thread)
            .iter()
            .any(|p| p.contains("Resolved"))
    })
    .await;
    assert_eq!(
        discord_threads(&discord).len(),
        1,
        "still one Discord thread"
    );
}
