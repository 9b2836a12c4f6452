//! The reference evaluator: small, recursive and obviously correct; no performance work.
//!
//! An event matches when some alternative (a [`Conjunction`]) matches. An alternative's paths
//! are put back into a tree, and the tree is matched against the event from the root: at a node
//! whose event value is an array, *one* element (arrays in arrays flattened) must match the whole
//! subtree. That is array consistency: fields under a common array are matched inside the same
//! element, as aws/event-ruler's array-consistent matcher does.

use serde_json::Value;

use super::ast::*;
use super::parse::{parse_ip, NUMERIC_LIMIT};

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

pub(crate) fn matches(alternatives: &[Conjunction], event: &Value) -> bool {
    alternatives.iter().any(|alt| {
        let mut root = Node::default();
        for f in &alt.fields {
            root.insert(&f.path, &f.matchers);
        }
        node_matches(&root, Some(event))
    })
}

/// Whether the event value at a node (`None`: absent) satisfies the node.
fn node_matches(node: &Node<'_>, value: Option<&Value>) -> bool {
    if let Some(Value::Array(_)) = value {
        let mut elements = Vec::new();
        flatten(value.unwrap_or(&Value::Null), &mut elements);
        if elements.is_empty() {
            // An empty array contributes no fields: the same as absent.
            return node_matches(node, None);
        }
        return elements.into_iter().any(|e| node_matches(node, Some(e)));
    }
    let leaf_ok = match node.leaf {
        None => true,
        Some(ms) => {
            // Objects are not leaf values: only a scalar (null included) is a value here.
            let scalar = value.filter(|v| !v.is_object());
            leaf_matches(ms, scalar)
        }
    };
    leaf_ok
        && node.children.iter().all(|(key, child)| {
            let v = match value {
                Some(Value::Object(m)) => m.get(*key),
                _ => None,
            };
            node_matches(child, v)
        })
}

fn flatten<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        other => out.push(other),
    }
}

/// A leaf: any matcher matches the scalar (`None`: no scalar here).
fn leaf_matches(matchers: &[Matcher], scalar: Option<&Value>) -> bool {
    matchers.iter().any(|m| match (m, scalar) {
        (Matcher::Exists(want), s) => *want == s.is_some(),
        (_, None) => false,
        (m, Some(v)) => matcher_matches(m, v),
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
