//! Where verdicts go besides the chat thread and the store: the event stream (Redpanda or any
//! Kafka-protocol broker, through an outbox so nothing is lost), spoken alerts and Sentry.

pub mod error_reporting;
pub mod events;
pub mod redpanda;
pub mod relay;
pub mod voice;
