//! PutBucketReplication / GetBucketReplication / DeleteBucketReplication, and the replication
//! of new object versions on the platform clock.
//!
//! Every committed write that creates an object version (or, with DeleteMarkerReplication, a
//! delete marker) on a bucket with a replication configuration goes through [`S3Stub::replicate`]:
//! the highest-priority enabled rule matching the key (and tags) decides; the source version
//! gets `x-amz-replication-status: PENDING`, and one task, sleeping on the clock for
//! `--s3-replication-seconds`, then copies it to the destination with the same version id,
//! last-modified time and content (`REPLICA`), marks the source `COMPLETED`, and fires the
//! destination bucket's own `ObjectCreated:Put` notifications for the replica (AWS re:Post
//! answers: replicas fire the destination's ObjectCreated events). A destination that is gone
//! or whose versioning is no longer enabled fails the replication: `FAILED` and, with
//! replication metrics enabled, `Replication:OperationFailedReplication` with `failureReason`
//! `DstBucketNotFound` / `DstBucketUnversioned` (User Guide, "Amazon S3 replication failure
//! reasons"). With S3 RTC, a replication taking longer than 15 minutes sends
//! `Replication:OperationMissedThreshold` at the 15th minute and
//! `Replication:OperationReplicatedAfterThreshold` once done. A rule removed (or its metrics
//! disabled) while an object is pending stops the object's tracking:
//! `Replication:OperationNotTracked`, and the object is not replicated (`FAILED`).

use std::sync::Arc;

use lb_core::Clock;
use s3s::dto::*;
use s3s::S3Request;

use super::{Call, Res};
use crate::daily::{s3_event, Daily};
use crate::error::Fault;
use crate::notify::{EventData, ReplicationData};
use crate::replication::{Rule, RTC_THRESHOLD_MILLIS};
use crate::store::{Bucket, ReplicationStatus, Versioning};
use crate::S3Stub;

impl S3Stub {
    pub(super) async fn put_bucket_replication(
        &self,
        _call: &Call,
        req: S3Request<PutBucketReplicationInput>,
    ) -> Res<PutBucketReplicationOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let config = crate::replication::compile(
            i.replication_configuration,
            bucket.versioning() == Versioning::Enabled,
            |name| {
                self.store
                    .bucket(name)
                    .ok()
                    .map(|b| b.versioning() == Versioning::Enabled)
            },
        )?;
        self.daily.set_replication(&bucket.name, Some(config));
        Ok(PutBucketReplicationOutput::default().into())
    }

    pub(super) async fn get_bucket_replication(
        &self,
        _call: &Call,
        req: S3Request<GetBucketReplicationInput>,
    ) -> Res<GetBucketReplicationOutput> {
        let bucket = self.store.bucket(&req.input.bucket)?;
        let config = self.daily.replication_of(&bucket.name).ok_or_else(|| {
            Fault::new(
                "ReplicationConfigurationNotFoundError",
                404,
                "The replication configuration was not found",
            )
            .field("BucketName", bucket.name.as_str())
        })?;
        Ok(GetBucketReplicationOutput {
            replication_configuration: Some(config.dto.clone()),
        }
        .into())
    }

    pub(super) async fn delete_bucket_replication(
        &self,
        _call: &Call,
        req: S3Request<DeleteBucketReplicationInput>,
    ) -> Res<DeleteBucketReplicationOutput> {
        let bucket = self.store.bucket(&req.input.bucket)?;
        self.daily.set_replication(&bucket.name, None);
        Ok(super::Reply {
            output: DeleteBucketReplicationOutput::default(),
            headers: vec![(crate::error::STATUS_HEADER, "204".to_owned())],
        })
    }

    /// Starts the replication of a version just written (see the module docs).
    pub(crate) fn replicate(&self, bucket: &Arc<Bucket>, key: &str, version_id: &str, at: u64) {
        if version_id == crate::store::NULL_VERSION {
            return;
        }
        let Some(config) = self.daily.replication_of(&bucket.name) else {
            return;
        };
        let Some(v) = bucket.version(key, version_id) else {
            return;
        };
        let object = v.object.as_ref().map(|o| (o.size(), o.tags.as_slice()));
        let Some(rule) = config.rule_for(key, object).cloned() else {
            return;
        };
        if v.object.is_some() {
            let _ = bucket.update_version(key, version_id, |o| {
                o.replication = Some(ReplicationStatus::Pending);
                Ok(())
            });
        }
        let done_at = at + self.replication_millis;
        let threshold_at =
            (rule.rtc && self.replication_millis > RTC_THRESHOLD_MILLIS).then_some(at + RTC_THRESHOLD_MILLIS);
        // Registered now, before the response: a clock moved right after the write sees it.
        let first = self.clock.sleep_until(threshold_at.unwrap_or(done_at));
        let job = Job {
            daily: Arc::clone(&self.daily),
            clock: Arc::clone(&self.clock),
            bucket: Arc::clone(bucket),
            key: key.to_owned(),
            version_id: version_id.to_owned(),
            rule,
            at,
        };
        tokio::spawn(async move {
            first.await;
            if let Some(t) = threshold_at {
                job.missed_threshold(t);
                job.clock.sleep_until(done_at).await;
            }
            job.complete(done_at);
        });
    }
}

/// One version's replication.
struct Job {
    daily: Arc<Daily>,
    clock: Arc<dyn Clock>,
    bucket: Arc<Bucket>,
    key: String,
    version_id: String,
    rule: Rule,
    at: u64,
}

impl Job {
    fn data(&self, failure_reason: Option<&'static str>, marker: bool) -> Option<EventData> {
        Some(EventData::Replication(ReplicationData {
            rule_id: self.rule.id.clone(),
            destination_bucket: self.rule.destination_arn.clone(),
            operation: if marker { "DELETE_MARKER_PUT" } else { "OBJECT_PUT" },
            request_time: self.at,
            failure_reason,
        }))
    }

    fn source_event(&self, name: &'static str, time: u64, failure_reason: Option<&'static str>) {
        let Some(v) = self.bucket.version(&self.key, &self.version_id) else {
            return;
        };
        let obj = v.object.as_ref();
        self.daily.dispatch(s3_event(
            &self.bucket,
            name,
            &self.key,
            obj.map(crate::store::ObjectData::size),
            obj.map(|o| o.etag.as_str()),
            Some(self.version_id.clone()),
            time,
            self.data(failure_reason, obj.is_none()),
        ));
    }

    fn set_status(&self, status: ReplicationStatus) {
        let _ = self.bucket.update_version(&self.key, &self.version_id, |o| {
            o.replication = Some(status);
            Ok(())
        });
    }

    fn missed_threshold(&self, at: u64) {
        if self.bucket.version(&self.key, &self.version_id).is_some() {
            self.source_event("Replication:OperationMissedThreshold", at, None);
        }
    }

    fn complete(&self, at: u64) {
        let Some(v) = self.bucket.version(&self.key, &self.version_id) else {
            return;
        };
        let current = self
            .daily
            .replication_of(&self.bucket.name)
            .and_then(|c| c.rules.iter().find(|r| r.id == self.rule.id && r.enabled).cloned());
        let Some(rule) = current else {
            // The rule is gone: the object is no longer tracked, and not replicated.
            self.set_status(ReplicationStatus::Failed);
            if self.rule.metrics {
                self.source_event("Replication:OperationNotTracked", at, None);
            }
            return;
        };
        if self.rule.metrics && !rule.metrics {
            self.source_event("Replication:OperationNotTracked", at, None);
        }
        let replica = v.object.clone().map(|mut o| {
            o.replication = Some(ReplicationStatus::Replica);
            o.restore = None;
            if let Some(sc) = &rule.storage_class {
                let mut meta = crate::store::ObjectMeta::clone(&o.meta);
                meta.storage_class = Some(sc.clone());
                o.meta = meta.shared();
            }
            o
        });
        let outcome = match self.daily.store.bucket(&rule.destination) {
            Err(_) => Err("DstBucketNotFound"),
            Ok(dest) => dest
                .put_replica(&self.key, &self.version_id, v.last_modified, replica)
                .map(|r| (dest, r))
                .map_err(|_| "DstBucketUnversioned"),
        };
        match outcome {
            Ok((dest, r)) => {
                if v.object.is_some() {
                    self.set_status(ReplicationStatus::Completed);
                }
                let (name, size, etag) = match r.object.as_ref() {
                    Some(o) => ("ObjectCreated:Put", Some(o.size()), Some(o.etag.as_str())),
                    None => ("ObjectRemoved:DeleteMarkerCreated", None, None),
                };
                self.daily.dispatch(s3_event(
                    &dest,
                    name,
                    &self.key,
                    size,
                    etag,
                    Some(self.version_id.clone()),
                    at,
                    None,
                ));
                if rule.rtc && at - self.at > RTC_THRESHOLD_MILLIS {
                    self.source_event("Replication:OperationReplicatedAfterThreshold", at, None);
                }
            }
            Err(reason) => {
                if v.object.is_some() {
                    self.set_status(ReplicationStatus::Failed);
                }
                if rule.metrics {
                    self.source_event("Replication:OperationFailedReplication", at, Some(reason));
                }
            }
        }
    }
}
