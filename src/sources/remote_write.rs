//! Prometheus remote write 1.0 in (`POST /api/v1/write`): a snappy-compressed protobuf
//! `WriteRequest` is decoded, the samples of the series `ANOMALY_HUNTER_REMOTE_WRITE_MATCH`
//! selects are put on the metrics topic keyed by series, and the request is answered only once
//! the broker holds them. The consumer group then shares the series across replicas and each
//! series' live score runs where its partition is, as for any point on the topic.
//!
//! Answers follow the spec's retry rules: a body that cannot be decoded is refused for good
//! (400, Prometheus drops it); a broker that does not take the samples, or too many requests
//! at once, is a 503 that Prometheus retries with backoff — a sample is never dropped
//! silently. (429 would be retried only with `retry_on_http_429`, which is off by default in
//! Prometheus 2.x, so overload is a 503 too.)

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::Semaphore;

use crate::sinks::redpanda::{BrokerReports, RedpandaConfig};
use crate::sources::metric_stream::MetricPoint;
use crate::sources::promql::{series_name_of_sorted, SeriesSelector};

/// The messages of prompb's `remote.proto` and `types.proto` that remote write 1.0 sends,
/// derived by hand (no `protoc`): what the benchmark and the tests encode requests with, as
/// Prometheus does. [`decode`] reads the same wire format in place.
pub mod prompb {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteRequest {
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        /// Sorted by name; `__name__` is the metric's name.
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(double, tag = "1")]
        pub value: f64,
        /// Unix milliseconds.
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
    }
}

/// Largest uncompressed body accepted (Prometheus sends at most a few MB).
pub const MAX_DECODED_BYTES: usize = 64 << 20;
/// Requests handled at once; beyond, a 503 asks Prometheus to come back.
const MAX_IN_FLIGHT: usize = 64;
/// How long a sample may wait for the broker before the request is answered 503 (well inside
/// Prometheus' default `remote_timeout` of 30 s).
const DELIVERY_TIMEOUT_MS: &str = "5000";

/// The selected samples of one request, as `(series, timestamp ms, value)`.
#[derive(Debug, Default)]
pub struct Decoded {
    pub points: Vec<(String, i64, f64)>,
    /// Samples in the request, selected or not.
    pub samples: usize,
}

/// Decodes a remote-write body and keeps the finite samples of the series `selector` selects
/// (a stale marker is a NaN, not a value). `Err` says why the body is not remote write.
///
/// The protobuf is read in place — labels are slices of the uncompressed body — rather than
/// with prost's decoder, which allocates two strings per label: on Prometheus-shaped requests
/// that allocation was most of the decoding time (callgrind, `bench remote-write`).
pub fn decode(body: &[u8], selector: &SeriesSelector) -> Result<Decoded, String> {
    let length = snap::raw::decompress_len(body)
        .map_err(|e| format!("the body is not snappy-compressed (block format): {e}"))?;
    if length > MAX_DECODED_BYTES {
        return Err(format!(
            "the body would be {length} bytes uncompressed, above the {MAX_DECODED_BYTES}-byte limit"
        ));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("the body is not snappy-compressed (block format): {e}"))?;
    read_request(&raw, selector)
        .map_err(|e| format!("the body is not a remote-write WriteRequest: {e}"))
}

/// The `WriteRequest`'s series (field 1), each read into reused buffers.
fn read_request(raw: &[u8], selector: &SeriesSelector) -> Result<Decoded, String> {
    let mut decoded = Decoded {
        // About what a series with one sample takes on the wire: one allocation, usually.
        points: Vec::with_capacity(raw.len() / 48),
        samples: 0,
    };
    let mut labels: Vec<(&str, &str)> = Vec::with_capacity(16);
    let mut samples: Vec<(i64, f64)> = Vec::with_capacity(16);
    let mut fields = wire::Fields::new(raw);
    while let Some((number, value)) = fields.next_field()? {
        if number != 1 {
            continue;
        }
        read_series(value.bytes()?, &mut labels, &mut samples)?;
        decoded.samples += samples.len();
        if !selector.matches(labels.iter().copied()) {
            continue;
        }
        if !labels.is_sorted() {
            labels.sort_unstable();
        }
        samples.retain(|(_, value)| value.is_finite());
        let Some((&(timestamp, value), earlier)) = samples.split_last() else {
            continue;
        };
        let name = series_name_of_sorted("", labels.iter().copied());
        for &(timestamp, value) in earlier {
            decoded.points.push((name.clone(), timestamp, value));
        }
        decoded.points.push((name, timestamp, value));
    }
    Ok(decoded)
}

/// One `TimeSeries`: its labels (field 1) and samples (field 2); exemplars and native
/// histograms are skipped.
fn read_series<'a>(
    bytes: &'a [u8],
    labels: &mut Vec<(&'a str, &'a str)>,
    samples: &mut Vec<(i64, f64)>,
) -> Result<(), String> {
    labels.clear();
    samples.clear();
    let mut fields = wire::Fields::new(bytes);
    while let Some((number, value)) = fields.next_field()? {
        match number {
            1 => labels.push(read_label(value.bytes()?)?),
            2 => samples.push(read_sample(value.bytes()?)?),
            _ => {}
        }
    }
    Ok(())
}

/// A `Label`: name (field 1) and value (field 2), UTF-8.
fn read_label(bytes: &[u8]) -> Result<(&str, &str), String> {
    let (mut name, mut value) = ("", "");
    let mut fields = wire::Fields::new(bytes);
    while let Some((number, field)) = fields.next_field()? {
        let text =
            || std::str::from_utf8(field.bytes()?).map_err(|_| "a label is not UTF-8".to_string());
        match number {
            1 => name = text()?,
            2 => value = text()?,
            _ => {}
        }
    }
    Ok((name, value))
}

/// A `Sample`: value (field 1, a double) and timestamp (field 2, Unix milliseconds).
fn read_sample(bytes: &[u8]) -> Result<(i64, f64), String> {
    let (mut timestamp, mut value) = (0, 0.0);
    let mut fields = wire::Fields::new(bytes);
    while let Some((number, field)) = fields.next_field()? {
        match (number, field) {
            (1, wire::Value::Fixed64(bits)) => value = f64::from_bits(bits),
            (2, wire::Value::Varint(n)) => timestamp = n as i64,
            (1 | 2, _) => return Err("a sample's field has the wrong wire type".into()),
            _ => {}
        }
    }
    Ok((timestamp, value))
}

/// The protobuf wire format, read without copying: each field's number and value in order.
mod wire {
    #[derive(Clone, Copy)]
    pub enum Value<'a> {
        Varint(u64),
        Fixed64(u64),
        Bytes(&'a [u8]),
        Fixed32,
    }

    impl<'a> Value<'a> {
        /// The bytes of a length-delimited field (a message, a string).
        pub fn bytes(self) -> Result<&'a [u8], String> {
            match self {
                Value::Bytes(bytes) => Ok(bytes),
                _ => Err("a message field has the wrong wire type".into()),
            }
        }
    }

    pub struct Fields<'a> {
        rest: &'a [u8],
    }

    impl<'a> Fields<'a> {
        pub fn new(bytes: &'a [u8]) -> Self {
            Self { rest: bytes }
        }

        /// The next field, `None` at the end; `Err` for a truncated or unknown encoding.
        pub fn next_field(&mut self) -> Result<Option<(u64, Value<'a>)>, String> {
            if self.rest.is_empty() {
                return Ok(None);
            }
            let key = self.varint()?;
            let value = match key & 7 {
                0 => Value::Varint(self.varint()?),
                1 => Value::Fixed64(u64::from_le_bytes(
                    self.take(8)?.try_into().unwrap_or_default(),
                )),
                2 => {
                    let length =
                        usize::try_from(self.varint()?).map_err(|_| "a length overflows")?;
                    Value::Bytes(self.take(length)?)
                }
                5 => {
                    self.take(4)?;
                    Value::Fixed32
                }
                wire_type => return Err(format!("unknown wire type {wire_type}")),
            };
            Ok(Some((key >> 3, value)))
        }

        fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
            if n > self.rest.len() {
                return Err("a field runs past the end".into());
            }
            let (taken, rest) = self.rest.split_at(n);
            self.rest = rest;
            Ok(taken)
        }

        fn varint(&mut self) -> Result<u64, String> {
            let mut value = 0u64;
            for (i, &byte) in self.rest.iter().take(10).enumerate() {
                value |= u64::from(byte & 0x7f) << (7 * i);
                if byte < 0x80 {
                    self.rest = &self.rest[i + 1..];
                    return Ok(value);
                }
            }
            Err("a varint is truncated or too long".into())
        }
    }
}

/// Why a request was not taken.
#[derive(Debug)]
pub enum Refusal {
    /// Not remote write: 400, never retried.
    Malformed(String),
    /// Too many requests at once, or the producer's queue is full: 503, retried.
    Busy,
    /// The broker did not take the samples in time: 503, retried.
    Unavailable(String),
}

/// The receiver: the selector, and a producer onto the metrics topic.
pub struct RemoteWrite {
    selector: SeriesSelector,
    producer: FutureProducer<BrokerReports>,
    reports: BrokerReports,
    topic: String,
    in_flight: Semaphore,
}

impl RemoteWrite {
    /// A receiver that puts the samples `selector` selects on `topic`. Not idempotent: a
    /// retried request may put a sample twice, which the store and the scorer ignore (a point
    /// not after its series' last is not scored again), while an idempotent producer turns a
    /// broker that lost its state into a fatal error.
    pub fn new(
        config: &RedpandaConfig,
        topic: &str,
        selector: SeriesSelector,
    ) -> Result<Self, KafkaError> {
        let reports = BrokerReports::default();
        let producer = config
            .producer_config()
            .set("enable.idempotence", "false")
            .set("message.timeout.ms", DELIVERY_TIMEOUT_MS)
            .create_with_context(reports.clone())?;
        Ok(Self {
            selector,
            producer,
            reports,
            topic: topic.to_string(),
            in_flight: Semaphore::new(MAX_IN_FLIGHT),
        })
    }

    pub fn selector(&self) -> &SeriesSelector {
        &self.selector
    }

    /// Decodes `body` and puts its selected samples on the topic; `Ok` once the broker holds
    /// every one of them.
    pub async fn accept(&self, body: &[u8]) -> Result<Decoded, Refusal> {
        let _permit = self.in_flight.try_acquire().map_err(|_| Refusal::Busy)?;
        let decoded = crate::pipeline::compute(|| decode(body, &self.selector))
            .map_err(Refusal::Malformed)?;
        self.forward(&decoded.points).await?;
        Ok(decoded)
    }

    async fn forward(&self, points: &[(String, i64, f64)]) -> Result<(), Refusal> {
        let mut deliveries = Vec::with_capacity(points.len());
        for (series, timestamp, value) in points {
            let payload = MetricPoint::encode(series, *timestamp, *value);
            let record = FutureRecord::to(&self.topic).key(series).payload(&payload);
            match self.producer.send_result(record) {
                Ok(delivery) => deliveries.push(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    return Err(Refusal::Busy)
                }
                Err((e, _)) => return Err(Refusal::Unavailable(e.to_string())),
            }
        }
        for delivery in deliveries {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => return Err(Refusal::Unavailable(self.reason(e))),
                Err(_) => return Err(Refusal::Unavailable("the producer stopped".into())),
            }
        }
        Ok(())
    }

    /// The delivery error, with librdkafka's latest word on the connection when it has one.
    fn reason(&self, error: KafkaError) -> String {
        match self.reports.latest_problem() {
            Some(problem) => format!("{error} ({problem})"),
            None => error.to_string(),
        }
    }
}

/// How long Prometheus is asked to wait before retrying a refused request.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::prompb::{Label, Sample, TimeSeries, WriteRequest};
    use super::*;
    use prost::Message as _;

    fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: labels
                .iter()
                .map(|(name, value)| Label {
                    name: name.to_string(),
                    value: value.to_string(),
                })
                .collect(),
            samples: samples
                .iter()
                .map(|&(timestamp, value)| Sample { value, timestamp })
                .collect(),
        }
    }

    fn body(request: &WriteRequest) -> Vec<u8> {
        snap::raw::Encoder::new()
            .compress_vec(&request.encode_to_vec())
            .unwrap()
    }

    #[test]
    fn selected_series_become_named_points() {
        let request = WriteRequest {
            timeseries: vec![
                series(
                    &[("__name__", "http_requests_total"), ("job", "api")],
                    &[(1_000, 5.0), (2_000, f64::NAN), (3_000, 7.0)],
                ),
                series(&[("__name__", "up"), ("job", "api")], &[(1_000, 1.0)]),
                // Out of order labels are named as if sorted.
                series(
                    &[
                        ("zone", "b"),
                        ("__name__", "db_latency_seconds"),
                        ("job", "db"),
                    ],
                    &[(1_000, 0.25)],
                ),
            ],
        };
        let selector: SeriesSelector =
            r#"{__name__=~"http_.*|.*_latency_seconds"}"#.parse().unwrap();
        let decoded = decode(&body(&request), &selector).unwrap();
        assert_eq!(decoded.samples, 5);
        assert_eq!(
            decoded.points,
            vec![
                ("http_requests_total{job=\"api\"}".to_string(), 1_000, 5.0),
                ("http_requests_total{job=\"api\"}".to_string(), 3_000, 7.0),
                (
                    "db_latency_seconds{job=\"db\",zone=\"b\"}".to_string(),
                    1_000,
                    0.25
                ),
            ]
        );
    }

    #[test]
    fn what_is_not_remote_write_is_refused_with_the_reason() {
        let selector: SeriesSelector = "up".parse().unwrap();
        let plain = WriteRequest {
            timeseries: vec![series(&[("__name__", "up")], &[(1, 1.0)])],
        }
        .encode_to_vec();
        for (bad, says) in [
            (b"hello, world".to_vec(), "not snappy"),
            (plain, "not snappy"),
            (
                snap::raw::Encoder::new()
                    .compress_vec(&[0x0a, 0x05, 0xff, 0xff])
                    .unwrap(),
                "not a remote-write WriteRequest",
            ),
            (vec![0x80, 0x80, 0x80, 0x40], "limit"),
        ] {
            let error = decode(&bad, &selector).unwrap_err();
            assert!(error.contains(says), "{error}");
        }
        // An empty request is a valid one.
        assert_eq!(
            decode(&body(&WriteRequest::default()), &selector)
                .unwrap()
                .samples,
            0
        );
    }
}
