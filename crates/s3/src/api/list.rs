//! ListObjects (v1), ListObjectsV2 and ListObjectVersions.

use s3s::dto::*;
use s3s::S3Request;

use super::bucket::{decode_token, encode_token};
use super::{algorithm_list, checksum_type, etag, owner, ts, url_encode, Call, Res};
use crate::error::Fault;
use crate::store::list::{Entry, ListQuery, VersionEntry, VersionQuery};
use crate::store::Version;
use crate::S3Stub;

pub const MAX_KEYS: usize = 1000;

pub fn max_keys(n: Option<i32>, name: &str) -> Result<usize, Fault> {
    match n {
        None => Ok(MAX_KEYS),
        Some(n) if n < 0 => Err(Fault::invalid_argument(
            format!("Argument {name} must be an integer between 0 and 2147483647"),
            name,
            &n.to_string(),
        )),
        Some(n) => Ok(usize::try_from(n).unwrap_or(MAX_KEYS).min(MAX_KEYS)),
    }
}

/// `encoding-type`: only `url` is valid.
pub fn encoding(e: Option<&EncodingType>) -> Result<bool, Fault> {
    match e.map(EncodingType::as_str) {
        None => Ok(false),
        Some(EncodingType::URL) => Ok(true),
        Some(other) => Err(Fault::invalid_argument(
            "Invalid Encoding Method specified in Request",
            "encoding-type",
            other,
        )),
    }
}

/// Encodes a name for the response when `encoding-type=url` was asked for.
pub fn enc(url: bool, s: &str) -> String {
    if url {
        url_encode(s)
    } else {
        s.to_owned()
    }
}

fn object_entry(v: &Version, url: bool, with_owner: bool) -> Object {
    let obj = v.object.as_ref();
    Object {
        key: Some(enc(url, &v.key)),
        last_modified: Some(ts(v.last_modified)),
        e_tag: obj.map(|o| etag(&o.etag)),
        size: obj.map(|o| i64::try_from(o.size()).unwrap_or(i64::MAX)),
        storage_class: obj.map(|o| ObjectStorageClass::from(o.meta.storage_class().to_owned())),
        owner: with_owner.then(owner),
        checksum_algorithm: obj.and_then(|o| algorithm_list(o.checksum.as_ref())),
        checksum_type: obj.and_then(|o| checksum_type(o.checksum.as_ref())),
        restore_status: None,
    }
}

/// Splits a page into `Contents` and `CommonPrefixes`.
fn split(entries: &[Entry], url: bool, with_owner: bool) -> (Vec<Object>, Vec<CommonPrefix>) {
    let (mut contents, mut prefixes) = (Vec::new(), Vec::new());
    for e in entries {
        match e {
            Entry::Object(v) => contents.push(object_entry(v, url, with_owner)),
            Entry::Prefix(p) => prefixes.push(CommonPrefix {
                prefix: Some(enc(url, p)),
            }),
        }
    }
    (contents, prefixes)
}

impl S3Stub {
    pub(super) async fn list_objects_v2(
        &self,
        _call: &Call,
        req: S3Request<ListObjectsV2Input>,
    ) -> Res<ListObjectsV2Output> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let max = max_keys(i.max_keys, "max-keys")?;
        let url = encoding(i.encoding_type.as_ref())?;
        let token = match &i.continuation_token {
            None => None,
            Some(t) => Some(decode_token(t).ok_or_else(|| {
                Fault::invalid_argument("The continuation token provided is incorrect", "continuation-token", t)
            })?),
        };
        let prefix = i.prefix.clone().unwrap_or_default();
        let after = token.as_deref().or(i.start_after.as_deref());
        let page = bucket.list_objects(&ListQuery {
            prefix: &prefix,
            delimiter: i.delimiter.as_deref(),
            after,
            max,
        })?;
        let next = page
            .truncated
            .then(|| page.entries.last().map(|e| encode_token(e.name())))
            .flatten();
        let (contents, prefixes) = split(&page.entries, url, i.fetch_owner.unwrap_or(false));
        Ok(ListObjectsV2Output {
            name: Some(bucket.name.clone()),
            prefix: Some(enc(url, &prefix)),
            max_keys: i.max_keys.or(Some(1000)),
            key_count: i32::try_from(page.entries.len()).ok(),
            continuation_token: i.continuation_token,
            is_truncated: Some(page.truncated),
            next_continuation_token: next,
            contents: (!contents.is_empty()).then_some(contents),
            common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
            delimiter: i.delimiter.map(|d| enc(url, &d)),
            encoding_type: i.encoding_type,
            start_after: i.start_after.map(|s| enc(url, &s)),
            request_charged: None,
        }
        .into())
    }

    pub(super) async fn list_objects(&self, _call: &Call, req: S3Request<ListObjectsInput>) -> Res<ListObjectsOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let max = max_keys(i.max_keys, "max-keys")?;
        let url = encoding(i.encoding_type.as_ref())?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let page = bucket.list_objects(&ListQuery {
            prefix: &prefix,
            delimiter: i.delimiter.as_deref(),
            after: i.marker.as_deref(),
            max,
        })?;
        // NextMarker is returned only with a delimiter; clients use the last key otherwise.
        let next_marker = (page.truncated && i.delimiter.as_deref().is_some_and(|d| !d.is_empty()))
            .then(|| page.entries.last().map(|e| enc(url, e.name())))
            .flatten();
        let (contents, prefixes) = split(&page.entries, url, true);
        Ok(ListObjectsOutput {
            name: Some(bucket.name.clone()),
            prefix: Some(enc(url, &prefix)),
            marker: Some(i.marker.as_deref().map(|m| enc(url, m)).unwrap_or_default()),
            max_keys: i.max_keys.or(Some(1000)),
            is_truncated: Some(page.truncated),
            contents: (!contents.is_empty()).then_some(contents),
            common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
            delimiter: i.delimiter.map(|d| enc(url, &d)),
            next_marker,
            encoding_type: i.encoding_type,
            request_charged: None,
        }
        .into())
    }

    pub(super) async fn list_object_versions(
        &self,
        _call: &Call,
        req: S3Request<ListObjectVersionsInput>,
    ) -> Res<ListObjectVersionsOutput> {
        let i = req.input;
        let bucket = self.store.bucket(&i.bucket)?;
        let max = max_keys(i.max_keys, "max-keys")?;
        let url = encoding(i.encoding_type.as_ref())?;
        let key_marker = i.key_marker.as_deref().filter(|k| !k.is_empty());
        let version_marker = i.version_id_marker.as_deref().filter(|v| !v.is_empty());
        if version_marker.is_some() && key_marker.is_none() {
            return Err(Fault::invalid_argument(
                "A version-id marker cannot be specified without a key marker.",
                "version-id-marker",
                version_marker.unwrap_or_default(),
            ));
        }
        if let Some(v) = version_marker {
            if !crate::store::is_valid_version_id(v) {
                return Err(Fault::invalid_argument(
                    "Invalid version id specified",
                    "version-id-marker",
                    v,
                ));
            }
        }
        let prefix = i.prefix.clone().unwrap_or_default();
        let page = bucket.list_versions(&VersionQuery {
            prefix: &prefix,
            delimiter: i.delimiter.as_deref(),
            key_marker,
            version_marker,
            max,
        })?;
        let (mut versions, mut markers, mut prefixes) = (Vec::new(), Vec::new(), Vec::new());
        for e in &page.entries {
            match e {
                VersionEntry::Prefix(p) => prefixes.push(CommonPrefix {
                    prefix: Some(enc(url, p)),
                }),
                VersionEntry::Version { version: v, is_latest } => match &v.object {
                    None => markers.push(DeleteMarkerEntry {
                        is_latest: Some(*is_latest),
                        key: Some(enc(url, &v.key)),
                        last_modified: Some(ts(v.last_modified)),
                        owner: Some(owner()),
                        version_id: Some(v.version_id.to_string()),
                    }),
                    Some(o) => versions.push(ObjectVersion {
                        checksum_algorithm: algorithm_list(o.checksum.as_ref()),
                        checksum_type: checksum_type(o.checksum.as_ref()),
                        e_tag: Some(etag(&o.etag)),
                        is_latest: Some(*is_latest),
                        key: Some(enc(url, &v.key)),
                        last_modified: Some(ts(v.last_modified)),
                        owner: Some(owner()),
                        restore_status: None,
                        size: Some(i64::try_from(o.size()).unwrap_or(i64::MAX)),
                        storage_class: Some(ObjectVersionStorageClass::from(o.meta.storage_class().to_owned())),
                        version_id: Some(v.version_id.to_string()),
                    }),
                },
            }
        }
        let (next_key, next_version) = match (page.truncated, page.entries.last()) {
            (true, Some(VersionEntry::Version { version, .. })) => {
                (Some(enc(url, &version.key)), Some(version.version_id.to_string()))
            }
            (true, Some(VersionEntry::Prefix(p))) => (Some(enc(url, p)), None),
            _ => (None, None),
        };
        Ok(ListObjectVersionsOutput {
            common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
            delete_markers: (!markers.is_empty()).then_some(markers),
            delimiter: i.delimiter.map(|d| enc(url, &d)),
            encoding_type: i.encoding_type,
            is_truncated: Some(page.truncated),
            key_marker: Some(i.key_marker.as_deref().map(|k| enc(url, k)).unwrap_or_default()),
            max_keys: i.max_keys.or(Some(1000)),
            name: Some(bucket.name.clone()),
            next_key_marker: next_key,
            next_version_id_marker: next_version,
            prefix: Some(enc(url, &prefix)),
            request_charged: None,
            version_id_marker: Some(i.version_id_marker.unwrap_or_default()),
            versions: (!versions.is_empty()).then_some(versions),
        }
        .into())
    }
}
