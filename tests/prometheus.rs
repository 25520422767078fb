//! End to end with the real Prometheus (Debian's package): an incident backfilled with
//! `promtool` is investigated by `detect --query`, by `/anomaly check` through the fake Slack
//! and by `!check_anomaly` through the fake Discord, with its related series fetched from the
//! same Prometheus; a dead or silent Prometheus is reported in time.

mod support;

use std::path::Path;

use serde_json::Value;
use support::fake_discord::{FakeDiscord, CHANNEL_ID, GUILD_ID, TOKEN};
use support::fake_slack::FakeSlack;
use support::prometheus::{start_prometheus, Backfill, Server, PROMETHEUS_ENV};
use support::serve::{anomaly_hunter, ServeProcess};

/// Minutes before "now" at which the latency incident starts; the pool fills 14 min earlier.
const INCIDENT_MINUTES_AGO: i64 = 100;
const POOL_LEAD_MINUTES: i64 = 14;
const STEP_SECONDS: i64 = 15;

/// A small deterministic noise source in [-0.5, 0.5).
fn noise(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 10_000) as f64 / 10_000.0 - 0.5
    }
}

/// 30 hours of an API behind a database pool, the pool filling up at the end; and three web
/// servers' error ratios, one of which jumps an hour ago.
fn incident(now: i64) -> Vec<Backfill<'static>> {
    let start = now - 30 * 3600;
    let times: Vec<i64> = (start..=now).step_by(STEP_SECONDS as usize).collect();
    let onset = now - INCIDENT_MINUTES_AGO * 60;
    let pool_onset = onset - POOL_LEAD_MINUTES * 60;
    let api = &[("job", "api"), ("instance", "api-1:8080")];
    let ramp = |t: i64, from: i64, minutes: i64| {
        ((t - from) as f64 / (minutes * 60) as f64).clamp(0.0, 1.0)
    };
    let mut latency_noise = noise(1);
    let mut pool_noise = noise(2);
    let mut memory_noise = noise(3);
    let mut series = vec![
        Backfill {
            name: "api_latency_seconds",
            labels: api,
            samples: times
                .iter()
                .map(|&t| {
                    let base = 0.120 + 0.012 * latency_noise();
                    (t, base * (1.0 + 3.0 * ramp(t, onset, 5)))
                })
                .collect(),
        },
        Backfill {
            name: "db_connections_active",
            labels: api,
            samples: times
                .iter()
                .map(|&t| {
                    let level = 20.0 + 3.0 * pool_noise();
                    (
                        t,
                        (level + 78.0 * ramp(t, pool_onset, 10)).min(100.0).round(),
                    )
                })
                .collect(),
        },
        Backfill {
            name: "kube_deployment_status_observed_generation",
            labels: api,
            samples: times
                .iter()
                .map(|&t| (t, if t < onset - 20 * 60 { 41.0 } else { 42.0 }))
                .collect(),
        },
        Backfill {
            name: "process_resident_memory_bytes",
            labels: api,
            samples: times
                .iter()
                .map(|&t| (t, (2.0e8 + 4.0e6 * memory_noise()).round()))
                .collect(),
        },
    ];
    for (instance, seed, jump) in [("web-a", 4, false), ("web-b", 5, true), ("web-c", 6, false)] {
        let labels: &'static [(&str, &str)] = match instance {
            "web-a" => &[("job", "web"), ("instance", "web-a")],
            "web-b" => &[("job", "web"), ("instance", "web-b")],
            _ => &[("job", "web"), ("instance", "web-c")],
        };
        let mut errors_noise = noise(seed);
        series.push(Backfill {
            name: "http_error_ratio",
            labels,
            samples: times
                .iter()
                .map(|&t| {
                    let base = 0.010 + 0.002 * errors_noise();
                    let bump = if jump && t >= now - 3600 { 0.07 } else { 0.0 };
                    (t, base + bump)
                })
                .collect(),
        });
    }
    series
}

const CONFIG: &str = "global:\n  scrape_interval: 15s\n";

/// The real Prometheus with the incident in its storage, or `None` (skipped).
fn prometheus(test: &str) -> Option<Server> {
    let binary = support::service_binary(PROMETHEUS_ENV, test)?;
    let dir = support::scratch_dir(test);
    let now = chrono::Utc::now().timestamp() / STEP_SECONDS * STEP_SECONDS - STEP_SECONDS;
    Some(start_prometheus(&binary, &dir, &incident(now), CONFIG, ""))
}

fn detect_query(data_dir: &Path, prometheus: &str, args: &[&str]) -> std::process::Output {
    anomaly_hunter(&data_dir.to_path_buf())
        .arg("detect")
        .args(args)
        .env("PROMETHEUS_URL", prometheus)
        .env("PROMETHEUS_TIMEOUT", "5s")
        .output()
        .unwrap()
}

/// `detect --query QUERY --since SINCE --format json`, which must succeed: its verdict.
fn detect_json(data_dir: &Path, prometheus: &str, query: &str, since: &str) -> Value {
    let output = detect_query(
        data_dir,
        prometheus,
        &["--query", query, "--since", since, "--format", "json"],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn evidence<'a>(verdict: &'a Value, agent: &str, name: &str) -> Vec<&'a Value> {
    verdict["agents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["agent"] == agent)
        .flat_map(|a| a["evidence"].as_array().unwrap())
        .filter(|e| e["name"] == name)
        .collect()
}

/// The verdict names the right window, direction, pattern and first related series.
fn assert_the_pool_incident(verdict: &Value) {
    assert_eq!(verdict["anomalous"], true, "{verdict:#}");
    let window = &verdict["anomalies"][0];
    assert!(
        window["magnitude"].as_f64().unwrap() > 1.5,
        "upward: {window}"
    );
    let start = chrono::DateTime::parse_from_rfc3339(window["start"].as_str().unwrap()).unwrap();
    let minutes_ago = (chrono::Utc::now() - start.with_timezone(&chrono::Utc)).num_minutes();
    assert!(
        (INCIDENT_MINUTES_AGO - 10..=INCIDENT_MINUTES_AGO + 10).contains(&minutes_ago),
        "the window opens ~{INCIDENT_MINUTES_AGO} min ago, not {minutes_ago}: {window}"
    );
    assert_eq!(
        verdict["pattern"], "connection_pool_exhaustion",
        "{verdict:#}"
    );
    let causes = evidence(verdict, "root_cause", "candidate_cause");
    assert!(
        causes[0]["detail"]
            .as_str()
            .unwrap()
            .contains("db_connections_active"),
        "the pool ranks first among related series: {causes:#?}"
    );
}

#[cfg_attr(
    not(test_prometheus),
    ignore = "needs Prometheus: set ANOMALY_HUNTER_TEST_PROMETHEUS (bash .ci/run installs it)"
)]
#[test]
fn detect_query_investigates_the_backfilled_incident_with_its_related_series() {
    let Some(prometheus) = prometheus("prom-detect") else {
        return;
    };
    let data = support::scratch_dir("prom-detect-store");
    let verdict = detect_json(&data, &prometheus.url(), "api_latency_seconds", "6h");
    assert_the_pool_incident(&verdict);
    let change = verdict["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "change_detective")
        .unwrap();
    assert!(
        change["finding"]
            .as_str()
            .unwrap()
            .contains("deploy `kube_deployment_status_observed_generation{instance=\"api-1:8080\",job=\"api\"} 41 → 42`"),
        "the deploy read from Prometheus: {change:#}"
    );
    assert_eq!(
        verdict["metric"],
        "api_latency_seconds{instance=\"api-1:8080\",job=\"api\"}"
    );
    // 6 h asked at the 15 s scrape interval; 24 h of history before it.
    let points = verdict["points"].as_u64().unwrap();
    assert!((1_400..=1_442).contains(&points), "{points}");
    assert!(verdict["baseline_points"].as_u64().unwrap() > 5_000);

    // Three series: the worst first, the two others in a table.
    let output = detect_query(
        &data,
        &prometheus.url(),
        &["--query", "http_error_ratio{job=\"web\"}", "--since", "6h"],
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    let first_line = text.lines().nth(1).unwrap();
    assert!(
        first_line.contains("ANOMALOUS") && first_line.contains("web-b"),
        "worst first: {text}"
    );
    let table = &text[text.find("Other series").expect("a table of the others")..];
    assert!(
        table.contains("web-a") && table.contains("web-c"),
        "{table}"
    );
    assert!(!table.contains("web-b"), "{table}");

    // 60 days at a 15 s step would be 345,600 points a series: stepped, never refused.
    let stepped = detect_json(&data, &prometheus.url(), "api_latency_seconds", "12d");
    assert!(stepped["points"].as_u64().unwrap() >= 20, "{stepped:#}");

    // Prometheus' own refusal, in words.
    let output = detect_query(
        &data,
        &prometheus.url(),
        &["--query", "rate(api_latency_seconds[5m]"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("Prometheus could not parse the query"),
        "{stderr}"
    );
    let output = detect_query(&data, &prometheus.url(), &["--query", "no_such_metric"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no data for `no_such_metric`"), "{stderr}");
}

#[cfg_attr(
    not(test_prometheus),
    ignore = "needs Prometheus: set ANOMALY_HUNTER_TEST_PROMETHEUS (bash .ci/run installs it)"
)]
#[tokio::test]
async fn slack_and_discord_checks_read_prometheus() {
    let Some(prometheus) = prometheus("prom-chat") else {
        return;
    };
    let (slack, slack_api) = FakeSlack::start().await;
    let (discord, discord_api) = FakeDiscord::start().await;
    let guild = GUILD_ID.to_string();
    let url = prometheus.url();
    let bot = ServeProcess::start(
        "prom-chat",
        &[
            ("SLACK_SIGNING_SECRET", "secret"),
            ("SLACK_BOT_TOKEN", support::fake_slack::BOT_TOKEN),
            ("SLACK_API_URL", &slack_api),
            ("DISCORD_TOKEN", TOKEN),
            ("DISCORD_API_URL", &discord_api),
            ("DISCORD_GUILD_ID", &guild),
            ("PROMETHEUS_URL", &url),
        ],
    );
    assert!(discord.wait_connected(1, 0, 30).await, "{}", bot.log());

    let ack =
        support::fake_slack::slash(&bot.url, "secret", "check api_latency_seconds last 6h").await;
    assert_eq!(ack["text"], "Investigating `api_latency_seconds`…");
    let posts = slack.wait_for("chat.postMessage", 1, 20).await;
    let verdict = posts[0].body["text"].as_str().unwrap();
    assert!(
        verdict.contains("api_latency_seconds{instance=\"api-1:8080\",job=\"api\"}")
            && verdict.contains("level shift"),
        "{verdict}"
    );
    let stored = bot.last_verdict().await;
    assert_the_pool_incident(&stored);

    // A query with three series: the worst verdict, then the table of the others in its thread.
    support::fake_slack::slash(
        &bot.url,
        "secret",
        "check http_error_ratio{job=\"web\"} last 6h",
    )
    .await;
    let posts = slack.wait_for("chat.postMessage", 3, 20).await;
    assert!(
        posts[1].body["text"].as_str().unwrap().contains("web-b"),
        "{:#?}",
        posts[1].body
    );
    let table = posts[2].body["text"].as_str().unwrap();
    assert!(
        table.contains("web-a") && table.contains("web-c"),
        "{table}"
    );
    let thread = posts[2].body["thread_ts"]
        .as_str()
        .expect("in the verdict's thread");
    assert_ne!(
        thread, "1700000000.000001",
        "not in the first check's thread"
    );

    // The same through Discord's message command.
    let command = discord.user_message(
        CHANNEL_ID,
        "!check_anomaly api_latency_seconds last 6h",
        vec![],
    );
    discord.dispatch("MESSAGE_CREATE", command.clone());
    let thread = format!("/channels/{}/messages", command["id"].as_str().unwrap());
    let posted = discord.wait_for("POST", |p| p == thread, 1, 20).await;
    let title = posted[0].body["embeds"][0]["title"]
        .as_str()
        .unwrap_or_default();
    assert!(
        title.contains("api_latency_seconds"),
        "{:#}",
        posted[0].body
    );
    let stored = bot.last_verdict().await;
    assert_the_pool_incident(&stored);
}

#[tokio::test]
async fn a_dead_or_silent_prometheus_is_reported_in_time() {
    let (slack, slack_api) = FakeSlack::start().await;
    // Nothing listens on a port just freed; a listener that never answers is silent.
    let dead = format!("http://127.0.0.1:{}", support::broker::free_port());
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let _held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    for (name, url, expected) in [
        ("dead", dead.as_str(), "could not reach Prometheus"),
        ("silent", silent_url.as_str(), "did not answer within 2 s"),
    ] {
        let bot = ServeProcess::start(
            &format!("prom-{name}"),
            &[
                ("SLACK_SIGNING_SECRET", "secret"),
                ("SLACK_BOT_TOKEN", support::fake_slack::BOT_TOKEN),
                ("SLACK_API_URL", &slack_api),
                ("PROMETHEUS_URL", url),
                ("PROMETHEUS_TIMEOUT", "2s"),
                ("PROMETHEUS_MIN_STEP", "15s"),
            ],
        );
        let before = slack.calls("chat.postMessage").len();
        support::fake_slack::slash(&bot.url, "secret", "check api_latency_seconds last 1h").await;
        let posts = slack.wait_for("chat.postMessage", before + 1, 15).await;
        let answer = posts[before].body["text"].as_str().unwrap();
        assert!(answer.contains(expected), "{name}: {answer}");
    }
}
