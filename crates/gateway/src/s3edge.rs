//! What the gateway does to an S3 request before the `s3s` layer sees it: signatures are parsed,
//! not verified, so the header or presigned signature is removed (after checking a presigned URL's
//! expiry, which clients rely on, against the clock time the caller passes), and `aws-chunked`
//! bodies are decoded with their trailing checksums (only those declared in `x-amz-trailer`)
//! moved into ordinary headers. `s3s` then handles an anonymous, plain request.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};

use crate::chunked;
use crate::render;

/// Query parameters that carry a presigned request's signature.
const PRESIGN_V4: &[&str] = &[
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
];
const PRESIGN_V2: &[&str] = &["AWSAccessKeyId", "Signature", "Expires", "x-amz-security-token"];

/// Seven days, the longest a SigV4 presigned URL may live.
const MAX_PRESIGN_EXPIRES: u64 = 604_800;

/// A request rejected before it reaches S3, as S3's XML error.
#[derive(Debug)]
pub struct Rejection {
    pub status: u16,
    pub body: String,
}

/// Checks a presigned URL's expiry and returns the query string without its signature.
pub fn strip_presigned(query: &str, now_secs: u64, request_id: &str, host_id: &str) -> Result<String, Rejection> {
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let v4 = get("X-Amz-Signature").is_some() || get("X-Amz-Credential").is_some();
    let v2 = !v4 && get("Signature").is_some() && get("AWSAccessKeyId").is_some();
    if !v4 && !v2 {
        return Ok(query.to_owned());
    }
    let reject = |status: u16, code: &str, message: &str, extra: &[(&str, String)]| Rejection {
        status,
        body: render::s3_error_xml(code, message, extra, request_id, host_id),
    };
    if v4 {
        let expires: u64 = get("X-Amz-Expires")
            .and_then(|v| v.parse().ok())
            .unwrap_or(MAX_PRESIGN_EXPIRES);
        if expires > MAX_PRESIGN_EXPIRES {
            return Err(reject(
                400,
                "AuthorizationQueryParametersError",
                "X-Amz-Expires must be less than a week (in seconds) that is 604800",
                &[],
            ));
        }
        if let Some(signed_at) = get("X-Amz-Date").and_then(parse_amz_date) {
            let expiry = signed_at + expires;
            if now_secs > expiry {
                return Err(reject(
                    403,
                    "AccessDenied",
                    "Request has expired",
                    &[
                        ("X-Amz-Expires", expires.to_string()),
                        ("Expires", iso8601(expiry)),
                        ("ServerTime", iso8601(now_secs)),
                    ],
                ));
            }
        }
    } else if let Some(expiry) = get("Expires").and_then(|v| v.parse::<u64>().ok()) {
        if now_secs > expiry {
            return Err(reject(
                403,
                "AccessDenied",
                "Request has expired",
                &[("Expires", iso8601(expiry)), ("ServerTime", iso8601(now_secs))],
            ));
        }
    }
    let strip = if v4 { PRESIGN_V4 } else { PRESIGN_V2 };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let raw_key = pair.split('=').next().unwrap_or_default();
            let key = percent_encoding::percent_decode_str(raw_key).decode_utf8_lossy();
            !strip.iter().any(|s| *s == key)
        })
        .collect();
    Ok(kept.join("&"))
}

/// Removes header authentication and decodes an `aws-chunked` body in place.
pub fn normalize(headers: &mut HeaderMap, body: Bytes, request_id: &str, host_id: &str) -> Result<Bytes, Rejection> {
    headers.remove(http::header::AUTHORIZATION);
    drop_unusable_range(headers);
    let streaming = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("STREAMING-"));
    if !streaming {
        return Ok(body);
    }
    let decoded = chunked::decode(&body).map_err(|e| Rejection {
        status: 400,
        body: render::s3_error_xml(
            "IncompleteBody",
            &format!("The request body is malformed: {e}"),
            &[],
            request_id,
            host_id,
        ),
    })?;
    if let Some(expected) = headers
        .get("x-amz-decoded-content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if expected != decoded.body.len() {
            return Err(Rejection {
                status: 400,
                body: render::s3_error_xml(
                    "IncompleteBody",
                    "You did not provide the number of bytes specified by the Content-Length HTTP header",
                    &[],
                    request_id,
                    host_id,
                ),
            });
        }
    }
    let declared = declared_trailers(headers);
    let malformed = || Rejection {
        status: 400,
        body: render::s3_error_xml(
            "MalformedTrailerError",
            "The request contained trailing data that was not well-formed or did not conform to our published schema.",
            &[],
            request_id,
            host_id,
        ),
    };
    // A trailer is accepted only when the request declared it in `x-amz-trailer` and it is a
    // checksum: anything else (`x-amz-copy-source`, `x-amz-tagging`, ...) would otherwise turn
    // into an ordinary header and change what the request does after it was signed.
    let mut accepted = Vec::with_capacity(decoded.trailers.len());
    for (name, value) in decoded.trailers {
        if !is_checksum_trailer(&name) || !declared.contains(&name) {
            return Err(malformed());
        }
        let (Ok(name), Ok(value)) = (http::HeaderName::try_from(name), HeaderValue::try_from(value)) else {
            return Err(malformed());
        };
        accepted.push((name, value));
    }
    if declared.len() != accepted.len() {
        // A declared trailer that never came (or one sent twice).
        return Err(malformed());
    }
    for (name, value) in accepted {
        headers.insert(name, value);
    }
    headers.remove("x-amz-decoded-content-length");
    headers.remove("x-amz-trailer");
    headers.insert("x-amz-content-sha256", HeaderValue::from_static("UNSIGNED-PAYLOAD"));
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(decoded.body.len()));
    strip_aws_chunked_encoding(headers);
    Ok(decoded.body)
}

/// The trailer names a request declared in `x-amz-trailer` (comma-separated, lower-cased).
fn declared_trailers(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("x-amz-trailer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect()
}

/// `x-amz-checksum-crc32`, `-crc32c`, `-crc64nvme`, `-sha1`, `-sha256`: the only trailers S3
/// takes (botocore's `requestChecksumCalculation` sends these and nothing else).
fn is_checksum_trailer(name: &str) -> bool {
    matches!(
        name,
        "x-amz-checksum-crc32"
            | "x-amz-checksum-crc32c"
            | "x-amz-checksum-crc64nvme"
            | "x-amz-checksum-sha1"
            | "x-amz-checksum-sha256"
    )
}

/// S3 serves one byte range; a `Range` header it cannot use (bad syntax, `last < first`, several
/// ranges) is ignored and the whole object returned, as RFC 9110 says. `s3s` would reject it, so
/// it is removed here. Ranges past the end of the object are S3's to answer (416 InvalidRange).
fn drop_unusable_range(headers: &mut HeaderMap) {
    let usable = match headers.get(http::header::RANGE).map(HeaderValue::to_str) {
        None => return,
        Some(Ok(v)) => is_single_byte_range(v),
        Some(Err(_)) => false,
    };
    if !usable {
        headers.remove(http::header::RANGE);
    }
}

fn is_single_byte_range(value: &str) -> bool {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return false;
    };
    let Some((first, last)) = spec.trim().split_once('-') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit());
    match (first.is_empty(), last.is_empty()) {
        (true, false) => digits(last),
        (false, true) => digits(first),
        (false, false) => {
            digits(first)
                && digits(last)
                && first
                    .parse::<u64>()
                    .ok()
                    .zip(last.parse::<u64>().ok())
                    .is_some_and(|(a, b)| a <= b)
        }
        (true, true) => false,
    }
}

/// `Content-Encoding: aws-chunked` (possibly among others) describes the transfer, not the object.
fn strip_aws_chunked_encoding(headers: &mut HeaderMap) {
    let Some(value) = headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    let rest: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    if rest.is_empty() {
        headers.remove(http::header::CONTENT_ENCODING);
    } else if let Ok(v) = HeaderValue::try_from(rest.join(",")) {
        headers.insert(http::header::CONTENT_ENCODING, v);
    }
}

/// `20261122T041631Z` → epoch seconds.
fn parse_amz_date(s: &str) -> Option<u64> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let dt = time::PrimitiveDateTime::parse(s, format).ok()?;
    u64::try_from(dt.assume_utc().unix_timestamp()).ok()
}

fn iso8601(secs: u64) -> String {
    lb_core::clock::iso8601_millis(secs.saturating_mul(1000)).replace(".000Z", "Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_000_000; // 2026-11-18T...

    #[test]
    fn strips_a_live_presigned_v4_url() {
        let q = "versionId=abc&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20261118%2Fus-east-1%2Fs3%2Faws4_request\
                 &X-Amz-Date=20261118T080000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=ff";
        let signed_at = parse_amz_date("20261118T080000Z").unwrap();
        assert_eq!(strip_presigned(q, signed_at + 10, "r", "h").unwrap(), "versionId=abc");
    }

    #[test]
    fn rejects_an_expired_presigned_url() {
        let q = "X-Amz-Credential=test%2F20261118%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261118T080000Z&X-Amz-Expires=60&X-Amz-Signature=ff";
        let signed_at = parse_amz_date("20261118T080000Z").unwrap();
        let err = strip_presigned(q, signed_at + 61, "r", "h").unwrap_err();
        assert_eq!(err.status, 403);
        assert!(
            err.body
                .contains("<Code>AccessDenied</Code><Message>Request has expired</Message>"),
            "{}",
            err.body
        );
        assert!(err.body.contains("<X-Amz-Expires>60</X-Amz-Expires>"));
        let q = "AWSAccessKeyId=test&Expires=100&Signature=x";
        assert_eq!(strip_presigned(q, NOW, "r", "h").unwrap_err().status, 403);
        let q = "X-Amz-Credential=a&X-Amz-Date=20261118T080000Z&X-Amz-Expires=604801&X-Amz-Signature=ff";
        assert_eq!(strip_presigned(q, NOW, "r", "h").unwrap_err().status, 400);
    }

    #[test]
    fn leaves_unsigned_queries_alone() {
        assert_eq!(
            strip_presigned("list-type=2&prefix=a%2Fb", NOW, "r", "h").unwrap(),
            "list-type=2&prefix=a%2Fb"
        );
    }

    #[test]
    fn decodes_aws_chunked_uploads() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=x"),
        );
        h.insert(
            "x-amz-content-sha256",
            HeaderValue::from_static("STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        );
        h.insert("content-encoding", HeaderValue::from_static("aws-chunked"));
        h.insert("x-amz-decoded-content-length", HeaderValue::from_static("11"));
        h.insert("x-amz-trailer", HeaderValue::from_static("x-amz-checksum-crc32"));
        let body = Bytes::from_static(b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n");
        let out = normalize(&mut h, body, "r", "h").unwrap();
        assert_eq!(&out[..], b"hello world");
        assert_eq!(h.get("x-amz-checksum-crc32").unwrap(), "DUoRhQ==");
        assert_eq!(h.get("content-length").unwrap(), "11");
        assert!(h.get("authorization").is_none() && h.get("content-encoding").is_none());
    }

    fn chunked_headers(trailer: Option<&'static str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "x-amz-content-sha256",
            HeaderValue::from_static("STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        );
        h.insert("content-encoding", HeaderValue::from_static("aws-chunked"));
        if let Some(t) = trailer {
            h.insert("x-amz-trailer", HeaderValue::from_static(t));
        }
        h
    }

    #[test]
    fn only_declared_checksum_trailers_become_headers() {
        // An undeclared trailer that would turn a PutObject into a CopyObject.
        let mut h = chunked_headers(Some("x-amz-checksum-crc32"));
        let body = Bytes::from_static(
            b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\nx-amz-copy-source:/bucket/key\r\n\r\n",
        );
        let err = normalize(&mut h, body, "r", "h").unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.body.contains("<Code>MalformedTrailerError</Code>"), "{}", err.body);
        assert!(!h.contains_key("x-amz-copy-source"));

        // Declared, but not a checksum.
        let mut h = chunked_headers(Some("x-amz-copy-source"));
        let body = Bytes::from_static(b"b\r\nhello world\r\n0\r\nx-amz-copy-source:/bucket/key\r\n\r\n");
        assert_eq!(normalize(&mut h, body, "r", "h").unwrap_err().status, 400);
        assert!(!h.contains_key("x-amz-copy-source"));

        // A checksum trailer the request did not declare.
        let mut h = chunked_headers(None);
        let body = Bytes::from_static(b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n");
        assert_eq!(normalize(&mut h, body, "r", "h").unwrap_err().status, 400);

        // Declared but never sent.
        let mut h = chunked_headers(Some("x-amz-checksum-crc32"));
        let body = Bytes::from_static(b"b\r\nhello world\r\n0\r\n\r\n");
        assert_eq!(normalize(&mut h, body, "r", "h").unwrap_err().status, 400);

        // The trailer signature is not a trailer of the object.
        let mut h = chunked_headers(Some("x-amz-checksum-sha256"));
        let body = Bytes::from_static(
            b"b\r\nhello world\r\n0\r\nx-amz-checksum-sha256:uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=\r\nx-amz-trailer-signature:ff\r\n\r\n",
        );
        normalize(&mut h, body, "r", "h").unwrap();
        assert!(h.contains_key("x-amz-checksum-sha256"));
        assert!(!h.contains_key("x-amz-trailer-signature") && !h.contains_key("x-amz-trailer"));
    }

    #[test]
    fn keeps_only_single_byte_ranges() {
        for (range, kept) in [
            ("bytes=0-4", true),
            ("bytes=5-", true),
            ("bytes=-3", true),
            ("bytes=abc", false),
            ("bytes=5-2", false),
            ("bytes=0-1,3-4", false),
            ("items=0-1", false),
            ("bytes=-", false),
        ] {
            let mut h = HeaderMap::new();
            h.insert("range", HeaderValue::from_static(range));
            drop_unusable_range(&mut h);
            assert_eq!(h.contains_key("range"), kept, "{range}");
        }
    }

    #[test]
    fn rejects_a_short_chunked_body() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-amz-content-sha256",
            HeaderValue::from_static("STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        );
        h.insert("x-amz-decoded-content-length", HeaderValue::from_static("12"));
        let body = Bytes::from_static(b"b\r\nhello world\r\n0\r\n\r\n");
        assert_eq!(normalize(&mut h, body, "r", "h").unwrap_err().status, 400);
    }
}
