//! The Slack side of `serve`: commands, events and button presses arrive as slack-morphism's
//! typed events — over HTTP (`/slack/commands`, `/slack/events`, `/slack/interactions`, each
//! verified by slack-morphism's signature layer before anything happens) or over Socket Mode
//! (`socket.rs`) — and are translated into the neutral `chat` layer. Commands are acknowledged
//! at once (Slack allows 3 seconds) and investigated in the background; the verdict starts a
//! thread that becomes the incident room.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde_json::json;
use slack_morphism::prelude::*;
use slack_morphism::signature_verifier::{
    SlackEventAbsentSignatureError, SlackEventSignatureVerifierError,
};

use super::blocks::verdict_blocks;
use super::web::{Client, SlackWeb};
use crate::chat::admission::Ticket;
use crate::chat::attachment::Attachment;
use crate::chat::commands::{self, Command, WatchCommand, HELP_TEXT};
use crate::chat::discussion::{parse_reply, ThreadReply};
use crate::chat::message::{button_reply, Summary, VerdictMessage};
use crate::chat::service::{ChatService, Investigated, Speaker, ThreadAnswer};
use crate::chat::watches::WatchPlace;
use crate::pipeline::Origin;
use crate::store::ThreadRef;

/// The error slack-morphism hands its error handlers and callbacks.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Everything the Slack handlers need.
pub struct SlackApp {
    pub service: ChatService,
    pub web: SlackWeb,
    /// The last file each person shared in each channel, for a bare `/anomaly check`.
    recent_files: Mutex<HashMap<(String, String), (Instant, SlackFile)>>,
}

/// How long a shared CSV stays the target of a bare `/anomaly check`.
const RECENT_FILE_WINDOW: Duration = Duration::from_secs(5 * 60);
/// Largest request body read before its signature is checked (Slack's payloads are small).
const MAX_REQUEST_BYTES: usize = 1 << 20;
/// Shown under a thread while its investigation runs.
const INVESTIGATING: &str = "is investigating…";

impl SlackApp {
    pub fn new(service: ChatService, web: SlackWeb) -> Self {
        Self {
            service,
            web,
            recent_files: Mutex::new(HashMap::new()),
        }
    }

    /// The HTTP routes, to be nested at `/slack`: each verifies Slack's signature and parses
    /// its payload (slack-morphism's layers) before the handler sees it.
    pub fn routes(self: Arc<Self>, client: Arc<Client>, signing_secret: &str) -> Router {
        let environment =
            Arc::new(SlackClientEventsListenerEnvironment::new(client).with_error_handler(refused));
        let listener = SlackEventsAxumListener::new(environment);
        let secret = SlackSigningSecret::new(signing_secret.to_string());
        let verified = || listener.events_layer(&secret);
        Router::new()
            .route(
                "/commands",
                post(command)
                    .layer(verified().with_event_extractor(SlackEventsExtractors::command_event())),
            )
            .route(
                "/events",
                post(event)
                    .layer(verified().with_event_extractor(SlackEventsExtractors::push_event())),
            )
            .route(
                "/interactions",
                post(interaction).layer(
                    verified().with_event_extractor(SlackEventsExtractors::interaction_event()),
                ),
            )
            .layer(axum::middleware::map_request(limit_body))
            .with_state(self)
    }

    fn remember_file(&self, channel: &str, user: &str, file: &SlackFile) {
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
    fn recent_file(&self, channel: &str, user: &str) -> Option<SlackFile> {
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
        let (message, summary) = self.service.verdict_to_post(investigated);
        let blocks = verdict_blocks(&message);
        match self
            .web
            .post_message(channel, thread_ts, &verdict.verdict, Some(blocks))
            .await
        {
            Ok(ts) => {
                if let Some(summary) = summary {
                    self.edit_in_summary(channel, &ts, message, summary);
                }
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

    /// When the model's summary arrives, edits it into the verdict message (`chat.update`); an
    /// answer not used takes the "writing" line away, leaving the verdict as the statistics
    /// wrote it. Runs on its own, so a slow model holds up nothing else.
    fn edit_in_summary(
        &self,
        channel: &str,
        ts: &str,
        mut message: VerdictMessage,
        summary: impl std::future::Future<Output = Summary> + Send + 'static,
    ) {
        let web = self.web.clone();
        let (channel, ts) = (channel.to_string(), ts.to_string());
        tokio::spawn(async move {
            message.summary = summary.await;
            let blocks = verdict_blocks(&message);
            if let Err(e) = web
                .update_message(&channel, &ts, &message.verdict, Some(blocks))
                .await
            {
                tracing::warn!(error = %e, investigation = %message.investigation_id, "could not edit the summary into the verdict");
            }
        });
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
        let outcome = match investigated.chart().await {
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

    /// Downloads a shared CSV (refusing other files and oversized ones) and investigates it
    /// when `ticket`'s turn comes, then posts the outcome.
    async fn investigate_file(
        self: &Arc<Self>,
        ticket: Ticket,
        channel: String,
        thread_ts: Option<String>,
        file: SlackFile,
    ) {
        let attachment = attachment_of(&file);
        let fetcher = self.web.fetcher();
        let origin = Origin::chat("slack", &channel, thread_ts.as_deref());
        let outcome = ticket
            .run(
                self.service
                    .check_attachment(&attachment, &fetcher, None, &origin),
            )
            .await;
        self.deliver(&channel, thread_ts.as_deref(), outcome).await
    }

    /// Posts a check's outcome: the verdict, or a readable error.
    async fn deliver(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        outcome: Result<Investigated, String>,
    ) {
        match outcome {
            Ok(investigated) => self.post_verdict(channel, thread_ts, &investigated).await,
            Err(e) => {
                self.say(channel, thread_ts, &format!(":warning: {e}"))
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
                if let Some(ts) = reply_in {
                    self.web.react(channel, ts, "eyes").await;
                    self.web.set_status(channel, ts, INVESTIGATING).await;
                }
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
        tokio::spawn(async move {
            let origin = Origin::chat("slack", &channel, thread_ts.as_deref());
            let outcome = ticket
                .run(app.service.check(&metric, lookback_ms, &origin))
                .await;
            app.deliver(&channel, thread_ts.as_deref(), outcome).await
        });
    }
}

/// The status for a request slack-morphism refused: 401 when it is not provably from Slack
/// (no, a wrong or a stale signature), 400 when it is signed but not a payload we know.
fn refused(
    error: BoxError,
    _client: Arc<Client>,
    _state: SlackClientEventsUserState,
) -> StatusCode {
    let unsigned = error
        .downcast_ref::<SlackEventSignatureVerifierError>()
        .is_some()
        || error
            .downcast_ref::<SlackEventAbsentSignatureError>()
            .is_some();
    if unsigned {
        tracing::warn!(reason = %error, "refused a Slack request");
        StatusCode::UNAUTHORIZED
    } else {
        tracing::warn!(reason = %error, "unreadable Slack request");
        StatusCode::BAD_REQUEST
    }
}

/// Caps what is read of a request before its signature can be checked.
async fn limit_body(request: Request) -> Request {
    request.map(|body| axum::body::Body::new(http_body_util::Limited::new(body, MAX_REQUEST_BYTES)))
}

fn ephemeral(text: impl Into<String>) -> SlackCommandEventResponse {
    SlackCommandEventResponse::new(SlackMessageContent::new().with_text(text.into()))
        .with_response_type(SlackMessageResponseType::Ephemeral)
}

impl SlackApp {
    /// Answers a slash command at once (the acknowledgement) and investigates in the background.
    pub async fn on_command(
        self: &Arc<Self>,
        request: SlackCommandEvent,
    ) -> SlackCommandEventResponse {
        let channel = request.channel_id.0;
        let user = request.user_id.0;
        tracing::info!(%channel, %user, "slash command");
        match commands::receive("slack", request.text.as_deref().unwrap_or_default(), false) {
            Err(e) => ephemeral(e.to_string()),
            Ok(Command::Help) => ephemeral(HELP_TEXT),
            Ok(Command::Stats) => ephemeral(self.service.stats_text().await.unwrap_or_else(|e| format!(":warning: {e}"))),
            Ok(Command::History { metric }) => {
                ephemeral(self.service.history_text(metric.as_deref()).await.unwrap_or_else(|e| format!(":warning: {e}")))
            }
            Ok(Command::Watch(command)) => {
                let place = WatchPlace { platform: Some("slack".into()), channel: Some(channel.clone()), user };
                let text = self.service.watch_text(&command, &place).await;
                match command {
                    WatchCommand::List => ephemeral(text),
                    _ => SlackCommandEventResponse::new(SlackMessageContent::new().with_text(text))
                        .with_response_type(SlackMessageResponseType::InChannel),
                }
            }
            Ok(Command::Check { metric: None, .. }) => match self.recent_file(&channel, &user) {
                Some(file) => {
                    let name = file.name.clone().unwrap_or_else(|| "your file".to_string());
                    let ticket = match self.service.admit("slack", &user, &channel) {
                        Ok(ticket) => ticket,
                        Err(refusal) => return ephemeral(refusal),
                    };
                    let note = ticket.queued_note();
                    let app = self.clone();
                    tokio::spawn(async move { app.investigate_file(ticket, channel, None, file).await });
                    ephemeral(format!("Investigating `{name}`…{note}"))
                }
                None => ephemeral("Share a CSV in this channel first (or mention me on the message with the file), or name a stored metric: `/anomaly check <metric>`."),
            },
            Ok(Command::Check { metric: Some(metric), lookback_ms }) => {
                match self.service.admit("slack", &user, &channel) {
                    Ok(ticket) => {
                        let note = ticket.queued_note();
                        self.investigate_metric(ticket, channel, None, metric.clone(), lookback_ms);
                        ephemeral(format!("Investigating `{metric}`…{note}"))
                    }
                    Err(refusal) => ephemeral(refusal),
                }
            }
        }
    }

    /// Takes an Events API callback and handles its event in the background once, whichever
    /// replica and however many deliveries it arrives in.
    pub fn on_event(self: &Arc<Self>, callback: SlackPushEventCallback) {
        let app = self.clone();
        tokio::spawn(async move {
            if !app.service.first_delivery(&delivery_key(&callback)).await {
                return;
            }
            if let Some(said) = Said::of(&callback) {
                handle_said(app, said).await
            }
        });
    }

    /// Takes a button press under a verdict: Confirm, False positive, Explain.
    pub fn on_interaction(self: &Arc<Self>, event: SlackInteractionEvent) {
        let SlackInteractionEvent::BlockActions(pressed) = event else {
            return;
        };
        let Some(action) = pressed.actions.as_ref().and_then(|a| a.first()) else {
            return;
        };
        let Some(reply) = button_reply(&action.action_id.0) else {
            return;
        };
        let investigation = action.value.clone().unwrap_or_default();
        let (container_channel, container_ts) = match &pressed.container {
            SlackInteractionActionContainer::Message(message) => {
                (message.channel_id.clone(), Some(message.message_ts.clone()))
            }
            _ => (None, None),
        };
        let channel = pressed
            .channel
            .as_ref()
            .map(|c| c.id.clone())
            .or(container_channel)
            .map(|c| c.0)
            .unwrap_or_default();
        let thread_ts = pressed
            .message
            .as_ref()
            .map(|m| m.origin.thread_ts.clone().unwrap_or(m.origin.ts.clone()))
            .or(container_ts)
            .map(|ts| ts.0)
            .unwrap_or_default();
        let user = pressed.user.map(|u| u.id.0).unwrap_or_default();
        let app = self.clone();
        tokio::spawn(async move {
            discuss(&app, &channel, &thread_ts, &investigation, reply, &user).await
        });
    }
}

async fn command(
    State(app): State<Arc<SlackApp>>,
    Extension(request): Extension<SlackCommandEvent>,
) -> Json<SlackCommandEventResponse> {
    Json(app.on_command(request).await)
}

async fn event(
    State(app): State<Arc<SlackApp>>,
    Extension(pushed): Extension<SlackPushEvent>,
) -> Response {
    match pushed {
        SlackPushEvent::UrlVerification(check) => {
            Json(json!({"challenge": check.challenge})).into_response()
        }
        SlackPushEvent::EventCallback(callback) => {
            app.on_event(callback);
            StatusCode::OK.into_response()
        }
        SlackPushEvent::AppRateLimited(limited) => {
            tracing::warn!(team = %limited.team_id, "Slack is holding back events: the app was rate limited");
            StatusCode::OK.into_response()
        }
    }
}

async fn interaction(
    State(app): State<Arc<SlackApp>>,
    Extension(pressed): Extension<SlackInteractionEvent>,
) -> StatusCode {
    app.on_interaction(pressed);
    StatusCode::OK
}

/// A person's message or mention, in the few fields the bot reads.
#[derive(Debug, Clone)]
struct Said {
    channel: String,
    user: String,
    text: String,
    ts: String,
    thread_ts: Option<String>,
    file: Option<SlackFile>,
    /// Addressed to the bot: an `app_mention`, or a `message` whose text mentions it.
    mentioned: bool,
}

impl Said {
    /// What a person said, or `None` for bots, edits, deletions and other events.
    fn of(callback: &SlackPushEventCallback) -> Option<Self> {
        let (channel, user, content, origin) = match &callback.event {
            SlackEventCallbackBody::AppMention(mention) => (
                Some(mention.channel.clone()),
                Some(mention.user.clone()),
                Some(&mention.content),
                &mention.origin,
            ),
            SlackEventCallbackBody::Message(message) => {
                let by_person = message.sender.bot_id.is_none()
                    && matches!(
                        message.subtype,
                        None | Some(
                            SlackMessageEventType::FileShare
                                | SlackMessageEventType::ThreadBroadcast
                        )
                    );
                if !by_person {
                    return None;
                }
                (
                    message.origin.channel.clone(),
                    message.sender.user.clone(),
                    message.content.as_ref(),
                    &message.origin,
                )
            }
            _ => return None,
        };
        let text = content.and_then(|c| c.text.clone()).unwrap_or_default();
        Some(Self {
            channel: channel?.0,
            user: user.map(|u| u.0).unwrap_or_default(),
            mentioned: mentions_bot(callback),
            text,
            ts: origin.ts.0.clone(),
            thread_ts: origin.thread_ts.clone().map(|ts| ts.0),
            file: content
                .and_then(|c| c.files.as_ref())
                .and_then(|files| files.first().cloned()),
        })
    }
}

/// What makes deliveries the same human action: a message is its channel and `ts` (a mention
/// arrives as both `message` and `app_mention`, with different event ids); anything else its
/// event id.
pub fn delivery_key(callback: &SlackPushEventCallback) -> String {
    let message = match &callback.event {
        SlackEventCallbackBody::AppMention(mention) => {
            Some((Some(&mention.channel), &mention.origin.ts))
        }
        SlackEventCallbackBody::Message(message) => {
            Some((message.origin.channel.as_ref(), &message.origin.ts))
        }
        _ => None,
    };
    match message {
        Some((Some(channel), ts)) => format!("slack:message:{channel}:{ts}"),
        _ => format!("slack:event:{}", callback.event_id),
    }
}

/// Whether the event addresses this bot: an `app_mention`, or a message whose text mentions
/// the bot's user (`authorizations[].user_id`), so that a mention is handled as one whichever
/// of its two deliveries comes first.
pub fn mentions_bot(callback: &SlackPushEventCallback) -> bool {
    let text = match &callback.event {
        SlackEventCallbackBody::AppMention(_) => return true,
        SlackEventCallbackBody::Message(message) => message
            .content
            .as_ref()
            .and_then(|c| c.text.as_deref())
            .unwrap_or_default(),
        _ => return false,
    };
    callback
        .authorizations
        .iter()
        .flatten()
        .any(|bot| text.contains(&format!("<@{}>", bot.user_id)))
}

/// A message or mention: in a verdict thread it is discussion; a mention outside one is a command.
async fn handle_said(app: Arc<SlackApp>, said: Said) {
    let Said {
        channel,
        user,
        text,
        ts,
        thread_ts,
        file,
        mentioned,
    } = said;
    if let Some(thread_ts) = &thread_ts {
        let thread = ThreadRef {
            platform: "slack".into(),
            channel: channel.clone(),
            thread_id: thread_ts.clone(),
        };
        if let Ok(Some(investigation)) = app.service.store().investigation_for_thread(&thread).await
        {
            discuss(
                &app,
                &channel,
                thread_ts,
                &investigation,
                parse_reply(&text, mentioned),
                &user,
            )
            .await;
            return;
        }
    }
    if !mentioned {
        if let Some(file) = &file {
            app.remember_file(&channel, &user, file);
        }
        return;
    }
    let reply_in = Some(ts);
    if let Some(file) = file {
        let name = file.name.clone().unwrap_or_else(|| "the file".to_string());
        if let Some(ticket) = app
            .admit_mention(&user, &channel, reply_in.as_deref(), &name)
            .await
        {
            app.investigate_file(ticket, channel, reply_in, file).await;
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

/// A Slack file object in the neutral shape (slack-morphism does not read Slack's `size`;
/// the download's own limit holds the line).
fn attachment_of(file: &SlackFile) -> Attachment {
    Attachment {
        name: file.name.clone().unwrap_or_else(|| "upload".to_string()),
        size: None,
        kind: file
            .filetype
            .as_ref()
            .map(|t| t.0.clone())
            .or_else(|| file.mimetype.as_ref().map(|m| m.0.clone())),
        url: file
            .url_private_download
            .as_ref()
            .or(file.url_private.as_ref())
            .map(|url| url.to_string()),
    }
}
