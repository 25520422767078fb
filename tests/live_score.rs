//! Black-box tests of the live score: `score` is causal (a prefix of a file scores exactly as
//! the same rows of the whole file), writes one row per input row, alerts once per incident,
//! survives `| head`; `bench nab --results` writes NAB's result files with the same scores.

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use support::scratch_dir;
use support::serve::anomaly_hunter;

/// Runs `command`, which must succeed.
fn succeeds(command: &mut Command) -> Output {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Five-minute points with a daily cycle and noise; from row `incident` on, 30 rows are
/// +40% higher. Timestamps as NAB writes them.
fn metric_csv(rows: usize, incident: usize) -> String {
    let mut csv = String::from("timestamp,value\n");
    let start = 1_396_310_400; // 2014-04-01 00:00:00 UTC
    for i in 0..rows {
        let t = chrono::DateTime::from_timestamp(start + 300 * i as i64, 0).unwrap();
        let phase = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
        let noise = ((i as f64 * 12.9898).sin() * 43_758.547).fract();
        let mut value = 50.0 + 20.0 * phase.sin() + 3.0 * noise;
        if (incident..incident + 30).contains(&i) {
            value *= 1.4;
        }
        csv.push_str(&format!("{},{value:.3}\n", t.format("%Y-%m-%d %H:%M:%S")));
    }
    csv
}

/// The lines `score FILE …` prints; it must succeed.
fn score(path: &Path, extra: &[&str]) -> Vec<String> {
    let data_dir = path.parent().unwrap().to_path_buf();
    let output = succeeds(anomaly_hunter(&data_dir).arg("score").arg(path).args(extra));
    let text = String::from_utf8(output.stdout).unwrap();
    text.lines().map(str::to_string).collect()
}

#[test]
fn a_prefix_of_a_file_scores_exactly_as_the_same_rows_of_the_whole_file() {
    let dir = scratch_dir("causal");
    let whole = metric_csv(6_000, 4_500);
    let prefix: String = whole
        .lines()
        .take(3_501)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join("whole.csv"), &whole).unwrap();
    std::fs::write(dir.join("prefix.csv"), &prefix).unwrap();
    let whole_scores = score(&dir.join("whole.csv"), &[]);
    let prefix_scores = score(&dir.join("prefix.csv"), &[]);
    assert_eq!(whole_scores.len(), 6_001, "a header and one row per row");
    assert_eq!(prefix_scores.len(), 3_501);
    assert_eq!(prefix_scores[..], whole_scores[..3_501]);
    assert!(
        whole_scores[1..]
            .iter()
            .any(|row| row.split(',').nth(2) != Some("0")),
        "the rows carry scores, not only zeros"
    );
}

#[test]
fn every_row_is_scored_in_file_order_and_the_incident_alerts_once() {
    let dir = scratch_dir("rows");
    let mut csv = metric_csv(3_000, 2_500);
    // A duplicate timestamp and a blank value, as exports have them.
    csv.push_str("2014-04-11 10:00:00,61\n2014-04-11 10:00:00,61.5\n2014-04-11 10:05:00,\n");
    std::fs::write(dir.join("metric.csv"), &csv).unwrap();
    let lines = score(&dir.join("metric.csv"), &[]);
    assert_eq!(lines[0], "timestamp,value,anomaly_score,alert");
    assert_eq!(
        lines.len(),
        3_004,
        "one row per input row, duplicates included"
    );
    assert_eq!(lines[1].split(',').next(), Some("2014-04-01 00:00:00"));
    assert_eq!(
        lines[3_003], "2014-04-11 10:05:00,,0,0",
        "a blank value scores 0"
    );
    let mut alerts = Vec::new();
    for (row, line) in lines[1..].iter().enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        let score: f64 = fields[2].parse().unwrap();
        assert!((0.0..=1.0).contains(&score), "{line}");
        if fields[3] == "1" {
            alerts.push(row);
        }
    }
    assert_eq!(alerts.len(), 1, "one alert for the incident: {alerts:?}");
    assert!((2_500..2_510).contains(&alerts[0]), "{alerts:?}");

    let json = score(&dir.join("metric.csv"), &["--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json.join("\n")).unwrap();
    assert_eq!(json["metric"], "metric");
    assert_eq!(json["rows"], 3_003);
    assert_eq!(json["alerts"], 1);
    assert_eq!(json["scores"][alerts[0]]["alert"], true);
}

#[test]
fn bad_input_is_refused_with_the_line_and_a_closed_pipe_is_no_error() {
    let dir = scratch_dir("refused");
    std::fs::write(
        dir.join("bad.csv"),
        "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,abc\n",
    )
    .unwrap();
    let output = anomaly_hunter(&dir)
        .args(["score"])
        .arg(dir.join("bad.csv"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("`abc` is not a number"),
        "{stderr}"
    );

    std::fs::write(dir.join("long.csv"), metric_csv(200_000, 100_000)).unwrap();
    let mut child = anomaly_hunter(&dir)
        .arg("score")
        .arg(dir.join("long.csv"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first.trim_end(), "timestamp,value,anomaly_score,alert");
    // The reader is gone (dropped above), as with `| head -1`.
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn bench_nab_writes_nabs_result_files_with_the_scores_of_score() {
    let dir = scratch_dir("nab");
    std::fs::create_dir_all(dir.join("corpus/realTest")).unwrap();
    std::fs::write(
        dir.join("corpus/realTest/metric.csv"),
        metric_csv(3_000, 2_500),
    )
    .unwrap();
    // Rows 2,450..=2,649 (five-minute rows from 2014-04-01 00:00).
    std::fs::write(
        dir.join("corpus/windows.json"),
        r#"{"realTest/metric.csv": [["2014-04-09 12:10:00.000000", "2014-04-10 04:45:00.000000"]]}"#,
    )
    .unwrap();
    let output = succeeds(
        anomaly_hunter(&dir)
            .args(["bench", "nab", "--format", "json", "--data"])
            .arg(dir.join("corpus"))
            .arg("--results")
            .arg(dir.join("results")),
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["windows"], 1);
    let standard = &report["optimised"][0];
    assert_eq!(standard["profile"], "standard");
    assert_eq!(standard["windows_hit"], 1, "{report}");
    assert!(standard["score"].as_f64().unwrap() > 50.0, "{report}");
    let judged = &report["investigations"];
    assert_eq!(
        judged["labelled_windows_found"], 1,
        "detect finds it: {judged}"
    );
    assert_eq!(judged["recall"], 1.0);
    assert!((0.0..=1.0).contains(&judged["precision"].as_f64().unwrap()));
    assert!(judged["brier"].as_f64().unwrap() < 0.25, "{judged}");

    let results = std::fs::read_to_string(
        dir.join("results/anomalyhunter/realTest/anomalyhunter_metric.csv"),
    )
    .unwrap();
    let rows: Vec<Vec<&str>> = results.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0], ["timestamp", "value", "anomaly_score", "label"]);
    assert_eq!(rows.len(), 3_001);
    let labelled: Vec<usize> = (1..rows.len()).filter(|&i| rows[i][3] == "1").collect();
    assert_eq!(
        (
            labelled[0] - 1,
            labelled[labelled.len() - 1] - 1,
            labelled.len()
        ),
        (2_450, 2_649, 200)
    );
    let scored = score(&dir.join("corpus/realTest/metric.csv"), &[]);
    for (nab, ours) in rows[1..].iter().zip(&scored[1..]) {
        let ours: Vec<&str> = ours.split(',').collect();
        assert_eq!(
            nab[..3],
            ours[..3],
            "the same timestamps, values and scores"
        );
    }
}
