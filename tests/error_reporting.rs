//! Sentry: the real `serve` with `SENTRY_DSN` pointing at a local fake ingest endpoint sends
//! its errors and its serious verdicts (tagged), and never a token or key.

mod support;

use support::fake_discord::{FakeDiscord, CHANNEL_ID, TOKEN};
use support::fake_sentry::FakeSentry;
use support::serve::ServeProcess;

const REFUSED_TOKEN: &str = "refused-discord-token-0123456789";
const ELEVENLABS_KEY: &str = "elevenlabs-secret-key-0123456789";
const MODEL_KEY: &str = "sk-model-secret-key-0123456789";

fn serve(test: &str, dsn: &str, discord_url: &str, token: &str) -> ServeProcess {
    ServeProcess::start(
        test,
        &[
            ("SENTRY_DSN", dsn),
            ("DISCORD_TOKEN", token),
            ("DISCORD_API_URL", discord_url),
            ("ELEVENLABS_API_KEY", ELEVENLABS_KEY),
            // A model that cannot be reached: its failure is logged, its key never sent.
            ("LLM_MODEL", "gpt-test"),
            ("LLM_BASE_URL", "http://127.0.0.1:9/v1"),
            ("LLM_API_KEY", MODEL_KEY),
        ],
    )
}

/// An event's level; Sentry leaves out the default, `error`.
fn level(event: &serde_json::Value) -> &str {
    event["level"].as_str().unwrap_or("error")
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_and_serious_verdicts_reach_sentry_without_secrets() {
    let (sentry, dsn) = FakeSentry::start().await;

    // An error: Discord refuses the token.
    let (_refusing, refusing_url) = FakeDiscord::start().await;
    let refused = serve("sentry-error", &dsn, &refusing_url, REFUSED_TOKEN);
    let error = sentry
        .wait_for_event(
            |e| level(e) == "error" && e.to_string().contains("Discord refused the bot"),
            30,
        )
        .await;
    assert!(
        error.is_some(),
        "the error reached Sentry; it received {:?}",
        sentry.envelopes()
    );
    drop(refused);

    // A verdict of severity 9.
    let (discord, discord_url) = FakeDiscord::start().await;
    let bot = serve("sentry-verdict", &dsn, &discord_url, TOKEN);
    assert!(discord.wait_connected(1, 0, 30).await, "{}", bot.log());
    discord.dispatch(
        "MESSAGE_CREATE",
        discord.user_message(CHANNEL_ID, "!check_anomaly api_latency", vec![]),
    );
    let verdict = sentry
        .wait_for_event(|e| e["tags"]["metric"] == "api_latency", 30)
        .await
        .unwrap_or_else(|| panic!("no verdict event; log:\n{}", bot.log()));
    assert_eq!(verdict["tags"]["severity"], "9");
    assert!(verdict["tags"]["pattern"]
        .as_str()
        .is_some_and(|p| !p.is_empty()));
    assert!(verdict["tags"]["investigation_id"].as_str().is_some());
    assert_eq!(
        level(&verdict),
        "error",
        "severity 9 is an error-level event"
    );
    assert!(
        verdict["message"]
            .as_str()
            .unwrap_or_default()
            .contains("severity 9/10"),
        "{verdict}"
    );

    let envelopes = sentry.envelopes();
    assert!(envelopes.len() >= 2);
    for envelope in &envelopes {
        for secret in [TOKEN, REFUSED_TOKEN, ELEVENLABS_KEY, MODEL_KEY] {
            assert!(
                !envelope.contains(secret),
                "{secret} was sent to Sentry: {envelope}"
            );
        }
    }
}
