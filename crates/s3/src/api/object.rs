//! Object operations: PutObject, POST uploads, GetObject, HeadObject, DeleteObject(s),
//! CopyObject and object tagging.

use std::ops::Range as ByteRange;
use std::sync::Arc;

use s3s::dto::*;
use s3s::S3Request;

use super::{
    blob, check_copy_conditions, check_declared_length, check_read_conditions, copy_source, etag, object_meta_of,
    parse_algorithm, parse_tagging_header, provided, read_body, refuse_unsupported, refuse_unsupported_write,
    set_checksum, set_checksum_value, sse, ts, user_metadata, verify_content_sha256, Call, Res,
};
use crate::checksum::{self, Algorithm, Checksum, Provided};
use crate::error::Fault;
use crate::store::{
    multipart::MAX_PART_NUMBER, Bucket, ObjectData, ObjectMeta, Version, WriteCondition, Written, MAX_OBJECT_SIZE,
};
use crate::S3Stub;

/// The inputs PutObject and POST uploads share.
struct PutArgs {
    bucket: String,
    key: String,
    body: Option<StreamingBlob>,
    content_length: Option<i64>,
    meta: Result<ObjectMeta, Fault>,
    tagging: Option<String>,
    provided: Provided,
    if_match: Option<ETagCondition>,
    if_none_match: Option<ETagCondition>,
    /// ACLs, Object Lock and SSE-C, refused as a default bucket refuses them.
    unsupported: Result<(), Fault>,
    /// The request's headers when its payload may be signed (PutObject, not POST).
    signed_headers: Option<http::HeaderMap>,
}

macro_rules! put_args {
    ($i:expr) => {{
        let i = $i;
        PutArgs {
            meta: object_meta_of!(i),
            provided: provided(
                i.checksum_algorithm.as_ref(),
                i.checksum_crc32.as_ref(),
                i.checksum_crc32c.as_ref(),
                i.checksum_crc64nvme.as_ref(),
                i.checksum_sha1.as_ref(),
                i.checksum_sha256.as_ref(),
                i.content_md5.as_ref(),
            ),
            bucket: i.bucket,
            key: i.key,
            body: i.body,
            content_length: i.content_length,
            tagging: i.tagging,
            unsupported: refuse_unsupported_write!(i, i.sse_customer_key_md5.is_some()),
            if_match: i.if_match,
            if_none_match: i.if_none_match,
            signed_headers: None,
        }
    }};
}

/// `x-amz-sdk-checksum-algorithm` is where SDKs name the algorithm of a PutObject or UploadPart
/// (`s3s` 0.14 reads only `x-amz-checksum-algorithm` and `x-amz-trailer` into the input).
pub fn sdk_algorithm(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get("x-amz-sdk-checksum-algorithm")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn with_headers(mut a: PutArgs, headers: &http::HeaderMap) -> PutArgs {
    if let Some(alg) = sdk_algorithm(headers) {
        a.provided.sdk_algorithm = Some(alg);
    }
    a.signed_headers = Some(headers.clone());
    a
}

/// `If-None-Match: *` and `If-Match: "etag"` on writes (S3 supports no other forms).
pub fn write_condition(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> Result<WriteCondition, Fault> {
    let if_none_match_any = match if_none_match {
        None => false,
        Some(ETagCondition::Any) => true,
        Some(ETagCondition::ETag(_)) => {
            return Err(
                Fault::not_implemented("A header you provided implies functionality that is not implemented")
                    .field("Header", "If-None-Match"),
            )
        }
    };
    let if_match = if_match.map(|c| match c {
        ETagCondition::Any => "*".to_owned(),
        ETagCondition::ETag(e) => e.value().trim_matches('"').to_owned(),
    });
    Ok(WriteCondition {
        if_none_match_any,
        if_match,
    })
}

/// The URL of an object as S3 reports it in `Location`.
pub(super) fn object_url(call: &Call, bucket: &str, key: &str) -> String {
    let host = call.host.as_deref().unwrap_or("localhost");
    let key = percent_encoding::utf8_percent_encode(key, super::KEY_SET);
    if host.starts_with(&format!("{bucket}.")) {
        format!("http://{host}/{key}")
    } else {
        format!("http://{host}/{bucket}/{key}")
    }
}

/// Which bytes of an object a read returns.
struct Selection {
    range: ByteRange<usize>,
    content_range: Option<String>,
    parts_count: Option<i32>,
    /// The selected part's checksum (COMPOSITE objects).
    part_checksum: Option<(Algorithm, String)>,
    whole: bool,
}

fn select(obj: &ObjectData, range: Option<&Range>, part_number: Option<i32>) -> Result<Selection, Fault> {
    let size = obj.body.len();
    let whole = Selection {
        range: 0..size,
        content_range: None,
        parts_count: None,
        part_checksum: None,
        whole: true,
    };
    match (range, part_number) {
        (Some(_), Some(_)) => Err(Fault::invalid_request(
            "Cannot specify both Range header and partNumber query parameter",
        )),
        (Some(r), None) => {
            let rg = r
                .check(size as u64)
                .map_err(|_| Fault::invalid_range(size as u64, &r.to_header_string()))?;
            let (start, end) = (
                usize::try_from(rg.start).unwrap_or(size),
                usize::try_from(rg.end).unwrap_or(size),
            );
            Ok(Selection {
                content_range: Some(format!("bytes {start}-{}/{size}", end - 1)),
                range: start..end,
                parts_count: None,
                part_checksum: None,
                whole: false,
            })
        }
        (None, Some(n)) => {
            if !(1..=MAX_PART_NUMBER).contains(&n) {
                return Err(Fault::invalid_argument(
                    "Part number must be an integer between 1 and 10000, inclusive",
                    "partNumber",
                    &n.to_string(),
                ));
            }
            let count = obj.parts.len().max(1);
            let idx = usize::try_from(n - 1).unwrap_or(usize::MAX);
            if idx >= count {
                return Err(
                    Fault::new("InvalidPartNumber", 416, "The requested partnumber is not satisfiable")
                        .field("PartNumberRequested", n.to_string())
                        .field("ActualPartCount", count.to_string()),
                );
            }
            if obj.parts.is_empty() {
                return Ok(whole);
            }
            let start: u64 = obj.parts[..idx].iter().map(|p| p.size).sum();
            let len = obj.parts[idx].size;
            let (start, end) = (
                usize::try_from(start).unwrap_or(size),
                usize::try_from(start + len).unwrap_or(size),
            );
            let part_checksum = match (&obj.checksum, &obj.parts[idx].checksum) {
                (Some(c), Some(v)) => Some((c.algorithm, v.clone())),
                _ => None,
            };
            Ok(Selection {
                content_range: (end > start).then(|| format!("bytes {start}-{}/{size}", end - 1)),
                range: start.min(size)..end.clamp(start.min(size), size),
                parts_count: i32::try_from(obj.parts.len()).ok(),
                part_checksum,
                whole: false,
            })
        }
        (None, None) => Ok(whole),
    }
}

/// Fills the fields GetObject and HeadObject share.
macro_rules! describe {
    ($out:expr, $bucket:expr, $v:expr, $obj:expr, $sel:expr, $checksum_mode:expr) => {{
        let (bucket, v, obj, sel): (&Bucket, &Version, &ObjectData, &Selection) = ($bucket, $v, $obj, $sel);
        let meta = &obj.meta;
        $out.accept_ranges = Some("bytes".to_owned());
        $out.content_length = i64::try_from(sel.range.len()).ok();
        $out.content_range = sel.content_range.clone();
        $out.e_tag = Some(etag(&obj.etag));
        $out.last_modified = Some(ts(v.last_modified));
        $out.content_type = Some(meta.content_type().to_owned());
        $out.content_encoding = meta.content_encoding.clone();
        $out.content_disposition = meta.content_disposition.clone();
        $out.cache_control = meta.cache_control.clone();
        $out.content_language = meta.content_language.clone();
        $out.expires = meta.expires.map(super::ts_secs);
        $out.metadata = user_metadata(meta);
        $out.version_id = bucket.shown_version_id(v);
        $out.storage_class = meta
            .storage_class
            .as_ref()
            .filter(|s| s.as_str() != "STANDARD")
            .map(|s| StorageClass::from(s.clone()));
        $out.server_side_encryption = sse(meta);
        $out.ssekms_key_id = meta.ssekms_key_id.clone();
        $out.website_redirect_location = meta.website_redirect_location.clone();
        $out.parts_count = sel.parts_count;
        $out.restore = obj.restore.as_ref().map(crate::store::Restore::header);
        $out.replication_status = obj.replication.map(|r| ReplicationStatus::from(r.as_str().to_owned()));
        if $checksum_mode {
            if sel.whole {
                set_checksum!($out, obj.checksum.as_ref());
            } else if let Some((alg, value)) = &sel.part_checksum {
                set_checksum_value!($out, *alg, value.clone());
            }
        }
    }};
}

fn checksum_mode(m: Option<&ChecksumMode>) -> bool {
    m.is_some_and(|m| m.as_str().eq_ignore_ascii_case(ChecksumMode::ENABLED))
}

/// "If an object in reduced redundancy storage has been lost, Amazon S3 will return a 405 error
/// on requests made to that object" (S3 Developer Guide, Reduced Redundancy Storage).
fn lost(obj: &ObjectData, method: &str) -> Result<(), Fault> {
    if obj.lost {
        return Err(Fault::method_not_allowed(method, "OBJECT"));
    }
    Ok(())
}

/// Reads of an archived object fail until a restored copy exists.
fn archived(obj: &ObjectData) -> Result<(), Fault> {
    lost(obj, "GET")?;
    if matches!(obj.restore, Some(crate::store::Restore::Done { .. })) {
        return Ok(());
    }
    if let Some(tier) = obj.archive {
        return Err(Fault::new(
            "InvalidObjectState",
            403,
            "The operation is not valid for the object's access tier",
        )
        .field("StorageClass", "INTELLIGENT_TIERING")
        .field("AccessTier", tier.as_str()));
    }
    match obj.meta.storage_class.as_deref() {
        Some(sc @ ("GLACIER" | "DEEP_ARCHIVE")) => Err(Fault::new(
            "InvalidObjectState",
            403,
            "The operation is not valid for the object's storage class",
        )
        .field("StorageClass", sc)),
        _ => Ok(()),
    }
}

impl S3Stub {
    /// `x-amz-expiration` of a current version under the bucket's lifecycle configuration:
    /// `expiry-date="Fri, 23 Dec 2012 00:00:00 GMT", rule-id="picture-deletion-rule"`.
    fn expiration_header(&self, bucket: &Bucket, v: &Version, obj: &ObjectData) -> Option<String> {
        let config = self.daily.lifecycle(&bucket.name)?;
        let (at, rule) = config.expiry_of(&v.key, v.last_modified, obj.size(), &obj.tags)?;
        Some(format!(
            "expiry-date=\"{}\", rule-id=\"{}\"",
            crate::store::http_date(at),
            rule
        ))
    }
}

impl S3Stub {
    /// PutObject and POST uploads: validate everything, read the body, store, emit.
    async fn store_object(
        &self,
        call: &Call,
        a: PutArgs,
        event: &'static str,
    ) -> Result<(Arc<Bucket>, Written), Fault> {
        let bucket = self.store.bucket(&a.bucket)?;
        if a.key.is_empty() {
            return Err(Fault::invalid_argument(
                "User key must have a length greater than 0.",
                "key",
                "",
            ));
        }
        a.unsupported?;
        check_declared_length(a.content_length, MAX_OBJECT_SIZE)?;
        let meta = a.meta?;
        let tags = parse_tagging_header(a.tagging.as_deref())?;
        let cond = write_condition(a.if_match.as_ref(), a.if_none_match.as_ref())?;
        let body = read_body(a.body).await?;
        if let Some(h) = &a.signed_headers {
            verify_content_sha256(h, &body)?;
        }
        let checksum = a.provided.verify(&body, Some(Algorithm::Crc64Nvme))?;
        let object = ObjectData {
            etag: checksum::etag(&body),
            // Not a slice of the request's read buffer (see `store::compact`).
            body: crate::store::compact(body),
            meta: meta.shared(),
            tags,
            checksum,
            parts: Vec::new(),
            acl: None,
            restore: None,
            accessed: 0,
            archive: None,
            replication: None,
            lost: false,
        };
        let now = self.now();
        let written = bucket.put(&a.key, object, now, &cond)?;
        let v = &written.version;
        if let Some(obj) = &v.object {
            self.emit(
                call,
                &bucket,
                event,
                &a.key,
                Some(obj.size()),
                Some(&obj.etag),
                written.shown_version_id.clone(),
                now,
            );
        }
        Ok((bucket, written))
    }

    pub(super) async fn put_object(&self, call: &Call, req: S3Request<PutObjectInput>) -> Res<PutObjectOutput> {
        let (bucket, w) = self
            .store_object(
                call,
                with_headers(put_args!(req.input), &req.headers),
                "ObjectCreated:Put",
            )
            .await?;
        let mut out = PutObjectOutput {
            version_id: w.shown_version_id.clone(),
            ..PutObjectOutput::default()
        };
        if let Some(obj) = &w.version.object {
            out.expiration = self.expiration_header(&bucket, &w.version, obj);
            out.e_tag = Some(etag(&obj.etag));
            out.server_side_encryption = sse(&obj.meta);
            out.ssekms_key_id = obj.meta.ssekms_key_id.clone();
            set_checksum!(out, obj.checksum.as_ref());
        }
        Ok(out.into())
    }

    pub(super) async fn post_object(&self, call: &Call, req: S3Request<PostObjectInput>) -> Res<PostObjectOutput> {
        let input = req.input;
        let (bucket_name, key) = (input.bucket.clone(), input.key.clone());
        let input_redirect = input.success_action_redirect.clone();
        let (_, w) = self.store_object(call, put_args!(input), "ObjectCreated:Post").await?;
        let mut out = PostObjectOutput {
            version_id: w.shown_version_id.clone(),
            ..PostObjectOutput::default()
        };
        // s3s renders POST responses from the status/redirect fields only: the headers S3 sends
        // (ETag, Location, version id) go in the reply headers.
        // With success_action_redirect, s3s answers 303 with its own Location.
        let mut headers = Vec::new();
        if input_redirect.is_none() {
            headers.push(("location", object_url(call, &bucket_name, &key)));
        }
        if let Some(obj) = &w.version.object {
            out.e_tag = Some(etag(&obj.etag));
            headers.push(("etag", format!("\"{}\"", obj.etag)));
            if let Some(s) = sse(&obj.meta) {
                headers.push(("x-amz-server-side-encryption", s.as_str().to_owned()));
            }
        }
        if let Some(id) = &w.shown_version_id {
            headers.push(("x-amz-version-id", id.clone()));
        }
        Ok(super::Reply { output: out, headers })
    }

    pub(super) async fn get_object(&self, _call: &Call, req: S3Request<GetObjectInput>) -> Res<GetObjectOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        refuse_unsupported(
            None,
            &[],
            false,
            i.sse_customer_algorithm.is_some() || i.sse_customer_key.is_some(),
        )?;
        let v = bucket.get(&i.key, i.version_id.as_deref())?;
        let obj = v.object.as_ref().ok_or_else(|| Fault::no_such_key(&i.key))?;
        check_read_conditions(
            i.if_match.as_ref(),
            i.if_none_match.as_ref(),
            i.if_modified_since.as_ref(),
            i.if_unmodified_since.as_ref(),
            &obj.etag,
            v.last_modified,
        )?;
        archived(obj)?;
        let sel = select(obj, i.range.as_ref(), i.part_number)?;
        let mut out = GetObjectOutput {
            body: Some(blob(obj.body.slice(sel.range.clone()))),
            tag_count: i32::try_from(obj.tags.len()).ok().filter(|n| *n > 0),
            ..GetObjectOutput::default()
        };
        describe!(out, &bucket, &v, obj, &sel, checksum_mode(i.checksum_mode.as_ref()));
        if i.version_id.is_none() {
            out.expiration = self.expiration_header(&bucket, &v, obj);
        }
        // Intelligent-Tiering counts days without access from the last read of the data.
        if obj.meta.storage_class() == "INTELLIGENT_TIERING" {
            let now = self.now();
            let _ = bucket.update_version(&i.key, &v.version_id, |o| {
                o.accessed = now;
                Ok(())
            });
        }
        Ok(out.into())
    }

    pub(super) async fn head_object(&self, _call: &Call, req: S3Request<HeadObjectInput>) -> Res<HeadObjectOutput> {
        let i = req.input;
        let head = |f: Fault| {
            // A HEAD is reported as one.
            let mut f = f;
            for (k, v) in &mut f.fields {
                if *k == "Method" {
                    *v = "HEAD".to_owned();
                }
            }
            f
        };
        let bucket = self.store.bucket(&i.bucket)?;
        refuse_unsupported(
            None,
            &[],
            false,
            i.sse_customer_algorithm.is_some() || i.sse_customer_key.is_some(),
        )?;
        let v = bucket.get(&i.key, i.version_id.as_deref()).map_err(head)?;
        let obj = v.object.as_ref().ok_or_else(|| Fault::no_such_key(&i.key))?;
        check_read_conditions(
            i.if_match.as_ref(),
            i.if_none_match.as_ref(),
            i.if_modified_since.as_ref(),
            i.if_unmodified_since.as_ref(),
            &obj.etag,
            v.last_modified,
        )?;
        lost(obj, "HEAD")?;
        let sel = select(obj, i.range.as_ref(), i.part_number)?;
        let mut out = HeadObjectOutput::default();
        describe!(out, &bucket, &v, obj, &sel, checksum_mode(i.checksum_mode.as_ref()));
        out.archive_status = obj.archive.map(|t| ArchiveStatus::from(t.as_str().to_owned()));
        if i.version_id.is_none() {
            out.expiration = self.expiration_header(&bucket, &v, obj);
        }
        Ok(out.into())
    }

    pub(super) async fn delete_object(
        &self,
        call: &Call,
        req: S3Request<DeleteObjectInput>,
    ) -> Res<DeleteObjectOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let now = self.now();
        let d = bucket.delete(&i.key, i.version_id.as_deref(), now)?;
        let versioned = bucket.versioning_status().is_some();
        let version_id = d.version_id.clone().filter(|_| versioned || i.version_id.is_some());
        // Every successful DeleteObject emits its event, whether or not the key existed. AWS's
        // recordings show DeleteObjects emitting `ObjectRemoved:Delete` for keys that did not
        // exist (one existing and two missing keys: three events), and DeleteObjects is S3's
        // batch of DeleteObject calls; the S3 User Guide says events come from every operation
        // that succeeds (only failed operations send none), and a delete of a missing key is a
        // 204 success. No recording of a single missing-key DeleteObject was found (LocalStack,
        // unvalidated for this case, sends nothing; MinIO changed to sending the event, minio
        // PR 19037), so the recorded batch behaviour decides.
        let event_version = d.version_id.clone().filter(|_| versioned);
        self.emit(call, &bucket, d.event, &i.key, None, None, event_version, now);
        Ok(DeleteObjectOutput {
            delete_marker: d.delete_marker.then_some(true),
            version_id,
            ..DeleteObjectOutput::default()
        }
        .into())
    }

    pub(super) async fn delete_objects(
        &self,
        call: &Call,
        req: S3Request<DeleteObjectsInput>,
    ) -> Res<DeleteObjectsOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let objects = i.delete.objects;
        if objects.is_empty() || objects.len() > 1000 {
            return Err(Fault::malformed_xml());
        }
        let quiet = i.delete.quiet.unwrap_or(false);
        let versioned = bucket.versioning_status().is_some();
        let (mut deleted, mut errors) = (Vec::new(), Vec::new());
        for o in objects {
            let now = self.now();
            match bucket.delete(&o.key, o.version_id.as_deref(), now) {
                Ok(d) => {
                    // One event per key named, existing or not (recorded from AWS: one existing
                    // and two missing keys give three `ObjectRemoved:Delete` events).
                    let event_version = d.version_id.clone().filter(|_| versioned);
                    self.emit(call, &bucket, d.event, &o.key, None, None, event_version, now);
                    if !quiet {
                        deleted.push(DeletedObject {
                            delete_marker: d.delete_marker.then_some(true),
                            delete_marker_version_id: d.version_id.clone().filter(|_| d.delete_marker),
                            key: Some(o.key),
                            version_id: o.version_id,
                        });
                    }
                }
                Err(f) => errors.push(Error {
                    code: Some(f.code.into_owned()),
                    key: Some(o.key),
                    message: Some(f.message),
                    version_id: o.version_id,
                }),
            }
        }
        Ok(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..DeleteObjectsOutput::default()
        }
        .into())
    }

    pub(super) async fn copy_object(&self, call: &Call, req: S3Request<CopyObjectInput>) -> Res<CopyObjectOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        refuse_unsupported_write!(
            i,
            i.copy_source_sse_customer_algorithm.is_some() || i.copy_source_sse_customer_key.is_some()
        )?;
        let (src_bucket, src) = copy_source(self, &i.copy_source)?;
        let src_obj = src.object.as_ref().ok_or_else(|| Fault::no_such_key(&src.key))?;
        check_copy_conditions(
            i.copy_source_if_match.as_ref(),
            i.copy_source_if_none_match.as_ref(),
            i.copy_source_if_modified_since.as_ref(),
            i.copy_source_if_unmodified_since.as_ref(),
            &src_obj.etag,
            src.last_modified,
        )?;
        archived(src_obj)?;
        let replace_meta = match i.metadata_directive.as_ref().map(MetadataDirective::as_str) {
            None | Some(MetadataDirective::COPY) => false,
            Some(MetadataDirective::REPLACE) => true,
            Some(other) => {
                return Err(Fault::invalid_argument(
                    "Unknown metadata directive.",
                    "x-amz-metadata-directive",
                    other,
                ))
            }
        };
        let replace_tags = match i.tagging_directive.as_ref().map(TaggingDirective::as_str) {
            None | Some(TaggingDirective::COPY) => false,
            Some(TaggingDirective::REPLACE) => true,
            Some(other) => {
                return Err(Fault::invalid_argument(
                    "Unknown tagging directive.",
                    "x-amz-tagging-directive",
                    other,
                ))
            }
        };
        let same_object = src_bucket.name == bucket.name && src.key == i.key;
        let source_version_given = matches!(
            &i.copy_source,
            CopySource::Bucket {
                version_id: Some(_),
                ..
            }
        );
        if same_object
            && !source_version_given
            && !replace_meta
            && i.storage_class.is_none()
            && i.website_redirect_location.is_none()
            && i.server_side_encryption.is_none()
            && i.ssekms_key_id.is_none()
            && i.checksum_algorithm.is_none()
        {
            return Err(Fault::invalid_request(
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
            ));
        }
        if src_obj.size() > MAX_OBJECT_SIZE {
            return Err(Fault::invalid_request(format!(
                "The specified copy source is larger than the maximum allowable size for a copy source: {MAX_OBJECT_SIZE}"
            )));
        }
        let requested = object_meta_of!(i)?;
        let meta = if replace_meta {
            requested
        } else {
            ObjectMeta {
                storage_class: requested.storage_class,
                website_redirect_location: requested.website_redirect_location,
                server_side_encryption: requested.server_side_encryption,
                ssekms_key_id: requested.ssekms_key_id,
                ..ObjectMeta::clone(&src_obj.meta)
            }
        };
        let tags = if replace_tags {
            parse_tagging_header(i.tagging.as_deref())?
        } else {
            src_obj.tags.clone()
        };
        let algorithm = parse_algorithm(i.checksum_algorithm.as_ref())?
            .or(src_obj.checksum.as_ref().map(|c| c.algorithm))
            .unwrap_or(Algorithm::Crc64Nvme);
        let object = ObjectData {
            body: src_obj.body.clone(),
            etag: if src_obj.parts.is_empty() {
                src_obj.etag.clone()
            } else {
                checksum::etag(&src_obj.body)
            },
            meta: meta.shared(),
            tags,
            checksum: Some(Checksum::full(algorithm, &src_obj.body)),
            parts: Vec::new(),
            acl: None,
            restore: None,
            accessed: 0,
            archive: None,
            replication: None,
            lost: false,
        };
        let now = self.now();
        let w = bucket.put(&i.key, object, now, &WriteCondition::default())?;
        let v = &w.version;
        let obj = v.object.as_ref().ok_or_else(|| Fault::no_such_key(&i.key))?;
        self.emit(
            call,
            &bucket,
            "ObjectCreated:Copy",
            &i.key,
            Some(obj.size()),
            Some(&obj.etag),
            w.shown_version_id.clone(),
            now,
        );
        let mut result = CopyObjectResult {
            e_tag: Some(etag(&obj.etag)),
            last_modified: Some(ts(v.last_modified)),
            ..CopyObjectResult::default()
        };
        set_checksum!(result, obj.checksum.as_ref());
        Ok(CopyObjectOutput {
            copy_object_result: Some(result),
            copy_source_version_id: src_bucket.shown_version_id(&src),
            version_id: w.shown_version_id.clone(),
            server_side_encryption: sse(&obj.meta),
            ssekms_key_id: obj.meta.ssekms_key_id.clone(),
            ..CopyObjectOutput::default()
        }
        .into())
    }

    pub(super) async fn put_object_tagging(
        &self,
        call: &Call,
        req: S3Request<PutObjectTaggingInput>,
    ) -> Res<PutObjectTaggingOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let mut tags = Vec::with_capacity(i.tagging.tag_set.len());
        for t in i.tagging.tag_set {
            let (Some(k), v) = (t.key, t.value) else {
                return Err(Fault::malformed_xml());
            };
            tags.push((k, v.unwrap_or_default()));
        }
        crate::store::validate_tags(&tags)?;
        let v = bucket.set_tags(&i.key, i.version_id.as_deref(), tags)?;
        let shown = bucket.shown_version_id(&v);
        let obj = v.object.as_ref();
        self.emit(
            call,
            &bucket,
            "ObjectTagging:Put",
            &i.key,
            obj.map(ObjectData::size),
            obj.map(|o| o.etag.as_str()),
            shown.clone(),
            self.now(),
        );
        Ok(PutObjectTaggingOutput { version_id: shown }.into())
    }

    pub(super) async fn get_object_tagging(
        &self,
        _call: &Call,
        req: S3Request<GetObjectTaggingInput>,
    ) -> Res<GetObjectTaggingOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let v = bucket.get(&i.key, i.version_id.as_deref())?;
        let tags = v.object.as_ref().map(|o| o.tags.clone()).unwrap_or_default();
        Ok(GetObjectTaggingOutput {
            tag_set: tags
                .into_iter()
                .map(|(k, v)| Tag {
                    key: Some(k),
                    value: Some(v),
                })
                .collect(),
            version_id: bucket.shown_version_id(&v),
        }
        .into())
    }

    pub(super) async fn delete_object_tagging(
        &self,
        call: &Call,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> Res<DeleteObjectTaggingOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let v = bucket.set_tags(&i.key, i.version_id.as_deref(), Vec::new())?;
        let shown = bucket.shown_version_id(&v);
        let obj = v.object.as_ref();
        self.emit(
            call,
            &bucket,
            "ObjectTagging:Delete",
            &i.key,
            obj.map(ObjectData::size),
            obj.map(|o| o.etag.as_str()),
            shown.clone(),
            self.now(),
        );
        Ok(DeleteObjectTaggingOutput { version_id: shown }.into())
    }
}
