//! One typed configuration: `serve --help` documents every variable, `.env.example` mirrors it,
//! `.env` is read, and a bad value stops start-up with one line that names the variable.

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use support::serve::{anomaly_hunter, setting_variables};

const EXAMPLE: &str = include_str!("../.env.example");

/// The variables `serve --help` lists (`[env: NAME=…]`).
fn variables_in_help() -> BTreeSet<String> {
    let dir = support::scratch_dir("config-help");
    let help = anomaly_hunter(&dir)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    text.split("[env: ")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn serve_help_and_env_example_list_the_same_variables() {
    let in_help = variables_in_help();
    let in_example: BTreeSet<String> = setting_variables().into_iter().collect();
    assert!(
        in_help.len() >= 45,
        "serve --help lists every setting: {in_help:?}"
    );
    assert_eq!(
        in_help.difference(&in_example).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "in serve --help but not in .env.example"
    );
    assert_eq!(
        in_example.difference(&in_help).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "in .env.example but not in serve --help"
    );
}

#[test]
fn env_example_is_safe_to_source_as_it_is() {
    // Every setting is blank (= its default), so sourcing it changes nothing: no API base that
    // turns off a rate limiter, no database for the tests.
    for line in EXAMPLE
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
    {
        let (name, value) = line.split_once('=').unwrap();
        assert_eq!(value, "", "{name} is set in .env.example");
    }
    let dir = support::scratch_dir("config-source");
    let example = format!("{}/.env.example", env!("CARGO_MANIFEST_DIR"));
    let binary = env!("CARGO_BIN_EXE_anomaly-hunter");
    let sourced = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -a; . '{example}'; set +a; exec '{binary}' history"
        ))
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        sourced.status.success(),
        "{}",
        String::from_utf8_lossy(&sourced.stderr)
    );
    assert!(
        dir.join("anomaly-hunter.db").exists(),
        "blank ANOMALY_HUNTER_DATA_DIR means the working directory"
    );
}

#[test]
fn a_bad_value_stops_start_up_with_one_line_naming_the_variable() {
    let dir = support::scratch_dir("config-bad");
    for (variable, value) in [
        ("REDPANDA_BROKERS", "::"),
        ("ANOMALY_HUNTER_ADDR", "localhost"),
        ("VOICE_MIN_CONFIDENCE", "2"),
        ("PROMETHEUS_URL", "prometheus:9090"),
        ("ANOMALY_HUNTER_RETENTION", "forever"),
        ("DISCORD_GUILD_ID", "my-server"),
        ("ANOMALY_HUNTER_REMOTE_WRITE_MATCH", "{job=api}"),
    ] {
        let started = anomaly_hunter(&dir)
            .arg("serve")
            .env(variable, value)
            .output()
            .unwrap();
        assert_eq!(started.status.code(), Some(2), "{variable}={value}");
        let stderr = String::from_utf8(started.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(variable), "{variable}: {stderr}");
        assert!(stderr.contains(value), "{variable}: {stderr}");
    }
}

#[test]
fn remote_write_without_a_metrics_topic_stops_start_up_saying_what_it_needs() {
    let dir = support::scratch_dir("config-remote-write");
    let started = anomaly_hunter(&dir)
        .arg("serve")
        .env(
            "ANOMALY_HUNTER_REMOTE_WRITE_MATCH",
            r#"{__name__=~"http_.*"}"#,
        )
        .output()
        .unwrap();
    assert!(!started.status.success());
    let stderr = String::from_utf8(started.stderr).unwrap();
    assert!(
        stderr.contains(
            "ANOMALY_HUNTER_REMOTE_WRITE_MATCH needs REDPANDA_BROKERS and REDPANDA_METRICS_TOPIC"
        ),
        "{stderr}"
    );
}

#[test]
fn dot_env_in_the_working_directory_is_read_and_the_environment_wins() {
    let dir = support::scratch_dir("config-dotenv");
    std::fs::write(
        dir.join(".env"),
        "ANOMALY_HUNTER_DATA_DIR=from-dotenv\nANOMALY_HUNTER_MAX_ROWS=\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("from-dotenv")).unwrap();
    let mut history = anomaly_hunter(&dir);
    history
        .env_remove("ANOMALY_HUNTER_DATA_DIR")
        .arg("history")
        .current_dir(&dir);
    assert!(history.output().unwrap().status.success());
    assert!(dir.join("from-dotenv/anomaly-hunter.db").exists());

    let elsewhere = dir.join("from-environment");
    let mut history = anomaly_hunter(&elsewhere);
    history.arg("history").current_dir(&dir);
    assert!(history.output().unwrap().status.success());
    assert!(
        elsewhere.join("anomaly-hunter.db").exists(),
        "a variable already set wins over .env"
    );
}
