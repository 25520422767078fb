//! The store: investigations, feedback, learned state, metric series, events and chat
//! threads, through sqlx's `Any` driver so one set of queries serves both backends:
//! a SQLite file by default (`anomaly-hunter.db` in the working directory or in
//! `ANOMALY_HUNTER_DATA_DIR`, WAL mode) or PostgreSQL when `DATABASE_URL=postgres://…`.
//!
//! Queries are portable SQL with `$n` placeholders; times are UTC milliseconds, booleans 0/1.

mod alerts;
mod deliveries;
mod feedback;
mod investigations;
mod model_answers;
mod outbox;
mod series;
mod similar;
mod stats;
mod threads;
mod watches;

use std::path::{Path, PathBuf};

use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::AnyPool;
use thiserror::Error;
use tokio::sync::{Notify, RwLock};

pub use alerts::{AlertThreads, PendingAlert};
pub use feedback::{FeedbackEntry, FeedbackOutcome, NewFeedback};
pub use investigations::{HistoryEntry, HistoryFilter, StoredInvestigation};
pub use model_answers::{AcceptedAnswer, ModelAnswerRecord, ModelStats};
pub use outbox::PendingEvent;
pub use series::{related_metric, HISTORY_FACTOR};
pub use similar::ImportedIncident;
pub use stats::{AgentStats, CalibrationPeriod, PatternStats, StatsReport, ThresholdStats};
pub use threads::ThreadRef;
pub use watches::{AlertBudget, NewWatch, ScoredSeries, Watch};

use similar::FingerprintIndex;

/// How long a query waits for a connection (and the first connect for the server).
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// File name of the embedded default store.
pub const DEFAULT_FILE: &str = "anomaly-hunter.db";

/// Where the store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    /// A `postgres://` URL (never logged: it may hold a password).
    Postgres(String),
}

impl Location {
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_string()))
        } else if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            Ok(Self::Sqlite(PathBuf::from(
                path.split('?').next().unwrap_or(path),
            )))
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    /// A description safe to print: the file path, or the PostgreSQL host without credentials.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => path.display().to_string(),
            Self::Postgres(url) => {
                let without_scheme = url.split("://").nth(1).unwrap_or("");
                let host = without_scheme.rsplit('@').next().unwrap_or(without_scheme);
                format!("postgres://{}", host.split('?').next().unwrap_or(host))
            }
        }
    }
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("DATABASE_URL must start with postgres:// or sqlite://")]
    UnsupportedUrl,
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not an Anomaly Hunter database (SQLite says: {detail}); it was left untouched — move it aside or set ANOMALY_HUNTER_DATA_DIR")]
    Corrupt { path: String, detail: String },
    #[error("the store at {location} did not accept a connection within {seconds} s; is the server running and DATABASE_URL right?")]
    Unreachable { location: String, seconds: u64 },
    #[error("cannot open the store at {location}: {source}")]
    Open {
        location: String,
        source: sqlx::Error,
    },
    #[error("cannot bring the store's schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("no investigation with id `{0}` (see `anomaly-hunter history`)")]
    UnknownInvestigation(String),
    #[error("investigation `{0}` did not alert, so it cannot be a false positive")]
    NotAnAlert(String),
    #[error("no watch with id `{0}` (see `anomaly-hunter watch list`)")]
    UnknownWatch(String),
    #[error("no stored points for metric `{0}`; load some with `anomaly-hunter ingest FILE.csv --metric {0}`")]
    UnknownMetric(String),
    #[error("stored data for `{metric}` cannot be investigated: {detail}")]
    Unusable { metric: String, detail: String },
    #[error("the investigation of `{metric}` came to a number that is not finite ({what}), so it was not stored; check the values for extremes")]
    NotFinite { metric: String, what: String },
    #[error("a stored alert cannot be read back: {0}")]
    BadAlert(String),
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// The store handle; cheap to share behind an `Arc`.
pub struct Store {
    pool: AnyPool,
    location: Location,
    /// In-memory copy of every fingerprint, loaded on first use and kept in step with inserts.
    index: RwLock<Option<FingerprintIndex>>,
    /// Set when verdict events are on: each saved investigation also queues its event and
    /// wakes the relay.
    event_outbox: Option<Notify>,
}

impl Store {
    /// Opens (creating when needed) the store and brings its schema up to date.
    pub async fn open(location: Location) -> Result<Self, StoreError> {
        install_default_drivers();
        let (url, connections) = match &location {
            Location::Sqlite(path) => {
                ensure_parent_dir(path)?;
                (format!("sqlite://{}?mode=rwc", path.display()), 8)
            }
            Location::Postgres(url) => (url.clone(), 16),
        };
        let described = location.describe();
        let pool = AnyPoolOptions::new()
            .max_connections(connections)
            // An unreachable server is reported in seconds, not after sqlx's 30 s default.
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(&url)
            .await
            .map_err(|source| classify_open_error(&location, source))?;
        if let Location::Sqlite(_) = location {
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await
                .map_err(|source| classify_open_error(&location, source))?;
        }
        migrate(&pool).await?;
        tracing::debug!(store = %described, "store open");
        Ok(Self {
            pool,
            location,
            index: RwLock::new(None),
            event_outbox: None,
        })
    }

    /// From now on every saved investigation also queues its verdict event (set when an event
    /// stream is configured, so an unconfigured bot does not pile up events nobody reads).
    pub fn with_event_outbox(mut self) -> Self {
        self.event_outbox = Some(Notify::new());
        self
    }

    pub fn event_outbox_enabled(&self) -> bool {
        self.event_outbox.is_some()
    }

    /// Resolves when this process has queued an event since the last call (never when the
    /// outbox is off). Other processes' events are found by polling.
    pub async fn event_queued(&self) {
        match &self.event_outbox {
            Some(signal) => signal.notified().await,
            None => std::future::pending().await,
        }
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// Brings the schema up to date. PostgreSQL serialises concurrent migrators with an advisory
/// lock; SQLite has none, so a process that loses the race to create a fresh file's tables
/// ("already exists") looks again, finds them applied, and carries on.
async fn migrate(pool: &AnyPool) -> Result<(), StoreError> {
    use backon::BackoffBuilder as _;
    let migrator = sqlx::migrate!("./migrations");
    let mut pauses = crate::retry::backoff(
        std::time::Duration::from_millis(50),
        std::time::Duration::from_millis(400),
    )
    .with_max_times(4)
    .build();
    loop {
        match migrator.run(pool).await {
            Ok(()) => return Ok(()),
            Err(e) => match pauses.next() {
                Some(pause) => {
                    tracing::debug!(error = %e, "migration raced another process; retrying");
                    tokio::time::sleep(pause).await;
                }
                None => return Err(e.into()),
            },
        }
    }
}

fn ensure_parent_dir(path: &Path) -> Result<(), StoreError> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
            path: dir.display().to_string(),
            source,
        }),
        None => Ok(()),
    }
}

/// SQLite reports a damaged or foreign file only when it is first read.
fn classify_open_error(location: &Location, source: sqlx::Error) -> StoreError {
    let detail = source.to_string();
    match location {
        Location::Sqlite(path)
            if detail.contains("not a database") || detail.contains("malformed") =>
        {
            StoreError::Corrupt {
                path: path.display().to_string(),
                detail,
            }
        }
        _ if matches!(source, sqlx::Error::PoolTimedOut) => StoreError::Unreachable {
            location: location.describe(),
            seconds: ACQUIRE_TIMEOUT.as_secs(),
        },
        _ => StoreError::Open {
            location: location.describe(),
            source,
        },
    }
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_backend_and_descriptions_hide_credentials() {
        let pg = Location::from_url("postgres://user:secret@db.internal:5432/ah?sslmode=require")
            .unwrap();
        assert_eq!(pg.describe(), "postgres://db.internal:5432/ah");
        assert_eq!(
            Location::from_url("sqlite:///var/lib/ah.db").unwrap(),
            Location::Sqlite("/var/lib/ah.db".into())
        );
        assert!(matches!(
            Location::from_url("mysql://x"),
            Err(StoreError::UnsupportedUrl)
        ));
    }
}
