//! The platform-neutral chat layer: what people type (commands and thread replies), what the
//! bot answers, and how a verdict reads in a message. Slack and Discord adapters only
//! translate between their platform and these types.

pub mod admission;
pub mod attachment;
pub mod commands;
pub mod discussion;
pub mod message;
pub mod service;
pub mod text;
pub mod watches;
