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
