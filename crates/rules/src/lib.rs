//! Matching logic shared by the services. **Invariant:** this crate is pure: no I/O, no tokio,
//! no knowledge of any service. It is a library anyone could use.
//!
//! Today it holds the S3 notification key filter; the EventBridge pattern engine and SNS filter
//! policies join it, so that every service matches with one engine.

pub mod s3_key;
