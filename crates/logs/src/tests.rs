//! The operations without HTTP, on a manual clock.

use std::sync::Arc;

use lb_core::deliver::{FailureKind, Message, Target};
use lb_core::logs::{LogEvent, LogSink};
use lb_core::ManualClock;

use crate::service::{
    DescribeInput, FilterLogEventsInput, GetLogEventsInput, GroupInput, InputLogEvent, PutLogEventsInput,
    ResourcePolicyInput,
};
use crate::{Logs, LogsConfig};

const R: &str = "us-east-1";
const A: &str = "000000000000";
const NOW: u64 = 1_700_000_000_000;

fn logs(max_events: usize) -> (Logs, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(NOW));
    (Logs::new(clock.clone(), LogsConfig { max_events }), clock)
}

fn group(l: &Logs, name: &str) {
    l.create_log_group(
        R,
        A,
        GroupInput {
            log_group_name: Some(name.into()),
            ..GroupInput::default()
        },
    )
    .unwrap();
}

fn put(l: &Logs, g: &str, s: &str, events: &[(u64, &str)]) -> crate::service::PutLogEventsOutput {
    l.put_log_events(
        R,
        A,
        PutLogEventsInput {
            log_group_name: Some(g.into()),
            log_stream_name: Some(s.into()),
            log_events: Some(
                events
                    .iter()
                    .map(|(t, m)| InputLogEvent {
                        timestamp: Some(*t as i64),
                        message: Some((*m).into()),
                    })
                    .collect(),
            ),
            sequence_token: Some("ignored".into()),
        },
    )
    .unwrap()
}

fn get(
    l: &Logs,
    g: &str,
    s: &str,
    head: bool,
    token: Option<String>,
    limit: i64,
) -> crate::service::GetLogEventsOutput {
    l.get_log_events(
        R,
        A,
        &GetLogEventsInput {
            log_group_name: Some(g.into()),
            log_stream_name: Some(s.into()),
            start_from_head: Some(head),
            next_token: token,
            limit: Some(limit),
            ..GetLogEventsInput::default()
        },
    )
    .unwrap()
}

fn messages(out: &crate::service::GetLogEventsOutput) -> Vec<&str> {
    out.events.iter().map(|e| e.message.as_str()).collect()
}

#[test]
fn put_get_and_tokens() {
    let (l, _) = logs(100);
    group(&l, "g");
    l.create_log_stream(R, A, Some("g"), Some("s")).unwrap();
    assert_eq!(
        l.create_log_stream(R, A, Some("g"), Some("s")).unwrap_err().code,
        "ResourceAlreadyExistsException"
    );
    put(&l, "g", "s", &[(NOW - 5, "a"), (NOW - 4, "b"), (NOW - 3, "c")]);
    put(&l, "g", "s", &[(NOW - 6, "early"), (NOW - 1, "d")]);
    let head = get(&l, "g", "s", true, None, 2);
    assert_eq!(messages(&head), ["early", "a"]);
    assert!(head.next_forward_token.starts_with("f/") && head.next_forward_token.len() == 58);
    assert!(head.next_backward_token.starts_with("b/"));
    let next = get(&l, "g", "s", true, Some(head.next_forward_token.clone()), 2);
    assert_eq!(messages(&next), ["b", "c"]);
    let last = get(&l, "g", "s", true, Some(next.next_forward_token.clone()), 2);
    assert_eq!(messages(&last), ["d"]);
    let end = get(&l, "g", "s", true, Some(last.next_forward_token.clone()), 2);
    assert!(end.events.is_empty());
    assert_eq!(
        end.next_forward_token, last.next_forward_token,
        "the same token at the end"
    );
    let back = get(&l, "g", "s", true, Some(next.next_backward_token.clone()), 5);
    assert_eq!(messages(&back), ["early", "a"]);
    let tail = get(&l, "g", "s", false, None, 2);
    assert_eq!(messages(&tail), ["c", "d"]);
    // Out of order within a batch.
    let e = l
        .put_log_events(
            R,
            A,
            PutLogEventsInput {
                log_group_name: Some("g".into()),
                log_stream_name: Some("s".into()),
                log_events: Some(vec![
                    InputLogEvent {
                        timestamp: Some(2),
                        message: Some("x".into()),
                    },
                    InputLogEvent {
                        timestamp: Some(1),
                        message: Some("y".into()),
                    },
                ]),
                sequence_token: None,
            },
        )
        .unwrap_err();
    assert_eq!(
        e.message,
        "Log events in a single PutLogEvents request must be in chronological order."
    );
}

#[test]
fn too_old_and_too_new_are_reported() {
    let (l, _) = logs(100);
    group(&l, "g");
    l.create_log_stream(R, A, Some("g"), Some("s")).unwrap();
    let day = 86_400_000;
    let out = put(
        &l,
        "g",
        "s",
        &[(NOW - 14 * day - 60_000, "old"), (NOW - 14 * day + 3_600_000, "ok")],
    );
    let info = out.rejected_log_events_info.unwrap();
    assert_eq!(
        (info.too_old_log_event_end_index, info.too_new_log_event_start_index),
        (Some(1), None)
    );
    let out = put(&l, "g", "s", &[(NOW, "ok2"), (NOW + 3 * 3_600_000, "new")]);
    let info = out.rejected_log_events_info.unwrap();
    assert_eq!(
        (info.too_old_log_event_end_index, info.too_new_log_event_start_index),
        (None, Some(1))
    );
    assert!(put(&l, "g", "s", &[(NOW, "fine")]).rejected_log_events_info.is_none());
    assert_eq!(messages(&get(&l, "g", "s", true, None, 10)), ["ok", "ok2", "fine"]);
}

#[test]
fn retention_on_the_clock_and_the_bound() {
    let (l, clock) = logs(3);
    group(&l, "g");
    l.create_log_stream(R, A, Some("g"), Some("s")).unwrap();
    put(&l, "g", "s", &[(NOW, "1"), (NOW, "2")]);
    l.put_retention_policy(
        R,
        A,
        GroupInput {
            log_group_name: Some("g".into()),
            retention_in_days: Some(1),
            ..GroupInput::default()
        },
    )
    .unwrap();
    clock.advance(86_400_000 / 2);
    put(
        &l,
        "g",
        "s",
        &[(NOW + 86_400_000 / 2, "3"), (NOW + 86_400_000 / 2, "4")],
    );
    // The bound (3) dropped the oldest ingested.
    assert_eq!(messages(&get(&l, "g", "s", true, None, 10)), ["2", "3", "4"]);
    assert_eq!(l.stats().dropped, 1);
    clock.advance(86_400_000 / 2 + 1);
    assert_eq!(messages(&get(&l, "g", "s", true, None, 10)), ["3", "4"]);
    assert_eq!(l.stats().expired, 1);
    assert_eq!(l.stats().stored, 2);
    let groups = l.describe_log_groups(R, A, &DescribeInput::default()).unwrap();
    assert_eq!(groups.items[0].retention_in_days, Some(1));
    assert_eq!(groups.items[0].stored_bytes, 2);
}

#[test]
fn filter_across_streams_with_pagination() {
    let (l, _) = logs(100);
    group(&l, "g");
    for s in ["a", "b"] {
        l.create_log_stream(R, A, Some("g"), Some(s)).unwrap();
    }
    put(&l, "g", "a", &[(NOW - 10, "ERROR one"), (NOW - 8, "INFO two")]);
    put(
        &l,
        "g",
        "b",
        &[(NOW - 9, "ERROR three"), (NOW - 7, r#"{"level":"ERROR","n":5}"#)],
    );
    let f = |pattern: &str, limit: Option<i64>, token: Option<String>| {
        l.filter_log_events(
            R,
            A,
            &FilterLogEventsInput {
                log_group_name: Some("g".into()),
                filter_pattern: Some(pattern.into()),
                limit,
                next_token: token,
                ..FilterLogEventsInput::default()
            },
        )
        .unwrap()
    };
    let out = f("ERROR", None, None);
    assert_eq!(
        out.events
            .iter()
            .map(|e| (e.log_stream_name.as_str(), e.message.as_str()))
            .collect::<Vec<_>>(),
        [
            ("a", "ERROR one"),
            ("b", "ERROR three"),
            ("b", r#"{"level":"ERROR","n":5}"#),
        ]
    );
    assert!(out.next_token.is_none());
    let page = f("", Some(3), None);
    assert_eq!(page.events.len(), 3);
    let rest = f("", Some(3), page.next_token.clone());
    assert_eq!(
        rest.events.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
        [r#"{"level":"ERROR","n":5}"#]
    );
    assert_eq!(f("{ $.n > 4 }", None, None).events.len(), 1);
    let e = l
        .filter_log_events(
            R,
            A,
            &FilterLogEventsInput {
                log_group_name: Some("g".into()),
                filter_pattern: Some("{ $.n > }".into()),
                ..FilterLogEventsInput::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.code, "InvalidParameterException");
}

#[test]
fn sink_creates_groups_and_streams_and_target_needs_a_policy() {
    let (l, _) = logs(100);
    LogSink::append(
        &l,
        R,
        A,
        "/aws/lambda/f",
        "2024/01/01/[$LATEST]abc",
        vec![LogEvent {
            timestamp_millis: NOW,
            message: "START".into(),
        }],
    );
    assert_eq!(
        messages(&get(&l, "/aws/lambda/f", "2024/01/01/[$LATEST]abc", true, None, 10)),
        ["START"]
    );

    group(&l, "/aws/events/x");
    let arn = "arn:aws:logs:us-east-1:000000000000:log-group:/aws/events/x:*"
        .parse()
        .unwrap();
    let event = r#"{"version":"0","id":"e-1","detail-type":"t","source":"s","account":"000000000000","time":"2023-11-14T22:13:19Z","region":"us-east-1","resources":[],"detail":{}}"#;
    let msg = Message {
        principal: Some("events.amazonaws.com".into()),
        source_arn: Some("arn:aws:events:us-east-1:000000000000:rule/r".into()),
        ..Message::new(event)
    };
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let err = rt.block_on(l.deliver(&arn, &msg)).unwrap_err();
    assert_eq!(err.kind, FailureKind::AccessDenied);
    l.put_resource_policy(R, A, ResourcePolicyInput {
        policy_name: Some("TrustEventsToStoreLogEvent".into()),
        policy_document: Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["events.amazonaws.com","delivery.logs.amazonaws.com"]},"Action":["logs:CreateLogStream","logs:PutLogEvents"],"Resource":"arn:aws:logs:us-east-1:000000000000:log-group:/aws/events/*:*"}]}"#.into()),
        ..ResourcePolicyInput::default()
    })
    .unwrap();
    rt.block_on(l.deliver(&arn, &msg)).unwrap();
    let got = get(&l, "/aws/events/x", "e-1", true, None, 10);
    assert_eq!(messages(&got), [event]);
    assert_eq!(got.events[0].timestamp, 1_699_999_999_000);
    let missing = "arn:aws:logs:us-east-1:000000000000:log-group:/aws/events/none"
        .parse()
        .unwrap();
    assert_eq!(
        rt.block_on(l.deliver(&missing, &msg)).unwrap_err().kind,
        FailureKind::NotFound
    );
}
