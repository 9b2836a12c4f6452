//! The in-memory S3 store: buckets, keys, versions, delete markers, tags and multipart uploads,
//! in plain Rust. No HTTP, XML or `s3s` types here; the `api` module translates.
//!
//! Locking: the bucket map is a sharded `DashMap` whose guards never outlive a lookup. Each
//! bucket has its own `std::sync::RwLock` over its state (a `BTreeMap` of keys, since listings
//! walk keys in order), held for a few map operations only: bodies are `Bytes`, read fully before
//! any lock is taken, and cloned (a reference count) out of the lock on reads. No guard is held
//! across an `.await`.
//!
//! **Invariant:** every write validates everything first and mutates last, so a rejected request
//! never loses or changes a stored object.

pub mod list;
pub mod multipart;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

use crate::checksum::Checksum;
use crate::error::Fault;

pub use multipart::{Part, Upload};

/// The largest object a single PUT (or POST, or copy) may create.
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// AWS's limit on user-defined metadata (keys and values, UTF-8 bytes).
pub const MAX_USER_METADATA: usize = 2 * 1024;
/// AWS's limits on object tags.
pub const MAX_TAGS: usize = 10;
pub const MAX_TAG_KEY: usize = 128;
pub const MAX_TAG_VALUE: usize = 256;

/// The version id of objects written while versioning is off or suspended.
pub const NULL_VERSION: &str = "null";

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

/// 24 random bytes, base64url: 32 URL-safe characters.
fn random_id() -> String {
    lb_core::ids::url_safe_id()
}

/// Bodies up to this size are copied into an allocation of their own size before they are stored.
const COMPACT_BELOW: usize = 1024 * 1024;

/// The body to keep for a stored object or part. A request's body is often a slice of a larger
/// read buffer (headers and body read together; an aws-chunked body decoded into a growing
/// buffer), and a `Bytes` slice keeps its whole allocation alive: a 10-byte object held 5-14 KB.
/// Small bodies are therefore copied into an exact-size allocation. The copy costs far less than
/// the MD5 and checksum already computed over the same bytes; above `COMPACT_BELOW` the read
/// buffer is no longer much larger than the body, and the body is kept as it is.
pub fn compact(body: Bytes) -> Bytes {
    if body.is_empty() {
        Bytes::new()
    } else if body.len() <= COMPACT_BELOW {
        Bytes::copy_from_slice(&body)
    } else {
        body
    }
}

/// S3 keeps Last-Modified (and multipart Initiated) to the second: listings show `.000Z`, and
/// HTTP dates and conditional requests compare whole seconds. Event times keep milliseconds.
pub fn whole_seconds(millis: u64) -> u64 {
    millis - millis % 1000
}

/// Whether `id` could be a version id this store hands out (otherwise S3 answers InvalidArgument).
pub fn is_valid_version_id(id: &str) -> bool {
    id == NULL_VERSION || (id.len() == 32 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versioning {
    /// Never enabled: versions are "null" and not shown.
    Unversioned,
    Enabled,
    Suspended,
}

/// Standard headers and user metadata stored with an object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectMeta {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub cache_control: Option<String>,
    pub content_language: Option<String>,
    /// `Expires`, epoch seconds.
    pub expires: Option<i64>,
    pub user: BTreeMap<String, String>,
    pub storage_class: Option<String>,
    pub website_redirect_location: Option<String>,
    pub server_side_encryption: Option<String>,
    pub ssekms_key_id: Option<String>,
}

/// The metadata of objects written without any (what SDKs send by default), shared by all of them.
static NO_METADATA: std::sync::LazyLock<Arc<ObjectMeta>> = std::sync::LazyLock::new(Arc::default);

/// Metadata that is only a `Content-Type` (what the AWS CLI and most uploaders send), shared per
/// content type. Bounded: past `MAX_SHARED_CONTENT_TYPES` types, metadata is simply not shared.
static CONTENT_TYPE_ONLY: std::sync::LazyLock<DashMap<String, Arc<ObjectMeta>>> =
    std::sync::LazyLock::new(DashMap::new);
const MAX_SHARED_CONTENT_TYPES: usize = 256;

impl ObjectMeta {
    pub const DEFAULT_CONTENT_TYPE: &'static str = "binary/octet-stream";

    /// The form an object keeps: behind an `Arc`, so a version's inline size does not carry the
    /// eleven optional fields, and objects without metadata share one empty value.
    pub fn shared(self) -> Arc<ObjectMeta> {
        let Some(content_type) = &self.content_type else {
            return if self == ObjectMeta::default() {
                Arc::clone(&NO_METADATA)
            } else {
                Arc::new(self)
            };
        };
        let ObjectMeta {
            content_type: _,
            content_encoding,
            content_disposition,
            cache_control,
            content_language,
            expires,
            user,
            storage_class,
            website_redirect_location,
            server_side_encryption,
            ssekms_key_id,
        } = &self;
        let only_content_type = content_encoding.is_none()
            && content_disposition.is_none()
            && cache_control.is_none()
            && content_language.is_none()
            && expires.is_none()
            && user.is_empty()
            && storage_class.is_none()
            && website_redirect_location.is_none()
            && server_side_encryption.is_none()
            && ssekms_key_id.is_none();
        if !only_content_type {
            return Arc::new(self);
        }
        // Clone the Arc out so the shard guard ends here.
        if let Some(shared) = CONTENT_TYPE_ONLY
            .get(content_type.as_str())
            .map(|e| Arc::clone(e.value()))
        {
            return shared;
        }
        let key = content_type.clone();
        let meta = Arc::new(self);
        if CONTENT_TYPE_ONLY.len() < MAX_SHARED_CONTENT_TYPES {
            return Arc::clone(CONTENT_TYPE_ONLY.entry(key).or_insert(meta).value());
        }
        meta
    }

    pub fn content_type(&self) -> &str {
        self.content_type.as_deref().unwrap_or(Self::DEFAULT_CONTENT_TYPE)
    }

    pub fn storage_class(&self) -> &str {
        self.storage_class.as_deref().unwrap_or("STANDARD")
    }

    /// MetadataTooLarge when user metadata exceeds 2 KB.
    pub fn validate(&self) -> Result<(), Fault> {
        let size: usize = self.user.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > MAX_USER_METADATA {
            return Err(Fault::new(
                "MetadataTooLarge",
                400,
                "Your metadata headers exceed the maximum allowed metadata size",
            )
            .field("Size", size.to_string())
            .field("MaxSizeAllowed", MAX_USER_METADATA.to_string()));
        }
        Ok(())
    }
}

/// One part of a multipart object, as GetObject?partNumber needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    pub size: u64,
    /// The part's checksum (base64) when the object has a COMPOSITE checksum.
    pub checksum: Option<String>,
}

/// The content of an object version.
#[derive(Debug, Clone)]
pub struct ObjectData {
    pub body: Bytes,
    /// Hex MD5, or the multipart form `<hex>-N`; without quotes.
    pub etag: String,
    pub meta: Arc<ObjectMeta>,
    pub tags: Vec<(String, String)>,
    pub checksum: Option<Checksum>,
    /// Empty unless the object was created by CompleteMultipartUpload.
    pub parts: Vec<PartInfo>,
    /// The grants set by PutObjectAcl; `None` is the default (the owner has FULL_CONTROL).
    pub acl: Option<Arc<Vec<Grant>>>,
    /// The temporary copy of an archived (GLACIER, DEEP_ARCHIVE) object, once RestoreObject
    /// was called.
    pub restore: Option<Restore>,
    /// When the object's data was last read (epoch ms; 0: never since it was written). Kept
    /// only for INTELLIGENT_TIERING objects, whose archive tiers count days without access.
    pub accessed: u64,
    /// The Intelligent-Tiering archive tier the object is in (`x-amz-archive-status`).
    pub archive: Option<ArchiveTier>,
    /// `x-amz-replication-status`.
    pub replication: Option<ReplicationStatus>,
    /// A REDUCED_REDUNDANCY object S3 lost (induced through `POST /_localbridge/s3/lose-object`):
    /// requests for it answer 405.
    pub lost: bool,
}

/// The Intelligent-Tiering archive tiers, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArchiveTier {
    ArchiveAccess,
    DeepArchiveAccess,
}

impl ArchiveTier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ArchiveAccess => "ARCHIVE_ACCESS",
            Self::DeepArchiveAccess => "DEEP_ARCHIVE_ACCESS",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ARCHIVE_ACCESS" => Some(Self::ArchiveAccess),
            "DEEP_ARCHIVE_ACCESS" => Some(Self::DeepArchiveAccess),
            _ => None,
        }
    }
}

/// The replication status S3 reports on a source object (or `REPLICA` on the copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicationStatus {
    Pending,
    Completed,
    Failed,
    Replica,
}

impl ReplicationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Replica => "REPLICA",
        }
    }
}

/// One ACL grant: who, and what (`FULL_CONTROL`, `READ`, `WRITE`, `READ_ACP`, `WRITE_ACP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub grantee: Grantee,
    pub permission: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    CanonicalUser {
        id: String,
        display_name: Option<String>,
    },
    /// A predefined group's URI (`http://acs.amazonaws.com/groups/global/AllUsers`).
    Group(String),
    Email(String),
}

/// A restore of an archived object: in progress, or done with a copy that expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restore {
    /// RestoreObject accepted; the copy becomes readable at `completes_at` (epoch ms).
    Ongoing { days: u32, completes_at: u64 },
    /// The restored copy is readable until `expires_at` (epoch ms, a midnight UTC).
    Done { expires_at: u64 },
}

impl Restore {
    /// The `x-amz-restore` header: `ongoing-request="true"`, or `ongoing-request="false",
    /// expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"` (RestoreObject / HeadObject API reference).
    pub fn header(&self) -> String {
        match self {
            Self::Ongoing { .. } => "ongoing-request=\"true\"".to_owned(),
            Self::Done { expires_at } => {
                format!("ongoing-request=\"false\", expiry-date=\"{}\"", http_date(*expires_at))
            }
        }
    }
}

/// When a restored copy expires: `days` after `completed` (epoch ms), rounded up to the next
/// midnight UTC (S3 User Guide, "Restoring an archived object": S3 adds the days to the time
/// the restore completed and rounds to the next day at midnight UTC).
pub fn restore_expiry(completed: u64, days: u32) -> u64 {
    const DAY: u64 = 86_400_000;
    let t = completed + u64::from(days) * DAY;
    (t / DAY + 1) * DAY
}

impl ObjectData {
    pub fn size(&self) -> u64 {
        self.body.len() as u64
    }
}

#[derive(Debug, Clone)]
pub struct Version {
    pub key: String,
    /// Borrowed for the null version (every object of an unversioned bucket): no allocation.
    pub version_id: Cow<'static, str>,
    /// Epoch milliseconds.
    pub last_modified: u64,
    /// `None` for a delete marker.
    pub object: Option<ObjectData>,
}

impl Version {
    pub fn is_delete_marker(&self) -> bool {
        self.object.is_none()
    }
}

/// Preconditions of a conditional write (`If-None-Match: *`, `If-Match: "etag"`).
#[derive(Debug, Clone, Default)]
pub struct WriteCondition {
    pub if_none_match_any: bool,
    pub if_match: Option<String>,
}

impl WriteCondition {
    fn check(&self, key: &str, current: Option<&Version>) -> Result<(), Fault> {
        let live = current.and_then(|v| v.object.as_ref());
        if self.if_none_match_any && live.is_some() {
            return Err(Fault::precondition_failed("If-None-Match"));
        }
        if let Some(expected) = &self.if_match {
            let Some(obj) = live else {
                return Err(Fault::no_such_key(key));
            };
            if expected != "*" && *expected != obj.etag {
                return Err(Fault::precondition_failed("If-Match"));
            }
        }
        Ok(())
    }
}

/// The result of a write: the new version, and its id as S3 shows it in the write's response
/// (None when unversioned, and None for the null version of a bucket with versioning suspended).
#[derive(Debug, Clone)]
pub struct Written {
    pub version: Arc<Version>,
    pub shown_version_id: Option<String>,
}

/// Every key's versions (oldest first), and every incomplete upload as (key, id, initiated).
pub type Snapshot = (Vec<(String, Vec<Arc<Version>>)>, Vec<(String, String, u64)>);

/// The result of a DeleteObject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Something was removed or a delete marker was created.
    pub changed: bool,
    /// The delete marker created, or the version removed was a delete marker.
    pub delete_marker: bool,
    /// The version id S3 reports (the marker's, or the removed version's).
    pub version_id: Option<String>,
    /// `ObjectRemoved:Delete` or `ObjectRemoved:DeleteMarkerCreated`.
    pub event: &'static str,
}

#[derive(Debug, Default)]
struct BucketState {
    versioning: Option<Versioning>,
    /// Versions per key, oldest first; the last one is the current version.
    keys: BTreeMap<String, Vec<Arc<Version>>>,
    uploads: BTreeMap<String, Upload>,
    /// Set when the bucket is deleted, so a writer that still holds the `Arc` fails cleanly.
    deleted: bool,
}

#[derive(Debug)]
pub struct Bucket {
    pub name: String,
    pub region: String,
    pub created_millis: u64,
    state: RwLock<BucketState>,
}

impl Bucket {
    fn new(name: &str, region: &str, now: u64) -> Self {
        Self {
            name: name.to_owned(),
            region: region.to_owned(),
            created_millis: now,
            state: RwLock::new(BucketState::default()),
        }
    }

    fn read(&self) -> Result<RwLockReadGuard<'_, BucketState>, Fault> {
        let g = read(&self.state);
        if g.deleted {
            return Err(Fault::no_such_bucket(&self.name));
        }
        Ok(g)
    }

    fn write(&self) -> Result<RwLockWriteGuard<'_, BucketState>, Fault> {
        let g = write(&self.state);
        if g.deleted {
            return Err(Fault::no_such_bucket(&self.name));
        }
        Ok(g)
    }

    pub fn versioning(&self) -> Versioning {
        read(&self.state).versioning.unwrap_or(Versioning::Unversioned)
    }

    /// The status GetBucketVersioning reports: None until versioning was first configured.
    pub fn versioning_status(&self) -> Option<Versioning> {
        read(&self.state).versioning
    }

    pub fn set_versioning(&self, v: Versioning) -> Result<(), Fault> {
        let mut g = self.write()?;
        // A bucket that has had versioning can only be suspended, never unversioned again.
        if v == Versioning::Unversioned {
            return Err(Fault::new(
                "IllegalVersioningConfigurationException",
                400,
                "The Versioning element must be specified",
            ));
        }
        g.versioning = Some(v);
        Ok(())
    }

    fn shown(versioning: Option<Versioning>, id: &str) -> Option<String> {
        match versioning {
            None | Some(Versioning::Unversioned) => None,
            Some(_) => Some(id.to_owned()),
        }
    }

    /// The version id as S3 shows it for this bucket now (None while it was never versioned).
    pub fn shown_version_id(&self, v: &Version) -> Option<String> {
        Self::shown(read(&self.state).versioning, &v.version_id)
    }

    pub fn is_empty(&self) -> bool {
        read(&self.state).keys.is_empty()
    }

    /// GetObject/HeadObject/CopyObject source lookup. Errors as S3 gives them: NoSuchKey (with the
    /// delete-marker headers if the current version is one), NoSuchVersion, InvalidArgument for a
    /// malformed version id, MethodNotAllowed for a version id naming a delete marker.
    pub fn get(&self, key: &str, version_id: Option<&str>) -> Result<Arc<Version>, Fault> {
        if let Some(id) = version_id {
            if !is_valid_version_id(id) {
                return Err(Fault::invalid_version_id(id));
            }
        }
        let g = self.read()?;
        let versions = g.keys.get(key);
        match version_id {
            None => {
                let Some(latest) = versions.and_then(|v| v.last()) else {
                    return Err(Fault::no_such_key(key));
                };
                if latest.is_delete_marker() {
                    let mut f = Fault::no_such_key(key).header("x-amz-delete-marker", "true");
                    if let Some(id) = Self::shown(g.versioning, &latest.version_id) {
                        f = f.header("x-amz-version-id", id);
                    }
                    return Err(f);
                }
                Ok(Arc::clone(latest))
            }
            Some(id) => {
                let Some(v) = versions.and_then(|vs| vs.iter().find(|v| v.version_id == id)) else {
                    return Err(if g.versioning.is_none() && id != NULL_VERSION {
                        Fault::invalid_version_id(id)
                    } else {
                        Fault::no_such_version(key, id)
                    });
                };
                if v.is_delete_marker() {
                    return Err(Fault::method_not_allowed("GET", "DeleteMarker")
                        .header("x-amz-delete-marker", "true")
                        .header("x-amz-version-id", id)
                        .header("last-modified", http_date(v.last_modified)));
                }
                Ok(Arc::clone(v))
            }
        }
    }

    /// Stores a new current version of `key` (PutObject, POST, CopyObject, completion).
    pub fn put(&self, key: &str, object: ObjectData, now: u64, cond: &WriteCondition) -> Result<Written, Fault> {
        let mut g = self.write()?;
        cond.check(key, g.keys.get(key).and_then(|v| v.last()).map(Arc::as_ref))?;
        Ok(multipart::insert_version(&mut g, key, object, now))
    }

    /// DeleteObject, by S3's rules for each versioning state.
    pub fn delete(&self, key: &str, version_id: Option<&str>, now: u64) -> Result<Deleted, Fault> {
        if let Some(id) = version_id {
            if !is_valid_version_id(id) {
                return Err(Fault::invalid_version_id(id));
            }
        }
        let mut g = self.write()?;
        Self::delete_locked(&mut g, key, version_id, now)
    }

    /// Every key's versions (oldest first) and the incomplete multipart uploads (key, id,
    /// initiated): what a daily lifecycle run looks at. Clones `Arc`s under a read lock.
    pub fn snapshot(&self) -> Snapshot {
        let Ok(g) = self.read() else {
            return (Vec::new(), Vec::new());
        };
        let keys = g.keys.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let uploads = g
            .uploads
            .values()
            .map(|u| (u.key.clone(), u.id.clone(), u.initiated))
            .collect();
        (keys, uploads)
    }

    /// A lifecycle expiration of the current version of `key`, if it is still `version_id`
    /// (a write since the run looked changes nothing): removed on an unversioned bucket, covered
    /// by a delete marker created at `now` otherwise.
    pub fn expire_current(&self, key: &str, version_id: &str, now: u64) -> Option<Deleted> {
        let mut g = self.write().ok()?;
        let current = g.keys.get(key).and_then(|v| v.last())?;
        if current.version_id != version_id || current.is_delete_marker() {
            return None;
        }
        Self::delete_locked(&mut g, key, None, now).ok()
    }

    /// One exact version (object or delete marker), if it is still stored.
    pub fn version(&self, key: &str, version_id: &str) -> Option<Arc<Version>> {
        let g = self.read().ok()?;
        g.keys.get(key)?.iter().find(|v| v.version_id == version_id).cloned()
    }

    /// Stores a replica made by replication: the source's version id, last-modified time and
    /// content (`None`: a delete marker), as the new current version. Fails unless versioning is
    /// enabled (what the replication task checks first, under this lock).
    pub fn put_replica(
        &self,
        key: &str,
        version_id: &str,
        last_modified: u64,
        object: Option<ObjectData>,
    ) -> Result<Arc<Version>, Fault> {
        let mut g = self.write()?;
        if g.versioning != Some(Versioning::Enabled) {
            return Err(Fault::invalid_request("DstBucketUnversioned"));
        }
        let versions = g.keys.entry(key.to_owned()).or_insert_with(|| Vec::with_capacity(1));
        versions.retain(|v| v.version_id != version_id);
        let version = Arc::new(Version {
            key: key.to_owned(),
            version_id: Cow::Owned(version_id.to_owned()),
            last_modified,
            object,
        });
        versions.push(Arc::clone(&version));
        Ok(version)
    }

    /// Moves a version to another storage class (a lifecycle transition); a restored copy of an
    /// archived object does not survive it.
    pub fn set_storage_class(&self, key: &str, version_id: &str, class: &str) -> Result<Arc<Version>, Fault> {
        self.update_version(key, version_id, |o| {
            let mut meta = ObjectMeta::clone(&o.meta);
            meta.storage_class = Some(class.to_owned());
            o.meta = meta.shared();
            o.restore = None;
            Ok(())
        })
    }

    fn delete_locked(g: &mut BucketState, key: &str, version_id: Option<&str>, now: u64) -> Result<Deleted, Fault> {
        let versioning = g.versioning;
        match (version_id, versioning) {
            (Some(id), _) => {
                let Some(versions) = g.keys.get_mut(key) else {
                    return Ok(Deleted {
                        version_id: Some(id.to_owned()),
                        event: "ObjectRemoved:Delete",
                        ..Deleted::default()
                    });
                };
                let Some(pos) = versions.iter().position(|v| v.version_id == id) else {
                    return Ok(Deleted {
                        version_id: Some(id.to_owned()),
                        event: "ObjectRemoved:Delete",
                        ..Deleted::default()
                    });
                };
                let removed = versions.remove(pos);
                if versions.is_empty() {
                    g.keys.remove(key);
                }
                Ok(Deleted {
                    changed: true,
                    delete_marker: removed.is_delete_marker(),
                    version_id: Some(id.to_owned()),
                    event: "ObjectRemoved:Delete",
                })
            }
            (None, None | Some(Versioning::Unversioned)) => {
                let changed = g.keys.remove(key).is_some();
                Ok(Deleted {
                    changed,
                    event: "ObjectRemoved:Delete",
                    ..Deleted::default()
                })
            }
            (None, Some(state)) => {
                let versions = g.keys.entry(key.to_owned()).or_insert_with(|| Vec::with_capacity(1));
                let id = if state == Versioning::Enabled {
                    random_id()
                } else {
                    versions.retain(|v| v.version_id != NULL_VERSION);
                    NULL_VERSION.to_owned()
                };
                versions.push(Arc::new(Version {
                    key: key.to_owned(),
                    version_id: if id == NULL_VERSION {
                        Cow::Borrowed(NULL_VERSION)
                    } else {
                        Cow::Owned(id.clone())
                    },
                    last_modified: whole_seconds(now),
                    object: None,
                }));
                Ok(Deleted {
                    changed: true,
                    delete_marker: true,
                    version_id: Some(id),
                    event: "ObjectRemoved:DeleteMarkerCreated",
                })
            }
        }
    }

    /// Replaces the tags of a version (PutObjectTagging / DeleteObjectTagging). Returns the
    /// updated version.
    pub fn set_tags(
        &self,
        key: &str,
        version_id: Option<&str>,
        tags: Vec<(String, String)>,
    ) -> Result<Arc<Version>, Fault> {
        self.update(key, version_id, |obj| {
            obj.tags = tags;
            Ok(())
        })
    }

    /// Changes a version's object in place (tags, ACL, restore state): `f` sees the object as
    /// stored and may refuse. Resolves (and reports errors) exactly as a GET would. Returns the
    /// updated version.
    pub fn update(
        &self,
        key: &str,
        version_id: Option<&str>,
        f: impl FnOnce(&mut ObjectData) -> Result<(), Fault>,
    ) -> Result<Arc<Version>, Fault> {
        let found = self.get(key, version_id)?;
        self.update_version(key, &found.version_id, f)
    }

    /// [`Bucket::update`] of one exact version id; `NoSuchKey` if it is gone (deleted or
    /// overwritten on an unversioned bucket: the object is no longer the one being changed).
    pub fn update_version(
        &self,
        key: &str,
        version_id: &str,
        f: impl FnOnce(&mut ObjectData) -> Result<(), Fault>,
    ) -> Result<Arc<Version>, Fault> {
        let mut g = self.write()?;
        let versions = g.keys.get_mut(key).ok_or_else(|| Fault::no_such_key(key))?;
        let slot = versions
            .iter_mut()
            .find(|v| v.version_id == version_id)
            .ok_or_else(|| Fault::no_such_key(key))?;
        let mut updated = Version::clone(slot);
        if let Some(obj) = updated.object.as_mut() {
            f(obj)?;
        }
        let updated = Arc::new(updated);
        *slot = Arc::clone(&updated);
        Ok(updated)
    }
}

/// Outcome of CreateBucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    /// Re-created in us-east-1 by its owner: S3 answers 200 for legacy compatibility.
    AlreadyOwnedInUsEast1,
}

/// Buckets by name. A sharded `DashMap`: every request looks its bucket up, so the lookup takes
/// no global lock; ListBuckets (rare) sorts the names itself.
#[derive(Debug, Default)]
pub struct Store {
    buckets: DashMap<String, Arc<Bucket>>,
}

impl Store {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn bucket(&self, name: &str) -> Result<Arc<Bucket>, Fault> {
        // Clone the Arc out so the shard guard ends here.
        self.buckets
            .get(name)
            .map(|b| Arc::clone(b.value()))
            .ok_or_else(|| Fault::no_such_bucket(name))
    }

    /// All buckets, ordered by name.
    pub fn buckets(&self) -> Vec<Arc<Bucket>> {
        let mut all: Vec<Arc<Bucket>> = self.buckets.iter().map(|b| Arc::clone(b.value())).collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// CreateBucket after the location constraint was resolved to `region`.
    pub fn create_bucket(&self, name: &str, region: &str, now: u64) -> Result<Created, Fault> {
        if !valid_bucket_name(name) {
            return Err(Fault::invalid_bucket_name(name));
        }
        match self.buckets.entry(name.to_owned()) {
            Entry::Occupied(existing) => {
                if existing.get().region == "us-east-1" && region == "us-east-1" {
                    return Ok(Created::AlreadyOwnedInUsEast1);
                }
                Err(Fault::new(
                    "BucketAlreadyOwnedByYou",
                    409,
                    "Your previous request to create the named bucket succeeded and you already own it.",
                )
                .field("BucketName", name))
            }
            Entry::Vacant(slot) => {
                slot.insert(Arc::new(Bucket::new(name, region, now)));
                Ok(Created::New)
            }
        }
    }

    /// DeleteBucket: BucketNotEmpty while any version or delete marker remains.
    pub fn delete_bucket(&self, name: &str) -> Result<(), Fault> {
        let bucket = self.bucket(name)?;
        {
            // Checked and marked under the bucket's write lock: no write can slip in between,
            // and writers still holding the Arc afterwards fail with NoSuchBucket.
            let mut st = write(&bucket.state);
            if st.deleted {
                return Err(Fault::no_such_bucket(name));
            }
            if !st.keys.is_empty() {
                return Err(
                    Fault::new("BucketNotEmpty", 409, "The bucket you tried to delete is not empty")
                        .field("BucketName", name),
                );
            }
            st.deleted = true;
            st.uploads.clear();
        }
        self.buckets.remove_if(name, |_, b| Arc::ptr_eq(b, &bucket));
        Ok(())
    }
}

/// S3's bucket naming rules for general purpose buckets.
pub fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
        && !name.starts_with("xn--")
        && !name.starts_with("sthree-")
        && !name.starts_with("amzn-s3-demo-")
        && !name.ends_with("-s3alias")
        && !name.ends_with("--ol-s3")
        && !name.ends_with(".mrap")
        && !name.ends_with("--x-s3")
        && !name.ends_with("--table-s3")
}

/// Validates object tags by AWS's limits.
pub fn validate_tags(tags: &[(String, String)]) -> Result<(), Fault> {
    if tags.len() > MAX_TAGS {
        return Err(Fault::new("BadRequest", 400, "Object tags cannot be greater than 10"));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > MAX_TAG_KEY {
            let msg = if k.is_empty() {
                "The TagKey you have provided is invalid"
            } else {
                "The TagKey you have provided is too long, max 128"
            };
            return Err(Fault::new("InvalidTag", 400, msg).field("TagKey", k.as_str()));
        }
        if v.chars().count() > MAX_TAG_VALUE {
            return Err(
                Fault::new("InvalidTag", 400, "The TagValue you have provided is too long, max 256")
                    .field("TagKey", k.as_str())
                    .field("TagValue", v.as_str()),
            );
        }
        if k.starts_with("aws:") {
            return Err(
                Fault::new("InvalidTag", 400, "Your TagKey cannot be prefixed with aws:").field("TagKey", k.as_str()),
            );
        }
        if tags[..i].iter().any(|(other, _)| other == k) {
            return Err(
                Fault::new("InvalidTag", 400, "Cannot provide multiple Tags with the same key")
                    .field("TagKey", k.as_str()),
            );
        }
    }
    Ok(())
}

/// RFC 7231 date (`Last-Modified`) of epoch milliseconds.
pub fn http_date(millis: u64) -> String {
    let secs = i64::try_from(millis / 1000).unwrap_or(i64::MAX);
    let t = time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(&fmt).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn obj(body: &'static [u8]) -> ObjectData {
        ObjectData {
            body: Bytes::from_static(body),
            etag: crate::checksum::etag(body),
            meta: ObjectMeta::default().shared(),
            tags: Vec::new(),
            checksum: None,
            parts: Vec::new(),
            acl: None,
            restore: None,
            accessed: 0,
            archive: None,
            replication: None,
            lost: false,
        }
    }

    fn store_with(name: &str) -> (Store, Arc<Bucket>) {
        let s = Store::new();
        s.create_bucket(name, "us-east-1", 1).unwrap();
        let b = s.bucket(name).unwrap();
        (s, b)
    }

    #[test]
    fn bucket_lifecycle() {
        let s = Store::new();
        assert_eq!(s.create_bucket("photos", "us-east-1", 1).unwrap(), Created::New);
        assert_eq!(
            s.create_bucket("photos", "us-east-1", 2).unwrap(),
            Created::AlreadyOwnedInUsEast1
        );
        assert_eq!(
            s.create_bucket("photos", "eu-west-1", 2).unwrap_err().code,
            "BucketAlreadyOwnedByYou"
        );
        s.create_bucket("eu-bucket", "eu-west-1", 1).unwrap();
        assert_eq!(s.create_bucket("eu-bucket", "eu-west-1", 1).unwrap_err().status, 409);
        for bad in [
            "ab",
            "Photos",
            "a_b",
            "-ab",
            "ab-",
            "a..b",
            "192.168.1.1",
            "xn--ab",
            &"a".repeat(64),
        ] {
            assert_eq!(
                s.create_bucket(bad, "us-east-1", 1).unwrap_err().code,
                "InvalidBucketName",
                "{bad}"
            );
        }
        let b = s.bucket("photos").unwrap();
        b.put("k", obj(b"x"), 5, &WriteCondition::default()).unwrap();
        assert_eq!(s.delete_bucket("photos").unwrap_err().code, "BucketNotEmpty");
        b.delete("k", None, 6).unwrap();
        s.delete_bucket("photos").unwrap();
        assert_eq!(s.delete_bucket("photos").unwrap_err().code, "NoSuchBucket");
        // A writer still holding the Arc fails cleanly.
        assert_eq!(
            b.put("k", obj(b"x"), 7, &WriteCondition::default()).unwrap_err().code,
            "NoSuchBucket"
        );
        assert_eq!(
            s.buckets().iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
            ["eu-bucket"]
        );
    }

    #[test]
    fn unversioned_put_get_delete() {
        let (_s, b) = store_with("bk1");
        let w = b.put("k", obj(b"one"), 10, &WriteCondition::default()).unwrap();
        assert_eq!(w.shown_version_id, None);
        b.put("k", obj(b"two"), 11, &WriteCondition::default()).unwrap();
        let v = b.get("k", None).unwrap();
        assert_eq!(&v.object.as_ref().unwrap().body[..], b"two");
        assert_eq!(b.get("k", Some("null")).unwrap().version_id, "null");
        assert_eq!(b.get("nope", None).unwrap_err().code, "NoSuchKey");
        assert_eq!(b.get("k", Some("garbage!")).unwrap_err().code, "InvalidArgument");
        let d = b.delete("k", None, 12).unwrap();
        assert!(d.changed && !d.delete_marker && d.version_id.is_none());
        assert!(!b.delete("k", None, 13).unwrap().changed);
        assert!(b.is_empty());
    }

    #[test]
    fn versioned_writes_keep_history_and_delete_markers() {
        let (_s, b) = store_with("bk2");
        b.set_versioning(Versioning::Enabled).unwrap();
        let v1 = b.put("k", obj(b"one"), 10, &WriteCondition::default()).unwrap();
        let v2 = b.put("k", obj(b"two"), 11, &WriteCondition::default()).unwrap();
        let id1 = v1.shown_version_id.unwrap();
        let id2 = v2.shown_version_id.unwrap();
        assert_ne!(id1, id2);
        assert!(is_valid_version_id(&id1));
        assert_eq!(
            &b.get("k", Some(&id1)).unwrap().object.as_ref().unwrap().body[..],
            b"one"
        );

        let d = b.delete("k", None, 12).unwrap();
        assert!(d.delete_marker);
        assert_eq!(d.event, "ObjectRemoved:DeleteMarkerCreated");
        let marker = d.version_id.unwrap();
        let e = b.get("k", None).unwrap_err();
        assert_eq!(e.code, "NoSuchKey");
        assert!(e.headers.contains(&("x-amz-delete-marker", "true".into())));
        assert!(e.headers.contains(&("x-amz-version-id", marker.clone())));
        assert_eq!(b.get("k", Some(&marker)).unwrap_err().status, 405);
        assert_eq!(
            b.get("k", Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).unwrap_err().code,
            "NoSuchVersion"
        );

        // Removing the marker makes v2 current again.
        let d = b.delete("k", Some(&marker), 13).unwrap();
        assert!(d.changed && d.delete_marker);
        assert_eq!(b.get("k", None).unwrap().version_id, id2);
        // Permanently deleting a version.
        b.delete("k", Some(&id2), 14).unwrap();
        assert_eq!(b.get("k", None).unwrap().version_id, id1);
    }

    #[test]
    fn suspended_versioning_uses_the_null_version() {
        let (_s, b) = store_with("bk3");
        b.put("k", obj(b"pre"), 1, &WriteCondition::default()).unwrap();
        b.set_versioning(Versioning::Enabled).unwrap();
        let v = b.put("k", obj(b"v"), 2, &WriteCondition::default()).unwrap();
        b.set_versioning(Versioning::Suspended).unwrap();
        let n = b.put("k", obj(b"n1"), 3, &WriteCondition::default()).unwrap();
        // The write's response does not name the null version; reads do.
        assert_eq!(n.shown_version_id, None);
        assert_eq!(b.shown_version_id(&n.version).as_deref(), Some("null"));
        b.put("k", obj(b"n2"), 4, &WriteCondition::default()).unwrap();
        // The null version was replaced, the enabled-era version kept.
        let g = read(&b.state);
        let ids: Vec<_> = g.keys["k"].iter().map(|v| v.version_id.clone()).collect();
        drop(g);
        assert_eq!(ids, vec![v.shown_version_id.unwrap(), "null".to_owned()]);
        let d = b.delete("k", None, 5).unwrap();
        assert_eq!((d.delete_marker, d.version_id.as_deref()), (true, Some("null")));
        assert_eq!(b.set_versioning(Versioning::Unversioned).unwrap_err().status, 400);
    }

    #[test]
    fn conditional_writes_and_tags() {
        let (_s, b) = store_with("bk4");
        let cond = WriteCondition {
            if_none_match_any: true,
            if_match: None,
        };
        b.put("k", obj(b"a"), 1, &cond).unwrap();
        assert_eq!(b.put("k", obj(b"b"), 2, &cond).unwrap_err().status, 412);
        assert_eq!(&b.get("k", None).unwrap().object.as_ref().unwrap().body[..], b"a");
        let wrong = WriteCondition {
            if_match: Some("nope".into()),
            ..WriteCondition::default()
        };
        assert_eq!(b.put("k", obj(b"b"), 2, &wrong).unwrap_err().status, 412);
        assert_eq!(b.put("missing", obj(b"b"), 2, &wrong).unwrap_err().code, "NoSuchKey");
        assert!(b.get("missing", None).is_err());

        let v = b.set_tags("k", None, vec![("a".into(), "1".into())]).unwrap();
        assert_eq!(v.object.as_ref().unwrap().tags.len(), 1);
        assert_eq!(b.get("k", None).unwrap().object.as_ref().unwrap().tags[0].1, "1");
        assert_eq!(b.set_tags("nope", None, vec![]).unwrap_err().code, "NoSuchKey");
    }

    #[test]
    fn tag_limits() {
        let t = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        assert!(validate_tags(&[t("a", "1"), t("b", "")]).is_ok());
        let eleven: Vec<_> = (0..11).map(|i| t(&i.to_string(), "v")).collect();
        assert_eq!(validate_tags(&eleven).unwrap_err().code, "BadRequest");
        assert_eq!(
            validate_tags(&[t(&"k".repeat(129), "v")]).unwrap_err().code,
            "InvalidTag"
        );
        assert!(validate_tags(&[t(&"k".repeat(128), &"v".repeat(256))]).is_ok());
        assert_eq!(
            validate_tags(&[t("k", &"v".repeat(257))]).unwrap_err().code,
            "InvalidTag"
        );
        assert_eq!(
            validate_tags(&[t("a", "1"), t("a", "2")]).unwrap_err().code,
            "InvalidTag"
        );
        assert_eq!(validate_tags(&[t("aws:x", "1")]).unwrap_err().code, "InvalidTag");
    }

    #[test]
    fn metadata_is_shared_when_it_is_empty_or_only_a_content_type() {
        let empty = ObjectMeta::default().shared();
        assert!(Arc::ptr_eq(&empty, &ObjectMeta::default().shared()));
        let typed = |t: &str| {
            ObjectMeta {
                content_type: Some(t.to_owned()),
                ..ObjectMeta::default()
            }
            .shared()
        };
        assert!(Arc::ptr_eq(&typed("image/jpeg"), &typed("image/jpeg")));
        assert!(!Arc::ptr_eq(&typed("image/jpeg"), &typed("text/plain")));
        assert_eq!(typed("image/jpeg").content_type(), "image/jpeg");
        let with_user = ObjectMeta {
            content_type: Some("image/jpeg".to_owned()),
            user: BTreeMap::from([("a".to_owned(), "1".to_owned())]),
            ..ObjectMeta::default()
        };
        let shared = with_user.clone().shared();
        assert!(!Arc::ptr_eq(&shared, &typed("image/jpeg")));
        assert_eq!(*shared, with_user);
    }

    #[test]
    fn http_dates() {
        assert_eq!(http_date(1_700_000_000_123), "Tue, 14 Nov 2023 22:13:20 GMT");
    }
}
