//! The engine's own evaluation, built without the bot (seconds, not minutes, after a change
//! to the engine): what `anomaly-hunter bench efficacy` and `bench nab` print.
//!
//! ```sh
//! cargo run --release -p anomaly-hunter-engine --example evaluate -- efficacy 20
//! cargo run --release -p anomaly-hunter-engine --example evaluate -- nab ../shared/data/nab-dev --loco
//! ```

use std::path::Path;
use std::process::ExitCode;

use anomaly_hunter_engine::agents::synthesizer::Weights;
use anomaly_hunter_engine::evaluation::{alert_budget, efficacy, loco, nab};
use anomaly_hunter_engine::investigate;
use anomaly_hunter_engine::series::timestamp::to_rfc3339;
use anomaly_hunter_engine::series::Series;
use anomaly_hunter_engine::stats::live_score::LiveScoreConfig;
use anomaly_hunter_engine::synthetic::grid::{self, Family, GridCase, Kind, Placement};
use anomaly_hunter_engine::synthetic::streams;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["efficacy", seeds @ ..] => {
            let count = seeds.first().and_then(|s| s.parse().ok()).unwrap_or(10);
            let report = efficacy::run(0..count);
            if seeds.contains(&"--json") {
                println!(
                    "{}",
                    serde_json::to_string(&report).expect("a report serialises")
                );
            } else {
                println!("{report}");
            }
            ExitCode::SUCCESS
        }
        ["budget", seeds @ ..] => {
            let count = seeds.first().and_then(|s| s.parse().ok()).unwrap_or(10);
            let step = seeds.get(1).and_then(|s| s.parse().ok()).unwrap_or(60_000);
            for family in alert_budget::run(0..count, step) {
                println!(
                    "{:<16} {:>3} series  {:>3} incidents  {:.2} per series-week",
                    family.family, family.series, family.incidents, family.per_series_week
                );
            }
            ExitCode::SUCCESS
        }
        ["nab", dir, rest @ ..] => match nab::load(Path::new(dir)) {
            Ok(corpus) => {
                let Some(config) = parameters(rest) else {
                    return ExitCode::from(2);
                };
                println!("{}", nab::run(&corpus, config).0);
                if rest.contains(&"--loco") {
                    println!("{}", loco::run(&corpus, config));
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        ["streams", files, rest @ ..] => {
            let Some(config) = parameters(rest) else {
                return ExitCode::from(2);
            };
            let count = files.parse().unwrap_or(10);
            // The corpus holds `count` files of each kind, kind after kind.
            let corpus = streams::corpus(count);
            for (kind, files) in streams::StreamKind::ALL
                .iter()
                .zip(corpus.chunks(count.max(1) as usize))
            {
                println!("{}:\n{}", kind.label(), nab::run(files, config).0);
            }
            println!("all:\n{}", nab::run(&corpus, config).0);
            ExitCode::SUCCESS
        }
        ["stream-files", files] => {
            for file in &streams::corpus(files.parse().unwrap_or(10)) {
                print_file_verdict(file);
            }
            ExitCode::SUCCESS
        }
        ["files", dir] => match nab::load(Path::new(dir)) {
            Ok(corpus) => {
                for file in &corpus {
                    print_file_verdict(file);
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        ["cell", kind, family, placement, seed, rest @ ..] => {
            let Some(cell) = grid_cell(kind, family, placement) else {
                return ExitCode::from(2);
            };
            let inject = !rest.contains(&"normal");
            let (kind, family, placement) = cell;
            let case = grid::generate(kind, family, placement, seed.parse().unwrap_or(0), inject);
            if rest.contains(&"csv") {
                for (t, v) in case.series.timestamps.iter().zip(&case.series.values) {
                    println!("{},{v}", to_rfc3339(*t));
                }
                return ExitCode::SUCCESS;
            }
            print_case_verdict(&case);
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: evaluate efficacy [SEEDS] [--json] | evaluate nab DIR [--loco] [--set NAME=VALUE]… | evaluate streams COUNT | evaluate files DIR | evaluate stream-files COUNT | evaluate cell KIND FAMILY PLACEMENT SEED [normal] [csv]");
            ExitCode::from(2)
        }
    }
}

/// The live score's defaults with each `--set NAME=VALUE` of `args` applied.
fn parameters(args: &[&str]) -> Option<LiveScoreConfig> {
    let mut config = LiveScoreConfig::default();
    for pair in args.windows(2).filter(|w| w[0] == "--set").map(|w| w[1]) {
        let moved = pair
            .split_once('=')
            .and_then(|(name, value)| Some((name, value.parse().ok()?)))
            .and_then(|(name, value)| loco::with_parameter(config, name, value));
        let Some(moved) = moved else {
            let names: Vec<_> = loco::parameter_names().collect();
            eprintln!(
                "--set {pair}: want NAME=NUMBER, NAME one of {}",
                names.join(", ")
            );
            return None;
        };
        config = moved;
    }
    Some(config)
}

/// One NAB file's verdict beside its labels: each reported window marked ✓ when it overlaps a
/// label, each label marked when a window found it.
fn print_file_verdict(file: &nab::LabelledFile) {
    let Ok(series) = Series::from_points(&file.name, file.timestamps.clone(), file.values.clone())
    else {
        return;
    };
    let verdict = investigate(&series, &[], Weights::default());
    let labels: Vec<(i64, i64)> = file
        .windows
        .iter()
        .map(|&(s, e)| (file.timestamps[s], file.timestamps[e]))
        .collect();
    let overlaps = |a: (i64, i64), b: (i64, i64)| a.0 <= b.1 && b.0 <= a.1;
    println!(
        "{} — {} sev {} conf {:.2}",
        file.name,
        if verdict.anomalous {
            "ANOMALOUS"
        } else {
            "normal"
        },
        verdict.severity,
        verdict.confidence
    );
    for a in &verdict.anomalies {
        let hit = labels.iter().any(|l| overlaps((a.start_ms, a.end_ms), *l));
        println!(
            "   {} {:?} {} → {} {:+.0}% score {:.2}",
            if hit { "✓" } else { "✗" },
            a.kind,
            a.start,
            a.end,
            a.magnitude * 100.0,
            a.score
        );
    }
    for l in &labels {
        let found = verdict
            .anomalies
            .iter()
            .any(|a| overlaps((a.start_ms, a.end_ms), *l));
        println!(
            "   label {} → {} {}",
            to_rfc3339(l.0),
            to_rfc3339(l.1),
            if found { "found" } else { "MISSED" }
        );
        // What the agents saw there, when the verdict reported nothing.
        for report in verdict.agents.iter().filter(|_| !found) {
            for w in &report.windows {
                let at = (file.timestamps[w.start], file.timestamps[w.end]);
                if overlaps(at, *l) {
                    println!(
                        "      {:?}: {:?} {} → {} {:+.0}% score {:.2}",
                        report.agent,
                        w.kind,
                        to_rfc3339(at.0),
                        to_rfc3339(at.1),
                        w.magnitude * 100.0,
                        w.score
                    );
                }
            }
        }
    }
}

/// The grid cell named by its three labels, or the lists to choose from.
fn grid_cell(kind: &str, family: &str, placement: &str) -> Option<(Kind, Family, Placement)> {
    let kind = Kind::ALL.into_iter().find(|k| k.label() == kind);
    let family = Family::ALL.into_iter().find(|f| f.label() == family);
    let placement = Placement::ALL.into_iter().find(|p| p.label() == placement);
    let found = kind.zip(family).zip(placement).map(|((k, f), p)| (k, f, p));
    if found.is_none() {
        let labels = |l: Vec<&str>| l.join(", ");
        eprintln!(
            "kinds: {}\nfamilies: {}\nplacements: {}",
            labels(Kind::ALL.iter().map(|k| k.label()).collect()),
            labels(Family::ALL.iter().map(|f| f.label()).collect()),
            labels(Placement::ALL.iter().map(|p| p.label()).collect())
        );
    }
    found
}

/// A generated case's verdict, each agent's windows, and where the truth is.
fn print_case_verdict(case: &GridCase) {
    let verdict = investigate(&case.series, &[], Weights::default());
    let at = |i: usize| to_rfc3339(case.series.timestamps[i]);
    println!(
        "{} points, {} → {}",
        case.series.len(),
        at(0),
        at(case.series.len() - 1)
    );
    if let Some((start, end)) = case.truth {
        println!("truth {} → {}", to_rfc3339(start), to_rfc3339(end));
    }
    println!("{}\n{}", verdict.verdict, verdict.hypothesis);
    for report in &verdict.agents {
        println!("{:?}: {}", report.agent, report.finding);
        for w in &report.windows {
            println!(
                "  {:?} {} → {} score {:.2} magnitude {:+.3}",
                w.kind,
                at(w.start),
                at(w.end),
                w.score,
                w.magnitude
            );
        }
    }
}
