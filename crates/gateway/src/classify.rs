//! Classification lives in [`lb_protocol::service`] (the service table); this module re-exports
//! its vocabulary for the gateway's callers.

pub use lb_protocol::service::{Route, Signals, INTERNAL_PREFIX};
pub use lb_protocol::Protocol;
