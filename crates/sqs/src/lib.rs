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
mod source;
mod target;
#[cfg(test)]
mod tests;
mod validate;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use lb_core::ids::Monotonic;
use lb_core::Clock;

pub use model::*;

use crate::move_task::MoveTask;
use crate::queue::{MessageId, Queue};

/// The most distinct sender ids kept for sharing.
const MAX_SENDERS: usize = 1024;

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
    /// When queues were deleted, by registry key, for the 60 s before their name may be reused
    /// (swept as entries age out, so it holds at most a minute of deletions).
    deleted: Mutex<HashMap<String, u64>>,
    /// Sender ids shared by the messages they sent (a `SenderId` per stored message would cost
    /// an allocation each). Bounded: past `MAX_SENDERS` distinct senders, new ones are not kept.
    // A std RwLock: a read per send, a write once per new sender.
    senders: RwLock<HashMap<Box<str>, Arc<str>>>,
    /// Message move tasks by source queue ARN, most recent first.
    tasks: Mutex<HashMap<String, VecDeque<Arc<MoveTask>>>>,
}

impl Sqs {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                clock,
                queues: RwLock::new(BTreeMap::new()),
                next_queue_uid: AtomicU64::new(lb_core::ids::random_u64() | 1),
                next_message_id: AtomicU64::new(1),
                sequence: Monotonic::new(),
                deleted: Mutex::new(HashMap::new()),
                senders: RwLock::new(HashMap::new()),
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

    /// The shared form of a sender id.
    fn sender(&self, id: &str) -> Arc<str> {
        if let Some(s) = self
            .inner
            .senders
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
        {
            return Arc::clone(s);
        }
        let shared: Arc<str> = Arc::from(id);
        let mut senders = self.inner.senders.write().unwrap_or_else(PoisonError::into_inner);
        if senders.len() < MAX_SENDERS {
            senders.insert(Box::from(id), Arc::clone(&shared));
        }
        shared
    }

    /// Receipt-handle entropy.
    fn nonce(&self) -> u64 {
        lb_core::ids::random_u64()
    }

    /// A message id: a version-4 UUID.
    fn message_uuid(&self) -> MessageId {
        MessageId::random()
    }

    /// FIFO sequence numbers: 20-digit decimals above 10^19 (past `u64`, as AWS's are), strictly
    /// increasing within a process and across restarts.
    fn next_sequence_number(&self) -> u128 {
        crate::queue::SEQUENCE_BASE + u128::from(self.inner.sequence.next())
    }
}

#[cfg(test)]
mod id_tests {
    use super::*;

    #[test]
    fn message_ids_are_unique_v4_uuids() {
        let sqs = Sqs::new(Arc::new(lb_core::SystemClock));
        let ids: std::collections::HashSet<String> =
            (0..10_000).map(|_| sqs.message_uuid().as_str().to_owned()).collect();
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
