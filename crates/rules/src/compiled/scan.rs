//! A single pass over the raw JSON bytes of an event that descends only into the fields some
//! pattern uses (the [`PathTrie`]) and reports every scalar found at a used path, with the trail
//! of array positions that leads to it.
//!
//! Subtrees no pattern uses are skipped quickly: only their strings and brackets of their own
//! kind are checked, so malformed JSON inside an unused subtree may go unnoticed. Everything the
//! scanner reports has been fully checked (strings: escapes, UTF-8, control characters;
//! numbers: JSON grammar and range).

use memchr::{memchr, memchr2, memchr3};

use super::index::{short_key, FastMap, ShortKey};
use super::EventError;

/// serde_json's default recursion limit, so the scanner refuses what the reference's parser
/// refuses.
const MAX_DEPTH: usize = 128;

/// The field paths patterns use, as a trie of object keys. Node 0 is the event root.
#[derive(Debug, Clone, Default)]
pub(crate) struct PathTrie {
    pub(crate) nodes: Vec<TrieNode>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct TrieNode {
    /// Children with keys of at most 15 bytes, by the key packed into two words
    /// ([`short_key`]).
    short: ShortTable,
    /// Children with longer keys.
    long: FastMap<Box<[u8]>, u32>,
    /// A child's key holds a control character: such a key in the event is invalid JSON, so
    /// the keys of this node are read by the checked path ([`Scanner::key`]), not
    /// [`fast_key`].
    control: bool,
    /// A child has children: a name with dots may lead somewhere from here.
    deep: bool,
    /// Bit `n` set: a child's key has `n` bytes (`n` < 16), so a key of another length is no
    /// child (no hashing).
    short_lens: u16,
    /// The field index of the path ending here, if a pattern has a leaf here.
    pub(crate) field: Option<u32>,
    pub(crate) parent: u32,
    /// Which child of its parent this node is (in order of creation).
    slot: u32,
}

/// A hash table of packed keys, open addressing with linear probing, at most a quarter full:
/// a lookup hashes the two words with one multiply and most often reads one slot (a miss
/// ends at the first empty one), with no call and no pointer to follow but the table's.
#[derive(Debug, Clone, Default)]
struct ShortTable {
    /// `(key, node)`, node `EMPTY` when free; empty or a power of two long.
    slots: Box<[(ShortKey, u32)]>,
    len: usize,
}

const EMPTY: u32 = u32::MAX;

impl ShortTable {
    #[inline(always)]
    fn hash(k: ShortKey, shift: u32) -> usize {
        let x = k.0 ^ k.1.rotate_left(29);
        ((x ^ x >> 32).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize
    }

    #[inline(always)]
    fn get(&self, k: ShortKey) -> Option<u32> {
        let n = self.slots.len();
        if n == 0 {
            return None;
        }
        let mask = n - 1;
        let mut at = Self::hash(k, 64 - n.trailing_zeros());
        loop {
            let (key, node) = self.slots[at];
            if node == EMPTY {
                return None;
            }
            if key == k {
                return Some(node);
            }
            at = (at + 1) & mask;
        }
    }

    fn insert(&mut self, k: ShortKey, node: u32) {
        if (self.len + 1) * 4 > self.slots.len() {
            let old = std::mem::take(&mut self.slots);
            self.slots = vec![(ShortKey(0, 0), EMPTY); ((self.len + 1) * 4).next_power_of_two()].into();
            self.len = 0;
            for &(k, n) in old.iter().filter(|e| e.1 != EMPTY) {
                self.insert(k, n);
            }
        }
        let mask = self.slots.len() - 1;
        let mut at = Self::hash(k, 64 - self.slots.len().trailing_zeros());
        while self.slots[at].1 != EMPTY {
            at = (at + 1) & mask;
        }
        self.slots[at] = (k, node);
        self.len += 1;
    }
}

impl PathTrie {
    pub(crate) fn new() -> Self {
        Self {
            nodes: vec![TrieNode::default()],
        }
    }

    /// The node of `path`, created if needed.
    pub(crate) fn insert(&mut self, path: &[String]) -> u32 {
        let mut node = 0u32;
        for key in path {
            node = match self.child(node, key.as_bytes()) {
                Some(c) => c,
                None => {
                    let id = self.nodes.len() as u32;
                    let slot = self.nodes[node as usize].children() as u32;
                    let parent = self.nodes[node as usize].parent;
                    if node != 0 {
                        self.nodes[parent as usize].deep = true;
                    }
                    self.nodes.push(TrieNode {
                        parent: node,
                        slot,
                        ..TrieNode::default()
                    });
                    let n = &mut self.nodes[node as usize];
                    let k = key.as_bytes();
                    n.control |= k.iter().any(|&c| c < 0x20);
                    match short_key(k) {
                        Some(sk) => {
                            n.short_lens |= 1 << k.len();
                            n.short.insert(sk, id)
                        }
                        None => {
                            n.long.insert(k.into(), id);
                        }
                    }
                    id
                }
            };
        }
        node
    }

    #[inline]
    pub(crate) fn child(&self, node: u32, key: &[u8]) -> Option<u32> {
        let n = &self.nodes[node as usize];
        match short_key(key) {
            Some(k) => n.short_child(k),
            None if n.long.is_empty() => None,
            None => n.long.get(key).copied(),
        }
    }

    /// The node that the event name `key` leads to from `node`: EventBridge joins names with
    /// `.` (patterns' paths are held split at every `.`), so a name with dots is a walk of
    /// several steps, `{"a.b": 1}` reaching the node of `a` then `b`.
    #[inline]
    pub(crate) fn dotted_child(&self, node: u32, key: &[u8]) -> Option<u32> {
        key.split(|&c| c == b'.').try_fold(node, |n, step| self.child(n, step))
    }

    fn has_children(&self, node: u32) -> bool {
        self.nodes[node as usize].has_children()
    }
}

impl TrieNode {
    fn children(&self) -> usize {
        self.short.len + self.long.len()
    }

    #[inline]
    fn has_children(&self) -> bool {
        self.short.len != 0 || !self.long.is_empty()
    }

    #[inline(always)]
    fn short_child(&self, k: ShortKey) -> Option<u32> {
        self.short.get(k)
    }
}

/// A scalar of the event, as the scanner reports it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scalar<'a> {
    /// Decoded string contents, valid UTF-8 (as bytes: most lookups need no `&str`, and
    /// making one costs a validation pass; see `Scalar::text`).
    Str(&'a [u8]),
    /// A number: its text (valid JSON grammar) and value.
    Num(f64),
    Bool(bool),
    Null,
}

/// The text of a string the scanner reported (checked as UTF-8 there).
pub(crate) fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).expect("the scanner reports valid UTF-8")
}

/// One entry of the array trail: which array occurrence (numbered in event order), which
/// element, and the trie node whose value the array is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArrayPos {
    pub(crate) array: u32,
    pub(crate) index: u32,
    pub(crate) node: u32,
}

/// What the scanner calls back with.
pub(crate) trait Sink {
    /// A scalar at the trie node `node` (which has a field). `trail` lists the arrays above the
    /// node's own value (arrays that are the field's own value are left out: a leaf matches
    /// when any of its elements matches).
    fn scalar(&mut self, node: u32, field: u32, value: Scalar<'_>, trail: &[ArrayPos]);
    /// The value at trie node `node` is not an object although patterns name fields below
    /// it (an array, or a scalar where children are expected), or it is an array.
    fn odd_at(&mut self, node: u32);
    /// An object names a used key twice (a JSON parser keeps only the last value).
    fn duplicate_key(&mut self);
    /// A name with dots led to a used node (several steps below its object).
    fn dotted_key(&mut self);
}

/// Reusable buffers of the scanner.
#[derive(Debug, Default)]
pub(crate) struct ScanBuffers {
    stack: Vec<ArrayPos>,
    /// Used keys seen in the objects being read (for duplicate detection).
    seen: Vec<u32>,
    string: String,
    key: Vec<u8>,
}

pub(crate) fn scan<S: Sink>(
    trie: &PathTrie,
    event: &[u8],
    bufs: &mut ScanBuffers,
    sink: &mut S,
) -> Result<(), EventError> {
    bufs.stack.clear();
    bufs.seen.clear();
    let mut s = Scanner {
        b: event,
        i: 0,
        arrays: 0,
        trie,
        bufs,
        sink,
    };
    s.ws();
    s.value(Some(0), 0)?;
    s.ws();
    if s.i != s.b.len() {
        return Err(s.err("trailing characters after the event"));
    }
    Ok(())
}

struct Scanner<'a, 't, S> {
    b: &'a [u8],
    i: usize,
    arrays: u32,
    trie: &'t PathTrie,
    bufs: &'t mut ScanBuffers,
    sink: &'t mut S,
}

impl<S: Sink> Scanner<'_, '_, S> {
    fn err(&self, what: &str) -> EventError {
        EventError::new(format!("{what} at byte {}", self.i.min(self.b.len())))
    }

    /// Skips whitespace: none or one space (the common cases) here, more in [`Self::ws_more`].
    #[inline]
    fn ws(&mut self) {
        let i = self.i;
        match self.b.get(i) {
            Some(&c) if c > b' ' => {}
            Some(b' ') => {
                self.i = i + 1;
                if matches!(self.b.get(i + 1), Some(&c) if c <= b' ') {
                    self.ws_more();
                }
            }
            Some(_) => self.ws_more(),
            None => {}
        }
    }

    fn ws_more(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// A value at `node` (None: a path no pattern uses).
    fn value(&mut self, node: Option<u32>, depth: usize) -> Result<(), EventError> {
        let Some(node) = node else {
            return self.skip_value(depth);
        };
        if depth >= MAX_DEPTH {
            return Err(self.err("recursion limit exceeded"));
        }
        match self.peek() {
            Some(b'{') => {
                if !self.trie.has_children(node) {
                    return self.skip_value(depth);
                }
                self.object(node, depth)
            }
            Some(b'[') => {
                self.sink.odd_at(node);
                self.array(node, depth)
            }
            Some(_) => {
                if self.trie.has_children(node) {
                    self.sink.odd_at(node);
                }
                let field = self.trie.nodes[node as usize].field;
                match field {
                    None => self.skip_value(depth),
                    Some(field) => self.scalar(node, field),
                }
            }
            None => Err(self.err("unexpected end of the event")),
        }
    }

    /// An object at `node` (which has children). The position is kept in a local between the
    /// calls out (common keys and short strings are read inline; see [`fast_key`]).
    fn object(&mut self, node: u32, depth: usize) -> Result<(), EventError> {
        let b = self.b;
        let trie = self.trie;
        let here = &trie.nodes[node as usize];
        let mut i = skip_ws(b, self.i + 1);
        if b.get(i) == Some(&b'}') {
            self.i = i + 1;
            return Ok(());
        }
        let mark = self.bufs.seen.len();
        // Used children seen in this object, by `TrieNode::slot` (the rest in `bufs.seen`).
        let mut seen = 0u64;
        loop {
            if b.get(i) != Some(&b'"') {
                self.i = i;
                return Err(self.err("expected a key"));
            }
            let child = match fast_key(b, i, here) {
                Some((child, end)) => {
                    i = end;
                    child
                }
                None => {
                    self.i = i;
                    let child = self.key(node)?;
                    i = self.i;
                    child
                }
            };
            i = match punct(b, i, b':') {
                Some(next) => next,
                None => {
                    i = skip_ws(b, i);
                    if b.get(i) != Some(&b':') {
                        self.i = i;
                        return Err(self.err("expected `:`"));
                    }
                    skip_ws(b, i + 1)
                }
            };
            match child {
                None => {
                    let short = match b.get(i) {
                        Some(b'"') => short_string(b, i + 1),
                        _ => None,
                    };
                    match short {
                        Some(len) => i += len + 2,
                        None => {
                            self.i = i;
                            self.skip_value(depth + 1)?;
                            i = self.i;
                        }
                    }
                }
                Some(c) => {
                    let n = &trie.nodes[c as usize];
                    if n.parent == node && n.slot < 64 {
                        let bit = 1u64 << n.slot;
                        if seen & bit != 0 {
                            self.sink.duplicate_key();
                        }
                        seen |= bit;
                    } else if self.bufs.seen[mark..].contains(&c) {
                        self.sink.duplicate_key();
                    } else {
                        self.bufs.seen.push(c);
                    }
                    // A short printable string at a leaf (the common used value) here.
                    let short = match (n.field, b.get(i)) {
                        (Some(_), Some(b'"')) if !n.has_children() && depth + 1 < MAX_DEPTH => {
                            short_plain_string(b, i + 1)
                        }
                        _ => None,
                    };
                    match (short, n.field) {
                        (Some(len), Some(field)) => {
                            let trail_len = self.trail_len(c);
                            self.sink.scalar(
                                c,
                                field,
                                Scalar::Str(&b[i + 1..i + 1 + len]),
                                &self.bufs.stack[..trail_len],
                            );
                            i += len + 2;
                        }
                        _ => {
                            self.i = i;
                            self.value(child, depth + 1)?;
                            i = self.i;
                        }
                    }
                }
            }
            if let Some(next) = punct(b, i, b',') {
                i = next;
                continue;
            }
            i = skip_ws(b, i);
            match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1),
                Some(b'}') => {
                    self.i = i + 1;
                    self.bufs.seen.truncate(mark);
                    return Ok(());
                }
                _ => {
                    self.i = i;
                    return Err(self.err("expected `,` or `}`"));
                }
            }
        }
    }

    fn array(&mut self, node: u32, depth: usize) -> Result<(), EventError> {
        self.i += 1;
        let array = self.arrays;
        self.arrays += 1;
        self.bufs.stack.push(ArrayPos { array, index: 0, node });
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            self.bufs.stack.pop();
            return Ok(());
        }
        let mut index = 0u32;
        loop {
            if let Some(top) = self.bufs.stack.last_mut() {
                top.index = index;
            }
            self.ws();
            self.value(Some(node), depth + 1)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    self.bufs.stack.pop();
                    return Ok(());
                }
                _ => return Err(self.err("expected `,` or `]`")),
            }
            index += 1;
        }
    }

    /// Reads a key and returns the node it leads to from `node`: its child, or for a name with
    /// dots the node of its steps ([`PathTrie::dotted_child`]).
    fn key(&mut self, node: u32) -> Result<Option<u32>, EventError> {
        let start = self.i + 1;
        // The first quote, backslash or dot: a name without dots or escapes (the common case)
        // is read in this one pass.
        let end = match find3(&self.b[start..], b'"', b'\\', b'.') {
            Some(o) => start + o,
            None => return Err(self.err("unterminated string")),
        };
        if self.b[end] != b'"' {
            return self.dotted_or_escaped_key(node, start, end);
        }
        self.i = end + 1;
        // A key no pattern names is not checked further (as for skipped values); one that
        // equals a pattern's key is valid UTF-8 as that key is, and is checked for raw control
        // characters.
        let raw = &self.b[start..end];
        let child = self.trie.child(node, raw);
        if child.is_some() && raw.iter().any(|&c| c < 0x20) {
            return Err(self.err("control character in a string"));
        }
        Ok(child)
    }

    /// [`Self::key`] for a key with a dot or an escape (`at`: the first of them).
    #[inline(never)]
    fn dotted_or_escaped_key(&mut self, node: u32, start: usize, at: usize) -> Result<Option<u32>, EventError> {
        let end = if self.b[at] == b'.' {
            match memchr2(b'"', b'\\', &self.b[at..]) {
                Some(o) => at + o,
                None => return Err(self.err("unterminated string")),
            }
        } else {
            at
        };
        if self.b[end] == b'"' {
            // Dots, no escapes. Checked as above when it leads to a node (a dot is ASCII).
            self.i = end + 1;
            let raw = &self.b[start..end];
            let child = self.trie.dotted_child(node, raw);
            if child.is_some() {
                if raw.iter().any(|&c| c < 0x20) {
                    return Err(self.err("control character in a string"));
                }
                self.sink.dotted_key();
            }
            return Ok(child);
        }
        let mut key = std::mem::take(&mut self.bufs.key);
        key.clear();
        let mut s = String::new();
        std::mem::swap(&mut s, &mut self.bufs.string);
        let r = self.decode_string(&mut s);
        key.extend_from_slice(s.as_bytes());
        std::mem::swap(&mut s, &mut self.bufs.string);
        let child = if memchr(b'.', &key).is_some() {
            let child = self.trie.dotted_child(node, &key);
            if child.is_some() && r.is_ok() {
                self.sink.dotted_key();
            }
            child
        } else {
            self.trie.child(node, &key)
        };
        self.bufs.key = key;
        r.map(|()| child)
    }

    /// The arrays above a scalar at `node` (leaving out those that are the node's own value).
    #[inline]
    fn trail_len(&self, node: u32) -> usize {
        let stack = &self.bufs.stack;
        stack.iter().position(|p| p.node == node).unwrap_or(stack.len())
    }

    /// A scalar at `node`: a short printable string here, anything else in
    /// [`Self::other_scalar`].
    #[inline]
    fn scalar(&mut self, node: u32, field: u32) -> Result<(), EventError> {
        let start = self.i + 1;
        if self.peek() == Some(b'"') {
            if let Some(len) = short_plain_string(self.b, start) {
                self.i = start + len + 1;
                let trail_len = self.trail_len(node);
                self.sink.scalar(
                    node,
                    field,
                    Scalar::Str(&self.b[start..start + len]),
                    &self.bufs.stack[..trail_len],
                );
                return Ok(());
            }
        }
        self.other_scalar(node, field)
    }

    #[inline(never)]
    fn other_scalar(&mut self, node: u32, field: u32) -> Result<(), EventError> {
        let trail_len = self.trail_len(node);
        match self.peek() {
            Some(b'"') => {
                let start = self.i + 1;
                let end = match find2(&self.b[start..], b'"', b'\\') {
                    Some(o) => start + o,
                    None => return Err(self.err("unterminated string")),
                };
                if self.b[end] == b'"' {
                    let raw = &self.b[start..end];
                    // Printable ASCII (the common case) is one pass and valid UTF-8.
                    if !raw.iter().all(|&c| (0x20..0x80).contains(&c)) {
                        if raw.iter().any(|&c| c < 0x20) {
                            return Err(self.err("control character in a string"));
                        }
                        if std::str::from_utf8(raw).is_err() {
                            return Err(self.err("invalid UTF-8 in a string"));
                        }
                    }
                    self.i = end + 1;
                    self.sink
                        .scalar(node, field, Scalar::Str(raw), &self.bufs.stack[..trail_len]);
                } else {
                    let mut s = std::mem::take(&mut self.bufs.string);
                    let r = self.decode_string(&mut s);
                    if r.is_ok() {
                        self.sink
                            .scalar(node, field, Scalar::Str(s.as_bytes()), &self.bufs.stack[..trail_len]);
                    }
                    self.bufs.string = s;
                    r?;
                }
            }
            Some(b't') => {
                self.literal(b"true")?;
                self.sink
                    .scalar(node, field, Scalar::Bool(true), &self.bufs.stack[..trail_len]);
            }
            Some(b'f') => {
                self.literal(b"false")?;
                self.sink
                    .scalar(node, field, Scalar::Bool(false), &self.bufs.stack[..trail_len]);
            }
            Some(b'n') => {
                self.literal(b"null")?;
                self.sink
                    .scalar(node, field, Scalar::Null, &self.bufs.stack[..trail_len]);
            }
            _ => {
                let v = self.number()?;
                self.sink
                    .scalar(node, field, Scalar::Num(v), &self.bufs.stack[..trail_len]);
            }
        }
        Ok(())
    }

    fn literal(&mut self, lit: &[u8]) -> Result<(), EventError> {
        if self.b[self.i..].starts_with(lit) {
            self.i += lit.len();
            Ok(())
        } else {
            Err(self.err("invalid literal"))
        }
    }

    /// A JSON number, checked against the grammar, as a double.
    fn number(&mut self) -> Result<f64, EventError> {
        let start = self.i;
        self.number_text()?;
        let b = self.b;
        let i = self.i;
        // The grammar is a subset of Rust's float syntax, and ASCII.
        let text = std::str::from_utf8(&b[start..i]).map_err(|_| self.err("invalid number"))?;
        let v: f64 = text.parse().map_err(|_| self.err("invalid number"))?;
        if v.is_infinite() {
            return Err(self.err("number out of range"));
        }
        Ok(v)
    }

    /// Checks a JSON number against the grammar and moves past it.
    fn number_text(&mut self) -> Result<(), EventError> {
        let b = self.b;
        let mut i = self.i;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while matches!(b.get(i), Some(b'0'..=b'9')) {
                    i += 1;
                }
            }
            _ => return Err(self.err("invalid value")),
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !matches!(b.get(i), Some(b'0'..=b'9')) {
                self.i = i;
                return Err(self.err("invalid number"));
            }
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !matches!(b.get(i), Some(b'0'..=b'9')) {
                self.i = i;
                return Err(self.err("invalid number"));
            }
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        self.i = i;
        Ok(())
    }

    /// Decodes the string starting at `self.i` (a quote) into `out`.
    fn decode_string(&mut self, out: &mut String) -> Result<(), EventError> {
        out.clear();
        let b = self.b;
        let mut i = self.i + 1;
        let mut bytes = std::mem::take(out).into_bytes();
        loop {
            let Some(o) = memchr2(b'"', b'\\', &b[i..]) else {
                self.i = b.len();
                return Err(self.err("unterminated string"));
            };
            let chunk = &b[i..i + o];
            if chunk.iter().any(|&c| c < 0x20) {
                self.i = i;
                return Err(self.err("control character in a string"));
            }
            bytes.extend_from_slice(chunk);
            i += o;
            if b[i] == b'"' {
                i += 1;
                break;
            }
            i += 1;
            let c = match b.get(i) {
                Some(b'"') => b'"',
                Some(b'\\') => b'\\',
                Some(b'/') => b'/',
                Some(b'b') => 8,
                Some(b'f') => 12,
                Some(b'n') => b'\n',
                Some(b'r') => b'\r',
                Some(b't') => b'\t',
                Some(b'u') => {
                    let hi = hex4(b, i + 1).ok_or_else(|| self.err("invalid escape"))?;
                    i += 5;
                    let ch = if (0xD800..0xDC00).contains(&hi) {
                        if b.get(i) != Some(&b'\\') || b.get(i + 1) != Some(&b'u') {
                            self.i = i;
                            return Err(self.err("lone surrogate"));
                        }
                        let lo = hex4(b, i + 2).ok_or_else(|| self.err("invalid escape"))?;
                        if !(0xDC00..0xE000).contains(&lo) {
                            self.i = i;
                            return Err(self.err("lone surrogate"));
                        }
                        i += 6;
                        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                    } else {
                        char::from_u32(hi)
                    };
                    let Some(ch) = ch else {
                        self.i = i;
                        return Err(self.err("lone surrogate"));
                    };
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    continue;
                }
                _ => {
                    self.i = i;
                    return Err(self.err("invalid escape"));
                }
            };
            bytes.push(c);
            i += 1;
        }
        self.i = i;
        match String::from_utf8(bytes) {
            Ok(s) => {
                *out = s;
                Ok(())
            }
            Err(_) => Err(self.err("invalid UTF-8 in a string")),
        }
    }

    /// Skips a value no pattern uses.
    fn skip_value(&mut self, depth: usize) -> Result<(), EventError> {
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'[') if self.skip_plain_array(depth) => Ok(()),
            Some(open @ (b'{' | b'[')) => {
                let close = if open == b'{' { b'}' } else { b']' };
                let b = self.b;
                let mut level = 0usize;
                let mut i = self.i;
                loop {
                    let Some(o) = find3(&b[i..], b'"', open, close) else {
                        self.i = b.len();
                        return Err(self.err("unexpected end of the event"));
                    };
                    i += o;
                    let c = b[i];
                    if c == b'"' {
                        self.i = i;
                        self.skip_string()?;
                        i = self.i;
                        continue;
                    }
                    i += 1;
                    if c == open {
                        level += 1;
                        if depth + level > MAX_DEPTH + 1 {
                            self.i = i;
                            return Err(self.err("recursion limit exceeded"));
                        }
                    } else {
                        level -= 1;
                        if level == 0 {
                            self.i = i;
                            return Ok(());
                        }
                    }
                }
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(_) => self.number_text().map(|_| ()),
            None => Err(self.err("unexpected end of the event")),
        }
    }

    /// Skips an array holding no strings and no objects (numbers, literals, arrays of them, as
    /// GeoJSON coordinates are) in one search instead of one per bracket: such an array ends
    /// at the last `]` before the next quote or brace of the event (after it come only a `,`
    /// and the next key's quote, or the object's `}`), and its brackets are counted, not
    /// matched one by one: as many `[` as `]`, and no deeper than the recursion limit could
    /// be. Anything else (a quote or brace inside, unbalanced brackets, the end of the event)
    /// leaves the array to the bracket-by-bracket skip; whether the event is valid JSON after
    /// the array is checked by the caller as before.
    fn skip_plain_array(&mut self, depth: usize) -> bool {
        let b = self.b;
        let start = self.i;
        let Some(o) = memchr3(b'"', b'{', b'}', &b[start..]) else {
            return false;
        };
        let mut end = start + o;
        while end > start && matches!(b[end - 1], b',' | b' ' | b'\n' | b'\r' | b'\t') {
            end -= 1;
        }
        if end <= start + 1 || b[end - 1] != b']' {
            return false;
        }
        let (opens, closes) = count_brackets(&b[start..end]);
        if opens != closes || depth + opens > MAX_DEPTH + 1 {
            return false;
        }
        self.i = end;
        true
    }

    #[inline]
    fn skip_string(&mut self) -> Result<(), EventError> {
        if let Some(len) = short_string(self.b, self.i + 1) {
            self.i += len + 2;
            return Ok(());
        }
        self.skip_long_string()
    }

    #[inline(never)]
    fn skip_long_string(&mut self) -> Result<(), EventError> {
        let b = self.b;
        let mut i = self.i + 1;
        loop {
            let Some(o) = find2(&b[i..], b'"', b'\\') else {
                self.i = b.len();
                return Err(self.err("unterminated string"));
            };
            i += o;
            if b[i] == b'"' {
                self.i = i + 1;
                return Ok(());
            }
            i += 2;
            if i > b.len() {
                self.i = b.len();
                return Err(self.err("unterminated string"));
            }
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// The low `n` bytes of a word set (`n` < 8).
#[inline]
fn low_bytes(n: usize) -> u64 {
    (1u64 << (8 * n)) - 1
}

/// The high bit of each byte of `w` equal to `c`: exact for the lowest such byte (a borrow may
/// also mark bytes above it), which is all a search needs.
#[inline]
fn bytes_eq(w: u64, c: u8) -> u64 {
    let x = w ^ (ONES * u64::from(c));
    x.wrapping_sub(ONES) & !x & (ONES << 7)
}

/// The position after `c` at `i` and the whitespace after it, when that is none or one space
/// (the common cases); `None`: anything else, for the general path.
#[inline(always)]
fn punct(b: &[u8], i: usize, c: u8) -> Option<usize> {
    let w = b.get(i..i + 3)?;
    if w[0] != c {
        return None;
    }
    if w[1] > b' ' {
        Some(i + 1)
    } else if w[1] == b' ' && w[2] > b' ' {
        Some(i + 2)
    } else {
        None
    }
}

/// Skips whitespace from `i`: none or one space (the common cases) first.
#[inline(always)]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    match b.get(i) {
        Some(&c) if c > b' ' => return i,
        Some(b' ') => {
            i += 1;
            if matches!(b.get(i), Some(&c) if c > b' ') {
                return i;
            }
        }
        _ => {}
    }
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = b.get(i) {
        i += 1;
    }
    i
}

/// [`Scanner::key`] for the common key (its quote at `at`): at most 15 bytes, no escape, and
/// no dot unless it is a child of `n` or cannot lead anywhere (children have no dots). The
/// key is read in two words whose bytes past its closing quote are cleared, which is how the
/// trie holds its children's keys ([`short_key`]): the search for the quote, the packing and
/// the comparison in registers. Returns the child and the position after the key; `None`:
/// not such a key (or too near the end of the event), read it with [`Scanner::key`].
#[inline(always)]
fn fast_key(b: &[u8], at: usize, n: &TrieNode) -> Option<(Option<u32>, usize)> {
    if n.control {
        return None;
    }
    let start = at + 1;
    let (len, w0, w1) = quote_in_16(b, start)?;
    let (lo, hi) = if len < 8 {
        (w0 & low_bytes(len), 0)
    } else {
        (w0, w1 & low_bytes(len - 8))
    };
    let child = if n.short_lens & 1 << len != 0 {
        n.short_child(ShortKey(lo, hi | (len as u64) << 56))
    } else {
        None
    };
    if child.is_none() && n.deep && (bytes_eq(lo, b'.') | bytes_eq(hi, b'.')) != 0 {
        return None;
    }
    Some((child, start + len + 1))
}

/// The high bit of each byte of `w` below `0x20` or from `0x80`: exact for the lowest such
/// byte (as [`bytes_eq`]).
#[inline]
fn bytes_not_plain(w: u64) -> u64 {
    (w.wrapping_sub(ONES * 0x20) & !w | w) & (ONES << 7)
}

/// The first quote or backslash in the 16 bytes at `start`: its offset and the two words.
#[inline(always)]
fn quote_in_16(b: &[u8], start: usize) -> Option<(usize, u64, u64)> {
    let chunk: &[u8; 16] = b.get(start..start + 16)?.try_into().ok()?;
    let w0 = u64::from_le_bytes(chunk[..8].try_into().expect("8 bytes"));
    let w1 = u64::from_le_bytes(chunk[8..].try_into().expect("8 bytes"));
    let m0 = bytes_eq(w0, b'"') | bytes_eq(w0, b'\\');
    let at = if m0 != 0 {
        (m0.trailing_zeros() / 8) as usize
    } else {
        let m1 = bytes_eq(w1, b'"') | bytes_eq(w1, b'\\');
        if m1 == 0 {
            return None;
        }
        8 + (m1.trailing_zeros() / 8) as usize
    };
    (chunk[at] == b'"').then_some((at, w0, w1))
}

/// The length of the string whose contents start at `start` when it closes within 16 bytes
/// and has no escape (its contents unchecked: a string no pattern reads).
#[inline(always)]
fn short_string(b: &[u8], start: usize) -> Option<usize> {
    quote_in_16(b, start).map(|(len, _, _)| len)
}

/// [`short_string`] for contents that are also printable ASCII (so valid as they are).
#[inline(always)]
fn short_plain_string(b: &[u8], start: usize) -> Option<usize> {
    let (len, w0, w1) = quote_in_16(b, start)?;
    let bad = if len < 8 {
        bytes_not_plain(w0) & low_bytes(len)
    } else {
        bytes_not_plain(w0) | bytes_not_plain(w1) & low_bytes(len - 8)
    };
    (bad == 0).then_some(len)
}

/// The offset of the first `a` or `b` in `hay`. Keys and most values are short: their first 16
/// bytes are searched eight at a time in registers (a call to memchr, through its CPU dispatch,
/// costs more than that), the rest by memchr.
#[inline]
fn find2(hay: &[u8], a: u8, b: u8) -> Option<usize> {
    let mut at = 0;
    while at < 16 {
        let Some(chunk) = hay.get(at..at + 8) else { break };
        let w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let m = bytes_eq(w, a) | bytes_eq(w, b);
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    memchr2(a, b, &hay[at..]).map(|o| at + o)
}

/// [`find2`] for three bytes.
#[inline]
fn find3(hay: &[u8], a: u8, b: u8, c: u8) -> Option<usize> {
    let mut at = 0;
    while at < 16 {
        let Some(chunk) = hay.get(at..at + 8) else { break };
        let w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let m = bytes_eq(w, a) | bytes_eq(w, b) | bytes_eq(w, c);
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    memchr3(a, b, c, &hay[at..]).map(|o| at + o)
}

/// The number of `[` and of `]` in `b` (in blocks of 128 bytes whose per-byte counts fit a
/// `u8`, a loop the compiler turns into vector compares and adds).
fn count_brackets(b: &[u8]) -> (usize, usize) {
    let (mut opens, mut closes) = (0usize, 0usize);
    for block in b.chunks(128) {
        let (mut o, mut c) = (0u8, 0u8);
        for &x in block {
            o += u8::from(x == b'[');
            c += u8::from(x == b']');
        }
        opens += usize::from(o);
        closes += usize::from(c);
    }
    (opens, closes)
}

fn hex4(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    let mut v = 0u32;
    for &c in s {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}

#[cfg(test)]
mod trie_tests {
    use super::{find2, find3, PathTrie};

    #[test]
    fn short_searches_agree_with_memchr() {
        let text: Vec<u8> = (0..40u8)
            .map(|i| if i % 7 == 3 { b'x' } else { b'a' + i % 5 })
            .collect();
        for start in 0..text.len() {
            for (a, b, c) in [
                (b'x', b'e', b'"'),
                (b'"', b'\\', b'.'),
                (b'c', b'x', b'd'),
                (0xff, 0x80, 0),
            ] {
                let hay = &text[start..];
                assert_eq!(find2(hay, a, b), memchr::memchr2(a, b, hay), "{start}");
                assert_eq!(find3(hay, a, b, c), memchr::memchr3(a, b, c, hay), "{start}");
            }
        }
        // Bytes next to a match that a borrow could confuse.
        for hay in [
            &b"\x00\x01\"a"[..],
            b"\x01\x00\x00\x00\x00\x00\x00\x00\"",
            b"\xff\xfe\"",
            b"!!!!!!!!!\"",
            b"#\"\"",
        ] {
            assert_eq!(find2(hay, b'"', b'\\'), memchr::memchr2(b'"', b'\\', hay));
            assert_eq!(find2(hay, 0, 1), memchr::memchr2(0, 1, hay));
        }
    }

    #[test]
    fn children_are_found_by_whole_key() {
        let keys = [
            "",
            "a",
            "b",
            "ab",
            "ba",
            "aba",
            "abb",
            "abcd",
            "abce",
            "abcdefg",
            "abcdefgh",
            "abcdefgi",
            "abcdefghi",
            "abcdefghj",
            "abcdefghij",
            "abcdefgh\0",
        ];
        for n in [3, keys.len()] {
            let mut trie = PathTrie::new();
            let ids: Vec<u32> = keys[..n].iter().map(|k| trie.insert(&[k.to_string()])).collect();
            for (k, id) in keys[..n].iter().zip(&ids) {
                assert_eq!(trie.child(0, k.as_bytes()), Some(*id), "{k:?}");
            }
            for k in &keys[n..] {
                assert_eq!(trie.child(0, k.as_bytes()), None, "{k:?}");
            }
            for k in ["c", "abc", "abcdefgj", "abcdefghk", "abcdefghijk", "abcdefg\0"] {
                assert_eq!(trie.child(0, k.as_bytes()), None, "{k:?}");
            }
        }
    }
}
