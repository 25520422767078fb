//! A local fake of the three language model APIs — OpenAI's chat completions (and Azure's
//! deployment path), Anthropic's Messages API and Ollama's `/api/chat` — on one loopback port.
//! It checks the key as each API does, records every request, and answers in each API's reply
//! shape with what the test scripted: an answer grounded in the evidence it was sent, one that
//! invents a number or cites an unknown id, text that is not JSON, an HTTP error, or silence.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};

/// The only key the fake accepts.
pub const API_KEY: &str = "sk-test-model-key-4f2a9c";

/// What the fake says next.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A summary and a claim built from the evidence in the request.
    Grounded,
    /// "Not in the evidence", no claims.
    NotInEvidence,
    /// A grounded answer whose summary invents a number.
    InventedNumber,
    /// A grounded answer whose claim cites an id the request did not hold.
    UnknownId,
    /// Content that is not JSON.
    NotJson,
    /// An HTTP error (429 with `Retry-After: 0`, 500, …).
    Status(u16),
    /// A grounded answer, after this long.
    Slow(Duration),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct ModelRequest {
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl ModelRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The brief the bot sent (the user message, parsed).
    pub fn brief(&self) -> Value {
        let messages = self.body["messages"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let user = messages.iter().find(|m| m["role"] == "user").cloned();
        let content = user.map(|m| m["content"].clone()).unwrap_or(Value::Null);
        serde_json::from_str(content.as_str().unwrap_or("null")).unwrap_or(Value::Null)
    }
}

#[derive(Default)]
struct Inner {
    requests: Vec<ModelRequest>,
    script: VecDeque<Reply>,
}

#[derive(Clone, Default)]
pub struct FakeModel {
    inner: Arc<Mutex<Inner>>,
}

impl FakeModel {
    /// Starts on a free loopback port; returns the fake and its base URL.
    pub async fn start() -> (Self, String) {
        let fake = Self::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = Router::new().fallback(answer).with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (fake, base)
    }

    /// Queues the next replies; once the queue is empty every answer is [`Reply::Grounded`].
    pub fn then(&self, replies: &[Reply]) {
        self.inner
            .lock()
            .unwrap()
            .script
            .extend(replies.iter().cloned());
    }

    pub fn requests(&self) -> Vec<ModelRequest> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// Waits until `count` requests have arrived (or `seconds` pass).
    pub async fn wait_for(&self, count: usize, seconds: u64) -> Vec<ModelRequest> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        loop {
            let requests = self.requests();
            if requests.len() >= count || tokio::time::Instant::now() >= deadline {
                return requests;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Api {
    OpenAi,
    Anthropic,
    Ollama,
}

async fn answer(State(fake): State<FakeModel>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(str::to_string);
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let body: Bytes = axum::body::to_bytes(request.into_body(), 10 << 20)
        .await
        .unwrap_or_default();
    let recorded = ModelRequest {
        path: path.clone(),
        query,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let api = if path.ends_with("/chat/completions") {
        Api::OpenAi
    } else if path == "/v1/messages" {
        Api::Anthropic
    } else if path == "/api/chat" {
        Api::Ollama
    } else {
        return (StatusCode::NOT_FOUND, "no such endpoint").into_response();
    };
    let authorised = match api {
        Api::OpenAi => {
            recorded.header("authorization") == Some(&format!("Bearer {API_KEY}"))
                || recorded.header("api-key") == Some(API_KEY)
        }
        Api::Anthropic => recorded.header("x-api-key") == Some(API_KEY),
        Api::Ollama => true,
    };
    let brief = recorded.brief();
    let reply = {
        let mut inner = fake.inner.lock().unwrap();
        inner.requests.push(recorded);
        inner.script.pop_front().unwrap_or(Reply::Grounded)
    };
    if !authorised {
        let error =
            json!({"error": {"type": "authentication_error", "message": "invalid x-api-key"}});
        return (StatusCode::UNAUTHORIZED, Json(error)).into_response();
    }
    let content = match reply {
        Reply::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap();
            let error = json!({"error": {"type": "server_error", "message": "try again later"}});
            return (status, [("retry-after", "0")], Json(error)).into_response();
        }
        Reply::Slow(wait) => {
            tokio::time::sleep(wait).await;
            Ok(grounded(&brief))
        }
        Reply::NotJson => Err("Sure! The latency went up a lot.".to_string()),
        Reply::Grounded => Ok(grounded(&brief)),
        Reply::NotInEvidence => Ok(json!({
            "summary": "Not in the evidence: no deploys or config changes are recorded for this metric.",
            "claims": [], "next_steps": [], "caveats": ["Record deploys as events to have them compared."]
        })),
        Reply::InventedNumber => {
            let mut answer = grounded(&brief);
            answer["summary"] = json!("Latency rose 4242% within 17 minutes of the deploy.");
            Ok(answer)
        }
        Reply::UnknownId => {
            let mut answer = grounded(&brief);
            answer["claims"][0]["evidence_ids"] = json!(["E999"]);
            Ok(answer)
        }
    };
    Json(wrap(api, content)).into_response()
}

/// An answer that only repeats the evidence: the first finding as the summary, a claim on the
/// first measured statistic, citing their ids.
fn grounded(brief: &Value) -> Value {
    let evidence = brief["evidence"].as_array().cloned().unwrap_or_default();
    let finding = evidence.iter().find(|e| e.get("finding").is_some());
    let statistic = evidence.iter().find(|e| e.get("statistic").is_some());
    let (finding_id, finding_text) = finding.map_or((json!("E1"), String::new()), |f| {
        (
            f["id"].clone(),
            f["finding"].as_str().unwrap_or("").to_string(),
        )
    });
    let mut claims = vec![
        json!({"text": format!("The Pattern Analyst found: {finding_text}"), "evidence_ids": [finding_id]}),
    ];
    if let Some(s) = statistic {
        claims.push(json!({"text": format!("{} is {}.", s["statistic"].as_str().unwrap_or(""), s["value"]), "evidence_ids": [s["id"]]}));
    }
    json!({
        "summary": format!("{} {}", brief["verdict"]["verdict"].as_str().unwrap_or(""), finding_text).trim(),
        "claims": claims,
        "next_steps": ["Check the connection pool's saturation on the database host."],
        "caveats": []
    })
}

/// The answer in `api`'s reply shape; `Err` is text content where JSON was asked for.
fn wrap(api: Api, content: Result<Value, String>) -> Value {
    let text = match &content {
        Ok(answer) => answer.to_string(),
        Err(text) => text.clone(),
    };
    match api {
        Api::OpenAi => json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 812, "completion_tokens": 96, "total_tokens": 908}
        }),
        Api::Anthropic => {
            let block = match content {
                Ok(answer) => {
                    json!({"type": "tool_use", "id": "toolu_1", "name": "grounded_answer", "input": answer})
                }
                Err(text) => json!({"type": "text", "text": text}),
            };
            json!({
                "id": "msg_1", "type": "message", "role": "assistant", "model": "fake",
                "content": [block], "stop_reason": "tool_use",
                "usage": {"input_tokens": 812, "output_tokens": 96}
            })
        }
        Api::Ollama => json!({
            "model": "fake", "created_at": "2026-12-01T00:00:00Z",
            "message": {"role": "assistant", "content": text},
            "done": true, "prompt_eval_count": 812, "eval_count": 96
        }),
    }
}
