//! Command line: parses arguments and dispatches; the work lives in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use anomaly_hunter::agents::synthesizer::Weights;
use anomaly_hunter::investigation::{decomposition_of, investigate};
use anomaly_hunter::series::csv::{read_csv, CsvOptions, Limits};
use anomaly_hunter::series::events::read_events;
use anomaly_hunter::{bench, render, synthetic};

#[derive(Parser)]
#[command(
    name = "anomaly-hunter",
    version,
    about = "Investigates a metric's time series: three statistical agents and a verdict"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Investigate a CSV file (`timestamp,value` or `timestamp` plus several numeric columns).
    Detect {
        file: PathBuf,
        /// Metric name for the report (default: the file name).
        #[arg(long)]
        metric: Option<String>,
        /// Column to investigate (default: the first column after the timestamp).
        #[arg(long)]
        column: Option<String>,
        /// Deploys and config changes, a `timestamp,kind,description` CSV.
        #[arg(long)]
        events: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also draw a PNG chart here.
        #[arg(long)]
        chart: Option<PathBuf>,
        /// Largest accepted file, in bytes.
        #[arg(long, env = "ANOMALY_HUNTER_MAX_BYTES", default_value_t = Limits::default().max_bytes)]
        max_bytes: u64,
        /// Most accepted rows.
        #[arg(long, env = "ANOMALY_HUNTER_MAX_ROWS", default_value_t = Limits::default().max_rows)]
        max_rows: usize,
    },
    /// Write the demo datasets (seven incidents and normal series) as CSV files.
    Demo {
        #[arg(long, default_value = "examples")]
        out: PathBuf,
    },
    /// Measure efficacy or speed.
    Bench {
        #[arg(value_enum)]
        what: BenchKind,
        /// Seeds per scenario (efficacy).
        #[arg(long, default_value_t = 10)]
        seeds: u64,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum BenchKind {
    Efficacy,
    Speed,
}

/// Exit code for input the user must fix.
const BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env(
            "ANOMALY_HUNTER_LOG",
        ))
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(BAD_INPUT)
        }
        Err(Failure::Internal(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    /// The user's input is wrong (exit 2).
    BadInput(anyhow::Error),
    /// Something else failed (exit 1).
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Detect {
            file,
            metric,
            column,
            events,
            format,
            chart,
            max_bytes,
            max_rows,
        } => {
            let options = CsvOptions {
                metric,
                column,
                limits: Limits {
                    max_bytes,
                    max_rows,
                },
            };
            let series = read_csv(&file, &options).map_err(|e| Failure::BadInput(e.into()))?;
            let events = match events {
                Some(path) => read_events(&path).map_err(|e| Failure::BadInput(e.into()))?,
                None => Vec::new(),
            };
            let verdict = investigate(&series, &events, Weights::default());
            match format {
                Format::Text => print!("{}", render::text::report(&verdict)),
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&verdict).context("serialising the verdict")?
                ),
            }
            if let Some(path) = chart {
                render::chart::draw(&path, &series, &decomposition_of(&series), &verdict)
                    .map_err(anyhow::Error::from)?;
                eprintln!("chart written to {}", path.display());
            }
        }
        Command::Demo { out } => {
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            for file in synthetic::demo::demo_files() {
                let path = out.join(file.file_name);
                std::fs::write(&path, &file.csv)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("{}  ({})", path.display(), file.pattern.unwrap_or("normal"));
            }
        }
        Command::Bench {
            what: BenchKind::Efficacy,
            seeds,
            format,
        } => {
            let report = bench::efficacy::run(seeds);
            match format {
                Format::Text => print!("{report}"),
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&report).context("serialising the report")?
                ),
            }
        }
        Command::Bench {
            what: BenchKind::Speed,
            format,
            ..
        } => {
            eprintln!(
                "timing 500-point and 1,000,000-point investigations (release build recommended)…"
            );
            let timings = bench::speed::run(&std::env::temp_dir())?;
            match format {
                Format::Text => timings.iter().for_each(|t| println!("{t}")),
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&timings).context("serialising the timings")?
                ),
            }
        }
    }
    Ok(())
}
