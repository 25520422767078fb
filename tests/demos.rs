//! Each demo incident's top hypothesis names its true failure pattern, normal demos are
//! called normal, and `examples/` holds exactly what `anomaly-hunter demo` writes.

use engine::agents::synthesizer::Weights;
use engine::investigation::investigate;
use engine::series::csv::{parse_csv, CsvOptions};
use engine::synthetic::demo::demo_files;

#[test]
fn every_demo_names_its_failure_pattern() {
    for demo in demo_files() {
        let series = parse_csv(
            demo.csv.clone().into_bytes(),
            demo.file_name,
            &CsvOptions::default(),
            None,
        )
        .unwrap();
        let verdict = investigate(&series, &[], Weights::default());
        assert_eq!(
            verdict.anomalous,
            demo.pattern.is_some(),
            "{}: {}",
            demo.file_name,
            verdict.verdict
        );
        assert_eq!(
            verdict.pattern, demo.pattern,
            "{}: {}",
            demo.file_name, verdict.hypothesis
        );
    }
}

#[test]
fn examples_folder_matches_the_generator() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for demo in demo_files() {
        let stored = std::fs::read_to_string(examples.join(demo.file_name)).unwrap_or_default();
        assert!(
            stored == demo.csv,
            "examples/{} is stale: run `anomaly-hunter demo --out examples`",
            demo.file_name
        );
    }
}

#[test]
fn the_discord_command_definitions_are_valid_json_with_the_check_subcommand() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("commands/discord-commands.json");
    let commands: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let anomaly = &commands[0];
    assert_eq!(anomaly["name"], "anomaly");
    let names: Vec<&str> = anomaly["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["check", "stats", "history", "help"]);
}
