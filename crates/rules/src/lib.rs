//! Matching logic shared by the services. **Invariant:** this crate is pure: no I/O, no tokio,
//! no knowledge of any service. It is a library anyone could use.
//!
//! - [`pattern`]: the EventBridge event-pattern language: parsing and validation with AWS's
//!   error messages, and the small reference evaluator.
//! - [`compiled`]: all patterns of a bus compiled into one machine; matching cost depends on the
//!   event, not on the number of rules.
//! - [`transform`]: InputPath and InputTransformer (EventBridge targets).
//! - [`sns`]: SNS subscription filter policies.
//! - [`s3_key`]: S3 notification key filters.

pub mod compiled;
pub mod pattern;
pub mod s3_key;
pub mod sns;
pub mod transform;
