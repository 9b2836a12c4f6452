//! Unique ids. Every id localbridge hands out is real and unique: consumers dedupe and order on them.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;

thread_local! {
    /// Per-thread SplitMix64 state, seeded once from the OS's random source. Ids are needed on
    /// every request; a system call per id would cost more than the rest of a SendMessage.
    static RNG: Cell<u64> = Cell::new(uuid::Uuid::new_v4().as_u64_pair().0);
}

/// 64 random bits (SplitMix64: a bijection of the state, so one thread never repeats itself).
pub fn random_u64() -> u64 {
    RNG.with(|state| {
        let s = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        state.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

fn uuid_v4() -> uuid::Uuid {
    let bytes = (u128::from(random_u64()) << 64 | u128::from(random_u64())).to_be_bytes();
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// A UUID v4, the request-id form of the JSON and query protocols.
pub fn request_id() -> String {
    uuid()
}

/// A UUID v4's text (lower-case, hyphenated), without an allocation.
pub fn uuid_text() -> [u8; uuid::fmt::Hyphenated::LENGTH] {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    uuid_v4().hyphenated().encode_lower(&mut buf);
    buf
}

/// A UUID v4 as a shared string (an event id kept by the journal, the ledger and the deliveries).
pub fn uuid_shared() -> std::sync::Arc<str> {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    std::sync::Arc::from(&*uuid_v4().hyphenated().encode_lower(&mut buf))
}

/// A UUID v4 (message ids, receipt handle entropy, ...).
pub fn uuid() -> String {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    uuid_v4().hyphenated().encode_lower(&mut buf).to_owned()
}

/// 24 random bytes as base64url without padding: 32 URL-safe characters (S3 version and upload
/// ids).
pub fn url_safe_id() -> String {
    let mut bytes = [0u8; 24];
    for chunk in bytes.chunks_mut(8) {
        chunk.copy_from_slice(&random_u64().to_le_bytes());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// S3's `x-amz-request-id`: 16 upper-case hex digits.
pub fn s3_request_id() -> String {
    format!("{:016X}", random_u64())
}

/// S3's `x-amz-id-2`: base64 of 48 random bytes (64 characters).
pub fn s3_host_id() -> String {
    let mut bytes = [0u8; 48];
    for chunk in bytes.chunks_mut(8) {
        chunk.copy_from_slice(&random_u64().to_le_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A process-wide, strictly increasing counter seeded from wall-clock nanoseconds, so values keep
/// increasing across restarts as well as within one process.
#[derive(Debug)]
pub struct Monotonic(AtomicU64);

impl Monotonic {
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    pub fn next(&self) -> u64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let mut prev = self.0.load(Ordering::Relaxed);
        loop {
            let next = now.max(prev + 1);
            match self
                .0
                .compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(p) => prev = p,
            }
        }
    }
}

impl Default for Monotonic {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_shaped() {
        let a = s3_request_id();
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
        assert_ne!(a, s3_request_id());
        assert_eq!(s3_host_id().len(), 64);
        assert_ne!(request_id(), request_id());
        let u = uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4', "version 4: {u}");
    }

    #[test]
    fn random_ids_do_not_repeat() {
        let ids: std::collections::HashSet<String> = (0..100_000).map(|_| uuid()).collect();
        assert_eq!(ids.len(), 100_000);
    }

    #[test]
    fn monotonic_increases() {
        let m = Monotonic::new();
        let mut last = 0;
        for _ in 0..10_000 {
            let v = m.next();
            assert!(v > last);
            last = v;
        }
    }
}
