//! The HTTP API through real HTTP against the real `serve`: each endpoint, the token, the
//! limits and the errors, and that its verdict is the same document `detect` prints.

mod support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::serve::{anomaly_hunter, ServeProcess};

const TOKEN: &str = "api-test-token-5b1e0c7d";

struct Api {
    serve: ServeProcess,
    http: reqwest::Client,
}

impl Api {
    fn start(test: &str) -> Self {
        Self {
            serve: ServeProcess::start(
                &format!("api-{test}"),
                &[
                    ("ANOMALY_HUNTER_API_TOKEN", TOKEN),
                    ("ANOMALY_HUNTER_MAX_ROWS", "5000"),
                ],
            ),
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.serve.url)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(TOKEN)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// POSTs a body the server will refuse by its declared length: the answer may come, and
    /// the connection close, before the body is written, which an HTTP client reports as a
    /// broken pipe. Written over a plain socket, the write error ignored, the answer read.
    async fn post_oversized(
        &self,
        path: &str,
        content_type: &str,
        body: String,
    ) -> (StatusCode, Value) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let address = self.serve.url.trim_start_matches("http://");
        let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
        let head = format!(
            "POST /api/v1{path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = socket.write_all(head.as_bytes()).await;
        let _ = socket.write_all(body.as_bytes()).await;
        let mut answer = Vec::new();
        let _ = socket.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        let status: u16 = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let json = answer
            .split_once("\r\n\r\n")
            .and_then(|(_, body)| serde_json::from_str(body).ok())
            .unwrap_or(Value::Null);
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            json,
        )
    }

    /// The OpenAPI document, public (no token).
    async fn openapi(&self) -> Value {
        let response = reqwest::get(self.url("/openapi.json")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn post_json(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.post(path, "application/json", body.to_string()).await
    }
}

fn example(file: &str) -> String {
    std::fs::read_to_string(format!("{}/examples/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A verdict without what differs between two runs of the same investigation.
fn comparable(mut verdict: Value) -> Value {
    for key in ["id", "elapsed_ms"] {
        verdict.as_object_mut().unwrap().remove(key);
    }
    verdict
}

#[tokio::test]
async fn the_token_is_required_and_errors_say_what_to_fix() {
    let api = Api::start("auth");
    for token in [None, Some("wrong-token")] {
        let mut request = api.http.get(api.url("/investigations"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized");
        assert!(body["detail"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer"));
    }
    let (status, _) = api.get("/investigations").await;
    assert_eq!(status, StatusCode::OK);

    let too_big = "timestamp,value\n".to_string() + &"2026-01-01T00:00:00Z,1\n".repeat(20_000);
    let (status, body) = api
        .post_oversized("/investigations", "text/csv", too_big)
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"], "too_large");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("200000-byte limit"),
        "{body}"
    );

    let many: Vec<i64> = (0..6_000).map(|i| 1_700_000_000 + i * 60).collect();
    let (status, body) = api
        .post_json(
            "/investigations",
            json!({"timestamps": many, "values": many}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("5000-row limit"),
        "{body}"
    );

    let (status, body) = api.post("/investigations", "text/plain", "x").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        body["detail"].as_str().unwrap().contains("text/csv"),
        "{body}"
    );
    let (status, body) = api
        .post("/investigations", "application/json", "{not json")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = api
        .post(
            "/investigations",
            "text/csv",
            "timestamp,value\n2026-01-01T00:00:00Z,abc\n",
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("column `value` holds text"),
        "says which column and why: {body}"
    );
    let (status, body) = api.get("/investigations/no-such-id").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
}

#[tokio::test]
async fn a_csv_points_a_stored_metric_and_the_prototype_shape_are_investigated() {
    let api = Api::start("investigate");
    let csv = example("db_query_latency.csv");
    let (status, verdict) = api
        .post(
            "/investigations?metric=db_query_latency",
            "text/csv",
            csv.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{verdict}");
    assert_eq!(verdict["anomalous"], true);
    assert_eq!(verdict["metric"], "db_query_latency");

    // The same document as `detect --format json` (on a store of its own).
    let dir = support::scratch_dir("api-detect-same");
    let detect = anomaly_hunter(&dir)
        .args([
            "detect",
            &format!(
                "{}/examples/db_query_latency.csv",
                env!("CARGO_MANIFEST_DIR")
            ),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let printed: Value = serde_json::from_slice(&detect.stdout).unwrap();
    assert_eq!(comparable(printed), comparable(verdict.clone()));

    // Stored as returned.
    let id = verdict["id"].as_str().unwrap();
    let (status, stored) = api.get(&format!("/investigations/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored, verdict);

    // JSON points: RFC 3339 strings or Unix seconds, one per value.
    let (timestamps, values) = points_of(&csv);
    let (status, from_points) = api
        .post_json(
            "/investigations",
            json!({"timestamps": timestamps, "values": values, "metric": "db_points"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{from_points}");
    assert_eq!(from_points["metric"], "db_points");
    assert_eq!(from_points["severity"], verdict["severity"]);
    let (status, body) = api
        .post_json(
            "/investigations",
            json!({"timestamps": ["2026-01-01T00:00:00Z"], "values": [1.0, 2.0]}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the documented shape, content that cannot be investigated"
    );
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("one timestamp per value"));
    let (status, body) = api
        .post_json(
            "/investigations",
            json!({"timestamps": ["yesterday", 2], "values": [1.0, 2.0]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["detail"].as_str().unwrap().contains("timestamps[0]"),
        "{body}"
    );

    // A stored metric (serve's store holds `api_latency`), and one it does not hold.
    let (status, stored_metric) = api
        .post_json(
            "/investigations",
            json!({"metric": "api_latency", "since": "6h"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{stored_metric}");
    assert_eq!(stored_metric["metric"], "api_latency");
    assert!(
        stored_metric["baseline_points"].as_u64().unwrap() > 0,
        "judged against history"
    );
    let (status, body) = api
        .post_json("/investigations", json!({"metric": "nope"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("anomaly-hunter ingest"));

    // The prototype's `POST /api/v1/detect`: values only, one a minute.
    let (status, prototype) = api.post_json("/detect", json!({"data": values})).await;
    assert_eq!(status, StatusCode::OK, "{prototype}");
    assert_eq!(prototype["anomalous"], true);
}

#[tokio::test]
async fn history_pages_and_feedback() {
    let api = Api::start("history");
    let csv = example("db_query_latency.csv");
    let mut ids = Vec::new();
    for metric in ["a", "b", "c"] {
        let (_, verdict) = api
            .post(
                &format!("/investigations?metric={metric}"),
                "text/csv",
                csv.clone(),
            )
            .await;
        ids.push(verdict["id"].as_str().unwrap().to_string());
    }
    let (status, first) = api.get("/investigations?limit=2").await;
    assert_eq!(status, StatusCode::OK);
    let page: Vec<&str> = first["investigations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(page, [ids[2].as_str(), ids[1].as_str()], "newest first");
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = api
        .get(&format!("/investigations?limit=2&cursor={cursor}"))
        .await;
    let rest: Vec<&str> = second["investigations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(rest, [ids[0].as_str()]);
    assert!(second["next_cursor"].is_null());
    let (_, only_b) = api.get("/investigations?metric=b").await;
    assert_eq!(only_b["investigations"].as_array().unwrap().len(), 1);
    let (status, _) = api.get("/investigations?cursor=bogus").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.get("/investigations?limit=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, said) = api
        .post_json(
            &format!("/investigations/{}/feedback", ids[0]),
            json!({"verdict": "false_positive", "author": "ci"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{said}");
    assert_eq!(said["recorded"], "false_positive");
    assert!(
        said["learning"]["threshold_after"].as_f64().unwrap()
            > said["learning"]["threshold_before"].as_f64().unwrap()
    );
    let (status, _) = api
        .post_json(
            &format!("/investigations/{}/feedback", ids[1]),
            json!({"verdict": "maybe"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = api
        .post_json(
            "/investigations/no-such-id/feedback",
            json!({"verdict": "confirmed"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(api.serve.stats()["false_positives"], 1);
}

#[test]
fn a_listener_open_to_the_network_needs_a_token() {
    let dir = support::scratch_dir("api-open-listener");
    let refused = anomaly_hunter(&dir)
        .args(["serve"])
        .env("ANOMALY_HUNTER_ADDR", "0.0.0.0:0")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("ANOMALY_HUNTER_API_TOKEN"), "{stderr}");
}

#[tokio::test]
async fn points_and_events_are_stored_for_later_investigations() {
    let api = Api::start("points");
    let (status, stored) = api
        .post(
            "/metrics/orders_db/points",
            "text/csv",
            example("db_query_latency.csv"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    assert_eq!(stored["stored"], 720);
    let (status, stored) = api
        .post_json(
            "/metrics/orders_db/points",
            json!({"timestamps": ["2024-01-01T12:00:00Z", 1_704_110_460, 1_704_110_520_000i64], "values": [4.0, null, 4.2]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    assert_eq!(stored["stored"], 2, "a blank value is not a point");
    let (status, _) = api
        .post_json(
            "/metrics/bad%20name/points",
            json!({"timestamps": [], "values": []}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, stored) = api
        .post_json(
            "/events",
            json!([{"timestamp": "2024-01-01T08:18:00Z", "kind": "Deploy", "description": "orders-db pool 50 → 20"}]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    assert_eq!(stored["stored"], 1);
    let (status, stored) = api
        .post(
            "/events",
            "text/csv",
            "timestamp,kind,description\n2024-01-01T06:00:00Z,config,cache ttl 60s\n",
        )
        .await;
    assert_eq!(
        (status, stored["stored"].clone()),
        (StatusCode::CREATED, json!(1))
    );
    let (status, body) = api
        .post_json("/events", json!([{"timestamp": "soon", "kind": "deploy"}]))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["detail"].as_str().unwrap().contains("[0].timestamp"),
        "{body}"
    );

    // The stored points are investigated with the stored events.
    let (status, verdict) = api
        .post_json("/investigations", json!({"metric": "orders_db"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{verdict}");
    assert_eq!(verdict["anomalous"], true);
    let text = verdict.to_string().to_lowercase();
    assert!(
        text.contains("deploy"),
        "the deploy is lined up with the change: {verdict}"
    );

    // Events given with JSON points are stored and lined up with the change…
    let (timestamps, values) = points_of(&example("db_query_latency.csv"));
    let deploy = json!({"timestamp": "2024-01-01T08:19:00Z", "kind": "deploy", "description": "orders-api v9.1"});
    let (status, verdict) = api
        .post_json(
            "/investigations",
            json!({"timestamps": timestamps, "values": values, "metric": "with_events", "events": [deploy]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{verdict}");
    assert!(verdict.to_string().contains("orders-api v9.1"), "{verdict}");
    // …and an uploaded CSV is investigated with the events stored around it.
    let (_, uploaded) = api
        .post(
            "/investigations?metric=uploaded",
            "text/csv",
            example("db_query_latency.csv"),
        )
        .await;
    assert!(
        uploaded.to_string().contains("orders-api v9.1"),
        "{uploaded}"
    );
    let (status, body) = api
        .post_json(
            "/investigations",
            json!({"metric": "orders_db", "events": [{"timestamp": "later", "kind": "deploy"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("events[0].timestamp"),
        "{body}"
    );
}

/// A CSV's first two columns as JSON points: timestamps and values.
fn points_of(csv: &str) -> (Vec<String>, Vec<f64>) {
    csv.lines()
        .skip(1)
        .filter_map(|line| {
            let mut cells = line.split(',');
            Some((
                cells.next()?.to_string(),
                cells.next()?.parse::<f64>().ok()?,
            ))
        })
        .unzip()
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_is_consistent() {
    let api = Api::start("openapi");
    // Public: it describes the API and holds no data.
    let doc = api.openapi().await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    let expected = [
        ("/api/v1/investigations", "post"),
        ("/api/v1/investigations", "get"),
        ("/api/v1/detect", "post"),
        ("/api/v1/investigations/{id}", "get"),
        ("/api/v1/investigations/{id}/chart.png", "get"),
        ("/api/v1/investigations/{id}/feedback", "post"),
        ("/api/v1/metrics/{name}/points", "post"),
        ("/api/v1/events", "post"),
        ("/api/v1/watches", "post"),
        ("/api/v1/watches", "get"),
        ("/api/v1/watches/{id}", "delete"),
        ("/api/v1/watches/{id}/snooze", "post"),
    ];
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            documented.push((path.clone(), method.clone()));
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2')) && responses.contains_key("401"),
                "{method} {path}: a success and the 401"
            );
            assert_eq!(
                operation["security"][0]["bearer"],
                json!([]),
                "{method} {path}"
            );
            // Every documented route is served: with the token it never answers 404 or 405
            // for the route itself (an unknown id is a JSON 404 with `not_found`).
            let url = format!(
                "{}{}",
                api.serve.url,
                path.replace("{id}", "no-such-id").replace("{name}", "m")
            );
            let request = match method.as_str() {
                "get" => api.http.get(url),
                "delete" => api.http.delete(url),
                _ => api
                    .http
                    .post(url)
                    .header("content-type", "application/json")
                    .body("{}"),
            };
            let response = request.bearer_auth(TOKEN).send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(
                status != StatusCode::NOT_FOUND || body["error"] == "not_found",
                "{method} {path}: {status} {body}"
            );
        }
    }
    documented.sort();
    let mut expected: Vec<(String, String)> = expected
        .iter()
        .map(|(p, m)| (p.to_string(), m.to_string()))
        .collect();
    expected.sort();
    assert_eq!(documented, expected);

    // Every reference resolves to a schema the document holds.
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "dangling $ref {name}");
    }
    assert_eq!(
        schemas["ProblemDoc"]["required"],
        json!(["error", "detail"])
    );

    // The verdict's schema names exactly the keys a real verdict has, at every level (the
    // second investigation of the same shape recalls the first as a similar incident).
    let csv = example("db_query_latency.csv");
    api.post("/investigations?metric=first", "text/csv", csv.clone())
        .await;
    let (_, verdict) = api
        .post("/investigations?metric=second", "text/csv", csv)
        .await;
    let keys = |object: &Value| -> Vec<String> {
        let mut keys: Vec<String> = object.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    let described = |schema: &str| keys(&schemas[schema]["properties"]);
    assert_eq!(described("VerdictDoc"), keys(&verdict));
    assert_eq!(described("AgentDoc"), keys(&verdict["agents"][0]));
    assert_eq!(
        described("EvidenceDoc"),
        keys(&verdict["agents"][0]["evidence"][0])
    );
    assert_eq!(described("AnomalyDoc"), keys(&verdict["anomalies"][0]));
    assert_eq!(
        described("SimilarDoc"),
        keys(&verdict["similar_incidents"][0]),
        "{verdict}"
    );
    let read: Result<anomaly_hunter::http::verdict_doc::VerdictDoc, _> =
        serde_json::from_value(verdict);
    assert!(read.is_ok(), "a real verdict reads as its schema: {read:?}");
}

#[tokio::test]
async fn query_string_errors_are_the_documented_json_400() {
    let api = Api::start("query-errors");
    let (_, verdict) = api
        .post(
            "/investigations?metric=q",
            "text/csv",
            example("disk_io_spike.csv"),
        )
        .await;
    let id = verdict["id"].as_str().unwrap().to_string();
    for path in [
        "/investigations?limit=abc".to_string(),
        "/investigations?limit=9223372036854775808".to_string(),
        format!("/investigations/{id}/chart.png?from=abc&to=1"),
        "/investigations?metric=q&limit=-".to_string(),
    ] {
        let response = api
            .http
            .get(api.url(&path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(content_type, "application/json", "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "bad_request", "{path}: {body}");
        assert!(
            !body["detail"].as_str().unwrap().is_empty(),
            "{path}: {body}"
        );
    }
    let doc = api.openapi().await;
    for (path, method) in [
        ("/api/v1/investigations", "get"),
        ("/api/v1/investigations/{id}", "get"),
        ("/api/v1/investigations/{id}/chart.png", "get"),
    ] {
        assert!(
            doc["paths"][path][method]["responses"]
                .as_object()
                .unwrap()
                .contains_key("400"),
            "{method} {path} lists its 400"
        );
    }
}

#[tokio::test]
async fn the_documented_request_shapes_are_what_the_api_reads() {
    let api = Api::start("shapes");
    let doc = api.openapi().await;
    let schemas = &doc["components"]["schemas"];
    let kinds: Vec<&Value> = schemas["Timestamp"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|variant| &variant["type"])
        .collect();
    assert_eq!(
        kinds,
        [&json!("string"), &json!("number")],
        "{}",
        schemas["Timestamp"]
    );

    // The three shapes of POST /investigations: a body is one of them by its keys alone.
    let variants: Vec<&Value> = schemas["InvestigationRequest"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|variant| {
            let name = variant["$ref"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap();
            &schemas[name]
        })
        .collect();
    assert_eq!(variants.len(), 3);
    let matches = |body: &Value| {
        variants
            .iter()
            .filter(|schema| {
                let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
                let properties = schema["properties"].as_object().unwrap();
                let required = schema["required"].as_array().unwrap();
                schema["additionalProperties"] == json!(false)
                    && keys.iter().all(|k| properties.contains_key(*k))
                    && required.iter().all(|r| keys.iter().any(|k| *k == r))
            })
            .count()
    };
    let minutes: Vec<Value> = (0..40).map(|i| json!(1_767_225_600 + i * 60)).collect();
    let mut values: Vec<f64> = (0..40).map(|i| 10.0 + f64::from(i % 3)).collect();
    values[30] = 90.0;
    let points = json!({"timestamps": minutes, "values": values, "metric": "shaped"});
    assert_eq!(
        matches(&points),
        1,
        "a points body with a metric is one shape"
    );
    assert_eq!(matches(&json!({"metric": "shaped", "since": "6h"})), 1);
    assert_eq!(matches(&json!({"query": "up", "since": "1h"})), 1);

    // Timestamps as the document says — strings and numbers — are read.
    let mut mixed = points.clone();
    mixed["timestamps"][0] = json!("2026-01-01T00:00:00Z");
    let (status, verdict) = api.post_json("/investigations", mixed).await;
    assert_eq!(status, StatusCode::OK, "{verdict}");
    let (status, _) = api
        .post_json(
            "/detect",
            json!({"data": values, "timestamps": (0..40).map(|i| json!(1_767_225_600_000i64 + i * 60_000)).collect::<Vec<_>>()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn extreme_numbers_get_finite_verdicts_and_charts() {
    let api = Api::start("extremes");
    let mut hanging = vec![-3e16; 19];
    hanging.extend([-f64::MAX, -3e16, 0.0]);
    let mut infinite: Vec<f64> = (0..42).map(|i| 100.0 + f64::from(i % 7)).collect();
    infinite.push(1e308);
    for data in [hanging, infinite] {
        let (status, verdict) = api.post_json("/detect", json!({ "data": data })).await;
        assert_eq!(status, StatusCode::OK, "{verdict}");
        let read: Result<anomaly_hunter::http::verdict_doc::VerdictDoc, _> =
            serde_json::from_value(verdict.clone());
        assert!(read.is_ok(), "every number is a number: {verdict}");
        let id = verdict["id"].as_str().unwrap();
        for path in [
            format!("/investigations/{id}/chart.png"),
            format!("/investigations/{id}"),
        ] {
            let response = tokio::time::timeout(
                std::time::Duration::from_secs(20),
                api.http.get(api.url(&path)).bearer_auth(TOKEN).send(),
            )
            .await
            .expect("answered in time")
            .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
        }
    }
}
