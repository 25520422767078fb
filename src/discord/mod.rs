//! Discord adapter (in progress): rendering of the neutral verdict message as an embed with
//! buttons. The gateway connection and REST calls arrive with the Discord issue.

pub mod embed;
