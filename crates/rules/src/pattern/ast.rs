//! The parsed form of an event pattern.
//!
//! Two views of the same pattern:
//!
//! - the **tree** ([`ObjectPattern`]), as written (nested objects, `$or` where it appears),
//!   for display and inspection; matching is defined by the flattened form;
//! - the **flattened** form ([`Conjunction`]s, see [`super::Pattern::alternatives`]): every `$or`
//!   expanded, each alternative a list of `(path, matchers)` that must all hold. This is what an
//!   automaton compiles. Array consistency is recovered from the paths: two fields whose paths
//!   share a prefix that is an array in the event must be matched inside the same element of that
//!   array (as aws/event-ruler's array-consistent matching does).
//!
//! Names are joined with `.`, as EventBridge compiles patterns (User Guide, "Considerations when
//! creating event patterns"; aws/event-ruler flattens patterns and events into `.`-joined
//! names): `{"detail": {"state.status": [..]}}` and `{"detail": {"state": {"status": [..]}}}`
//! are one pattern, and either matches an event that spells the path either way. The tree keeps
//! names as written; the flattened paths are the names split at every `.`.
//!
//! Every type here is stable: later changes are additive only.

use std::net::IpAddr;

/// A JSON object in a pattern: fields that must all match, plus an optional `$or`.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectPattern {
    /// The plain fields, in the order written. A repeated key keeps its last leaf at the
    /// position of the first occurrence; repeated objects merge. (A key given once as a leaf and
    /// once as an object appears twice.) Names are as written (`"a.b"` stays one name here,
    /// beside any `"a"`; the flattened form joins them). Never contains `$or`.
    pub fields: Vec<(String, FieldPattern)>,
    /// `"$or": [ {...}, {...} ]` at this level: at least one alternative must match the same
    /// event object that `fields` are matched against. At least two alternatives. (Two `$or`
    /// keys in one object are and-ed, as on AWS; the tree shows them distributed into one.)
    pub or: Option<Vec<ObjectPattern>>,
}

/// What a pattern says about one field.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldPattern {
    /// `"field": [ ... ]`: the field matches when any of the matchers matches any of the
    /// field's scalar values. Never empty.
    Leaf(Vec<Matcher>),
    /// `"field": { ... }`: the field's value (or one element of it, when it is an array of
    /// objects) must match the nested pattern.
    Object(ObjectPattern),
}

/// One element of a leaf's array of values.
///
/// A matcher tests one scalar of the event (string, number, boolean or null); objects are never
/// leaf values. An event array at a leaf matches when any element matches (arrays nested in
/// arrays are flattened). `Exists` is the only matcher about presence rather than value.
#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    /// A literal: `"x"`, `5`, `true`, `null`. Numbers compare numerically (3, 3.0 and 3e0 are
    /// equal), strings exactly, and a string never equals a number. One quirk kept from AWS: a
    /// string that is an IP address literal (`"10.0.0.1"`, `"::1"`) matches the same address in
    /// any notation (`"0:0:0:0:0:0:0:1"`). Also written `{"exactly": "x"}`.
    Exact(Literal),
    /// `{"prefix": "x"}` or `{"prefix": {"equals-ignore-case": "x"}}`. Strings only.
    Prefix { value: String, ignore_case: bool },
    /// `{"suffix": "x"}` or `{"suffix": {"equals-ignore-case": "x"}}`. Strings only.
    Suffix { value: String, ignore_case: bool },
    /// `{"equals-ignore-case": "x"}`: equal after Unicode case folding ([`fold_case`]).
    EqualsIgnoreCase(String),
    /// `{"wildcard": "a*b"}`. Strings only.
    Wildcard(Wildcard),
    /// `{"anything-but": ...}`: any present scalar that the inner test rejects (including
    /// null and values of other types). Never matches a missing field.
    AnythingBut(AnythingBut),
    /// `{"numeric": [">", 0, "<=", 5]}`: a number satisfying every condition (and-ed).
    /// Strings, booleans and null never match.
    Numeric(Vec<(NumericOp, f64)>),
    /// `{"exists": true}`: the field has at least one scalar value (null counts; an object,
    /// an empty array or a missing parent does not); `{"exists": false}`: it has none. Under
    /// an array of objects, presence is judged in the element the rest of the alternative
    /// matched (array consistency): `{"a": {"w": [{"exists": false}], "z": [0]}}` matches
    /// `{"a": [{"w": 1, "z": 1}, {"z": 0}]}`.
    Exists(bool),
    /// `{"cidr": "10.0.0.0/24"}`: a string that is an IP address inside the network.
    Cidr(Cidr),
}

/// A literal value from a pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    String(String),
    Number(Number),
    Bool(bool),
    Null,
}

/// A number from a pattern: its value as an IEEE double and its text as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Number {
    /// The value, compared as a double (see the bench README's NUMERIC note).
    pub value: f64,
    /// The number exactly as written in the pattern, e.g. `3.0` or `3e0`.
    pub text: String,
}

/// The comparison of one numeric condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumericOp {
    /// `=`
    Eq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl NumericOp {
    /// Whether `value OP operand` holds.
    pub fn holds(self, value: f64, operand: f64) -> bool {
        match self {
            Self::Eq => value == operand,
            Self::Lt => value < operand,
            Self::Le => value <= operand,
            Self::Gt => value > operand,
            Self::Ge => value >= operand,
        }
    }

    /// The operator as written in a pattern.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }
}

/// The inside of an `anything-but`. The matcher matches a present scalar for which this test
/// is false. `Values` is never empty; the other lists may be (`{"prefix": []}` is accepted by
/// AWS and then excludes nothing).
#[derive(Debug, Clone, PartialEq)]
pub enum AnythingBut {
    /// `"x"`, `5`, `["a", "b"]` or `[1, 2]`: none of these literals (a list is all strings or
    /// all numbers; a single value is a string or a number).
    Values(Vec<Literal>),
    /// `{"prefix": "x"}`: not a string starting with any of these.
    Prefix(Vec<String>),
    /// `{"suffix": "x"}`: not a string ending with any of these.
    Suffix(Vec<String>),
    /// `{"equals-ignore-case": "x" | ["a", "b"]}`: not a string equal to any of these after
    /// case folding.
    EqualsIgnoreCase(Vec<String>),
    /// `{"wildcard": "x" | ["a*", "*b"]}`: not a string matching any of these.
    Wildcard(Vec<Wildcard>),
}

/// A wildcard pattern: literal segments separated by `*`.
///
/// `segments` are the pattern split at unescaped `*`, with the escapes `\*` and `\\` resolved:
/// `"a*b\*c*"` gives `["a", "b*c", ""]`. A string matches when it starts with the first segment,
/// ends with the last, and contains the middle ones in order, without overlap. There is always
/// at least one segment; `segments.len() - 1` is the number of `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wildcard {
    /// The pattern text as written (escapes unresolved).
    pub text: String,
    /// The literal pieces between the stars.
    pub segments: Vec<String>,
}

/// An IPv4 or IPv6 network.
///
/// `network` is the address as written, host bits kept: as on AWS (event-ruler), the range
/// covered is from `network` to `network` with every host bit set, so `10.0.0.5/24` covers
/// `10.0.0.5` to `10.0.0.255`. An IPv4 network never matches an IPv6 address or the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub network: IpAddr,
    /// 0..=32 for IPv4, 0..=128 for IPv6.
    pub prefix_len: u8,
}

/// One alternative of a pattern with every `$or` expanded: all fields must match.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Conjunction {
    /// In the order written; a path appears at most once (as on AWS, a path written again —
    /// a duplicate key, a field beside an `$or` that names it again, or the same path spelt
    /// with dots and with nesting, `"a.b"` and `"a": {"b"}` — replaces the earlier matchers,
    /// in text order, at the earlier one's position: event-ruler keeps one map entry per
    /// joined name).
    pub fields: Vec<FieldMatch>,
}

/// A leaf of the pattern with its full path.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMatch {
    /// Object keys from the event root, e.g. `["detail", "state"]`. Arrays in the event are
    /// transparent: `detail.items[*].id` has the path `["detail", "items", "id"]`.
    ///
    /// Names are joined with `.` (EventBridge), so the path is the pattern's names split at
    /// every `.`: `{"detail": {"state.status": [..]}}` has `["detail", "state", "status"]`, as
    /// its nested spelling does; an empty name stays a step (`"a..b"`: `["a", "", "b"]`). It
    /// names every event value whose names, joined with `.`, spell it: `{"detail":
    /// {"state.status": 1}}` and `{"detail.state": {"status": 1}}` both give it the value 1.
    /// (SNS filter policies keep each name whole: `crate::sns`.)
    pub path: Vec<String>,
    /// Any of them may match (never empty).
    pub matchers: Vec<Matcher>,
}

/// Unicode case folding: upper-case, then lower-case, so that `ß`/`SS` and `ς`/`σ`/`Σ` fold
/// alike. Matching does not use it any more: `equals-ignore-case` follows event-ruler
/// ([`IgnoreCase`]), which is not a folding.
pub fn fold_case(s: &str) -> String {
    s.to_uppercase().to_lowercase()
}

/// An ignore-case pattern (`equals-ignore-case`, and `prefix`/`suffix`/`anything-but` with
/// `equals-ignore-case`) as aws/event-ruler compiles it (`input/EqualsIgnoreCaseParser.java`):
/// each UTF-16 unit `c` of the pattern matches either the UTF-8 of `c.toLowerCase(Locale.ROOT)`
/// or of `c.toUpperCase(Locale.ROOT)`, taken alone; the event's bytes are compared as they are,
/// never folded. So `ß` matches `ß` and `SS` but not `ss`; `SS` matches `ss`/`Ss` but not `ß`;
/// `ﬁ` matches `ﬁ` and `FI` but not `fi`; `ς` matches `ς`/`Σ` but not `σ`; `İ` matches `İ` and
/// `i̇` (`i` + U+0307) but not `i`. A character beyond U+FFFF is two surrogate units, each of
/// which Java encodes as `?`: it matches `??` and not itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreCase {
    /// Per UTF-16 unit: its lower-case and upper-case UTF-8 (equal when the case does not
    /// change it).
    units: Vec<(Utf8, Utf8)>,
}

/// The UTF-8 of one case form of a UTF-16 unit.
type Utf8 = Box<[u8]>;

impl IgnoreCase {
    pub fn new(pattern: &str) -> IgnoreCase {
        let mut units = Vec::with_capacity(pattern.len());
        for c in pattern.chars() {
            if c.len_utf16() == 2 {
                // A lone surrogate: Java's UTF-8 encoder writes `?`.
                for _ in 0..2 {
                    units.push((Box::from(&b"?"[..]), Box::from(&b"?"[..])));
                }
                continue;
            }
            let lower: String = c.to_lowercase().collect();
            let upper: String = c.to_uppercase().collect();
            units.push((lower.into_bytes().into(), upper.into_bytes().into()));
        }
        IgnoreCase { units }
    }

    /// Where in `s` the whole pattern can end when matched from the start (sorted, distinct).
    fn ends(&self, s: &[u8]) -> Vec<usize> {
        let mut at = vec![0];
        let mut next = Vec::new();
        for (lower, upper) in &self.units {
            next.clear();
            for &p in &at {
                if s[p..].starts_with(lower) {
                    next.push(p + lower.len());
                }
                if upper != lower && s[p..].starts_with(upper) {
                    next.push(p + upper.len());
                }
            }
            next.sort_unstable();
            next.dedup();
            std::mem::swap(&mut at, &mut next);
            if at.is_empty() {
                break;
            }
        }
        at
    }

    /// Whether `s` is the pattern (in some mix of cases, as above).
    pub fn equals(&self, s: &[u8]) -> bool {
        self.ends(s).last() == Some(&s.len())
    }

    /// Whether `s` starts with the pattern.
    pub fn is_prefix_of(&self, s: &[u8]) -> bool {
        !self.ends(s).is_empty()
    }

    /// Whether `s` ends with the pattern.
    pub fn is_suffix_of(&self, s: &[u8]) -> bool {
        let mut at = vec![s.len()];
        let mut next = Vec::new();
        for (lower, upper) in self.units.iter().rev() {
            next.clear();
            for &p in &at {
                if s[..p].ends_with(lower) {
                    next.push(p - lower.len());
                }
                if upper != lower && s[..p].ends_with(upper) {
                    next.push(p - upper.len());
                }
            }
            next.sort_unstable();
            next.dedup();
            std::mem::swap(&mut at, &mut next);
            if at.is_empty() {
                return false;
            }
        }
        true
    }
}

// The semantics of one matcher on one value, shared by the reference evaluator and any other
// matcher that wants to stay in step with it.

impl Matcher {
    /// Whether this matcher accepts one scalar of an event (string, number, bool or null; never
    /// an object or array). `Exists(true)` accepts any scalar, `Exists(false)` none: presence is
    /// decided by the caller, which knows whether the field has any scalar at all.
    pub fn matches_value(&self, v: &serde_json::Value) -> bool {
        super::reference::matcher_matches(self, v)
    }
}

impl Literal {
    /// Whether the literal equals an event scalar (numbers as doubles; an IP address literal
    /// in any notation).
    pub fn matches(&self, v: &serde_json::Value) -> bool {
        super::reference::literal_matches(self, v)
    }
}

impl AnythingBut {
    /// Whether the inside of the anything-but accepts `v`, i.e. the anything-but rejects it.
    pub fn excludes(&self, v: &serde_json::Value) -> bool {
        super::reference::anything_but_excludes(self, v)
    }
}

impl Wildcard {
    /// Whether `s` matches: first segment a prefix, last a suffix, middle ones in order.
    pub fn matches(&self, s: &str) -> bool {
        super::reference::wildcard_matches(self, s)
    }
}

impl Cidr {
    /// Whether the address is in the range (same family only).
    pub fn contains(&self, ip: IpAddr) -> bool {
        super::reference::cidr_contains(self, ip)
    }
}

/// Reads an IP address as AWS (event-ruler) does: dotted-decimal IPv4 (leading zeros allowed,
/// read as decimal) or IPv6 of hex digits and colons (no embedded IPv4, no zone).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    super::parse::parse_ip(s)
}
