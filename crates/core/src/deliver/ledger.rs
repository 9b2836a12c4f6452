//! The ledger: a bounded ring with one record per delivery the engine accepted (or dropped at its
//! door): who produced it, where it went, every attempt, and its fate. The answer to "my event
//! never arrived — why?".

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Serialize, Serializer};

use super::Producer;
use crate::clock::iso8601_millis;

/// Where a delivery ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fate {
    Pending,
    Delivered,
    DeadLettered,
    Dropped,
}

impl Fate {
    pub fn as_str(self) -> &'static str {
        match self {
            Fate::Pending => "pending",
            Fate::Delivered => "delivered",
            Fate::DeadLettered => "dead-lettered",
            Fate::Dropped => "dropped",
        }
    }

    pub fn parse(s: &str) -> Option<Fate> {
        Some(match s {
            "pending" => Fate::Pending,
            "delivered" => Fate::Delivered,
            "dead-lettered" => Fate::DeadLettered,
            "dropped" => Fate::Dropped,
            _ => return None,
        })
    }
}

/// A clock time, kept as epoch milliseconds and written as RFC 3339 with milliseconds, UTC
/// (formatted when read, not on the delivery path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub u64);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&iso8601_millis(self.0))
    }
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// When the attempt finished.
    pub at: Timestamp,
    /// `delivered` or the failure kind (`retryable`, `not-found`, `access-denied`, `terminal`).
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the ledger knows of one delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerRecord {
    pub id: u64,
    pub producer: Producer,
    pub target: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<Arc<str>>,
    pub submitted_at: Timestamp,
    pub fate: Fate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For a dead-lettered delivery: where it went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_target: Option<String>,
    /// For a delivery to a dead-letter target: the record it carries on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_of: Option<u64>,
    /// Attempts made in all (the list keeps the first and the most recent ones).
    pub attempt_count: u32,
    pub attempts: Vec<Attempt>,
}

/// A record as the ring keeps it: shared strings, and the attempts without an allocation in
/// the common case of one. Turned into a [`LedgerRecord`] when read.
struct Rec {
    id: u64,
    producer: Producer,
    target: Arc<str>,
    event_id: Option<Arc<str>>,
    submitted_at: u64,
    fate: Fate,
    attempt_count: u32,
    dead_letter_of: Option<u64>,
    attempts: Attempts,
    /// Reason and dead-letter target, which only failed deliveries have.
    failure: Option<Box<(Option<String>, Option<String>)>>,
}

/// The attempts kept: the first few and the most recent ones.
#[derive(Default)]
enum Attempts {
    #[default]
    None,
    One(Attempt),
    Many(Vec<Attempt>),
}

impl Attempts {
    fn push(&mut self, a: Attempt) {
        match std::mem::take(self) {
            Attempts::None => *self = Attempts::One(a),
            Attempts::One(first) => *self = Attempts::Many(vec![first, a]),
            Attempts::Many(mut list) => {
                if list.len() >= KEEP_FIRST + KEEP_LAST {
                    list.remove(KEEP_FIRST);
                }
                list.push(a);
                *self = Attempts::Many(list);
            }
        }
    }

    fn to_vec(&self) -> Vec<Attempt> {
        match self {
            Attempts::None => Vec::new(),
            Attempts::One(a) => vec![a.clone()],
            Attempts::Many(list) => list.clone(),
        }
    }
}

impl Rec {
    fn push_attempt(&mut self, at: u64, outcome: &'static str, error: Option<String>) {
        self.attempt_count += 1;
        self.attempts.push(Attempt {
            at: Timestamp(at),
            outcome,
            error,
        });
    }

    fn record(&self) -> LedgerRecord {
        let (reason, dead_letter_target) = self.failure.as_deref().cloned().unwrap_or_default();
        LedgerRecord {
            id: self.id,
            producer: self.producer.clone(),
            target: Arc::clone(&self.target),
            event_id: self.event_id.clone(),
            submitted_at: Timestamp(self.submitted_at),
            fate: self.fate,
            reason,
            dead_letter_target,
            dead_letter_of: self.dead_letter_of,
            attempt_count: self.attempt_count,
            attempts: self.attempts.to_vec(),
        }
    }
}

/// Filters for [`Ledger::query`]; each given one must match.
#[derive(Debug, Clone, Default)]
pub struct LedgerQuery {
    pub target: Option<String>,
    pub producer: Option<String>,
    pub fate: Option<Fate>,
    /// At most this many records (newest first).
    pub limit: Option<usize>,
}

/// Attempts kept per record: the first few and the most recent ones (a 185-attempt retry policy
/// must not make one record hold 185 entries).
const KEEP_FIRST: usize = 4;
const KEEP_LAST: usize = 12;

/// What [`Ledger::record`] records: the outcome of a delivery a service made by itself.
#[derive(Debug, Clone)]
pub struct Outcome<'a> {
    pub producer: &'a Producer,
    pub target: &'a Arc<str>,
    /// When the work began (the first attempt), epoch milliseconds.
    pub submitted_at: u64,
    /// Attempts made in all.
    pub attempts: u32,
    /// When the last attempt ended.
    pub ended_at: u64,
    /// The last attempt's error.
    pub error: Option<String>,
    pub fate: Fate,
    pub reason: Option<String>,
    pub dead_letter_target: Option<String>,
}

pub struct Ledger {
    capacity: usize,
    // A std Mutex: held for one push or one in-place update, never across an await.
    ring: Mutex<Ring>,
}

struct Ring {
    records: VecDeque<Rec>,
    /// The id the next record gets; ids are consecutive, so a record's slot is `id - first id`.
    next_id: u64,
}

impl Ledger {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ring: Mutex::new(Ring {
                records: VecDeque::with_capacity(capacity.min(1024)),
                next_id: 1,
            }),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a record and returns its id; the oldest record leaves when the ring is full.
    pub(crate) fn open(
        &self,
        producer: &Producer,
        target: &Arc<str>,
        event_id: Option<&Arc<str>>,
        now: u64,
        dead_letter_of: Option<u64>,
    ) -> u64 {
        let rec = Rec {
            id: 0,
            producer: producer.clone(),
            target: Arc::clone(target),
            event_id: event_id.cloned(),
            submitted_at: now,
            fate: Fate::Pending,
            attempt_count: 0,
            dead_letter_of,
            attempts: Attempts::None,
            failure: None,
        };
        let mut ring = self.lock();
        let id = ring.next_id;
        ring.next_id += 1;
        if self.capacity == 0 {
            return id;
        }
        let evicted = if ring.records.len() == self.capacity {
            ring.records.pop_front()
        } else {
            None
        };
        ring.records.push_back(Rec { id, ..rec });
        drop(ring);
        // The oldest record's strings are released outside the lock.
        drop(evicted);
        id
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut Rec)) {
        let mut ring = self.lock();
        let Some(first) = ring.records.front().map(|r| r.id) else {
            return;
        };
        let Some(slot) = id.checked_sub(first).and_then(|i| usize::try_from(i).ok()) else {
            return;
        };
        if let Some(r) = ring.records.get_mut(slot) {
            f(r);
        }
    }

    /// Records an attempt and, when it ends the delivery, its fate (one lock for both).
    pub(crate) fn attempt(&self, id: u64, at: u64, outcome: &'static str, error: Option<String>, fate: Option<Fate>) {
        self.update(id, |r| {
            r.push_attempt(at, outcome, error);
            if let Some(f) = fate {
                r.fate = f;
            }
        });
    }

    /// Records a successful attempt for each of `ids` (consecutive in the common case), under
    /// one lock.
    pub(crate) fn delivered(&self, ids: &[u64], at: u64) {
        let mut ring = self.lock();
        let Some(first) = ring.records.front().map(|r| r.id) else {
            return;
        };
        for &id in ids {
            let Some(slot) = id.checked_sub(first).and_then(|i| usize::try_from(i).ok()) else {
                continue;
            };
            if let Some(r) = ring.records.get_mut(slot) {
                r.push_attempt(at, "delivered", None);
                r.fate = Fate::Delivered;
            }
        }
    }

    /// Records work a service delivered by itself rather than through the engine (a poller's
    /// batch: a Pipe reading a stream), so its fate is in the ledger beside the engine's
    /// deliveries: one record, its attempts counted, the last one kept with its error.
    pub fn record(&self, o: &Outcome<'_>) -> u64 {
        let id = self.open(o.producer, o.target, None, o.submitted_at, None);
        self.update(id, |r| {
            r.attempt_count = o.attempts.saturating_sub(1);
            r.push_attempt(o.ended_at, "failed", o.error.clone());
            r.fate = o.fate;
            r.failure = (o.reason.is_some() || o.dead_letter_target.is_some())
                .then(|| Box::new((o.reason.clone(), o.dead_letter_target.clone())));
        });
        id
    }

    pub(crate) fn settle(&self, id: u64, fate: Fate, reason: Option<String>, dead_letter_target: Option<String>) {
        self.update(id, |r| {
            r.fate = fate;
            r.failure =
                (reason.is_some() || dead_letter_target.is_some()).then(|| Box::new((reason, dead_letter_target)));
        });
    }

    /// Records matching `q`, newest first.
    pub fn query(&self, q: &LedgerQuery) -> Vec<LedgerRecord> {
        let ring = self.lock();
        ring.records
            .iter()
            .rev()
            .filter(|r| q.target.as_deref().is_none_or(|t| &*r.target == t))
            .filter(|r| q.producer.as_deref().is_none_or(|p| &*r.producer.arn == p))
            .filter(|r| q.fate.is_none_or(|f| r.fate == f))
            .take(q.limit.unwrap_or(usize::MAX))
            .map(Rec::record)
            .collect()
    }

    /// One record, if still in the ring.
    pub fn get(&self, id: u64) -> Option<LedgerRecord> {
        let ring = self.lock();
        let first = ring.records.front()?.id;
        ring.records
            .get(usize::try_from(id.checked_sub(first)?).ok()?)
            .map(Rec::record)
    }

    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
