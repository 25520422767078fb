//! HTTP endpoints other tools call (scripts, CI pipelines, webhooks): the JSON API under
//! `/api/v1`. Handlers only translate HTTP to the neutral `chat` service and back.

pub mod api;
pub mod problem;
