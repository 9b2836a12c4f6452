//! S3's additional checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256), Content-MD5 and ETags.
//!
//! The digests themselves come from `s3s::crypto`; this module knows S3's rules around them:
//! which request headers carry them, how a mismatch is reported, and how multipart objects
//! combine part checksums (COMPOSITE: a checksum of the part checksums, suffixed `-N`;
//! FULL_OBJECT: the checksum of the whole object).

use base64::Engine as _;
use s3s::crypto::{Checksum as _, Crc32, Crc32c, Crc64Nvme, Md5, Sha1, Sha256};

use crate::error::Fault;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Crc32,
        Algorithm::Crc32c,
        Algorithm::Crc64Nvme,
        Algorithm::Sha1,
        Algorithm::Sha256,
    ];

    /// Parses the wire name, case-insensitively (`x-amz-sdk-checksum-algorithm: crc32` is valid).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "CRC32",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Crc64Nvme => "CRC64NVME",
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
        }
    }

    pub fn header(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "x-amz-checksum-crc32",
            Algorithm::Crc32c => "x-amz-checksum-crc32c",
            Algorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Algorithm::Sha1 => "x-amz-checksum-sha1",
            Algorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    fn digest_len(self) -> usize {
        match self {
            Algorithm::Crc32 | Algorithm::Crc32c => 4,
            Algorithm::Crc64Nvme => 8,
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
        }
    }

    /// CRCs can be combined into a full-object checksum of a multipart upload; SHAs cannot.
    pub fn supports_full_object(self) -> bool {
        matches!(self, Algorithm::Crc32 | Algorithm::Crc32c | Algorithm::Crc64Nvme)
    }

    /// Whether a multipart upload may use the COMPOSITE type with this algorithm.
    pub fn supports_composite(self) -> bool {
        !matches!(self, Algorithm::Crc64Nvme)
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Algorithm::Crc32 => Crc32::checksum(data).to_vec(),
            Algorithm::Crc32c => Crc32c::checksum(data).to_vec(),
            Algorithm::Crc64Nvme => Crc64Nvme::checksum(data).to_vec(),
            Algorithm::Sha1 => Sha1::checksum(data).to_vec(),
            Algorithm::Sha256 => Sha256::checksum(data).to_vec(),
        }
    }

    pub fn digest_b64(self, data: &[u8]) -> String {
        B64.encode(self.digest(data))
    }

    /// Decodes a header value; `None` when it is not base64 of the right length.
    pub fn decode(self, value: &str) -> Option<Vec<u8>> {
        let raw = B64.decode(value.trim()).ok()?;
        (raw.len() == self.digest_len()).then_some(raw)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumType {
    FullObject,
    Composite,
}

impl ChecksumType {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "FULL_OBJECT" => Some(Self::FullObject),
            "COMPOSITE" => Some(Self::Composite),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumType::FullObject => "FULL_OBJECT",
            ChecksumType::Composite => "COMPOSITE",
        }
    }
}

/// A stored checksum: the algorithm, its base64 value (with `-N` for COMPOSITE) and its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    pub algorithm: Algorithm,
    pub value: String,
    pub kind: ChecksumType,
}

impl Checksum {
    pub fn full(algorithm: Algorithm, data: &[u8]) -> Self {
        Self {
            algorithm,
            value: algorithm.digest_b64(data),
            kind: ChecksumType::FullObject,
        }
    }
}

/// The checksum-related inputs of an upload request (PutObject, UploadPart, POST).
#[derive(Debug, Clone, Default)]
pub struct Provided {
    /// `x-amz-sdk-checksum-algorithm` (or the algorithm implied by `x-amz-trailer`).
    pub sdk_algorithm: Option<String>,
    /// The `x-amz-checksum-*` values present, by algorithm.
    pub values: Vec<(Algorithm, String)>,
    /// `Content-MD5`.
    pub content_md5: Option<String>,
}

impl Provided {
    /// Validates what the client sent against `data`. Returns the checksum to store: the one
    /// the client sent, or the one the SDK algorithm names, or `default` computed by the server.
    pub fn verify(&self, data: &[u8], default: Option<Algorithm>) -> Result<Option<Checksum>, Fault> {
        verify_md5(self.content_md5.as_deref(), data)?;
        let sdk =
            match self.sdk_algorithm.as_deref() {
                None => None,
                Some(s) => Some(Algorithm::parse(s).ok_or_else(|| {
                    Fault::invalid_request("Value for x-amz-sdk-checksum-algorithm header is invalid.")
                })?),
            };
        if self.values.len() > 1 {
            return Err(Fault::invalid_request(
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
            ));
        }
        let Some((alg, value)) = self.values.first() else {
            if sdk.is_some() {
                return Err(Fault::invalid_request(
                    "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.",
                ));
            }
            return Ok(default.map(|a| Checksum::full(a, data)));
        };
        if sdk.is_some_and(|s| s != *alg) {
            return Err(Fault::invalid_request(
                "Value for x-amz-sdk-checksum-algorithm header is invalid.",
            ));
        }
        let expected = alg
            .decode(value)
            .ok_or_else(|| Fault::invalid_request(format!("Value for {} header is invalid.", alg.header())))?;
        if expected != alg.digest(data) {
            return Err(Fault::bad_digest(format!(
                "The {} you specified did not match the calculated checksum.",
                alg.as_str()
            )));
        }
        Ok(Some(Checksum {
            algorithm: *alg,
            value: value.trim().to_owned(),
            kind: ChecksumType::FullObject,
        }))
    }
}

/// Verifies `Content-MD5`: InvalidDigest if it is not base64 of 16 bytes, BadDigest if it differs.
pub fn verify_md5(content_md5: Option<&str>, data: &[u8]) -> Result<(), Fault> {
    let Some(v) = content_md5 else { return Ok(()) };
    let raw = B64.decode(v.trim()).ok().filter(|r| r.len() == 16).ok_or_else(|| {
        Fault::new("InvalidDigest", 400, "The Content-MD5 you specified was invalid.").field("Content-MD5", v)
    })?;
    let actual = md5(data);
    if raw != actual {
        return Err(Fault::new(
            "BadDigest",
            400,
            "The Content-MD5 you specified did not match what we received.",
        )
        .field("ExpectedDigest", v)
        .field("CalculatedDigest", B64.encode(actual)));
    }
    Ok(())
}

pub fn md5(data: &[u8]) -> [u8; 16] {
    Md5::checksum(data)
}

/// The ETag of a single-part object: hex MD5 (without quotes).
pub fn etag(data: &[u8]) -> String {
    hex::encode(md5(data))
}

/// The ETag of a multipart object: MD5 of the concatenated binary part MD5s, then `-N`.
pub fn multipart_etag<'a>(part_etags: impl IntoIterator<Item = &'a str>) -> String {
    let mut h = Md5::new();
    let mut n = 0usize;
    for e in part_etags {
        // Part ETags are our own hex MD5s, so decoding cannot fail; skip rather than panic.
        if let Ok(raw) = hex::decode(e) {
            h.update(&raw);
        }
        n += 1;
    }
    format!("{}-{n}", hex::encode(h.finalize()))
}

/// COMPOSITE checksum of a multipart object: the algorithm over the concatenated binary part
/// checksums, base64, then `-N`.
pub fn composite(algorithm: Algorithm, part_values: &[&str]) -> Option<String> {
    let mut concat = Vec::with_capacity(part_values.len() * algorithm.digest_len());
    for v in part_values {
        concat.extend_from_slice(&algorithm.decode(v)?);
    }
    Some(format!("{}-{}", algorithm.digest_b64(&concat), part_values.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        // `hello world` as the AWS documentation and the aws-chunked test vector give it.
        assert_eq!(Algorithm::Crc32.digest_b64(b"hello world"), "DUoRhQ==");
        assert_eq!(Algorithm::Crc32c.digest_b64(b"hello world"), "yZRlqg==");
        assert_eq!(
            Algorithm::Sha256.digest_b64(b"hello world"),
            "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="
        );
        assert_eq!(
            Algorithm::Sha1.digest_b64(b"hello world"),
            "Kq5sNclPz7QV2+lfQIuc6R7oRu0="
        );
        assert_eq!(etag(b""), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn verifies_provided_checksums() {
        let ok = Provided {
            values: vec![(Algorithm::Crc32, "DUoRhQ==".into())],
            sdk_algorithm: Some("crc32".into()),
            content_md5: None,
        };
        let c = ok.verify(b"hello world", Some(Algorithm::Crc64Nvme)).unwrap().unwrap();
        assert_eq!((c.algorithm, c.value.as_str()), (Algorithm::Crc32, "DUoRhQ=="));

        let bad = Provided {
            values: vec![(Algorithm::Crc32, "AAAAAA==".into())],
            ..Provided::default()
        };
        let e = bad.verify(b"hello world", None).unwrap_err();
        assert_eq!((e.code.as_ref(), e.status), ("BadDigest", 400));
        assert_eq!(
            e.message,
            "The CRC32 you specified did not match the calculated checksum."
        );

        let malformed = Provided {
            values: vec![(Algorithm::Sha256, "DUoRhQ==".into())],
            ..Provided::default()
        };
        assert_eq!(malformed.verify(b"x", None).unwrap_err().code, "InvalidRequest");

        let two = Provided {
            values: vec![
                (Algorithm::Crc32, "DUoRhQ==".into()),
                (Algorithm::Crc32c, "yZRlqg==".into()),
            ],
            ..Provided::default()
        };
        assert_eq!(two.verify(b"hello world", None).unwrap_err().code, "InvalidRequest");

        let mismatch = Provided {
            values: vec![(Algorithm::Crc32, "DUoRhQ==".into())],
            sdk_algorithm: Some("SHA256".into()),
            content_md5: None,
        };
        assert_eq!(
            mismatch.verify(b"hello world", None).unwrap_err().code,
            "InvalidRequest"
        );

        let none = Provided::default()
            .verify(b"hello world", Some(Algorithm::Crc64Nvme))
            .unwrap();
        assert_eq!(none.unwrap().algorithm, Algorithm::Crc64Nvme);
    }

    #[test]
    fn verifies_content_md5() {
        assert!(verify_md5(Some("XrY7u+Ae7tCTyyK7j1rNww=="), b"hello world").is_ok());
        assert_eq!(verify_md5(Some("nope"), b"x").unwrap_err().code, "InvalidDigest");
        assert_eq!(
            verify_md5(Some("1B2M2Y8AsgTpgAmY7PhCfg=="), b"x").unwrap_err().code,
            "BadDigest"
        );
    }

    #[test]
    fn multipart_etags_and_composites() {
        let a = etag(b"a");
        let b = etag(b"b");
        let mut concat = md5(b"a").to_vec();
        concat.extend_from_slice(&md5(b"b"));
        assert_eq!(
            multipart_etag([a.as_str(), b.as_str()]),
            format!("{}-2", hex::encode(md5(&concat)))
        );

        let pa = Algorithm::Crc32.digest_b64(b"a");
        let pb = Algorithm::Crc32.digest_b64(b"b");
        let mut raw = Algorithm::Crc32.digest(b"a");
        raw.extend(Algorithm::Crc32.digest(b"b"));
        assert_eq!(
            composite(Algorithm::Crc32, &[&pa, &pb]).unwrap(),
            format!("{}-2", Algorithm::Crc32.digest_b64(&raw))
        );
    }
}
