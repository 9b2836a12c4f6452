//! ReceiveMessage: ordering, FIFO groups, redrive, long polling on paused or manual time.

use super::*;

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

#[tokio::test]
async fn fifo_ordering_group_locking_and_sequence_numbers() {
    let (sqs, _, ctx) = setup();
    let q = create_fifo(&sqs, &ctx, "f.fifo");
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
async fn fifo_receive_request_attempt_id_returns_the_same_messages() {
    let (sqs, _, ctx) = setup();
    let q = create_fifo(&sqs, &ctx, "f.fifo");
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

/// Spawns a long poll of `wait` seconds and returns once it is waiting on the queue.
async fn spawn_long_poll(
    sqs: &Sqs,
    ctx: &RequestContext,
    q: &QueueRef,
    wait: i64,
) -> tokio::task::JoinHandle<Result<Vec<ReceivedMessage>, AwsError>> {
    let waiting_before = sqs.waiting_receivers(ctx, q);
    let handle = {
        let (sqs, ctx, q) = (sqs.clone(), ctx.clone(), q.clone());
        tokio::spawn(async move {
            let input = ReceiveMessageInput {
                wait_time_seconds: Some(wait),
                ..Default::default()
            };
            sqs.receive_message(&ctx, &q, input).await
        })
    };
    while sqs.waiting_receivers(ctx, q) == waiting_before {
        tokio::task::yield_now().await;
    }
    handle
}

#[tokio::test(start_paused = true)]
async fn long_poll_wakes_the_moment_a_message_arrives() {
    let (sqs, clock, ctx) = setup_tokio();
    let q = create(&sqs, &ctx, "q", &[]);
    let waiter = spawn_long_poll(&sqs, &ctx, &q, 10).await;
    let sent_at = clock.now_millis();
    send(&sqs, &ctx, &q, "ping");
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(bodies(&got), ["ping"]);
    assert_eq!(clock.now_millis(), sent_at, "woken by the send, not by a timer");
}

#[tokio::test(start_paused = true)]
async fn long_poll_wakes_when_a_delayed_message_becomes_visible() {
    let (sqs, clock, ctx) = setup_tokio();
    let q = create(&sqs, &ctx, "q", &[]);
    let entry = SendMessageEntry {
        delay_seconds: Some(1),
        ..SendMessageEntry::new("later")
    };
    sqs.send_message(&ctx, &q, entry).unwrap();
    let start = clock.now_millis();
    let input = ReceiveMessageInput {
        wait_time_seconds: Some(5),
        ..Default::default()
    };
    let got = recv_with(&sqs, &ctx, &q, input).await;
    assert_eq!(bodies(&got), ["later"]);
    assert_eq!(clock.now_millis() - start, 1_000, "returned when the delay ended");
}

/// An in-flight message whose visibility timeout ends during a long poll wakes the poll.
#[tokio::test(start_paused = true)]
async fn long_poll_wakes_when_an_in_flight_message_becomes_visible() {
    let (sqs, clock, ctx) = setup_tokio();
    let q = create(&sqs, &ctx, "q", &[("VisibilityTimeout", "3")]);
    send(&sqs, &ctx, &q, "m");
    assert_eq!(recv(&sqs, &ctx, &q, 1).await.len(), 1);
    let start = clock.now_millis();
    let input = ReceiveMessageInput {
        wait_time_seconds: Some(20),
        ..Default::default()
    };
    let got = recv_with(&sqs, &ctx, &q, input).await;
    assert_eq!(bodies(&got), ["m"]);
    assert_eq!(clock.now_millis() - start, 3_000);
}

#[tokio::test(start_paused = true)]
async fn long_poll_times_out_and_honours_the_queue_default() {
    let (sqs, clock, ctx) = setup_tokio();
    let q = create(&sqs, &ctx, "q", &[("ReceiveMessageWaitTimeSeconds", "1")]);
    let start = clock.now_millis();
    assert!(recv_with(&sqs, &ctx, &q, ReceiveMessageInput::default())
        .await
        .is_empty());
    assert_eq!(clock.now_millis() - start, 1_000);
    let start = clock.now_millis();
    let input = ReceiveMessageInput {
        wait_time_seconds: Some(0),
        ..Default::default()
    };
    assert!(recv_with(&sqs, &ctx, &q, input).await.is_empty());
    assert_eq!(clock.now_millis(), start, "no wait at all");
}

/// Under a manual clock the deadline is clock time: the poll ends when the clock passes it.
#[tokio::test]
async fn long_poll_deadline_is_clock_time() {
    let (sqs, clock, ctx) = setup();
    let q = create(&sqs, &ctx, "q", &[]);
    let waiter = spawn_long_poll(&sqs, &ctx, &q, 20).await;
    clock.advance(19_999);
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert!(!waiter.is_finished(), "the deadline has not passed");
    assert_eq!(sqs.waiting_receivers(&ctx, &q), 1);
    clock.advance(1);
    assert!(waiter.await.unwrap().unwrap().is_empty());
    assert_eq!(sqs.waiting_receivers(&ctx, &q), 0);
}

#[tokio::test]
async fn long_poll_on_fifo_wakes_when_a_group_unlocks() {
    let (sqs, clock, ctx) = setup();
    let q = create_fifo(&sqs, &ctx, "f.fifo");
    send_fifo(&sqs, &ctx, &q, "1", "g", None).unwrap();
    send_fifo(&sqs, &ctx, &q, "2", "g", None).unwrap();
    let first = recv(&sqs, &ctx, &q, 1).await;
    let waiter = spawn_long_poll(&sqs, &ctx, &q, 10).await;
    sqs.delete_message(&ctx, &q, &first[0].receipt_handle).unwrap();
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(bodies(&got), ["2"]);
    assert_eq!(clock.now_millis(), T0, "woken by the delete; the clock never moved");
}

#[tokio::test]
async fn long_poll_ends_when_the_queue_is_deleted() {
    let (sqs, _, ctx) = setup();
    let q = create(&sqs, &ctx, "q", &[]);
    let waiter = spawn_long_poll(&sqs, &ctx, &q, 10).await;
    sqs.delete_queue(&ctx, &q).unwrap();
    let err = waiter.await.unwrap().unwrap_err();
    assert_eq!(err.code, errors::NON_EXISTENT_QUEUE);
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

/// Ten long-pollers, a batch of ten messages: every waiter gets one (one wake-up per message,
/// passed on by waiters that got theirs). The manual clock never moves, so no poll can have ended
/// by its deadline: each was woken by the batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_wakes_as_many_waiters_as_it_has_messages() {
    let (sqs, _, ctx) = setup();
    let q = create(&sqs, &ctx, "q", &[]);
    let mut waiters = Vec::new();
    for _ in 0..10 {
        waiters.push(spawn_long_poll(&sqs, &ctx, &q, 10).await);
    }
    assert_eq!(sqs.waiting_receivers(&ctx, &q), 10);
    let entries = (0..10)
        .map(|i| BatchEntry {
            id: format!("e{i}"),
            entry: SendMessageEntry::new(format!("m{i}")),
        })
        .collect();
    sqs.send_message_batch(&ctx, &q, entries).unwrap();
    for w in waiters {
        assert_eq!(w.await.unwrap().unwrap().len(), 1);
    }
}

/// Standard queues: a message whose visibility timeout ends is received before newer ones.
#[tokio::test]
async fn standard_redelivers_an_expired_message_before_newer_ones() {
    let (sqs, clock, ctx) = setup();
    let q = create(&sqs, &ctx, "q", &[("VisibilityTimeout", "1")]);
    send(&sqs, &ctx, &q, "old");
    assert_eq!(bodies(&recv(&sqs, &ctx, &q, 1).await), ["old"]);
    clock.advance(500);
    send(&sqs, &ctx, &q, "new");
    clock.advance(500);
    assert_eq!(bodies(&recv(&sqs, &ctx, &q, 1).await), ["old"]);
    assert_eq!(bodies(&recv(&sqs, &ctx, &q, 1).await), ["new"]);
}

/// FIFO: a group is held only by its in-flight messages. A message made visible again
/// (ChangeMessageVisibility to 0) while a later one of its group is in flight is delivered; the
/// messages after the in-flight one stay held.
#[tokio::test]
async fn fifo_group_is_held_only_by_in_flight_messages() {
    let (sqs, _, ctx) = setup();
    let q = create_fifo(&sqs, &ctx, "f.fifo");
    for b in ["a1", "a2", "a3"] {
        send_fifo(&sqs, &ctx, &q, b, "a", None).unwrap();
    }
    let got = recv(&sqs, &ctx, &q, 2).await;
    assert_eq!(bodies(&got), ["a1", "a2"]);
    sqs.change_message_visibility(&ctx, &q, &got[0].receipt_handle, Some(0))
        .unwrap();
    let again = recv(&sqs, &ctx, &q, 10).await;
    assert_eq!(bodies(&again), ["a1"], "a1 is before the in-flight a2; a3 is after it");
    assert_eq!(again[0].attribute("ApproximateReceiveCount"), Some("2"));
}

/// FIFO: a group whose message becomes visible again is served again at once, from the back of
/// the queue's group order.
#[tokio::test]
async fn fifo_group_visible_again_goes_to_the_back() {
    let (sqs, clock, ctx) = setup();
    let q = create(
        &sqs,
        &ctx,
        "f.fifo",
        &[
            ("FifoQueue", "true"),
            ("ContentBasedDeduplication", "true"),
            ("VisibilityTimeout", "10"),
        ],
    );
    send_fifo(&sqs, &ctx, &q, "a1", "a", None).unwrap();
    send_fifo(&sqs, &ctx, &q, "a2", "a", None).unwrap();
    send_fifo(&sqs, &ctx, &q, "b1", "b", None).unwrap();
    send_fifo(&sqs, &ctx, &q, "c1", "c", None).unwrap();
    assert_eq!(bodies(&recv(&sqs, &ctx, &q, 1).await), ["a1"]);
    clock.advance(10_000);
    // Group a became receivable again after b and c were: it is served after them.
    assert_eq!(bodies(&recv(&sqs, &ctx, &q, 10).await), ["b1", "c1", "a1", "a2"]);

    // The same after ChangeMessageVisibility to 0.
    let r = create_fifo(&sqs, &ctx, "r.fifo");
    send_fifo(&sqs, &ctx, &r, "x1", "x", None).unwrap();
    send_fifo(&sqs, &ctx, &r, "y1", "y", None).unwrap();
    let x = recv(&sqs, &ctx, &r, 1).await;
    assert_eq!(bodies(&x), ["x1"]);
    sqs.change_message_visibility(&ctx, &r, &x[0].receipt_handle, Some(0))
        .unwrap();
    assert_eq!(bodies(&recv(&sqs, &ctx, &r, 10).await), ["y1", "x1"]);
}
