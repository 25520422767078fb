//! How well the engine detects, measured on labelled data: efficacy on the seeded synthetic
//! tiers and normal families (`efficacy`), and the Numenta Anomaly Benchmark scored exactly as
//! NAB's own scorer scores it (`nab`, `nab_scoring`), and leaving one of its categories out
//! of the parameter search to see how the score holds on data it did not tune on (`loco`);
//! and the incidents a watch opens on ordinary metrics (`alert_budget`).

pub mod alert_budget;
pub mod efficacy;
pub mod loco;
pub mod nab;
pub mod nab_scoring;
