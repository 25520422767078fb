//! How well the engine detects, measured on labelled data: efficacy on the seeded synthetic
//! tiers and normal families (`efficacy`), and the Numenta Anomaly Benchmark scored exactly as
//! NAB's own scorer scores it (`nab`, `nab_scoring`).

pub mod efficacy;
pub mod nab;
pub mod nab_scoring;
