//! The `Series` type and its sources: CSV files (through polars) and, later, the store.
//!
//! A `Series` is already clean: timestamps sorted and unique, values finite. Gaps and blank
//! cells are recorded next to the data rather than invented.

pub mod align;
pub mod csv;
pub mod events;
pub mod timestamp;

use thiserror::Error;

/// The fewest points an investigation accepts: below this no baseline means anything.
pub const MIN_POINTS: usize = 20;

/// A metric's observations in time order, plus any related columns of the same rows.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub metric: String,
    /// UTC milliseconds, strictly increasing.
    pub timestamps: Vec<i64>,
    /// Observed values, finite, one per timestamp.
    pub values: Vec<f64>,
    /// Other numeric columns of a multi-column file, aligned with `timestamps` (NaN = blank).
    pub related: Vec<RelatedColumn>,
    /// Typical spacing between observations (median difference).
    pub interval_ms: i64,
    /// Stretches with no rows at all, longer than [`GAP_FACTOR`] intervals.
    pub gaps: Vec<Gap>,
    /// Timestamps whose row was present but whose value cell was blank.
    pub blank_at: Vec<i64>,
    /// Rows folded into another row with the same timestamp.
    pub merged_duplicates: usize,
    /// Start (UTC ms) of the range a person asked about (`--since 6h`, `last 6h`); the points
    /// before it are history that sets the baseline, and only the asked range is judged.
    pub asked_from: Option<i64>,
}

/// A silence in the data: no rows between `after` and `before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// Last timestamp before the silence.
    pub after: i64,
    /// First timestamp after it.
    pub before: i64,
}

/// A spacing this many times the usual interval is a gap.
pub const GAP_FACTOR: i64 = 3;

#[derive(Debug, Clone)]
pub struct RelatedColumn {
    pub name: String,
    pub values: Vec<f64>,
}

/// One raw row before cleaning: a timestamp, the investigated value (None = blank) and the
/// related columns' values.
#[derive(Debug, Clone)]
pub struct RawRow {
    pub timestamp: i64,
    pub value: Option<f64>,
    pub related: Vec<f64>,
}

#[derive(Debug, Error, PartialEq)]
pub enum SeriesError {
    #[error("only {points} usable points; an investigation needs at least {MIN_POINTS}")]
    TooFewPoints { points: usize },
}

impl Series {
    /// Index of the first point of the asked range (0 when the whole series is asked about).
    pub fn focus_start(&self) -> usize {
        self.asked_from
            .map_or(0, |from| self.timestamps.partition_point(|t| *t < from))
            .min(self.len().saturating_sub(1))
    }

    /// Builds a clean series from raw rows in any order: sorts them, merges rows with the
    /// same timestamp (mean of their values), records blank cells and gaps.
    pub fn from_rows(
        metric: impl Into<String>,
        related_names: Vec<String>,
        mut rows: Vec<RawRow>,
    ) -> Result<Self, SeriesError> {
        rows.sort_by_key(|r| r.timestamp);
        let merged_before = rows.len();
        let rows = merge_duplicates(rows);
        let merged_duplicates = merged_before - rows.len();
        let mut series = Series {
            metric: metric.into(),
            related: related_names
                .into_iter()
                .map(|name| RelatedColumn {
                    name,
                    values: Vec::new(),
                })
                .collect(),
            merged_duplicates,
            ..Series::default()
        };
        for row in rows {
            match row.value {
                Some(value) => {
                    series.timestamps.push(row.timestamp);
                    series.values.push(value);
                    for (column, v) in series.related.iter_mut().zip(&row.related) {
                        column.values.push(*v);
                    }
                }
                None => series.blank_at.push(row.timestamp),
            }
        }
        if series.values.len() < MIN_POINTS {
            return Err(SeriesError::TooFewPoints {
                points: series.values.len(),
            });
        }
        series.interval_ms = median_interval(&series.timestamps);
        series.gaps = find_gaps(&series.timestamps, series.interval_ms);
        Ok(series)
    }

    /// A single-column series from sorted, unique timestamps (used by generators and tests).
    pub fn from_points(
        metric: impl Into<String>,
        timestamps: Vec<i64>,
        values: Vec<f64>,
    ) -> Result<Self, SeriesError> {
        let rows = timestamps
            .into_iter()
            .zip(values)
            .map(|(timestamp, v)| RawRow {
                timestamp,
                value: v.is_finite().then_some(v),
                related: Vec::new(),
            })
            .collect();
        Self::from_rows(metric, Vec::new(), rows)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The power of ten the values are best investigated in: 0 for every everyday metric, and
    /// for values beyond ±1e100 (or all within ±1e-100 of zero) the exponent that brings the
    /// largest to between 1 and 10. The statistics square and sum differences of values; at
    /// ±1e154 a square leaves f64, and near 1e-160 it vanishes into zero.
    pub fn safe_unit_exponent(&self) -> i32 {
        let largest = self.values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if largest == 0.0 || (SAFE_MAGNITUDE.0..=SAFE_MAGNITUDE.1).contains(&largest) {
            return 0;
        }
        largest.log10().floor() as i32
    }

    /// The same series with every value (and every related column's) divided by
    /// `10^exponent`: the numbers investigated when [`Series::safe_unit_exponent`] is not 0.
    pub fn in_unit(&self, exponent: i32) -> Series {
        let unit = |v: &f64| scale_by_power_of_ten(*v, -exponent);
        Series {
            values: self.values.iter().map(unit).collect(),
            related: self
                .related
                .iter()
                .map(|column| RelatedColumn {
                    name: column.name.clone(),
                    values: column.values.iter().map(unit).collect(),
                })
                .collect(),
            ..self.clone()
        }
    }

    /// Index of the first observation at or after `timestamp` (clamped to the last index).
    pub fn index_at(&self, timestamp: i64) -> usize {
        self.timestamps
            .partition_point(|t| *t < timestamp)
            .min(self.len().saturating_sub(1))
    }
}

/// Largest magnitudes investigated as they are: ±1e100 leaves room to square a difference and
/// sum millions of them; below 1e-100 squares would underflow.
pub const SAFE_MAGNITUDE: (f64, f64) = (1e-100, 1e100);

/// `value · 10^exponent` without an intermediate overflow or underflow (10^±300 is fine,
/// 10^400 is not a finite f64): applied in steps of at most 10^200.
pub fn scale_by_power_of_ten(value: f64, exponent: i32) -> f64 {
    let mut scaled = value;
    let mut left = exponent;
    while left != 0 {
        let step = left.clamp(-200, 200);
        scaled *= 10f64.powi(step);
        left -= step;
    }
    scaled
}

fn merge_duplicates(rows: Vec<RawRow>) -> Vec<RawRow> {
    let mut merged: Vec<(RawRow, usize)> = Vec::with_capacity(rows.len());
    for row in rows {
        match merged.last_mut() {
            Some((last, count)) if last.timestamp == row.timestamp => {
                if let Some(v) = row.value {
                    last.value = Some(
                        last.value
                            .map_or(v, |old| (old * *count as f64 + v) / (*count as f64 + 1.0)),
                    );
                    *count += 1;
                }
            }
            _ => {
                let count = usize::from(row.value.is_some());
                merged.push((row, count));
            }
        }
    }
    merged.into_iter().map(|(row, _)| row).collect()
}

/// The usual spacing of `timestamps`: the median of their differences (1 ms at least).
pub fn median_interval(timestamps: &[i64]) -> i64 {
    let mut spacing: Vec<i64> = timestamps.windows(2).map(|w| w[1] - w[0]).collect();
    if spacing.is_empty() {
        return 1;
    }
    let mid = spacing.len() / 2;
    *spacing.select_nth_unstable(mid).1.max(&mut 1)
}

/// Silences longer than [`GAP_FACTOR`] usual intervals. Only a regularly sampled series has
/// gaps: when fewer than 80% of the intervals are within ±50% of the median, the spacing
/// itself is irregular and a long interval is no sign of an outage.
fn find_gaps(timestamps: &[i64], interval_ms: i64) -> Vec<Gap> {
    let intervals = timestamps.len().saturating_sub(1).max(1);
    let regular = timestamps
        .windows(2)
        .filter(|w| (w[1] - w[0]) * 2 >= interval_ms && (w[1] - w[0]) * 2 <= 3 * interval_ms)
        .count();
    if regular * 5 < intervals * 4 {
        return Vec::new();
    }
    timestamps
        .windows(2)
        .filter(|w| w[1] - w[0] > GAP_FACTOR * interval_ms)
        .map(|w| Gap {
            after: w[0],
            before: w[1],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(timestamp: i64, value: Option<f64>) -> RawRow {
        RawRow {
            timestamp,
            value,
            related: Vec::new(),
        }
    }

    #[test]
    fn sorts_merges_and_records_gaps_and_blanks() {
        let mut rows: Vec<RawRow> = (0..30)
            .rev()
            .map(|i| row(i * 60_000, Some(i as f64)))
            .collect();
        rows.push(row(5 * 60_000, Some(7.0))); // duplicate of 5.0 → mean 6.0
        rows.push(row(40 * 60_000, Some(1.0))); // gap after 29 minutes
        rows.push(row(41 * 60_000, None)); // blank cell
        let s = Series::from_rows("m", Vec::new(), rows).unwrap();
        assert_eq!(s.len(), 31);
        assert!(s.timestamps.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(s.values[5], 6.0);
        assert_eq!(s.merged_duplicates, 1);
        assert_eq!(s.interval_ms, 60_000);
        assert_eq!(
            s.gaps,
            vec![Gap {
                after: 29 * 60_000,
                before: 40 * 60_000
            }]
        );
        assert_eq!(s.blank_at, vec![41 * 60_000]);
    }

    #[test]
    fn extreme_values_are_investigated_in_a_unit_that_brings_them_near_one() {
        let at = |values: Vec<f64>| {
            Series::from_points("m", (0..20).map(|i| i * 1000).collect(), values).unwrap()
        };
        assert_eq!(
            at(vec![1e15; 20]).safe_unit_exponent(),
            0,
            "everyday sizes as they are"
        );
        assert_eq!(at(vec![0.0; 20]).safe_unit_exponent(), 0);
        let huge = at([vec![1.0; 19], vec![-f64::MAX]].concat());
        assert_eq!(huge.safe_unit_exponent(), 308);
        let scaled = huge.in_unit(308);
        assert!((scaled.values[19] + 1.797_693_134_862_315_7).abs() < 1e-12);
        assert!((scaled.values[0] / 1e-308 - 1.0).abs() < 1e-12);
        let tiny = at(vec![5e-324; 20]);
        assert_eq!(tiny.safe_unit_exponent(), -324);
        assert!(
            (tiny.in_unit(-324).values[0] - 4.94).abs() < 0.01,
            "the smallest subnormal"
        );
    }

    #[test]
    fn refuses_fewer_than_twenty_points() {
        let rows = (0..19).map(|i| row(i, Some(1.0))).collect();
        assert_eq!(
            Series::from_rows("m", Vec::new(), rows).unwrap_err(),
            SeriesError::TooFewPoints { points: 19 }
        );
    }
}
