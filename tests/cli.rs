//! Black-box tests of the binary: exit codes, stderr messages, JSON shape, chart file.

use std::process::Command;

/// The binary, with a store of its own in a scratch folder (tests run side by side).
fn anomaly_hunter() -> Command {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let data_dir = std::env::temp_dir().join(format!(
        "anomaly-hunter-cli-data-{}-{call}",
        std::process::id()
    ));
    let mut command = Command::new(env!("CARGO_BIN_EXE_anomaly-hunter"));
    command
        .env("ANOMALY_HUNTER_DATA_DIR", data_dir)
        .env_remove("DATABASE_URL");
    command
}

/// Writes `content` to a fresh file in this test run's scratch folder.
fn scratch_file(name: &str, content: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("anomaly-hunter-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// Runs `detect … --format json`, expects exit 0 and returns the parsed verdict.
fn detect_json(args: &[&str]) -> serde_json::Value {
    let output = anomaly_hunter()
        .arg("detect")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn example(name: &str) -> String {
    format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn detect_prints_json_with_every_documented_field() {
    let verdict = detect_json(&[&example("memory_leak.csv")]);
    for field in [
        "id",
        "metric",
        "anomalous",
        "severity",
        "confidence",
        "verdict",
        "hypothesis",
        "consensus",
        "agents",
        "anomalies",
        "points",
        "elapsed_ms",
    ] {
        assert!(verdict.get(field).is_some(), "missing {field}");
    }
    assert_eq!(verdict["anomalous"], true);
    assert_eq!(verdict["agents"].as_array().unwrap().len(), 3);
    for agent in verdict["agents"].as_array().unwrap() {
        for field in ["agent", "confidence", "finding", "evidence"] {
            assert!(agent.get(field).is_some(), "agent missing {field}");
        }
    }
    let window = &verdict["anomalies"][0];
    assert!(window["start"].as_str().unwrap().ends_with('Z'));
    assert!(window["kind"].is_string() && window["score"].is_number());
}

#[test]
fn detect_on_a_normal_series_exits_zero_and_says_normal() {
    let output = anomaly_hunter()
        .args(["detect", &example("normal_cpu.csv")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("NORMAL"), "{text}");
    assert!(
        text.contains("Pattern Analyst")
            && text.contains("Change Detective")
            && text.contains("Root Cause Agent")
    );
}

#[test]
fn bad_input_exits_two_with_the_reason_on_stderr() {
    let bad = scratch_file(
        "bad.csv",
        "timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:01:00,x\n",
    );
    let output = anomaly_hunter()
        .args(["detect", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 3, column `value`: `x` is not a number"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());

    let missing = anomaly_hunter()
        .args(["detect", "/nonexistent/file.csv"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read the file"));
}

#[test]
fn events_tie_a_change_to_a_deploy() {
    let events = scratch_file(
        "events.csv",
        "timestamp,kind,description\n2024-01-01T08:15:00Z,deploy,orders-api v2.3.1\n",
    );
    let verdict = detect_json(&[
        &example("db_query_latency.csv"),
        "--events",
        events.to_str().unwrap(),
    ]);
    let detective = &verdict["agents"][1];
    assert!(
        detective["finding"]
            .as_str()
            .unwrap()
            .contains("orders-api v2.3.1"),
        "{detective}"
    );
    assert!(
        verdict["hypothesis"]
            .as_str()
            .unwrap()
            .contains("deploy `orders-api v2.3.1`"),
        "{}",
        verdict["hypothesis"]
    );
}

#[test]
fn chart_is_a_png() {
    let path =
        std::env::temp_dir().join(format!("anomaly-hunter-chart-{}.png", std::process::id()));
    detect_json(&[
        &example("disk_io_spike.csv"),
        "--chart",
        path.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert!(bytes.len() > 10_000, "a real chart, not an empty image");
}
