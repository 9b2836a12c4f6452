//! The in-memory store: log groups per region and account, their streams, the streams' events
//! ordered by (timestamp, sequence), and the global bound on stored events.
//!
//! Every stored event is also recorded, in ingestion order, in one queue of `(stream id, key)`;
//! when the store holds more events than its bound, the oldest ingested leave first (counted in
//! `dropped`). Entries whose event already left (its stream or group deleted, its retention
//! passed) are skipped, and the queue is compacted when such entries outnumber the live ones.

use std::collections::{BTreeMap, HashMap, VecDeque};

/// An event's position in its stream: (timestamp, sequence). The sequence is unique per
/// process, so keys are unique and order events with the same timestamp by ingestion.
pub type Key = (u64, u64);

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub ingestion_time: u64,
    pub message: String,
}

/// A log stream.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    pub name: String,
    pub creation_time: u64,
    pub events: BTreeMap<Key, StoredEvent>,
    pub last_ingestion_time: Option<u64>,
    /// Message bytes stored (for the group's `storedBytes`).
    pub bytes: u64,
}

/// A log group.
#[derive(Debug, Clone, Default)]
pub struct Group {
    pub name: String,
    pub creation_time: u64,
    pub retention_days: Option<u32>,
    pub kms_key_id: Option<String>,
    pub class: String,
    pub tags: BTreeMap<String, String>,
    /// Stream name → stream id (in [`Store::streams`]).
    pub streams: BTreeMap<String, u64>,
}

/// An account-level resource policy (per region).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePolicy {
    pub name: String,
    pub document: String,
    pub parsed: serde_json::Value,
    pub last_updated_time: u64,
}

/// One region and account.
#[derive(Debug, Default)]
pub struct Scope {
    pub groups: BTreeMap<String, Group>,
    pub policies: BTreeMap<String, ResourcePolicy>,
}

/// Everything, behind the service's one lock.
#[derive(Debug, Default)]
pub struct Store {
    pub scopes: HashMap<(String, String), Scope>,
    pub streams: HashMap<u64, Stream>,
    order: VecDeque<(u64, Key)>,
    next_stream: u64,
    next_seq: u64,
    /// Events stored now.
    pub live: usize,
    /// Events dropped to stay within the bound (oldest ingested first).
    pub dropped: u64,
    /// Events removed by retention.
    pub expired: u64,
}

impl Store {
    pub fn scope(&mut self, region: &str, account: &str) -> &mut Scope {
        self.scopes.entry((region.to_owned(), account.to_owned())).or_default()
    }

    pub fn scope_ref(&self, region: &str, account: &str) -> Option<&Scope> {
        self.scopes.get(&(region.to_owned(), account.to_owned()))
    }

    /// A new stream's id.
    pub fn new_stream(&mut self, name: &str, now: u64) -> u64 {
        self.next_stream += 1;
        let id = self.next_stream;
        self.streams.insert(
            id,
            Stream {
                name: name.to_owned(),
                creation_time: now,
                ..Stream::default()
            },
        );
        id
    }

    /// Removes streams (a deleted group's, or one deleted stream) with their events.
    pub fn remove_streams(&mut self, ids: impl IntoIterator<Item = u64>) {
        for id in ids {
            if let Some(s) = self.streams.remove(&id) {
                self.live -= s.events.len();
            }
        }
    }

    /// Stores events (already validated and in order) in stream `id`, then enforces `bound`.
    pub fn append(&mut self, id: u64, events: impl IntoIterator<Item = (u64, String)>, now: u64, bound: usize) {
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        for (ts, message) in events {
            self.next_seq += 1;
            let key = (ts, self.next_seq);
            stream.bytes += message.len() as u64;
            stream.events.insert(
                key,
                StoredEvent {
                    ingestion_time: now,
                    message,
                },
            );
            stream.last_ingestion_time = Some(now);
            self.order.push_back((id, key));
            self.live += 1;
        }
        self.enforce(bound);
    }

    fn enforce(&mut self, bound: usize) {
        while self.live > bound {
            let Some((id, key)) = self.order.pop_front() else {
                break;
            };
            if let Some(e) = self.streams.get_mut(&id).and_then(|s| {
                let e = s.events.remove(&key);
                if let Some(e) = &e {
                    s.bytes -= e.message.len() as u64;
                }
                e
            }) {
                drop(e);
                self.live -= 1;
                self.dropped += 1;
            }
        }
        // Entries of events that already left: compact when they outnumber the live ones.
        if self.order.len() > 2 * self.live + 1024 {
            let streams = &self.streams;
            self.order
                .retain(|(id, key)| streams.get(id).is_some_and(|s| s.events.contains_key(key)));
        }
    }

    /// Removes the events of `streams` older than `cutoff` (retention), counted in `expired`.
    pub fn expire(&mut self, streams: &[u64], cutoff: u64) {
        for id in streams {
            if let Some(s) = self.streams.get_mut(id) {
                let keep = s.events.split_off(&(cutoff, 0));
                let gone = std::mem::replace(&mut s.events, keep);
                for e in gone.values() {
                    s.bytes -= e.message.len() as u64;
                }
                self.live -= gone.len();
                self.expired += gone.len() as u64;
            }
        }
    }
}
