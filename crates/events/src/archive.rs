//! Archives and replays: what the operations keep, and the archived events themselves.
//!
//! An archive records, at routing time, the events of its bus that match its managed rule
//! (`Events-Archive-<name>`: the archive's pattern plus `"replay-name": [{"exists": false}]`, so
//! replayed events are never archived again, as on AWS). The rule is an ordinary rule of the bus
//! with no targets; routing recognises it by its ARN ([`ArchiveStore::archive_of_rule`]) and
//! hands the event to [`ArchiveStore::record`] instead of the delivery engine.
//!
//! **Bounded.** All archives of the server share one bound in events and one in bytes
//! (`serve --events-archive-max-events`, `--events-archive-max-bytes`): past either, the oldest
//! archived events leave first, whatever their archive, counted per archive (DescribeArchive's
//! `StateReason` says so) and in total (`localbridge_events_archive_dropped_total`), and logged.
//! Retention (`RetentionDays`, 0 = forever) is applied on the platform clock whenever an
//! archive is read or written.
//!
//! [`with_replay_name`] adds the `replay-name` field a replayed event carries.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use dashmap::DashMap;

/// The name of an archive's managed rule is this prefix and the archive's name (AWS:
/// `Events-Archive-<name>`; an archive name has at most 48 characters, so it fits a rule name).
pub const ARCHIVE_RULE_PREFIX: &str = "Events-Archive-";

/// `ManagedBy` of an archive's rule (the value AWS shows, as recorded by other emulators; not
/// verified against AWS here).
pub const ARCHIVE_RULE_MANAGED_BY: &str = "prod.vhs.events.aws.internal";

/// The field EventBridge adds to a replayed event (its value: the replay's name).
pub const REPLAY_NAME_FIELD: &str = "replay-name";

/// A top-level member of a JSON object: its key as written (without quotes), and the byte
/// range of its value.
type Member<'a> = (&'a str, usize, usize);

/// The top-level members of a JSON object, and the offset of its closing brace. `None` when the
/// text is not one JSON object.
fn members(text: &str) -> Option<(Vec<Member<'_>>, usize)> {
    let b = text.as_bytes();
    let ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    // The end of the string starting at `i` (a quote), after its closing quote.
    let string_end = |mut i: usize| -> Option<usize> {
        i += 1;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'"' => return Some(i + 1),
                _ => i += 1,
            }
        }
        None
    };
    let mut i = 0;
    ws(&mut i);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut out = Vec::new();
    loop {
        ws(&mut i);
        match b.get(i)? {
            b'}' if out.is_empty() => return Some((out, i)),
            b'"' => {}
            _ => return None,
        }
        let key_end = string_end(i)?;
        let key = &text[i + 1..key_end - 1];
        i = key_end;
        ws(&mut i);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        ws(&mut i);
        let start = i;
        match *b.get(i)? {
            b'"' => i = string_end(i)?,
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match *b.get(i)? {
                        b'"' => {
                            i = string_end(i)?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            _ => {
                while b
                    .get(i)
                    .is_some_and(|c| !matches!(c, b',' | b'}' | b']') && !c.is_ascii_whitespace())
                {
                    i += 1;
                }
                if i == start {
                    return None;
                }
            }
        }
        out.push((key, start, i));
        ws(&mut i);
        match b.get(i)? {
            b',' => i += 1,
            b'}' => return Some((out, i)),
            _ => return None,
        }
    }
}

/// `text` (a JSON object) with the top-level member `key` set to `value` (JSON text): replaced
/// where it is, else inserted after the member `after` when there is one, else last. `None` when
/// `text` is not a JSON object.
fn upsert_member(text: &str, key: &str, value: &str, after: Option<&str>) -> Option<String> {
    let (members, close) = members(text)?;
    let mut out = String::with_capacity(text.len() + key.len() + value.len() + 4);
    if let Some((_, start, end)) = members.iter().find(|(k, _, _)| *k == key) {
        out.push_str(&text[..*start]);
        out.push_str(value);
        out.push_str(&text[*end..]);
        return Some(out);
    }
    let after = after.and_then(|a| members.iter().find(|(k, _, _)| *k == a));
    let (at, comma) = match after.or(members.last()) {
        Some((_, _, end)) => (*end, true),
        None => (close, false),
    };
    out.push_str(&text[..at]);
    if comma {
        out.push(',');
    }
    out.push('"');
    out.push_str(key);
    out.push_str("\":");
    out.push_str(value);
    out.push_str(&text[at..]);
    Some(out)
}

/// The event (JSON text) as a replay sends it: with a top-level `replay-name` field holding the
/// replay's name, placed after `region` as EventBridge places it (an existing `replay-name` is
/// replaced). Text that is not a JSON object is returned unchanged.
pub fn with_replay_name(event: &str, replay_name: &str) -> String {
    let value = serde_json::Value::String(replay_name.to_owned()).to_string();
    upsert_member(event, REPLAY_NAME_FIELD, &value, Some("region")).unwrap_or_else(|| event.to_owned())
}

/// The pattern of an archive's managed rule: the archive's pattern (all events when none) and
/// `"replay-name": [{"exists": false}]`.
pub(crate) fn managed_rule_pattern(archive_pattern: Option<&str>) -> String {
    let base = archive_pattern.filter(|p| !p.trim().is_empty()).unwrap_or("{}");
    upsert_member(base, REPLAY_NAME_FIELD, r#"[{"exists":false}]"#, None)
        .unwrap_or_else(|| r#"{"replay-name":[{"exists":false}]}"#.to_owned())
}

/// The `time` of an event (JSON text), in epoch milliseconds.
pub(crate) fn event_time_millis(event: &str) -> Option<u64> {
    let (members, _) = members(event)?;
    let (_, start, end) = members.iter().find(|(k, _, _)| *k == "time")?;
    let text = event.get(*start + 1..end.checked_sub(1)?)?;
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

// ---- what the operations keep ---------------------------------------------------------------

/// An archive's state (botocore `ArchiveState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveState {
    Enabled,
    Disabled,
    Creating,
    Updating,
    CreateFailed,
    UpdateFailed,
}

impl ArchiveState {
    pub const ALL: [ArchiveState; 6] = [
        ArchiveState::Enabled,
        ArchiveState::Disabled,
        ArchiveState::Creating,
        ArchiveState::Updating,
        ArchiveState::CreateFailed,
        ArchiveState::UpdateFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ArchiveState::Enabled => "ENABLED",
            ArchiveState::Disabled => "DISABLED",
            ArchiveState::Creating => "CREATING",
            ArchiveState::Updating => "UPDATING",
            ArchiveState::CreateFailed => "CREATE_FAILED",
            ArchiveState::UpdateFailed => "UPDATE_FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// A replay's state (botocore `ReplayState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayState {
    Starting,
    Running,
    Cancelling,
    Completed,
    Cancelled,
    Failed,
}

impl ReplayState {
    pub const ALL: [ReplayState; 6] = [
        ReplayState::Starting,
        ReplayState::Running,
        ReplayState::Cancelling,
        ReplayState::Completed,
        ReplayState::Cancelled,
        ReplayState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReplayState::Starting => "STARTING",
            ReplayState::Running => "RUNNING",
            ReplayState::Cancelling => "CANCELLING",
            ReplayState::Completed => "COMPLETED",
            ReplayState::Cancelled => "CANCELLED",
            ReplayState::Failed => "FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Whether the replay has ended (it can no longer be cancelled).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ReplayState::Completed | ReplayState::Cancelled | ReplayState::Failed
        )
    }
}

/// An archive as DescribeArchive and ListArchives show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Archive {
    pub name: String,
    pub arn: String,
    /// The source bus's ARN.
    pub event_source_arn: String,
    pub description: Option<String>,
    pub event_pattern: Option<String>,
    pub state: ArchiveState,
    pub state_reason: Option<String>,
    pub kms_key_identifier: Option<String>,
    /// 0: kept forever.
    pub retention_days: u64,
    pub size_bytes: u64,
    pub event_count: u64,
    pub created_millis: u64,
}

/// CreateArchive's input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateArchiveInput {
    pub archive_name: Option<String>,
    pub event_source_arn: Option<String>,
    pub description: Option<String>,
    pub event_pattern: Option<String>,
    pub retention_days: Option<i64>,
    pub kms_key_identifier: Option<String>,
}

/// UpdateArchive's input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateArchiveInput {
    pub archive_name: Option<String>,
    pub description: Option<String>,
    pub event_pattern: Option<String>,
    pub retention_days: Option<i64>,
    pub kms_key_identifier: Option<String>,
}

/// ListArchives' and ListReplays' filters and paging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListArchivesInput {
    pub name_prefix: Option<String>,
    pub event_source_arn: Option<String>,
    pub state: Option<String>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
}

/// StartReplay's input (times in epoch milliseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartReplayInput {
    pub replay_name: Option<String>,
    pub description: Option<String>,
    pub event_source_arn: Option<String>,
    pub event_start_time: Option<u64>,
    pub event_end_time: Option<u64>,
    /// `Destination`: given, and its `Arn`.
    pub destination: Option<ReplayDestination>,
}

/// `ReplayDestination`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayDestination {
    pub arn: Option<String>,
    pub filter_arns: Option<Vec<String>>,
}

/// A replay as DescribeReplay and ListReplays show it (times in epoch milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    pub state: ReplayState,
    pub state_reason: Option<String>,
    /// The archive's ARN.
    pub event_source_arn: String,
    pub destination_arn: String,
    pub filter_arns: Option<Vec<String>>,
    pub event_start_time: u64,
    pub event_end_time: u64,
    pub event_last_replayed_time: Option<u64>,
    pub replay_start_time: u64,
    pub replay_end_time: Option<u64>,
}

/// An archive's definition (the control plane's; its events are in the [`ArchiveStore`]).
#[derive(Debug, Clone)]
pub(crate) struct ArchiveDef {
    /// The archive's key in the store (a new one for an archive deleted and created again).
    pub id: u64,
    pub name: String,
    pub arn: String,
    pub source_arn: String,
    pub bus_name: String,
    pub rule_name: String,
    pub rule_arn: String,
    pub description: Option<String>,
    pub pattern: Option<String>,
    pub retention_days: u64,
    pub kms_key_identifier: Option<String>,
    pub created_millis: u64,
}

/// A replay's progress, changed by its task (and by CancelReplay).
#[derive(Debug, Clone)]
pub(crate) struct ReplayProgress {
    pub state: ReplayState,
    pub reason: Option<String>,
    pub last_replayed: Option<u64>,
    pub ended: Option<u64>,
    /// Events sent to the bus, and those some target of which the engine had no room for.
    pub replayed: u64,
    pub throttled: u64,
}

/// A replay: what StartReplay took, and its progress.
#[derive(Debug)]
pub(crate) struct ReplayRun {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    pub archive_arn: String,
    pub archive_id: u64,
    pub destination_arn: String,
    /// Rule ARNs the replay is limited to.
    pub filter_arns: Option<Vec<String>>,
    pub start: u64,
    pub end: u64,
    pub started: u64,
    pub progress: Mutex<ReplayProgress>,
    /// Woken by CancelReplay (a permit is kept if the task is not waiting yet).
    pub cancel: tokio::sync::Notify,
}

impl ReplayRun {
    pub fn progress(&self) -> MutexGuard<'_, ReplayProgress> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn view(&self) -> Replay {
        let p = self.progress().clone();
        Replay {
            name: self.name.clone(),
            arn: self.arn.clone(),
            description: self.description.clone(),
            state: p.state,
            state_reason: p.reason,
            event_source_arn: self.archive_arn.clone(),
            destination_arn: self.destination_arn.clone(),
            filter_arns: self.filter_arns.clone(),
            event_start_time: self.start,
            event_end_time: self.end,
            event_last_replayed_time: p.last_replayed,
            replay_start_time: self.started,
            replay_end_time: p.ended,
        }
    }
}

type ScopeKey = (String, String);

/// The archives and replays of every region and account, and the archived events.
pub(crate) struct Archives {
    /// Archive definitions by (region, account), then name. Lock order: this, then the
    /// service's scopes (CreateArchive adds the managed rule while holding it).
    pub defs: Mutex<HashMap<ScopeKey, BTreeMap<String, ArchiveDef>>>,
    /// Replays by (region, account), then name.
    pub replays: Mutex<HashMap<ScopeKey, BTreeMap<String, Arc<ReplayRun>>>>,
    pub store: ArchiveStore,
    next_id: AtomicU64,
}

impl Archives {
    pub fn new(max_events: usize, max_bytes: u64) -> Self {
        Self {
            defs: Mutex::new(HashMap::new()),
            replays: Mutex::new(HashMap::new()),
            store: ArchiveStore::new(max_events, max_bytes),
            next_id: AtomicU64::new(1),
        }
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn defs(&self) -> MutexGuard<'_, HashMap<ScopeKey, BTreeMap<String, ArchiveDef>>> {
        self.defs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn replays(&self) -> MutexGuard<'_, HashMap<ScopeKey, BTreeMap<String, Arc<ReplayRun>>>> {
        self.replays.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

// ---- the archived events --------------------------------------------------------------------

/// One archived event.
#[derive(Debug)]
pub(crate) struct ArchivedEvent {
    /// Unique per server, increasing in archiving order.
    pub seq: u64,
    /// The event's `time` (what a replay's window selects on), epoch milliseconds.
    pub time: u64,
    /// When it was archived (what retention counts from).
    pub archived: u64,
    /// The account that sent it.
    pub account: Arc<str>,
    pub text: Arc<str>,
}

/// One archive's events, in archiving order (removals only ever take the oldest).
#[derive(Debug, Default)]
struct Log {
    arn: Arc<str>,
    events: VecDeque<Arc<ArchivedEvent>>,
    bytes: u64,
    /// Events dropped to keep within the server's bounds.
    dropped: u64,
    /// `None`: kept forever.
    retention_millis: Option<u64>,
}

/// Counts of one archive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LogStats {
    pub events: u64,
    pub bytes: u64,
    pub dropped: u64,
}

/// The server's archived events.
#[derive(Debug, Default)]
struct Store {
    logs: HashMap<u64, Log>,
    /// Every archived event, in archiving order, as (archive id, seq): what the bounds evict
    /// from. Entries of events that already left (retention, a deleted archive) are skipped, and
    /// compacted away when they outnumber the live ones.
    order: VecDeque<(u64, u64)>,
    next_seq: u64,
    live: usize,
    bytes: u64,
    dropped: u64,
    expired: u64,
}

impl Store {
    /// Whether `(id, seq)` is still archived: a log only ever loses its oldest events, so an
    /// entry is live when it is not older than its log's oldest.
    fn is_live(&self, id: u64, seq: u64) -> bool {
        self.logs
            .get(&id)
            .and_then(|l| l.events.front())
            .is_some_and(|e| e.seq <= seq)
    }

    fn expire(&mut self, id: u64, now: u64) {
        let Some(log) = self.logs.get_mut(&id) else {
            return;
        };
        let Some(keep) = log.retention_millis else {
            return;
        };
        let cutoff = now.saturating_sub(keep);
        while log.events.front().is_some_and(|e| e.archived < cutoff) {
            if let Some(e) = log.events.pop_front() {
                log.bytes -= e.text.len() as u64;
                self.bytes -= e.text.len() as u64;
                self.live -= 1;
                self.expired += 1;
            }
        }
    }

    /// Evicts the oldest archived events until both bounds hold; the number evicted.
    fn enforce(&mut self, max_events: usize, max_bytes: u64) -> u64 {
        let mut evicted = 0;
        while self.live > max_events || self.bytes > max_bytes {
            let Some((id, seq)) = self.order.pop_front() else {
                break;
            };
            let Some(log) = self.logs.get_mut(&id) else {
                continue;
            };
            if log.events.front().is_some_and(|e| e.seq == seq) {
                if let Some(e) = log.events.pop_front() {
                    log.bytes -= e.text.len() as u64;
                    log.dropped += 1;
                    self.bytes -= e.text.len() as u64;
                    self.live -= 1;
                    self.dropped += 1;
                    evicted += 1;
                }
            }
        }
        if self.order.len() > 2 * self.live + 1024 {
            let order = std::mem::take(&mut self.order);
            self.order = order.into_iter().filter(|(id, seq)| self.is_live(*id, *seq)).collect();
        }
        evicted
    }
}

/// The archived events of every archive, under one bound (see the module documentation). One
/// short-held lock: taken once per archived event and per archive read, never across an
/// `.await`.
pub(crate) struct ArchiveStore {
    max_events: usize,
    max_bytes: u64,
    inner: Mutex<Store>,
    /// Managed rule ARN → archive id: how routing recognises an archive's rule.
    by_rule: DashMap<String, u64>,
}

impl ArchiveStore {
    pub fn new(max_events: usize, max_bytes: u64) -> Self {
        Self {
            max_events,
            max_bytes,
            inner: Mutex::new(Store::default()),
            by_rule: DashMap::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn max_events(&self) -> usize {
        self.max_events
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The archive whose managed rule has this ARN.
    pub fn archive_of_rule(&self, rule_arn: &str) -> Option<u64> {
        self.by_rule.get(rule_arn).map(|id| *id)
    }

    /// A new, empty archive fed by the rule `rule_arn`.
    pub fn add(&self, id: u64, arn: &str, rule_arn: &str, retention_days: u64) {
        self.lock().logs.insert(
            id,
            Log {
                arn: arn.into(),
                retention_millis: retention_millis(retention_days),
                ..Log::default()
            },
        );
        self.by_rule.insert(rule_arn.to_owned(), id);
    }

    pub fn set_retention(&self, id: u64, retention_days: u64, now: u64) {
        let mut store = self.lock();
        if let Some(log) = store.logs.get_mut(&id) {
            log.retention_millis = retention_millis(retention_days);
        }
        store.expire(id, now);
    }

    /// Removes an archive and its events.
    pub fn remove(&self, id: u64, rule_arn: &str) {
        self.by_rule.remove_if(rule_arn, |_, v| *v == id);
        let removed = {
            let mut store = self.lock();
            let log = store.logs.remove(&id);
            if let Some(l) = &log {
                store.live -= l.events.len();
                store.bytes -= l.bytes;
            }
            log
        };
        // The events are freed outside the lock.
        drop(removed);
    }

    /// Archives an event (JSON text) routed at `now`.
    pub fn record(&self, id: u64, text: &Arc<str>, account: &Arc<str>, now: u64) {
        let time = event_time_millis(text).unwrap_or(now);
        let (evicted, dropped_total, arn) = {
            let mut store = self.lock();
            store.expire(id, now);
            store.next_seq += 1;
            let seq = store.next_seq;
            let Some(log) = store.logs.get_mut(&id) else {
                return;
            };
            log.bytes += text.len() as u64;
            log.events.push_back(Arc::new(ArchivedEvent {
                seq,
                time,
                archived: now,
                account: Arc::clone(account),
                text: Arc::clone(text),
            }));
            let arn = Arc::clone(&log.arn);
            store.order.push_back((id, seq));
            store.live += 1;
            store.bytes += text.len() as u64;
            let evicted = store.enforce(self.max_events, self.max_bytes);
            (evicted, store.dropped, arn)
        };
        // One line at the first drop and then at every power of two: a flood of drops logs a
        // handful of lines, never one each.
        if evicted > 0 && (dropped_total - evicted + 1..=dropped_total).any(u64::is_power_of_two) {
            tracing::warn!(
                archive = %arn,
                dropped_total,
                max_events = self.max_events,
                max_bytes = self.max_bytes,
                "archives are full: the oldest archived events were dropped (--events-archive-max-events, --events-archive-max-bytes)"
            );
        }
    }

    /// An archive's counts, retention applied first.
    pub fn stats(&self, id: u64, now: u64) -> LogStats {
        let mut store = self.lock();
        store.expire(id, now);
        store.logs.get(&id).map_or_else(LogStats::default, |l| LogStats {
            events: l.events.len() as u64,
            bytes: l.bytes,
            dropped: l.dropped,
        })
    }

    /// The archive's events whose `time` is in `[start, end)`, archived after `after_seq`, in
    /// time order (then archiving order); `None` when the archive no longer exists.
    pub fn window(&self, id: u64, start: u64, end: u64, after_seq: u64, now: u64) -> Option<Vec<Arc<ArchivedEvent>>> {
        let mut out: Vec<Arc<ArchivedEvent>> = {
            let mut store = self.lock();
            store.expire(id, now);
            store
                .logs
                .get(&id)?
                .events
                .iter()
                .filter(|e| e.seq > after_seq && e.time >= start && e.time < end)
                .cloned()
                .collect()
        };
        out.sort_by_key(|e| (e.time, e.seq));
        Some(out)
    }

    /// Server-wide counts: (events stored, bytes stored, dropped, expired).
    pub fn totals(&self) -> (usize, u64, u64, u64) {
        let store = self.lock();
        (store.live, store.bytes, store.dropped, store.expired)
    }
}

fn retention_millis(days: u64) -> Option<u64> {
    (days > 0).then(|| days.saturating_mul(86_400_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_name_goes_after_region() {
        let e = r#"{"version":"0","id":"1","detail-type":"t","source":"s","account":"1","time":"2024-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail":{"region":"x"}}"#;
        assert_eq!(
            with_replay_name(e, "r1"),
            r#"{"version":"0","id":"1","detail-type":"t","source":"s","account":"1","time":"2024-01-01T00:00:00Z","region":"us-east-1","replay-name":"r1","resources":[],"detail":{"region":"x"}}"#
        );
        let again = with_replay_name(&with_replay_name(e, "r1"), "r\"2");
        let v: serde_json::Value = serde_json::from_str(&again).unwrap();
        assert_eq!(v["replay-name"], "r\"2");
        assert_eq!(again.matches("replay-name").count(), 1);
        // No region: last; spaces and nesting are skipped over.
        assert_eq!(
            with_replay_name(r#" { "a" : [1, {"b": "}"}] , "c": true } "#, "x"),
            r#" { "a" : [1, {"b": "}"}] , "c": true,"replay-name":"x" } "#
        );
        assert_eq!(with_replay_name("{}", "x"), r#"{"replay-name":"x"}"#);
        assert_eq!(with_replay_name("[1]", "x"), "[1]");
        assert_eq!(with_replay_name(r#"{"a":}"#, "x"), r#"{"a":}"#);
    }

    #[test]
    fn managed_patterns_and_times() {
        assert_eq!(managed_rule_pattern(None), r#"{"replay-name":[{"exists":false}]}"#);
        assert_eq!(
            managed_rule_pattern(Some(r#"{"source":["a"]}"#)),
            r#"{"source":["a"],"replay-name":[{"exists":false}]}"#
        );
        assert_eq!(
            managed_rule_pattern(Some(r#"{"replay-name":["x"],"source":["a"]}"#)),
            r#"{"replay-name":[{"exists":false}],"source":["a"]}"#
        );
        assert_eq!(
            event_time_millis(r#"{"id":"1","time":"2023-11-14T22:13:20Z","detail":{}}"#),
            Some(1_700_000_000_000)
        );
        assert_eq!(event_time_millis(r#"{"time":"yesterday"}"#), None);
    }

    fn text(n: usize) -> Arc<str> {
        format!(r#"{{"time":"2023-11-14T22:13:20Z","n":"{}"}}"#, "x".repeat(n)).into()
    }

    #[test]
    fn bounds_drop_the_oldest_of_all_archives_and_count_it() {
        let s = ArchiveStore::new(3, u64::MAX);
        let acct: Arc<str> = "1".into();
        s.add(1, "a1", "r1", 0);
        s.add(2, "a2", "r2", 0);
        s.record(1, &text(1), &acct, 10);
        s.record(2, &text(1), &acct, 11);
        s.record(1, &text(1), &acct, 12);
        s.record(2, &text(1), &acct, 13);
        assert_eq!(s.stats(1, 20).events, 1);
        assert_eq!(s.stats(1, 20).dropped, 1);
        assert_eq!(s.stats(2, 20).events, 2);
        assert_eq!(s.totals().0, 3);
        assert_eq!(s.totals().2, 1);
        // Bytes bound.
        let b = ArchiveStore::new(100, 2 * text(10).len() as u64);
        b.add(1, "a", "r", 0);
        for i in 0..5 {
            b.record(1, &text(10), &acct, i);
        }
        assert_eq!(
            b.stats(1, 5),
            LogStats {
                events: 2,
                bytes: 2 * text(10).len() as u64,
                dropped: 3
            }
        );
        // Deleting an archive frees its share; its queue entries are skipped later.
        s.remove(1, "r1");
        assert_eq!(s.totals().0, 2);
        assert_eq!(s.archive_of_rule("r1"), None);
        assert_eq!(s.archive_of_rule("r2"), Some(2));
    }

    #[test]
    fn retention_counts_from_archiving_and_windows_sort_by_time() {
        let s = ArchiveStore::new(100, u64::MAX);
        let acct: Arc<str> = "1".into();
        s.add(1, "a", "r", 1);
        let day = 86_400_000;
        let late: Arc<str> = r#"{"time":"2023-11-14T22:13:21Z"}"#.into();
        let early: Arc<str> = r#"{"time":"2023-11-14T22:13:20Z"}"#.into();
        s.record(1, &late, &acct, 0);
        s.record(1, &early, &acct, day / 2);
        let w = s.window(1, 1_700_000_000_000, 1_700_000_002_000, 0, day / 2).unwrap();
        assert_eq!(
            w.iter().map(|e| e.time).collect::<Vec<_>>(),
            [1_700_000_000_000, 1_700_000_001_000]
        );
        let w = s.window(1, 1_700_000_000_000, 1_700_000_001_000, 0, day / 2).unwrap();
        assert_eq!(w.len(), 1, "the end is excluded");
        assert_eq!(s.stats(1, day + 1).events, 1, "the first left after a day");
        assert_eq!(s.totals().3, 1);
        s.set_retention(1, 0, 100 * day);
        assert_eq!(s.stats(1, 100 * day).events, 1, "0 keeps forever");
        assert!(s.window(9, 0, u64::MAX, 0, 0).is_none());
    }
}
