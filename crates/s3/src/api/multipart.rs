//! Multipart uploads: Create, UploadPart, UploadPartCopy, Complete, Abort, ListParts,
//! ListMultipartUploads.

use s3s::dto::*;
use s3s::S3Request;

use super::list::{enc, encoding, max_keys};
use super::object::{object_url, sdk_algorithm, write_condition};
use super::{
    check_copy_conditions, check_declared_length, copy_source, etag, initiator, object_meta_of, owner, parse_algorithm,
    parse_tagging_header, provided, read_body, refuse_unsupported, refuse_unsupported_write, set_checksum,
    set_checksum_value, sse, ts, verify_content_sha256, Call, Res,
};
use crate::checksum::{self, Algorithm, ChecksumType as Kind};
use crate::error::Fault;
use crate::store::list::{UploadEntry, UploadQuery};
use crate::store::multipart::{CompletedPart as Done, Completion, NewUpload, MAX_PART_NUMBER};
use crate::store::{Part, MAX_OBJECT_SIZE};
use crate::S3Stub;

fn part_number(n: i32) -> Result<u32, Fault> {
    if (1..=MAX_PART_NUMBER).contains(&n) {
        u32::try_from(n).map_err(|_| Fault::invalid_request("invalid part number"))
    } else {
        Err(Fault::invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive",
            "partNumber",
            &n.to_string(),
        ))
    }
}

fn checksum_type(t: Option<&ChecksumType>) -> Result<Option<Kind>, Fault> {
    match t {
        None => Ok(None),
        Some(t) => Kind::parse(t.as_str())
            .map(Some)
            .ok_or_else(|| Fault::invalid_request("Value for x-amz-checksum-type header is invalid.")),
    }
}

/// Parses `x-amz-copy-source-range: bytes=first-last` against the source size.
fn copy_range(range: Option<&str>, size: usize) -> Result<std::ops::Range<usize>, Fault> {
    let Some(r) = range else { return Ok(0..size) };
    let malformed = || {
        Fault::invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
            "x-amz-copy-source-range",
            r,
        )
    };
    let (first, last) = r
        .strip_prefix("bytes=")
        .and_then(|s| s.split_once('-'))
        .ok_or_else(malformed)?;
    let (first, last): (usize, usize) = (
        first.trim().parse().map_err(|_| malformed())?,
        last.trim().parse().map_err(|_| malformed())?,
    );
    if first > last || last >= size {
        return Err(Fault::invalid_argument(
            format!("Range specified is not valid for source object of size: {size}"),
            "x-amz-copy-source-range",
            r,
        ));
    }
    Ok(first..last + 1)
}

impl S3Stub {
    pub(super) async fn create_multipart_upload(
        &self,
        _call: &Call,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> Res<CreateMultipartUploadOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        refuse_unsupported_write!(i, false)?;
        let meta = object_meta_of!(i)?;
        let tags = parse_tagging_header(i.tagging.as_deref())?;
        let algorithm = parse_algorithm(i.checksum_algorithm.as_ref())?;
        let kind = checksum_type(i.checksum_type.as_ref())?;
        let upload = bucket.create_upload(
            NewUpload {
                key: i.key.clone(),
                meta,
                tags,
                algorithm,
                checksum_type: kind,
            },
            self.now(),
        )?;
        Ok(CreateMultipartUploadOutput {
            bucket: Some(bucket.name.clone()),
            key: Some(i.key),
            upload_id: Some(upload.id.clone()),
            checksum_algorithm: algorithm.map(|a| ChecksumAlgorithm::from(a.as_str().to_owned())),
            checksum_type: upload
                .effective_type()
                .map(|k| ChecksumType::from(k.as_str().to_owned())),
            server_side_encryption: sse(&upload.meta),
            ssekms_key_id: upload.meta.ssekms_key_id.clone(),
            ..CreateMultipartUploadOutput::default()
        }
        .into())
    }

    pub(super) async fn upload_part(&self, _call: &Call, req: S3Request<UploadPartInput>) -> Res<UploadPartOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let number = part_number(i.part_number)?;
        refuse_unsupported(
            None,
            &[],
            false,
            i.sse_customer_algorithm.is_some() || i.sse_customer_key.is_some(),
        )?;
        check_declared_length(i.content_length, MAX_OBJECT_SIZE)?;
        let upload = bucket.upload(&i.upload_id, &i.key)?;
        let given = provided(
            i.checksum_algorithm.as_ref(),
            i.checksum_crc32.as_ref(),
            i.checksum_crc32c.as_ref(),
            i.checksum_crc64nvme.as_ref(),
            i.checksum_sha1.as_ref(),
            i.checksum_sha256.as_ref(),
            i.content_md5.as_ref(),
        );
        let mut given = given;
        if let Some(alg) = sdk_algorithm(&req.headers) {
            given.sdk_algorithm = Some(alg);
        }
        if let (Some(expected), Some((actual, _))) = (upload.algorithm, given.values.first()) {
            if expected != *actual {
                return Err(Fault::invalid_request(format!(
                    "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                    expected.as_str().to_ascii_lowercase(),
                    actual.as_str().to_ascii_lowercase()
                )));
            }
        }
        let body = read_body(i.body).await?;
        verify_content_sha256(&req.headers, &body)?;
        let checksum = given.verify(&body, upload.algorithm)?;
        let part = Part {
            number,
            etag: checksum::etag(&body),
            checksum: checksum.as_ref().map(|c| (c.algorithm, c.value.clone())),
            body,
            last_modified: crate::store::whole_seconds(self.now()),
        };
        let mut out = UploadPartOutput {
            e_tag: Some(etag(&part.etag)),
            server_side_encryption: sse(&upload.meta),
            ..UploadPartOutput::default()
        };
        if let Some((alg, value)) = &part.checksum {
            set_checksum_value!(out, *alg, value.clone());
        }
        bucket.put_part(&i.upload_id, &i.key, part)?;
        Ok(out.into())
    }

    pub(super) async fn upload_part_copy(
        &self,
        _call: &Call,
        req: S3Request<UploadPartCopyInput>,
    ) -> Res<UploadPartCopyOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let number = part_number(i.part_number)?;
        refuse_unsupported(
            None,
            &[],
            false,
            i.sse_customer_algorithm.is_some() || i.copy_source_sse_customer_algorithm.is_some(),
        )?;
        let upload = bucket.upload(&i.upload_id, &i.key)?;
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
        let range = copy_range(i.copy_source_range.as_deref(), src_obj.body.len())?;
        let body = src_obj.body.slice(range);
        let now = crate::store::whole_seconds(self.now());
        let part = Part {
            number,
            etag: checksum::etag(&body),
            checksum: upload.algorithm.map(|a| (a, a.digest_b64(&body))),
            body,
            last_modified: now,
        };
        let mut result = CopyPartResult {
            e_tag: Some(etag(&part.etag)),
            last_modified: Some(ts(now)),
            ..CopyPartResult::default()
        };
        if let Some((alg, value)) = &part.checksum {
            set_checksum_value!(result, *alg, value.clone());
        }
        bucket.put_part(&i.upload_id, &i.key, part)?;
        Ok(UploadPartCopyOutput {
            copy_part_result: Some(result),
            copy_source_version_id: src_bucket.shown_version_id(&src),
            server_side_encryption: sse(&upload.meta),
            ..UploadPartCopyOutput::default()
        }
        .into())
    }

    pub(super) async fn complete_multipart_upload(
        &self,
        call: &Call,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> Res<CompleteMultipartUploadOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let cond = write_condition(i.if_match.as_ref(), i.if_none_match.as_ref())?;
        let parts = i
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                let mut checksums = Vec::new();
                for (alg, v) in [
                    (Algorithm::Crc32, p.checksum_crc32),
                    (Algorithm::Crc32c, p.checksum_crc32c),
                    (Algorithm::Crc64Nvme, p.checksum_crc64nvme),
                    (Algorithm::Sha1, p.checksum_sha1),
                    (Algorithm::Sha256, p.checksum_sha256),
                ] {
                    if let Some(v) = v {
                        checksums.push((alg, v));
                    }
                }
                Done {
                    number: p.part_number,
                    etag: p.e_tag.map(|e| e.value().trim_matches('"').to_owned()),
                    checksums,
                }
            })
            .collect();
        let object_checksums = provided(
            None,
            i.checksum_crc32.as_ref(),
            i.checksum_crc32c.as_ref(),
            i.checksum_crc64nvme.as_ref(),
            i.checksum_sha1.as_ref(),
            i.checksum_sha256.as_ref(),
            None,
        )
        .values;
        let completion = Completion {
            upload_id: i.upload_id.clone(),
            key: i.key.clone(),
            parts,
            object_checksums,
            object_size: i.mpu_object_size,
        };
        let now = self.now();
        let w = bucket.complete_upload(&completion, now, &cond)?;
        let v = &w.version;
        let obj = v.object.as_ref().ok_or_else(|| Fault::no_such_key(&i.key))?;
        self.emit(
            call,
            &bucket,
            "ObjectCreated:CompleteMultipartUpload",
            &i.key,
            Some(obj.size()),
            Some(&obj.etag),
            w.shown_version_id.clone(),
            now,
        );
        let mut out = CompleteMultipartUploadOutput {
            bucket: Some(bucket.name.clone()),
            key: Some(i.key.clone()),
            location: Some(object_url(call, &bucket.name, &i.key)),
            e_tag: Some(etag(&obj.etag)),
            version_id: w.shown_version_id.clone(),
            server_side_encryption: sse(&obj.meta),
            ssekms_key_id: obj.meta.ssekms_key_id.clone(),
            ..CompleteMultipartUploadOutput::default()
        };
        set_checksum!(out, obj.checksum.as_ref());
        Ok(out.into())
    }

    pub(super) async fn abort_multipart_upload(
        &self,
        _call: &Call,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> Res<AbortMultipartUploadOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        bucket.abort_upload(&i.upload_id, &i.key)?;
        Ok(AbortMultipartUploadOutput::default().into())
    }

    pub(super) async fn list_parts(&self, _call: &Call, req: S3Request<ListPartsInput>) -> Res<ListPartsOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let upload = bucket.upload(&i.upload_id, &i.key)?;
        let max = max_keys(i.max_parts, "max-parts")?;
        let marker = i.part_number_marker.unwrap_or(0);
        let after = u32::try_from(marker).unwrap_or(0);
        let mut parts = Vec::new();
        let mut truncated = false;
        for p in upload.parts.values().filter(|p| p.number > after) {
            if parts.len() == max {
                truncated = true;
                break;
            }
            let mut out = s3s::dto::Part {
                part_number: i32::try_from(p.number).ok(),
                last_modified: Some(ts(p.last_modified)),
                e_tag: Some(etag(&p.etag)),
                size: i64::try_from(p.body.len()).ok(),
                ..s3s::dto::Part::default()
            };
            if let Some((alg, value)) = &p.checksum {
                set_checksum_value!(out, *alg, value.clone());
            }
            parts.push(out);
        }
        let next = parts.last().and_then(|p| p.part_number);
        Ok(ListPartsOutput {
            bucket: Some(bucket.name.clone()),
            key: Some(upload.key.clone()),
            upload_id: Some(upload.id.clone()),
            part_number_marker: Some(marker),
            next_part_number_marker: next.or(Some(marker)),
            max_parts: i.max_parts.or(Some(1000)),
            is_truncated: Some(truncated),
            parts: (!parts.is_empty()).then_some(parts),
            initiator: Some(initiator()),
            owner: Some(owner()),
            storage_class: Some(StorageClass::from(upload.meta.storage_class().to_owned())),
            checksum_algorithm: upload.algorithm.map(|a| ChecksumAlgorithm::from(a.as_str().to_owned())),
            checksum_type: upload
                .effective_type()
                .map(|k| ChecksumType::from(k.as_str().to_owned())),
            ..ListPartsOutput::default()
        }
        .into())
    }

    pub(super) async fn list_multipart_uploads(
        &self,
        _call: &Call,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> Res<ListMultipartUploadsOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let max = max_keys(i.max_uploads, "max-uploads")?;
        let url = encoding(i.encoding_type.as_ref())?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let key_marker = i.key_marker.as_deref().filter(|k| !k.is_empty());
        let page = bucket.list_uploads(&UploadQuery {
            prefix: &prefix,
            delimiter: i.delimiter.as_deref(),
            key_marker,
            upload_id_marker: i
                .upload_id_marker
                .as_deref()
                .filter(|u| !u.is_empty() && key_marker.is_some()),
            max,
        })?;
        let (mut uploads, mut prefixes) = (Vec::new(), Vec::new());
        for e in &page.entries {
            match e {
                UploadEntry::Prefix(p) => prefixes.push(CommonPrefix {
                    prefix: Some(enc(url, p)),
                }),
                UploadEntry::Upload(u) => uploads.push(MultipartUpload {
                    checksum_algorithm: u.algorithm.map(|a| ChecksumAlgorithm::from(a.as_str().to_owned())),
                    checksum_type: u.effective_type().map(|k| ChecksumType::from(k.as_str().to_owned())),
                    initiated: Some(ts(crate::store::whole_seconds(u.initiated))),
                    initiator: Some(initiator()),
                    key: Some(enc(url, &u.key)),
                    owner: Some(owner()),
                    storage_class: Some(StorageClass::from(u.meta.storage_class().to_owned())),
                    upload_id: Some(u.id.clone()),
                }),
            }
        }
        let (next_key, next_upload) = match (page.truncated, page.entries.last()) {
            (true, Some(UploadEntry::Upload(u))) => (Some(enc(url, &u.key)), Some(u.id.clone())),
            (true, Some(UploadEntry::Prefix(p))) => (Some(enc(url, p)), None),
            _ => (None, None),
        };
        Ok(ListMultipartUploadsOutput {
            bucket: Some(bucket.name.clone()),
            common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
            delimiter: i.delimiter.map(|d| enc(url, &d)),
            encoding_type: i.encoding_type,
            is_truncated: Some(page.truncated),
            key_marker: Some(i.key_marker.as_deref().map(|k| enc(url, k)).unwrap_or_default()),
            max_uploads: i.max_uploads.or(Some(1000)),
            next_key_marker: next_key,
            next_upload_id_marker: next_upload,
            prefix: Some(enc(url, &prefix)),
            upload_id_marker: Some(i.upload_id_marker.unwrap_or_default()),
            uploads: (!uploads.is_empty()).then_some(uploads),
            request_charged: None,
        }
        .into())
    }
}
