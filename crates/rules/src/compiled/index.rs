//! Per-field value indexes: given one scalar of the event at a field, which predicates (a
//! predicate is one `(path, matchers)` leaf of some pattern, shared by identical leaves) hold.
//!
//! Exact strings and numbers, prefixes, suffixes and `equals-ignore-case` are hash lookups
//! (one per distinct prefix/suffix length), so their cost does not grow with the number of
//! rules. Wildcards are found by their leading literal (a prefix lookup) or, starting with
//! `*`, by their trailing one (a suffix lookup), and then tested; numeric ranges by a binary
//! search over their sorted end points ([`NumIndex`]). Wildcards that start and end with `*`,
//! `anything-but` and `cidr` are tested one by one per field.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::scan::{text, Scalar};
use crate::pattern::{AnythingBut, Cidr, IgnoreCase, Literal, Matcher, NumericOp, Wildcard, NUMERIC_LIMIT};

pub(crate) type PredId = u32;

/// A fast non-cryptographic hash for the value indexes (keys come from patterns, which the
/// bus owner writes; lookups are by event values, which never insert).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

const MUL: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            h = (h.rotate_left(23) ^ w).wrapping_mul(MUL);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            h = (h.rotate_left(23) ^ u64::from_le_bytes(buf)).wrapping_mul(MUL);
        }
        self.0 = h;
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(23) ^ n).wrapping_mul(MUL);
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        x ^ (x >> 33)
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// The predicates of one key: the first inline (most keys have one), the rest in
/// `LenMap::extra`.
#[derive(Debug, Clone, Copy)]
struct Entry {
    first: PredId,
    extra: u32,
}

const NO_EXTRA: u32 = u32::MAX;

/// A key of up to 15 bytes packed into two words with its length (no pointer to chase).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ShortKey(pub(crate) u64, pub(crate) u64);

///
/// The bytes little-endian in the two words, zero-padded, the length in the last byte. Built
/// in registers from (possibly overlapping) loads: a copy into a buffer read back as words
/// costs a call to memcpy and a store-forwarding stall, on every lookup.
#[inline]
pub(crate) fn short_key(b: &[u8]) -> Option<ShortKey> {
    let n = b.len();
    let (lo, hi) = match n {
        0 => (0, 0),
        1..=3 => {
            // First, middle and last byte (overlapping for n < 3: the same byte, same place).
            let lo = u64::from(b[0]) | u64::from(b[n / 2]) << (8 * (n / 2)) | u64::from(b[n - 1]) << (8 * (n - 1));
            (lo, 0)
        }
        4..=7 => {
            let first = u64::from(u32::from_le_bytes(b[..4].try_into().expect("4 bytes")));
            let last = u64::from(u32::from_le_bytes(b[n - 4..].try_into().expect("4 bytes")));
            (first | last << (8 * (n - 4)), 0)
        }
        8 => (u64::from_le_bytes(b.try_into().expect("8 bytes")), 0),
        9..=15 => {
            let first = u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
            let last = u64::from_le_bytes(b[n - 8..].try_into().expect("8 bytes"));
            (first, last >> (8 * (16 - n)))
        }
        _ => return None,
    };
    Some(ShortKey(lo, hi | (n as u64) << 56))
}

/// `short_key` of the ASCII lower-case of the bytes: `A`-`Z` become `a`-`z` in both words
/// (eight bytes at a time), everything else (the zero padding, the length byte, non-ASCII bytes)
/// stays.
#[inline]
fn fold_key(k: ShortKey) -> ShortKey {
    #[inline]
    fn lower(w: u64) -> u64 {
        const ONES: u64 = 0x0101_0101_0101_0101;
        let heptets = w & (0x7F * ONES);
        // The high bit of each byte: its low seven bits are at least `A`, more than `Z`.
        let ge_a = heptets.wrapping_add((0x80 - u64::from(b'A')) * ONES);
        let gt_z = heptets.wrapping_add((0x7F - u64::from(b'Z')) * ONES);
        let upper = (ge_a ^ gt_z) & !w & (0x80 * ONES);
        w | (upper >> 2)
    }
    ShortKey(lower(k.0), lower(k.1))
}

/// Hash map from byte strings to the predicates they trigger, plus the distinct key lengths
/// (for prefix and suffix lookups).
#[derive(Debug, Clone, Default)]
struct LenMap {
    lens: Vec<usize>,
    short: FastMap<ShortKey, Entry>,
    long: FastMap<Box<[u8]>, Entry>,
    extra: Vec<Vec<PredId>>,
    /// While every key is short and there are at most `LINEAR_KEYS`: the keys, compared one
    /// by one (a few compares of words cost less than hashing the value, or each of its
    /// prefixes, and probing the table). Kept in step with `short` by `sync_linear`.
    linear: Option<Vec<LinearKey>>,
}

const LINEAR_KEYS: usize = 8;

/// A key of `LenMap::linear`, with the masks that keep a value's first `len` bytes.
#[derive(Debug, Clone, Copy)]
struct LinearKey {
    key: ShortKey,
    lo_mask: u64,
    hi_mask: u64,
    entry: Entry,
}

impl LinearKey {
    #[inline(always)]
    fn len(&self) -> usize {
        (self.key.1 >> 56) as usize
    }

    /// Whether the key is the first `len` bytes of the value whose first (up to) 15 bytes
    /// are `head` (packed as by `short_key`).
    #[inline(always)]
    fn is_prefix_of(&self, head: ShortKey) -> bool {
        head.0 & self.lo_mask == self.key.0 && (head.1 & self.hi_mask) | (self.key.1 & (0xFF << 56)) == self.key.1
    }
}

/// The packed first (up to) 15 bytes of `s`, to compare with keys' masks.
#[inline(always)]
fn head_key(s: &[u8]) -> ShortKey {
    short_key(&s[..s.len().min(15)]).expect("at most 15 bytes")
}

impl LenMap {
    fn insert(&mut self, key: &[u8], pred: PredId) {
        let entry = match short_key(key) {
            Some(k) => self.short.get_mut(&k),
            None => self.long.get_mut(key),
        };
        match entry {
            Some(e) if e.first == pred => {}
            Some(e) => {
                if e.extra == NO_EXTRA {
                    e.extra = self.extra.len() as u32;
                    self.extra.push(Vec::new());
                }
                let v = &mut self.extra[e.extra as usize];
                if !v.contains(&pred) {
                    v.push(pred);
                }
            }
            None => {
                let e = Entry {
                    first: pred,
                    extra: NO_EXTRA,
                };
                match short_key(key) {
                    Some(k) => {
                        self.short.insert(k, e);
                    }
                    None => {
                        self.long.insert(key.into(), e);
                    }
                }
            }
        }
        if let Err(at) = self.lens.binary_search(&key.len()) {
            self.lens.insert(at, key.len());
        }
        self.sync_linear();
    }

    fn sync_linear(&mut self) {
        self.linear = (self.long.is_empty() && self.short.len() <= LINEAR_KEYS).then(|| {
            let mut keys: Vec<LinearKey> = self
                .short
                .iter()
                .map(|(&key, &entry)| {
                    let len = (key.1 >> 56) as u32;
                    let bytes = |n: u32| if n >= 8 { u64::MAX } else { (1u64 << (8 * n)) - 1 };
                    LinearKey {
                        key,
                        lo_mask: bytes(len),
                        hi_mask: bytes(len.saturating_sub(8)) & !(0xFF << 56),
                        entry,
                    }
                })
                .collect();
            keys.sort_by_key(|k| (k.len(), k.key.0, k.key.1));
            keys
        });
    }

    fn remove(&mut self, pred: PredId) {
        let extra = &mut self.extra;
        let fix = |e: &mut Entry| -> bool {
            if e.extra != NO_EXTRA {
                extra[e.extra as usize].retain(|&p| p != pred);
            }
            if e.first == pred {
                match (e.extra != NO_EXTRA).then(|| extra[e.extra as usize].pop()).flatten() {
                    Some(p) => e.first = p,
                    None => return false,
                }
            }
            true
        };
        let mut lens: Vec<usize> = Vec::new();
        let mut fix = fix;
        self.short.retain(|k, e| {
            let keep = fix(e);
            if keep {
                lens.push((k.1 >> 56) as usize);
            }
            keep
        });
        self.long.retain(|k, e| {
            let keep = fix(e);
            if keep {
                lens.push(k.len());
            }
            keep
        });
        lens.sort_unstable();
        lens.dedup();
        self.lens = lens;
        self.sync_linear();
    }

    fn is_empty(&self) -> bool {
        self.short.is_empty() && self.long.is_empty()
    }

    #[inline(always)]
    fn push(&self, e: &Entry, out: &mut Vec<PredId>) {
        out.push(e.first);
        if e.extra != NO_EXTRA {
            out.extend_from_slice(&self.extra[e.extra as usize]);
        }
    }

    /// The keys equal to `k` (or, `folded`, to its ASCII lower case).
    #[inline(always)]
    fn linear_get(&self, keys: &[LinearKey], k: Option<ShortKey>, folded: bool, out: &mut Vec<PredId>) {
        if let Some(k) = k {
            let k = if folded { fold_key(k) } else { k };
            for lk in keys {
                if lk.key == k {
                    self.push(&lk.entry, out);
                }
            }
        }
    }

    /// The keys that are prefixes of `s` (or of its ASCII lower case).
    #[inline(always)]
    fn linear_prefixes(&self, keys: &[LinearKey], s: &[u8], folded: bool, out: &mut Vec<PredId>) {
        let head = head_key(s);
        let head = if folded { fold_key(head) } else { head };
        for lk in keys {
            if lk.len() > s.len() {
                break;
            }
            if lk.is_prefix_of(head) {
                self.push(&lk.entry, out);
            }
        }
    }

    /// The keys that are suffixes of `s` (or of its ASCII lower case).
    #[inline(always)]
    fn linear_suffixes(&self, keys: &[LinearKey], s: &[u8], folded: bool, out: &mut Vec<PredId>) {
        for lk in keys {
            let l = lk.len();
            if l > s.len() {
                break;
            }
            let k = short_key(&s[s.len() - l..]).expect("at most 15 bytes");
            let k = if folded { fold_key(k) } else { k };
            if lk.key == k {
                self.push(&lk.entry, out);
            }
        }
    }

    #[inline(always)]
    fn get(&self, s: &[u8], out: &mut Vec<PredId>) {
        let e = match short_key(s) {
            Some(k) => self.short.get(&k),
            None => self.long.get(s),
        };
        if let Some(e) = e {
            out.push(e.first);
            if e.extra != NO_EXTRA {
                out.extend_from_slice(&self.extra[e.extra as usize]);
            }
        }
    }

    /// `get` for a map whose keys are ASCII lower-case and at most 15 bytes: whether `s` is a key
    /// in some mix of ASCII cases.
    #[inline(always)]
    fn get_folded(&self, s: &[u8], out: &mut Vec<PredId>) {
        if let Some(e) = short_key(s).and_then(|k| self.short.get(&fold_key(k))) {
            out.push(e.first);
            if e.extra != NO_EXTRA {
                out.extend_from_slice(&self.extra[e.extra as usize]);
            }
        }
    }

    #[inline(always)]
    fn exact_folded(&self, s: &[u8], out: &mut Vec<PredId>) {
        if let Some(keys) = &self.linear {
            return self.linear_get(keys, short_key(s), true, out);
        }
        if self.lens.binary_search(&s.len()).is_ok() {
            self.get_folded(s, out);
        }
    }

    #[inline(always)]
    fn prefixes_folded(&self, s: &[u8], out: &mut Vec<PredId>) {
        if let Some(keys) = &self.linear {
            return self.linear_prefixes(keys, s, true, out);
        }
        for &l in &self.lens {
            if l > s.len() {
                break;
            }
            self.get_folded(&s[..l], out);
        }
    }

    #[inline(always)]
    fn suffixes_folded(&self, s: &[u8], out: &mut Vec<PredId>) {
        if let Some(keys) = &self.linear {
            return self.linear_suffixes(keys, s, true, out);
        }
        for &l in &self.lens {
            if l > s.len() {
                break;
            }
            self.get_folded(&s[s.len() - l..], out);
        }
    }

    #[inline(always)]
    fn exact(&self, s: &[u8], out: &mut Vec<PredId>) {
        if let Some(keys) = &self.linear {
            return self.linear_get(keys, short_key(s), false, out);
        }
        if !self.lens.is_empty() {
            self.get(s, out);
        }
    }

    #[inline(always)]
    fn prefixes(&self, s: &[u8], out: &mut Vec<PredId>) {
        if let Some(keys) = &self.linear {
            return self.linear_prefixes(keys, s, false, out);
        }
        for &l in &self.lens {
            if l > s.len() {
                break;
            }
            self.get(&s[..l], out);
        }
    }

    #[inline(always)]
    fn suffixes(&self, s: &[u8], out: &mut Vec<PredId>) {
        if let Some(keys) = &self.linear {
            return self.linear_suffixes(keys, s, false, out);
        }
        for &l in &self.lens {
            if l > s.len() {
                break;
            }
            self.get(&s[s.len() - l..], out);
        }
    }
}

/// `anything-but` compiled: the set it rejects.
#[derive(Debug, Clone)]
enum Rejects {
    Values {
        strings: HashSet<Box<[u8]>, BuildHasherDefault<FastHasher>>,
        numbers: Vec<f64>,
        ips: Vec<IpAddr>,
    },
    Prefix(Vec<String>),
    Suffix(Vec<String>),
    EqualsIgnoreCase(Vec<IgnoreCase>),
    Wildcard(Vec<Wildcard>),
}

/// All predicates on one field path.
#[derive(Debug, Clone, Default)]
pub(crate) struct FieldIndex {
    /// Which of the parts below hold something (`F_*` bits): a lookup tests one word, not
    /// each part, before the parts a value could hit.
    flags: u32,
    strings: LenMap,
    numbers: FastMap<u64, Vec<PredId>>,
    trues: Vec<PredId>,
    falses: Vec<PredId>,
    nulls: Vec<PredId>,
    prefix: LenMap,
    suffix: LenMap,
    /// Ignore-case matchers whose pattern is ASCII and at most 15 bytes, by the pattern's ASCII
    /// lower case: for such a pattern [`IgnoreCase`] is an ASCII case folding (each character
    /// matches itself in either ASCII case, one byte for one byte), so a value matches exactly
    /// when its own ASCII lower case is the key.
    ic_equals: LenMap,
    ic_prefix: LenMap,
    ic_suffix: LenMap,
    /// The other ignore-case matchers, tested one by one ([`IgnoreCase`] is not a folding in
    /// general, so they have no key).
    ignore_case: Vec<(PredId, IcKind, IgnoreCase)>,
    /// `exists: true`: every scalar.
    any: Vec<PredId>,
    anything_but: Vec<(PredId, Rejects)>,
    numeric: Vec<(PredId, Vec<(NumericOp, f64)>)>,
    /// `numeric[..numeric_indexed]` are in `numeric_index`; the rest are tested one by one
    /// until there are as many of them as indexed ones (then the index is rebuilt).
    numeric_index: Option<NumIndex>,
    numeric_indexed: usize,
    wildcard: Vec<(PredId, Wildcard)>,
    /// Indexes into `wildcard` by the wildcard's leading literal (when it has one).
    wildcard_by_prefix: LenMap,
    /// Indexes into `wildcard` of those that start with `*`, by their trailing literal.
    wildcard_by_suffix: LenMap,
    /// Indexes into `wildcard` of those that start and end with `*`.
    wildcard_star: Vec<u32>,
    cidr: Vec<(PredId, Cidr)>,
    /// String literals that are IP addresses: they also match the same address written
    /// differently (an AWS quirk the reference keeps).
    ips: Vec<(PredId, IpAddr)>,
}

const F_ANY: u32 = 1;
const F_STRINGS: u32 = 1 << 1;
const F_PREFIX: u32 = 1 << 2;
const F_SUFFIX: u32 = 1 << 3;
const F_IC_EQUALS: u32 = 1 << 4;
const F_IC_PREFIX: u32 = 1 << 5;
const F_IC_SUFFIX: u32 = 1 << 6;
const F_IGNORE_CASE: u32 = 1 << 7;
const F_WILDCARD: u32 = 1 << 8;
const F_NET: u32 = 1 << 9;
const F_NUMBERS: u32 = 1 << 10;
const F_NUMERIC: u32 = 1 << 11;
const F_ANYTHING_BUT: u32 = 1 << 12;

/// How an ignore-case matcher meets the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IcKind {
    Equals,
    Prefix,
    Suffix,
}

fn num_key(v: f64) -> u64 {
    if v == 0.0 {
        0f64.to_bits()
    } else {
        v.to_bits()
    }
}

fn push_unique(v: &mut Vec<PredId>, p: PredId) {
    if !v.contains(&p) {
        v.push(p);
    }
}

impl FieldIndex {
    /// Registers `matcher` as triggering `pred`. `Exists(false)` is not a value test and is
    /// handled by the caller.
    pub(crate) fn insert(&mut self, m: &Matcher, pred: PredId) {
        self.insert_matcher(m, pred);
        self.refresh_flags();
    }

    fn refresh_flags(&mut self) {
        let parts = [
            (F_ANY, !self.any.is_empty()),
            (F_STRINGS, !self.strings.is_empty()),
            (F_PREFIX, !self.prefix.is_empty()),
            (F_SUFFIX, !self.suffix.is_empty()),
            (F_IC_EQUALS, !self.ic_equals.is_empty()),
            (F_IC_PREFIX, !self.ic_prefix.is_empty()),
            (F_IC_SUFFIX, !self.ic_suffix.is_empty()),
            (F_IGNORE_CASE, !self.ignore_case.is_empty()),
            (F_WILDCARD, !self.wildcard.is_empty()),
            (F_NET, !self.cidr.is_empty() || !self.ips.is_empty()),
            (F_NUMBERS, !self.numbers.is_empty()),
            (F_NUMERIC, !self.numeric.is_empty()),
            (F_ANYTHING_BUT, !self.anything_but.is_empty()),
        ];
        self.flags = parts.iter().filter(|p| p.1).fold(0, |f, p| f | p.0);
    }

    fn insert_matcher(&mut self, m: &Matcher, pred: PredId) {
        match m {
            Matcher::Exact(lit) => match lit {
                Literal::String(s) => {
                    self.strings.insert(s.as_bytes(), pred);
                    if let Some(ip) = parse_ip(s) {
                        self.ips.push((pred, ip));
                    }
                }
                Literal::Number(n) => push_unique(self.numbers.entry(num_key(n.value)).or_default(), pred),
                Literal::Bool(true) => push_unique(&mut self.trues, pred),
                Literal::Bool(false) => push_unique(&mut self.falses, pred),
                Literal::Null => push_unique(&mut self.nulls, pred),
            },
            Matcher::Prefix {
                value,
                ignore_case: false,
            } => self.prefix.insert(value.as_bytes(), pred),
            Matcher::Prefix {
                value,
                ignore_case: true,
            } => self.insert_ignore_case(IcKind::Prefix, value, pred),
            Matcher::Suffix {
                value,
                ignore_case: false,
            } => self.suffix.insert(value.as_bytes(), pred),
            Matcher::Suffix {
                value,
                ignore_case: true,
            } => self.insert_ignore_case(IcKind::Suffix, value, pred),
            Matcher::EqualsIgnoreCase(s) => self.insert_ignore_case(IcKind::Equals, s, pred),
            Matcher::Wildcard(w) => {
                self.wildcard.push((pred, w.clone()));
                self.index_wildcard(self.wildcard.len() - 1);
            }
            Matcher::AnythingBut(ab) => {
                let r = match ab {
                    AnythingBut::Values(vs) => {
                        let mut strings = HashSet::default();
                        let mut numbers = Vec::new();
                        let mut ips = Vec::new();
                        for v in vs {
                            match v {
                                Literal::String(s) => {
                                    strings.insert(s.as_bytes().into());
                                    ips.extend(parse_ip(s));
                                }
                                Literal::Number(n) => numbers.push(n.value),
                                // Not produced by the parser; a literal never rejected.
                                Literal::Bool(_) | Literal::Null => {}
                            }
                        }
                        Rejects::Values { strings, numbers, ips }
                    }
                    AnythingBut::Prefix(v) => Rejects::Prefix(v.clone()),
                    AnythingBut::Suffix(v) => Rejects::Suffix(v.clone()),
                    AnythingBut::EqualsIgnoreCase(v) => {
                        Rejects::EqualsIgnoreCase(v.iter().map(|s| IgnoreCase::new(s)).collect())
                    }
                    AnythingBut::Wildcard(v) => Rejects::Wildcard(v.clone()),
                };
                self.anything_but.push((pred, r));
            }
            Matcher::Numeric(conds) => {
                self.numeric.push((pred, conds.clone()));
                let pending = self.numeric.len() - self.numeric_indexed;
                if pending > 8 && pending > self.numeric_indexed {
                    self.index_numeric();
                }
            }
            Matcher::Exists(true) => push_unique(&mut self.any, pred),
            Matcher::Exists(false) => {}
            Matcher::Cidr(c) => self.cidr.push((pred, *c)),
        }
    }

    fn insert_ignore_case(&mut self, kind: IcKind, pattern: &str, pred: PredId) {
        if pattern.is_ascii() && pattern.len() <= 15 {
            let map = match kind {
                IcKind::Equals => &mut self.ic_equals,
                IcKind::Prefix => &mut self.ic_prefix,
                IcKind::Suffix => &mut self.ic_suffix,
            };
            map.insert(pattern.to_ascii_lowercase().as_bytes(), pred);
        } else {
            self.ignore_case.push((pred, kind, IgnoreCase::new(pattern)));
        }
    }

    fn index_numeric(&mut self) {
        self.numeric_index = None;
        self.numeric_indexed = 0;
        if self.numeric.len() > 8 {
            if let Some(ix) = NumIndex::build(&self.numeric) {
                self.numeric_index = Some(ix);
                self.numeric_indexed = self.numeric.len();
            }
        }
    }

    fn index_wildcard(&mut self, i: usize) {
        let segments = &self.wildcard[i].1.segments;
        let (first, last) = (&segments[0], &segments[segments.len() - 1]);
        if !first.is_empty() {
            self.wildcard_by_prefix.insert(first.as_bytes(), i as u32);
        } else if !last.is_empty() {
            self.wildcard_by_suffix.insert(last.as_bytes(), i as u32);
        } else {
            self.wildcard_star.push(i as u32);
        }
    }

    /// Forgets `pred` everywhere.
    pub(crate) fn remove(&mut self, pred: PredId) {
        for m in [
            &mut self.strings,
            &mut self.prefix,
            &mut self.suffix,
            &mut self.ic_equals,
            &mut self.ic_prefix,
            &mut self.ic_suffix,
        ] {
            if !m.is_empty() {
                m.remove(pred);
            }
        }
        self.numbers.retain(|_, v| {
            v.retain(|&p| p != pred);
            !v.is_empty()
        });
        for v in [&mut self.trues, &mut self.falses, &mut self.nulls, &mut self.any] {
            v.retain(|&p| p != pred);
        }
        self.anything_but.retain(|(p, _)| *p != pred);
        if self.numeric.iter().any(|(p, _)| *p == pred) {
            self.numeric.retain(|(p, _)| *p != pred);
            self.index_numeric();
        }
        if self.wildcard.iter().any(|(p, _)| *p == pred) {
            self.wildcard.retain(|(p, _)| *p != pred);
            self.wildcard_by_prefix = LenMap::default();
            self.wildcard_by_suffix = LenMap::default();
            self.wildcard_star.clear();
            for i in 0..self.wildcard.len() {
                self.index_wildcard(i);
            }
        }
        self.cidr.retain(|(p, _)| *p != pred);
        self.ips.retain(|(p, _)| *p != pred);
        self.ignore_case.retain(|(p, _, _)| *p != pred);
        self.refresh_flags();
    }

    /// Appends to `out` the predicates that `value` satisfies (possibly with repeats).
    #[inline]
    pub(crate) fn lookup(&self, value: Scalar<'_>, out: &mut Vec<PredId>) {
        // (Small copies are guarded: an empty or one-element `extend_from_slice` still costs a
        // call to memcpy, on every scalar.)
        let f = self.flags;
        if f & F_ANY != 0 {
            out.extend_from_slice(&self.any);
        }
        match value {
            Scalar::Str(b) => {
                if f & F_STRINGS != 0 {
                    self.strings.exact(b, out);
                }
                if f & F_PREFIX != 0 {
                    self.prefix.prefixes(b, out);
                }
                if f & F_SUFFIX != 0 {
                    self.suffix.suffixes(b, out);
                }
                if f & (F_IC_EQUALS | F_IC_PREFIX | F_IC_SUFFIX | F_IGNORE_CASE) != 0 {
                    self.ignore_case_lookup(b, out);
                }
                if f & F_WILDCARD != 0 {
                    self.wildcard_lookup(b, out);
                }
                if f & F_NET != 0 {
                    self.net_lookup(b, out);
                }
            }
            Scalar::Num(v) => {
                if f & F_NUMBERS != 0 {
                    if let Some(ps) = self.numbers.get(&num_key(v)) {
                        out.extend_from_slice(ps);
                    }
                }
                if f & F_NUMERIC != 0 && (-NUMERIC_LIMIT..=NUMERIC_LIMIT).contains(&v) {
                    if let Some(ix) = &self.numeric_index {
                        ix.lookup(v, out);
                    }
                    for (p, conds) in &self.numeric[self.numeric_indexed..] {
                        if conds.iter().all(|&(op, x)| op.holds(v, x)) {
                            out.push(*p);
                        }
                    }
                }
            }
            Scalar::Bool(true) => out.extend_from_slice(&self.trues),
            Scalar::Bool(false) => out.extend_from_slice(&self.falses),
            Scalar::Null => out.extend_from_slice(&self.nulls),
        }
        if f & F_ANYTHING_BUT != 0 {
            for (p, r) in &self.anything_but {
                if !rejects(r, value) {
                    out.push(*p);
                }
            }
        }
    }

    #[inline]
    fn ignore_case_lookup(&self, b: &[u8], out: &mut Vec<PredId>) {
        self.ic_equals.exact_folded(b, out);
        self.ic_prefix.prefixes_folded(b, out);
        self.ic_suffix.suffixes_folded(b, out);
        for (p, kind, ic) in &self.ignore_case {
            let hit = match kind {
                IcKind::Equals => ic.equals(b),
                IcKind::Prefix => ic.is_prefix_of(b),
                IcKind::Suffix => ic.is_suffix_of(b),
            };
            if hit {
                out.push(*p);
            }
        }
    }

    #[inline]
    fn wildcard_lookup(&self, b: &[u8], out: &mut Vec<PredId>) {
        let start = out.len();
        self.wildcard_by_prefix.prefixes(b, out);
        self.wildcard_by_suffix.suffixes(b, out);
        // `out[start..]` now holds candidate indexes into `wildcard`: test them and keep the
        // predicates of those that match, in place.
        let mut kept = start;
        for k in start..out.len() {
            let (p, w) = &self.wildcard[out[k] as usize];
            if wildcard_matches(&w.segments, b) {
                out[kept] = *p;
                kept += 1;
            }
        }
        out.truncate(kept);
        for &i in &self.wildcard_star {
            let (p, w) = &self.wildcard[i as usize];
            if wildcard_matches(&w.segments, b) {
                out.push(*p);
            }
        }
    }

    #[inline(never)]
    fn net_lookup(&self, b: &[u8], out: &mut Vec<PredId>) {
        if let Some(ip) = parse_ip(text(b)) {
            for (p, c) in &self.cidr {
                if cidr_contains(c, ip) {
                    out.push(*p);
                }
            }
            for (p, lit) in &self.ips {
                if *lit == ip {
                    out.push(*p);
                }
            }
        }
    }
}

/// Numeric ranges by piece of the number line: the sorted distinct end points split it into
/// pieces (each end point, and the open gaps around them), and each piece lists the ranges that
/// cover it. A lookup is one binary search.
#[derive(Debug, Clone)]
pub(crate) struct NumIndex {
    bounds: Vec<f64>,
    /// `2 * bounds.len() + 1` pieces: gap before `bounds[0]`, `bounds[0]`, gap, ...
    covers: Vec<Vec<PredId>>,
}

/// Past this many (piece, range) entries the ranges stay in a list (nested ranges by the
/// thousand would make the table quadratic).
const MAX_COVER: usize = 1 << 20;

impl NumIndex {
    fn build(ranges: &[(PredId, Vec<(NumericOp, f64)>)]) -> Option<NumIndex> {
        let intervals: Vec<(PredId, Interval)> = ranges.iter().map(|(p, c)| (*p, Interval::of(c))).collect();
        let mut bounds: Vec<f64> = intervals
            .iter()
            .flat_map(|(_, i)| [i.lo, i.hi])
            .filter(|x| x.is_finite())
            .collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup_by(|a, b| a == b);
        let mut covers = vec![Vec::new(); 2 * bounds.len() + 1];
        let at = |x: f64| bounds.partition_point(|&b| b < x);
        let mut total = 0;
        for (p, i) in &intervals {
            let first = if i.lo == f64::NEG_INFINITY {
                0
            } else {
                2 * at(i.lo) + if i.lo_incl { 1 } else { 2 }
            };
            let last = if i.hi == f64::INFINITY {
                2 * bounds.len()
            } else {
                2 * at(i.hi) + usize::from(i.hi_incl)
            };
            if first > last || i.lo > i.hi {
                continue;
            }
            total += last - first + 1;
            if total > MAX_COVER {
                return None;
            }
            for c in &mut covers[first..=last] {
                c.push(*p);
            }
        }
        Some(NumIndex { bounds, covers })
    }

    #[inline]
    fn lookup(&self, v: f64, out: &mut Vec<PredId>) {
        let i = self.bounds.partition_point(|&b| b < v);
        let piece = if self.bounds.get(i) == Some(&v) {
            2 * i + 1
        } else {
            2 * i
        };
        out.extend_from_slice(&self.covers[piece]);
    }
}

/// The numbers a list of and-ed numeric conditions accepts.
#[derive(Debug, Clone, Copy)]
struct Interval {
    lo: f64,
    lo_incl: bool,
    hi: f64,
    hi_incl: bool,
}

impl Interval {
    fn of(conds: &[(NumericOp, f64)]) -> Interval {
        let mut i = Interval {
            lo: f64::NEG_INFINITY,
            lo_incl: false,
            hi: f64::INFINITY,
            hi_incl: false,
        };
        for &(op, x) in conds {
            let (lower, upper) = match op {
                NumericOp::Eq => (Some(true), Some(true)),
                NumericOp::Gt => (Some(false), None),
                NumericOp::Ge => (Some(true), None),
                NumericOp::Lt => (None, Some(false)),
                NumericOp::Le => (None, Some(true)),
            };
            if let Some(incl) = lower {
                if x > i.lo || (x == i.lo && !incl) {
                    i.lo = x;
                    i.lo_incl = incl;
                }
            }
            if let Some(incl) = upper {
                if x < i.hi || (x == i.hi && !incl) {
                    i.hi = x;
                    i.hi_incl = incl;
                }
            }
        }
        i
    }
}

/// Whether `anything-but`'s inner test accepts `value` (then the matcher rejects it).
fn rejects(r: &Rejects, value: Scalar<'_>) -> bool {
    match (r, value) {
        (Rejects::Values { strings, ips, .. }, Scalar::Str(b)) => {
            strings.contains(b) || (!ips.is_empty() && parse_ip(text(b)).is_some_and(|ip| ips.contains(&ip)))
        }
        (Rejects::Values { numbers, .. }, Scalar::Num(v)) => numbers.contains(&v),
        (Rejects::Prefix(ps), Scalar::Str(b)) => ps.iter().any(|p| b.starts_with(p.as_bytes())),
        (Rejects::Suffix(ps), Scalar::Str(b)) => ps.iter().any(|p| b.ends_with(p.as_bytes())),
        (Rejects::EqualsIgnoreCase(ws), Scalar::Str(b)) => ws.iter().any(|w| w.equals(b)),
        (Rejects::Wildcard(ws), Scalar::Str(b)) => ws.iter().any(|w| wildcard_matches(&w.segments, b)),
        _ => false,
    }
}

/// `*`-separated segments: starts with the first, ends with the last, the middle ones in
/// order without overlap.
pub(crate) fn wildcard_matches(segments: &[String], b: &[u8]) -> bool {
    match segments {
        [] => false,
        [only] => only.as_bytes() == b,
        [first, middle @ .., last] => {
            let (f, l) = (first.as_bytes(), last.as_bytes());
            if f.len() + l.len() > b.len() || !same(f, &b[..f.len()]) || !same(l, &b[b.len() - l.len()..]) {
                return false;
            }
            let mut rest = &b[f.len()..b.len() - l.len()];
            for m in middle {
                let m = m.as_bytes();
                let found = if m.is_empty() {
                    Some(0)
                } else if m.len() == 1 && rest.len() < 32 {
                    // (A call to memchr, through its CPU dispatch, costs more on a short value.)
                    rest.iter().position(|&c| c == m[0])
                } else if m.len() == 1 {
                    memchr::memchr(m[0], rest)
                } else if rest.len() < 64 {
                    // The first byte tested alone first: a slice compare is a call to memcmp.
                    rest.windows(m.len()).position(|w| w[0] == m[0] && w[1..] == m[1..])
                } else {
                    memchr::memmem::find(rest, m)
                };
                match found {
                    Some(at) => rest = &rest[at + m.len()..],
                    None => return false,
                }
            }
            true
        }
    }
}

/// Whether two slices of the same length are equal: short ones byte by byte (a slice
/// comparison is a call to memcmp).
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() <= 8 {
        a.iter().zip(b).all(|(x, y)| x == y)
    } else {
        a == b
    }
}

/// The reference's range: from the network as written up to it with every host bit set.
fn cidr_contains(c: &Cidr, ip: IpAddr) -> bool {
    match (c.network, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let (n, a) = (u32::from(n), u32::from(a));
            let host = u32::MAX.checked_shr(u32::from(c.prefix_len)).unwrap_or(0);
            let host = if c.prefix_len == 0 { u32::MAX } else { host };
            a >= n && a <= n | host
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let (n, a) = (u128::from(n), u128::from(a));
            let host = u128::MAX.checked_shr(u32::from(c.prefix_len)).unwrap_or(0);
            let host = if c.prefix_len == 0 { u128::MAX } else { host };
            a >= n && a <= n | host
        }
        _ => false,
    }
}

/// An IP address as event-ruler reads one (the same as the pattern module's reader, which is
/// private to it): dotted decimal IPv4 (leading zeros allowed) or IPv6 (hex digits and colons
/// only; no embedded IPv4, no zone).
fn parse_ip(s: &str) -> Option<IpAddr> {
    if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        let mut octets = [0u8; 4];
        let mut n = 0;
        for p in s.split('.') {
            if n == 4 || p.is_empty() {
                return None;
            }
            let digits = p.trim_start_matches('0');
            let v: u32 = digits.parse().unwrap_or(0);
            if p.len() > 3 && digits.len() > 3 || v > 255 {
                return None;
            }
            octets[n] = v as u8;
            n += 1;
        }
        return (n == 4).then(|| IpAddr::V4(Ipv4Addr::from(octets)));
    }
    if s.contains(':') && s.bytes().all(|c| c.is_ascii_hexdigit() || c == b':') {
        return s.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    None
}

#[cfg(test)]
mod short_key_tests {
    use super::{short_key, ShortKey};

    /// The key as a zero-padded buffer with the length in its last byte.
    fn by_buffer(b: &[u8]) -> Option<ShortKey> {
        if b.len() > 15 {
            return None;
        }
        let mut buf = [0u8; 16];
        buf[..b.len()].copy_from_slice(b);
        buf[15] = b.len() as u8;
        let (lo, hi) = buf.split_at(8);
        Some(ShortKey(
            u64::from_le_bytes(lo.try_into().expect("8 bytes")),
            u64::from_le_bytes(hi.try_into().expect("8 bytes")),
        ))
    }

    #[test]
    fn short_key_is_the_padded_buffer() {
        let text: Vec<u8> = (1..=20u8).map(|i| i.wrapping_mul(37) | 1).collect();
        for start in 0..3 {
            for n in 0..=17 {
                let b = &text[start..start + n];
                assert_eq!(short_key(b), by_buffer(b), "{b:?}");
            }
        }
    }
}
