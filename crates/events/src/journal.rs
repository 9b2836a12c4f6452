//! The journal: the recent events of every bus (bounded, the oldest leave first), with the rules
//! each matched and the ledger records of its deliveries. What answers
//! `GET /_localbridge/events/<event-id>`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

/// A rule an event matched, and what routing did for each of its targets.
#[derive(Debug, Clone)]
pub struct JournalMatch {
    pub rule: Arc<str>,
    pub arn: Arc<str>,
    /// Ledger ids of the deliveries submitted, one per target.
    pub deliveries: Vec<u64>,
    /// Targets that got no delivery, and why.
    pub errors: Vec<String>,
}

/// One event on one bus.
#[derive(Debug, Clone)]
pub struct JournalEntry {
    pub id: String,
    pub bus: Arc<str>,
    /// The event as routed (JSON text).
    pub event: Arc<str>,
    /// When it was routed (epoch milliseconds).
    pub at: u64,
    pub matched: Vec<JournalMatch>,
}

pub struct Journal {
    capacity: usize,
    ring: Mutex<Ring>,
}

#[derive(Default)]
struct Ring {
    entries: VecDeque<Arc<JournalEntry>>,
    /// Sequence number of `entries[0]`.
    first: u64,
    /// Event id → sequence numbers (an event forwarded to another bus is on both).
    by_id: HashMap<String, Vec<u64>>,
}

impl Journal {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ring: Mutex::new(Ring::default()),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn record(&self, entry: JournalEntry) {
        if self.capacity == 0 {
            return;
        }
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        if ring.entries.len() >= self.capacity {
            if let Some(old) = ring.entries.pop_front() {
                let first = ring.first;
                if let Some(seqs) = ring.by_id.get_mut(&old.id) {
                    seqs.retain(|s| *s != first);
                    if seqs.is_empty() {
                        ring.by_id.remove(&old.id);
                    }
                }
                ring.first += 1;
            }
        }
        let seq = ring.first + ring.entries.len() as u64;
        ring.by_id.entry(entry.id.clone()).or_default().push(seq);
        ring.entries.push_back(Arc::new(entry));
    }

    /// The event's entries, in the order its buses routed it.
    pub fn get(&self, id: &str) -> Vec<Arc<JournalEntry>> {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.by_id
            .get(id)
            .map(|seqs| {
                seqs.iter()
                    .filter_map(|s| ring.entries.get((s - ring.first) as usize).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.ring.lock().unwrap_or_else(PoisonError::into_inner).entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> JournalEntry {
        JournalEntry {
            id: id.to_owned(),
            bus: "b".into(),
            event: "{}".into(),
            at: 0,
            matched: Vec::new(),
        }
    }

    #[test]
    fn keeps_the_newest_and_finds_every_bus_of_an_event() {
        let j = Journal::new(3);
        for id in ["a", "b", "a", "c", "d"] {
            j.record(entry(id));
        }
        assert_eq!(j.len(), 3);
        assert_eq!(j.get("a").len(), 1, "the first 'a' left with the oldest entries");
        assert!(j.get("b").is_empty());
        assert_eq!(j.get("d")[0].id, "d");
    }
}
