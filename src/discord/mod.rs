//! Discord adapter: a serenity gateway client (guild messages, message content, DMs) whose
//! handler translates between Discord and the neutral `chat` layer, and the REST calls that
//! answer (serenity's rate-limited client; `DISCORD_API_URL` sends them to another base).

pub mod embed;
pub mod handler;
pub mod post;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serenity::all::{ChannelId, GatewayIntents, GuildId};
use serenity::client::ClientBuilder;
use serenity::gateway::GatewayError;
use serenity::http::{Http, HttpBuilder};

use crate::chat::attachment::{host_of, Fetcher};
use crate::chat::service::{ChatService, Investigated};
use handler::{Handler, REFUSED};

/// Hosts attachments are downloaded from (besides a configured API host).
pub const CDN_HOSTS: [&str; 2] = ["cdn.discordapp.com", "media.discordapp.net"];
/// Longest wait between reconnection attempts after the client stopped.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct DiscordConfig {
    pub token: String,
    /// REST base instead of `https://discord.com` (a proxy, or the tests' fake Discord).
    pub api_url: Option<String>,
    /// Register `/anomaly` in this guild only (appears at once; global takes up to an hour).
    pub guild_id: Option<u64>,
}

impl std::fmt::Debug for DiscordConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordConfig")
            .field("api_url", &self.api_url)
            .field("guild_id", &self.guild_id)
            .finish_non_exhaustive()
    }
}

/// The gateway events the bot needs: messages in servers and DMs, with their text.
pub fn intents() -> GatewayIntents {
    GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::MESSAGE_CONTENT
        | GatewayIntents::DIRECT_MESSAGES
}

/// The Discord side of a bot: its settings and the gateway event handler.
pub struct Discord {
    config: DiscordConfig,
    handler: Arc<Handler>,
    /// REST client for posts that no gateway event prompted (stream alerts, summaries).
    http: Arc<Http>,
}

impl Discord {
    pub fn new(config: DiscordConfig, service: ChatService) -> Self {
        let mut hosts: Vec<String> = CDN_HOSTS.iter().map(|h| h.to_string()).collect();
        if let Some(api) = &config.api_url {
            hosts.push(host_of(api));
        }
        let rest = Arc::new(http(&config));
        let handler = Arc::new(Handler::new(
            service,
            rest.clone(),
            Fetcher::new(hosts, None),
            config.guild_id.map(GuildId::new),
        ));
        Self {
            http: rest,
            config,
            handler,
        }
    }

    /// Posts an alert from the metrics stream into `channel` (with its verdict thread).
    pub async fn post_alert(&self, channel: u64, investigated: Investigated) {
        let Some(channel) = std::num::NonZeroU64::new(channel) else {
            return;
        };
        self.handler
            .post_alert(&self.http, ChannelId::from(channel), investigated)
            .await;
    }

    /// Starts an alert's thread in `channel` (see [`Handler::start_alert_thread`]); returns
    /// the thread's id.
    pub async fn start_alert_thread(
        &self,
        channel: u64,
        headline: &str,
        outcome: &Result<Investigated, String>,
    ) -> Result<u64, String> {
        let channel = std::num::NonZeroU64::new(channel).ok_or("channel id 0")?;
        self.handler
            .start_alert_thread(&self.http, ChannelId::from(channel), headline, outcome)
            .await
            .map(|thread| thread.get())
    }

    /// Posts `text` in thread `thread`; the error is returned so the caller can retry.
    pub async fn post_in_thread(&self, thread: u64, text: &str) -> Result<(), String> {
        let thread = std::num::NonZeroU64::new(thread).ok_or("thread id 0")?;
        let message = post::text_message(text, None);
        post::retrying(|| ChannelId::from(thread).send_message(&self.http, message.clone()))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// `connecting`, `connected`, `disconnected` or `refused`, for `/healthz`.
    pub fn gateway_state(&self) -> &'static str {
        self.handler.gateway_state()
    }

    /// Connects and stays connected. serenity resumes the session after a dropped connection;
    /// if the client stops altogether it is rebuilt with growing pauses. A rejected token or
    /// intents stop the Discord side for good, with a message that says what to fix.
    pub async fn run(&self) {
        let mut pauses = crate::retry::pauses(Duration::from_secs(1), MAX_BACKOFF);
        loop {
            let started = Instant::now();
            match connect(&self.config, self.handler.clone()).await {
                Err(serenity::Error::Gateway(
                    GatewayError::InvalidAuthentication
                    | GatewayError::InvalidGatewayIntents
                    | GatewayError::DisallowedGatewayIntents,
                )) => {
                    self.handler.set_gateway_state(REFUSED);
                    tracing::error!("Discord refused the bot: check DISCORD_TOKEN, and enable the Message Content intent for the bot in the Developer Portal");
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "the Discord client stopped; reconnecting"),
                Ok(()) => tracing::warn!("the Discord client stopped; reconnecting"),
            }
            self.handler.set_gateway_state(handler::DISCONNECTED);
            if started.elapsed() > MAX_BACKOFF {
                pauses = crate::retry::pauses(Duration::from_secs(1), MAX_BACKOFF);
            }
            tokio::time::sleep(pauses.next().unwrap_or(MAX_BACKOFF)).await;
        }
    }
}

/// The REST client, through `DISCORD_API_URL` when set.
fn http(config: &DiscordConfig) -> Http {
    let mut http = HttpBuilder::new(&config.token);
    if let Some(api) = &config.api_url {
        // serenity 0.12 sends rate-limited requests straight to discord.com whatever the proxy
        // (serenity-rs/serenity#1739: a proxy is expected to own the rate limits), so through a
        // proxy its rate limiter is off and `post::retrying` waits out a 429 passed back.
        http = http.proxy(api).ratelimiter_disabled(true);
    }
    http.build()
}

async fn connect(config: &DiscordConfig, handler: Arc<Handler>) -> serenity::Result<()> {
    let mut client = ClientBuilder::new_with_http(http(config), intents())
        .event_handler_arc(handler)
        .await?;
    client.start().await
}
