//! The outbox relay: publishes queued verdict events in the order they were written, marks
//! each once the broker has acknowledged it, and simply waits while the broker is away.
//!
//! Delivery is at least once: an event acknowledged just before a crash (and before it was
//! marked) is sent again after the restart, so consumers de-duplicate on the event's `id`.
//! One relay publishes at a time (a lease in the store), which keeps the order per key across
//! several bot processes sharing one store.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use thiserror::Error;
use tokio::sync::watch;

use super::redpanda::{BrokerReports, RedpandaConfig};
use crate::store::{Store, StoreError};

/// Lease name in the store; its holder is the only publisher.
const LEASE: &str = "event-relay";
/// A relay that stops renewing loses the lease after this long.
const LEASE_MS: i64 = 60_000;
/// Events per batch.
const BATCH: i64 = 500;
/// How often the outbox is checked for events written by other processes.
const POLL: Duration = Duration::from_millis(500);
/// Longest wait between attempts while the broker is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(15);

#[derive(Debug, Error)]
pub enum RelayError {
    #[error("cannot create the Kafka client: {0}")]
    Client(KafkaError),
    #[error("no broker answered at {brokers}{}", why(.problem))]
    Unreachable {
        brokers: String,
        /// librdkafka's latest error, when it gave one.
        problem: Option<String>,
    },
    #[error("the broker did not take the event: {error}{}", why(.problem))]
    Delivery {
        error: KafkaError,
        problem: Option<String>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn why(problem: &Option<String>) -> String {
    problem
        .as_deref()
        .map(|problem| format!("; last error: {problem}"))
        .unwrap_or_default()
}

/// What one pass over the outbox did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    Published(usize),
    /// Another process holds the lease and publishes.
    NotLeader,
}

pub struct Relay {
    store: Arc<Store>,
    producer: FutureProducer<BrokerReports>,
    admin: AdminClient<BrokerReports>,
    reports: BrokerReports,
    config: RedpandaConfig,
    holder: String,
}

impl Relay {
    pub fn new(store: Arc<Store>, config: RedpandaConfig) -> Result<Self, RelayError> {
        let reports = BrokerReports::default();
        let producer = config
            .producer_config()
            .create_with_context(reports.clone())
            .map_err(RelayError::Client)?;
        let admin = config
            .client_config()
            .create_with_context(reports.clone())
            .map_err(RelayError::Client)?;
        Ok(Self {
            store,
            producer,
            admin,
            reports,
            config,
            holder: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4()),
        })
    }

    /// Publishes until `shutdown` turns true, then gives the lease back.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::ZERO;
        let mut topic_ready = false;
        let mut failing = false;
        loop {
            let wait = tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => break,
                pass = self.pass(&mut topic_ready) => match pass {
                    Ok(Pass::Published(n)) if n > 0 => {
                        if std::mem::take(&mut failing) {
                            tracing::info!(topic = %self.config.topic, "event stream reachable again; publishing the backlog");
                        }
                        backoff = Duration::ZERO;
                        continue;
                    }
                    Ok(_) => POLL,
                    Err(e) => {
                        if !std::mem::replace(&mut failing, true) {
                            tracing::warn!(error = %e, "events wait in the outbox until the broker is back");
                        }
                        backoff = (backoff * 2).clamp(Duration::from_secs(1), MAX_BACKOFF);
                        backoff
                    }
                }
            };
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => break,
                _ = self.store.event_queued(), if !failing => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        if let Err(e) = self.store.release_lease(LEASE, &self.holder).await {
            tracing::warn!(error = %e, "could not release the relay lease; another relay takes over when it expires");
        }
    }

    /// Takes (or renews) the lease and publishes one batch.
    pub async fn pass(&self, topic_ready: &mut bool) -> Result<Pass, RelayError> {
        if !self
            .store
            .acquire_lease(LEASE, &self.holder, LEASE_MS)
            .await?
        {
            return Ok(Pass::NotLeader);
        }
        if !*topic_ready {
            *topic_ready = self.ensure_topic().await;
            if !*topic_ready {
                return Err(self.unreachable());
            }
        }
        self.publish_batch().await.map(Pass::Published)
    }

    /// The broker cannot be reached, and librdkafka's latest word on why.
    pub fn unreachable(&self) -> RelayError {
        RelayError::Unreachable {
            brokers: self.config.brokers.clone(),
            problem: self.reports.latest_problem(),
        }
    }

    fn not_taken(&self, error: KafkaError) -> RelayError {
        RelayError::Delivery {
            error,
            problem: self.reports.latest_problem(),
        }
    }

    /// Gives the lease back (for one-shot relays such as the CLI's).
    pub async fn release(&self) -> Result<(), RelayError> {
        Ok(self.store.release_lease(LEASE, &self.holder).await?)
    }

    /// Sends the oldest pending events together, then marks them in order as the broker
    /// acknowledges; stops at the first failure so nothing overtakes an event left pending.
    async fn publish_batch(&self) -> Result<usize, RelayError> {
        let pending = self.store.pending_events(BATCH).await?;
        let mut deliveries = Vec::with_capacity(pending.len());
        let mut refused = None;
        for event in &pending {
            let record = FutureRecord::to(&self.config.topic)
                .key(&event.key)
                .payload(&event.payload);
            match self.producer.send_result(record) {
                Ok(delivery) => deliveries.push(delivery),
                Err((e, _)) => {
                    // Queue full or broker-side refusal: wait for what is already on its way.
                    refused = Some(e);
                    break;
                }
            }
        }
        let mut published = 0;
        for (event, delivery) in pending.iter().zip(deliveries) {
            let outcome = match delivery.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((e, _))) => Err(e),
                Err(_cancelled) => Err(KafkaError::Canceled),
            };
            if let Err(e) = outcome {
                self.store
                    .mark_attempt_failed(&event.investigation_id, &e.to_string())
                    .await?;
                return Err(self.not_taken(e));
            }
            self.store.mark_published(&event.investigation_id).await?;
            published += 1;
        }
        match refused {
            Some(e) if published == 0 => Err(self.not_taken(e)),
            _ => Ok(published),
        }
    }

    /// Creates the verdict topic when it is missing; false when the broker could not say.
    async fn ensure_topic(&self) -> bool {
        let topic = NewTopic::new(
            &self.config.topic,
            self.config.partitions,
            TopicReplication::Fixed(-1),
        );
        let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(5)));
        match self.admin.create_topics([&topic], &options).await {
            Ok(results) => results.iter().all(|result| match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => true,
                Err((name, code)) => {
                    tracing::warn!(topic = %name, error = %code, "could not create the verdict topic; create it or allow auto-creation");
                    true
                }
            }),
            Err(e) => {
                tracing::debug!(error = %e, "broker unreachable while checking the verdict topic");
                false
            }
        }
    }
}
