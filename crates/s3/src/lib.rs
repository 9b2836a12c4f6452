//! S3 stub (work in progress).
