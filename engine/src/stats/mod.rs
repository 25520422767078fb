//! Statistical primitives: pure functions over slices (polars for the rolling windows), no
//! I/O, no knowledge of chat or agents.
//!
//! Every function tolerates `NaN` (missing) values where it says so, and never panics on
//! short or empty input: it returns `None` or an empty result instead.

pub mod anomalies;
pub mod bursts;
pub mod calendar;
pub mod changepoint;
pub mod live_incident;
pub mod live_score;
pub mod robust;
pub mod rolling;
pub mod seasonality;
pub mod standing;
pub mod tail;
pub mod trend;

pub use robust::{iqr_fences, mad, median, percentile, robust_scale};
