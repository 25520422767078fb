//! Slack adapter: request verification, Block Kit rendering, and (in `serve`) the translation
//! between Slack's commands, events and interactions and the neutral `chat` layer.

pub mod app;
pub mod blocks;
pub mod signature;
pub mod socket;
pub mod web;
