//! Message move tasks.

use super::*;

async fn wait_for_status(sqs: &Sqs, arn: &str, status: &str) -> MessageMoveTaskInfo {
    for _ in 0..2_000 {
        let tasks = sqs.list_message_move_tasks(arn, Some(10)).unwrap();
        if tasks.first().is_some_and(|t| t.status == status) {
            return tasks[0].clone();
        }
        // Polls the task's state; under paused time this lets the clock reach the task's timer.
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
    let (sqs, _clock, ctx) = setup_tokio();
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
    tokio::time::sleep(Duration::from_millis(1_000)).await;
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
    // One a second in clock time: at 0, 1 and 2 s after the start; cancelled at 2.5 s.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let moved = sqs.cancel_message_move_task(&handle).unwrap();
    assert_eq!(moved, 3, "one a second");
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
