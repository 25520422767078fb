//! Anomaly Hunter: a statistical investigation engine for time series, with three agents
//! (Pattern Analyst, Change Detective, Root Cause Agent) and a synthesizer.
//!
//! Data flows one way: `series` (sources) → `investigation` (agents over `stats`) →
//! `render` and `sinks` (text, JSON, chart, chat threads, the event stream).

pub mod agents;
pub mod alert_threads;
pub mod bench;
pub mod chat;
pub mod cli;
pub mod config;
pub mod discord;
pub mod http;
pub mod investigation;
pub mod language_model;
pub mod learning;
pub mod render;
pub mod retry;
pub mod series;
pub mod serve;
pub mod sinks;
pub mod slack;
pub mod sources;
pub mod stats;
pub mod store;
pub mod synthetic;
pub mod telemetry;
