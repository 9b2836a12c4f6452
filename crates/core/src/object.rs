//! Writing objects into buckets: how a service that delivers to S3 (Firehose) stores objects in
//! the S3 stub without importing it. The stored object is an ordinary object: it is listed, read
//! and versioned like any other, and it emits the bucket's `s3:ObjectCreated:Put` notifications
//! and EventBridge events. The binary hands an `Arc<dyn ObjectSink>` (S3) to those services.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::arn::Arn;
use crate::clock::BoxFuture;
use crate::AwsError;

/// One object to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPut {
    /// The bucket's ARN (`arn:aws:s3:::name`).
    pub bucket: Arn,
    pub key: String,
    pub body: Bytes,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// The service principal writing on the owner's behalf (`firehose.amazonaws.com`), shown as
    /// the event's `requester` / `principalId`.
    pub principal: Arc<str>,
    /// The account the writer acts for (the delivery stream's account).
    pub account: Arc<str>,
}

/// What a stored object got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectStored {
    pub etag: String,
    pub version_id: Option<String>,
}

/// A bucket service, written to by other services.
pub trait ObjectSink: Send + Sync + 'static {
    /// Stores `object`; `Err` carries S3's error (`NoSuchBucket`, `AccessDenied`, ...).
    fn put_object(&self, object: ObjectPut) -> BoxFuture<'_, Result<ObjectStored, AwsError>>;
}
