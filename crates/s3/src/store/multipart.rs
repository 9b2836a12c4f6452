//! Multipart uploads: create, upload parts, complete (ETag and checksums as S3 computes them),
//! abort.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::{random_id, Bucket, BucketState, ObjectData, ObjectMeta, PartInfo, Version, WriteCondition, Written};
use crate::checksum::{self, Algorithm, Checksum, ChecksumType};
use crate::error::Fault;

/// Every part but the last must be at least this large.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
pub const MAX_PART_NUMBER: i32 = 10_000;

#[derive(Debug, Clone)]
pub struct Part {
    pub number: u32,
    pub body: Bytes,
    /// Hex MD5, without quotes.
    pub etag: String,
    pub last_modified: u64,
    /// The part's checksum as uploaded (or computed for the upload's algorithm).
    pub checksum: Option<(Algorithm, String)>,
}

#[derive(Debug, Clone)]
pub struct Upload {
    pub id: String,
    pub key: String,
    /// Epoch milliseconds (uploads of one key list in initiation order; shown to the second).
    pub initiated: u64,
    pub meta: ObjectMeta,
    pub tags: Vec<(String, String)>,
    pub algorithm: Option<Algorithm>,
    pub checksum_type: Option<ChecksumType>,
    pub parts: BTreeMap<u32, Part>,
}

/// What CreateMultipartUpload asked for.
#[derive(Debug, Clone, Default)]
pub struct NewUpload {
    pub key: String,
    pub meta: ObjectMeta,
    pub tags: Vec<(String, String)>,
    pub algorithm: Option<Algorithm>,
    pub checksum_type: Option<ChecksumType>,
}

/// One `<Part>` of a CompleteMultipartUpload request.
#[derive(Debug, Clone, Default)]
pub struct CompletedPart {
    pub number: Option<i32>,
    /// ETag without quotes.
    pub etag: Option<String>,
    pub checksums: Vec<(Algorithm, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct Completion {
    pub upload_id: String,
    pub key: String,
    pub parts: Vec<CompletedPart>,
    /// `x-amz-checksum-*` sent with the completion (the full-object checksum).
    pub object_checksums: Vec<(Algorithm, String)>,
    /// `x-amz-mp-object-size`.
    pub object_size: Option<i64>,
}

impl Upload {
    /// The checksum type this upload produces, if it has an algorithm.
    pub fn effective_type(&self) -> Option<ChecksumType> {
        let alg = self.algorithm?;
        Some(self.checksum_type.unwrap_or(if alg.supports_composite() {
            ChecksumType::Composite
        } else {
            ChecksumType::FullObject
        }))
    }
}

/// Validates CreateMultipartUpload's checksum algorithm and type combination.
pub fn validate_checksum_settings(algorithm: Option<Algorithm>, kind: Option<ChecksumType>) -> Result<(), Fault> {
    match (algorithm, kind) {
        (None, Some(_)) => Err(Fault::invalid_request(
            "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
        )),
        (Some(a), Some(ChecksumType::FullObject)) if !a.supports_full_object() => Err(Fault::invalid_request(format!(
            "The {} checksum algorithm does not support the FULL_OBJECT checksum type.",
            a.as_str()
        ))),
        (Some(a), Some(ChecksumType::Composite)) if !a.supports_composite() => Err(Fault::invalid_request(format!(
            "The {} checksum algorithm does not support the COMPOSITE checksum type.",
            a.as_str()
        ))),
        _ => Ok(()),
    }
}

impl Bucket {
    pub fn create_upload(&self, spec: NewUpload, now: u64) -> Result<Upload, Fault> {
        validate_checksum_settings(spec.algorithm, spec.checksum_type)?;
        let upload = Upload {
            id: random_id(),
            key: spec.key,
            initiated: now,
            meta: spec.meta,
            tags: spec.tags,
            algorithm: spec.algorithm,
            checksum_type: spec.checksum_type,
            parts: BTreeMap::new(),
        };
        self.write()?.uploads.insert(upload.id.clone(), upload.clone());
        Ok(upload)
    }

    /// A snapshot of an upload (parts included: their bodies are reference-counted).
    pub fn upload(&self, upload_id: &str, key: &str) -> Result<Upload, Fault> {
        let g = self.read()?;
        find(&g, upload_id, key).cloned()
    }

    pub fn put_part(&self, upload_id: &str, key: &str, mut part: Part) -> Result<(), Fault> {
        part.body = super::compact(part.body);
        let mut g = self.write()?;
        let upload = g
            .uploads
            .get_mut(upload_id)
            .filter(|u| u.key == key)
            .ok_or_else(|| Fault::no_such_upload(upload_id))?;
        upload.parts.insert(part.number, part);
        Ok(())
    }

    pub fn abort_upload(&self, upload_id: &str, key: &str) -> Result<(), Fault> {
        let mut g = self.write()?;
        find(&g, upload_id, key)?;
        g.uploads.remove(upload_id);
        Ok(())
    }

    /// CompleteMultipartUpload. The object is assembled outside the lock from a snapshot; the
    /// upload is removed and the version stored in one short critical section.
    pub fn complete_upload(&self, c: &Completion, now: u64, cond: &WriteCondition) -> Result<Written, Fault> {
        let upload = self.upload(&c.upload_id, &c.key)?;
        let object = assemble(&upload, c)?;
        let mut g = self.write()?;
        let current = find(&g, &c.upload_id, &c.key)?;
        // A part re-uploaded while we assembled would make the result stale: re-check the ETags.
        for (n, part) in &upload.parts {
            if current.parts.get(n).map(|p| &p.etag) != Some(&part.etag) {
                return Err(Fault::invalid_request(
                    "The upload changed while it was being completed.",
                ));
            }
        }
        cond.check(&c.key, g.keys.get(&c.key).and_then(|v| v.last()).map(Arc::as_ref))?;
        g.uploads.remove(&c.upload_id);
        Ok(insert_version(&mut g, &c.key, object, now))
    }
}

fn find<'a>(g: &'a BucketState, upload_id: &str, key: &str) -> Result<&'a Upload, Fault> {
    g.uploads
        .get(upload_id)
        .filter(|u| u.key == key)
        .ok_or_else(|| Fault::no_such_upload(upload_id))
}

/// Stores `object` as the new current version of `key` (the bucket's write lock is held).
pub(super) fn insert_version(g: &mut BucketState, key: &str, object: ObjectData, now: u64) -> Written {
    let now = super::whole_seconds(now);
    let versioning = g.versioning;
    // Most keys have one version: no room reserved for more.
    let versions = g.keys.entry(key.to_owned()).or_insert_with(|| Vec::with_capacity(1));
    let version_id = if versioning == Some(super::Versioning::Enabled) {
        std::borrow::Cow::Owned(random_id())
    } else {
        versions.retain(|v| v.version_id != super::NULL_VERSION);
        std::borrow::Cow::Borrowed(super::NULL_VERSION)
    };
    let version = Arc::new(Version {
        key: key.to_owned(),
        version_id,
        last_modified: now,
        object: Some(object),
    });
    versions.push(Arc::clone(&version));
    Written {
        // A write's response never names the null version: on a bucket with versioning suspended
        // S3 answers PutObject (and POST, CopyObject, CompleteMultipartUpload) without a version
        // id, as recorded from AWS, although reads of that version say `null`.
        shown_version_id: Bucket::shown(versioning, &version.version_id).filter(|id| id != super::NULL_VERSION),
        version,
    }
}

fn invalid_part(upload_id: &str, number: i32, etag: &str) -> Fault {
    Fault::new(
        "InvalidPart",
        400,
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    )
    .field("UploadId", upload_id)
    .field("PartNumber", number.to_string())
    .field("ETag", etag)
}

/// Validates a completion request against the upload and builds the object.
fn assemble(upload: &Upload, c: &Completion) -> Result<ObjectData, Fault> {
    if c.parts.is_empty() {
        return Err(Fault::malformed_xml());
    }
    let kind = upload.effective_type();
    let mut chosen: Vec<&super::Part> = Vec::with_capacity(c.parts.len());
    let mut part_checksums: Vec<String> = Vec::new();
    let mut last_number = 0i32;
    for (i, req) in c.parts.iter().enumerate() {
        let (Some(number), Some(etag)) = (req.number, req.etag.as_deref()) else {
            return Err(Fault::malformed_xml());
        };
        if number <= last_number && i > 0 {
            return Err(Fault::new(
                "InvalidPartOrder",
                400,
                "The list of parts was not in ascending order. Parts must be ordered by part number.",
            )
            .field("UploadId", upload.id.as_str()));
        }
        last_number = number;
        let etag = etag.trim_matches('"');
        let part = u32::try_from(number)
            .ok()
            .and_then(|n| upload.parts.get(&n))
            .filter(|p| p.etag == etag)
            .ok_or_else(|| invalid_part(&upload.id, number, etag))?;
        // Part checksums in the request must match what was uploaded.
        for (alg, value) in &req.checksums {
            if upload.algorithm.is_some_and(|a| a != *alg) {
                return Err(invalid_part(&upload.id, number, etag));
            }
            let stored = match &part.checksum {
                Some((a, v)) if a == alg => v.clone(),
                _ => alg.digest_b64(&part.body),
            };
            if stored != value.trim() {
                return Err(invalid_part(&upload.id, number, etag));
            }
        }
        if let (Some(alg), Some(ChecksumType::Composite)) = (upload.algorithm, kind) {
            if !req.checksums.iter().any(|(a, _)| *a == alg) {
                return Err(Fault::invalid_request(format!(
                    "The upload was created using a {} checksum. The complete request must include the checksum for each part. It was missing for part {number} in the request.",
                    alg.as_str().to_ascii_lowercase()
                )));
            }
            part_checksums.push(match &part.checksum {
                Some((a, v)) if *a == alg => v.clone(),
                _ => alg.digest_b64(&part.body),
            });
        }
        chosen.push(part);
    }
    let n = chosen.len();
    for (i, part) in chosen.iter().enumerate() {
        let size = part.body.len() as u64;
        if i + 1 < n && size < MIN_PART_SIZE {
            return Err(Fault::new(
                "EntityTooSmall",
                400,
                "Your proposed upload is smaller than the minimum allowed size",
            )
            .field("ProposedSize", size.to_string())
            .field("MinSizeAllowed", MIN_PART_SIZE.to_string())
            .field("PartNumber", part.number.to_string())
            .field("ETag", part.etag.as_str()));
        }
    }
    let total: usize = chosen.iter().map(|p| p.body.len()).sum();
    if let Some(expected) = c.object_size {
        if u64::try_from(expected).ok() != Some(total as u64) {
            return Err(Fault::invalid_request(format!(
                "The provided 'x-amz-mp-object-size' header value {expected} does not match what was computed: {total}"
            )));
        }
    }
    let body = if n == 1 {
        chosen[0].body.clone()
    } else {
        let mut buf = BytesMut::with_capacity(total);
        for p in &chosen {
            buf.extend_from_slice(&p.body);
        }
        buf.freeze()
    };
    let etag = checksum::multipart_etag(chosen.iter().map(|p| p.etag.as_str()));
    let stored = match (upload.algorithm, kind) {
        (Some(alg), Some(ChecksumType::Composite)) => {
            let refs: Vec<&str> = part_checksums.iter().map(String::as_str).collect();
            let value =
                checksum::composite(alg, &refs).ok_or_else(|| Fault::invalid_request("Invalid part checksum"))?;
            Checksum {
                algorithm: alg,
                value,
                kind: ChecksumType::Composite,
            }
        }
        (Some(alg), _) => Checksum::full(alg, &body),
        (None, _) => Checksum::full(Algorithm::Crc64Nvme, &body),
    };
    verify_object_checksums(&c.object_checksums, &stored, &body)?;
    let parts = chosen
        .iter()
        .zip(0..)
        .map(|(p, i)| PartInfo {
            size: p.body.len() as u64,
            checksum: part_checksums.get(i).cloned(),
        })
        .collect();
    Ok(ObjectData {
        body,
        etag,
        meta: upload.meta.clone().shared(),
        tags: upload.tags.clone(),
        checksum: Some(stored),
        parts,
        acl: None,
        restore: None,
        accessed: 0,
        archive: None,
        replication: None,
        lost: false,
    })
}

/// The `x-amz-checksum-*` header of a completion names the whole object's checksum.
fn verify_object_checksums(provided: &[(Algorithm, String)], stored: &Checksum, body: &[u8]) -> Result<(), Fault> {
    for (alg, value) in provided {
        let value = value.trim();
        let ok = if value.contains('-') {
            *alg == stored.algorithm && value == stored.value
        } else {
            alg.decode(value)
                .ok_or_else(|| Fault::invalid_request(format!("Value for {} header is invalid.", alg.header())))?
                == alg.digest(body)
        };
        if !ok {
            return Err(Fault::bad_digest(format!(
                "The {} you specified did not match the calculated checksum.",
                alg.as_str()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, Versioning};

    fn bucket() -> Arc<Bucket> {
        let s = Store::new();
        s.create_bucket("mpu", "us-east-1", 1).unwrap();
        s.bucket("mpu").unwrap()
    }

    fn part(number: u32, body: Bytes, alg: Option<Algorithm>) -> Part {
        Part {
            number,
            etag: checksum::etag(&body),
            checksum: alg.map(|a| (a, a.digest_b64(&body))),
            body,
            last_modified: 5,
        }
    }

    fn req(p: &Part) -> CompletedPart {
        CompletedPart {
            number: Some(i32::try_from(p.number).unwrap()),
            etag: Some(format!("\"{}\"", p.etag)),
            checksums: p.checksum.clone().into_iter().collect(),
        }
    }

    #[test]
    fn completes_with_aws_etag_and_composite_checksum() {
        let b = bucket();
        b.set_versioning(Versioning::Enabled).unwrap();
        let u = b
            .create_upload(
                NewUpload {
                    key: "big".into(),
                    algorithm: Some(Algorithm::Crc32),
                    ..NewUpload::default()
                },
                2,
            )
            .unwrap();
        let p1 = part(
            1,
            Bytes::from(vec![b'a'; MIN_PART_SIZE as usize]),
            Some(Algorithm::Crc32),
        );
        let p2 = part(2, Bytes::from_static(b"tail"), Some(Algorithm::Crc32));
        b.put_part(&u.id, "big", p1.clone()).unwrap();
        b.put_part(&u.id, "big", p2.clone()).unwrap();
        assert_eq!(b.put_part(&u.id, "other", p2.clone()).unwrap_err().code, "NoSuchUpload");

        let c = Completion {
            upload_id: u.id.clone(),
            key: "big".into(),
            parts: vec![req(&p1), req(&p2)],
            ..Completion::default()
        };
        let w = b.complete_upload(&c, 9, &WriteCondition::default()).unwrap();
        assert!(w.shown_version_id.is_some());
        let obj = w.version.object.as_ref().unwrap();
        assert_eq!(obj.etag, checksum::multipart_etag([p1.etag.as_str(), p2.etag.as_str()]));
        assert!(obj.etag.ends_with("-2"));
        assert_eq!(obj.body.len(), MIN_PART_SIZE as usize + 4);
        let cs = obj.checksum.as_ref().unwrap();
        assert_eq!(cs.kind, ChecksumType::Composite);
        assert!(cs.value.ends_with("-2"));
        assert_eq!(obj.parts.len(), 2);
        // The upload is gone.
        assert_eq!(
            b.complete_upload(&c, 10, &WriteCondition::default()).unwrap_err().code,
            "NoSuchUpload"
        );
    }

    #[test]
    fn rejects_bad_completions_without_losing_the_upload() {
        let b = bucket();
        let u = b
            .create_upload(
                NewUpload {
                    key: "k".into(),
                    ..NewUpload::default()
                },
                2,
            )
            .unwrap();
        let p1 = part(1, Bytes::from_static(b"small"), None);
        let p2 = part(2, Bytes::from_static(b"tail"), None);
        b.put_part(&u.id, "k", p1.clone()).unwrap();
        b.put_part(&u.id, "k", p2.clone()).unwrap();
        let complete = |parts: Vec<CompletedPart>| {
            b.complete_upload(
                &Completion {
                    upload_id: u.id.clone(),
                    key: "k".into(),
                    parts,
                    ..Completion::default()
                },
                3,
                &WriteCondition::default(),
            )
        };
        assert_eq!(complete(vec![req(&p2), req(&p1)]).unwrap_err().code, "InvalidPartOrder");
        assert_eq!(complete(vec![]).unwrap_err().code, "MalformedXML");
        let mut wrong = req(&p1);
        wrong.etag = Some("\"0123\"".into());
        assert_eq!(complete(vec![wrong]).unwrap_err().code, "InvalidPart");
        let mut missing = req(&p1);
        missing.number = Some(7);
        assert_eq!(complete(vec![missing]).unwrap_err().code, "InvalidPart");
        assert_eq!(complete(vec![req(&p1), req(&p2)]).unwrap_err().code, "EntityTooSmall");
        // Still there: completing with only the last part works (it may be small).
        let w = complete(vec![req(&p2)]).unwrap();
        let obj = w.version.object.as_ref().unwrap();
        assert_eq!(&obj.body[..], b"tail");
        assert_eq!(obj.checksum.as_ref().unwrap().algorithm, Algorithm::Crc64Nvme);
        assert!(b.abort_upload(&u.id, "k").is_err());
    }

    #[test]
    fn composite_uploads_require_part_checksums() {
        let b = bucket();
        let u = b
            .create_upload(
                NewUpload {
                    key: "k".into(),
                    algorithm: Some(Algorithm::Sha256),
                    ..NewUpload::default()
                },
                2,
            )
            .unwrap();
        let p1 = part(1, Bytes::from_static(b"x"), Some(Algorithm::Sha256));
        b.put_part(&u.id, "k", p1.clone()).unwrap();
        let mut r = req(&p1);
        r.checksums.clear();
        let e = b
            .complete_upload(
                &Completion {
                    upload_id: u.id.clone(),
                    key: "k".into(),
                    parts: vec![r],
                    ..Completion::default()
                },
                3,
                &WriteCondition::default(),
            )
            .unwrap_err();
        assert_eq!(e.code, "InvalidRequest");
        assert!(e.message.contains("missing for part 1"), "{}", e.message);
    }

    #[test]
    fn full_object_checksums() {
        let b = bucket();
        let u = b
            .create_upload(
                NewUpload {
                    key: "k".into(),
                    algorithm: Some(Algorithm::Crc64Nvme),
                    ..NewUpload::default()
                },
                2,
            )
            .unwrap();
        assert_eq!(u.effective_type(), Some(ChecksumType::FullObject));
        let p1 = part(
            1,
            Bytes::from(vec![1u8; MIN_PART_SIZE as usize]),
            Some(Algorithm::Crc64Nvme),
        );
        let p2 = part(2, Bytes::from_static(b"end"), Some(Algorithm::Crc64Nvme));
        b.put_part(&u.id, "k", p1.clone()).unwrap();
        b.put_part(&u.id, "k", p2.clone()).unwrap();
        let mut whole = p1.body.to_vec();
        whole.extend_from_slice(&p2.body);
        let c = Completion {
            upload_id: u.id.clone(),
            key: "k".into(),
            parts: vec![req(&p1), req(&p2)],
            object_checksums: vec![(Algorithm::Crc64Nvme, Algorithm::Crc64Nvme.digest_b64(b"wrong"))],
            object_size: None,
        };
        assert_eq!(
            b.complete_upload(&c, 3, &WriteCondition::default()).unwrap_err().code,
            "BadDigest"
        );
        let c = Completion {
            object_checksums: vec![(Algorithm::Crc64Nvme, Algorithm::Crc64Nvme.digest_b64(&whole))],
            object_size: Some(i64::try_from(whole.len()).unwrap()),
            ..c
        };
        let w = b.complete_upload(&c, 3, &WriteCondition::default()).unwrap();
        let cs = w.version.object.as_ref().unwrap().checksum.clone().unwrap();
        assert_eq!(cs, Checksum::full(Algorithm::Crc64Nvme, &whole));
        assert!(validate_checksum_settings(Some(Algorithm::Crc64Nvme), Some(ChecksumType::Composite)).is_err());
        assert!(validate_checksum_settings(Some(Algorithm::Sha1), Some(ChecksumType::FullObject)).is_err());
        assert!(validate_checksum_settings(None, Some(ChecksumType::FullObject)).is_err());
    }
}
