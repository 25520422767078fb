//! Sentry: errors and panics (through the `tracing` layer and sentry's panic hook) and every
//! verdict of severity ≥ 7 as an event tagged with its metric, severity and pattern. Whatever is
//! sent first passes through a scrubber that removes every configured secret.

use std::sync::Arc;

use sentry::protocol::{Event, Level};

use crate::config::LogSettings;
use engine::investigation::Verdict;

/// Verdicts this severe are also Sentry events.
pub const VERDICT_MIN_SEVERITY: u8 = 7;

/// Variables whose values must never leave the process.
const SECRET_VARIABLES: [&str; 13] = [
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "DISCORD_TOKEN",
    "ELEVENLABS_API_KEY",
    "REDPANDA_PASSWORD",
    "DATABASE_URL",
    "OPENAI_API_KEY",
    "LLM_API_KEY",
    "PROMETHEUS_BEARER_TOKEN",
    "PROMETHEUS_BASIC_AUTH",
    "ALERTMANAGER_WEBHOOK_TOKEN",
    "ANOMALY_HUNTER_API_TOKEN",
];

/// Prefixes of tokens that are secret whatever variable they came from.
const TOKEN_PREFIXES: [&str; 5] = ["xoxb-", "xoxp-", "xoxa-", "xoxe-", "xapp-"];

const REDACTED: &str = "[redacted]";

/// Starts Sentry when `SENTRY_DSN` is set; keep the guard alive for the whole process (it
/// flushes pending events when dropped).
pub fn init(settings: &LogSettings) -> Option<sentry::ClientInitGuard> {
    let dsn: sentry::types::Dsn = settings.sentry_dsn.as_deref()?.parse().ok()?;
    let secrets = Secrets::from_env();
    Some(sentry::init(sentry::ClientOptions {
        dsn: Some(dsn),
        release: sentry::release_name!(),
        environment: settings.sentry_environment.clone().map(Into::into),
        send_default_pii: false,
        before_send: Some(Arc::new(move |event| secrets.scrub_event(event))),
        ..Default::default()
    }))
}

/// Sends a serious verdict to Sentry (a no-op when Sentry is off). Events group by metric and
/// pattern, so one recurring incident is one Sentry issue.
pub fn report_verdict(verdict: &Verdict) {
    if !verdict.anomalous || verdict.severity < VERDICT_MIN_SEVERITY {
        return;
    }
    let pattern = verdict.pattern.unwrap_or("unknown");
    let mut event = Event {
        level: if verdict.severity >= 9 {
            Level::Error
        } else {
            Level::Warning
        },
        message: Some(format!(
            "Anomaly in {} (severity {}/10): {}",
            verdict.metric, verdict.severity, verdict.hypothesis
        )),
        fingerprint: vec![
            "anomaly".into(),
            verdict.metric.clone().into(),
            pattern.to_string().into(),
        ]
        .into(),
        ..Default::default()
    };
    for (tag, value) in [
        ("metric", verdict.metric.clone()),
        ("severity", verdict.severity.to_string()),
        ("pattern", pattern.to_string()),
        ("investigation_id", verdict.id.clone()),
    ] {
        event.tags.insert(tag.to_string(), value);
    }
    sentry::capture_event(event);
}

/// The secret values configured in this process.
#[derive(Debug, Clone, Default)]
pub struct Secrets(Vec<String>);

impl Secrets {
    /// The secret variables' values in the environment (a setting given as a command-line
    /// option instead is visible in `ps` anyway).
    pub fn from_env() -> Self {
        let mut values = Vec::new();
        for name in SECRET_VARIABLES {
            let Some(value) = std::env::var(name).ok().filter(|v| v.len() >= 6) else {
                continue;
            };
            // Basic auth is `user:password`: the password alone may show up too.
            if let Some((_, password)) = value
                .split_once(':')
                .filter(|_| name == "PROMETHEUS_BASIC_AUTH")
            {
                values.push(password.to_string());
            }
            // A database URL is secret for its password, not for its host.
            if let Some(password) = url_password(&value) {
                values.push(password);
            } else if name != "DATABASE_URL" {
                values.push(value);
            }
        }
        Self::new(values)
    }

    pub fn new(values: Vec<String>) -> Self {
        Self(values)
    }

    /// `text` with every secret value and every token-looking word replaced.
    pub fn scrub(&self, text: &str) -> String {
        let mut clean = text.to_string();
        for secret in &self.0 {
            clean = clean.replace(secret.as_str(), REDACTED);
        }
        for prefix in TOKEN_PREFIXES {
            while let Some(start) = clean.find(prefix) {
                let end = clean[start..]
                    .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ')'))
                    .map_or(clean.len(), |n| start + n);
                clean.replace_range(start..end, REDACTED);
            }
        }
        clean
    }

    /// Scrubs every string in the event (message, exception, breadcrumbs, tags, extra…); an
    /// event that cannot be inspected is dropped rather than sent unchecked.
    pub fn scrub_event(&self, event: Event<'static>) -> Option<Event<'static>> {
        let mut json = serde_json::to_value(&event).ok()?;
        self.scrub_value(&mut json);
        serde_json::from_value(json).ok()
    }

    fn scrub_value(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(text) => *text = self.scrub(text),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_value(v)),
            serde_json::Value::Object(fields) => {
                fields.values_mut().for_each(|v| self.scrub_value(v))
            }
            _ => {}
        }
    }
}

/// The password in `scheme://user:password@host/…`, if any.
fn url_password(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let credentials = rest.split('@').next().filter(|_| rest.contains('@'))?;
    let (_, password) = credentials.split_once(':')?;
    (!password.is_empty()).then(|| password.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_token_shaped_words_are_scrubbed_from_every_part_of_an_event() {
        let secrets = Secrets::new(vec!["discord-secret-token".into(), "pg-pass".into()]);
        let mut event = Event {
            message: Some(
                "login failed with discord-secret-token for xoxb-123-456-abc, retrying".into(),
            ),
            ..Default::default()
        };
        event
            .tags
            .insert("url".into(), "postgres://bot:pg-pass@db/ah".into());
        event.extra.insert(
            "nested".into(),
            serde_json::json!({"list": ["xapp-1-A0-xyz"]}),
        );
        let clean = secrets.scrub_event(event).unwrap();
        let sent = serde_json::to_string(&clean).unwrap();
        for secret in ["discord-secret-token", "xoxb-", "xapp-", "pg-pass"] {
            assert!(!sent.contains(secret), "{secret} leaked: {sent}");
        }
        assert_eq!(
            clean.message.as_deref(),
            Some("login failed with [redacted] for [redacted], retrying")
        );
        assert_eq!(clean.tags["url"], "postgres://bot:[redacted]@db/ah");
    }

    #[test]
    fn only_the_password_of_a_database_url_is_secret() {
        assert_eq!(
            url_password("postgres://bot:s3cret@db:5432/ah").as_deref(),
            Some("s3cret")
        );
        assert_eq!(url_password("postgres://db:5432/ah"), None);
        assert_eq!(url_password("postgres://bot@db/ah"), None);
    }
}
