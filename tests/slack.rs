//! End to end: the real `anomaly-hunter serve` process against a local fake Slack, speaking
//! Slack's signed HTTP requests and Web API JSON over loopback.

mod support;

use serde_json::{json, Value};
use support::fake_slack::{
    button_press, command_form, command_payload, event_envelope, signed_request, FakeSlack,
};
use support::serve::ServeProcess;

const SECRET: &str = "test-signing-secret";
const CHANNEL: &str = "C0INCIDENT";

/// The real `serve` in Slack mode, and a client for its endpoints.
struct Bot {
    serve: ServeProcess,
    http: reqwest::Client,
}

impl std::ops::Deref for Bot {
    type Target = ServeProcess;
    fn deref(&self) -> &ServeProcess {
        &self.serve
    }
}

impl Bot {
    /// Starts `serve` in HTTP mode against `slack_api`.
    fn start(test: &str, slack_api: &str) -> Self {
        Self::start_with(test, slack_api, &[])
    }

    /// The same, with more settings.
    fn start_with(test: &str, slack_api: &str, more: &[(&str, &str)]) -> Self {
        let mut env = vec![
            ("SLACK_SIGNING_SECRET", SECRET),
            ("SLACK_BOT_TOKEN", support::fake_slack::BOT_TOKEN),
            ("SLACK_API_URL", slack_api),
        ];
        env.extend_from_slice(more);
        Self::launch(test, &env)
    }

    /// The same bot in Socket Mode: an app-level token and no signing secret.
    fn start_socket_mode(test: &str, slack_api: &str) -> Self {
        Self::launch(
            test,
            &[
                ("SLACK_APP_TOKEN", support::fake_slack::APP_TOKEN),
                ("SLACK_BOT_TOKEN", support::fake_slack::BOT_TOKEN),
                ("SLACK_API_URL", slack_api),
            ],
        )
    }

    fn launch(test: &str, env: &[(&str, &str)]) -> Self {
        Self {
            serve: ServeProcess::start(&format!("slack-{test}"), env),
            http: reqwest::Client::new(),
        }
    }

    /// POSTs a body signed as Slack would (at `age_seconds` in the past).
    async fn post_signed(
        &self,
        path: &str,
        content_type: &str,
        body: String,
        age_seconds: i64,
        secret: &str,
    ) -> reqwest::Response {
        let url = format!("{}{path}", self.url);
        signed_request(&self.http, &url, secret, content_type, body, age_seconds)
            .send()
            .await
            .unwrap()
    }

    async fn slash(&self, text: &str) -> reqwest::Response {
        let body = command_form(text, CHANNEL, "U0SRE");
        self.post_signed(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            body,
            0,
            SECRET,
        )
        .await
    }

    async fn event(&self, event_id: &str, event: Value) -> reqwest::Response {
        let body = event_envelope(event_id, event).to_string();
        self.post_signed("/slack/events", "application/json", body, 0, SECRET)
            .await
    }
}

#[tokio::test]
async fn a_signed_check_is_acknowledged_then_answered_in_a_thread() {
    let (slack, api) = FakeSlack::start().await;
    let bot = Bot::start("check", &api);
    let health = bot.health().await;
    assert_eq!(health["integrations"]["slack"], true);

    let ack = bot.slash("check api_latency last 6h").await;
    assert_eq!(ack.status(), 200);
    let ack: Value = ack.json().await.unwrap();
    assert_eq!(ack["response_type"], "ephemeral");
    assert_eq!(ack["text"], "Investigating `api_latency`…");

    let posts = slack.wait_for("chat.postMessage", 1, 10).await;
    assert_eq!(posts.len(), 1, "exactly one verdict");
    let verdict = &posts[0].body;
    assert_eq!(verdict["channel"], CHANNEL);
    assert!(
        verdict["thread_ts"].is_null(),
        "the verdict starts its own thread"
    );
    assert!(
        verdict["text"]
            .as_str()
            .unwrap()
            .contains("anomaly in api_latency"),
        "{verdict}"
    );
    let blocks = verdict["blocks"].as_array().unwrap();
    assert!(blocks[0]["text"]["text"]
        .as_str()
        .unwrap()
        .contains("api_latency"));
    let buttons: Vec<&str> = blocks.last().unwrap()["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["action_id"].as_str().unwrap())
        .collect();
    assert_eq!(buttons, vec!["confirm", "false_positive", "explain"]);

    // The chart follows into the verdict's thread.
    let thread_ts = "1700000000.000001";
    let shared = slack.wait_for("files.completeUploadExternal", 1, 10).await;
    assert_eq!(shared.len(), 1, "one chart");
    assert_eq!(shared[0].body["thread_ts"], thread_ts);
    assert_eq!(shared[0].body["channel_id"], CHANNEL);
    let reserved = &slack.calls("files.getUploadURLExternal")[0].body;
    let file_id = shared[0].body["files"][0]["id"].as_str().unwrap();
    let png = slack.uploaded(file_id).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(reserved["length"], png.len().to_string());

    // The thread is the incident room: a false positive is stored, and explain answers there.
    // (Behind a zero-width space, as some clients paste it: the keyword is still read.)
    bot.event("Ev1", json!({"type": "message", "channel": CHANNEL, "user": "U0SRE", "text": "\u{200b}false positive", "ts": "1700000001.000001", "thread_ts": thread_ts})).await;
    let replies = slack.wait_for("chat.postMessage", 2, 10).await;
    assert_eq!(replies[1].body["thread_ts"], thread_ts);
    assert!(
        replies[1].body["text"]
            .as_str()
            .unwrap()
            .contains("false positive"),
        "{}",
        replies[1].body
    );
    let stats = bot.stats();
    assert_eq!(stats["false_positives"], 1, "{stats}");

    bot.event("Ev2", json!({"type": "app_mention", "channel": CHANNEL, "user": "U0SRE", "text": "<@U0BOT> explain change detective", "ts": "1700000002.000001", "thread_ts": thread_ts})).await;
    let replies = slack.wait_for("chat.postMessage", 3, 10).await;
    assert_eq!(replies[2].body["thread_ts"], thread_ts);
    assert!(
        replies[2].body["text"]
            .as_str()
            .unwrap()
            .starts_with("*Change Detective*"),
        "{}",
        replies[2].body
    );

    // Secrets never reach the logs, even at debug level.
    let log = bot.log();
    assert!(log.contains("slash command"), "the log is being written");
    assert!(
        !log.contains(support::fake_slack::BOT_TOKEN) && !log.contains(SECRET),
        "a secret leaked into the log"
    );

    // Chatter between people in the thread gets no answer.
    bot.event("Ev3", json!({"type": "message", "channel": CHANNEL, "user": "U0SRE", "text": "looking at the pool now", "ts": "1700000003.000001", "thread_ts": thread_ts})).await;
    // A question after it is answered; by then the chatter would have been.
    bot.event("Ev4", json!({"type": "app_mention", "channel": CHANNEL, "user": "U0SRE", "text": "<@U0BOT> help", "ts": "1700000004.000001", "thread_ts": thread_ts})).await;
    let replies = slack.wait_for("chat.postMessage", 4, 10).await;
    assert_eq!(replies.len(), 4, "the chatter got no answer");
    assert!(replies[3].body["text"]
        .as_str()
        .unwrap()
        .starts_with("*Anomaly Hunter*"));
}

#[cfg_attr(
    not(test_espeak),
    ignore = "needs espeak-ng (apt-get install espeak-ng)"
)]
#[tokio::test]
async fn a_critical_verdict_gets_a_spoken_alert_in_its_thread_after_the_chart() {
    if !support::espeak_ng("a_critical_verdict_gets_a_spoken_alert_in_its_thread_after_the_chart") {
        return;
    }
    let (slack, api) = FakeSlack::start().await;
    let bot = Bot::start_with("voice", &api, &[("VOICE_MIN_SEVERITY", "8")]);
    bot.slash("check api_latency").await;

    let shared = slack.wait_for("files.completeUploadExternal", 2, 20).await;
    assert_eq!(shared.len(), 2, "the chart, then the voice alert");
    let verdict_ts = "1700000000.000001";
    let titles: Vec<&str> = shared
        .iter()
        .map(|call| {
            assert_eq!(
                call.body["thread_ts"], verdict_ts,
                "in the verdict's thread"
            );
            assert_eq!(call.body["channel_id"], CHANNEL);
            call.body["files"][0]["title"].as_str().unwrap()
        })
        .collect();
    assert_eq!(titles, ["api_latency — chart", "Voice alert"]);
    let reserved = &slack.calls("files.getUploadURLExternal")[1].body;
    assert_eq!(reserved["filename"], "api_latency-alert.wav");
    let wav = slack
        .uploaded(shared[1].body["files"][0]["id"].as_str().unwrap())
        .unwrap();
    assert_eq!((&wav[0..4], &wav[8..12]), (&b"RIFF"[..], &b"WAVE"[..]));
    assert_eq!(reserved["length"], wav.len().to_string());
}

#[tokio::test]
async fn refusals_never_produce_a_verdict() {
    let (slack, api) = FakeSlack::start().await;
    let bot = Bot::start("refusals", &api);
    let body = command_form("check api_latency", CHANNEL, "U0SRE");

    let forged = bot
        .post_signed(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            body.clone(),
            0,
            "wrong-secret",
        )
        .await;
    assert_eq!(forged.status(), 401);
    let stale = bot
        .post_signed(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            body.clone(),
            400,
            SECRET,
        )
        .await;
    assert_eq!(stale.status(), 401);
    let unsigned = bot
        .http
        .post(format!("{}/slack/commands", bot.url))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    // A body too large to be a Slack payload is not read to its end: refused (400), or the
    // connection closed while the rest was still being sent.
    let padded = format!("{body}&padding={}", "x".repeat(2 << 20));
    // (Its own client: the connection it breaks is not pooled for the requests after it.)
    let huge = signed_request(
        &reqwest::Client::new(),
        &format!("{}/slack/commands", bot.url),
        SECRET,
        "application/x-www-form-urlencoded",
        padded,
        0,
    )
    .send()
    .await;
    if let Ok(huge) = huge {
        assert_eq!(huge.status(), 400);
    }

    let unknown: Value = bot.slash("deploy prod").await.json().await.unwrap();
    assert!(
        unknown["text"]
            .as_str()
            .unwrap()
            .starts_with("unknown command `deploy`"),
        "{unknown}"
    );
    let missing: Value = bot
        .slash("check no_such_metric")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(missing["text"], "Investigating `no_such_metric`…");
    let posts = slack.wait_for("chat.postMessage", 1, 10).await;
    assert_eq!(posts.len(), 1);
    assert!(
        posts[0].body["text"]
            .as_str()
            .unwrap()
            .contains("no stored points for metric `no_such_metric`"),
        "a readable error, not a verdict"
    );
    assert!(posts[0].body["blocks"].is_null());
}

#[tokio::test]
async fn url_verification_and_duplicate_deliveries() {
    let (slack, api) = FakeSlack::start().await;
    let bot = Bot::start("events", &api);
    let body = json!({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}).to_string();
    let answer: Value = bot
        .post_signed("/slack/events", "application/json", body, 0, SECRET)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );

    let mention = json!({"type": "app_mention", "channel": CHANNEL, "user": "U0SRE", "text": "<@U0BOT> check api_latency", "ts": "1700000100.000001"});
    for _ in 0..2 {
        assert_eq!(bot.event("EvSame", mention.clone()).await.status(), 200);
    }
    let posts = slack.wait_for("chat.postMessage", 1, 10).await;
    assert_eq!(
        posts[0].body["thread_ts"], "1700000100.000001",
        "a mention is answered in its thread"
    );
    // While it works, the mention is marked and the thread says so (once: one delivery).
    let status = slack.calls("assistant.threads.setStatus");
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].body["thread_ts"], "1700000100.000001");
    assert_eq!(status[0].body["status"], "is investigating…");
    let reactions = slack.calls("reactions.add");
    assert_eq!(reactions.len(), 1);
    assert_eq!(reactions[0].body["name"], "eyes");
    // Another mention after that answer is answered too; by then a duplicate would have been.
    let mut other = mention.clone();
    other["ts"] = json!("1700000101.000001");
    bot.event("EvOther", other).await;
    let posts = slack.wait_for("chat.postMessage", 2, 10).await;
    assert_eq!(posts.len(), 2, "the same event twice gives one verdict");
    assert_eq!(posts[1].body["thread_ts"], "1700000101.000001");
}

#[tokio::test]
async fn rate_limits_are_waited_out() {
    let (slack, api) = FakeSlack::start().await;
    let bot = Bot::start("ratelimit", &api);
    slack.rate_limit_next(1);
    bot.slash("check api_latency").await;
    let posts = slack.wait_for("chat.postMessage", 1, 15).await;
    assert_eq!(posts.len(), 1, "posted after the Retry-After");
}

#[tokio::test]
async fn a_slack_that_keeps_refusing_is_given_up_on_after_three_retries() {
    let (slack, api) = FakeSlack::start().await;
    let bot = Bot::start("ratelimit-forever", &api);
    slack.rate_limit_next(100);
    bot.slash("check api_latency").await;
    // Retry-After: 1 each time, three retries, then the verdict is given up and logged.
    for _ in 0..200 {
        if bot.log().contains("could not post the verdict") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        bot.log().contains("could not post the verdict"),
        "{}",
        bot.log()
    );
    assert_eq!(
        100 - slack.rate_limits_left(),
        4,
        "one attempt and three retries, no more"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_commands_at_once_are_all_acknowledged_and_answered_once() {
    let (slack, api) = FakeSlack::start().await;
    let bot = std::sync::Arc::new(Bot::start("load", &api));
    let requests: Vec<_> = (0..100)
        .map(|_| {
            let bot = bot.clone();
            tokio::spawn(async move { bot.slash("check api_latency").await.status() })
        })
        .collect();
    // Each is acknowledged before its investigation runs (how fast is `bench`'s business).
    for request in requests {
        assert_eq!(request.await.unwrap(), 200);
    }
    slack.wait_for("chat.postMessage", 100, 60).await;
    // One more, answered after the hundred: none of them was answered twice.
    assert_eq!(bot.slash("check api_latency").await.status(), 200);
    let posts = slack.wait_for("chat.postMessage", 101, 30).await;
    assert_eq!(posts.len(), 101, "exactly one verdict per command");
    assert!(
        posts.iter().all(|p| p.body["blocks"].is_array()),
        "all verdicts, no errors"
    );
    let stats = bot.stats();
    assert_eq!(stats["investigations"], 101, "every investigation stored");
}

fn file_event(slack: &FakeSlack, name: &str, filetype: &str, bytes: Vec<u8>, ts: &str) -> Value {
    let size = bytes.len();
    let url = slack.share_file(name, bytes);
    json!({"type": "app_mention", "channel": CHANNEL, "user": "U0SRE", "text": "<@U0BOT> check", "ts": ts,
           "files": [{"id": "F0SHARED", "name": name, "filetype": filetype, "size": size, "url_private": url}]})
}

#[tokio::test]
async fn a_csv_shared_with_a_mention_is_investigated_and_bad_files_are_refused() {
    let (slack, api) = FakeSlack::start().await;
    let bot = Bot::start("files", &api);
    let csv = std::fs::read(format!(
        "{}/examples/memory_leak.csv",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    bot.event(
        "EvFile",
        file_event(&slack, "heap.csv", "csv", csv, "1700000200.000001"),
    )
    .await;
    let posts = slack.wait_for("chat.postMessage", 1, 10).await;
    assert_eq!(posts[0].body["thread_ts"], "1700000200.000001");
    assert!(
        posts[0].body["text"]
            .as_str()
            .unwrap()
            .contains("anomaly in heap"),
        "{}",
        posts[0].body
    );
    assert!(posts[0].body["blocks"].is_array());

    bot.event(
        "EvPng",
        file_event(
            &slack,
            "screenshot.png",
            "png",
            vec![0x89, b'P', b'N', b'G'],
            "1700000201.000001",
        ),
    )
    .await;
    let posts = slack.wait_for("chat.postMessage", 2, 10).await;
    assert!(
        posts[1].body["text"]
            .as_str()
            .unwrap()
            .contains("I can only investigate CSV"),
        "{}",
        posts[1].body
    );

    let huge = vec![b'1'; 200_001];
    bot.event(
        "EvHuge",
        file_event(&slack, "huge.csv", "csv", huge, "1700000202.000001"),
    )
    .await;
    let posts = slack.wait_for("chat.postMessage", 3, 10).await;
    assert!(
        posts[2].body["text"]
            .as_str()
            .unwrap()
            .contains("larger than the 200000-byte limit"),
        "{}",
        posts[2].body
    );

    let mut lying = file_event(
        &slack,
        "lying.csv",
        "csv",
        vec![b'1'; 200_001],
        "1700000203.000001",
    );
    lying["files"][0]["size"] = json!(10);
    bot.event("EvLying", lying).await;
    let posts = slack.wait_for("chat.postMessage", 4, 10).await;
    assert!(
        posts[3].body["text"]
            .as_str()
            .unwrap()
            .contains("larger than the 200000-byte limit"),
        "the limit holds while streaming: {}",
        posts[3].body
    );

    let mut foreign = file_event(
        &slack,
        "evil.csv",
        "csv",
        b"timestamp,value".to_vec(),
        "1700000204.000001",
    );
    foreign["files"][0]["url_private"] = json!("http://198.51.100.7/evil.csv");
    bot.event("EvForeign", foreign).await;
    let posts = slack.wait_for("chat.postMessage", 5, 10).await;
    assert!(
        posts[4].body["text"]
            .as_str()
            .unwrap()
            .contains("refusing to download from 198.51.100.7"),
        "{}",
        posts[4].body
    );
    assert_eq!(
        posts.iter().filter(|p| p.body["blocks"].is_array()).count(),
        1,
        "one verdict, four refusals"
    );
}

#[tokio::test]
async fn a_bare_check_uses_the_csv_just_shared_by_the_same_person() {
    let (slack, api) = FakeSlack::start().await;
    let bot = Bot::start("recent", &api);
    let nothing: Value = bot.slash("check").await.json().await.unwrap();
    assert!(
        nothing["text"].as_str().unwrap().starts_with("Share a CSV"),
        "{nothing}"
    );

    let csv = std::fs::read(format!(
        "{}/examples/disk_io_spike.csv",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut shared = file_event(&slack, "disk.csv", "csv", csv, "1700000300.000001");
    shared["type"] = json!("message");
    shared["text"] = json!("here's the export");
    bot.event("EvShared", shared).await;

    // The share is taken in the background: ask until the bot has seen it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let ack = loop {
        let ack: Value = bot.slash("check").await.json().await.unwrap();
        if ack["text"] != nothing["text"] || std::time::Instant::now() > deadline {
            break ack;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(ack["text"], "Investigating `disk.csv`…");
    let posts = slack.wait_for("chat.postMessage", 1, 10).await;
    assert_eq!(posts.len(), 1, "sharing alone triggered nothing");
    assert!(
        posts[0].body["text"]
            .as_str()
            .unwrap()
            .contains("anomaly in disk"),
        "{}",
        posts[0].body
    );
}

#[tokio::test]
async fn the_verdict_buttons_record_feedback_and_explain() {
    let (slack, api) = FakeSlack::start().await;
    let bot = Bot::start_with(
        "buttons",
        &api,
        &[
            ("ANOMALY_HUNTER_PUBLIC_URL", "https://bot.example"),
            ("ANOMALY_HUNTER_API_TOKEN", "slack-test-api-token"),
        ],
    );
    bot.slash("check api_latency").await;
    let posts = slack.wait_for("chat.postMessage", 1, 10).await;
    let blocks = posts[0].body["blocks"].as_array().unwrap();
    let investigation = blocks.last().unwrap()["elements"][0]["value"]
        .as_str()
        .unwrap()
        .to_string();

    // The verdict links to its page, with a signature that opens it.
    let page = format!("https://bot.example/investigations/{investigation}?sig=");
    let link = blocks
        .iter()
        .filter_map(|b| b["elements"][0]["text"].as_str())
        .find_map(|text| text.split_once(&page).map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no link to the page in {blocks:?}"));
    let sig = link.split('|').next().unwrap();
    let opened = bot
        .http
        .get(format!(
            "{}/investigations/{investigation}?sig={sig}",
            bot.serve.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 200, "the posted link opens the page");
    let press = |action: &str| {
        let payload = button_press(
            action,
            &investigation,
            CHANNEL,
            "U0SRE",
            "1700000000.000001",
        );
        serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap()
    };
    let pressed = bot
        .post_signed(
            "/slack/interactions",
            "application/x-www-form-urlencoded",
            press("confirm"),
            0,
            SECRET,
        )
        .await;
    assert_eq!(pressed.status(), 200);
    let replies = slack.wait_for("chat.postMessage", 2, 10).await;
    assert_eq!(replies[1].body["thread_ts"], "1700000000.000001");
    assert!(
        replies[1].body["text"]
            .as_str()
            .unwrap()
            .contains("recorded as confirmed"),
        "{}",
        replies[1].body
    );
    bot.post_signed(
        "/slack/interactions",
        "application/x-www-form-urlencoded",
        press("explain"),
        0,
        SECRET,
    )
    .await;
    let replies = slack.wait_for("chat.postMessage", 3, 10).await;
    assert!(
        replies[2].body["text"]
            .as_str()
            .unwrap()
            .contains("*Pattern Analyst*"),
        "{}",
        replies[2].body
    );
    assert_eq!(bot.stats()["confirmed"], 1);
    let forged = bot
        .post_signed(
            "/slack/interactions",
            "application/x-www-form-urlencoded",
            press("false_positive"),
            0,
            "nope",
        )
        .await;
    assert_eq!(forged.status(), 401);
}

#[tokio::test]
async fn the_same_command_over_socket_mode_and_a_reconnect() {
    let (slack, api) = FakeSlack::start().await;
    let bot = Bot::start_socket_mode("socket", &api);
    let health = bot.health().await;
    assert_eq!(health["integrations"]["slack_mode"], "socket");
    assert_eq!(
        slack.wait_for_connections(1, 10).await,
        1,
        "the bot connects"
    );

    let command = |id: &str| {
        json!({"envelope_id": id, "type": "slash_commands", "accepts_response_payload": true,
        "payload": command_payload("check api_latency", CHANNEL, "U0SRE")})
    };
    slack.push_envelope(command("env-1"));
    let ack = slack.wait_for_ack("env-1", 10).await.expect("acknowledged");
    assert_eq!(ack["payload"]["text"], "Investigating `api_latency`…");
    let posts = slack.wait_for("chat.postMessage", 1, 10).await;
    assert!(posts[0].body["blocks"].is_array(), "a verdict");

    // Slack asks the client to reconnect; the next command works on the new connection.
    slack.push_envelope(json!({"type": "disconnect", "reason": "refresh_requested"}));
    assert_eq!(
        slack.wait_for_connections(2, 15).await,
        2,
        "the bot reconnects"
    );
    slack.push_envelope(command("env-2"));
    assert!(slack.wait_for_ack("env-2", 10).await.is_some());
    assert_eq!(slack.wait_for("chat.postMessage", 2, 10).await.len(), 2);

    // Over Socket Mode the HTTP endpoints are not served: there is no secret to check them with.
    let http = bot
        .http
        .post(format!("{}/slack/commands", bot.url))
        .body("text=check")
        .send()
        .await
        .unwrap();
    assert_eq!(http.status(), 404);
}
