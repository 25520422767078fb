//! The outbox relay: publishes queued verdict events in the order they were written, marks
//! each once the broker has acknowledged it, and simply waits while the broker is away.
//!
//! Delivery is at least once: an event acknowledged just before a crash (and before it was
//! marked) is sent again after the restart, so consumers de-duplicate on the event's `id`.
//! One relay publishes at a time (a lease in the store), which keeps the order per key across
//! several bot processes sharing one store. The lease is short and renewed by a heartbeat, so
//! when its holder dies (`kill -9`, OOM) a survivor takes over within [`LEASE_MS`], and the
//! log says who holds it until when.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use thiserror::Error;
use tokio::sync::watch;

use super::events::SCHEMA_VERSION;
use super::redpanda::{BrokerReports, RedpandaConfig};
use crate::store::{Store, StoreError};
use engine::series::timestamp::to_rfc3339;

/// Lease name in the store; its holder is the only publisher.
const LEASE: &str = "event-relay";
/// A relay that stops renewing (a dead process) loses the lease after this long.
pub const LEASE_MS: i64 = 10_000;
/// How often the holder renews its lease, whatever publishing is doing.
const HEARTBEAT: Duration = Duration::from_millis(LEASE_MS as u64 / 4);
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pass {
    Published(usize),
    /// Another process holds the lease and publishes.
    NotLeader(Option<LeaseHolder>),
}

/// Who publishes, as the store says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    /// `serve@host pid 1234 (…)`.
    pub holder: String,
    pub until_ms: i64,
}

impl std::fmt::Display for LeaseHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} until {}", self.holder, to_rfc3339(self.until_ms))
    }
}

/// Records whether this relay holds the lease, for its heartbeat and for `/metrics`.
fn set_leading(leading: &AtomicBool, held: bool) {
    leading.store(held, Ordering::Relaxed);
    crate::telemetry::relay_lease(held);
}

/// A relay's holder name: which command, on which host, which process.
fn holder_name(role: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|| "localhost".into());
    let unique = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{role}@{host} pid {} ({})",
        std::process::id(),
        &unique[..8]
    )
}

pub struct Relay {
    store: Arc<Store>,
    producer: FutureProducer<BrokerReports>,
    admin: AdminClient<BrokerReports>,
    reports: BrokerReports,
    config: RedpandaConfig,
    holder: String,
    /// Set while this relay holds the lease; the heartbeat renews only then.
    leading: Arc<AtomicBool>,
}

impl Relay {
    /// `role` names the command in the lease (`serve`, `detect`).
    pub fn new(store: Arc<Store>, config: RedpandaConfig, role: &str) -> Result<Self, RelayError> {
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
            holder: holder_name(role),
            leading: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Renews the lease every [`HEARTBEAT`] while this relay leads, so a long publish (a slow
    /// broker) never lets it lapse; ends when the relay is dropped.
    fn heartbeat(&self) -> tokio::task::JoinHandle<()> {
        let (store, holder, leading) = (
            self.store.clone(),
            self.holder.clone(),
            self.leading.clone(),
        );
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT);
            loop {
                tick.tick().await;
                if !leading.load(Ordering::Relaxed) {
                    continue;
                }
                match store.acquire_lease(LEASE, &holder, LEASE_MS).await {
                    Ok(held) => set_leading(&leading, held),
                    Err(e) => tracing::warn!(error = %e, "cannot renew the event relay lease"),
                }
            }
        })
    }

    /// Publishes until `shutdown` turns true, then gives the lease back.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let heartbeat = self.heartbeat();
        let mut pauses = crate::retry::pauses(Duration::from_secs(1), MAX_BACKOFF);
        let mut topic_ready = false;
        let mut failing = false;
        let mut follower_of: Option<String> = None;
        loop {
            let wait = tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => break,
                pass = self.pass(&mut topic_ready) => match pass {
                    Ok(Pass::NotLeader(holder)) => {
                        let name = holder.as_ref().map(|h| h.holder.clone());
                        if name.is_some() && name != follower_of {
                            if let Some(holder) = &holder {
                                tracing::info!("the event relay lease is held by {holder}; this process publishes if that one stops renewing it");
                            }
                        }
                        follower_of = name;
                        POLL
                    }
                    Ok(Pass::Published(n)) => {
                        if follower_of.take().is_some() {
                            tracing::info!(holder = %self.holder, "this process now holds the event relay lease and publishes");
                        }
                        if std::mem::take(&mut failing) {
                            tracing::info!(topic = %self.config.topic, "event stream reachable again; publishing the backlog");
                        }
                        pauses = crate::retry::pauses(Duration::from_secs(1), MAX_BACKOFF);
                        if n > 0 {
                            continue;
                        }
                        POLL
                    }
                    Err(e) => {
                        if !std::mem::replace(&mut failing, true) {
                            tracing::warn!(error = %e, "events wait in the outbox until the broker is back");
                        }
                        pauses.next().unwrap_or(MAX_BACKOFF)
                    }
                }
            };
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => break,
                _ = self.store.event_queued(), if !failing => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        heartbeat.abort();
        if let Err(e) = self.release().await {
            tracing::warn!(error = %e, "could not release the relay lease; another relay takes over when it expires");
        }
    }

    /// Takes (or renews) the lease and publishes one batch.
    pub async fn pass(&self, topic_ready: &mut bool) -> Result<Pass, RelayError> {
        let leading = self
            .store
            .acquire_lease(LEASE, &self.holder, LEASE_MS)
            .await?;
        set_leading(&self.leading, leading);
        if !leading {
            let holder = self.store.lease_holder(LEASE).await?;
            return Ok(Pass::NotLeader(
                holder.map(|(holder, until_ms)| LeaseHolder { holder, until_ms }),
            ));
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
        set_leading(&self.leading, false);
        Ok(self.store.release_lease(LEASE, &self.holder).await?)
    }

    /// Sends the oldest pending events together, then marks them in order as the broker
    /// acknowledges; stops at the first failure so nothing overtakes an event left pending.
    async fn publish_batch(&self) -> Result<usize, RelayError> {
        let pending = self.store.pending_events(BATCH).await?;
        let mut deliveries = Vec::with_capacity(pending.len());
        let mut refused = None;
        for event in &pending {
            // Headers let a consumer route and de-duplicate without parsing the payload.
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: "id",
                    value: Some(event.investigation_id.as_str()),
                })
                .insert(Header {
                    key: "schema_version",
                    value: Some(SCHEMA_VERSION.to_string().as_str()),
                })
                .insert(Header {
                    key: "content-type",
                    value: Some("application/json"),
                });
            let record = FutureRecord::to(&self.config.topic)
                .key(&event.key)
                .payload(&event.payload)
                .headers(headers);
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
                crate::telemetry::event_failed();
                self.store
                    .mark_attempt_failed(&event.investigation_id, &e.to_string())
                    .await?;
                return Err(self.not_taken(e));
            }
            self.store.mark_published(&event.investigation_id).await?;
            crate::telemetry::events_published(1);
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
            // -1: the cluster's default (`default_topic_replications`) unless configured.
            TopicReplication::Fixed(self.config.replication_factor.unwrap_or(-1)),
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
