//! `/api/v1`: investigations for tools without a chat client — a CSV or JSON points in, the
//! verdict JSON out (the same document as `detect --format json`); the history, one stored
//! investigation, and feedback; metric points and events to store. With `ANOMALY_HUNTER_API_TOKEN` set every request needs
//! `Authorization: Bearer <token>`; without it the API answers only because the listener is
//! loopback (start-up refuses a non-loopback listener without a token).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::extract::{ApiPath, ApiQuery};
use super::problem::{Problem, ProblemDoc};
use super::verdict_doc::VerdictDoc;
use crate::chat::service::{ChatService, Investigated};
use crate::chat::watches::WatchPlace;
use crate::pipeline::Origin;
use crate::sources::promql::is_metric_name;
use crate::sources::remote_write::{Refusal, RemoteWrite, RETRY_AFTER};
use crate::store::{HistoryFilter, NewFeedback};
use engine::learning::FeedbackVerdict;
use engine::series::csv::{parse_csv, CsvOptions};
use engine::series::events::{parse_events, Event};
use engine::series::timestamp::{parse_duration, TimestampFormat};
use engine::series::{RawRow, Series};

/// Most investigations one page of the history holds.
const MAX_PAGE: i64 = 200;

#[derive(Clone)]
struct Api {
    service: ChatService,
    token: Option<String>,
    /// `POST /write`, when `ANOMALY_HUNTER_REMOTE_WRITE_MATCH` is set.
    remote_write: Option<Arc<RemoteWrite>>,
}

/// The routes, to be nested at `/api/v1`.
pub fn routes(
    service: ChatService,
    token: Option<String>,
    remote_write: Option<Arc<RemoteWrite>>,
) -> Router {
    let max_bytes = usize::try_from(service.limits().max_bytes).unwrap_or(usize::MAX);
    let api = Api {
        service,
        token,
        remote_write,
    };
    Router::new()
        .route("/investigations", post(investigate).get(list))
        .route("/detect", post(detect))
        .route("/investigations/{id}", get(one))
        .route("/investigations/{id}/chart.png", get(chart))
        .route("/investigations/{id}/feedback", post(feedback))
        .route("/metrics/{name}/points", post(store_points))
        .route("/events", post(store_events))
        .route("/watches", post(add_watch).get(list_watches))
        .route("/watches/{id}", axum::routing::delete(remove_watch))
        .route("/watches/{id}/snooze", post(snooze_watch))
        .route("/write", post(receive_remote_write))
        .layer(DefaultBodyLimit::max(max_bytes))
        .layer(axum::middleware::from_fn_with_state(api.clone(), authorize))
        // The description of the API is public: it holds no data.
        .route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
        .with_state(api)
}

/// Refuses a request without the bearer token, when one is configured.
async fn authorize(State(api): State<Api>, request: Request, next: Next) -> Response {
    use axum::response::IntoResponse as _;
    let Some(token) = &api.token else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if super::constant_time_eq(given.as_bytes(), token.as_bytes()) {
        next.run(request).await
    } else {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send `Authorization: Bearer <ANOMALY_HUNTER_API_TOKEN>`",
        )
        .into_response()
    }
}

/// The body, or why it was refused (too large: 413 with the limit).
fn body(bytes: Result<Bytes, BytesRejection>, api: &Api) -> Result<Bytes, Problem> {
    bytes.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "the body is larger than the {}-byte limit (ANOMALY_HUNTER_MAX_BYTES)",
                api.service.limits().max_bytes
            ),
        ),
        status => Problem::new(status, "bad_request", rejection.body_text()),
    })
}

/// The two bodies the API reads.
enum Media {
    Csv,
    Json,
}

/// The body's media type, or the 415 that says what to send (`shapes`).
fn media(headers: &HeaderMap, shapes: &str) -> Result<Media, Problem> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("text/csv") || content_type.starts_with("application/csv") {
        Ok(Media::Csv)
    } else if content_type.starts_with("application/json") {
        Ok(Media::Json)
    } else {
        Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            shapes,
        ))
    }
}

/// `?metric=` names the metric of an uploaded CSV.
#[derive(Deserialize)]
struct CsvQuery {
    metric: Option<String>,
}

/// What `POST /investigations` takes as JSON: points, a stored metric or a PromQL query,
/// told apart by their keys (`timestamps`, `metric` without `timestamps`, `query`).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
enum InvestigationRequest {
    Points(PointsInvestigation),
    Stored(StoredInvestigation),
    Query(QueryInvestigation),
}

/// Points: timestamps (RFC 3339 strings, or Unix seconds or milliseconds) and values.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PointsInvestigation {
    #[schema(value_type = Vec<Timestamp>)]
    timestamps: Vec<Value>,
    values: Vec<Option<f64>>,
    metric: Option<String>,
    /// Deploys and config changes, stored (as `POST /events`) and lined up with what
    /// changed.
    #[serde(default)]
    events: Vec<EventRequest>,
}

/// A stored metric, optionally only its last stretch (`6h`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StoredInvestigation {
    metric: String,
    since: Option<String>,
    #[serde(default)]
    events: Vec<EventRequest>,
}

/// A PromQL expression (with PROMETHEUS_URL).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct QueryInvestigation {
    query: String,
    since: Option<String>,
    #[serde(default)]
    events: Vec<EventRequest>,
}

impl InvestigationRequest {
    /// The events given with the request.
    fn events(&mut self) -> Vec<EventRequest> {
        match self {
            Self::Points(PointsInvestigation { events, .. })
            | Self::Stored(StoredInvestigation { events, .. })
            | Self::Query(QueryInvestigation { events, .. }) => std::mem::take(events),
        }
    }
}

const REQUEST_SHAPES: &str = "send text/csv, or JSON {\"timestamps\": [...], \"values\": [...], \"metric\": \"name\"}, {\"metric\": \"name\", \"since\": \"6h\"} or {\"query\": \"PromQL\", \"since\": \"1h\"}, each with optional \"events\": [{\"timestamp\", \"kind\", \"description\"}]";

#[utoipa::path(post, path = "/api/v1/investigations", tag = "investigations",
    summary = "Investigate a CSV, JSON points, a stored metric or a PromQL query",
    params(("metric" = Option<String>, Query, description = "The metric's name, for a CSV")),
    request_body(content((InvestigationRequest = "application/json"), (String = "text/csv"))),
    responses(
        (status = 200, description = "The verdict, as `detect --format json` prints it", body = VerdictDoc),
        (status = 400, description = "Malformed request", body = ProblemDoc),
        (status = 401, description = "No or wrong bearer token", body = ProblemDoc),
        (status = 413, description = "Over ANOMALY_HUNTER_MAX_BYTES or _MAX_ROWS", body = ProblemDoc),
        (status = 415, description = "Neither text/csv nor application/json", body = ProblemDoc),
        (status = 422, description = "Not investigable (too few points, a text cell…)", body = ProblemDoc),
        (status = 503, description = "The investigation queue is full", body = ProblemDoc),
    ),
    security(("bearer" = [])))]
async fn investigate(
    State(api): State<Api>,
    ApiQuery(query): ApiQuery<CsvQuery>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Problem> {
    let bytes = body(bytes, &api)?;
    let origin = Origin::new("api");
    if let Media::Csv = media(&headers, REQUEST_SHAPES)? {
        let metric = query.metric.unwrap_or_else(|| "upload".to_string());
        let investigated = run(&api, async {
            api.service
                .check_file("upload.csv", bytes.to_vec(), Some(&metric), &origin)
                .await
        })
        .await?;
        return verdict_json(&investigated);
    }
    let mut request: InvestigationRequest = serde_json::from_slice(&bytes)
        .map_err(|e| Problem::bad_request(format!("{e}; {REQUEST_SHAPES}")))?;
    let events = events_of(request.events(), "events")?;
    if !events.is_empty() {
        api.service.store().save_events(&events).await?;
    }
    let investigated = match request {
        InvestigationRequest::Points(PointsInvestigation {
            timestamps,
            values,
            metric,
            ..
        }) => {
            let series = series_of(
                &api,
                metric.as_deref().unwrap_or("upload"),
                &timestamps,
                values,
            )?;
            run(&api, api.service.check_series(series, &origin)).await?
        }
        InvestigationRequest::Stored(StoredInvestigation { metric, since, .. }) => {
            let lookback = since.as_deref().map(lookback).transpose()?;
            run(&api, async {
                api.service
                    .check_metric(&metric, lookback, &origin)
                    .await
                    .map_err(|e| e.to_string())
            })
            .await?
        }
        InvestigationRequest::Query(QueryInvestigation { query, since, .. }) => {
            let lookback = since.as_deref().map(lookback).transpose()?;
            run(
                &api,
                api.service.check_query(&query, lookback, None, &origin),
            )
            .await?
        }
    };
    verdict_json(&investigated)
}

/// The prototype's request: `{"data": [values], "timestamps": [...]}` (timestamps optional:
/// then one point a minute, ending now).
#[derive(Deserialize, ToSchema)]
struct DetectRequest {
    data: Vec<Option<f64>>,
    #[schema(value_type = Option<Vec<Timestamp>>)]
    timestamps: Option<Vec<Value>>,
    metric: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/detect", tag = "investigations",
    summary = "The prototype's detect: values (and optional timestamps) in, the verdict out",
    request_body = DetectRequest,
    responses(
        (status = 200, description = "The verdict", body = VerdictDoc),
        (status = 400, description = "Malformed request", body = ProblemDoc),
        (status = 401, description = "No or wrong bearer token", body = ProblemDoc),
        (status = 422, description = "Not investigable", body = ProblemDoc),
    ),
    security(("bearer" = [])))]
async fn detect(
    State(api): State<Api>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Problem> {
    let bytes = body(bytes, &api)?;
    let request: DetectRequest = serde_json::from_slice(&bytes).map_err(|e| {
        Problem::bad_request(format!(
            "{e}; send {{\"data\": [values], \"timestamps\": [optional, one per value]}}"
        ))
    })?;
    let timestamps = request.timestamps.unwrap_or_else(|| {
        let now = chrono::Utc::now().timestamp_millis();
        let n = request.data.len() as i64;
        (0..n).map(|i| json!(now - (n - 1 - i) * 60_000)).collect()
    });
    let metric = request.metric.as_deref().unwrap_or("upload");
    let series = series_of(&api, metric, &timestamps, request.data)?;
    let investigated = run(&api, api.service.check_series(series, &Origin::new("api"))).await?;
    verdict_json(&investigated)
}

/// Runs an investigation when a slot is free (the same queue as chat commands).
async fn run(
    api: &Api,
    work: impl std::future::Future<Output = Result<Investigated, String>>,
) -> Result<Investigated, Problem> {
    let ticket = api
        .service
        .ticket()
        .map_err(|busy| Problem::new(StatusCode::SERVICE_UNAVAILABLE, "busy", busy))?;
    ticket.run(work).await.map_err(Problem::unprocessable)
}

fn verdict_json(investigated: &Investigated) -> Result<Json<Value>, Problem> {
    serde_json::to_value(&investigated.verdict)
        .map(Json)
        .map_err(Problem::internal)
}

fn lookback(since: &str) -> Result<i64, Problem> {
    parse_duration(since).map_err(|e| Problem::unprocessable(format!("since: {e}")))
}

/// A series from JSON points; each timestamp an RFC 3339 string or Unix seconds/milliseconds.
fn series_of(
    api: &Api,
    metric: &str,
    timestamps: &[Value],
    values: Vec<Option<f64>>,
) -> Result<Series, Problem> {
    let rows = raw_rows(api, timestamps, values)?;
    Series::from_rows(metric, Vec::new(), rows).map_err(|e| Problem::unprocessable(e.to_string()))
}

/// Rows from JSON points, one timestamp per value, within ANOMALY_HUNTER_MAX_ROWS; a
/// timestamp is an RFC 3339 string or Unix seconds or milliseconds.
fn raw_rows(
    api: &Api,
    timestamps: &[Value],
    values: Vec<Option<f64>>,
) -> Result<Vec<RawRow>, Problem> {
    let max_rows = api.service.limits().max_rows;
    if values.len() > max_rows {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "{} points is more than the {max_rows}-row limit (ANOMALY_HUNTER_MAX_ROWS)",
                values.len()
            ),
        ));
    }
    if timestamps.len() != values.len() {
        return Err(Problem::unprocessable(format!(
            "{} timestamps for {} values: give one timestamp per value",
            timestamps.len(),
            values.len()
        )));
    }
    timestamps
        .iter()
        .zip(values)
        .enumerate()
        .map(|(i, (timestamp, value))| {
            Ok(RawRow {
                timestamp: timestamp_of(timestamp)
                    .ok_or_else(|| not_a_timestamp(&format!("timestamps[{i}]"), timestamp))?,
                value: value.filter(|v| v.is_finite()),
                related: Vec::new(),
            })
        })
        .collect()
}

/// A JSON timestamp: an RFC 3339 (or `YYYY-MM-DD HH:MM:SS`) string, or Unix seconds or
/// milliseconds.
fn timestamp_of(value: &Value) -> Option<i64> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    TimestampFormat::detect(&text).and_then(|format| format.parse(&text))
}

fn not_a_timestamp(field: &str, value: &Value) -> Problem {
    Problem::unprocessable(format!(
        "{field}: `{value}` is not a timestamp (RFC 3339, or Unix seconds or milliseconds)"
    ))
}

#[derive(Deserialize)]
struct ListQuery {
    metric: Option<String>,
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/investigations", tag = "investigations",
    summary = "Past investigations, newest first",
    params(
        ("metric" = Option<String>, Query, description = "Only this metric"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The previous page's next_cursor"),
    ),
    responses(
        (status = 200, description = "{investigations: [...], next_cursor}", body = Object),
        (status = 400, description = "Malformed request", body = ProblemDoc),
        (status = 401, description = "No or wrong bearer token", body = ProblemDoc),
        (status = 404, description = "The cursor is not one this API gave", body = ProblemDoc),
    ),
    security(("bearer" = [])))]
async fn list(
    State(api): State<Api>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Value>, Problem> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Problem::bad_request(format!(
            "limit must be 1 to {MAX_PAGE}"
        )));
    }
    let store = api.service.store();
    if let Some(cursor) = &query.cursor {
        store.investigation(cursor).await.map_err(|_| {
            Problem::not_found(format!(
                "cursor `{cursor}` is not a `next_cursor` this API gave"
            ))
        })?;
    }
    let filter = HistoryFilter {
        metric: query.metric,
        ..HistoryFilter::default()
    };
    let page = store
        .history_after(&filter, limit, query.cursor.as_deref())
        .await?;
    let next_cursor = (page.len() as i64 == limit)
        .then(|| page.last().map(|e| e.id.clone()))
        .flatten();
    Ok(Json(
        json!({"investigations": page, "next_cursor": next_cursor}),
    ))
}

#[utoipa::path(get, path = "/api/v1/investigations/{id}", tag = "investigations",
    summary = "One investigation's verdict, as stored",
    params(("id" = String, Path, description = "Investigation id")),
    responses(
        (status = 200, description = "The verdict", body = VerdictDoc),
        (status = 400, description = "Malformed request", body = ProblemDoc),
        (status = 401, description = "No or wrong bearer token", body = ProblemDoc),
        (status = 404, description = "No such investigation", body = ProblemDoc),
    ),
    security(("bearer" = [])))]
async fn one(State(api): State<Api>, ApiPath(id): ApiPath<String>) -> Result<Json<Value>, Problem> {
    Ok(Json(api.service.store().investigation(&id).await?.verdict))
}

#[utoipa::path(get, path = "/api/v1/investigations/{id}/chart.png", tag = "investigations",
    summary = "One investigation's chart: the series, the expected band, the anomalous windows",
    params(
        ("id" = String, Path, description = "Investigation id"),
        ("from" = Option<i64>, Query, description = "With `to`: draw only this stretch (UTC ms), to zoom in"),
        ("to" = Option<i64>, Query, description = "End of the stretch (UTC ms)"),
    ),
    responses(
        (status = 200, description = "The chart, 1200×500", content_type = "image/png", body = Vec<u8>),
        (status = 400, description = "Malformed request (`from` or `to` not a number)", body = ProblemDoc),
        (status = 401, description = "No or wrong bearer token", body = ProblemDoc),
        (status = 404, description = "No such investigation, or one stored before charts were kept", body = ProblemDoc),
        (status = 503, description = "The chart was not drawn in time", body = ProblemDoc),
    ),
    security(("bearer" = [])))]
async fn chart(
    State(api): State<Api>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(stretch): ApiQuery<super::Stretch>,
) -> Result<Response, Problem> {
    use axum::response::IntoResponse as _;
    let png = super::chart_png(api.service.store(), &id, stretch).await?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct FeedbackRequest {
    /// `confirmed` or `false_positive`.
    verdict: String,
    root_cause: Option<String>,
    author: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/investigations/{id}/feedback", tag = "investigations",
    summary = "Confirm a verdict or call it a false positive; the bot learns from it",
    params(("id" = String, Path, description = "Investigation id")),
    request_body = FeedbackRequest,
    responses(
        (status = 201, description = "{recorded, learning}", body = Object),
        (status = 400, description = "Malformed request", body = ProblemDoc),
        (status = 401, description = "No or wrong bearer token", body = ProblemDoc),
        (status = 404, description = "No such investigation", body = ProblemDoc),
        (status = 422, description = "Unknown verdict, or a false positive on a normal verdict", body = ProblemDoc),
    ),
    security(("bearer" = [])))]
async fn feedback(
    State(api): State<Api>,
    ApiPath(id): ApiPath<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let bytes = body(bytes, &api)?;
    let request: FeedbackRequest = serde_json::from_slice(&bytes).map_err(|e| {
        Problem::bad_request(format!(
            "{e}; send {{\"verdict\": \"confirmed\" or \"false_positive\", \"root_cause\": optional}}"
        ))
    })?;
    let verdict = FeedbackVerdict::parse(&request.verdict).ok_or_else(|| {
        Problem::unprocessable(format!(
            "verdict `{}` must be `confirmed` or `false_positive`",
            request.verdict
        ))
    })?;
    let outcome = api
        .service
        .store()
        .add_feedback(NewFeedback {
            investigation_id: id,
            verdict,
            root_cause: request.root_cause.filter(|c| !c.trim().is_empty()),
            author: request.author,
            platform: Some("api".to_string()),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"recorded": verdict.as_str(), "learning": outcome})),
    ))
}

/// JSON points to store: `{"timestamps": [...], "values": [...]}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PointsRequest {
    #[schema(value_type = Vec<Timestamp>)]
    timestamps: Vec<Value>,
    values: Vec<Option<f64>>,
}

/// Stores points under `name` (a point at a stored timestamp is replaced): a CSV (as
/// `anomaly-hunter ingest` reads it, other columns stored as `name.column`) or JSON points,
/// any number of them.
/// Prometheus remote write 1.0. Not in the OpenAPI document: the body is Prometheus' own
/// snappy-compressed protobuf, specified by Prometheus. 204 once the broker holds the selected
/// samples; 400 for what is not remote write (Prometheus drops it); 503 with `Retry-After`
/// when the broker does not take them or too many requests are in flight (Prometheus retries).
async fn receive_remote_write(
    State(api): State<Api>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Response {
    use axum::response::IntoResponse as _;
    let Some(receiver) = &api.remote_write else {
        return Problem::new(
            StatusCode::NOT_FOUND,
            "remote_write_off",
            "remote write is off: set ANOMALY_HUNTER_REMOTE_WRITE_MATCH (with REDPANDA_METRICS_TOPIC)",
        )
        .into_response();
    };
    let body = match body(bytes, &api) {
        Ok(body) => body,
        Err(problem) => return problem.into_response(),
    };
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("snappy");
    if !encoding.eq_ignore_ascii_case("snappy") {
        crate::telemetry::remote_write("malformed", 0, 0);
        return Problem::bad_request(format!(
            "Content-Encoding is `{encoding}`; remote write 1.0 is snappy"
        ))
        .into_response();
    }
    match receiver.accept(&body).await {
        Ok(decoded) => {
            crate::telemetry::remote_write("accepted", decoded.samples, decoded.points.len());
            StatusCode::NO_CONTENT.into_response()
        }
        Err(Refusal::Malformed(why)) => {
            crate::telemetry::remote_write("malformed", 0, 0);
            Problem::bad_request(why).into_response()
        }
        Err(Refusal::Busy) => {
            crate::telemetry::remote_write("busy", 0, 0);
            retry_later("too many remote-write requests at once; retry shortly")
        }
        Err(Refusal::Unavailable(why)) => {
            crate::telemetry::remote_write("broker_unavailable", 0, 0);
            tracing::warn!(reason = %why, "remote write refused (503): the broker did not take the samples; Prometheus will retry");
            retry_later(&format!(
                "the metrics topic did not take the samples ({why}); retry later"
            ))
        }
    }
}

/// A 503 that asks the sender to come back after [`RETRY_AFTER`].
fn retry_later(detail: &str) -> Response {
    use axum::response::IntoResponse as _;
    let mut response =
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail).into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from(RETRY_AFTER.as_secs()),
    );
    response
}

#[utoipa::path(post, path = "/api/v1/metrics/{name}/points", tag = "data",
    summary = "Store a metric's points (a point at a stored timestamp is replaced)",
    params(("name" = String, Path, pattern = "^[A-Za-z0-9_.:-]+$", description = "Metric name: letters, digits, `_ . : -`")),
    request_body(content((PointsRequest = "application/json"), (String = "text/csv"))),
    responses(
        (status = 201, description = "{metric, stored}", body = Object),
        (status = 400, description = "Malformed request", body = ProblemDoc),
        (status = 401, description = "No or wrong bearer token", body = ProblemDoc),
        (status = 413, description = "Over the size limits", body = ProblemDoc),
        (status = 415, description = "Neither text/csv nor application/json", body = ProblemDoc),
        (status = 422, description = "A bad cell or timestamp", body = ProblemDoc),
    ),
    security(("bearer" = [])))]
async fn store_points(
    State(api): State<Api>,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let bytes = body(bytes, &api)?;
    if !is_metric_name(&name) {
        return Err(Problem::bad_request(format!(
            "`{name}` is not a metric name (letters, digits, `_ . : -`)"
        )));
    }
    let store = api.service.store();
    let shapes = "send text/csv or JSON {\"timestamps\": [...], \"values\": [...]}";
    let stored = if let Media::Csv = media(&headers, shapes)? {
        let options = CsvOptions {
            limits: api.service.limits(),
            ..CsvOptions::default()
        };
        let series = crate::pipeline::compute(|| {
            parse_csv(bytes.to_vec(), "points.csv", &options, Some(name.clone()))
        })
        .map_err(|e| Problem::unprocessable(e.to_string()))?;
        store.ingest_series(&series).await?
    } else {
        let request: PointsRequest = serde_json::from_slice(&bytes).map_err(|e| {
            Problem::bad_request(format!(
                "{e}; send {{\"timestamps\": [...], \"values\": [...]}}"
            ))
        })?;
        let rows = raw_rows(&api, &request.timestamps, request.values)?;
        let (timestamps, values): (Vec<i64>, Vec<f64>) = rows
            .into_iter()
            .filter_map(|row| Some((row.timestamp, row.value?)))
            .unzip();
        store.ingest_points(&name, &timestamps, &values).await?
    };
    Ok((
        StatusCode::CREATED,
        Json(json!({"metric": name, "stored": stored})),
    ))
}

/// One event as JSON.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EventRequest {
    #[schema(value_type = Timestamp)]
    timestamp: Value,
    kind: String,
    #[serde(default)]
    description: String,
}

/// Stores deploys and config changes — a `timestamp,kind,description` CSV or a JSON list of
/// `{timestamp, kind, description}` — for the Change Detective to line up with what it finds.
#[utoipa::path(post, path = "/api/v1/events", tag = "data",
    summary = "Store deploys and config changes for the Change Detective",
    request_body(content((Vec<EventRequest> = "application/json"), (String = "text/csv"))),
    responses(
        (status = 201, description = "{stored}", body = Object),
        (status = 400, description = "Malformed request", body = ProblemDoc),
        (status = 401, description = "No or wrong bearer token", body = ProblemDoc),
        (status = 415, description = "Neither text/csv nor application/json", body = ProblemDoc),
        (status = 422, description = "A bad timestamp", body = ProblemDoc),
    ),
    security(("bearer" = [])))]
async fn store_events(
    State(api): State<Api>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let bytes = body(bytes, &api)?;
    let shapes = "send text/csv (timestamp,kind,description) or a JSON list of {timestamp, kind, description}";
    let events = if let Media::Csv = media(&headers, shapes)? {
        parse_events(bytes.to_vec(), "events.csv", api.service.limits())
            .map_err(|e| Problem::unprocessable(e.to_string()))?
    } else {
        let requests: Vec<EventRequest> = serde_json::from_slice(&bytes).map_err(|e| {
            Problem::bad_request(format!(
                "{e}; send [{{\"timestamp\": \"2026-11-20T08:15:00Z\", \"kind\": \"deploy\", \"description\": \"api v2.3\"}}]"
            ))
        })?;
        events_of(requests, "")?
    };
    api.service.store().save_events(&events).await?;
    Ok((StatusCode::CREATED, Json(json!({"stored": events.len()}))))
}

/// Events from JSON; `field` names the list in errors (`events[2].timestamp`).
fn events_of(requests: Vec<EventRequest>, field: &str) -> Result<Vec<Event>, Problem> {
    requests
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            Ok(Event {
                timestamp: timestamp_of(&event.timestamp).ok_or_else(|| {
                    not_a_timestamp(&format!("{field}[{i}].timestamp"), &event.timestamp)
                })?,
                kind: event.kind.trim().to_ascii_lowercase(),
                description: event.description.trim().to_string(),
            })
        })
        .collect()
}

/// A watch to add.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct WatchRequest {
    /// A metric name or a PromQL expression.
    query: String,
    /// Step between scored points: `15s`, `1m` (default).
    every: Option<String>,
    /// Most series scored (default 500); the rest are left out and counted. (Read as a
    /// number: JSON's `2000.0` is the integer 2000.)
    #[schema(value_type = Option<i64>, minimum = 1)]
    max_series: Option<f64>,
    /// Where its incidents go (default: ALERT_SLACK_CHANNEL / ALERT_DISCORD_CHANNEL).
    slack_channel: Option<String>,
    discord_channel: Option<String>,
}

/// Adds a watch, once Prometheus has answered its query: every series it returns is scored
/// each step and an incident opens one thread.
#[utoipa::path(post, path = "/api/v1/watches", tag = "watches",
    summary = "Watch a metric or PromQL query",
    request_body = WatchRequest,
    responses(
        (status = 201, description = "The watch (id, query, step_ms, …) and `series_now`", body = Object),
        (status = 400, description = "Malformed request", body = ProblemDoc),
        (status = 401, description = "No or wrong bearer token", body = ProblemDoc),
        (status = 422, description = "No Prometheus, it refused the query, or the settings contradict each other", body = ProblemDoc),
    ),
    security(("bearer" = [])))]
async fn add_watch(
    State(api): State<Api>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), Problem> {
    let bytes = body(bytes, &api)?;
    let request: WatchRequest = serde_json::from_slice(&bytes).map_err(|e| {
        Problem::bad_request(format!("{e}; send {{\"query\": \"…\", \"every\": \"1m\"}}"))
    })?;
    let series_cap = request
        .max_series
        .map(|cap| match cap {
            cap if cap.fract() == 0.0 && (1.0..=1e9).contains(&cap) => Ok(cap as i64),
            cap => Err(Problem::unprocessable(format!(
                "max_series: {cap} is not a whole number of series from 1 to 1,000,000,000"
            ))),
        })
        .transpose()?;
    let step_ms = request
        .every
        .as_deref()
        .map(|every| {
            parse_duration(every).map_err(|e| Problem::unprocessable(format!("every: {e}")))
        })
        .transpose()?;
    let (platform, channel) = match (request.slack_channel, request.discord_channel) {
        (Some(_), Some(_)) => {
            return Err(Problem::unprocessable(
                "give slack_channel or discord_channel, not both",
            ))
        }
        (Some(channel), None) => (Some("slack".to_string()), Some(channel)),
        (None, Some(channel)) => (Some("discord".to_string()), Some(channel)),
        (None, None) => (None, None),
    };
    let place = WatchPlace {
        platform,
        channel,
        user: "api".to_string(),
    };
    let (watch, series_now) = api
        .service
        .add_watch(&request.query, step_ms, series_cap, &place)
        .await
        .map_err(Problem::unprocessable)?;
    let mut document = serde_json::to_value(&watch).map_err(Problem::internal)?;
    document["series_now"] = json!(series_now);
    Ok((StatusCode::CREATED, Json(document)))
}

/// Every watch with its state (`healthy`, `failing` and why), series, open incidents and
/// alert budget (incidents per series-week).
#[utoipa::path(get, path = "/api/v1/watches", tag = "watches",
    summary = "List the watches",
    responses(
        (status = 200, description = "The watches with their state", body = Vec<Object>),
        (status = 401, description = "No or wrong bearer token", body = ProblemDoc),
    ),
    security(("bearer" = [])))]
async fn list_watches(State(api): State<Api>) -> Result<Json<Value>, Problem> {
    let statuses = api
        .service
        .watch_statuses(None)
        .await
        .map_err(Problem::internal)?;
    Ok(Json(json!(statuses)))
}

/// Stops a watch; the threads of its incidents stay.
#[utoipa::path(delete, path = "/api/v1/watches/{id}", tag = "watches",
    summary = "Remove a watch",
    params(("id" = String, Path, description = "Watch id (`w-…`)")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No or wrong bearer token", body = ProblemDoc),
        (status = 404, description = "No such watch", body = ProblemDoc),
    ),
    security(("bearer" = [])))]
async fn remove_watch(
    State(api): State<Api>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    if api.service.store().watch(&id).await?.is_none() {
        return Err(Problem::not_found(format!("no watch `{id}`")));
    }
    api.service
        .remove_watch(&id)
        .await
        .map_err(Problem::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// How long a watch posts nothing new.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SnoozeRequest {
    /// `2h`, `30m`.
    #[serde(rename = "for")]
    for_: String,
}

/// Snoozes a watch: its series are still scored, its incidents are not posted.
#[utoipa::path(post, path = "/api/v1/watches/{id}/snooze", tag = "watches",
    summary = "Snooze a watch",
    params(("id" = String, Path, description = "Watch id (`w-…`)")),
    request_body = SnoozeRequest,
    responses(
        (status = 200, description = "{id, snoozed_until}", body = Object),
        (status = 400, description = "Malformed request", body = ProblemDoc),
        (status = 401, description = "No or wrong bearer token", body = ProblemDoc),
        (status = 404, description = "No such watch", body = ProblemDoc),
    ),
    security(("bearer" = [])))]
async fn snooze_watch(
    State(api): State<Api>,
    ApiPath(id): ApiPath<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Problem> {
    let bytes = body(bytes, &api)?;
    let request: SnoozeRequest = serde_json::from_slice(&bytes)
        .map_err(|e| Problem::bad_request(format!("{e}; send {{\"for\": \"2h\"}}")))?;
    let for_ms =
        parse_duration(&request.for_).map_err(|e| Problem::unprocessable(format!("for: {e}")))?;
    let until = api
        .service
        .snooze_watch(&id, for_ms)
        .await
        .map_err(Problem::not_found)?;
    Ok(Json(json!({"id": id, "snoozed_until": until})))
}

/// A timestamp: an RFC 3339 string, or Unix seconds or milliseconds.
// The document's name for it: requests read timestamps as JSON values, so that an error can
// name the one that is wrong.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum Timestamp {
    /// RFC 3339 (or `YYYY-MM-DD HH:MM:SS`, UTC).
    Text(String),
    /// Unix seconds or milliseconds.
    Number(f64),
}

/// The OpenAPI document of `/api/v1`, generated from the handlers above.
#[derive(OpenApi)]
#[openapi(
    info(title = "Anomaly Hunter API", description = "Investigations of time series by three statistical agents and a synthesizer; history, feedback, points and events."),
    paths(investigate, detect, list, one, chart, feedback, store_points, store_events, add_watch, list_watches, remove_watch, snooze_watch),
    components(schemas(VerdictDoc, InvestigationRequest, PointsInvestigation, StoredInvestigation, QueryInvestigation, DetectRequest, FeedbackRequest, PointsRequest, EventRequest, Timestamp, WatchRequest, SnoozeRequest, ProblemDoc)),
    modifiers(&BearerToken),
)]
pub struct ApiDoc;

/// The `bearer` security scheme the operations name (ANOMALY_HUNTER_API_TOKEN).
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}
