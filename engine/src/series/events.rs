//! Recorded events (deploys, config changes) from a `timestamp,kind,description` CSV, which
//! the Change Detective lines up with the changes it finds.

use std::path::Path;

use serde::Serialize;

use super::csv::{
    blank_lines, check_size, parse_timestamps, split_columns, DataLines, IngestError, Limits,
    Problem,
};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// UTC milliseconds.
    pub timestamp: i64,
    /// `deploy`, `config`, `scale`, … (free text, lower-cased).
    pub kind: String,
    pub description: String,
}

/// Reads an events file, sorted by time.
pub fn read_events(path: &Path) -> Result<Vec<Event>, IngestError> {
    let source_name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| IngestError {
        source_name: source_name.clone(),
        problem: e.into(),
    })?;
    parse_events(bytes, &source_name, Limits::default())
}

/// Reads a `timestamp,kind,description` CSV (an upload: `source_name` names it in errors),
/// sorted by time.
pub fn parse_events(
    bytes: Vec<u8>,
    source_name: &str,
    limits: Limits,
) -> Result<Vec<Event>, IngestError> {
    let fail = |problem: Problem| IngestError {
        source_name: source_name.to_string(),
        problem,
    };
    check_size(&bytes, limits).map_err(fail)?;
    let lines = DataLines::index(&bytes);
    let frame = split_columns(bytes).map_err(fail)?;
    let text = |name: &str| frame.column(name).ok().and_then(|c| c.str().ok().cloned());
    let (Some(times), Some(kinds)) = (text("timestamp"), text("kind")) else {
        return Err(fail(Problem::Malformed(
            "an events file needs the columns `timestamp,kind,description`".into(),
        )));
    };
    let descriptions = text("description");
    let timestamps =
        parse_timestamps(&times, "timestamp", &lines, &blank_lines(&frame)).map_err(fail)?;
    let mut events: Vec<Event> = timestamps
        .into_iter()
        .enumerate()
        .filter_map(|(row, timestamp)| Some((row, timestamp?)))
        .map(|(row, timestamp)| Event {
            timestamp,
            kind: kinds
                .get(row)
                .unwrap_or("event")
                .trim()
                .to_ascii_lowercase(),
            description: descriptions
                .as_ref()
                .and_then(|d| d.get(row))
                .unwrap_or("")
                .trim()
                .to_string(),
        })
        .collect();
    events.sort_by_key(|e| e.timestamp);
    Ok(events)
}
