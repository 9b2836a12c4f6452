//! CreateQueue, GetQueueUrl, ListQueues, DeleteQueue, attributes, tags, purge.

use super::*;

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

    let f = create_fifo(&sqs, &ctx, "f.fifo");
    let a = attr_map(&sqs, &ctx, &f);
    assert_eq!(a["FifoQueue"], "true");
    assert_eq!(a["ContentBasedDeduplication"], "true");
    assert_eq!(a["DeduplicationScope"], "queue");
    assert_eq!(a["FifoThroughputLimit"], "perQueue");
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

/// `QueueUrl` may be a bare queue name in every operation that takes one.
#[tokio::test]
async fn a_bare_queue_name_works_as_the_queue_url() {
    let (sqs, _, ctx) = setup();
    create(&sqs, &ctx, "plain", &[]);
    let q = QueueRef::from_url("plain").unwrap();
    send(&sqs, &ctx, &q, "m");
    let got = recv(&sqs, &ctx, &q, 1).await;
    sqs.change_message_visibility(&ctx, &q, &got[0].receipt_handle, Some(5))
        .unwrap();
    sqs.delete_message(&ctx, &q, &got[0].receipt_handle).unwrap();
    sqs.tag_queue(&ctx, &q, attrs(&[("k", "v")])).unwrap();
    assert_eq!(sqs.list_queue_tags(&ctx, &q).unwrap().len(), 1);
    sqs.set_queue_attributes(&ctx, &q, &attrs(&[("DelaySeconds", "1")]))
        .unwrap();
    assert_eq!(attr_map(&sqs, &ctx, &q)["DelaySeconds"], "1");
    sqs.purge_queue(&ctx, &q).unwrap();
    sqs.delete_queue(&ctx, &q).unwrap();
    assert_eq!(
        sqs.send_message(&ctx, &q, SendMessageEntry::new("x")).unwrap_err().code,
        errors::NON_EXISTENT_QUEUE
    );
}

/// The same name in two regions: two queues, two URLs.
#[test]
fn the_same_name_in_two_regions_gives_two_urls() {
    let (sqs, _, ctx) = setup();
    let eu = RequestContext::new("eu-west-1");
    let input = || CreateQueueInput {
        queue_name: "q".into(),
        ..Default::default()
    };
    let us_url = sqs.create_queue(&ctx, "http://127.0.0.1:4566", input()).unwrap();
    let eu_url = sqs.create_queue(&eu, "http://127.0.0.1:4566", input()).unwrap();
    assert_eq!(us_url, "http://127.0.0.1:4566/000000000000/q");
    assert_eq!(eu_url, "http://sqs.eu-west-1.localhost:4566/000000000000/q");
    let get = GetQueueUrlInput {
        queue_name: "q".into(),
        ..Default::default()
    };
    assert_eq!(sqs.get_queue_url(&eu, "http://127.0.0.1:4566", get).unwrap(), eu_url);
    let listed = sqs
        .list_queues(&eu, "http://127.0.0.1:4566", ListQueuesInput::default())
        .unwrap();
    assert_eq!(listed.queue_urls, [eu_url]);
}

#[test]
fn recreating_within_60_seconds_is_refused() {
    let (sqs, clock, ctx) = setup();
    let q = create(&sqs, &ctx, "q", &[]);
    sqs.delete_queue(&ctx, &q).unwrap();
    let input = || CreateQueueInput {
        queue_name: "q".into(),
        ..Default::default()
    };
    let e = sqs.create_queue(&ctx, EP, input()).unwrap_err();
    assert_eq!(
        (e.code.as_ref(), e.status, e.message.as_str()),
        (
            errors::QUEUE_DELETED_RECENTLY,
            400,
            "You must wait 60 seconds after deleting a queue before you can create another with the same name."
        )
    );
    assert_eq!(crate::errors::json_type(&e.code), "QueueDeletedRecently");
    // Another region's queue of the same name is not affected.
    sqs.create_queue(&RequestContext::new("eu-west-1"), EP, input())
        .unwrap();
    clock.advance(59_999);
    assert!(sqs.create_queue(&ctx, EP, input()).is_err());
    clock.advance(1);
    sqs.create_queue(&ctx, EP, input()).unwrap();
}

/// AWS's policy quotas: 8,192 bytes, 20 statements, 7 actions per statement (403 OverLimit, AWS's
/// messages); a refused value leaves the queue unchanged and is not kept.
#[test]
fn policy_limits() {
    let (sqs, _, ctx) = setup();
    let q = create(&sqs, &ctx, "q", &[]);
    let statement = |i: usize, actions: usize| {
        let actions: Vec<String> = (0..actions).map(|a| format!("sqs:A{a}")).collect();
        serde_json::json!({"Sid": format!("s{i}"), "Effect": "Allow", "Principal": "*", "Action": actions, "Resource": "*"})
    };
    let policy = |n: usize, actions: usize| {
        serde_json::json!({"Version": "2012-10-17", "Statement": (0..n).map(|i| statement(i, actions)).collect::<Vec<_>>()})
            .to_string()
    };
    let set = |p: &str| sqs.set_queue_attributes(&ctx, &q, &attrs(&[("Policy", p)]));
    set(&policy(20, 7)).unwrap();
    let e = set(&policy(21, 1)).unwrap_err();
    assert_eq!(
        (e.code.as_ref(), e.status, e.message.as_str()),
        (
            errors::OVER_LIMIT,
            403,
            "21 statements were found in the submitted policy, max allowed is 20"
        )
    );
    let e = set(&policy(1, 10)).unwrap_err();
    assert_eq!(
        e.message,
        "10 actions were found in a statement from the submitted policy, max allowed is 7"
    );
    let huge = format!(
        r#"{{"Version":"2012-10-17","Id":"{}","Statement":[]}}"#,
        "x".repeat(9_500_000)
    );
    let e = set(&huge).unwrap_err();
    assert_eq!(
        (e.code.as_ref(), e.status, e.message.as_str()),
        (errors::OVER_LIMIT, 403, "Submitted policy is over max allowed size.")
    );
    assert_eq!(attr_map(&sqs, &ctx, &q)["Policy"], policy(20, 7), "unchanged");
    let e = sqs
        .create_queue(
            &ctx,
            EP,
            CreateQueueInput {
                queue_name: "big".into(),
                attributes: attrs(&[("Policy", &huge)]),
                tags: vec![],
            },
        )
        .unwrap_err();
    assert_eq!(e.code, errors::OVER_LIMIT);
    // AddPermission past 20 statements.
    let e = sqs
        .add_permission(
            &ctx,
            &q,
            AddPermissionInput {
                label: "one-more".into(),
                account_ids: vec!["111122223333".into()],
                actions: vec!["SendMessage".into()],
            },
        )
        .unwrap_err();
    assert_eq!(e.code, errors::OVER_LIMIT);
    let e = sqs
        .set_queue_attributes(&ctx, &q, &attrs(&[("KmsMasterKeyId", &"k".repeat(2_049))]))
        .unwrap_err();
    assert_eq!(e.code, errors::INVALID_ATTRIBUTE_VALUE);
}
