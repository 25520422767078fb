//! Connection settings for Redpanda (or any Kafka-protocol broker), read once from the
//! environment, the librdkafka configuration they make, and what librdkafka reports back.

use std::sync::{Arc, Mutex};

use crate::config::RedpandaSettings;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{ClientConfig, ClientContext};

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
    /// Replicas of each partition when the bot has to create the topic (`None`: the
    /// cluster's default).
    pub replication_factor: Option<i32>,
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

impl RedpandaConfig {
    /// `None` when `REDPANDA_BROKERS` is unset: events are off.
    pub fn from_settings(settings: &RedpandaSettings) -> anyhow::Result<Option<Self>> {
        let Some(brokers) = settings.redpanda_brokers.clone() else {
            return Ok(None);
        };
        let sasl = match (&settings.redpanda_username, &settings.redpanda_password) {
            (Some(username), Some(password)) => Some(Sasl {
                username: username.clone(),
                password: password.clone(),
                mechanism: settings.redpanda_sasl_mechanism.to_ascii_uppercase(),
            }),
            (None, None) => None,
            _ => anyhow::bail!(
                "set both REDPANDA_USERNAME and REDPANDA_PASSWORD for SASL, or neither"
            ),
        };
        Ok(Some(Self {
            brokers,
            topic: settings.redpanda_topic.clone(),
            partitions: settings.redpanda_topic_partitions,
            replication_factor: settings.redpanda_replication_factor,
            sasl,
            tls: settings.redpanda_tls,
            tls_ca: settings
                .redpanda_tls_ca
                .as_ref()
                .map(|p| p.display().to_string()),
            metrics_topic: settings.redpanda_metrics_topic.clone(),
            consumer_group: settings.redpanda_consumer_group.clone(),
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
            // Java's, Go's (sarama's hash partitioner aside) and Redpanda tooling's default:
            // a metric's events land on the partition any other client would put them on.
            .set("partitioner", "murmur2_random")
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
            topic: crate::config::DEFAULT_REDPANDA_TOPIC.into(),
            partitions: 3,
            replication_factor: None,
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
        assert_eq!(producer.get("partitioner"), Some("murmur2_random"));
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
