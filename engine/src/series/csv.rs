//! CSV ingest through polars: `timestamp,value` or `timestamp` plus several numeric columns.
//!
//! Polars splits the file (fast, multi-threaded) into text columns and casts the numeric ones
//! to Float64; a cell it cannot read is looked at here, so that an error names the exact line
//! and column, as a person needs to fix it. Timestamps are read by `TimestampFormat`, which
//! knows the shapes exporters write (RFC 3339, calendar text, Unix seconds or milliseconds).
//! Size limits are enforced before any parsing.

use std::io::{Cursor, Read};
use std::path::Path;

use polars::prelude::{ChunkCast, CsvReadOptions, DataFrame, DataType, SerReader, StringChunked};
use thiserror::Error;

use super::timestamp::TimestampFormat;
use super::{RawRow, Series, SeriesError};

/// Size limits checked before memory is spent on a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_rows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 100 * 1024 * 1024,
            max_rows: 10_000_000,
        }
    }
}

/// What to read from a file.
#[derive(Debug, Clone, Default)]
pub struct CsvOptions {
    /// Metric name; defaults to the investigated column's header.
    pub metric: Option<String>,
    /// Column to investigate; defaults to the first column after the timestamp.
    pub column: Option<String>,
    pub limits: Limits,
}

/// A CSV that cannot be investigated, with the file it came from.
#[derive(Debug, Error)]
#[error("{source_name}: {problem}")]
pub struct IngestError {
    pub source_name: String,
    pub problem: Problem,
}

#[derive(Debug, Error)]
pub enum Problem {
    #[error("cannot read the file: {0}")]
    Unreadable(#[from] std::io::Error),
    #[error("the file is {bytes} bytes, over the limit of {limit} bytes (raise --max-bytes)")]
    TooLarge { bytes: u64, limit: u64 },
    #[error("the file has more than {limit} rows (raise --max-rows)")]
    TooManyRows { limit: usize },
    #[error("the file is empty; expected a header like `timestamp,value` and data rows")]
    Empty,
    #[error("the file has a header but no data rows")]
    HeaderOnly,
    #[error(
        "only one column (`{0}`); expected a timestamp column and at least one numeric column, separated by commas"
    )]
    SingleColumn(String),
    #[error("no numeric column: column `{column}` holds text such as `{sample}`")]
    NoNumericColumn { column: String, sample: String },
    #[error("no column named `{wanted}`; the columns are {available}")]
    UnknownColumn { wanted: String, available: String },
    #[error("line {line}, column `{column}`: `{cell}` is not a timestamp (use RFC 3339, `YYYY-MM-DD HH:MM:SS`, or Unix seconds/milliseconds)")]
    BadTimestamp {
        line: usize,
        column: String,
        cell: String,
    },
    #[error("line {line}, column `{column}`: `{cell}` is not a number")]
    BadNumber {
        line: usize,
        column: String,
        cell: String,
    },
    #[error("line {line}, column `{column}`: the timestamp is blank")]
    BlankTimestamp { line: usize, column: String },
    #[error("{0}")]
    Series(#[from] SeriesError),
    #[error("malformed CSV: {0}")]
    Malformed(String),
}

/// Reads and validates a CSV file.
pub fn read_csv(path: &Path, options: &CsvOptions) -> Result<Series, IngestError> {
    let bytes = read_bytes(path, options.limits)?;
    parse_csv(bytes, &path.display().to_string(), options, file_stem(path))
}

/// A file's name without its extension: the metric's name when none is given.
fn file_stem(path: &Path) -> Option<String> {
    path.file_stem().map(|s| s.to_string_lossy().into_owned())
}

/// A file's rows as written — file order, duplicate timestamps and blank values kept — the
/// way a stream would have delivered them one by one.
#[derive(Debug, Clone)]
pub struct RowsAsWritten {
    pub metric: String,
    pub rows: Vec<RawRow>,
}

impl RowsAsWritten {
    /// Timestamps and values side by side; a blank value is NaN.
    pub fn columns(&self) -> (Vec<i64>, Vec<f64>) {
        self.rows
            .iter()
            .map(|row| (row.timestamp, row.value.unwrap_or(f64::NAN)))
            .unzip()
    }
}

/// Reads a CSV file's rows as written, with the same checks and errors as [`read_csv`].
pub fn read_rows_as_written(
    path: &Path,
    options: &CsvOptions,
) -> Result<RowsAsWritten, IngestError> {
    let bytes = read_bytes(path, options.limits)?;
    let (metric, rows) = parse_rows(bytes, &path.display().to_string(), options, file_stem(path))?;
    Ok(RowsAsWritten {
        metric,
        rows: rows.rows,
    })
}

/// The file's bytes, refused before reading when it is over the size limit.
fn read_bytes(path: &Path, limits: Limits) -> Result<Vec<u8>, IngestError> {
    let fail = |problem: Problem| IngestError {
        source_name: path.display().to_string(),
        problem,
    };
    let bytes_on_disk = std::fs::metadata(path).map_err(|e| fail(e.into()))?.len();
    if bytes_on_disk > limits.max_bytes {
        return Err(fail(Problem::TooLarge {
            bytes: bytes_on_disk,
            limit: limits.max_bytes,
        }));
    }
    let mut bytes = Vec::with_capacity(bytes_on_disk as usize);
    std::fs::File::open(path)
        .and_then(|f| f.take(limits.max_bytes + 1).read_to_end(&mut bytes))
        .map_err(|e| fail(e.into()))?;
    Ok(bytes)
}

/// Parses CSV bytes already in memory (a chat upload, a request body).
pub fn parse_csv(
    bytes: Vec<u8>,
    source_name: &str,
    options: &CsvOptions,
    default_metric: Option<String>,
) -> Result<Series, IngestError> {
    let (metric, rows) = parse_rows(bytes, source_name, options, default_metric)?;
    Series::from_rows(metric, rows.related_names, rows.rows).map_err(|e| IngestError {
        source_name: source_name.to_string(),
        problem: e.into(),
    })
}

/// Checks the size, splits the columns and parses every cell: the metric's name (given, else
/// `default_metric`, else the investigated column's header) and the rows in file order.
fn parse_rows(
    bytes: Vec<u8>,
    source_name: &str,
    options: &CsvOptions,
    default_metric: Option<String>,
) -> Result<(String, Rows), IngestError> {
    let fail = |problem: Problem| IngestError {
        source_name: source_name.to_string(),
        problem,
    };
    check_size(&bytes, options.limits).map_err(fail)?;
    let lines = DataLines::index(&bytes);
    let frame = split_columns(bytes).map_err(fail)?;
    let rows = read_rows(&frame, options, &lines).map_err(fail)?;
    let metric = options
        .metric
        .clone()
        .or(default_metric)
        .unwrap_or_else(|| rows.value_column.clone());
    Ok((metric, rows))
}

pub(super) fn check_size(bytes: &[u8], limits: Limits) -> Result<(), Problem> {
    if bytes.len() as u64 > limits.max_bytes {
        return Err(Problem::TooLarge {
            bytes: bytes.len() as u64,
            limit: limits.max_bytes,
        });
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Problem::Empty);
    }
    let newlines = bytes.iter().filter(|b| **b == b'\n').count();
    if newlines > limits.max_rows + 1 {
        return Err(Problem::TooManyRows {
            limit: limits.max_rows,
        });
    }
    Ok(())
}

/// Splits the file into text columns with polars (no type inference: we parse cells ourselves).
pub(super) fn split_columns(bytes: Vec<u8>) -> Result<DataFrame, Problem> {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .into_reader_with_file_handle(Cursor::new(bytes))
        .finish()
        .map_err(|e| Problem::Malformed(explain_polars_error(&e.to_string())))
}

/// Polars' messages speak of its own options; say what the person should check instead.
fn explain_polars_error(message: &str) -> String {
    if message.contains("more fields than defined") {
        "a row has more fields than the header has columns (check the separator and quoting)"
            .to_string()
    } else if message.contains("utf-8") {
        "the file is not UTF-8 text; is it really a CSV?".to_string()
    } else {
        message.lines().next().unwrap_or(message).to_string()
    }
}

struct Rows {
    value_column: String,
    related_names: Vec<String>,
    rows: Vec<RawRow>,
}

fn read_rows(frame: &DataFrame, options: &CsvOptions, lines: &DataLines) -> Result<Rows, Problem> {
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    if frame.height() == 0 {
        return Err(Problem::HeaderOnly);
    }
    if names.len() < 2 {
        return Err(Problem::SingleColumn(
            names.first().cloned().unwrap_or_default(),
        ));
    }
    let time_index = timestamp_column(&names);
    let text = |i: usize| -> Result<&StringChunked, Problem> {
        frame.get_columns()[i]
            .str()
            .map_err(|e| Problem::Malformed(e.to_string()))
    };
    let value_index = match &options.column {
        Some(wanted) => {
            names
                .iter()
                .position(|n| n == wanted)
                .ok_or_else(|| Problem::UnknownColumn {
                    wanted: wanted.clone(),
                    available: names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                })?
        }
        None => (0..names.len()).find(|i| *i != time_index).unwrap_or(1),
    };
    let blank_lines = blank_lines(frame);
    let timestamps = parse_timestamps(text(time_index)?, &names[time_index], lines, &blank_lines)?;
    let values = parse_numbers(text(value_index)?, &names[value_index], lines)?;
    let mut related_names = Vec::new();
    let mut related_values = Vec::new();
    for i in (0..names.len()).filter(|i| *i != time_index && *i != value_index) {
        if let Ok(column) = parse_numbers(text(i)?, &names[i], lines) {
            related_names.push(names[i].clone());
            related_values.push(column);
        } else {
            tracing::debug!(column = %names[i], "ignoring a column that is not numeric");
        }
    }
    let rows = timestamps
        .into_iter()
        .enumerate()
        .filter_map(|(row, timestamp)| Some((row, timestamp?)))
        .map(|(row, timestamp)| RawRow {
            timestamp,
            value: values[row],
            related: related_values
                .iter()
                .map(|c| c[row].unwrap_or(f64::NAN))
                .collect(),
        })
        .collect();
    Ok(Rows {
        value_column: names[value_index].clone(),
        related_names,
        rows,
    })
}

/// The column named like a timestamp, else the first column.
fn timestamp_column(names: &[String]) -> usize {
    const NAMES: [&str; 6] = ["timestamp", "time", "ts", "datetime", "date", "_time"];
    names
        .iter()
        .position(|n| NAMES.contains(&n.trim().to_ascii_lowercase().as_str()))
        .unwrap_or(0)
}

/// Rows that are entirely blank: polars keeps blank lines as rows of nulls.
pub(super) fn blank_lines(frame: &DataFrame) -> Vec<bool> {
    let mut blank = vec![true; frame.height()];
    for column in frame.get_columns() {
        if let Ok(text) = column.str() {
            for (row, cell) in text.iter().enumerate() {
                blank[row] &= cell.is_none_or(|c| c.trim().is_empty());
            }
        }
    }
    blank
}

/// Parses the timestamp column; `None` marks a blank line, which is skipped.
pub(super) fn parse_timestamps(
    column: &StringChunked,
    name: &str,
    lines: &DataLines,
    blank_lines: &[bool],
) -> Result<Vec<Option<i64>>, Problem> {
    let first = column
        .iter()
        .flatten()
        .map(str::trim)
        .find(|c| !c.is_empty())
        .unwrap_or("");
    let bad = |row: usize, cell: &str| Problem::BadTimestamp {
        line: lines.line_of(row),
        column: name.to_string(),
        cell: cell.to_string(),
    };
    let format = TimestampFormat::detect(first).ok_or_else(|| {
        let row = column
            .iter()
            .position(|c| c.is_some_and(|c| c.trim() == first))
            .unwrap_or(0);
        bad(row, first)
    })?;
    column
        .iter()
        .enumerate()
        .map(|(row, cell)| match cell.map(str::trim) {
            _ if blank_lines[row] => Ok(None),
            None | Some("") => Err(Problem::BlankTimestamp {
                line: lines.line_of(row),
                column: name.to_string(),
            }),
            Some(text) => format.parse(text).map(Some).ok_or_else(|| bad(row, text)),
        })
        .collect()
}

/// Reads a numeric column as Float64: polars casts the cells; the few it cannot (padded with
/// spaces, or not numbers) are looked at here. Blank cells are missing values; text is an
/// error naming its line, unless the column has no number at all (then it is not a numeric
/// column).
fn parse_numbers(
    column: &StringChunked,
    name: &str,
    lines: &DataLines,
) -> Result<Vec<Option<f64>>, Problem> {
    let cast = column
        .cast(&DataType::Float64)
        .map_err(|e| Problem::Malformed(e.to_string()))?;
    let numbers = cast.f64().map_err(|e| Problem::Malformed(e.to_string()))?;
    let mut parsed = Vec::with_capacity(column.len());
    let mut first_bad: Option<(usize, String)> = None;
    let mut any_number = false;
    for (row, (number, cell)) in numbers.iter().zip(column.iter()).enumerate() {
        let text = cell.map(str::trim).unwrap_or("");
        let number = number.or_else(|| text.parse::<f64>().ok());
        match number {
            Some(v) if v.is_finite() => {
                any_number = true;
                parsed.push(Some(v));
            }
            _ if is_blank(text) => parsed.push(None),
            _ => {
                first_bad.get_or_insert((row, text.to_string()));
                parsed.push(None);
            }
        }
    }
    match first_bad {
        Some((_, sample)) if !any_number => Err(Problem::NoNumericColumn {
            column: name.to_string(),
            sample,
        }),
        Some((row, cell)) => Err(Problem::BadNumber {
            line: lines.line_of(row),
            column: name.to_string(),
            cell,
        }),
        None if !any_number => Err(Problem::NoNumericColumn {
            column: name.to_string(),
            sample: String::new(),
        }),
        None => Ok(parsed),
    }
}

/// Cells that mean "no value" in exported metrics.
fn is_blank(text: &str) -> bool {
    matches!(
        text,
        "" | "NA" | "N/A" | "null" | "NULL" | "None" | "NaN" | "nan" | "-"
    )
}

/// Maps a data row number (as polars counts them) to the 1-based line its record starts on.
pub(super) struct DataLines(Vec<usize>);

impl DataLines {
    /// Records the starting line of every record after the header (blank lines before the
    /// header are skipped, as polars does; later ones are null rows to polars, so row `r` is
    /// the `r`-th entry). A newline inside a quoted field belongs to its record: the lines
    /// after it still count, so an error names the line a person's editor shows.
    pub(super) fn index(bytes: &[u8]) -> Self {
        let mut starts = Vec::new();
        let (mut line, mut start) = (1, 1);
        let (mut quoted, mut blank, mut seen_header) = (false, true, false);
        for &byte in bytes {
            match byte {
                b'"' => {
                    quoted = !quoted;
                    blank = false;
                }
                b'\n' if !quoted => {
                    if seen_header {
                        starts.push(start);
                    } else if !blank {
                        seen_header = true;
                    }
                    line += 1;
                    (start, blank) = (line, true);
                }
                b'\n' => line += 1,
                byte if !byte.is_ascii_whitespace() => blank = false,
                _ => {}
            }
        }
        if seen_header {
            starts.push(start);
        }
        Self(starts)
    }

    fn line_of(&self, row: usize) -> usize {
        self.0.get(row).copied().unwrap_or(row + 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_cell_after_a_quoted_newline_is_reported_on_its_own_line() {
        let csv = "timestamp,value,note\n\
                   2024-01-01T00:00:00Z,1,\"two\nlines\"\n\
                   2024-01-01T00:01:00Z,2,\"say \"\"hi\"\"\"\n\
                   2024-01-01T00:02:00Z,abc,plain\n";
        let error = parse_csv(
            csv.as_bytes().to_vec(),
            "notes.csv",
            &CsvOptions::default(),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("line 5, column `value`: `abc` is not a number"),
            "{error}"
        );
    }

    #[test]
    fn blank_lines_before_the_header_are_skipped() {
        let lines = DataLines::index(b"\n\ntimestamp,value\n1,2\n\n3,4");
        assert_eq!(
            (lines.line_of(0), lines.line_of(1), lines.line_of(2)),
            (4, 5, 6)
        );
    }
}
