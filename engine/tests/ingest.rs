//! Bad input gets its own clear error (file, line, column) and never a panic; good input in
//! every supported timestamp shape is read the same way.

use std::path::PathBuf;

use anomaly_hunter_engine::series::csv::{read_csv, CsvOptions, Limits, Problem};

fn write(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("anomaly-hunter-ingest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn rows(count: usize, timestamp: impl Fn(usize) -> String) -> String {
    let mut csv = String::from("timestamp,value\n");
    for i in 0..count {
        csv.push_str(&format!("{},{}\n", timestamp(i), 10 + i % 3));
    }
    csv
}

fn problem(name: &str, content: &str, options: &CsvOptions) -> (Problem, String) {
    let error = read_csv(&write(name, content), options).expect_err("must be refused");
    let message = error.to_string();
    assert!(message.contains(name), "message names the file: {message}");
    (error.problem, message)
}

#[test]
fn empty_file() {
    let (p, _) = problem("empty.csv", "", &CsvOptions::default());
    assert!(matches!(p, Problem::Empty), "{p:?}");
}

#[test]
fn header_only() {
    let (p, _) = problem("header.csv", "timestamp,value\n", &CsvOptions::default());
    assert!(matches!(p, Problem::HeaderOnly), "{p:?}");
}

#[test]
fn no_numeric_column() {
    let csv = rows(30, |i| format!("2024-01-01 00:{:02}:00", i))
        .replace(",10\n", ",web-1\n")
        .replace(",11\n", ",web-2\n")
        .replace(",12\n", ",web-3\n");
    let (p, message) = problem("text.csv", &csv, &CsvOptions::default());
    assert!(matches!(p, Problem::NoNumericColumn { .. }), "{p:?}");
    assert!(message.contains("no numeric column"), "{message}");
}

#[test]
fn bad_number_names_line_and_column() {
    let mut csv = rows(30, |i| format!("2024-01-01 00:{:02}:00", i));
    csv = csv.replacen("2024-01-01 00:12:00,10", "2024-01-01 00:12:00,abc", 1);
    let (p, message) = problem("bad_number.csv", &csv, &CsvOptions::default());
    assert!(matches!(p, Problem::BadNumber { line: 14, .. }), "{p:?}");
    assert!(
        message.contains("line 14, column `value`: `abc` is not a number"),
        "{message}"
    );
}

#[test]
fn line_numbers_survive_blank_lines() {
    let mut csv = rows(30, |i| format!("2024-01-01 00:{:02}:00", i));
    csv = csv.replacen("2024-01-01 00:03:00", "\n2024-01-01 00:03:00", 1);
    csv = csv.replacen("2024-01-01 00:12:00,10", "2024-01-01 00:12:00,oops", 1);
    let (p, _) = problem("blank_lines.csv", &csv, &CsvOptions::default());
    assert!(matches!(p, Problem::BadNumber { line: 15, .. }), "{p:?}");
}

#[test]
fn bad_timestamp_names_line() {
    let mut csv = rows(30, |i| format!("2024-01-01T00:{:02}:00Z", i));
    csv = csv.replacen("2024-01-01T00:20:00Z", "yesterday", 1);
    let (p, message) = problem("bad_time.csv", &csv, &CsvOptions::default());
    assert!(matches!(p, Problem::BadTimestamp { line: 22, .. }), "{p:?}");
    assert!(
        message.contains("`yesterday` is not a timestamp"),
        "{message}"
    );
}

#[test]
fn too_few_points() {
    let (p, message) = problem(
        "short.csv",
        &rows(19, |i| format!("{}", 1_700_000_000 + i * 60)),
        &CsvOptions::default(),
    );
    assert!(matches!(p, Problem::Series(_)), "{p:?}");
    assert!(message.contains("at least 20"), "{message}");
}

#[test]
fn byte_and_row_limits_are_enforced_before_parsing() {
    let csv = rows(100, |i| format!("{}", 1_700_000_000 + i * 60));
    let tight_bytes = CsvOptions {
        limits: Limits {
            max_bytes: 100,
            max_rows: 1_000,
        },
        ..CsvOptions::default()
    };
    assert!(matches!(
        problem("big.csv", &csv, &tight_bytes).0,
        Problem::TooLarge { .. }
    ));
    let tight_rows = CsvOptions {
        limits: Limits {
            max_bytes: 1 << 20,
            max_rows: 50,
        },
        ..CsvOptions::default()
    };
    assert!(matches!(
        problem("long.csv", &csv, &tight_rows).0,
        Problem::TooManyRows { limit: 50 }
    ));
}

#[test]
fn unknown_column_lists_the_columns() {
    let options = CsvOptions {
        column: Some("latency".into()),
        ..CsvOptions::default()
    };
    let (p, message) = problem(
        "columns.csv",
        &rows(30, |i| format!("{}", 1_700_000_000 + i * 60)),
        &options,
    );
    assert!(matches!(p, Problem::UnknownColumn { .. }), "{p:?}");
    assert!(message.contains("`timestamp`, `value`"), "{message}");
}

#[test]
fn every_timestamp_shape_reads_the_same_series() {
    let base = 1_704_067_200i64; // 2024-01-01T00:00:00Z
    let shapes: Vec<Box<dyn Fn(usize) -> String>> = vec![
        Box::new(move |i| format!("{}", base + i as i64 * 60)),
        Box::new(move |i| format!("{}", (base + i as i64 * 60) * 1000)),
        Box::new(|i| format!("2024-01-01T{:02}:{:02}:00Z", i / 60, i % 60)),
        Box::new(|i| format!("2024-01-01 {:02}:{:02}:00", i / 60, i % 60)),
        Box::new(|i| format!("2024-01-01T{:02}:{:02}:00+00:00", i / 60, i % 60)),
    ];
    let series: Vec<_> = shapes
        .iter()
        .enumerate()
        .map(|(k, shape)| {
            read_csv(
                &write(&format!("shape{k}.csv"), &rows(90, shape)),
                &CsvOptions::default(),
            )
            .unwrap()
        })
        .collect();
    for s in &series[1..] {
        assert_eq!(s.timestamps, series[0].timestamps);
        assert_eq!(s.values, series[0].values);
    }
}

#[test]
fn unsorted_duplicates_gaps_and_blanks_are_handled() {
    let mut lines: Vec<String> = (0..40)
        .map(|i| format!("{},{}", 1_700_000_000 + i * 60, i))
        .collect();
    lines.reverse();
    lines.push(format!("{},{}", 1_700_000_000 + 5 * 60, 7)); // duplicate of 5 → mean 6
    lines.push(format!("{},", 1_700_000_000 + 50 * 60)); // blank cell
    lines.push(format!("{},1", 1_700_000_000 + 60 * 60)); // after a gap
    let csv = format!("timestamp,value\n{}\n", lines.join("\n"));
    let s = read_csv(&write("messy.csv", &csv), &CsvOptions::default()).unwrap();
    assert!(s.timestamps.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(s.values[5], 6.0);
    assert_eq!(s.merged_duplicates, 1);
    assert_eq!(s.blank_at.len(), 1);
    assert_eq!(s.gaps.len(), 1);
}

#[test]
fn multi_column_files_keep_the_other_columns_as_candidates() {
    let mut csv = String::from("time,latency_ms,connections,host\n");
    for i in 0..30 {
        csv.push_str(&format!(
            "{},{},{},web-{}\n",
            1_700_000_000 + i * 60,
            20 + i % 4,
            50 + i,
            i % 2
        ));
    }
    let s = read_csv(&write("multi.csv", &csv), &CsvOptions::default()).unwrap();
    assert_eq!(s.metric, "multi");
    assert_eq!(s.related.len(), 1, "the text column `host` is ignored");
    assert_eq!(s.related[0].name, "connections");
    let chosen = CsvOptions {
        column: Some("connections".into()),
        ..CsvOptions::default()
    };
    let s = read_csv(&write("multi2.csv", &csv), &chosen).unwrap();
    assert_eq!(s.values[0], 50.0);
    assert_eq!(s.related[0].name, "latency_ms");
}

#[test]
fn events_file_needs_its_columns_and_skips_blank_lines() {
    use anomaly_hunter_engine::series::events::read_events;
    let good = write("events.csv", "timestamp,kind,description\n2024-01-01T08:15:00Z,Deploy,api v2\n\n2024-01-01T07:00:00Z,config,pool size 50\n");
    let events = read_events(&good).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].kind, "config", "sorted by time");
    assert_eq!(events[1].kind, "deploy", "kinds are lower-cased");
    let bad = write("events_bad.csv", "when,what\n2024-01-01T08:15:00Z,deploy\n");
    let message = read_events(&bad).unwrap_err().to_string();
    assert!(message.contains("timestamp,kind,description"), "{message}");
}

#[test]
fn ragged_and_binary_files_get_plain_words() {
    let mut ragged = rows(30, |i| format!("{}", 1_700_000_000 + i * 60));
    ragged.push_str("1700009999,1,2,3\n");
    let (p, message) = problem("ragged.csv", &ragged, &CsvOptions::default());
    assert!(matches!(p, Problem::Malformed(_)), "{p:?}");
    assert!(message.contains("more fields than the header"), "{message}");
    assert!(
        !message.contains("truncate_ragged_lines"),
        "no polars option names: {message}"
    );

    let path = write("binary.csv", "");
    std::fs::write(&path, (0..=255u8).cycle().take(4096).collect::<Vec<u8>>()).unwrap();
    let message = read_csv(&path, &CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert!(message.contains("not UTF-8"), "{message}");
}
