//! What the bot writes to Discord, over serenity's rate-limited REST client: plain answers
//! (split at Discord's 2,000-character limit), verdicts with their chart, threads, and the
//! "working on it" signals.

use std::future::Future;
use std::time::Duration;

use backon::Retryable as _;
use serenity::all::{
    AutoArchiveDuration, ChannelId, CreateAllowedMentions, CreateAttachment, CreateEmbed,
    CreateInteractionResponseMessage, CreateMessage, CreateThread, EditInteractionResponse,
    EditMessage, Message, MessageId, MessageReference, ReactionType,
};
use serenity::http::{Http, HttpError};

use super::embed::verdict_embed;
use crate::chat::message::VerdictMessage;
use crate::chat::service::Investigated;
use crate::sinks::voice::VoiceClip;

/// Discord refuses message contents longer than this.
pub const CONTENT_LIMIT: usize = 2000;
/// Longest thread name Discord accepts.
const THREAD_NAME_LIMIT: usize = 100;
/// The reaction put on a command the moment it arrives.
pub const WORKING_ON_IT: &str = "🔍";

/// Attempts at a call that keeps coming back 429.
const RATE_LIMIT_ATTEMPTS: usize = 4;

/// Runs a REST call, waiting out 429 answers (about 0.5 s, 1 s, 2 s). serenity's own rate limiter
/// handles this when the bot talks to Discord directly; through `DISCORD_API_URL` it is off
/// (serenity 0.12 would bypass the proxy with it), so this keeps a verdict from being lost to
/// a rate limit the proxy passes on.
pub async fn retrying<T, F, Fut>(call: F) -> serenity::Result<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = serenity::Result<T>>,
{
    let rate_limited = |e: &serenity::Error| matches!(e, serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) if response.status_code.as_u16() == 429);
    call.retry(
        crate::retry::backoff(Duration::from_millis(500), Duration::from_secs(4))
            .with_max_times(RATE_LIMIT_ATTEMPTS - 1),
    )
    .when(rate_limited)
    // Not the URL: an interaction's path holds its token, and logs reach Sentry.
    .notify(|_, wait| tracing::info!(?wait, "Discord rate limit; retrying"))
    .await
}

/// A text message that never pings anyone, whatever the text echoes back; a reply to
/// `reply_to` (in `channel`) when given, sent even if that message is gone.
pub fn text_message(text: &str, reply_to: Option<(ChannelId, MessageId)>) -> CreateMessage {
    let message = CreateMessage::new()
        .content(text)
        .allowed_mentions(CreateAllowedMentions::new());
    match reply_to {
        Some(pair) => {
            let mut reference = MessageReference::from(pair);
            reference.fail_if_not_exists = Some(false);
            message.reference_message(reference)
        }
        None => message,
    }
}

/// The same text as the answer to an interaction (a button press).
pub fn text_response(text: &str) -> CreateInteractionResponseMessage {
    CreateInteractionResponseMessage::new()
        .content(text)
        .allowed_mentions(CreateAllowedMentions::new())
}

/// The same text as the edit of a deferred `/anomaly` response.
pub fn text_edit(text: &str) -> EditInteractionResponse {
    EditInteractionResponse::new()
        .content(text)
        .allowed_mentions(CreateAllowedMentions::new())
}

/// Splits a long answer into messages Discord accepts, at line breaks where possible.
pub fn split_for_discord(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    for line in text.split_inclusive('\n') {
        if current.chars().count() + line.chars().count() > CONTENT_LIMIT && !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
        let mut line = line;
        while line.chars().count() > CONTENT_LIMIT {
            let cut = line
                .char_indices()
                .nth(CONTENT_LIMIT)
                .map_or(line.len(), |(i, _)| i);
            parts.push(line[..cut].to_string());
            line = &line[cut..];
        }
        current.push_str(line);
    }
    if !current.trim().is_empty() || parts.is_empty() {
        parts.push(current);
    }
    parts
}

/// Posts a spoken alert as an audio file; a failure is logged.
pub async fn voice_clip(http: &Http, channel: ChannelId, clip: VoiceClip) {
    let message = text_message("🔊 Voice alert", None)
        .add_file(CreateAttachment::bytes(clip.audio, clip.filename));
    if let Err(e) = retrying(|| channel.send_message(http, message.clone())).await {
        tracing::warn!(error = %e, %channel, "could not post the voice alert");
    }
}

/// Posts a text answer (several messages if it is long); failures are logged.
pub async fn say(http: &Http, channel: ChannelId, reply_to: Option<MessageId>, text: &str) {
    for (i, part) in split_for_discord(text).iter().enumerate() {
        let reply_to = reply_to
            .filter(|_| i == 0)
            .map(|message| (channel, message));
        let message = text_message(part, reply_to);
        if let Err(e) = retrying(|| channel.send_message(http, message.clone())).await {
            tracing::error!(error = %e, %channel, "could not post to Discord");
            return;
        }
    }
}

/// The verdict as an embed with buttons, and its chart attached and shown in the embed. A chart
/// that cannot be drawn is logged and left out; the verdict still goes.
pub async fn post_verdict(
    http: &Http,
    channel: ChannelId,
    investigated: &Investigated,
    message: &VerdictMessage,
) -> serenity::Result<Message> {
    let (embed, buttons, chart) = verdict_parts(investigated, message).await;
    let mut message = CreateMessage::new()
        .embed(embed)
        .components(vec![buttons])
        .allowed_mentions(CreateAllowedMentions::new());
    if let Some(chart) = chart {
        message = message.add_file(chart);
    }
    retrying(|| channel.send_message(http, message.clone())).await
}

/// The verdict as the edit of a deferred `/anomaly` response (a direct message has no threads).
pub async fn verdict_edit(
    investigated: &Investigated,
    message: &VerdictMessage,
) -> EditInteractionResponse {
    let (embed, buttons, chart) = verdict_parts(investigated, message).await;
    let edit = EditInteractionResponse::new()
        .embed(embed)
        .components(vec![buttons])
        .allowed_mentions(CreateAllowedMentions::new());
    match chart {
        Some(chart) => edit.new_attachment(chart),
        None => edit,
    }
}

/// Replaces a posted verdict's embed with `message` (the model's summary edited in); the chart
/// stays attached and shown (`chart`: its file name).
pub async fn edit_verdict(
    http: &Http,
    channel: ChannelId,
    posted: MessageId,
    message: &VerdictMessage,
    chart: Option<&str>,
) -> serenity::Result<Message> {
    let (embed, _) = verdict_embed(message);
    let embed = match chart {
        Some(chart) => embed.attachment(chart),
        None => embed,
    };
    let edit = EditMessage::new()
        .embed(embed)
        .allowed_mentions(CreateAllowedMentions::new());
    retrying(|| channel.edit_message(http, posted, edit.clone())).await
}

/// The verdict's embed (showing its chart, when one could be drawn), buttons and chart file.
async fn verdict_parts(
    investigated: &Investigated,
    message: &VerdictMessage,
) -> (
    CreateEmbed,
    serenity::all::CreateActionRow,
    Option<CreateAttachment>,
) {
    let (embed, buttons) = verdict_embed(message);
    match investigated.chart().await {
        Ok(chart) => (
            embed.attachment(chart.filename.clone()),
            buttons,
            Some(CreateAttachment::bytes(chart.png, chart.filename)),
        ),
        Err(e) => {
            tracing::warn!(error = %e, investigation = %investigated.verdict.id, "chart not drawn");
            (embed, buttons, None)
        }
    }
}

/// Starts a public thread from `message`; its id is the thread's channel id. Threads archive
/// after a day without messages.
pub async fn start_thread(
    http: &Http,
    channel: ChannelId,
    message: MessageId,
    name: &str,
) -> serenity::Result<ChannelId> {
    let name: String = name.chars().take(THREAD_NAME_LIMIT).collect();
    let thread = CreateThread::new(name).auto_archive_duration(AutoArchiveDuration::OneDay);
    let created =
        retrying(|| channel.create_thread_from_message(http, message, thread.clone())).await?;
    Ok(created.id)
}

/// Shows at once that a command was heard: a reaction on it and the typing indicator.
pub async fn acknowledge(http: &Http, channel: ChannelId, message: MessageId) {
    let reaction = ReactionType::Unicode(WORKING_ON_IT.to_string());
    if let Err(e) = http.create_reaction(channel, message, &reaction).await {
        tracing::debug!(error = %e, "could not react to the command");
    }
    if let Err(e) = http.broadcast_typing(channel).await {
        tracing::debug!(error = %e, "could not show typing");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_answers_are_split_under_the_limit() {
        let text = format!("{}\n{}\n", "a".repeat(1500), "b".repeat(4500));
        let parts = split_for_discord(&text);
        assert!(parts.iter().all(|p| p.chars().count() <= CONTENT_LIMIT));
        assert_eq!(parts.concat(), text, "nothing lost");
        assert_eq!(parts[0], format!("{}\n", "a".repeat(1500)));
        assert_eq!(split_for_discord("short"), vec!["short".to_string()]);
    }

    #[test]
    fn answers_never_ping_and_can_reply() {
        let message = text_message(
            "@everyone look",
            Some((ChannelId::new(7), MessageId::new(42))),
        );
        let body = serde_json::to_value(message).unwrap();
        assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
        assert_eq!(body["message_reference"]["message_id"], "42");
        assert_eq!(body["message_reference"]["fail_if_not_exists"], false);
    }
}
