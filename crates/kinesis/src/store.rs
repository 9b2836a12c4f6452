//! Streams and their shards' records.
//!
//! **Locks**, always taken in this order and each held for a few lines (no await in this crate
//! is ever reached with one held):
//! 1. the stream table (`Store::streams`, an `RwLock`): read for every operation, written only by
//!    CreateStream/DeleteStream;
//! 2. a stream's shard table (`Stream::shards`, an `RwLock`): read by every put and read (a put
//!    holds it across its whole batch, so a reshard never closes a shard between the choice of
//!    the shard and the append), written only by a reshard, which closes parents and adds
//!    children in one critical section;
//! 3. one shard's records (`Shard::log`, a `Mutex`): an append, or a bounded copy of `Bytes`
//!    handles on read. A shard log lock is never taken while another shard's is held.
//!
//! **Waiting readers** (the [`lb_core::stream::StreamSource`] side) wait on the shard's
//! `Notify`, which every append, the shard's closing and the stream's deletion wake.
//!
//! **Bounds:** retention is applied lazily on each shard access (records older than the
//! stream's retention, by arrival, leave from the front). The process-wide record bound drops
//! the globally oldest record (by arrival order) first; finding it scans the shards' fronts,
//! so it costs one pass over the shards per dropped record.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use tokio::sync::Notify;

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
    /// When a reshard closed the shard (it takes no more records).
    pub closed_millis: Option<u64>,
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
    pub created_millis: u64,
    pub created_secs: u64,
    pub parent: Option<String>,
    pub adjacent_parent: Option<String>,
    log: Mutex<ShardLog>,
    /// Woken by every append, by the shard's closing and by the stream's deletion.
    pub notify: Notify,
}

impl Shard {
    pub fn new(
        index: u32,
        (start_hash, end_hash): (u128, u128),
        now: u64,
        parent: Option<String>,
        adjacent_parent: Option<String>,
    ) -> Self {
        Self {
            index,
            id: crate::keys::shard_id(index),
            start_hash,
            end_hash,
            created_millis: now,
            created_secs: now / 1000,
            parent,
            adjacent_parent,
            log: Mutex::new(ShardLog {
                records: VecDeque::new(),
                next_index: 1,
                closed_millis: None,
                window: (0, 0, 0),
            }),
            notify: Notify::new(),
        }
    }

    pub fn log(&self) -> MutexGuard<'_, ShardLog> {
        // Every critical section leaves the log consistent before anything can panic.
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn starting_sequence_number(&self) -> String {
        crate::keys::sequence_number(self.created_secs, self.index, 0, 0)
    }

    /// A closed shard's `EndingSequenceNumber`: above every record it holds (the last record's
    /// index, at the time it closed).
    pub fn ending_sequence_number(&self) -> Option<String> {
        let log = self.log();
        let closed = log.closed_millis?;
        Some(crate::keys::sequence_number(
            self.created_secs,
            self.index,
            log.next_index - 1,
            closed,
        ))
    }

    pub fn closed_millis(&self) -> Option<u64> {
        self.log().closed_millis
    }

    pub fn sequence_number(&self, r: &Record) -> String {
        crate::keys::sequence_number(self.created_secs, self.index, r.index, r.arrival_millis)
    }

    /// Closes the shard (no more appends) and wakes its readers.
    fn close(&self, now: u64) {
        self.log().closed_millis = Some(now);
        self.notify.notify_waiters();
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

/// A stream's shards: every shard ever created (indexed by its number) and the open ones
/// (sorted by hash key, together covering the whole key space).
#[derive(Debug, Default)]
pub struct ShardTable {
    pub all: Vec<Arc<Shard>>,
    pub open: Vec<Arc<Shard>>,
}

impl ShardTable {
    /// The open shard owning `hash`.
    pub fn shard_for(&self, hash: u128) -> &Arc<Shard> {
        let i = self.open.partition_point(|s| s.end_hash < hash);
        &self.open[i.min(self.open.len() - 1)]
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Shard>> {
        crate::keys::shard_index(id).and_then(|n| self.all.get(n as usize))
    }

    /// Adds a new open shard (an index is its position in `all`).
    fn add(&mut self, range: (u128, u128), now: u64, parent: Option<String>, adjacent: Option<String>) -> Arc<Shard> {
        let index = u32::try_from(self.all.len()).unwrap_or(u32::MAX);
        let shard = Arc::new(Shard::new(index, range, now, parent, adjacent));
        self.all.push(Arc::clone(&shard));
        let at = self.open.partition_point(|s| s.start_hash < range.0);
        self.open.insert(at, Arc::clone(&shard));
        shard
    }

    fn close(&mut self, index: u32, now: u64) {
        if let Some(shard) = self.all.get(index as usize) {
            shard.close(now);
        }
        self.open.retain(|s| s.index != index);
    }

    /// Splits open shard `index` at `new_start` (which must be inside its range, above its
    /// start): the parent closes, two children take `[start, new_start - 1]` and
    /// `[new_start, end]`. Returns the children.
    pub fn split(&mut self, index: u32, new_start: u128, now: u64) -> (Arc<Shard>, Arc<Shard>) {
        let parent = Arc::clone(&self.all[index as usize]);
        self.close(index, now);
        let low = self.add((parent.start_hash, new_start - 1), now, Some(parent.id.clone()), None);
        let high = self.add((new_start, parent.end_hash), now, Some(parent.id.clone()), None);
        (low, high)
    }

    /// Merges open shard `index` with the open shard `adjacent` next to it in the key space: both
    /// close, one child takes their union (`ParentShardId` is `index`,
    /// `AdjacentParentShardId` is `adjacent`).
    pub fn merge(&mut self, index: u32, adjacent: u32, now: u64) -> Arc<Shard> {
        let a = Arc::clone(&self.all[index as usize]);
        let b = Arc::clone(&self.all[adjacent as usize]);
        self.close(index, now);
        self.close(adjacent, now);
        let range = (a.start_hash.min(b.start_hash), a.end_hash.max(b.end_hash));
        self.add(range, now, Some(a.id.clone()), Some(b.id.clone()))
    }

    /// UNIFORM_SCALING to `ranges` (contiguous, covering the key space): splits each open shard
    /// at the new boundaries inside it, then merges the pieces of each new range, so every
    /// shard has at most two parents (short-lived shards appear in between, as on AWS).
    pub fn rescale(&mut self, ranges: &[(u128, u128)], now: u64) {
        let starts: Vec<u128> = ranges.iter().map(|r| r.0).skip(1).collect();
        // Split.
        let old: Vec<Arc<Shard>> = self.open.clone();
        for shard in old {
            let mut current = shard;
            for &b in &starts {
                if b > current.start_hash && b <= current.end_hash {
                    let (_, high) = self.split(current.index, b, now);
                    current = high;
                }
            }
        }
        // Merge the pieces of each target range, lowest first.
        for &(start, end) in ranges {
            loop {
                let pieces: Vec<Arc<Shard>> = self
                    .open
                    .iter()
                    .filter(|s| s.start_hash >= start && s.end_hash <= end)
                    .cloned()
                    .collect();
                if pieces.len() < 2 {
                    break;
                }
                self.merge(pieces[0].index, pieces[1].index, now);
            }
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
    /// Until when a reshard keeps it `UPDATING`.
    pub updating_until_millis: AtomicU64,
    pub mode: StreamMode,
    pub retention_hours: AtomicU32,
    pub shards: RwLock<ShardTable>,
    pub tags: Mutex<BTreeMap<String, String>>,
    /// Set when DeleteStream removed it (its waiting readers then return).
    pub deleted: AtomicBool,
    /// When each UpdateShardCount of the last 24 hours ran (AWS's ten scaling operations per
    /// rolling day).
    pub scalings: Mutex<VecDeque<u64>>,
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
        let mut table = ShardTable::default();
        for range in crate::keys::ranges(shard_count) {
            table.add(range, now, None, None);
        }
        Self {
            name: name.to_owned(),
            arn: format!("arn:aws:kinesis:{region}:{account}:stream/{name}"),
            account: account.to_owned(),
            created_millis: now,
            active_at_millis: now.saturating_add(create_delay),
            updating_until_millis: AtomicU64::new(0),
            mode,
            retention_hours: AtomicU32::new(24),
            shards: RwLock::new(table),
            tags: Mutex::new(BTreeMap::new()),
            deleted: AtomicBool::new(false),
            scalings: Mutex::new(VecDeque::new()),
        }
    }

    pub fn status(&self, now: u64) -> &'static str {
        if now < self.active_at_millis {
            "CREATING"
        } else if now < self.updating_until_millis.load(Ordering::Relaxed) {
            "UPDATING"
        } else {
            "ACTIVE"
        }
    }

    pub fn retention_millis(&self) -> u64 {
        u64::from(self.retention_hours.load(Ordering::Relaxed)) * 3_600_000
    }

    pub fn table(&self) -> RwLockReadGuard<'_, ShardTable> {
        self.shards.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn table_mut(&self) -> RwLockWriteGuard<'_, ShardTable> {
        self.shards.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// A shard by id, if it is still listed (open, or closed within the retention period).
    pub fn shard(&self, id: &str, now: u64) -> Option<Arc<Shard>> {
        let shard = self.table().get(id).cloned()?;
        self.listed(&shard, now).then_some(shard)
    }

    /// Whether a shard is still listed: open, or closed less than the retention period ago
    /// (AWS lists a closed shard until its records have expired).
    pub fn listed(&self, shard: &Shard, now: u64) -> bool {
        shard
            .closed_millis()
            .is_none_or(|c| c.saturating_add(self.retention_millis()) > now)
    }

    /// The listed shards, by shard id (parents before children).
    pub fn listed_shards(&self, now: u64) -> Vec<Arc<Shard>> {
        let all = self.table().all.clone();
        all.into_iter().filter(|s| self.listed(s, now)).collect()
    }

    /// The shards created by splitting or merging `parent`, with their parents.
    pub fn children(&self, parent: &str) -> Vec<Arc<Shard>> {
        self.table()
            .all
            .iter()
            .filter(|s| s.parent.as_deref() == Some(parent) || s.adjacent_parent.as_deref() == Some(parent))
            .cloned()
            .collect()
    }

    pub fn open_shard_count(&self) -> usize {
        self.table().open.len()
    }

    pub fn tags(&self) -> MutexGuard<'_, BTreeMap<String, String>> {
        self.tags.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What [`Store::read`] found.
#[derive(Debug)]
pub struct ShardRead {
    pub records: Vec<Record>,
    /// The index of the next record to read.
    pub next: u64,
    /// How far behind the shard's newest the reader is (0 when it has read everything).
    pub millis_behind: u64,
    /// The shard is closed and every record it holds has been read.
    pub end_of_shard: bool,
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
        removed.deleted.store(true, Ordering::SeqCst);
        let shards = removed.table().all.clone();
        let gone: usize = shards.iter().map(|s| s.log().records.len()).sum();
        self.stored.fetch_sub(gone, Ordering::Relaxed);
        for s in &shards {
            s.notify.notify_waiters();
        }
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

    /// Appends a record to `shard` (an open shard of `stream`, chosen under the stream's shard
    /// table lock, which the caller still holds); returns it (its index and arrival are the
    /// sequence number), or `None` when `limits` are on and the shard's write limits for this
    /// second (1,000 records, 1 MiB of data and partition keys) would be exceeded.
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
        shard.notify.notify_waiters();
        Some(record)
    }

    /// Up to `max` records (and at most `max_bytes` of data, but at least one record) of
    /// `shard` from record index `from` on; a position behind the trim horizon reads from the
    /// oldest record still stored. Handles to the records (no copy of their data) are taken
    /// under the shard's lock; the caller encodes them after it is released.
    pub fn read(&self, stream: &Stream, shard: &Shard, from: u64, max: usize, max_bytes: usize, now: u64) -> ShardRead {
        let mut log = shard.log();
        self.expire(&mut log, stream.retention_millis(), now);
        let from = from.max(log.first_index());
        let start = log.offset(from);
        let mut bytes = 0usize;
        let mut records = Vec::new();
        for r in log.records.iter().skip(start) {
            if records.len() >= max || (!records.is_empty() && bytes + r.data.len() > max_bytes) {
                break;
            }
            bytes += r.data.len();
            records.push(r.clone());
        }
        let next = records.last().map_or(from, |r| r.index + 1);
        let millis_behind = log
            .records
            .get(log.offset(next))
            .filter(|r| r.index >= next)
            .map_or(0, |r| now.saturating_sub(r.arrival_millis));
        let end_of_shard = log.closed_millis.is_some() && next >= log.next_index;
        ShardRead {
            records,
            next,
            millis_behind,
            end_of_shard,
        }
    }

    /// Drops the oldest records over all streams until at most `max` are stored.
    pub fn enforce_bound(&self, max: usize) {
        while self.stored.load(Ordering::Relaxed) > max {
            let streams: Vec<Arc<Stream>> = {
                let s = self.streams.read().unwrap_or_else(PoisonError::into_inner);
                s.values().cloned().collect()
            };
            let mut oldest: Option<(u64, Arc<Shard>)> = None;
            for stream in &streams {
                for shard in &stream.table().all {
                    let front = shard.log().records.front().map(|r| r.global);
                    if let Some(g) = front {
                        if oldest.as_ref().is_none_or(|(o, _)| g < *o) {
                            oldest = Some((g, Arc::clone(shard)));
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
