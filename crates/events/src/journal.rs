//! The journal: the recent events of every bus (bounded, the oldest leave first), with the rules
//! each matched and the ledger records of its deliveries. What answers
//! `GET /_localbridge/events/<event-id>` and, read by cursor, `GET /_localbridge/events/tail`
//! (see [`crate::tail`]).
//!
//! Every entry has a sequence number (1, 2, ...: its position in the order of recording, implied
//! by its place in the ring, never stored), so a reader can ask for what came after what it has
//! seen and learn how many entries left the ring before it read them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// The entries after a cursor (see [`Journal::read_after`]).
#[derive(Debug, Default)]
pub struct JournalRead {
    /// `(sequence, entry)`, oldest first.
    pub entries: Vec<(u64, Arc<JournalEntry>)>,
    /// Entries after the cursor that had already left the ring.
    pub missed: u64,
    /// The sequence of the newest entry recorded so far (0: none yet).
    pub last: u64,
}

#[derive(Default)]
struct Ring {
    entries: VecDeque<Arc<JournalEntry>>,
    /// Entries ever recorded: the sequence of the newest (the oldest kept is
    /// `recorded - entries.len() + 1`).
    recorded: u64,
}

pub struct Journal {
    capacity: usize,
    // Held for one push (and one pop) per event; lookups scan it, which is fine for a debugging
    // endpoint and keeps the routing path free of an index to maintain.
    ring: Mutex<Ring>,
    /// Tail readers waiting for the next entry. Recording wakes them only when there are some:
    /// with nobody tailing, an event costs one relaxed load more than before.
    waiting: AtomicUsize,
    recorded: tokio::sync::Notify,
}

impl Journal {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ring: Mutex::new(Ring::default()),
            waiting: AtomicUsize::new(0),
            recorded: tokio::sync::Notify::new(),
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
            let evicted = if ring.entries.len() >= self.capacity {
                ring.entries.pop_front()
            } else {
                None
            };
            ring.entries.push_back(entry);
            ring.recorded += 1;
            evicted
        };
        // A waiter counted itself before it looked at the ring under the lock, so if it looked
        // before this push, its count is visible here (the lock orders the two).
        if self.waiting.load(Ordering::Relaxed) > 0 {
            self.recorded.notify_waiters();
        }
        // The oldest entry is freed outside the lock.
        drop(evicted);
    }

    /// The event's entries, in the order its buses routed it.
    pub fn get(&self, id: &str) -> Vec<Arc<JournalEntry>> {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.entries.iter().filter(|e| &*e.id == id).cloned().collect()
    }

    /// Up to `max` entries recorded after sequence `after` (`None`: after the newest, i.e.
    /// nothing yet), oldest first. A cursor beyond the newest entry (from another server
    /// process) reads as `None`.
    pub fn read_after(&self, after: Option<u64>, max: usize) -> JournalRead {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let last = ring.recorded;
        let after = after.filter(|a| *a <= last).unwrap_or(last);
        let oldest = last + 1 - ring.entries.len() as u64;
        let missed = oldest.saturating_sub(after + 1);
        let start = after.max(oldest - 1);
        // `start - (oldest - 1)` entries of the ring are at or before the cursor.
        let skip = usize::try_from(start + 1 - oldest).unwrap_or(usize::MAX);
        let entries = ring
            .entries
            .iter()
            .skip(skip)
            .take(max)
            .zip(start + 1..)
            .map(|(e, seq)| (seq, Arc::clone(e)))
            .collect();
        JournalRead { entries, missed, last }
    }

    /// Waits until an entry is recorded after sequence `after`, or `deadline` passes (tokio
    /// time). Returns at once if there is one already.
    pub async fn wait_after(&self, after: u64, deadline: tokio::time::Instant) {
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.waiting);
        let notified = self.recorded.notified();
        tokio::pin!(notified);
        // Registered before looking, so a record between the look and the await wakes it.
        notified.as_mut().enable();
        if self.last() > after {
            return;
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }

    /// The sequence of the newest entry recorded (0: none yet).
    pub fn last(&self) -> u64 {
        self.ring.lock().unwrap_or_else(PoisonError::into_inner).recorded
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

    #[test]
    fn reads_by_cursor_and_counts_what_left_the_ring() {
        let j = Journal::new(3);
        let r = j.read_after(None, 10);
        assert_eq!((r.entries.len(), r.missed, r.last), (0, 0, 0));
        j.record(entry("a"));
        j.record(entry("b"));
        let r = j.read_after(Some(0), 10);
        let got: Vec<(u64, &str)> = r.entries.iter().map(|(s, e)| (*s, &*e.id)).collect();
        assert_eq!(got, [(1, "a"), (2, "b")]);
        assert_eq!((r.missed, r.last), (0, 2));
        // No cursor: from now on.
        assert!(j.read_after(None, 10).entries.is_empty());
        for id in ["c", "d", "e"] {
            j.record(entry(id));
        }
        // 1..=5 recorded, 3..=5 kept: a reader at 1 missed 2.
        let r = j.read_after(Some(1), 10);
        let got: Vec<(u64, &str)> = r.entries.iter().map(|(s, e)| (*s, &*e.id)).collect();
        assert_eq!(got, [(3, "c"), (4, "d"), (5, "e")]);
        assert_eq!((r.missed, r.last), (1, 5));
        let r = j.read_after(Some(3), 1);
        assert_eq!(r.entries.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [4]);
        assert_eq!(r.missed, 0);
        // A cursor from another process (beyond the newest) reads from now.
        let r = j.read_after(Some(99), 10);
        assert!(r.entries.is_empty());
        assert_eq!(r.last, 5);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_reader_is_woken_by_the_next_entry() {
        let j = Arc::new(Journal::new(3));
        let far = tokio::time::Instant::now() + std::time::Duration::from_secs(3600);
        let waiter = {
            let j = Arc::clone(&j);
            tokio::spawn(async move { j.wait_after(0, far).await })
        };
        tokio::task::yield_now().await;
        j.record(entry("a"));
        waiter.await.unwrap();
        assert_eq!(j.waiting.load(Ordering::Relaxed), 0);
        // Already there: at once; nothing new: until the deadline.
        j.wait_after(0, far).await;
        let soon = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
        j.wait_after(1, soon).await;
        assert!(tokio::time::Instant::now() >= soon);
    }
}
