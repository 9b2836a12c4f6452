//! Hash keys, shard ids, sequence numbers and shard iterators.
//!
//! - A record's hash key is the MD5 of its partition key read as a 128-bit big-endian unsigned
//!   integer (or its `ExplicitHashKey`); each shard owns a contiguous `HashKeyRange`, the
//!   provisioned shards splitting `0..=2^128-1` evenly (the last one takes the remainder).
//! - Sequence numbers are 56-digit decimal strings, like AWS's (`4959...` followed by 52 more
//!   digits). AWS does not document their layout; ours is, in decimal digits:
//!   `49` | shard creation, seconds (10) | shard index (6) | record index in the shard (20) |
//!   arrival, milliseconds (18). Within a shard they increase with the record index, so clients
//!   that compare them as big integers see AWS's ordering. A shard's `StartingSequenceNumber` is
//!   the same with record index and arrival 0 (records are numbered from 1).
//! - Shard iterators are opaque base64 text carrying the stream's creation time, the shard, the
//!   position (the index of the next record to read) and when the iterator was issued.

use base64::Engine as _;
use md5::{Digest, Md5};

/// The hash key of a partition key.
pub fn hash_key(partition_key: &str) -> u128 {
    let digest = Md5::digest(partition_key.as_bytes());
    u128::from_be_bytes(digest.into())
}

/// The `(start, end)` hash key ranges of `count` shards splitting the key space evenly: shard
/// `i` starts at `i * floor(2^128 / count)`, the last one ends at `2^128 - 1`.
pub fn ranges(count: u32) -> Vec<(u128, u128)> {
    let n = u128::from(count.max(1));
    if n == 1 {
        return vec![(0, u128::MAX)];
    }
    // floor(2^128 / n) without 2^128: (MAX + 1) / n.
    let width = u128::MAX / n + u128::from(u128::MAX % n == n - 1);
    (0..n)
        .map(|i| {
            let end = if i + 1 == n { u128::MAX } else { (i + 1) * width - 1 };
            (i * width, end)
        })
        .collect()
}

/// `shardId-000000000000`.
pub fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

/// The shard index of a `shardId-NNNNNNNNNNNN`.
pub fn shard_index(id: &str) -> Option<u32> {
    let digits = id.strip_prefix("shardId-")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The sequence number of record `index` of a shard.
pub fn sequence_number(shard_created_secs: u64, shard: u32, index: u64, arrival_millis: u64) -> String {
    // Digits written in place: one of these per record put and per record read, so no
    // formatting machinery (it showed in PutRecords' profile).
    fn digits(out: &mut [u8], mut v: u64) {
        for d in out.iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    let mut buf = [b'0'; 56];
    buf[0] = b'4';
    buf[1] = b'9';
    digits(&mut buf[2..12], shard_created_secs % 10_000_000_000);
    digits(&mut buf[12..18], u64::from(shard % 1_000_000));
    digits(&mut buf[18..38], index);
    digits(&mut buf[38..56], arrival_millis % 1_000_000_000_000_000_000);
    buf.iter().map(|&b| b as char).collect()
}

/// What a sequence number of ours says: `(shard creation seconds, shard index, record index)`.
pub fn parse_sequence_number(s: &str) -> Option<(u64, u32, u64)> {
    if s.len() != 56 || !s.starts_with("49") || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let created = s[2..12].parse().ok()?;
    let shard = s[12..18].parse().ok()?;
    let index = s[18..38].parse().ok()?;
    Some((created, shard, index))
}

/// A decoded shard iterator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iterator {
    pub stream: String,
    pub stream_created_millis: u64,
    pub shard: u32,
    /// The index of the next record to read.
    pub position: u64,
    pub issued_millis: u64,
}

impl Iterator {
    pub fn encode(&self) -> String {
        let raw = format!(
            "1|{}|{}|{}|{}|{}",
            self.stream_created_millis, self.shard, self.position, self.issued_millis, self.stream
        );
        base64::engine::general_purpose::STANDARD.encode(raw)
    }

    pub fn decode(s: &str) -> Option<Self> {
        let raw = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let mut parts = raw.splitn(6, '|');
        if parts.next()? != "1" {
            return None;
        }
        Some(Self {
            stream_created_millis: parts.next()?.parse().ok()?,
            shard: parts.next()?.parse().ok()?,
            position: parts.next()?.parse().ok()?,
            issued_millis: parts.next()?.parse().ok()?,
            stream: parts.next()?.to_owned(),
        })
    }
}
