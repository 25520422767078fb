//! Sinks for people: the text report and the PNG chart. JSON is the `Verdict`'s own serde form.

pub mod chart;
pub mod text;
