//! Streams and their shards' records.
//!
//! **Locks:** the stream table is one `RwLock` (read for every data operation, written only by
//! CreateStream/DeleteStream); each shard's records are behind their own `Mutex`, held for a
//! few lines (an append, or a bounded copy of `Bytes` handles on read). No lock is held across an
//! await (there is none in this crate), and a shard lock is never taken while another is held.
//!
//! **Bounds:** retention is applied lazily on each shard access (records older than the
//! stream's retention, by arrival, leave from the front). The process-wide record bound drops
//! the globally oldest record (by arrival order) first; finding it scans the shards' fronts,
//! so it costs one pass over the shards per dropped record.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use bytes::Bytes;

/// A provisioned shard's write limits (AWS: 1,000 records and 1 MiB per second per shard).
pub const SHARD_RECORDS_PER_SECOND: u32 = 1000;
pub const SHARD_BYTES_PER_SECOND: usize = 1024 * 1024;

/// One stored record.
#[derive(Debug, Clone)]
pub struct Record {
    /// Its index in the shard (from 1).
    pub index: u64,
    pub arrival_millis: u64,
    /// Arrival order over the whole process (for the global bound).
    pub global: u64,
    pub partition_key: Arc<str>,
    pub data: Bytes,
}

/// A shard's records.
#[derive(Debug, Default)]
pub struct ShardLog {
    pub records: VecDeque<Record>,
    /// The index the next record gets.
    pub next_index: u64,
    /// The one-second window of the shard write limits: its second, records and bytes in it.
    window: (u64, u32, usize),
}

impl ShardLog {
    /// The index of the oldest record still stored (or the next one if none is).
    pub fn first_index(&self) -> u64 {
        self.records.front().map_or(self.next_index, |r| r.index)
    }

    /// Where the record with `index` is (or would be) in [`Self::records`].
    pub fn offset(&self, index: u64) -> usize {
        let first = self.first_index();
        usize::try_from(index.saturating_sub(first))
            .unwrap_or(usize::MAX)
            .min(self.records.len())
    }
}

#[derive(Debug)]
pub struct Shard {
    pub index: u32,
    pub id: String,
    pub start_hash: u128,
    pub end_hash: u128,
    pub created_secs: u64,
    log: Mutex<ShardLog>,
}

impl Shard {
    pub fn log(&self) -> MutexGuard<'_, ShardLog> {
        // Every critical section leaves the log consistent before anything can panic.
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn starting_sequence_number(&self) -> String {
        crate::keys::sequence_number(self.created_secs, self.index, 0, 0)
    }

    pub fn sequence_number(&self, r: &Record) -> String {
        crate::keys::sequence_number(self.created_secs, self.index, r.index, r.arrival_millis)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamMode {
    Provisioned,
    OnDemand,
}

impl StreamMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamMode::Provisioned => "PROVISIONED",
            StreamMode::OnDemand => "ON_DEMAND",
        }
    }
}

#[derive(Debug)]
pub struct Stream {
    pub name: String,
    pub arn: String,
    pub account: String,
    pub created_millis: u64,
    /// When it turns `ACTIVE`.
    pub active_at_millis: u64,
    pub mode: StreamMode,
    pub retention_hours: AtomicU32,
    pub shards: Vec<Shard>,
    pub tags: Mutex<BTreeMap<String, String>>,
}

impl Stream {
    pub fn new(
        region: &str,
        account: &str,
        name: &str,
        mode: StreamMode,
        shard_count: u32,
        now: u64,
        create_delay: u64,
    ) -> Self {
        let created_secs = now / 1000;
        let shards = crate::keys::ranges(shard_count)
            .into_iter()
            .zip(0u32..)
            .map(|((start_hash, end_hash), index)| Shard {
                index,
                id: crate::keys::shard_id(index),
                start_hash,
                end_hash,
                created_secs,
                log: Mutex::new(ShardLog {
                    records: VecDeque::new(),
                    next_index: 1,
                    window: (0, 0, 0),
                }),
            })
            .collect();
        Self {
            name: name.to_owned(),
            arn: format!("arn:aws:kinesis:{region}:{account}:stream/{name}"),
            account: account.to_owned(),
            created_millis: now,
            active_at_millis: now.saturating_add(create_delay),
            mode,
            retention_hours: AtomicU32::new(24),
            shards,
            tags: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn status(&self, now: u64) -> &'static str {
        if now < self.active_at_millis {
            "CREATING"
        } else {
            "ACTIVE"
        }
    }

    pub fn retention_millis(&self) -> u64 {
        u64::from(self.retention_hours.load(Ordering::Relaxed)) * 3_600_000
    }

    /// The shard owning `hash`.
    pub fn shard_for(&self, hash: u128) -> &Shard {
        let i = self.shards.partition_point(|s| s.end_hash < hash);
        &self.shards[i.min(self.shards.len() - 1)]
    }

    pub fn tags(&self) -> MutexGuard<'_, BTreeMap<String, String>> {
        self.tags.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `(region, account, stream name)`.
pub type Key = (String, String, String);

#[derive(Default)]
pub struct Store {
    streams: RwLock<HashMap<Key, Arc<Stream>>>,
    stored: AtomicUsize,
    dropped: AtomicU64,
    expired: AtomicU64,
    global: AtomicU64,
}

impl Store {
    pub fn counters(&self) -> (usize, u64, u64) {
        (
            self.stored.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
            self.expired.load(Ordering::Relaxed),
        )
    }

    pub fn get(&self, region: &str, account: &str, name: &str) -> Option<Arc<Stream>> {
        let streams = self.streams.read().unwrap_or_else(PoisonError::into_inner);
        streams
            .get(&(region.to_owned(), account.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Inserts `stream` unless one of its name exists.
    pub fn insert(&self, region: &str, stream: Stream) -> bool {
        let mut streams = self.streams.write().unwrap_or_else(PoisonError::into_inner);
        let key = (region.to_owned(), stream.account.clone(), stream.name.clone());
        if streams.contains_key(&key) {
            return false;
        }
        streams.insert(key, Arc::new(stream));
        true
    }

    pub fn remove(&self, region: &str, account: &str, name: &str) -> Option<Arc<Stream>> {
        let removed = {
            let mut streams = self.streams.write().unwrap_or_else(PoisonError::into_inner);
            streams.remove(&(region.to_owned(), account.to_owned(), name.to_owned()))
        }?;
        let gone: usize = removed.shards.iter().map(|s| s.log().records.len()).sum();
        self.stored.fetch_sub(gone, Ordering::Relaxed);
        Some(removed)
    }

    /// Stream names of a region and account, sorted.
    pub fn list(&self, region: &str, account: &str) -> Vec<Arc<Stream>> {
        let streams = self.streams.read().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<_> = streams
            .iter()
            .filter(|((r, a, _), _)| r == region && a == account)
            .map(|(_, s)| Arc::clone(s))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Drops the records of `log` older than the stream's retention.
    pub fn expire(&self, log: &mut ShardLog, retention_millis: u64, now: u64) {
        let mut n = 0;
        while log
            .records
            .front()
            .is_some_and(|r| r.arrival_millis.saturating_add(retention_millis) <= now)
        {
            log.records.pop_front();
            n += 1;
        }
        if n > 0 {
            self.stored.fetch_sub(n, Ordering::Relaxed);
            self.expired.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// Appends a record to `shard`; returns it (its index and arrival are the sequence number),
    /// or `None` when `limits` are on and the shard's write limits for this second (1,000
    /// records, 1 MiB of data and partition keys) would be exceeded.
    pub fn append(
        &self,
        stream: &Stream,
        shard: &Shard,
        partition_key: Arc<str>,
        data: Bytes,
        now: u64,
        limits: bool,
    ) -> Option<Record> {
        let record = {
            let mut log = shard.log();
            self.expire(&mut log, stream.retention_millis(), now);
            if limits && stream.mode == StreamMode::Provisioned {
                let second = now / 1000;
                if log.window.0 != second {
                    log.window = (second, 0, 0);
                }
                let size = data.len() + partition_key.len();
                if log.window.1 + 1 > SHARD_RECORDS_PER_SECOND || log.window.2 + size > SHARD_BYTES_PER_SECOND {
                    return None;
                }
                log.window.1 += 1;
                log.window.2 += size;
            }
            let global = self.global.fetch_add(1, Ordering::Relaxed);
            // Arrival times never go backwards within a shard (a clock set back keeps order).
            let arrival = log.records.back().map_or(now, |r| r.arrival_millis.max(now));
            let r = Record {
                index: log.next_index,
                arrival_millis: arrival,
                global,
                partition_key,
                data,
            };
            log.next_index += 1;
            log.records.push_back(r.clone());
            r
        };
        self.stored.fetch_add(1, Ordering::Relaxed);
        Some(record)
    }

    /// Drops the oldest records over all streams until at most `max` are stored.
    pub fn enforce_bound(&self, max: usize) {
        while self.stored.load(Ordering::Relaxed) > max {
            let streams: Vec<Arc<Stream>> = {
                let s = self.streams.read().unwrap_or_else(PoisonError::into_inner);
                s.values().cloned().collect()
            };
            let mut oldest: Option<(u64, &Shard)> = None;
            for stream in &streams {
                for shard in &stream.shards {
                    let front = shard.log().records.front().map(|r| r.global);
                    if let Some(g) = front {
                        if oldest.is_none_or(|(o, _)| g < o) {
                            oldest = Some((g, shard));
                        }
                    }
                }
            }
            let Some((_, shard)) = oldest else { return };
            if shard.log().records.pop_front().is_some() {
                self.stored.fetch_sub(1, Ordering::Relaxed);
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
