//! SQS (work in progress).
