//! A local fake of Discord: the REST API under `/api/v10` (answers shaped like Discord's, every
//! call recorded, multipart uploads unpacked, 429s on request) and a gateway websocket that
//! speaks the gateway opcodes — HELLO, IDENTIFY, READY, heartbeat and its ACK, RESUME with a
//! replay of missed dispatches, RESUMED — and can drop the connection. Real sockets on
//! loopback, so the bot's real serenity client is exercised.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// The only bot token the fake accepts.
pub const TOKEN: &str = "discord-test-token";
pub const APPLICATION_ID: u64 = 900_000_000_000_000_001;
pub const BOT_USER_ID: u64 = 900_000_000_000_000_002;
pub const GUILD_ID: u64 = 900_000_000_000_000_003;
pub const CHANNEL_ID: u64 = 900_000_000_000_000_004;
pub const USER_ID: u64 = 900_000_000_000_000_005;
/// Gateway intents: GUILD_MESSAGES | DIRECT_MESSAGES | MESSAGE_CONTENT.
pub const EXPECTED_INTENTS: u64 = (1 << 9) | (1 << 12) | (1 << 15);
const SESSION_ID: &str = "fake-session-1";
/// Discord asks for ~41 s; the fake asks for less so tests see heartbeats.
const HEARTBEAT_INTERVAL_MS: u64 = 1_500;

/// One REST call as received.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    /// The path after `/api/v10`.
    pub path: String,
    /// The JSON body (or a multipart request's `payload_json`).
    pub body: Value,
    /// Multipart files: (form field, file name, bytes).
    pub files: Vec<(String, String, Vec<u8>)>,
}

enum ToGateway {
    Frame(String),
    /// Close with a gateway close code (4004: authentication failed).
    Close(u16),
    /// Close the TCP connection without a close frame, as a network failure would.
    Drop,
}

#[derive(Default)]
struct Inner {
    base: String,
    calls: Vec<Call>,
    next_id: u64,
    rate_limit_next: u32,
    rate_limited: usize,
    /// Files served at `/attachments/{name}`, as the CDN would.
    files: HashMap<String, Vec<u8>>,
    /// Every dispatch frame sent in this session, for replay after a RESUME.
    dispatched: Vec<(u64, String)>,
    seq: u64,
    identifies: Vec<Value>,
    resumes: Vec<Value>,
    heartbeats: usize,
    connections: usize,
    gateway: Option<mpsc::UnboundedSender<ToGateway>>,
}

#[derive(Clone, Default)]
pub struct FakeDiscord {
    inner: Arc<Mutex<Inner>>,
}

impl FakeDiscord {
    /// Starts on a free loopback port; returns the fake and its base URL (for `DISCORD_API_URL`).
    pub async fn start() -> (Self, String) {
        let fake = Self::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        {
            let mut inner = fake.inner.lock().unwrap();
            inner.base = base.clone();
            inner.next_id = 1_000_000_000_000_000_000;
        }
        let router = Router::new()
            .route("/api/v10/gateway", get(gateway_url))
            .route("/api/v10/gateway/bot", get(gateway_url))
            .route("/api/v10/{*path}", any(rest))
            .route("/attachments/{name}", get(serve_file))
            .route("/gateway", get(gateway))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (fake, base)
    }

    fn next_id(&self) -> String {
        let mut inner = self.inner.lock().unwrap();
        inner.next_id += 1;
        inner.next_id.to_string()
    }

    /// Puts a file on the fake CDN; returns its attachment object.
    pub fn attachment(&self, name: &str, content_type: &str, bytes: Vec<u8>) -> Value {
        let size = bytes.len();
        let id = self.next_id();
        let mut inner = self.inner.lock().unwrap();
        inner.files.insert(name.to_string(), bytes);
        let url = format!("{}/attachments/{name}", inner.base);
        json!({"id": id, "filename": name, "size": size, "url": url, "proxy_url": url, "content_type": content_type})
    }

    /// A message from a person, as Discord sends it in MESSAGE_CREATE.
    pub fn user_message(&self, channel: u64, content: &str, attachments: Vec<Value>) -> Value {
        let id = self.next_id();
        message(
            &id,
            &channel.to_string(),
            &user(USER_ID, "oncall-sre", false),
            content,
            json!([]),
            attachments,
        )
    }

    /// Sends a dispatch (op 0) to the connected bot, or keeps it for the replay after a resume.
    pub fn dispatch(&self, event: &str, data: Value) {
        let mut inner = self.inner.lock().unwrap();
        inner.seq += 1;
        let seq = inner.seq;
        let frame = json!({"op": 0, "s": seq, "t": event, "d": data}).to_string();
        inner.dispatched.push((seq, frame.clone()));
        if let Some(gateway) = &inner.gateway {
            let _ = gateway.send(ToGateway::Frame(frame));
        }
    }

    /// An application command `/anomaly <sub> …options` from a person in the channel; returns
    /// the interaction token.
    pub fn slash_command(&self, sub: &str, options: Vec<Value>, attachments: Vec<Value>) -> String {
        let id = self.next_id();
        let token = format!("interaction-token-{id}");
        let resolved: serde_json::Map<String, Value> = attachments
            .iter()
            .map(|a| (a["id"].as_str().unwrap().to_string(), a.clone()))
            .collect();
        let data = json!({
            "id": id, "application_id": APPLICATION_ID.to_string(), "type": 2, "token": token, "version": 1,
            "guild_id": GUILD_ID.to_string(), "channel_id": CHANNEL_ID.to_string(),
            "user": user(USER_ID, "oncall-sre", false), "locale": "en-US", "entitlements": [],
            "app_permissions": "0", "attachment_size_limit": 26_214_400,
            "data": {"id": "1", "name": "anomaly", "type": 1,
                     "options": [{"name": sub, "type": 1, "options": options}],
                     "resolved": {"attachments": resolved}}
        });
        self.dispatch("INTERACTION_CREATE", data);
        token
    }

    /// A press on a button of a message the bot posted.
    pub fn press_button(&self, bot_message: &Value, custom_id: &str) -> String {
        let id = self.next_id();
        let token = format!("interaction-token-{id}");
        let data = json!({
            "id": id, "application_id": APPLICATION_ID.to_string(), "type": 3, "token": token, "version": 1,
            "guild_id": GUILD_ID.to_string(), "channel_id": bot_message["channel_id"],
            "user": user(USER_ID, "oncall-sre", false), "locale": "en-US", "entitlements": [],
            "app_permissions": "0", "attachment_size_limit": 26_214_400,
            "message": bot_message, "data": {"custom_id": custom_id, "component_type": 2}
        });
        self.dispatch("INTERACTION_CREATE", data);
        token
    }

    /// Drops the gateway connection without a close frame.
    pub fn drop_gateway(&self) {
        let mut inner = self.inner.lock().unwrap();
        if let Some(gateway) = inner.gateway.take() {
            let _ = gateway.send(ToGateway::Drop);
        }
    }

    pub fn rate_limit_next(&self, count: u32) {
        self.inner.lock().unwrap().rate_limit_next = count;
    }

    /// How many requests were answered with a 429.
    pub fn rate_limited(&self) -> usize {
        self.inner.lock().unwrap().rate_limited
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }

    pub fn identifies(&self) -> Vec<Value> {
        self.inner.lock().unwrap().identifies.clone()
    }

    pub fn resumes(&self) -> Vec<Value> {
        self.inner.lock().unwrap().resumes.clone()
    }

    /// Waits until `count` heartbeats were acknowledged; returns how many there were.
    pub async fn wait_for_heartbeats(&self, count: usize, seconds: u64) -> usize {
        for _ in 0..seconds * 20 {
            if self.inner.lock().unwrap().heartbeats >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.inner.lock().unwrap().heartbeats
    }

    /// Waits until the bot is identified (READY sent) or resumed on a live connection.
    pub async fn wait_connected(&self, identifies: usize, resumes: usize, seconds: u64) -> bool {
        for _ in 0..seconds * 20 {
            {
                let inner = self.inner.lock().unwrap();
                if inner.gateway.is_some()
                    && inner.identifies.len() >= identifies
                    && inner.resumes.len() >= resumes
                {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Waits for `count` calls matching `method` and a path predicate.
    pub async fn wait_for(
        &self,
        method: &str,
        path: impl Fn(&str) -> bool,
        count: usize,
        seconds: u64,
    ) -> Vec<Call> {
        let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
        loop {
            let found: Vec<Call> = self
                .calls()
                .into_iter()
                .filter(|c| c.method == method && path(&c.path))
                .collect();
            if found.len() >= count || std::time::Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn user(id: u64, name: &str, bot: bool) -> Value {
    json!({"id": id.to_string(), "username": name, "discriminator": "0", "global_name": null, "avatar": null, "bot": bot})
}

fn message(
    id: &str,
    channel: &str,
    author: &Value,
    content: &str,
    embeds: Value,
    attachments: Vec<Value>,
) -> Value {
    json!({
        "id": id, "channel_id": channel, "guild_id": GUILD_ID.to_string(), "author": author,
        "content": content, "timestamp": "2026-11-24T12:00:00.000000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": attachments, "embeds": embeds, "pinned": false, "type": 0
    })
}

fn discord_error(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({"message": text, "code": 0}))).into_response()
}

/// `GET /gateway` (no authentication, as on Discord) and `GET /gateway/bot`.
async fn gateway_url(State(fake): State<FakeDiscord>) -> Response {
    let base = fake.inner.lock().unwrap().base.replace("http://", "ws://");
    Json(json!({"url": format!("{base}/gateway"), "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}}))
    .into_response()
}

/// The gateway takes the token with or without the `Bot ` prefix.
fn valid_token(token: &Value) -> bool {
    token.as_str().map(|t| t.trim_start_matches("Bot ")) == Some(TOKEN)
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bot {TOKEN}"))
}

async fn serve_file(State(fake): State<FakeDiscord>, Path(name): Path<String>) -> Response {
    match fake.inner.lock().unwrap().files.get(&name) {
        Some(bytes) => bytes.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Reads a JSON body or a multipart body (`payload_json` + `files[n]`).
async fn read_body(request: Request) -> (Value, Vec<(String, String, Vec<u8>)>) {
    let is_multipart = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !is_multipart {
        let bytes = Bytes::from_request(request, &()).await.unwrap_or_default();
        return (
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            vec![],
        );
    }
    let mut form = Multipart::from_request(request, &()).await.unwrap();
    let (mut body, mut files) = (Value::Null, vec![]);
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let bytes = field.bytes().await.unwrap_or_default().to_vec();
        match file_name {
            Some(file_name) => files.push((name, file_name, bytes)),
            None if name == "payload_json" => {
                body = serde_json::from_slice(&bytes).unwrap_or(Value::Null)
            }
            None => {}
        }
    }
    (body, files)
}

async fn rest(
    State(fake): State<FakeDiscord>,
    Path(path): Path<String>,
    request: Request,
) -> Response {
    let method = request.method().clone();
    let interaction_route = path.starts_with("interactions/") || path.starts_with("webhooks/");
    if !interaction_route && !authorized(request.headers()) {
        return discord_error(StatusCode::UNAUTHORIZED, "401: Unauthorized");
    }
    let (body, files) = read_body(request).await;
    let segments: Vec<&str> = path.split('/').collect();
    let is_new_message =
        method == Method::POST && matches!(segments.as_slice(), ["channels", _, "messages"]);
    if is_new_message {
        let mut inner = fake.inner.lock().unwrap();
        if inner.rate_limit_next > 0 {
            inner.rate_limit_next -= 1;
            inner.rate_limited += 1;
            let headers = [("retry-after", "0.3"), ("x-ratelimit-scope", "user")];
            let body = json!({"message": "You are being rate limited.", "retry_after": 0.3, "global": false});
            return (StatusCode::TOO_MANY_REQUESTS, headers, Json(body)).into_response();
        }
    }
    let call = Call {
        method: method.to_string(),
        path: format!("/{path}"),
        body: body.clone(),
        files: files.clone(),
    };
    fake.inner.lock().unwrap().calls.push(call);
    match (method.as_str(), segments.as_slice()) {
        ("PUT", ["applications", _, "commands"] | ["applications", _, "guilds", _, "commands"]) => {
            let commands: Vec<Value> = body
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|mut c| {
                    c["id"] = json!(fake.next_id());
                    c["application_id"] = json!(APPLICATION_ID.to_string());
                    c["version"] = json!("1");
                    c
                })
                .collect();
            Json(commands).into_response()
        }
        ("POST", ["channels", channel, "messages"]) => {
            Json(fake.bot_message(channel, &body, &files)).into_response()
        }
        ("POST", ["channels", channel, "messages", message, "threads"]) => Json(json!({
            "id": message, "type": 11, "guild_id": GUILD_ID.to_string(), "parent_id": channel,
            "name": body["name"], "owner_id": BOT_USER_ID.to_string()
        }))
        .into_response(),
        ("PUT", ["channels", _, "messages", _, "reactions", _, "@me"])
        | ("POST", ["channels", _, "typing"]) => StatusCode::NO_CONTENT.into_response(),
        ("POST", ["interactions", _, _, "callback"]) => StatusCode::NO_CONTENT.into_response(),
        ("PATCH", ["channels", channel, "messages", message]) => {
            let mut edited = fake.bot_message(channel, &body, &files);
            edited["id"] = json!(message);
            Json(edited).into_response()
        }
        ("PATCH", ["webhooks", _, _, "messages", "@original"]) => {
            Json(fake.bot_message(&CHANNEL_ID.to_string(), &body, &files)).into_response()
        }
        _ => discord_error(StatusCode::NOT_FOUND, "404: Not Found"),
    }
}

impl FakeDiscord {
    /// The message Discord would create from the bot's payload.
    fn bot_message(
        &self,
        channel: &str,
        body: &Value,
        files: &[(String, String, Vec<u8>)],
    ) -> Value {
        let id = self.next_id();
        let base = self.inner.lock().unwrap().base.clone();
        let attachments = files
            .iter()
            .map(|(_, name, bytes)| {
                let url = format!("{base}/attachments/{name}");
                json!({"id": self.next_id(), "filename": name, "size": bytes.len(), "url": url, "proxy_url": url})
            })
            .collect();
        let mut created = message(
            &id,
            channel,
            &user(BOT_USER_ID, "anomaly-hunter", true),
            body["content"].as_str().unwrap_or_default(),
            body.get("embeds").cloned().unwrap_or(json!([])),
            attachments,
        );
        created["components"] = body.get("components").cloned().unwrap_or(json!([]));
        created
    }
}

async fn gateway(State(fake): State<FakeDiscord>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| run_gateway(fake, socket))
}

/// One gateway connection: HELLO, then IDENTIFY → READY or RESUME → replay + RESUMED,
/// heartbeats acknowledged, dispatches forwarded until the test drops the connection.
async fn run_gateway(fake: FakeDiscord, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (to_gateway, mut outbox) = mpsc::unbounded_channel::<ToGateway>();
    fake.inner.lock().unwrap().connections += 1;
    let hello =
        json!({"op": 10, "s": null, "t": null, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}});
    if sink
        .send(WsMessage::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            outgoing = outbox.recv() => match outgoing {
                Some(ToGateway::Frame(frame)) => {
                    if sink.send(WsMessage::Text(frame.into())).await.is_err() { return; }
                }
                Some(ToGateway::Close(code)) => {
                    let frame = axum::extract::ws::CloseFrame { code, reason: "Authentication failed.".into() };
                    let _ = sink.send(WsMessage::Close(Some(frame))).await;
                    return;
                }
                Some(ToGateway::Drop) | None => return,
            },
            incoming = stream.next() => {
                let Some(Ok(WsMessage::Text(text))) = incoming else {
                    if matches!(incoming, Some(Ok(_))) { continue; }
                    return;
                };
                let Ok(frame) = serde_json::from_str::<Value>(&text) else { continue };
                fake.on_gateway_frame(&frame, &to_gateway);
            }
        }
    }
}

impl FakeDiscord {
    fn on_gateway_frame(&self, frame: &Value, to_gateway: &mpsc::UnboundedSender<ToGateway>) {
        let send = |value: Value| {
            let _ = to_gateway.send(ToGateway::Frame(value.to_string()));
        };
        let mut inner = self.inner.lock().unwrap();
        match frame["op"].as_u64() {
            Some(1) => {
                inner.heartbeats += 1;
                send(json!({"op": 11, "s": null, "t": null, "d": null}));
            }
            Some(2) => {
                if !valid_token(&frame["d"]["token"]) {
                    let _ = to_gateway.send(ToGateway::Close(4004));
                    return;
                }
                inner.identifies.push(frame["d"].clone());
                inner.dispatched.clear();
                inner.seq = 1;
                let ws = inner.base.replace("http://", "ws://");
                send(json!({"op": 0, "s": 1, "t": "READY", "d": {
                    "v": 10, "user": user(BOT_USER_ID, "anomaly-hunter", true),
                    "guilds": [{"id": GUILD_ID.to_string(), "unavailable": true}],
                    "session_id": SESSION_ID, "resume_gateway_url": format!("{ws}/gateway"),
                    "shard": [0, 1], "application": {"id": APPLICATION_ID.to_string(), "flags": 0}
                }}));
                inner.gateway = Some(to_gateway.clone());
            }
            Some(6) => {
                if frame["d"]["session_id"] != SESSION_ID {
                    send(json!({"op": 9, "s": null, "t": null, "d": false}));
                    return;
                }
                inner.resumes.push(frame["d"].clone());
                let after = frame["d"]["seq"].as_u64().unwrap_or(0);
                for (seq, missed) in &inner.dispatched {
                    if *seq > after {
                        let _ = to_gateway.send(ToGateway::Frame(missed.clone()));
                    }
                }
                inner.seq += 1;
                send(json!({"op": 0, "s": inner.seq, "t": "RESUMED", "d": {}}));
                inner.gateway = Some(to_gateway.clone());
            }
            _ => {}
        }
    }
}
