//! Command line: parses arguments and dispatches to `anomaly_hunter::cli`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{CommandFactory as _, Parser, Subcommand, ValueEnum};

use anomaly_hunter::bench;
use anomaly_hunter::cli::{self, DetectRequest, Failure, Source};
use anomaly_hunter::config::{
    self, LimitSettings, LlmSettings, LogSettings, PrometheusSettings, RedpandaSettings, Settings,
    StoreSettings,
};
use anomaly_hunter::sinks::error_reporting;
use anomaly_hunter::sinks::redpanda::RedpandaConfig;
use anomaly_hunter::{out, outln};
use engine::evaluation;
use engine::series::csv::CsvOptions;
use engine::synthetic;

#[derive(Parser)]
#[command(
    name = "anomaly-hunter",
    version,
    about = "Investigates a metric's time series: three statistical agents and a verdict"
)]
struct Cli {
    #[command(flatten)]
    log: LogSettings,
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
    #[command(flatten)]
    limits: LimitSettings,
}

impl CsvArgs {
    fn options(&self) -> CsvOptions {
        CsvOptions {
            metric: self.metric.clone(),
            column: self.column.clone(),
            limits: self.limits.limits(),
        }
    }
}

// Parsed once per process: the size of a variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
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
        #[arg(long, value_parser = engine::series::timestamp::parse_duration)]
        since: Option<i64>,
        /// Deploys and config changes, a `timestamp,kind,description` CSV (also stored).
        #[arg(long)]
        events: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also draw a PNG chart here.
        #[arg(long)]
        chart: Option<PathBuf>,
        #[command(flatten)]
        store: StoreSettings,
        #[command(flatten)]
        redpanda: RedpandaSettings,
        #[command(flatten)]
        prometheus: PrometheusSettings,
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
    /// Run the chat bot on ANOMALY_HUNTER_ADDR: Slack when SLACK_BOT_TOKEN is set, Discord
    /// when DISCORD_TOKEN is, and so on. Every option can be given as the environment variable
    /// it names, or in `.env` (see `.env.example`).
    Serve {
        #[command(flatten)]
        settings: Settings,
    },
    /// Store a CSV's points under a metric name (a point at a stored timestamp is replaced).
    Ingest {
        file: PathBuf,
        #[command(flatten)]
        csv: CsvArgs,
        #[command(flatten)]
        store: StoreSettings,
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
        #[command(flatten)]
        store: StoreSettings,
    },
    /// Past investigations, newest first.
    History {
        #[arg(long)]
        metric: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[command(flatten)]
        store: StoreSettings,
    },
    /// Precision, agent agreement, patterns, calibration and learned thresholds from feedback.
    Stats {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[command(flatten)]
        store: StoreSettings,
    },
    /// Watches: metrics scored continuously by `serve` (with PROMETHEUS_URL), incidents posted
    /// as threads. Stored, so every replica sharing the store sees them.
    Watch {
        #[command(subcommand)]
        command: WatchCli,
    },
    /// The optional language model (LLM_MODEL): see what it would be sent.
    Llm {
        #[command(subcommand)]
        command: LlmCommand,
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
        /// Series one watch scores (watch), or remote write sends (remote-write; default
        /// 2,000 there).
        #[arg(long)]
        series: Option<usize>,
        /// Scrapes of every series remote write sends, timed (remote-write).
        #[arg(long, default_value_t = 500)]
        scrapes: usize,
        /// Hours of history the watch is seeded from (watch).
        #[arg(long, default_value_t = 36.0)]
        seed_hours: f64,
        /// Steps scored after the seed (watch).
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        /// The NAB corpus folder: `windows.json` and the CSV folders it names (nab).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Also write NAB's result files here, for NAB's own scorer (nab).
        #[arg(long)]
        results: Option<PathBuf>,
        /// Also leave each category out in turn: parameters chosen on the others, scored on
        /// it (nab; a minute or two).
        #[arg(long)]
        loco: bool,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// With REDPANDA_BROKERS, `bench stream` also sends its points through the broker.
        #[command(flatten)]
        redpanda: RedpandaSettings,
    },
}

// Parsed once per process, like `Command`.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum WatchCli {
    /// Watch a metric or PromQL query (checked against Prometheus first); prints its id.
    Add {
        query: String,
        /// Step between scored points (`15s`, `1m`).
        #[arg(long, default_value = "1m", value_parser = engine::series::timestamp::parse_duration)]
        every: i64,
        /// Most series scored; the rest are left out (and counted).
        #[arg(long, default_value_t = anomaly_hunter::sources::watches::DEFAULT_SERIES_CAP)]
        max_series: i64,
        /// Post its incidents in this Slack channel (default: ALERT_SLACK_CHANNEL).
        #[arg(long, conflicts_with = "discord_channel")]
        slack_channel: Option<String>,
        /// Post its incidents in this Discord channel (default: ALERT_DISCORD_CHANNEL).
        #[arg(long)]
        discord_channel: Option<String>,
        #[arg(long, env = "USER", default_value = "cli")]
        author: String,
        #[command(flatten)]
        store: StoreSettings,
        #[command(flatten)]
        prometheus: PrometheusSettings,
    },
    /// Every watch with its state and alert budget.
    List {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[command(flatten)]
        store: StoreSettings,
    },
    /// Stop a watch (its threads stay).
    Rm {
        id: String,
        #[command(flatten)]
        store: StoreSettings,
    },
}

#[derive(Subcommand)]
enum LlmCommand {
    /// Print exactly the request a summary of investigation ID would send: URL, headers (the
    /// key never shown) and body. Nothing is sent.
    Preview {
        /// Investigation id (printed by `detect`, listed by `history`).
        id: String,
        #[command(flatten)]
        store: StoreSettings,
        #[command(flatten)]
        llm: LlmSettings,
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
    Watch,
    RemoteWrite,
}

/// Exit code for input the user must fix.
const BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    // `.env` and blank variables first, while this is the only thread.
    if let Err(e) = config::load_environment(&Cli::command()) {
        eprintln!("error: {e}");
        return ExitCode::from(BAD_INPUT);
    }
    let command_line = match Cli::try_parse() {
        Ok(command_line) => command_line,
        Err(e) => return settings_error(e),
    };
    // Before logging, so the Sentry layer has a client; kept alive to flush at exit.
    let _sentry = error_reporting::init(&command_line.log);
    // After Sentry's hook, so a panic is counted, then reported and printed.
    anomaly_hunter::telemetry::count_panics();
    init_logging(&command_line.log.log);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(command_line)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(e)) => {
            eprintln!("error: {}", cli::error_text(&e));
            ExitCode::from(BAD_INPUT)
        }
        Err(Failure::Internal(e)) => {
            eprintln!("error: {}", cli::error_text(&e));
            ExitCode::FAILURE
        }
    }
}

/// A value clap refused (`REDPANDA_BROKERS=::`) is one line that names the variable; help,
/// version and usage mistakes print as clap prints them.
fn settings_error(e: clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        e.kind(),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
    ) {
        e.exit();
    }
    let arg = e.get(ContextKind::InvalidArg).and_then(|arg| match arg {
        ContextValue::String(arg) => Some(arg.clone()),
        _ => None,
    });
    let variable = arg.as_deref().and_then(|arg| {
        let long = arg.split_whitespace().next()?.trim_start_matches("--");
        Cli::command()
            .get_subcommands()
            .flat_map(|sub| sub.get_arguments())
            .chain(Cli::command().get_arguments())
            .find(|a| a.get_long() == Some(long))
            .and_then(|a| a.get_env())
            .map(|env| env.to_string_lossy().into_owned())
    });
    let rendered = e.render().to_string();
    let first_line = rendered.lines().next().unwrap_or("error: invalid setting");
    match variable {
        Some(variable) => eprintln!("{first_line} (environment variable {variable})"),
        None => eprintln!("{first_line}"),
    }
    ExitCode::from(BAD_INPUT)
}

/// Logs to stderr filtered by `ANOMALY_HUNTER_LOG` (default: warnings); errors are also
/// counted for `/metrics` and sent to Sentry (when on) whatever the filter.
fn init_logging(filter: &str) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| {
        eprintln!("warning: ANOMALY_HUNTER_LOG `{filter}` is not a log filter; logging warnings");
        tracing_subscriber::EnvFilter::new("warn")
    });
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
            store,
            redpanda,
            prometheus,
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
                store,
                redpanda,
                prometheus,
            })
            .await
        }
        Command::Serve { settings } => {
            let config = anomaly_hunter::serve::Config::from_settings(&settings)
                .map_err(Failure::BadInput)?;
            let mut store = cli::open_store(&settings.store).await?;
            if config.redpanda.is_some() {
                store = store.with_event_outbox();
            }
            anomaly_hunter::serve::serve(config, std::sync::Arc::new(store))
                .await
                .map_err(Failure::Internal)
        }
        Command::Ingest { file, csv, store } => cli::ingest(&file, &csv.options(), &store).await,
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
            store,
        } => {
            let store = cli::open_store(&store).await?;
            cli::feedback(&store, &id, &verdict, root_cause, author).await
        }
        Command::History {
            metric,
            limit,
            format,
            store,
        } => {
            let store = cli::open_store(&store).await?;
            cli::history(&store, metric.as_deref(), limit, format.into()).await
        }
        Command::Stats { format, store } => {
            let store = cli::open_store(&store).await?;
            cli::stats(&store, format.into()).await
        }
        Command::Watch { command } => watch(command).await,
        Command::Llm {
            command: LlmCommand::Preview { id, store, llm },
        } => {
            let store = cli::open_store(&store).await?;
            cli::llm_preview(&store, &llm, &id).await
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
            series,
            scrapes,
            seed_hours,
            rounds,
            data,
            results,
            loco,
            format,
            redpanda,
        } => {
            let json = matches!(format, Format::Json);
            let output = match what {
                BenchKind::Efficacy => {
                    let report = evaluation::efficacy::run(first_seed..first_seed + seeds);
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
                    let corpus =
                        evaluation::nab::load(&data).map_err(|e| Failure::BadInput(e.into()))?;
                    let (report, scores) = evaluation::nab::run(&corpus, Default::default());
                    if let Some(dir) = &results {
                        let written = bench::nab::write_results(dir, &corpus, &scores)?;
                        eprintln!("NAB result files written under {}", written.display());
                    }
                    let loco = loco.then(|| {
                        eprintln!("leaving each category out in turn…");
                        evaluation::loco::run(&corpus, Default::default())
                    });
                    if json {
                        let value = match &loco {
                            Some(loco) => serde_json::json!({"dev": report, "loco": loco}),
                            None => serde_json::to_value(&report).context("serialising")?,
                        };
                        serde_json::to_string_pretty(&value).context("serialising")?
                    } else {
                        match loco {
                            Some(loco) => format!("{report}\n{loco}"),
                            None => report.to_string(),
                        }
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
                    let timing = bench::stream::run(
                        &std::env::temp_dir(),
                        points,
                        metrics,
                        RedpandaConfig::from_settings(&redpanda).map_err(Failure::BadInput)?,
                    )
                    .await?;
                    if json {
                        serde_json::to_string_pretty(&timing).context("serialising")?
                    } else {
                        format!("{timing}\n")
                    }
                }
                BenchKind::Watch => {
                    let series = series.unwrap_or(10_000);
                    eprintln!("seeding a watch of {series} series from {seed_hours} h of history at a 15 s step, then {rounds} rounds…");
                    let timing = bench::watch::run(series, seed_hours, rounds).await?;
                    if json {
                        serde_json::to_string_pretty(&timing).context("serialising")?
                    } else {
                        format!("{timing}\n")
                    }
                }
                BenchKind::RemoteWrite => {
                    let series = series.unwrap_or(2_000);
                    eprintln!("warming {series} scorers, then decoding and scoring remote write of {series} series × {scrapes} scrapes at a 15 s step…");
                    let timing = bench::remote_write::run(series, scrapes).await?;
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

/// `anomaly-hunter watch add|list|rm`.
async fn watch(command: WatchCli) -> Result<(), Failure> {
    match command {
        WatchCli::Add {
            query,
            every,
            max_series,
            slack_channel,
            discord_channel,
            author,
            store,
            prometheus,
        } => {
            let place = match (slack_channel, discord_channel) {
                (Some(channel), _) => (Some("slack"), Some(channel)),
                (None, Some(channel)) => (Some("discord"), Some(channel)),
                (None, None) => (None, None),
            };
            let store = cli::open_store(&store).await?;
            let request = cli::NewWatchRequest {
                query,
                step_ms: every,
                series_cap: max_series,
                platform: place.0.map(str::to_string),
                channel: place.1,
                author,
            };
            cli::watch_add(store, &prometheus, request).await
        }
        WatchCli::List { format, store } => {
            let store = cli::open_store(&store).await?;
            cli::watch_list(store, format.into()).await
        }
        WatchCli::Rm { id, store } => {
            let store = cli::open_store(&store).await?;
            cli::watch_rm(store, &id).await
        }
    }
}
