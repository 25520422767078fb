//! Measurements the project holds itself to, as commands: the NAB corpus read from disk
//! (scored by the engine's `evaluation`), investigation and chart speed, similar-incident
//! retrieval and the streaming path.

pub mod nab;
pub mod similar;
pub mod speed;
pub mod stream;
pub mod watch;
