//! "Why did my event not match": [`Pattern::explain`](super::Pattern::explain).
//!
//! **Invariant:** an explanation never disagrees with matching. It is computed from the
//! reference evaluator itself: an event gets an explanation exactly when
//! [`Pattern::matches`](super::Pattern::matches) is false, and every claim below is a question
//! put to that evaluator, never a second implementation of the semantics.
//!
//! For one alternative (a [`Conjunction`]), with its fields `f1..fn` in the order written:
//!
//! - the field that failed is `fk` for the smallest `k` such that `f1..fk` together do not
//!   match (so `f1..fk-1` do);
//! - when `fk` does not match even alone, the mismatch names `fk`, and the reason is read from
//!   its matchers and the event's values at its path (`expected one of [...]`, `"x" does not
//!   end with ".jpg"`, `absent, but the pattern requires a value`, ...);
//! - otherwise `fk` matches alone and `f1..fk-1` match, but not together: array consistency
//!   (without arrays in the event the fields of a conjunction are independent). The mismatch
//!   names the deepest array of the event on `fk`'s path under which `fk` and the earlier
//!   fields below it do not match together: `no element of the array matches together with the
//!   other fields under "detail.items"`.
//!
//! With several alternatives (`$or`), the one that got furthest is explained: the most fields
//! that match alone; on a tie, the first.

use std::fmt;

use serde_json::{Map, Value};

use super::ast::{AnythingBut, Conjunction, FieldMatch, IgnoreCase, Literal, Matcher, NumericOp};
use super::parse::{parse_ip, NUMERIC_LIMIT};
use super::{reference, FieldNames, Pattern};

/// Why an event does not match a pattern: the first field of the pattern that failed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Mismatch {
    /// The field's path as in the pattern, names joined with `.` (e.g. `detail.object.key`).
    /// For an array-consistency failure, the path of the array (e.g. `detail.items`).
    pub field: String,
    /// The event's value at that path: the value itself when there is one (an array stays an
    /// array), an array of them when there are several (the path crosses an array of objects,
    /// or names spell it two ways), `None` when the event has none.
    pub actual: Option<Value>,
    /// Short English, e.g. `"cat.png" does not end with ".jpg"`.
    pub reason: String,
}

impl fmt::Display for Mismatch {
    /// `field: reason`, e.g. `detail.object.key: "cat.png" does not end with ".jpg"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

pub(crate) fn explain(pattern: &Pattern, event: &Value) -> Option<Mismatch> {
    if pattern.matches(event) {
        return None;
    }
    let ctx = Ctx {
        event,
        names: pattern.names,
    };
    let mut best: Option<(usize, Mismatch)> = None;
    for alt in &pattern.alternatives {
        if let Some((satisfied, mismatch)) = ctx.alternative(alt) {
            if best.as_ref().is_none_or(|(s, _)| satisfied > *s) {
                best = Some((satisfied, mismatch));
            }
        }
    }
    // Every alternative failed, so each gave a mismatch; the fallback is unreachable.
    Some(best.map_or_else(
        || Mismatch {
            field: String::new(),
            actual: None,
            reason: "the event does not match".into(),
        },
        |(_, m)| m,
    ))
}

/// The event under explanation.
struct Ctx<'v> {
    event: &'v Value,
    names: FieldNames,
}

impl Ctx<'_> {
    /// Whether these fields, as one alternative, match (the reference evaluator).
    fn holds(&self, fields: Vec<FieldMatch>) -> bool {
        reference::matches(&[Conjunction { fields }], self.event, self.names)
    }

    /// The number of fields that match alone and the first field that failed; `None` when the
    /// alternative matches.
    fn alternative(&self, alt: &Conjunction) -> Option<(usize, Mismatch)> {
        let alone: Vec<bool> = alt.fields.iter().map(|f| self.holds(vec![f.clone()])).collect();
        let satisfied = alone.iter().filter(|ok| **ok).count();
        for (k, f) in alt.fields.iter().enumerate() {
            if !alone[k] {
                // f1..fk-1 matched together (checked at the previous step): fk is the first.
                return Some((satisfied, self.leaf(f)));
            }
            if k > 0 && !self.holds(alt.fields[..=k].to_vec()) {
                return Some((satisfied, self.conflict(&alt.fields[..=k])));
            }
        }
        None
    }

    /// The last of `fields` matches alone, the others match together, all of them do not.
    fn conflict(&self, fields: &[FieldMatch]) -> Mismatch {
        let last = &fields[fields.len() - 1];
        for depth in (1..=last.path.len()).rev() {
            let prefix = &last.path[..depth];
            let values = self.values_at(prefix);
            if !values.iter().any(has_element) {
                continue;
            }
            let under: Vec<FieldMatch> = fields.iter().filter(|f| f.path.starts_with(prefix)).cloned().collect();
            if under.len() > 1 && !self.holds(under) {
                let field = prefix.join(".");
                let reason = format!(
                    "no element of the array matches together with the other fields under {}",
                    json(&Value::String(field.clone()))
                );
                return Mismatch {
                    field,
                    actual: actual(values),
                    reason,
                };
            }
        }
        // Unreachable: without an array shared with earlier fields, fields are independent.
        Mismatch {
            field: last.path.join("."),
            actual: actual(self.values_at(&last.path)),
            reason: "does not match together with the other fields of the pattern".into(),
        }
    }

    /// A field that does not match even alone.
    fn leaf(&self, f: &FieldMatch) -> Mismatch {
        let values = self.values_at(&f.path);
        let mut flat = Vec::new();
        for v in &values {
            flatten(v, &mut flat);
        }
        let scalars: Vec<&Value> = flat.iter().copied().filter(|v| !v.is_object()).collect();
        let reason = if scalars.is_empty() {
            if flat.iter().any(|v| v.is_object()) {
                "an object, but the pattern requires a value".to_owned()
            } else if values.is_empty() {
                "absent, but the pattern requires a value".to_owned()
            } else {
                "an empty array, but the pattern requires a value".to_owned()
            }
        } else {
            leaf_reason(&f.matchers, &scalars)
        };
        Mismatch {
            field: f.path.join("."),
            actual: actual(values),
            reason,
        }
    }

    /// The event's values at `path`, as the reference evaluator finds them: arrays on the way
    /// are crossed (every element), an array at the end is one value. With names joined, a
    /// member whose dotted name spells the next steps is followed, and the members whose names
    /// go on past the end of the path are gathered into one object (they are an object there).
    fn values_at(&self, path: &[String]) -> Vec<Value> {
        let mut out = Vec::new();
        collect(self.event, path, self.names == FieldNames::Joined, &mut out);
        out
    }
}

fn collect(v: &Value, path: &[String], joined: bool, out: &mut Vec<Value>) {
    let Some(first) = path.first() else {
        out.push(v.clone());
        return;
    };
    match v {
        Value::Array(items) => {
            for item in items {
                collect(item, path, joined, out);
            }
        }
        Value::Object(map) if !joined => {
            if let Some(child) = map.get(first) {
                collect(child, &path[1..], joined, out);
            }
        }
        Value::Object(map) => {
            let mut beyond = Map::new();
            for (name, child) in map {
                let steps: Vec<&str> = name.split('.').collect();
                if steps.len() <= path.len() {
                    if steps.iter().zip(path).all(|(s, p)| s == p) {
                        collect(child, &path[steps.len()..], joined, out);
                    }
                } else if steps.iter().zip(path).all(|(s, p)| s == p) {
                    beyond.insert(steps[path.len()..].join("."), child.clone());
                }
            }
            if !beyond.is_empty() {
                out.push(Value::Object(beyond));
            }
        }
        _ => {}
    }
}

/// Arrays in arrays flattened: the values a leaf sees.
fn flatten<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        other => out.push(other),
    }
}

/// Whether `v` is an array with at least one element that is not an array (an empty array is
/// no value at all).
fn has_element(v: &Value) -> bool {
    match v {
        Value::Array(items) => items.iter().any(|i| !i.is_array() || has_element(i)),
        _ => false,
    }
}

fn actual(mut values: Vec<Value>) -> Option<Value> {
    match values.len() {
        0 => None,
        1 => values.pop(),
        _ => Some(Value::Array(values)),
    }
}

/// Compact JSON.
fn json(v: &Value) -> String {
    v.to_string()
}

/// `[a, b]` with a space after each comma.
fn list<'a>(items: impl IntoIterator<Item = &'a Value>) -> String {
    let items: Vec<String> = items.into_iter().map(json).collect();
    format!("[{}]", items.join(", "))
}

/// `"x"` for one string, `["x", "y"]` for several.
fn one_or_list(items: &[String]) -> String {
    match items {
        [one] => json(&Value::String(one.clone())),
        _ => {
            let values: Vec<Value> = items.iter().cloned().map(Value::String).collect();
            list(&values)
        }
    }
}

fn literal(lit: &Literal) -> String {
    match lit {
        Literal::String(s) => json(&Value::String(s.clone())),
        Literal::Number(n) => n.text.clone(),
        Literal::Bool(b) => b.to_string(),
        Literal::Null => "null".into(),
    }
}

/// The kinds of matcher that one clause of a reason covers together.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Exact,
    Prefix {
        ignore_case: bool,
    },
    Suffix {
        ignore_case: bool,
    },
    EqualsIgnoreCase,
    Wildcard,
    Cidr,
    /// Numeric, anything-but and `exists`: one clause each (the index of the matcher).
    Alone(usize),
}

fn kind(i: usize, m: &Matcher) -> Kind {
    match m {
        Matcher::Exact(_) => Kind::Exact,
        Matcher::Prefix { ignore_case, .. } => Kind::Prefix {
            ignore_case: *ignore_case,
        },
        Matcher::Suffix { ignore_case, .. } => Kind::Suffix {
            ignore_case: *ignore_case,
        },
        Matcher::EqualsIgnoreCase(_) => Kind::EqualsIgnoreCase,
        Matcher::Wildcard(_) => Kind::Wildcard,
        Matcher::Cidr(_) => Kind::Cidr,
        Matcher::Numeric(_) | Matcher::AnythingBut(_) | Matcher::Exists(_) => Kind::Alone(i),
    }
}

/// Why no matcher of a leaf matches any of its scalars (there is at least one): one clause per
/// kind of matcher, in the order written (`expected one of [...]` for all the literals, `does
/// not start with any of [...]` for all the prefixes), joined with `; `.
fn leaf_reason(matchers: &[Matcher], scalars: &[&Value]) -> String {
    let mut kinds: Vec<Kind> = Vec::new();
    for (i, m) in matchers.iter().enumerate() {
        let k = kind(i, m);
        if !kinds.contains(&k) && *m != Matcher::Exists(true) {
            kinds.push(k);
        }
    }
    let mut clauses = Vec::new();
    for k in kinds {
        let texts: Vec<String> = matchers
            .iter()
            .enumerate()
            .filter(|(i, m)| kind(*i, m) == k)
            .filter_map(|(_, m)| match m {
                Matcher::Exact(lit) => Some(literal(lit)),
                Matcher::Prefix { value, .. } | Matcher::Suffix { value, .. } | Matcher::EqualsIgnoreCase(value) => {
                    Some(quote(value))
                }
                Matcher::Wildcard(w) => Some(quote(&w.text)),
                Matcher::Cidr(c) => Some(format!("{}/{}", c.network, c.prefix_len)),
                _ => None,
            })
            .collect();
        // `"x"`, or `any of ["x", "y"]`.
        let what = match &texts[..] {
            [one] => one.clone(),
            _ => format!("any of [{}]", texts.join(", ")),
        };
        let clause = match k {
            Kind::Exact => format!("expected one of [{}]", texts.join(", ")),
            Kind::Prefix { ignore_case } => string_test(
                scalars,
                &format!("start with {what}{}", ignoring(ignore_case)),
                &format!("starts with {what}{}", ignoring(ignore_case)),
            ),
            Kind::Suffix { ignore_case } => string_test(
                scalars,
                &format!("end with {what}{}", ignoring(ignore_case)),
                &format!("ends with {what}{}", ignoring(ignore_case)),
            ),
            Kind::EqualsIgnoreCase => {
                let clause = string_test(
                    scalars,
                    &format!("equal {what} ignoring case"),
                    &format!("equals {what} ignoring case"),
                );
                // A string that does not match itself: say why (event-ruler's quirks).
                match scalars {
                    [v] if texts.contains(&json(v)) => {
                        if v.as_str().is_some_and(|s| s.chars().any(|c| c.len_utf16() == 2)) {
                            format!("{clause} (a character beyond U+FFFF never matches itself, as on AWS)")
                        } else {
                            format!("{clause} (a character whose lower and upper case both differ from it matches only those, as on AWS)")
                        }
                    }
                    _ => clause,
                }
            }
            Kind::Wildcard => {
                let what = match &texts[..] {
                    [one] => format!("the wildcard {one}"),
                    _ => format!("any of the wildcards [{}]", texts.join(", ")),
                };
                string_test(scalars, &format!("match {what}"), &format!("matches {what}"))
            }
            Kind::Cidr => {
                let net = match &texts[..] {
                    [one] => one.clone(),
                    _ => format!("any of {}", texts.join(", ")),
                };
                match scalars {
                    [v] => match v.as_str() {
                        Some(s) if parse_ip(s).is_some() => format!("{} is not in {net}", json(v)),
                        Some(_) => format!("{} is not in {net} (not an IP address)", json(v)),
                        None => format!("{} is not in {net} (not a string)", json(v)),
                    },
                    _ => format!("none of {} is in {net}", list(scalars.iter().copied())),
                }
            }
            Kind::Alone(i) => match &matchers[i] {
                Matcher::Numeric(conditions) => numeric(conditions, scalars),
                Matcher::AnythingBut(ab) => anything_but(ab, scalars),
                // `exists: true` is never a clause: a leaf with a scalar satisfies it.
                _ => "present, but the pattern requires it to be absent (\"exists\": false)".into(),
            },
        };
        clauses.push(clause);
    }
    clauses.join("; ")
}

fn quote(s: &str) -> String {
    json(&Value::String(s.to_owned()))
}

fn ignoring(ignore_case: bool) -> &'static str {
    if ignore_case {
        " (ignoring case)"
    } else {
        ""
    }
}

/// A test of strings that failed: `"x" does not <verb>`, `5 does not <verb> (not a string)`,
/// or `none of [..] <verbs>`.
fn string_test(scalars: &[&Value], verb: &str, verbs: &str) -> String {
    match scalars {
        [v] if v.is_string() => format!("{} does not {verb}", json(v)),
        [v] => format!("{} does not {verb} (not a string)", json(v)),
        _ => format!("none of {} {verbs}", list(scalars.iter().copied())),
    }
}

fn numeric(conditions: &[(NumericOp, f64)], scalars: &[&Value]) -> String {
    match scalars {
        [v] => match v.as_f64() {
            None => format!("{} is not a number", json(v)),
            Some(x) if !(-NUMERIC_LIMIT..=NUMERIC_LIMIT).contains(&x) => {
                format!(
                    "{} is outside the range of numeric matching (±{NUMERIC_LIMIT})",
                    json(v)
                )
            }
            Some(x) => match conditions.iter().find(|(op, operand)| !op.holds(x, *operand)) {
                Some((op, operand)) => format!("{} is not {} {operand}", json(v), op.as_str()),
                // Unreachable: the matcher failed, so some condition does.
                None => format!("{} is not {}", json(v), conditions_text(conditions)),
            },
        },
        _ => format!(
            "none of {} is {}",
            list(scalars.iter().copied()),
            conditions_text(conditions)
        ),
    }
}

/// `> 0 and <= 5`.
fn conditions_text(conditions: &[(NumericOp, f64)]) -> String {
    let parts: Vec<String> = conditions
        .iter()
        .map(|(op, operand)| format!("{} {operand}", op.as_str()))
        .collect();
    parts.join(" and ")
}

/// Every scalar is excluded.
fn anything_but(ab: &AnythingBut, scalars: &[&Value]) -> String {
    let v = match scalars {
        [v] => *v,
        _ => {
            let what = match ab {
                AnythingBut::Values(lits) => {
                    let lits: Vec<String> = lits.iter().map(literal).collect();
                    if let [one] = &lits[..] {
                        one.clone()
                    } else {
                        format!("[{}]", lits.join(", "))
                    }
                }
                AnythingBut::Prefix(ps) => format!("prefix {}", one_or_list(ps)),
                AnythingBut::Suffix(ps) => format!("suffix {}", one_or_list(ps)),
                AnythingBut::EqualsIgnoreCase(ws) => format!("equals-ignore-case {}", one_or_list(ws)),
                AnythingBut::Wildcard(ws) => {
                    let texts: Vec<String> = ws.iter().map(|w| w.text.clone()).collect();
                    format!("wildcard {}", one_or_list(&texts))
                }
            };
            return format!(
                "all of {} are excluded by anything-but {what}",
                list(scalars.iter().copied())
            );
        }
    };
    // The one item that excludes `v` (there is one: the anything-but failed).
    let s = v.as_str().unwrap_or_default();
    let what = match ab {
        AnythingBut::Values(lits) => lits
            .iter()
            .find(|lit| lit.matches(v))
            .map(literal)
            .unwrap_or_else(|| json(v)),
        AnythingBut::Prefix(ps) => format!("prefix {}", first_or_all(ps, |p| s.starts_with(p))),
        AnythingBut::Suffix(ps) => format!("suffix {}", first_or_all(ps, |p| s.ends_with(p))),
        AnythingBut::EqualsIgnoreCase(ws) => format!(
            "equals-ignore-case {}",
            first_or_all(ws, |w| IgnoreCase::new(w).equals(s.as_bytes()))
        ),
        AnythingBut::Wildcard(ws) => {
            let hit = ws.iter().find(|w| w.matches(s)).map(|w| w.text.clone());
            let texts: Vec<String> = ws.iter().map(|w| w.text.clone()).collect();
            format!("wildcard {}", hit.map_or_else(|| one_or_list(&texts), |t| quote(&t)))
        }
    };
    format!("{} is excluded by anything-but {what}", json(v))
}

/// The first item that `hit` accepts, quoted; all of them when none does.
fn first_or_all(items: &[String], hit: impl Fn(&str) -> bool) -> String {
    items
        .iter()
        .find(|i| hit(i))
        .map_or_else(|| one_or_list(items), |i| quote(i))
}
