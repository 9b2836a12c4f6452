//! The digests SQS puts on the wire, computed exactly as AWS documents them (the SDKs verify the
//! MD5s and fail the call on a mismatch):
//!
//! - `MD5OfMessageBody` / `MD5OfBody`: MD5 of the UTF-8 body.
//! - `MD5OfMessageAttributes` / `MD5OfMessageSystemAttributes`: MD5 over the attributes sorted by
//!   name, each encoded as `len(name) name len(type) type transport len(value) value`, lengths as
//!   4-byte big-endian integers, transport 1 for String/Number and 2 for Binary.
//! - Content-based deduplication ids: SHA-256 of the body, lower-case hex (`sha2`).

use md5::{Digest, Md5};
use sha2::Sha256;

use crate::model::MessageAttributeValue;

/// Lower-case hex of `bytes` (`hex::encode` goes through a char iterator; this is the hot path).
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// MD5 of `data`.
pub fn md5(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

/// MD5 of `data` as 32 lower-case hex digits.
#[cfg(test)]
pub fn md5_hex(data: &[u8]) -> String {
    to_hex(&md5(data))
}

/// The transport-type byte of an attribute in the MD5 encoding.
fn transport(value: &MessageAttributeValue) -> u8 {
    if value.data_type.starts_with("Binary") {
        2
    } else {
        1
    }
}

fn update_len_prefixed(h: &mut Md5, bytes: &[u8]) {
    // Attribute names, types and values are bounded by the message size (1 MiB), far below 4 GiB.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    h.update(len.to_be_bytes());
    h.update(bytes);
}

/// MD5 of message attributes as AWS computes it. `attrs` must be sorted by name (a `BTreeMap`
/// iterates in byte order, which is the order AWS and the SDKs use). `None` when empty.
pub fn md5_of_attributes<'a, I>(attrs: I) -> Option<String>
where
    I: IntoIterator<Item = (&'a String, &'a MessageAttributeValue)>,
{
    let mut h = Md5::new();
    let mut any = false;
    for (name, value) in attrs {
        any = true;
        update_len_prefixed(&mut h, name.as_bytes());
        update_len_prefixed(&mut h, value.data_type.as_bytes());
        let t = transport(value);
        h.update([t]);
        if t == 2 {
            update_len_prefixed(&mut h, value.binary_value.as_deref().unwrap_or_default());
        } else {
            update_len_prefixed(&mut h, value.string_value.as_deref().unwrap_or_default().as_bytes());
        }
    }
    any.then(|| to_hex(&h.finalize()))
}

/// SHA-256 of `data` as 64 lower-case hex digits (content-based deduplication ids).
pub fn sha256_hex(data: &[u8]) -> String {
    to_hex(&Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn s(v: &str) -> MessageAttributeValue {
        MessageAttributeValue::string("String", v)
    }

    #[test]
    fn sha256_matches_fips_vectors_and_python() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(
            sha256_hex(&vec![b'a'; 1_000_000]),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    #[test]
    fn hex_matches_the_hex_crate() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(to_hex(&bytes), hex::encode(&bytes));
    }

    #[test]
    fn body_md5() {
        assert_eq!(md5_hex(b"msg"), "6e2baaf3b97dbeef01c0043275f9a0e7");
        assert_eq!(md5_hex(b"test"), "098f6bcd4621d373cade4e832627b4f6");
    }

    /// Expected values are MD5OfMessageAttributes that AWS itself returned (recorded responses),
    /// re-derived independently with the SDKs' algorithm in Python.
    #[test]
    fn attribute_md5_matches_values_recorded_from_aws() {
        let mut three = BTreeMap::new();
        three.insert("General".to_owned(), s("Kenobi"));
        three.insert("Hello".to_owned(), s("There"));
        three.insert("Help.Me".to_owned(), s("Me"));
        assert_eq!(
            md5_of_attributes(&three).as_deref(),
            Some("4c360f3fdafd970e05fae2f149d997f5")
        );
        three.remove("Help.Me");
        assert_eq!(
            md5_of_attributes(&three).as_deref(),
            Some("fca026605781cb4126a1e9044df24232")
        );

        let mut one = BTreeMap::new();
        one.insert("Foo".to_owned(), s("Bar"));
        assert_eq!(
            md5_of_attributes(&one).as_deref(),
            Some("ae7155c6026991b6d54b11589678bf9c")
        );

        let mut bin = BTreeMap::new();
        bin.insert(
            "attr1".to_owned(),
            MessageAttributeValue::binary(
                "Binary",
                b"traceparent\x1e00-774062d6c37081a5a0b9b5b88e30627c-2d2482211f6489da-01".to_vec(),
            ),
        );
        assert_eq!(
            md5_of_attributes(&bin).as_deref(),
            Some("8cbe4db156db8a94db8b801b7addb984")
        );

        let mut my = BTreeMap::new();
        my.insert("MyAttribute".to_owned(), s("foobar"));
        assert_eq!(
            md5_of_attributes(&my).as_deref(),
            Some("adb59cd4678ea5a855436b949cd07ab6")
        );
        assert_eq!(md5_of_attributes(&BTreeMap::new()), None);
    }

    #[test]
    fn system_attribute_md5_uses_the_same_encoding() {
        let mut sys = BTreeMap::new();
        sys.insert(
            "AWSTraceHeader".to_owned(),
            s("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
        );
        // Computed with the SDK algorithm in Python (see the module docs).
        assert_eq!(
            md5_of_attributes(&sys).as_deref(),
            Some("5ae4d5d7636402d80f4eb6d213245a88")
        );
    }
}
