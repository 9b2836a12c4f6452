//! Unit tests of the parser and the reference evaluator; the conformance suite is
//! `tests/pattern_fixtures.rs` over `fixtures/patterns/`.

use serde_json::json;

use super::*;

fn m(p: &str, e: serde_json::Value) -> bool {
    Pattern::parse(p).unwrap_or_else(|e| panic!("{p}: {e}")).matches(&e)
}

fn err(p: &str) -> String {
    Pattern::parse(p).expect_err(p).to_string()
}

#[test]
fn location_is_jacksons() {
    assert_eq!(
        err(r#"{"source":["test.event-pattern"],"detail":{"lenderId":"LenderA"}}"#),
        "Event pattern is not valid. Reason: \"lenderId\" must be an object or an array\n at [Source: (String)\"{\"source\":[\"test.event-pattern\"],\"detail\":{\"lenderId\":\"LenderA\"}}\"; line: 1, column: 56]"
    );
}

#[test]
fn array_consistency() {
    let p = r#"{"a": {"x": [1], "y": [2]}}"#;
    assert!(m(p, json!({"a": [{"x": 1, "y": 2}]})));
    assert!(!m(p, json!({"a": [{"x": 1, "y": 3}, {"x": 4, "y": 2}]})));
}

fn paths(p: &Pattern) -> Vec<Vec<String>> {
    p.alternatives()
        .iter()
        .map(|c| c.fields.iter().map(|f| f.path.join(".")).collect())
        .collect()
}

#[test]
fn or_expands_like_event_ruler() {
    let p = Pattern::parse(
        r#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPU"]}, {"metricType": ["T"], "namespace": ["AWS/EC2"]}, {"scope": ["Service"]}]}"#,
    )
    .unwrap();
    assert_eq!(
        paths(&p),
        vec![
            vec!["source", "metricName"],
            vec!["source", "metricType", "namespace"],
            vec!["source", "scope"],
        ]
    );
    let p =
        Pattern::parse(r#"{"detail": {"$or": [{"a": [1]}, {"$or": [{"b": [2]}, {"c": [3]}]}]}, "d": [4]}"#).unwrap();
    assert_eq!(
        paths(&p),
        vec![vec!["detail.a", "d"], vec!["detail.b", "d"], vec!["detail.c", "d"]]
    );
    let p = Pattern::parse(r#"{"$or": [{"a": [1]}, {"b": [2]}], "$or": [{"c": [3]}, {"d": [4]}]}"#).unwrap();
    assert_eq!(
        paths(&p),
        vec![vec!["a", "c"], vec!["b", "c"], vec!["a", "d"], vec!["b", "d"]]
    );
    let or = p.root().or.as_ref().unwrap();
    assert_eq!(or.len(), 4);
}

#[test]
fn repeated_paths_last_one_wins_in_text_order() {
    let p = Pattern::parse(r#"{"$or": [{"a": ["1"]}, {"b": ["2"]}], "a": ["9"]}"#).unwrap();
    let alts = p.alternatives();
    assert_eq!(alts[0].fields.len(), 1);
    assert_eq!(
        alts[0].fields[0].matchers,
        vec![Matcher::Exact(Literal::String("9".into()))]
    );
    assert_eq!(paths(&p), vec![vec!["a"], vec!["b", "a"]]);
    let p = Pattern::parse(r#"{"a": ["1"], "a": ["2"]}"#).unwrap();
    assert_eq!(p.root().fields.len(), 1);
    assert_eq!(
        p.root().fields[0].1,
        FieldPattern::Leaf(vec![Matcher::Exact(Literal::String("2".into()))])
    );
}

#[test]
fn names_are_joined_with_dots() {
    // The flattened paths are the names split at every `.`; the tree keeps them as written.
    let split = |p: &Pattern| -> Vec<Vec<Vec<String>>> {
        p.alternatives()
            .iter()
            .map(|c| c.fields.iter().map(|f| f.path.clone()).collect())
            .collect()
    };
    let p = Pattern::parse(r#"{"detail": {"state.status": ["running"]}}"#).unwrap();
    let q = Pattern::parse(r#"{"detail": {"state": {"status": ["running"]}}}"#).unwrap();
    assert_eq!(split(&p), vec![vec![vec!["detail", "state", "status"]]]);
    assert_eq!(p.alternatives(), q.alternatives());
    assert_eq!(p.root().fields[0].0, "detail");
    let FieldPattern::Object(detail) = &p.root().fields[0].1 else {
        panic!()
    };
    assert_eq!(detail.fields[0].0, "state.status");
    // Empty names are steps of their own.
    let p = Pattern::parse(r#"{"a..b": [1], "c.": [2], ".d": [3]}"#).unwrap();
    assert_eq!(split(&p), vec![vec![vec!["a", "", "b"], vec!["c", ""], vec!["", "d"]]]);
    // One path in two spellings: the later replaces the earlier, in its place.
    let p = Pattern::parse(r#"{"a.b": ["1"], "c": ["3"], "a": {"b": ["2"]}}"#).unwrap();
    assert_eq!(paths(&p), vec![vec!["a.b", "c"]]);
    assert_eq!(
        p.alternatives()[0].fields[0].matchers,
        vec![Matcher::Exact(Literal::String("2".into()))]
    );
    // SNS reads names as written.
    let p = Pattern::parse_literal_names(r#"{"a.b": ["1"], "a": {"b": ["2"]}}"#).unwrap();
    assert_eq!(split(&p), vec![vec![vec!["a.b"], vec!["a", "b"]]]);
    assert!(p.matches(&json!({"a.b": "1", "a": {"b": "2"}})));
    assert!(!p.matches(&json!({"a": {"b": "1"}, "a.b": "2"})));
}

#[test]
fn dotted_event_names_in_the_reference() {
    let p = r#"{"a": {"b": {"c": ["x"]}}}"#;
    for ev in [
        json!({"a.b.c": "x"}),
        json!({"a.b": {"c": "x"}}),
        json!({"a": {"b.c": "x"}}),
        json!({"a": {"b.c": "y"}, "a.b": {"c": "x"}}),
        json!({"a": [{"b.c": "y"}, {"b": [{"c": "x"}]}]}),
    ] {
        assert!(m(p, ev.clone()), "{ev}");
    }
    for ev in [
        json!({"a.bc": "x"}),
        json!({"ab.c": "x"}),
        json!({"a.b.c.d": "x"}),
        json!({"a": {"b.c": {"d": "x"}}}),
        json!({"a..b.c": "x"}),
        json!({"a.b.": {"c": "x"}}),
    ] {
        assert!(!m(p, ev.clone()), "{ev}");
    }
    // A leaf and fields below it, from two names.
    assert!(m(r#"{"a": ["1"], "a.b": ["2"]}"#, json!({"a": "1", "a.b": "2"})));
    assert!(!m(r#"{"a": ["1"], "a.b": ["2"]}"#, json!({"a": ["1", {"b": "2"}]})));
}

#[test]
fn matcher_shapes() {
    let p = Pattern::parse(
        r#"{"a": [{"prefix": "x"}, {"suffix": {"equals-ignore-case": "Y"}}, {"wildcard": "a*b\\*c*"},
            {"numeric": [">", 0, "<=", 5]}, {"numeric": ["=", 3e0]}, {"cidr": "10.0.0.5/24"}, 3.0,
            {"anything-but": [1, 2]}, {"anything-but": {"wildcard": ["*x", "y*"]}}, {"exists": false}, null]}"#,
    )
    .unwrap();
    let FieldPattern::Leaf(ms) = &p.root().fields[0].1 else {
        panic!()
    };
    assert_eq!(
        ms[0],
        Matcher::Prefix {
            value: "x".into(),
            ignore_case: false
        }
    );
    assert_eq!(
        ms[1],
        Matcher::Suffix {
            value: "Y".into(),
            ignore_case: true
        }
    );
    assert_eq!(
        ms[2],
        Matcher::Wildcard(Wildcard {
            text: "a*b\\*c*".into(),
            segments: vec!["a".into(), "b*c".into(), "".into()]
        })
    );
    assert_eq!(
        ms[3],
        Matcher::Numeric(vec![(NumericOp::Gt, 0.0), (NumericOp::Le, 5.0)])
    );
    assert_eq!(ms[4], Matcher::Numeric(vec![(NumericOp::Eq, 3.0)]));
    assert_eq!(
        ms[5],
        Matcher::Cidr(Cidr {
            network: "10.0.0.5".parse().unwrap(),
            prefix_len: 24
        })
    );
    assert_eq!(
        ms[6],
        Matcher::Exact(Literal::Number(Number {
            value: 3.0,
            text: "3.0".into()
        }))
    );
    let Matcher::AnythingBut(AnythingBut::Values(vs)) = &ms[7] else {
        panic!()
    };
    assert_eq!(vs.len(), 2);
    let Matcher::AnythingBut(AnythingBut::Wildcard(ws)) = &ms[8] else {
        panic!()
    };
    assert_eq!(ws[1].segments, vec!["y".to_string(), String::new()]);
    assert_eq!(ms[9], Matcher::Exists(false));
    assert_eq!(ms[10], Matcher::Exact(Literal::Null));
}

#[test]
fn locations_follow_jackson() {
    // After a field name Jackson has read the value's first character; a string value is read
    // lazily (location just past its opening quote); reading the text moves past the closing one.
    let e = Pattern::parse(r#"{"a": [{"prefix": 1}]}"#).unwrap_err();
    assert_eq!(
        e.location().unwrap(),
        r#"[Source: (String)"{"a": [{"prefix": 1}]}"; line: 1, column: 20]"#
    );
    let e = Pattern::parse(r#"{"a": []}"#).unwrap_err();
    assert_eq!(
        e.location().unwrap(),
        r#"[Source: (String)"{"a": []}"; line: 1, column: 9]"#
    );
    let e = Pattern::parse("{\n  \"a\": [{\"wildcard\": \"x**\"}]\n}").unwrap_err();
    assert!(e.location().unwrap().ends_with("line: 2, column: 27]"), "{e}");
    // CIDR errors escape event-ruler's parser: no location.
    let e = Pattern::parse(r#"{"a": [{"cidr": "x"}]}"#).unwrap_err();
    assert_eq!(e.location(), None);
    assert_eq!(
        e.to_string(),
        "Event pattern is not valid. Reason: Malformed CIDR, one '/' required"
    );
    // Long patterns are quoted up to 500 characters.
    let long = format!(r#"{{"a": "{}"}}"#, "x".repeat(600));
    let e = Pattern::parse(&long).unwrap_err();
    assert!(
        e.location()
            .unwrap()
            .contains("\"[truncated 109 chars]; line: 1, column: 8]"),
        "{e}"
    );
}

#[test]
fn case_folding() {
    assert_eq!(fold_case("Straße"), fold_case("STRASSE"));
    assert_eq!(fold_case("ΟΔΟΣ"), fold_case("οδος"));
    assert!(m(
        r#"{"a": [{"prefix": {"equals-ignore-case": "STRA"}}]}"#,
        json!({"a": "straße"})
    ));
}

/// Ignore-case matching as event-ruler's `EqualsIgnoreCaseParser`: per UTF-16 unit, its
/// `toLowerCase(Locale.ROOT)` or `toUpperCase(Locale.ROOT)` alone; the event unfolded.
#[test]
fn ignore_case_as_event_ruler() {
    let eq = |p: &str, s: &str| IgnoreCase::new(p).equals(s.as_bytes());
    assert!(eq("aBc", "AbC"));
    assert!(eq("", ""));
    assert!(!eq("", "a"));
    assert!(!eq("abc", "ab"));
    assert!(!eq("ab", "abc"));
    // ß: itself or "SS", never "ss"; "SS" never ß.
    assert!(eq("ß", "ß"));
    assert!(eq("ß", "SS"));
    assert!(!eq("ß", "ss"));
    assert!(!eq("ß", "sS"));
    assert!(eq("ss", "Ss"));
    assert!(!eq("SS", "ß"));
    assert!(!eq("STRASSE", "straße"));
    assert!(eq("straße", "STRASSE"));
    // İ: itself or "i" + U+0307; "i" is i/I only.
    assert!(eq("İ", "İ"));
    assert!(eq("İ", "i\u{307}"));
    assert!(!eq("İ", "i"));
    assert!(!eq("İ", "I"));
    assert!(!eq("i", "İ"));
    // ﬁ: itself or "FI".
    assert!(eq("ﬁ", "ﬁ"));
    assert!(eq("ﬁ", "FI"));
    assert!(!eq("ﬁ", "fi"));
    assert!(!eq("ﬁ", "Fi"));
    assert!(!eq("FI", "ﬁ"));
    // Sigmas: ς is ς/Σ, σ and Σ are σ/Σ.
    assert!(eq("ς", "Σ"));
    assert!(!eq("ς", "σ"));
    assert!(!eq("Σ", "ς"));
    assert!(eq("ΟΔΟΣ", "οδοσ"));
    assert!(!eq("ΟΔΟΣ", "οδος"));
    // Lengths that change: ⱥ (3 bytes) / Ⱥ (2), ΰ / Ϋ́.
    assert!(eq("ⱥ", "Ⱥ"));
    assert!(eq("Ⱥ", "ⱥ"));
    assert!(eq("ΰ", "\u{3a5}\u{308}\u{301}"));
    // Beyond U+FFFF: two surrogates, each `?` in Java's UTF-8.
    assert!(!eq("😀", "😀"));
    assert!(eq("😀", "??"));
    // Prefix and suffix.
    let ic = IgnoreCase::new("straß");
    assert!(ic.is_prefix_of("STRASSE".as_bytes()));
    assert!(ic.is_prefix_of("straße".as_bytes()));
    assert!(!ic.is_prefix_of("strasse".as_bytes()));
    assert!(!ic.is_prefix_of("STRA".as_bytes()));
    let ic = IgnoreCase::new("ße");
    assert!(ic.is_suffix_of("STRASSE".as_bytes()));
    assert!(ic.is_suffix_of("straße".as_bytes()));
    assert!(!ic.is_suffix_of("strasse".as_bytes()));
    assert!(!ic.is_suffix_of("E".as_bytes()));
    assert!(IgnoreCase::new("").is_prefix_of(b"x"));
    assert!(IgnoreCase::new("").is_suffix_of(b""));
    // Through patterns.
    assert!(!m(r#"{"a": [{"equals-ignore-case": "SS"}]}"#, json!({"a": "ß"})));
    assert!(m(
        r#"{"a": [{"anything-but": {"equals-ignore-case": ["x", "SS"]}}]}"#,
        json!({"a": "ß"})
    ));
    assert!(!m(
        r#"{"a": [{"anything-but": {"equals-ignore-case": "ß"}}]}"#,
        json!({"a": "SS"})
    ));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}{}", "{\"a\":".repeat(1500), "}".repeat(1500));
    let e = Pattern::parse(&deep).unwrap_err();
    assert!(
        e.reason()
            .starts_with("Document nesting depth (1001) exceeds the maximum allowed (1000"),
        "{e}"
    );
    let ok = format!("{}[1]{}", "{\"a\":".repeat(999), "}".repeat(999));
    let p = Pattern::parse(&ok).unwrap();
    assert_eq!(p.alternatives()[0].fields[0].path.len(), 999);
    assert!(!p.matches(&json!({"a": {"a": 1}})));
}

#[test]
fn too_many_alternatives_is_an_error() {
    let or = r#""$or": [{"a": [1]}, {"b": [2]}]"#;
    let mut p = String::from("{");
    for i in 0..11 {
        p.push_str(&format!(r#""n{i}": {{{or}}},"#));
    }
    p.push_str(r#""z": [0]}"#);
    let e = Pattern::parse(&p).unwrap_err();
    assert!(e.reason().contains("1024"), "{e}");
    let ten = p.replacen(&format!(r#""n10": {{{or}}},"#), "", 1);
    assert_eq!(Pattern::parse(&ten).unwrap().alternatives().len(), 1024);
}

#[test]
fn deep_or_nesting_does_not_overflow() {
    // Each level: {"$or": [{"x": [1]}, {...}]} -- two nesting levels of JSON per $or.
    let levels = 450;
    let mut p = String::from(r#"{"z": [0]}"#);
    for _ in 0..levels {
        p = format!(r#"{{"$or": [{{"x": [1]}}, {p}]}}"#);
    }
    let pat = Pattern::parse(&p).unwrap();
    assert_eq!(pat.alternatives().len(), levels + 1);
    assert!(pat.matches(&json!({"z": 0})));
    assert!(!pat.matches(&json!({"y": 0})));
}

#[test]
fn shared_matcher_semantics() {
    let w = Wildcard {
        text: "a*c".into(),
        segments: vec!["a".into(), "c".into()],
    };
    assert!(w.matches("abc") && w.matches("ac") && !w.matches("ab"));
    let c = Cidr {
        network: "10.0.0.0".parse().unwrap(),
        prefix_len: 8,
    };
    assert!(c.contains("10.255.0.1".parse().unwrap()) && !c.contains("11.0.0.0".parse().unwrap()));
    assert_eq!(parse_ip("010.0.0.1"), Some("10.0.0.1".parse().unwrap()));
    assert_eq!(parse_ip("::ffff:1.2.3.4"), None);
    assert!(Literal::Number(Number {
        value: 3.0,
        text: "3e0".into()
    })
    .matches(&json!(3)));
    assert!(AnythingBut::Prefix(vec!["a".into()]).excludes(&json!("ab")));
    assert!(!AnythingBut::Prefix(vec!["a".into()]).excludes(&json!(1)));
    assert!(Matcher::Exists(true).matches_value(&json!(null)));
    assert!(Matcher::EqualsIgnoreCase("ABC".into()).matches_value(&json!("abc")));
}
