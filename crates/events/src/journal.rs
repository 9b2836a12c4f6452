//! The journal: the recent events of every bus (bounded, the oldest leave first), with the rules
//! each matched and the ledger records of its deliveries. What answers
//! `GET /_localbridge/events/<event-id>`.

use std::collections::VecDeque;
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
    pub id: Arc<str>,
    pub bus: Arc<str>,
    /// The event as routed (JSON text).
    pub event: Arc<str>,
    /// When it was routed (epoch milliseconds).
    pub at: u64,
    pub matched: Vec<JournalMatch>,
}

pub struct Journal {
    capacity: usize,
    // Held for one push (and one pop) per event; lookups scan it, which is fine for a debugging
    // endpoint and keeps the routing path free of an index to maintain.
    ring: Mutex<VecDeque<Arc<JournalEntry>>>,
}

impl Journal {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ring: Mutex::new(VecDeque::new()),
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
        let evicted = {
            let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
            let evicted = if ring.len() >= self.capacity {
                ring.pop_front()
            } else {
                None
            };
            ring.push_back(entry);
            evicted
        };
        // The oldest entry is freed outside the lock.
        drop(evicted);
    }

    /// The event's entries, in the order its buses routed it.
    pub fn get(&self, id: &str) -> Vec<Arc<JournalEntry>> {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.iter().filter(|e| &*e.id == id).cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.ring.lock().unwrap_or_else(PoisonError::into_inner).len()
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
            id: id.into(),
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
        assert_eq!(&*j.get("d")[0].id, "d");
        let mut forwarded = entry("f");
        forwarded.bus = "second".into();
        j.record(entry("f"));
        j.record(forwarded);
        let got = j.get("f");
        assert_eq!(got.iter().map(|e| &*e.bus).collect::<Vec<_>>(), ["b", "second"]);
    }
}
