//! A local fake of Slack's Web API: answers like Slack, records every call, and can be told
//! to rate-limit. Real HTTP over loopback, so the bot's real client is exercised.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// One Web API call as received.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub body: Value,
    pub authorization: String,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    next_ts: u64,
    rate_limit_next: u32,
}

#[derive(Clone, Default)]
pub struct FakeSlack {
    inner: Arc<Mutex<Inner>>,
}

impl FakeSlack {
    /// Starts on a free loopback port; returns the fake and its Web API base URL.
    pub async fn start() -> (Self, String) {
        let fake = Self::default();
        let router = Router::new()
            .route("/api/{method}", post(web_api))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (fake, format!("http://{addr}/api/"))
    }

    pub fn calls(&self, method: &str) -> Vec<Call> {
        self.inner
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// The next `count` calls get HTTP 429 with `Retry-After: 1`.
    pub fn rate_limit_next(&self, count: u32) {
        self.inner.lock().unwrap().rate_limit_next = count;
    }

    /// Waits (up to `seconds`) until `method` was called `count` times.
    pub async fn wait_for(&self, method: &str, count: usize, seconds: u64) -> Vec<Call> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        loop {
            let calls = self.calls(method);
            if calls.len() >= count || std::time::Instant::now() > deadline {
                return calls;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }
}

async fn web_api(
    State(fake): State<FakeSlack>,
    Path(method): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut inner = fake.inner.lock().unwrap();
    if inner.rate_limit_next > 0 {
        inner.rate_limit_next -= 1;
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            Json(json!({"ok": false, "error": "ratelimited"})),
        )
            .into_response();
    }
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if authorization != "Bearer xoxb-test-token" {
        return Json(json!({"ok": false, "error": "invalid_auth"})).into_response();
    }
    inner.next_ts += 1;
    let ts = format!("1700000000.{:06}", inner.next_ts);
    inner.calls.push(Call {
        method: method.clone(),
        body: body.clone(),
        authorization,
    });
    match method.as_str() {
        "chat.postMessage" | "chat.update" => {
            Json(json!({"ok": true, "channel": body["channel"], "ts": ts})).into_response()
        }
        _ => Json(json!({"ok": false, "error": "unknown_method"})).into_response(),
    }
}
