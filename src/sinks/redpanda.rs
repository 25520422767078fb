//! Connection settings for Redpanda (or any Kafka-protocol broker), read once from the
//! environment, the librdkafka configuration they make, and what librdkafka reports back.

use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{ClientConfig, ClientContext};

/// Default topic for verdict events.
pub const DEFAULT_TOPIC: &str = "anomaly-hunter.verdicts";

/// How long librdkafka keeps retrying one message before it reports it failed; the relay then
/// backs off and retries from the outbox, so a long outage costs nothing but time.
const MESSAGE_TIMEOUT_MS: &str = "20000";

#[derive(Clone)]
pub struct RedpandaConfig {
    /// `host:port[,host:port…]`.
    pub brokers: String,
    /// Where verdict events go.
    pub topic: String,
    /// Partitions of the verdict topic when the bot has to create it.
    pub partitions: i32,
    pub sasl: Option<Sasl>,
    pub tls: bool,
    /// PEM file of the CA that signed the brokers' certificates (default: the system's).
    pub tls_ca: Option<String>,
    /// Live metric points to consume (`{metric, timestamp, value}` JSON), when set.
    pub metrics_topic: Option<String>,
    /// Consumer group shared by every bot replica, so they split the partitions.
    pub consumer_group: String,
}

#[derive(Clone)]
pub struct Sasl {
    pub username: String,
    pub password: String,
    /// `SCRAM-SHA-256` (Redpanda's default), `SCRAM-SHA-512` or `PLAIN`.
    pub mechanism: String,
}

impl std::fmt::Debug for RedpandaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedpandaConfig")
            .field("brokers", &self.brokers)
            .field("topic", &self.topic)
            .field("sasl", &self.sasl.as_ref().map(|s| &s.mechanism))
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

const MECHANISMS: [&str; 3] = ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"];

impl RedpandaConfig {
    /// `None` when `REDPANDA_BROKERS` is unset: events are off.
    pub fn from_env() -> anyhow::Result<Option<Self>> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let Some(brokers) = var("REDPANDA_BROKERS") else {
            return Ok(None);
        };
        let sasl = match (var("REDPANDA_USERNAME"), var("REDPANDA_PASSWORD")) {
            (Some(username), Some(password)) => {
                let mechanism = var("REDPANDA_SASL_MECHANISM")
                    .unwrap_or_else(|| MECHANISMS[0].to_string())
                    .to_ascii_uppercase();
                anyhow::ensure!(
                    MECHANISMS.contains(&mechanism.as_str()),
                    "REDPANDA_SASL_MECHANISM `{mechanism}` is not one of {}",
                    MECHANISMS.join(", ")
                );
                Some(Sasl {
                    username,
                    password,
                    mechanism,
                })
            }
            (None, None) => None,
            _ => anyhow::bail!(
                "set both REDPANDA_USERNAME and REDPANDA_PASSWORD for SASL, or neither"
            ),
        };
        let tls = match var("REDPANDA_TLS").as_deref() {
            None | Some("false" | "0" | "no") => false,
            Some("true" | "1" | "yes") => true,
            Some(other) => anyhow::bail!("REDPANDA_TLS `{other}` is not true or false"),
        };
        let partitions = var("REDPANDA_TOPIC_PARTITIONS")
            .map(|n| {
                n.parse::<i32>().ok().filter(|n| *n > 0).with_context(|| {
                    format!("REDPANDA_TOPIC_PARTITIONS `{n}` is not a positive number")
                })
            })
            .transpose()?
            .unwrap_or(3);
        Ok(Some(Self {
            brokers,
            topic: var("REDPANDA_TOPIC").unwrap_or_else(|| DEFAULT_TOPIC.to_string()),
            partitions,
            sasl,
            tls,
            tls_ca: var("REDPANDA_TLS_CA"),
            metrics_topic: var("REDPANDA_METRICS_TOPIC"),
            consumer_group: var("REDPANDA_CONSUMER_GROUP")
                .unwrap_or_else(|| "anomaly-hunter".to_string()),
        }))
    }

    /// Settings every client (producer, consumer, admin) shares.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", "anomaly-hunter")
            .set(
                "security.protocol",
                match (self.sasl.is_some(), self.tls) {
                    (false, false) => "plaintext",
                    (false, true) => "ssl",
                    (true, false) => "sasl_plaintext",
                    (true, true) => "sasl_ssl",
                },
            );
        if let Some(sasl) = &self.sasl {
            config
                .set("sasl.mechanism", &sasl.mechanism)
                .set("sasl.username", &sasl.username)
                .set("sasl.password", &sasl.password);
        }
        if let Some(ca) = &self.tls_ca {
            config.set("ssl.ca.location", ca);
        }
        config
    }

    /// An idempotent producer that waits for every in-sync replica: no duplicates from
    /// retries, no loss on a leader change, order kept per partition.
    pub fn producer_config(&self) -> ClientConfig {
        let mut config = self.client_config();
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", MESSAGE_TIMEOUT_MS);
        config
    }
}

/// What librdkafka reports about a client's connections. Its errors (connection refused, TLS
/// handshake, SASL authentication) would otherwise vanish and leave "no broker answered" with
/// no why, so the latest is kept for the owner's own, once-per-outage warning. Everything
/// also goes to `tracing` at debug level (`ANOMALY_HUNTER_LOG=rdkafka=debug`).
#[derive(Clone, Default)]
pub struct BrokerReports(Arc<Mutex<Option<String>>>);

impl BrokerReports {
    /// librdkafka's latest error, e.g. `127.0.0.1:9092/bootstrap: Connect to
    /// ipv4#127.0.0.1:9092 failed: Connection refused (after 0ms in state CONNECT)`.
    pub fn latest_problem(&self) -> Option<String> {
        self.0.lock().ok()?.clone()
    }
}

impl ClientContext for BrokerReports {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, line: &str) {
        tracing::debug!(target: "rdkafka", ?level, facility, "{line}");
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(target: "rdkafka", %error, "{reason}");
        // "N/N brokers are down" follows every connection failure and says less than it.
        if error.rdkafka_error_code() != Some(RDKafkaErrorCode::AllBrokersDown) {
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(sasl: bool, tls: bool) -> RedpandaConfig {
        RedpandaConfig {
            brokers: "127.0.0.1:9092".into(),
            topic: DEFAULT_TOPIC.into(),
            partitions: 3,
            sasl: sasl.then(|| Sasl {
                username: "bot".into(),
                password: "hunter2".into(),
                mechanism: "SCRAM-SHA-256".into(),
            }),
            tls,
            tls_ca: None,
            metrics_topic: None,
            consumer_group: "anomaly-hunter".into(),
        }
    }

    #[test]
    fn security_protocol_follows_sasl_and_tls_and_debug_hides_the_password() {
        let protocol = |sasl, tls| {
            config(sasl, tls)
                .client_config()
                .get("security.protocol")
                .map(str::to_string)
        };
        assert_eq!(protocol(false, false).as_deref(), Some("plaintext"));
        assert_eq!(protocol(false, true).as_deref(), Some("ssl"));
        assert_eq!(protocol(true, false).as_deref(), Some("sasl_plaintext"));
        assert_eq!(protocol(true, true).as_deref(), Some("sasl_ssl"));
        let producer = config(true, false).producer_config();
        assert_eq!(producer.get("enable.idempotence"), Some("true"));
        assert_eq!(producer.get("acks"), Some("all"));
        assert!(!format!("{:?}", config(true, true)).contains("hunter2"));
    }

    #[test]
    fn broker_reports_keep_the_telling_error_not_the_all_brokers_down_echo() {
        let reports = BrokerReports::default();
        assert_eq!(reports.latest_problem(), None);
        let refused =
            "127.0.0.1:9/bootstrap: Connect to ipv4#127.0.0.1:9 failed: Connection refused";
        reports.error(
            KafkaError::Global(RDKafkaErrorCode::BrokerTransportFailure),
            refused,
        );
        reports.error(
            KafkaError::Global(RDKafkaErrorCode::AllBrokersDown),
            "1/1 brokers are down",
        );
        assert_eq!(reports.latest_problem().as_deref(), Some(refused));
        reports.error(
            KafkaError::Global(RDKafkaErrorCode::Authentication),
            "SASL authentication error: Authentication failed",
        );
        assert!(reports.latest_problem().unwrap().starts_with("SASL"));
    }
}
