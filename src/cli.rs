//! What each command line command does; `main.rs` only parses arguments and calls these.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::chat::service::{ChatService, Investigated};
use crate::chat::watches::WatchPlace;
use crate::config::{LlmSettings, PrometheusSettings, RedpandaSettings, StoreSettings};
use crate::language_model::evidence::{Brief, Task, MAX_SERIES_POINTS};
use crate::language_model::{wire, ModelConfig};
use crate::pipeline::{investigate_and_record, Origin};
use crate::render;
use crate::sinks::redpanda::RedpandaConfig;
use crate::sinks::relay::{Pass, Relay};
use crate::sources::prometheus_check::PrometheusSource;
use crate::store::{related_metric, NewFeedback, Store, StoreError};
use engine::learning::threshold::describe_change;
use engine::learning::FeedbackVerdict;
use engine::series::csv::{read_csv, read_rows_as_written, CsvOptions, Limits};
use engine::series::events::read_events;
use engine::series::timestamp::{to_rfc3339, write_calendar};
use engine::series::RawRow;
use engine::stats::live_score::{score_points, LiveScoreConfig, PointScore};

/// `print!` for command output: when the reader of stdout has gone away (`detect … | head`),
/// the command ends quietly with success, as ripgrep does — what it did is stored, and nobody
/// reads the rest. (`print!` would panic on the broken pipe.)
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::write_stdout(format_args!($($arg)*)) };
}

/// `println!` for command output; see [`out!`].
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => { $crate::cli::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Writes to stdout; exits 0 on a closed pipe, 1 on any other write error.
pub fn write_stdout(text: std::fmt::Arguments) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write the output: {e}");
        std::process::exit(1);
    }
}

/// An error and its causes on one line, each cause once: many errors already quote their
/// source ("cannot open …: pool timed out"), and printing the chain as well said it twice.
pub fn error_text(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// How a command failed: input the user must fix (exit 2) or anything else (exit 1).
#[derive(Debug)]
pub enum Failure {
    BadInput(anyhow::Error),
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownInvestigation(_)
            | StoreError::NotAnAlert(_)
            | StoreError::UnknownMetric(_)
            | StoreError::Unusable { .. } => Self::BadInput(e.into()),
            other => Self::Internal(other.into()),
        }
    }
}

fn bad_input(e: impl Into<anyhow::Error>) -> Failure {
    Failure::BadInput(e.into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// Opens the store the settings name (`DATABASE_URL`, `ANOMALY_HUNTER_DATA_DIR`).
pub async fn open_store(settings: &StoreSettings) -> Result<Store, Failure> {
    let location = settings.location().map_err(bad_input)?;
    Ok(Store::open(location).await?)
}

/// Where `detect` reads its series from.
pub enum Source {
    File {
        path: PathBuf,
        options: CsvOptions,
    },
    Stored {
        metric: String,
        since_ms: Option<i64>,
    },
    /// A PromQL expression, from the Prometheus `PROMETHEUS_URL` names.
    Query {
        query: String,
        since_ms: Option<i64>,
    },
}

pub struct DetectRequest {
    pub source: Source,
    pub events: Option<PathBuf>,
    pub format: Format,
    pub chart: Option<PathBuf>,
    pub store: StoreSettings,
    pub redpanda: RedpandaSettings,
    pub prometheus: PrometheusSettings,
}

/// Investigates and stores. Files are read and checked before the store is opened, so bad
/// input never touches it.
pub async fn detect(request: DetectRequest) -> Result<(), Failure> {
    if let Some(path) = &request.chart {
        check_output_folder(path).map_err(bad_input)?;
    }
    let from_file = match &request.source {
        Source::File { path, options } => Some(read_csv(path, options).map_err(bad_input)?),
        _ => None,
    };
    let events = match &request.events {
        Some(path) => read_events(path).map_err(bad_input)?,
        None => Vec::new(),
    };
    let prometheus = match &request.source {
        Source::Query { .. } => Some(PrometheusSource::from_settings(&request.prometheus).map_err(bad_input)?.ok_or_else(
            || bad_input(anyhow::anyhow!("--query needs PROMETHEUS_URL, the base URL of Prometheus' HTTP API (e.g. http://localhost:9090)")),
        )?),
        _ => None,
    };
    let redpanda = RedpandaConfig::from_settings(&request.redpanda).map_err(bad_input)?;
    let mut store = open_store(&request.store).await?;
    if redpanda.is_some() {
        store = store.with_event_outbox();
    }
    let store = Arc::new(store);
    if !events.is_empty() {
        store.save_events(&events).await?;
    }
    let origin = Origin::new("cli");
    let investigated = match (from_file, &request.source, prometheus) {
        (_, Source::Query { query, since_ms }, Some(prometheus)) => {
            ChatService::new(store.clone(), Limits::default())
                .with_prometheus(prometheus)
                .check_query(query, *since_ms, None, &origin)
                .await
                .map_err(|e| {
                    Failure::Internal(anyhow::anyhow!("could not investigate `{query}`: {e}"))
                })?
        }
        (Some(series), ..) => investigate_stored_events(&store, series, &origin).await?,
        (None, Source::Stored { metric, since_ms }, _) => {
            let series = store.recent_series(metric, *since_ms).await?;
            investigate_stored_events(&store, series, &origin).await?
        }
        _ => unreachable!("each source was read above"),
    };
    let verdict = &investigated.verdict;
    match request.format {
        Format::Text => out!("{}", render::text::report(verdict)),
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(verdict).context("serialising the verdict")?
        ),
    }
    if let Some(others) = &investigated.others {
        match request.format {
            Format::Text => outln!("\n{}", others.plain()),
            Format::Json => eprintln!("{}", others.plain()),
        }
    }
    if let Some(path) = &request.chart {
        // Drawn in memory, then written: a write error reads as one, not as a plotters dump.
        let png = investigated
            .chart()
            .await
            .map_err(|e| anyhow::anyhow!("cannot draw the chart: {e}"))?;
        std::fs::write(path, png.png).with_context(|| {
            format!(
                "the verdict is stored, but the chart could not be written to {}",
                path.display()
            )
        })?;
        eprintln!("chart written to {}", path.display());
    }
    if let Some(redpanda) = redpanda {
        publish_queued_events(store, redpanda).await;
    }
    Ok(())
}

/// Refuses an output path whose folder does not exist, before anything is investigated.
fn check_output_folder(path: &Path) -> anyhow::Result<()> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    anyhow::ensure!(
        folder.is_dir(),
        "--chart {}: the folder {} does not exist",
        path.display(),
        folder.display()
    );
    Ok(())
}

/// Investigates `series` with the events the store holds around it (a file's events were
/// stored just before, so they are among them).
async fn investigate_stored_events(
    store: &Store,
    series: engine::series::Series,
    origin: &Origin,
) -> Result<Investigated, Failure> {
    let events = store.events_for(&series).await?;
    let verdict = investigate_and_record(store, &series, &events, origin).await?;
    Ok(Investigated {
        verdict,
        series,
        others: None,
    })
}

/// How long `detect` tries to hand its event to the broker before leaving it to `serve`.
const CLI_PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

/// Publishes what the outbox holds, for a few seconds at most; whatever is left waits there
/// for `anomaly-hunter serve`. Never fails the command: the verdict is already stored.
async fn publish_queued_events(store: Arc<Store>, redpanda: RedpandaConfig) {
    let topic = redpanda.topic.clone();
    let relay = match Relay::new(store, redpanda, "detect") {
        Ok(relay) => relay,
        Err(e) => return eprintln!("event queued in the outbox, not published: {e}"),
    };
    let outcome = tokio::time::timeout(CLI_PUBLISH_TIMEOUT, relay.pass(&mut false)).await;
    if let Err(e) = relay.release().await {
        tracing::warn!(error = %e, "could not release the relay lease");
    }
    const LATER: &str =
        "It waits in the outbox: `anomaly-hunter serve` (or the next `detect`) publishes it when the broker is back.";
    match outcome {
        Ok(Ok(Pass::Published(n))) => eprintln!("published {n} event(s) to {topic}"),
        Ok(Ok(Pass::NotLeader(Some(holder)))) if holder.holder.starts_with("serve@") => {
            eprintln!("event queued; {holder} holds the event relay and publishes it")
        }
        Ok(Ok(Pass::NotLeader(holder))) => eprintln!(
            "event queued in the outbox; {} holds the event relay right now, so it was not published by this command.\n{LATER}",
            holder.map_or_else(|| "another process".to_string(), |h| h.to_string())
        ),
        Ok(Err(e)) => eprintln!("event queued in the outbox, not published: {e}\n{LATER}"),
        Err(_) => eprintln!(
            "event queued in the outbox, not published within {} s: {}\n{LATER}",
            CLI_PUBLISH_TIMEOUT.as_secs(),
            relay.unreachable()
        ),
    }
}

pub async fn ingest(
    path: &Path,
    options: &CsvOptions,
    store: &StoreSettings,
) -> Result<(), Failure> {
    let series = read_csv(path, options).map_err(bad_input)?;
    let store = open_store(store).await?;
    let written = store.ingest_series(&series).await?;
    let related = match series.related.as_slice() {
        [] => String::new(),
        columns => format!(
            " and {} related series ({})",
            columns.len(),
            columns
                .iter()
                .map(|column| format!("`{}`", related_metric(&series.metric, &column.name)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    outln!(
        "stored {written} points of `{}` ({} → {}){related}; investigate with: anomaly-hunter detect --metric {}",
        series.metric,
        to_rfc3339(series.timestamps[0]),
        to_rfc3339(*series.timestamps.last().unwrap_or(&series.timestamps[0])),
        series.metric
    );
    Ok(())
}

pub async fn feedback(
    store: &Store,
    id: &str,
    verdict: &str,
    root_cause: Option<String>,
    author: Option<String>,
) -> Result<(), Failure> {
    let verdict = FeedbackVerdict::parse(verdict).ok_or_else(|| {
        bad_input(anyhow::anyhow!(
            "feedback must be `confirm` or `false-positive`, not `{verdict}`"
        ))
    })?;
    let outcome = store
        .add_feedback(NewFeedback {
            investigation_id: id.to_string(),
            verdict,
            root_cause,
            author,
            platform: Some("cli".into()),
        })
        .await?;
    outln!(
        "recorded {} for investigation {id}",
        verdict.as_str().replace('_', " ")
    );
    if let Some(change) = describe_change(
        &outcome.metric,
        outcome.threshold_before,
        outcome.threshold_after,
    ) {
        outln!("{change}");
    }
    let weights: Vec<String> = outcome
        .weights
        .iter()
        .map(|(agent, w)| format!("{agent} {w:.2}"))
        .collect();
    outln!("agent weights: {}", weights.join(", "));
    Ok(())
}

pub async fn history(
    store: &Store,
    metric: Option<&str>,
    limit: i64,
    format: Format,
) -> Result<(), Failure> {
    let entries = store.history(metric, limit).await?;
    match format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&entries).context("serialising the history")?
        ),
        Format::Text if entries.is_empty() => outln!("no investigations yet"),
        Format::Text => {
            for e in entries {
                outln!(
                    "{}  {}  {:<28} {:<9} sev {:>2}  conf {:>5}  {:<26} {}",
                    e.id,
                    e.created_at,
                    e.metric,
                    if e.anomalous { "ANOMALOUS" } else { "normal" },
                    e.severity,
                    render::percent(e.confidence),
                    e.pattern.as_deref().unwrap_or("-"),
                    e.feedback.as_deref().unwrap_or("")
                );
            }
        }
    }
    Ok(())
}

pub async fn stats(store: &Store, format: Format) -> Result<(), Failure> {
    let report = store.stats().await?;
    match format {
        Format::Text => out!("{report}"),
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&report).context("serialising the stats")?
        ),
    }
    Ok(())
}

/// Scores every row of a CSV file with the live score, in file order, as the metrics stream
/// scores points arriving one by one, and writes one row per input row (`Text` is CSV). A
/// row whose value cell is blank scores 0. Stops quietly when the reader of stdout goes away
/// (`| head`).
pub fn score(path: &Path, options: &CsvOptions, format: Format) -> Result<(), Failure> {
    let written = read_rows_as_written(path, options).map_err(bad_input)?;
    let (timestamps, values) = written.columns();
    let config = LiveScoreConfig::default();
    let scores = score_points(&timestamps, &values, config);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let outcome = match format {
        Format::Text => write_scores_csv(&mut out, &written.rows, &scores),
        Format::Json => write_scores_json(
            &mut out,
            &written.metric,
            config.alert_score,
            &written.rows,
            &scores,
        ),
    }
    .and_then(|()| out.flush());
    match outcome {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other
            .context("writing the scores")
            .map_err(Failure::Internal),
    }
}

fn write_scores_csv(
    out: &mut impl std::io::Write,
    rows: &[RawRow],
    scores: &[PointScore],
) -> std::io::Result<()> {
    writeln!(out, "timestamp,value,anomaly_score,alert")?;
    for (row, scored) in rows.iter().zip(scores) {
        write_calendar(out, row.timestamp)?;
        match row.value {
            Some(value) => write!(out, ",{value},")?,
            None => out.write_all(b",,")?,
        }
        if scored.score == 0.0 {
            out.write_all(b"0")?;
        } else {
            write!(out, "{}", scored.score)?;
        }
        out.write_all(if scored.alert { b",1\n" } else { b",0\n" })?;
    }
    Ok(())
}

fn write_scores_json(
    out: &mut impl std::io::Write,
    metric: &str,
    alert_score: f64,
    rows: &[RawRow],
    scores: &[PointScore],
) -> std::io::Result<()> {
    let scored_rows: Vec<serde_json::Value> = rows
        .iter()
        .zip(scores)
        .map(|(row, scored)| {
            serde_json::json!({
                "timestamp": to_rfc3339(row.timestamp),
                "value": row.value,
                "anomaly_score": scored.score,
                "alert": scored.alert,
            })
        })
        .collect();
    let document = serde_json::json!({
        "metric": metric,
        "rows": rows.len(),
        "alerts": scores.iter().filter(|scored| scored.alert).count(),
        "alert_score": alert_score,
        "scores": scored_rows,
    });
    serde_json::to_writer_pretty(&mut *out, &document)?;
    writeln!(out)
}

/// `llm preview ID`: the exact request a summary of investigation `id` sends — URL, headers
/// (the key itself never printed) and body. Nothing is sent.
pub async fn llm_preview(store: &Store, settings: &LlmSettings, id: &str) -> Result<(), Failure> {
    let stored = store.investigation(id).await?;
    let model = settings.llm_model.clone().unwrap_or_else(|| {
        eprintln!(
            "LLM_MODEL is not set, so nothing is ever sent; with it set, this is the request:"
        );
        "<LLM_MODEL>".to_string()
    });
    let config = ModelConfig::with_model(settings, model).map_err(bad_input)?;
    if config.send_series {
        eprintln!("LLM_SEND_SERIES=true: a summary also carries up to {MAX_SERIES_POINTS} downsampled points of the series (not stored with the investigation, so not shown here).");
    }
    let brief = Brief::new(&Task::Summary, &stored.verdict, &[]);
    let request = wire::request(&config.endpoint, &brief.to_message());
    outln!("POST {}", request.url);
    outln!("content-type: application/json");
    let (header, prefix) = request.auth;
    match config.has_key() {
        true => outln!("{header}: {prefix}<LLM_API_KEY, not shown>"),
        false => outln!("({header} not sent: LLM_API_KEY is not set)"),
    }
    for (name, value) in &request.headers {
        outln!("{name}: {value}");
    }
    let body = serde_json::to_string_pretty(&request.body).context("serialising")?;
    outln!("\n{body}");
    Ok(())
}

/// What `watch add` asks for.
pub struct NewWatchRequest {
    pub query: String,
    pub step_ms: i64,
    pub series_cap: i64,
    pub platform: Option<String>,
    pub channel: Option<String>,
    pub author: String,
}

/// Stores a watch once Prometheus answered its query; prints its id and what it found.
pub async fn watch_add(
    store: Store,
    prometheus: &PrometheusSettings,
    request: NewWatchRequest,
) -> Result<(), Failure> {
    let prometheus = PrometheusSource::from_settings(prometheus)
        .map_err(bad_input)?
        .ok_or_else(|| {
            bad_input(anyhow::anyhow!(
                "watches read their series from Prometheus: set PROMETHEUS_URL (e.g. http://localhost:9090)"
            ))
        })?;
    let service = watch_service(store).with_prometheus(prometheus);
    let place = WatchPlace {
        platform: request.platform,
        channel: request.channel,
        user: request.author,
    };
    let (watch, series) = service
        .add_watch(
            &request.query,
            Some(request.step_ms),
            Some(request.series_cap),
            &place,
        )
        .await
        .map_err(|e| bad_input(anyhow::anyhow!(e)))?;
    outln!("{}", watch.id);
    eprintln!(
        "watching `{}` every {} ({series} series now); `anomaly-hunter serve` with PROMETHEUS_URL runs it",
        watch.query,
        crate::sources::alertmanager::duration_words(watch.step_ms)
    );
    Ok(())
}

pub async fn watch_list(store: Store, format: Format) -> Result<(), Failure> {
    let statuses = watch_service(store)
        .watch_statuses(None)
        .await
        .map_err(|e| Failure::Internal(anyhow::anyhow!(e)))?;
    match format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&statuses).context("serialising the watches")?
        ),
        Format::Text => outln!("{}", crate::chat::watches::listing_text(&statuses)),
    }
    Ok(())
}

pub async fn watch_rm(store: Store, id: &str) -> Result<(), Failure> {
    let watch = watch_service(store)
        .remove_watch(id)
        .await
        .map_err(|e| bad_input(anyhow::anyhow!(e)))?;
    eprintln!("stopped watching `{}` ({})", watch.query, watch.id);
    Ok(())
}

fn watch_service(store: Store) -> ChatService {
    ChatService::new(Arc::new(store), Limits::default())
}
