//! Bytes of memory kept per stored small object, beside its payload size.
//!
//! A request's body reaches the store as a `Bytes` that is often a slice of a larger read buffer
//! (hyper reads headers and body into one buffer of 8 KiB or more; aws-chunked decoding grows its
//! own). A slice keeps its whole allocation alive, so a 10-byte object used to hold 5–14 KB. The
//! store copies such bodies into an exact-size allocation; this test measures what is left.
//!
//! It runs alone in its own process (an integration test with one test function) and measures
//! the resident set (`/proc/self/status` `VmRSS`) before and after storing many objects: the
//! figure includes the allocator's own overhead, as the running server sees it. Run with
//! `cargo test -p localbridge-s3 --release --test memory -- --nocapture` to print the figures.

use bytes::Bytes;
use lb_s3::checksum::{self, Algorithm, Checksum};
use lb_s3::store::{ObjectData, ObjectMeta, Store, WriteCondition};

/// Objects stored per size.
const COUNT: usize = 20_000;

fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The body as a request delivers it: a slice of a read buffer that also held the request's
/// headers (at least 8 KiB, hyper's initial read buffer, and a power of two above that).
fn request_body(size: usize, fill: u8) -> Bytes {
    let capacity = (size + 600).next_power_of_two().max(8 * 1024);
    let mut buf = Vec::with_capacity(capacity);
    buf.resize(600, b'h');
    buf.resize(600 + size, fill);
    Bytes::from(buf).slice(600..)
}

/// Stores `COUNT` objects of `size` bytes the way PutObject does (ETag, the default CRC64NVME
/// checksum, the content type if any, the body through `store::compact`) and returns the
/// resident bytes added per object.
fn bytes_per_object(store: &Store, bucket: &str, size: usize, content_type: Option<&str>) -> Option<u64> {
    store.create_bucket(bucket, "us-east-1", 1).ok()?;
    let b = store.bucket(bucket).ok()?;
    let before = rss_bytes()?;
    for i in 0..COUNT {
        let body = request_body(size, (i % 251) as u8);
        let object = ObjectData {
            etag: checksum::etag(&body),
            checksum: Some(Checksum::full(Algorithm::Crc64Nvme, &body)),
            body: lb_s3::store::compact(body),
            meta: ObjectMeta {
                content_type: content_type.map(str::to_owned),
                ..ObjectMeta::default()
            }
            .shared(),
            tags: Vec::new(),
            parts: Vec::new(),
            acl: None,
            restore: None,
            accessed: 0,
            archive: None,
            replication: None,
            lost: false,
        };
        b.put(
            &format!("objects/{i:08}"),
            object,
            1_700_000_000_000,
            &WriteCondition::default(),
        )
        .ok()?;
    }
    let after = rss_bytes()?;
    Some(after.saturating_sub(before) / COUNT as u64)
}

#[test]
fn small_objects_keep_little_more_than_their_payload() {
    let store = Store::new();
    let mut figures = Vec::new();
    for (content_type, tag) in [(None, "n"), (Some("text/plain"), "t")] {
        for size in [10, 1024, 9 * 1024] {
            let bucket = format!("bk-{tag}-{size}");
            let Some(per_object) = bytes_per_object(&store, &bucket, size, content_type) else {
                eprintln!("no /proc/self/status: memory not measured");
                return;
            };
            let overhead = per_object.saturating_sub(size as u64);
            println!(
                "payload {size:>5} B, content type {:<10}: {per_object:>6} B per stored object ({overhead} B besides the payload)",
                content_type.unwrap_or("none")
            );
            figures.push((size, per_object, overhead));
        }
    }
    for (size, per_object, overhead) in figures {
        // Key, version, ETag, checksum and map entries, plus the allocator's rounding: about
        // 520 B (metadata that is empty or only a content type is shared), well under 1 KiB. Before the store compacted bodies, every one of these
        // objects kept about 5.6 KB besides its payload (the untouched part of the read buffer
        // is not resident, so less than its 8-16 KiB).
        assert!(
            overhead < 1024,
            "payload {size} B: {per_object} B per object ({overhead} B besides the payload)"
        );
    }
}
