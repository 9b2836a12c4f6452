//! The machine against the reference evaluator: every fixture case, generated patterns and
//! events (proptest), incremental add/remove, and malformed input.

use std::cell::Cell;
use std::path::Path;

use proptest::prelude::*;
use serde_json::{json, Value};

use super::Machine;
use crate::pattern::Pattern;

thread_local! {
    /// How many times this thread's machines asked the reference evaluator.
    pub(super) static FALLBACKS: Cell<u64> = const { Cell::new(0) };
}

fn machine_of(patterns: &[Pattern]) -> Machine<usize> {
    let mut m = Machine::new();
    for (i, p) in patterns.iter().enumerate() {
        m.add(i, p);
    }
    m
}

/// What the reference says, as the machine's result would be.
fn reference(patterns: &[Pattern], event: &Value) -> Vec<usize> {
    (0..patterns.len()).filter(|&i| patterns[i].matches(event)).collect()
}

#[test]
fn fixtures_agree_with_reference_and_expectations() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/patterns");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures/patterns") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let cases: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("fixture JSON");
        for case in cases {
            let name = format!("{}: {}", path.display(), case["name"]);
            let text = match &case["pattern"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let Ok(pattern) = Pattern::parse(&text) else { continue };
            let Some(event) = case.get("event") else { continue };
            let raw = match event {
                Value::String(s) if case.get("event_is_text").is_some() => s.clone(),
                other => other.to_string(),
            };
            let Ok(value) = serde_json::from_str::<Value>(&raw) else {
                continue;
            };
            let m = machine_of(std::slice::from_ref(&pattern));
            let got = !m.matches(raw.as_bytes()).expect(&name).is_empty();
            assert_eq!(got, pattern.matches(&value), "{name}: machine vs reference");
            if let Some(Value::Bool(want)) = case.get("matches") {
                assert_eq!(got, *want, "{name}: machine vs expected");
            }
            checked += 1;
        }
    }
    assert!(checked > 0, "no fixture case ran");
    eprintln!("{checked} fixture cases checked");
}

#[test]
fn all_fixture_patterns_in_one_machine() {
    // The same cases with every pattern of a file in one machine: no interference.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/patterns");
    for entry in std::fs::read_dir(&dir).expect("fixtures/patterns") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let cases: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("fixture JSON");
        let patterns: Vec<Pattern> = cases
            .iter()
            .filter_map(|c| {
                let text = match &c["pattern"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Pattern::parse(&text).ok()
            })
            .collect();
        let m = machine_of(&patterns);
        for c in &cases {
            let Some(event) = c.get("event") else { continue };
            let raw = event.to_string();
            assert_eq!(
                m.matches(raw.as_bytes()).expect("valid"),
                reference(&patterns, event),
                "{}: {raw}",
                path.display()
            );
        }
    }
}

fn pat(s: &str) -> Pattern {
    Pattern::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn add_remove_replace() {
    let mut m = Machine::new();
    m.add("a", &pat(r#"{"source": ["x"]}"#));
    m.add("b", &pat(r#"{"source": [{"prefix": "x"}]}"#));
    assert_eq!(m.matches(br#"{"source": "x"}"#).unwrap(), vec!["a", "b"]);
    assert!(m.remove(&"a"));
    assert!(!m.remove(&"a"));
    assert_eq!(m.matches(br#"{"source": "x"}"#).unwrap(), vec!["b"]);
    m.add("b", &pat(r#"{"source": ["y"]}"#));
    assert_eq!(m.matches(br#"{"source": "x"}"#).unwrap(), Vec::<&str>::new());
    assert_eq!(m.matches(br#"{"source": "y"}"#).unwrap(), vec!["b"]);
    // Many removals trigger a rebuild; the survivors still match.
    for i in 0..300 {
        m.add("n", &pat(&format!(r#"{{"n": [{i}]}}"#)));
    }
    for i in 0..200u32 {
        let key: &'static str = Box::leak(format!("k{i}").into_boxed_str());
        m.add(key, &pat(&format!(r#"{{"k": ["{i}"]}}"#)));
    }
    for i in 0..190u32 {
        let key: &'static str = Box::leak(format!("k{i}").into_boxed_str());
        assert!(m.remove(&key));
    }
    assert_eq!(m.len(), 12);
    assert_eq!(
        m.matches(br#"{"k": "195", "n": 299, "source": "y"}"#).unwrap(),
        vec!["b", "k195", "n"]
    );
    assert_eq!(m.matches(br#"{"k": "5"}"#).unwrap(), Vec::<&str>::new());
}

#[test]
fn array_consistency_and_absence() {
    let p = [
        pat(r#"{"c": {"x": [1], "y": [2]}}"#),
        pat(r#"{"c": {"w": [{"exists": false}], "z": [0]}}"#),
        pat(r#"{"c": {"w": [{"exists": false}]}}"#),
        pat(r#"{"c": {"w": [{"exists": false}, 5]}, "d": ["q"]}"#),
    ];
    let m = machine_of(&p);
    for ev in [
        json!({"c": [{"x": 1, "y": 3}, {"x": 3, "y": 2}]}),
        json!({"c": [{"x": 1, "y": 2}]}),
        json!({"c": [{"w": 1, "z": 0}, {"z": 0}]}),
        json!({"c": [{"w": 1, "z": 0}, {"z": 1}]}),
        json!({"c": [{"w": 1}]}),
        json!({"c": []}),
        json!({"c": [[]]}),
        json!({"c": [1, {"w": 1}]}),
        json!({"c": 1, "d": "q"}),
        json!({"c": [{"w": 5}, {"w": 6}], "d": "q"}),
        json!({"c": [{"w": 6}], "d": "q"}),
        json!({"d": "q"}),
        json!({"c": {"w": null}, "d": "q"}),
        json!({"c": [{"x": [1, 7], "y": [[2]]}]}),
    ] {
        assert_eq!(
            m.matches(ev.to_string().as_bytes()).unwrap(),
            reference(&p, &ev),
            "{ev}"
        );
    }
}

#[test]
fn malformed_and_truncated_events_are_errors_not_panics() {
    let p = [pat(r#"{"a": {"b": [{"prefix": "x"}]}, "n": [{"numeric": [">", 1]}]}"#)];
    let m = machine_of(&p);
    let good =
        br#"{"a": {"b": ["x\u00e9\ud83d\ude00", {"c": [1, 2.5e3, "s\"q"]}]}, "n": -1.5e2, "z": [true, false, null]}"#;
    assert!(m.matches(good).is_ok());
    for cut in 0..good.len() {
        assert!(m.matches(&good[..cut]).is_err(), "prefix of {cut} bytes accepted");
    }
    for bad in [
        &b"{\"a\": {\"b\": \"\\ud800\"}}"[..],
        b"{\"a\": {\"b\": \"\x01\"}}",
        b"{\"a\": {\"b\": \"\xff\"}}",
        b"{\"n\": 01}",
        b"{\"n\": 1.}",
        b"{\"n\": 1e999}",
        b"{\"n\": -}",
        b"{\"a\" 1}",
        b"{\"a\": 1,}",
        b"{\"a\": tru}",
        b"{} x",
        b"",
    ] {
        assert!(m.matches(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
    let deep = format!("{{\"a\": {}{}}}", "[".repeat(200), "]".repeat(200));
    assert!(m.matches(deep.as_bytes()).is_err());
    // Random bytes never panic.
    let mut x = 12345u64;
    for _ in 0..2000 {
        let mut ev = good.to_vec();
        for _ in 0..3 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let at = (x >> 33) as usize % ev.len();
            ev[at] = (x >> 17) as u8;
        }
        let _ = m.matches(&ev);
    }
}

#[test]
fn unused_arrays_are_skipped_whole_or_bracket_by_bracket() {
    // Arrays of unused fields: plain ones (numbers, literals, nested arrays) are skipped in one
    // search, others bracket by bracket; the fields after them are still read, repeats of a
    // used key still seen, and too deep nesting still refused.
    let p = [
        pat(r#"{"g": {"type": ["Polygon"]}}"#),
        pat(r#"{"g": {"z": [0]}, "t": ["x"]}"#),
    ];
    let m = machine_of(&p);
    for ev in [
        r#"{"g": {"type": "Polygon", "c": [[[1.5, 2, 0.0], [3, 4, 0]], [[5, -6e2, null]]]}, "t": "x"}"#,
        r#"{"g": {"c": [[1, 2], [3, 4]] , "type": "Polygon", "z": 0}, "t": "x"}"#,
        r#"{"g": {"c": [], "type": "Polygon"}}"#,
        r#"{"g": {"c": [[]], "z": 0, "d": [1, [2, [3]]]}, "t": "x"}"#,
        r#"{"g": {"c": [1, "]", 2], "type": "Polygon"}}"#,
        r#"{"g": {"c": [1, {"type": "x"}], "type": "Polygon"}}"#,
        r#"{"g": {"type": "Polygon", "c": [[1]], "type": "Point"}}"#,
        r#"{"g": {"type": "Point", "c": [[1]]}, "u": [[true, false]], "t": "x"}"#,
    ] {
        let v: Value = serde_json::from_str(ev).unwrap();
        assert_eq!(m.matches(ev.as_bytes()).unwrap(), reference(&p, &v), "{ev}");
    }
    let deep = format!(
        r#"{{"g": {{"c": {}{}, "type": "Polygon"}}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    assert!(m.matches(deep.as_bytes()).is_err());
    let fine = format!(
        r#"{{"g": {{"c": {}{}, "type": "Polygon"}}}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    assert_eq!(m.matches(fine.as_bytes()).unwrap(), vec![0]);
    let good = br#"{"g": {"c": [[1, 2], [3]], "type": "Polygon"}, "t": "x"}"#;
    for cut in 0..good.len() {
        assert!(m.matches(&good[..cut]).is_err(), "prefix of {cut} bytes accepted");
    }
    for bad in [
        &br#"{"g": {"c": [[1, 2], [3], "type": "Polygon"}}"#[..],
        br#"{"g": {"c": [[1, 2]]], "type": "Polygon"}}"#,
        br#"{"g": {"c": [1], }}"#,
    ] {
        assert!(m.matches(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn non_object_events_follow_the_reference() {
    let p = [pat(r#"{"a": [{"exists": false}]}"#), pat(r#"{"a": [1]}"#)];
    let m = machine_of(&p);
    for ev in [json!([{"a": 1}]), json!(5), json!(null), json!([])] {
        assert_eq!(
            m.matches(ev.to_string().as_bytes()).unwrap(),
            reference(&p, &ev),
            "{ev}"
        );
    }
}

// ---- property test: generated patterns and events ----

const KEYS: &[&str] = &["a", "b", "c"];
fn key() -> impl Strategy<Value = &'static str> {
    prop::sample::select(KEYS.to_vec())
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            "x",
            "xy",
            "yx",
            "X",
            "",
            "Xy",
            "ß",
            "SS",
            "a*b",
            "10.0.0.1",
            "10.0.0.01",
            "xyz"
        ])
        .prop_map(|s| json!(s)),
        prop::sample::select(vec![0.0, 1.0, -1.0, 1.5, 2.0, 100.0, -0.0, 5.5e9]).prop_map(|n| json!(n)),
        prop::sample::select(vec![0i64, 1, 2, -3]).prop_map(|n| json!(n)),
        any::<bool>().prop_map(|b| json!(b)),
        Just(Value::Null),
    ]
}

/// The event with names joined with `.` here and there, as EventBridge reads them: for some
/// members whose value is an object, the object's members are written with their names joined
/// to the member's (`{"a": {"b": 1}}` as `{"a.b": 1}`), or the first of them only (`{"a": {},
/// "a.b": 1}`), all of which changes nothing; or a second value is given to the first member's
/// path (`{"a": {"b": 1}, "a.b": "x"}`: `a.b` has two values, neither inside an array), or
/// to a path inside an array of objects, from outside it (`{"a": [{"b": 1}], "a.b": 0}`).
/// `next` draws numbers.
fn join_some_names(v: Value, next: &mut impl FnMut() -> u64) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.into_iter().map(|i| join_some_names(i, next)).collect()),
        Value::Object(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                let v = join_some_names(v, next);
                let extra = [json!("x"), json!(0), json!(null), json!(["y", 2])][(next() % 4) as usize].clone();
                let Value::Object(mut inner) = v else {
                    // An array of objects: sometimes a value beside it, at the path of a member
                    // of one of its elements (`{"a": [{"b": 1}], "a.b": 0}`).
                    let element = v.as_array().and_then(|items| items.iter().find_map(Value::as_object));
                    if let Some(e) = element.filter(|e| !e.is_empty() && next().is_multiple_of(4)) {
                        let k2 = e.keys().nth((next() % e.len() as u64) as usize).expect("a member");
                        out.insert(format!("{k}.{k2}"), extra);
                    }
                    out.insert(k, v);
                    continue;
                };
                let first = inner.keys().next().cloned();
                match (next() % 8, first) {
                    (0 | 1, Some(_)) => {
                        for (k2, v2) in inner {
                            out.insert(format!("{k}.{k2}"), v2);
                        }
                    }
                    (2, Some(k2)) => {
                        let v2 = inner.remove(&k2).expect("a member");
                        out.insert(format!("{k}.{k2}"), v2);
                        out.insert(k, Value::Object(inner));
                    }
                    (3, Some(k2)) => {
                        out.insert(format!("{k}.{k2}"), extra);
                        out.insert(k, Value::Object(inner));
                    }
                    _ => {
                        out.insert(k, Value::Object(inner));
                    }
                }
            }
            Value::Object(out)
        }
        other => other,
    }
}

fn event_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 1..4)
                .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

fn event() -> impl Strategy<Value = Value> {
    (prop::collection::btree_map(key(), event_value(), 2..6), any::<u64>()).prop_map(|(m, seed)| {
        let ev = Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
        let mut x = seed;
        join_some_names(ev, &mut || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            x >> 33
        })
    })
}

fn matcher() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        r#""x""#,
        r#""X""#,
        r#""""#,
        "1",
        "1.0",
        "0",
        "-1",
        "true",
        "null",
        r#""10.0.0.1""#,
        r#"{"prefix": "x"}"#,
        r#"{"prefix": ""}"#,
        r#"{"prefix": {"equals-ignore-case": "X"}}"#,
        r#"{"suffix": "y"}"#,
        r#"{"suffix": {"equals-ignore-case": "Y"}}"#,
        r#"{"equals-ignore-case": "xy"}"#,
        r#"{"equals-ignore-case": "ss"}"#,
        r#"{"wildcard": "x*"}"#,
        r#"{"wildcard": "*y*"}"#,
        r#"{"wildcard": "a\\*b"}"#,
        r#"{"anything-but": "x"}"#,
        r#"{"anything-but": [1, 2]}"#,
        r#"{"anything-but": {"prefix": "x"}}"#,
        r#"{"anything-but": {"suffix": "y"}}"#,
        r#"{"anything-but": {"equals-ignore-case": "X"}}"#,
        r#"{"anything-but": {"wildcard": "*y"}}"#,
        r#"{"numeric": [">", 0]}"#,
        r#"{"numeric": [">=", -1, "<", 2]}"#,
        r#"{"numeric": ["=", 1]}"#,
        r#"{"exists": true}"#,
        r#"{"exists": false}"#,
        r#"{"cidr": "10.0.0.0/24"}"#,
    ])
    .prop_map(str::to_string)
}

fn leaf() -> impl Strategy<Value = String> {
    prop::collection::vec(matcher(), 1..3).prop_map(|ms| format!("[{}]", ms.join(", ")))
}

/// An object of a generated pattern: its fields (name, value text) and its `$or` text.
type Parts = (Vec<(String, String)>, Option<String>);

fn render((fields, or): Parts) -> String {
    let mut parts: Vec<String> = fields.into_iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
    if let Some(or) = or {
        parts.push(format!("\"$or\": {or}"));
    }
    format!("{{{}}}", parts.join(", "))
}

fn object_parts(depth: u32) -> BoxedStrategy<Parts> {
    // A field: a leaf, or a nested object, which is sometimes (without `$or`) written with its
    // names joined to the field's (`"a": {"b": [..]}` as `"a.b": [..]`: the same pattern).
    let field: BoxedStrategy<(Option<String>, Option<Parts>, bool)> = if depth == 0 {
        leaf().prop_map(|l| (Some(l), None, false)).boxed()
    } else {
        prop_oneof![
            4 => leaf().prop_map(|l| (Some(l), None, false)),
            1 => (object_parts(depth - 1), any::<bool>()).prop_map(|(p, join)| (None, Some(p), join)),
        ]
        .boxed()
    };
    let fields = prop::collection::btree_map(key(), field, 1..3);
    // (Mostly one or two fields: more of the generated pairs match.)
    let or = if depth == 0 {
        Just(None).boxed()
    } else {
        prop_oneof![
            4 => Just(None),
            1 => prop::collection::vec(object_pattern(depth - 1), 2..3).prop_map(Some),
        ]
        .boxed()
    };
    (fields, or)
        .prop_map(|(fields, or)| {
            let mut out = Vec::new();
            for (k, field) in fields {
                match field {
                    (Some(leaf), _, _) => out.push((k.to_string(), leaf)),
                    (None, Some((inner, None)), true) => {
                        out.extend(inner.into_iter().map(|(k2, v)| (format!("{k}.{k2}"), v)));
                    }
                    (None, Some(inner), _) => out.push((k.to_string(), render(inner))),
                    (None, None, _) => unreachable!("a field is a leaf or an object"),
                }
            }
            (out, or.map(|alts| format!("[{}]", alts.join(", "))))
        })
        .boxed()
}

fn object_pattern(depth: u32) -> BoxedStrategy<String> {
    object_parts(depth).prop_map(render).boxed()
}

thread_local! {
    static STATS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

#[test]
fn generated_cases_are_mostly_decided_by_the_machine() {
    // Runs the property test's generators once more and reports how often the machine had to
    // ask the reference (those cases test the reference against itself) and how often
    // patterns matched (a test where nothing matches proves little).
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut pairs, mut matched) = (0u64, 0u64);
    FALLBACKS.with(|c| c.set(0));
    for _ in 0..2000 {
        let texts = prop::collection::vec(object_pattern(2), 1..6)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let events = prop::collection::vec(event(), 1..6)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let patterns: Vec<Pattern> = texts.iter().filter_map(|t| Pattern::parse(t).ok()).collect();
        let m = machine_of(&patterns);
        for ev in &events {
            let want = reference(&patterns, ev);
            assert_eq!(m.matches(ev.to_string().as_bytes()).unwrap(), want);
            pairs += patterns.len() as u64;
            matched += want.len() as u64;
        }
    }
    let fallbacks = FALLBACKS.with(|c| c.get());
    eprintln!("{pairs} (pattern, event) pairs, {matched} matches, {fallbacks} decided by the reference");
    assert!(matched * 12 > pairs, "too few matches: {matched} of {pairs}");
    assert!(fallbacks * 10 < pairs, "too many fallbacks: {fallbacks} of {pairs}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn machine_agrees_with_reference(
        texts in prop::collection::vec(object_pattern(2), 1..6),
        events in prop::collection::vec(event(), 1..6),
    ) {
        let patterns: Vec<Pattern> = texts.iter().filter_map(|t| Pattern::parse(t).ok()).collect();
        let m = machine_of(&patterns);
        for ev in &events {
            let raw = ev.to_string();
            let got = m.matches(raw.as_bytes()).expect("valid event");
            let want = reference(&patterns, ev);
            STATS.with(|s| {
                let (mut cases, mut matched) = s.get();
                cases += patterns.len() as u64;
                matched += want.len() as u64;
                s.set((cases, matched));
            });
            prop_assert_eq!(&got, &want, "event {} patterns {:?}", raw, texts);
            // The same event pretty-printed, and with its keys (dots too) and strings escaped.
            let pretty = serde_json::to_string_pretty(ev).expect("serialise");
            prop_assert_eq!(&m.matches(pretty.as_bytes()).expect("valid"), &want, "{}", pretty);
            let escaped = raw
                .replace("\"a\"", "\"\\u0061\"")
                .replace("\"x", "\"\\u0078")
                .replace("a.b", "a\\u002eb");
            prop_assert_eq!(&m.matches(escaped.as_bytes()).expect("valid"), &want, "{}", escaped);
        }
        // Removing every other pattern leaves the rest matching as before.
        let mut m = m;
        for i in (0..patterns.len()).step_by(2) {
            m.remove(&i);
        }
        for ev in &events {
            let want: Vec<usize> = reference(&patterns, ev).into_iter().filter(|i| i % 2 == 1).collect();
            prop_assert_eq!(m.matches(ev.to_string().as_bytes()).expect("valid"), want);
        }
    }
}

#[test]
fn many_rules_sharing_values_agree_with_reference() {
    // Enough rules on common values to exercise re-keying, pair probing and pair walking.
    let mut texts = Vec::new();
    for i in 0..400 {
        texts.push(match i % 4 {
            0 => format!(r#"{{"a": ["v{}"], "b": ["w{}"]}}"#, i % 7, i % 13),
            1 => format!(
                r#"{{"a": ["v{}"], "b": ["w{}"], "c": [{{"prefix": "x{}"}}]}}"#,
                i % 5,
                i % 3,
                i % 4
            ),
            2 => format!(
                r#"{{"b": ["w{}"], "d": {{"e": ["z{}"], "f": ["y{}"]}}}}"#,
                i % 11,
                i % 2,
                i % 9
            ),
            _ => format!(r#"{{"a": ["v{}"]}}"#, i % 17),
        });
    }
    let patterns: Vec<Pattern> = texts.iter().map(|t| pat(t)).collect();
    let mut m = machine_of(&patterns);
    let mut x = 7u64;
    let mut next = |n: u64| {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    let mut events = Vec::new();
    for _ in 0..300 {
        let mut ev =
            json!({"a": format!("v{}", next(17)), "b": format!("w{}", next(13)), "c": format!("x{}", next(5))});
        if next(2) == 0 {
            ev["d"] = json!([{"e": format!("z{}", next(2)), "f": format!("y{}", next(9))}, {"e": "z0", "f": "y0"}]);
        }
        if next(3) == 0 {
            ev["a"] = json!(["v0", "v1", format!("v{}", next(17))]);
        }
        events.push(ev);
    }
    for ev in &events {
        assert_eq!(
            m.matches(ev.to_string().as_bytes()).unwrap(),
            reference(&patterns, ev),
            "{ev}"
        );
    }
    for i in (0..400).filter(|i| i % 3 != 0) {
        m.remove(&i);
    }
    for ev in &events {
        let want: Vec<usize> = reference(&patterns, ev).into_iter().filter(|i| i % 3 == 0).collect();
        assert_eq!(m.matches(ev.to_string().as_bytes()).unwrap(), want, "{ev}");
    }
}

#[test]
fn numbers_are_the_correctly_rounded_doubles_of_their_text() {
    // serde_json without its `float_roundtrip` feature reads this as -122.398728361668, one
    // unit in the last place away; the machine reads event numbers with Rust's correctly
    // rounded parser, as the pattern parser reads literals (and as the bench kit's counts
    // assume), so a literal copied from an event matches it.
    let p = [pat(
        r#"{"x": [-122.398728361667992], "y": [{"numeric": ["=", -122.398728361667992]}]}"#,
    )];
    let m = machine_of(&p);
    assert_eq!(
        m.matches(br#"{"x": -122.398728361667992, "y": [-122.398728361667992]}"#)
            .unwrap(),
        vec![0]
    );
    assert_eq!(
        m.matches(br#"{"x": -122.398728361668, "y": -122.398728361667992}"#)
            .unwrap(),
        Vec::<usize>::new()
    );
    // 3, 3.0 and 3e0 are one number; -0 equals 0.
    let p = [pat(r#"{"x": [3], "z": [0]}"#)];
    let m = machine_of(&p);
    for ev in [
        r#"{"x": 3.0, "z": -0}"#,
        r#"{"x": 3e0, "z": 0.0}"#,
        r#"{"x": 30e-1, "z": -0.0e5}"#,
    ] {
        assert_eq!(m.matches(ev.as_bytes()).unwrap(), vec![0], "{ev}");
    }
}

#[test]
fn duplicate_keys_keep_the_last_value_as_a_parser_does() {
    let p = [
        pat(r#"{"a": ["x"]}"#),
        pat(r#"{"a": ["y"], "b": [{"exists": false}]}"#),
        pat(r#"{"c": {"d": ["1"]}}"#),
    ];
    let m = machine_of(&p);
    for ev in [
        r#"{"a": "x", "a": "y"}"#,
        r#"{"a": "y", "a": "x"}"#,
        r#"{"a": "y", "b": 1, "b": 2}"#,
        r#"{"c": {"d": "1"}, "c": {"e": "1"}}"#,
        r#"{"c": [{"d": "2", "d": "1"}]}"#,
    ] {
        let value: Value = serde_json::from_str(ev).unwrap();
        assert_eq!(m.matches(ev.as_bytes()).unwrap(), reference(&p, &value), "{ev}");
    }
}

#[test]
fn machine_is_shareable_across_threads() {
    fn shareable<T: Send + Sync + Clone>() {}
    shareable::<Machine<String>>();
    // Matching from several threads at once (each has its own scratch space).
    let p = [pat(r#"{"a": [{"prefix": "x"}]}"#)];
    let m = std::sync::Arc::new(machine_of(&p));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let m = m.clone();
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    let ev = format!(r#"{{"a": "x{i}"}}"#);
                    assert_eq!(m.matches(ev.as_bytes()).unwrap(), vec![0]);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn many_elements_without_a_consistent_choice_stay_fast() {
    // Three independent arrays and an absence that always fails: the combinations would be
    // 300^3; the search gives up early and the reference decides.
    let p = [pat(
        r#"{"a": {"x": [1], "w": [{"exists": false}]}, "b": {"y": [1]}, "c": {"z": [1]}}"#,
    )];
    let m = machine_of(&p);
    let arr = |k: &str, extra: &str| {
        let items: Vec<String> = (0..300).map(|_| format!(r#"{{"{k}": 1{extra}}}"#)).collect();
        format!("[{}]", items.join(","))
    };
    let ev = format!(
        r#"{{"a": {}, "b": {}, "c": {}}}"#,
        arr("x", r#", "w": 2"#),
        arr("y", ""),
        arr("z", "")
    );
    let value: Value = serde_json::from_str(&ev).unwrap();
    let t = std::time::Instant::now();
    assert_eq!(m.matches(ev.as_bytes()).unwrap(), reference(&p, &value));
    assert!(t.elapsed().as_secs() < 5);
}

#[test]
fn many_wildcards_agree_with_reference() {
    let shapes = ["{}*", "*{}", "{}*x*", "*{}*", "{}", "{}\\\\*", "x{}*y"];
    let mut texts = Vec::new();
    for i in 0..120 {
        let w = shapes[i % shapes.len()].replace("{}", &format!("a{}", i % 9));
        texts.push(format!(r#"{{"s": [{{"wildcard": "{w}"}}]}}"#));
    }
    let patterns: Vec<Pattern> = texts.iter().map(|t| pat(t)).collect();
    let mut m = machine_of(&patterns);
    let values = [
        "a1", "a1x", "xa1y", "a10", "ba3xx", "a3*", "xa5zy", "a", "", "a8a8", "ya2",
    ];
    let check = |m: &Machine<usize>, keep: &dyn Fn(usize) -> bool| {
        for v in values {
            let ev = json!({ "s": v });
            let want: Vec<usize> = reference(&patterns, &ev).into_iter().filter(|&i| keep(i)).collect();
            assert_eq!(m.matches(ev.to_string().as_bytes()).unwrap(), want, "{v}");
        }
    };
    check(&m, &|_| true);
    for i in (0..120).filter(|i| i % 2 == 0) {
        m.remove(&i);
    }
    check(&m, &|i| i % 2 == 1);
}

#[test]
fn ignore_case_matchers_agree_with_reference() {
    // ASCII patterns of up to 15 bytes are looked up by their ASCII lower case; the others
    // (longer, or not ASCII) are tested one by one. Values mix cases, non-ASCII bytes that
    // Unicode would fold to ASCII letters (`ſ`, the Kelvin sign), and lengths around 15.
    let words = [
        "mission",
        "Van Ness",
        "AVE",
        "a",
        "",
        "ss",
        "ß",
        "k",
        "@[`{Az",
        "fifteen-bytes-x",
        "sixteen-bytes-xy",
        "Straße",
    ];
    let mut texts = Vec::new();
    for w in words {
        texts.push(format!(r#"{{"s": [{{"equals-ignore-case": "{w}"}}]}}"#));
        texts.push(format!(r#"{{"s": [{{"prefix": {{"equals-ignore-case": "{w}"}}}}]}}"#));
        texts.push(format!(r#"{{"s": [{{"suffix": {{"equals-ignore-case": "{w}"}}}}]}}"#));
        texts.push(format!(
            r#"{{"s": [{{"anything-but": {{"equals-ignore-case": "{w}"}}}}]}}"#
        ));
    }
    let patterns: Vec<Pattern> = texts.iter().map(|t| pat(t)).collect();
    let mut m = machine_of(&patterns);
    let values = [
        "MISSION",
        "Mission St",
        "the mission",
        "vAN nESS",
        "van ness ave",
        "ave",
        "Ave",
        "AV",
        "A",
        "",
        "SS",
        "sS",
        "ſs",
        "ß",
        "SS",
        "\u{212a}",
        "K",
        "@[`{aZ",
        "@{`[az",
        "FIFTEEN-BYTES-X",
        "fifteen-bytes-xy",
        "SIXTEEN-BYTES-XY",
        "x sixteen-bytes-xy",
        "STRASSE",
        "STRAßE",
        "straße",
    ];
    let check = |m: &Machine<usize>, keep: &dyn Fn(usize) -> bool| {
        for v in values {
            let ev: Value = serde_json::from_str(&format!(r#"{{"s": "{v}"}}"#)).unwrap();
            let want: Vec<usize> = reference(&patterns, &ev).into_iter().filter(|&i| keep(i)).collect();
            assert_eq!(m.matches(ev.to_string().as_bytes()).unwrap(), want, "{v}");
        }
    };
    check(&m, &|_| true);
    for i in (0..patterns.len()).filter(|i| i % 3 == 0) {
        m.remove(&i);
    }
    check(&m, &|i| i % 3 != 0);
}

#[test]
fn many_numeric_ranges_agree_with_reference() {
    // Enough ranges on one field to build the end-point index (and rebuild it as rules come
    // and go); the values sit on, between and outside the end points.
    let ops = ["<", "<=", ">", ">=", "="];
    let mut texts = Vec::new();
    let mut x = 99u64;
    let mut next = |n: u64| {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    for _ in 0..200 {
        let a = next(11) as f64 - 5.0;
        let b = next(11) as f64 / 2.0 - 2.0;
        let (o1, o2) = (ops[next(5) as usize], ops[next(4) as usize]);
        texts.push(match next(3) {
            0 => format!(r#"{{"n": [{{"numeric": ["{o1}", {a}]}}]}}"#),
            1 => format!(r#"{{"n": [{{"numeric": ["{o1}", {a}, "{o2}", {b}]}}]}}"#),
            _ => format!(r#"{{"n": [{{"numeric": [">", {a}, "<=", {b}]}}, 3]}}"#),
        });
    }
    let patterns: Vec<Pattern> = texts.iter().filter_map(|t| Pattern::parse(t).ok()).collect();
    assert!(patterns.len() > 50, "{} valid patterns", patterns.len());
    eprintln!("{} valid numeric patterns", patterns.len());
    let mut m = machine_of(&patterns);
    let values = [
        -7.0, -5.0, -4.5, -0.0, 0.0, 0.25, 1.0, 1.5, 2.999, 3.0, 3.5, 5.0, 6.0, 6e9,
    ];
    let check = |m: &Machine<usize>, keep: &dyn Fn(usize) -> bool| {
        for v in values {
            let ev = json!({ "n": v });
            let want: Vec<usize> = reference(&patterns, &ev).into_iter().filter(|&i| keep(i)).collect();
            assert_eq!(m.matches(ev.to_string().as_bytes()).unwrap(), want, "{v}");
        }
    };
    check(&m, &|_| true);
    for i in (0..patterns.len()).filter(|i| i % 3 == 0) {
        m.remove(&i);
    }
    check(&m, &|i| i % 3 != 0);
}

#[test]
fn events_hitting_many_predicates_agree_with_reference() {
    // More predicates hit by one event than the machine's short list of hits holds (it then
    // moves them to its table mid-event): prefixes of one value, with pairs, arrays of objects
    // and absence leaves.
    let word = "abcdefghijklmnopqrstuvwxyzabcdefghij";
    let mut texts = Vec::new();
    for k in 1..=36 {
        let p = &word[..k];
        texts.push(match k % 5 {
            0 => format!(r#"{{"s": [{{"prefix": "{p}"}}]}}"#),
            1 => format!(r#"{{"s": [{{"prefix": "{p}"}}], "d": {{"e": ["z{}"]}}}}"#, k % 3),
            2 => format!(r#"{{"s": [{{"prefix": "{p}"}}], "d": {{"e": ["z{}"], "f": ["y{}"]}}}}"#, k % 2, k % 3),
            3 => format!(r#"{{"s": [{{"prefix": "{p}"}}], "t": [{{"exists": false}}]}}"#),
            _ => format!(r#"{{"d": {{"e": [{{"prefix": "z"}}], "f": [{{"anything-but": "y{}"}}]}}, "s": [{{"prefix": "{p}"}}]}}"#, k % 3),
        });
    }
    let patterns: Vec<Pattern> = texts.iter().map(|t| pat(t)).collect();
    let m = machine_of(&patterns);
    let events = [
        json!({"s": word}),
        json!({"s": word, "t": 1}),
        json!({"s": [word, "abc"], "d": {"e": "z1", "f": "y2"}}),
        json!({"s": word, "d": [{"e": "z0", "f": "y1"}, {"e": "z1", "f": "y0"}, {"e": "z2", "f": "y2"}]}),
        json!({"d": [{"e": "z0", "f": "y1"}, {"e": "z1"}], "s": [word, &word[..7]], "t": [1, 2]}),
        json!({"s": &word[..20], "d": [{"e": "z0"}, {"f": "y0"}]}),
    ];
    for ev in &events {
        let want = reference(&patterns, ev);
        assert!(!want.is_empty(), "{ev}");
        assert_eq!(m.matches(ev.to_string().as_bytes()).unwrap(), want, "{ev}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// The property test with more patterns per machine (events hit more predicates).
    #[test]
    fn larger_machines_agree_with_reference(
        texts in prop::collection::vec(object_pattern(2), 12..40),
        events in prop::collection::vec(event(), 1..6),
    ) {
        let patterns: Vec<Pattern> = texts.iter().filter_map(|t| Pattern::parse(t).ok()).collect();
        let m = machine_of(&patterns);
        for ev in &events {
            let raw = ev.to_string();
            prop_assert_eq!(m.matches(raw.as_bytes()).expect("valid event"), reference(&patterns, ev), "event {}", raw);
        }
    }
}

#[test]
fn dotted_names_agree_with_reference() {
    // EventBridge joins names with `.`: an event name with dots walks several steps of the
    // trie, escaped or not, and its values join those reached by nesting.
    let p = [
        pat(r#"{"detail": {"state.status": ["running"]}}"#),
        pat(r#"{"detail": {"state": {"status": ["running"], "code": [16]}}}"#),
        pat(r#"{"a": {"b": {"c": [1], "d": [2]}}}"#),
        pat(r#"{"a": {"w": [{"exists": false}], "z": [0]}}"#),
        pat(r#"{"a": {"w": [{"exists": false}]}}"#),
        pat(r#"{"a.b": [{"anything-but": "x"}], "a": {"c": [{"exists": true}]}}"#),
        pat(r#"{"a": [1], "a.b": [2]}"#),
        pat(r#"{"e": {"": {"f": ["x"]}}}"#),
    ];
    let m = machine_of(&p);
    for ev in [
        r#"{"detail": {"state.status": "running"}}"#,
        r#"{"detail": {"state\u002estatus": "running"}}"#,
        r#"{"detail\u002estate.status": "running"}"#,
        r#"{"detail.state": {"status": "running", "code": 16}}"#,
        r#"{"detail": {"state.status": "running", "state": {"code": 16}}}"#,
        r#"{"detail": {"state.status": "stopped", "state": {"status": "running"}}}"#,
        r#"{"detail": {"state.status": "running", "state.status": "stopped"}}"#,
        r#"{"detail": {"state.code": 16, "state": {"status": "running", "status": "x"}}}"#,
        r#"{"detail": {"state.status.x": "running", "state.": "running", ".state": "running"}}"#,
        r#"{"a": [{"b.c": 1}, {"b": {"d": 2}}]}"#,
        r#"{"a": [{"b.c": 1, "b": {"d": 2}}]}"#,
        r#"{"a.b": [{"c": 1, "d": 2}]}"#,
        r#"{"a.b.c": 1, "a": [{"b.d": 2}]}"#,
        r#"{"a": [{"w": 1}, {}], "a.z": 0}"#,
        r#"{"a": [{"w": 1}, {"z": 0}], "a.w": 3}"#,
        r#"{"a": {"z": 0}, "a.w": 3}"#,
        r#"{"a": {"z": 0}, "a.w": []}"#,
        r#"{"a.w": [{}], "a.z": 0}"#,
        r#"{"a": 1, "a.b": 2}"#,
        r#"{"a": [1, {"b": 2}]}"#,
        r#"{"a.b": "y", "a": {"c": null}}"#,
        r#"{"a.b": ["x", "y"], "a.c": [[1]]}"#,
        r#"{"e..f": "x"}"#,
        r#"{"e.": {"f": "x"}}"#,
        r#"{"e": {"": {"f": "x"}}}"#,
        r#"{"e": {".f": "x"}}"#,
        r#"{"e.f": "x"}"#,
    ] {
        let value: Value = serde_json::from_str(ev).unwrap();
        assert_eq!(m.matches(ev.as_bytes()).unwrap(), reference(&p, &value), "{ev}");
    }
    // (Pattern 4 matches every event without `a.w`.)
    assert_eq!(
        m.matches(br#"{"detail": {"state.status": "running"}}"#).unwrap(),
        vec![0, 4]
    );
    assert_eq!(
        m.matches(br#"{"detail.state.status": "running", "detail.state.code": 16}"#)
            .unwrap(),
        vec![0, 1, 4]
    );
    assert_eq!(
        m.matches(br#"{"a": [{"b.c": 1, "b": {"d": 2}}], "a.w": 1}"#).unwrap(),
        vec![2]
    );
    assert_eq!(
        m.matches(br#"{"a": [{"b.c": 1}, {"b": {"d": 2}}], "a.w": 1}"#).unwrap(),
        Vec::<usize>::new()
    );
    assert_eq!(m.matches(br#"{"e": {"": {"f": "x"}}}"#).unwrap(), vec![4, 7]);
    assert_eq!(m.matches(br#"{"e..f": "x"}"#).unwrap(), vec![4, 7]);
    // A used name with dots is checked as a used name is.
    assert!(m.matches(b"{\"detail\": {\"state.status\x01\": 1}}").is_ok(), "unused");
    assert!(m.matches(b"{\"detail.state\": {\"sta\x01tus\": 1}}").is_ok(), "unused");
    assert!(m.matches(b"{\"a.\\u0000\": 1}").is_ok());
    for bad in [
        &br#"{"detail.state.status": "running"#[..],
        br#"{"detail.state"#,
        br#"{"a.b\u12": 1}"#,
    ] {
        assert!(m.matches(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Absence and array consistency where names with dots give a path values from several
    /// places (inside an array and beside it): generated events, patterns aimed at them.
    #[test]
    fn dotted_names_around_arrays_agree_with_reference(events in prop::collection::vec(event(), 1..8)) {
        // For every object `p` and two of its fields: `w` absent where `z` has a value that the
        // generated extra values (beside arrays) take; and a few others.
        let mut texts: Vec<String> = Vec::new();
        for p in KEYS {
            for w in KEYS {
                for z in KEYS.iter().filter(|&z| z != w) {
                    let values = r#"["x", 0, null, "y", 2]"#;
                    texts.push(format!(r#"{{"{p}": {{"{w}": [{{"exists": false}}], "{z}": {values}}}}}"#));
                }
            }
        }
        texts.extend(
            [
                r#"{"a": {"b": [{"exists": false}, "x"], "c": [{"exists": true}]}}"#,
                r#"{"a.b": [{"exists": false}], "a": {"c": ["x", null]}}"#,
                r#"{"b": {"a": [{"exists": false}], "c": [{"anything-but": "x"}]}, "c": [{"exists": true}]}"#,
                r#"{"a": {"b": {"c": [0]}, "a": ["x"]}}"#,
                r#"{"a": {"a.b": [0, "x"], "c": [{"prefix": "x"}]}}"#,
                r#"{"c": {"b": [{"exists": false}], "a": {"c": [{"exists": true}]}}}"#,
            ]
            .map(str::to_owned),
        );
        let patterns: Vec<Pattern> = texts.iter().map(|t| pat(t)).collect();
        let m = machine_of(&patterns);
        for ev in &events {
            let raw = ev.to_string();
            prop_assert_eq!(m.matches(raw.as_bytes()).expect("valid event"), reference(&patterns, ev), "event {}", raw);
        }
    }
}

/// Renders `v` as JSON with whitespace drawn by `ws` between tokens and, when `next` says
/// so, a key's first character written as a `\u` escape.
fn render_varied(v: &Value, next: &mut impl FnMut() -> u64, out: &mut String) {
    const WS: [&str; 6] = ["", "", " ", " ", "\n\t", "  "];
    let ws = |out: &mut String, next: &mut dyn FnMut() -> u64| out.push_str(WS[(next() % 6) as usize]);
    match v {
        Value::Object(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                ws(out, next);
                match k.chars().next() {
                    Some(c) if next().is_multiple_of(5) => {
                        out.push_str(&format!("\"\\u{:04x}", c as u32));
                        out.push_str(&serde_json::to_string(&k[c.len_utf8()..]).unwrap()[1..]);
                    }
                    _ => out.push_str(&serde_json::to_string(k).unwrap()),
                }
                ws(out, next);
                out.push(':');
                ws(out, next);
                render_varied(v, next, out);
                ws(out, next);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                ws(out, next);
                render_varied(v, next, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[test]
fn keys_and_strings_of_every_length_agree_with_reference() {
    // Keys and strings around the lengths the scanner reads in registers (up to 15 bytes, 16
    // from the opening quote), with escapes, dots, non-ASCII and control characters, written
    // with varied whitespace and near the end of the event.
    let keys: Vec<String> = [
        "",
        "k",
        "abcdefg",
        "abcdefgh",
        "abcdefghi",
        "abcdefghijklmno",
        "abcdefghijklmnop",
        "abcdefghijklmnopq",
        "q\"uote",
        "b\\s",
        "d.ot",
        "abcdefgh.ijklmnop",
        "é",
        "ŝĉ.ĝ",
    ]
    .map(str::to_string)
    .to_vec();
    let values = [
        json!(""),
        json!("x"),
        json!("xyzxyzx"),
        json!("xyzxyzxy"),
        json!("xyzxyzxyzxyzxyz"),
        json!("xyzxyzxyzxyzxyzx"),
        json!("xyzxyzxyzxyzxyzxy"),
        json!("x\"y"),
        json!("x\\y"),
        json!("é"),
        json!("xyzxyzxyzxyzé"),
        json!("\u{1F600}x"),
        json!("tab\tbed"),
        json!(1.5),
        json!(null),
        json!([1, "x"]),
    ];
    let mut texts = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let k = serde_json::to_string(k).unwrap();
        let k2 = serde_json::to_string(&keys[(i * 7 + 3) % keys.len()]).unwrap();
        texts.push(format!(r#"{{{k}: [{{"prefix": "x"}}]}}"#));
        texts.push(format!(r#"{{{k}: [{{"exists": false}}], "k": [{{"exists": true}}]}}"#));
        texts.push(format!(r#"{{{k}: {{{k2}: ["x", "xyzxyzxyzxyzxyzx", "é", "x\"y"]}}}}"#));
        texts.push(format!(r#"{{"abcdefgh": {{{k}: [{{"suffix": "y"}}, 1.5, null]}}}}"#));
    }
    let patterns: Vec<Pattern> = texts.iter().map(|t| pat(t)).collect();
    let m = machine_of(&patterns);
    let mut x = 7u64;
    let mut next = || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        x >> 33
    };
    fn object(keys: &[String], values: &[Value], depth: u32, next: &mut impl FnMut() -> u64) -> Value {
        let mut m = serde_json::Map::new();
        for _ in 0..1 + next() % 4 {
            let k = keys[(next() % keys.len() as u64) as usize].clone();
            let v = if depth < 2 && next().is_multiple_of(3) {
                object(keys, values, depth + 1, next)
            } else {
                values[(next() % values.len() as u64) as usize].clone()
            };
            m.insert(k, v);
        }
        Value::Object(m)
    }
    for _ in 0..3000 {
        let ev = object(&keys, &values, 0, &mut next);
        let mut raw = String::new();
        render_varied(&ev, &mut next, &mut raw);
        assert_eq!(
            m.matches(raw.as_bytes()).expect(&raw),
            reference(&patterns, &ev),
            "{raw}"
        );
        // Cut short: an error, never a panic or a match.
        let cut = (next() % raw.len() as u64) as usize;
        assert!(m.matches(&raw.as_bytes()[..cut]).is_err(), "{}", &raw[..cut]);
        // A raw control character in a used string or key: an error.
        if let Some(at) = raw.find("xyz") {
            let mut bad = raw.clone().into_bytes();
            bad[at] = 0x01;
            let value: Result<Value, _> = serde_json::from_slice(&bad);
            assert!(value.is_err());
            let _ = m.matches(&bad);
        }
    }
    // A raw control character or invalid UTF-8 in a string a pattern reads: an error, at every
    // length and position.
    for k in &keys {
        let k = serde_json::to_string(k).unwrap();
        for len in 1..20 {
            for at in 0..len {
                for bad in [0x01u8, 0x1f, 0xff, 0x80] {
                    let mut s = vec![b'x'; len];
                    s[at] = bad;
                    let mut ev = format!("{{{k}: \"").into_bytes();
                    ev.extend_from_slice(&s);
                    ev.extend_from_slice(b"\", \"z\": 1}");
                    assert!(m.matches(&ev).is_err(), "{}", String::from_utf8_lossy(&ev));
                }
            }
        }
    }
    // More children than a slot mask holds: repeats still seen.
    let wide: Vec<Pattern> = (0..70).map(|i| pat(&format!(r#"{{"k{i}": ["x"]}}"#))).collect();
    let m = machine_of(&wide);
    for ev in [
        r#"{"k69": "x", "k69": "y"}"#,
        r#"{"k69": "y", "k69": "x"}"#,
        r#"{"k3": "y", "k3": "x", "k64": "x"}"#,
    ] {
        let value: Value = serde_json::from_str(ev).unwrap();
        assert_eq!(m.matches(ev.as_bytes()).unwrap(), reference(&wide, &value), "{ev}");
    }
}
