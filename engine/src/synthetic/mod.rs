//! Seeded synthetic data: the efficacy tiers (scenarios with known answers), the wider set
//! of normal series, and the demo datasets. Shared by `anomaly-hunter demo`, `anomaly-hunter bench` and the tests.

pub mod demo;
pub mod normals;
pub mod rng;
pub mod scenarios;
