//! The wildcard complexity limit: EventBridge rejects a pattern whose wildcards could keep too
//! many partial matches alive at once, with `Rule is too complex - try using fewer wildcard
//! characters or fewer repeating character sequences after a wildcard character`.
//!
//! This models aws/event-ruler's `MachineComplexityEvaluator` on its own terms, without building
//! event-ruler's machine:
//!
//! - **Name states.** event-ruler adds each alternative's fields in key order (keys sorted), one
//!   `NameState` after another; the values of one field of one alternative lead to one next
//!   name state, shared with an earlier alternative that reached the same state through the same
//!   value. Each name state has one byte machine per field; its wildcard values (and
//!   `anything-but` wildcard lists) are what is measured. As in event-ruler's evaluator, only
//!   name states reached through a value are evaluated, not those reached only through
//!   `{"exists": false}` (a key transition, not a byte-machine match). That is event-ruler's
//!   evaluation before 2.1.0, which 2.1.0 keeps as an option; the third-party reimplementation
//!   that gives the limit says EventBridge still evaluates that way (not verified here).
//! - **Byte machine.** A wildcard value is matched byte by byte over the JSON string with its
//!   quotes (`"a*b"`). Bytes before the first `*` share a trie with the other values of the
//!   field, and so does the state entered by the first `*` after that shared prefix; every later
//!   state belongs to one value, except that the values of one `anything-but` wildcard list (one
//!   pattern for event-ruler) end in one shared matching state. A `*` state loops on any byte,
//!   and the byte after a `*` is reachable both from the `*` state and from the state before it
//!   (the `*` matching nothing).
//! - **Measure.** Over every set of states that some input can reach at once: the sum, over the
//!   states of the set, of the number of distinct wildcard values each state can still complete,
//!   plus that of the `*` states one byte ahead that are not in the set. The pattern is too
//!   complex when that exceeds [`MAX_COMPLEXITY`] anywhere.
//!
//! The measure reproduces the expected values of event-ruler's `MachineComplexityEvaluatorTest`
//! (see the tests below: byte machines without quotes as that test builds them, and whole rules). The threshold is
//! not published by AWS: see [`MAX_COMPLEXITY`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::ast::{AnythingBut, Conjunction, Matcher, Wildcard};
use super::PatternError;

/// The reason EventBridge gives (event-ruler's text; the same wording appears in public reports
/// of PutRule failures).
pub(crate) const TOO_COMPLEX: &str = "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character";

/// The largest complexity accepted. Not published by AWS; inferred: a third-party
/// reimplementation calibrated against EventBridge states "more than ten simultaneously
/// reachable wildcard prefixes" are rejected, and it agrees with one observed PutRule outcome
/// (four `*/datasync/*.ext` values in one field rejected, two accepted, four `*.ext` accepted;
/// measures 16, 8 and 8 here).
pub(crate) const MAX_COMPLEXITY: usize = 10;

/// Checks every byte machine of the pattern. Patterns without wildcards return at once.
pub(crate) fn check(alternatives: &[Conjunction]) -> Result<(), PatternError> {
    let has_wildcard = alternatives
        .iter()
        .flat_map(|c| &c.fields)
        .flat_map(|f| &f.matchers)
        .any(|m| wildcards_of(m).is_some());
    if !has_wildcard {
        return Ok(());
    }
    if complexity(alternatives, MAX_COMPLEXITY) > MAX_COMPLEXITY {
        return Err(PatternError::new(TOO_COMPLEX));
    }
    Ok(())
}

/// The largest complexity of the pattern's byte machines (values quoted, as in a rule), or a
/// value above `cap` as soon as one is found.
fn complexity(alternatives: &[Conjunction], cap: usize) -> usize {
    let mut max = 0;
    for machine in name_state_machines(alternatives) {
        max = max.max(measure(&machine, true, cap));
        if max > cap {
            break;
        }
    }
    max
}

/// The wildcard values of a matcher that count towards complexity.
fn wildcards_of(m: &Matcher) -> Option<&[Wildcard]> {
    match m {
        Matcher::Wildcard(w) => Some(std::slice::from_ref(w)),
        Matcher::AnythingBut(AnythingBut::Wildcard(ws)) if !ws.is_empty() => Some(ws),
        _ => None,
    }
}

/// What tells two matchers of one field apart for event-ruler (which next name state a value
/// leads to; which wildcard values are one pattern). Equal numbers compare equal.
fn identity(m: &Matcher) -> String {
    match m {
        Matcher::Exact(super::ast::Literal::Number(n)) => format!("number:{}", n.value),
        Matcher::AnythingBut(AnythingBut::Wildcard(ws)) => {
            let set: BTreeSet<&str> = ws.iter().map(|w| w.text.as_str()).collect();
            format!("anything-but-wildcard:{set:?}")
        }
        other => format!("{other:?}"),
    }
}

/// One wildcard pattern of a byte machine: its identity and its values (segments).
type Term = (String, Vec<Vec<String>>);

/// The wildcard terms of every byte machine in a name state reached through a value.
fn name_state_machines(alternatives: &[Conjunction]) -> Vec<Vec<Term>> {
    #[derive(Default)]
    struct Field {
        terms: BTreeMap<String, Vec<Vec<String>>>,
        next: HashMap<String, usize>,
        /// Next name states reached through a value (not only through `exists: false`).
        by_value: BTreeSet<usize>,
    }
    let mut nodes: Vec<BTreeMap<String, Field>> = vec![BTreeMap::new()];
    for conj in alternatives {
        let mut fields: Vec<_> = conj.fields.iter().collect();
        fields.sort_by_cached_key(|f| f.path.join("."));
        let mut states: BTreeSet<usize> = BTreeSet::from([0]);
        for f in fields {
            let key = f.path.join(".");
            let mut next_states = BTreeSet::new();
            for &state in &states {
                let mut last: Option<usize> = None;
                for m in &f.matchers {
                    let id = identity(m);
                    let existing = nodes[state].get(&key).and_then(|field| field.next.get(&id).copied());
                    let n = match existing.or(last) {
                        Some(n) => n,
                        None => {
                            nodes.push(BTreeMap::new());
                            nodes.len() - 1
                        }
                    };
                    let field = nodes[state].entry(key.clone()).or_default();
                    field.next.entry(id.clone()).or_insert(n);
                    if let Some(ws) = wildcards_of(m) {
                        field
                            .terms
                            .entry(id)
                            .or_insert_with(|| ws.iter().map(|w| w.segments.clone()).collect());
                    }
                    if !matches!(m, Matcher::Exists(false)) {
                        field.by_value.insert(n);
                    }
                    last = Some(n);
                    next_states.insert(n);
                }
            }
            states = next_states;
        }
    }
    let mut out = Vec::new();
    let mut seen = HashSet::from([0]);
    let mut pending = vec![0];
    while let Some(state) = pending.pop() {
        for field in nodes[state].values() {
            if !field.terms.is_empty() {
                out.push(field.terms.iter().map(|(id, v)| (id.clone(), v.clone())).collect());
            }
            for &n in &field.by_value {
                if seen.insert(n) {
                    pending.push(n);
                }
            }
        }
    }
    out
}

/// A wildcard value as a byte sequence: `None` is a `*`.
fn tokens(segments: &[String], quoted: bool) -> Vec<Option<u8>> {
    let mut out = Vec::new();
    if quoted {
        out.push(Some(b'"'));
    }
    for (i, seg) in segments.iter().enumerate() {
        if i > 0 {
            out.push(None);
        }
        out.extend(seg.bytes().map(Some));
    }
    if quoted {
        out.push(Some(b'"'));
    }
    out
}

#[derive(Default)]
struct State {
    /// Transitions on one byte.
    lit: Vec<(u8, usize)>,
    /// The transition on any byte (into a `*` state).
    any: Option<usize>,
    /// Children in the shared prefix trie.
    trie: Vec<(u8, usize)>,
    /// The terms (indices) this state can still complete.
    terms: Vec<usize>,
}

/// The complexity of a byte machine holding these terms, capped just above `cap` (the
/// traversal stops as soon as `cap` is exceeded).
fn measure(terms: &[Term], quoted: bool, cap: usize) -> usize {
    let mut states: Vec<State> = vec![State::default()];
    let mut alphabet: BTreeSet<u8> = BTreeSet::new();
    for (k, (_, values)) in terms.iter().enumerate() {
        // The values of one term (an anything-but list) end in one matching state.
        let mut end: Option<usize> = None;
        for segments in values {
            let toks = tokens(segments, quoted);
            let last = toks.len().saturating_sub(1);
            let mut cur = 0;
            let mut in_prefix = true;
            // The state before the last `*`, when the previous token was a `*`.
            let mut before_star: Option<usize> = None;
            for (i, tok) in toks.into_iter().enumerate() {
                let next = match tok {
                    None => {
                        let shared = if in_prefix { states[cur].any } else { None };
                        let w = shared.unwrap_or_else(|| {
                            states.push(State::default());
                            states.len() - 1
                        });
                        states[cur].any = Some(w);
                        states[w].any = Some(w);
                        in_prefix = false;
                        before_star = Some(cur);
                        w
                    }
                    Some(b) => {
                        alphabet.insert(b);
                        let child = if in_prefix {
                            states[cur].trie.iter().find(|&&(c, _)| c == b).map(|&(_, t)| t)
                        } else {
                            None
                        };
                        match child {
                            Some(t) => t,
                            None => {
                                let t = match end.filter(|_| i == last) {
                                    Some(t) => t,
                                    None => {
                                        states.push(State::default());
                                        states.len() - 1
                                    }
                                };
                                if i == last {
                                    end = Some(t);
                                }
                                states[cur].lit.push((b, t));
                                if in_prefix {
                                    states[cur].trie.push((b, t));
                                }
                                if let Some(src) = before_star.take() {
                                    states[src].lit.push((b, t));
                                }
                                t
                            }
                        }
                    }
                };
                if !states[next].terms.contains(&k) {
                    states[next].terms.push(k);
                }
                cur = next;
            }
        }
    }
    if states.len() == 1 {
        return 0;
    }
    // Every byte that has a transition, and one byte that has none (`None`).
    let bytes: Vec<Option<u8>> = std::iter::once(None).chain(alphabet.into_iter().map(Some)).collect();
    let mut seen: HashSet<Vec<usize>> = HashSet::new();
    let mut pending: Vec<Vec<usize>> = vec![vec![0]];
    let mut max = 0;
    while let Some(set) = pending.pop() {
        for &b in &bytes {
            let mut next: BTreeSet<usize> = BTreeSet::new();
            for &s in &set {
                next.extend(states[s].any);
                if let Some(b) = b {
                    next.extend(states[s].lit.iter().filter(|&&(c, _)| c == b).map(|&(_, t)| t));
                }
            }
            if next.is_empty() {
                continue;
            }
            let mut size = 0;
            for &s in &next {
                size += states[s].terms.len();
                if let Some(w) = states[s].any {
                    if !next.contains(&w) {
                        size += states[w].terms.len();
                    }
                }
            }
            max = max.max(size);
            if max > cap {
                return max;
            }
            let next: Vec<usize> = next.into_iter().collect();
            if seen.insert(next.clone()) {
                pending.push(next);
            }
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse_wildcard;
    use super::*;

    /// The complexity of a byte machine of plain wildcard values, unquoted, as event-ruler's
    /// `MachineComplexityEvaluatorTest` adds them to a bare `ByteMachine`.
    fn bare(values: &[&str]) -> usize {
        // Equal values are one pattern, as in a rule's machine.
        let values: BTreeSet<&str> = values.iter().copied().collect();
        let terms: Vec<Term> = values
            .iter()
            .map(|v| (v.to_string(), vec![parse_wildcard(v).unwrap().segments]))
            .collect();
        measure(&terms, false, 100)
    }

    /// Expected values from event-ruler's MachineComplexityEvaluatorTest (exact, prefix and
    /// equals-ignore-case values there add no complexity and are left out).
    #[test]
    fn event_ruler_evaluator_cases() {
        let cases: &[(&[&str], usize)] = &[
            (&["*"], 1),
            (&["*", "ab*c"], 3),
            (&["abc"], 1),
            (&["*ab"], 2),
            (&["*aa"], 3),
            (&["a*b"], 2),
            (&["aa*"], 2),
            (&["a*bc"], 2),
            (&["a*bb"], 3),
            (&["a*bcb"], 3),
            (&["a*bbb"], 4),
            (&["*ab*ad"], 4),
            (&["*ab*d"], 3),
            (&["*aba*"], 4),
            (&["a*b*bb"], 5),
            (&["a*b*cb"], 4),
            (&["a*b*cd"], 3),
            (&["a*b*b"], 4),
            (&["a*bb*"], 4),
            (&["ab*b*"], 3),
            (&["ab*c", "x*xx"], 3),
            (&["*abc", "*abcde"], 4),
            (&["a*bcd", "ab*cd"], 4),
            (&["a*bc", "a*bcde"], 4),
            (&["a*aaa", "aa*aa"], 7),
            (&["a*bc", "abc*d"], 4),
            (&["a*aaa", "aaa*a"], 6),
            (&["a*aax", "aaa*x"], 5),
            (&["a*bc", "abc*"], 4),
            (&["a*aa", "aaa*"], 5),
            (&["abc*", "abcde*"], 3),
            (&["ab*cd", "ab*wx", "ab*yz"], 6),
            (&["*ab*b*b*"], 7),
            (&["*a*a*a*a*a*a*a*a*"], 17),
            (&["*abc"], 2),
            (&["ab*c"], 2),
            (&["ab*c", "ab*c"], 2),
            (&["F*eatureFeature", "Fe*atureFeature", "Fea*tureFeature"], 10),
            // testEvaluateQuaminaExploder
            (
                &[
                    "aahed*", "aal*ii", "aargh*", "aarti*", "a*baca", "*abaci", "a*back", "ab*acs", "abaf*t", "*abaka",
                    "ab*amp", "a*band", "*abase", "abash*", "abas*k", "ab*ate", "aba*ya", "abbas*", "abbed*", "ab*bes",
                    "abbey*", "*abbot", "ab*cee", "abea*m", "abe*ar", "a*bele", "a*bers", "abet*s", "*abhor", "abi*de",
                    "a*bies", "*abled",
                ],
                45,
            ),
        ];
        for (values, expected) in cases {
            assert_eq!(bare(values), *expected, "{values:?}");
            // Order does not matter (the Java test tries every permutation).
            let mut rev = values.to_vec();
            rev.reverse();
            assert_eq!(bare(&rev), *expected, "{rev:?}");
        }
    }

    /// event-ruler's anything-but wildcard cases: a list is one pattern (6), separate
    /// anything-but values are separate patterns (7).
    #[test]
    fn event_ruler_anything_but_cases() {
        let seg = |v: &str| parse_wildcard(v).unwrap().segments;
        let list: Vec<Term> = vec![("l".into(), vec![seg("a*aaa"), seg("aa*aa")])];
        assert_eq!(measure(&list, false, 100), 6);
        let two: Vec<Term> = vec![("x".into(), vec![seg("a*aaa")]), ("y".into(), vec![seg("aa*aa")])];
        assert_eq!(measure(&two, false, 100), 7);
        let one: Vec<Term> = vec![("x".into(), vec![seg("a*b*b")])];
        assert_eq!(measure(&one, false, 100), 4);
    }

    fn rule(p: &str) -> usize {
        complexity(
            &super::super::parse::parse(p, super::super::FieldNames::Joined)
                .unwrap_or_else(|e| panic!("{e}"))
                .alternatives,
            100,
        )
    }

    /// Whole-rule values from event-ruler's MachineComplexityEvaluatorTest (values quoted).
    #[test]
    fn event_ruler_rule_cases() {
        assert_eq!(
            rule(
                r#"{"abc": [{"prefix": "a"}, "abcdef", {"suffix": "z"}], "def": [{"prefix": "b"}, {"wildcard": "a*a*a*a*a*a*"}, {"suffix": "c"}], "ghi": [{"prefix": "a"}, "abcdef", {"suffix": "z"}]}"#
            ),
            11
        );
        assert_eq!(rule(r#"{"zzz": [{"wildcard": "*z*"}]}"#), 3);
        assert_eq!(rule(r#"{"aaa": [{"exists": true}], "zzz": [{"wildcard": "*z*"}]}"#), 3);
        assert_eq!(rule(r#"{"zzz": [{"wildcard": "*a*a*a*"}]}"#), 7);
        assert_eq!(rule(r#"{"zzz": [{"wildcard": "*a*a*a*a*a*a*"}]}"#), 13);
        assert_eq!(
            rule(r#"{"zzz": [{"exists": false}], "aaa": [{"wildcard": "*a*a*a*"}]}"#),
            7
        );
        assert_eq!(
            rule(r#"{"aaa": ["x", {"exists": false}], "zzz": [{"wildcard": "*a*a*a*"}]}"#),
            7
        );
        // event-ruler before 2.1.0 (and, per the third-party reimplementation, EventBridge): a
        // machine reached only through an absent key is not evaluated. event-ruler 2.1.0 counts
        // it by default (7 and 2 here).
        assert_eq!(
            rule(r#"{"aaa": [{"exists": false}], "zzz": [{"wildcard": "*a*a*a*"}]}"#),
            0
        );
        assert_eq!(
            rule(r#"{"aaa": [{"exists": false}], "zzz": [{"wildcard": "abc*def"}]}"#),
            0
        );
        assert_eq!(
            rule(r#"{"aaa": {"inner": [{"exists": false}]}, "zzz": [{"wildcard": "*a*a*a*"}]}"#),
            0
        );
        assert_eq!(
            rule(r#"{"aaa": [{"wildcard": "*a*"}], "mmm": [{"exists": false}], "zzz": [{"wildcard": "*a*a*a*"}]}"#),
            3
        );
        // Numeric matchers only: no machine is measured.
        assert_eq!(
            rule(r#"{"f1": [{"numeric": ["<=", 120]}], "f2": [{"numeric": [">", 300]}]}"#),
            0
        );
    }

    #[test]
    fn evaluation_is_capped() {
        let long = "F*e*a*t*u*r*e*".repeat(300);
        assert!(bare(&[&long]) > 100);
    }

    fn reason(p: &str) -> Option<String> {
        super::super::Pattern::parse(p).err().map(|e| e.reason().to_owned())
    }

    #[test]
    fn limit_on_rules() {
        // One value: 10 is accepted, 11 is not.
        assert_eq!(reason(r#"{"a": [{"wildcard": "*a*a*a*a*a"}]}"#), None);
        assert_eq!(
            reason(r#"{"a": [{"wildcard": "*a*a*a*a*a*"}]}"#).as_deref(),
            Some(TOO_COMPLEX)
        );
        let w = |v: &str| format!(r#"{{"wildcard": "*/datasync/*.{v}"}}"#);
        let (b, t, f, s) = (w("bif"), w("tif"), w("tiff"), w("svs"));
        // Two values measure 8, four 16.
        assert_eq!(reason(&format!(r#"{{"a": [{b}, {t}]}}"#)), None);
        assert_eq!(
            reason(&format!(r#"{{"a": [{b}, {t}, {f}, {s}]}}"#)).as_deref(),
            Some(TOO_COMPLEX)
        );
        // Alternatives reaching the same field of the same name state share its machine.
        let ors = format!(r#"{{"$or": [{{"a": [{b}, {t}]}}, {{"a": [{f}, {s}]}}]}}"#);
        assert_eq!(reason(&ors).as_deref(), Some(TOO_COMPLEX));
        // Different fields are different machines.
        assert_eq!(reason(&format!(r#"{{"a": [{b}, {t}], "b": [{f}, {s}]}}"#)), None);
        // Different preceding values lead to different name states; equal ones to the same.
        let split = format!(r#"{{"$or": [{{"k": ["1"], "z": [{b}, {t}]}}, {{"k": ["2"], "z": [{f}, {s}]}}]}}"#);
        assert_eq!(reason(&split), None);
        let joined = format!(r#"{{"$or": [{{"k": ["1"], "z": [{b}, {t}]}}, {{"k": ["1"], "z": [{f}, {s}]}}]}}"#);
        assert_eq!(reason(&joined).as_deref(), Some(TOO_COMPLEX));
        // A state reached only through exists:false is not evaluated (nor is it in event-ruler).
        let absent = format!(r#"{{"k": [{{"exists": false}}], "z": [{b}, {t}, {f}, {s}]}}"#);
        assert_eq!(reason(&absent), None);
        let present = format!(r#"{{"k": [{{"exists": true}}], "z": [{b}, {t}, {f}, {s}]}}"#);
        assert_eq!(reason(&present).as_deref(), Some(TOO_COMPLEX));
        // anything-but wildcard lists count too (one pattern per list).
        let ab = r#"{"a": [{"anything-but": {"wildcard": ["*/datasync/*.bif", "*/datasync/*.tif", "*/datasync/*.tiff", "*/datasync/*.svs"]}}]}"#;
        assert_eq!(reason(ab).as_deref(), Some(TOO_COMPLEX));
        // The message has no location.
        let e = super::super::Pattern::parse(&ors).unwrap_err();
        assert_eq!(e.location(), None);
        assert_eq!(
            e.to_string(),
            format!("Event pattern is not valid. Reason: {TOO_COMPLEX}")
        );
    }
}
