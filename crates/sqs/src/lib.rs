//! SQS: standard and FIFO queues, visibility timeouts, delays, retention, long polling that wakes
//! the moment a message arrives, dead-letter redrive and message move tasks, served over AWS JSON
//! 1.0 (current SDKs) and the query protocol (older SDKs).
//!
//! Layout:
//! - [`api`]: the wire edge. Parses a request once into an [`api::SqsOp`], calls the service,
//!   renders the result or the error in the request's protocol.
//! - `service`: the operations, plain Rust over the types of [`model`], unit-tested without HTTP
//!   and with a [`lb_core::ManualClock`].
//! - `queue`: one queue's configuration and message store (see its docs for the data structures).
//! - `attributes`, `validate`, `digest`, `receipt`: queue attributes, input rules, MD5/SHA-256,
//!   receipt handles.
//! - `move_task`: StartMessageMoveTask and friends.
//! - `target`: [`lb_core::deliver::Target`], so S3 and EventBridge deliver to queues by ARN.
//!
//! **Invariant:** a queue's lock is held for a few map operations and never across an await;
//! two queue locks are never held at once; a queue lock may be taken before the registry lock,
//! never after it.

pub mod api;
mod attributes;
mod digest;
pub mod errors;
pub mod model;
mod move_task;
mod queue;
mod receipt;
mod service;
mod target;
#[cfg(test)]
mod tests;
mod validate;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use lb_core::ids::Monotonic;
use lb_core::Clock;

pub use model::*;

use crate::move_task::MoveTask;
use crate::queue::Queue;

/// The SQS service: every queue of every region and account. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Sqs {
    inner: Arc<Inner>,
}

struct Inner {
    clock: Arc<dyn Clock>,
    /// Queues by `region \n account \n name`: ordered, so ListQueues walks a prefix range.
    // A std RwLock: readers hold it for one lookup; writers (create, delete) are rare.
    queues: RwLock<BTreeMap<String, Arc<Queue>>>,
    next_queue_uid: AtomicU64,
    next_message_id: AtomicU64,
    sequence: Monotonic,
    nonce: AtomicU64,
    /// Message move tasks by source queue ARN, most recent first.
    tasks: Mutex<HashMap<String, VecDeque<Arc<MoveTask>>>>,
}

impl Sqs {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let seed = uuid_seed();
        Self {
            inner: Arc::new(Inner {
                clock,
                queues: RwLock::new(BTreeMap::new()),
                next_queue_uid: AtomicU64::new(seed | 1),
                next_message_id: AtomicU64::new(1),
                sequence: Monotonic::new(),
                nonce: AtomicU64::new(seed),
                tasks: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn now(&self) -> u64 {
        self.inner.clock.now_millis()
    }

    fn next_message_id(&self) -> u64 {
        self.inner.next_message_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Receipt-handle entropy: a splitmix64 sequence from a random seed (unique, unguessable
    /// enough for a local emulator, and cheap).
    fn nonce(&self) -> u64 {
        let mut z = self
            .inner
            .nonce
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A message id: a version-4 UUID drawn from the nonce sequence rather than the OS (a
    /// `getrandom` call per message was a measurable share of SendMessage). Unique within the
    /// process: the sequence is a bijection of a counter.
    fn message_uuid(&self) -> String {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.nonce().to_be_bytes());
        b[8..].copy_from_slice(&self.nonce().to_be_bytes());
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = digest::to_hex(&b);
        format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
    }

    /// FIFO sequence numbers: 20-digit decimals above 10^19 (past `u64`, as AWS's are), strictly
    /// increasing within a process and across restarts.
    fn next_sequence_number(&self) -> u128 {
        10_000_000_000_000_000_000 + u128::from(self.inner.sequence.next())
    }
}

fn uuid_seed() -> u64 {
    let id = lb_core::ids::uuid();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod id_tests {
    use super::*;

    #[test]
    fn message_ids_are_unique_v4_uuids() {
        let sqs = Sqs::new(Arc::new(lb_core::SystemClock));
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| sqs.message_uuid()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(100) {
            let b = id.as_bytes();
            assert_eq!(b.len(), 36);
            assert!([8, 13, 18, 23].iter().all(|&i| b[i] == b'-'), "{id}");
            assert_eq!(b[14], b'4', "version 4: {id}");
            assert!(matches!(b[19], b'8' | b'9' | b'a' | b'b'), "RFC 4122 variant: {id}");
        }
    }
}
