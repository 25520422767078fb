//! The Slack side of `serve` in HTTP mode: `/slack/commands`, `/slack/events` and
//! `/slack/interactions`, each verified with the signing secret before anything happens.
//! Commands are acknowledged at once (Slack allows 3 seconds) and investigated in the
//! background; the verdict starts a thread that becomes the incident room.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::blocks::verdict_blocks;
use super::signature;
use super::web::SlackWeb;
use crate::chat::admission::Ticket;
use crate::chat::attachment::Attachment;
use crate::chat::commands::{self, Command, HELP_TEXT};
use crate::chat::discussion::{parse_reply, ThreadReply};
use crate::chat::message::{button_reply, verdict_message};
use crate::chat::service::{ChatService, Investigated, Speaker, ThreadAnswer};
use crate::investigation::Origin;
use crate::store::ThreadRef;

/// Everything the Slack routes need.
pub struct SlackApp {
    pub service: ChatService,
    pub web: SlackWeb,
    /// Present in HTTP mode; Socket Mode needs none.
    signing_secret: Option<String>,
    /// The last file each person shared in each channel, for a bare `/anomaly check`.
    recent_files: Mutex<HashMap<(String, String), (Instant, Value)>>,
}

/// How long a shared CSV stays the target of a bare `/anomaly check`.
const RECENT_FILE_WINDOW: Duration = Duration::from_secs(5 * 60);

impl SlackApp {
    pub fn new(service: ChatService, web: SlackWeb, signing_secret: Option<String>) -> Self {
        Self {
            service,
            web,
            signing_secret,
            recent_files: Mutex::new(HashMap::new()),
        }
    }

    /// The routes, to be nested at `/slack`.
    pub fn routes(self: Arc<Self>) -> Router {
        Router::new()
            .route("/commands", post(command))
            .route("/events", post(event))
            .route("/interactions", post(interaction))
            .with_state(self)
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), signature::SignatureError> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let now = chrono::Utc::now().timestamp();
        let Some(secret) = &self.signing_secret else {
            return Err(signature::SignatureError::Missing);
        };
        signature::verify(
            secret,
            header("x-slack-request-timestamp"),
            header("x-slack-signature"),
            body,
            now,
        )
    }

    fn remember_file(&self, channel: &str, user: &str, file: &Value) {
        let mut recent = self
            .recent_files
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        recent.retain(|_, (at, _)| at.elapsed() < RECENT_FILE_WINDOW);
        recent.insert(
            (channel.to_string(), user.to_string()),
            (Instant::now(), file.clone()),
        );
    }

    /// The file this person shared in this channel in the last five minutes.
    fn recent_file(&self, channel: &str, user: &str) -> Option<Value> {
        let recent = self
            .recent_files
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        recent
            .get(&(channel.to_string(), user.to_string()))
            .filter(|(at, _)| at.elapsed() < RECENT_FILE_WINDOW)
            .map(|(_, file)| file.clone())
    }

    /// Posts a verdict as a new message (or into `thread_ts`), links the thread, and uploads
    /// the chart into it.
    pub async fn post_verdict(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        investigated: &Investigated,
    ) {
        let verdict = &investigated.verdict;
        let blocks = verdict_blocks(&verdict_message(verdict));
        match self
            .web
            .post_message(channel, thread_ts, &verdict.verdict, Some(&blocks))
            .await
        {
            Ok(ts) => {
                let thread_id = thread_ts.map_or(ts, str::to_string);
                let thread = ThreadRef {
                    platform: "slack".into(),
                    channel: channel.to_string(),
                    thread_id: thread_id.clone(),
                };
                if let Err(e) = self.service.store().link_thread(&thread, &verdict.id).await {
                    tracing::error!(error = %e, "could not remember the verdict thread");
                }
                if let Some(others) = &investigated.others {
                    self.say(channel, Some(&thread_id), &others.markdown())
                        .await;
                }
                self.upload_chart(channel, &thread_id, investigated).await;
                if let Some(clip) = self.service.voice_alert(verdict).await {
                    let uploaded = self
                        .web
                        .upload_file(
                            channel,
                            &thread_id,
                            &clip.filename,
                            "Voice alert",
                            clip.audio,
                        )
                        .await;
                    if let Err(e) = uploaded {
                        tracing::warn!(error = %e, investigation = %verdict.id, "voice alert not uploaded");
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, investigation = %verdict.id, "could not post the verdict")
            }
        }
    }

    /// Starts an alert's thread in `channel`: the headline, then in its thread the verdict
    /// (or why there is none). Returns the thread's timestamp.
    pub async fn start_alert_thread(
        &self,
        channel: &str,
        headline: &str,
        outcome: &Result<Investigated, String>,
    ) -> Result<String, String> {
        let ts = self
            .web
            .post_message(channel, None, headline, None)
            .await
            .map_err(|e| e.to_string())?;
        match outcome {
            Ok(investigated) => self.post_verdict(channel, Some(&ts), investigated).await,
            Err(e) => {
                self.say(channel, Some(&ts), &format!(":warning: {e}"))
                    .await
            }
        }
        Ok(ts)
    }

    /// Posts `text` in an existing thread; the error is returned so the caller can retry.
    pub async fn post_in_thread(&self, channel: &str, ts: &str, text: &str) -> Result<(), String> {
        self.web
            .post_message(channel, Some(ts), text, None)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The chart goes into the verdict's thread; a failure is logged, never blocks the verdict.
    async fn upload_chart(&self, channel: &str, thread_ts: &str, investigated: &Investigated) {
        let verdict = &investigated.verdict;
        let outcome = match investigated.chart() {
            Ok(chart) => {
                let title = format!("{} — chart", verdict.metric);
                self.web
                    .upload_file(channel, thread_ts, &chart.filename, &title, chart.png)
                    .await
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            tracing::warn!(error = %e, investigation = %verdict.id, "chart not uploaded");
        }
    }

    async fn say(&self, channel: &str, thread_ts: Option<&str>, text: &str) {
        if let Err(e) = self.web.post_message(channel, thread_ts, text, None).await {
            tracing::error!(error = %e, "could not post to Slack");
        }
    }

    /// Downloads a shared CSV (refusing other files and oversized ones) and investigates it.
    async fn investigate_file(
        self: &Arc<Self>,
        channel: String,
        thread_ts: Option<String>,
        file: Value,
    ) {
        let attachment = attachment_of(&file);
        let fetcher = self.web.fetcher();
        let origin = Origin::chat("slack", &channel, thread_ts.as_deref());
        match self
            .service
            .check_attachment(&attachment, &fetcher, None, &origin)
            .await
        {
            Ok(investigated) => {
                self.post_verdict(&channel, thread_ts.as_deref(), &investigated)
                    .await
            }
            Err(e) => {
                self.say(&channel, thread_ts.as_deref(), &format!(":warning: {e}"))
                    .await
            }
        }
    }

    /// A place in the queue for a mention's investigation of `subject`; says in the thread
    /// when it has to wait, or why it is refused (then `None`).
    async fn admit_mention(
        &self,
        user: &str,
        channel: &str,
        reply_in: Option<&str>,
        subject: &str,
    ) -> Option<Ticket> {
        match self.service.admit("slack", user, channel) {
            Ok(ticket) => {
                if ticket.ahead.is_some() {
                    let note = format!("Investigating `{subject}`…{}", ticket.queued_note());
                    self.say(channel, reply_in, &note).await;
                }
                Some(ticket)
            }
            Err(refusal) => {
                self.say(channel, reply_in, &refusal).await;
                None
            }
        }
    }

    /// Investigates a stored metric in the background (when `ticket`'s turn comes) and posts
    /// the verdict or a readable error.
    fn investigate_metric(
        self: &Arc<Self>,
        ticket: Ticket,
        channel: String,
        thread_ts: Option<String>,
        metric: String,
        lookback_ms: Option<i64>,
    ) {
        let app = self.clone();
        tokio::spawn(ticket.run(async move {
            let origin = Origin::chat("slack", &channel, thread_ts.as_deref());
            match app.service.check(&metric, lookback_ms, &origin).await {
                Ok(investigated) => {
                    app.post_verdict(&channel, thread_ts.as_deref(), &investigated)
                        .await
                }
                Err(e) => {
                    app.say(&channel, thread_ts.as_deref(), &format!(":warning: {e}"))
                        .await
                }
            }
        }));
    }
}

/// 401 for a request that is not provably from Slack; nothing else happens.
fn unauthorized(reason: signature::SignatureError) -> Response {
    tracing::warn!(%reason, "refused a Slack request");
    (StatusCode::UNAUTHORIZED, reason.to_string()).into_response()
}

fn ephemeral(text: impl Into<String>) -> Value {
    json!({"response_type": "ephemeral", "text": text.into()})
}

/// A slash command's fields (form-encoded over HTTP, a JSON object over Socket Mode).
#[derive(Debug, Deserialize)]
pub struct SlashCommand {
    #[serde(default)]
    pub text: String,
    pub channel_id: String,
    #[serde(default)]
    pub user_id: String,
}

impl SlackApp {
    /// Answers a slash command at once (the acknowledgement) and investigates in the background.
    pub async fn on_command(self: &Arc<Self>, request: SlashCommand) -> Value {
        tracing::info!(channel = %request.channel_id, user = %request.user_id, "slash command");
        match commands::receive("slack", &request.text, false) {
            Err(e) => ephemeral(e.to_string()),
            Ok(Command::Help) => ephemeral(HELP_TEXT),
            Ok(Command::Stats) => ephemeral(self.service.stats_text().await.unwrap_or_else(|e| format!(":warning: {e}"))),
            Ok(Command::History { metric }) => {
                ephemeral(self.service.history_text(metric.as_deref()).await.unwrap_or_else(|e| format!(":warning: {e}")))
            }
            Ok(Command::Check { metric: None, .. }) => match self.recent_file(&request.channel_id, &request.user_id) {
                Some(file) => {
                    let name = file["name"].as_str().unwrap_or("your file").to_string();
                    let ticket = match self.service.admit("slack", &request.user_id, &request.channel_id) {
                        Ok(ticket) => ticket,
                        Err(refusal) => return ephemeral(refusal),
                    };
                    let note = ticket.queued_note();
                    let app = self.clone();
                    tokio::spawn(ticket.run(async move { app.investigate_file(request.channel_id, None, file).await }));
                    ephemeral(format!("Investigating `{name}`…{note}"))
                }
                None => ephemeral("Share a CSV in this channel first (or mention me on the message with the file), or name a stored metric: `/anomaly check <metric>`."),
            },
            Ok(Command::Check { metric: Some(metric), lookback_ms }) => {
                match self.service.admit("slack", &request.user_id, &request.channel_id) {
                    Ok(ticket) => {
                        let note = ticket.queued_note();
                        self.investigate_metric(ticket, request.channel_id, None, metric.clone(), lookback_ms);
                        ephemeral(format!("Investigating `{metric}`…{note}"))
                    }
                    Err(refusal) => ephemeral(refusal),
                }
            }
        }
    }

    /// Takes an Events API payload: answers `url_verification`, and handles each event in the
    /// background once, whichever replica and however many deliveries it arrives in.
    pub fn on_event(self: &Arc<Self>, payload: Value) -> Option<Value> {
        if payload["type"] == "url_verification" {
            return Some(json!({"challenge": payload["challenge"]}));
        }
        if payload["type"] != "event_callback" {
            return None;
        }
        let app = self.clone();
        tokio::spawn(async move {
            if !app.service.first_delivery(&delivery_key(&payload)).await {
                return;
            }
            let mut event = payload["event"].clone();
            if mentions_bot(&payload) {
                event["type"] = json!("app_mention");
            }
            handle_event(app, event).await
        });
        None
    }

    /// Takes a button press under a verdict: Confirm, False positive, Explain.
    pub fn on_interaction(self: &Arc<Self>, payload: Value) {
        let action = &payload["actions"][0];
        let Some(reply) = button_reply(action["action_id"].as_str().unwrap_or_default()) else {
            return;
        };
        let investigation = action["value"].as_str().unwrap_or_default().to_string();
        let channel = payload["channel"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let message = &payload["message"];
        let thread_ts = message["thread_ts"]
            .as_str()
            .or(message["ts"].as_str())
            .unwrap_or_default()
            .to_string();
        let user = payload["user"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let app = self.clone();
        tokio::spawn(async move {
            discuss(&app, &channel, &thread_ts, &investigation, reply, &user).await
        });
    }
}

async fn command(State(app): State<Arc<SlackApp>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(reason) = app.verify(&headers, &body) {
        return unauthorized(reason);
    }
    match serde_urlencoded::from_bytes::<SlashCommand>(&body) {
        Ok(request) => Json(app.on_command(request).await).into_response(),
        Err(_) => (StatusCode::BAD_REQUEST, "not a slash command payload").into_response(),
    }
}

async fn event(State(app): State<Arc<SlackApp>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(reason) = app.verify(&headers, &body) {
        return unauthorized(reason);
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(payload) => match app.on_event(payload) {
            Some(answer) => Json(answer).into_response(),
            None => StatusCode::OK.into_response(),
        },
        Err(_) => (StatusCode::BAD_REQUEST, "not JSON").into_response(),
    }
}

/// What makes deliveries the same human action: a message is its channel and `ts` (a mention
/// arrives as both `message` and `app_mention`, with different event ids); anything else its
/// event id.
pub fn delivery_key(payload: &Value) -> String {
    let event = &payload["event"];
    match (event["channel"].as_str(), event["ts"].as_str()) {
        (Some(channel), Some(ts))
            if matches!(event["type"].as_str(), Some("message" | "app_mention")) =>
        {
            format!("slack:message:{channel}:{ts}")
        }
        _ => format!(
            "slack:event:{}",
            payload["event_id"].as_str().unwrap_or_default()
        ),
    }
}

/// Whether the event's text mentions this bot (`authorizations[].user_id` is the bot's user),
/// so that a mention is handled as one whichever of its two deliveries comes first.
pub fn mentions_bot(payload: &Value) -> bool {
    let text = payload["event"]["text"].as_str().unwrap_or_default();
    payload["event"]["type"] == "app_mention"
        || payload["authorizations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["user_id"].as_str())
            .any(|bot| text.contains(&format!("<@{bot}>")))
}

/// A message or mention: in a verdict thread it is discussion; a mention outside one is a command.
async fn handle_event(app: Arc<SlackApp>, event: Value) {
    if event["bot_id"].is_string() || event["subtype"] == "bot_message" {
        return;
    }
    let channel = event["channel"].as_str().unwrap_or_default().to_string();
    let text = event["text"].as_str().unwrap_or_default();
    let user = event["user"].as_str().unwrap_or_default().to_string();
    let mentioned = event["type"] == "app_mention";
    if let Some(thread_ts) = event["thread_ts"].as_str() {
        let thread = ThreadRef {
            platform: "slack".into(),
            channel: channel.clone(),
            thread_id: thread_ts.to_string(),
        };
        if let Ok(Some(investigation)) = app.service.store().investigation_for_thread(&thread).await
        {
            discuss(
                &app,
                &channel,
                thread_ts,
                &investigation,
                parse_reply(text, mentioned),
                &user,
            )
            .await;
            return;
        }
    }
    if !mentioned {
        if let Some(file) = event["files"].as_array().and_then(|files| files.first()) {
            app.remember_file(&channel, &user, file);
        }
        return;
    }
    let reply_in = event["ts"].as_str().map(str::to_string);
    if let Some(file) = event["files"].as_array().and_then(|files| files.first()) {
        let name = file["name"].as_str().unwrap_or("the file");
        if let Some(ticket) = app
            .admit_mention(&user, &channel, reply_in.as_deref(), name)
            .await
        {
            ticket
                .run(app.investigate_file(channel, reply_in, file.clone()))
                .await;
        }
        return;
    }
    let words = text
        .split_whitespace()
        .filter(|w| !w.starts_with("<@"))
        .collect::<Vec<_>>()
        .join(" ");
    match commands::receive("slack", &words, false) {
        Ok(Command::Check { metric: Some(metric), lookback_ms }) => {
            if let Some(ticket) = app.admit_mention(&user, &channel, reply_in.as_deref(), &metric).await {
                app.investigate_metric(ticket, channel, reply_in, metric, lookback_ms)
            }
        }
        Ok(Command::Help) => app.say(&channel, reply_in.as_deref(), HELP_TEXT).await,
        Ok(_) => app.say(&channel, reply_in.as_deref(), "Use `/anomaly stats` or `/anomaly history` for those; here I can `check <metric>`.").await,
        Err(e) => app.say(&channel, reply_in.as_deref(), &e.to_string()).await,
    }
}

async fn discuss(
    app: &Arc<SlackApp>,
    channel: &str,
    thread_ts: &str,
    investigation: &str,
    reply: ThreadReply,
    user: &str,
) {
    let speaker = Speaker {
        user: user.to_string(),
        platform: "slack",
    };
    match app.service.reply(investigation, reply, &speaker).await {
        Ok(ThreadAnswer::Text(answer)) => app.say(channel, Some(thread_ts), &answer).await,
        Ok(ThreadAnswer::Verdict(investigated)) => {
            app.post_verdict(channel, Some(thread_ts), &investigated)
                .await
        }
        Ok(ThreadAnswer::Quiet) => {}
        Err(e) => {
            app.say(channel, Some(thread_ts), &format!(":warning: {e}"))
                .await
        }
    }
}

/// A Slack file object in the neutral shape.
fn attachment_of(file: &Value) -> Attachment {
    let text = |key: &str| file[key].as_str().map(str::to_string);
    Attachment {
        name: text("name").unwrap_or_else(|| "upload".to_string()),
        size: file["size"].as_u64(),
        kind: text("filetype").or_else(|| text("mimetype")),
        url: text("url_private_download").or_else(|| text("url_private")),
    }
}

#[derive(Deserialize)]
struct InteractionForm {
    payload: String,
}

async fn interaction(
    State(app): State<Arc<SlackApp>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(reason) = app.verify(&headers, &body) {
        return unauthorized(reason);
    }
    let payload = serde_urlencoded::from_bytes::<InteractionForm>(&body)
        .ok()
        .and_then(|f| serde_json::from_str::<Value>(&f.payload).ok());
    match payload {
        Some(payload) => {
            app.on_interaction(payload);
            StatusCode::OK.into_response()
        }
        None => (StatusCode::BAD_REQUEST, "not an interaction payload").into_response(),
    }
}
