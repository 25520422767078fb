//! The investigation engine of Anomaly Hunter: what the chat bot, the HTTP API and the command
//! line all run to decide whether a metric's time series is anomalous, how badly, since when
//! and probably why. Pure computation — no async runtime, no network, no database — so it can
//! be tested, benchmarked and embedded on its own.
//!
//! Data flows one way:
//!
//! - [`series`] — the [`series::Series`] type and its readers (CSV through polars, events);
//! - [`stats`] — robust statistics, seasonality, change points, trend, and the streaming
//!   [`stats::live_score`] that scores one point at a time;
//! - [`agents`] — the Pattern Analyst, the Change Detective and the Root Cause Agent, run
//!   concurrently on one shared decomposition, and the synthesizer that combines them;
//! - [`investigation`] — the pipeline itself: [`investigate`] turns a series into a
//!   [`Verdict`] (with [`chart::ChartData`], what its chart draws);
//! - [`learning`] — pure rules that turn people's feedback into weights and thresholds;
//! - [`synthetic`] and [`evaluation`] — seeded incidents and normal series, and the scoring
//!   (efficacy, the Numenta Anomaly Benchmark) the engine is held to.
//!
//! # Example
//!
//! ```
//! use anomaly_hunter_engine::agents::synthesizer::Weights;
//! use anomaly_hunter_engine::investigate;
//! use anomaly_hunter_engine::series::Series;
//!
//! // Two hours of one-minute latency around 120 ms, then a jump to 480 ms that stays.
//! let timestamps: Vec<i64> = (0..150).map(|i| 1_764_547_200_000 + i * 60_000).collect();
//! let values: Vec<f64> = (0..150)
//!     .map(|i| if i < 120 { 120.0 + (i % 7) as f64 } else { 480.0 + (i % 5) as f64 })
//!     .collect();
//! let series = Series::from_points("api_latency_ms", timestamps, values)?;
//!
//! let verdict = investigate(&series, &[], Weights::default());
//! assert!(verdict.anomalous);
//! assert!(verdict.severity >= 7, "{}", verdict.verdict);
//! assert!(verdict.confidence > 0.9);
//! let window = verdict.main_window().expect("the jump is a window");
//! assert_eq!(window.start, "2025-12-01T02:00:00Z");
//! println!("{}\n{}", verdict.verdict, verdict.hypothesis);
//! # Ok::<(), anomaly_hunter_engine::series::SeriesError>(())
//! ```

pub mod agents;
pub mod chart;
pub mod evaluation;
pub mod investigation;
pub mod learning;
pub mod series;
pub mod stats;
pub mod synthetic;

pub use investigation::{investigate, Verdict};
