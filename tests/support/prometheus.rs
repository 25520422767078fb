//! A real Prometheus (Debian's `prometheus`, with `promtool`) on a loopback port of its own,
//! its storage backfilled from OpenMetrics text with `promtool tsdb create-blocks-from`; and
//! a real Alertmanager (`prometheus-alertmanager`) for the alert tests.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::broker::free_port;

/// Environment variable naming the `prometheus` binary; `promtool` is looked for beside it.
pub const PROMETHEUS_ENV: &str = "ANOMALY_HUNTER_TEST_PROMETHEUS";
/// Environment variable naming the Alertmanager binary.
pub const ALERTMANAGER_ENV: &str = "ANOMALY_HUNTER_TEST_ALERTMANAGER";

/// A running server process, killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What the server wrote to its log, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

/// Serves `/metrics` on a free loopback port, answering each scrape with what `metrics`
/// returns then; returns the port.
pub async fn serve_exporter(metrics: impl Fn() -> String + Clone + Send + Sync + 'static) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let text = metrics();
            async move { text }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    port
}

/// One backfilled series: name, labels and `(unix seconds, value)` samples.
pub struct Backfill<'a> {
    pub name: &'a str,
    pub labels: &'a [(&'a str, &'a str)],
    pub samples: Vec<(i64, f64)>,
}

/// OpenMetrics text for `series` (grouped by metric name, as the format requires).
pub fn openmetrics(series: &[Backfill]) -> String {
    let mut text = String::new();
    let mut names: Vec<&str> = series.iter().map(|s| s.name).collect();
    names.dedup();
    for name in names {
        writeln!(text, "# TYPE {name} gauge").unwrap();
        for s in series.iter().filter(|s| s.name == name) {
            let labels: Vec<String> = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            for (at, value) in &s.samples {
                writeln!(text, "{name}{{{}}} {value} {at}", labels.join(",")).unwrap();
            }
        }
    }
    text.push_str("# EOF\n");
    text
}

/// Starts Prometheus on a free port with `series` already in its storage and `config`
/// (`prometheus.yml` text; `{rules}` in it is replaced by the rule file's path), and waits
/// until it is ready.
pub fn start_prometheus(
    binary: &Path,
    dir: &Path,
    series: &[Backfill],
    config: &str,
    rules: &str,
) -> Server {
    let storage = dir.join("tsdb");
    std::fs::create_dir_all(&storage).unwrap();
    if !series.is_empty() {
        let input = dir.join("backfill.om");
        std::fs::write(&input, openmetrics(series)).unwrap();
        let promtool = binary.with_file_name("promtool");
        let output = Command::new(&promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&input)
            .arg(&storage)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", promtool.display()));
        assert!(
            output.status.success(),
            "promtool backfill failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let rule_file = dir.join("rules.yml");
    std::fs::write(&rule_file, rules).unwrap();
    let config_file = dir.join("prometheus.yml");
    std::fs::write(
        &config_file,
        config.replace("{rules}", &rule_file.display().to_string()),
    )
    .unwrap();
    spawn(
        binary,
        dir,
        &[
            format!("--config.file={}", config_file.display()),
            format!("--storage.tsdb.path={}", storage.display()),
            "--storage.tsdb.retention.time=30d".to_string(),
        ],
    )
}

/// Starts Alertmanager on a free port with `config` (`alertmanager.yml` text), clustering off.
pub fn start_alertmanager(binary: &Path, dir: &Path, config: &str) -> Server {
    let config_file = dir.join("alertmanager.yml");
    std::fs::write(&config_file, config).unwrap();
    let storage = dir.join("alertmanager-data");
    std::fs::create_dir_all(&storage).unwrap();
    spawn(
        binary,
        dir,
        &[
            format!("--config.file={}", config_file.display()),
            format!("--storage.path={}", storage.display()),
            "--cluster.listen-address=".to_string(),
        ],
    )
}

/// Runs `binary` with `args` on a free port (`--web.listen-address`), logging into `dir`, and
/// waits until it is ready.
fn spawn(binary: &Path, dir: &Path, args: &[String]) -> Server {
    let port = free_port();
    let child = Command::new(binary)
        .args(args)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(log_file(dir))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    let server = Server {
        child,
        port,
        dir: dir.to_path_buf(),
    };
    wait_ready(&server, "/-/ready");
    server
}

fn log_file(dir: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .unwrap()
}

/// Polls `path` until it answers 200; panics with the server's log after 60 s.
fn wait_ready(server: &Server, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if answers_ok(server.port, path) {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{} did not become ready:\n{}", server.url(), server.log());
}

/// A plain HTTP GET over a std socket (the tests' reqwest is async): true on a 200.
fn answers_ok(port: u16, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}
