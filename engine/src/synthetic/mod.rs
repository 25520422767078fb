//! Seeded synthetic data: the efficacy grid (every incident kind on every normal family at
//! every placement), the original tiers' scenarios and wider normal set (demos, the speed
//! bench and focused tests), and the demo datasets. Shared by `anomaly-hunter demo`,
//! `anomaly-hunter bench` and the tests.

pub mod demo;
pub mod grid;
pub mod normals;
pub mod rng;
pub mod scenarios;
pub mod streams;
