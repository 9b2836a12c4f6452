//! The service logic without HTTP: fan-out through the engine to a fake queue service on paused
//! time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use lb_core::arn::Arn;
use lb_core::deliver::{
    BoxFuture, DeliveryError, DestinationError, Engine, Message, MessageAttribute, Registry, Target,
};
use lb_core::policy::PolicyRequest;
use lb_core::TokioClock;
use serde_json::{json, Value};

use crate::publish::PublishInput;
use crate::{Sns, SnsConfig};

const ACCOUNT: &str = "000000000000";

/// Records what it receives.
#[derive(Default)]
struct Fake {
    got: Mutex<Vec<(String, Message)>>,
}

impl Target for Fake {
    fn deliver<'a>(&'a self, arn: &'a Arn, msg: &'a Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
        let r = if arn.resource.starts_with("gone-") {
            Err(DeliveryError::not_found("no such queue"))
        } else {
            self.got.lock().unwrap().push((arn.resource.clone(), msg.clone()));
            Ok(())
        };
        Box::pin(async move { r })
    }

    fn authorize(&self, _arn: &Arn, _req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
        Ok(())
    }
}

struct Rig {
    sns: Arc<Sns>,
    engine: Engine,
    fake: Arc<Fake>,
}

fn rig() -> Rig {
    rig_with(0)
}

fn rig_with(fan_out_workers: usize) -> Rig {
    let clock = Arc::new(TokioClock::new(1_700_000_000_000));
    let registry = Arc::new(Registry::new());
    let engine = Engine::new(Arc::clone(&registry), clock.clone(), Default::default());
    let sns = Sns::new(
        clock,
        engine.clone(),
        SnsConfig {
            fan_out_workers,
            ..SnsConfig::default()
        },
    );
    let fake = Arc::new(Fake::default());
    registry.register("sqs", fake.clone());
    registry.register("sns", sns.clone());
    Rig { sns, engine, fake }
}

async fn settled(engine: &Engine) {
    for _ in 0..10_000 {
        if engine.stats().pending == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("never settled: {:?}", engine.stats());
}

fn topic(sns: &Sns, name: &str, attrs: &[(&str, &str)]) -> String {
    let attrs: Vec<(String, String)> = attrs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    sns.create_topic("us-east-1", ACCOUNT, name, &attrs, &[]).unwrap()
}

fn sub(sns: &Sns, topic: &str, queue: &str, attrs: &[(&str, &str)]) -> String {
    let attrs: Vec<(String, String)> = attrs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let endpoint = format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{queue}");
    sns.subscribe(ACCOUNT, topic, "sqs", Some(&endpoint), &attrs, true)
        .unwrap()
        .arn
}

fn msg(text: &str) -> PublishInput {
    PublishInput {
        message: text.to_owned(),
        ..PublishInput::default()
    }
}

#[test]
fn create_topic_is_idempotent_and_names_are_checked() {
    let r = rig();
    let a = topic(&r.sns, "t", &[("DisplayName", "x")]);
    assert_eq!(a, "arn:aws:sns:us-east-1:000000000000:t");
    assert_eq!(topic(&r.sns, "t", &[("DisplayName", "x")]), a);
    let err = r
        .sns
        .create_topic("us-east-1", ACCOUNT, "t", &[("DisplayName".into(), "y".into())], &[])
        .unwrap_err();
    assert_eq!(
        err.message,
        "Invalid parameter: Attributes Reason: Topic already exists with different attributes"
    );
    for bad in ["", "a b", "x.fifo", &"n".repeat(257)] {
        let err = r.sns.create_topic("us-east-1", ACCOUNT, bad, &[], &[]).unwrap_err();
        assert_eq!(
            (&*err.code, err.message.as_str()),
            ("InvalidParameter", "Invalid parameter: Topic Name")
        );
    }
    let fifo = [("FifoTopic".to_owned(), "true".to_owned())];
    assert!(r.sns.create_topic("us-east-1", ACCOUNT, "f.fifo", &fifo, &[]).is_ok());
    assert!(r.sns.create_topic("us-east-1", ACCOUNT, "f", &fifo, &[]).is_err());
    let err = r
        .sns
        .create_topic("us-east-1", ACCOUNT, "s", &[("Nope".into(), "1".into())], &[])
        .unwrap_err();
    assert_eq!(err.message, "Invalid parameter: AttributeName");
}

/// The production path: fan-out on the stage's threads, in publish order, signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_on_worker_threads_keeps_a_topics_order() {
    let r = rig_with(2);
    let t = topic(&r.sns, "t", &[]);
    sub(&r.sns, &t, "q", &[]);
    for i in 0..50 {
        r.sns.publish(&t, msg(&format!("m{i}"))).unwrap();
    }
    // A bound only against a hang, never a timing assertion.
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while r.sns.fan_out_pending() > 0 || r.engine.stats().pending > 0 || r.fake.got.lock().unwrap().len() < 50 {
        assert!(std::time::Instant::now() < give_up, "fan-out never finished");
        tokio::task::yield_now().await;
    }
    let got: Vec<String> = r
        .fake
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|(_, m)| {
            serde_json::from_str::<Value>(&m.body).unwrap()["Message"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(got, (0..50).map(|i| format!("m{i}")).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn fan_out_applies_filters_and_raw_delivery() {
    let r = rig();
    let t = topic(&r.sns, "t", &[]);
    sub(&r.sns, &t, "raw", &[("RawMessageDelivery", "true")]);
    sub(&r.sns, &t, "red", &[("FilterPolicy", r#"{"color":["red"]}"#)]);
    let mut attrs = BTreeMap::new();
    attrs.insert("color".to_owned(), MessageAttribute::string("blue"));
    r.sns
        .publish(
            &t,
            PublishInput {
                attributes: attrs.clone(),
                ..msg("blue one")
            },
        )
        .unwrap();
    attrs.insert("color".to_owned(), MessageAttribute::string("red"));
    let published = r
        .sns
        .publish(
            &t,
            PublishInput {
                attributes: attrs,
                subject: Some("s".into()),
                ..msg("red one")
            },
        )
        .unwrap();
    settled(&r.engine).await;
    let got = r.fake.got.lock().unwrap().clone();
    let raw: Vec<&str> = got.iter().filter(|(q, _)| q == "raw").map(|(_, m)| &*m.body).collect();
    assert_eq!(raw, ["blue one", "red one"]);
    let (_, m) = got.iter().find(|(q, _)| q == "raw").unwrap();
    assert_eq!(m.attributes["color"].string_value.as_deref(), Some("blue"));
    assert_eq!(m.principal.as_deref(), Some(crate::PRINCIPAL));
    assert_eq!(m.source_arn.as_deref(), Some(t.as_str()));
    let red: Vec<&Message> = got.iter().filter(|(q, _)| q == "red").map(|(_, m)| m).collect();
    assert_eq!(red.len(), 1);
    let env: Value = serde_json::from_str(&red[0].body).unwrap();
    assert_eq!(env["Type"], "Notification");
    assert_eq!(env["MessageId"], published.message_id.as_str());
    assert_eq!(env["Subject"], "s");
    assert_eq!(env["Message"], "red one");
    assert_eq!(
        env["MessageAttributes"],
        json!({"color": {"Type": "String", "Value": "red"}})
    );
    assert!(
        red[0].attributes.is_empty(),
        "an envelope carries its attributes inside"
    );
    assert_eq!(r.sns.counters.filtered.load(std::sync::atomic::Ordering::Relaxed), 1);
}

#[tokio::test(start_paused = true)]
async fn fifo_topics_deduplicate_for_five_minutes() {
    let r = rig();
    let t = topic(
        &r.sns,
        "o.fifo",
        &[("FifoTopic", "true"), ("ContentBasedDeduplication", "true")],
    );
    sub(&r.sns, &t, "q.fifo", &[("RawMessageDelivery", "true")]);
    let send = |text: &str| {
        r.sns
            .publish(
                &t,
                PublishInput {
                    group_id: Some("g".into()),
                    ..msg(text)
                },
            )
            .unwrap()
    };
    let a = send("a");
    let b = send("b");
    assert!(a.sequence_number < b.sequence_number);
    send("a");
    settled(&r.engine).await;
    assert_eq!(r.fake.got.lock().unwrap().len(), 2);
    let (_, m) = r.fake.got.lock().unwrap()[0].clone();
    assert_eq!(m.group_id.as_deref(), Some("g"));
    assert_eq!(
        m.dedup_id.as_deref().map(str::len),
        Some(64),
        "content-based: SHA-256 hex"
    );
    // Past the five-minute deduplication window, on the paused clock.
    tokio::time::advance(std::time::Duration::from_secs(301)).await;
    send("a");
    settled(&r.engine).await;
    assert_eq!(r.fake.got.lock().unwrap().len(), 3);
    let err = r.sns.publish(&t, msg("no group")).unwrap_err();
    assert_eq!(
        err.message,
        "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
    );
}

#[tokio::test(start_paused = true)]
async fn producers_reach_topics_through_the_engine_under_the_topic_policy() {
    let r = rig();
    let t = topic(&r.sns, "uploads", &[]);
    sub(&r.sns, &t, "q", &[]);
    let arn: Arn = t.parse().unwrap();
    let from_s3 = Message {
        principal: Some("s3.amazonaws.com".into()),
        source_arn: Some("arn:aws:s3:::photos".into()),
        source_account: Some("111122223333".into()),
        subject: Some("Amazon S3 Notification".into()),
        ..Message::new("{\"Records\":[]}")
    };
    // The default policy only lets the owner's account in.
    let err = r.sns.deliver(&arn, &from_s3).await.unwrap_err();
    assert_eq!(err.kind, lb_core::deliver::FailureKind::AccessDenied);
    let policy = json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sns:Publish", "Resource": t, "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::photos"}}}]});
    r.sns.set_topic_attribute(&t, "Policy", &policy.to_string()).unwrap();
    r.sns.deliver(&arn, &from_s3).await.unwrap();
    settled(&r.engine).await;
    let got = r.fake.got.lock().unwrap().clone();
    let env: Value = serde_json::from_str(&got[0].1.body).unwrap();
    assert_eq!(env["Subject"], "Amazon S3 Notification");
    assert_eq!(env["Message"], "{\"Records\":[]}");
    let missing: Arn = "arn:aws:sns:us-east-1:000000000000:missing".parse().unwrap();
    assert_eq!(
        r.sns.deliver(&missing, &from_s3).await.unwrap_err().kind,
        lb_core::deliver::FailureKind::NotFound
    );
}

#[test]
fn message_validation() {
    let r = rig();
    let t = topic(&r.sns, "v", &[]);
    let cases: Vec<(PublishInput, &str)> = vec![
        (msg(""), "Invalid parameter: Empty message"),
        (msg(&"x".repeat(262_145)), "Invalid parameter: Message too long"),
        (
            PublishInput {
                subject: Some("a\nb".into()),
                ..msg("m")
            },
            "Invalid parameter: Subject",
        ),
        (
            PublishInput {
                structure: Some("json".into()),
                ..msg(r#"{"sqs":"x"}"#)
            },
            "Invalid parameter: Message Structure - No default entry in JSON message body",
        ),
        (
            PublishInput {
                dedup_id: Some("d".into()),
                ..msg("m")
            },
            "Invalid parameter: MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(r.sns.publish(&t, input).unwrap_err().message, expected);
    }
    let mut attrs = BTreeMap::new();
    attrs.insert("n".to_owned(), MessageAttribute::number("nan-ish"));
    let err = r
        .sns
        .publish(
            &t,
            PublishInput {
                attributes: attrs,
                ..msg("m")
            },
        )
        .unwrap_err();
    assert_eq!(err.code, "ParameterValueInvalid");
}

#[tokio::test(start_paused = true)]
async fn http_subscriptions_wait_for_confirmation() {
    let r = rig();
    let t = topic(&r.sns, "h", &[]);
    let s = r
        .sns
        .subscribe(ACCOUNT, &t, "http", Some("http://127.0.0.1:9/hook"), &[], false)
        .unwrap();
    assert_eq!(s.arn, "pending confirmation");
    let (subs, _) = r.sns.list_subscriptions("us-east-1", ACCOUNT, Some(&t), None).unwrap();
    assert_eq!(subs[0].listed_arn(), "PendingConfirmation");
    let token = subs[0].token.clone();
    assert_eq!(
        r.sns.confirm_subscription(&t, "wrong").unwrap_err().message,
        "Invalid parameter: Token"
    );
    assert_eq!(r.sns.confirm_subscription(&t, &token).unwrap(), &*subs[0].arn);
    let attrs: BTreeMap<String, String> = r
        .sns
        .get_subscription_attributes(&subs[0].arn)
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(attrs["PendingConfirmation"], "false");
    assert!(attrs["EffectiveDeliveryPolicy"].contains("\"numRetries\":3"));
}
