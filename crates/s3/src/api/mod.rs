//! The `s3s::S3` implementation: `s3s` DTOs in, store calls, DTOs out. Each operation runs as
//! `Result<Reply<Output>, Fault>`; [`Call::finish`] adds S3's request ids to the response (or to
//! the error) in one place.

mod bucket;
mod lifecycle;
mod list;
mod multipart;
mod object;
mod replication;
mod restore;

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use lb_core::RequestContext;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, S3};

use crate::checksum::{Algorithm, Checksum, Provided};
use crate::error::Fault;
use crate::notify::ObjectEvent;
use crate::store::{Bucket, ObjectMeta, MAX_OBJECT_SIZE};
use crate::S3Stub;

/// The canonical user id of the one account (the example id of AWS's documentation).
pub const OWNER_ID: &str = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";

/// What one request knows about itself: the gateway's context and S3's own request ids.
pub struct Call {
    pub ctx: RequestContext,
    pub request_id: String,
    pub host_id: String,
    pub host: Option<String>,
}

impl Call {
    fn new<T>(req: &S3Request<T>) -> Self {
        let mut ctx = req.extensions.get::<RequestContext>().cloned().unwrap_or_default();
        // A browser POST is signed inside its form, which only s3s reads: it verified the policy
        // signature, so its credential names the caller (the event's principal) and region.
        if ctx.access_key.is_none() {
            if let Some(cred) = &req.credentials {
                ctx.access_key = Some(cred.access_key.clone());
                if let Some(region) = &req.region {
                    ctx.region = region.as_str().to_owned();
                }
            }
        }
        let request_id = lb_core::ids::s3_request_id();
        // The event record carries the id the client saw in `x-amz-request-id`.
        ctx.request_id.clone_from(&request_id);
        Self {
            // The notifier derives the event's `x-amz-id-2` from the request id the same way.
            host_id: crate::notify::host_id(&request_id),
            ctx,
            request_id,

            host: req
                .headers
                .get(http::header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }
    }

    fn finish<T>(&self, r: Result<Reply<T>, Fault>) -> S3Result<S3Response<T>> {
        match r {
            Ok(reply) => {
                let mut headers = HeaderMap::new();
                insert(&mut headers, "x-amz-request-id", &self.request_id);
                insert(&mut headers, "x-amz-id-2", &self.host_id);
                for (k, v) in &reply.headers {
                    insert(&mut headers, k, v);
                }
                Ok(S3Response::with_headers(reply.output, headers))
            }
            Err(f) => Err(f.into_s3_error(&self.request_id, &self.host_id)),
        }
    }
}

fn insert(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
        headers.insert(n, v);
    }
}

/// An operation's output and any response headers its DTO cannot carry.
pub struct Reply<T> {
    pub output: T,
    pub headers: Vec<(&'static str, String)>,
}

impl<T> From<T> for Reply<T> {
    fn from(output: T) -> Self {
        Self {
            output,
            headers: Vec::new(),
        }
    }
}

type Res<T> = Result<Reply<T>, Fault>;

impl S3Stub {
    fn now(&self) -> u64 {
        self.clock.now_millis()
    }

    /// Emits an object event after the write it describes was committed.
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &self,
        call: &Call,
        bucket: &Bucket,
        event_name: &'static str,
        key: &str,
        size: Option<u64>,
        etag: Option<&str>,
        version_id: Option<String>,
        time_millis: u64,
    ) {
        let mut ctx = call.ctx.clone();
        // The record's awsRegion is the bucket's region.
        ctx.region.clone_from(&bucket.region);
        // New versions (and delete markers) of a bucket with a replication configuration are
        // replicated; replicas themselves are written by the replication task, not here.
        let replicated = matches!(
            event_name,
            "ObjectCreated:Put"
                | "ObjectCreated:Post"
                | "ObjectCreated:Copy"
                | "ObjectCreated:CompleteMultipartUpload"
                | "ObjectRemoved:DeleteMarkerCreated"
        );
        if replicated {
            if let (Some(id), Ok(b)) = (version_id.as_deref(), self.store.bucket(&bucket.name)) {
                self.replicate(&b, key, id, time_millis);
            }
        }
        let event = ObjectEvent {
            event_name,
            bucket: bucket.name.clone(),
            key: key.to_owned(),
            size,
            etag: etag.map(str::to_owned),
            // Event records carry no `versionId` for the null version (objects written, and
            // delete markers created, while versioning is suspended), as recorded from AWS.
            version_id: version_id.filter(|id| id != crate::store::NULL_VERSION),
            time_millis,
            ctx,
            restore: None,
            extra: None,
        };
        self.dispatch(event);
    }

    /// Hands a built event to the notifier (and, in tests, to the tap).
    fn dispatch(&self, event: ObjectEvent) {
        #[cfg(test)]
        self.tap
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(event.clone());
        self.notifier.emit(event);
    }
}

macro_rules! operations {
    ($($name:ident($input:ty) -> $output:ty;)*) => {
        #[async_trait::async_trait]
        impl S3 for S3Stub {
            $(
                async fn $name(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    let call = Call::new(&req);
                    let result = self.$name(&call, req).await;
                    call.finish(result)
                }
            )*

            async fn put_bucket_notification_configuration(
                &self,
                req: S3Request<PutBucketNotificationConfigurationInput>,
            ) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
                let call = Call::new(&req);
                let input = req.input;
                let bucket = match self.store.bucket(&input.bucket) {
                    Ok(b) => b,
                    Err(f) => return call.finish(Err(f)),
                };
                let result = self.notifier.put_configuration_detailed(
                    &bucket.name,
                    &bucket.region,
                    input.notification_configuration,
                    input.skip_destination_validation.unwrap_or(false),
                    &call.ctx,
                );
                if let Err(e) = result {
                    let mut f = Fault::new(e.code, e.status, e.message);
                    for (name, value) in e.details {
                        f = f.field(name, value);
                    }
                    return call.finish(Err(f));
                }
                call.finish(Ok(PutBucketNotificationConfigurationOutput::default().into()))
            }

            async fn get_bucket_notification_configuration(
                &self,
                req: S3Request<GetBucketNotificationConfigurationInput>,
            ) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
                let call = Call::new(&req);
                let result = self.store.bucket(&req.input.bucket).map(|b| {
                    let c = self.notifier.get_configuration(&b.name);
                    GetBucketNotificationConfigurationOutput {
                        event_bridge_configuration: c.event_bridge_configuration,
                        lambda_function_configurations: c.lambda_function_configurations,
                        queue_configurations: c.queue_configurations,
                        topic_configurations: c.topic_configurations,
                    }
                    .into()
                });
                call.finish(result)
            }
        }
    };
}

operations! {
    list_buckets(ListBucketsInput) -> ListBucketsOutput;
    create_bucket(CreateBucketInput) -> CreateBucketOutput;
    head_bucket(HeadBucketInput) -> HeadBucketOutput;
    delete_bucket(DeleteBucketInput) -> DeleteBucketOutput;
    get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput;
    put_bucket_versioning(PutBucketVersioningInput) -> PutBucketVersioningOutput;
    get_bucket_versioning(GetBucketVersioningInput) -> GetBucketVersioningOutput;
    put_object(PutObjectInput) -> PutObjectOutput;
    post_object(PostObjectInput) -> PostObjectOutput;
    get_object(GetObjectInput) -> GetObjectOutput;
    head_object(HeadObjectInput) -> HeadObjectOutput;
    delete_object(DeleteObjectInput) -> DeleteObjectOutput;
    delete_objects(DeleteObjectsInput) -> DeleteObjectsOutput;
    copy_object(CopyObjectInput) -> CopyObjectOutput;
    put_object_tagging(PutObjectTaggingInput) -> PutObjectTaggingOutput;
    get_object_tagging(GetObjectTaggingInput) -> GetObjectTaggingOutput;
    delete_object_tagging(DeleteObjectTaggingInput) -> DeleteObjectTaggingOutput;
    put_object_acl(PutObjectAclInput) -> PutObjectAclOutput;
    get_object_acl(GetObjectAclInput) -> GetObjectAclOutput;
    restore_object(RestoreObjectInput) -> RestoreObjectOutput;
    list_objects(ListObjectsInput) -> ListObjectsOutput;
    list_objects_v2(ListObjectsV2Input) -> ListObjectsV2Output;
    list_object_versions(ListObjectVersionsInput) -> ListObjectVersionsOutput;
    create_multipart_upload(CreateMultipartUploadInput) -> CreateMultipartUploadOutput;
    upload_part(UploadPartInput) -> UploadPartOutput;
    upload_part_copy(UploadPartCopyInput) -> UploadPartCopyOutput;
    complete_multipart_upload(CompleteMultipartUploadInput) -> CompleteMultipartUploadOutput;
    abort_multipart_upload(AbortMultipartUploadInput) -> AbortMultipartUploadOutput;
    list_parts(ListPartsInput) -> ListPartsOutput;
    list_multipart_uploads(ListMultipartUploadsInput) -> ListMultipartUploadsOutput;
    put_bucket_lifecycle_configuration(PutBucketLifecycleConfigurationInput) -> PutBucketLifecycleConfigurationOutput;
    get_bucket_lifecycle_configuration(GetBucketLifecycleConfigurationInput) -> GetBucketLifecycleConfigurationOutput;
    delete_bucket_lifecycle(DeleteBucketLifecycleInput) -> DeleteBucketLifecycleOutput;
    put_bucket_replication(PutBucketReplicationInput) -> PutBucketReplicationOutput;
    get_bucket_replication(GetBucketReplicationInput) -> GetBucketReplicationOutput;
    delete_bucket_replication(DeleteBucketReplicationInput) -> DeleteBucketReplicationOutput;
    put_bucket_intelligent_tiering_configuration(PutBucketIntelligentTieringConfigurationInput) -> PutBucketIntelligentTieringConfigurationOutput;
    get_bucket_intelligent_tiering_configuration(GetBucketIntelligentTieringConfigurationInput) -> GetBucketIntelligentTieringConfigurationOutput;
    delete_bucket_intelligent_tiering_configuration(DeleteBucketIntelligentTieringConfigurationInput) -> DeleteBucketIntelligentTieringConfigurationOutput;
    list_bucket_intelligent_tiering_configurations(ListBucketIntelligentTieringConfigurationsInput) -> ListBucketIntelligentTieringConfigurationsOutput;
}

// ---- conversions shared by the operation modules ----

pub fn ts(millis: u64) -> Timestamp {
    let nanos = i128::from(millis) * 1_000_000;
    Timestamp::from(time::OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(time::OffsetDateTime::UNIX_EPOCH))
}

pub fn unix_secs(t: &Timestamp) -> i64 {
    time::OffsetDateTime::from(t.clone()).unix_timestamp()
}

pub fn ts_secs(secs: i64) -> Timestamp {
    Timestamp::from(time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH))
}

pub fn etag(value: &str) -> ETag {
    ETag::Strong(value.to_owned())
}

pub fn owner() -> Owner {
    Owner {
        display_name: None,
        id: Some(OWNER_ID.to_owned()),
    }
}

pub fn initiator() -> Initiator {
    Initiator {
        display_name: None,
        id: Some(OWNER_ID.to_owned()),
    }
}

/// A body that hands out `bytes` without copying.
pub fn blob(bytes: Bytes) -> StreamingBlob {
    StreamingBlob::from(s3s::Body::from(bytes))
}

/// Reads a request body fully (before any lock is taken). The gateway bounds its size.
pub async fn read_body(body: Option<StreamingBlob>) -> Result<Bytes, Fault> {
    let Some(body) = body else { return Ok(Bytes::new()) };
    let mut body = s3s::Body::from(body);
    let bytes = body.store_all_limited(usize::MAX).await.map_err(|e| {
        Fault::new(
            "IncompleteBody",
            400,
            format!("The request body could not be read: {e}"),
        )
    })?;
    if bytes.len() as u64 > MAX_OBJECT_SIZE {
        return Err(Fault::entity_too_large(bytes.len() as u64, MAX_OBJECT_SIZE));
    }
    Ok(bytes)
}

/// Rejects an upload whose declared length is already over the limit, before reading it.
pub fn check_declared_length(content_length: Option<i64>, max: u64) -> Result<(), Fault> {
    if let Some(n) = content_length.and_then(|n| u64::try_from(n).ok()) {
        if n > max {
            return Err(Fault::entity_too_large(n, max));
        }
    }
    Ok(())
}

/// `x-amz-tagging` / TaggingDirective REPLACE: a URL query string of tags.
pub fn parse_tagging_header(value: Option<&str>) -> Result<Vec<(String, String)>, Fault> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(Vec::new());
    };
    let tags: Vec<(String, String)> = form_urlencoded::parse(v.as_bytes()).into_owned().collect();
    crate::store::validate_tags(&tags)?;
    Ok(tags)
}

/// The checksum inputs of an upload request.
pub fn provided(
    sdk_algorithm: Option<&ChecksumAlgorithm>,
    crc32: Option<&String>,
    crc32c: Option<&String>,
    crc64nvme: Option<&String>,
    sha1: Option<&String>,
    sha256: Option<&String>,
    content_md5: Option<&String>,
) -> Provided {
    let mut values = Vec::new();
    for (alg, v) in [
        (Algorithm::Crc32, crc32),
        (Algorithm::Crc32c, crc32c),
        (Algorithm::Crc64Nvme, crc64nvme),
        (Algorithm::Sha1, sha1),
        (Algorithm::Sha256, sha256),
    ] {
        if let Some(v) = v {
            values.push((alg, v.clone()));
        }
    }
    Provided {
        sdk_algorithm: sdk_algorithm.map(|a| a.as_str().to_owned()),
        values,
        content_md5: content_md5.cloned(),
    }
}

/// [`refuse_unsupported`] for the write operations (PutObject, CopyObject, CreateMultipartUpload),
/// whose inputs share the ACL, grant, Object Lock and SSE-C fields; `$extra_sse` adds the
/// operation's other SSE-C fields.
macro_rules! refuse_unsupported_write {
    ($i:expr, $extra_sse:expr) => {
        $crate::api::refuse_unsupported(
            $i.acl.as_ref().map(s3s::dto::ObjectCannedACL::as_str),
            &[
                $i.grant_full_control.as_ref(),
                $i.grant_read.as_ref(),
                $i.grant_read_acp.as_ref(),
                $i.grant_write_acp.as_ref(),
            ],
            $i.object_lock_mode.is_some()
                || $i.object_lock_retain_until_date.is_some()
                || $i.object_lock_legal_hold_status.is_some(),
            $i.sse_customer_algorithm.is_some() || $i.sse_customer_key.is_some() || $extra_sse,
        )
    };
}
pub(crate) use refuse_unsupported_write;

/// Rejects what a default S3 bucket (ACLs disabled by BucketOwnerEnforced, no Object Lock
/// configuration) rejects, and SSE-C, which S3 refuses over plain HTTP: localbridge never
/// accepts such a request and silently ignores part of it.
pub fn refuse_unsupported(
    acl: Option<&str>,
    grants: &[Option<&String>],
    object_lock: bool,
    sse_customer: bool,
) -> Result<(), Fault> {
    if sse_customer {
        return Err(Fault::invalid_request(
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
        ));
    }
    if object_lock {
        return Err(Fault::invalid_request("Bucket is missing Object Lock Configuration"));
    }
    let acl_set = acl.is_some_and(|a| !matches!(a, "private" | "bucket-owner-full-control"));
    if acl_set || grants.iter().any(Option::is_some) {
        return Err(Fault::new(
            "AccessControlListNotSupported",
            400,
            "The bucket does not allow ACLs",
        ));
    }
    Ok(())
}

/// Verifies a signed payload's `x-amz-content-sha256` (a hex SHA-256; the gateway leaves it in
/// place for non-streaming requests) against the body.
pub fn verify_content_sha256(headers: &http::HeaderMap, body: &[u8]) -> Result<(), Fault> {
    use s3s::crypto::Checksum as _;
    let Some(claimed) = headers.get("x-amz-content-sha256").and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    if claimed.len() != 64 || !claimed.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(());
    }
    let actual = hex::encode(s3s::crypto::Sha256::checksum(body));
    if !claimed.eq_ignore_ascii_case(&actual) {
        return Err(Fault::new(
            "XAmzContentSHA256Mismatch",
            400,
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
        .field("ClientComputedContentSHA256", claimed)
        .field("S3ComputedContentSHA256", actual));
    }
    Ok(())
}

/// Parses a checksum algorithm named by a request (`x-amz-checksum-algorithm`).
pub fn parse_algorithm(a: Option<&ChecksumAlgorithm>) -> Result<Option<Algorithm>, Fault> {
    match a {
        None => Ok(None),
        Some(a) => Algorithm::parse(a.as_str()).map(Some).ok_or_else(|| {
            Fault::invalid_request(
                "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
            )
        }),
    }
}

/// Sets the `checksum_*` and `checksum_type` fields of an output DTO.
macro_rules! set_checksum {
    ($out:expr, $checksum:expr) => {{
        if let Some(c) = $checksum {
            let c: &$crate::checksum::Checksum = c;
            let v = Some(c.value.clone());
            match c.algorithm {
                $crate::checksum::Algorithm::Crc32 => $out.checksum_crc32 = v,
                $crate::checksum::Algorithm::Crc32c => $out.checksum_crc32c = v,
                $crate::checksum::Algorithm::Crc64Nvme => $out.checksum_crc64nvme = v,
                $crate::checksum::Algorithm::Sha1 => $out.checksum_sha1 = v,
                $crate::checksum::Algorithm::Sha256 => $out.checksum_sha256 = v,
            }
            $out.checksum_type = Some(s3s::dto::ChecksumType::from(c.kind.as_str().to_owned()));
        }
    }};
}
pub(crate) use set_checksum;

/// Sets only the `checksum_*` value fields (parts carry no type).
macro_rules! set_checksum_value {
    ($out:expr, $alg:expr, $value:expr) => {{
        let v = Some($value);
        match $alg {
            $crate::checksum::Algorithm::Crc32 => $out.checksum_crc32 = v,
            $crate::checksum::Algorithm::Crc32c => $out.checksum_crc32c = v,
            $crate::checksum::Algorithm::Crc64Nvme => $out.checksum_crc64nvme = v,
            $crate::checksum::Algorithm::Sha1 => $out.checksum_sha1 = v,
            $crate::checksum::Algorithm::Sha256 => $out.checksum_sha256 = v,
        }
    }};
}
pub(crate) use set_checksum_value;

pub const STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "OUTPOSTS",
    "GLACIER_IR",
    "SNOW",
    "EXPRESS_ONEZONE",
    "FSX_OPENZFS",
    "FSX_ONTAP",
];

pub fn storage_class(sc: Option<&StorageClass>) -> Result<Option<String>, Fault> {
    match sc {
        None => Ok(None),
        Some(s) if STORAGE_CLASSES.contains(&s.as_str()) => Ok(Some(s.as_str().to_owned())),
        Some(_) => Err(Fault::new(
            "InvalidStorageClass",
            400,
            "The storage class you specified is not valid",
        )),
    }
}

/// [`object_meta`] from a write input (PutObject, PostObject, CopyObject, CreateMultipartUpload):
/// their standard-header and metadata fields share names.
macro_rules! object_meta_of {
    ($i:expr) => {
        $crate::api::object_meta(
            $i.content_type.as_ref(),
            $i.content_encoding.as_ref(),
            $i.content_disposition.as_ref(),
            $i.cache_control.as_ref(),
            $i.content_language.as_ref(),
            $i.expires.as_ref(),
            $i.metadata.as_ref(),
            $i.storage_class.as_ref(),
            $i.website_redirect_location.as_ref(),
            $i.server_side_encryption.as_ref(),
            $i.ssekms_key_id.as_ref(),
        )
    };
}
pub(crate) use object_meta_of;

/// The standard headers and metadata of a write request.
#[allow(clippy::too_many_arguments)]
pub fn object_meta(
    content_type: Option<&String>,
    content_encoding: Option<&String>,
    content_disposition: Option<&String>,
    cache_control: Option<&String>,
    content_language: Option<&String>,
    expires: Option<&Timestamp>,
    metadata: Option<&Metadata>,
    storage: Option<&StorageClass>,
    website_redirect_location: Option<&String>,
    sse: Option<&ServerSideEncryption>,
    ssekms_key_id: Option<&String>,
) -> Result<ObjectMeta, Fault> {
    let meta = ObjectMeta {
        content_type: content_type.cloned(),
        content_encoding: content_encoding.cloned(),
        content_disposition: content_disposition.cloned(),
        cache_control: cache_control.cloned(),
        content_language: content_language.cloned(),
        expires: expires.map(unix_secs),
        user: metadata
            .map(|m| m.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect())
            .unwrap_or_default(),
        storage_class: storage_class(storage)?,
        website_redirect_location: website_redirect_location.cloned(),
        server_side_encryption: sse.map(|s| s.as_str().to_owned()),
        ssekms_key_id: ssekms_key_id.cloned(),
    };
    meta.validate()?;
    Ok(meta)
}

/// `x-amz-server-side-encryption` of a stored object: S3 encrypts everything with SSE-S3 by
/// default.
pub fn sse(meta: &ObjectMeta) -> Option<ServerSideEncryption> {
    Some(ServerSideEncryption::from(
        meta.server_side_encryption
            .clone()
            .unwrap_or_else(|| ServerSideEncryption::AES256.to_owned()),
    ))
}

pub fn user_metadata(meta: &ObjectMeta) -> Option<Metadata> {
    (!meta.user.is_empty()).then(|| meta.user.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// A `ChecksumAlgorithm` list entry for listings.
pub fn algorithm_list(c: Option<&Checksum>) -> Option<Vec<ChecksumAlgorithm>> {
    c.map(|c| vec![ChecksumAlgorithm::from(c.algorithm.as_str().to_owned())])
}

pub fn checksum_type(c: Option<&Checksum>) -> Option<ChecksumType> {
    c.map(|c| ChecksumType::from(c.kind.as_str().to_owned()))
}

/// Whether an `If-Match`/`If-None-Match` condition matches the object's ETag.
pub fn etag_matches(cond: &ETagCondition, etag: &str) -> bool {
    match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value().trim_matches('"') == etag,
    }
}

/// Read preconditions in S3's order: If-Match, If-Unmodified-Since (ignored when If-Match is
/// present), If-None-Match (304), If-Modified-Since (ignored when If-None-Match is present).
pub fn check_read_conditions(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
    etag_value: &str,
    last_modified_millis: u64,
) -> Result<(), Fault> {
    let lm = i64::try_from(last_modified_millis / 1000).unwrap_or(i64::MAX);
    let not_modified = || {
        Fault::not_modified()
            .header("etag", format!("\"{etag_value}\""))
            .header("last-modified", crate::store::http_date(last_modified_millis))
    };
    match if_match {
        Some(c) if !etag_matches(c, etag_value) => return Err(Fault::precondition_failed("If-Match")),
        Some(_) => {}
        None => {
            if if_unmodified_since.is_some_and(|t| lm > unix_secs(t)) {
                return Err(Fault::precondition_failed("If-Unmodified-Since"));
            }
        }
    }
    match if_none_match {
        Some(c) if etag_matches(c, etag_value) => return Err(not_modified()),
        Some(_) => {}
        None => {
            if if_modified_since.is_some_and(|t| lm <= unix_secs(t)) {
                return Err(not_modified());
            }
        }
    }
    Ok(())
}

/// CopyObject/UploadPartCopy source preconditions: every failure is 412.
pub fn check_copy_conditions(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
    etag_value: &str,
    last_modified_millis: u64,
) -> Result<(), Fault> {
    let lm = i64::try_from(last_modified_millis / 1000).unwrap_or(i64::MAX);
    match if_match {
        Some(c) if !etag_matches(c, etag_value) => {
            return Err(Fault::precondition_failed("x-amz-copy-source-If-Match"))
        }
        Some(_) => {}
        None => {
            if if_unmodified_since.is_some_and(|t| lm > unix_secs(t)) {
                return Err(Fault::precondition_failed("x-amz-copy-source-If-Unmodified-Since"));
            }
        }
    }
    match if_none_match {
        Some(c) if etag_matches(c, etag_value) => {
            return Err(Fault::precondition_failed("x-amz-copy-source-If-None-Match"))
        }
        Some(_) => {}
        None => {
            if if_modified_since.is_some_and(|t| lm <= unix_secs(t)) {
                return Err(Fault::precondition_failed("x-amz-copy-source-If-Modified-Since"));
            }
        }
    }
    Ok(())
}

/// Resolves an `x-amz-copy-source` to the source bucket and version.
pub fn copy_source(stub: &S3Stub, source: &CopySource) -> Result<(Arc<Bucket>, Arc<crate::store::Version>), Fault> {
    let CopySource::Bucket {
        bucket,
        key,
        version_id,
    } = source
    else {
        return Err(Fault::not_implemented(
            "Copying from access points and Outposts is not implemented by localbridge",
        ));
    };
    let b = stub.store.bucket(bucket)?;
    let v = b.get(key, version_id.as_deref()).map_err(|f| {
        if f.code == "MethodNotAllowed" {
            Fault::invalid_request(
                "The source of a copy request may not specifically refer to a delete marker by version id.",
            )
        } else {
            f
        }
    })?;
    Ok((b, v))
}

/// What S3 leaves unencoded in URLs it builds and in `encoding-type=url` listings: RFC 3986
/// unreserved characters and `/` (a key `quux ab/x+y` lists as `quux%20ab/x%2By`).
pub const KEY_SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encoding for `encoding-type=url` listings.
pub fn url_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, KEY_SET).to_string()
}

#[cfg(test)]
mod tests;
