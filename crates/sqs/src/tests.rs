//! Service-level tests: plain Rust calls, time driven by a `ManualClock`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lb_core::arn::Arn;
use lb_core::deliver::{DeliveryError, DestinationError, Message, MessageAttribute, Target};
use lb_core::policy::PolicyRequest;
use lb_core::{AwsError, ManualClock, RequestContext, SystemClock};

use crate::errors;
use crate::model::*;
use crate::Sqs;

const T0: u64 = 1_700_000_000_000;
const EP: &str = "http://localhost:4566";

fn setup() -> (Sqs, Arc<ManualClock>, RequestContext) {
    let clock = Arc::new(ManualClock::new(T0));
    (Sqs::new(clock.clone()), clock, RequestContext::default())
}

fn attrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn create(sqs: &Sqs, ctx: &RequestContext, name: &str, attributes: &[(&str, &str)]) -> QueueRef {
    let url = sqs
        .create_queue(
            ctx,
            EP,
            CreateQueueInput {
                queue_name: name.to_owned(),
                attributes: attrs(attributes),
                tags: Vec::new(),
            },
        )
        .unwrap();
    assert_eq!(url, format!("{EP}/000000000000/{name}"));
    QueueRef::from_url(&url).unwrap()
}

fn send(sqs: &Sqs, ctx: &RequestContext, q: &QueueRef, body: &str) -> SendMessageOutput {
    sqs.send_message(ctx, q, SendMessageEntry::new(body)).unwrap()
}

fn send_fifo(
    sqs: &Sqs,
    ctx: &RequestContext,
    q: &QueueRef,
    body: &str,
    group: &str,
    dedup: Option<&str>,
) -> Result<SendMessageOutput, AwsError> {
    let entry = SendMessageEntry {
        group_id: Some(group.to_owned()),
        deduplication_id: dedup.map(str::to_owned),
        ..SendMessageEntry::new(body)
    };
    sqs.send_message(ctx, q, entry)
}

async fn recv_with(sqs: &Sqs, ctx: &RequestContext, q: &QueueRef, input: ReceiveMessageInput) -> Vec<ReceivedMessage> {
    sqs.receive_message(ctx, q, input).await.unwrap()
}

async fn recv(sqs: &Sqs, ctx: &RequestContext, q: &QueueRef, max: i64) -> Vec<ReceivedMessage> {
    let input = ReceiveMessageInput {
        max_number_of_messages: Some(max),
        attribute_names: vec!["All".to_owned()],
        message_attribute_names: vec!["All".to_owned()],
        ..ReceiveMessageInput::default()
    };
    recv_with(sqs, ctx, q, input).await
}

fn bodies(m: &[ReceivedMessage]) -> Vec<&str> {
    m.iter().map(ReceivedMessage::body).collect()
}

fn attr_map(sqs: &Sqs, ctx: &RequestContext, q: &QueueRef) -> std::collections::BTreeMap<String, String> {
    sqs.get_queue_attributes(ctx, q, &["All".to_owned()])
        .unwrap()
        .into_iter()
        .collect()
}

fn counts(sqs: &Sqs, ctx: &RequestContext, q: &QueueRef) -> (String, String, String) {
    let a = attr_map(sqs, ctx, q);
    (
        a["ApproximateNumberOfMessages"].clone(),
        a["ApproximateNumberOfMessagesNotVisible"].clone(),
        a["ApproximateNumberOfMessagesDelayed"].clone(),
    )
}

fn counts_are(sqs: &Sqs, ctx: &RequestContext, q: &QueueRef, want: (u32, u32, u32)) {
    let (v, n, d) = counts(sqs, ctx, q);
    assert_eq!((v, n, d), (want.0.to_string(), want.1.to_string(), want.2.to_string()));
}

#[test]
fn create_is_idempotent_only_with_equal_attributes() {
    let (sqs, _, ctx) = setup();
    create(&sqs, &ctx, "q", &[("DelaySeconds", "1")]);
    create(&sqs, &ctx, "q", &[("DelaySeconds", "1")]);
    create(&sqs, &ctx, "q", &[]);
    let err = sqs
        .create_queue(
            &ctx,
            EP,
            CreateQueueInput {
                queue_name: "q".into(),
                attributes: attrs(&[("DelaySeconds", "2")]),
                tags: vec![],
            },
        )
        .unwrap_err();
    assert_eq!(err.code, errors::QUEUE_ALREADY_EXISTS);
    assert_eq!(
        err.message,
        "A queue already exists with the same name and a different value for attribute DelaySeconds"
    );
}

#[test]
fn queue_names_and_types() {
    let (sqs, _, ctx) = setup();
    let bad = |name: &str, a: &[(&str, &str)]| {
        sqs.create_queue(
            &ctx,
            EP,
            CreateQueueInput {
                queue_name: name.into(),
                attributes: attrs(a),
                tags: vec![],
            },
        )
        .unwrap_err()
    };
    assert_eq!(bad("a b", &[]).code, errors::INVALID_PARAMETER_VALUE);
    assert_eq!(bad(&"x".repeat(81), &[]).code, errors::INVALID_PARAMETER_VALUE);
    assert_eq!(bad("q.fifo", &[]).code, errors::INVALID_PARAMETER_VALUE);
    assert!(bad("q", &[("FifoQueue", "true")])
        .message
        .contains("must end with .fifo suffix"));
    let e = bad("q", &[("FifoQueue", "false")]);
    assert_eq!(
        (e.code.as_ref(), e.message.as_str()),
        (errors::INVALID_ATTRIBUTE_NAME, "Unknown Attribute FifoQueue.")
    );
    let e = bad("q", &[("ContentBasedDeduplication", "true")]);
    assert_eq!(e.message, "Unknown Attribute ContentBasedDeduplication.");
    assert_eq!(
        bad("q", &[("VisibilityTimeout", "43201")]).code,
        errors::INVALID_ATTRIBUTE_VALUE
    );
    assert_eq!(bad("", &[]).code, errors::MISSING_PARAMETER);
    create(&sqs, &ctx, "q.fifo", &[("FifoQueue", "true")]);
}

#[test]
fn get_url_list_pagination_and_delete() {
    let (sqs, _, ctx) = setup();
    for i in 0..5 {
        create(&sqs, &ctx, &format!("a-{i}"), &[]);
    }
    create(&sqs, &ctx, "b", &[]);
    let other_region = RequestContext::new("eu-west-1");
    create(&sqs, &other_region, "a-9", &[]);

    assert_eq!(
        sqs.get_queue_url(
            &ctx,
            EP,
            GetQueueUrlInput {
                queue_name: "b".into(),
                queue_owner_account: None
            }
        )
        .unwrap(),
        format!("{EP}/000000000000/b")
    );
    let missing = sqs
        .get_queue_url(
            &ctx,
            EP,
            GetQueueUrlInput {
                queue_name: "a-9".into(),
                queue_owner_account: None,
            },
        )
        .unwrap_err();
    assert_eq!(missing.code, errors::NON_EXISTENT_QUEUE);

    let all = sqs.list_queues(&ctx, EP, ListQueuesInput::default()).unwrap();
    assert_eq!(all.queue_urls.len(), 6);
    assert_eq!(all.next_token, None);

    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = sqs
            .list_queues(
                &ctx,
                EP,
                ListQueuesInput {
                    queue_name_prefix: Some("a-".into()),
                    next_token: token.clone(),
                    max_results: Some(2),
                },
            )
            .unwrap();
        assert!(page.queue_urls.len() <= 2);
        seen.extend(page.queue_urls);
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    let names: Vec<_> = seen.iter().map(|u| QueueRef::from_url(u).unwrap().name).collect();
    assert_eq!(names, ["a-0", "a-1", "a-2", "a-3", "a-4"]);
    assert_eq!(
        sqs.list_queues(
            &ctx,
            EP,
            ListQueuesInput {
                max_results: Some(0),
                ..Default::default()
            }
        )
        .unwrap_err()
        .code,
        errors::INVALID_PARAMETER_VALUE
    );

    sqs.delete_queue(&ctx, &QueueRef::new("000000000000", "b")).unwrap();
    assert_eq!(
        sqs.delete_queue(&ctx, &QueueRef::new("000000000000", "b"))
            .unwrap_err()
            .code,
        errors::NON_EXISTENT_QUEUE
    );
    assert_eq!(
        sqs.list_queues(&ctx, EP, ListQueuesInput::default())
            .unwrap()
            .queue_urls
            .len(),
        5
    );
}

#[test]
fn attributes_all_defaults_and_updates() {
    let (sqs, clock, ctx) = setup();
    let q = create(&sqs, &ctx, "q", &[]);
    let a = attr_map(&sqs, &ctx, &q);
    let keys: Vec<&str> = a.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesDelayed",
            "ApproximateNumberOfMessagesNotVisible",
            "CreatedTimestamp",
            "DelaySeconds",
            "LastModifiedTimestamp",
            "MaximumMessageSize",
            "MessageRetentionPeriod",
            "QueueArn",
            "ReceiveMessageWaitTimeSeconds",
            "SqsManagedSseEnabled",
            "VisibilityTimeout",
        ]
    );
    assert_eq!(a["MaximumMessageSize"], "1048576");
    assert_eq!(a["MessageRetentionPeriod"], "345600");
    assert_eq!(a["VisibilityTimeout"], "30");
    assert_eq!(a["QueueArn"], "arn:aws:sqs:us-east-1:000000000000:q");
    assert_eq!(a["CreatedTimestamp"], (T0 / 1000).to_string());

    clock.advance(5_000);
    sqs.set_queue_attributes(
        &ctx,
        &q,
        &attrs(&[("VisibilityTimeout", "69"), ("DelaySeconds", "420")]),
    )
    .unwrap();
    let a = attr_map(&sqs, &ctx, &q);
    assert_eq!(a["VisibilityTimeout"], "69");
    assert_eq!(a["LastModifiedTimestamp"], (T0 / 1000 + 5).to_string());
    let only = sqs
        .get_queue_attributes(&ctx, &q, &["QueueArn".to_owned(), "DelaySeconds".to_owned()])
        .unwrap();
    assert_eq!(
        only,
        attrs(&[
            ("QueueArn", "arn:aws:sqs:us-east-1:000000000000:q"),
            ("DelaySeconds", "420")
        ])
    );
    assert_eq!(
        sqs.get_queue_attributes(&ctx, &q, &["Nope".to_owned()])
            .unwrap_err()
            .message,
        "Unknown Attribute Nope."
    );
    assert!(sqs.get_queue_attributes(&ctx, &q, &[]).unwrap().is_empty());

    let f = create(
        &sqs,
        &ctx,
        "f.fifo",
        &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")],
    );
    let a = attr_map(&sqs, &ctx, &f);
    assert_eq!(a["FifoQueue"], "true");
    assert_eq!(a["ContentBasedDeduplication"], "true");
    assert_eq!(a["DeduplicationScope"], "queue");
    assert_eq!(a["FifoThroughputLimit"], "perQueue");
}

#[tokio::test]
async fn send_receive_delete_with_exact_md5s() {
    let (sqs, _, ctx) = setup();
    let q = create(&sqs, &ctx, "q", &[]);
    let mut entry = SendMessageEntry::new("msg");
    for (k, v) in [("General", "Kenobi"), ("Hello", "There"), ("Help.Me", "Me")] {
        entry
            .attributes
            .insert(k.to_owned(), MessageAttributeValue::string("String", v));
    }
    let sent = sqs.send_message(&ctx, &q, entry).unwrap();
    assert_eq!(sent.md5_of_message_body, "6e2baaf3b97dbeef01c0043275f9a0e7");
    assert_eq!(
        sent.md5_of_message_attributes.as_deref(),
        Some("4c360f3fdafd970e05fae2f149d997f5")
    );
    assert_eq!(sent.sequence_number, None);

    // The values AWS returned for the same message and filters.
    for (names, md5, n) in [
        (vec!["All"], Some("4c360f3fdafd970e05fae2f149d997f5"), 3),
        (vec![".*"], Some("4c360f3fdafd970e05fae2f149d997f5"), 3),
        (vec!["General", "Hello"], Some("fca026605781cb4126a1e9044df24232"), 2),
        (vec!["Hello", "Nope"], Some("a311262e065454b75da111d535b8dacd"), 1),
        (vec!["Hel.*"], None, 0),
        (vec!["Help.*", "Hello"], Some("83fee93c1bcd8b9a5a923ffacdc636c7"), 2),
        (vec!["Nope"], None, 0),
        (vec![], None, 0),
    ] {
        let input = ReceiveMessageInput {
            message_attribute_names: names.iter().map(|s| (*s).to_owned()).collect(),
            visibility_timeout: Some(0),
            ..ReceiveMessageInput::default()
        };
        let got = recv_with(&sqs, &ctx, &q, input).await;
        assert_eq!(got.len(), 1, "{names:?}");
        assert_eq!(got[0].md5_of_message_attributes.as_deref(), md5, "{names:?}");
        assert_eq!(got[0].message_attributes.len(), n, "{names:?}");
        assert_eq!(got[0].md5_of_body(), "6e2baaf3b97dbeef01c0043275f9a0e7");
        assert!(got[0].attributes.is_empty(), "no system attributes unless asked");
    }

    let got = recv(&sqs, &ctx, &q, 10).await;
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.message_id(), sent.message_id);
    let names: Vec<&str> = m.attributes.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "SenderId",
            "SentTimestamp",
            "ApproximateReceiveCount",
            "ApproximateFirstReceiveTimestamp"
        ]
    );
    assert_eq!(m.attribute("SentTimestamp"), Some(T0.to_string().as_str()));
    assert_eq!(m.attribute("ApproximateReceiveCount"), Some("9"));
    assert_eq!(m.attribute("SenderId"), Some("000000000000"));

    sqs.delete_message(&ctx, &q, &m.receipt_handle).unwrap();
    sqs.delete_message(&ctx, &q, &m.receipt_handle).unwrap();
    counts_are(&sqs, &ctx, &q, (0, 0, 0));
    let err = sqs.delete_message(&ctx, &q, "not-a-handle").unwrap_err();
    assert_eq!(
        (err.code.as_ref(), err.status),
        (errors::RECEIPT_HANDLE_IS_INVALID, 404)
    );
    assert_eq!(
        err.message,
        "The input receipt handle \"not-a-handle\" is not a valid receipt handle."
    );
    // A handle of another queue is not valid here.
    let other = create(&sqs, &ctx, "other", &[]);
    assert_eq!(
        sqs.delete_message(&ctx, &other, &m.receipt_handle).unwrap_err().code,
        errors::RECEIPT_HANDLE_IS_INVALID
    );
}

#[tokio::test]
async fn trace_header_system_attribute() {
    let (sqs, _, ctx) = setup();
    let q = create(&sqs, &ctx, "q", &[]);
    let mut entry = SendMessageEntry::new("test");
    entry.system_attributes.insert(
        "AWSTraceHeader".into(),
        MessageAttributeValue::string(
            "String",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        ),
    );
    let sent = sqs.send_message(&ctx, &q, entry).unwrap();
    assert_eq!(
        sent.md5_of_message_system_attributes.as_deref(),
        Some("5ae4d5d7636402d80f4eb6d213245a88")
    );
    assert_eq!(sent.md5_of_message_attributes, None);
    let input = ReceiveMessageInput {
        attribute_names: vec!["AWSTraceHeader".into(), "SentTimestamp".into()],
        ..Default::default()
    };
    let got = recv_with(&sqs, &ctx, &q, input).await;
    assert_eq!(
        got[0].attributes,
        vec![
            ("SentTimestamp", T0.to_string()),
            (
                "AWSTraceHeader",
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned()
            ),
        ]
    );
    let mut bad = SendMessageEntry::new("x");
    bad.system_attributes
        .insert("Other".into(), MessageAttributeValue::string("String", "x"));
    assert!(sqs.send_message(&ctx, &q, bad).is_err());
}

#[tokio::test]
async fn message_validation() {
    let (sqs, _, ctx) = setup();
    let q = create(&sqs, &ctx, "q", &[("MaximumMessageSize", "1024")]);
    let e = sqs.send_message(&ctx, &q, SendMessageEntry::new("")).unwrap_err();
    assert_eq!(
        (e.code.as_ref(), e.message.as_str()),
        (
            errors::MISSING_PARAMETER,
            "The request must contain the parameter MessageBody."
        )
    );
    let e = sqs.send_message(&ctx, &q, SendMessageEntry::default()).unwrap_err();
    assert_eq!(e.code, errors::MISSING_PARAMETER);
    let e = sqs
        .send_message(&ctx, &q, SendMessageEntry::new("a".repeat(1025)))
        .unwrap_err();
    assert_eq!(
        e.message,
        "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."
    );
    send(&sqs, &ctx, &q, &"a".repeat(1024));
    let e = sqs
        .send_message(&ctx, &q, SendMessageEntry::new("bad\u{0}char"))
        .unwrap_err();
    assert_eq!(e.code, errors::INVALID_MESSAGE_CONTENTS);
    let e = sqs
        .send_message(
            &ctx,
            &q,
            SendMessageEntry {
                delay_seconds: Some(901),
                ..SendMessageEntry::new("x")
            },
        )
        .unwrap_err();
    assert_eq!(e.code, errors::INVALID_PARAMETER_VALUE);
    let e = sqs
        .send_message(
            &ctx,
            &q,
            SendMessageEntry {
                deduplication_id: Some("d".into()),
                ..SendMessageEntry::new("x")
            },
        )
        .unwrap_err();
    assert_eq!(e.code, errors::INVALID_PARAMETER_VALUE);
    // Standard queues accept a MessageGroupId (fair queues) and return it.
    sqs.send_message(
        &ctx,
        &q,
        SendMessageEntry {
            group_id: Some("g".into()),
            ..SendMessageEntry::new("x")
        },
    )
    .unwrap();
    let e = sqs
        .send_message(
            &ctx,
            &q,
            SendMessageEntry {
                group_id: Some("group 1".into()),
                ..SendMessageEntry::new("x")
            },
        )
        .unwrap_err();
    assert!(e
        .message
        .contains("MessageGroupId can only include alphanumeric and punctuation characters"));
    let e = sqs
        .send_message(&ctx, &QueueRef::new("000000000000", "nope"), SendMessageEntry::new("x"))
        .unwrap_err();
    assert_eq!(e.code, errors::NON_EXISTENT_QUEUE);

    for (max, wait, vis) in [
        (Some(0), None, None),
        (Some(11), None, None),
        (None, Some(21), None),
        (None, Some(-1), None),
        (None, None, Some(43_201)),
    ] {
        let input = ReceiveMessageInput {
            max_number_of_messages: max,
            wait_time_seconds: wait,
            visibility_timeout: vis,
            ..Default::default()
        };
        let e = sqs.receive_message(&ctx, &q, input).await.unwrap_err();
        assert_eq!(e.code, errors::INVALID_PARAMETER_VALUE);
    }
    let e = sqs
        .receive_message(
            &ctx,
            &q,
            ReceiveMessageInput {
                max_number_of_messages: Some(11),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
    );
}

#[tokio::test]
async fn visibility_timeout_and_change_visibility() {
    let (sqs, clock, ctx) = setup();
    let q = create(&sqs, &ctx, "q", &[("VisibilityTimeout", "10")]);
    send(&sqs, &ctx, &q, "m");
    let first = recv(&sqs, &ctx, &q, 1).await;
    assert_eq!(first.len(), 1);
    counts_are(&sqs, &ctx, &q, (0, 1, 0));
    assert!(recv(&sqs, &ctx, &q, 1).await.is_empty());
    clock.advance(9_999);
    assert!(recv(&sqs, &ctx, &q, 1).await.is_empty());
    clock.advance(1);
    let second = recv(&sqs, &ctx, &q, 1).await;
    assert_eq!(second[0].attribute("ApproximateReceiveCount"), Some("2"));
    assert_eq!(
        second[0].attribute("ApproximateFirstReceiveTimestamp"),
        Some(T0.to_string().as_str())
    );
    assert_ne!(second[0].receipt_handle, first[0].receipt_handle);

    // Extend, then release at once.
    sqs.change_message_visibility(&ctx, &q, &second[0].receipt_handle, Some(100))
        .unwrap();
    clock.advance(50_000);
    assert!(recv(&sqs, &ctx, &q, 1).await.is_empty());
    sqs.change_message_visibility(&ctx, &q, &second[0].receipt_handle, Some(0))
        .unwrap();
    let third = recv(&sqs, &ctx, &q, 1).await;
    assert_eq!(third.len(), 1);
    // The 12-hour limit counts from the receive.
    sqs.change_message_visibility(&ctx, &q, &third[0].receipt_handle, Some(43_000))
        .unwrap();
    clock.advance(42_999_000);
    let e = sqs
        .change_message_visibility(&ctx, &q, &third[0].receipt_handle, Some(300))
        .unwrap_err();
    assert!(
        e.message
            .contains("Total VisibilityTimeout for the message is beyond the limit"),
        "{}",
        e.message
    );
    sqs.change_message_visibility(&ctx, &q, &third[0].receipt_handle, Some(200))
        .unwrap();
    assert_eq!(
        sqs.change_message_visibility(&ctx, &q, &third[0].receipt_handle, None)
            .unwrap_err()
            .code,
        errors::MISSING_PARAMETER
    );
    // A deleted message cannot change.
    sqs.delete_message(&ctx, &q, &third[0].receipt_handle).unwrap();
    let e = sqs
        .change_message_visibility(&ctx, &q, &third[0].receipt_handle, Some(5))
        .unwrap_err();
    assert!(e
        .message
        .ends_with("Message does not exist or is not available for visibility timeout change."));
    // Per-receive visibility timeout.
    send(&sqs, &ctx, &q, "n");
    let input = ReceiveMessageInput {
        visibility_timeout: Some(1),
        ..Default::default()
    };
    assert_eq!(recv_with(&sqs, &ctx, &q, input).await.len(), 1);
    clock.advance(1_000);
    assert_eq!(recv(&sqs, &ctx, &q, 1).await.len(), 1);
}

#[tokio::test]
async fn standard_change_visibility_after_expiry_succeeds() {
    let (sqs, clock, ctx) = setup();
    let q = create(&sqs, &ctx, "q", &[("VisibilityTimeout", "1")]);
    send(&sqs, &ctx, &q, "m");
    let got = recv(&sqs, &ctx, &q, 1).await;
    clock.advance(2_000);
    // Visible again, but a standard queue still honours the old handle (as AWS does).
    sqs.change_message_visibility(&ctx, &q, &got[0].receipt_handle, Some(30))
        .unwrap();
    assert!(recv(&sqs, &ctx, &q, 1).await.is_empty());
    counts_are(&sqs, &ctx, &q, (0, 1, 0));
}

#[tokio::test]
async fn delays_and_retention() {
    let (sqs, clock, ctx) = setup();
    let q = create(
        &sqs,
        &ctx,
        "q",
        &[("DelaySeconds", "5"), ("MessageRetentionPeriod", "60")],
    );
    send(&sqs, &ctx, &q, "queue-delay");
    sqs.send_message(
        &ctx,
        &q,
        SendMessageEntry {
            delay_seconds: Some(0),
            ..SendMessageEntry::new("now")
        },
    )
    .unwrap();
    sqs.send_message(
        &ctx,
        &q,
        SendMessageEntry {
            delay_seconds: Some(20),
            ..SendMessageEntry::new("later")
        },
    )
    .unwrap();
    counts_are(&sqs, &ctx, &q, (1, 0, 2));
    assert_eq!(bodies(&recv(&sqs, &ctx, &q, 10).await), ["now"]);
    clock.advance(5_000);
    assert_eq!(bodies(&recv(&sqs, &ctx, &q, 10).await), ["queue-delay"]);
    clock.advance(15_000);
    assert_eq!(bodies(&recv(&sqs, &ctx, &q, 10).await), ["later"]);
    counts_are(&sqs, &ctx, &q, (0, 3, 0));
    // Retention counts from the send, whatever the state.
    clock.advance(40_000);
    counts_are(&sqs, &ctx, &q, (0, 0, 0));
    send(&sqs, &ctx, &q, "fresh");
    counts_are(&sqs, &ctx, &q, (0, 0, 1));
    clock.advance(59_999);
    counts_are(&sqs, &ctx, &q, (1, 0, 0));
    clock.advance(1);
    counts_are(&sqs, &ctx, &q, (0, 0, 0));
}

#[tokio::test]
async fn redrive_to_the_dead_letter_queue() {
    let (sqs, clock, ctx) = setup();
    let dlq = create(&sqs, &ctx, "dlq", &[]);
    let dlq_arn = "arn:aws:sqs:us-east-1:000000000000:dlq";
    let policy = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}"#);
    let q = create(
        &sqs,
        &ctx,
        "src",
        &[("RedrivePolicy", &policy), ("VisibilityTimeout", "1")],
    );
    assert_eq!(
        attr_map(&sqs, &ctx, &q)["RedrivePolicy"],
        format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":2}}"#)
    );
    let mut entry = SendMessageEntry::new("poison");
    entry
        .attributes
        .insert("MyAttribute".into(), MessageAttributeValue::string("String", "foobar"));
    let sent = sqs.send_message(&ctx, &q, entry).unwrap();

    for n in 1..=2 {
        let got = recv(&sqs, &ctx, &q, 1).await;
        assert_eq!(
            got[0].attribute("ApproximateReceiveCount"),
            Some(n.to_string().as_str())
        );
        clock.advance(1_000);
    }
    // The third receive attempt moves it instead of returning it.
    assert!(recv(&sqs, &ctx, &q, 1).await.is_empty());
    counts_are(&sqs, &ctx, &q, (0, 0, 0));
    let moved = recv(&sqs, &ctx, &dlq, 1).await;
    assert_eq!(moved.len(), 1);
    let m = &moved[0];
    assert_eq!(m.message_id(), sent.message_id);
    assert_eq!(m.body(), "poison");
    assert_eq!(
        m.md5_of_message_attributes.as_deref(),
        Some("adb59cd4678ea5a855436b949cd07ab6")
    );
    assert_eq!(m.attribute("ApproximateReceiveCount"), Some("3"));
    assert_eq!(m.attribute("SentTimestamp"), Some(T0.to_string().as_str()));
    assert_eq!(
        m.attribute("DeadLetterQueueSourceArn"),
        Some("arn:aws:sqs:us-east-1:000000000000:src")
    );

    let sources = sqs.list_dead_letter_source_queues(&ctx, EP, &dlq, None, None).unwrap();
    assert_eq!(sources.queue_urls, [format!("{EP}/000000000000/src")]);
    assert!(sqs
        .list_dead_letter_source_queues(&ctx, EP, &q, None, None)
        .unwrap()
        .queue_urls
        .is_empty());

    // Removing the policy stops redrive.
    sqs.set_queue_attributes(&ctx, &q, &attrs(&[("RedrivePolicy", "")]))
        .unwrap();
    assert!(!attr_map(&sqs, &ctx, &q).contains_key("RedrivePolicy"));
}

#[tokio::test]
async fn redrive_keeps_messages_when_the_dlq_is_gone() {
    let (sqs, clock, ctx) = setup();
    let dlq = create(&sqs, &ctx, "dlq", &[]);
    let policy = r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":1}"#;
    let q = create(
        &sqs,
        &ctx,
        "src",
        &[("RedrivePolicy", policy), ("VisibilityTimeout", "1")],
    );
    send(&sqs, &ctx, &q, "m");
    assert_eq!(recv(&sqs, &ctx, &q, 1).await.len(), 1);
    sqs.delete_queue(&ctx, &dlq).unwrap();
    clock.advance(1_000);
    let again = recv(&sqs, &ctx, &q, 1).await;
    assert_eq!(bodies(&again), ["m"], "no dead-letter queue: the message stays");
}

#[test]
fn redrive_policy_validation() {
    let (sqs, _, ctx) = setup();
    let policy = |arn: &str| format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":3}}"#);
    let q = create(&sqs, &ctx, "src", &[]);
    let set = |p: &str| sqs.set_queue_attributes(&ctx, &q, &attrs(&[("RedrivePolicy", p)]));
    let e = set(&policy("arn:aws:sqs:us-east-1:000000000000:missing")).unwrap_err();
    assert!(
        e.message.ends_with("Reason: Dead letter target does not exist."),
        "{}",
        e.message
    );
    create(&sqs, &ctx, "f.fifo", &[("FifoQueue", "true")]);
    let e = set(&policy("arn:aws:sqs:us-east-1:000000000000:f.fifo")).unwrap_err();
    assert!(
        e.message.ends_with("must be same type of queue as the source."),
        "{}",
        e.message
    );
    create(
        &sqs,
        &ctx,
        "deny",
        &[("RedriveAllowPolicy", r#"{"redrivePermission":"denyAll"}"#)],
    );
    assert!(set(&policy("arn:aws:sqs:us-east-1:000000000000:deny")).is_err());
    let by_queue = r#"{"redrivePermission":"byQueue","sourceQueueArns":["arn:aws:sqs:us-east-1:000000000000:src"]}"#;
    create(&sqs, &ctx, "mine", &[("RedriveAllowPolicy", by_queue)]);
    set(&policy("arn:aws:sqs:us-east-1:000000000000:mine")).unwrap();
    let other = create(&sqs, &ctx, "other", &[]);
    assert!(sqs
        .set_queue_attributes(
            &ctx,
            &other,
            &attrs(&[("RedrivePolicy", &policy("arn:aws:sqs:us-east-1:000000000000:mine"))])
        )
        .is_err());
    let e = set(r#"{"deadLetterTargetArn": "dummy", "maxReceiveCount": 42}"#).unwrap_err();
    assert_eq!(
        e.message,
        r#"Value {"deadLetterTargetArn": "dummy", "maxReceiveCount": 42} for parameter RedrivePolicy is invalid. Reason: Invalid value for deadLetterTargetArn."#
    );
}

#[tokio::test]
async fn fifo_ordering_group_locking_and_sequence_numbers() {
    let (sqs, _, ctx) = setup();
    let q = create(
        &sqs,
        &ctx,
        "f.fifo",
        &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")],
    );
    let e = sqs.send_message(&ctx, &q, SendMessageEntry::new("x")).unwrap_err();
    assert_eq!(
        (e.code.as_ref(), e.message.as_str()),
        (
            errors::MISSING_PARAMETER,
            "The request must contain the parameter MessageGroupId."
        )
    );
    let e = sqs
        .send_message(
            &ctx,
            &q,
            SendMessageEntry {
                group_id: Some("g".into()),
                delay_seconds: Some(2),
                ..SendMessageEntry::new("x")
            },
        )
        .unwrap_err();
    assert_eq!(
        e.message,
        "Value 2 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type."
    );
    let mut last = 0u128;
    for (body, g) in [("a1", "a"), ("b1", "b"), ("a2", "a"), ("b2", "b"), ("a3", "a")] {
        let out = send_fifo(&sqs, &ctx, &q, body, g, None).unwrap();
        let seq: u128 = out.sequence_number.as_deref().unwrap().parse().unwrap();
        assert_eq!(out.sequence_number.as_ref().unwrap().len(), 20);
        assert!(seq > last, "sequence numbers increase");
        last = seq;
    }
    let first = recv(&sqs, &ctx, &q, 2).await;
    assert_eq!(bodies(&first), ["a1", "a2"]);
    assert_eq!(first[0].attribute("MessageGroupId"), Some("a"));
    assert_eq!(
        first[0].attribute("MessageDeduplicationId"),
        Some(crate::digest::sha256_hex(b"a1").as_str())
    );
    assert!(first[0].attribute("SequenceNumber").is_some());
    let second = recv(&sqs, &ctx, &q, 10).await;
    assert_eq!(
        bodies(&second),
        ["b1", "b2"],
        "group a is locked while a1 and a2 are in flight"
    );
    assert!(recv(&sqs, &ctx, &q, 10).await.is_empty());
    sqs.delete_message(&ctx, &q, &first[0].receipt_handle).unwrap();
    assert!(recv(&sqs, &ctx, &q, 10).await.is_empty(), "a2 still in flight");
    sqs.delete_message(&ctx, &q, &first[1].receipt_handle).unwrap();
    assert_eq!(bodies(&recv(&sqs, &ctx, &q, 10).await), ["a3"]);
}

#[tokio::test]
async fn fifo_deduplication_window_and_scope() {
    let (sqs, clock, ctx) = setup();
    let q = create(&sqs, &ctx, "f.fifo", &[("FifoQueue", "true")]);
    let e = send_fifo(&sqs, &ctx, &q, "x", "g", None).unwrap_err();
    assert_eq!(
        e.message,
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"
    );
    let a = send_fifo(&sqs, &ctx, &q, "x", "g", Some("d1")).unwrap();
    let dup = send_fifo(&sqs, &ctx, &q, "other body", "h", Some("d1")).unwrap();
    assert_eq!(dup.message_id, a.message_id, "a duplicate is accepted, not delivered");
    assert_eq!(dup.sequence_number, a.sequence_number);
    assert_eq!(dup.md5_of_message_body, crate::digest::md5_hex(b"other body"));
    counts_are(&sqs, &ctx, &q, (1, 0, 0));
    clock.advance(5 * 60 * 1000 - 1);
    send_fifo(&sqs, &ctx, &q, "x", "g", Some("d1")).unwrap();
    counts_are(&sqs, &ctx, &q, (1, 0, 0));
    clock.advance(1);
    send_fifo(&sqs, &ctx, &q, "x", "g", Some("d1")).unwrap();
    counts_are(&sqs, &ctx, &q, (2, 0, 0));

    // Content-based, then per-group scope.
    let c = create(
        &sqs,
        &ctx,
        "c.fifo",
        &[
            ("FifoQueue", "true"),
            ("ContentBasedDeduplication", "true"),
            ("DeduplicationScope", "messageGroup"),
        ],
    );
    send_fifo(&sqs, &ctx, &c, "same", "g1", None).unwrap();
    send_fifo(&sqs, &ctx, &c, "same", "g1", None).unwrap();
    send_fifo(&sqs, &ctx, &c, "same", "g2", None).unwrap();
    counts_are(&sqs, &ctx, &c, (2, 0, 0));
}

#[tokio::test]
async fn fifo_receipt_handles_expire_with_visibility() {
    let (sqs, clock, ctx) = setup();
    let q = create(
        &sqs,
        &ctx,
        "f.fifo",
        &[
            ("FifoQueue", "true"),
            ("ContentBasedDeduplication", "true"),
            ("VisibilityTimeout", "1"),
        ],
    );
    send_fifo(&sqs, &ctx, &q, "foobar", "g", None).unwrap();
    let got = recv(&sqs, &ctx, &q, 1).await;
    clock.advance(1_500);
    let e = sqs.delete_message(&ctx, &q, &got[0].receipt_handle).unwrap_err();
    assert_eq!(
        e.message,
        format!(
            "Value {} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.",
            got[0].receipt_handle
        )
    );
    let e = sqs
        .change_message_visibility(&ctx, &q, &got[0].receipt_handle, Some(10))
        .unwrap_err();
    assert_eq!(e.code, errors::MESSAGE_NOT_INFLIGHT);
    // Extended in time, the handle stays good.
    let again = recv(&sqs, &ctx, &q, 1).await;
    sqs.change_message_visibility(&ctx, &q, &again[0].receipt_handle, Some(10))
        .unwrap();
    clock.advance(5_000);
    sqs.delete_message(&ctx, &q, &again[0].receipt_handle).unwrap();
}

#[tokio::test]
async fn fifo_receive_request_attempt_id_returns_the_same_messages() {
    let (sqs, _, ctx) = setup();
    let q = create(
        &sqs,
        &ctx,
        "f.fifo",
        &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")],
    );
    send_fifo(&sqs, &ctx, &q, "m1", "g", None).unwrap();
    send_fifo(&sqs, &ctx, &q, "m2", "h", None).unwrap();
    let input = ReceiveMessageInput {
        max_number_of_messages: Some(1),
        receive_request_attempt_id: Some("attempt-1".into()),
        ..Default::default()
    };
    let a = recv_with(&sqs, &ctx, &q, input.clone()).await;
    let b = recv_with(&sqs, &ctx, &q, input).await;
    assert_eq!(bodies(&a), ["m1"]);
    assert_eq!(a[0].receipt_handle, b[0].receipt_handle);
    let c = recv_with(&sqs, &ctx, &q, ReceiveMessageInput::default()).await;
    assert_eq!(bodies(&c), ["m2"]);
}

#[test]
fn batch_limits() {
    let (sqs, _, ctx) = setup();
    let q = create(&sqs, &ctx, "q", &[("MaximumMessageSize", "1024")]);
    let entry = |id: &str, body: &str| BatchEntry {
        id: id.into(),
        entry: SendMessageEntry::new(body),
    };
    let e = sqs.send_message_batch(&ctx, &q, vec![]).unwrap_err();
    assert_eq!(e.code, errors::EMPTY_BATCH_REQUEST);
    let many: Vec<_> = (0..11).map(|i| entry(&i.to_string(), "x")).collect();
    let e = sqs.send_message_batch(&ctx, &q, many).unwrap_err();
    assert_eq!(
        (e.code.as_ref(), e.message.as_str()),
        (
            errors::TOO_MANY_ENTRIES,
            "Maximum number of entries per request are 10. You have sent 11."
        )
    );
    let e = sqs
        .send_message_batch(&ctx, &q, vec![entry("invalid:id", "x")])
        .unwrap_err();
    assert_eq!(e.code, errors::INVALID_BATCH_ENTRY_ID);
    let e = sqs
        .send_message_batch(&ctx, &q, vec![entry("a", "x"), entry("a", "y")])
        .unwrap_err();
    assert_eq!(
        (e.code.as_ref(), e.message.as_str()),
        (errors::BATCH_ENTRY_IDS_NOT_DISTINCT, "Id a repeated.")
    );
    let big = "x".repeat(600_000);
    let e = sqs
        .send_message_batch(&ctx, &q, vec![entry("a", &big), entry("b", &big)])
        .unwrap_err();
    assert_eq!(
        e.message,
        "Batch requests cannot be longer than 1048576 bytes. You have sent 1200000 bytes."
    );
    // Per-entry failures leave the rest alone.
    let out = sqs
        .send_message_batch(
            &ctx,
            &q,
            vec![entry("ok", "fine"), entry("big", &"y".repeat(1025)), entry("empty", "")],
        )
        .unwrap();
    assert_eq!(out.successful.len(), 1);
    assert_eq!(out.successful[0].0, "ok");
    assert_eq!(out.failed.len(), 2);
    assert_eq!(out.failed[0].id, "big");
    assert_eq!(out.failed[0].code, errors::INVALID_PARAMETER_VALUE);
    assert_eq!(
        out.failed[0].message,
        "One or more parameters cannot be validated. Reason: Message must be shorter than 1024 bytes."
    );
    assert!(out.failed[0].sender_fault);
    assert_eq!(out.failed[1].code, errors::MISSING_PARAMETER);

    let e = sqs.delete_message_batch(&ctx, &q, vec![]).unwrap_err();
    assert_eq!(
        e.message,
        "There should be at least one DeleteMessageBatchRequestEntry in the request."
    );
    let out = sqs
        .delete_message_batch(
            &ctx,
            &q,
            vec![BatchEntry {
                id: "x".into(),
                entry: "garbage".into(),
            }],
        )
        .unwrap();
    assert_eq!(out.failed[0].code, errors::RECEIPT_HANDLE_IS_INVALID);
    let e = sqs.change_message_visibility_batch(&ctx, &q, vec![]).unwrap_err();
    assert_eq!(e.code, errors::EMPTY_BATCH_REQUEST);
}

#[tokio::test]
async fn batch_operations_round_trip() {
    let (sqs, _, ctx) = setup();
    let q = create(&sqs, &ctx, "q", &[]);
    let entries = (0..10)
        .map(|i| BatchEntry {
            id: format!("e{i}"),
            entry: SendMessageEntry::new(format!("m{i}")),
        })
        .collect();
    let out = sqs.send_message_batch(&ctx, &q, entries).unwrap();
    assert_eq!(out.successful.len(), 10);
    let got = recv(&sqs, &ctx, &q, 10).await;
    assert_eq!(got.len(), 10);
    let vis = got
        .iter()
        .enumerate()
        .map(|(i, m)| BatchEntry {
            id: format!("v{i}"),
            entry: ChangeVisibilityEntry {
                receipt_handle: m.receipt_handle.clone(),
                visibility_timeout: Some(60),
            },
        })
        .collect();
    assert_eq!(
        sqs.change_message_visibility_batch(&ctx, &q, vis)
            .unwrap()
            .successful
            .len(),
        10
    );
    let del = got
        .iter()
        .enumerate()
        .map(|(i, m)| BatchEntry {
            id: format!("d{i}"),
            entry: m.receipt_handle.clone(),
        })
        .collect();
    let out = sqs.delete_message_batch(&ctx, &q, del).unwrap();
    assert_eq!(out.successful.len(), 10);
    assert!(out.failed.is_empty());
    counts_are(&sqs, &ctx, &q, (0, 0, 0));
}

#[test]
fn fifo_batch_needs_group_ids() {
    let (sqs, _, ctx) = setup();
    let q = create(
        &sqs,
        &ctx,
        "f.fifo",
        &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")],
    );
    let e = sqs
        .send_message_batch(
            &ctx,
            &q,
            vec![BatchEntry {
                id: "a".into(),
                entry: SendMessageEntry::new("x"),
            }],
        )
        .unwrap_err();
    assert_eq!(
        (e.code.as_ref(), e.message.as_str()),
        (
            errors::INVALID_PARAMETER_VALUE,
            "The request must contain the parameter MessageGroupId."
        )
    );
    let entries = ["1", "2", "3"]
        .iter()
        .map(|b| BatchEntry {
            id: format!("e{b}"),
            entry: SendMessageEntry {
                group_id: Some("g".into()),
                ..SendMessageEntry::new(*b)
            },
        })
        .collect();
    let out = sqs.send_message_batch(&ctx, &q, entries).unwrap();
    let seqs: Vec<u128> = out
        .successful
        .iter()
        .map(|(_, o)| o.sequence_number.as_deref().unwrap().parse().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn purge_once_a_minute() {
    let (sqs, clock, ctx) = setup();
    let q = create(&sqs, &ctx, "q", &[]);
    send(&sqs, &ctx, &q, "a");
    sqs.purge_queue(&ctx, &q).unwrap();
    counts_are(&sqs, &ctx, &q, (0, 0, 0));
    let e = sqs.purge_queue(&ctx, &q).unwrap_err();
    assert_eq!((e.code.as_ref(), e.status), (errors::PURGE_QUEUE_IN_PROGRESS, 403));
    assert_eq!(
        e.message,
        "Only one PurgeQueue operation on q is allowed every 60 seconds."
    );
    clock.advance(60_000);
    sqs.purge_queue(&ctx, &q).unwrap();
}

#[test]
fn tags() {
    let (sqs, _, ctx) = setup();
    let url = sqs
        .create_queue(
            &ctx,
            EP,
            CreateQueueInput {
                queue_name: "q".into(),
                attributes: vec![],
                tags: attrs(&[("team", "a")]),
            },
        )
        .unwrap();
    let q = QueueRef::from_url(&url).unwrap();
    sqs.tag_queue(&ctx, &q, attrs(&[("tag1", "value1"), ("tag3", "")]))
        .unwrap();
    assert_eq!(
        sqs.list_queue_tags(&ctx, &q).unwrap(),
        attrs(&[("tag1", "value1"), ("tag3", ""), ("team", "a")])
    );
    sqs.untag_queue(&ctx, &q, &["tag1".to_owned(), "nope".to_owned()])
        .unwrap();
    assert_eq!(
        sqs.list_queue_tags(&ctx, &q).unwrap(),
        attrs(&[("tag3", ""), ("team", "a")])
    );
    let too_many = (0..49).map(|i| (format!("k{i}"), String::new())).collect();
    assert!(sqs.tag_queue(&ctx, &q, too_many).is_err());
}

#[test]
fn permissions_build_the_policy_aws_builds() {
    let (sqs, _, ctx) = setup();
    let q = create(&sqs, &ctx, "q", &[]);
    let input = AddPermissionInput {
        label: "crossaccountpermission".into(),
        account_ids: vec!["111111111111".into(), "222222222222".into()],
        actions: vec!["ReceiveMessage".into()],
    };
    sqs.add_permission(&ctx, &q, input.clone()).unwrap();
    let policy: serde_json::Value = serde_json::from_str(&attr_map(&sqs, &ctx, &q)["Policy"]).unwrap();
    assert_eq!(
        policy,
        serde_json::json!({
            "Version": "2008-10-17",
            "Id": "arn:aws:sqs:us-east-1:000000000000:q/SQSDefaultPolicy",
            "Statement": [{
                "Sid": "crossaccountpermission",
                "Effect": "Allow",
                "Principal": {"AWS": ["arn:aws:iam::111111111111:root", "arn:aws:iam::222222222222:root"]},
                "Action": "SQS:ReceiveMessage",
                "Resource": "arn:aws:sqs:us-east-1:000000000000:q"
            }]
        })
    );
    assert_eq!(
        sqs.add_permission(&ctx, &q, input).unwrap_err().message,
        "Value crossaccountpermission for parameter Label is invalid. Reason: Already exists."
    );
    sqs.remove_permission(&ctx, &q, "crossaccountpermission").unwrap();
    assert!(!attr_map(&sqs, &ctx, &q).contains_key("Policy"));
    assert_eq!(
        sqs.remove_permission(&ctx, &q, "crossaccountpermission")
            .unwrap_err()
            .message,
        "Value crossaccountpermission for parameter Label is invalid. Reason: can't find label."
    );
}

#[tokio::test]
async fn long_poll_wakes_the_moment_a_message_arrives() {
    let sqs = Sqs::new(Arc::new(SystemClock));
    let ctx = RequestContext::default();
    let q = create(&sqs, &ctx, "q", &[]);
    let waiter = {
        let (sqs, ctx, q) = (sqs.clone(), ctx.clone(), q.clone());
        tokio::spawn(async move {
            let start = Instant::now();
            let got = sqs
                .receive_message(
                    &ctx,
                    &q,
                    ReceiveMessageInput {
                        wait_time_seconds: Some(10),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            (got, start.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent_at = Instant::now();
    send(&sqs, &ctx, &q, "ping");
    let (got, waited) = waiter.await.unwrap();
    assert_eq!(bodies(&got), ["ping"]);
    let lag = sent_at.elapsed();
    assert!(waited < Duration::from_secs(2), "waited {waited:?}");
    assert!(lag < Duration::from_millis(50), "woken {lag:?} after the send");
}

#[tokio::test]
async fn long_poll_wakes_when_a_delayed_message_becomes_visible() {
    let sqs = Sqs::new(Arc::new(SystemClock));
    let ctx = RequestContext::default();
    let q = create(&sqs, &ctx, "q", &[]);
    sqs.send_message(
        &ctx,
        &q,
        SendMessageEntry {
            delay_seconds: Some(1),
            ..SendMessageEntry::new("later")
        },
    )
    .unwrap();
    let start = Instant::now();
    let got = recv_with(
        &sqs,
        &ctx,
        &q,
        ReceiveMessageInput {
            wait_time_seconds: Some(5),
            ..Default::default()
        },
    )
    .await;
    let waited = start.elapsed();
    assert_eq!(bodies(&got), ["later"]);
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_millis(1500),
        "{waited:?}"
    );
}

#[tokio::test]
async fn long_poll_times_out_and_honours_the_queue_default() {
    let sqs = Sqs::new(Arc::new(SystemClock));
    let ctx = RequestContext::default();
    let q = create(&sqs, &ctx, "q", &[("ReceiveMessageWaitTimeSeconds", "1")]);
    let start = Instant::now();
    assert!(recv_with(&sqs, &ctx, &q, ReceiveMessageInput::default())
        .await
        .is_empty());
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(950) && waited < Duration::from_millis(1500),
        "{waited:?}"
    );
    let start = Instant::now();
    let input = ReceiveMessageInput {
        wait_time_seconds: Some(0),
        ..Default::default()
    };
    assert!(recv_with(&sqs, &ctx, &q, input).await.is_empty());
    assert!(start.elapsed() < Duration::from_millis(100));
}

#[tokio::test]
async fn long_poll_on_fifo_wakes_when_a_group_unlocks() {
    let sqs = Sqs::new(Arc::new(SystemClock));
    let ctx = RequestContext::default();
    let q = create(
        &sqs,
        &ctx,
        "f.fifo",
        &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")],
    );
    send_fifo(&sqs, &ctx, &q, "1", "g", None).unwrap();
    send_fifo(&sqs, &ctx, &q, "2", "g", None).unwrap();
    let first = recv(&sqs, &ctx, &q, 1).await;
    let waiter = {
        let (sqs, ctx, q) = (sqs.clone(), ctx.clone(), q.clone());
        tokio::spawn(async move {
            sqs.receive_message(
                &ctx,
                &q,
                ReceiveMessageInput {
                    wait_time_seconds: Some(10),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let start = Instant::now();
    sqs.delete_message(&ctx, &q, &first[0].receipt_handle).unwrap();
    let got = waiter.await.unwrap();
    assert_eq!(bodies(&got), ["2"]);
    assert!(start.elapsed() < Duration::from_millis(100));
}

#[tokio::test]
async fn long_poll_ends_when_the_queue_is_deleted() {
    let sqs = Sqs::new(Arc::new(SystemClock));
    let ctx = RequestContext::default();
    let q = create(&sqs, &ctx, "q", &[]);
    let waiter = {
        let (sqs, ctx, q) = (sqs.clone(), ctx.clone(), q.clone());
        tokio::spawn(async move {
            sqs.receive_message(
                &ctx,
                &q,
                ReceiveMessageInput {
                    wait_time_seconds: Some(10),
                    ..Default::default()
                },
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    sqs.delete_queue(&ctx, &q).unwrap();
    let err = tokio::time::timeout(Duration::from_secs(1), waiter)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code, errors::NON_EXISTENT_QUEUE);
}

async fn wait_for_status(sqs: &Sqs, arn: &str, status: &str) -> MessageMoveTaskInfo {
    for _ in 0..2000 {
        let tasks = sqs.list_message_move_tasks(arn, Some(10)).unwrap();
        if tasks.first().is_some_and(|t| t.status == status) {
            return tasks[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!(
        "task never reached {status}: {:?}",
        sqs.list_message_move_tasks(arn, Some(10))
    );
}

#[tokio::test]
async fn move_task_back_to_the_source_queues() {
    let (sqs, clock, ctx) = setup();
    let dlq = create(&sqs, &ctx, "dlq", &[]);
    let dlq_arn = "arn:aws:sqs:us-east-1:000000000000:dlq";
    let policy = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":1}}"#);
    let a = create(
        &sqs,
        &ctx,
        "a",
        &[("RedrivePolicy", &policy), ("VisibilityTimeout", "1")],
    );
    let b = create(
        &sqs,
        &ctx,
        "b",
        &[("RedrivePolicy", &policy), ("VisibilityTimeout", "1")],
    );
    for (q, body) in [(&a, "a1"), (&a, "a2"), (&b, "b1")] {
        send(&sqs, &ctx, q, body);
    }
    for q in [&a, &b] {
        assert!(!recv(&sqs, &ctx, q, 10).await.is_empty());
    }
    clock.advance(1_000);
    for q in [&a, &b] {
        assert!(recv(&sqs, &ctx, q, 10).await.is_empty());
    }
    counts_are(&sqs, &ctx, &dlq, (3, 0, 0));

    let e = sqs
        .start_message_move_task(StartMessageMoveTaskInput {
            source_arn: "arn:aws:sqs:us-east-1:000000000000:a".into(),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.message, "Source queue must be configured as a Dead Letter Queue.");
    let e = sqs
        .start_message_move_task(StartMessageMoveTaskInput {
            source_arn: "arn:aws:sqs:us-east-1:000000000000:nope".into(),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!((e.code.as_ref(), e.status), (errors::RESOURCE_NOT_FOUND, 404));
    let e = sqs
        .start_message_move_task(StartMessageMoveTaskInput {
            source_arn: dlq_arn.into(),
            destination_arn: Some("arn:aws:sqs:us-east-1:000000000000:nope".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        e.message,
        "The resource that you specified for the DestinationArn parameter doesn't exist."
    );

    sqs.start_message_move_task(StartMessageMoveTaskInput {
        source_arn: dlq_arn.into(),
        ..Default::default()
    })
    .unwrap();
    let done = wait_for_status(&sqs, dlq_arn, "COMPLETED").await;
    assert_eq!(done.approximate_number_of_messages_moved, 3);
    assert_eq!(done.approximate_number_of_messages_to_move, Some(3));
    assert_eq!(done.task_handle, None);
    assert_eq!(done.destination_arn, None);
    assert_eq!(done.started_timestamp, i64::try_from(T0 + 1_000).unwrap());
    counts_are(&sqs, &ctx, &dlq, (0, 0, 0));
    let mut back = bodies(&recv(&sqs, &ctx, &a, 10).await)
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    back.sort();
    assert_eq!(back, ["a1", "a2"]);
    let got_b = recv(&sqs, &ctx, &b, 10).await;
    assert_eq!(bodies(&got_b), ["b1"]);
    assert_eq!(
        got_b[0].attribute("ApproximateReceiveCount"),
        Some("1"),
        "a moved message starts afresh"
    );
}

#[tokio::test(start_paused = true)]
async fn move_task_rate_limit_cancel_and_single_task_rule() {
    let (sqs, clock, ctx) = setup();
    create(&sqs, &ctx, "dlq", &[]);
    let dlq_arn = "arn:aws:sqs:us-east-1:000000000000:dlq";
    let policy = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":1}}"#);
    let src = create(
        &sqs,
        &ctx,
        "src",
        &[("RedrivePolicy", &policy), ("VisibilityTimeout", "1")],
    );
    let dest = create(&sqs, &ctx, "dest", &[]);
    for i in 0..10 {
        send(&sqs, &ctx, &src, &format!("m{i}"));
    }
    recv(&sqs, &ctx, &src, 10).await;
    clock.advance(1_000);
    recv(&sqs, &ctx, &src, 10).await;

    let handle = sqs
        .start_message_move_task(StartMessageMoveTaskInput {
            source_arn: dlq_arn.into(),
            destination_arn: Some("arn:aws:sqs:us-east-1:000000000000:dest".into()),
            max_number_of_messages_per_second: Some(1),
        })
        .unwrap();
    let running = sqs.list_message_move_tasks(dlq_arn, None).unwrap();
    assert_eq!(running[0].status, "RUNNING");
    assert_eq!(running[0].task_handle.as_deref(), Some(handle.as_str()));
    assert_eq!(running[0].max_number_of_messages_per_second, Some(1));
    let e = sqs
        .start_message_move_task(StartMessageMoveTaskInput {
            source_arn: dlq_arn.into(),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        e.message,
        "There is already a task running. Only one active task is allowed for a source queue arn at a given time."
    );
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let moved = sqs.cancel_message_move_task(&handle).unwrap();
    assert!((2..=4).contains(&moved), "about one a second: {moved}");
    let cancelled = wait_for_status(&sqs, dlq_arn, "CANCELLED").await;
    let (visible, _, _) = counts(&sqs, &ctx, &dest);
    assert_eq!(visible, cancelled.approximate_number_of_messages_moved.to_string());
    assert_eq!(
        sqs.cancel_message_move_task(&handle).unwrap_err().message,
        "Task does not exist."
    );
    assert_eq!(
        sqs.cancel_message_move_task("bogus").unwrap_err().message,
        "Value for parameter TaskHandle is invalid."
    );
}

#[tokio::test]
async fn delivery_target_and_destination_authorization() {
    let (sqs, _, ctx) = setup();
    let q = create(&sqs, &ctx, "uploads", &[]);
    let arn: Arn = "arn:aws:sqs:us-east-1:000000000000:uploads".parse().unwrap();
    let mut msg = Message::new("{\"Records\":[]}");
    msg.attributes.insert(
        "kind".into(),
        MessageAttribute {
            data_type: "String".into(),
            string_value: Some("s3".into()),
            binary_value: None,
        },
    );
    sqs.deliver(&arn, msg).await.unwrap();
    let got = recv(&sqs, &ctx, &q, 1).await;
    assert_eq!(got[0].body(), "{\"Records\":[]}");
    assert_eq!(got[0].message_attributes[0].1.string_value.as_deref(), Some("s3"));

    let gone: Arn = "arn:aws:sqs:us-east-1:000000000000:gone".parse().unwrap();
    assert!(matches!(
        sqs.deliver(&gone, Message::new("x")).await,
        Err(DeliveryError::NotFound(_))
    ));
    assert!(matches!(
        sqs.deliver(&arn, Message::new("x".repeat(1_048_577))).await,
        Err(DeliveryError::Terminal(_))
    ));

    let req = |source: &'static str| PolicyRequest {
        principal_service: "s3.amazonaws.com",
        action: "sqs:SendMessage",
        resource: "arn:aws:sqs:us-east-1:000000000000:uploads",
        source_arn: Some(source),
        source_account: Some("000000000000"),
    };
    assert_eq!(
        sqs.authorize(&gone, &req("arn:aws:s3:::photos")),
        Err(DestinationError::NotFound)
    );
    assert_eq!(
        sqs.authorize(&arn, &req("arn:aws:s3:::photos")),
        Err(DestinationError::AccessDenied)
    );
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "SQS:SendMessage",
            "Resource": "arn:aws:sqs:us-east-1:000000000000:uploads",
            "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:*:*:photos"}}
        }]
    })
    .to_string();
    sqs.set_queue_attributes(&ctx, &q, &attrs(&[("Policy", &policy)]))
        .unwrap();
    assert_eq!(sqs.authorize(&arn, &req("arn:aws:s3:::photos")), Ok(()));
    assert_eq!(
        sqs.authorize(&arn, &req("arn:aws:s3:::other")),
        Err(DestinationError::AccessDenied)
    );
}

#[test]
fn queues_are_per_region_and_account() {
    let (sqs, _, ctx) = setup();
    create(&sqs, &ctx, "q", &[]);
    let eu = RequestContext::new("eu-west-1");
    let e = sqs
        .send_message(&eu, &QueueRef::new("000000000000", "q"), SendMessageEntry::new("x"))
        .unwrap_err();
    assert_eq!(e.code, errors::NON_EXISTENT_QUEUE);
    let url = sqs
        .create_queue(
            &eu,
            EP,
            CreateQueueInput {
                queue_name: "q".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let attrs = sqs
        .get_queue_attributes(&eu, &QueueRef::from_url(&url).unwrap(), &["QueueArn".into()])
        .unwrap();
    assert_eq!(attrs[0].1, "arn:aws:sqs:eu-west-1:000000000000:q");
}

/// Many producers and consumers on one queue: every message is received exactly once (visibility
/// long enough that none reappears) and none is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_producers_and_consumers_lose_nothing() {
    let sqs = Sqs::new(Arc::new(SystemClock));
    let ctx = RequestContext::default();
    let q = create(&sqs, &ctx, "q", &[("VisibilityTimeout", "600")]);
    let producers: Vec<_> = (0..4)
        .map(|p| {
            let (sqs, ctx, q) = (sqs.clone(), ctx.clone(), q.clone());
            tokio::spawn(async move {
                for i in 0..2_500 {
                    sqs.send_message(&ctx, &q, SendMessageEntry::new(format!("{p}-{i}")))
                        .unwrap();
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let (sqs, ctx, q) = (sqs.clone(), ctx.clone(), q.clone());
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let input = ReceiveMessageInput {
                        max_number_of_messages: Some(10),
                        wait_time_seconds: Some(1),
                        ..Default::default()
                    };
                    let batch = sqs.receive_message(&ctx, &q, input).await.unwrap();
                    if batch.is_empty() {
                        return got;
                    }
                    for m in batch {
                        sqs.delete_message(&ctx, &q, &m.receipt_handle).unwrap();
                        got.push(m.body().to_owned());
                    }
                }
            })
        })
        .collect();
    for p in producers {
        p.await.unwrap();
    }
    let mut all = Vec::new();
    for c in consumers {
        all.extend(c.await.unwrap());
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!((n, all.len()), (10_000, 10_000));
}

#[tokio::test]
async fn in_flight_limit() {
    let (sqs, _, ctx) = setup();
    let q = create(&sqs, &ctx, "q", &[]);
    let entries = |n: usize| -> Vec<BatchEntry<SendMessageEntry>> {
        (0..10)
            .map(|i| BatchEntry {
                id: format!("e{i}"),
                entry: SendMessageEntry::new(format!("{n}-{i}")),
            })
            .collect()
    };
    for n in 0..12_001 {
        sqs.send_message_batch(&ctx, &q, entries(n)).unwrap();
    }
    for _ in 0..12_000 {
        assert_eq!(recv(&sqs, &ctx, &q, 10).await.len(), 10);
    }
    let e = sqs
        .receive_message(&ctx, &q, ReceiveMessageInput::default())
        .await
        .unwrap_err();
    assert_eq!((e.code.as_ref(), e.status), (errors::OVER_LIMIT, 403));
}

/// Ten long-pollers, a batch of ten messages: every waiter gets one promptly (one wake-up per
/// message, passed on by waiters that got theirs), none waits for its timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_wakes_as_many_waiters_as_it_has_messages() {
    let sqs = Sqs::new(Arc::new(SystemClock));
    let ctx = RequestContext::default();
    let q = create(&sqs, &ctx, "q", &[]);
    let waiters: Vec<_> = (0..10)
        .map(|_| {
            let (sqs, ctx, q) = (sqs.clone(), ctx.clone(), q.clone());
            tokio::spawn(async move {
                let start = Instant::now();
                let input = ReceiveMessageInput {
                    wait_time_seconds: Some(10),
                    ..Default::default()
                };
                let got = sqs.receive_message(&ctx, &q, input).await.unwrap();
                (got.len(), start.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let entries = (0..10)
        .map(|i| BatchEntry {
            id: format!("e{i}"),
            entry: SendMessageEntry::new(format!("m{i}")),
        })
        .collect();
    sqs.send_message_batch(&ctx, &q, entries).unwrap();
    for w in waiters {
        let (n, waited) = w.await.unwrap();
        assert_eq!(n, 1);
        assert!(waited < Duration::from_secs(2), "{waited:?}");
    }
}
