//! Soak: `serve` with Slack, Discord and the event stream under 200 concurrent senders of
//! commands and CSV uploads for two minutes (`SOAK_SECONDS` overrides). Every command is
//! answered or politely refused, memory stays bounded (reported), and nothing is lost in the
//! store or the outbox. Ignored by a plain `cargo test`; `.ci/run` runs it.

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::broker::{free_port, read_topic, tansu, Broker};
use support::fake_discord::{FakeDiscord, CHANNEL_ID, GUILD_ID, TOKEN};
use support::fake_slack::{command_form, event_envelope, signed_post, FakeSlack, BOT_TOKEN};
use support::serve::{anomaly_hunter, ServeProcess};

const SECRET: &str = "soak-signing-secret";
const SENDERS: usize = 200;
const TOPIC: &str = "soak.verdicts";

/// What the senders did, to check against what the bot answered.
#[derive(Default)]
struct Sent {
    slash_accepted: AtomicUsize,
    slash_refused: AtomicUsize,
    /// Thread timestamps of uploads (each must get an answer in its thread).
    uploads: Mutex<Vec<String>>,
    /// Discord command message ids (each must get a thread or a refusal).
    discord: Mutex<Vec<String>>,
}

/// Resident memory of `pid`, in MiB.
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "soak: two minutes of load on serve; .ci/run runs it with --ignored"]
async fn two_minutes_of_200_concurrent_senders() {
    let Some(tansu) = tansu("soak") else { return };
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let broker = Broker::start(&tansu, free_port());
    let (slack, slack_api) = FakeSlack::start().await;
    let (discord, discord_api) = FakeDiscord::start().await;
    let guild = GUILD_ID.to_string();
    let address = broker.address();
    let bot = ServeProcess::start(
        "soak",
        &[
            ("SLACK_SIGNING_SECRET", SECRET),
            ("SLACK_BOT_TOKEN", BOT_TOKEN),
            ("SLACK_API_URL", &slack_api),
            ("DISCORD_TOKEN", TOKEN),
            ("DISCORD_API_URL", &discord_api),
            ("DISCORD_GUILD_ID", &guild),
            ("REDPANDA_BROKERS", &address),
            ("REDPANDA_TOPIC", TOPIC),
            // The production defaults: 20 a person, 60 a channel per minute.
            ("ANOMALY_HUNTER_USER_RATE", "20"),
            ("ANOMALY_HUNTER_CHANNEL_RATE", "60"),
        ],
    );
    assert!(discord.wait_connected(1, 0, 30).await, "{}", bot.log());
    let csv = std::fs::read(format!(
        "{}/examples/memory_leak.csv",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let csv_size = csv.len();
    let file_url = slack.share_file("heap.csv", csv);

    let sent = Arc::new(Sent::default());
    let client = reqwest::Client::new();
    let discord = Arc::new(discord);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let serial = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let (sent, client, discord, serial) = (sent.clone(), client.clone(), discord.clone(), serial.clone());
            let (url, file_url) = (bot.url.clone(), file_url.clone());
            tokio::spawn(async move {
                let user = format!("U{sender:03}");
                let channel = format!("C{:02}", sender % 10);
                while Instant::now() < deadline {
                    let n = serial.fetch_add(1, Ordering::Relaxed);
                    match n % 10 {
                        0..=6 => {
                            let body = command_form("check api_latency", &channel, &user);
                            let response = signed_post(&client, &format!("{url}/slack/commands"), SECRET, "application/x-www-form-urlencoded", body).await;
                            assert_eq!(response.status(), 200);
                            let ack: Value = response.json().await.unwrap();
                            let text = ack["text"].as_str().unwrap_or_default();
                            if text.starts_with("Investigating") {
                                sent.slash_accepted.fetch_add(1, Ordering::Relaxed);
                            } else {
                                assert!(text.contains("try again"), "a polite refusal: {text}");
                                sent.slash_refused.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        7 | 8 => {
                            let ts = format!("1700000000.{n:06}");
                            let event = json!({"type": "app_mention", "channel": channel, "user": user,
                                "text": "<@U0BOT> check", "ts": ts,
                                "files": [{"id": format!("F{n}"), "name": "heap.csv", "filetype": "csv", "size": csv_size, "url_private": file_url}]});
                            let body = event_envelope(&format!("Ev{n}"), event).to_string();
                            let response = signed_post(&client, &format!("{url}/slack/events"), SECRET, "application/json", body).await;
                            assert_eq!(response.status(), 200);
                            sent.uploads.lock().unwrap().push(ts);
                        }
                        _ => {
                            let command = discord.user_message(CHANNEL_ID, "!check_anomaly api_latency", vec![]);
                            sent.discord.lock().unwrap().push(command["id"].as_str().unwrap().to_string());
                            discord.dispatch("MESSAGE_CREATE", command);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            })
        })
        .collect();

    let mut rss = Vec::new();
    while Instant::now() < deadline {
        rss.push((started.elapsed().as_secs(), rss_mib(bot.pid())));
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    for sender in senders {
        sender.await.unwrap();
    }

    // Every accepted command gets its verdict, every upload and Discord command an answer.
    let accepted = sent.slash_accepted.load(Ordering::Relaxed);
    let refused = sent.slash_refused.load(Ordering::Relaxed);
    let uploads = sent.uploads.lock().unwrap().clone();
    let discord_commands = sent.discord.lock().unwrap().clone();
    let drain = Instant::now() + Duration::from_secs(180);
    let answered = |slack: &FakeSlack, discord: &FakeDiscord| {
        let posts = slack.calls("chat.postMessage");
        let slash_verdicts = posts
            .iter()
            .filter(|p| p.body["blocks"].is_array() && p.body["thread_ts"].is_null())
            .count();
        let threads: BTreeSet<String> = posts
            .iter()
            .filter_map(|p| p.body["thread_ts"].as_str().map(str::to_string))
            .collect();
        let uploads_answered = uploads.iter().filter(|ts| threads.contains(*ts)).count();
        let calls = discord.calls();
        let discord_answered = discord_commands
            .iter()
            .filter(|id| {
                calls.iter().any(|c| {
                    c.method == "POST"
                        && (c.path.contains(&format!("/messages/{id}/threads"))
                            || c.body["message_reference"]["message_id"] == id.as_str()
                                && c.body["content"]
                                    .as_str()
                                    .is_some_and(|t| t.starts_with('⏳')))
                })
            })
            .count();
        (slash_verdicts, uploads_answered, discord_answered)
    };
    let mut counts = answered(&slack, &discord);
    while counts != (accepted, uploads.len(), discord_commands.len()) && Instant::now() < drain {
        tokio::time::sleep(Duration::from_secs(1)).await;
        counts = answered(&slack, &discord);
    }
    rss.push((started.elapsed().as_secs(), rss_mib(bot.pid())));
    let peak = rss.iter().map(|(_, m)| *m).fold(0.0, f64::max);
    let early = rss
        .iter()
        .filter(|(at, _)| *at <= 30)
        .map(|(_, m)| *m)
        .fold(0.0, f64::max);
    let late = rss
        .iter()
        .filter(|(at, _)| *at > seconds / 2)
        .map(|(_, m)| *m)
        .fold(0.0, f64::max);
    println!(
        "soak: {seconds} s, {SENDERS} senders: {} commands ({accepted} slash accepted, {refused} refused politely), {} uploads, {} Discord commands; RSS first 30 s ≤ {early:.0} MiB, second half ≤ {late:.0} MiB, peak {peak:.0} MiB",
        accepted + refused + uploads.len() + discord_commands.len(),
        uploads.len(),
        discord_commands.len()
    );
    assert_eq!(
        counts,
        (accepted, uploads.len(), discord_commands.len()),
        "every command answered or refused; log:\n{}",
        bot.log()
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(accepted > 0 && refused > 0, "both paths taken");
    assert!(peak < 1024.0, "memory bounded: peak {peak:.0} MiB");
    assert!(
        late <= early * 1.5 + 64.0,
        "memory does not grow with time: {early:.0} → {late:.0} MiB"
    );

    // Nothing lost: every stored investigation's event reaches the broker once the outbox drains.
    let investigations = anomaly_hunter(&bot.data_dir)
        .args(["stats", "--format", "json"])
        .output()
        .unwrap();
    let stored = serde_json::from_slice::<Value>(&investigations.stdout).unwrap()["investigations"]
        .as_u64()
        .unwrap() as usize;
    let verdicts_posted = slack
        .calls("chat.postMessage")
        .iter()
        .filter(|p| p.body["blocks"].is_array())
        .count();
    assert!(stored >= accepted, "stored {stored}, accepted {accepted}");
    assert!(stored >= verdicts_posted, "every posted verdict is stored");
    let records = read_topic(&address, TOPIC, stored, Duration::from_secs(120));
    let ids: BTreeSet<&str> = records
        .iter()
        .filter_map(|r| r.payload["id"].as_str())
        .collect();
    assert_eq!(ids.len(), stored, "every stored verdict's event published");
}
