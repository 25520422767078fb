//! A local fake of Slack's Web API: answers like Slack, records every call, accepts file
//! uploads at the URLs it hands out, and can be told to rate-limit. Real HTTP over loopback,
//! so the bot's real client is exercised.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// The only bot token the fake accepts.
pub const BOT_TOKEN: &str = "xoxb-test-token";
/// The only app-level token (Socket Mode) the fake accepts.
pub const APP_TOKEN: &str = "xapp-test-token";

/// One Web API call as received (form fields are recorded as JSON strings).
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    base: String,
    calls: Vec<Call>,
    next_ts: u64,
    rate_limit_next: u32,
    /// Bytes received per reserved file id.
    uploads: HashMap<String, Vec<u8>>,
    /// Files people "shared", served at `url_private`.
    shared: HashMap<String, Vec<u8>>,
    /// Socket Mode: connections made, acknowledgements received.
    socket_connections: usize,
    acks: Vec<Value>,
}

#[derive(Clone)]
pub struct FakeSlack {
    inner: Arc<Mutex<Inner>>,
    /// Envelopes pushed to every connected Socket Mode client.
    envelopes: tokio::sync::broadcast::Sender<String>,
}

impl Default for FakeSlack {
    fn default() -> Self {
        Self {
            inner: Arc::default(),
            envelopes: tokio::sync::broadcast::channel(256).0,
        }
    }
}

impl FakeSlack {
    /// Starts on a free loopback port; returns the fake and its Web API base URL.
    pub async fn start() -> (Self, String) {
        let fake = Self::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        fake.inner.lock().unwrap().base = format!("http://{addr}");
        let router = Router::new()
            .route("/api/{method}", post(web_api).get(web_api_get))
            .route("/upload/{file_id}", post(upload))
            .route("/files/{name}", axum::routing::get(serve_file))
            .route("/socket", axum::routing::get(socket))
            .with_state(fake.clone());
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

    /// How many of those 429 answers are still to be given.
    pub fn rate_limits_left(&self) -> u32 {
        self.inner.lock().unwrap().rate_limit_next
    }

    /// Shares a file; returns its `url_private` (which requires the bot token).
    pub fn share_file(&self, name: &str, bytes: Vec<u8>) -> String {
        let mut inner = self.inner.lock().unwrap();
        inner.shared.insert(name.to_string(), bytes);
        format!("{}/files/{name}", inner.base)
    }

    /// Sends a Socket Mode envelope to the connected bot.
    pub fn push_envelope(&self, envelope: Value) {
        let _ = self.envelopes.send(envelope.to_string());
    }

    pub fn socket_connections(&self) -> usize {
        self.inner.lock().unwrap().socket_connections
    }

    /// Waits (up to `seconds`) for the acknowledgement of `envelope_id`.
    pub async fn wait_for_ack(&self, envelope_id: &str, seconds: u64) -> Option<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        while std::time::Instant::now() < deadline {
            if let Some(ack) = self
                .inner
                .lock()
                .unwrap()
                .acks
                .iter()
                .find(|a| a["envelope_id"] == envelope_id)
            {
                return Some(ack.clone());
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        None
    }

    /// Waits (up to `seconds`) until the bot has connected `count` times.
    pub async fn wait_for_connections(&self, count: usize, seconds: u64) -> usize {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        while self.socket_connections() < count && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        self.socket_connections()
    }

    /// The bytes uploaded for `file_id`.
    pub fn uploaded(&self, file_id: &str) -> Option<Vec<u8>> {
        self.inner.lock().unwrap().uploads.get(file_id).cloned()
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

async fn serve_file(
    State(fake): State<FakeSlack>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let authorized = headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {BOT_TOKEN}"));
    if !authorized {
        return StatusCode::FORBIDDEN.into_response();
    }
    match fake.inner.lock().unwrap().shared.get(&name) {
        Some(bytes) => bytes.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Socket Mode: `hello`, then whatever the test pushes; acknowledgements are recorded.
async fn socket(
    State(fake): State<FakeSlack>,
    upgrade: axum::extract::ws::WebSocketUpgrade,
) -> Response {
    upgrade.on_upgrade(move |mut ws| async move {
        use axum::extract::ws::Message;
        fake.inner.lock().unwrap().socket_connections += 1;
        let mut envelopes = fake.envelopes.subscribe();
        if ws
            .send(Message::Text(json!({"type": "hello"}).to_string().into()))
            .await
            .is_err()
        {
            return;
        }
        loop {
            tokio::select! {
                pushed = envelopes.recv() => {
                    let Ok(text) = pushed else { return };
                    let disconnect = text.contains("\"disconnect\"");
                    if ws.send(Message::Text(text.into())).await.is_err() || disconnect {
                        return;
                    }
                }
                received = ws.recv() => match received {
                    Some(Ok(Message::Text(text))) => {
                        if let Ok(ack) = serde_json::from_str::<Value>(&text) {
                            fake.inner.lock().unwrap().acks.push(ack);
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => return,
                },
            }
        }
    })
}

async fn upload(
    State(fake): State<FakeSlack>,
    Path(file_id): Path<String>,
    body: Bytes,
) -> Response {
    let mut inner = fake.inner.lock().unwrap();
    match inner.uploads.get_mut(&file_id) {
        Some(slot) => {
            *slot = body.to_vec();
            // Slack's upload host answers in plain text.
            format!("OK - {}", body.len()).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Form fields (or query parameters) as a JSON object of strings.
fn fields(raw: &[u8]) -> Value {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(raw).unwrap_or_default();
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

/// Slack takes any method's arguments as a query string too (`files.getUploadURLExternal`).
async fn web_api_get(
    State(fake): State<FakeSlack>,
    Path(method): Path<String>,
    headers: HeaderMap,
    query: axum::extract::RawQuery,
) -> Response {
    let body = fields(query.0.unwrap_or_default().as_bytes());
    answer(fake, method, headers, body)
}

async fn web_api(
    State(fake): State<FakeSlack>,
    Path(method): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&raw).unwrap_or_else(|_| fields(&raw));
    answer(fake, method, headers, body)
}

/// Answers one Web API call as Slack would, and records it.
fn answer(fake: FakeSlack, method: String, headers: HeaderMap, body: Value) -> Response {
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
    if method == "apps.connections.open" {
        let authorization = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let answer = if authorization == format!("Bearer {APP_TOKEN}") {
            json!({"ok": true, "url": format!("{}/socket", inner.base.replace("http://", "ws://"))})
        } else {
            json!({"ok": false, "error": "invalid_auth"})
        };
        return Json(answer).into_response();
    }
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if authorization != format!("Bearer {BOT_TOKEN}") {
        return Json(json!({"ok": false, "error": "invalid_auth"})).into_response();
    }
    inner.next_ts += 1;
    let ts = format!("1700000000.{:06}", inner.next_ts);
    inner.calls.push(Call {
        method: method.clone(),
        body: body.clone(),
    });
    let answer = match method.as_str() {
        "chat.postMessage" | "chat.update" => {
            // Slack echoes the message it stored.
            let mut message = json!({"type": "message", "ts": ts, "user": "U0BOT", "bot_id": "B0BOT",
                "text": body["text"], "team": "T0TEAM"});
            if body["blocks"].is_array() {
                message["blocks"] = body["blocks"].clone();
            }
            json!({"ok": true, "channel": body["channel"], "ts": ts, "message": message})
        }
        "files.getUploadURLExternal" => {
            let file_id = format!("F{}", inner.next_ts);
            inner.uploads.insert(file_id.clone(), Vec::new());
            json!({"ok": true, "upload_url": format!("{}/upload/{file_id}", inner.base), "file_id": file_id})
        }
        "files.completeUploadExternal" => {
            let id = body["files"][0]["id"].as_str().unwrap_or_default();
            match inner.uploads.get(id) {
                Some(bytes) if !bytes.is_empty() => json!({"ok": true, "files": body["files"]}),
                _ => json!({"ok": false, "error": "file_upload_incomplete"}),
            }
        }
        "assistant.threads.setStatus" | "reactions.add" => json!({"ok": true}),
        _ => json!({"ok": false, "error": "unknown_method"}),
    };
    Json(answer).into_response()
}

/// The signature Slack sends with a request: `v0=` + hex HMAC-SHA256 of
/// `v0:{timestamp}:{body}` keyed with the app's signing secret.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// A slash command's form fields, as Slack sends them.
pub fn command_form(text: &str, channel: &str, user: &str) -> String {
    serde_urlencoded::to_string([
        ("token", "gIkuvaNzQIHg97ATvDxqgjtO"),
        ("team_id", "T0TEAM"),
        ("team_domain", "example"),
        ("channel_id", channel),
        ("channel_name", "incidents"),
        ("user_id", user),
        ("user_name", "sre"),
        ("command", "/anomaly"),
        ("text", text),
        ("api_app_id", "A0APP"),
        (
            "response_url",
            "https://hooks.slack.com/commands/T0TEAM/1/abcdef",
        ),
        ("trigger_id", "13345224609.738474920.8088930838d88f008e0"),
    ])
    .unwrap()
}

/// The same command as a Socket Mode payload (a JSON object).
pub fn command_payload(text: &str, channel: &str, user: &str) -> Value {
    fields(command_form(text, channel, user).as_bytes())
}

/// An Events API delivery of `event`, as Slack wraps it (the bot's user is `U0BOT`).
pub fn event_envelope(event_id: &str, event: Value) -> Value {
    json!({"type": "event_callback", "token": "XXYYZZ", "team_id": "T0TEAM", "api_app_id": "A0APP",
        "event": event, "event_id": event_id, "event_time": 1_700_000_000,
        "authorizations": [{"enterprise_id": null, "team_id": "T0TEAM", "user_id": "U0BOT", "is_bot": true}]})
}

/// The interaction Slack sends when `user` presses the button `action` (value `value`) under
/// the message `message_ts` in `channel`.
pub fn button_press(
    action: &str,
    value: &str,
    channel: &str,
    user: &str,
    message_ts: &str,
) -> Value {
    json!({
        "type": "block_actions",
        "team": {"id": "T0TEAM", "domain": "example"},
        "user": {"id": user, "username": "sre", "team_id": "T0TEAM"},
        "api_app_id": "A0APP",
        "token": "XXYYZZ",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": false},
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "channel": {"id": channel, "name": "incidents"},
        "message": {"type": "message", "ts": message_ts, "text": "verdict", "user": "U0BOT"},
        "response_url": "https://hooks.slack.com/actions/T0TEAM/1/abcdef",
        "actions": [{"type": "button", "action_id": action, "block_id": "verdict", "value": value,
                     "text": {"type": "plain_text", "text": action}, "action_ts": "1700000000.000100"}]
    })
}

/// Sends `/anomaly <text>` to the bot at `bot_url`, signed with `secret` as Slack would, and
/// returns its immediate (ephemeral) answer.
pub async fn slash(bot_url: &str, secret: &str, text: &str) -> Value {
    let body = command_form(text, "C0INCIDENT", "U0SRE");
    let response = signed_post(
        &reqwest::Client::new(),
        &format!("{bot_url}/slack/commands"),
        secret,
        "application/x-www-form-urlencoded",
        body,
    )
    .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Sends an Events API delivery of `event` (the bot's user is `U0BOT`), signed with `secret`.
pub async fn post_event(bot_url: &str, secret: &str, event_id: &str, event: Value) {
    let body = event_envelope(event_id, event).to_string();
    let url = format!("{bot_url}/slack/events");
    let response = signed_post(
        &reqwest::Client::new(),
        &url,
        secret,
        "application/json",
        body,
    )
    .await;
    assert_eq!(response.status(), 200);
}

/// POSTs `body` to the bot signed with `secret`, as Slack does.
pub async fn signed_post(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    content_type: &str,
    body: String,
) -> reqwest::Response {
    signed_request(client, url, secret, content_type, body, 0)
        .send()
        .await
        .unwrap()
}

/// A POST of `body` to `url` signed with `secret` as Slack signs, stamped `age_seconds` ago.
pub fn signed_request(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    content_type: &str,
    body: String,
    age_seconds: i64,
) -> reqwest::RequestBuilder {
    let timestamp = (chrono::Utc::now().timestamp() - age_seconds).to_string();
    let signature = sign(secret, &timestamp, body.as_bytes());
    client
        .post(url)
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", timestamp)
        .header("x-slack-signature", signature)
        .body(body)
}
