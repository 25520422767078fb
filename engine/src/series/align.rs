//! Aligning a related series to the investigated one's timestamps with polars' as-of join:
//! each timestamp takes the related series' nearest sample within a tolerance. Two scrapes,
//! two exporters or a stream rarely stamp the same instant; matching exact timestamps only
//! would leave a related metric blank wherever its clock is a few seconds off.

use polars::prelude::*;

/// How far a related sample may be from a timestamp and still be its value: half the usual
/// interval, so a neighbouring point is never taken for this one.
pub fn tolerance(interval_ms: i64) -> i64 {
    interval_ms / 2
}

/// `samples` (any order; non-finite ones dropped) at each of `timestamps` (ascending): the
/// nearest sample no more than `tolerance_ms` away, NaN where there is none.
pub fn nearest(timestamps: &[i64], samples: &[(i64, f64)], tolerance_ms: i64) -> Vec<f64> {
    let mut usable: Vec<(i64, f64)> = samples
        .iter()
        .copied()
        .filter(|(_, value)| value.is_finite())
        .collect();
    usable.sort_by_key(|(at, _)| *at);
    if timestamps.is_empty() || usable.is_empty() {
        return vec![f64::NAN; timestamps.len()];
    }
    // A polars error here means the inputs broke its contract (unsorted keys): no alignment
    // rather than a wrong one.
    join_nearest(timestamps, usable, tolerance_ms.max(0))
        .unwrap_or_else(|_| vec![f64::NAN; timestamps.len()])
}

fn join_nearest(
    timestamps: &[i64],
    samples: Vec<(i64, f64)>,
    tolerance_ms: i64,
) -> PolarsResult<Vec<f64>> {
    let (times, values): (Vec<i64>, Vec<f64>) = samples.into_iter().unzip();
    let left = DataFrame::new(vec![Column::new("at".into(), timestamps)])?;
    let right = DataFrame::new(vec![
        Column::new("at".into(), times),
        Column::new("value".into(), values),
    ])?;
    let joined = left._join_asof(
        &right,
        left.column("at")?.as_materialized_series(),
        right.column("at")?.as_materialized_series(),
        AsofStrategy::Nearest,
        Some(AnyValue::Int64(tolerance_ms)),
        None,
        None,
        true,
        true,
        true,
    )?;
    Ok(joined
        .column("value")?
        .f64()?
        .iter()
        .map(|value| value.unwrap_or(f64::NAN))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_timestamp_takes_the_nearest_sample_within_the_tolerance() {
        let timestamps = [0, 60_000, 120_000, 180_000, 240_000];
        // A clock 4 s late, one sample missing, one NaN, given out of order.
        let samples = [
            (124_000, 3.0),
            (4_000, 1.0),
            (64_000, f64::NAN),
            (244_000, 5.0),
            (100_000, 9.0),
        ];
        let aligned = nearest(&timestamps, &samples, 30_000);
        assert_eq!(aligned[0], 1.0);
        assert!(aligned[1].is_nan(), "NaN samples do not count: {aligned:?}");
        assert_eq!(aligned[2], 3.0, "nearest, not latest: 124 s beats 100 s");
        assert!(aligned[3].is_nan(), "nothing within 30 s of 180 s");
        assert_eq!(aligned[4], 5.0);
        assert!(
            nearest(&timestamps, &samples, 0).iter().all(|v| v.is_nan()),
            "a zero tolerance matches exact timestamps only"
        );
        assert_eq!(nearest(&[60_000], &[(60_000, 2.0)], 0), vec![2.0]);
        assert!(nearest(&[], &samples, 10).is_empty());
    }
}
