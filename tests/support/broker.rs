//! A real Kafka-protocol broker (tansu, in-memory storage) on a loopback port of its own, so a
//! test can stop it and start it again; and a plain consumer that reads a topic back.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message};

/// Environment variable naming the tansu binary (`.ci/run` installs it and sets this).
pub const TANSU_ENV: &str = "ANOMALY_HUNTER_TEST_TANSU";

/// The tansu binary, or `None` after printing the one "skipped" line for `test`.
pub fn tansu(test: &str) -> Option<PathBuf> {
    super::service_binary(TANSU_ENV, test)
}

/// A free loopback port (the broker binds it later).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running broker, killed when dropped.
pub struct Broker {
    child: Option<Child>,
    binary: PathBuf,
    pub port: u16,
}

impl Broker {
    /// Starts tansu on `port` and waits until it accepts connections.
    pub fn start(binary: &Path, port: u16) -> Self {
        let mut broker = Self {
            child: None,
            binary: binary.to_path_buf(),
            port,
        };
        broker.restart();
        broker
    }

    /// `127.0.0.1:PORT`, for `REDPANDA_BROKERS`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (empty: storage is in memory).
    pub fn restart(&mut self) {
        self.stop();
        let listener = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(&self.binary)
            .args(["broker", "--listener-url", &listener])
            .args(["--advertised-listener-url", &listener])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {} within 20 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One record read back.
#[derive(Debug, Clone)]
pub struct Record {
    pub key: String,
    pub payload: serde_json::Value,
    pub partition: i32,
}

/// Reads `topic` from the beginning until `expected` records arrived (or `timeout`), then
/// keeps reading one more second so duplicates would show.
pub fn read_topic(address: &str, topic: &str, expected: usize, timeout: Duration) -> Vec<Record> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", address)
        .set("group.id", format!("reader-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut records = Vec::new();
    let deadline = Instant::now() + timeout;
    let mut settle: Option<Instant> = None;
    while Instant::now() < deadline && settle.is_none_or(|end| Instant::now() < end) {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => records.push(Record {
                key: String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
                payload: serde_json::from_slice(message.payload().unwrap_or_default())
                    .unwrap_or(serde_json::Value::Null),
                partition: message.partition(),
            }),
            Some(Err(e)) => eprintln!("consumer: {e}"),
            None => {}
        }
        if records.len() >= expected && settle.is_none() {
            settle = Some(Instant::now() + Duration::from_secs(1));
        }
    }
    records
}
