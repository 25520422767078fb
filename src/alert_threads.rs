//! Alertmanager's pages become investigation threads. `POST /alertmanager` records each alert
//! before answering 2xx (Alertmanager retries anything else, so nothing is lost to a restart);
//! a worker then investigates each new alert over its expression, posts one thread per
//! fingerprint and start time, and adds the resolution to that same thread.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use tokio::sync::{watch, Notify};

use crate::chat::service::{ChatService, Investigated};
use crate::discord::Discord;
use crate::pipeline::Origin;
use crate::slack::app::SlackApp;
use crate::sources::alertmanager::{duration_words, parse_notification, window_end};
use crate::sources::watches::SERIES_ANNOTATION;
use crate::store::{AlertThreads, PendingAlert};
use engine::series::timestamp::to_rfc3339;

/// How often pending alerts are looked at again when nothing new arrives (a chat API that
/// was down, a restart).
const RETRY_EVERY: Duration = Duration::from_secs(10);
/// An alert being posted by one replica is left alone by the others while it is (released
/// after), or this long if that replica died mid-post.
const CLAIM_MS: i64 = 2 * 60_000;

/// Where alert threads go and who investigates them.
pub struct AlertDesk {
    service: ChatService,
    /// The Slack app and its default alert channel.
    slack: Option<(Arc<SlackApp>, Option<String>)>,
    /// The Discord bot and its default alert channel.
    discord: Option<(Arc<Discord>, Option<u64>)>,
    wake: Notify,
    /// This desk's name in the claims it takes (replicas share the store).
    holder: String,
}

impl AlertDesk {
    pub fn new(
        service: ChatService,
        slack: Option<(Arc<SlackApp>, Option<String>)>,
        discord: Option<(Arc<Discord>, Option<u64>)>,
    ) -> Self {
        Self {
            service,
            slack,
            discord,
            wake: Notify::new(),
            holder: format!(
                "alert-desk pid {} ({})",
                std::process::id(),
                uuid::Uuid::new_v4()
            ),
        }
    }

    /// Looks at pending alerts now (a watch recorded one).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// `POST /alertmanager`, behind `Authorization: Bearer <token>`.
    pub fn routes(self: Arc<Self>, token: String) -> Router {
        Router::new()
            .route("/alertmanager", post(receive))
            .with_state((self, Arc::new(token)))
    }

    /// Posts what is pending, then waits for the next notification (or [`RETRY_EVERY`]),
    /// until `stop` turns true.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            self.post_pending().await;
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(RETRY_EVERY) => {}
                _ = stop.changed() => return,
            }
        }
    }

    async fn post_pending(&self) {
        let pending = match self.service.store().pending_alerts().await {
            Ok(pending) => pending,
            Err(e) => {
                tracing::error!(error = %e, "cannot read pending alerts");
                return;
            }
        };
        for alert in pending {
            // With replicas sharing the store, one posts each alert.
            let claim = format!("alert:{}:{}", alert.fingerprint, alert.starts_at);
            let store = self.service.store();
            match store.acquire_lease(&claim, &self.holder, CLAIM_MS).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "cannot claim a pending alert");
                    continue;
                }
            }
            // Read again under the claim: another replica may have posted it meanwhile.
            match store
                .pending_alert(&alert.fingerprint, alert.starts_at)
                .await
            {
                Ok(Some(alert)) => {
                    if let Err(e) = self.post(&alert).await {
                        tracing::warn!(error = %e, fingerprint = %alert.fingerprint, attempts = alert.attempts + 1, "alert thread not posted yet; will retry");
                        if let Err(e) = store.alert_attempt_failed(&alert, &e).await {
                            tracing::error!(error = %e, "cannot record a failed alert post");
                        }
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "cannot read a pending alert"),
            }
            if let Err(e) = store.release_lease(&claim, &self.holder).await {
                tracing::warn!(error = %e, "cannot release an alert claim; it expires by itself");
            }
        }
    }

    /// Posts the alert's thread if it has none, then its updates, then its resolution if it
    /// is resolved.
    async fn post(&self, alert: &PendingAlert) -> Result<(), String> {
        let store = self.service.store();
        let threads = match &alert.threads {
            Some(threads) => threads.clone(),
            None => {
                let threads = self.start_threads(alert).await?;
                store
                    .alert_posted(alert, &threads)
                    .await
                    .map_err(|e| e.to_string())?;
                threads
            }
        };
        self.post_updates(alert, &threads).await?;
        if alert.resolved {
            self.say_in_threads(&threads, &resolution_text(alert))
                .await?;
            store
                .alert_resolution_posted(alert)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Posts the alert's news not posted yet in its thread, oldest first.
    async fn post_updates(
        &self,
        alert: &PendingAlert,
        threads: &AlertThreads,
    ) -> Result<(), String> {
        let store = self.service.store();
        let updates = store
            .pending_alert_updates(&alert.fingerprint, alert.starts_at)
            .await
            .map_err(|e| e.to_string())?;
        for (at, text) in updates {
            self.say_in_threads(threads, &text).await?;
            store
                .alert_update_posted(&alert.fingerprint, alert.starts_at, at)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Posts `text` in the alert's thread on each platform it has one.
    async fn say_in_threads(&self, threads: &AlertThreads, text: &str) -> Result<(), String> {
        if let (Some((app, _)), Some((channel, ts))) = (&self.slack, &threads.slack) {
            app.post_in_thread(channel, ts, text).await?;
        }
        if let (Some((discord, _)), Some(thread)) = (&self.discord, &threads.discord) {
            let thread = thread.parse().map_err(|_| "bad stored Discord thread id")?;
            discord.post_in_thread(thread, text).await?;
        }
        Ok(())
    }

    /// Investigates the alert and starts its thread on each platform with a channel for it.
    async fn start_threads(&self, alert: &PendingAlert) -> Result<AlertThreads, String> {
        let outcome = self.investigate(alert).await;
        let headline = format!("🚨 *Firing:* {}", alert.alert.headline());
        let mut threads = AlertThreads {
            investigation_id: outcome.as_ref().ok().map(|i| i.verdict.id.clone()),
            ..AlertThreads::default()
        };
        let mut failures = Vec::new();
        if let Some((app, default)) = &self.slack {
            if let Some(channel) = alert.alert.slack_channel().or(default.as_deref()) {
                match app.start_alert_thread(channel, &headline, &outcome).await {
                    Ok(ts) => threads.slack = Some((channel.to_string(), ts)),
                    Err(e) => failures.push(format!("Slack: {e}")),
                }
            }
        }
        if let Some((discord, default)) = &self.discord {
            if let Some(channel) = alert.alert.discord_channel().or(*default) {
                match discord
                    .start_alert_thread(channel, &headline, &outcome)
                    .await
                {
                    Ok(thread) => threads.discord = Some(thread.to_string()),
                    Err(e) => failures.push(format!("Discord: {e}")),
                }
            }
        }
        if threads.slack.is_none() && threads.discord.is_none() {
            if failures.is_empty() {
                tracing::warn!(alert = %alert.alert.headline(), "no alert channel: set ALERT_SLACK_CHANNEL or ALERT_DISCORD_CHANNEL (or a slack_channel / discord_channel label); the alert is recorded, not posted");
                return Ok(threads);
            }
            return Err(failures.join("; "));
        }
        Ok(threads)
    }

    async fn investigate(&self, alert: &PendingAlert) -> Result<Investigated, String> {
        let expression = alert.alert.expression().ok_or(
            "this alert names no expression to investigate: its generatorURL has no g0.expr; add an `anomaly_hunter_query` annotation",
        )?;
        let lookback = alert.alert.lookback_ms();
        let now = chrono::Utc::now().timestamp_millis();
        self.service
            .check_query(
                &expression,
                Some(lookback),
                Some(window_end(alert.starts_at, now, lookback)),
                &Origin::new("alertmanager"),
            )
            .await
            .map_err(|e| format!("Could not investigate `{expression}`: {e}"))
    }
}

/// `✅ Resolved: HighLatency stopped firing at … after 12 min.`; a watch's series is
/// `back to normal` instead.
fn resolution_text(alert: &PendingAlert) -> String {
    if let (Some(series), Some(ends)) = (
        alert.alert.annotations.get(SERIES_ANNOTATION),
        alert.ends_at,
    ) {
        return format!(
            "✅ *Resolved:* `{series}` back to normal at {} after {}.",
            to_rfc3339(ends),
            duration_words(ends - alert.starts_at)
        );
    }
    let name = alert
        .alert
        .labels
        .get("alertname")
        .map_or("the alert", String::as_str);
    match alert.ends_at {
        Some(ends) => format!(
            "✅ *Resolved:* {name} stopped firing at {} after {}.",
            to_rfc3339(ends),
            duration_words(ends - alert.starts_at)
        ),
        None => format!("✅ *Resolved:* {name} stopped firing."),
    }
}

type DeskState = (Arc<AlertDesk>, Arc<String>);

/// Records the notification's alerts, then answers: 200 once they are stored, 401 without the
/// token, 400 for a payload that is not Alertmanager's, 503 when the store failed (so
/// Alertmanager sends it again).
async fn receive(
    State((desk, token)): State<DeskState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !presented.is_some_and(|p| constant_time_eq(p.as_bytes(), token.as_bytes())) {
        crate::telemetry::alert_notification("refused");
        return (
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token: set http_config.authorization.credentials in the Alertmanager receiver to ALERTMANAGER_WEBHOOK_TOKEN",
        )
            .into_response();
    }
    let alerts = match parse_notification(&body) {
        Ok(alerts) => alerts,
        Err(e) => {
            crate::telemetry::alert_notification("refused");
            return (StatusCode::BAD_REQUEST, e).into_response();
        }
    };
    match desk.service.store().record_alerts(&alerts).await {
        Ok(new) => {
            crate::telemetry::alert_notification("recorded");
            tracing::info!(
                alerts = alerts.len(),
                new,
                "Alertmanager notification recorded"
            );
            desk.wake.notify_one();
            StatusCode::OK.into_response()
        }
        Err(e) => {
            crate::telemetry::alert_notification("failed");
            tracing::error!(error = %e, "cannot record an Alertmanager notification; it will be sent again");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot record the alerts right now",
            )
                .into_response()
        }
    }
}

/// Compares secrets without leaking where they differ through timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
