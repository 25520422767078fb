//! Socket Mode: with an app-level token (`xapp-…`) the bot opens a websocket to Slack
//! (`apps.connections.open`) and receives commands, events and button presses over it — no
//! public URL needed. Every envelope is acknowledged; on `disconnect` or any error the bot
//! reconnects with a growing pause (1 s up to 30 s).

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use super::app::{SlackApp, SlashCommand};
use super::web::SlackWeb;

const FIRST_PAUSE: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Runs forever, reconnecting as needed.
pub async fn run(app: Arc<SlackApp>, opener: SlackWeb) {
    let mut pauses = crate::retry::pauses(FIRST_PAUSE, MAX_BACKOFF);
    loop {
        match session(&app, &opener).await {
            Ok(()) => {
                tracing::info!("Socket Mode connection closed by Slack; reconnecting");
                pauses = crate::retry::pauses(FIRST_PAUSE, MAX_BACKOFF);
            }
            Err(e) => {
                let pause = pauses.next().unwrap_or(MAX_BACKOFF);
                tracing::warn!(error = %e, wait_ms = pause.as_millis() as u64, "Socket Mode connection failed; retrying");
                tokio::time::sleep(pause).await;
            }
        }
    }
}

/// One websocket session, until Slack says `disconnect` or the connection drops.
async fn session(app: &Arc<SlackApp>, opener: &SlackWeb) -> anyhow::Result<()> {
    let opened = opener.call("apps.connections.open", &json!({})).await?;
    let url = opened["url"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("apps.connections.open gave no url"))?;
    let (socket, _) = tokio_tungstenite::connect_async(url).await?;
    let (mut outgoing, mut incoming) = socket.split();
    while let Some(message) = incoming.next().await {
        let text = match message? {
            Message::Text(text) => text,
            Message::Ping(data) => {
                outgoing.send(Message::Pong(data)).await?;
                continue;
            }
            Message::Close(_) => return Ok(()),
            _ => continue,
        };
        let Ok(envelope) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if envelope["type"] == "disconnect" {
            return Ok(());
        }
        if let Some(ack) = handle(app, &envelope).await {
            outgoing.send(Message::text(ack.to_string())).await?;
        }
    }
    Ok(())
}

/// The acknowledgement for an envelope (with the slash command's answer as its payload).
async fn handle(app: &Arc<SlackApp>, envelope: &Value) -> Option<Value> {
    let envelope_id = envelope["envelope_id"].as_str()?;
    let payload = envelope["payload"].clone();
    let answer = match envelope["type"].as_str()? {
        "slash_commands" => match serde_json::from_value::<SlashCommand>(payload) {
            Ok(command) => Some(app.on_command(command).await),
            Err(_) => None,
        },
        "events_api" => app.on_event(payload),
        "interactive" => {
            app.on_interaction(payload);
            None
        }
        _ => None,
    };
    Some(match answer {
        Some(answer) => json!({"envelope_id": envelope_id, "payload": answer}),
        None => json!({"envelope_id": envelope_id}),
    })
}
