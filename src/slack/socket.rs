//! Socket Mode: with an app-level token (`xapp-…`) the bot opens a websocket to Slack and
//! receives commands, events and button presses over it — no public URL needed.
//! slack-morphism's listener opens the connection (`apps.connections.open`), acknowledges each
//! envelope (with the slash command's answer as its payload), and reconnects when Slack says
//! `disconnect` or the connection drops. This file only hands its typed events to `SlackApp`.

use std::sync::Arc;

use slack_morphism::prelude::*;

use super::app::SlackApp;
use super::web::{token, Client};

/// The error slack-morphism hands its error handlers and callbacks.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Seconds between attempts while Slack cannot be reached.
const RECONNECT_SECONDS: u64 = 5;

/// The running listener; dropping it closes the connection.
pub type Listener = SlackClientSocketModeListener<SlackClientHyperHttpsConnector>;

/// Connects with `app_token` and keeps the connection open until the listener is dropped.
pub async fn listen(app: Arc<SlackApp>, client: Arc<Client>, app_token: &str) -> Listener {
    let environment = Arc::new(
        SlackClientEventsListenerEnvironment::new(client)
            .with_error_handler(unreadable)
            .with_user_state(app),
    );
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_command_events(on_command)
        .with_push_events(on_event)
        .with_interaction_events(on_interaction);
    // One connection: Slack sends each envelope to one of an app's connections, and the
    // store already keeps two replicas from answering the same message twice.
    let config = SlackClientSocketModeConfig::new()
        .with_max_connections_count(1)
        .with_reconnect_timeout_in_seconds(RECONNECT_SECONDS);
    let listener = SlackClientSocketModeListener::new(&config, environment, callbacks);
    if let Err(e) = listener.listen_for(&token(app_token)).await {
        tracing::error!(error = %e, "Slack Socket Mode could not start");
    }
    listener.start().await;
    listener
}

/// The app the listener was given.
async fn app_of(state: &SlackClientEventsUserState) -> Result<Arc<SlackApp>, BoxError> {
    state
        .read()
        .await
        .get_user_state::<Arc<SlackApp>>()
        .cloned()
        .ok_or_else(|| "the Slack app is not in the listener's state".into())
}

async fn on_command(
    command: SlackCommandEvent,
    _client: Arc<Client>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    Ok(app_of(&state).await?.on_command(command).await)
}

async fn on_event(
    callback: SlackPushEventCallback,
    _client: Arc<Client>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    app_of(&state).await?.on_event(callback);
    Ok(())
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<Client>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    app_of(&state).await?.on_interaction(event);
    Ok(())
}

/// An envelope slack-morphism could not read is logged; the connection goes on.
fn unreadable(
    error: BoxError,
    _client: Arc<Client>,
    _state: SlackClientEventsUserState,
) -> axum::http::StatusCode {
    tracing::warn!(%error, "unreadable Slack Socket Mode envelope");
    axum::http::StatusCode::OK
}
