//! The S3 stub (work in progress).

pub mod notify;
