//! The `aws.s3` events S3 sends to the default event bus of the bucket's region when the bucket
//! has an `EventBridgeConfiguration` (User Guide: "Using EventBridge", "EventBridge event message
//! structure", "Amazon EventBridge mapping and troubleshooting"; cross-checked against recorded
//! AWS events).
//!
//! Every object event goes to EventBridge, whatever the other configurations say. Built here:
//! Object Created, Object Deleted (DeleteObject and Lifecycle Expiration), Object Tags Added,
//! Object Tags Deleted, Object ACL Updated, Object Restore Initiated / Completed / Expired (with
//! `source-storage-class` and, once completed, `restore-expiry-time`), Object Storage Class
//! Changed (lifecycle transitions: `destination-storage-class`) and Object Access Tier Changed
//! (Intelligent-Tiering: `destination-access-tier`). Replication events have no EventBridge
//! form.
//!
//! The message submitted to `arn:aws:events:REGION:ACCOUNT:event-bus/default` is the whole event
//! JSON, as a rule's target would receive it.

use lb_core::clock::iso8601_millis;
use lb_core::Arn;
use serde::Serialize;

use super::config::BucketNotifications;
use super::record::{bucket_arn, encode_key, Sequencer, EMPTY_ETAG};
use super::ObjectEvent;

/// The default event bus in the bucket's region and account.
pub fn default_bus(bucket: &BucketNotifications) -> Arn {
    Arn::new("events", bucket.region(), bucket.owner_account(), "event-bus/default")
}

#[derive(Serialize)]
struct Event<'a> {
    version: &'static str,
    id: String,
    #[serde(rename = "detail-type")]
    detail_type: &'static str,
    source: &'static str,
    account: &'a str,
    time: String,
    region: &'a str,
    resources: [String; 1],
    detail: Box<serde_json::value::RawValue>,
}

#[derive(Serialize)]
struct Detail<'a> {
    version: &'static str,
    bucket: BucketName<'a>,
    object: Object<'a>,
    #[serde(rename = "request-id")]
    request_id: &'a str,
    requester: &'a str,
    #[serde(rename = "source-ip-address", skip_serializing_if = "Option::is_none")]
    source_ip_address: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(rename = "deletion-type", skip_serializing_if = "Option::is_none")]
    deletion_type: Option<&'static str>,
    #[serde(rename = "restore-expiry-time", skip_serializing_if = "Option::is_none")]
    restore_expiry_time: Option<String>,
    #[serde(rename = "source-storage-class", skip_serializing_if = "Option::is_none")]
    source_storage_class: Option<&'a str>,
    #[serde(rename = "destination-storage-class", skip_serializing_if = "Option::is_none")]
    destination_storage_class: Option<&'a str>,
    #[serde(rename = "destination-access-tier", skip_serializing_if = "Option::is_none")]
    destination_access_tier: Option<&'a str>,
}

#[derive(Serialize)]
struct BucketName<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Object<'a> {
    key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    etag: Option<&'a str>,
    #[serde(rename = "version-id", skip_serializing_if = "Option::is_none")]
    version_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequencer: Option<&'a str>,
}

/// What differs between detail types.
struct Kind {
    detail_type: &'static str,
    size: bool,
    etag: Option<EtagFrom>,
    sequencer: bool,
    reason: Option<&'static str>,
    deletion_type: Option<&'static str>,
    /// Lifecycle actions are S3's own: requester `s3.amazonaws.com`, no source IP.
    by_s3: bool,
    /// Restore events carry `source-storage-class` (and Completed `restore-expiry-time`).
    restore: RestoreFields,
    /// Transitions carry where the object went.
    destination: Destination,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Destination {
    None,
    StorageClass,
    AccessTier,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RestoreFields {
    None,
    StorageClass,
    StorageClassAndExpiry,
}

#[derive(Clone, Copy)]
enum EtagFrom {
    Object,
    DeleteMarker,
}

fn kind(name: &str) -> Option<Kind> {
    let created = |reason| Kind {
        detail_type: "Object Created",
        size: true,
        etag: Some(EtagFrom::Object),
        sequencer: true,
        reason: Some(reason),
        deletion_type: None,
        by_s3: false,
        restore: RestoreFields::None,
        destination: Destination::None,
    };
    let deleted = |reason, marker: bool, by_s3| Kind {
        detail_type: "Object Deleted",
        size: false,
        etag: marker.then_some(EtagFrom::DeleteMarker),
        sequencer: true,
        reason: Some(reason),
        deletion_type: Some(if marker {
            "Delete Marker Created"
        } else {
            "Permanently Deleted"
        }),
        by_s3,
        restore: RestoreFields::None,
        destination: Destination::None,
    };
    let plain = |detail_type| Kind {
        detail_type,
        size: false,
        etag: Some(EtagFrom::Object),
        sequencer: false,
        reason: None,
        deletion_type: None,
        by_s3: false,
        restore: RestoreFields::None,
        destination: Destination::None,
    };
    // Restores describe the whole object (key, size, etag, version-id), no sequencer.
    let restore = |detail_type, by_s3, restore| Kind {
        detail_type,
        size: true,
        etag: Some(EtagFrom::Object),
        sequencer: false,
        reason: None,
        deletion_type: None,
        by_s3,
        restore,
        destination: Destination::None,
    };
    Some(match name {
        "ObjectCreated:Put" => created("PutObject"),
        "ObjectCreated:Post" => created("PostObject"),
        "ObjectCreated:Copy" => created("CopyObject"),
        "ObjectCreated:CompleteMultipartUpload" => created("CompleteMultipartUpload"),
        "ObjectRemoved:Delete" => deleted("DeleteObject", false, false),
        "ObjectRemoved:DeleteMarkerCreated" => deleted("DeleteObject", true, false),
        "LifecycleExpiration:Delete" => deleted("Lifecycle Expiration", false, true),
        "LifecycleExpiration:DeleteMarkerCreated" => deleted("Lifecycle Expiration", true, true),
        "ObjectTagging:Put" => plain("Object Tags Added"),
        "ObjectTagging:Delete" => plain("Object Tags Deleted"),
        "ObjectAcl:Put" => plain("Object ACL Updated"),
        "ObjectRestore:Post" => restore("Object Restore Initiated", false, RestoreFields::StorageClass),
        // Completion and expiry are S3's own doing, like lifecycle actions.
        "ObjectRestore:Completed" => restore("Object Restore Completed", true, RestoreFields::StorageClassAndExpiry),
        "ObjectRestore:Delete" => restore("Object Restore Expired", true, RestoreFields::None),
        "LifecycleTransition" => Kind {
            destination: Destination::StorageClass,
            ..restore("Object Storage Class Changed", true, RestoreFields::None)
        },
        "IntelligentTiering" => Kind {
            destination: Destination::AccessTier,
            ..restore("Object Access Tier Changed", true, RestoreFields::None)
        },
        _ => return None,
    })
}

/// EventBridge's `time`: ISO 8601 to the second (`2021-11-12T00:00:00Z`).
fn time_seconds(millis: u64) -> String {
    let full = iso8601_millis(millis);
    format!("{}Z", &full[..19])
}

/// One object event's fields, as the stub has them or an S3 event record carries them.
#[derive(Debug, Clone, Copy)]
pub struct ObjectFields<'a> {
    /// The event name without `s3:` (`ObjectCreated:Put`).
    pub name: &'a str,
    pub bucket: &'a str,
    /// The key as event records write it ([`encode_key`](super::record::encode_key)).
    pub key: &'a str,
    pub size: Option<u64>,
    pub etag: Option<&'a str>,
    pub version_id: Option<&'a str>,
    /// EventBridge's form ([`Sequencer::eventbridge`], [`record_sequencer`]).
    pub sequencer: Option<&'a str>,
    pub request_id: &'a str,
    /// The account that made the request.
    pub requester: &'a str,
    pub source_ip: Option<&'a str>,
}

/// What restore events add to [`ObjectFields`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RestoreFieldValues<'a> {
    /// `source-storage-class`: the archived object's storage class.
    pub storage_class: Option<&'a str>,
    /// `restore-expiry-time` (epoch ms).
    pub expires_at: Option<u64>,
}

/// The `detail-type` S3 sends to EventBridge for the event `name` (without `s3:`), if any.
pub fn detail_type(name: &str) -> Option<&'static str> {
    kind(name).map(|k| k.detail_type)
}

/// The `detail-type` and `detail` (JSON) S3 sends to EventBridge for an object event, or `None`
/// for event types localbridge does not send to EventBridge. The one mapping for the stub's
/// events and for replayed S3 records.
pub fn detail(f: &ObjectFields<'_>) -> Option<(&'static str, String)> {
    detail_with_restore(f, RestoreFieldValues::default())
}

/// [`detail`] for restore events: `None` when a field their detail requires is missing.
pub fn detail_with_restore(f: &ObjectFields<'_>, r: RestoreFieldValues<'_>) -> Option<(&'static str, String)> {
    detail_full(f, r, None)
}

/// [`detail_with_restore`] with the storage class or access tier an object moved to (Object
/// Storage Class Changed, Object Access Tier Changed: `None` without it).
pub fn detail_full(
    f: &ObjectFields<'_>,
    r: RestoreFieldValues<'_>,
    destination: Option<&str>,
) -> Option<(&'static str, String)> {
    let kind = kind(f.name)?;
    let (destination_storage_class, destination_access_tier) = match kind.destination {
        Destination::None => (None, None),
        Destination::StorageClass => (Some(destination?), None),
        Destination::AccessTier => (None, Some(destination?)),
    };
    let (source_storage_class, restore_expiry_time) = match kind.restore {
        RestoreFields::None => (None, None),
        RestoreFields::StorageClass => (Some(r.storage_class?), None),
        // An Intelligent-Tiering archive restore leaves no temporary copy: nothing expires.
        RestoreFields::StorageClassAndExpiry if r.storage_class == Some("INTELLIGENT_TIERING") => {
            (r.storage_class, r.expires_at.map(time_seconds))
        }
        RestoreFields::StorageClassAndExpiry => (Some(r.storage_class?), Some(time_seconds(r.expires_at?))),
    };
    let detail = Detail {
        version: "0",
        bucket: BucketName { name: f.bucket },
        object: Object {
            key: f.key,
            size: f.size.filter(|_| kind.size),
            etag: match kind.etag {
                Some(EtagFrom::Object) => f.etag,
                Some(EtagFrom::DeleteMarker) => Some(EMPTY_ETAG),
                None => None,
            },
            version_id: f.version_id,
            sequencer: f.sequencer.filter(|_| kind.sequencer),
        },
        request_id: f.request_id,
        requester: if kind.by_s3 { "s3.amazonaws.com" } else { f.requester },
        source_ip_address: f.source_ip.filter(|_| !kind.by_s3),
        reason: kind.reason,
        deletion_type: kind.deletion_type,
        restore_expiry_time,
        source_storage_class,
        destination_storage_class,
        destination_access_tier,
    };
    Some((kind.detail_type, serde_json::to_string(&detail).ok()?))
}

/// An S3 record's `sequencer` (18 upper-case hex digits, `0055AED6DC0000007B`) in EventBridge's
/// form (16 lower-case ones, `55aed6dc0000007b`), as the stub writes both for one event.
pub fn record_sequencer(s: &str) -> String {
    let s = if s.len() == 18 {
        s.strip_prefix("00").unwrap_or(s)
    } else {
        s
    };
    s.to_ascii_lowercase()
}

/// The EventBridge event for `event` (named `name`, without `s3:`), or `None` for event types
/// localbridge does not send to EventBridge.
pub fn event(
    event: &ObjectEvent,
    name: &str,
    bucket: &BucketNotifications,
    sequencer: Option<Sequencer>,
) -> Option<String> {
    let key = encode_key(&event.key);
    let sequencer = sequencer.map(Sequencer::eventbridge);
    let source_ip = event.ctx.source_ip.to_string();
    let restore = RestoreFieldValues {
        storage_class: event.restore.as_ref().map(|r| r.storage_class.as_str()),
        expires_at: event.restore.as_ref().and_then(|r| r.expires_at),
    };
    let destination = match &event.extra {
        Some(super::EventData::Transition { storage_class }) => Some(storage_class.as_str()),
        Some(super::EventData::AccessTier { tier }) => Some(tier.as_str()),
        _ => None,
    };
    let (detail_type, detail) = detail_full(
        &ObjectFields {
            name,
            bucket: &event.bucket,
            key: &key,
            size: event.size,
            etag: event.etag.as_deref(),
            version_id: event.version_id.as_deref(),
            sequencer: sequencer.as_deref(),
            request_id: &event.ctx.request_id,
            requester: &event.ctx.account,
            source_ip: Some(&source_ip),
        },
        restore,
        destination,
    )?;
    let ev = Event {
        version: "0",
        id: lb_core::ids::uuid(),
        detail_type,
        source: "aws.s3",
        account: bucket.owner_account(),
        time: time_seconds(event.time_millis),
        region: bucket.region(),
        resources: [bucket_arn(&event.bucket)],
        detail: serde_json::value::RawValue::from_string(detail).ok()?,
    };
    serde_json::to_string(&ev).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_sequencers_become_eventbridge_ones() {
        let s = Sequencer::from_nanos(1_700_000_000_123_456_789);
        assert_eq!(record_sequencer(&s.notification()), s.eventbridge());
    }

    #[test]
    fn time_is_to_the_second() {
        assert_eq!(time_seconds(1_700_000_000_123), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn restore_details_need_their_storage_class() {
        let f = ObjectFields {
            name: "ObjectRestore:Completed",
            bucket: "b",
            key: "k",
            size: Some(3),
            etag: Some("e"),
            version_id: None,
            sequencer: Some("55aed6dc0000007b"),
            request_id: "R",
            requester: "111122223333",
            source_ip: Some("1.2.3.4"),
        };
        assert_eq!(detail(&f), None, "a replayed record has no storage class");
        let r = RestoreFieldValues {
            storage_class: Some("GLACIER"),
            expires_at: Some(1_700_006_400_000),
        };
        let (detail_type, detail) = detail_with_restore(&f, r).unwrap();
        assert_eq!(detail_type, "Object Restore Completed");
        assert_eq!(
            detail,
            r#"{"version":"0","bucket":{"name":"b"},"object":{"key":"k","size":3,"etag":"e"},"request-id":"R","requester":"s3.amazonaws.com","restore-expiry-time":"2023-11-15T00:00:00Z","source-storage-class":"GLACIER"}"#
        );
    }
}
