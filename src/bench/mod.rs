//! Measurements the project holds itself to: detection efficacy on labelled synthetic
//! tiers, and investigation speed.

pub mod efficacy;
pub mod similar;
pub mod speed;
