//! Every setting, in one place: each is a command-line option that falls back on an environment
//! variable (or on `.env` in the working directory), parsed and checked once by clap at start-up,
//! so a bad value stops the process with one line that names it. `serve --help` lists them all;
//! `.env.example` mirrors that list (a test keeps the two equal).
//!
//! Commands take the groups they use (`detect` the store, Redpanda and Prometheus groups; `serve`
//! all of them). The integrations turn the groups into their own configuration
//! (`RedpandaConfig::from_settings`, …), where rules between variables are checked.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use engine::series::csv::Limits;
use engine::series::timestamp::parse_duration;

use crate::sources::promql::SeriesSelector;
use crate::store::{Location, StoreError, DEFAULT_FILE};

/// Logging and error reporting; every command has them.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Logging and Sentry")]
pub struct LogSettings {
    /// Log filter for stderr, tracing syntax (`info`, `anomaly_hunter=debug`).
    #[arg(
        long,
        env = "ANOMALY_HUNTER_LOG",
        default_value = "warn",
        global = true
    )]
    pub log: String,
    /// Errors, panics and verdicts of severity ≥ 7 go to this Sentry project (secrets scrubbed).
    #[arg(long, env = "SENTRY_DSN", value_parser = parse_sentry_dsn, hide_env_values = true, global = true)]
    pub sentry_dsn: Option<String>,
    /// The environment Sentry files events under.
    #[arg(long, env = "SENTRY_ENVIRONMENT", global = true)]
    pub sentry_environment: Option<String>,
}

/// Where the store is.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Store")]
pub struct StoreSettings {
    /// `postgres://user:password@host:5432/db` for PostgreSQL, or `sqlite://path`; unset: the
    /// SQLite file `anomaly-hunter.db` in ANOMALY_HUNTER_DATA_DIR.
    #[arg(long, env = "DATABASE_URL", value_parser = parse_database_url, hide_env_values = true)]
    pub database_url: Option<String>,
    /// The folder of the embedded SQLite store.
    #[arg(long, env = "ANOMALY_HUNTER_DATA_DIR", default_value = ".")]
    pub data_dir: PathBuf,
}

impl StoreSettings {
    /// `DATABASE_URL` when set (postgres:// or sqlite://), else `anomaly-hunter.db` in
    /// `ANOMALY_HUNTER_DATA_DIR`.
    pub fn location(&self) -> Result<Location, StoreError> {
        match &self.database_url {
            Some(url) => Location::from_url(url),
            None => Ok(Location::Sqlite(self.data_dir.join(DEFAULT_FILE))),
        }
    }
}

/// How large an accepted CSV may be.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Input limits")]
pub struct LimitSettings {
    /// Largest accepted file or upload, in bytes.
    #[arg(long, env = "ANOMALY_HUNTER_MAX_BYTES", default_value_t = Limits::default().max_bytes)]
    pub max_bytes: u64,
    /// Most accepted rows.
    #[arg(long, env = "ANOMALY_HUNTER_MAX_ROWS", default_value_t = Limits::default().max_rows)]
    pub max_rows: usize,
}

impl LimitSettings {
    pub fn limits(&self) -> Limits {
        Limits {
            max_bytes: self.max_bytes,
            max_rows: self.max_rows,
        }
    }
}

/// Default topic for verdict events.
pub const DEFAULT_REDPANDA_TOPIC: &str = "anomaly-hunter.verdicts";

/// Verdict events out and live metric points in, through any Kafka-protocol broker.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Redpanda / Kafka")]
pub struct RedpandaSettings {
    /// `host:port[,host:port…]`; events are on when set.
    #[arg(long, env = "REDPANDA_BROKERS", value_parser = parse_brokers)]
    pub redpanda_brokers: Option<String>,
    /// Topic of the verdict events (keyed by metric, murmur2-partitioned like Java clients).
    #[arg(long, env = "REDPANDA_TOPIC", default_value = DEFAULT_REDPANDA_TOPIC)]
    pub redpanda_topic: String,
    /// Partitions when the bot creates the verdict topic.
    #[arg(long, env = "REDPANDA_TOPIC_PARTITIONS", default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..=10_000))]
    pub redpanda_topic_partitions: i32,
    /// Replicas of each partition when the bot creates the topic (default: the cluster's).
    #[arg(long, env = "REDPANDA_REPLICATION_FACTOR", value_parser = clap::value_parser!(i32).range(1..=15))]
    pub redpanda_replication_factor: Option<i32>,
    /// SASL user (with REDPANDA_PASSWORD).
    #[arg(long, env = "REDPANDA_USERNAME")]
    pub redpanda_username: Option<String>,
    #[arg(long, env = "REDPANDA_PASSWORD", hide_env_values = true)]
    pub redpanda_password: Option<String>,
    #[arg(long, env = "REDPANDA_SASL_MECHANISM", default_value = "SCRAM-SHA-256", ignore_case = true,
          value_parser = ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"])]
    pub redpanda_sasl_mechanism: String,
    /// TLS to the brokers.
    #[arg(long, env = "REDPANDA_TLS", default_value_t = false, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub redpanda_tls: bool,
    /// PEM file of a private CA (default: the system's roots).
    #[arg(long, env = "REDPANDA_TLS_CA")]
    pub redpanda_tls_ca: Option<PathBuf>,
    /// Live metric points (`{metric, timestamp, value}` JSON) consumed from this topic.
    #[arg(long, env = "REDPANDA_METRICS_TOPIC")]
    pub redpanda_metrics_topic: Option<String>,
    /// Consumer group every replica shares, so they split the partitions.
    #[arg(
        long,
        env = "REDPANDA_CONSUMER_GROUP",
        default_value = "anomaly-hunter"
    )]
    pub redpanda_consumer_group: String,
}

/// Series from Prometheus (or Thanos, Mimir, VictoriaMetrics, Grafana's datasource proxy).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Prometheus")]
pub struct PrometheusSettings {
    /// Base URL of the HTTP API, without /api/v1 (`http://prometheus:9090`).
    #[arg(long, env = "PROMETHEUS_URL", value_parser = parse_http_url)]
    pub prometheus_url: Option<String>,
    #[arg(long, env = "PROMETHEUS_BEARER_TOKEN", hide_env_values = true)]
    pub prometheus_bearer_token: Option<String>,
    /// `user:password`.
    #[arg(long, env = "PROMETHEUS_BASIC_AUTH", hide_env_values = true, value_parser = parse_basic_auth)]
    pub prometheus_basic_auth: Option<String>,
    /// Extra headers, `Name=value,Name=value` (`X-Scope-OrgID=tenant-1`).
    #[arg(long, env = "PROMETHEUS_HEADERS", value_parser = parse_header_list)]
    pub prometheus_headers: Option<String>,
    /// Per request (Prometheus is told to give up by then too), at least 1s.
    #[arg(long, env = "PROMETHEUS_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub prometheus_timeout: i64,
    /// The smallest step: the scrape interval (default: the server's, else 15s).
    #[arg(long, env = "PROMETHEUS_MIN_STEP", value_parser = parse_duration)]
    pub prometheus_min_step: Option<i64>,
    /// An edited copy of commands/related-queries.toml (default: the built-in copy).
    #[arg(long, env = "PROMETHEUS_RELATED_QUERIES")]
    pub prometheus_related_queries: Option<PathBuf>,
}

/// Slack: on when SLACK_BOT_TOKEN is set.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Slack")]
pub struct SlackSettings {
    /// `xoxb-…`.
    #[arg(long, env = "SLACK_BOT_TOKEN", hide_env_values = true)]
    pub slack_bot_token: Option<String>,
    /// `xapp-…`: Socket Mode, no public URL needed.
    #[arg(long, env = "SLACK_APP_TOKEN", hide_env_values = true)]
    pub slack_app_token: Option<String>,
    /// Verifies HTTP-mode requests (not needed in Socket Mode).
    #[arg(long, env = "SLACK_SIGNING_SECRET", hide_env_values = true)]
    pub slack_signing_secret: Option<String>,
    /// Web API base (proxies, tests).
    #[arg(long, env = "SLACK_API_URL", default_value = crate::slack::web::DEFAULT_API_URL, value_parser = parse_http_url)]
    pub slack_api_url: String,
    /// Messages per second to one channel after a burst of 3 (Slack allows about 1).
    #[arg(long, env = "SLACK_MESSAGES_PER_SECOND", default_value_t = 1.0, value_parser = parse_positive)]
    pub slack_messages_per_second: f64,
}

/// Discord: on when DISCORD_TOKEN is set.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Discord")]
pub struct DiscordSettings {
    #[arg(long, env = "DISCORD_TOKEN", hide_env_values = true)]
    pub discord_token: Option<String>,
    /// Registers /anomaly in this server only (appears at once) instead of globally.
    #[arg(long, env = "DISCORD_GUILD_ID", value_parser = parse_discord_id)]
    pub discord_guild_id: Option<u64>,
    /// Sends REST calls to another base than https://discord.com (proxies, tests).
    #[arg(long, env = "DISCORD_API_URL", value_parser = parse_http_url)]
    pub discord_api_url: Option<String>,
}

pub const DEFAULT_ELEVENLABS_URL: &str = "https://api.elevenlabs.io";
/// ElevenLabs' stock voice "Rachel": calm and clear.
pub const DEFAULT_VOICE_ID: &str = "21m00Tcm4TlvDq8ikWAM";

/// Spoken alerts for critical verdicts.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Voice")]
pub struct VoiceSettings {
    /// Speak when severity ≥ this (0–10; 11 = off)…
    #[arg(long, env = "VOICE_MIN_SEVERITY", default_value_t = 8, value_parser = clap::value_parser!(u8).range(0..=11))]
    pub voice_min_severity: u8,
    /// …and confidence ≥ this (0–1).
    #[arg(long, env = "VOICE_MIN_CONFIDENCE", default_value_t = 0.70, value_parser = parse_fraction)]
    pub voice_min_confidence: f64,
    /// ElevenLabs speaks when set; espeak-ng otherwise.
    #[arg(long, env = "ELEVENLABS_API_KEY", hide_env_values = true)]
    pub elevenlabs_api_key: Option<String>,
    #[arg(long, env = "ELEVENLABS_API_URL", default_value = DEFAULT_ELEVENLABS_URL, value_parser = parse_http_url)]
    pub elevenlabs_api_url: String,
    #[arg(long, env = "ELEVENLABS_VOICE_ID", default_value = DEFAULT_VOICE_ID)]
    pub elevenlabs_voice_id: String,
    /// The offline speech engine's binary.
    #[arg(long, env = "ANOMALY_HUNTER_ESPEAK", default_value = "espeak-ng")]
    pub espeak: String,
}

/// The optional language model: a summary of each verdict and answers to questions in its
/// thread, from the verdict's evidence only. Off unless LLM_MODEL is set.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Language model")]
pub struct LlmSettings {
    /// The model's name at the provider (`gpt-4o-mini`, `claude-sonnet-4-5`, `llama3.1`);
    /// the model is on when this is set.
    #[arg(long, env = "LLM_MODEL")]
    pub llm_model: Option<String>,
    /// Wire format: `openai` (any chat-completions server: OpenAI, Azure, vLLM, LiteLLM,
    /// Ollama's /v1), `anthropic` (Messages API) or `ollama` (native /api/chat).
    #[arg(long, env = "LLM_PROVIDER", default_value = "openai", ignore_case = true,
          value_parser = ["openai", "anthropic", "ollama"])]
    pub llm_provider: String,
    /// Base URL (default https://api.openai.com/v1, https://api.anthropic.com,
    /// http://localhost:11434); for Azure the deployment's URL
    /// (https://NAME.openai.azure.com/openai/deployments/DEPLOYMENT).
    #[arg(long, env = "LLM_BASE_URL", value_parser = parse_http_url)]
    pub llm_base_url: Option<String>,
    /// Sent as `Authorization: Bearer` (OpenAI-compatible), `api-key` (Azure) or `x-api-key`
    /// (Anthropic); never logged.
    #[arg(long, env = "LLM_API_KEY", hide_env_values = true)]
    pub llm_api_key: Option<String>,
    /// Azure OpenAI's `api-version` (e.g. 2024-10-21); setting it selects Azure's headers.
    #[arg(long, env = "LLM_API_VERSION")]
    pub llm_api_version: Option<String>,
    /// Per request, at least 1s.
    #[arg(long, env = "LLM_TIMEOUT", default_value = "15s", value_parser = parse_duration)]
    pub llm_timeout: i64,
    /// Tokens (prompt and answer) the model may use per UTC day; beyond, the statistics speak
    /// alone until midnight (0 = no limit).
    #[arg(long, env = "LLM_DAILY_TOKENS", default_value_t = 500_000)]
    pub llm_daily_tokens: u64,
    /// Also send a downsampled copy of the series (at most 120 points). Off: the model sees
    /// the evidence, never the rows.
    #[arg(long, env = "LLM_SEND_SERIES", default_value_t = false, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub llm_send_series: bool,
}

/// The bot's listener, alert routing and how much work it takes on.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Serve")]
pub struct ServeSettings {
    /// Where the HTTP endpoints listen (port 0 picks a free one).
    #[arg(long, env = "ANOMALY_HUNTER_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Where streamed incidents and Alertmanager alerts are posted in Slack (a channel id).
    #[arg(long, env = "ALERT_SLACK_CHANNEL")]
    pub alert_slack_channel: Option<String>,
    /// …and in Discord (a channel id, a number).
    #[arg(long, env = "ALERT_DISCORD_CHANNEL", value_parser = parse_discord_id)]
    pub alert_discord_channel: Option<u64>,
    /// Bearer token every `/api/v1` request must send; required when ANOMALY_HUNTER_ADDR is
    /// not a loopback address.
    #[arg(long, env = "ANOMALY_HUNTER_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// Where people reach `serve` (`https://anomaly-hunter.example.com`): every chat verdict
    /// then links to its investigation page.
    #[arg(long, env = "ANOMALY_HUNTER_PUBLIC_URL", value_parser = parse_http_url)]
    pub public_url: Option<String>,
    /// Series scored from Prometheus remote write (`POST /api/v1/write`, with the API's bearer
    /// token), a selector such as `{__name__=~"http_.*|.*_latency_seconds"}`; their samples go
    /// onto REDPANDA_METRICS_TOPIC (needed). Off when unset.
    #[arg(long, env = "ANOMALY_HUNTER_REMOTE_WRITE_MATCH", value_parser = parse_selector)]
    pub remote_write_match: Option<SeriesSelector>,
    /// Bearer token of `POST /alertmanager` (off when unset).
    #[arg(long, env = "ALERTMANAGER_WEBHOOK_TOKEN", hide_env_values = true)]
    pub alertmanager_webhook_token: Option<String>,
    /// Investigations run at once (default: the number of cores); more wait in a queue.
    #[arg(long, env = "ANOMALY_HUNTER_CONCURRENCY", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: Option<u32>,
    /// Investigations that may wait; beyond, a command is refused politely ("busy").
    #[arg(long, env = "ANOMALY_HUNTER_QUEUE", default_value_t = 200, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub queue: u32,
    /// Commands one person may give per minute (0 = no limit).
    #[arg(long, env = "ANOMALY_HUNTER_USER_RATE", default_value_t = 20)]
    pub user_rate: u32,
    /// Commands one channel may receive per minute (0 = no limit).
    #[arg(long, env = "ANOMALY_HUNTER_CHANNEL_RATE", default_value_t = 60)]
    pub channel_rate: u32,
    /// Each metric keeps this much before its newest point; older points are deleted hourly
    /// (investigations are kept).
    #[arg(long, env = "ANOMALY_HUNTER_RETENTION", default_value = "30d", value_parser = parse_duration)]
    pub retention: i64,
}

/// Everything `serve` reads.
#[derive(Args, Debug, Clone)]
pub struct Settings {
    #[command(flatten)]
    pub serve: ServeSettings,
    #[command(flatten)]
    pub limits: LimitSettings,
    #[command(flatten)]
    pub store: StoreSettings,
    #[command(flatten)]
    pub slack: SlackSettings,
    #[command(flatten)]
    pub discord: DiscordSettings,
    #[command(flatten)]
    pub redpanda: RedpandaSettings,
    #[command(flatten)]
    pub prometheus: PrometheusSettings,
    #[command(flatten)]
    pub voice: VoiceSettings,
    #[command(flatten)]
    pub llm: LlmSettings,
}

/// Loads `.env` from the working directory (variables already set win), then unsets every
/// variable of `command` that is set but blank, so `NAME=` means "not set" as in `.env.example`.
/// Call before any thread starts: it changes the process environment.
pub fn load_environment(command: &clap::Command) -> Result<(), String> {
    match dotenvy::from_path(".env") {
        Ok(()) => {}
        Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!(".env: {e}")),
    }
    for name in variable_names(command) {
        if std::env::var_os(&name).is_some_and(|v| v.to_string_lossy().trim().is_empty()) {
            std::env::remove_var(&name);
        }
    }
    Ok(())
}

/// The environment variables `command` and its subcommands read, sorted, each once.
pub fn variable_names(command: &clap::Command) -> Vec<String> {
    fn collect(command: &clap::Command, names: &mut Vec<String>) {
        for arg in command.get_arguments() {
            if let Some(name) = arg.get_env() {
                names.push(name.to_string_lossy().into_owned());
            }
        }
        for sub in command.get_subcommands() {
            collect(sub, names);
        }
    }
    let mut names = Vec::new();
    collect(command, &mut names);
    names.sort();
    names.dedup();
    names
}

fn parse_brokers(list: &str) -> Result<String, String> {
    let list = list.trim();
    for broker in list.split(',').map(str::trim) {
        let valid = broker.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && !host.contains(':') && port.parse::<u16>().is_ok_and(|p| p > 0)
                || host.starts_with('[') && host.ends_with(']') && port.parse::<u16>().is_ok()
        });
        if !valid {
            return Err(format!(
                "`{broker}` is not host:port (e.g. localhost:9092; several separated by commas)"
            ));
        }
    }
    Ok(list.to_string())
}

fn parse_http_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("must start with http:// or https://")?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err("has no host".into());
    }
    Ok(url.to_string())
}

fn parse_database_url(url: &str) -> Result<String, String> {
    Location::from_url(url.trim())
        .map(|_| url.trim().to_string())
        .map_err(|e| e.to_string())
}

fn parse_sentry_dsn(dsn: &str) -> Result<String, String> {
    dsn.trim()
        .parse::<sentry::types::Dsn>()
        .map(|_| dsn.trim().to_string())
        .map_err(|_| "is not a Sentry DSN (https://PUBLIC_KEY@HOST/PROJECT_ID)".into())
}

fn parse_selector(text: &str) -> Result<SeriesSelector, String> {
    text.parse()
}

fn parse_basic_auth(pair: &str) -> Result<String, String> {
    match pair.split_once(':') {
        Some((user, _)) if !user.is_empty() => Ok(pair.to_string()),
        _ => Err("must be user:password".into()),
    }
}

fn parse_header_list(list: &str) -> Result<String, String> {
    parse_headers(list).map(|_| list.to_string())
}

/// `X-Scope-OrgID=tenant-1,X-Other=v` → header pairs.
pub fn parse_headers(list: &str) -> Result<Vec<(String, String)>, String> {
    list.split(',')
        .filter(|item| !item.trim().is_empty())
        .map(|item| match item.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                Ok((name.trim().to_string(), value.trim().to_string()))
            }
            _ => Err(format!("item `{item}` is not `Name=value`")),
        })
        .collect()
}

fn parse_discord_id(id: &str) -> Result<u64, String> {
    id.trim()
        .parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| "is not a Discord id (a number; Developer Mode → Copy ID)".into())
}

fn parse_positive(value: &str) -> Result<f64, String> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .ok_or_else(|| "is not a positive number".into())
}

fn parse_fraction(value: &str) -> Result<f64, String> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| (0.0..=1.0).contains(v))
        .ok_or_else(|| "is not a number from 0 to 1".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brokers_are_host_port_lists() {
        assert!(parse_brokers("localhost:9092").is_ok());
        assert!(parse_brokers("a:9092, b:9093").is_ok());
        assert!(parse_brokers("[::1]:9092").is_ok());
        for bad in [
            "::",
            "localhost",
            "a:",
            ":9092",
            "a:0",
            "a:99999",
            "a:9092,",
        ] {
            assert!(parse_brokers(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_need_a_scheme_and_a_host() {
        assert!(parse_http_url("http://localhost:9090").is_ok());
        for bad in ["localhost:9090", "http://", "ftp://x", "https:///x"] {
            assert!(parse_http_url(bad).is_err(), "{bad}");
        }
    }
}
