//! Where series come from besides CSV files and the store: live metric points from the event
//! stream.

pub mod metric_stream;
