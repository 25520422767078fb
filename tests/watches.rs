//! Watches end to end, with the real Prometheus (Debian's package) scraping an exporter this
//! test serves every second, over two hours of backfilled history: a watch added from Slack on
//! a query of three series where one misbehaves opens exactly one thread, for that series,
//! with the investigation, an update when it gets worse and "back to normal" when it is over —
//! and the bot restarted in the middle neither opens a second thread nor skips a step.

mod support;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::fake_slack::FakeSlack;
use support::prometheus::{start_prometheus, Backfill, Server, PROMETHEUS_ENV};
use support::serve::ServeProcess;

const INSTANCES: [&str; 3] = ["a", "b", "c"];
/// The misbehaving one.
const SICK: &str = "b";

/// The exporter's error ratio: ±0.001 around 1% at second `t`, or the incident's level.
fn error_ratio(t: i64, instance: &str, incident: u8) -> f64 {
    let seed = instance.as_bytes()[0] as f64;
    let noise = ((t as f64 * 12.9898 + seed).sin() * 43_758.547)
        .fract()
        .abs()
        - 0.5;
    let normal = 0.010 + 0.002 * noise;
    match (instance == SICK, incident) {
        (true, 1) => 0.08 + normal,
        (true, 2) => 0.30 + normal,
        _ => normal,
    }
}

/// Serves `/metrics` with the three series; `incident` says how the sick one is doing.
async fn exporter(incident: Arc<AtomicU8>) -> u16 {
    support::prometheus::serve_exporter(move || {
        let incident = incident.load(Ordering::SeqCst);
        let t = chrono::Utc::now().timestamp();
        let mut text = String::from("# TYPE web_error_ratio gauge\n");
        for instance in INSTANCES {
            let value = error_ratio(t, instance, incident);
            text.push_str(&format!(
                "web_error_ratio{{instance=\"{instance}\",job=\"web\"}} {value}\n"
            ));
        }
        text
    })
    .await
}

/// The backfill reaches this far past the start of the test, so that no second is missing
/// between it and the first scrape (Prometheus would repeat the last backfilled value over
/// the gap, and a dozen identical readings on this noise are rightly unusual). Scrapes before
/// then are refused by Prometheus as older than its newest block.
const BACKFILL_AHEAD_SECONDS: i64 = 30;

/// Prometheus with two hours of the three series (one a second) and the exporter scraped
/// every second with its own labels.
fn prometheus(test: &str, exporter_port: u16) -> Option<Server> {
    let binary = support::service_binary(PROMETHEUS_ENV, test)?;
    let dir = support::scratch_dir(test);
    let now = chrono::Utc::now().timestamp() + BACKFILL_AHEAD_SECONDS;
    let history: Vec<Backfill> = INSTANCES
        .iter()
        .map(|instance| Backfill {
            name: "web_error_ratio",
            labels: match *instance {
                "a" => &[("instance", "a"), ("job", "web")],
                "b" => &[("instance", "b"), ("job", "web")],
                _ => &[("instance", "c"), ("job", "web")],
            },
            samples: (now - 2 * 3600..now)
                .map(|t| (t, error_ratio(t, instance, 0)))
                .collect(),
        })
        .collect();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: web\n    honor_labels: true\n    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n"
    );
    Some(start_prometheus(&binary, &dir, &history, &config, ""))
}

/// `GET /api/v1/watches`.
async fn watches(bot: &ServeProcess) -> Vec<Value> {
    let response = reqwest::get(format!("{}/api/v1/watches", bot.url))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Waits (up to `seconds`) until `ready` holds of the watches; panics with the bot's log.
async fn wait_for_watches(bot: &ServeProcess, seconds: u64, ready: impl Fn(&[Value]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let listed = watches(bot).await;
        if ready(&listed) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "watches never got there: {listed:#?}\n{}",
            bot.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The Slack posts of the watch: (top-level posts, posts in a thread).
fn watch_posts(slack: &FakeSlack) -> (Vec<Value>, Vec<Value>) {
    let posts: Vec<Value> = slack
        .calls("chat.postMessage")
        .into_iter()
        .map(|call| call.body)
        .filter(|body| {
            body["text"]
                .as_str()
                .unwrap_or_default()
                .contains("web_error_ratio")
                || body["thread_ts"].is_string()
        })
        .collect();
    posts
        .into_iter()
        .partition(|body| body["thread_ts"].is_null())
}

/// Waits (up to `seconds`) for a post in a thread that contains `text`; panics with `log()`.
async fn wait_in_thread(slack: &FakeSlack, text: &str, seconds: u64, log: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !watch_posts(slack)
        .1
        .iter()
        .any(|p| p["text"].as_str().unwrap_or_default().contains(text))
    {
        assert!(
            Instant::now() < deadline,
            "no `{text}` in a thread:\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg_attr(
    not(test_prometheus),
    ignore = "needs Prometheus: set ANOMALY_HUNTER_TEST_PROMETHEUS (bash .ci/run installs it)"
)]
// Two workers: the exporter answers scrapes while the test blocks on a process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_opens_one_thread_for_the_series_that_misbehaves_and_resolves_it_across_a_restart()
{
    let incident = Arc::new(AtomicU8::new(0));
    let port = exporter(incident.clone()).await;
    let Some(prometheus) = prometheus("watch-prom", port) else {
        return;
    };
    let live_from = Instant::now() + Duration::from_secs(BACKFILL_AHEAD_SECONDS as u64 + 2);
    let (slack, slack_api) = FakeSlack::start().await;
    let url = prometheus.url();
    let env = [
        ("SLACK_SIGNING_SECRET", "secret"),
        ("SLACK_BOT_TOKEN", support::fake_slack::BOT_TOKEN),
        ("SLACK_API_URL", slack_api.as_str()),
        ("PROMETHEUS_URL", url.as_str()),
    ];
    let bot = ServeProcess::start("watch-prom", &env);

    let answer =
        support::fake_slack::slash(&bot.url, "secret", "watch web_error_ratio every 1s").await;
    let text = answer["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("Watching `web_error_ratio` every 1 s as `w-")
            && text.contains("3 series now"),
        "{answer:#}\n{}",
        bot.log()
    );
    assert_eq!(answer["response_type"], "in_channel");
    // Seeded from the backfill and scoring every second.
    wait_for_watches(&bot, 60, |w| {
        w[0]["state"] == "healthy" && w[0]["series_count"] == 3
    })
    .await;
    tokio::time::sleep_until((live_from + Duration::from_secs(5)).into()).await;
    assert_eq!(
        watch_posts(&slack).0.len(),
        0,
        "nothing posted while all is well"
    );

    // Instance b jumps from 1% to 8% errors: one thread, about b, with the investigation.
    incident.store(1, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(60);
    while watch_posts(&slack).0.is_empty() {
        assert!(
            Instant::now() < deadline,
            "no incident thread:\n{}",
            bot.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (opened, _) = watch_posts(&slack);
    let headline = opened[0]["text"].as_str().unwrap();

    assert!(
        headline.contains("instance=\"b\"") && !headline.contains("instance=\"a\""),
        "the thread is about b: {headline}"
    );
    wait_for_watches(&bot, 10, |w| w[0]["incidents_open"] == 1).await;

    // It gets worse (30%): an update in the same thread. Then the bot restarts mid-incident.
    incident.store(2, Ordering::SeqCst);
    wait_in_thread(&slack, "Further", 30, || bot.log()).await;
    let data_dir = bot.data_dir.clone();
    assert!(bot.stop().success());
    tokio::time::sleep(Duration::from_secs(4)).await;
    let bot = ServeProcess::start_in(data_dir, &env);

    // Back to normal: "resolved" in that same thread, and no second thread.
    tokio::time::sleep(Duration::from_secs(3)).await;
    incident.store(0, Ordering::SeqCst);
    wait_in_thread(&slack, "back to normal", 60, || bot.log()).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (opened, in_threads) = watch_posts(&slack);
    assert_eq!(opened.len(), 1, "one thread: {opened:#?}");
    let thread = in_threads
        .iter()
        .find(|p| {
            p["text"]
                .as_str()
                .unwrap_or_default()
                .contains("back to normal")
        })
        .unwrap()["thread_ts"]
        .clone();
    assert!(
        in_threads.iter().all(|p| p["thread_ts"] == thread),
        "everything in one thread: {in_threads:#?}"
    );
    let resolution = in_threads.last().unwrap()["text"].as_str().unwrap();
    assert!(
        resolution.contains("web_error_ratio{instance=\"b\",job=\"web\"}` back to normal")
            && resolution.contains(" after "),
        "{resolution}"
    );

    // No step skipped or scored twice across the restart: one point per second, first to last.
    let store = anomaly_hunter::store::Store::open(anomaly_hunter::store::Location::Sqlite(
        bot.data_dir.join(anomaly_hunter::store::DEFAULT_FILE),
    ))
    .await
    .unwrap();
    let listed = watches(&bot).await;
    let id = listed[0]["id"].as_str().unwrap();
    let scored = store.scored_series(id).await.unwrap();
    assert_eq!(scored.len(), 3, "{scored:#?}");
    for series in &scored {
        let steps = (series.last_scored_at - series.first_scored_at) / 1_000 + 1;
        assert_eq!(series.points_scored, steps, "{series:#?}");
        let incidents = i64::from(series.series.contains("instance=\"b\""));
        assert_eq!(series.incidents, incidents, "{series:#?}");
    }
    assert_eq!(listed[0]["incidents_open"], 0, "{listed:#?}");

    // The alert budget, in the channel and on /metrics.
    let answer = support::fake_slack::slash(&bot.url, "secret", "watches").await;
    let text = answer["text"].as_str().unwrap_or_default();
    assert!(
        text.contains(&format!(
            "`{id}` `web_error_ratio` every 1 s — healthy; 3 series"
        )) && text.contains("incidents per series-week"),
        "{answer:#}"
    );
    let metrics = bot.metrics().await;
    assert!(
        metrics.contains(&format!("anomaly_hunter_watch_series{{watch=\"{id}\"}} 3"))
            && metrics.contains(&format!(
                "anomaly_hunter_watch_incidents_per_series_week{{watch=\"{id}\"}}"
            )),
        "{metrics}"
    );

    // "False positive" in the thread: from now on b tolerates a change of that size.
    let (opened, _) = watch_posts(&slack);
    let event = serde_json::json!({"type": "message", "channel": opened[0]["channel"], "user": "U0SRE",
        "text": "false positive", "ts": "1900000000.000001", "thread_ts": thread});
    support::fake_slack::post_event(&bot.url, "secret", "EvWatchFP", event).await;
    wait_in_thread(&slack, "will not open an incident on", 20, || bot.log()).await;
    let tolerated = store.tolerated_departures(id).await.unwrap();
    assert!(
        tolerated.len() == 1 && tolerated[0].0.contains("instance=\"b\"") && tolerated[0].1 > 3.0,
        "{tolerated:?}"
    );
    drop(bot);
}

#[cfg_attr(
    not(test_prometheus),
    ignore = "needs Prometheus: set ANOMALY_HUNTER_TEST_PROMETHEUS (bash .ci/run installs it)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_are_added_listed_snoozed_and_removed_through_the_api_and_the_command_line() {
    let port = exporter(Arc::new(AtomicU8::new(0))).await;
    let Some(prometheus) = prometheus("watch-api", port) else {
        return;
    };
    let url = prometheus.url();
    let bot = ServeProcess::start("watch-api", &[("PROMETHEUS_URL", url.as_str())]);
    let http = reqwest::Client::new();
    let api = format!("{}/api/v1/watches", bot.url);

    let added = http
        .post(&api)
        .json(&serde_json::json!({"query": "web_error_ratio{instance=\"a\"}", "every": "15s", "slack_channel": "C0OPS"}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let added: Value = added.json().await.unwrap();
    assert_eq!(added["step_ms"], 15_000);
    assert_eq!(added["series_now"], 1);
    assert_eq!(added["platform"], "slack");
    let id = added["id"].as_str().unwrap().to_string();

    // Prometheus' own refusal, before anything is stored; a malformed request is a 400.
    let refused = http
        .post(&api)
        .json(&serde_json::json!({"query": "rate(web_error_ratio[5m]"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("could not parse"),
        "{problem}"
    );
    let malformed = http.post(&api).body("{\"every\": 5}").send().await.unwrap();
    assert_eq!(malformed.status(), 400);

    // The command line sees the same store; its watch has the default step.
    let cli = support::serve::anomaly_hunter(&bot.data_dir)
        .args(["watch", "add", "web_error_ratio", "--max-series", "2"])
        .env("PROMETHEUS_URL", &url)
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let cli_id = String::from_utf8_lossy(&cli.stdout).trim().to_string();
    assert!(cli_id.starts_with("w-"), "{cli_id}");
    wait_for_watches(&bot, 60, |w| {
        w.len() == 2 && w.iter().all(|w| w["state"] == "healthy")
    })
    .await;
    let listed = watches(&bot).await;
    let capped = listed.iter().find(|w| w["id"] == cli_id.as_str()).unwrap();
    assert_eq!(capped["series_count"], 2, "{capped:#}");
    assert_eq!(capped["left_out"], 1, "{capped:#}");
    let text = support::serve::anomaly_hunter(&bot.data_dir)
        .args(["watch", "list"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!(
            "`{cli_id}` `web_error_ratio` every 1 min — healthy; 2 series, 1 left out"
        )),
        "{text}"
    );

    let snoozed = http
        .post(format!("{api}/{id}/snooze"))
        .json(&serde_json::json!({"for": "2h"}))
        .send()
        .await
        .unwrap();
    assert_eq!(snoozed.status(), 200);
    let listed = watches(&bot).await;
    let until = listed.iter().find(|w| w["id"] == id.as_str()).unwrap()["snoozed_until"]
        .as_i64()
        .unwrap();
    let hours = (until - chrono::Utc::now().timestamp_millis()) as f64 / 3_600_000.0;
    assert!((1.9..=2.0).contains(&hours), "{hours}");

    assert_eq!(
        http.delete(format!("{api}/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        http.delete(format!("{api}/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let rm = support::serve::anomaly_hunter(&bot.data_dir)
        .args(["watch", "rm", &cli_id])
        .output()
        .unwrap();
    assert!(
        rm.status.success(),
        "{}",
        String::from_utf8_lossy(&rm.stderr)
    );
    assert!(watches(&bot).await.is_empty());
}

#[tokio::test]
async fn a_watch_needs_prometheus() {
    let bot = ServeProcess::start("watch-no-prom", &[]);
    let refused = reqwest::Client::new()
        .post(format!("{}/api/v1/watches", bot.url))
        .json(&serde_json::json!({"query": "up"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("set PROMETHEUS_URL"),
        "{problem}"
    );
}

/// The pid in a watch lease's holder (`watches pid 123 (…)`), if anyone holds it.
async fn lease_pid(store: &anomaly_hunter::store::Store, watch_id: &str) -> Option<u32> {
    let lease = anomaly_hunter::sources::watches::lease_name(watch_id);
    let (holder, _) = store.lease_holder(&lease).await.unwrap()?;
    holder.split_whitespace().nth(2)?.parse().ok()
}

#[cfg_attr(
    not(test_prometheus),
    ignore = "needs Prometheus: set ANOMALY_HUNTER_TEST_PROMETHEUS (bash .ci/run installs it)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replicas_watch_is_taken_over_within_15_s_and_its_incident_keeps_one_thread() {
    let Some(postgres) = std::env::var(support::POSTGRES_ENV)
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return support::missing(support::POSTGRES_ENV, "watch_takeover");
    };
    let Some(tansu) = support::broker::tansu("watch_takeover") else {
        return;
    };
    let broker = support::broker::Broker::start(&tansu, support::broker::free_port());
    let incident = Arc::new(AtomicU8::new(0));
    let port = exporter(incident.clone()).await;
    let Some(prometheus) = prometheus("watch-takeover", port) else {
        return;
    };
    let live_from = Instant::now() + Duration::from_secs(BACKFILL_AHEAD_SECONDS as u64 + 2);
    let database_url = support::postgres_schema_url(&postgres, "watch_takeover").await;
    let store = anomaly_hunter::store::Store::open(anomaly_hunter::store::Location::Postgres(
        database_url.clone(),
    ))
    .await
    .unwrap();
    let (slack, slack_api) = FakeSlack::start().await;
    let url = prometheus.url();
    let broker_address = broker.address();
    let env = [
        ("DATABASE_URL", database_url.as_str()),
        ("SLACK_SIGNING_SECRET", "secret"),
        ("SLACK_BOT_TOKEN", support::fake_slack::BOT_TOKEN),
        ("SLACK_API_URL", slack_api.as_str()),
        ("PROMETHEUS_URL", url.as_str()),
        ("REDPANDA_BROKERS", broker_address.as_str()),
        ("REDPANDA_TOPIC", "watch.verdicts"),
    ];
    let mut replicas = [
        Some(ServeProcess::start_in(
            support::scratch_dir("watch-replica-a"),
            &env,
        )),
        Some(ServeProcess::start_in(
            support::scratch_dir("watch-replica-b"),
            &env,
        )),
    ];
    let first = replicas[0].as_ref().unwrap();
    support::fake_slack::slash(&first.url, "secret", "watch web_error_ratio every 1s").await;
    wait_for_watches(first, 60, |w| w.len() == 1 && w[0]["state"] == "healthy").await;
    let id = watches(first).await[0]["id"].as_str().unwrap().to_string();
    let holder = lease_pid(&store, &id)
        .await
        .expect("a replica holds the watch");
    let held_by = replicas
        .iter()
        .position(|r| r.as_ref().unwrap().pid() == holder)
        .expect("the holder is one of the two");
    let survivor = 1 - held_by;

    tokio::time::sleep_until((live_from + Duration::from_secs(3)).into()).await;
    incident.store(1, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(60);
    while watch_posts(&slack).0.is_empty() {
        assert!(Instant::now() < deadline, "no incident thread");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // kill -9 the holder: the other replica holds the watch within 15 s.
    replicas[held_by].take();
    let killed_at = Instant::now();
    let survivor_pid = replicas[survivor].as_ref().unwrap().pid();
    while lease_pid(&store, &id).await != Some(survivor_pid) {
        assert!(
            killed_at.elapsed() < Duration::from_secs(15),
            "not taken over within 15 s:\n{}",
            replicas[survivor].as_ref().unwrap().log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let took = killed_at.elapsed();

    // The survivor continues the same incident: its resolution in the one thread. A replica
    // killed in the middle of posting the thread keeps that alert's posting claim until it
    // expires (two minutes, the alert desk's CLAIM_MS), so the survivor may post it late.
    tokio::time::sleep(Duration::from_secs(3)).await;
    incident.store(0, Ordering::SeqCst);
    wait_in_thread(&slack, "back to normal", 180, || {
        replicas[survivor].as_ref().unwrap().log()
    })
    .await;
    let (opened, in_threads) = watch_posts(&slack);
    assert_eq!(
        opened.len(),
        1,
        "one thread across the takeover: {opened:#?}"
    );
    let thread = &in_threads.last().unwrap()["thread_ts"];
    assert!(
        in_threads.iter().all(|p| &p["thread_ts"] == thread),
        "{in_threads:#?}"
    );
    eprintln!("watch taken over {:.1} s after kill -9", took.as_secs_f64());
}
