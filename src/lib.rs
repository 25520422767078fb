//! Anomaly Hunter: a statistical investigation engine for time series, with three agents
//! (Pattern Analyst, Change Detective, Root Cause Agent) and a synthesizer.

pub mod stats;
pub mod synthetic;
