//! Alertmanager's webhook (payload version 4): the alerts in a notification, the expression
//! each one should be investigated over, and where its thread goes. Pure parsing, no I/O.
//!
//! What an alert is investigated over, first found wins:
//! - annotation or label `anomaly_hunter_query` (a PromQL expression, used as is);
//! - the `g0.expr` of its `generatorURL` (Prometheus' rule expression), comparison removed:
//!   `api_latency_seconds > 0.5` is investigated as `api_latency_seconds`.
//!
//! The look-back is annotation or label `anomaly_hunter_lookback` (`2h`), else 6 hours. The
//! thread goes to `ALERT_SLACK_CHANNEL` / `ALERT_DISCORD_CHANNEL`, or to the channel named by a
//! `slack_channel` / `discord_channel` label or annotation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::promql::measured_side;

/// The look-back an alert is investigated over unless it says otherwise.
pub const DEFAULT_ALERT_LOOKBACK_MS: i64 = 6 * 3_600_000;

/// A notification as Alertmanager sends it.
#[derive(Debug, Deserialize)]
pub struct Notification {
    pub version: String,
    #[serde(default)]
    pub alerts: Vec<Alert>,
}

/// One alert of a notification.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub starts_at: String,
    #[serde(default)]
    pub ends_at: String,
    #[serde(rename = "generatorURL", default)]
    pub generator_url: String,
    pub fingerprint: String,
}

/// An alert ready to record: its identity, state and times in UTC ms.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedAlert {
    pub fingerprint: String,
    pub starts_at: i64,
    pub alertname: String,
    pub resolved: bool,
    /// When it stopped firing (resolved alerts only).
    pub ends_at: Option<i64>,
    pub alert: Alert,
}

/// Reads a webhook body: the alerts it carries, or what is wrong with it.
pub fn parse_notification(body: &[u8]) -> Result<Vec<ReceivedAlert>, String> {
    let notification: Notification = serde_json::from_slice(body)
        .map_err(|e| format!("not an Alertmanager webhook payload: {e}"))?;
    if notification.version != "4" {
        return Err(format!(
            "webhook payload version {} is not supported (Alertmanager sends version 4)",
            notification.version
        ));
    }
    notification
        .alerts
        .into_iter()
        .map(|alert| {
            let starts_at = parse_time(&alert.starts_at)
                .ok_or_else(|| format!("alert startsAt `{}` is not a time", alert.starts_at))?;
            let resolved = alert.status == "resolved";
            Ok(ReceivedAlert {
                fingerprint: alert.fingerprint.clone(),
                starts_at,
                alertname: alert
                    .labels
                    .get("alertname")
                    .cloned()
                    .unwrap_or_else(|| "alert".to_string()),
                resolved,
                ends_at: resolved.then(|| parse_time(&alert.ends_at)).flatten(),
                alert,
            })
        })
        .collect()
}

/// RFC 3339 → UTC ms; Alertmanager's "no end" (`0001-01-01T00:00:00Z`) is `None`.
fn parse_time(text: &str) -> Option<i64> {
    let at = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    let ms = at.timestamp_millis();
    (ms > 0).then_some(ms)
}

impl Alert {
    /// An annotation, else a label, of that name.
    fn setting(&self, name: &str) -> Option<&str> {
        self.annotations
            .get(name)
            .or_else(|| self.labels.get(name))
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// The PromQL expression to investigate, when the alert names one.
    pub fn expression(&self) -> Option<String> {
        if let Some(query) = self.setting("anomaly_hunter_query") {
            return Some(query.trim().to_string());
        }
        let query = self.generator_url.split_once('?')?.1;
        let expr = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .ok()?
            .into_iter()
            .find(|(key, _)| key == "g0.expr")?
            .1;
        Some(measured_side(&expr).to_string()).filter(|e| !e.is_empty())
    }

    /// How far back to investigate.
    pub fn lookback_ms(&self) -> i64 {
        self.setting("anomaly_hunter_lookback")
            .and_then(|v| engine::series::timestamp::parse_duration(v).ok())
            .unwrap_or(DEFAULT_ALERT_LOOKBACK_MS)
    }

    /// The Slack channel this alert asks for, if it names one.
    pub fn slack_channel(&self) -> Option<&str> {
        self.setting("slack_channel")
    }

    /// The Discord channel this alert asks for, if it names one (a number).
    pub fn discord_channel(&self) -> Option<u64> {
        self.setting("discord_channel")?.trim().parse().ok()
    }

    /// `HighLatency — API latency above 300 ms` with the labels that say where.
    pub fn headline(&self) -> String {
        let name = self.labels.get("alertname").map_or("alert", String::as_str);
        let summary = self
            .setting("summary")
            .or_else(|| self.setting("description"))
            .map(|s| format!(" — {s}"))
            .unwrap_or_default();
        let labels: Vec<String> = self
            .labels
            .iter()
            .filter(|(k, _)| k.as_str() != "alertname")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("{name}{summary} ({})", labels.join(", "))
    }
}

/// Where an alert's investigation window ends: now, unless the alert is posted late (the bot
/// was down, a chat API was), when the window is kept around the alert's start rather than
/// sliding past it.
pub fn window_end(starts_at_ms: i64, now_ms: i64, lookback_ms: i64) -> i64 {
    now_ms.min(starts_at_ms.saturating_add(lookback_ms / 2))
}

/// `12 min`, `3 h 5 min`: how long an alert fired.
pub fn duration_words(ms: i64) -> String {
    let minutes = (ms.max(0) + 30_000) / 60_000;
    match minutes {
        0 => format!("{} s", ms.max(0) / 1000),
        m if m < 60 => format!("{m} min"),
        m => format!("{} h {} min", m / 60, m % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRING: &str = r#"{
      "version": "4", "groupKey": "{}:{alertname=\"HighLatency\"}", "truncatedAlerts": 0,
      "status": "firing", "receiver": "bot", "groupLabels": {"alertname": "HighLatency"},
      "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am:9093",
      "alerts": [{
        "status": "firing",
        "labels": {"alertname": "HighLatency", "job": "api", "severity": "page"},
        "annotations": {"summary": "API latency above 300 ms"},
        "startsAt": "2026-12-01T09:00:00.123Z", "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=api_latency_seconds%7Bjob%3D%22api%22%7D+%3E+0.3&g0.tab=1",
        "fingerprint": "a1b2c3"
      }]
    }"#;

    #[test]
    fn reads_a_firing_alert_and_its_expression() {
        let alerts = parse_notification(FIRING.as_bytes()).unwrap();
        assert_eq!(alerts.len(), 1);
        let received = &alerts[0];
        assert_eq!(received.fingerprint, "a1b2c3");
        assert_eq!(received.alertname, "HighLatency");
        assert!(!received.resolved);
        assert_eq!(received.ends_at, None);
        assert_eq!(
            received.alert.expression().as_deref(),
            Some("api_latency_seconds{job=\"api\"}")
        );
        assert_eq!(received.alert.lookback_ms(), DEFAULT_ALERT_LOOKBACK_MS);
        assert_eq!(
            received.alert.headline(),
            "HighLatency — API latency above 300 ms (job=api, severity=page)"
        );
    }

    #[test]
    fn annotations_override_and_resolved_alerts_end() {
        let text = FIRING
            .replace(r#""status": "firing","#, r#""status": "resolved","#)
            .replace("0001-01-01T00:00:00Z", "2026-12-01T09:12:00.123Z")
            .replace(
                r#""summary": "API latency above 300 ms""#,
                r#""anomaly_hunter_query": "rate(x[5m])", "anomaly_hunter_lookback": "2h", "slack_channel": "C0DB", "discord_channel": "42""#,
            );
        let alert = &parse_notification(text.as_bytes()).unwrap()[0];
        assert!(alert.resolved);
        assert_eq!(alert.ends_at.unwrap() - alert.starts_at, 12 * 60_000);
        assert_eq!(alert.alert.expression().as_deref(), Some("rate(x[5m])"));
        assert_eq!(alert.alert.lookback_ms(), 2 * 3_600_000);
        assert_eq!(alert.alert.slack_channel(), Some("C0DB"));
        assert_eq!(alert.alert.discord_channel(), Some(42));
        assert_eq!(duration_words(12 * 60_000), "12 min");
        assert_eq!(duration_words(185 * 60_000), "3 h 5 min");
        let hour = 3_600_000;
        assert_eq!(
            window_end(10 * hour, 10 * hour + 60_000, 6 * hour),
            10 * hour + 60_000
        );
        assert_eq!(
            window_end(10 * hour, 40 * hour, 6 * hour),
            13 * hour,
            "late: around the start"
        );
    }

    #[test]
    fn refuses_other_payloads_in_words() {
        assert!(parse_notification(b"{}")
            .unwrap_err()
            .contains("not an Alertmanager"));
        let v3 = FIRING.replace(r#""version": "4""#, r#""version": "3""#);
        assert!(parse_notification(v3.as_bytes())
            .unwrap_err()
            .contains("version 3"));
    }
}
