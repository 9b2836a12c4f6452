//! EventBridge (botocore `events` 2015-10-07, AWS JSON 1.1, `X-Amz-Target: AWSEvents.*`).
//!
//! Served so far: event buses (CreateEventBus, DescribeEventBus, ListEventBuses,
//! DeleteEventBus; the `default` bus always exists in every region and account), rules
//! (PutRule, DescribeRule, ListRules, DeleteRule, EnableRule, DisableRule; patterns validated by
//! `lb_rules`; a ScheduleExpression, `rate()` or `cron()` in UTC, fires the rule on the clock:
//! [`schedule`], started by [`Events::start_schedules`]) and TestEventPattern
//! (`lb_rules`'s matcher).
//!
//! Not yet: targets and delivery (PutTargets, RemoveTargets, ListTargetsByRule, PutEvents, ...),
//! UpdateEventBus, permissions and tags. Those operations are answered `NotImplemented` (501),
//! as the whole service was before it was served.
//!
//! [`Events`] is the service logic over the model types of [`model`], without HTTP; [`api`] is
//! the wire edge.

pub mod api;
pub mod archive;
pub mod connections;
mod inspect;
pub mod journal;
pub mod model;
mod route;
pub mod schedule;
mod service;
pub mod tail;
mod target;

pub use archive::with_replay_name;
pub use route::{RuleMetrics, PRINCIPAL};
pub use service::{Events, EventsConfig, PutPermissionInput};

#[cfg(test)]
mod archive_tests;
#[cfg(test)]
mod tests;
