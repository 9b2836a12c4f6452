//! DeleteMessage and ChangeMessageVisibility.

use super::*;

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
