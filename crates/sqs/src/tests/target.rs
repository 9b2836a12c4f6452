//! SQS as a delivery target: policy at delivery, batches, trace headers.

use lb_core::deliver::FailureKind;

use super::*;

const ARN: &str = "arn:aws:sqs:us-east-1:000000000000:uploads";

fn s3_policy(effect: &str, source: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": effect,
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "SQS:SendMessage",
            "Resource": ARN,
            "Condition": {"ArnLike": {"aws:SourceArn": source}}
        }]
    })
    .to_string()
}

fn from_s3(body: &str) -> Message {
    Message {
        principal: Some("s3.amazonaws.com".into()),
        source_arn: Some("arn:aws:s3:::photos".into()),
        source_account: Some("000000000000".into()),
        ..Message::new(body)
    }
}

#[tokio::test]
async fn delivery_target_and_destination_authorization() {
    let (sqs, _, ctx) = setup();
    let q = create(&sqs, &ctx, "uploads", &[]);
    let arn: Arn = ARN.parse().unwrap();
    let mut msg = Message::new("{\"Records\":[]}");
    msg.attributes.insert(
        "kind".into(),
        MessageAttribute {
            data_type: "String".into(),
            string_value: Some("s3".into()),
            binary_value: None,
        },
    );
    sqs.deliver(&arn, &msg).await.unwrap();
    let got = recv(&sqs, &ctx, &q, 1).await;
    assert_eq!(got[0].body(), "{\"Records\":[]}");
    assert_eq!(got[0].message_attributes[0].1.string_value.as_deref(), Some("s3"));

    let gone: Arn = "arn:aws:sqs:us-east-1:000000000000:gone".parse().unwrap();
    let e = sqs.deliver(&gone, &Message::new("x")).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::NotFound);
    let e = sqs
        .deliver(&arn, &Message::new("x".repeat(1_048_577)))
        .await
        .unwrap_err();
    assert_eq!(e.kind, FailureKind::Terminal);
    assert_eq!(e.code, errors::INVALID_PARAMETER_VALUE);

    let req = |source: &'static str| PolicyRequest {
        principal_service: "s3.amazonaws.com",
        action: "sqs:SendMessage",
        resource: ARN,
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
    let policy = s3_policy("Allow", "arn:aws:s3:*:*:photos");
    sqs.set_queue_attributes(&ctx, &q, &attrs(&[("Policy", &policy)]))
        .unwrap();
    assert_eq!(sqs.authorize(&arn, &req("arn:aws:s3:::photos")), Ok(()));
    assert_eq!(
        sqs.authorize(&arn, &req("arn:aws:s3:::other")),
        Err(DestinationError::AccessDenied)
    );
}

/// The queue's policy is evaluated at every delivery: removing it, pointing it at another bucket
/// or adding an explicit Deny stops deliveries from a service principal at once.
#[tokio::test]
async fn the_policy_is_checked_at_delivery() {
    let (sqs, _, ctx) = setup();
    let q = create(&sqs, &ctx, "uploads", &[]);
    let arn: Arn = ARN.parse().unwrap();

    let e = sqs.deliver(&arn, &from_s3("no policy")).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::AccessDenied);
    assert_eq!(
        e.message,
        format!("The queue {ARN} has no Policy, so s3.amazonaws.com may not perform sqs:SendMessage on it.")
    );
    // An internal producer of the queue's own account (no principal) is not checked.
    sqs.deliver(&arn, &Message::new("internal")).await.unwrap();

    sqs.set_queue_attributes(
        &ctx,
        &q,
        &attrs(&[("Policy", &s3_policy("Allow", "arn:aws:s3:*:*:photos"))]),
    )
    .unwrap();
    sqs.deliver(&arn, &from_s3("allowed")).await.unwrap();

    sqs.set_queue_attributes(
        &ctx,
        &q,
        &attrs(&[("Policy", &s3_policy("Allow", "arn:aws:s3:*:*:other"))]),
    )
    .unwrap();
    let e = sqs.deliver(&arn, &from_s3("other bucket")).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::AccessDenied);
    assert_eq!(
        e.message,
        format!("The Policy of queue {ARN} does not allow sqs:SendMessage to s3.amazonaws.com for source arn:aws:s3:::photos.")
    );

    let deny_and_allow = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:*", "Resource": ARN},
            {"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": ARN}
        ]
    })
    .to_string();
    sqs.set_queue_attributes(&ctx, &q, &attrs(&[("Policy", &deny_and_allow)]))
        .unwrap();
    let e = sqs.deliver(&arn, &from_s3("denied")).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::AccessDenied);
    assert!(e.message.contains("explicitly denies"), "{}", e.message);

    sqs.set_queue_attributes(&ctx, &q, &attrs(&[("Policy", "")])).unwrap();
    assert_eq!(
        sqs.deliver(&arn, &from_s3("removed")).await.unwrap_err().kind,
        FailureKind::AccessDenied
    );
    let got = recv(&sqs, &ctx, &q, 10).await;
    assert_eq!(bodies(&got), ["internal", "allowed"]);
}

#[tokio::test]
async fn batches_of_ten_in_order_with_per_message_results() {
    let (sqs, _, ctx) = setup();
    let q = create(&sqs, &ctx, "uploads", &[]);
    let arn: Arn = ARN.parse().unwrap();
    assert_eq!(sqs.max_batch(&arn), 10);
    let mut msgs: Vec<Arc<Message>> = (0..12).map(|i| Arc::new(Message::new(format!("m{i}")))).collect();
    msgs[3] = Arc::new(Message::new("bad \u{1}"));
    msgs[5] = Arc::new(from_s3("no policy"));
    let results = sqs.deliver_batch(&arn, &msgs).await;
    assert_eq!(results.len(), 12);
    for (i, r) in results.iter().enumerate() {
        match i {
            3 => assert_eq!(r.as_ref().unwrap_err().code, errors::INVALID_MESSAGE_CONTENTS),
            5 => assert_eq!(r.as_ref().unwrap_err().kind, FailureKind::AccessDenied),
            _ => assert!(r.is_ok(), "{i}: {r:?}"),
        }
    }
    let mut all = Vec::new();
    loop {
        let got = recv(&sqs, &ctx, &q, 10).await;
        if got.is_empty() {
            break;
        }
        all.extend(got.iter().map(|m| m.body().to_owned()));
    }
    assert_eq!(all, ["m0", "m1", "m2", "m4", "m6", "m7", "m8", "m9", "m10", "m11"]);

    let gone: Arn = "arn:aws:sqs:us-east-1:000000000000:gone".parse().unwrap();
    let results = sqs.deliver_batch(&gone, &msgs[..2]).await;
    assert!(results
        .iter()
        .all(|r| r.as_ref().unwrap_err().kind == FailureKind::NotFound));
}

/// A delivery's trace header (the S3 request's `X-Amzn-Trace-Id`) becomes `AWSTraceHeader`.
#[tokio::test]
async fn deliveries_carry_the_trace_header() {
    let (sqs, _, ctx) = setup();
    let q = create(&sqs, &ctx, "uploads", &[]);
    let arn: Arn = ARN.parse().unwrap();
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let msg = Message {
        trace_header: Some(trace.into()),
        ..Message::new("traced")
    };
    sqs.deliver(&arn, &msg).await.unwrap();
    sqs.deliver(&arn, &Message::new("untraced")).await.unwrap();
    let got = recv(&sqs, &ctx, &q, 10).await;
    assert_eq!(got[0].attribute("AWSTraceHeader"), Some(trace));
    assert_eq!(got[1].attribute("AWSTraceHeader"), None);
}
