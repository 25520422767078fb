//! The Slack Web API calls the bot makes, through slack-morphism's client with the bot token.
//! The base URL is configurable (`SLACK_API_URL`, the connector's `with_slack_api_url`) for
//! proxies and for the tests' local fake Slack. A 429 is retried after its `Retry-After` (a few
//! times at most); any `"ok": false` is an error that names the method and Slack's error code.
//! The token never reaches a log line.
//!
//! slack-morphism's own rate control is off: it holds `chat.postMessage` to one message a second
//! for the whole workspace, while Slack's limit is one a second per channel. Our
//! [`ChannelPacer`] spaces messages per channel instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::Retryable as _;
use slack_morphism::errors::*;
use slack_morphism::prelude::*;
use thiserror::Error;

use crate::chat::attachment::{host_of, Fetcher};

/// Default Web API base.
pub const DEFAULT_API_URL: &str = "https://slack.com/api/";
/// Retries after a 429 before giving up.
const MAX_RATE_LIMIT_RETRIES: usize = 3;
/// Longest `Retry-After` honoured; anything longer fails the call instead of stalling.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Slack's file host; `url_private` links point here (or, in tests, at the API host).
pub const FILE_HOST: &str = "files.slack.com";

/// slack-morphism's client over hyper with rustls.
pub type Client = SlackClient<SlackClientHyperHttpsConnector>;

#[derive(Debug, Error)]
pub enum SlackError {
    #[error("Slack {method} failed: {error}")]
    Api { method: String, error: String },
    #[error("Slack {method} is still rate limited after {MAX_RATE_LIMIT_RETRIES} retries")]
    RateLimited { method: String },
    #[error("cannot reach Slack for {method}: {error}")]
    Http { method: String, error: String },
}

impl SlackError {
    fn of(method: &str, error: SlackClientError) -> Self {
        let method = method.to_string();
        match error {
            SlackClientError::ApiError(api) => Self::Api {
                method,
                error: api.code,
            },
            SlackClientError::RateLimitError(_) => Self::RateLimited { method },
            SlackClientError::HttpError(http) => Self::Api {
                method,
                error: format!("HTTP {}", http.status_code),
            },
            other => Self::Http {
                method,
                error: other.to_string(),
            },
        }
    }
}

/// The slack-morphism client for `base` (`https://slack.com/api/` or a local fake; plain HTTP
/// is allowed so a proxy or the tests can sit on loopback).
pub fn client(base: &str) -> anyhow::Result<Arc<Client>> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| anyhow::anyhow!("cannot load the system's TLS roots for Slack: {e}"))?
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    let connector = SlackClientHyperConnector::with_connector(https)
        .with_slack_api_url(base.trim_end_matches('/'));
    Ok(Arc::new(SlackClient::new(connector)))
}

/// A token as slack-morphism takes it.
pub fn token(value: &str) -> SlackApiToken {
    SlackApiToken::new(SlackApiTokenValue::new(value.to_string()))
}

/// A Web API client bound to one bot token.
#[derive(Clone)]
pub struct SlackWeb {
    client: Arc<Client>,
    token: SlackApiToken,
    base: String,
    pacer: Arc<ChannelPacer>,
}

/// Messages per channel a burst may hold before pacing starts.
const CHANNEL_BURST: f64 = 3.0;

/// Slack accepts about one message per second per channel (short bursts allowed) and answers
/// 429 beyond: messages to one channel are spaced to that rate in the order they were asked
/// for (GCRA: each channel's theoretical arrival time moves one interval per message).
#[derive(Debug)]
pub struct ChannelPacer {
    interval: Duration,
    next: Mutex<HashMap<String, Instant>>,
}

impl ChannelPacer {
    pub fn new(messages_per_second: f64) -> Self {
        Self {
            interval: Duration::from_secs_f64(1.0 / messages_per_second.max(0.01)),
            next: Mutex::new(HashMap::new()),
        }
    }

    /// How long the next message to `channel` must wait; reserves its place.
    pub fn reserve(&self, channel: &str, now: Instant) -> Duration {
        let tolerance = self.interval.mul_f64(CHANNEL_BURST - 1.0);
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        if next.len() > 10_000 {
            next.retain(|_, at| *at > now);
        }
        let arrival = next.get(channel).copied().unwrap_or(now).max(now);
        next.insert(channel.to_string(), arrival + self.interval);
        arrival.saturating_duration_since(now + tolerance)
    }

    async fn wait_turn(&self, channel: &str) {
        let wait = self.reserve(channel, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

impl std::fmt::Debug for SlackWeb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackWeb")
            .field("base", &self.base)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// The message content slack-morphism sends: text, and blocks when given.
fn content(text: &str, blocks: Option<Vec<SlackBlock>>) -> SlackMessageContent {
    SlackMessageContent::new()
        .with_text(text.to_string())
        .opt_blocks(blocks)
}

impl SlackWeb {
    /// A client that sends at most `messages_per_second` messages to each channel.
    pub fn new(client: Arc<Client>, base: &str, bot_token: &str, messages_per_second: f64) -> Self {
        Self {
            client,
            token: token(bot_token),
            base: base.to_string(),
            pacer: Arc::new(ChannelPacer::new(messages_per_second)),
        }
    }

    /// Runs one Web API call, waiting out rate limits as Slack's `Retry-After` asks.
    async fn call<T, F, Fut>(&self, method: &str, call: F) -> Result<T, SlackError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = ClientResult<T>>,
    {
        call.retry(
            crate::retry::backoff(Duration::from_secs(1), MAX_RETRY_AFTER)
                .with_max_times(MAX_RATE_LIMIT_RETRIES),
        )
        .when(|e| retry_after(e).is_some_and(|wait| wait <= MAX_RETRY_AFTER))
        // `pause` is `None` once the retries are spent: then stop, whatever Slack asks.
        .adjust(|e, pause| pause.map(|p| retry_after(e).unwrap_or(p)))
        .notify(|_, wait| {
            tracing::warn!(
                method,
                wait_ms = wait.as_millis() as u64,
                "Slack rate limit; retrying"
            )
        })
        .await
        .map_err(|e| SlackError::of(method, e))
    }

    /// Posts a message (into `thread_ts` when given) and returns its `ts`.
    pub async fn post_message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
        blocks: Option<Vec<SlackBlock>>,
    ) -> Result<String, SlackError> {
        let request = SlackApiChatPostMessageRequest::new(channel.into(), content(text, blocks))
            .opt_thread_ts(thread_ts.map(SlackTs::from))
            .with_unfurl_links(false);
        self.pacer.wait_turn(channel).await;
        let session = self.client.open_session(&self.token);
        let posted = self
            .call("chat.postMessage", || session.chat_post_message(&request))
            .await?;
        Ok(posted.ts.0)
    }

    /// Replaces the text (and blocks) of a message the bot posted.
    pub async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: Option<Vec<SlackBlock>>,
    ) -> Result<(), SlackError> {
        let request =
            SlackApiChatUpdateRequest::new(channel.into(), content(text, blocks), ts.into());
        let session = self.client.open_session(&self.token);
        self.call("chat.update", || session.chat_update(&request))
            .await
            .map(|_| ())
    }

    /// Shows "is investigating…" under a thread while work runs (an empty status clears it).
    /// Slack keeps this for assistant threads; elsewhere it refuses, which changes nothing, so
    /// a refusal is only logged.
    pub async fn set_status(&self, channel: &str, thread_ts: &str, status: &str) {
        let request = SlackApiAssistantThreadsSetStatusRequest::new(
            channel.into(),
            status.to_string(),
            thread_ts.into(),
        );
        let session = self.client.open_session(&self.token);
        let set = self
            .call("assistant.threads.setStatus", || {
                session.assistant_threads_set_status(&request)
            })
            .await;
        if let Err(e) = set {
            tracing::debug!(error = %e, "thread status not shown");
        }
    }

    /// Marks a message with an emoji (`eyes` while it is being looked at).
    pub async fn react(&self, channel: &str, ts: &str, emoji: &str) {
        let request = SlackApiReactionsAddRequest::new(
            channel.into(),
            SlackReactionName::new(emoji.into()),
            ts.into(),
        );
        let session = self.client.open_session(&self.token);
        if let Err(e) = self
            .call("reactions.add", || session.reactions_add(&request))
            .await
        {
            tracing::debug!(error = %e, "reaction not added");
        }
    }

    /// Uploads a file into a thread the way Slack asks for it since 2024: reserve an upload URL
    /// (`files.getUploadURLExternal`), send the bytes there, then share it
    /// (`files.completeUploadExternal`).
    pub async fn upload_file(
        &self,
        channel: &str,
        thread_ts: &str,
        filename: &str,
        title: &str,
        bytes: Vec<u8>,
    ) -> Result<(), SlackError> {
        let session = self.client.open_session(&self.token);
        let reserve = SlackApiFilesGetUploadUrlExternalRequest::new(filename.into(), bytes.len());
        let reserved = self
            .call("files.getUploadURLExternal", || {
                session.get_upload_url_external(&reserve)
            })
            .await?;
        let send = SlackApiFilesUploadViaUrlRequest::new(
            reserved.upload_url,
            bytes,
            content_type(filename).into(),
        );
        self.call("file upload", || session.files_upload_via_url(&send))
            .await?;
        let share =
            SlackApiFilesCompleteUploadExternalRequest::new(vec![SlackApiFilesComplete::new(
                reserved.file_id,
            )
            .with_title(title.into())])
            .with_channel_id(channel.into())
            .with_thread_ts(thread_ts.into());
        // Sharing the file posts a message in the channel: paced like one.
        self.pacer.wait_turn(channel).await;
        self.call("files.completeUploadExternal", || {
            session.files_complete_upload_external(&share)
        })
        .await
        .map(|_| ())
    }

    /// Fetches shared files (`url_private`) with the bot token, only from Slack's file host or
    /// the configured API host.
    pub fn fetcher(&self) -> Fetcher {
        Fetcher::new(
            vec![FILE_HOST.to_string(), host_of(&self.base)],
            Some(self.token.token_value.value().clone()),
        )
    }
}

/// The pause a rate-limited answer asks for (1 s when it names none); `None` for other errors.
fn retry_after(error: &SlackClientError) -> Option<Duration> {
    match error {
        SlackClientError::RateLimitError(limited) => {
            Some(limited.retry_after.unwrap_or(Duration::from_secs(1)))
        }
        _ => None,
    }
}

/// What the bot uploads: charts and voice clips.
fn content_type(filename: &str) -> &'static str {
    match filename.rsplit('.').next() {
        Some("png") => "image/png",
        Some("wav") => "audio/wav",
        Some("mp3") => "audio/mpeg",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_one_message_a_second_per_channel() {
        let pacer = ChannelPacer::new(1.0);
        let now = Instant::now();
        let waits: Vec<u64> = (0..6)
            .map(|_| pacer.reserve("C1", now).as_millis() as u64)
            .collect();
        assert_eq!(waits, [0, 0, 0, 1_000, 2_000, 3_000]);
        assert_eq!(
            pacer.reserve("C2", now),
            Duration::ZERO,
            "channels are paced apart"
        );
        let later = now + Duration::from_secs(60);
        assert_eq!(
            pacer.reserve("C1", later),
            Duration::ZERO,
            "a quiet channel has its burst back"
        );
    }

    #[test]
    fn only_rate_limits_are_retried_and_after_what_slack_asks() {
        let limited = SlackClientError::RateLimitError(
            SlackRateLimitError::new().with_retry_after(Duration::from_secs(7)),
        );
        assert_eq!(retry_after(&limited), Some(Duration::from_secs(7)));
        let refused =
            SlackClientError::ApiError(SlackClientApiError::new("channel_not_found".into()));
        assert_eq!(retry_after(&refused), None);
        assert_eq!(
            SlackError::of("chat.postMessage", refused).to_string(),
            "Slack chat.postMessage failed: channel_not_found"
        );
    }
}
