use super::*;
use serde_json::{json, Value};

fn convert() -> Convert {
    Convert {
        account: "111122223333".into(),
    }
}

/// Every item of an input, read as the command reads it.
fn read(input: &str) -> Vec<(Position, Item)> {
    Reader::new(input.as_bytes(), convert())
        .collect::<std::io::Result<Vec<_>>>()
        .unwrap()
}

fn entries(input: &str) -> Vec<Entry> {
    read(input)
        .into_iter()
        .map(|(at, i)| match i {
            Item::Entry(e) => *e,
            other => panic!("{at}: {other:?}"),
        })
        .collect()
}

fn at(line: u64, index: Option<usize>) -> Position {
    Position { line, index }
}

#[test]
fn eventbridge_events_keep_their_detail_as_written() {
    let line = r#"{"version":"0","id":"x","detail-type":"Order Placed","source":"shop","account":"1","time":"2024-05-01T10:00:30Z","region":"eu-west-1","resources":["arn:r"],"detail":{"z":1,"a":{"b":[1,2]}},"replay-name":"old"}"#;
    let got = entries(&format!("{line}\n\n{line}\r\n"));
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0],
        Entry {
            source: "shop".into(),
            detail_type: "Order Placed".into(),
            detail: r#"{"z":1,"a":{"b":[1,2]}}"#.into(),
            resources: vec!["arn:r".into()],
            time_millis: Some(1_714_557_630_000),
            bus: None,
            trace_header: None,
        }
    );
    // Blank lines are skipped; the second event starts on line 3.
    assert_eq!(read(&format!("{line}\n\n{line}\n"))[1].0, at(3, None));
}

#[test]
fn put_events_entries_files_arrays_and_lines() {
    let file = r#"{
  "Entries": [
    {
      "Source": "my.app",
      "DetailType": "thing",
      "Detail": "{\"n\": 1}",
      "Resources": ["a", "b"],
      "Time": "2024-01-01T00:00:01.5Z",
      "EventBusName": "orders"
    },
    {"Source": "my.app", "DetailType": "thing", "Detail": "{}", "Time": 1700000000}
  ]
}
[{"Source": "s", "DetailType": "d", "Detail": {"inline": true}, "TraceHeader": "t"}]
{"Source": "s", "DetailType": "d"}
"#;
    let items = read(file);
    assert_eq!(
        items.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        [at(1, Some(1)), at(1, Some(2)), at(14, Some(1)), at(15, None)]
    );
    let got = entries(file);
    assert_eq!(got[0].detail, r#"{"n": 1}"#);
    assert_eq!(got[0].resources, ["a", "b"]);
    assert_eq!(got[0].time_millis, Some(1_704_067_201_500));
    assert_eq!(got[0].bus.as_deref(), Some("orders"));
    assert_eq!(got[1].time_millis, Some(1_700_000_000_000));
    assert_eq!(got[1].bus, None);
    assert_eq!(got[2].detail, r#"{"inline": true}"#);
    assert_eq!(got[2].trace_header.as_deref(), Some("t"));
    // Missing fields stay missing: the server names the one required.
    assert_eq!(got[3].detail, "");
}

#[test]
fn entries_are_written_as_put_events_takes_them() {
    let e = Entry {
        source: "s".into(),
        detail_type: "d\"q".into(),
        detail: r#"{"a":1}"#.into(),
        resources: vec!["r".into()],
        time_millis: Some(1_700_000_000_250),
        bus: Some("own".into()),
        trace_header: None,
    };
    let mut out = Vec::new();
    e.write_json(&mut out, true, None);
    assert_eq!(
        serde_json::from_slice::<Value>(&out).unwrap(),
        json!({"Source": "s", "DetailType": "d\"q", "Detail": "{\"a\":1}", "Resources": ["r"],
               "Time": 1_700_000_000.25, "EventBusName": "own"})
    );
    out.clear();
    e.write_json(&mut out, false, Some("other"));
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!((v.get("Time"), &v["EventBusName"]), (None, &json!("other")));
    out.clear();
    Entry::default().write_json(&mut out, true, None);
    assert_eq!(out, b"{}");
    assert_eq!(e.size(true), 14 + 1 + 3 + 7 + 1);
    assert_eq!(e.size(false), 1 + 3 + 7 + 1);
}

const CLOUDTRAIL: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","accountId":"111122223333"},"eventTime":"2024-03-01T12:00:05Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"us-east-1","requestParameters":{"instanceType":"t3.micro"},"responseElements":null,"eventID":"e1","readOnly":false,"eventType":"AwsApiCall","recipientAccountId":"111122223333"}"#;

#[test]
fn cloudtrail_records_become_api_call_events() {
    let signin = r#"{"eventVersion":"1.08","eventTime":"2024-03-01T12:00:06Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","eventType":"AwsConsoleSignIn"}"#;
    let monitoring = r#"{"eventVersion":"1.08","eventTime":"2024-03-01T12:00:07Z","eventSource":"monitoring.amazonaws.com","eventName":"PutMetricAlarm","eventType":"AwsApiCall"}"#;
    let file = format!("{{\"Records\": [{CLOUDTRAIL}, {signin}]}}\n{monitoring}\n");
    let got = entries(&file);
    assert_eq!(got.len(), 3);
    assert_eq!(
        got[0],
        Entry {
            source: "aws.ec2".into(),
            detail_type: "AWS API Call via CloudTrail".into(),
            detail: CLOUDTRAIL.into(),
            resources: vec![],
            time_millis: Some(1_709_294_405_000),
            bus: None,
            trace_header: None,
        }
    );
    assert_eq!(
        (got[1].source.as_str(), got[1].detail_type.as_str()),
        ("aws.signin", "AWS Console Sign In via CloudTrail")
    );
    assert_eq!(got[2].source, "aws.monitoring");

    // `aws cloudtrail lookup-events` output: each event's record is a string.
    let lookup = json!({"Events": [{"EventId": "e1", "CloudTrailEvent": CLOUDTRAIL}]}).to_string();
    assert_eq!(entries(&lookup), got[..1]);
}

/// The S3 stub's record and EventBridge event for one object event: the conversion of the
/// record must give the stub's event.
#[test]
fn s3_records_become_the_events_the_stub_sends() {
    use lb_s3::notify::record::{records_body, EventShape, Sequencer};
    use lb_s3::notify::{eventbridge, BucketNotifications, ObjectEvent};

    let bucket = BucketNotifications::compile(
        "eu-west-1",
        "111122223333",
        s3s::dto::NotificationConfiguration::default(),
    )
    .unwrap();
    // (event name, size, etag, version id)
    type Case = (&'static str, Option<u64>, Option<&'static str>, Option<&'static str>);
    let cases: [Case; 10] = [
        (
            "ObjectCreated:Put",
            Some(1234),
            Some("0123456789abcdef0123456789abcdef"),
            None,
        ),
        (
            "ObjectCreated:CompleteMultipartUpload",
            Some(99),
            Some("aa-2"),
            Some("v1"),
        ),
        ("ObjectRemoved:Delete", None, None, None),
        ("ObjectRemoved:DeleteMarkerCreated", None, None, Some("v2")),
        ("LifecycleExpiration:Delete", None, None, None),
        (
            "ObjectTagging:Put",
            None,
            Some("0123456789abcdef0123456789abcdef"),
            Some("v3"),
        ),
        (
            "ObjectTagging:Delete",
            None,
            Some("0123456789abcdef0123456789abcdef"),
            None,
        ),
        ("ObjectAcl:Put", None, Some("0123456789abcdef0123456789abcdef"), None),
        (
            "ObjectRestore:Completed",
            Some(1234),
            Some("0123456789abcdef0123456789abcdef"),
            Some("v4"),
        ),
        (
            "ObjectRestore:Delete",
            Some(1234),
            Some("0123456789abcdef0123456789abcdef"),
            None,
        ),
    ];
    for (name, size, etag, version) in cases {
        let mut ctx = lb_core::RequestContext::new("eu-west-1");
        ctx.account = "111122223333".into();
        ctx.source_ip = "10.1.2.3".parse().unwrap();
        let event = ObjectEvent {
            event_name: name,
            bucket: "photos".into(),
            key: "images/beach photo+1 (é).jpg".into(),
            size,
            etag: etag.map(str::to_owned),
            version_id: version.map(str::to_owned),
            time_millis: 1_700_000_000_123,
            ctx,
            restore: name.starts_with("ObjectRestore:").then(|| lb_s3::notify::RestoreInfo {
                storage_class: "GLACIER".into(),
                expires_at: Some(1_700_006_400_000),
            }),
            extra: None,
        };
        let sequencer = Sequencer::from_nanos(1_700_000_000_123_456_789);
        let shape = EventShape::of(name).unwrap();
        let record = records_body(&event, name, &shape, &bucket, "config-1", Some(sequencer));
        let expected: Value =
            serde_json::from_str(&eventbridge::event(&event, name, &bucket, Some(sequencer)).unwrap()).unwrap();

        let got = entries(&record);
        assert_eq!(got.len(), 1, "{name}");
        let e = &got[0];
        assert_eq!(e.source, expected["source"], "{name}");
        assert_eq!(e.detail_type, expected["detail-type"], "{name}");
        assert_eq!(json!(e.resources), expected["resources"], "{name}");
        assert_eq!(
            serde_json::from_str::<Value>(&e.detail).unwrap(),
            expected["detail"],
            "{name}: {}",
            e.detail
        );
        // PutEvents writes `time` to the second, as the stub does.
        let time = lb_core::clock::iso8601_millis(e.time_millis.unwrap());
        assert_eq!(format!("{}Z", &time[..19]), expected["time"], "{name}");
    }
}

#[test]
fn wrappers_are_unwrapped() {
    let s3_record = json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2024-01-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "R1", "x-amz-id-2": "h"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
               "bucket": {"name": "b", "arn": "arn:aws:s3:::b"},
               "object": {"key": "k", "size": 3, "eTag": "e", "sequencer": "0065920080000000AB"}}
    }]})
    .to_string();
    let event = json!({"source": "app", "detail-type": "t", "detail": {"n": 1}}).to_string();
    // SQS ReceiveMessage output; CloudWatch Logs output; an SNS notification; a JSON string.
    let sqs = json!({"Messages": [{"MessageId": "m", "Body": s3_record}, {"Body": event}]}).to_string();
    let logs = json!({"events": [{"timestamp": 1, "message": event}]}).to_string();
    let sns = json!({"Type": "Notification", "MessageId": "n", "Message": event}).to_string();
    let lambda_sqs = json!({"Records": [{"eventSource": "aws:sqs", "body": event}]}).to_string();
    let lambda_sns = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": event}}]}).to_string();
    let string = serde_json::to_string(&event).unwrap();
    let input = [sqs, logs, sns, lambda_sqs, lambda_sns, string].join("\n");
    let got = read(&input);
    let sources: Vec<(Position, String)> = got
        .iter()
        .map(|(p, i)| match i {
            Item::Entry(e) => (*p, e.source.clone()),
            other => panic!("{p}: {other:?}"),
        })
        .collect();
    assert_eq!(
        sources,
        [
            (at(1, Some(1)), "aws.s3".to_owned()),
            (at(1, Some(2)), "app".to_owned()),
            (at(2, Some(1)), "app".to_owned()),
            (at(3, None), "app".to_owned()),
            (at(4, Some(1)), "app".to_owned()),
            (at(5, Some(1)), "app".to_owned()),
            (at(6, None), "app".to_owned()),
        ]
    );
    let Item::Entry(s3) = &got[0].1 else { unreachable!() };
    assert_eq!(
        serde_json::from_str::<Value>(&s3.detail).unwrap()["object"]["sequencer"],
        "65920080000000ab"
    );
}

#[test]
fn bad_input_is_reported_and_reading_goes_on() {
    let good = r#"{"source":"a","detail-type":"t","detail":{}}"#;
    let input = format!(
        "not json\n{good}\n[1, 2]\n{{\"foo\": 1}}\n{{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\"}}\n{{\"source\":\"a\",\"detail-type\":\"t\"}}\n{{\"Records\":[{{\"eventSource\":\"aws:s3\",\"eventName\":\"ReducedRedundancyLostObject\",\"s3\":{{}}}}]}}\n{good}\n{{\"unterminated\": [\n"
    );
    let got = read(&input);
    let summary: Vec<(u64, &str)> = got
        .iter()
        .map(|(p, i)| {
            (
                p.line,
                match i {
                    Item::Entry(_) => "entry",
                    Item::Invalid(_) => "invalid",
                    Item::Skipped(_) => "skipped",
                },
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, "invalid"),
            (2, "entry"),
            (3, "invalid"),
            (3, "invalid"),
            (4, "invalid"),
            (5, "skipped"),
            (6, "invalid"),
            (7, "invalid"),
            (8, "entry"),
            (9, "invalid"),
        ]
    );
    let Item::Invalid(m) = &got[0].1 else { unreachable!() };
    assert!(m.starts_with("invalid JSON: "), "{m}");
    let Item::Invalid(m) = &got[5 + 1].1 else {
        unreachable!()
    };
    assert_eq!(m, "the event has no detail");
    let Item::Invalid(m) = &got[7].1 else { unreachable!() };
    assert_eq!(
        m,
        "S3 event ReducedRedundancyLostObject has no EventBridge event in localbridge"
    );
    let Item::Invalid(m) = &got[9].1 else { unreachable!() };
    assert!(m.contains("the input ends inside it"), "{m}");
}

#[test]
fn times_parse_as_aws_writes_them() {
    assert_eq!(parse_time("2015-11-11T21:29:54Z"), Some(1_447_277_394_000));
    assert_eq!(parse_time("2015-11-11T21:29:54.123Z"), Some(1_447_277_394_123));
    assert_eq!(parse_time("2015-11-11T23:29:54+02:00"), Some(1_447_277_394_000));
    assert_eq!(parse_time("2015-11-11T21:29:54"), Some(1_447_277_394_000));
    assert_eq!(parse_time("yesterday"), None);
    assert_eq!(eventbridge::record_sequencer("0055AED6DC0000007B"), "55aed6dc0000007b");
    assert_eq!(eventbridge::record_sequencer("ABC"), "abc");
}

#[test]
fn long_documents_are_read_in_one_pass() {
    let mut n = Nesting::default();
    n.feed(br#"{"a": "}]\"{", "b": ["#);
    assert!(!n.closed());
    n.feed(b"1, {}]");
    assert!(!n.closed());
    n.feed(b"}");
    assert!(n.closed());

    // A pretty-printed CloudTrail file of 20,000 records: 180,000 lines.
    let record = json!({"eventVersion": "1.08", "eventTime": "2024-03-01T12:00:05Z",
                        "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
                        "requestParameters": {"key": "a}b\"[c"}});
    let doc = serde_json::to_string_pretty(&json!({"Records": vec![record; 20_000]})).unwrap();
    assert!(doc.lines().count() > 150_000);
    let started = std::time::Instant::now();
    let got = entries(&format!(
        "{doc}\n{}\n",
        json!({"source": "after", "detail-type": "t", "detail": {}})
    ));
    assert_eq!(got.len(), 20_001);
    assert_eq!(got[20_000].source, "after");
    assert_eq!(got[0].source, "aws.s3");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}
