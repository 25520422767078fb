//! Measurements the project holds itself to: detection efficacy on labelled synthetic
//! tiers, investigation speed, similar-incident retrieval and the streaming path.

pub mod efficacy;
pub mod similar;
pub mod speed;
pub mod stream;
