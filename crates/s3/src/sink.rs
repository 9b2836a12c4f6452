//! Objects written by other services (Firehose's deliveries) through `lb_core::object::ObjectSink`.
//!
//! An object stored here is an ordinary object: it goes through the same store call as
//! PutObject (versioning, ETag = hex MD5, the default CRC64NVME checksum) and emits
//! `s3:ObjectCreated:Put` notifications and the EventBridge "Object Created" event through the
//! same [`Notifier::emit`](crate::notify::Notifier::emit) path. The event's requester is the
//! writer's account, and its `userIdentity.principalId` is derived from the writing service's
//! principal (`firehose.amazonaws.com`) the way a caller's is derived from its access key.

use std::net::{IpAddr, Ipv4Addr};

use lb_core::clock::BoxFuture;
use lb_core::object::{ObjectPut, ObjectSink, ObjectStored};
use lb_core::{AwsError, RequestContext};

use crate::checksum::{self, Algorithm};
use crate::error::Fault;
use crate::notify::ObjectEvent;
use crate::store::{ObjectData, ObjectMeta, WriteCondition, MAX_OBJECT_SIZE, NULL_VERSION};
use crate::S3Stub;

/// S3's longest key, in bytes.
const MAX_KEY_BYTES: usize = 1024;

/// The S3 stub as an [`ObjectSink`]: a clone of the stub (its store, notifier, clock and
/// replication), so a written object is replicated and notified as PutObject's are.
#[derive(Clone)]
pub struct S3Sink {
    stub: S3Stub,
}

impl S3Stub {
    /// A writer into this stub's buckets, for the services that deliver objects.
    pub fn object_sink(&self) -> S3Sink {
        S3Sink { stub: self.clone() }
    }
}

fn aws(f: Fault) -> AwsError {
    AwsError::new(f.code, f.status, f.message)
}

impl S3Sink {
    /// Stores `o` as PutObject would and emits its events.
    pub fn put(&self, o: ObjectPut) -> Result<ObjectStored, AwsError> {
        if o.bucket.service != "s3" {
            return Err(AwsError::new(
                "InvalidArgument",
                400,
                format!("{} is not a bucket ARN", o.bucket),
            ));
        }
        let bucket = self.stub.store.bucket(&o.bucket.resource).map_err(aws)?;
        if o.key.is_empty() {
            return Err(AwsError::new(
                "InvalidArgument",
                400,
                "User key must have a length greater than 0.",
            ));
        }
        if o.key.len() > MAX_KEY_BYTES {
            return Err(AwsError::new("KeyTooLongError", 400, "Your key is too long"));
        }
        if o.body.len() as u64 > MAX_OBJECT_SIZE {
            return Err(AwsError::new(
                "EntityTooLarge",
                400,
                "Your proposed upload exceeds the maximum allowed size",
            ));
        }
        let checksum = Some(checksum::Checksum::full(Algorithm::Crc64Nvme, &o.body));
        let meta = ObjectMeta {
            content_type: Some(
                o.content_type
                    .clone()
                    .unwrap_or_else(|| ObjectMeta::DEFAULT_CONTENT_TYPE.to_owned()),
            ),
            content_encoding: o.content_encoding.clone(),
            user: o.metadata.clone(),
            ..ObjectMeta::default()
        };
        let object = ObjectData {
            etag: checksum::etag(&o.body),
            body: crate::store::compact(o.body.clone()),
            meta: meta.shared(),
            tags: Vec::new(),
            checksum,
            parts: Vec::new(),
            acl: None,
            restore: None,
            accessed: 0,
            archive: None,
            replication: None,
            lost: false,
        };
        let now = self.stub.clock.now_millis();
        let written = bucket
            .put(&o.key, object, now, &WriteCondition::default())
            .map_err(aws)?;
        let v = &written.version;
        let Some(obj) = &v.object else {
            return Err(AwsError::internal("the stored version has no object"));
        };
        let ctx = RequestContext {
            region: bucket.region.clone(),
            account: o.account.to_string(),
            access_key: Some(o.principal.to_string()),
            source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            request_id: lb_core::ids::s3_request_id(),
            trace_header: None,
        };
        if let Some(id) = written.shown_version_id.as_deref() {
            self.stub.replicate(&bucket, &o.key, id, now);
        }
        self.stub.notifier.emit(ObjectEvent {
            event_name: "ObjectCreated:Put",
            bucket: bucket.name.clone(),
            key: o.key.clone(),
            size: Some(obj.size()),
            etag: Some(obj.etag.clone()),
            version_id: written.shown_version_id.clone().filter(|id| id != NULL_VERSION),
            time_millis: now,
            ctx,
            restore: None,
            extra: None,
        });
        Ok(ObjectStored {
            etag: obj.etag.clone(),
            version_id: written.shown_version_id.clone(),
        })
    }
}

impl ObjectSink for S3Sink {
    fn put_object(&self, object: ObjectPut) -> BoxFuture<'_, Result<ObjectStored, AwsError>> {
        let result = self.put(object);
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use bytes::Bytes;
    use lb_core::deliver::{Engine, EngineConfig, Registry};
    use lb_core::{Arn, Clock, ManualClock};

    use super::*;
    use crate::notify::{Notifier, NotifierDeps};

    fn stub() -> S3Stub {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(1_700_000_000_000));
        let registry = Arc::new(Registry::new());
        let engine = Engine::new(Arc::clone(&registry), Arc::clone(&clock), EngineConfig::default());
        let notifier = Arc::new(Notifier::new(NotifierDeps {
            registry,
            engine,
            clock: Arc::clone(&clock),
        }));
        S3Stub::new(notifier, clock)
    }

    fn put(key: &str, body: &'static [u8]) -> ObjectPut {
        ObjectPut {
            bucket: "arn:aws:s3:::bkt".parse::<Arn>().unwrap(),
            key: key.to_owned(),
            body: Bytes::from_static(body),
            content_type: None,
            content_encoding: None,
            metadata: BTreeMap::new(),
            principal: Arc::from("firehose.amazonaws.com"),
            account: Arc::from("000000000000"),
        }
    }

    #[tokio::test]
    async fn stores_an_ordinary_object() {
        let s3 = stub();
        let sink = s3.object_sink();
        let err = sink.put_object(put("k", b"x")).await.unwrap_err();
        assert_eq!(err.code, "NoSuchBucket");
        s3.store().create_bucket("bkt", "us-east-1", 0).unwrap();
        let stored = sink.put_object(put("a/k", b"hello")).await.unwrap();
        assert_eq!(stored.etag, "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(stored.version_id, None);
        let v = s3.store().bucket("bkt").unwrap().get("a/k", None).unwrap();
        let obj = v.object.as_ref().unwrap();
        assert_eq!(&obj.body[..], b"hello");
        assert_eq!(obj.meta.content_type.as_deref(), Some("binary/octet-stream"));
        assert_eq!(
            sink.put_object(put("", b"x")).await.unwrap_err().code,
            "InvalidArgument"
        );
    }
}
