//! Slack adapter over slack-morphism: Block Kit rendering, the Web API calls, and (in `serve`) the translation
//! between Slack's commands, events and interactions and the neutral `chat` layer.

pub mod app;
pub mod blocks;
pub mod socket;
pub mod web;
