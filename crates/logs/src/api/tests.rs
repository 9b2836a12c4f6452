//! The wire edge: JSON in, JSON out.

use std::sync::Arc;

use lb_core::{ManualClock, RequestContext};

use super::handle_json;
use crate::{Logs, LogsConfig};

fn call(logs: &Logs, op: &str, body: &str) -> (u16, serde_json::Value) {
    let r = handle_json(logs, &RequestContext::default(), op, body.as_bytes());
    (r.status().as_u16(), serde_json::from_slice(r.body()).unwrap())
}

#[test]
fn errors_in_the_json_envelope() {
    let logs = Logs::new(Arc::new(ManualClock::new(1_700_000_000_000)), LogsConfig::default());
    assert_eq!(call(&logs, "CreateLogGroup", r#"{"logGroupName":"/a"}"#).0, 200);
    let (s, v) = call(&logs, "CreateLogGroup", r#"{"logGroupName":"/a"}"#);
    assert_eq!(s, 400);
    assert_eq!(
        v,
        serde_json::json!({"__type": "ResourceAlreadyExistsException", "message": "The specified log group already exists"})
    );
    let (s, v) = call(&logs, "CreateLogGroup", r#"{"logGroupName":"bad name"}"#);
    assert_eq!((s, v["__type"].as_str()), (400, Some("InvalidParameterException")));
    let (_, v) = call(
        &logs,
        "PutRetentionPolicy",
        r#"{"logGroupName":"/a","retentionInDays":2}"#,
    );
    assert_eq!(v["message"], "1 validation error detected: Value '2' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]");
    let (s, v) = call(&logs, "CreateLogGroup", "{");
    assert_eq!((s, v["__type"].as_str()), (400, Some("SerializationException")));
    let (s, v) = call(&logs, "StartLiveTail", "{}");
    assert_eq!((s, v["__type"].as_str()), (400, Some("UnknownOperationException")));
    let (s, v) = call(&logs, "DescribeLogGroups", "");
    assert_eq!(s, 200);
    assert_eq!(
        v["logGroups"][0]["arn"],
        "arn:aws:logs:us-east-1:000000000000:log-group:/a:*"
    );
    assert_eq!(
        v["logGroups"][0]["logGroupArn"],
        "arn:aws:logs:us-east-1:000000000000:log-group:/a"
    );
}
