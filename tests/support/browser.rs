//! A real browser for page tests: Debian's headless Chromium driven through chromedriver
//! (WebDriver) with fantoccini. The driver and its browsers run in a process group of their
//! own, killed when the test ends, even when it fails (killing it is also how a session ends:
//! fantoccini's `close` can wait forever on chromedriver).

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// How long the driver may take to listen, and a page to reach a state a test waits for.
const PATIENCE: Duration = Duration::from_secs(30);

pub struct Browser {
    pub client: Client,
    driver: Child,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a headless Chromium session
    /// (1280×1500, so the chart is drawn at its own size).
    pub async fn start(chromedriver: &Path) -> Self {
        let port = super::broker::free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < PATIENCE,
                "chromedriver did not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut options = json!({"args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--window-size=1280,1500", "--hide-scrollbars", "--force-device-scale-factor=1",
        ]});
        if let Ok(binary) = std::env::var("ANOMALY_HUNTER_TEST_CHROMIUM") {
            options["binary"] = json!(binary);
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".to_string(), options);
        let client = ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("chromedriver opens a headless Chromium session");
        Self { client, driver }
    }

    /// The text of the first element `css` selects.
    pub async fn text(&self, css: &str) -> String {
        let element = self.client.find(Locator::Css(css)).await.unwrap();
        element.text().await.unwrap()
    }

    /// Waits until `script` (JavaScript that `return`s) is truthy; fails naming `what`.
    pub async fn wait_for(&self, what: &str, script: &str) {
        let started = Instant::now();
        loop {
            let value = self.client.execute(script, Vec::new()).await.unwrap();
            let truthy = match &value {
                serde_json::Value::Bool(b) => *b,
                serde_json::Value::Number(n) => n.as_f64() != Some(0.0),
                serde_json::Value::Null => false,
                serde_json::Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return;
            }
            assert!(started.elapsed() < PATIENCE, "waited in vain: {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: chromedriver and the browsers it started.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.wait();
    }
}

/// A screenshot's pixels.
pub struct Picture {
    rgb: Vec<(u8, u8, u8)>,
}

impl Picture {
    pub fn decode(png_bytes: &[u8]) -> Self {
        let decoder = png::Decoder::new(png_bytes);
        let mut reader = decoder.read_info().unwrap();
        let mut buffer = vec![0; reader.output_buffer_size()];
        let frame = reader.next_frame(&mut buffer).unwrap();
        let channels = frame.color_type.samples();
        let rgb = buffer[..frame.buffer_size()]
            .chunks(channels)
            .map(|p| (p[0], p[1], p[2]))
            .collect();
        Self { rgb }
    }

    /// Pixels of exactly `colour`.
    pub fn count(&self, colour: (u8, u8, u8)) -> usize {
        self.rgb.iter().filter(|p| **p == colour).count()
    }
}
