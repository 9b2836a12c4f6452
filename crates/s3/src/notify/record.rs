//! The S3 event record and the `s3:TestEvent` message, field for field as AWS sends them
//! (User Guide, "Event message structure"; cross-checked against recorded AWS deliveries).
//!
//! Shapes by event type (what `object` holds, and `eventVersion`):
//!
//! | event | eventVersion | object |
//! | --- | --- | --- |
//! | `ObjectCreated:*`, `ObjectRestore:Post`/`Completed` | 2.1 | key, size, eTag, versionId?, sequencer |
//! | `ObjectRemoved:Delete` | 2.1 | key, versionId?, sequencer |
//! | `ObjectRemoved:DeleteMarkerCreated` | 2.1 | key, eTag (of the empty marker), versionId, sequencer |
//! | `ObjectTagging:*`, `ObjectAcl:Put` | 2.3 | key, eTag, versionId? |
//! | `LifecycleExpiration:*` | 2.3 | as the matching `ObjectRemoved` event |
//! | `LifecycleTransition`, `IntelligentTiering`, `ObjectRestore:Delete` | 2.3 | key, size, eTag, versionId? |
//! | `Replication:*` | 2.2 | key, size, eTag, versionId?, sequencer |
//!
//! S3's own events (lifecycle, Intelligent-Tiering, replication, lost objects: see
//! [`super::by_s3`]) name `s3.amazonaws.com` as `principalId` and `sourceIPAddress`, as the User
//! Guide's lifecycle and replication examples show; `LifecycleTransition` adds
//! `lifecycleEventData.transitionEventData.destinationStorageClass`, `IntelligentTiering`
//! `intelligentTieringEventData.destinationAccessTier`, replication events
//! `replicationEventData`.
//!
//! Ids localbridge has to make up, and how (stable, so tests and users can predict them):
//! - `userIdentity.principalId`: `AWS:AIDA` + the first 17 characters of the RFC 4648 base32 of
//!   MD5(`localbridge:user:` + access key) — the shape of an IAM user's unique id, one per access
//!   key; `Anonymous` for unsigned requests.
//! - `s3.bucket.ownerIdentity.principalId`: `A` + the first 13 base32 characters of
//!   MD5(`localbridge:owner:` + account) — the shape of S3's canonical owner ids (`A3NL1KOZZKExample`).
//! - `responseElements.x-amz-id-2`: [`host_id`] of the request id (base64, 64 characters), so the
//!   edge can return the same value in the response's `x-amz-id-2` header.
//! - `sequencer`: [`Sequencer`], strictly increasing across the process.

use base64::Engine as _;
use lb_core::clock::iso8601_millis;
use lb_core::ids::Monotonic;
use md5::{Digest, Md5};
use serde::Serialize;

use super::config::BucketNotifications;
use super::{EventData, ObjectEvent};

/// The ETag of an empty object: what S3 reports for a delete marker.
pub const EMPTY_ETAG: &str = "d41d8cd98f00b204e9800998ecf8427e";

/// `arn:aws:s3:::bucket`
pub fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// What an event's record carries besides key and versionId.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventShape {
    pub version: &'static str,
    pub size: bool,
    pub etag: EtagRule,
    pub sequencer: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtagRule {
    /// The object's ETag.
    Object,
    /// The empty object's ETag (delete markers).
    DeleteMarker,
    Omitted,
}

impl EventShape {
    /// The shape of a record for `name` (no `s3:` prefix); `None` for a name S3 never emits.
    pub fn of(name: &str) -> Option<Self> {
        let shape = |version, size, etag, sequencer| {
            Some(Self {
                version,
                size,
                etag,
                sequencer,
            })
        };
        match name {
            "ObjectCreated:Put"
            | "ObjectCreated:Post"
            | "ObjectCreated:Copy"
            | "ObjectCreated:CompleteMultipartUpload" => shape("2.1", true, EtagRule::Object, true),
            "ObjectRemoved:Delete" => shape("2.1", false, EtagRule::Omitted, true),
            "ObjectRemoved:DeleteMarkerCreated" => shape("2.1", false, EtagRule::DeleteMarker, true),
            "ObjectRestore:Post" | "ObjectRestore:Completed" => shape("2.1", true, EtagRule::Object, true),
            "ReducedRedundancyLostObject" => shape("2.1", true, EtagRule::Object, false),
            "ObjectTagging:Put" | "ObjectTagging:Delete" | "ObjectAcl:Put" => {
                shape("2.3", false, EtagRule::Object, false)
            }
            "ObjectAnnotation:Put" | "ObjectAnnotation:Delete" | "ObjectRetention:Put" => {
                shape("2.3", false, EtagRule::Object, false)
            }
            "LifecycleExpiration:Delete" => shape("2.3", false, EtagRule::Omitted, true),
            "LifecycleExpiration:DeleteMarkerCreated" => shape("2.3", false, EtagRule::DeleteMarker, true),
            "LifecycleTransition" | "IntelligentTiering" | "ObjectRestore:Delete" => {
                shape("2.3", true, EtagRule::Object, false)
            }
            "Replication:OperationFailedReplication"
            | "Replication:OperationNotTracked"
            | "Replication:OperationMissedThreshold"
            | "Replication:OperationReplicatedAfterThreshold" => shape("2.2", true, EtagRule::Object, true),
            _ => None,
        }
    }
}

/// An event's position in the order of events: hexadecimal, strictly increasing for successive
/// events (process-wide, so in particular for the same key). The value is epoch nanoseconds from
/// [`Monotonic`], written as seconds and nanoseconds, 8 hex digits each, so that it reads like
/// AWS's (`0055AED6DCD90281E5`: `00`, the epoch second `55AED6DC`, 8 more digits) and compares
/// the same as a number or as a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sequencer(u64);

static SEQUENCE: Monotonic = Monotonic::new();

impl Sequencer {
    pub fn next() -> Self {
        Self(SEQUENCE.next())
    }

    pub fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// The form of S3 event records: 18 upper-case hex digits.
    pub fn notification(self) -> String {
        format!("00{:08X}{:08X}", self.0 / 1_000_000_000, self.0 % 1_000_000_000)
    }

    /// The form of EventBridge `detail.object.sequencer`: 16 lower-case hex digits
    /// (`617f08299329d189` in the User Guide).
    pub fn eventbridge(self) -> String {
        format!("{:08x}{:08x}", self.0 / 1_000_000_000, self.0 % 1_000_000_000)
    }
}

/// The object key as S3 writes it in event records: `application/x-www-form-urlencoded` (space
/// as `+`, `+` as `%2B`, `@` as `%40`, `=` as `%3D`, `(` as `%28`, UTF-8 bytes as `%XX`) except
/// that `/` stays as it is. Left as they are: ASCII letters and digits, `-`, `_`, `.`, `*`.
pub fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + key.len() / 4);
    for &b in key.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' | b'/' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xF)]));
            }
        }
    }
    out
}

fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buf >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buf << (5 - bits)) & 31) as usize]));
    }
    out
}

fn md5(parts: &[&str]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p.as_bytes());
    }
    h.finalize().into()
}

/// `userIdentity.principalId` of the caller: `AWS:AIDA…` derived from the access key (see the
/// module docs), `Anonymous` for an unsigned request.
pub fn user_principal_id(access_key: Option<&str>) -> String {
    match access_key {
        Some(key) => format!("AWS:AIDA{}", &base32(&md5(&["localbridge:user:", key]))[..17]),
        None => "Anonymous".to_owned(),
    }
}

/// `s3.bucket.ownerIdentity.principalId` of the bucket owner's account.
pub fn owner_principal_id(account: &str) -> String {
    format!("A{}", &base32(&md5(&["localbridge:owner:", account]))[..13])
}

/// The `x-amz-id-2` that goes with a request id: base64 of 48 bytes derived from it (64
/// characters, the length `lb_core::ids::s3_host_id` uses).
pub fn host_id(request_id: &str) -> String {
    let mut bytes = [0u8; 48];
    for (i, chunk) in bytes.chunks_mut(16).enumerate() {
        chunk.copy_from_slice(&md5(&["localbridge:host:", &i.to_string(), ":", request_id]));
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[derive(Serialize)]
struct Records<'a> {
    #[serde(rename = "Records")]
    records: [Record<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    event_version: &'static str,
    event_source: &'static str,
    aws_region: &'a str,
    event_time: String,
    event_name: &'a str,
    user_identity: Principal,
    request_parameters: RequestParameters,
    response_elements: ResponseElements<'a>,
    s3: S3Entity<'a>,
    /// Only on `ObjectRestore:Completed` (User Guide, "Event message structure": "The
    /// glacierEventData key is only visible for s3:ObjectRestore:Completed events").
    #[serde(skip_serializing_if = "Option::is_none")]
    glacier_event_data: Option<GlacierEventData<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lifecycle_event_data: Option<LifecycleEventData<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    intelligent_tiering_event_data: Option<TieringEventData<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replication_event_data: Option<ReplicationEventData<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LifecycleEventData<'a> {
    transition_event_data: TransitionEventData<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TransitionEventData<'a> {
    destination_storage_class: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TieringEventData<'a> {
    destination_access_tier: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReplicationEventData<'a> {
    replication_rule_id: &'a str,
    destination_bucket: &'a str,
    s3_operation: &'a str,
    request_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GlacierEventData<'a> {
    restore_event_data: RestoreEventData<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RestoreEventData<'a> {
    lifecycle_restoration_expiry_time: String,
    lifecycle_restore_storage_class: &'a str,
}

#[derive(Serialize)]
struct Principal {
    #[serde(rename = "principalId")]
    principal_id: String,
}

#[derive(Serialize)]
struct RequestParameters {
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: String,
}

#[derive(Serialize)]
struct ResponseElements<'a> {
    #[serde(rename = "x-amz-request-id")]
    request_id: &'a str,
    #[serde(rename = "x-amz-id-2")]
    host_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct S3Entity<'a> {
    s3_schema_version: &'static str,
    configuration_id: &'a str,
    bucket: BucketEntity<'a>,
    object: ObjectEntity<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BucketEntity<'a> {
    name: &'a str,
    owner_identity: Principal,
    arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectEntity<'a> {
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    e_tag: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequencer: Option<String>,
}

/// The message body S3 delivers to a queue, topic or function for `event`:
/// `{"Records":[record]}`.
pub fn records_body(
    event: &ObjectEvent,
    name: &str,
    shape: &EventShape,
    bucket: &BucketNotifications,
    configuration_id: &str,
    sequencer: Option<Sequencer>,
) -> String {
    let etag = match shape.etag {
        EtagRule::Object => event.etag.as_deref(),
        EtagRule::DeleteMarker => Some(EMPTY_ETAG),
        EtagRule::Omitted => None,
    };
    let glacier_event_data = match (name, &event.restore) {
        ("ObjectRestore:Completed", Some(r)) => r.expires_at.map(|at| GlacierEventData {
            restore_event_data: RestoreEventData {
                lifecycle_restoration_expiry_time: iso8601_millis(at),
                lifecycle_restore_storage_class: &r.storage_class,
            },
        }),
        _ => None,
    };
    let (mut lifecycle_event_data, mut intelligent_tiering_event_data, mut replication_event_data) = (None, None, None);
    match &event.extra {
        Some(EventData::Transition { storage_class }) if name == "LifecycleTransition" => {
            lifecycle_event_data = Some(LifecycleEventData {
                transition_event_data: TransitionEventData {
                    destination_storage_class: storage_class,
                },
            });
        }
        Some(EventData::AccessTier { tier }) if name == "IntelligentTiering" => {
            intelligent_tiering_event_data = Some(TieringEventData {
                destination_access_tier: tier,
            });
        }
        Some(EventData::Replication(r)) if name.starts_with("Replication:") => {
            replication_event_data = Some(ReplicationEventData {
                replication_rule_id: &r.rule_id,
                destination_bucket: &r.destination_bucket,
                s3_operation: r.operation,
                request_time: iso8601_millis(r.request_time),
                failure_reason: r.failure_reason,
            });
        }
        _ => {}
    }
    let s3_itself = super::by_s3(name);
    let record = Record {
        glacier_event_data,
        lifecycle_event_data,
        intelligent_tiering_event_data,
        replication_event_data,
        event_version: shape.version,
        event_source: "aws:s3",
        aws_region: bucket.region(),
        event_time: iso8601_millis(event.time_millis),
        event_name: name,
        user_identity: Principal {
            principal_id: if s3_itself {
                super::S3_PRINCIPAL.to_owned()
            } else {
                user_principal_id(event.ctx.access_key.as_deref())
            },
        },
        request_parameters: RequestParameters {
            source_ip_address: if s3_itself {
                super::S3_PRINCIPAL.to_owned()
            } else {
                event.ctx.source_ip.to_string()
            },
        },
        response_elements: ResponseElements {
            request_id: &event.ctx.request_id,
            host_id: host_id(&event.ctx.request_id),
        },
        s3: S3Entity {
            s3_schema_version: "1.0",
            configuration_id,
            bucket: BucketEntity {
                name: &event.bucket,
                owner_identity: Principal {
                    principal_id: owner_principal_id(bucket.owner_account()),
                },
                arn: bucket_arn(&event.bucket),
            },
            object: ObjectEntity {
                key: encode_key(&event.key),
                size: if shape.size { event.size } else { None },
                e_tag: etag,
                version_id: event.version_id.as_deref(),
                sequencer: sequencer.filter(|_| shape.sequencer).map(Sequencer::notification),
            },
        },
    };
    serde_json::to_string(&Records { records: [record] }).unwrap_or_default()
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TestEvent<'a> {
    service: &'static str,
    event: &'static str,
    time: String,
    bucket: &'a str,
    request_id: &'a str,
    host_id: String,
}

/// The message S3 sends to each queue and topic when a configuration is saved.
pub fn test_event(bucket: &str, now_millis: u64, request_id: &str) -> String {
    let ev = TestEvent {
        service: "Amazon S3",
        event: "s3:TestEvent",
        time: iso8601_millis(now_millis),
        bucket,
        request_id,
        host_id: host_id(request_id),
    };
    serde_json::to_string(&ev).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_form_encoded_but_slashes_stay() {
        assert_eq!(encode_key("images/beach photo.jpg"), "images/beach+photo.jpg");
        assert_eq!(encode_key("a@b"), "a%40b");
        assert_eq!(encode_key("this im + age blah.txt"), "this+im+%2B+age+blah.txt");
        assert_eq!(encode_key("dt=2018-05-04/_SUCCESS"), "dt%3D2018-05-04/_SUCCESS");
        assert_eq!(encode_key("10:47:07 (1).log"), "10%3A47%3A07+%281%29.log");
        assert_eq!(encode_key("café~*"), "caf%C3%A9%7E*");
    }

    #[test]
    fn sequencers_read_like_aws_and_sort_as_strings() {
        let s = Sequencer::from_nanos(1_437_521_628_000_000_123);
        assert_eq!(s.notification(), "0055AED6DC0000007B");
        assert_eq!(s.eventbridge(), "55aed6dc0000007b");
        let mut last = Sequencer::next();
        for _ in 0..10_000 {
            let next = Sequencer::next();
            assert!(next > last);
            assert!(next.notification() > last.notification());
            assert_eq!(next.notification().len(), 18);
            last = next;
        }
    }

    #[test]
    fn derived_ids_have_aws_shapes_and_are_stable() {
        let user = user_principal_id(Some("test"));
        assert_eq!(user, user_principal_id(Some("test")));
        assert_ne!(user, user_principal_id(Some("other")));
        assert!(user.starts_with("AWS:AIDA") && user.len() == 4 + 21, "{user}");
        assert_eq!(user_principal_id(None), "Anonymous");
        let owner = owner_principal_id("000000000000");
        assert!(owner.starts_with('A') && owner.len() == 14, "{owner}");
        assert!(owner.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        assert_eq!(host_id("ABC").len(), 64);
        assert_eq!(host_id("ABC"), host_id("ABC"));
        assert_ne!(host_id("ABC"), host_id("ABD"));
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
    }
}
