//! A local fake of Sentry's ingest endpoint: records every envelope it is sent and answers
//! like Sentry does.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

#[derive(Clone, Default)]
pub struct FakeSentry {
    envelopes: Arc<Mutex<Vec<String>>>,
}

impl FakeSentry {
    /// Starts on a free loopback port; returns the fake and a DSN pointing at it.
    pub async fn start() -> (Self, String) {
        let fake = Self::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dsn = format!("http://fakepublickey@{}/42", listener.local_addr().unwrap());
        let router = Router::new()
            .route("/api/{project}/envelope/", post(envelope))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (fake, dsn)
    }

    /// Every envelope body received so far.
    pub fn envelopes(&self) -> Vec<String> {
        self.envelopes.lock().unwrap().clone()
    }

    /// The events (envelope items of type `event`) received so far.
    pub fn events(&self) -> Vec<Value> {
        self.envelopes()
            .iter()
            .flat_map(|envelope| {
                let lines: Vec<&str> = envelope.lines().collect();
                lines
                    .windows(2)
                    .filter(|pair| {
                        serde_json::from_str::<Value>(pair[0])
                            .is_ok_and(|header| header["type"] == "event")
                    })
                    .filter_map(|pair| serde_json::from_str(pair[1]).ok())
                    .collect::<Vec<Value>>()
            })
            .collect()
    }

    /// Waits up to `seconds` for an event that `matches`.
    pub async fn wait_for_event(
        &self,
        matches: impl Fn(&Value) -> bool,
        seconds: u64,
    ) -> Option<Value> {
        for _ in 0..seconds * 10 {
            if let Some(event) = self.events().into_iter().find(&matches) {
                return Some(event);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

async fn envelope(
    State(fake): State<FakeSentry>,
    Path(_project): Path<String>,
    body: Bytes,
) -> Json<Value> {
    fake.envelopes
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&body).into_owned());
    Json(json!({"id": uuid::Uuid::new_v4().simple().to_string()}))
}
