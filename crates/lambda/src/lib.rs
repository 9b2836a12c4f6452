//! Lambda: functions run as local processes behind the Lambda Runtime API, no containers.
//!
//! `runtime` is the execution environment: one process per environment, its own Runtime API
//! listener on `127.0.0.1:0`, the platform's log lines, timeouts and crashes as AWS reports them.

pub mod runtime;

pub mod api;
mod code;
mod pool;
pub mod service;

pub use service::{Lambda, LambdaConfig, LogSink, PythonClient};
