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
    /// Each entry with the sequence number of the previous entry of the same event id (an event
    /// forwarded to another bus is journaled on each).
    entries: VecDeque<(Arc<JournalEntry>, Option<u64>)>,
    /// Sequence number of `entries[0]`.
    first: u64,
    /// Event id → the sequence number of its latest entry.
    latest: HashMap<Box<str>, u64>,
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
        let entry = Arc::new(entry);
        let mut guard = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let ring = &mut *guard;
        if ring.entries.len() >= self.capacity {
            if let Some((old, _)) = ring.entries.pop_front() {
                // Forget the id only if this was its latest entry (older ones leave first).
                if ring.latest.get(old.id.as_str()) == Some(&ring.first) {
                    ring.latest.remove(old.id.as_str());
                }
                ring.first += 1;
            }
        }
        let seq = ring.first + ring.entries.len() as u64;
        let prev = ring.latest.insert(entry.id.as_str().into(), seq);
        ring.entries.push_back((entry, prev));
    }

    /// The event's entries, in the order its buses routed it.
    pub fn get(&self, id: &str) -> Vec<Arc<JournalEntry>> {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = Vec::new();
        let mut next = ring.latest.get(id).copied();
        while let Some(seq) = next.filter(|s| *s >= ring.first) {
            let Some((entry, prev)) = ring.entries.get((seq - ring.first) as usize) else {
                break;
            };
            out.push(Arc::clone(entry));
            next = *prev;
        }
        out.reverse();
        out
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
        let mut forwarded = entry("f");
        forwarded.bus = "second".into();
        j.record(entry("f"));
        j.record(forwarded);
        let got = j.get("f");
        assert_eq!(got.iter().map(|e| &*e.bus).collect::<Vec<_>>(), ["b", "second"]);
    }
}
