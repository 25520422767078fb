//! Anomaly Hunter, the bot: the command line, the store, Slack and Discord, the HTTP API and
//! pages, Prometheus and the metrics stream, the event relay, voice and Sentry — around the
//! pure investigation engine (`anomaly-hunter-engine`, imported as `engine`).
//!
//! Data flows one way: `sources` and chat commands → [`pipeline`] (the engine's
//! `investigate`, then store, report, count) → `render` and `sinks` (text, chart, chat
//! threads, the event stream).

pub mod alert_threads;
pub mod bench;
pub mod chat;
pub mod cli;
pub mod config;
pub mod discord;
pub mod http;
pub mod language_model;
pub mod pipeline;
pub mod render;
pub mod retry;
pub mod serve;
pub mod sinks;
pub mod slack;
pub mod sources;
pub mod store;
pub mod telemetry;
