//! EventBridge Scheduler (rest-json, signing name `scheduler`): schedules and schedule groups,
//! `at()` / `rate()` / `cron()` expressions in IANA time zones, flexible time windows, templated
//! and universal targets, retry policies and dead-letter queues.
//!
//! - [`model`]: the request and answer shapes of botocore's model.
//! - [`validate`]: botocore's constraints and AWS's `ValidationException` texts.
//! - [`expression`]: schedule expressions and time zones (through `lb_schedule`).
//! - [`service`]: the operations as plain Rust, and the one timing task that fires every
//!   schedule on the platform clock.
//! - [`invoke`]: what an invocation delivers to each kind of target (the Input with its context
//!   attributes; universal targets translated to the same deliveries as templated ones).
//! - [`target`]: the scheduler as the `scheduler` delivery target, through which the delivery
//!   engine retries and dead-letters invocations.
//! - [`api`]: the wire edge.
//!
//! **Invariant:** the scheduler reaches other services only through the delivery engine, by ARN.

pub mod api;
pub mod expression;
pub mod invoke;
pub mod model;
pub mod service;
pub mod target;
pub mod validate;

#[cfg(test)]
mod tests;

pub use service::{Scheduler, SchedulerConfig, SchedulerStats};
