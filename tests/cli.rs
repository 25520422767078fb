//! Black-box tests of the binary: exit codes, stderr messages, JSON shape, chart file.

use std::process::Command;

/// The binary, with a store of its own in a scratch folder (tests run side by side).
fn anomaly_hunter() -> Command {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    anomaly_hunter_in(&std::env::temp_dir().join(format!(
        "anomaly-hunter-cli-data-{}-{call}",
        std::process::id()
    )))
}

/// The binary with its store in `data_dir`.
fn anomaly_hunter_in(data_dir: &std::path::Path) -> Command {
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
        assert!(agent["confidence"].as_f64().unwrap() <= 0.99, "{agent}");
    }
    assert!(
        verdict["confidence"].as_f64().unwrap() <= 0.99,
        "never certain: {}",
        verdict["confidence"]
    );
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
    assert!(!text.contains("100%"), "no certainty is claimed: {text}");
    assert!(
        text.contains("Nothing to explain: normal_cpu") && !text.contains("onset"),
        "a normal series has no departure to talk about: {text}"
    );
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

/// Runs a command in `data_dir`, expects exit 0 and returns its standard output.
fn run_in(data_dir: &std::path::Path, args: &[&str]) -> String {
    let output = anomaly_hunter_in(data_dir).args(args).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn a_scripted_session_of_detect_feedback_history_and_stats() {
    let data_dir =
        std::env::temp_dir().join(format!("anomaly-hunter-cli-session-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let id_of = |file: &str| -> String {
        let json: serde_json::Value = serde_json::from_str(&run_in(
            &data_dir,
            &["detect", &example(file), "--format", "json"],
        ))
        .unwrap();
        json["id"].as_str().unwrap().to_string()
    };
    let leak = id_of("memory_leak.csv");
    let disk = id_of("disk_io_spike.csv");
    id_of("normal_cpu.csv");
    assert!(
        data_dir.join("anomaly-hunter.db").exists(),
        "the embedded store lives in ANOMALY_HUNTER_DATA_DIR"
    );

    let said = run_in(
        &data_dir,
        &[
            "feedback",
            &leak,
            "confirm",
            "--root-cause",
            "cache never evicted",
            "--author",
            "ana",
        ],
    );
    assert!(said.contains("recorded confirmed"), "{said}");
    let said = run_in(&data_dir, &["feedback", &disk, "false-positive"]);
    assert!(
        said.contains("I will stay quiet on `disk_io_spike` for changes of this size"),
        "{said}"
    );
    let again: serde_json::Value = serde_json::from_str(&run_in(
        &data_dir,
        &["detect", &example("disk_io_spike.csv"), "--format", "json"],
    ))
    .unwrap();
    assert_eq!(
        again["anomalous"], false,
        "after `false positive` the same data is no longer an alert: {again}"
    );

    let history = run_in(&data_dir, &["history", "--format", "json"]);
    let history: serde_json::Value = serde_json::from_str(&history).unwrap();
    assert_eq!(history.as_array().unwrap().len(), 4);
    assert!(history
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["id"] == leak.as_str() && h["feedback"] == "confirmed"));

    let stats: serde_json::Value =
        serde_json::from_str(&run_in(&data_dir, &["stats", "--format", "json"])).unwrap();
    assert_eq!(stats["investigations"], 4);
    assert_eq!(stats["confirmed"], 1);
    assert_eq!(stats["false_positives"], 1);
    assert_eq!(stats["precision"], 0.5);
    assert_eq!(stats["agents"].as_array().unwrap().len(), 3);
    assert!(!stats["calibration"].as_array().unwrap().is_empty());
    let text = run_in(&data_dir, &["stats"]);
    for needle in [
        "Investigations: 4",
        "Precision from feedback: 50%",
        "Agents:",
        "Patterns:",
        "Calibration over time",
        "disk_io_spike",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }

    let unknown = anomaly_hunter_in(&data_dir)
        .args(["feedback", "no-such-id", "confirm"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no investigation with id `no-such-id`")
    );

    // What a language model would be sent, before one is configured: the evidence with ids
    // and what people said about similar incidents, never a row of the series.
    let preview = run_in(&data_dir, &["llm", "preview", &leak]);
    let (head, body) = preview.split_once("\n\n").unwrap();
    assert!(
        head.starts_with("POST https://api.openai.com/v1/chat/completions"),
        "{head}"
    );
    assert!(
        head.contains("(authorization not sent: LLM_API_KEY is not set)"),
        "{head}"
    );
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["model"], "<LLM_MODEL>");
    let brief: serde_json::Value =
        serde_json::from_str(body["messages"][1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(brief["verdict"]["metric"], "memory_leak");
    assert_eq!(brief["evidence"][0]["id"], "E1");
    assert!(brief.get("series").is_none());
    let missing = anomaly_hunter_in(&data_dir)
        .args(["llm", "preview", "no-such-id"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn ingest_then_detect_a_stored_metric() {
    let data_dir =
        std::env::temp_dir().join(format!("anomaly-hunter-cli-ingest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let said = run_in(
        &data_dir,
        &[
            "ingest",
            &example("db_query_latency.csv"),
            "--metric",
            "orders_db_latency",
        ],
    );
    assert!(
        said.contains("stored 720 points of `orders_db_latency`")
            && said.contains("1 related series (`orders_db_latency.db_connections_active`)"),
        "{said}"
    );
    let verdict: serde_json::Value = serde_json::from_str(&run_in(
        &data_dir,
        &[
            "detect",
            "--metric",
            "orders_db_latency",
            "--since",
            "6h",
            "--format",
            "json",
        ],
    ))
    .unwrap();
    // The README's flow: the incident (+307% from 08:20) fills most of the last six hours,
    // and the hours before them say what normal was.
    assert_eq!(verdict["metric"], "orders_db_latency");
    assert_eq!(verdict["points"], 361, "the asked six hours are judged");
    assert_eq!(
        verdict["baseline_points"], 359,
        "the hours before set the baseline"
    );
    assert_eq!(verdict["anomalous"], true);
    let main = &verdict["anomalies"][0];
    assert!(
        main["magnitude"].as_f64().unwrap() > 2.0,
        "up, about +300%: {main}"
    );
    assert!(
        main["start"].as_str().unwrap() >= "2024-01-01T06:00:00Z",
        "only windows inside the asked range: {main}"
    );
    assert_eq!(verdict["pattern"], "connection_pool_exhaustion");
    let root_cause = verdict["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "root_cause")
        .unwrap();
    assert!(
        root_cause["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "candidate_cause"
                && e["detail"]
                    .as_str()
                    .unwrap()
                    .contains("db_connections_active")),
        "the stored related series is ranked: {root_cause}"
    );
    let missing = anomaly_hunter_in(&data_dir)
        .args(["detect", "--metric", "nothing_here"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr)
        .contains("no stored points for metric `nothing_here`"));
    let neither = anomaly_hunter_in(&data_dir)
        .args(["detect"])
        .output()
        .unwrap();
    assert_eq!(neither.status.code(), Some(2));
}

#[test]
fn processes_racing_to_create_a_fresh_store_all_succeed() {
    let data_dir =
        std::env::temp_dir().join(format!("anomaly-hunter-cli-race-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let children: Vec<_> = (0..6)
        .map(|_| {
            anomaly_hunter_in(&data_dir)
                .args(["detect", &example("normal_cpu.csv"), "--format", "json"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let history: serde_json::Value =
        serde_json::from_str(&run_in(&data_dir, &["history", "--format", "json"])).unwrap();
    assert_eq!(
        history.as_array().unwrap().len(),
        6,
        "every investigation stored"
    );
}

#[test]
fn confidence_falls_when_agents_disagree() {
    for file in [
        "api_response_time_degradation.csv",
        "network_packet_loss.csv",
        "memory_leak.csv",
    ] {
        let verdict = detect_json(&[&example(file)]);
        let confidence = verdict["confidence"].as_f64().unwrap();
        let cap = match verdict["consensus"].as_u64().unwrap() {
            3 => 0.99,
            2 => 0.9,
            _ => 0.75,
        };
        assert!(
            confidence <= cap,
            "{file}: {confidence} with consensus {}",
            verdict["consensus"]
        );
    }
    // The Pattern Analyst sees this degradation within its band (its rise is gradual); the
    // Change Detective and the Root Cause Agent see it.
    let split = detect_json(&[&example("api_response_time_degradation.csv")]);
    assert_eq!(split["consensus"], 2, "the example this test leans on");
    assert_eq!(split["confidence"], 0.9);
}

#[test]
fn ongoing_means_the_last_points_are_still_anomalous() {
    let csv = |shape: &dyn Fn(usize) -> f64| -> String {
        let mut text = String::from("timestamp,value\n");
        for i in 0..600 {
            let noise = ((i as f64 * 12.9898).sin() * 43_758.547).fract();
            text.push_str(&format!(
                "2024-01-01T{:02}:{:02}:00Z,{:.3}\n",
                i / 60,
                i % 60,
                100.0 + 4.0 * noise + shape(i)
            ));
        }
        text
    };
    // An 8-minute spike that ended 17 minutes before the last point.
    let over = scratch_file(
        "spike_over.csv",
        &csv(&|i| if (575..583).contains(&i) { 120.0 } else { 0.0 }),
    );
    let over = detect_json(&[over.to_str().unwrap()]);
    assert_eq!(over["anomalous"], true, "{over}");
    assert!(
        !over["verdict"].as_str().unwrap().contains("ongoing"),
        "the spike is over: {}",
        over["verdict"]
    );
    let spike = &over["anomalies"][0];
    assert_eq!(spike["kind"], "spike", "a spike is a spike: {over}");
    assert_eq!(
        (
            spike["start"].as_str().unwrap(),
            spike["end"].as_str().unwrap()
        ),
        ("2024-01-01T09:35:00Z", "2024-01-01T09:42:00Z"),
        "the window ends where the data returned to normal"
    );
    let shifted = scratch_file(
        "shift_lasting.csv",
        &csv(&|i| if i >= 450 { 120.0 } else { 0.0 }),
    );
    let shifted = detect_json(&[shifted.to_str().unwrap()]);
    assert!(
        shifted["verdict"].as_str().unwrap().contains("ongoing"),
        "the shift lasts to the last point: {}",
        shifted["verdict"]
    );
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    use std::process::Stdio;
    // `detect … | head -c 1`: the reader goes away after the first byte.
    for args in [
        vec!["detect", "--format", "json"],
        vec!["history", "--limit", "50"],
    ] {
        let mut command = anomaly_hunter();
        command.args(&args);
        if args[0] == "detect" {
            command.arg(example("db_query_latency.csv"));
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            output.status.success(),
            "{args:?}: a closed pipe is no error, not exit 101: {:?}",
            output.status
        );
    }
    let too_long = anomaly_hunter()
        .args(["detect", "--metric", "m", "--since", "99999999999999w"])
        .output()
        .unwrap();
    assert_eq!(too_long.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&too_long.stderr).contains("at most 3650d"));
}

#[test]
fn a_chart_path_in_a_missing_folder_is_refused_before_anything_is_stored() {
    let data_dir =
        std::env::temp_dir().join(format!("anomaly-hunter-cli-chart-{}", std::process::id()));
    let output = anomaly_hunter_in(&data_dir)
        .args([
            "detect",
            &example("memory_leak.csv"),
            "--chart",
            "/nonexistent/x.png",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr.trim(),
        "error: --chart /nonexistent/x.png: the folder /nonexistent does not exist"
    );
    let history = anomaly_hunter_in(&data_dir)
        .arg("history")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&history.stdout).trim(),
        "no investigations yet"
    );
}

#[test]
fn errors_name_their_cause_once_and_an_unreachable_database_is_reported_in_seconds() {
    let not_a_dir = scratch_file("a-file", "x");
    let output = anomaly_hunter_in(&not_a_dir.join("store"))
        .arg("history")
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(
        stderr.matches("os error").count(),
        1,
        "the cause once: {stderr}"
    );

    // Nothing listens on port 1: the store says so, once, after its 5 s connect timeout.
    let output = anomaly_hunter()
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")
        .arg("history")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("did not accept a connection within 5 s"),
        "{stderr}"
    );
}
