//! End to end: the real `anomaly-hunter serve` process against a local fake Discord — its REST
//! API and a gateway websocket speaking Discord's opcodes — over loopback, through serenity.

mod support;

use serde_json::{json, Value};
use support::fake_discord::{
    Call, FakeDiscord, APPLICATION_ID, CHANNEL_ID, EXPECTED_INTENTS, GUILD_ID, TOKEN,
};
use support::fake_elevenlabs::{self, FakeElevenLabs};
use support::serve::ServeProcess;

/// PNG files start with these bytes.
const PNG_MAGIC: &[u8] = b"\x89PNG";

/// Starts `serve` with Discord on, and waits until it has identified on the fake gateway.
async fn bot(test: &str, discord: &FakeDiscord, base: &str) -> ServeProcess {
    bot_with(test, discord, base, &[]).await
}

/// A connected bot with extra settings.
async fn bot_with(
    test: &str,
    discord: &FakeDiscord,
    base: &str,
    env: &[(&str, &str)],
) -> ServeProcess {
    let serve = serve_with_token(test, base, TOKEN, env);
    assert!(
        discord.wait_connected(1, 0, 30).await,
        "the bot never identified on the gateway; log:\n{}",
        serve.log()
    );
    serve
}

fn serve_with_token(test: &str, base: &str, token: &str, env: &[(&str, &str)]) -> ServeProcess {
    let guild = GUILD_ID.to_string();
    let mut settings = vec![
        ("DISCORD_TOKEN", token),
        ("DISCORD_API_URL", base),
        ("DISCORD_GUILD_ID", guild.as_str()),
    ];
    settings.extend_from_slice(env);
    ServeProcess::start(&format!("discord-{test}"), &settings)
}

fn is_thread_start(path: &str) -> bool {
    path.starts_with(&format!("/channels/{CHANNEL_ID}/messages/")) && path.ends_with("/threads")
}

/// The message the thread was started from: `/channels/C/messages/M/threads` → M.
fn thread_of(call: &Call) -> String {
    call.path.split('/').nth(4).unwrap().to_string()
}

fn posted_in(channel: &str) -> impl Fn(&str) -> bool + '_ {
    move |path| path == format!("/channels/{channel}/messages")
}

fn content(call: &Call) -> String {
    call.body["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Sends `!check_anomaly …` and returns the thread the verdict (or error) went into, with the
/// messages posted there.
async fn command_in_thread(
    discord: &FakeDiscord,
    text: &str,
    attachments: Vec<Value>,
    expected_posts: usize,
) -> (String, Vec<Call>) {
    let before = discord.wait_for("POST", is_thread_start, 0, 0).await.len();
    let command = discord.user_message(CHANNEL_ID, text, attachments);
    discord.dispatch("MESSAGE_CREATE", command.clone());
    let threads = discord
        .wait_for("POST", is_thread_start, before + 1, 20)
        .await;
    assert_eq!(threads.len(), before + 1, "no thread for {text}");
    let thread = thread_of(threads.last().unwrap());
    assert_eq!(
        thread,
        command["id"].as_str().unwrap(),
        "started from the command message"
    );
    let posts = discord
        .wait_for("POST", posted_in(&thread), expected_posts, 20)
        .await;
    (thread, posts)
}

/// The edit of a deferred `/anomaly` response (the answer), once it arrives.
async fn slash_answer(discord: &FakeDiscord, token: &str) -> String {
    let edits = discord
        .wait_for(
            "PATCH",
            |p| p == format!("/webhooks/{APPLICATION_ID}/{token}/messages/@original"),
            1,
            20,
        )
        .await;
    assert_eq!(
        edits.len(),
        1,
        "the deferred response is edited with the answer"
    );
    content(&edits[0])
}

fn verdict_investigation(post: &Call) -> String {
    let footer = post.body["embeds"][0]["footer"]["text"].as_str().unwrap();
    footer.trim_start_matches("investigation ").to_string()
}

#[tokio::test]
async fn a_message_command_gets_a_thread_with_the_verdict_embed_and_chart() {
    let (discord, base) = FakeDiscord::start().await;
    let bot = bot("message", &discord, &base).await;

    let identify = &discord.identifies()[0];
    assert_eq!(
        identify["intents"], EXPECTED_INTENTS,
        "guild messages, DMs, message content"
    );
    let registered = discord
        .wait_for(
            "PUT",
            |p| p == format!("/applications/{APPLICATION_ID}/guilds/{GUILD_ID}/commands"),
            1,
            10,
        )
        .await;
    assert_eq!(
        registered[0].body[0]["name"], "anomaly",
        "/anomaly registered in the guild"
    );
    let health = bot.health().await;
    assert_eq!(health["integrations"]["discord"], true);
    assert_eq!(
        health["integrations"]["discord_gateway"], "connected",
        "{health}"
    );

    discord.rate_limit_next(1);
    let (thread, posts) =
        command_in_thread(&discord, "!check_anomaly api_latency", vec![], 1).await;
    let verdict = &posts[0];
    let embed = &verdict.body["embeds"][0];
    assert!(
        embed["title"].as_str().unwrap().contains("api_latency"),
        "{embed}"
    );
    assert!(embed["color"].as_u64().unwrap() > 0);
    let fields: Vec<&str> = embed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        fields.iter().any(|f| f.starts_with("Pattern Analyst")),
        "{fields:?}"
    );
    assert!(
        fields.iter().any(|f| f.starts_with("Change Detective")),
        "{fields:?}"
    );
    assert!(
        fields.iter().any(|f| f.starts_with("Root Cause Agent")),
        "{fields:?}"
    );
    assert!(fields.contains(&"Hypothesis"), "{fields:?}");
    let (field, file_name, png) = &verdict.files[0];
    assert_eq!(field, "files[0]");
    assert!(png.starts_with(PNG_MAGIC), "the chart is a PNG");
    assert_eq!(
        embed["image"]["url"],
        format!("attachment://{file_name}"),
        "the embed shows the chart"
    );
    let buttons = verdict.body["components"][0]["components"]
        .as_array()
        .unwrap();
    let investigation = verdict_investigation(verdict);
    assert_eq!(
        buttons[1]["custom_id"],
        format!("false_positive:{investigation}")
    );

    let calls = discord.calls();
    let position = |wanted: &dyn Fn(&Call) -> bool| calls.iter().position(wanted).unwrap();
    let reaction = position(&|c| c.method == "PUT" && c.path.contains("/reactions/"));
    let typing = position(&|c| c.path == format!("/channels/{CHANNEL_ID}/typing"));
    let started = position(&|c| is_thread_start(&c.path));
    assert!(
        reaction < started && typing < started,
        "the command is acknowledged before the answer"
    );
    assert_eq!(
        discord.rate_limited(),
        1,
        "the fake rate-limited one post; serenity waited and retried"
    );
    assert_eq!(posts.len(), 1, "posted once despite the 429");
    assert!(!thread.is_empty());
}

#[tokio::test]
async fn a_csv_attachment_is_investigated_and_other_files_are_refused() {
    let (discord, base) = FakeDiscord::start().await;
    let _bot = bot("files", &discord, &base).await;
    let csv = std::fs::read(format!(
        "{}/examples/memory_leak.csv",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();

    let file = discord.attachment("checkout_memory.csv", "text/csv; charset=utf-8", csv);
    let (_, posts) = command_in_thread(&discord, "!check_anomaly", vec![file], 1).await;
    let title = posts[0].body["embeds"][0]["title"].as_str().unwrap();
    assert!(
        title.contains("checkout_memory"),
        "metric named after the file: {title}"
    );
    assert!(posts[0].files[0].2.starts_with(PNG_MAGIC));

    let picture = discord.attachment("graph.png", "image/png", PNG_MAGIC.to_vec());
    let mut huge = discord.attachment("huge.csv", "text/csv", vec![b'1'; 10]);
    huge["size"] = json!(5_000_000);
    // Declares 1 kB, sends 300 kB: the limit must hold while streaming.
    let mut lying = discord.attachment("lying.csv", "text/csv", vec![b'1'; 300_000]);
    lying["size"] = json!(1_000);
    let mut foreign = discord.attachment("elsewhere.csv", "text/csv", vec![b'1'; 10]);
    foreign["url"] = json!("http://127.0.0.2:9/elsewhere.csv");
    let refusals = [
        (
            picture,
            "`graph.png` is a image/png file; I can only investigate CSV",
        ),
        (huge, "larger than the 200000-byte limit"),
        (lying, "larger than the 200000-byte limit"),
        (foreign, "refusing to download from 127.0.0.2"),
    ];
    for (file, expected) in refusals {
        let (_, posts) = command_in_thread(&discord, "!check_anomaly", vec![file], 1).await;
        let said = content(&posts[0]);
        assert!(said.contains(expected), "expected “{expected}”: {said}");
    }

    let (_, posts) = command_in_thread(&discord, "!check_anomaly no_such_metric", vec![], 1).await;
    assert!(
        content(&posts[0]).starts_with("⚠️ Could not investigate `no_such_metric`"),
        "a readable error in the thread: {}",
        content(&posts[0])
    );
}

#[tokio::test]
async fn the_slash_command_is_deferred_then_answered() {
    let (discord, base) = FakeDiscord::start().await;
    let _bot = bot_with(
        "slash",
        &discord,
        &base,
        &[("ANOMALY_HUNTER_PUBLIC_URL", "https://bot.example/")],
    )
    .await;

    let token = discord.slash_command(
        "check",
        vec![json!({"name": "metric", "type": 3, "value": "api_latency"})],
        vec![],
    );
    let answer = slash_answer(&discord, &token).await;
    assert!(answer.contains("api_latency"), "{answer}");
    let calls = discord.calls();
    let deferral = calls
        .iter()
        .position(|c| c.path.starts_with("/interactions/") && c.path.contains(&token))
        .expect("deferred");
    assert_eq!(
        calls[deferral].body["type"], 5,
        "DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE"
    );
    let edit = calls.iter().position(|c| c.method == "PATCH").unwrap();
    assert!(deferral < edit);

    let threads = discord.wait_for("POST", is_thread_start, 1, 20).await;
    let thread = thread_of(&threads[0]);
    let posts = discord.wait_for("POST", posted_in(&thread), 1, 20).await;
    let embed = &posts[0].body["embeds"][0];
    assert!(embed["title"].as_str().unwrap().contains("api_latency"));
    assert!(posts[0].files[0].2.starts_with(PNG_MAGIC));
    let id = embed["footer"]["text"]
        .as_str()
        .unwrap()
        .trim_start_matches("investigation ");
    assert_eq!(
        embed["url"],
        format!("https://bot.example/investigations/{id}"),
        "the title links to the page (no token: an unsigned link)"
    );

    let csv = std::fs::read(format!(
        "{}/examples/cpu_throttling.csv",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let file = discord.attachment("node_cpu.csv", "text/csv", csv);
    let file_id = file["id"].as_str().unwrap().to_string();
    let token = discord.slash_command(
        "check",
        vec![
            json!({"name": "file", "type": 11, "value": file_id}),
            json!({"name": "metric", "type": 3, "value": "web_cpu"}),
        ],
        vec![file],
    );
    let answer = slash_answer(&discord, &token).await;
    assert!(
        answer.contains("web_cpu"),
        "the attachment, named by the metric option: {answer}"
    );

    let token = discord.slash_command("stats", vec![], vec![]);
    let answer = slash_answer(&discord, &token).await;
    assert!(answer.contains("investigations"), "{answer}");
}

#[tokio::test]
async fn feedback_in_the_thread_is_stored_and_shared_with_stats() {
    let (discord, base) = FakeDiscord::start().await;
    let bot = bot("feedback", &discord, &base).await;
    let (thread, posts) =
        command_in_thread(&discord, "!check_anomaly api_latency", vec![], 1).await;
    let thread_id: u64 = thread.parse().unwrap();

    discord.dispatch(
        "MESSAGE_CREATE",
        // Behind a zero-width space, as some clients paste it: the keyword is still read.
        discord.user_message(thread_id, "\u{200b}false positive", vec![]),
    );
    let replies = discord.wait_for("POST", posted_in(&thread), 2, 20).await;
    assert!(
        content(&replies[1]).contains("Recorded as a false positive"),
        "{}",
        content(&replies[1])
    );
    let stats = bot.stats();
    assert_eq!(stats["false_positives"], 1, "{stats}");

    discord.dispatch(
        "MESSAGE_CREATE",
        discord.user_message(thread_id, "we were all in the war room", vec![]),
    );
    discord.dispatch(
        "MESSAGE_CREATE",
        discord.user_message(thread_id, "explain change detective", vec![]),
    );
    let replies = discord.wait_for("POST", posted_in(&thread), 3, 20).await;
    assert!(
        content(&replies[2]).contains("Change Detective"),
        "{}",
        content(&replies[2])
    );
    assert_eq!(replies.len(), 3, "small talk between people gets no answer");

    let investigation = verdict_investigation(&posts[0]);
    let verdict_message = json!({"id": "1", "channel_id": thread, "author": {"id": "2", "username": "anomaly-hunter", "bot": true},
        "content": "", "timestamp": "2026-11-24T12:00:00.000000+00:00", "tts": false, "mention_everyone": false,
        "mentions": [], "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "type": 0});
    let token = discord.press_button(&verdict_message, &format!("explain:{investigation}"));
    let answers = discord
        .wait_for(
            "POST",
            |p| p.starts_with("/interactions/") && p.contains(&token),
            1,
            20,
        )
        .await;
    assert_eq!(answers[0].body["type"], 4, "answered with a message");
    assert!(answers[0].body["data"]["content"]
        .as_str()
        .unwrap()
        .contains("Pattern Analyst"));

    discord.dispatch(
        "MESSAGE_CREATE",
        discord.user_message(CHANNEL_ID, "!check_anomaly history api_latency", vec![]),
    );
    let history = discord
        .wait_for("POST", posted_in(&CHANNEL_ID.to_string()), 1, 20)
        .await;
    assert!(
        content(&history[0]).contains("false positive"),
        "history shows the feedback: {}",
        content(&history[0])
    );
    for (text, expected) in [
        (
            "!check_anomaly help",
            "type the commands below after `!check_anomaly`",
        ),
        ("!check_anomaly api_latency last fortnight", "⚠️"),
    ] {
        let before = discord
            .wait_for("POST", posted_in(&CHANNEL_ID.to_string()), 0, 0)
            .await
            .len();
        discord.dispatch(
            "MESSAGE_CREATE",
            discord.user_message(CHANNEL_ID, text, vec![]),
        );
        let answers = discord
            .wait_for("POST", posted_in(&CHANNEL_ID.to_string()), before + 1, 20)
            .await;
        let said = content(&answers[before]);
        assert!(said.contains(expected), "{text}: {said}");
        assert!(
            answers[before].body["message_reference"]["message_id"].is_string(),
            "a reply to the command"
        );
    }

    discord.dispatch(
        "MESSAGE_CREATE",
        discord.user_message(thread_id, "rerun", vec![]),
    );
    let replies = discord.wait_for("POST", posted_in(&thread), 4, 20).await;
    let rerun = &replies[3];
    assert!(
        rerun.body["embeds"][0]["title"]
            .as_str()
            .unwrap()
            .contains("api_latency"),
        "a fresh verdict in the thread"
    );
    assert_ne!(
        verdict_investigation(rerun),
        investigation,
        "a new investigation"
    );
    assert_eq!(bot.stats()["investigations"], 2, "{}", bot.stats());
}

#[tokio::test]
async fn a_direct_message_is_answered_in_the_conversation() {
    let (discord, base) = FakeDiscord::start().await;
    let _bot = bot("dm", &discord, &base).await;
    let dm: u64 = 42;
    let mut command = discord.user_message(dm, "!check_anomaly api_latency", vec![]);
    command.as_object_mut().unwrap().remove("guild_id");
    discord.dispatch("MESSAGE_CREATE", command);
    let posts = discord.wait_for("POST", posted_in("42"), 1, 20).await;
    assert!(
        posts[0].body["embeds"][0]["title"]
            .as_str()
            .unwrap()
            .contains("api_latency"),
        "the verdict, in the DM"
    );
    assert!(
        discord
            .wait_for("POST", |p| p.ends_with("/threads"), 0, 0)
            .await
            .is_empty(),
        "no threads in DMs"
    );

    let mut reply = discord.user_message(dm, "confirm: connection pool exhausted", vec![]);
    reply.as_object_mut().unwrap().remove("guild_id");
    discord.dispatch("MESSAGE_CREATE", reply);
    let posts = discord.wait_for("POST", posted_in("42"), 2, 20).await;
    assert!(
        content(&posts[1]).contains("recorded as confirmed"),
        "{}",
        content(&posts[1])
    );
}

#[tokio::test]
async fn a_dropped_gateway_is_resumed_without_losing_or_repeating_a_command() {
    let (discord, base) = FakeDiscord::start().await;
    // Without DISCORD_GUILD_ID, `/anomaly` is registered globally.
    let bot = ServeProcess::start(
        "discord-resume",
        &[("DISCORD_TOKEN", TOKEN), ("DISCORD_API_URL", &base)],
    );
    assert!(
        discord.wait_connected(1, 0, 30).await,
        "log:\n{}",
        bot.log()
    );
    let registered = discord
        .wait_for(
            "PUT",
            |p| p == format!("/applications/{APPLICATION_ID}/commands"),
            1,
            10,
        )
        .await;
    assert_eq!(registered.len(), 1, "registered globally");

    discord.drop_gateway();
    // Sent while the bot is disconnected: Discord replays it after the RESUME.
    let missed = discord.user_message(CHANNEL_ID, "!check_anomaly api_latency", vec![]);
    discord.dispatch("MESSAGE_CREATE", missed.clone());
    assert!(
        discord.wait_connected(1, 1, 30).await,
        "the bot did not resume; log:\n{}",
        bot.log()
    );
    assert_eq!(
        discord.identifies().len(),
        1,
        "resumed the session, not a new one"
    );
    let resume = &discord.resumes()[0];
    assert_eq!(resume["session_id"], "fake-session-1");
    assert_eq!(resume["token"], format!("Bot {TOKEN}"));

    let threads = discord.wait_for("POST", is_thread_start, 1, 20).await;
    assert_eq!(
        thread_of(&threads[0]),
        missed["id"].as_str().unwrap(),
        "the missed command ran"
    );

    let (_, posts) =
        command_in_thread(&discord, "!check_anomaly api_latency last 12h", vec![], 1).await;
    assert!(posts[0].body["embeds"][0]["title"]
        .as_str()
        .unwrap()
        .contains("api_latency"));

    // A replay of an already-handled message (as after a second resume) runs nothing.
    discord.dispatch("MESSAGE_CREATE", missed);
    // A new command after it gets its thread; by then the replay would have had one.
    let next = discord.user_message(CHANNEL_ID, "!check_anomaly api_latency", vec![]);
    discord.dispatch("MESSAGE_CREATE", next);
    let threads = discord.wait_for("POST", is_thread_start, 3, 20).await;
    assert_eq!(threads.len(), 3, "each command ran once");
    assert!(
        discord.wait_for_heartbeats(2, 10).await >= 2,
        "heartbeats were sent and acknowledged"
    );
    assert_eq!(discord.identifies().len(), 1, "the session lasted");
}

#[tokio::test]
async fn a_rejected_token_is_reported_and_http_keeps_serving() {
    let (_discord, base) = FakeDiscord::start().await;
    let bot = serve_with_token("badtoken", &base, "not-the-token", &[]);
    let mut log = String::new();
    for _ in 0..100 {
        log = bot.log();
        if log.contains("Discord refused the bot") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(log.contains("check DISCORD_TOKEN"), "{log}");
    let health = bot.health().await;
    assert_eq!(health["status"], "ok", "the rest of the bot stays up");
    assert_eq!(
        health["integrations"]["discord_gateway"], "refused",
        "{health}"
    );
    let metrics = bot.metrics().await;
    assert!(
        metrics.contains("anomaly_hunter_errors_total{component=\"anomaly_hunter::discord\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn fifty_commands_at_once_each_get_one_thread() {
    let (discord, base) = FakeDiscord::start().await;
    let bot = bot("load", &discord, &base).await;
    let started = std::time::Instant::now();
    for _ in 0..50 {
        discord.dispatch(
            "MESSAGE_CREATE",
            discord.user_message(CHANNEL_ID, "!check_anomaly api_latency", vec![]),
        );
    }
    let threads = discord.wait_for("POST", is_thread_start, 50, 60).await;
    assert_eq!(threads.len(), 50, "log:\n{}", bot.log());
    let verdicts = discord
        .wait_for(
            "POST",
            |p| p.ends_with("/messages") && !p.contains(&CHANNEL_ID.to_string()),
            50,
            60,
        )
        .await;
    assert_eq!(verdicts.len(), 50, "one verdict per thread");
    assert_eq!(bot.stats()["investigations"], 50);
    println!("50 Discord commands answered in {:?}", started.elapsed());
    let metrics = bot.metrics().await;
    for line in [
        "anomaly_hunter_chat_commands_total{platform=\"discord\",command=\"check\"} 50",
        "anomaly_hunter_investigations_total{result=\"anomalous\"} 50",
        "anomaly_hunter_investigation_duration_seconds_count 50",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    assert!(
        !metrics.contains("anomaly_hunter_event_backlog"),
        "no events configured"
    );
}

/// The verdict thread for `api_latency` (severity 9, confidence 1.0) and what was posted in it:
/// the verdict, then a voice alert if one comes within `seconds`.
async fn api_latency_thread(discord: &FakeDiscord, seconds: u64) -> Vec<Call> {
    let (thread, posts) = command_in_thread(discord, "!check_anomaly api_latency", vec![], 1).await;
    assert!(
        posts[0].body["embeds"][0].is_object(),
        "the verdict comes first"
    );
    discord
        .wait_for("POST", posted_in(&thread), 2, seconds)
        .await
}

#[tokio::test]
async fn a_critical_verdict_gets_an_elevenlabs_voice_alert_in_its_thread() {
    let (discord, base) = FakeDiscord::start().await;
    let (elevenlabs, elevenlabs_url) = FakeElevenLabs::start().await;
    let _bot = bot_with(
        "voice-elevenlabs",
        &discord,
        &base,
        &[
            ("VOICE_MIN_SEVERITY", "8"),
            ("ELEVENLABS_API_KEY", fake_elevenlabs::API_KEY),
            ("ELEVENLABS_API_URL", &elevenlabs_url),
            ("ELEVENLABS_VOICE_ID", "voice-123"),
        ],
    )
    .await;
    let posts = api_latency_thread(&discord, 20).await;
    assert_eq!(posts.len(), 2, "verdict, then the voice alert");
    let (_, name, audio) = &posts[1].files[0];
    assert_eq!(name, "api_latency-alert.mp3");
    assert_eq!(
        audio.as_slice(),
        fake_elevenlabs::CLIP,
        "the clip ElevenLabs returned"
    );

    let requests = elevenlabs.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.voice_id, "voice-123");
    assert_eq!(request.api_key.as_deref(), Some(fake_elevenlabs::API_KEY));
    assert_eq!(request.accept.as_deref(), Some("audio/mpeg"));
    let text = request.body["text"].as_str().unwrap();
    assert!(
        text.starts_with("Critical anomaly in api latency: ")
            && text.ends_with(" suspected, at least 99 percent confidence"),
        "{text}"
    );
    assert_eq!(request.body["model_id"], "eleven_multilingual_v2");
}

#[cfg_attr(
    not(test_espeak),
    ignore = "needs espeak-ng (apt-get install espeak-ng)"
)]
#[tokio::test]
async fn without_a_key_espeak_ng_speaks_a_playable_wav() {
    if !support::espeak_ng("without_a_key_espeak_ng_speaks_a_playable_wav") {
        return;
    }
    let (discord, base) = FakeDiscord::start().await;
    let _bot = bot_with(
        "voice-espeak",
        &discord,
        &base,
        &[("VOICE_MIN_SEVERITY", "8")],
    )
    .await;
    let posts = api_latency_thread(&discord, 20).await;
    assert_eq!(posts.len(), 2, "verdict, then the voice alert");
    let (_, name, wav) = &posts[1].files[0];
    assert_eq!(name, "api_latency-alert.wav");
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(&wav[8..12], b"WAVE");
    let riff_size = u32::from_le_bytes(wav[4..8].try_into().unwrap()) as usize;
    assert_eq!(riff_size, wav.len() - 8, "the header carries the real size");
    let data = wav
        .windows(4)
        .position(|w| w == b"data")
        .expect("a data chunk");
    let samples = u32::from_le_bytes(wav[data + 4..data + 8].try_into().unwrap());
    assert!(
        samples > 16_000,
        "about a second or more of speech, got {samples} bytes"
    );
}

#[tokio::test]
async fn below_the_thresholds_or_when_synthesis_fails_the_verdict_stands_alone() {
    let (discord, base) = FakeDiscord::start().await;
    let (elevenlabs, elevenlabs_url) = FakeElevenLabs::start().await;
    let quiet = bot_with(
        "voice-quiet",
        &discord,
        &base,
        &[
            ("VOICE_MIN_SEVERITY", "10"),
            ("ELEVENLABS_API_KEY", fake_elevenlabs::API_KEY),
            ("ELEVENLABS_API_URL", &elevenlabs_url),
        ],
    )
    .await;
    let posts = api_latency_thread(&discord, 4).await;
    assert_eq!(posts.len(), 1, "severity 9 < 10: no audio");
    assert!(elevenlabs.requests().is_empty(), "nothing synthesised");
    drop(quiet);

    let (discord, base) = FakeDiscord::start().await;
    let failing = bot_with(
        "voice-failing",
        &discord,
        &base,
        &[
            ("VOICE_MIN_SEVERITY", "8"),
            ("ELEVENLABS_API_KEY", "a-revoked-key"),
            ("ELEVENLABS_API_URL", &elevenlabs_url),
        ],
    )
    .await;
    let posts = api_latency_thread(&discord, 4).await;
    assert_eq!(posts.len(), 1, "a refused synthesis posts nothing");
    assert_eq!(elevenlabs.requests().len(), 1, "it was tried");
    let log = failing.log();
    assert!(
        log.contains("no voice alert") && log.contains("401"),
        "{log}"
    );
    assert!(!log.contains("a-revoked-key"), "the key is never logged");
}
