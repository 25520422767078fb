//! Arbitrary input never panics and always gets an answer or a clear error: the CSV reader,
//! the timestamp and duration parsers, the command grammar, the thread-reply parser, Slack's
//! and Discord's payload handling, Alertmanager's webhook payload and a model's answer to the
//! grounding check. (Slack's signatures are slack-morphism's to check.) 10,000 cases each
//! (`PROPTEST_CASES` overrides).

use anomaly_hunter::chat::commands;
use anomaly_hunter::chat::discussion::parse_reply;
use anomaly_hunter::discord::handler::command_text;
use anomaly_hunter::discord::post::split_for_discord;
use anomaly_hunter::language_model::evidence::{Brief, Task};
use anomaly_hunter::language_model::grounding;
use anomaly_hunter::slack::app::{delivery_key, mentions_bot};
use anomaly_hunter::sources::alertmanager::parse_notification;
use engine::series::csv::{parse_csv, CsvOptions, Limits};
use engine::series::timestamp::{parse_duration, TimestampFormat};
use proptest::prelude::*;
use serde_json::{json, Value};
use slack_morphism::prelude::SlackPushEvent;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    ProptestConfig {
        cases,
        // A failure is shrunk and reported; nothing is written next to the sources.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text that looks like what people and platforms send: words, numbers, durations, mentions,
/// Unicode that changes length when lower-cased, control characters.
fn chat_text() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        Just("check".to_string()),
        Just("last".to_string()),
        Just("stats".to_string()),
        Just("history".to_string()),
        Just("help".to_string()),
        Just("ack".to_string()),
        Just("AC\u{212A}".to_string()),
        Just("false positive".to_string()),
        Just("root cause:".to_string()),
        Just("rerun".to_string()),
        Just("<@U0BOT>".to_string()),
        Just("İ".to_string()),
        "[0-9]{1,20}[smhdw]?",
        "[a-z_:.{}=\"]{1,12}",
        any::<String>(),
    ];
    prop::collection::vec(word, 0..8).prop_map(|words| words.join(" "))
}

/// A CSV-shaped body: a header and rows of cells that are often valid and sometimes not.
fn csv_bytes() -> impl Strategy<Value = Vec<u8>> {
    let cell = prop_oneof![
        (1_600_000_000i64..1_700_000_000).prop_map(|s| s.to_string()),
        (0i64..100_000).prop_map(|m| format!("2024-01-01T00:{:02}:{:02}Z", (m / 60) % 60, m % 60)),
        any::<f64>().prop_map(|v| v.to_string()),
        Just(String::new()),
        Just("\"a,\nb\"".to_string()),
        Just("NaN".to_string()),
        "[ -~]{0,12}",
    ];
    let row = prop::collection::vec(cell, 1..4).prop_map(|cells| cells.join(","));
    let structured = (
        prop_oneof![Just("timestamp,value".to_string()), "[ -~]{0,20}"],
        prop::collection::vec(row, 0..40),
    )
        .prop_map(|(header, rows)| format!("{header}\n{}", rows.join("\n")).into_bytes());
    prop_oneof![structured, prop::collection::vec(any::<u8>(), 0..300)]
}

/// Any JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        chat_text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("type".to_string()),
                    Just("event".to_string()),
                    Just("text".to_string()),
                    Just("channel".to_string()),
                    Just("ts".to_string()),
                    Just("authorizations".to_string()),
                    Just("user_id".to_string()),
                    Just("alerts".to_string()),
                    Just("labels".to_string()),
                    Just("startsAt".to_string()),
                    "[a-zA-Z_]{1,10}"
                ],
                inner,
                0..5
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Text a model might write: numbers in every shape, ids, names with digits, any character.
fn model_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("307%".to_string()),
        Just("1,234.5".to_string()),
        Just("E1".to_string()),
        Just("p99".to_string()),
        Just("08:21".to_string()),
        Just("-0.95".to_string()),
        Just(",".to_string()),
        Just(".".to_string()),
        "[0-9.,]{1,8}",
        any::<String>(),
    ];
    proptest::collection::vec(piece, 0..10).prop_map(|pieces| pieces.join(" "))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_model_answer_is_accepted_or_rejected_never_a_panic(
        summary in model_text(),
        claim in model_text(),
        ids in proptest::collection::vec("E[0-9]{1,2}|[a-z]{0,3}", 0..3),
    ) {
        let verdict = json!({"metric": "db", "severity": 9, "confidence": 0.96,
            "agents": [{"agent": "change_detective", "confidence": 0.9, "finding": "Shift of +307% at 08:21.",
                        "evidence": [{"name": "shift_ratio", "value": 3.0712, "detail": "after ÷ before"}]}]});
        let brief = Brief::new(&Task::Question("why?".into()), &verdict, &[]);
        let answer = json!({"summary": summary, "claims": [{"text": claim, "evidence_ids": ids}],
                            "next_steps": [], "caveats": []});
        if let Err(rejection) = grounding::check(answer, &brief) {
            prop_assert!(!rejection.to_string().is_empty() && !rejection.reason().is_empty());
        }
    }

    #[test]
    fn the_csv_reader_answers_or_names_the_problem(bytes in csv_bytes()) {
        let options = CsvOptions { limits: Limits { max_bytes: 10_000, max_rows: 1_000 }, ..CsvOptions::default() };
        if let Err(e) = parse_csv(bytes, "upload.csv", &options, None) {
            prop_assert!(!e.to_string().trim().is_empty());
        }
    }

    #[test]
    fn timestamps_and_durations_parse_or_refuse(text in chat_text()) {
        if let Some(format) = TimestampFormat::detect(&text) {
            let _ = format.parse(&text);
        }
        for format in [TimestampFormat::Calendar, TimestampFormat::UnixSeconds, TimestampFormat::UnixMillis] {
            let _ = format.parse(&text);
        }
        match parse_duration(&text) {
            Ok(ms) => prop_assert!(ms > 0),
            Err(e) => prop_assert!(!e.is_empty()),
        }
    }

    #[test]
    fn every_command_text_is_a_command_or_a_sentence(text in chat_text(), bare in any::<bool>()) {
        if let Err(e) = commands::parse(&text, bare) {
            prop_assert!(!e.to_string().is_empty());
        }
        let _ = command_text(&text);
    }

    #[test]
    fn every_thread_reply_gets_a_reading(text in chat_text(), mentioned in any::<bool>()) {
        let _ = parse_reply(&text, mentioned);
    }

    #[test]
    fn slack_payloads_get_one_delivery_key(payload in json_value(), text in chat_text(), ts in "[0-9.]{0,17}") {
        if let Ok(SlackPushEvent::EventCallback(callback)) = serde_json::from_value::<SlackPushEvent>(payload) {
            prop_assert!(delivery_key(&callback).starts_with("slack:"));
            let _ = mentions_bot(&callback);
        }
        // A mention's two deliveries (`message`, `app_mention`) are one action.
        let delivered = |kind: &str, id: &str| {
            let envelope = json!({"type": "event_callback", "event_id": id, "team_id": "T1",
                "api_app_id": "A1", "event_time": 1_700_000_000,
                "authorizations": [{"team_id": "T1", "user_id": "U0BOT"}],
                "event": {"type": kind, "channel": "C1", "user": "U1", "ts": ts, "text": text}});
            match serde_json::from_value::<SlackPushEvent>(envelope) {
                Ok(SlackPushEvent::EventCallback(callback)) => callback,
                other => panic!("a realistic delivery reads: {other:?}"),
            }
        };
        let (message, mention) = (delivered("message", "Ev1"), delivered("app_mention", "Ev2"));
        prop_assert_eq!(delivery_key(&message), delivery_key(&mention));
        prop_assert!(mentions_bot(&mention));
        prop_assert_eq!(mentions_bot(&message), text.contains("<@U0BOT>"));
    }

    #[test]
    fn discord_answers_split_within_its_limit(text in any::<String>()) {
        for part in split_for_discord(&text) {
            prop_assert!(part.chars().count() <= 2_000);
        }
    }

    #[test]
    fn alertmanager_payloads_are_read_or_refused(payload in json_value(), bytes in any::<Vec<u8>>()) {
        for body in [serde_json::to_vec(&payload).unwrap(), bytes,
                     serde_json::to_vec(&json!({"version": "4", "alerts": [payload]})).unwrap()] {
            match parse_notification(&body) {
                Ok(alerts) => for alert in alerts {
                    let _ = alert.alert.expression();
                    let _ = alert.alert.headline();
                    prop_assert!(alert.alert.lookback_ms() > 0);
                },
                Err(e) => prop_assert!(!e.is_empty()),
            }
        }
    }
}
