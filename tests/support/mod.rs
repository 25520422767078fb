//! Shared test helpers: a store on every backend the machine offers.

#![allow(dead_code)]

pub mod broker;
pub mod browser;
pub mod fake_discord;
pub mod fake_elevenlabs;
pub mod fake_model;
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
        _ => missing(
            &format!("{POSTGRES_ENV}=postgres://postgres@127.0.0.1:5432/test"),
            &format!("{test} (on PostgreSQL)"),
        ),
    }
    stores
}

/// The server binary `variable` names (`.ci/run` sets it), or `None` after printing the one
/// "skipped" line for `test` (a failure under CI).
pub fn service_binary(variable: &str, test: &str) -> Option<std::path::PathBuf> {
    match std::env::var(variable) {
        Ok(path) if !path.is_empty() => Some(std::path::PathBuf::from(path)),
        _ => {
            missing(&format!("{variable}=/path/to/the/binary"), test);
            None
        }
    }
}

/// Whether espeak-ng can run, or `false` after the "skipped" line (a failure under CI).
pub fn espeak_ng(test: &str) -> bool {
    let runs = std::process::Command::new("espeak-ng")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !runs {
        missing("espeak-ng (install it: apt-get install espeak-ng)", test);
    }
    runs
}

/// A service `test` needs is missing: under CI (`CI=true`, as `.ci/run` runs) that fails the
/// test, since a skipped test there is a hole; on a developer's machine it prints one line.
pub fn missing(what: &str, test: &str) {
    if std::env::var("CI").is_ok_and(|ci| ci == "true" || ci == "1") {
        panic!("CI=true but {what} is not set up, so `{test}` cannot run; bash .ci/run sets it up");
    }
    println!("skipped: set {what} to run `{test}`");
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
    let scoped = postgres_schema_url(url, test).await;
    Store::open(Location::Postgres(scoped)).await.unwrap()
}

/// A `DATABASE_URL` for a new, empty schema of the PostgreSQL server at `url`.
pub async fn postgres_schema_url(url: &str, test: &str) -> String {
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
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}
