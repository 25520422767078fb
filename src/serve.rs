//! `anomaly-hunter serve`: one process for every chat platform that is configured. Settings
//! come from `config::Settings` (options or environment, see `.env.example`); each
//! integration is on when its tokens are.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::mpsc;

use crate::alert_threads::AlertDesk;
use crate::chat::admission::WorkLimits;
use crate::chat::service::ChatService;
use crate::config::Settings;
use crate::discord::{Discord, DiscordConfig};
use crate::http::links::PageLinks;
use crate::language_model::{LanguageModel, ModelConfig};
use crate::pipeline::Origin;
use crate::sinks::redpanda::RedpandaConfig;
use crate::sinks::relay::Relay;
use crate::sinks::voice::{Voice, VoiceConfig};
use crate::slack::app::SlackApp;
use crate::slack::web::{self, SlackWeb};
use crate::sources::metric_stream::MetricStream;
use crate::sources::prometheus_check::PrometheusSource;
use crate::sources::promql::SeriesSelector;
use crate::sources::remote_write::RemoteWrite;
use crate::sources::watches::WatchRunner;
use crate::store::Store;
use engine::series::csv::Limits;

/// What `serve` runs with, built once from the settings.
#[derive(Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub limits: Limits,
    pub slack: Option<SlackConfig>,
    pub discord: Option<DiscordConfig>,
    /// Verdict events out (and metric points in) when `REDPANDA_BROKERS` is set.
    pub redpanda: Option<RedpandaConfig>,
    /// Spoken alerts for critical verdicts.
    pub voice: VoiceConfig,
    /// Checks of PromQL and of metrics the store does not hold, when `PROMETHEUS_URL` is set.
    pub prometheus: Option<PrometheusSource>,
    /// Where incidents found on the metrics stream are posted.
    pub alert_slack_channel: Option<String>,
    pub alert_discord_channel: Option<u64>,
    /// `POST /alertmanager` is on when this bearer token is set.
    pub alertmanager_token: Option<String>,
    /// The series Prometheus remote write may put on the metrics topic (`POST
    /// /api/v1/write` is on when set).
    pub remote_write_match: Option<SeriesSelector>,
    /// Investigations at once and waiting, and chat commands' rate limits.
    pub work: WorkLimits,
    /// Each metric keeps this much history before its newest point; older points are pruned.
    pub retention_ms: i64,
    /// Summaries and thread answers from a language model, when `LLM_MODEL` is set.
    pub model: Option<ModelConfig>,
    /// The bearer token of `/api/v1` (open without one only on a loopback listener).
    pub api_token: Option<String>,
    /// Links to investigation pages (signed with the API token), posted with every verdict
    /// when `ANOMALY_HUNTER_PUBLIC_URL` is set.
    pub page_links: PageLinks,
}

#[derive(Clone)]
pub struct SlackConfig {
    pub bot_token: String,
    /// Verifies HTTP-mode requests; not needed in Socket Mode.
    pub signing_secret: Option<String>,
    /// `xapp-…`: when set, Socket Mode (no public URL needed).
    pub app_token: Option<String>,
    pub api_url: String,
    /// Messages per second to one channel.
    pub messages_per_second: f64,
}

impl std::fmt::Debug for SlackConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackConfig")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// The integrations' configurations from the settings clap has read and checked; what
    /// is left to check here are rules between variables.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let slack = match &settings.slack.slack_bot_token {
            Some(bot_token) => {
                let app_token = settings.slack.slack_app_token.clone();
                let signing_secret = settings.slack.slack_signing_secret.clone();
                if app_token.is_none() && signing_secret.is_none() {
                    anyhow::bail!("SLACK_BOT_TOKEN is set but neither SLACK_APP_TOKEN (Socket Mode) nor SLACK_SIGNING_SECRET (HTTP mode) is");
                }
                Some(SlackConfig {
                    bot_token: bot_token.clone(),
                    signing_secret,
                    app_token,
                    api_url: settings.slack.slack_api_url.clone(),
                    messages_per_second: settings.slack.slack_messages_per_second,
                })
            }
            None => None,
        };
        let discord = settings
            .discord
            .discord_token
            .clone()
            .map(|token| DiscordConfig {
                token,
                // Discord itself is the default: its own rate limiter stays on.
                api_url: settings
                    .discord
                    .discord_api_url
                    .clone()
                    .filter(|url| url.trim_end_matches('/') != "https://discord.com"),
                guild_id: settings.discord.discord_guild_id,
            });
        Ok(Self {
            addr: settings.serve.addr,
            limits: settings.limits.limits(),
            slack,
            discord,
            redpanda: RedpandaConfig::from_settings(&settings.redpanda)?,
            voice: VoiceConfig::from_settings(&settings.voice),
            prometheus: PrometheusSource::from_settings(&settings.prometheus)?,
            alert_slack_channel: settings.serve.alert_slack_channel.clone(),
            alert_discord_channel: settings.serve.alert_discord_channel,
            alertmanager_token: settings.serve.alertmanager_webhook_token.clone(),
            remote_write_match: remote_write_match(settings)?,
            work: WorkLimits {
                concurrency: settings
                    .serve
                    .concurrency
                    .map_or(WorkLimits::default().concurrency, |n| n as usize),
                queue: settings.serve.queue as usize,
                user_rate: settings.serve.user_rate,
                channel_rate: settings.serve.channel_rate,
            },
            retention_ms: settings.serve.retention,
            model: ModelConfig::from_settings(&settings.llm)?,
            api_token: api_token(settings)?,
            page_links: PageLinks::new(
                settings.serve.public_url.as_deref(),
                settings.serve.api_token.as_deref(),
            ),
        })
    }
}

/// The remote-write selector, which needs a metrics topic to put the samples on.
fn remote_write_match(settings: &Settings) -> anyhow::Result<Option<SeriesSelector>> {
    let selector = settings.serve.remote_write_match.clone();
    let redpanda = &settings.redpanda;
    if selector.is_some()
        && (redpanda.redpanda_brokers.is_none() || redpanda.redpanda_metrics_topic.is_none())
    {
        anyhow::bail!("ANOMALY_HUNTER_REMOTE_WRITE_MATCH needs REDPANDA_BROKERS and REDPANDA_METRICS_TOPIC: remote-written samples go onto the metrics topic, where the replicas' consumer group scores them");
    }
    Ok(selector)
}

/// The API's token; without one the listener must be loopback, or anyone who reaches the port
/// could run investigations and write feedback.
fn api_token(settings: &Settings) -> anyhow::Result<Option<String>> {
    let token = settings.serve.api_token.clone();
    let addr = settings.serve.addr;
    if token.is_none() && !addr.ip().is_loopback() {
        anyhow::bail!("ANOMALY_HUNTER_ADDR={addr} is reachable from other machines, so the HTTP API needs ANOMALY_HUNTER_API_TOKEN (a long random string; callers send it as `Authorization: Bearer …`)");
    }
    Ok(token)
}

/// The HTTP routes (`/healthz`, `/metrics` and each platform's endpoints) and the background
/// connections (Slack Socket Mode) of one bot.
pub struct Bot {
    pub router: Router,
    service: ChatService,
    slack: Option<Arc<SlackApp>>,
    /// The app, the client and the app-level token for Socket Mode.
    slack_socket: Option<(Arc<SlackApp>, Arc<web::Client>, String)>,
    discord: Option<Arc<Discord>>,
    /// The metrics stream consumer and the incidents it reports.
    stream: Option<(MetricStream, mpsc::Receiver<String>)>,
    /// Alertmanager's alerts and the watches' incidents, investigated into threads.
    alert_desk: Arc<AlertDesk>,
    /// The watches this replica runs (with Prometheus only).
    watches: Option<WatchRunner>,
}

impl Bot {
    pub fn assemble(config: &Config, store: Arc<Store>) -> anyhow::Result<Self> {
        let mut service = ChatService::new(store.clone(), config.limits)
            .with_voice(Voice::new(config.voice.clone()))
            .with_work_limits(config.work)
            .with_page_links(config.page_links.clone());
        if let Some(prometheus) = config.prometheus.clone() {
            service = service.with_prometheus(prometheus);
        }
        let mut integrations = json!({"slack": false, "slack_mode": null, "discord": false});
        integrations["api"] = json!({"token_required": config.api_token.is_some()});
        if let Some(model) = config.model.clone() {
            integrations["language_model"] = json!({
                "provider": model.endpoint.provider.name(),
                "model": model.endpoint.model,
            });
            service = service.with_language_model(LanguageModel::new(model)?);
        }
        let mut router = Router::new();
        let mut slack_socket = None;
        let mut slack_app = None;
        if let Some(slack) = &config.slack {
            let client = web::client(&slack.api_url)?;
            let web = SlackWeb::new(
                client.clone(),
                &slack.api_url,
                &slack.bot_token,
                slack.messages_per_second,
            );
            let app = Arc::new(SlackApp::new(service.clone(), web));
            integrations["slack"] = json!(true);
            integrations["slack_mode"] = json!(if slack.app_token.is_some() {
                "socket"
            } else {
                "http"
            });
            if let Some(secret) = &slack.signing_secret {
                router = router.nest("/slack", app.clone().routes(client.clone(), secret));
            }
            if let Some(app_token) = &slack.app_token {
                slack_socket = Some((app.clone(), client, app_token.clone()));
            }
            slack_app = Some(app);
        }
        let discord = config
            .discord
            .clone()
            .map(|discord| Arc::new(Discord::new(discord, service.clone())));
        integrations["discord"] = json!(discord.is_some());
        integrations["prometheus"] = json!(config.prometheus.is_some());
        let remote_write = match (&config.redpanda, &config.remote_write_match) {
            (
                Some(
                    redpanda @ RedpandaConfig {
                        metrics_topic: Some(topic),
                        ..
                    },
                ),
                Some(selector),
            ) => {
                integrations["remote_write"] = json!({"match": selector.to_string()});
                Some(Arc::new(
                    RemoteWrite::new(redpanda, topic, selector.clone())
                        .context("cannot start the remote-write producer")?,
                ))
            }
            _ => None,
        };
        router = router
            .nest(
                "/api/v1",
                crate::http::api::routes(service.clone(), config.api_token.clone(), remote_write),
            )
            .merge(crate::http::pages::routes(
                service.clone(),
                config.page_links.clone(),
            ));
        let gateway = discord.clone();
        // Alertmanager's alerts and the watches' incidents become threads here.
        let alert_desk = Arc::new(AlertDesk::new(
            service.clone(),
            slack_app
                .clone()
                .map(|app| (app, config.alert_slack_channel.clone())),
            discord.clone().map(|d| (d, config.alert_discord_channel)),
        ));
        if let Some(token) = &config.alertmanager_token {
            router = router.merge(alert_desk.clone().routes(token.clone()));
            integrations["alertmanager"] = json!(true);
        }
        let watches = service.prometheus().map(|prometheus| {
            let desk = alert_desk.clone();
            WatchRunner::new(store.clone(), prometheus.client().clone(), move || {
                desk.wake()
            })
        });
        integrations["watches"] = json!(watches.is_some());
        let stream = match &config.redpanda {
            Some(
                redpanda @ RedpandaConfig {
                    metrics_topic: Some(topic),
                    ..
                },
            ) => {
                let (incidents, receiver) = mpsc::channel(64);
                let stream = MetricStream::new(
                    redpanda,
                    topic,
                    &redpanda.consumer_group,
                    store.clone(),
                    incidents,
                )
                .context("cannot join the metrics stream")?;
                integrations["metrics_stream"] = json!(topic);
                Some((stream, receiver))
            }
            _ => None,
        };
        let assignment = stream.as_ref().map(|(s, _)| s.assignment());
        let metrics_store = store.clone();
        let watch_service = watches.is_some().then(|| service.clone());
        let router = router.route(
            "/metrics",
            get(move || async move {
                let outbox = match metrics_store.event_outbox_enabled() {
                    true => metrics_store.event_backlog().await.ok(),
                    false => None,
                };
                let mut text = crate::telemetry::render(outbox);
                if let Some(service) = &watch_service {
                    match service.watch_statuses(None).await {
                        Ok(statuses) => {
                            text.push_str(&crate::chat::watches::metrics_text(&statuses))
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot read the watches for /metrics")
                        }
                    }
                }
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4",
                    )],
                    text,
                )
            }),
        );
        let router = router.route(
            "/healthz",
            get(move || async move {
                let mut integrations = integrations.clone();
                if store.event_outbox_enabled() {
                    integrations["event_relay"] = json!({
                        "leading": crate::telemetry::relay_lease_held(),
                        "outbox": store.event_backlog().await.ok(),
                    });
                }
                integrations["discord_gateway"] =
                    json!(gateway.as_ref().map(|d| d.gateway_state()));
                integrations["metrics_partitions"] =
                    json!(assignment.as_ref().map(|a| a.partitions()));
                Json(json!({"status": "ok", "integrations": integrations}))
            }),
        );
        Ok(Self {
            router,
            service,
            slack: slack_app,
            slack_socket,
            discord,
            stream,
            alert_desk,
            watches,
        })
    }
}

/// Serves until Ctrl-C or SIGTERM. Prints the bound address first (port 0 picks a free one).
/// The store must have its event outbox on when `config.redpanda` is set.
pub async fn serve(config: Config, store: Arc<Store>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    let bound = listener.local_addr()?;
    let bot = Bot::assemble(&config, store.clone())?;
    let slack = match (&config.slack, &bot.slack_socket) {
        (None, _) => "off",
        (Some(_), Some(_)) => "socket mode",
        (Some(_), None) => "http mode",
    };
    let discord = if bot.discord.is_some() { "on" } else { "off" };
    let events = match &config.redpanda {
        Some(redpanda) => format!("topic {} on {}", redpanda.topic, redpanda.brokers),
        None => "off".to_string(),
    };
    let prometheus = config
        .prometheus
        .as_ref()
        .map_or("off".to_string(), |p| p.url());
    println!("anomaly-hunter listening on http://{bound} (slack: {slack}, discord: {discord}, events: {events}, prometheus: {prometheus})");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let relay = match config.redpanda.clone() {
        Some(redpanda) => Some(tokio::spawn(
            Relay::new(store.clone(), redpanda, "serve")
                .context("cannot start the event relay")?
                .run(stopped.clone()),
        )),
        None => None,
    };
    let consumer = bot.stream.map(|(stream, incidents)| {
        let alerts = Alerts {
            service: bot.service.clone(),
            slack: bot.slack.clone().zip(config.alert_slack_channel.clone()),
            discord: bot.discord.clone().zip(config.alert_discord_channel),
        };
        tokio::spawn(alerts.run(incidents));
        tokio::spawn(stream.run(stopped.clone()))
    });
    let desk = Some(tokio::spawn(bot.alert_desk.run(stopped.clone())));
    let watches = bot
        .watches
        .map(|runner| tokio::spawn(runner.run(stopped.clone())));
    let pruner = tokio::spawn(prune_regularly(
        store.clone(),
        config.retention_ms,
        stopped.clone(),
    ));
    // Held until `serve` ends: dropping the listener closes the connection.
    let _slack_socket = match bot.slack_socket {
        Some((app, client, app_token)) => {
            Some(crate::slack::socket::listen(app, client, &app_token).await)
        }
        None => None,
    };
    if let Some(discord) = bot.discord {
        tokio::spawn(async move { discord.run().await });
    }
    let (signalled, mut told) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = signalled.send(true);
    });
    let mut graceful = told.clone();
    let server = axum::serve(listener, bot.router).with_graceful_shutdown(async move {
        let _ = graceful.wait_for(|told| *told).await;
    });
    // Requests in flight get a grace period; a connection that outlasts it does not keep
    // the process alive.
    tokio::select! {
        served = server => served?,
        _ = async {
            let _ = told.wait_for(|told| *told).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => tracing::warn!(
            "requests still in flight {} s after the shutdown signal; stopping anyway",
            SHUTDOWN_GRACE.as_secs()
        ),
    }
    // Let the relay give its lease back so the next process publishes at once.
    let _ = stop.send(true);
    for task in [relay, consumer, desk, watches, Some(pruner)]
        .into_iter()
        .flatten()
    {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
    }
    Ok(())
}

/// How long requests in flight may finish after SIGTERM or Ctrl-C.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(15);

/// How often stored points past the retention are deleted.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Deletes stored metric points more than `retention_ms` older than their metric's newest
/// (and forgotten deliveries), at start and then hourly, so the store does not grow without
/// end.
async fn prune_regularly(
    store: Arc<Store>,
    retention_ms: i64,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            _ = tick.tick() => {}
        }
        match store.prune(retention_ms).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                points = n,
                "pruned metric points older than the retention (ANOMALY_HUNTER_RETENTION)"
            ),
            Err(e) => tracing::warn!(error = %e, "could not prune old metric points"),
        }
    }
}

/// How much of a metric's recent history an alert investigates.
const ALERT_LOOKBACK_MS: i64 = 24 * 3_600_000;

/// Investigates each incident the metrics stream opens and posts the verdict to the alert
/// channels. The stream reports an incident once; a full investigation that finds nothing
/// anomalous is logged, not posted.
struct Alerts {
    service: ChatService,
    slack: Option<(Arc<SlackApp>, String)>,
    discord: Option<(Arc<Discord>, u64)>,
}

impl Alerts {
    async fn run(self, mut incidents: mpsc::Receiver<String>) {
        if self.slack.is_none() && self.discord.is_none() {
            tracing::warn!("the metrics stream is on but neither ALERT_SLACK_CHANNEL nor ALERT_DISCORD_CHANNEL is set: incidents are stored and published, not posted");
        }
        while let Some(metric) = incidents.recv().await {
            self.handle(&metric).await;
            crate::telemetry::stream_incident_handled();
        }
    }

    /// Investigates one incident and posts the verdict when it is anomalous.
    async fn handle(&self, metric: &str) {
        let origin = Origin::new("stream");
        let investigated = match self
            .service
            .check_metric(metric, Some(ALERT_LOOKBACK_MS), &origin)
            .await
        {
            Ok(investigated) => investigated,
            Err(e) => {
                tracing::error!(error = %e, metric, "could not investigate a stream incident");
                return;
            }
        };
        if !investigated.verdict.anomalous {
            tracing::info!(
                metric,
                "the full investigation found the stream incident normal; not posted"
            );
            return;
        }
        if let Some((app, channel)) = &self.slack {
            app.post_verdict(channel, None, &investigated).await;
        }
        if let Some((discord, channel)) = &self.discord {
            discord.post_alert(*channel, investigated).await;
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
