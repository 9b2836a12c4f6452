//! Unique ids. Every id localbridge hands out is real and unique: consumers dedupe and order on them.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;

/// A UUID v4, the request-id form of the JSON and query protocols.
pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A UUID v4 (message ids, receipt handle entropy, ...).
pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// S3's `x-amz-request-id`: 16 upper-case hex digits.
pub fn s3_request_id() -> String {
    let v = uuid::Uuid::new_v4().as_u128() as u64;
    format!("{v:016X}")
}

/// S3's `x-amz-id-2`: base64 of 48 random bytes (64 characters).
pub fn s3_host_id() -> String {
    let mut bytes = [0u8; 48];
    for chunk in bytes.chunks_mut(16) {
        chunk.copy_from_slice(&uuid::Uuid::new_v4().as_u128().to_le_bytes()[..chunk.len()]);
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
