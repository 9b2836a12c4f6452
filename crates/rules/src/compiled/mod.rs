//! All patterns of a bus compiled into one machine ([`Machine`]); the cost of matching an event
//! depends on the event and on which fields patterns use, not on how many rules exist.
//!
//! How it works:
//!
//! 1. **Compile.** Every pattern is flattened ([`Pattern::alternatives`]) into conjunctions of
//!    `(path, matchers)` leaves. The paths go into a trie (`scan::PathTrie`); each distinct
//!    leaf becomes a *predicate*, registered in the value index of its field
//!    (`index::FieldIndex`: hash maps for exact values, one hash lookup per distinct
//!    prefix/suffix length, lists for the rest, `equals-ignore-case` among them).
//! 2. **Scan.** One pass over the raw JSON bytes descends only into used paths and reports each
//!    scalar there with its *array trail* (which element of which array leads to it). Names
//!    are joined with `.` as on EventBridge: an event name with dots walks several steps of
//!    the trie at once, so `{"a.b": 1}` and `{"a": {"b": 1}}` both give `a.b` the value 1.
//! 3. **Index.** Each scalar is looked up in its field's index. Every conjunction with
//!    positive leaves is *keyed* on one of them (the predicate with the fewest conjunctions
//!    keyed on it, re-balanced as rules are added), so the first hit of a predicate in an event
//!    wakes only the conjunctions keyed on it; two-leaf conjunctions are also indexed by their
//!    pair of predicates and, when the event hits few predicates, found by probing those pairs.
//!    Per-event state is stamped with an event number, so nothing is cleared or allocated per
//!    event. A woken conjunction whose positive leaves are all hit is a candidate.
//! 4. **Confirm.** A candidate matches when one hit per leaf can be chosen with consistent
//!    trails (two hits inside the same array must come from the same element: objects in
//!    arrays keep their fields together) and every `exists: false` leaf has no value there.
//!    Without arrays on the used paths this is immediate. What the machine cannot settle
//!    cheaply is decided by the reference evaluator ([`Pattern::matches`]) on the parsed event,
//!    so the answer is always the reference's: an `exists: false` below an array that no
//!    positive leaf pins down (or below an array in an event with names with dots, where one
//!    path's arrays are not necessarily another's), a leaf with fields below it, an event that
//!    repeats a used key, a search for consistent elements over its budget, a root that is not
//!    an object.
//!
//! Numbers are read as the correctly rounded double of their text (as the pattern parser
//! reads literals). Subtrees no pattern uses are skipped with light checking (see `scan`):
//! the machine rejects malformed JSON where it reads, not necessarily elsewhere.

mod index;
mod scan;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;

use index::{FastMap, FieldIndex, PredId};
use scan::{ArrayPos, PathTrie, Scalar, ScanBuffers, Sink};

use crate::pattern::{Conjunction, Matcher, Pattern};

/// The event is not valid JSON (in the parts the machine reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    message: String,
}

impl EventError {
    fn new(message: String) -> Self {
        Self { message }
    }

    /// What is wrong and where (a byte offset), e.g. `unterminated string at byte 12`.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the event is not valid JSON: {}", self.message)
    }
}

impl std::error::Error for EventError {}

const NONE: u32 = u32::MAX;
const MANY: u32 = u32::MAX - 1;
/// Predicates hit by an event that `Scratch::few` lists before `Scratch::pred_state` takes
/// over.
const FEW: usize = 16;
/// Hits `search` may try for one conjunction before leaving it to the reference evaluator.
const SEARCH_BUDGET: u32 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotKind {
    /// A value must match.
    Pos,
    /// A value must match, or the field must be absent (`exists: false` beside other matchers).
    PosOrAbsent,
    /// The field must be absent.
    Absent,
}

#[derive(Debug, Clone)]
struct Slot {
    kind: SlotKind,
    /// The predicate of the value matchers (unused for `Absent`).
    pred: PredId,
    /// `exists: true` on the field: its hits are the field's values (for absence checks).
    presence: PredId,
    /// The field's trie node.
    node: u32,
    /// Trie nodes from the root to the field's parent, root included.
    parents: Vec<u32>,
    /// A `Pos` slot whose path runs through this field's parent: it pins down the array
    /// elements on the way.
    anchor: Option<u16>,
}

#[derive(Debug, Clone)]
struct Conj {
    rule: u32,
    /// `Pos` slots first.
    slots: Vec<Slot>,
    n_pos: u32,
    /// The slot (a `Pos` one) this conjunction is keyed on.
    key: u16,
    live: bool,
    /// A path of the conjunction is a proper prefix of another (a leaf with fields below it):
    /// left to the reference evaluator.
    complex: bool,
}

/// A conjunction to look at, as the indexes list it: enough to accept the common case
/// without reading the conjunction itself.
#[derive(Debug, Clone, Copy)]
struct Touch {
    conj: u32,
    /// The other positive predicate (two-leaf conjunctions), `NONE` or `MANY`.
    other: PredId,
    rule: u32,
    /// The conjunction is `Hot::simple`, has at most two positive leaves, and is the rule's
    /// only one (no duplicate to suppress).
    fast: bool,
    /// In `Machine::first_user` (`Machine::pair_first`): the predicate's `users` (the pair's
    /// list) has more entries than this one.
    more: bool,
}

const NO_USER: Touch = Touch {
    conj: NONE,
    other: NONE,
    rule: 0,
    fast: false,
    more: false,
};

/// What matching reads of a predicate on its first hit in an event (one cache line's part).
#[derive(Debug, Clone, Copy)]
#[repr(align(32))]
struct PredHot {
    first: Touch,
    /// `pair_bit` of every predicate this one shares a two-leaf conjunction with (in
    /// `Machine::pairs`); zero when it is in none. Not cleared on removal (a stale bit only
    /// costs a probe).
    partners: u64,
    /// `Pred::pair_users.len()`.
    walk: u32,
}

const NO_HOT: PredHot = PredHot {
    first: NO_USER,
    partners: 0,
    walk: 0,
};

/// A predicate's bit in the `PredHot::partners` of the predicates it is paired with.
#[inline]
fn pair_bit(p: PredId) -> u64 {
    1 << (p.wrapping_mul(0x9E37_79B9) >> 26)
}

#[derive(Debug, Clone, Copy)]
struct Hot {
    rule: u32,
    live: bool,
    /// Positive leaves only, no path below another: matched once its predicates are hit,
    /// when no hit of the event lies inside an array.
    simple: bool,
}

#[derive(Debug, Clone, Default)]
struct Pred {
    field: u32,
    /// The conjunctions keyed on this predicate: each conjunction with positive leaves is
    /// keyed on one of them, the one with the fewest other conjunctions keyed on it, so a
    /// common value (say `"FROM_ST": ["0"]`) does not wake every rule that names it.
    /// With each, the conjunction's other positive predicate when it has exactly two
    /// (checked before the conjunction itself is read), `NONE` with one, `MANY` with more.
    users: Vec<Touch>,
    /// The same for conjunctions with exactly two positive leaves (also found by pair in
    /// `Machine::pairs`).
    pair_users: Vec<Touch>,
    /// Slots that name it (as `pred` or `presence`); at zero it leaves the index.
    refs: u32,
    matchers: Vec<Matcher>,
}

#[derive(Debug, Clone)]
struct Rule<K> {
    key: K,
    pattern: Pattern,
    conjs: Vec<u32>,
}

/// All patterns of a bus in one matcher. Keys name the patterns (e.g. rule names).
#[derive(Debug, Clone)]
pub struct Machine<K> {
    trie: PathTrie,
    /// Field index by field id; `field_of_node` maps trie nodes to fields.
    fields: Vec<FieldIndex>,
    preds: Vec<Pred>,
    pred_by_sig: HashMap<(u32, String), PredId>,
    conjs: Vec<Conj>,
    /// Per predicate, its first entry of `Pred::users` (or `NO_USER`) and its pair summary,
    /// dense: most predicates have one user, and matching then reads no `Pred`.
    first_user: Vec<PredHot>,
    /// Conjunctions with exactly two positive leaves by their two predicates (smaller first):
    /// an event that hits few predicates probes its pairs instead of walking `pair_users`.
    pairs: FastMap<(PredId, PredId), Vec<Touch>>,
    /// The first entry of each list of `pairs` (with `more` set when it has others), what a
    /// probe reads: one table, no list to follow for most pairs.
    pair_first: FastMap<(PredId, PredId), Touch>,
    /// What matching reads of every touched conjunction, dense (cache-friendly).
    hot: Vec<Hot>,
    /// The key of each rule, dense.
    keys: Vec<Option<K>>,
    /// Conjunctions with no `Pos` slot: checked on every event.
    always: Vec<u32>,
    rules: Vec<Option<Rule<K>>>,
    by_key: HashMap<K, u32>,
    dead_conjs: usize,
}

impl<K: Clone + Eq + Hash + Ord> Default for Machine<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Clone + Eq + Hash + Ord> Machine<K> {
    /// An empty machine (matches nothing).
    pub fn new() -> Self {
        Self {
            trie: PathTrie::new(),
            fields: Vec::new(),
            preds: Vec::new(),
            pred_by_sig: HashMap::new(),
            conjs: Vec::new(),
            first_user: Vec::new(),
            pairs: FastMap::default(),
            pair_first: FastMap::default(),
            hot: Vec::new(),
            keys: Vec::new(),
            always: Vec::new(),
            rules: Vec::new(),
            by_key: HashMap::new(),
            dead_conjs: 0,
        }
    }

    /// The number of patterns.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether there are no patterns.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Adds `pattern` under `key`, replacing the pattern already there.
    pub fn add(&mut self, key: K, pattern: &Pattern) {
        // The scanner joins event names with `.`; patterns' paths must be split alike.
        debug_assert!(pattern.joins_names(), "the machine takes EventBridge patterns");
        self.remove(&key);
        let rule = self.rules.len() as u32;
        let mut conjs = Vec::new();
        let single = pattern.alternatives().len() == 1;
        for alt in pattern.alternatives() {
            conjs.push(self.add_conj(rule, alt, single));
        }
        self.keys.push(Some(key.clone()));
        self.rules.push(Some(Rule {
            key: key.clone(),
            pattern: pattern.clone(),
            conjs,
        }));
        self.by_key.insert(key, rule);
    }

    /// Removes the pattern under `key`; whether there was one.
    pub fn remove(&mut self, key: &K) -> bool {
        let Some(rule) = self.by_key.remove(key) else {
            return false;
        };
        self.keys[rule as usize] = None;
        let Some(r) = self.rules[rule as usize].take() else {
            return false;
        };
        for c in r.conjs {
            self.drop_conj(c);
        }
        if self.dead_conjs > 64 && self.dead_conjs > self.conjs.len() / 2 {
            self.rebuild();
        }
        true
    }

    /// The keys of the patterns that `event` (raw JSON text) matches, in key order.
    pub fn matches(&self, event: &[u8]) -> Result<Vec<K>, EventError> {
        let mut out = Vec::new();
        self.matches_into(event, &mut out)?;
        Ok(out)
    }

    /// Like [`Machine::matches`], appending to `out` (which is cleared first), so a caller can
    /// reuse one buffer. The machine keeps its own per-thread scratch space, so matching does
    /// not allocate once warmed up (except to decode escaped strings and to test ignore-case
    /// matchers).
    pub fn matches_into(&self, event: &[u8], out: &mut Vec<K>) -> Result<(), EventError> {
        out.clear();
        thread_local! {
            static SCRATCH: RefCell<(Scratch, ScanBuffers)> = RefCell::default();
        }
        SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut s) => {
                let (s, bufs) = &mut *s;
                self.run(event, s, bufs, out)
            }
            Err(_) => self.run(event, &mut Scratch::default(), &mut ScanBuffers::default(), out),
        })
    }

    fn rebuild(&mut self) {
        let rules: Vec<Rule<K>> = self.rules.drain(..).flatten().collect();
        let mut fresh = Self::new();
        for r in rules {
            fresh.add(r.key, &r.pattern);
        }
        *self = fresh;
    }

    fn field_of(&mut self, path: &[String]) -> (u32, u32, Vec<u32>) {
        let node = self.trie.insert(path);
        let field = match self.trie.nodes[node as usize].field {
            Some(f) => f,
            None => {
                let f = self.fields.len() as u32;
                self.fields.push(FieldIndex::default());
                self.trie.nodes[node as usize].field = Some(f);
                f
            }
        };
        // The nodes from the root to the parent.
        let mut parents = Vec::new();
        let mut n = node;
        while n != 0 {
            n = self.trie.nodes[n as usize].parent;
            parents.push(n);
        }
        parents.reverse();
        (node, field, parents)
    }

    fn pred_for(&mut self, field: u32, matchers: Vec<Matcher>) -> PredId {
        let sig = format!("{matchers:?}");
        if let Some(&p) = self.pred_by_sig.get(&(field, sig.clone())) {
            self.preds[p as usize].refs += 1;
            return p;
        }
        let p = self.preds.len() as PredId;
        for m in &matchers {
            self.fields[field as usize].insert(m, p);
        }
        self.first_user.push(NO_HOT);
        self.preds.push(Pred {
            field,
            users: Vec::new(),
            pair_users: Vec::new(),
            refs: 1,
            matchers,
        });
        self.pred_by_sig.insert((field, sig), p);
        p
    }

    fn release_pred(&mut self, p: PredId) {
        let pred = &mut self.preds[p as usize];
        pred.refs -= 1;
        if pred.refs == 0 {
            let field = pred.field;
            let sig = format!("{:?}", pred.matchers);
            self.fields[field as usize].remove(p);
            self.pred_by_sig.remove(&(field, sig));
        }
    }

    fn add_conj(&mut self, rule: u32, alt: &Conjunction, single: bool) -> u32 {
        let c = self.conjs.len() as u32;
        let mut slots = Vec::new();
        let mut paths = Vec::new();
        for fm in &alt.fields {
            let (node, field, parents) = self.field_of(&fm.path);
            let absent_ok = fm.matchers.iter().any(|m| matches!(m, Matcher::Exists(false)));
            let values: Vec<Matcher> = fm
                .matchers
                .iter()
                .filter(|m| !matches!(m, Matcher::Exists(false)))
                .cloned()
                .collect();
            let kind = match (values.is_empty(), absent_ok) {
                (true, _) => SlotKind::Absent,
                (false, false) => SlotKind::Pos,
                (false, true) => SlotKind::PosOrAbsent,
            };
            let pred = if values.is_empty() {
                NONE
            } else {
                self.pred_for(field, values)
            };
            let presence = if kind == SlotKind::Pos {
                NONE
            } else {
                self.pred_for(field, vec![Matcher::Exists(true)])
            };
            slots.push(Slot {
                kind,
                pred,
                presence,
                node,
                parents,
                anchor: None,
            });
            paths.push(fm.path.clone());
        }
        // Pos slots first (stable), paths kept in step.
        let mut order: Vec<usize> = (0..slots.len()).collect();
        order.sort_by_key(|&i| slots[i].kind != SlotKind::Pos);
        let slots: Vec<Slot> = order.iter().map(|&i| slots[i].clone()).collect();
        let paths: Vec<Vec<String>> = order.iter().map(|&i| paths[i].clone()).collect();
        let mut slots = slots;
        let n_pos = slots.iter().filter(|s| s.kind == SlotKind::Pos).count();
        for i in n_pos..slots.len() {
            let parent = &paths[i][..paths[i].len() - 1];
            slots[i].anchor = (0..n_pos)
                .find(|&j| paths[j].len() > parent.len() && paths[j].starts_with(parent))
                .map(|j| j as u16);
        }
        let key = (0..n_pos)
            .min_by_key(|&j| self.preds[slots[j].pred as usize].load())
            .unwrap_or(0);
        if n_pos == 0 {
            self.always.push(c);
        }
        let complex = paths
            .iter()
            .any(|a| paths.iter().any(|b| b.len() > a.len() && b.starts_with(a)));
        self.hot.push(Hot {
            rule,
            live: true,
            simple: !complex && n_pos == slots.len(),
        });
        self.conjs.push(Conj {
            rule,
            slots,
            n_pos: n_pos as u32,
            key: key as u16,
            live: true,
            complex,
        });
        if n_pos > 0 {
            let p = self.conjs[c as usize].slots[key].pred;
            let other = self.other_pred(c, key);
            // (With more than two positive leaves the others are checked in `run`.)
            let fast = single && self.hot[c as usize].simple && n_pos <= 2;
            let touch = Touch {
                conj: c,
                other,
                rule,
                fast,
                more: false,
            };
            if n_pos == 2 {
                self.preds[p as usize].pair_users.push(touch);
                let k = pair_key(p, other);
                self.pairs.entry(k).or_default().push(Touch { other: NONE, ..touch });
                self.sync_pair(k);
                self.first_user[p as usize].partners |= pair_bit(other);
                self.first_user[other as usize].partners |= pair_bit(p);
                self.sync_first(p);
            } else {
                self.preds[p as usize].users.push(touch);
                self.sync_first(p);
            }
            let n = self.preds[p as usize].load();
            if n >= 16 && n.is_power_of_two() {
                self.rekey(p);
            }
        }
        c
    }

    /// Moves the conjunctions keyed on `p` to a less crowded predicate of theirs, if any.
    fn rekey(&mut self, p: PredId) {
        let mut users = std::mem::take(&mut self.preds[p as usize].users);
        users.append(&mut std::mem::take(&mut self.preds[p as usize].pair_users));
        let mut kept = 0usize;
        for t in users {
            let c = t.conj;
            let conj = &self.conjs[c as usize];
            let pair = conj.n_pos == 2;
            let best = (0..conj.n_pos as usize)
                .filter(|&j| conj.slots[j].pred != p)
                .min_by_key(|&j| self.preds[conj.slots[j].pred as usize].load());
            let (q, other) = match best {
                Some(j) if self.preds[conj.slots[j].pred as usize].load() < kept => {
                    self.conjs[c as usize].key = j as u16;
                    (self.conjs[c as usize].slots[j].pred, self.other_pred(c, j))
                }
                _ => {
                    kept += 1;
                    (p, t.other)
                }
            };
            let t = Touch { other, ..t };
            if pair {
                self.preds[q as usize].pair_users.push(t);
            } else {
                self.preds[q as usize].users.push(t);
            }
            self.sync_first(q);
        }
        self.sync_first(p);
    }

    fn sync_first(&mut self, p: PredId) {
        let pred = &self.preds[p as usize];
        let hot = &mut self.first_user[p as usize];
        hot.first = match pred.users.first() {
            Some(t) => Touch {
                more: pred.users.len() > 1,
                ..*t
            },
            None => NO_USER,
        };
        hot.walk = pred.pair_users.len() as u32;
    }

    fn sync_pair(&mut self, k: (PredId, PredId)) {
        match self.pairs.get(&k) {
            Some(v) if !v.is_empty() => {
                self.pair_first.insert(
                    k,
                    Touch {
                        more: v.len() > 1,
                        ..v[0]
                    },
                );
            }
            _ => {
                self.pair_first.remove(&k);
            }
        }
    }

    /// The `users` companion of conjunction `c` keyed on slot `key`.
    fn other_pred(&self, c: u32, key: usize) -> PredId {
        let conj = &self.conjs[c as usize];
        match conj.n_pos {
            1 => NONE,
            2 => conj.slots[1 - key].pred,
            _ => MANY,
        }
    }

    fn drop_conj(&mut self, c: u32) {
        let conj = &mut self.conjs[c as usize];
        conj.live = false;
        self.hot[c as usize].live = false;
        let slots = std::mem::take(&mut conj.slots);
        for s in &slots {
            if s.pred != NONE {
                self.preds[s.pred as usize].users.retain(|t| t.conj != c);
                self.preds[s.pred as usize].pair_users.retain(|t| t.conj != c);
                self.sync_first(s.pred);
                self.release_pred(s.pred);
            }
            if s.presence != NONE {
                self.release_pred(s.presence);
            }
        }
        self.always.retain(|&a| a != c);
        if self.conjs[c as usize].n_pos == 2 {
            let k = pair_key(slots[0].pred, slots[1].pred);
            if let Some(v) = self.pairs.get_mut(&k) {
                v.retain(|t| t.conj != c);
                if v.is_empty() {
                    self.pairs.remove(&k);
                }
            }
            self.sync_pair(k);
        }
        self.dead_conjs += 1;
    }

    fn run(&self, event: &[u8], s: &mut Scratch, bufs: &mut ScanBuffers, out: &mut Vec<K>) -> Result<(), EventError> {
        s.begin(self);
        let first = event.iter().find(|c| !matches!(c, b' ' | b'\n' | b'\r' | b'\t'));
        if first != Some(&b'{') {
            // Not an object: no field exists. Rare enough to ask the reference every rule.
            let value = parse(event)?;
            for r in self.rules.iter().flatten() {
                if r.pattern.matches(&value) {
                    out.push(r.key.clone());
                }
            }
            out.sort();
            return Ok(());
        }
        {
            let mut sink = EventSink { m: self, s: &mut *s };
            scan::scan(&self.trie, event, bufs, &mut sink)?;
        }
        let gen = s.gen;
        // Two-leaf conjunctions: probe the pairs of hit predicates, or walk the lists of the
        // hit predicates, whichever is less work for this event.
        // Only predicates in some pair are listed, with their partner bits: a pair is probed
        // only when each side has the other's bit.
        let h = s.hit_preds.len();
        let walk: usize = s.hit_preds.iter().map(|&(_, _, w)| w as usize).sum();
        if walk > 0 {
            if h * (h - 1) / 2 < walk {
                for i in 0..h {
                    let (p, pp, _) = s.hit_preds[i];
                    let bp = pair_bit(p);
                    for j in i + 1..h {
                        let (q, qp, _) = s.hit_preds[j];
                        if pp & pair_bit(q) == 0 || qp & bp == 0 {
                            continue;
                        }
                        let k = pair_key(p, q);
                        if let Some(&t) = self.pair_first.get(&k) {
                            s.touched.push(t);
                            if t.more {
                                s.touched.extend_from_slice(&self.pairs[&k][1..]);
                            }
                        }
                    }
                }
            } else {
                for i in 0..h {
                    let (p, _, w) = s.hit_preds[i];
                    if w > 0 {
                        s.touched.extend_from_slice(&self.preds[p as usize].pair_users);
                    }
                }
            }
        }
        let mut value: Option<serde_json::Value> = None;
        let n_touched = s.touched.len();
        for t in 0..n_touched + self.always.len() {
            let (c, other) = if t < n_touched {
                let t = s.touched[t];
                if t.other < MANY && s.head(t.other) == NONE {
                    continue;
                }
                if t.fast && !s.any_trail && !s.duplicate_keys {
                    // Every positive leaf hit, nothing inside an array, the rule's only
                    // conjunction: a match, and the only one of this rule.
                    out.push(self.keys[t.rule as usize].clone().expect("indexed rules are live"));
                    continue;
                }
                (t.conj, t.other)
            } else {
                (self.always[t - n_touched], MANY)
            };
            let hot = self.hot[c as usize];
            if !hot.live || s.rule_gen[hot.rule as usize] == gen {
                continue;
            }
            if hot.simple && other != MANY && !s.any_trail && !s.duplicate_keys {
                s.rule_gen[hot.rule as usize] = gen;
                out.push(self.keys[hot.rule as usize].clone().expect("live rule"));
                continue;
            }
            let conj = &self.conjs[c as usize];
            if other == MANY
                && !conj.slots[..conj.n_pos as usize]
                    .iter()
                    .all(|slot| s.head(slot.pred) != NONE)
            {
                continue;
            }
            let verdict = if conj.complex || s.duplicate_keys {
                Verdict::Unknown
            } else if s.any_trail || conj.n_pos as usize != conj.slots.len() {
                s.chosen.clear();
                s.steps = 0;
                self.search(conj, 0, s)
            } else {
                Verdict::Yes
            };
            let rule = self.rules[conj.rule as usize]
                .as_ref()
                .expect("live conjunctions have rules");
            match verdict {
                Verdict::Yes => {
                    s.rule_gen[conj.rule as usize] = gen;
                    out.push(rule.key.clone());
                }
                Verdict::No => {}
                Verdict::Unknown => {
                    #[cfg(test)]
                    tests::FALLBACKS.with(|c| c.set(c.get() + 1));
                    s.rule_gen[conj.rule as usize] = gen;
                    if value.is_none() {
                        value = Some(parse(event)?);
                    }
                    if rule.pattern.matches(value.as_ref().expect("just parsed")) {
                        out.push(rule.key.clone());
                    }
                }
            }
        }
        if out.len() > 1 {
            out.sort();
        }
        Ok(())
    }

    /// Whether the slots from `i` on can be satisfied consistently with the hits chosen for the
    /// slots before (`s.chosen`).
    fn search(&self, conj: &Conj, i: usize, s: &mut Scratch) -> Verdict {
        let Some(slot) = conj.slots.get(i) else {
            return Verdict::Yes;
        };
        if slot.kind != SlotKind::Absent {
            let mut h = s.head(slot.pred);
            while h != NONE {
                s.steps += 1;
                if s.steps > SEARCH_BUDGET {
                    // Many array elements and no consistent choice found quickly: the
                    // reference's tree walk does not multiply the alternatives out.
                    return Verdict::Unknown;
                }
                if self.consistent_with_chosen(h, s) {
                    s.chosen.push(h);
                    let v = self.search(conj, i + 1, s);
                    s.chosen.pop();
                    if v != Verdict::No {
                        return v;
                    }
                }
                h = s.hits[h as usize].next;
            }
        }
        if slot.kind == SlotKind::Pos {
            return Verdict::No;
        }
        match self.absent(slot, s) {
            Verdict::Yes => {
                s.chosen.push(NONE);
                let v = self.search(conj, i + 1, s);
                s.chosen.pop();
                v
            }
            v => v,
        }
    }

    fn consistent_with_chosen(&self, h: u32, s: &Scratch) -> bool {
        let t = s.trail(h);
        if t.is_empty() {
            return true;
        }
        s.chosen.iter().all(|&c| c == NONE || consistent(t, s.trail(c)))
    }

    /// Whether the slot's field has no value in the elements chosen so far.
    ///
    /// As the reference defines it, an element whose value at the field is not a scalar (an
    /// object, or an array holding an object or nothing) also counts as absent.
    fn absent(&self, slot: &Slot, s: &Scratch) -> Verdict {
        let gen = s.gen;
        let parents_plain = slot.parents.iter().all(|&n| s.node_gen[n as usize] != gen);
        let context: &[ArrayPos] = if parents_plain {
            &[]
        } else if s.dotted_keys {
            // A name with dots can reach the anchor's field or this one without going through
            // an array that the other path passes (`{"a": [{"w": 1}, {}], "a.z": 0}`): the
            // anchor's trail need not list the arrays above this field. Left to the reference.
            return Verdict::Unknown;
        } else if let Some(a) = slot.anchor {
            s.trail(s.chosen[a as usize])
        } else {
            // An array above the field that no positive leaf pins down: any element may be
            // chosen, jointly with the other absence leaves. Left to the reference.
            return Verdict::Unknown;
        };
        let mut h = s.head(slot.presence);
        while h != NONE {
            if consistent(s.trail(h), context) {
                // A value there; unless the field is an array that may also hold an object or
                // nothing, it is present.
                return if s.node_gen[slot.node as usize] == gen {
                    Verdict::Unknown
                } else {
                    Verdict::No
                };
            }
            h = s.hits[h as usize].next;
        }
        Verdict::Yes
    }
}

fn pair_key(a: PredId, b: PredId) -> (PredId, PredId) {
    (a.min(b), a.max(b))
}

impl Pred {
    /// How many conjunctions are keyed here.
    fn load(&self) -> usize {
        self.users.len() + self.pair_users.len()
    }
}

/// Whether two trails can be taken together: where they pass through the same array, they use
/// the same element.
#[inline]
fn consistent(a: &[ArrayPos], b: &[ArrayPos]) -> bool {
    for (x, y) in a.iter().zip(b) {
        if x.array != y.array {
            return true;
        }
        if x.index != y.index {
            return false;
        }
    }
    true
}

fn parse(event: &[u8]) -> Result<serde_json::Value, EventError> {
    serde_json::from_slice(event).map_err(|e| EventError::new(e.to_string()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Yes,
    No,
    /// The machine cannot tell cheaply; ask the reference evaluator.
    Unknown,
}

#[derive(Debug, Clone, Copy)]
struct Hit {
    next: u32,
    trail_start: u32,
    trail_len: u32,
}

/// Per-thread, per-event state, stamped with `gen` so nothing is cleared between events.
#[derive(Debug, Default)]
struct Scratch {
    gen: u32,
    found: Vec<PredId>,
    hits: Vec<Hit>,
    trails: Vec<ArrayPos>,
    any_trail: bool,
    /// The event repeats a used key in one object: the values the scanner saw are more than
    /// a parser keeps (the last), so every candidate is left to the reference.
    duplicate_keys: bool,
    /// A name with dots led to a used node: a node's values may come from several places of
    /// the event (see `Machine::absent`).
    dotted_keys: bool,
    /// The predicates hit by the event with the head of their hit list, while there are at
    /// most `FEW` (a short list in cache beats a table of every predicate); past that,
    /// `pred_state` (`dense`).
    few: Vec<(PredId, u32)>,
    dense: bool,
    /// Per predicate: the event stamp of its first hit and the head of its hit list (when
    /// `dense`).
    pred_state: Vec<(u32, u32)>,
    node_gen: Vec<u32>,
    rule_gen: Vec<u32>,
    touched: Vec<Touch>,
    /// Predicates hit by the event that are in some pair, each once, with their
    /// `PredHot::partners` and `walk`.
    hit_preds: Vec<(PredId, u64, u32)>,
    chosen: Vec<u32>,
    /// Hits tried by the current `search`.
    steps: u32,
}

impl Scratch {
    fn begin<K>(&mut self, m: &Machine<K>) {
        if self.gen == u32::MAX {
            for v in [&mut self.node_gen, &mut self.rule_gen] {
                v.iter_mut().for_each(|x| *x = 0);
            }
            self.pred_state.iter_mut().for_each(|x| x.0 = 0);
            self.gen = 0;
        }
        self.gen += 1;
        if self.pred_state.len() < m.preds.len() {
            self.pred_state.resize(m.preds.len(), (0, NONE));
        }
        grow(&mut self.node_gen, m.trie.nodes.len());
        grow(&mut self.rule_gen, m.rules.len());
        self.hits.clear();
        self.trails.clear();
        self.touched.clear();
        self.hit_preds.clear();
        self.few.clear();
        self.dense = false;
        self.any_trail = false;
        self.duplicate_keys = false;
        self.dotted_keys = false;
    }

    /// The head of predicate `p`'s hit list, `NONE` when the event has not hit it.
    #[inline]
    fn head(&self, p: PredId) -> u32 {
        if self.dense {
            let (g, h) = self.pred_state[p as usize];
            if g == self.gen {
                h
            } else {
                NONE
            }
        } else {
            self.few.iter().find(|e| e.0 == p).map_or(NONE, |e| e.1)
        }
    }

    /// Makes hit `h` the head of `p`'s hit list: whether it is `p`'s first hit in the event,
    /// and the previous head.
    #[inline]
    fn record(&mut self, p: PredId, h: u32) -> (bool, u32) {
        if !self.dense {
            if let Some(e) = self.few.iter_mut().find(|e| e.0 == p) {
                return (false, std::mem::replace(&mut e.1, h));
            }
            if self.few.len() < FEW {
                self.few.push((p, h));
                return (true, NONE);
            }
            self.dense = true;
            for &(q, head) in &self.few {
                self.pred_state[q as usize] = (self.gen, head);
            }
        }
        let st = &mut self.pred_state[p as usize];
        if st.0 == self.gen {
            (false, std::mem::replace(&mut st.1, h))
        } else {
            *st = (self.gen, h);
            (true, NONE)
        }
    }

    #[inline]
    fn trail(&self, h: u32) -> &[ArrayPos] {
        let hit = &self.hits[h as usize];
        &self.trails[hit.trail_start as usize..(hit.trail_start + hit.trail_len) as usize]
    }
}

fn grow(v: &mut Vec<u32>, n: usize) {
    if v.len() < n {
        v.resize(n, 0);
    }
}

struct EventSink<'a, K> {
    m: &'a Machine<K>,
    s: &'a mut Scratch,
}

impl<K> Sink for EventSink<'_, K> {
    #[inline]
    fn scalar(&mut self, _node: u32, field: u32, value: Scalar<'_>, trail: &[ArrayPos]) {
        let s = &mut *self.s;
        let m = self.m;
        s.found.clear();
        m.fields[field as usize].lookup(value, &mut s.found);
        if s.found.is_empty() {
            return;
        }
        let trail_start = s.trails.len() as u32;
        if !trail.is_empty() {
            s.trails.extend_from_slice(trail);
            s.any_trail = true;
        }
        for k in 0..s.found.len() {
            let p = s.found[k] as usize;
            let h = s.hits.len() as u32;
            let (first_hit, next) = s.record(p as PredId, h);
            if first_hit {
                let hot = m.first_user[p];
                let first = hot.first;
                if first.conj != NONE {
                    s.touched.push(first);
                    if first.more {
                        s.touched.extend_from_slice(&m.preds[p].users[1..]);
                    }
                }
                if hot.partners != 0 {
                    s.hit_preds.push((p as PredId, hot.partners, hot.walk));
                }
            }
            s.hits.push(Hit {
                next,
                trail_start,
                trail_len: trail.len() as u32,
            });
        }
    }

    fn duplicate_key(&mut self) {
        self.s.duplicate_keys = true;
    }

    fn dotted_key(&mut self) {
        self.s.dotted_keys = true;
    }

    #[inline]
    fn odd_at(&mut self, node: u32) {
        self.s.node_gen[node as usize] = self.s.gen;
    }
}

#[cfg(test)]
mod tests;
