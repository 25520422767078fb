//! A local fake of ElevenLabs' text-to-speech endpoint: checks the API key like the real one
//! (401 otherwise), records each request and answers with a small MP3 clip.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// The only API key the fake accepts.
pub const API_KEY: &str = "elevenlabs-test-key";
/// What the fake returns: an ID3-tagged MP3 frame header and silence.
pub const CLIP: &[u8] = b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x64fake-mp3-audio";

/// One request as received.
#[derive(Debug, Clone)]
pub struct SpeechRequest {
    pub voice_id: String,
    pub api_key: Option<String>,
    pub accept: Option<String>,
    pub body: Value,
}

#[derive(Clone, Default)]
pub struct FakeElevenLabs {
    requests: Arc<Mutex<Vec<SpeechRequest>>>,
}

impl FakeElevenLabs {
    /// Starts on a free loopback port; returns the fake and its base URL.
    pub async fn start() -> (Self, String) {
        let fake = Self::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = Router::new()
            .route("/v1/text-to-speech/{voice_id}", post(speak))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (fake, base)
    }

    pub fn requests(&self) -> Vec<SpeechRequest> {
        self.requests.lock().unwrap().clone()
    }
}

async fn speak(
    State(fake): State<FakeElevenLabs>,
    Path(voice_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let request = SpeechRequest {
        voice_id,
        api_key: header("xi-api-key"),
        accept: header("accept"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let authorised = request.api_key.as_deref() == Some(API_KEY);
    fake.requests.lock().unwrap().push(request);
    if !authorised {
        let detail = json!({"detail": {"status": "invalid_api_key", "message": "Invalid API key"}});
        return (StatusCode::UNAUTHORIZED, Json(detail)).into_response();
    }
    ([("content-type", "audio/mpeg")], CLIP).into_response()
}
