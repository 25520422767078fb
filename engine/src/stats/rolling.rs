//! Rolling windows over a column, computed by polars (its running kernels are exact and
//! vectorised; the specialised algorithms beside this file work on plain slices).

use polars::prelude::{NamedFrom, RollingOptionsFixedWindow, Series};
use polars_time::prelude::SeriesOpsTime;

/// The mean of each `width` consecutive values, at the window's last value: entry `i` is the
/// mean of `values[i + 1 - width ..= i]`, NaN before the first full window.
pub fn trailing_means(values: &[f64], width: usize) -> Vec<f64> {
    let options = RollingOptionsFixedWindow {
        window_size: width.max(1),
        min_periods: width.max(1),
        ..Default::default()
    };
    let means = Series::new("values".into(), values).rolling_mean(options);
    match means.as_ref().map(|m| m.f64()) {
        Ok(Ok(means)) => means.iter().map(|m| m.unwrap_or(f64::NAN)).collect(),
        _ => vec![f64::NAN; values.len()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_entry_is_the_mean_of_the_window_ending_there() {
        let means = trailing_means(&[1.0, 2.0, 3.0, 4.0, 10.0], 3);
        assert!(means[0].is_nan() && means[1].is_nan());
        assert_eq!(&means[2..], &[2.0, 3.0, 17.0 / 3.0]);
        assert_eq!(trailing_means(&[5.0], 1), vec![5.0]);
        assert!(trailing_means(&[], 4).is_empty());
    }
}
