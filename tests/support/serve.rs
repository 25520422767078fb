//! The real `anomaly-hunter serve` process for end-to-end tests, on a fresh data directory
//! that already holds `api_latency` (the demo database-latency incident).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// Every setting `serve` reads (the variables `.env.example` lists), so the developer's own
/// environment is cleared and never leaks into a test.
pub fn setting_variables() -> Vec<String> {
    let example = include_str!("../../.env.example");
    example
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, _)| name.trim())
        .filter(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_string)
        .collect()
}

/// Stores the demo database-latency incident as `metric`, in `data_dir`'s store or the one
/// `env` names (`DATABASE_URL`).
pub fn ingest_incident(data_dir: &PathBuf, metric: &str, env: &[(&str, &str)]) {
    let example = format!(
        "{}/examples/db_query_latency.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    let ingest = anomaly_hunter(data_dir)
        .envs(env.iter().copied())
        .args(["ingest", &example, "--metric", metric])
        .output()
        .unwrap();
    assert!(
        ingest.status.success(),
        "{}",
        String::from_utf8_lossy(&ingest.stderr)
    );
}

/// A running `serve`, killed when dropped.
pub struct ServeProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub data_dir: PathBuf,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The CLI on `data_dir`'s store, with none of the developer's platform settings.
pub fn anomaly_hunter(data_dir: &PathBuf) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_anomaly-hunter"));
    for variable in setting_variables() {
        command.env_remove(variable);
    }
    command.env("ANOMALY_HUNTER_DATA_DIR", data_dir);
    command
}

impl ServeProcess {
    /// Starts `serve` for `test` with the platform settings in `env`, a 200 kB upload limit and
    /// debug logs in `serve.log`.
    pub fn start(test: &str, env: &[(&str, &str)]) -> Self {
        let data_dir = std::env::temp_dir().join(format!(
            "anomaly-hunter-serve-{test}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir).unwrap();
        ingest_incident(&data_dir, "api_latency", &[]);
        Self::start_in(data_dir, env)
    }

    /// Starts `serve` on the store already in `data_dir` (a restart keeps it).
    pub fn start_in(data_dir: PathBuf, env: &[(&str, &str)]) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("serve.log"))
            .unwrap();
        let mut serve = anomaly_hunter(&data_dir);
        serve
            .arg("serve")
            .env("ANOMALY_HUNTER_ADDR", "127.0.0.1:0")
            .env("ANOMALY_HUNTER_LOG", "debug")
            .env("ANOMALY_HUNTER_MAX_BYTES", "200000")
            // Voice alerts off unless a test turns them on: threads hold only what it expects.
            .env("VOICE_MIN_SEVERITY", "11")
            // Tests send many commands at once from one fake user and channel; the limits
            // have tests of their own.
            .env("ANOMALY_HUNTER_USER_RATE", "0")
            .env("ANOMALY_HUNTER_CHANNEL_RATE", "0")
            .env("SLACK_MESSAGES_PER_SECOND", "1000")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log);
        let mut child = serve.spawn().unwrap();
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first_line)
            .unwrap();
        let url = first_line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("serve prints its address; it printed {first_line:?}"))
            .to_string();
        Self {
            child,
            url,
            data_dir,
        }
    }

    /// Stops it as an operator would (SIGTERM) and waits until it has exited.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "serve did not stop within 15 s of SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// `GET /metrics` (Prometheus text).
    pub async fn metrics(&self) -> String {
        let response = reqwest::get(format!("{}/metrics", self.url)).await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    pub async fn health(&self) -> Value {
        let response = reqwest::get(format!("{}/healthz", self.url)).await.unwrap();
        response.json().await.unwrap()
    }

    /// `anomaly-hunter stats --format json` on the same store.
    pub fn stats(&self) -> Value {
        let output = anomaly_hunter(&self.data_dir)
            .args(["stats", "--format", "json"])
            .output()
            .unwrap();
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// The newest stored verdict (JSON, as reported), read from the same store.
    pub async fn last_verdict(&self) -> Value {
        use anomaly_hunter::store::{Location, Store, DEFAULT_FILE};
        let store = Store::open(Location::Sqlite(self.data_dir.join(DEFAULT_FILE)))
            .await
            .unwrap();
        let newest = store.history(None, 1).await.unwrap();
        let id = &newest.first().expect("a stored investigation").id;
        store.investigation(id).await.unwrap().verdict
    }

    /// What `serve` logged so far.
    /// The process id (for its memory in `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("serve.log")).unwrap_or_default()
    }
}
