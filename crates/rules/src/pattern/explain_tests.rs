//! Tests of [`Pattern::explain`]: it agrees with [`Pattern::matches`] on every conformance case
//! (and on every pattern of a fixture file against every event of that file), and names the
//! right field, value and reason for each operator.

use serde_json::{json, Value};

use super::conformance::cases;
use super::{Mismatch, Pattern};

/// The explanation of a pattern (text, key order kept) that must not match.
fn why(pattern: &str, event: Value) -> Mismatch {
    let p = Pattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
    assert!(!p.matches(&event), "{pattern} matches {event}");
    p.explain(&event)
        .unwrap_or_else(|| panic!("{pattern} on {event}: no explanation"))
}

/// Checks field, actual and reason.
#[track_caller]
fn check(pattern: &str, event: Value, field: &str, actual: Option<Value>, reason: &str) {
    let m = why(pattern, event);
    assert_eq!(
        (m.field.as_str(), &m.actual, m.reason.as_str()),
        (field, &actual, reason),
        "{pattern}"
    );
}

/// Whether `field` is a path of the pattern or the start of one (an array's path).
fn names_a_field(p: &Pattern, field: &str) -> bool {
    p.alternatives().iter().flat_map(|a| &a.fields).any(|f| {
        let path = f.path.join(".");
        path == field || path.starts_with(&format!("{field}."))
    })
}

#[test]
fn agrees_with_matches_on_every_conformance_case() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for c in cases() {
        let Some(event) = c.case.get("event") else { continue };
        let Ok(p) = Pattern::parse(&c.pattern) else { continue };
        let id = format!("{}/{}", c.file, c.name);
        checked += 1;
        let matches = p.matches(event);
        assert_eq!(Some(matches), c.case["matches"].as_bool(), "{id}");
        match p.explain(event) {
            None if matches => {}
            Some(m) if !matches => {
                if !names_a_field(&p, &m.field) || m.reason.is_empty() {
                    failures.push(format!("{id}: {m:?}"));
                }
            }
            other => failures.push(format!("{id}: matches {matches}, explain {other:?}")),
        }
    }
    assert!(checked >= 300, "only {checked} cases with events");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every pattern of a fixture file against every event of the same file: many more
/// non-matching pairs than the suite itself has.
#[test]
fn agrees_with_matches_across_cases_of_a_file() {
    let all = cases();
    let mut by_file: std::collections::BTreeMap<&str, (Vec<Pattern>, Vec<&Value>)> = Default::default();
    for c in &all {
        let Some(event) = c.case.get("event") else { continue };
        let entry = by_file.entry(c.file.as_str()).or_default();
        if let Ok(p) = Pattern::parse(&c.pattern) {
            entry.0.push(p);
        }
        entry.1.push(event);
    }
    let (mut pairs, mut mismatches) = (0, 0);
    for (file, (patterns, events)) in &by_file {
        for p in patterns {
            for e in events {
                pairs += 1;
                let explained = p.explain(e);
                assert_eq!(explained.is_none(), p.matches(e), "{file}: {p:?} on {e}");
                if let Some(m) = explained {
                    mismatches += 1;
                    assert!(names_a_field(p, &m.field), "{file}: {m:?}");
                }
            }
        }
    }
    assert!(
        pairs > 5000 && mismatches > 3000,
        "{pairs} pairs, {mismatches} mismatches"
    );
}

#[test]
fn literals() {
    check(
        r#"{"source": ["aws.s3"]}"#,
        json!({"source": "aws.ec2"}),
        "source",
        Some(json!("aws.ec2")),
        r#"expected one of ["aws.s3"]"#,
    );
    // Numbers as written; every literal kind.
    check(
        r#"{"a": ["x", 3.0, 1e2, null, true]}"#,
        json!({"a": 4}),
        "a",
        Some(json!(4)),
        r#"expected one of ["x", 3.0, 1e2, null, true]"#,
    );
    // An array in the event: the whole array is the actual value.
    check(
        r#"{"resources": ["arn:1"]}"#,
        json!({"resources": ["arn:2", "arn:3"]}),
        "resources",
        Some(json!(["arn:2", "arn:3"])),
        r#"expected one of ["arn:1"]"#,
    );
}

#[test]
fn absent_objects_and_empty_arrays() {
    check(
        r#"{"detail": {"state": ["RUNNING"]}}"#,
        json!({"detail": {"other": 1}}),
        "detail.state",
        None,
        "absent, but the pattern requires a value",
    );
    check(
        r#"{"detail": {"state": ["RUNNING"]}}"#,
        json!({"detail": "flat"}),
        "detail.state",
        None,
        "absent, but the pattern requires a value",
    );
    check(
        r#"{"detail": ["x"]}"#,
        json!({"detail": {"a": 1}}),
        "detail",
        Some(json!({"a": 1})),
        "an object, but the pattern requires a value",
    );
    check(
        r#"{"a": [{"exists": true}]}"#,
        json!({"a": []}),
        "a",
        Some(json!([])),
        "an empty array, but the pattern requires a value",
    );
    check(
        r#"{"a": [{"anything-but": "x"}]}"#,
        json!({}),
        "a",
        None,
        "absent, but the pattern requires a value",
    );
}

#[test]
fn exists() {
    check(
        r#"{"detail": {"c-count": [{"exists": true}]}}"#,
        json!({"detail": {}}),
        "detail.c-count",
        None,
        "absent, but the pattern requires a value",
    );
    check(
        r#"{"detail": {"c-count": [{"exists": false}]}}"#,
        json!({"detail": {"c-count": null}}),
        "detail.c-count",
        Some(Value::Null),
        r#"present, but the pattern requires it to be absent ("exists": false)"#,
    );
    // Under an array, presence is judged per element: here every element has it.
    check(
        r#"{"a": {"w": [{"exists": false}], "z": [0]}}"#,
        json!({"a": [{"w": 1, "z": 0}, {"w": 2}]}),
        "a.w",
        Some(json!([1, 2])),
        r#"present, but the pattern requires it to be absent ("exists": false)"#,
    );
}

#[test]
fn prefix_suffix_equals_ignore_case_wildcard() {
    check(
        r#"{"detail": {"object": {"key": [{"suffix": ".jpg"}]}}}"#,
        json!({"detail": {"object": {"key": "cat.png"}}}),
        "detail.object.key",
        Some(json!("cat.png")),
        r#""cat.png" does not end with ".jpg""#,
    );
    check(
        r#"{"k": [{"suffix": {"equals-ignore-case": ".JPG"}}]}"#,
        json!({"k": "cat.png"}),
        "k",
        Some(json!("cat.png")),
        r#""cat.png" does not end with ".JPG" (ignoring case)"#,
    );
    check(
        r#"{"k": [{"prefix": "img/"}]}"#,
        json!({"k": "cat.png"}),
        "k",
        Some(json!("cat.png")),
        r#""cat.png" does not start with "img/""#,
    );
    check(
        r#"{"k": [{"prefix": {"equals-ignore-case": "IMG/"}}]}"#,
        json!({"k": "cat.png"}),
        "k",
        Some(json!("cat.png")),
        r#""cat.png" does not start with "IMG/" (ignoring case)"#,
    );
    check(
        r#"{"k": [{"prefix": "img/"}]}"#,
        json!({"k": 5}),
        "k",
        Some(json!(5)),
        r#"5 does not start with "img/" (not a string)"#,
    );
    check(
        r#"{"k": [{"prefix": "img/"}]}"#,
        json!({"k": ["a", "b"]}),
        "k",
        Some(json!(["a", "b"])),
        r#"none of ["a", "b"] starts with "img/""#,
    );
    check(
        r#"{"k": [{"equals-ignore-case": "XYZ"}]}"#,
        json!({"k": "abc"}),
        "k",
        Some(json!("abc")),
        r#""abc" does not equal "XYZ" ignoring case"#,
    );
    check(
        r#"{"k": [{"wildcard": "*.jpg"}]}"#,
        json!({"k": "cat.png"}),
        "k",
        Some(json!("cat.png")),
        r#""cat.png" does not match the wildcard "*.jpg""#,
    );
    check(
        r#"{"k": [{"wildcard": "a\\*b*"}]}"#,
        json!({"k": ["ab", "a*"]}),
        "k",
        Some(json!(["ab", "a*"])),
        r#"none of ["ab", "a*"] matches the wildcard "a\\*b*""#,
    );
}

#[test]
fn numeric() {
    check(
        r#"{"n": [{"numeric": [">", 1000]}]}"#,
        json!({"n": 1000}),
        "n",
        Some(json!(1000)),
        "1000 is not > 1000",
    );
    // The first condition that fails.
    check(
        r#"{"n": [{"numeric": [">", 0, "<=", 5]}]}"#,
        json!({"n": 7.5}),
        "n",
        Some(json!(7.5)),
        "7.5 is not <= 5",
    );
    check(
        r#"{"n": [{"numeric": ["=", 3]}]}"#,
        json!({"n": "3"}),
        "n",
        Some(json!("3")),
        r#""3" is not a number"#,
    );
    check(
        r#"{"n": [{"numeric": [">", 0]}]}"#,
        json!({"n": 6e9}),
        "n",
        Some(json!(6e9)),
        "6000000000.0 is outside the range of numeric matching (±5000000000)",
    );
    check(
        r#"{"n": [{"numeric": [">", 0, "<=", 5]}]}"#,
        json!({"n": [0, 9]}),
        "n",
        Some(json!([0, 9])),
        "none of [0, 9] is > 0 and <= 5",
    );
}

#[test]
fn anything_but() {
    check(
        r#"{"source": [{"anything-but": ["aws.s3", "aws.ec2"]}]}"#,
        json!({"source": "aws.ec2"}),
        "source",
        Some(json!("aws.ec2")),
        r#""aws.ec2" is excluded by anything-but "aws.ec2""#,
    );
    check(
        r#"{"n": [{"anything-but": [1, 2]}]}"#,
        json!({"n": [2.0, 1]}),
        "n",
        Some(json!([2.0, 1])),
        "all of [2.0, 1] are excluded by anything-but [1, 2]",
    );
    check(
        r#"{"k": [{"anything-but": {"prefix": ["tmp-", "int-"]}}]}"#,
        json!({"k": "int-x"}),
        "k",
        Some(json!("int-x")),
        r#""int-x" is excluded by anything-but prefix "int-""#,
    );
    check(
        r#"{"k": [{"anything-but": {"suffix": ".tmp"}}]}"#,
        json!({"k": "a.tmp"}),
        "k",
        Some(json!("a.tmp")),
        r#""a.tmp" is excluded by anything-but suffix ".tmp""#,
    );
    check(
        r#"{"k": [{"anything-but": {"equals-ignore-case": ["abc", "def"]}}]}"#,
        json!({"k": "DEF"}),
        "k",
        Some(json!("DEF")),
        r#""DEF" is excluded by anything-but equals-ignore-case "def""#,
    );
    check(
        r#"{"k": [{"anything-but": {"wildcard": ["*.tmp", "x*"]}}]}"#,
        json!({"k": ["a.tmp", "xy"]}),
        "k",
        Some(json!(["a.tmp", "xy"])),
        r#"all of ["a.tmp", "xy"] are excluded by anything-but wildcard ["*.tmp", "x*"]"#,
    );
}

#[test]
fn cidr() {
    check(
        r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#,
        json!({"ip": "10.0.1.1"}),
        "ip",
        Some(json!("10.0.1.1")),
        r#""10.0.1.1" is not in 10.0.0.0/24"#,
    );
    check(
        r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#,
        json!({"ip": "host"}),
        "ip",
        Some(json!("host")),
        r#""host" is not in 10.0.0.0/24 (not an IP address)"#,
    );
    check(
        r#"{"ip": [{"cidr": "2001:db8::/32"}]}"#,
        json!({"ip": ["10.0.0.1", 7]}),
        "ip",
        Some(json!(["10.0.0.1", 7])),
        r#"none of ["10.0.0.1", 7] is in 2001:db8::/32"#,
    );
}

#[test]
fn several_matchers_in_one_leaf() {
    check(
        r#"{"a": ["x", {"prefix": "y"}, "z", {"exists": false}]}"#,
        json!({"a": "w"}),
        "a",
        Some(json!("w")),
        r#"expected one of ["x", "z"]; "w" does not start with "y"; present, but the pattern requires it to be absent ("exists": false)"#,
    );
}

#[test]
fn first_failing_field_in_written_order() {
    check(
        r#"{"b": ["1"], "a": ["2"]}"#,
        json!({"a": "x", "b": "y"}),
        "b",
        Some(json!("y")),
        r#"expected one of ["1"]"#,
    );
    // `a.x` and `a.y` share a node, but `b` is written between them.
    check(
        r#"{"a": {"x": [1]}, "b": [2], "a.y": [3]}"#,
        json!({"a": {"x": 1, "y": 0}, "b": 0}),
        "b",
        Some(json!(0)),
        "expected one of [2]",
    );
}

#[test]
fn array_consistency() {
    let p = r#"{"detail": {"items": {"id": [1], "qty": [{"numeric": [">", 0]}]}}}"#;
    let items = json!([{"id": 1, "qty": 0}, {"id": 2, "qty": 5}]);
    check(
        p,
        json!({"detail": {"items": items.clone()}}),
        "detail.items",
        Some(items),
        r#"no element of the array matches together with the other fields under "detail.items""#,
    );
    // A field that no element satisfies is named itself, with every element's value.
    check(
        p,
        json!({"detail": {"items": [{"id": 2, "qty": 1}, {"id": 3}]}}),
        "detail.items.id",
        Some(json!([2, 3])),
        "expected one of [1]",
    );
    // The deepest array under which the fields conflict.
    let inner = json!([{"c": "1"}, {"d": "2"}]);
    check(
        r#"{"a": {"b": {"c": ["1"], "d": ["2"]}}}"#,
        json!({"a": [{"b": inner.clone()}]}),
        "a.b",
        Some(inner),
        r#"no element of the array matches together with the other fields under "a.b""#,
    );
    let outer = json!([{"b": {"c": "1"}}, {"b": {"d": "2"}}]);
    check(
        r#"{"a": {"b": {"c": ["1"], "d": ["2"]}}}"#,
        json!({"a": outer.clone()}),
        "a",
        Some(outer),
        r#"no element of the array matches together with the other fields under "a""#,
    );
    // exists: true in one element, the other field in another.
    check(
        r#"{"a": {"x": [{"exists": true}], "z": [0]}}"#,
        json!({"a": [{"x": 1, "z": 1}, {"z": 0}]}),
        "a",
        Some(json!([{"x": 1, "z": 1}, {"z": 0}])),
        r#"no element of the array matches together with the other fields under "a""#,
    );
    // A leaf and a field below it, in one array.
    check(
        r#"{"a": ["1"], "a.b": ["2"]}"#,
        json!({"a": ["1", {"b": "2"}]}),
        "a",
        Some(json!(["1", {"b": "2"}])),
        r#"no element of the array matches together with the other fields under "a""#,
    );
}

#[test]
fn dotted_names() {
    check(
        r#"{"detail": {"state.status": ["running"]}}"#,
        json!({"detail": {"state": {"status": "stopped"}}}),
        "detail.state.status",
        Some(json!("stopped")),
        r#"expected one of ["running"]"#,
    );
    check(
        r#"{"detail": {"state": {"status": ["running"]}}}"#,
        json!({"detail.state.status": "stopped"}),
        "detail.state.status",
        Some(json!("stopped")),
        r#"expected one of ["running"]"#,
    );
    // Two spellings: two values (in the event's key order).
    let m = why(r#"{"a": {"b": ["x"]}}"#, json!({"a.b": "y", "a": {"b": "z"}}));
    assert_eq!(m.field, "a.b");
    let mut actual = m.actual.unwrap().as_array().unwrap().clone();
    actual.sort_by_key(|v| v.to_string());
    assert_eq!(actual, vec![json!("y"), json!("z")]);
    assert_eq!(m.reason, r#"expected one of ["x"]"#);
    // Names that go on past the path are an object there.
    check(
        r#"{"a": ["x"]}"#,
        json!({"a.b": "x"}),
        "a",
        Some(json!({"b": "x"})),
        "an object, but the pattern requires a value",
    );
}

#[test]
fn or_reports_the_alternative_that_got_furthest() {
    let p = r#"{"$or": [{"source": ["aws.s3"], "detail-type": ["X"]}, {"source": ["aws.ec2"], "detail-type": ["Y"]}]}"#;
    check(
        p,
        json!({"source": "aws.ec2", "detail-type": "Z"}),
        "detail-type",
        Some(json!("Z")),
        r#"expected one of ["Y"]"#,
    );
    // A tie: the first alternative.
    check(
        p,
        json!({"source": "aws.sqs", "detail-type": "Z"}),
        "source",
        Some(json!("aws.sqs")),
        r#"expected one of ["aws.s3"]"#,
    );
    // A field beside the $or is in every alternative.
    let p = r#"{"source": ["aws.ec2"], "$or": [{"a": [1]}, {"b": [{"numeric": ["<", 0]}]}]}"#;
    check(
        p,
        json!({"source": "aws.ec2", "a": 2}),
        "a",
        Some(json!(2)),
        "expected one of [1]",
    );
    // One field matching in each: a tie, even though `b` is present.
    check(
        p,
        json!({"source": "aws.ec2", "b": 3}),
        "a",
        None,
        "absent, but the pattern requires a value",
    );
    check(
        p,
        json!({"source": "aws.s3", "a": 1}),
        "source",
        Some(json!("aws.s3")),
        r#"expected one of ["aws.ec2"]"#,
    );
    // More fields matching wins; on a tie, the first alternative.
    let p = r#"{"$or": [{"a": [1], "c": [1]}, {"d": [1], "b": [{"numeric": ["<", 0]}]}]}"#;
    check(p, json!({"b": 3, "d": 1}), "b", Some(json!(3)), "3 is not < 0");
    check(
        p,
        json!({"a": 1, "b": 3, "d": 1}),
        "c",
        None,
        "absent, but the pattern requires a value",
    );
}

#[test]
fn none_when_matching_display_and_serialize() {
    let p = Pattern::parse(r#"{"detail": {"object": {"key": [{"suffix": ".jpg"}]}}}"#).unwrap();
    assert_eq!(p.explain(&json!({"detail": {"object": {"key": "cat.jpg"}}})), None);
    let m = p.explain(&json!({"detail": {"object": {"key": "cat.png"}}})).unwrap();
    assert_eq!(
        m.to_string(),
        r#"detail.object.key: "cat.png" does not end with ".jpg""#
    );
    assert_eq!(
        serde_json::to_value(&m).unwrap(),
        json!({"field": "detail.object.key", "actual": "cat.png", "reason": "\"cat.png\" does not end with \".jpg\""})
    );
    let m = p.explain(&json!({})).unwrap();
    assert_eq!(
        serde_json::to_value(&m).unwrap(),
        json!({"field": "detail.object.key", "actual": null, "reason": "absent, but the pattern requires a value"})
    );
}

#[test]
fn matchers_of_one_kind_share_a_clause() {
    check(
        r#"{"k": [{"wildcard": "*/a/*.bif"}, {"prefix": "x"}, {"wildcard": "*/a/*.tif"}, {"prefix": "y"}]}"#,
        json!({"k": "in/b/s.tif"}),
        "k",
        Some(json!("in/b/s.tif")),
        r#""in/b/s.tif" does not match any of the wildcards ["*/a/*.bif", "*/a/*.tif"]; "in/b/s.tif" does not start with any of ["x", "y"]"#,
    );
    check(
        r#"{"k": [{"suffix": ".a"}, {"suffix": {"equals-ignore-case": ".B"}}, {"suffix": ".c"}]}"#,
        json!({"k": ["x", "y"]}),
        "k",
        Some(json!(["x", "y"])),
        r#"none of ["x", "y"] ends with any of [".a", ".c"]; none of ["x", "y"] ends with ".B" (ignoring case)"#,
    );
    check(
        r#"{"ip": [{"cidr": "10.0.0.0/24"}, {"cidr": "10.0.2.0/24"}]}"#,
        json!({"ip": "10.0.1.1"}),
        "ip",
        Some(json!("10.0.1.1")),
        r#""10.0.1.1" is not in any of 10.0.0.0/24, 10.0.2.0/24"#,
    );
    check(
        r#"{"k": [{"equals-ignore-case": "a"}, {"equals-ignore-case": "b"}]}"#,
        json!({"k": "c"}),
        "k",
        Some(json!("c")),
        r#""c" does not equal any of ["a", "b"] ignoring case"#,
    );
    // As event-ruler: a character beyond U+FFFF is two `?` and does not match itself.
    check(
        r#"{"k": [{"equals-ignore-case": "😀"}]}"#,
        json!({"k": "😀"}),
        "k",
        Some(json!("😀")),
        r#""😀" does not equal "😀" ignoring case (a character beyond U+FFFF never matches itself, as on AWS)"#,
    );
    check(
        r#"{"k": [{"equals-ignore-case": "ǅ"}]}"#,
        json!({"k": "ǅ"}),
        "k",
        Some(json!("ǅ")),
        r#""ǅ" does not equal "ǅ" ignoring case (a character whose lower and upper case both differ from it matches only those, as on AWS)"#,
    );
}
