//! One queue: its configuration and its messages.
//!
//! The message store keeps every operation cheap on big queues:
//! - `msgs`, a map ordered by (sent time, id), so retention expiry pops from the front;
//! - `visible` (standard queues), the messages ready to receive ordered by send time, so a
//!   receive pops the oldest instead of scanning, and a message whose visibility timeout expired
//!   is received again before newer ones;
//! - `timers`, a min-heap of the moments delayed and in-flight messages become visible, so the
//!   store and a long-polling waiter know the next wake-up without scanning;
//! - FIFO queues replace `visible` with message groups and `ready`, the receivable groups in the
//!   order they became receivable (a group is held only by its in-flight messages: its visible
//!   messages before the first in-flight one are still delivered).
//!
//! Heap entries are hints, validated against the message when used (a deleted or re-scheduled
//! message leaves a stale entry behind); `compact` drops stale entries once they outnumber live
//! ones, so memory stays proportional to the queue.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use tokio::sync::futures::Notified;
use tokio::sync::Notify;

use crate::attributes::QueueConfig;
use crate::model::MessageAttributes;

/// A message id: a version-4 UUID's text, kept inline (no allocation per message).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageId([u8; 36]);

impl MessageId {
    pub fn random() -> Self {
        Self(lb_core::ids::uuid_text())
    }

    pub fn as_str(&self) -> &str {
        // Always ASCII: made from a UUID's text.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Debug for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The immutable part of a message, shared between the store and the responses that return it.
/// Kept small: most messages have no attributes and no FIFO ids, so those live out of line.
#[derive(Debug)]
pub struct MessageData {
    pub message_id: MessageId,
    /// Shared with the producer that delivered it (an event's text is kept once).
    pub body: Arc<str>,
    /// Computed when first asked for: SendMessage's answer needs it at once, a delivered
    /// message only when it is received (many never are: purged, expired).
    pub md5_of_body: std::sync::OnceLock<[u8; 16]>,
    /// Shared between the messages of one sender (see `Sqs::sender`).
    pub sender_id: Arc<str>,
    pub extra: Option<Box<MessageExtra>>,
}

/// The parts of a message most messages do not have.
#[derive(Debug, Default)]
pub struct MessageExtra {
    pub attributes: MessageAttributes,
    pub md5_of_attributes: Option<String>,
    pub system_attributes: MessageAttributes,
    pub md5_of_system_attributes: Option<String>,
    pub group_id: Option<String>,
    /// FIFO queues: the explicit or content-based (SHA-256) deduplication id.
    pub deduplication_id: Option<String>,
}

static NO_ATTRIBUTES: MessageAttributes = MessageAttributes::new();

impl MessageData {
    pub fn attributes(&self) -> &MessageAttributes {
        self.extra.as_ref().map_or(&NO_ATTRIBUTES, |e| &e.attributes)
    }

    pub fn system_attributes(&self) -> &MessageAttributes {
        self.extra.as_ref().map_or(&NO_ATTRIBUTES, |e| &e.system_attributes)
    }

    pub fn md5_of_attributes(&self) -> Option<&str> {
        self.extra.as_ref()?.md5_of_attributes.as_deref()
    }

    pub fn md5_of_system_attributes(&self) -> Option<&str> {
        self.extra.as_ref()?.md5_of_system_attributes.as_deref()
    }

    pub fn group_id(&self) -> Option<&str> {
        self.extra.as_ref()?.group_id.as_deref()
    }

    pub fn deduplication_id(&self) -> Option<&str> {
        self.extra.as_ref()?.deduplication_id.as_deref()
    }

    pub fn md5_of_body(&self) -> &[u8; 16] {
        self.md5_of_body
            .get_or_init(|| crate::digest::md5(self.body.as_bytes()))
    }

    pub fn md5_of_body_hex(&self) -> String {
        crate::digest::to_hex(self.md5_of_body())
    }
}

/// Orders messages by the time they were sent, then by a process-wide id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MsgKey {
    pub sent: u64,
    pub id: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    Delayed,
    Visible,
    InFlight,
}

/// A stored message: the shared data and its mutable receive state.
#[derive(Debug)]
pub struct Slot {
    pub data: Arc<MessageData>,
    pub state: SlotState,
    /// When a delayed or in-flight message becomes visible (epoch ms).
    pub until: u64,
    /// Bumped on every reschedule; a timer entry is valid only for the generation it was made for.
    pub gen: u32,
    pub receive_count: u32,
    /// When the message was first received (epoch ms; 0 until then).
    pub first_receive_ms: u64,
    /// When the current receive happened (the 12-hour visibility limit counts from it).
    pub received_ms: u64,
    /// Entropy of the current receipt handle.
    pub nonce: u64,
    /// FIFO: the sequence number above [`SEQUENCE_BASE`] (8 bytes here instead of an
    /// `Option<u128>`'s 32, on every stored message).
    sequence: Option<NonZeroU64>,
    /// Set when the message was moved here from a source queue's redrive.
    pub dead_letter_source: Option<Arc<str>>,
}

impl Slot {
    pub fn new(data: Arc<MessageData>, until: u64, sequence_number: Option<u128>) -> Self {
        let sequence = sequence_number
            .and_then(|n| u64::try_from(n.saturating_sub(SEQUENCE_BASE)).ok())
            .and_then(NonZeroU64::new);
        Self {
            data,
            state: SlotState::Delayed,
            until,
            gen: 0,
            receive_count: 0,
            first_receive_ms: 0,
            received_ms: 0,
            nonce: 0,
            sequence,
            dead_letter_source: None,
        }
    }
}

/// FIFO sequence numbers are 20-digit decimals above 10^19 (past `u64`, as AWS's are).
pub const SEQUENCE_BASE: u128 = 10_000_000_000_000_000_000;

impl Slot {
    /// The FIFO sequence number, if any.
    pub fn sequence_number(&self) -> Option<u128> {
        self.sequence.map(|n| SEQUENCE_BASE + u128::from(n.get()))
    }
}

/// What a receive asks for.
#[derive(Debug, Clone, Copy)]
pub struct ReceiveParams {
    pub now: u64,
    pub max: usize,
    pub visibility_ms: u64,
    /// The source queue's `maxReceiveCount`, when it has a dead-letter queue.
    pub max_receive_count: Option<u32>,
}

/// What a receive got: messages to return, and messages due for the dead-letter queue.
#[derive(Debug, Default)]
pub struct Received {
    pub taken: Vec<Taken>,
    pub dead: Vec<(MsgKey, Slot)>,
}

/// A message as a receive hands it out (copied out of the store, so no lock is needed to render it).
#[derive(Debug, Clone)]
pub struct Taken {
    pub data: Arc<MessageData>,
    pub key: MsgKey,
    pub receive_count: u32,
    pub first_receive_ms: u64,
    pub sequence_number: Option<u128>,
    pub dead_letter_source: Option<Arc<str>>,
    pub nonce: u64,
}

#[derive(Debug, Default)]
struct Group {
    /// Undeleted messages in send order, in-flight ones included.
    keys: VecDeque<MsgKey>,
    /// The group's place in `ready`, while it is there.
    ready_seq: Option<u64>,
}

fn group_of(data: &MessageData) -> &str {
    data.group_id().unwrap_or_default()
}

fn dec(n: &mut usize) {
    *n = n.saturating_sub(1);
}

#[derive(Debug)]
pub struct Store {
    fifo: bool,
    msgs: BTreeMap<MsgKey, Slot>,
    /// Standard queues: the visible messages, oldest first (a message whose visibility timeout
    /// expired goes back among them by its send time, so it is received before newer ones).
    visible: BTreeSet<MsgKey>,
    timers: BinaryHeap<Reverse<(u64, MsgKey, u32)>>,
    groups: HashMap<Arc<str>, Group>,
    /// FIFO queues: the receivable groups in the order they became receivable.
    ready: BTreeMap<u64, Arc<str>>,
    next_ready_seq: u64,
    visible_count: usize,
    in_flight_count: usize,
    delayed_count: usize,
}

impl Store {
    pub fn new(fifo: bool) -> Self {
        Self {
            fifo,
            msgs: BTreeMap::new(),
            visible: BTreeSet::new(),
            timers: BinaryHeap::new(),
            groups: HashMap::new(),
            ready: BTreeMap::new(),
            next_ready_seq: 0,
            visible_count: 0,
            in_flight_count: 0,
            delayed_count: 0,
        }
    }

    /// (visible, in flight, delayed)
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.visible_count, self.in_flight_count, self.delayed_count)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    pub fn get(&self, key: &MsgKey) -> Option<&Slot> {
        self.msgs.get(key)
    }

    /// When the next delayed or in-flight message becomes visible (may be a stale entry's time,
    /// which only costs a spurious wake-up).
    pub fn next_timer(&self) -> Option<u64> {
        self.timers.peek().map(|Reverse((at, _, _))| *at)
    }

    fn uncount(&mut self, state: SlotState) {
        match state {
            SlotState::Delayed => dec(&mut self.delayed_count),
            SlotState::Visible => dec(&mut self.visible_count),
            SlotState::InFlight => dec(&mut self.in_flight_count),
        }
    }

    /// Stores a message; it is delayed if `slot.until` is in the future, visible otherwise.
    pub fn insert(&mut self, key: MsgKey, mut slot: Slot, now: u64) {
        slot.gen = slot.gen.wrapping_add(1);
        if slot.until > now {
            slot.state = SlotState::Delayed;
            self.delayed_count += 1;
            self.timers.push(Reverse((slot.until, key, slot.gen)));
        } else {
            slot.state = SlotState::Visible;
            self.visible_count += 1;
            if !self.fifo {
                self.visible.insert(key);
            }
        }
        let group = self.fifo.then(|| Arc::clone(&slot.data));
        self.msgs.insert(key, slot);
        if let Some(data) = group {
            let gid = group_of(&data);
            let name = match self.groups.get_key_value(gid) {
                Some((name, _)) => Arc::clone(name),
                None => Arc::from(gid),
            };
            let g = self.groups.entry(Arc::clone(&name)).or_default();
            // Keys arrive in send order, except messages put back (redrive, a failed move).
            match g.keys.back() {
                Some(last) if *last > key => {
                    let at = g.keys.partition_point(|k| *k < key);
                    g.keys.insert(at, key);
                }
                _ => g.keys.push_back(key),
            }
            self.refresh_group(&name);
        }
    }

    /// A FIFO group is receivable while its first message is visible: a group is held only by
    /// its in-flight messages, and only from the first of them on (the visible messages before
    /// one are still delivered). A group that becomes receivable joins the back of `ready`.
    fn refresh_group(&mut self, name: &Arc<str>) {
        let Some(group) = self.groups.get(name.as_ref()) else {
            return;
        };
        let receivable = group
            .keys
            .front()
            .is_some_and(|k| self.msgs.get(k).is_some_and(|s| s.state == SlotState::Visible));
        match (receivable, group.ready_seq) {
            (true, None) => {
                let seq = self.next_ready_seq;
                self.next_ready_seq += 1;
                self.ready.insert(seq, Arc::clone(name));
                if let Some(g) = self.groups.get_mut(name.as_ref()) {
                    g.ready_seq = Some(seq);
                }
            }
            (false, Some(seq)) => {
                self.ready.remove(&seq);
                if let Some(g) = self.groups.get_mut(name.as_ref()) {
                    g.ready_seq = None;
                }
            }
            _ => {}
        }
    }

    fn group_name(&self, gid: &str) -> Option<Arc<str>> {
        self.groups.get_key_value(gid).map(|(k, _)| Arc::clone(k))
    }

    /// Makes every delayed or in-flight message whose time has come visible.
    pub fn promote(&mut self, now: u64) {
        while let Some(&Reverse((at, key, gen))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(slot) = self.msgs.get_mut(&key) else {
                continue;
            };
            if slot.gen != gen || slot.state == SlotState::Visible {
                continue;
            }
            let was = slot.state;
            slot.state = SlotState::Visible;
            let data = Arc::clone(&slot.data);
            self.uncount(was);
            self.visible_count += 1;
            if self.fifo {
                if let Some(name) = self.group_name(group_of(&data)) {
                    self.refresh_group(&name);
                }
            } else {
                self.visible.insert(key);
            }
        }
    }

    /// Deletes every message older than the retention period, whatever its state. Returns how many.
    pub fn expire(&mut self, now: u64, retention_ms: u64) -> usize {
        let mut n = 0;
        while let Some((&key, _)) = self.msgs.first_key_value() {
            if key.sent.saturating_add(retention_ms) > now {
                break;
            }
            self.remove(key);
            n += 1;
        }
        n
    }

    /// Removes a message (delete, expiry, redrive). Its heap entry goes stale.
    pub fn remove(&mut self, key: MsgKey) -> Option<Slot> {
        let slot = self.msgs.remove(&key)?;
        self.uncount(slot.state);
        if self.fifo {
            let gid = group_of(&slot.data);
            if let Some(g) = self.groups.get_mut(gid) {
                if let Some(pos) = g.keys.iter().position(|k| *k == key) {
                    g.keys.remove(pos);
                }
                if g.keys.is_empty() {
                    if let Some(seq) = g.ready_seq.take() {
                        self.ready.remove(&seq);
                    }
                    self.groups.remove(gid);
                } else if let Some(name) = self.group_name(gid) {
                    self.refresh_group(&name);
                }
            }
        } else if slot.state == SlotState::Visible {
            self.visible.remove(&key);
        }
        Some(slot)
    }

    /// Marks a visible message in flight and hands it out.
    fn take(&mut self, key: MsgKey, now: u64, visibility_ms: u64, nonce: u64) -> Option<Taken> {
        let slot = self.msgs.get_mut(&key)?;
        if slot.state != SlotState::Visible {
            return None;
        }
        slot.state = SlotState::InFlight;
        slot.until = now.saturating_add(visibility_ms);
        slot.gen = slot.gen.wrapping_add(1);
        slot.receive_count = slot.receive_count.saturating_add(1);
        if slot.first_receive_ms == 0 {
            slot.first_receive_ms = now;
        }
        let first = slot.first_receive_ms;
        slot.received_ms = now;
        slot.nonce = nonce;
        let taken = Taken {
            data: Arc::clone(&slot.data),
            key,
            receive_count: slot.receive_count,
            first_receive_ms: first,
            sequence_number: slot.sequence_number(),
            dead_letter_source: slot.dead_letter_source.clone(),
            nonce,
        };
        self.timers.push(Reverse((slot.until, key, slot.gen)));
        if !self.fifo {
            self.visible.remove(&key);
        }
        dec(&mut self.visible_count);
        self.in_flight_count += 1;
        Some(taken)
    }

    /// Receives up to `p.max` messages. With `p.max_receive_count`, a message already received
    /// that many times is not returned but handed back in `dead` (for the dead-letter queue).
    pub fn receive(&mut self, p: &ReceiveParams, nonce: &mut dyn FnMut() -> u64) -> Received {
        let mut out = Received::default();
        if self.fifo {
            self.receive_fifo(p, nonce, &mut out);
        } else {
            self.receive_standard(p, nonce, &mut out);
        }
        self.compact();
        out
    }

    fn receive_standard(&mut self, p: &ReceiveParams, nonce: &mut dyn FnMut() -> u64, out: &mut Received) {
        while out.taken.len() < p.max {
            let Some(&key) = self.visible.first() else {
                break;
            };
            let count = self.msgs.get(&key).map_or(0, |s| s.receive_count);
            if p.max_receive_count.is_some_and(|m| count >= m) {
                if let Some(slot) = self.remove(key) {
                    out.dead.push((key, slot));
                }
                continue;
            }
            match self.take(key, p.now, p.visibility_ms, nonce()) {
                Some(t) => out.taken.push(t),
                None => {
                    // Not visible after all (cannot happen while the set is kept exact).
                    self.visible.remove(&key);
                }
            }
        }
    }

    fn receive_fifo(&mut self, p: &ReceiveParams, nonce: &mut dyn FnMut() -> u64, out: &mut Received) {
        while out.taken.len() < p.max {
            let Some((_, name)) = self.ready.pop_first() else {
                break;
            };
            match self.groups.get_mut(name.as_ref()) {
                Some(g) => g.ready_seq = None,
                None => continue,
            }
            // As many messages of this group as possible, in order, up to its first message that
            // is not visible; then the next group.
            let mut i = 0;
            while out.taken.len() < p.max {
                let Some(key) = self.groups.get(name.as_ref()).and_then(|g| g.keys.get(i).copied()) else {
                    break;
                };
                let Some(slot) = self.msgs.get(&key) else {
                    i += 1;
                    continue;
                };
                if slot.state != SlotState::Visible {
                    break;
                }
                if p.max_receive_count.is_some_and(|m| slot.receive_count >= m) {
                    // The next message of the group moves up to index `i`.
                    if let Some(slot) = self.remove(key) {
                        out.dead.push((key, slot));
                    }
                    continue;
                }
                if let Some(t) = self.take(key, p.now, p.visibility_ms, nonce()) {
                    out.taken.push(t);
                }
                i += 1;
            }
            self.refresh_group(&name);
        }
    }

    /// Hands out again a message still in flight from the receive that issued `receive_count`
    /// (FIFO `ReceiveRequestAttemptId` retries), restarting its visibility timeout.
    pub fn retake(&mut self, key: MsgKey, receive_count: u32, now: u64, visibility_ms: u64) -> Option<Taken> {
        let slot = self.msgs.get_mut(&key)?;
        if slot.state != SlotState::InFlight || slot.receive_count != receive_count {
            return None;
        }
        slot.until = now.saturating_add(visibility_ms);
        slot.gen = slot.gen.wrapping_add(1);
        slot.received_ms = now;
        self.timers.push(Reverse((slot.until, key, slot.gen)));
        Some(Taken {
            data: Arc::clone(&slot.data),
            key,
            receive_count: slot.receive_count,
            first_receive_ms: if slot.first_receive_ms == 0 {
                now
            } else {
                slot.first_receive_ms
            },
            sequence_number: slot.sequence_number(),
            dead_letter_source: slot.dead_letter_source.clone(),
            nonce: slot.nonce,
        })
    }

    /// Sets when a message becomes visible again: `timeout_ms` from `now` (0: at once). A visible
    /// message of a standard queue becomes invisible. Returns false for a message that cannot
    /// change (delayed, or visible in a FIFO queue, where that would bypass group order).
    pub fn change_visibility(&mut self, key: MsgKey, now: u64, timeout_ms: u64) -> bool {
        let fifo = self.fifo;
        let Some(slot) = self.msgs.get_mut(&key) else {
            return false;
        };
        match slot.state {
            SlotState::Delayed => return false,
            SlotState::Visible if fifo => return false,
            SlotState::Visible => {
                slot.state = SlotState::InFlight;
                slot.received_ms = now;
                dec(&mut self.visible_count);
                self.in_flight_count += 1;
                self.visible.remove(&key);
            }
            SlotState::InFlight => {}
        }
        let Some(slot) = self.msgs.get_mut(&key) else {
            return false;
        };
        slot.until = now.saturating_add(timeout_ms);
        slot.gen = slot.gen.wrapping_add(1);
        self.timers.push(Reverse((slot.until, key, slot.gen)));
        if timeout_ms == 0 {
            self.promote(now);
        }
        true
    }

    /// Removes up to `n` visible messages, oldest first (message move tasks).
    pub fn take_visible(&mut self, n: usize) -> Vec<(MsgKey, Slot)> {
        let keys: Vec<MsgKey> = if self.fifo {
            self.msgs
                .iter()
                .filter(|(_, s)| s.state == SlotState::Visible)
                .take(n)
                .map(|(k, _)| *k)
                .collect()
        } else {
            self.visible.iter().take(n).copied().collect()
        };
        keys.into_iter()
            .filter_map(|k| self.remove(k).map(|s| (k, s)))
            .collect()
    }

    /// Deletes every message.
    pub fn purge(&mut self) {
        *self = Self::new(self.fifo);
    }

    /// Drops stale heap entries once they outnumber the live ones.
    pub fn compact(&mut self) {
        if self.timers.len() > 2 * (self.in_flight_count + self.delayed_count) + 64 {
            let msgs = &self.msgs;
            self.timers.retain(|Reverse((_, k, g))| {
                msgs.get(k)
                    .is_some_and(|s| s.gen == *g && s.state != SlotState::Visible)
            });
        }
    }

    #[cfg(test)]
    pub fn internal_sizes(&self) -> (usize, usize) {
        (self.visible.len(), self.timers.len())
    }
}

/// FIFO deduplication: ids seen in the last five minutes, with the message group they were sent
/// in and the message they produced. Entries are kept by id and group whatever the queue's
/// `DeduplicationScope`, so changing the scope later forgets nothing: with `queue` scope an id
/// matches in any group, with `messageGroup` scope only in its own.
#[derive(Debug, Default)]
pub struct Dedup {
    /// Deduplication id -> (group, hit), oldest first.
    map: HashMap<String, Vec<(Box<str>, DedupHit)>>,
    order: VecDeque<(u64, String)>,
}

#[derive(Debug, Clone)]
pub struct DedupHit {
    pub message_id: MessageId,
    pub sequence_number: Option<u128>,
}

/// The deduplication interval.
pub const DEDUP_WINDOW_MS: u64 = 5 * 60 * 1000;

impl Dedup {
    pub fn sweep(&mut self, now: u64) {
        while let Some((expires, _)) = self.order.front() {
            if *expires > now {
                break;
            }
            let Some((_, id)) = self.order.pop_front() else {
                break;
            };
            if let Some(entries) = self.map.get_mut(&id) {
                if !entries.is_empty() {
                    entries.remove(0);
                }
                if entries.is_empty() {
                    self.map.remove(&id);
                }
            }
        }
    }

    /// The message an id produced within the window: in any group (`group` None, queue scope) or
    /// in `group` (message-group scope).
    pub fn get(&self, id: &str, group: Option<&str>) -> Option<&DedupHit> {
        let entries = self.map.get(id)?;
        entries
            .iter()
            .rev()
            .find(|(g, _)| group.is_none_or(|want| &**g == want))
            .map(|(_, hit)| hit)
    }

    pub fn insert(&mut self, id: &str, group: &str, hit: DedupHit, now: u64) {
        self.order
            .push_back((now.saturating_add(DEDUP_WINDOW_MS), id.to_owned()));
        self.map.entry(id.to_owned()).or_default().push((Box::from(group), hit));
    }
}

/// FIFO `ReceiveRequestAttemptId`s of the last five minutes and what they received.
#[derive(Debug, Default)]
pub struct Attempts {
    map: HashMap<String, Vec<(MsgKey, u32)>>,
    order: VecDeque<(u64, String)>,
}

impl Attempts {
    pub fn sweep(&mut self, now: u64) {
        while let Some((expires, _)) = self.order.front() {
            if *expires > now {
                break;
            }
            if let Some((_, id)) = self.order.pop_front() {
                self.map.remove(&id);
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<&Vec<(MsgKey, u32)>> {
        self.map.get(id)
    }

    pub fn insert(&mut self, id: &str, taken: Vec<(MsgKey, u32)>, now: u64) {
        if self.map.insert(id.to_owned(), taken).is_none() {
            self.order
                .push_back((now.saturating_add(DEDUP_WINDOW_MS), id.to_owned()));
        }
    }
}

/// Everything about a queue that changes, behind one short-held lock.
#[derive(Debug)]
pub struct QueueState {
    pub config: QueueConfig,
    pub last_modified_ms: u64,
    pub tags: BTreeMap<String, String>,
    pub last_purge_ms: Option<u64>,
    /// The resolved dead-letter queue of `config.redrive_policy` (re-resolved when it is gone).
    pub dlq_target: Weak<Queue>,
    pub store: Store,
    pub dedup: Dedup,
    pub attempts: Attempts,
}

/// A queue. Identity fields are immutable; the rest is in `state`.
#[derive(Debug)]
pub struct Queue {
    /// Unique per queue incarnation: receipt handles of a deleted queue do not work on its successor.
    pub uid: u64,
    pub region: String,
    pub account: String,
    pub name: String,
    pub arn: Arc<str>,
    pub fifo: bool,
    pub created_ms: u64,
    /// A copy of `ReceiveMessageWaitTimeSeconds`, readable without the lock.
    pub default_wait: AtomicU32,
    // A std Mutex: every critical section is a few map operations and never awaits.
    state: Mutex<QueueState>,
    notify: Notify,
    waiters: AtomicUsize,
    deleted: AtomicBool,
}

impl Queue {
    pub fn new(uid: u64, region: &str, account: &str, name: &str, config: QueueConfig, now: u64) -> Self {
        let fifo = config.fifo;
        let arn = format!("arn:aws:sqs:{region}:{account}:{name}");
        Self {
            uid,
            region: region.to_owned(),
            account: account.to_owned(),
            name: name.to_owned(),
            arn: Arc::from(arn),
            fifo,
            created_ms: now,
            default_wait: AtomicU32::new(config.receive_message_wait_time_seconds),
            state: Mutex::new(QueueState {
                config,
                last_modified_ms: now,
                tags: BTreeMap::new(),
                last_purge_ms: None,
                dlq_target: Weak::new(),
                store: Store::new(fifo),
                dedup: Dedup::default(),
                attempts: Attempts::default(),
            }),
            notify: Notify::new(),
            waiters: AtomicUsize::new(0),
            deleted: AtomicBool::new(false),
        }
    }

    /// The queue's state. A panic while it was held (a bug) does not take the queue down with it.
    pub fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }

    pub fn mark_deleted(&self) {
        self.deleted.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    /// Wakes long-polling receivers because `n` messages arrived or became receivable: one waiter
    /// per message (not all of them for each, which would stampede with many waiters). Free when
    /// nobody waits.
    pub fn wake(&self, n: usize) {
        let waiting = self.waiters.load(Ordering::SeqCst);
        if waiting == 0 || n == 0 {
            return;
        }
        if n >= waiting {
            self.notify.notify_waiters();
        } else {
            for _ in 0..n {
                self.notify.notify_one();
            }
        }
    }

    /// A future that completes at the next `wake`. Enable it before looking at the queue, so a
    /// message sent between the look and the wait still wakes the waiter.
    pub fn notified(&self) -> Notified<'_> {
        self.notify.notified()
    }

    /// How many long-polling receivers wait on this queue.
    pub fn waiting(&self) -> usize {
        self.waiters.load(Ordering::SeqCst)
    }

    /// Registers a long-polling receiver for as long as the guard lives.
    pub fn waiter(&self) -> WaiterGuard<'_> {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        WaiterGuard(self)
    }
}

pub struct WaiterGuard<'a>(&'a Queue);

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.0.waiters.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(body: &str, group: Option<&str>) -> Arc<MessageData> {
        Arc::new(MessageData {
            message_id: MessageId::random(),
            body: Arc::from(body),
            md5_of_body: std::sync::OnceLock::new(),
            sender_id: Arc::from(""),
            extra: group.map(|g| {
                Box::new(MessageExtra {
                    group_id: Some(g.to_owned()),
                    ..MessageExtra::default()
                })
            }),
        })
    }

    fn receive(s: &mut Store, now: u64, max: usize, vis: u64, mrc: Option<u32>) -> (Vec<Taken>, Vec<(MsgKey, Slot)>) {
        let mut n = 0;
        s.promote(now);
        let p = ReceiveParams {
            now,
            max,
            visibility_ms: vis,
            max_receive_count: mrc,
        };
        let got = s.receive(&p, &mut || {
            n += 1;
            n
        });
        (got.taken, got.dead)
    }

    fn bodies(t: &[Taken]) -> Vec<&str> {
        t.iter().map(|t| &*t.data.body).collect()
    }

    #[test]
    fn standard_visibility_delay_and_counts() {
        let mut s = Store::new(false);
        for (i, b) in ["a", "b", "c"].iter().enumerate() {
            s.insert(MsgKey { sent: 0, id: i as u64 }, Slot::new(data(b, None), 0, None), 0);
        }
        s.insert(MsgKey { sent: 0, id: 9 }, Slot::new(data("late", None), 5_000, None), 0);
        assert_eq!(s.counts(), (3, 0, 1));
        let (got, _) = receive(&mut s, 0, 2, 1_000, None);
        assert_eq!(bodies(&got), ["a", "b"]);
        assert_eq!(s.counts(), (1, 2, 1));
        assert_eq!(s.next_timer(), Some(1_000));
        let (got, _) = receive(&mut s, 999, 10, 1_000, None);
        assert_eq!(bodies(&got), ["c"]);
        let (got, _) = receive(&mut s, 1_000, 10, 1_000, None);
        assert_eq!(bodies(&got), ["a", "b"], "visible again after the timeout");
        assert_eq!(got[0].receive_count, 2);
        // By 5 s everything not deleted is visible again: a message whose visibility timeout
        // ended is received before newer ones (oldest sent first), as AWS redelivers.
        let (got, _) = receive(&mut s, 5_000, 10, 1_000, None);
        assert_eq!(bodies(&got), ["a", "b", "c", "late"]);
        assert!(s.remove(got[0].key).is_some());
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn redrive_moves_after_max_receive_count() {
        let mut s = Store::new(false);
        s.insert(MsgKey { sent: 0, id: 1 }, Slot::new(data("m", None), 0, None), 0);
        for now in [0, 10, 20] {
            let (got, dead) = receive(&mut s, now, 1, 10, Some(3));
            assert_eq!(got.len(), 1);
            assert!(dead.is_empty());
        }
        let (got, dead) = receive(&mut s, 30, 1, 10, Some(3));
        assert!(got.is_empty());
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].1.receive_count, 3);
        assert_eq!(s.len(), 0);
        assert_eq!(s.counts(), (0, 0, 0));
    }

    #[test]
    fn fifo_groups_lock_while_in_flight() {
        let mut s = Store::new(true);
        let mut id = 0;
        let mut put = |s: &mut Store, body: &str, g: &str| {
            id += 1;
            s.insert(MsgKey { sent: 0, id }, Slot::new(data(body, Some(g)), 0, None), 0);
        };
        put(&mut s, "a1", "a");
        put(&mut s, "b1", "b");
        put(&mut s, "a2", "a");
        put(&mut s, "a3", "a");
        let (got, _) = receive(&mut s, 0, 2, 1_000, None);
        assert_eq!(bodies(&got), ["a1", "a2"], "as many of one group as possible, in order");
        let (got2, _) = receive(&mut s, 0, 10, 1_000, None);
        assert_eq!(bodies(&got2), ["b1"], "group a is locked while a1/a2 are in flight");
        s.remove(got[0].key);
        let (none, _) = receive(&mut s, 0, 10, 1_000, None);
        assert!(none.is_empty(), "a2 still in flight keeps the group locked");
        s.remove(got[1].key);
        let (got3, _) = receive(&mut s, 0, 10, 1_000, None);
        assert_eq!(bodies(&got3), ["a3"]);
        // b1 and a3 were never deleted: both come back, groups ordered by their oldest message.
        let (again, _) = receive(&mut s, 1_000, 10, 1_000, None);
        assert_eq!(bodies(&again), ["b1", "a3"]);
    }

    #[test]
    fn fifo_change_visibility_zero_unlocks_the_group() {
        let mut s = Store::new(true);
        s.insert(MsgKey { sent: 0, id: 1 }, Slot::new(data("x", Some("g")), 0, None), 0);
        s.insert(MsgKey { sent: 0, id: 2 }, Slot::new(data("y", Some("g")), 0, None), 0);
        let (got, _) = receive(&mut s, 0, 1, 60_000, None);
        assert_eq!(bodies(&got), ["x"]);
        assert!(s.change_visibility(got[0].key, 5, 0));
        let (got, _) = receive(&mut s, 5, 10, 60_000, None);
        assert_eq!(bodies(&got), ["x", "y"]);
    }

    #[test]
    fn expiry_and_compaction_keep_memory_bounded() {
        let mut s = Store::new(false);
        for i in 0..1000 {
            s.insert(MsgKey { sent: i, id: i }, Slot::new(data("m", None), 0, None), i);
        }
        for _ in 0..10 {
            let (got, _) = receive(&mut s, 2_000, 10, 30_000, None);
            for t in got {
                s.remove(t.key);
            }
        }
        s.compact();
        let (_, timers) = s.internal_sizes();
        assert!(timers <= 64 + 2 * s.counts().1, "stale timers dropped: {timers}");
        // Messages 0..100 were deleted; 100..=500 are older than 1 s at t = 1.5 s.
        assert_eq!(s.expire(1_500, 1_000), 401);
        assert_eq!(s.len(), 499);
        let (visible, _) = s.internal_sizes();
        assert!(visible <= 2 * s.counts().0 + 64);
    }

    /// What every stored message costs beside its payload and the shared data: kept small on
    /// purpose (see the memory figures in the report of issue 6).
    #[test]
    fn a_slot_stays_small() {
        assert!(std::mem::size_of::<Slot>() <= 80, "{}", std::mem::size_of::<Slot>());
        assert!(std::mem::size_of::<MessageData>() <= 96);
    }
}
