//! The optional language model, through the real HTTP client against a local fake of each wire
//! format (OpenAI-compatible, Azure, Anthropic, Ollama): what is sent, what is accepted, what
//! is rejected as not grounded, and how every failure leaves the statistics to speak alone.

mod support;

use std::time::Duration;

use anomaly_hunter::config::LlmSettings;
use anomaly_hunter::language_model::evidence::{Brief, Task};
use anomaly_hunter::language_model::grounding::Rejection;
use anomaly_hunter::language_model::guard::Skip;
use anomaly_hunter::language_model::{LanguageModel, ModelConfig, Outcome};
use engine::series::csv::{parse_csv, CsvOptions};
use serde_json::Value;
use support::fake_model::{FakeModel, Reply, API_KEY};

/// The demo database-latency incident, investigated: its verdict as stored, and its series.
fn incident() -> (Value, engine::series::Series) {
    let file = engine::synthetic::demo::demo_files()
        .into_iter()
        .find(|f| f.file_name.starts_with("db_query_latency"))
        .unwrap();
    let series = parse_csv(
        file.csv.into_bytes(),
        "db.csv",
        &CsvOptions::default(),
        None,
    )
    .unwrap();
    let verdict = engine::investigation::investigate(&series, &[], Default::default());
    assert!(verdict.anomalous);
    (serde_json::to_value(&verdict).unwrap(), series)
}

fn settings(provider: &str, base: &str) -> LlmSettings {
    LlmSettings {
        llm_model: Some("test-model".into()),
        llm_provider: provider.into(),
        llm_base_url: Some(base.into()),
        llm_api_key: Some(API_KEY.into()),
        llm_api_version: None,
        llm_timeout: 2_000,
        llm_daily_tokens: 0,
        llm_send_series: false,
    }
}

fn model(settings: &LlmSettings) -> LanguageModel {
    let config = ModelConfig::from_settings(settings).unwrap().unwrap();
    LanguageModel::new(config).unwrap()
}

#[tokio::test]
async fn each_wire_format_sends_the_evidence_and_asks_for_strict_json() {
    let (fake, base) = FakeModel::start().await;
    let (verdict, series) = incident();
    let brief = Brief::new(&Task::Summary, &verdict, &[]);
    let cases = [
        ("openai", format!("{base}/v1"), None),
        (
            "azure",
            format!("{base}/openai/deployments/prod-4o"),
            Some("2024-10-21"),
        ),
        ("anthropic", base.clone(), None),
        ("ollama", base.clone(), None),
    ];
    for (i, (name, url, api_version)) in cases.iter().enumerate() {
        let provider = if *name == "azure" { "openai" } else { name };
        let mut settings = settings(provider, url);
        settings.llm_api_version = api_version.map(str::to_string);
        let exchange = model(&settings).ask(&brief, "inv-1").await;
        let answer = match &exchange.outcome {
            Outcome::Accepted(answer) => answer.clone(),
            other => panic!("{name}: {other:?}"),
        };
        assert!(!answer.claims.is_empty() && answer.claims[0].evidence_ids[0].starts_with('E'));
        assert_eq!(
            (exchange.prompt_tokens, exchange.completion_tokens),
            (812, 96),
            "{name}"
        );

        let request = &fake.requests()[i];
        let body = &request.body;
        assert_eq!(body["model"], "test-model");
        match *name {
            "openai" => {
                assert_eq!(request.path, "/v1/chat/completions");
                assert_eq!(
                    request.header("authorization"),
                    Some(format!("Bearer {API_KEY}").as_str())
                );
                let format = &body["response_format"];
                assert_eq!(format["type"], "json_schema");
                assert_eq!(format["json_schema"]["strict"], true);
                assert_eq!(
                    format["json_schema"]["schema"]["additionalProperties"],
                    false
                );
                assert_eq!(body["messages"][0]["role"], "system");
            }
            "azure" => {
                assert_eq!(request.path, "/openai/deployments/prod-4o/chat/completions");
                assert_eq!(request.query.as_deref(), Some("api-version=2024-10-21"));
                assert_eq!(request.header("api-key"), Some(API_KEY));
                assert_eq!(
                    request.header("authorization"),
                    None,
                    "Azure takes the key in api-key"
                );
            }
            "anthropic" => {
                assert_eq!(request.path, "/v1/messages");
                assert_eq!(request.header("x-api-key"), Some(API_KEY));
                assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
                assert_eq!(
                    body["tool_choice"],
                    serde_json::json!({"type": "tool", "name": "grounded_answer"})
                );
                assert_eq!(body["tools"][0]["input_schema"]["required"][1], "claims");
                assert!(body["max_tokens"].as_u64().unwrap() > 0);
                assert!(body["system"].as_str().unwrap().contains("cite the ids"));
            }
            _ => {
                assert_eq!(request.path, "/api/chat");
                assert_eq!(body["stream"], false);
                assert_eq!(body["format"]["type"], "object");
            }
        }
        // What leaves: the evidence with ids, never the rows.
        let sent = request.brief();
        assert_eq!(sent["evidence"][0]["id"], "E1");
        assert_eq!(sent["verdict"]["metric"], verdict["metric"]);
        assert!(sent.get("series").is_none(), "{name}: no series by default");
        let text = body.to_string();
        let raw_values = series
            .values
            .iter()
            .filter(|v| text.contains(&format!("{v}")) && v.fract() != 0.0)
            .count();
        assert_eq!(raw_values, 0, "{name}: a raw value of the series was sent");
        assert!(
            text.len() < 20_000,
            "{name}: the request stays small ({} bytes)",
            text.len()
        );
    }

    // Only when the operator says so, and only downsampled.
    let mut with_series = settings("openai", &format!("{base}/v1"));
    with_series.llm_send_series = true;
    let model = model(&with_series);
    assert!(model.config().send_series);
    let brief =
        Brief::new(&Task::Summary, &verdict, &[]).with_series(&series.timestamps, &series.values);
    model.ask(&brief, "inv-1").await;
    let sent = fake.requests().last().unwrap().brief();
    let points = sent["series"]["values"].as_array().unwrap().len();
    assert!(
        points > 0 && points <= 120 && points < series.len(),
        "{points} points"
    );
}

#[tokio::test]
async fn answers_not_grounded_in_the_evidence_are_rejected() {
    let (fake, base) = FakeModel::start().await;
    let (verdict, _) = incident();
    let brief = Brief::new(&Task::Question("why?".into()), &verdict, &[]);
    for provider in ["openai", "anthropic", "ollama"] {
        let url = if provider == "openai" {
            format!("{base}/v1")
        } else {
            base.clone()
        };
        let model = model(&settings(provider, &url));
        fake.then(&[Reply::InventedNumber, Reply::UnknownId]);
        let invented = model.ask(&brief, "inv-1").await;
        assert_eq!(
            invented.outcome,
            Outcome::Rejected(Rejection::NumberNotInEvidence("4242".into())),
            "{provider}"
        );
        assert_eq!(
            invented.prompt_tokens, 812,
            "a rejected answer still cost tokens"
        );
        let unknown = model.ask(&brief, "inv-1").await;
        assert_eq!(
            unknown.outcome,
            Outcome::Rejected(Rejection::UnknownEvidence("E999".into())),
            "{provider}"
        );
    }
}

#[tokio::test]
async fn failures_are_reported_and_retried_once_when_worth_it() {
    let (fake, base) = FakeModel::start().await;
    let (verdict, _) = incident();
    let brief = Brief::new(&Task::Summary, &verdict, &[]);
    let model = model(&settings("anthropic", &base));
    let failed = |outcome: &Outcome| match outcome {
        Outcome::Failed(reason) => reason.clone(),
        other => panic!("expected a failure, got {other:?}"),
    };

    fake.then(&[Reply::NotJson]);
    let reason = failed(&model.ask(&brief, "inv-1").await.outcome);
    assert!(reason.contains("no `grounded_answer` tool_use"), "{reason}");
    assert_eq!(
        fake.requests().len(),
        1,
        "a malformed answer is not retried"
    );

    // The fake would answer well, after 4 s: the 2 s timeout comes first.
    fake.then(&[Reply::Slow(Duration::from_secs(4))]);
    let reason = failed(&model.ask(&brief, "inv-1").await.outcome);
    assert!(reason.contains("no answer within 2s"), "{reason}");

    fake.then(&[Reply::Status(500), Reply::Grounded]);
    let after_500 = model.ask(&brief, "inv-1").await;
    assert!(
        matches!(after_500.outcome, Outcome::Accepted(_)),
        "one retry after a 500"
    );
    assert_eq!(fake.requests().len(), 4);
    assert_eq!(
        after_500.retried.len(),
        1,
        "the model received two requests"
    );
    assert!(
        after_500.retried[0].error.contains("500"),
        "{:?}",
        after_500.retried
    );

    fake.then(&[Reply::Status(429), Reply::Status(429)]);
    let after_429 = model.ask(&brief, "inv-1").await;
    let reason = failed(&after_429.outcome);
    assert!(reason.contains("429"), "{reason}");
    assert_eq!(fake.requests().len(), 6, "429 is retried once, not more");
    assert_eq!(after_429.retried.len(), 1);

    let wrong_key = LlmSettings {
        llm_api_key: Some("sk-wrong".into()),
        ..settings("anthropic", &base)
    };
    let reason = failed(&self::model(&wrong_key).ask(&brief, "inv-1").await.outcome);
    assert!(
        reason.contains("401") && !reason.contains("sk-wrong"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_failing_model_is_left_alone_and_a_spent_budget_stops_requests() {
    let (fake, base) = FakeModel::start().await;
    let (verdict, _) = incident();
    let brief = Brief::new(&Task::Summary, &verdict, &[]);
    let model = model(&settings("ollama", &base));
    fake.then(&[Reply::NotJson, Reply::NotJson, Reply::NotJson]);
    for _ in 0..3 {
        assert!(matches!(
            model.ask(&brief, "inv-1").await.outcome,
            Outcome::Failed(_)
        ));
    }
    let sent = fake.requests().len();
    let skipped = model.ask(&brief, "inv-1").await;
    assert_eq!(skipped.outcome, Outcome::Skipped(Skip::CircuitOpen));
    assert_eq!(
        fake.requests().len(),
        sent,
        "nothing sent while the breaker is open"
    );

    let budget = LlmSettings {
        llm_daily_tokens: 900,
        ..settings("ollama", &base)
    };
    let model = self::model(&budget);
    assert!(matches!(
        model.ask(&brief, "inv-1").await.outcome,
        Outcome::Accepted(_)
    ));
    assert_eq!(
        model.ask(&brief, "inv-1").await.outcome,
        Outcome::Skipped(Skip::BudgetSpent),
        "908 of 900 tokens used"
    );
}

#[test]
fn a_model_needs_its_key_unless_it_is_local() {
    let hosted = LlmSettings {
        llm_base_url: None,
        llm_api_key: None,
        ..settings("anthropic", "http://unused")
    };
    let error = ModelConfig::from_settings(&hosted).unwrap_err().to_string();
    assert!(error.contains("LLM_API_KEY"), "{error}");
    let local = LlmSettings {
        llm_base_url: None,
        llm_api_key: None,
        ..settings("ollama", "http://unused")
    };
    let config = ModelConfig::from_settings(&local).unwrap().unwrap();
    assert_eq!(config.endpoint.base_url, "http://localhost:11434");
    assert!(!format!("{config:?}").contains(API_KEY));
    let off = LlmSettings {
        llm_model: None,
        ..settings("openai", "http://unused")
    };
    assert!(ModelConfig::from_settings(&off).unwrap().is_none());
}

// End to end: the real `serve` with Slack or Discord and a model, all fakes on loopback.

mod in_chat {
    use super::support;
    use serde_json::{json, Value};
    use support::fake_discord::{FakeDiscord, CHANNEL_ID, GUILD_ID, TOKEN};
    use support::fake_model::{FakeModel, Reply, API_KEY};
    use support::fake_slack::{post_event, slash, FakeSlack, BOT_TOKEN};
    use support::serve::ServeProcess;

    const SECRET: &str = "test-signing-secret";
    const CHANNEL: &str = "C0INCIDENT";
    /// The first message the fake Slack stores: the verdict.
    const VERDICT_TS: &str = "1700000000.000001";

    fn model_env<'a>(provider: &'a str, base: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("LLM_MODEL", "test-model"),
            ("LLM_PROVIDER", provider),
            ("LLM_BASE_URL", base),
            ("LLM_API_KEY", API_KEY),
            ("LLM_TIMEOUT", "3s"),
        ]
    }

    fn slack_bot(test: &str, slack_api: &str, model: &[(&str, &str)]) -> ServeProcess {
        let mut env = vec![
            ("SLACK_SIGNING_SECRET", SECRET),
            ("SLACK_BOT_TOKEN", BOT_TOKEN),
            ("SLACK_API_URL", slack_api),
        ];
        env.extend_from_slice(model);
        ServeProcess::start(&format!("model-{test}"), &env)
    }

    fn texts(blocks: &Value) -> Vec<String> {
        blocks
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                let text = &b["text"]["text"];
                let element = &b["elements"][0]["text"];
                text.as_str()
                    .or(element.as_str())
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    /// Runs the `nth` check of `api_latency` and returns its verdict's blocks as posted and as
    /// edited.
    async fn check_and_edit(slack: &FakeSlack, bot: &ServeProcess, nth: usize) -> (Value, Value) {
        slash(&bot.url, SECRET, "check api_latency").await;
        let posted = slack.wait_for("chat.postMessage", nth, 15).await;
        assert_eq!(posted.len(), nth, "no verdict; log:\n{}", bot.log());
        let updates = slack.wait_for("chat.update", nth, 20).await;
        assert_eq!(
            updates.len(),
            nth,
            "the verdict is edited once; log:\n{}",
            bot.log()
        );
        let update = &updates[nth - 1].body;
        if nth == 1 {
            assert_eq!(
                update["ts"], VERDICT_TS,
                "the verdict message itself is edited"
            );
        }
        assert_eq!(update["channel"], CHANNEL);
        (
            posted[nth - 1].body["blocks"].clone(),
            update["blocks"].clone(),
        )
    }

    #[tokio::test]
    async fn a_slack_verdict_gets_its_summary_edited_in_for_each_wire_format() {
        let (model, model_base) = FakeModel::start().await;
        for provider in ["openai", "anthropic", "ollama"] {
            let (slack, api) = FakeSlack::start().await;
            let base = if provider == "openai" {
                format!("{model_base}/v1")
            } else {
                model_base.clone()
            };
            let bot = slack_bot(
                &format!("summary-{provider}"),
                &api,
                &model_env(provider, &base),
            );
            let (posted, edited) = check_and_edit(&slack, &bot, 1).await;
            let (posted, edited) = (texts(&posted), texts(&edited));
            assert!(
                posted[1].contains("Writing a summary from the evidence"),
                "{provider}: {posted:?}"
            );
            assert!(
                edited[1].starts_with("*Summary:*"),
                "{provider}: {edited:?}"
            );
            assert!(edited[1].contains("Check first:"), "{provider}: {edited:?}");
            assert!(
                edited[2].contains("Summary by test-model"),
                "{provider}: {edited:?}"
            );
            assert_eq!(
                posted[0], edited[0],
                "{provider}: the headline (severity, confidence) is the statistics'"
            );
            assert_eq!(
                &posted[2..],
                &edited[3..],
                "{provider}: the verdict below the summary is unchanged"
            );
            let last = model.requests().last().unwrap().clone();
            assert_eq!(
                last.brief()["verdict"]["metric"],
                "api_latency",
                "{provider}"
            );

            // `llm preview` prints exactly what was sent, the key hidden.
            let id = bot.last_verdict().await["id"].as_str().unwrap().to_string();
            let preview = support::serve::anomaly_hunter(&bot.data_dir)
                .envs(model_env(provider, &base))
                .args(["llm", "preview", &id])
                .output()
                .unwrap();
            let printed = String::from_utf8(preview.stdout).unwrap();
            assert!(preview.status.success(), "{printed}");
            let (head, body) = printed.split_once("\n\n").unwrap();
            assert!(head.starts_with(&format!("POST {base}")), "{head}");
            assert!(
                head.contains("<LLM_API_KEY, not shown>") && !printed.contains(API_KEY),
                "{head}"
            );
            let body: Value = serde_json::from_str(body).unwrap();
            assert_eq!(body, last.body, "{provider}: the preview is the request");
            let stats = bot.stats();
            assert_eq!(
                stats["language_model"]["accepted"], 1,
                "{provider}: {stats}"
            );
            assert_eq!(
                stats["language_model"]["prompt_tokens"], 812,
                "{provider}: {stats}"
            );
        }
    }

    #[tokio::test]
    async fn a_failing_or_ungrounded_model_leaves_the_verdict_as_the_statistics_wrote_it() {
        let (model, model_base) = FakeModel::start().await;
        let (slack, api) = FakeSlack::start().await;
        let base = format!("{model_base}/v1");
        let bot = slack_bot("failing", &api, &model_env("openai", &base));
        let cases = [
            vec![Reply::Status(500), Reply::Status(500)],
            vec![Reply::InventedNumber],
            vec![Reply::UnknownId],
            vec![Reply::NotJson],
            vec![Reply::Slow(std::time::Duration::from_secs(5))],
        ];
        for (i, replies) in cases.iter().enumerate() {
            model.then(replies);
            let (posted, edited) = check_and_edit(&slack, &bot, i + 1).await;
            let mut expected = posted.as_array().unwrap().clone();
            expected.remove(1);
            let edited = edited.as_array().unwrap().clone();
            // The verdict's own id differs per check; compare the rest of each block's text.
            let (expected, edited) = (texts(&Value::Array(expected)), texts(&Value::Array(edited)));
            assert_eq!(
                expected, edited,
                "{replies:?}: only the 'writing' line goes"
            );
        }
        // Each attempt the model received is counted: the two 500s are two failed requests.
        let stats = bot.stats();
        let model_stats = &stats["language_model"];
        assert_eq!(model_stats["failed"], 4, "{stats}");
        assert_eq!(model_stats["rejected"], 2, "{stats}");
        assert_eq!(model_stats["requests"], 6, "{stats}");
        // Each rejection is logged with its reason and the investigation it was about.
        let log = bot.log();
        for reason in ["number_not_in_evidence", "unknown_evidence_id"] {
            assert!(
                log.lines().any(|line| line.contains("answer was rejected")
                    && line.contains(reason)
                    && line.contains("investigation=")),
                "no logged rejection for {reason}:\n{log}"
            );
        }
        let metrics = bot.metrics().await;
        for line in [
            r#"anomaly_hunter_llm_requests_total{provider="openai",result="failed"} 4"#,
            r#"anomaly_hunter_llm_requests_total{provider="openai",result="rejected"} 2"#,
            r#"anomaly_hunter_llm_not_used_total{reason="number_not_in_evidence"} 1"#,
            r#"anomaly_hunter_llm_not_used_total{reason="unknown_evidence_id"} 1"#,
        ] {
            assert!(metrics.contains(line), "{line} missing from\n{metrics}");
        }
        assert!(metrics.contains("anomaly_hunter_llm_request_duration_seconds_bucket"));
        assert!(metrics.contains(r#"anomaly_hunter_llm_tokens_total{kind="prompt"}"#));
        assert!(!bot.log().contains(API_KEY), "the key leaked into the log");
    }

    #[tokio::test]
    async fn thread_questions_are_answered_with_cited_evidence_or_not_in_the_evidence() {
        let (model, model_base) = FakeModel::start().await;
        let (slack, api) = FakeSlack::start().await;
        let base = format!("{model_base}/v1");
        let bot = slack_bot("questions", &api, &model_env("openai", &base));
        check_and_edit(&slack, &bot, 1).await;

        let ask = |ts: &str, text: &str| json!({"type": "app_mention", "channel": CHANNEL, "user": "U0SRE", "text": text, "ts": ts, "thread_ts": VERDICT_TS});
        post_event(
            &bot.url,
            SECRET,
            "Ev1",
            ask("1700000100.000001", "<@U0BOT> what should I check first?"),
        )
        .await;
        let replies = slack.wait_for("chat.postMessage", 2, 15).await;
        assert_eq!(replies.len(), 2, "log:\n{}", bot.log());
        let answer = replies[1].body["text"].as_str().unwrap().to_string();
        assert_eq!(replies[1].body["thread_ts"], VERDICT_TS);
        assert!(
            answer.contains("• The Pattern Analyst found:") && answer.contains("[E1]"),
            "{answer}"
        );
        assert!(
            answer.contains("_Evidence:_ E1 Pattern Analyst:"),
            "each cited id is spelled out: {answer}"
        );
        let asked = model.requests().last().unwrap().brief();
        assert_eq!(asked["question"], "what should I check first?");

        // What people say in the thread is evidence for the next question.
        post_event(&bot.url, SECRET, "Ev2", json!({"type": "message", "channel": CHANNEL, "user": "U0DBA", "text": "root cause: pgbouncer pool capped at 20", "ts": "1700000101.000001", "thread_ts": VERDICT_TS})).await;
        slack.wait_for("chat.postMessage", 3, 15).await;
        model.then(&[Reply::NotInEvidence]);
        post_event(
            &bot.url,
            SECRET,
            "Ev3",
            ask(
                "1700000102.000001",
                "<@U0BOT> did the 14:00 deploy cause it?",
            ),
        )
        .await;
        let replies = slack.wait_for("chat.postMessage", 4, 15).await;
        let answer = replies[3].body["text"].as_str().unwrap();
        assert!(answer.starts_with("Not in the evidence"), "{answer}");
        let asked = model.requests().last().unwrap().brief();
        let feedback = asked["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e.get("thread_feedback").is_some())
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            feedback["thread_feedback"]["root_cause"],
            "pgbouncer pool capped at 20"
        );

        // An answer that invents a number is replaced by the rule-based answer from the evidence.
        model.then(&[Reply::InventedNumber]);
        post_event(
            &bot.url,
            SECRET,
            "Ev4",
            ask("1700000103.000001", "<@U0BOT> what caused this?"),
        )
        .await;
        let replies = slack.wait_for("chat.postMessage", 5, 15).await;
        let answer = replies[4].body["text"].as_str().unwrap();
        assert!(!answer.contains("4242"), "{answer}");
        assert!(answer.starts_with("*Root Cause Agent*"), "{answer}");
        let stats = bot.stats();
        assert_eq!(stats["language_model"]["accepted"], 3, "{stats}");
        assert_eq!(stats["language_model"]["rejected"], 1, "{stats}");
    }

    #[tokio::test]
    async fn a_discord_verdict_gets_its_summary_edited_in() {
        let (_model, model_base) = FakeModel::start().await;
        let (discord, base) = FakeDiscord::start().await;
        let guild = GUILD_ID.to_string();
        let mut env = vec![
            ("DISCORD_TOKEN", TOKEN),
            ("DISCORD_API_URL", base.as_str()),
            ("DISCORD_GUILD_ID", guild.as_str()),
        ];
        env.extend(model_env("anthropic", &model_base));
        let bot = ServeProcess::start("model-discord", &env);
        assert!(
            discord.wait_connected(1, 0, 30).await,
            "log:\n{}",
            bot.log()
        );

        let command = discord.user_message(CHANNEL_ID, "!check_anomaly api_latency", vec![]);
        discord.dispatch("MESSAGE_CREATE", command.clone());
        let thread = command["id"].as_str().unwrap().to_string();
        let posted = discord
            .wait_for(
                "POST",
                |p| p == format!("/channels/{thread}/messages"),
                1,
                20,
            )
            .await;
        assert!(!posted.is_empty(), "log:\n{}", bot.log());
        let embed = &posted[0].body["embeds"][0];
        assert!(
            embed["description"]
                .as_str()
                .unwrap()
                .starts_with("✍️ Writing a summary"),
            "{embed}"
        );
        let edits = discord
            .wait_for(
                "PATCH",
                |p| p.starts_with(&format!("/channels/{thread}/messages/")),
                1,
                20,
            )
            .await;
        assert_eq!(edits.len(), 1, "log:\n{}", bot.log());
        let edited = &edits[0].body["embeds"][0];
        assert!(
            edited["description"]
                .as_str()
                .unwrap()
                .starts_with("**Summary:**"),
            "{edited}"
        );
        assert_eq!(
            edited["title"], embed["title"],
            "severity and confidence untouched"
        );
        assert_eq!(edited["fields"], embed["fields"]);
        assert_eq!(edited["image"], embed["image"], "the chart stays shown");
        assert!(edited["footer"]["text"]
            .as_str()
            .unwrap()
            .contains("Summary by test-model"));
        assert!(
            edits[0].body.get("attachments").is_none(),
            "the chart stays attached"
        );
    }
}
