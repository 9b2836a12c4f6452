//! The digests SQS puts on the wire, computed exactly as AWS documents them (the SDKs verify the
//! MD5s and fail the call on a mismatch):
//!
//! - `MD5OfMessageBody` / `MD5OfBody`: MD5 of the UTF-8 body.
//! - `MD5OfMessageAttributes` / `MD5OfMessageSystemAttributes`: MD5 over the attributes sorted by
//!   name, each encoded as `len(name) name len(type) type transport len(value) value`, lengths as
//!   4-byte big-endian integers, transport 1 for String/Number and 2 for Binary.
//! - Content-based deduplication ids: SHA-256 of the body, lower-case hex.
//!
//! SHA-256 is implemented here (FIPS 180-4, checked against its test vectors below) rather than
//! pulled in as a dependency: it is one function, used once per FIFO send.

use md5::{Digest, Md5};

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

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
];

fn compress(state: &mut [u32; 8], block: &[u8]) {
    let mut w = [0u32; 64];
    for (wi, chunk) in w.iter_mut().zip(block.chunks_exact(4)) {
        *wi = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    for i in 16..64 {
        let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
        let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for (k, wi) in K.iter().zip(w.iter()) {
        let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let ch = (e & f) ^ (!e & g);
        let t1 = h.wrapping_add(s1).wrapping_add(ch).wrapping_add(*k).wrapping_add(*wi);
        let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(maj);
        h = g;
        g = f;
        f = e;
        e = d.wrapping_add(t1);
        d = c;
        c = b;
        b = a;
        a = t1.wrapping_add(t2);
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = s.wrapping_add(v);
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut state: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ];
    let mut blocks = data.chunks_exact(64);
    for block in &mut blocks {
        compress(&mut state, block);
    }
    let rest = blocks.remainder();
    let mut tail = [0u8; 128];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()] = 0x80;
    let tail_len = if rest.len() + 9 <= 64 { 64 } else { 128 };
    let bits = (data.len() as u64).wrapping_mul(8);
    tail[tail_len - 8..tail_len].copy_from_slice(&bits.to_be_bytes());
    for block in tail[..tail_len].chunks_exact(64) {
        compress(&mut state, block);
    }
    let mut out = [0u8; 32];
    for (o, s) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&s.to_be_bytes());
    }
    out
}

/// SHA-256 of `data` as 64 lower-case hex digits (a content-based deduplication id).
pub fn sha256_hex(data: &[u8]) -> String {
    to_hex(&sha256(data))
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
        // Every padding boundary, against Python's hashlib.
        let expected = [
            (1, "084fed08b978af4d7d196a7446a86b58009e636b611db16211b65a9aadff29c5"),
            (55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"),
            (56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"),
            (63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"),
            (64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"),
            (65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"),
            (119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"),
            (120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"),
            (127, "a8d23e75d936f303d248888d9b165ee543f4cbafcad3c9dd2a79bd84faa11d07"),
            (128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6"),
            (1000, "1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371"),
        ];
        for (n, want) in expected {
            let data: Vec<u8> = (0..n).map(|i| ((i * 7 + 3) % 256) as u8).collect();
            assert_eq!(sha256_hex(&data), want, "length {n}");
        }
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
