//! Cases from the CloudWatch Logs User Guide's filter pattern pages.

use super::*;

fn m(pattern: &str, message: &str) -> bool {
    parse(pattern)
        .unwrap_or_else(|e| panic!("{pattern}: {e:?}"))
        .matches(message)
}

const LOGS: [&str; 6] = [
    "[ERROR 400] BAD REQUEST",
    "[ERROR 401] UNAUTHORIZED REQUEST",
    "[ERROR 419] MISSING ARGUMENTS",
    "[ERROR 420] INVALID ARGUMENTS",
    "[WARN] Failed to process request",
    "[INFO] request processed",
];

fn which(pattern: &str) -> Vec<usize> {
    let p = parse(pattern).unwrap();
    (0..LOGS.len()).filter(|&i| p.matches(LOGS[i])).collect()
}

#[test]
fn terms() {
    assert_eq!(which(""), [0, 1, 2, 3, 4, 5]);
    assert_eq!(which("\"\""), [0, 1, 2, 3, 4, 5]);
    assert_eq!(which("ERROR"), [0, 1, 2, 3]);
    assert_eq!(which("ERROR ARGUMENTS"), [2, 3]);
    assert_eq!(which("?ERROR ?WARN"), [0, 1, 2, 3, 4]);
    assert_eq!(which("?MISSING ?INVALID"), [2, 3]);
    assert_eq!(which("ERROR -ARGUMENTS"), [0, 1]);
    assert_eq!(which("-ERROR"), [4, 5]);
    assert_eq!(which("\"Failed to process\""), [4]);
    assert_eq!(which("ERROR -\"BAD REQUEST\""), [1, 2, 3]);
    assert_eq!(which("REQUEST ?401 ?WARN"), [1]);
    assert_eq!(which("request ?401 ?WARN"), [4]);
    // Case-sensitive, substring.
    assert_eq!(which("error"), Vec::<usize>::new());
    assert_eq!(which("ARGUMENT"), [2, 3]);
}

const JSON: &str = r#"{
  "eventType": "UpdateTrail",
  "sourceIPAddress": "123.123.123.123",
  "arrayKey": ["value", "another value"],
  "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
  "SomeObject": null,
  "cluster": {"instances": [{"name": "i-1", "state": "running"}]},
  "bandwidth": 80,
  "latency": 500,
  "ratio": -1.5e1,
  "isEnabled": true,
  "user": {"id": 1, "email": "John.Doe@example.com"},
  "users": [{"id": 2, "email": "John.Doe@example.com"}]
}"#;

#[test]
fn json_equality_and_wildcards() {
    assert!(m(r#"{ $.eventType = "UpdateTrail" }"#, JSON));
    assert!(m("{ $.eventType = UpdateTrail }", JSON));
    assert!(!m(r#"{ $.eventType = "updatetrail" }"#, JSON));
    assert!(m(r#"{ $.eventType != "DeleteTrail" }"#, JSON));
    assert!(!m("{ $.sourceIPAddress != 123.123.* }", JSON));
    assert!(m("{ $.sourceIPAddress = 123.123.* }", JSON));
    assert!(m(r#"{ $.eventType = "*Trail" }"#, JSON));
    assert!(m(r#"{ $.eventType = "Up*Tr*l" }"#, JSON));
    assert!(m(r#"{ $.arrayKey[0] = "value" }"#, JSON));
    assert!(m(r#"{ $.arrayKey[1] = "another value" }"#, JSON));
    assert!(m("{ $.objectList[1].id = 2 }", JSON));
    assert!(m(r#"{ $.cluster.instances[0].state = "running" }"#, JSON));
    assert!(!m(r#"{ $.missing = "x" }"#, JSON));
    assert!(!m(r#"{ $.missing != "x" }"#, JSON));
}

#[test]
fn json_numbers() {
    assert!(m("{ $.bandwidth > 75 }", JSON));
    assert!(m("{ $.latency <= 500 }", JSON));
    assert!(!m("{ $.latency < 500 }", JSON));
    assert!(m("{ $.latency >= 500 }", JSON));
    assert!(m("{ $.bandwidth != 75 }", JSON));
    assert!(m("{ $.bandwidth = 8e1 }", JSON));
    assert!(m("{ $.ratio < -10 }", JSON));
    assert!(!m("{ $.eventType > 5 }", JSON));
}

#[test]
fn json_null_exists_booleans() {
    assert!(m("{ $.SomeObject IS NULL }", JSON));
    assert!(!m("{ $.eventType IS NULL }", JSON));
    assert!(m("{ $.SomeOtherObject NOT EXISTS }", JSON));
    assert!(!m("{ $.SomeObject NOT EXISTS }", JSON));
    assert!(m("{ $.SomeObject EXISTS }", JSON));
    assert!(m("{ $.isEnabled IS TRUE }", JSON));
    assert!(!m("{ $.isEnabled IS FALSE }", JSON));
    assert!(m("{ $.isEnabled = true }", JSON));
}

#[test]
fn json_and_or_parentheses() {
    assert!(m(
        r#"{ $.user.id = 1 && $.users[0].email = "John.Doe@example.com" }"#,
        JSON
    ));
    assert!(!m(
        r#"{ $.user.id = 2 && $.users[0].email = "John.Doe@example.com" }"#,
        JSON
    ));
    assert!(m(
        r#"{ $.user.id = 2 || $.users[0].email = "John.Doe@example.com" }"#,
        JSON
    ));
    assert!(m(
        r#"{ ($.user.id = 2 && $.users[0].email = "John.Doe@example.com") || $.user.id = 1 }"#,
        JSON
    ));
    assert!(!m(
        r#"{ ($.user.id = 2 && $.users[0].email = "nobody") || $.user.id = 3 }"#,
        JSON
    ));
    assert!(m(r#"{ $.user.id = 3 || $.latency = 500 && $.bandwidth > 10 }"#, JSON));
    // Not JSON: a JSON pattern matches nothing.
    assert!(!m("{ $.a = 1 }", "a = 1"));
}

#[test]
fn space_delimited() {
    let line = r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534"#;
    assert_eq!(
        split_fields(line),
        [
            "127.0.0.1",
            "-",
            "frank",
            "10/Oct/2000:13:25:15 -0700",
            "GET /apache_pb.gif HTTP/1.0",
            "200",
            "1534"
        ]
    );
    assert!(m("[ip, user, username, timestamp, request, status_code, bytes]", line));
    assert!(!m("[ip, user, username, timestamp, request, status_code]", line));
    assert!(m(
        "[ip, user, username, timestamp, request, status_code = 200, bytes]",
        line
    ));
    assert!(!m(
        "[ip, user, username, timestamp, request, status_code = 404, bytes]",
        line
    ));
    assert!(m(
        "[ip, user, username, timestamp, request, status_code = 2*, bytes > 1000]",
        line
    ));
    assert!(m("[..., status_code = 200, bytes]", line));
    assert!(m("[ip = 127.0.0.1, ...]", line));
    assert!(m("[ip, ..., status_code != 404, bytes >= 1534]", line));
    assert!(m("[..., status_code = 404 || status_code = 200, bytes]", line));
    assert!(!m("[..., bytes > 1000 && bytes < 1500]", line));
    assert!(m(r#"[ip, user, username = "frank", ...]"#, line));
}

#[test]
fn invalid_patterns_are_refused() {
    for p in [
        "{ $.a = }",
        "{ $.a = 1",
        "{ a = 1 }",
        "{ $.a >> 1 }",
        r#"{ $.a > "x" }"#,
        "{ ($.a = 1 }",
        "\"unterminated",
        "%ERROR%",
        "[a, b = ]",
        "{ $.a IS MAYBE }",
    ] {
        assert!(parse(p).is_err(), "{p} should be refused");
    }
    assert!(parse(&"x".repeat(1025)).is_err());
}

#[test]
fn globs() {
    assert!(glob("*", ""));
    assert!(glob("a*", "abc"));
    assert!(glob("*c", "abc"));
    assert!(glob("a*c", "ac"));
    assert!(!glob("a*c*c", "ac"));
    assert!(glob("a*b*c", "aXbYc"));
    assert!(!glob("abc", "abcd"));
}
