//! Measurements the project holds itself to: detection efficacy on labelled synthetic
//! tiers, the NAB score of the live anomaly score on real metrics, investigation speed,
//! similar-incident retrieval and the streaming path.

pub mod efficacy;
pub mod nab;
pub mod nab_scoring;
pub mod similar;
pub mod speed;
pub mod stream;
