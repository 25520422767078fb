//! Series from Prometheus and everything that speaks its HTTP API (Thanos, Mimir,
//! VictoriaMetrics, Grafana's proxy): `POST /api/v1/query_range`, form-encoded.
//!
//! A check of the last 6 hours asks for the history before them too (the baseline), with a
//! step that keeps every series under Prometheus' 11,000-point limit and never below the
//! scrape interval. Prometheus' errors become sentences a person can act on.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;
use tokio::sync::OnceCell;

use crate::config::{parse_headers, PrometheusSettings};
use crate::store::HISTORY_FACTOR;
use engine::series::{align, RawRow, Series, SeriesError};

use super::promql;

/// Prometheus refuses a range query with more points per series than this.
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// The scrape interval assumed when the server does not say (Thanos, Mimir, …).
pub const DEFAULT_MIN_STEP_MS: i64 = 15_000;

/// Where Prometheus is and how to authenticate; from `PROMETHEUS_*` (see `.env.example`).
#[derive(Clone)]
pub struct PrometheusConfig {
    /// Base URL, without `/api/v1` (`http://prometheus:9090`, `https://grafana/api/datasources/proxy/uid/x`).
    pub url: String,
    pub bearer_token: Option<String>,
    /// `user:password`.
    pub basic_auth: Option<(String, String)>,
    /// Extra headers such as `X-Scope-OrgID: tenant` (Mimir, Cortex).
    pub headers: Vec<(String, String)>,
    /// Per request; Prometheus is also told to give up by then.
    pub timeout: Duration,
    /// The smallest step (the scrape interval); `None` reads the server's global
    /// `scrape_interval` once.
    pub min_step_ms: Option<i64>,
}

impl std::fmt::Debug for PrometheusConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusConfig")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A request to Prometheus gives up after this long unless `PROMETHEUS_TIMEOUT` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

impl PrometheusConfig {
    /// From the `PROMETHEUS_*` settings (values already checked by clap); `None` without a URL.
    pub fn from_settings(settings: &PrometheusSettings) -> Option<Self> {
        let url = settings.prometheus_url.as_deref()?;
        Some(Self {
            url: url.trim().trim_end_matches('/').to_string(),
            bearer_token: settings.prometheus_bearer_token.clone(),
            basic_auth: settings
                .prometheus_basic_auth
                .as_deref()
                .and_then(|pair| pair.split_once(':'))
                .map(|(user, password)| (user.to_string(), password.to_string())),
            headers: settings
                .prometheus_headers
                .as_deref()
                .and_then(|list| parse_headers(list).ok())
                .unwrap_or_default(),
            timeout: Duration::from_millis(settings.prometheus_timeout.max(1_000) as u64),
            min_step_ms: settings.prometheus_min_step,
        })
    }
}

/// A failure to get series, in words for the person who asked.
#[derive(Debug, Error)]
pub enum PrometheusError {
    #[error("Prometheus at {url} did not answer within {seconds} s; try a shorter range or check the server")]
    Timeout { url: String, seconds: u64 },
    #[error("could not reach Prometheus at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("Prometheus could not parse the query: {0}")]
    BadQuery(String),
    #[error("Prometheus could not run the query: {0}")]
    Execution(String),
    #[error("Prometheus gave up on the query (too slow or too large): {0}; try a shorter range or a narrower selector")]
    QueryTimeout(String),
    #[error("Prometheus is unavailable right now ({0}); try again in a minute")]
    Unavailable(String),
    #[error("Prometheus refused the credentials (HTTP {0}); check PROMETHEUS_BEARER_TOKEN / PROMETHEUS_BASIC_AUTH")]
    Unauthorized(u16),
    #[error("Prometheus answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    #[error(
        "Prometheus returned a {0} result; give a query that returns series (an instant vector)"
    )]
    NotAMatrix(String),
    #[error(
        "Prometheus has no data for `{query}` in that range; check the metric name and labels"
    )]
    NoData { query: String },
}

/// One series of a range query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct PromSeries {
    pub labels: BTreeMap<String, String>,
    /// UTC milliseconds and values (NaN and ±Inf as Prometheus sent them).
    pub samples: Vec<(i64, f64)>,
}

/// A range to ask for: `[start, end]` in UTC ms and the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryRange {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

impl QueryRange {
    /// The last `lookback_ms` before `end_ms` plus [`HISTORY_FACTOR`] times as much history,
    /// stepped by [`step_for`].
    pub fn for_check(end_ms: i64, lookback_ms: i64, min_step_ms: i64) -> Self {
        let span = lookback_ms.saturating_mul(1 + HISTORY_FACTOR);
        let step_ms = step_for(span, min_step_ms);
        // On whole steps, so every query of one check lands on the same timestamps.
        let end_ms = end_ms - end_ms.rem_euclid(step_ms);
        Self {
            start_ms: end_ms - span,
            end_ms,
            step_ms,
        }
    }
}

/// The step that keeps `range_ms` under [`MAX_POINTS_PER_SERIES`] points and never below
/// `min_step_ms`, in whole seconds.
pub fn step_for(range_ms: i64, min_step_ms: i64) -> i64 {
    let fitting = range_ms.max(0) / (MAX_POINTS_PER_SERIES - 1) + 1;
    let step = fitting.max(min_step_ms).max(1_000);
    (step + 999) / 1_000 * 1_000
}

/// A Prometheus HTTP API client.
#[derive(Clone)]
pub struct Prometheus {
    config: PrometheusConfig,
    http: reqwest::Client,
    discovered_step: OnceCell<i64>,
}

#[derive(Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct MatrixData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct MatrixEntry {
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

#[derive(Deserialize)]
struct ConfigData {
    yaml: String,
}

impl Prometheus {
    pub fn new(config: PrometheusConfig) -> Result<Self, PrometheusError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| PrometheusError::Unreachable {
                url: config.url.clone(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            config,
            http,
            discovered_step: OnceCell::new(),
        })
    }

    /// The base URL without any credentials in it, for logs and start-up lines.
    pub fn display_url(&self) -> String {
        match reqwest::Url::parse(&self.config.url) {
            Ok(mut url) => {
                let _ = url.set_username("");
                let _ = url.set_password(None);
                url.to_string().trim_end_matches('/').to_string()
            }
            Err(_) => "(unparsable URL)".to_string(),
        }
    }

    /// The smallest step: configured, or the server's global scrape interval (read once it
    /// answers), or [`DEFAULT_MIN_STEP_MS`].
    pub async fn min_step_ms(&self) -> i64 {
        if let Some(step) = self
            .config
            .min_step_ms
            .or(self.discovered_step.get().copied())
        {
            return step;
        }
        match self.scrape_interval().await {
            Some(step) => *self.discovered_step.get_or_init(|| async { step }).await,
            None => DEFAULT_MIN_STEP_MS,
        }
    }

    /// `global.scrape_interval` from `/api/v1/status/config`, when the server exposes it.
    async fn scrape_interval(&self) -> Option<i64> {
        let request = self.request(reqwest::Method::GET, "status/config");
        let envelope: Envelope<ConfigData> = request.send().await.ok()?.json().await.ok()?;
        global_scrape_interval(&envelope.data?.yaml)
    }

    /// The series of `query` over `range`.
    pub async fn query_range(
        &self,
        query: &str,
        range: QueryRange,
    ) -> Result<Vec<PromSeries>, PrometheusError> {
        let seconds = |ms: i64| format!("{:.3}", ms as f64 / 1000.0);
        let form = [
            ("query", query.to_string()),
            ("start", seconds(range.start_ms)),
            ("end", seconds(range.end_ms)),
            ("step", seconds(range.step_ms)),
            (
                "timeout",
                format!("{}s", self.config.timeout.as_secs().max(1)),
            ),
        ];
        let response = self
            .request(reqwest::Method::POST, "query_range")
            .form(&form)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| self.transport_error(e))?;
        if status == 401 || status == 403 {
            return Err(PrometheusError::Unauthorized(status));
        }
        parse_matrix(status, &body)
    }

    fn request(&self, method: reqwest::Method, endpoint: &str) -> reqwest::RequestBuilder {
        let url = format!(
            "{}/api/v1/{endpoint}",
            self.config.url.trim_end_matches('/')
        );
        let mut request = self.http.request(method, url);
        if let Some(token) = &self.config.bearer_token {
            request = request.bearer_auth(token);
        }
        if let Some((user, password)) = &self.config.basic_auth {
            request = request.basic_auth(user, Some(password));
        }
        for (name, value) in &self.config.headers {
            request = request.header(name, value);
        }
        request
    }

    fn transport_error(&self, e: reqwest::Error) -> PrometheusError {
        let url = self.display_url();
        if e.is_timeout() {
            PrometheusError::Timeout {
                url,
                seconds: self.config.timeout.as_secs(),
            }
        } else {
            let mut reason = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(inner) = source {
                reason = inner.to_string();
                source = inner.source();
            }
            PrometheusError::Unreachable { url, reason }
        }
    }
}

/// Reads a `query_range` answer: the series, or Prometheus' error in words.
pub fn parse_matrix(status: u16, body: &str) -> Result<Vec<PromSeries>, PrometheusError> {
    let Ok(envelope) = serde_json::from_str::<Envelope<MatrixData>>(body) else {
        let body: String = body.chars().take(200).collect();
        return Err(match status {
            503 => PrometheusError::Unavailable(body),
            _ => PrometheusError::Http { status, body },
        });
    };
    if envelope.status != "success" {
        let message = envelope.error.unwrap_or_default();
        return Err(match envelope.error_type.as_deref() {
            Some("bad_data") => PrometheusError::BadQuery(message),
            Some("execution") => PrometheusError::Execution(message),
            Some("timeout") | Some("canceled") => PrometheusError::QueryTimeout(message),
            Some("unavailable") => PrometheusError::Unavailable(message),
            _ => PrometheusError::Http {
                status,
                body: message,
            },
        });
    }
    let data = envelope.data.ok_or_else(|| PrometheusError::Http {
        status,
        body: "no data in a success answer".into(),
    })?;
    if data.result_type != "matrix" {
        return Err(PrometheusError::NotAMatrix(data.result_type));
    }
    let entries: Vec<MatrixEntry> =
        serde_json::from_value(data.result).map_err(|e| PrometheusError::Http {
            status,
            body: format!("unreadable matrix: {e}"),
        })?;
    Ok(entries
        .into_iter()
        .map(|entry| PromSeries {
            labels: entry.metric,
            samples: entry
                .values
                .into_iter()
                .map(|(at, value)| ((at * 1000.0).round() as i64, parse_sample(&value)))
                .collect(),
        })
        .collect())
}

/// A sample value as Prometheus writes it (`"0.25"`, `"NaN"`, `"+Inf"`).
fn parse_sample(text: &str) -> f64 {
    match text {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().unwrap_or(f64::NAN),
    }
}

/// `global: scrape_interval: 15s` in Prometheus' YAML configuration, in ms.
pub fn global_scrape_interval(yaml: &str) -> Option<i64> {
    let mut in_global = false;
    for line in yaml.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() {
            in_global = line.trim_end() == "global:";
            continue;
        }
        if let Some(value) = line.trim().strip_prefix("scrape_interval:") {
            if in_global {
                return engine::series::timestamp::parse_duration(value.trim()).ok();
            }
        }
    }
    None
}

impl PromSeries {
    /// A clean series named after the query and labels: NaN and ±Inf samples become blanks,
    /// missing steps gaps.
    pub fn into_series(self, query: &str, asked_from: Option<i64>) -> Result<Series, SeriesError> {
        let name = promql::series_name(query, &self.labels);
        let rows = self
            .samples
            .into_iter()
            .map(|(timestamp, value)| RawRow {
                timestamp,
                value: value.is_finite().then_some(value),
                related: Vec::new(),
            })
            .collect();
        let mut series = Series::from_rows(name, Vec::new(), rows)?;
        series.asked_from = asked_from;
        Ok(series)
    }

    /// This series' values at `timestamps`: its nearest sample within `tolerance_ms`, NaN
    /// where it has none (or only a NaN or an infinity).
    pub fn aligned_to(&self, timestamps: &[i64], tolerance_ms: i64) -> Vec<f64> {
        align::nearest(timestamps, &self.samples, tolerance_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_keep_under_the_point_limit_and_above_the_scrape_interval() {
        let hour = 3_600_000;
        // 6 h asked + 24 h history at a 15 s scrape: 7,201 points, under the limit.
        let range = QueryRange::for_check(100 * hour, 6 * hour, 15_000);
        assert_eq!(range.step_ms, 15_000);
        assert_eq!(range.end_ms - range.start_ms, 30 * hour);
        // 30 days at 15 s would be 172,800 points: stepped, never refused.
        let step = step_for(30 * 24 * hour, 15_000);
        assert!((30 * 24 * hour) / step < MAX_POINTS_PER_SERIES);
        assert_eq!(step % 1_000, 0);
        assert_eq!(step_for(10 * 60_000, 60_000), 60_000);
    }

    #[test]
    fn reads_a_matrix_with_nan_and_inf() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"up","job":"api"},"values":[[1700000000,"1"],[1700000015.5,"NaN"],[1700000030,"+Inf"]]}]}}"#;
        let series = parse_matrix(200, body).unwrap();
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].labels["job"], "api");
        assert_eq!(series[0].samples[0], (1_700_000_000_000, 1.0));
        assert_eq!(series[0].samples[1].0, 1_700_000_015_500);
        assert!(series[0].samples[1].1.is_nan());
        assert_eq!(series[0].samples[2].1, f64::INFINITY);
    }

    #[test]
    fn errors_in_words() {
        let bad = r#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected end of input"}"#;
        assert!(matches!(
            parse_matrix(400, bad),
            Err(PrometheusError::BadQuery(m)) if m.contains("parse error")
        ));
        let slow = r#"{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}"#;
        let e = parse_matrix(503, slow).unwrap_err();
        assert!(e.to_string().contains("shorter range"), "{e}");
        assert!(matches!(
            parse_matrix(503, "<html>overloaded</html>"),
            Err(PrometheusError::Unavailable(_))
        ));
        let scalar = r#"{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}"#;
        assert!(matches!(
            parse_matrix(200, scalar),
            Err(PrometheusError::NotAMatrix(_))
        ));
    }

    #[test]
    fn credentials_in_the_url_are_never_shown() {
        let client = Prometheus::new(PrometheusConfig {
            url: "https://user:secret@prometheus.example:9090/prefix".into(),
            bearer_token: None,
            basic_auth: None,
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            min_step_ms: None,
        })
        .unwrap();
        assert_eq!(
            client.display_url(),
            "https://prometheus.example:9090/prefix"
        );
    }

    #[test]
    fn extra_headers_are_name_value_pairs() {
        assert_eq!(
            parse_headers("X-Scope-OrgID=tenant-1, X-Other = v ,").unwrap(),
            vec![
                ("X-Scope-OrgID".to_string(), "tenant-1".to_string()),
                ("X-Other".to_string(), "v".to_string())
            ]
        );
        assert!(parse_headers("X-Scope-OrgID")
            .unwrap_err()
            .to_string()
            .contains("Name=value"));
    }

    #[test]
    fn reads_the_global_scrape_interval() {
        let yaml = "global:\n  scrape_interval: 30s\n  evaluation_interval: 1m\nscrape_configs:\n- job_name: x\n  scrape_interval: 1s\n";
        assert_eq!(global_scrape_interval(yaml), Some(30_000));
        assert_eq!(global_scrape_interval("scrape_configs: []\n"), None);
    }

    #[test]
    fn becomes_a_series_with_blanks_and_alignment() {
        let samples: Vec<(i64, f64)> = (0..30)
            .map(|i| (i * 15_000, if i == 3 { f64::NAN } else { i as f64 }))
            .collect();
        let prom = PromSeries {
            labels: [("__name__".to_string(), "x".to_string())].into(),
            samples,
        };
        let aligned = prom.aligned_to(&[15_000, 45_000, 46_000], 0);
        assert_eq!(aligned[0], 1.0);
        assert!(aligned[1].is_nan() && aligned[2].is_nan());
        let series = prom.into_series("x", Some(100_000)).unwrap();
        assert_eq!(series.metric, "x");
        assert_eq!(series.len(), 29);
        assert_eq!(series.blank_at, vec![45_000]);
        assert_eq!(series.asked_from, Some(100_000));
    }
}
