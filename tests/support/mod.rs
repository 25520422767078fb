//! Shared test helpers: a store on every backend the machine offers.

#![allow(dead_code)]

pub mod broker;
pub mod fake_discord;
pub mod fake_elevenlabs;
pub mod fake_sentry;
pub mod fake_slack;
pub mod prometheus;
pub mod serve;

use anomaly_hunter::store::{Location, Store};

/// Environment variable naming the PostgreSQL server the tests may use (`.ci/run` sets it).
pub const POSTGRES_ENV: &str = "ANOMALY_HUNTER_TEST_POSTGRES_URL";

/// A fresh, empty store on SQLite (a scratch file) and, when `ANOMALY_HUNTER_TEST_POSTGRES_URL`
/// is set, on PostgreSQL (a scratch schema), labelled with the backend's name.
pub async fn stores(test: &str) -> Vec<(&'static str, Store)> {
    let mut stores = vec![("sqlite", sqlite_store(test).await)];
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.is_empty() => stores.push(("postgres", postgres_store(&url, test).await)),
        _ => println!("skipped: set {POSTGRES_ENV}=postgres://postgres@127.0.0.1:5432/test to run `{test}` on PostgreSQL too"),
    }
    stores
}

/// The server binary `variable` names (`.ci/run` sets it), or `None` after printing the one
/// "skipped" line for `test`.
pub fn service_binary(variable: &str, test: &str) -> Option<std::path::PathBuf> {
    match std::env::var(variable) {
        Ok(path) if !path.is_empty() => Some(std::path::PathBuf::from(path)),
        _ => {
            println!("skipped: set {variable}=/path/to/the/binary to run `{test}` against the real server");
            None
        }
    }
}

/// A scratch SQLite file path for `test`, removed first.
pub fn scratch_path(test: &str, file: &str) -> std::path::PathBuf {
    scratch_dir(test).join(file)
}

/// An empty scratch folder for `test`.
pub fn scratch_dir(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("anomaly-hunter-tests-{}", std::process::id()))
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub async fn sqlite_store(test: &str) -> Store {
    Store::open(Location::Sqlite(scratch_path(test, "store.db")))
        .await
        .unwrap()
}

/// A store in a new schema of its own, so tests running side by side never see each other.
async fn postgres_store(url: &str, test: &str) -> Store {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let schema = format!(
        "t_{}_{}",
        test.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
        uuid::Uuid::new_v4().simple()
    );
    let mut admin = sqlx::AnyConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_ENV} is set but PostgreSQL is unreachable: {e}"));
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{separator}options=-c%20search_path%3D{schema}");
    Store::open(Location::Postgres(scoped)).await.unwrap()
}
