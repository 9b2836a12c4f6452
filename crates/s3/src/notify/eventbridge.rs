//! The `aws.s3` events S3 sends to the default event bus of the bucket's region when the bucket
//! has an `EventBridgeConfiguration` (User Guide: "Using EventBridge", "EventBridge event message
//! structure", "Amazon EventBridge mapping and troubleshooting"; cross-checked against recorded
//! AWS events).
//!
//! Every object event goes to EventBridge, whatever the other configurations say. Built here:
//! Object Created, Object Deleted (DeleteObject and Lifecycle Expiration), Object Tags Added,
//! Object Tags Deleted, Object ACL Updated. Not built (the object side has no data for their
//! required fields, e.g. `source-storage-class`): Object Restore *, Object Storage Class
//! Changed, Object Access Tier Changed.
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
    detail: Detail<'a>,
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
    source_ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(rename = "deletion-type", skip_serializing_if = "Option::is_none")]
    deletion_type: Option<&'static str>,
}

#[derive(Serialize)]
struct BucketName<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Object<'a> {
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    etag: Option<&'a str>,
    #[serde(rename = "version-id", skip_serializing_if = "Option::is_none")]
    version_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequencer: Option<String>,
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
    };
    let plain = |detail_type| Kind {
        detail_type,
        size: false,
        etag: Some(EtagFrom::Object),
        sequencer: false,
        reason: None,
        deletion_type: None,
        by_s3: false,
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
        _ => return None,
    })
}

/// EventBridge's `time`: ISO 8601 to the second (`2021-11-12T00:00:00Z`).
fn time_seconds(millis: u64) -> String {
    let full = iso8601_millis(millis);
    format!("{}Z", &full[..19])
}

/// The EventBridge event for `event` (named `name`, without `s3:`), or `None` for event types
/// localbridge does not send to EventBridge.
pub fn event(
    event: &ObjectEvent,
    name: &str,
    bucket: &BucketNotifications,
    sequencer: Option<Sequencer>,
) -> Option<String> {
    let kind = kind(name)?;
    let etag = match kind.etag {
        Some(EtagFrom::Object) => event.etag.as_deref(),
        Some(EtagFrom::DeleteMarker) => Some(EMPTY_ETAG),
        None => None,
    };
    let ev = Event {
        version: "0",
        id: lb_core::ids::uuid(),
        detail_type: kind.detail_type,
        source: "aws.s3",
        account: bucket.owner_account(),
        time: time_seconds(event.time_millis),
        region: bucket.region(),
        resources: [bucket_arn(&event.bucket)],
        detail: Detail {
            version: "0",
            bucket: BucketName { name: &event.bucket },
            object: Object {
                key: encode_key(&event.key),
                size: if kind.size { event.size } else { None },
                etag,
                version_id: event.version_id.as_deref(),
                sequencer: sequencer.filter(|_| kind.sequencer).map(Sequencer::eventbridge),
            },
            request_id: &event.ctx.request_id,
            requester: if kind.by_s3 {
                "s3.amazonaws.com"
            } else {
                &event.ctx.account
            },
            source_ip_address: (!kind.by_s3).then(|| event.ctx.source_ip.to_string()),
            reason: kind.reason,
            deletion_type: kind.deletion_type,
        },
    };
    serde_json::to_string(&ev).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_is_to_the_second() {
        assert_eq!(time_seconds(1_700_000_000_123), "2023-11-14T22:13:20Z");
    }
}
