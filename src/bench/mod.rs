//! Measurements the project holds itself to, as commands: the NAB corpus read from disk
//! (scored by the engine's `evaluation`), investigation and chart speed, similar-incident
//! retrieval, the streaming path, watches and remote write.

pub mod nab;
pub mod remote_write;
pub mod similar;
pub mod speed;
pub mod stream;
pub mod watch;
