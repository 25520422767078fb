//! Watches as people handle them — from chat, the HTTP API and the command line alike: added
//! after Prometheus has answered the query once, listed with their state and alert budget,
//! removed, snoozed. The watch runner (`sources::watches`) does the scoring.

use serde::Serialize;

use super::commands::WatchCommand;
use super::service::ChatService;
use crate::sources::alertmanager::duration_words;
use crate::sources::prometheus::QueryRange;
use crate::sources::watches::{
    watch_of_fingerprint, DEFAULT_SERIES_CAP, DEFAULT_STEP_MS, DEPARTURE_ANNOTATION,
    SERIES_ANNOTATION,
};
use crate::store::{AlertBudget, NewWatch, StoreError, Watch};
use engine::series::timestamp::to_rfc3339;

/// A watch with what its runner and the store say about it now.
#[derive(Debug, Clone, Serialize)]
pub struct WatchStatus {
    #[serde(flatten)]
    pub watch: Watch,
    /// Series with an incident open now.
    pub incidents_open: i64,
    pub alert_budget: AlertBudget,
    /// Incidents per series-week so far (`null` before a series has been scored a while).
    pub incidents_per_series_week: Option<f64>,
}

/// Where a watch's incidents go, and who asked.
#[derive(Debug, Clone)]
pub struct WatchPlace {
    /// `slack` or `discord` with its channel; neither: the alert channels.
    pub platform: Option<String>,
    pub channel: Option<String>,
    pub user: String,
}

impl ChatService {
    /// "False positive" in a watch incident's thread: from now on that series opens nothing
    /// for a departure of that size (and a little more). The sentence saying so, when the
    /// thread was a watch incident's.
    pub(super) async fn tolerate_on_watch(
        &self,
        investigation_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let Some((fingerprint, alert)) = self
            .store()
            .alert_of_investigation(investigation_id)
            .await?
        else {
            return Ok(None);
        };
        let series = alert.annotations.get(SERIES_ANNOTATION);
        let departure = alert
            .annotations
            .get(DEPARTURE_ANNOTATION)
            .and_then(|d| d.parse::<f64>().ok());
        let (Some(series), Some(departure), Some(watch_id)) =
            (series, departure, watch_of_fingerprint(&fingerprint))
        else {
            return Ok(None);
        };
        self.store()
            .tolerate_on_series(watch_id, series, departure)
            .await?;
        Ok(Some(format!(
            "Watch `{watch_id}` will not open an incident on `{series}` again for a change of this size ({departure:.1} times its usual spread) or less."
        )))
    }

    /// Stores a watch once Prometheus has answered its query; returns it and how many series
    /// the query returns now.
    pub async fn add_watch(
        &self,
        query: &str,
        step_ms: Option<i64>,
        series_cap: Option<i64>,
        place: &WatchPlace,
    ) -> Result<(Watch, usize), String> {
        let Some(prometheus) = self.prometheus() else {
            return Err("watches read their series from Prometheus: set PROMETHEUS_URL".into());
        };
        let step_ms = step_ms.unwrap_or(DEFAULT_STEP_MS);
        if step_ms < 1_000 {
            return Err(format!("a watch's step is at least 1 s, not {step_ms} ms"));
        }
        let series_cap = series_cap.unwrap_or(DEFAULT_SERIES_CAP);
        if series_cap < 1 {
            return Err("a watch scores at least one series".into());
        }
        let now = chrono::Utc::now().timestamp_millis();
        let end = now - now.rem_euclid(step_ms);
        let range = QueryRange {
            start_ms: end - 10 * step_ms,
            end_ms: end,
            step_ms,
        };
        let series = prometheus
            .client()
            .query_range(query, range)
            .await
            .map_err(|e| format!("Prometheus did not accept `{query}`: {e}"))?;
        let new = NewWatch {
            query: query.to_string(),
            step_ms,
            series_cap,
            platform: place.platform.clone(),
            channel: place.channel.clone(),
            created_by: place.user.clone(),
        };
        let watch = self
            .store()
            .add_watch(&new)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(watch = %watch.id, query, step_ms, by = %place.user, "watch added");
        Ok((watch, series.len()))
    }

    /// Every watch, or those posting to (platform, channel), with their state.
    pub async fn watch_statuses(
        &self,
        place: Option<(&str, &str)>,
    ) -> Result<Vec<WatchStatus>, String> {
        let store = self.store();
        let watches = store.watches(place).await.map_err(|e| e.to_string())?;
        let mut statuses = Vec::with_capacity(watches.len());
        for watch in watches {
            let incidents_open = store
                .watch_incidents_open(&watch.id)
                .await
                .map_err(|e| e.to_string())?;
            let alert_budget = store
                .alert_budget(&watch.id)
                .await
                .map_err(|e| e.to_string())?;
            statuses.push(WatchStatus {
                incidents_per_series_week: alert_budget.per_series_week(),
                watch,
                incidents_open,
                alert_budget,
            });
        }
        Ok(statuses)
    }

    /// Removes a watch; its incidents' threads stay.
    pub async fn remove_watch(&self, id: &str) -> Result<Watch, String> {
        let store = self.store();
        let watch = store
            .watch(id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| unknown(id))?;
        store.remove_watch(id).await.map_err(|e| e.to_string())?;
        tracing::info!(watch = %id, "watch removed");
        Ok(watch)
    }

    /// Posts nothing new for `for_ms`: incidents are still scored and counted.
    pub async fn snooze_watch(&self, id: &str, for_ms: i64) -> Result<i64, String> {
        let until = chrono::Utc::now().timestamp_millis().saturating_add(for_ms);
        match self.store().snooze_watch(id, Some(until)).await {
            Ok(true) => Ok(until),
            Ok(false) => Err(unknown(id)),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The chat answer to a watch command given in `place`.
    pub async fn watch_text(&self, command: &WatchCommand, place: &WatchPlace) -> String {
        let answer = match command {
            WatchCommand::Add { query, step_ms } => self
                .add_watch(query, *step_ms, None, place)
                .await
                .map(|(watch, series)| added_text(&watch, series)),
            WatchCommand::List => {
                let here = place.platform.as_deref().zip(place.channel.as_deref());
                self.watch_statuses(here).await.map(|s| listing_text(&s))
            }
            WatchCommand::Remove { id } => self
                .remove_watch(id)
                .await
                .map(|w| format!("Stopped watching `{}` (`{}`).", w.query, w.id)),
            WatchCommand::Snooze { id, for_ms } => {
                self.snooze_watch(id, *for_ms).await.map(|until| {
                    format!(
                        "😴 `{id}` snoozed until {}: its series are still scored, incidents are not posted.",
                        to_rfc3339(until)
                    )
                })
            }
        };
        answer.unwrap_or_else(|e| format!("⚠️ {e}"))
    }
}

fn unknown(id: &str) -> String {
    format!("no watch `{id}` (see `watches`)")
}

fn added_text(watch: &Watch, series: usize) -> String {
    let now = match series {
        0 => "it returns no series yet".to_string(),
        1 => "1 series now".to_string(),
        n => format!("{n} series now"),
    };
    format!(
        "👀 Watching `{}` every {} as `{}` ({now}); incidents open a thread here. `unwatch {}` stops it.",
        watch.query,
        duration_words(watch.step_ms),
        watch.id,
        watch.id
    )
}

/// One line per watch: id, query, step, state, series, incidents per series-week.
pub fn listing_text(statuses: &[WatchStatus]) -> String {
    if statuses.is_empty() {
        return "No watches here. `watch <metric or PromQL> [every 1m]` adds one.".into();
    }
    let now = chrono::Utc::now().timestamp_millis();
    let lines: Vec<String> = statuses
        .iter()
        .map(|status| {
            let watch = &status.watch;
            let state = match (&watch.snoozed_until, status.incidents_open) {
                (Some(until), _) if *until > now => format!("snoozed until {}", to_rfc3339(*until)),
                (_, open) if open > 0 => format!("incident open on {open} series"),
                _ => match (watch.state.as_str(), &watch.state_detail) {
                    ("failing", Some(why)) => format!("failing: {why}"),
                    (state, _) => state.to_string(),
                },
            };
            let left_out = match watch.left_out {
                0 => String::new(),
                n => format!(", {n} left out"),
            };
            let budget = status
                .incidents_per_series_week
                .map_or("no week scored yet".to_string(), |rate| {
                    format!("{rate:.2} incidents per series-week")
                });
            format!(
                "• `{}` `{}` every {} — {state}; {} series{left_out}; {budget}",
                watch.id,
                watch.query,
                duration_words(watch.step_ms),
                watch.series_count
            )
        })
        .collect();
    lines.join("\n")
}

/// The watches on `/metrics`: per watch, its series, open incidents and alert budget spent.
pub fn metrics_text(statuses: &[WatchStatus]) -> String {
    let families = [
        ("anomaly_hunter_watch_series", "Series a watch scores."),
        (
            "anomaly_hunter_watch_incidents_open",
            "Series of a watch with an incident open.",
        ),
        (
            "anomaly_hunter_watch_incidents_per_series_week",
            "Incidents a watch opened per series-week scored (its alert budget).",
        ),
    ];
    let mut text = String::new();
    for (name, help) in families {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for status in statuses {
            let value = match name {
                "anomaly_hunter_watch_series" => status.watch.series_count as f64,
                "anomaly_hunter_watch_incidents_open" => status.incidents_open as f64,
                _ => status.incidents_per_series_week.unwrap_or(0.0),
            };
            text.push_str(&format!(
                "{name}{{watch=\"{}\"}} {value}\n",
                status.watch.id
            ));
        }
    }
    text
}
