//! SendMessage and SendMessageBatch: validation, digests, FIFO deduplication, trace headers.

use super::*;

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
    let q = create_fifo(&sqs, &ctx, "f.fifo");
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

/// The request's `X-Amzn-Trace-Id` (gateway: `ctx.trace_header`) comes back as `AWSTraceHeader`;
/// an explicit system attribute wins; the header is not part of `MD5OfMessageSystemAttributes`.
#[tokio::test]
async fn trace_header_from_the_request() {
    let (sqs, _, mut ctx) = setup();
    let q = create(&sqs, &ctx, "q", &[]);
    ctx.trace_header = Some("Root=1-67891233-abcdef012345678912345678".into());
    let sent = send(&sqs, &ctx, &q, "from header");
    assert_eq!(sent.md5_of_message_system_attributes, None);
    let mut entry = SendMessageEntry::new("explicit");
    entry.system_attributes.insert(
        "AWSTraceHeader".into(),
        MessageAttributeValue::string("String", "Root=explicit"),
    );
    sqs.send_message(&ctx, &q, entry).unwrap();
    let batch = vec![BatchEntry {
        id: "b".into(),
        entry: SendMessageEntry::new("batch"),
    }];
    sqs.send_message_batch(&ctx, &q, batch).unwrap();
    let input = ReceiveMessageInput {
        max_number_of_messages: Some(10),
        attribute_names: vec!["AWSTraceHeader".into()],
        ..Default::default()
    };
    let got = recv_with(&sqs, &ctx, &q, input).await;
    let traces: Vec<(&str, Option<&str>)> = got.iter().map(|m| (m.body(), m.attribute("AWSTraceHeader"))).collect();
    assert_eq!(
        traces,
        [
            ("from header", Some("Root=1-67891233-abcdef012345678912345678")),
            ("explicit", Some("Root=explicit")),
            ("batch", Some("Root=1-67891233-abcdef012345678912345678")),
        ]
    );
}

/// Deduplication ids are remembered by id and group, so switching `DeduplicationScope` later
/// forgets nothing; PurgeQueue clears them.
#[tokio::test]
async fn fifo_dedup_survives_scope_changes_and_purge_clears_it() {
    let (sqs, clock, ctx) = setup();
    let q = create(&sqs, &ctx, "f.fifo", &[("FifoQueue", "true")]);
    send_fifo(&sqs, &ctx, &q, "a", "g1", Some("d1")).unwrap();
    sqs.set_queue_attributes(&ctx, &q, &attrs(&[("DeduplicationScope", "messageGroup")]))
        .unwrap();
    send_fifo(&sqs, &ctx, &q, "a again", "g1", Some("d1")).unwrap();
    counts_are(&sqs, &ctx, &q, (1, 0, 0));
    send_fifo(&sqs, &ctx, &q, "other group", "g2", Some("d1")).unwrap();
    counts_are(&sqs, &ctx, &q, (2, 0, 0));
    sqs.set_queue_attributes(&ctx, &q, &attrs(&[("DeduplicationScope", "queue")]))
        .unwrap();
    send_fifo(&sqs, &ctx, &q, "any group", "g3", Some("d1")).unwrap();
    counts_are(&sqs, &ctx, &q, (2, 0, 0));

    sqs.purge_queue(&ctx, &q).unwrap();
    counts_are(&sqs, &ctx, &q, (0, 0, 0));
    let again = send_fifo(&sqs, &ctx, &q, "after purge", "g1", Some("d1")).unwrap();
    counts_are(&sqs, &ctx, &q, (1, 0, 0));
    clock.advance(1);
    assert_eq!(bodies(&recv(&sqs, &ctx, &q, 10).await), ["after purge"]);
    assert!(again.sequence_number.is_some());
}

/// Attribute names may be non-ASCII letters (AWS accepted `attr.1øßä`); `*` selects them all.
#[tokio::test]
async fn non_ascii_attribute_names() {
    let (sqs, _, ctx) = setup();
    let q = create(&sqs, &ctx, "q", &[]);
    let mut entry = SendMessageEntry::new("m");
    entry
        .attributes
        .insert("attr.1øßä".into(), MessageAttributeValue::string("String", "v"));
    let sent = sqs.send_message(&ctx, &q, entry).unwrap();
    for names in [vec!["*"], vec!["attr.*"], vec!["attr.1øßä"]] {
        let input = ReceiveMessageInput {
            message_attribute_names: names.iter().map(|s| (*s).to_owned()).collect(),
            visibility_timeout: Some(0),
            ..Default::default()
        };
        let got = recv_with(&sqs, &ctx, &q, input).await;
        assert_eq!(got[0].message_attributes.len(), 1, "{names:?}");
        assert_eq!(got[0].md5_of_message_attributes, sent.md5_of_message_attributes);
    }
}
