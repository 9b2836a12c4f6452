//! The reference evaluator: small, recursive and obviously correct; no performance work.
//!
//! An event matches when some alternative (a [`Conjunction`]) matches. An alternative's paths
//! are put back into a tree, and the tree is matched against the event from the root: at a node
//! whose event value is an array, *one* element (arrays in arrays flattened) must match the whole
//! subtree. That is array consistency: fields under a common array are matched inside the same
//! element, as aws/event-ruler's array-consistent matcher does.
//!
//! Names are joined with `.` as on EventBridge ([`FieldNames::Joined`]): the event's values at
//! a path are all those whose names, joined with `.`, spell it. `{"a.b": 1}` has the value 1
//! at `a.b` as `{"a": {"b": 1}}` does, and `{"a.b": 1, "a": {"b": 2}}` has two values there
//! (as an array would, but with nothing to keep consistent: neither is inside an array). So a
//! node may find values in several places; where some of them are arrays, one element of each
//! is chosen for the whole subtree.

use serde_json::{Map, Value};

use super::ast::*;
use super::parse::{parse_ip, NUMERIC_LIMIT};
use super::FieldNames;

/// A path tree of one alternative.
#[derive(Default)]
struct Node<'a> {
    leaf: Option<&'a [Matcher]>,
    children: Vec<(&'a str, Node<'a>)>,
}

impl<'a> Node<'a> {
    fn insert(&mut self, path: &'a [String], matchers: &'a [Matcher]) {
        match path.split_first() {
            None => self.leaf = Some(matchers),
            Some((first, rest)) => {
                let pos = match self.children.iter().position(|(k, _)| *k == first.as_str()) {
                    Some(p) => p,
                    None => {
                        self.children.push((first.as_str(), Node::default()));
                        self.children.len() - 1
                    }
                };
                self.children[pos].1.insert(rest, matchers);
            }
        }
    }
}

/// Where the event has values for a node of the tree.
#[derive(Debug, Clone, Copy)]
enum Place<'v> {
    /// A JSON value.
    Value(&'v Value),
    /// The members of `map` whose names start with `prefix` (some names and a `.` after each,
    /// borrowed from one of those members' names), as if they were an object at the node:
    /// `{"a.b.c": 1}` at the path `a` is `{"b.c": 1}`, at `a.b` it is `{"c": 1}`.
    Dotted {
        map: &'v Map<String, Value>,
        prefix: &'v str,
    },
}

pub(crate) fn matches(alternatives: &[Conjunction], event: &Value, names: FieldNames) -> bool {
    let joined = names == FieldNames::Joined;
    alternatives.iter().any(|alt| {
        let mut root = Node::default();
        for f in &alt.fields {
            root.insert(&f.path, &f.matchers);
        }
        node_matches(&root, &[Place::Value(event)], joined)
    })
}

/// Whether the event values at a node (none: absent) satisfy the node.
fn node_matches(node: &Node<'_>, places: &[Place<'_>], joined: bool) -> bool {
    let array = places.iter().enumerate().find_map(|(i, p)| match p {
        Place::Value(Value::Array(items)) => Some((i, items)),
        _ => None,
    });
    if let Some((i, items)) = array {
        // One element of the array (arrays in arrays flattened) stands in for it.
        let mut any_element = false;
        let hit = if let [_] = places {
            any_scalar_or_object(items, &mut |e| {
                any_element = true;
                node_matches(node, &[Place::Value(e)], joined)
            })
        } else {
            let mut places = places.to_vec();
            any_scalar_or_object(items, &mut |e| {
                any_element = true;
                places[i] = Place::Value(e);
                node_matches(node, &places, joined)
            })
        };
        if any_element {
            return hit;
        }
        // An empty array contributes no fields: the same as absent.
        let mut places = places.to_vec();
        places.remove(i);
        return node_matches(node, &places, joined);
    }
    let leaf_ok = match node.leaf {
        None => true,
        Some(ms) => {
            // Objects are not leaf values: only a scalar (null included) is a value here.
            let scalars = places.iter().filter_map(|p| match p {
                Place::Value(v) if !v.is_object() => Some(*v),
                _ => None,
            });
            leaf_matches(ms, scalars)
        }
    };
    leaf_ok
        && node.children.iter().all(|(key, child)| match places {
            // One place (the common case): at most two below it, on the stack.
            [p] => match descend(*p, key, joined) {
                [None, None] => node_matches(child, &[], joined),
                [Some(x), None] | [None, Some(x)] => node_matches(child, &[x], joined),
                [Some(x), Some(y)] => node_matches(child, &[x, y], joined),
            },
            _ => {
                let below: Vec<Place<'_>> = places.iter().flat_map(|p| descend(*p, key, joined)).flatten().collect();
                node_matches(child, &below, joined)
            }
        })
}

/// The places of the child `key` of a place: the member named `key` and, when names are
/// joined, the members whose names continue with `key.`.
fn descend<'v>(place: Place<'v>, key: &str, joined: bool) -> [Option<Place<'v>>; 2] {
    let (map, prefix) = match place {
        Place::Value(Value::Object(map)) => (map, ""),
        Place::Dotted { map, prefix } => (map, prefix),
        Place::Value(_) => return [None, None],
    };
    if !joined {
        return [map.get(key).map(Place::Value), None];
    }
    let (p, k) = (prefix.as_bytes(), key.as_bytes());
    let end = p.len() + k.len();
    let mut exact = if p.is_empty() {
        map.get(key).map(Place::Value)
    } else {
        None
    };
    let mut dotted = None;
    for (name, value) in map {
        let n = name.as_bytes();
        // Most names are ruled out by their length or the byte after `prefix` and `key`.
        let continues = n.len() > end && n[end] == b'.';
        if !continues && (p.is_empty() || n.len() != end) {
            continue;
        }
        if !n.starts_with(p) || &n[p.len()..end] != k {
            continue;
        }
        if continues {
            if dotted.is_none() {
                dotted = Some(Place::Dotted {
                    map,
                    prefix: &name[..end + 1],
                });
            }
        } else {
            exact = Some(Place::Value(value));
        }
    }
    [exact, dotted]
}

/// Whether `f` accepts some element of an array that is not itself an array (arrays in arrays
/// are flattened), trying them in order.
fn any_scalar_or_object<'v>(items: &'v [Value], f: &mut impl FnMut(&'v Value) -> bool) -> bool {
    items.iter().any(|item| match item {
        Value::Array(inner) => any_scalar_or_object(inner, f),
        other => f(other),
    })
}

/// A leaf: any matcher matches any of the scalars (none: no value here).
fn leaf_matches<'v>(matchers: &[Matcher], scalars: impl Iterator<Item = &'v Value> + Clone) -> bool {
    matchers.iter().any(|m| match m {
        Matcher::Exists(want) => *want == scalars.clone().next().is_some(),
        m => scalars.clone().any(|v| matcher_matches(m, v)),
    })
}

/// Whether one matcher (not `Exists`) matches one scalar.
pub(crate) fn matcher_matches(m: &Matcher, v: &Value) -> bool {
    match m {
        Matcher::Exact(lit) => literal_matches(lit, v),
        Matcher::Prefix { value, ignore_case } => v.as_str().is_some_and(|s| {
            if *ignore_case {
                IgnoreCase::new(value).is_prefix_of(s.as_bytes())
            } else {
                s.starts_with(value.as_str())
            }
        }),
        Matcher::Suffix { value, ignore_case } => v.as_str().is_some_and(|s| {
            if *ignore_case {
                IgnoreCase::new(value).is_suffix_of(s.as_bytes())
            } else {
                s.ends_with(value.as_str())
            }
        }),
        Matcher::EqualsIgnoreCase(want) => v.as_str().is_some_and(|s| IgnoreCase::new(want).equals(s.as_bytes())),
        Matcher::Wildcard(w) => v.as_str().is_some_and(|s| wildcard_matches(w, s)),
        Matcher::AnythingBut(ab) => !anything_but_excludes(ab, v),
        Matcher::Numeric(conditions) => {
            event_number(v).is_some_and(|x| conditions.iter().all(|(op, operand)| op.holds(x, *operand)))
        }
        Matcher::Exists(_) => true,
        Matcher::Cidr(c) => v.as_str().and_then(parse_ip).is_some_and(|ip| cidr_contains(c, ip)),
    }
}

/// An event number that numeric matching considers: within ±5.0e9.
fn event_number(v: &Value) -> Option<f64> {
    let x = v.as_f64()?;
    (-NUMERIC_LIMIT..=NUMERIC_LIMIT).contains(&x).then_some(x)
}

pub(crate) fn literal_matches(lit: &Literal, v: &Value) -> bool {
    match (lit, v) {
        (Literal::String(want), Value::String(s)) => {
            s == want
                || match (parse_ip(want), parse_ip(s)) {
                    // An IP address literal matches the same address in any notation.
                    (Some(a), Some(b)) => a == b,
                    _ => false,
                }
        }
        (Literal::Number(n), Value::Number(x)) => x.as_f64() == Some(n.value),
        (Literal::Bool(b), Value::Bool(x)) => b == x,
        (Literal::Null, Value::Null) => true,
        _ => false,
    }
}

/// Whether the inside of an anything-but matches `v` (so that the anything-but does not).
pub(crate) fn anything_but_excludes(ab: &AnythingBut, v: &Value) -> bool {
    let s = v.as_str();
    match ab {
        AnythingBut::Values(values) => values.iter().any(|lit| literal_matches(lit, v)),
        AnythingBut::Prefix(ps) => s.is_some_and(|s| ps.iter().any(|p| s.starts_with(p.as_str()))),
        AnythingBut::Suffix(ps) => s.is_some_and(|s| ps.iter().any(|p| s.ends_with(p.as_str()))),
        AnythingBut::EqualsIgnoreCase(ws) => {
            s.is_some_and(|s| ws.iter().any(|w| IgnoreCase::new(w).equals(s.as_bytes())))
        }
        AnythingBut::Wildcard(ws) => s.is_some_and(|s| ws.iter().any(|w| wildcard_matches(w, s))),
    }
}

/// Segment matching: first segment a prefix, last a suffix, middle ones in order.
pub(crate) fn wildcard_matches(w: &Wildcard, s: &str) -> bool {
    let segs = &w.segments;
    if segs.len() == 1 {
        return s == segs[0];
    }
    let (first, last) = (&segs[0], &segs[segs.len() - 1]);
    if s.len() < first.len() + last.len() || !s.starts_with(first.as_str()) || !s.ends_with(last.as_str()) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in &segs[1..segs.len() - 1] {
        match rest.find(mid.as_str()) {
            Some(p) => rest = &rest[p + mid.len()..],
            None => return false,
        }
    }
    true
}

/// event-ruler's range: from the address as written up to it with every host bit set.
pub(crate) fn cidr_contains(c: &Cidr, ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr::{V4, V6};
    match (c.network, ip) {
        (V4(n), V4(a)) => {
            let (n, a) = (u32::from(n), u32::from(a));
            let host = if c.prefix_len == 0 {
                u32::MAX
            } else {
                u32::MAX >> c.prefix_len
            };
            a >= n && a <= n | host
        }
        (V6(n), V6(a)) => {
            let (n, a) = (u128::from(n), u128::from(a));
            let host = if c.prefix_len == 0 {
                u128::MAX
            } else {
                u128::MAX >> c.prefix_len
            };
            a >= n && a <= n | host
        }
        _ => false,
    }
}
