//! The shared vocabulary of localbridge: ARNs, the per-request context, the AWS error type, the
//! clock, id generators, resource-policy evaluation and the ARN-addressed delivery interface that
//! every target service implements.
//!
//! **Invariant:** services depend on this crate, never on each other. A service reaches another
//! only through [`deliver::Registry`], by ARN.

pub mod arn;
pub mod clock;
pub mod context;
pub mod deliver;
pub mod error;
pub mod ids;
pub mod invoke;
pub mod logs;
pub mod object;
pub mod policy;
pub mod source;
pub mod stream;

pub use arn::Arn;
pub use clock::{Clock, ClockHold, ClockMode, ManualClock, SystemClock, TokioClock};
pub use context::RequestContext;
pub use error::AwsError;

/// The account every resource lives in. AWS's documentation and most local tooling use this one.
pub const DEFAULT_ACCOUNT: &str = "000000000000";
/// The region used when a request carries no credential scope.
pub const DEFAULT_REGION: &str = "us-east-1";
