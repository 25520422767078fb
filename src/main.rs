//! Command line: parses arguments and dispatches to `anomaly_hunter::cli`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use anomaly_hunter::cli::{self, DetectRequest, Failure, Source};
use anomaly_hunter::series::csv::{CsvOptions, Limits};
use anomaly_hunter::{bench, synthetic};
use anomaly_hunter::{out, outln};

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

#[derive(clap::Args)]
struct CsvArgs {
    /// Metric name (default: the file name).
    #[arg(long)]
    metric: Option<String>,
    /// Column to investigate (default: the first column after the timestamp).
    #[arg(long)]
    column: Option<String>,
    /// Largest accepted file, in bytes.
    #[arg(long, env = "ANOMALY_HUNTER_MAX_BYTES", default_value_t = Limits::default().max_bytes)]
    max_bytes: u64,
    /// Most accepted rows.
    #[arg(long, env = "ANOMALY_HUNTER_MAX_ROWS", default_value_t = Limits::default().max_rows)]
    max_rows: usize,
}

impl CsvArgs {
    fn options(&self) -> CsvOptions {
        CsvOptions {
            metric: self.metric.clone(),
            column: self.column.clone(),
            limits: Limits {
                max_bytes: self.max_bytes,
                max_rows: self.max_rows,
            },
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Investigate a CSV file, or a stored metric with `--metric NAME` and no file.
    /// Every investigation is stored; its id is printed.
    Detect {
        file: Option<PathBuf>,
        #[command(flatten)]
        csv: CsvArgs,
        /// A PromQL expression to investigate, from the Prometheus at PROMETHEUS_URL (each
        /// series it returns, worst first).
        #[arg(long, conflicts_with_all = ["file", "metric"])]
        query: Option<String>,
        /// With a stored metric or a query: only its last stretch (`30m`, `6h`, `7d`), judged
        /// against four times as much history before it.
        #[arg(long, value_parser = anomaly_hunter::series::timestamp::parse_duration)]
        since: Option<i64>,
        /// Deploys and config changes, a `timestamp,kind,description` CSV (also stored).
        #[arg(long)]
        events: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also draw a PNG chart here.
        #[arg(long)]
        chart: Option<PathBuf>,
    },
    /// The live anomaly score of every row, exactly as `serve` scores a metric's points as
    /// they arrive: `timestamp,value,anomaly_score,alert`, each score from the rows before it.
    Score {
        file: PathBuf,
        #[command(flatten)]
        csv: CsvArgs,
        #[arg(long, value_enum, default_value_t = ScoreFormat::Csv)]
        format: ScoreFormat,
    },
    /// Run the chat bot (Slack when SLACK_BOT_TOKEN is set) on ANOMALY_HUNTER_ADDR.
    Serve {
        /// Largest accepted upload, in bytes.
        #[arg(long, env = "ANOMALY_HUNTER_MAX_BYTES", default_value_t = Limits::default().max_bytes)]
        max_bytes: u64,
        /// Most accepted rows in an upload.
        #[arg(long, env = "ANOMALY_HUNTER_MAX_ROWS", default_value_t = Limits::default().max_rows)]
        max_rows: usize,
    },
    /// Store a CSV's points under a metric name (a point at a stored timestamp is replaced).
    Ingest {
        file: PathBuf,
        #[command(flatten)]
        csv: CsvArgs,
    },
    /// Tell the bot whether a verdict was right; it learns from it.
    Feedback {
        /// Investigation id (printed by `detect`, listed by `history`).
        id: String,
        /// `confirm` or `false-positive`.
        #[arg(value_parser = ["confirm", "confirmed", "false-positive", "false_positive", "fp"])]
        verdict: String,
        /// What actually caused it; cited when a similar incident comes back.
        #[arg(long)]
        root_cause: Option<String>,
        #[arg(long, env = "USER")]
        author: Option<String>,
    },
    /// Past investigations, newest first.
    History {
        #[arg(long)]
        metric: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Precision, agent agreement, patterns, calibration and learned thresholds from feedback.
    Stats {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Write the demo datasets (seven incidents and normal series) as CSV files.
    Demo {
        #[arg(long, default_value = "examples")]
        out: PathBuf,
    },
    /// Measure efficacy, speed, or similar-incident retrieval.
    Bench {
        #[arg(value_enum)]
        what: BenchKind,
        /// Seeds per scenario (efficacy).
        #[arg(long, default_value_t = 10)]
        seeds: u64,
        /// First seed (efficacy): tune on one range, judge on another.
        #[arg(long, default_value_t = 0)]
        first_seed: u64,
        /// Stored incidents to search (similar).
        #[arg(long, default_value_t = 100_000)]
        incidents: usize,
        /// Metric points to push through the streaming path (stream).
        #[arg(long, default_value_t = 200_000)]
        points: usize,
        /// Distinct metrics those points belong to (stream).
        #[arg(long, default_value_t = 50)]
        metrics: usize,
        /// The NAB corpus folder: `windows.json` and the CSV folders it names (nab).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Also write NAB's result files here, for NAB's own scorer (nab).
        #[arg(long)]
        results: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

impl From<Format> for cli::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Text => Self::Text,
            Format::Json => Self::Json,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum ScoreFormat {
    Csv,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum BenchKind {
    Efficacy,
    Nab,
    Speed,
    Similar,
    Stream,
}

/// Exit code for input the user must fix.
const BAD_INPUT: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    // Before logging, so the Sentry layer has a client; kept alive to flush at exit.
    let _sentry = match anomaly_hunter::sinks::error_reporting::init_from_env() {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    init_logging();
    match run(Cli::parse()).await {
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

/// Logs to stderr filtered by `ANOMALY_HUNTER_LOG` (default: warnings); errors are also
/// counted for `/metrics` and sent to Sentry (when on) whatever the filter.
fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("ANOMALY_HUNTER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // Colours only for a person at a terminal, not in log files or journald.
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_filter(filter),
        )
        .with(anomaly_hunter::telemetry::ErrorCounter)
        .with(sentry::integrations::tracing::layer())
        .init();
}

async fn run(command_line: Cli) -> Result<(), Failure> {
    match command_line.command {
        Command::Detect {
            file,
            csv,
            query,
            since,
            events,
            format,
            chart,
        } => {
            let source = match (file, &csv.metric, query) {
                (_, _, Some(query)) => Source::Query {
                    query,
                    since_ms: since,
                },
                (Some(path), ..) => Source::File {
                    path,
                    options: csv.options(),
                },
                (None, Some(metric), None) => Source::Stored {
                    metric: metric.clone(),
                    since_ms: since,
                },
                (None, None, None) => {
                    return Err(Failure::BadInput(anyhow::anyhow!(
                        "give a CSV file, --metric NAME to investigate a stored metric, or --query PROMQL"
                    )))
                }
            };
            cli::detect(DetectRequest {
                source,
                events,
                format: format.into(),
                chart,
            })
            .await
        }
        Command::Serve {
            max_bytes,
            max_rows,
        } => {
            let config = anomaly_hunter::serve::Config::from_env(Limits {
                max_bytes,
                max_rows,
            })
            .map_err(Failure::BadInput)?;
            let mut store = cli::open_store().await?;
            if config.redpanda.is_some() {
                store = store.with_event_outbox();
            }
            anomaly_hunter::serve::serve(config, std::sync::Arc::new(store))
                .await
                .map_err(Failure::Internal)
        }
        Command::Ingest { file, csv } => cli::ingest(&file, &csv.options()).await,
        Command::Score { file, csv, format } => cli::score(
            &file,
            &csv.options(),
            match format {
                ScoreFormat::Csv => cli::Format::Text,
                ScoreFormat::Json => cli::Format::Json,
            },
        ),
        Command::Feedback {
            id,
            verdict,
            root_cause,
            author,
        } => {
            let store = cli::open_store().await?;
            cli::feedback(&store, &id, &verdict, root_cause, author).await
        }
        Command::History {
            metric,
            limit,
            format,
        } => {
            let store = cli::open_store().await?;
            cli::history(&store, metric.as_deref(), limit, format.into()).await
        }
        Command::Stats { format } => {
            let store = cli::open_store().await?;
            cli::stats(&store, format.into()).await
        }
        Command::Demo { out } => {
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            for file in synthetic::demo::demo_files() {
                let path = out.join(file.file_name);
                std::fs::write(&path, &file.csv)
                    .with_context(|| format!("writing {}", path.display()))?;
                outln!("{}  ({})", path.display(), file.pattern.unwrap_or("normal"));
            }
            Ok(())
        }
        Command::Bench {
            what,
            seeds,
            first_seed,
            incidents,
            points,
            metrics,
            data,
            results,
            format,
        } => {
            let json = matches!(format, Format::Json);
            let output = match what {
                BenchKind::Efficacy => {
                    let report = bench::efficacy::run(first_seed..first_seed + seeds);
                    if json {
                        serde_json::to_string_pretty(&report).context("serialising")?
                    } else {
                        report.to_string()
                    }
                }
                BenchKind::Nab => {
                    let data = data.ok_or_else(|| {
                        Failure::BadInput(anyhow::anyhow!(
                            "bench nab needs --data DIR, the NAB corpus folder (windows.json and its CSV folders)"
                        ))
                    })?;
                    eprintln!(
                        "scoring the NAB corpus in {} one point at a time…",
                        data.display()
                    );
                    let corpus = bench::nab::load(&data).map_err(Failure::BadInput)?;
                    let (report, scores) = bench::nab::run(&corpus);
                    if let Some(dir) = &results {
                        let written = bench::nab::write_results(dir, &corpus, &scores)?;
                        eprintln!("NAB result files written under {}", written.display());
                    }
                    if json {
                        serde_json::to_string_pretty(&report).context("serialising")?
                    } else {
                        report.to_string()
                    }
                }
                BenchKind::Speed => {
                    eprintln!("timing 500-point and 1,000,000-point investigations (release build recommended)…");
                    let timings = bench::speed::run(&std::env::temp_dir())?;
                    if json {
                        serde_json::to_string_pretty(&timings).context("serialising")?
                    } else {
                        timings.iter().map(|t| format!("{t}\n")).collect()
                    }
                }
                BenchKind::Stream => {
                    eprintln!("parsing, storing and scoring {points} metric points ({metrics} metrics) in a scratch SQLite store…");
                    let timing = bench::stream::run(&std::env::temp_dir(), points, metrics).await?;
                    if json {
                        serde_json::to_string_pretty(&timing).context("serialising")?
                    } else {
                        format!("{timing}\n")
                    }
                }
                BenchKind::Similar => {
                    eprintln!("storing {incidents} incidents in a scratch SQLite store, then timing retrieval…");
                    let timing = bench::similar::run(&std::env::temp_dir(), incidents).await?;
                    if json {
                        serde_json::to_string_pretty(&timing).context("serialising")?
                    } else {
                        format!("{timing}\n")
                    }
                }
            };
            out!("{output}");
            if json {
                outln!("");
            }
            Ok(())
        }
    }
}
