//! Gateway events → the neutral chat layer: `!check_anomaly …` messages, replies in verdict
//! threads, the `/anomaly` application command and the verdict buttons.

use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;
use serenity::all::{
    ChannelId, CommandInteraction, ComponentInteraction, Context, CreateInteractionResponse,
    CreateInteractionResponseMessage, EditInteractionResponse, EventHandler, GuildId, Interaction,
    Message, MessageId, Ready, ResolvedOption, ResolvedValue, ResumedEvent, ShardStageUpdateEvent,
    UserId,
};
use serenity::gateway::ConnectionStage;
use serenity::http::Http;

use super::embed::parse_custom_id;
use super::post::{
    self, acknowledge, post_verdict, retrying, say, split_for_discord, start_thread,
};
use crate::chat::attachment::{Attachment, Fetcher};
use crate::chat::commands::{self, Command, HELP_TEXT};
use crate::chat::discussion::parse_reply;
use crate::chat::message::{button_reply, verdict_message, Summary, VerdictMessage};
use crate::chat::service::{ChatService, Investigated, Speaker, ThreadAnswer};
use crate::chat::watches::WatchPlace;
use crate::pipeline::Origin;
use crate::store::ThreadRef;
use engine::series::timestamp::parse_duration;

/// The prefix of a message command.
pub const PREFIX: &str = "!check_anomaly";
/// How the shared help reads on Discord, where commands follow the prefix.
const HELP_ON_DISCORD: &str = "On Discord, type the commands below after `!check_anomaly` (a bare metric name means `check`: `!check_anomaly api_latency last 6h`), or use `/anomaly`.";
/// The application command definitions registered at start-up.
pub const APPLICATION_COMMANDS: &str = include_str!("../../commands/discord-commands.json");

/// Gateway states reported by `/healthz`.
pub const CONNECTING: &str = "connecting";
pub const CONNECTED: &str = "connected";
pub const DISCONNECTED: &str = "disconnected";
pub const REFUSED: &str = "refused";

pub struct Handler {
    service: ChatService,
    /// REST client for edits made after an event's handling is over (summaries).
    rest: Arc<Http>,
    fetcher: Fetcher,
    /// Register the application commands in this guild (instant) instead of globally.
    guild: Option<GuildId>,
    me: OnceLock<UserId>,
    gateway: Mutex<&'static str>,
}

/// The text after `!check_anomaly`, if the message is a command.
pub fn command_text(content: &str) -> Option<&str> {
    let content = content.trim_start();
    let head = content.get(..PREFIX.len())?;
    let rest = &content[PREFIX.len()..];
    (head.eq_ignore_ascii_case(PREFIX)
        && (rest.is_empty() || rest.starts_with(char::is_whitespace)))
    .then(|| rest.trim())
}

/// Where a check's outcome goes.
enum Destination {
    /// A new thread started from the command message (guild channels).
    NewThread { channel: ChannelId, from: MessageId },
    /// This channel: a DM, or the verdict thread the command was typed in.
    Channel {
        channel: ChannelId,
        reply_to: Option<MessageId>,
    },
}

fn speaker(user: &serenity::all::User) -> Speaker {
    Speaker {
        user: user.name.clone(),
        platform: "discord",
    }
}

fn thread_ref(channel: ChannelId) -> ThreadRef {
    ThreadRef {
        platform: "discord".into(),
        channel: channel.to_string(),
        thread_id: channel.to_string(),
    }
}

fn attachment_of(file: &serenity::all::Attachment) -> Attachment {
    Attachment {
        name: file.filename.clone(),
        size: Some(u64::from(file.size)),
        kind: file.content_type.clone(),
        url: Some(file.url.clone()),
    }
}

/// The thread title for a check: what was checked and how it came out.
fn thread_name(subject: &str, outcome: &Result<Investigated, String>) -> String {
    match outcome {
        Ok(investigated) => verdict_message(&investigated.verdict).headline,
        Err(_) => format!("{subject} · could not investigate"),
    }
}

impl Handler {
    pub fn new(
        service: ChatService,
        rest: Arc<Http>,
        fetcher: Fetcher,
        guild: Option<GuildId>,
    ) -> Self {
        Self {
            service,
            rest,
            fetcher,
            guild,
            me: OnceLock::new(),
            gateway: Mutex::new(CONNECTING),
        }
    }

    pub fn gateway_state(&self) -> &'static str {
        *self
            .gateway
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn set_gateway_state(&self, state: &'static str) {
        *self
            .gateway
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = state;
    }

    async fn register_commands(&self, http: &Http) {
        let definitions: Value = match serde_json::from_str(APPLICATION_COMMANDS) {
            Ok(definitions) => definitions,
            Err(e) => {
                tracing::error!(error = %e, "commands/discord-commands.json is not valid JSON");
                return;
            }
        };
        let registered = match self.guild {
            Some(guild) => http.create_guild_commands(guild, &definitions).await,
            None => http.create_global_commands(&definitions).await,
        };
        match registered {
            Ok(commands) => {
                tracing::info!(count = commands.len(), guild = ?self.guild, "registered the /anomaly command")
            }
            Err(e) => {
                tracing::error!(error = %e, "could not register the /anomaly command; invite the bot with the applications.commands scope")
            }
        }
    }

    /// Remembers a verdict's thread so replies there find it.
    async fn link(&self, channel: ChannelId, investigated: &Investigated) {
        let thread = thread_ref(channel);
        if let Err(e) = self
            .service
            .store()
            .link_thread(&thread, &investigated.verdict.id)
            .await
        {
            tracing::error!(error = %e, "could not remember the verdict thread");
        }
    }

    /// Links `channel` to the verdict, then posts it there: linked first, so a reply that
    /// arrives the moment the verdict shows is already understood. A failure to post is logged.
    async fn post_and_link(&self, http: &Http, channel: ChannelId, investigated: &Investigated) {
        self.link(channel, investigated).await;
        let (message, summary) = self.service.verdict_to_post(investigated);
        let posted = match post_verdict(http, channel, investigated, &message).await {
            Ok(posted) => posted,
            Err(e) => {
                tracing::error!(error = %e, investigation = %investigated.verdict.id, "could not post the verdict");
                return;
            }
        };
        if let Some(summary) = summary {
            self.edit_in_summary(channel, &posted, message, summary);
        }
        if let Some(others) = &investigated.others {
            say(http, channel, None, &others.markdown()).await;
        }
        if let Some(clip) = self.service.voice_alert(&investigated.verdict).await {
            post::voice_clip(http, channel, clip).await;
        }
    }

    /// When the model's summary arrives, edits it into the posted verdict; an answer not used
    /// takes the "writing" line away. Runs on its own, so a slow model holds up nothing else.
    fn edit_in_summary(
        &self,
        channel: ChannelId,
        posted: &Message,
        mut message: VerdictMessage,
        summary: impl std::future::Future<Output = Summary> + Send + 'static,
    ) {
        let rest = self.rest.clone();
        let posted_id = posted.id;
        let chart = posted.attachments.first().map(|a| a.filename.clone());
        tokio::spawn(async move {
            message.summary = summary.await;
            if let Err(e) =
                post::edit_verdict(&rest, channel, posted_id, &message, chart.as_deref()).await
            {
                tracing::warn!(error = %e, investigation = %message.investigation_id, "could not edit the summary into the verdict");
            }
        });
    }

    async fn is_verdict_thread(&self, channel: ChannelId) -> bool {
        matches!(
            self.service
                .store()
                .investigation_for_thread(&thread_ref(channel))
                .await,
            Ok(Some(_))
        )
    }

    /// Runs a check for a message command.
    async fn check(
        &self,
        message: &Message,
        metric: Option<String>,
        lookback_ms: Option<i64>,
    ) -> (String, Result<Investigated, String>) {
        let origin = Origin::chat(
            "discord",
            &message.channel_id.to_string(),
            Some(&message.id.to_string()),
        );
        match (message.attachments.first(), metric) {
            (Some(file), metric) => {
                let outcome = self
                    .service
                    .check_attachment(&attachment_of(file), &self.fetcher, metric.as_deref(), &origin)
                    .await;
                (file.filename.clone(), outcome)
            }
            (None, Some(metric)) => {
                let outcome = self.service.check(&metric, lookback_ms, &origin).await;
                (metric, outcome)
            }
            (None, None) => (
                "check".to_string(),
                Err(format!("Attach a CSV to the message, or name a stored metric: `{PREFIX} <metric> [last 6h]`.")),
            ),
        }
    }

    async fn on_command(&self, http: &Http, message: &Message, text: &str) {
        tracing::info!(channel = %message.channel_id, user = %message.author.name, "discord command");
        let text = match commands::receive("discord", text, true) {
            Ok(Command::Check {
                metric,
                lookback_ms,
            }) => {
                return self.on_check(http, message, metric, lookback_ms).await;
            }
            Err(e) => format!("⚠️ {e}"),
            Ok(Command::Help) => discord_help(),
            Ok(Command::Stats) => self
                .service
                .stats_text()
                .await
                .unwrap_or_else(|e| format!("⚠️ {e}")),
            Ok(Command::History { metric }) => self
                .service
                .history_text(metric.as_deref())
                .await
                .unwrap_or_else(|e| format!("⚠️ {e}")),
            Ok(Command::Watch(command)) => {
                let place = WatchPlace {
                    platform: Some("discord".into()),
                    channel: Some(message.channel_id.to_string()),
                    user: message.author.name.clone(),
                };
                self.service.watch_text(&command, &place).await
            }
        };
        say(http, message.channel_id, Some(message.id), &text).await;
    }

    /// A check: acknowledged at once, answered in a thread started from the command.
    async fn on_check(
        &self,
        http: &Http,
        message: &Message,
        metric: Option<String>,
        lookback_ms: Option<i64>,
    ) {
        let ticket = match self.service.admit(
            "discord",
            &message.author.id.to_string(),
            &message.channel_id.to_string(),
        ) {
            Ok(ticket) => ticket,
            Err(refusal) => {
                return say(
                    http,
                    message.channel_id,
                    Some(message.id),
                    &format!("⏳ {refusal}"),
                )
                .await
            }
        };
        acknowledge(http, message.channel_id, message.id).await;
        if ticket.ahead.is_some() {
            let note = format!("Investigating…{}", ticket.queued_note());
            say(http, message.channel_id, Some(message.id), &note).await;
        }
        let (subject, outcome) = ticket.run(self.check(message, metric, lookback_ms)).await;
        let destination =
            if message.guild_id.is_none() || self.is_verdict_thread(message.channel_id).await {
                Destination::Channel {
                    channel: message.channel_id,
                    reply_to: Some(message.id),
                }
            } else {
                Destination::NewThread {
                    channel: message.channel_id,
                    from: message.id,
                }
            };
        self.deliver(http, destination, &subject, outcome).await;
    }

    /// An alert from the metrics stream: a headline in `channel` and a thread from it holding
    /// the verdict, like a command's answer.
    pub async fn post_alert(&self, http: &Http, channel: ChannelId, investigated: Investigated) {
        let verdict = &investigated.verdict;
        let headline = format!(
            "🚨 Anomaly on `{}` (severity {}/10) — details in the thread",
            verdict.metric, verdict.severity
        );
        let message = post::text_message(&headline, None);
        match retrying(|| channel.send_message(http, message.clone())).await {
            Ok(message) => {
                let subject = verdict.metric.clone();
                let destination = Destination::NewThread {
                    channel,
                    from: message.id,
                };
                self.deliver(http, destination, &subject, Ok(investigated))
                    .await
            }
            Err(e) => tracing::error!(error = %e, %channel, "could not post the alert to Discord"),
        }
    }

    /// Starts an alert's thread in `channel`: the headline, a thread from it, and there the
    /// verdict (or why there is none). Returns the thread.
    pub async fn start_alert_thread(
        &self,
        http: &Http,
        channel: ChannelId,
        headline: &str,
        outcome: &Result<Investigated, String>,
    ) -> Result<ChannelId, String> {
        let headline_message = post::text_message(headline, None);
        let message = retrying(|| channel.send_message(http, headline_message.clone()))
            .await
            .map_err(|e| e.to_string())?;
        let name = match outcome {
            Ok(investigated) => verdict_message(&investigated.verdict).headline,
            Err(_) => headline.to_string(),
        };
        let thread = start_thread(http, channel, message.id, &name)
            .await
            .map_err(|e| e.to_string())?;
        match outcome {
            Ok(investigated) => self.post_and_link(http, thread, investigated).await,
            Err(error) => say(http, thread, None, &format!("⚠️ {error}")).await,
        }
        Ok(thread)
    }

    /// Posts a check's outcome — the verdict or a readable error — where it belongs.
    async fn deliver(
        &self,
        http: &Http,
        destination: Destination,
        subject: &str,
        outcome: Result<Investigated, String>,
    ) {
        let (channel, reply_to) = match destination {
            Destination::Channel { channel, reply_to } => (channel, reply_to),
            Destination::NewThread { channel, from } => {
                match start_thread(http, channel, from, &thread_name(subject, &outcome)).await {
                    Ok(thread) => (thread, None),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not start a thread; answering in the channel");
                        (channel, Some(from))
                    }
                }
            }
        };
        match outcome {
            Ok(investigated) => self.post_and_link(http, channel, &investigated).await,
            Err(error) => say(http, channel, reply_to, &format!("⚠️ {error}")).await,
        }
    }

    /// A message in a verdict thread is discussion of that verdict.
    async fn on_thread_message(&self, http: &Http, message: &Message) {
        let thread = thread_ref(message.channel_id);
        let Ok(Some(investigation)) = self.service.store().investigation_for_thread(&thread).await
        else {
            return;
        };
        let mentioned = self
            .me
            .get()
            .is_some_and(|me| message.mentions_user_id(*me));
        let reply = parse_reply(&message.content, mentioned);
        let channel = message.channel_id;
        match self
            .service
            .reply(&investigation, reply, &speaker(&message.author))
            .await
        {
            Ok(ThreadAnswer::Text(text)) => say(http, channel, None, &text).await,
            Ok(ThreadAnswer::Verdict(investigated)) => {
                acknowledge(http, channel, message.id).await;
                self.post_and_link(http, channel, &investigated).await
            }
            Ok(ThreadAnswer::Quiet) => {}
            Err(e) => say(http, channel, None, &format!("⚠️ {e}")).await,
        }
    }

    /// `/anomaly check|stats|history|help`: deferred at once (Discord allows 3 seconds), then
    /// answered by editing the deferred response. A verdict goes into a thread started from it.
    async fn on_application_command(&self, http: &Http, command: &CommandInteraction) {
        let deferred = CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new());
        if let Err(e) = retrying(|| command.create_response(http, deferred.clone())).await {
            tracing::error!(error = %e, "could not defer the /anomaly command");
            return;
        }
        let options = command.data.options();
        let (sub, arguments) = match options.first() {
            Some(ResolvedOption {
                name,
                value: ResolvedValue::SubCommand(arguments),
                ..
            }) => (*name, arguments.as_slice()),
            _ => ("help", &[][..]),
        };
        let text_argument = |wanted: &str| {
            arguments.iter().find_map(|o| match o.value {
                ResolvedValue::String(value) if o.name == wanted => Some(value.to_string()),
                _ => None,
            })
        };
        crate::telemetry::chat_command("discord", sub);
        let answer = match sub {
            "stats" => self
                .service
                .stats_text()
                .await
                .unwrap_or_else(|e| format!("⚠️ {e}")),
            "history" => self
                .service
                .history_text(text_argument("metric").as_deref())
                .await
                .unwrap_or_else(|e| format!("⚠️ {e}")),
            "check" => {
                let file = arguments.iter().find_map(|o| match o.value {
                    ResolvedValue::Attachment(file) => Some(file),
                    _ => None,
                });
                let channel = command.channel_id.to_string();
                match self
                    .service
                    .admit("discord", &command.user.id.to_string(), &channel)
                {
                    Ok(ticket) => {
                        let origin = Origin::chat("discord", &channel, None);
                        let check = self.slash_check(
                            file,
                            text_argument("metric"),
                            text_argument("last"),
                            &origin,
                        );
                        let outcome = ticket.run(check).await;
                        return self.answer_check(http, command, outcome).await;
                    }
                    Err(refusal) => format!("⏳ {refusal}"),
                }
            }
            _ => discord_help(),
        };
        self.edit_response(http, command, post::text_edit(&truncate_answer(&answer)))
            .await;
    }

    async fn slash_check(
        &self,
        file: Option<&serenity::all::Attachment>,
        metric: Option<String>,
        last: Option<String>,
        origin: &Origin,
    ) -> Result<Investigated, String> {
        if let Some(file) = file {
            return self
                .service
                .check_attachment(
                    &attachment_of(file),
                    &self.fetcher,
                    metric.as_deref(),
                    origin,
                )
                .await;
        }
        let Some(metric) = metric else {
            return Err("Give a stored `metric`, or attach a CSV as `file`.".to_string());
        };
        let lookback_ms = last.as_deref().map(parse_duration).transpose()?;
        self.service.check(&metric, lookback_ms, origin).await
    }

    /// In a guild: the deferred response becomes the headline and a thread holds the verdict.
    /// In a DM (no threads): the response is the verdict itself.
    async fn answer_check(
        &self,
        http: &Http,
        command: &CommandInteraction,
        outcome: Result<Investigated, String>,
    ) {
        let investigated = match outcome {
            Ok(investigated) => investigated,
            Err(error) => {
                let edit = post::text_edit(&truncate_answer(&format!("⚠️ {error}")));
                self.edit_response(http, command, edit).await;
                return;
            }
        };
        if command.guild_id.is_none() {
            let edit = post::verdict_edit(
                &investigated,
                &self.service.verdict_message(&investigated.verdict),
            )
            .await;
            if self.edit_response(http, command, edit).await.is_some() {
                self.link(command.channel_id, &investigated).await;
            }
            return;
        }
        let headline = verdict_message(&investigated.verdict).headline;
        let edit = post::text_edit(&format!("{headline} — details in the thread"));
        let Some(response) = self.edit_response(http, command, edit).await else {
            return;
        };
        let channel = match start_thread(http, command.channel_id, response.id, &headline).await {
            Ok(thread) => thread,
            Err(e) => {
                tracing::warn!(error = %e, "could not start a thread; answering in the channel");
                command.channel_id
            }
        };
        self.post_and_link(http, channel, &investigated).await;
    }

    async fn edit_response(
        &self,
        http: &Http,
        command: &CommandInteraction,
        edit: EditInteractionResponse,
    ) -> Option<Message> {
        match retrying(|| command.edit_response(http, edit.clone())).await {
            Ok(message) => Some(message),
            Err(e) => {
                tracing::error!(error = %e, "could not answer the /anomaly command");
                None
            }
        }
    }

    /// A verdict button: Confirm, False positive, Explain — answered in the verdict's channel.
    async fn on_button(&self, http: &Http, press: &ComponentInteraction) {
        let Some((reply, investigation)) = parse_custom_id(&press.data.custom_id)
            .and_then(|(action, id)| button_reply(action).map(|reply| (reply, id)))
        else {
            return;
        };
        let text = match self
            .service
            .reply(investigation, reply, &speaker(&press.user))
            .await
        {
            Ok(ThreadAnswer::Text(text)) => text,
            Ok(_) => return,
            Err(e) => format!("⚠️ {e}"),
        };
        let response =
            CreateInteractionResponse::Message(post::text_response(&truncate_answer(&text)));
        if let Err(e) = retrying(|| press.create_response(http, response.clone())).await {
            tracing::error!(error = %e, "could not answer a button");
        }
    }
}

fn discord_help() -> String {
    format!("{HELP_ON_DISCORD}\n{HELP_TEXT}")
}

/// An interaction answer is one message: keep its first part.
fn truncate_answer(text: &str) -> String {
    split_for_discord(text).swap_remove(0)
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        let _ = self.me.set(ready.user.id);
        self.set_gateway_state(CONNECTED);
        tracing::info!(user = %ready.user.name, "connected to the Discord gateway");
        self.register_commands(&ctx.http).await;
    }

    async fn resume(&self, _ctx: Context, _event: ResumedEvent) {
        self.set_gateway_state(CONNECTED);
        tracing::info!("resumed the Discord gateway session");
    }

    async fn shard_stage_update(&self, _ctx: Context, update: ShardStageUpdateEvent) {
        self.set_gateway_state(match update.new {
            ConnectionStage::Connected => CONNECTED,
            ConnectionStage::Disconnected => DISCONNECTED,
            _ => CONNECTING,
        });
    }

    async fn message(&self, ctx: Context, message: Message) {
        if message.author.bot
            || !self
                .service
                .first_delivery(&format!("discord:message:{}", message.id))
                .await
        {
            return;
        }
        let content = crate::chat::text::visible(&message.content);
        match command_text(&content) {
            Some(text) => self.on_command(&ctx.http, &message, text).await,
            None => self.on_thread_message(&ctx.http, &message).await,
        }
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        if !self
            .service
            .first_delivery(&format!("discord:interaction:{}", interaction.id()))
            .await
        {
            return;
        }
        match &interaction {
            Interaction::Command(command) if command.data.name == "anomaly" => {
                self.on_application_command(&ctx.http, command).await
            }
            Interaction::Component(press) => self.on_button(&ctx.http, press).await,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_a_whole_word() {
        assert_eq!(
            command_text("!check_anomaly api_latency last 6h"),
            Some("api_latency last 6h")
        );
        assert_eq!(command_text("  !CHECK_ANOMALY"), Some(""));
        assert_eq!(command_text("!check_anomalyx"), None);
        assert_eq!(command_text("check_anomaly api"), None);
        assert_eq!(command_text("é"), None);
        let pasted = crate::chat::text::visible("\u{200b}!check_anomaly api");
        assert_eq!(
            command_text(&pasted),
            Some("api"),
            "as the handler reads it"
        );
    }

    #[test]
    fn the_command_definitions_are_valid() {
        let definitions: Value = serde_json::from_str(APPLICATION_COMMANDS).unwrap();
        assert_eq!(definitions[0]["name"], "anomaly");
    }
}
