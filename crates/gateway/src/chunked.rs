//! Decoding of `aws-chunked` request bodies (`x-amz-content-sha256: STREAMING-*`), which current
//! SDKs use to stream uploads with trailing checksums:
//!
//! ```text
//! <hex size>[;chunk-signature=<sig>]\r\n<data>\r\n ... 0[;chunk-signature=<sig>]\r\n
//! [<trailer-name>:<value>\r\n ...]\r\n
//! ```
//!
//! Signatures are not verified (see `sigv4`); trailers other than `x-amz-trailer-signature` are
//! returned so the gateway can check them against the request's `x-amz-trailer` and present the
//! declared checksums to S3 as ordinary headers (`s3edge::normalize`; nothing else is accepted).

use bytes::{Bytes, BytesMut};

#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    pub body: Bytes,
    pub trailers: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkedError {
    #[error("malformed chunk header")]
    BadHeader,
    #[error("chunk data is shorter than its declared size")]
    Truncated,
    #[error("malformed trailer")]
    BadTrailer,
}

fn line(input: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = input.get(pos..)?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..end], pos + end + 2))
}

pub fn decode(input: &[u8]) -> Result<Decoded, ChunkedError> {
    let mut body = BytesMut::new();
    let mut pos = 0;
    loop {
        let (header, next) = line(input, pos).ok_or(ChunkedError::BadHeader)?;
        let size_hex = header.split(|&b| b == b';').next().unwrap_or_default();
        let size_str = std::str::from_utf8(size_hex).map_err(|_| ChunkedError::BadHeader)?;
        let size = usize::from_str_radix(size_str.trim(), 16).map_err(|_| ChunkedError::BadHeader)?;
        pos = next;
        if size == 0 {
            break;
        }
        let end = pos.checked_add(size).ok_or(ChunkedError::Truncated)?;
        let data = input.get(pos..end).ok_or(ChunkedError::Truncated)?;
        body.extend_from_slice(data);
        if input.get(end..end + 2) != Some(b"\r\n") {
            return Err(ChunkedError::Truncated);
        }
        pos = end + 2;
    }
    let mut trailers = Vec::new();
    while let Some((l, next)) = line(input, pos) {
        pos = next;
        if l.is_empty() {
            break;
        }
        let text = std::str::from_utf8(l).map_err(|_| ChunkedError::BadTrailer)?;
        let (name, value) = text.split_once(':').ok_or(ChunkedError::BadTrailer)?;
        let name = name.trim().to_ascii_lowercase();
        if name != "x-amz-trailer-signature" {
            trailers.push((name, value.trim().to_owned()));
        }
    }
    Ok(Decoded {
        body: body.freeze(),
        trailers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_signed_chunks() {
        let input =
            b"5;chunk-signature=aaaa\r\nhello\r\n6;chunk-signature=bbbb\r\n world\r\n0;chunk-signature=cccc\r\n\r\n";
        let d = decode(input).unwrap();
        assert_eq!(&d.body[..], b"hello world");
        assert!(d.trailers.is_empty());
    }

    #[test]
    fn decodes_unsigned_chunks_with_trailers() {
        let input = b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\nx-amz-trailer-signature:ff\r\n\r\n";
        let d = decode(input).unwrap();
        assert_eq!(&d.body[..], b"hello world");
        assert_eq!(d.trailers, vec![("x-amz-checksum-crc32".into(), "DUoRhQ==".into())]);
    }

    #[test]
    fn rejects_malformed_input() {
        assert_eq!(decode(b"zz\r\nhello\r\n0\r\n\r\n"), Err(ChunkedError::BadHeader));
        assert_eq!(decode(b"10\r\nhello\r\n0\r\n\r\n"), Err(ChunkedError::Truncated));
        assert_eq!(decode(b"5\r\nhello"), Err(ChunkedError::Truncated));
        assert_eq!(decode(b""), Err(ChunkedError::BadHeader));
        assert_eq!(decode(b"ffffffffffffffff\r\n"), Err(ChunkedError::Truncated));
    }
}
