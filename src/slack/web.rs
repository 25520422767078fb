//! The Slack Web API calls the bot makes, over HTTPS with the bot token. The base URL is
//! configurable (`SLACK_API_URL`) for proxies and for the tests' local fake Slack. A 429 is
//! retried after its `Retry-After` (a few times at most); any `"ok": false` is an error that
//! names the method and Slack's error code. The token never reaches a log line.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use thiserror::Error;

use crate::chat::attachment::{host_of, Fetcher};

/// Default Web API base.
pub const DEFAULT_API_URL: &str = "https://slack.com/api/";
/// Retries after a 429 before giving up.
const MAX_RATE_LIMIT_RETRIES: u32 = 3;
/// Longest `Retry-After` honoured; anything longer fails the call instead of stalling.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Slack's file host; `url_private` links point here (or, in tests, at the API host).
pub const FILE_HOST: &str = "files.slack.com";

#[derive(Debug, Error)]
pub enum SlackError {
    #[error("Slack {method} failed: {error}")]
    Api { method: String, error: String },
    #[error("Slack {method} is still rate limited after {MAX_RATE_LIMIT_RETRIES} retries")]
    RateLimited { method: String },
    #[error("cannot reach Slack for {method}: {source}")]
    Http {
        method: String,
        source: reqwest::Error,
    },
}

/// A Web API client bound to one bot token.
#[derive(Clone)]
pub struct SlackWeb {
    http: reqwest::Client,
    base: String,
    token: String,
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

impl SlackWeb {
    /// A client that sends at most `messages_per_second` messages to each channel.
    pub fn new(base: &str, token: &str, messages_per_second: f64) -> Self {
        let base = if base.ends_with('/') {
            base.to_string()
        } else {
            format!("{base}/")
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            http,
            base,
            token: token.to_string(),
            pacer: Arc::new(ChannelPacer::new(messages_per_second)),
        }
    }

    /// Posts a message (into `thread_ts` when given) and returns its `ts`.
    pub async fn post_message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
        blocks: Option<&Value>,
    ) -> Result<String, SlackError> {
        let mut body = json!({"channel": channel, "text": text, "unfurl_links": false});
        if let Some(ts) = thread_ts {
            body["thread_ts"] = json!(ts);
        }
        if let Some(blocks) = blocks {
            body["blocks"] = blocks.clone();
        }
        self.pacer.wait_turn(channel).await;
        let answer = self.call("chat.postMessage", &body).await?;
        Ok(answer["ts"].as_str().unwrap_or_default().to_string())
    }

    /// Replaces the text (and blocks) of a message the bot posted.
    pub async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: Option<&Value>,
    ) -> Result<(), SlackError> {
        let mut body = json!({"channel": channel, "ts": ts, "text": text});
        if let Some(blocks) = blocks {
            body["blocks"] = blocks.clone();
        }
        self.call("chat.update", &body).await.map(|_| ())
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
        let length = bytes.len().to_string();
        let reserved = self
            .call_form(
                "files.getUploadURLExternal",
                &[("filename", filename), ("length", &length)],
            )
            .await?;
        let (Some(upload_url), Some(file_id)) = (
            reserved["upload_url"].as_str(),
            reserved["file_id"].as_str(),
        ) else {
            return Err(SlackError::Api {
                method: "files.getUploadURLExternal".into(),
                error: "no upload_url in the answer".into(),
            });
        };
        let sent = self.http.post(upload_url).body(bytes).send().await;
        match sent {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => {
                return Err(SlackError::Api {
                    method: "file upload".into(),
                    error: format!("HTTP {}", response.status()),
                })
            }
            Err(source) => {
                return Err(SlackError::Http {
                    method: "file upload".into(),
                    source: source.without_url(),
                })
            }
        }
        let body = json!({"files": [{"id": file_id, "title": title}], "channel_id": channel, "thread_ts": thread_ts});
        // Sharing the file posts a message in the channel: paced like one.
        self.pacer.wait_turn(channel).await;
        self.call("files.completeUploadExternal", &body)
            .await
            .map(|_| ())
    }

    /// Fetches shared files (`url_private`) with the bot token, only from Slack's file host or
    /// the configured API host.
    pub fn fetcher(&self) -> Fetcher {
        Fetcher::new(
            vec![FILE_HOST.to_string(), host_of(&self.base)],
            Some(self.token.clone()),
        )
    }

    /// Calls a JSON Web API method, retrying after rate limits.
    pub async fn call(&self, method: &str, body: &Value) -> Result<Value, SlackError> {
        self.send(method, |request| request.json(body)).await
    }

    /// Calls a Web API method that takes form fields (as `files.getUploadURLExternal` does).
    pub async fn call_form(
        &self,
        method: &str,
        fields: &[(&str, &str)],
    ) -> Result<Value, SlackError> {
        self.send(method, |request| request.form(fields)).await
    }

    async fn send(
        &self,
        method: &str,
        with_body: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<Value, SlackError> {
        let url = format!("{}{method}", self.base);
        let mut retries = 0;
        loop {
            let response = with_body(self.http.post(&url).bearer_auth(&self.token))
                .send()
                .await
                .map_err(|source| SlackError::Http {
                    method: method.to_string(),
                    source: source.without_url(),
                })?;
            if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
                let wait = retry_after(&response);
                if retries >= MAX_RATE_LIMIT_RETRIES || wait > MAX_RETRY_AFTER {
                    return Err(SlackError::RateLimited {
                        method: method.to_string(),
                    });
                }
                tracing::warn!(
                    method,
                    wait_ms = wait.as_millis() as u64,
                    "Slack rate limit; retrying"
                );
                tokio::time::sleep(wait).await;
                retries += 1;
                continue;
            }
            let answer: Value = response.json().await.map_err(|source| SlackError::Http {
                method: method.to_string(),
                source: source.without_url(),
            })?;
            if answer["ok"].as_bool() != Some(true) {
                let error = answer["error"]
                    .as_str()
                    .unwrap_or("unknown_error")
                    .to_string();
                return Err(SlackError::Api {
                    method: method.to_string(),
                    error,
                });
            }
            return Ok(answer);
        }
    }
}

/// `Retry-After` in seconds (fractions allowed), 1 s when absent or unreadable.
fn retry_after(response: &reqwest::Response) -> Duration {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(Duration::from_secs(1), Duration::from_secs_f64)
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
}
