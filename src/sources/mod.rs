//! Where series come from besides CSV files and the store: live metric points from the event
//! stream, and range queries to Prometheus (with the related series and deploys around them).

pub mod alertmanager;
pub mod metric_stream;
pub mod prometheus;
pub mod prometheus_check;
pub mod promql;
pub mod related_queries;
pub mod remote_write;
pub mod watches;
