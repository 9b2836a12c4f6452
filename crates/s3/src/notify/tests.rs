//! Unit tests of the notifier, without HTTP: a fake SQS/SNS/EventBridge registered in a real
//! `Registry` (with real resource-policy evaluation, when a configuration is saved and again at
//! delivery), the real delivery `Engine` on paused tokio time (retries run at once and
//! deterministically), and the expected JSON in `fixtures/s3-events/`. Tests wait on the engine's
//! state (its counters and ledger), never on wall-clock time.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lb_core::deliver::{
    BoxFuture, DeliveryError, DestinationError, EngineConfig, Fate, LedgerQuery, Message, Registry, Target,
};
use lb_core::policy::{self, Decision, PolicyRequest};
use lb_core::{Arn, ManualClock, RequestContext, TokioClock};
use s3s::dto::{
    Event, EventBridgeConfiguration, FilterRule, FilterRuleName, LambdaFunctionConfiguration,
    NotificationConfiguration, NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter, TopicConfiguration,
};
use serde_json::{json, Value};

use super::config::event_matches;
use super::*;

const BUCKET: &str = "photos";
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "000000000000";
const QUEUE: &str = "arn:aws:sqs:us-east-1:000000000000:uploads";
const QUEUE2: &str = "arn:aws:sqs:us-east-1:000000000000:archive";
const TOPIC: &str = "arn:aws:sns:us-east-1:000000000000:uploads";
const LAMBDA: &str = "arn:aws:lambda:us-east-1:000000000000:function:thumbs";
const KEY: &str = "images/beach photo.jpg";
const ETAG: &str = "893a03214a368aa41a789df509628da7";
/// 2023-11-14T22:13:20.123Z
const T0: u64 = 1_700_000_000_123;

// ---------------------------------------------------------------------------------------------
// A fake destination service: resources with resource policies, and what was delivered.

#[derive(Debug, Clone)]
struct Asked {
    arn: String,
    principal: String,
    action: String,
    resource: String,
    source_arn: Option<String>,
    source_account: Option<String>,
}

#[derive(Default)]
struct FakeService {
    /// Resource ARN -> its resource policy.
    resources: Mutex<HashMap<String, Value>>,
    got: Mutex<Vec<(String, Message)>>,
    asked: Mutex<Vec<Asked>>,
    /// Deliveries to fail (throttled, retryable) before the next one succeeds.
    throttle: std::sync::atomic::AtomicU32,
    /// When set, deliveries never finish (a target that hangs).
    hang: std::sync::atomic::AtomicBool,
}

impl FakeService {
    fn add(&self, arn: &str, policy: Value) {
        self.resources.lock().unwrap().insert(arn.to_owned(), policy);
    }

    fn got(&self) -> Vec<(String, Message)> {
        self.got.lock().unwrap().clone()
    }

    fn bodies(&self) -> Vec<(String, String)> {
        self.got().into_iter().map(|(a, m)| (a, m.body.to_string())).collect()
    }

    fn asked(&self) -> Vec<Asked> {
        self.asked.lock().unwrap().clone()
    }
}

impl Target for FakeService {
    fn deliver<'a>(&'a self, arn: &'a Arn, msg: &'a Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async move {
            if self.hang.load(std::sync::atomic::Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            let throttled = self
                .throttle
                .fetch_update(
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                    |n| n.checked_sub(1),
                )
                .is_ok();
            if throttled {
                return Err(DeliveryError::retryable("ThrottlingException", "Rate exceeded"));
            }
            if arn.service != "events" {
                // The destination's policy is evaluated at delivery too, as SQS and SNS do.
                let resources = self.resources.lock().unwrap();
                let Some(policy) = resources.get(&arn.to_string()) else {
                    return Err(DeliveryError::not_found(arn.to_string()));
                };
                let resource = arn.to_string();
                let req = PolicyRequest {
                    principal_service: msg.principal.as_deref().unwrap_or_default(),
                    action: if arn.service == "sns" {
                        "SNS:Publish"
                    } else {
                        "SQS:SendMessage"
                    },
                    resource: &resource,
                    source_arn: msg.source_arn.as_deref(),
                    source_account: msg.source_account.as_deref(),
                };
                if policy::evaluate(policy, &req) != Decision::Allow {
                    return Err(DeliveryError::access_denied(format!(
                        "{} may not send to {resource}",
                        req.principal_service
                    )));
                }
            }
            self.got.lock().unwrap().push((arn.to_string(), msg.clone()));
            Ok(())
        })
    }

    fn authorize(&self, arn: &Arn, req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
        self.asked.lock().unwrap().push(Asked {
            arn: arn.to_string(),
            principal: req.principal_service.to_owned(),
            action: req.action.to_owned(),
            resource: req.resource.to_owned(),
            source_arn: req.source_arn.map(str::to_owned),
            source_account: req.source_account.map(str::to_owned),
        });
        let resources = self.resources.lock().unwrap();
        let policy = resources.get(&arn.to_string()).ok_or(DestinationError::NotFound)?;
        match policy::evaluate(policy, req) {
            Decision::Allow => Ok(()),
            Decision::ExplicitDeny | Decision::ImplicitDeny => Err(DestinationError::AccessDenied),
        }
    }
}

/// The User Guide walkthrough's queue/topic policy: S3 may send for this bucket and account.
fn s3_may_send(resource: &str, action: &str, bucket: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Id": "example-ID",
        "Statement": [{
            "Sid": "example-statement-ID",
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": [action],
            "Resource": resource,
            "Condition": {
                "ArnLike": {"aws:SourceArn": format!("arn:aws:s3:*:*:{bucket}")},
                "StringEquals": {"aws:SourceAccount": ACCOUNT}
            }
        }]
    })
}

struct Harness {
    notifier: Notifier,
    sqs: Arc<FakeService>,
    sns: Arc<FakeService>,
    events: Arc<FakeService>,
}

/// A notifier with SQS and SNS registered (and EventBridge when `with_events`); Lambda never is.
fn harness_with(with_events: bool) -> Harness {
    harness_configured(with_events, EngineConfig::default())
}

fn harness_configured(with_events: bool, config: EngineConfig) -> Harness {
    let registry = Arc::new(Registry::new());
    let sqs = Arc::new(FakeService::default());
    let sns = Arc::new(FakeService::default());
    let events = Arc::new(FakeService::default());
    registry.register("sqs", sqs.clone());
    registry.register("sns", sns.clone());
    if with_events {
        registry.register("events", events.clone());
    }
    sqs.add(QUEUE, s3_may_send(QUEUE, "SQS:SendMessage", BUCKET));
    // The engine follows (paused) tokio time; the notifier's manual clock stamps test events.
    let engine = Engine::new(Arc::clone(&registry), Arc::new(TokioClock::new(T0)), config);
    // Five seconds before the events' time, so the test event's `Time` tells the two apart.
    let clock = Arc::new(ManualClock::new(T0 - 5_000));
    let notifier = Notifier::new(NotifierDeps {
        registry,
        engine,
        clock,
    });
    Harness {
        notifier,
        sqs,
        sns,
        events,
    }
}

fn harness() -> Harness {
    harness_with(false)
}

impl Harness {
    fn engine(&self) -> &Engine {
        self.notifier.engine()
    }

    /// Waits until every submitted delivery has its fate. Time is paused: each sleep lets the
    /// engine's tasks run (and jumps over retry back-offs) without any wall-clock wait.
    async fn settle(&self) {
        for _ in 0..10_000 {
            let s = self.engine().stats();
            if s.pending == 0 && s.delivered + s.dropped + s.dead_lettered == s.submitted {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("engine did not settle: {:?}", self.engine().stats());
    }

    fn put(&self, config: NotificationConfiguration, skip: bool) -> Result<(), NotificationError> {
        self.notifier
            .put_configuration_detailed(BUCKET, REGION, config, skip, &ctx("5582815E1AEA5ADF"))
    }
}

fn ctx(request_id: &str) -> RequestContext {
    RequestContext {
        region: REGION.to_owned(),
        account: ACCOUNT.to_owned(),
        access_key: Some("test".to_owned()),
        source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        request_id: request_id.to_owned(),
        trace_header: None,
    }
}

fn object_event(
    event_name: &'static str,
    key: &str,
    size: Option<u64>,
    etag: Option<&str>,
    version_id: Option<&str>,
) -> ObjectEvent {
    ObjectEvent {
        event_name,
        bucket: BUCKET.to_owned(),
        key: key.to_owned(),
        size,
        etag: etag.map(str::to_owned),
        version_id: version_id.map(str::to_owned),
        time_millis: T0,
        ctx: ctx("C3D13FE58DE4C810"),
        restore: None,
        extra: None,
    }
}

fn events(names: &[&str]) -> Vec<Event> {
    names.iter().map(|n| Event::from((*n).to_owned())).collect()
}

fn filter(rules: &[(&str, &str)]) -> Option<NotificationConfigurationFilter> {
    Some(NotificationConfigurationFilter {
        key: Some(S3KeyFilter {
            filter_rules: Some(
                rules
                    .iter()
                    .map(|(n, v)| FilterRule {
                        name: Some(FilterRuleName::from((*n).to_owned())),
                        value: Some((*v).to_owned()),
                    })
                    .collect(),
            ),
        }),
    })
}

fn queue(id: Option<&str>, arn: &str, names: &[&str], rules: &[(&str, &str)]) -> QueueConfiguration {
    QueueConfiguration {
        events: events(names),
        filter: if rules.is_empty() { None } else { filter(rules) },
        id: id.map(str::to_owned),
        queue_arn: arn.to_owned(),
    }
}

fn topic(id: Option<&str>, arn: &str, names: &[&str], rules: &[(&str, &str)]) -> TopicConfiguration {
    TopicConfiguration {
        events: events(names),
        filter: if rules.is_empty() { None } else { filter(rules) },
        id: id.map(str::to_owned),
        topic_arn: arn.to_owned(),
    }
}

fn lambda(id: Option<&str>, arn: &str, names: &[&str]) -> LambdaFunctionConfiguration {
    LambdaFunctionConfiguration {
        events: events(names),
        filter: None,
        id: id.map(str::to_owned),
        lambda_function_arn: arn.to_owned(),
    }
}

fn queues(list: Vec<QueueConfiguration>) -> NotificationConfiguration {
    NotificationConfiguration {
        queue_configurations: Some(list),
        ..NotificationConfiguration::default()
    }
}

/// The walkthrough's configuration: images/*.jpg to the queue.
fn walkthrough() -> NotificationConfiguration {
    queues(vec![queue(
        Some("thumbs-queue"),
        QUEUE,
        &["s3:ObjectCreated:*"],
        &[("prefix", "images/"), ("suffix", ".jpg")],
    )])
}

/// Everything to the queue (no filter), validation skipped, plus EventBridge.
fn everything() -> NotificationConfiguration {
    NotificationConfiguration {
        queue_configurations: Some(vec![queue(
            Some("thumbs-queue"),
            QUEUE,
            &["s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:ObjectTagging:*"],
            &[],
        )]),
        event_bridge_configuration: Some(EventBridgeConfiguration {}),
        ..NotificationConfiguration::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures: compare with fixtures/s3-events/NAME after checking the volatile fields' form.

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/s3-events")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn all(s: &str, f: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.chars().all(f)
}

/// Whether `value` has the form `placeholder` stands for (see fixtures/s3-events/README.md).
fn has_form(placeholder: &str, value: &str) -> bool {
    let digits_at = |s: &str, idx: &[usize]| idx.iter().all(|&i| s.as_bytes().get(i).is_some_and(u8::is_ascii_digit));
    match placeholder {
        "<time>" => {
            value.len() == 24
                && digits_at(value, &[0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22])
                && &value[4..5] == "-"
                && &value[10..11] == "T"
                && &value[19..20] == "."
                && value.ends_with('Z')
        }
        "<time-s>" => {
            value.len() == 20
                && digits_at(value, &[0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18])
                && value.ends_with('Z')
        }
        "<request-id>" => value.len() == 16 && all(value, |c| c.is_ascii_uppercase() || c.is_ascii_digit()),
        "<host-id>" => value.len() >= 24 && all(value, |c| c.is_ascii_alphanumeric() || "+/=".contains(c)),
        "<sequencer>" => value.len() == 18 && all(value, |c| c.is_ascii_digit() || ('A'..='F').contains(&c)),
        "<eb-sequencer>" => value.len() == 16 && all(value, |c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "<version-id>" => !value.is_empty(),
        "<uuid>" => {
            value.len() == 36
                && value.char_indices().all(|(i, c)| {
                    if [8, 13, 18, 23].contains(&i) {
                        c == '-'
                    } else {
                        c.is_ascii_hexdigit()
                    }
                })
        }
        other => panic!("unknown placeholder {other}"),
    }
}

/// `actual` with every value that `expected` holds a placeholder for replaced by the placeholder,
/// after checking its form.
fn redact(expected: &Value, actual: &Value, path: &str) -> Value {
    match (expected, actual) {
        (Value::String(p), Value::String(a)) if p.starts_with('<') && p.ends_with('>') => {
            assert!(has_form(p, a), "{path}: {a:?} does not have the form of {p}");
            Value::String(p.clone())
        }
        (Value::Object(e), Value::Object(a)) => Value::Object(
            a.iter()
                .map(|(k, v)| {
                    let v = match e.get(k) {
                        Some(ev) => redact(ev, v, &format!("{path}.{k}")),
                        None => v.clone(),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        (Value::Array(e), Value::Array(a)) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, v)| match e.get(i) {
                    Some(ev) => redact(ev, v, &format!("{path}[{i}]")),
                    None => v.clone(),
                })
                .collect(),
        ),
        _ => actual.clone(),
    }
}

#[track_caller]
fn check(name: &str, actual: &str) {
    let expected = fixture(name);
    let actual: Value = serde_json::from_str(actual).expect("message body is JSON");
    let redacted = redact(&expected, &actual, "$");
    assert_eq!(
        redacted,
        expected,
        "{name} differs:\n--- actual ---\n{}\n--- expected ---\n{}",
        serde_json::to_string_pretty(&redacted).unwrap(),
        serde_json::to_string_pretty(&expected).unwrap()
    );
}

// ---------------------------------------------------------------------------------------------
// Records and events, compared with the fixtures.

#[tokio::test(start_paused = true)]
async fn walkthrough_stores_sends_test_event_then_the_record() {
    let h = harness();
    h.put(walkthrough(), false).unwrap();
    h.settle().await;
    let got = h.sqs.got();
    assert_eq!(got.len(), 1, "exactly one s3:TestEvent: {got:?}");
    assert_eq!(got[0].0, QUEUE);
    assert_eq!(got[0].1.source_arn.as_deref(), Some("arn:aws:s3:::photos"));
    check("test-event.json", &got[0].1.body);
    let test: Value = serde_json::from_str(&got[0].1.body).unwrap();
    assert_eq!(test["Time"], "2023-11-14T22:13:15.123Z", "the clock's time");
    assert_eq!(test["RequestId"], "5582815E1AEA5ADF", "the PUT request's id");
    assert_eq!(test["HostId"], host_id("5582815E1AEA5ADF"));
    // The exact bytes, in AWS's field order.
    assert_eq!(
        &*got[0].1.body,
        format!(
            r#"{{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2023-11-14T22:13:15.123Z","Bucket":"photos","RequestId":"5582815E1AEA5ADF","HostId":"{}"}}"#,
            host_id("5582815E1AEA5ADF")
        )
    );

    h.notifier
        .emit(object_event("ObjectCreated:Put", KEY, Some(9309), Some(ETAG), None));
    h.settle().await;
    let got = h.sqs.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].0, QUEUE);
    assert_eq!(got[1].1.source_arn.as_deref(), Some("arn:aws:s3:::photos"));
    check("object-created-put.json", &got[1].1.body);
    let record: Value = serde_json::from_str(&got[1].1.body).unwrap();
    let r = &record["Records"][0];
    assert_eq!(r["eventTime"], "2023-11-14T22:13:20.123Z", "the event's time");
    assert_eq!(r["responseElements"]["x-amz-request-id"], "C3D13FE58DE4C810");
    assert_eq!(r["responseElements"]["x-amz-id-2"], host_id("C3D13FE58DE4C810"));
    // Field order as AWS writes it.
    let body = &got[1].1.body;
    let order = [
        "\"eventVersion\"",
        "\"eventSource\"",
        "\"awsRegion\"",
        "\"eventTime\"",
        "\"eventName\"",
        "\"userIdentity\"",
        "\"requestParameters\"",
        "\"responseElements\"",
        "\"s3\"",
        "\"s3SchemaVersion\"",
        "\"configurationId\"",
        "\"bucket\"",
        "\"ownerIdentity\"",
        "\"arn\"",
        "\"object\"",
        "\"key\"",
        "\"size\"",
        "\"eTag\"",
        "\"sequencer\"",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|k| body.find(k).unwrap_or_else(|| panic!("{k} missing")))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "field order: {body}");
    assert_eq!(h.engine().stats().dropped, 0);
}

/// (event name, size, etag, version id, record fixture, EventBridge fixture)
type FixtureCase = (
    &'static str,
    Option<u64>,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    Option<&'static str>,
);

#[tokio::test(start_paused = true)]
async fn every_write_path_matches_its_fixture() {
    let h = harness_with(true);
    h.put(everything(), true).unwrap();
    let cases: [FixtureCase; 11] = [
        (
            "ObjectCreated:Put",
            Some(9309),
            Some(ETAG),
            None,
            "object-created-put.json",
            Some("eventbridge-object-created.json"),
        ),
        (
            "ObjectCreated:Put",
            Some(9309),
            Some(ETAG),
            Some("096fKKXTRTtl3on89fVO.nfljtsv6qko"),
            "object-created-put-versioned.json",
            None,
        ),
        (
            "ObjectCreated:Post",
            Some(9309),
            Some(ETAG),
            None,
            "object-created-post.json",
            None,
        ),
        (
            "ObjectCreated:Copy",
            Some(9309),
            Some(ETAG),
            None,
            "object-created-copy.json",
            None,
        ),
        (
            "ObjectCreated:CompleteMultipartUpload",
            Some(10_485_760),
            Some("f1c9645dbc14efddc7d8a322685f26eb-2"),
            None,
            "object-created-complete-multipart-upload.json",
            Some("eventbridge-object-created-multipart.json"),
        ),
        (
            "ObjectRemoved:Delete",
            None,
            None,
            None,
            "object-removed-delete.json",
            Some("eventbridge-object-deleted.json"),
        ),
        // The object side may pass what it knew about the removed object: AWS still omits it.
        (
            "ObjectRemoved:Delete",
            Some(9309),
            Some(ETAG),
            Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"),
            "object-removed-delete-versioned.json",
            None,
        ),
        (
            "ObjectRemoved:DeleteMarkerCreated",
            None,
            None,
            Some("1QW9g1Z99LUNbvaaYVpW9xDlOLU.qxgF"),
            "object-removed-delete-marker-created.json",
            Some("eventbridge-object-deleted-marker.json"),
        ),
        (
            "ObjectTagging:Put",
            Some(9309),
            Some(ETAG),
            None,
            "object-tagging-put.json",
            Some("eventbridge-object-tags-added.json"),
        ),
        (
            "ObjectTagging:Delete",
            None,
            Some(ETAG),
            None,
            "object-tagging-delete.json",
            Some("eventbridge-object-tags-deleted.json"),
        ),
        (
            "s3:ObjectCreated:Post",
            Some(9309),
            Some(ETAG),
            None,
            "object-created-post.json",
            None,
        ),
    ];
    for (name, size, etag, version, record_fixture, eb_fixture) in cases {
        let before_q = h.sqs.got().len();
        let before_e = h.events.got().len();
        h.notifier.emit(object_event(name, KEY, size, etag, version));
        h.settle().await;
        let got = h.sqs.got();
        assert_eq!(got.len(), before_q + 1, "{name}: one record");
        check(record_fixture, &got[before_q].1.body);
        let ev = h.events.got();
        assert_eq!(ev.len(), before_e + 1, "{name}: one EventBridge event");
        assert_eq!(
            ev[before_e].0,
            "arn:aws:events:us-east-1:000000000000:event-bus/default"
        );
        assert_eq!(ev[before_e].1.source_arn.as_deref(), Some("arn:aws:s3:::photos"));
        if let Some(eb) = eb_fixture {
            check(eb, &ev[before_e].1.body);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn sequencers_increase_and_are_shared_by_an_events_destinations() {
    let h = harness_with(true);
    // Overlap rules send each event to at most one configuration; EventBridge gets every event.
    let config = NotificationConfiguration {
        queue_configurations: Some(vec![queue(Some("q"), QUEUE, &["s3:ObjectCreated:*"], &[])]),
        topic_configurations: Some(vec![topic(Some("t"), TOPIC, &["s3:ObjectRemoved:*"], &[])]),
        event_bridge_configuration: Some(EventBridgeConfiguration {}),
        ..NotificationConfiguration::default()
    };
    h.put(config, true).unwrap();
    // Policies are evaluated at delivery too.
    h.sns.add(TOPIC, s3_may_send(TOPIC, "SNS:Publish", BUCKET));
    h.notifier
        .emit(object_event("ObjectCreated:Put", KEY, Some(1), Some(ETAG), None));
    h.notifier
        .emit(object_event("ObjectCreated:Put", KEY, Some(2), Some(ETAG), None));
    h.notifier
        .emit(object_event("ObjectRemoved:Delete", KEY, None, None, None));
    h.settle().await;
    let seq = |body: &str| {
        let v: Value = serde_json::from_str(body).unwrap();
        v["Records"][0]["s3"]["object"]["sequencer"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let mut records: Vec<String> = h.sqs.bodies().iter().map(|(_, b)| seq(b)).collect();
    records.extend(h.sns.bodies().iter().map(|(_, b)| seq(b)));
    assert_eq!(records.len(), 3);
    assert!(records[0] < records[1] && records[1] < records[2], "{records:?}");
    // AWS compares after padding the shorter with zeros: these are all the same length anyway.
    assert!(records.iter().all(|s| s.len() == 18));
    let eb: Vec<String> = h
        .events
        .bodies()
        .iter()
        .map(|(_, b)| {
            serde_json::from_str::<Value>(b).unwrap()["detail"]["object"]["sequencer"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(eb.len(), 3);
    for (n, e) in records.iter().zip(&eb) {
        assert_eq!(&n[2..].to_ascii_lowercase(), e, "EventBridge shows the same sequencer");
    }
}

#[tokio::test(start_paused = true)]
async fn keys_are_url_encoded_and_ids_come_from_the_request() {
    let h = harness();
    h.put(
        queues(vec![queue(Some("q"), QUEUE, &["s3:ObjectCreated:*"], &[])]),
        true,
    )
    .unwrap();
    let mut ev = object_event("ObjectCreated:Put", "dir/a b+c@(1)=é.txt", Some(3), Some(ETAG), None);
    ev.ctx.request_id = "0000000000000001".to_owned();
    ev.ctx.access_key = None;
    ev.ctx.source_ip = "10.1.2.3".parse().unwrap();
    h.notifier.emit(ev);
    h.settle().await;
    let got = h.sqs.bodies();
    let v: Value = serde_json::from_str(&got[0].1).unwrap();
    let r = &v["Records"][0];
    assert_eq!(r["s3"]["object"]["key"], "dir/a+b%2Bc%40%281%29%3D%C3%A9.txt");
    assert_eq!(r["responseElements"]["x-amz-request-id"], "0000000000000001");
    assert_eq!(r["userIdentity"]["principalId"], "Anonymous");
    assert_eq!(r["requestParameters"]["sourceIPAddress"], "10.1.2.3");
    assert_eq!(r["s3"]["configurationId"], "q");
}

#[tokio::test(start_paused = true)]
async fn eventbridge_without_an_events_service_is_dropped_and_counted() {
    let h = harness();
    h.put(
        NotificationConfiguration {
            event_bridge_configuration: Some(EventBridgeConfiguration {}),
            ..NotificationConfiguration::default()
        },
        false,
    )
    .unwrap();
    h.settle().await;
    assert!(h.sqs.got().is_empty(), "no test event for EventBridge");
    h.notifier
        .emit(object_event("ObjectCreated:Put", KEY, Some(1), Some(ETAG), None));
    h.settle().await;
    assert_eq!(h.engine().stats().submitted, 1);
    assert_eq!(h.engine().stats().dropped, 1, "no service handles arn:aws:events");
    assert_eq!(
        h.notifier.stats(),
        NotifierStats {
            events: 1,
            filtered: 0,
            messages: 1
        }
    );
    assert!(h
        .notifier
        .get_configuration(BUCKET)
        .event_bridge_configuration
        .is_some());
}

// ---------------------------------------------------------------------------------------------
// What does not match produces nothing.

#[tokio::test(start_paused = true)]
async fn non_matching_keys_and_events_produce_nothing() {
    let h = harness();
    h.put(walkthrough(), true).unwrap();
    for (name, key) in [
        ("ObjectCreated:Put", "docs/beach.jpg"),      // prefix
        ("ObjectCreated:Put", "images/beach.png"),    // suffix
        ("ObjectCreated:Put", "images/beach.JPG"),    // case-sensitive
        ("ObjectCreated:Put", "Images/beach.jpg"),    // case-sensitive
        ("ObjectRemoved:Delete", "images/beach.jpg"), // event type
        ("ObjectTagging:Put", "images/beach.jpg"),    // event type
        ("NotAnEvent:Put", "images/beach.jpg"),       // not an S3 event
    ] {
        h.notifier.emit(object_event(name, key, Some(1), Some(ETAG), None));
    }
    let mut other_bucket = object_event("ObjectCreated:Put", "images/x.jpg", Some(1), Some(ETAG), None);
    other_bucket.bucket = "other".to_owned();
    h.notifier.emit(other_bucket);
    h.settle().await;
    assert!(h.sqs.got().is_empty(), "{:?}", h.sqs.bodies());
    assert_eq!(
        h.notifier.stats(),
        NotifierStats {
            events: 8,
            filtered: 8,
            messages: 0
        }
    );
    h.notifier.emit(object_event(
        "ObjectCreated:Put",
        "images/a.jpg",
        Some(1),
        Some(ETAG),
        None,
    ));
    h.settle().await;
    assert_eq!(h.sqs.got().len(), 1, "a matching key still goes through");
}

#[test]
fn event_patterns_match_by_family_wildcard() {
    assert!(event_matches("ObjectCreated:*", "ObjectCreated:Put"));
    assert!(event_matches(
        "ObjectCreated:*",
        "ObjectCreated:CompleteMultipartUpload"
    ));
    assert!(event_matches("ObjectRemoved:Delete", "ObjectRemoved:Delete"));
    assert!(!event_matches(
        "ObjectRemoved:Delete",
        "ObjectRemoved:DeleteMarkerCreated"
    ));
    assert!(!event_matches("ObjectCreated:*", "ObjectCreatedX:Put"));
    assert!(!event_matches("ObjectCreated:*", "ObjectRemoved:Delete"));
    assert!(event_matches("LifecycleTransition", "LifecycleTransition"));
}

// ---------------------------------------------------------------------------------------------
// Configuration: storage, ids, removal.

#[tokio::test(start_paused = true)]
async fn get_returns_what_was_stored_with_ids_and_canonical_rule_names() {
    let h = harness();
    assert_eq!(
        h.notifier.get_configuration(BUCKET),
        NotificationConfiguration::default()
    );
    h.put(walkthrough(), false).unwrap();
    let got = h.notifier.get_configuration(BUCKET);
    let mut expected = walkthrough();
    expected.queue_configurations.as_mut().unwrap()[0].filter = filter(&[("Prefix", "images/"), ("Suffix", ".jpg")]);
    assert_eq!(got, expected);
}

#[tokio::test(start_paused = true)]
async fn missing_ids_are_generated_like_aws() {
    let h = harness();
    h.sqs.add(QUEUE2, s3_may_send(QUEUE2, "sqs:SendMessage", BUCKET));
    h.put(
        queues(vec![
            queue(None, QUEUE, &["s3:ObjectCreated:*"], &[]),
            queue(Some(""), QUEUE2, &["s3:ObjectRemoved:*"], &[]),
        ]),
        false,
    )
    .unwrap();
    let got = h.notifier.get_configuration(BUCKET);
    let ids: Vec<String> = got
        .queue_configurations
        .unwrap()
        .into_iter()
        .map(|q| q.id.unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    use base64::Engine as _;
    for id in &ids {
        assert_eq!(id.len(), 48, "{id}");
        let decoded = base64::engine::general_purpose::STANDARD.decode(id).unwrap();
        let uuid = String::from_utf8(decoded).unwrap();
        assert!(has_form("<uuid>", &uuid), "{uuid}");
    }
    // The record names the generated id.
    h.notifier
        .emit(object_event("ObjectCreated:Put", KEY, Some(1), Some(ETAG), None));
    h.settle().await;
    // Order is kept per destination, not across them: take the first queue's last message.
    let last = h.sqs.bodies().into_iter().rfind(|(arn, _)| arn == QUEUE).unwrap().1;
    let v: Value = serde_json::from_str(&last).unwrap();
    assert_eq!(v["Records"][0]["s3"]["configurationId"], ids[0].as_str());
}

#[tokio::test(start_paused = true)]
async fn empty_configuration_and_bucket_removal_turn_notifications_off() {
    let h = harness();
    h.put(walkthrough(), true).unwrap();
    h.put(NotificationConfiguration::default(), false).unwrap();
    assert_eq!(
        h.notifier.get_configuration(BUCKET),
        NotificationConfiguration::default()
    );
    h.notifier.emit(object_event(
        "ObjectCreated:Put",
        "images/a.jpg",
        Some(1),
        Some(ETAG),
        None,
    ));

    h.put(walkthrough(), true).unwrap();
    h.notifier.remove_bucket(BUCKET);
    assert_eq!(
        h.notifier.get_configuration(BUCKET),
        NotificationConfiguration::default()
    );
    h.notifier.emit(object_event(
        "ObjectCreated:Put",
        "images/a.jpg",
        Some(1),
        Some(ETAG),
        None,
    ));
    h.settle().await;
    assert!(h.sqs.got().is_empty());
    assert_eq!(h.notifier.stats().filtered, 2);
}

// ---------------------------------------------------------------------------------------------
// Validation errors: exact code, message and extra elements.

#[track_caller]
fn assert_error(err: NotificationError, code: &str, message: &str, details: &[(&str, &str)]) {
    assert_eq!(err.code, code, "{err}");
    assert_eq!(err.message, message, "{err}");
    assert_eq!(err.status, 400);
    let got: Vec<(&str, &str)> = err.details.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(got, details, "{err}");
}

#[tokio::test(start_paused = true)]
async fn overlapping_configurations_are_rejected() {
    let h = harness();
    let overlap = "Configurations overlap. Configurations on the same bucket cannot share a common event type.";
    let rejected = [
        // The User Guide's invalid examples: a root prefix overlaps any prefix...
        NotificationConfiguration {
            topic_configurations: Some(vec![
                topic(None, TOPIC, &["s3:ObjectCreated:*"], &[]),
                topic(None, TOPIC, &["s3:ObjectCreated:*"], &[("prefix", "images")]),
            ]),
            ..Default::default()
        },
        // ...jpg and pg overlap, and ObjectCreated:* shares ObjectCreated:Put...
        NotificationConfiguration {
            topic_configurations: Some(vec![
                topic(None, TOPIC, &["s3:ObjectCreated:*"], &[("suffix", "jpg")]),
                topic(None, TOPIC, &["s3:ObjectCreated:Put"], &[("suffix", "pg")]),
            ]),
            ..Default::default()
        },
        // ...prefix+suffix against the same suffix.
        NotificationConfiguration {
            topic_configurations: Some(vec![
                topic(
                    None,
                    TOPIC,
                    &["s3:ObjectCreated:*"],
                    &[("prefix", "images"), ("suffix", "jpg")],
                ),
                topic(None, TOPIC, &["s3:ObjectCreated:Put"], &[("suffix", "jpg")]),
            ]),
            ..Default::default()
        },
        // Across destination types.
        NotificationConfiguration {
            queue_configurations: Some(vec![queue(None, QUEUE, &["s3:ObjectRemoved:Delete"], &[])]),
            lambda_function_configurations: Some(vec![lambda(None, LAMBDA, &["s3:ObjectRemoved:*"])]),
            ..Default::default()
        },
        // The same configuration twice.
        queues(vec![
            queue(Some("a"), QUEUE, &["s3:ObjectCreated:Put"], &[("prefix", "images/")]),
            queue(Some("b"), QUEUE, &["s3:ObjectCreated:Put"], &[("prefix", "images/")]),
        ]),
    ];
    for config in rejected {
        // Skipping destination validation does not skip this check.
        assert_error(h.put(config, true).unwrap_err(), "InvalidArgument", overlap, &[]);
    }
    let accepted = [
        // Different prefixes; shared prefix with distinct suffixes; overlapping filters on different events.
        queues(vec![
            queue(None, QUEUE, &["s3:ObjectCreated:Put"], &[("prefix", "images/")]),
            queue(None, QUEUE, &["s3:ObjectCreated:Put"], &[("prefix", "logs/")]),
        ]),
        queues(vec![
            queue(
                None,
                QUEUE,
                &["s3:ObjectCreated:Put"],
                &[("prefix", "images"), ("suffix", ".jpg")],
            ),
            queue(
                None,
                QUEUE,
                &["s3:ObjectCreated:Put"],
                &[("prefix", "images"), ("suffix", ".png")],
            ),
        ]),
        queues(vec![
            queue(None, QUEUE, &["s3:ObjectCreated:Put"], &[("prefix", "image/")]),
            queue(None, QUEUE, &["s3:ObjectRemoved:*"], &[("prefix", "image/")]),
        ]),
        queues(vec![
            queue(None, QUEUE, &["s3:ObjectRemoved:Delete"], &[]),
            queue(None, QUEUE, &["s3:ObjectRemoved:DeleteMarkerCreated"], &[]),
        ]),
    ];
    for config in accepted {
        h.put(config, true).unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn bad_filter_rules_are_rejected() {
    let h = harness();
    let with_rules = |rules: &[(&str, &str)]| queues(vec![queue(None, QUEUE, &["s3:ObjectCreated:*"], rules)]);
    assert_error(
        h.put(with_rules(&[("INVALID", "x")]), false).unwrap_err(),
        "InvalidArgument",
        "filter rule name must be either prefix or suffix",
        &[("ArgumentName", "FilterRule.Name"), ("ArgumentValue", "INVALID")],
    );
    assert_error(
        h.put(with_rules(&[("prefix", "a"), ("Prefix", "b")]), false)
            .unwrap_err(),
        "InvalidArgument",
        "Cannot specify more than one prefix rule in a filter.",
        &[],
    );
    assert_error(
        h.put(with_rules(&[("suffix", "a"), ("suffix", "b")]), false)
            .unwrap_err(),
        "InvalidArgument",
        "Cannot specify more than one suffix rule in a filter.",
        &[],
    );
    let long = "k".repeat(1025);
    assert_error(
        h.put(with_rules(&[("prefix", &long)]), false).unwrap_err(),
        "InvalidArgument",
        "Size of filter rule value cannot exceed 1024 bytes in UTF-8 representation",
        &[],
    );
    assert!(
        h.sqs.asked().is_empty(),
        "no destination is asked about a malformed configuration"
    );
}

#[tokio::test(start_paused = true)]
async fn unknown_event_names_and_unparsable_arns_are_rejected_even_when_skipping_validation() {
    let h = harness();
    for skip in [false, true] {
        assert_error(
            h.put(queues(vec![queue(None, QUEUE, &["s3:ObjectCreated:Get"], &[])]), skip)
                .unwrap_err(),
            "InvalidArgument",
            "The event is not supported for notifications",
            &[],
        );
        assert_error(
            h.put(queues(vec![queue(None, QUEUE, &["ObjectCreated:Put"], &[])]), skip)
                .unwrap_err(),
            "InvalidArgument",
            "The event is not supported for notifications",
            &[],
        );
        assert_error(
            h.put(
                queues(vec![queue(None, "invalid-queue", &["s3:ObjectCreated:*"], &[])]),
                skip,
            )
            .unwrap_err(),
            "InvalidArgument",
            "The ARN could not be parsed",
            &[("ArgumentName", "Queue"), ("ArgumentValue", "invalid-queue")],
        );
        let topic_config = NotificationConfiguration {
            topic_configurations: Some(vec![topic(None, QUEUE, &["s3:ObjectCreated:*"], &[])]),
            ..Default::default()
        };
        assert_error(
            h.put(topic_config, skip).unwrap_err(),
            "InvalidArgument",
            "The ARN could not be parsed",
            &[("ArgumentName", "Topic"), ("ArgumentValue", QUEUE)],
        );
        let lambda_config = NotificationConfiguration {
            lambda_function_configurations: Some(vec![lambda(
                None,
                "arn:aws:lambda:us-east-1:000000000000:thumbs",
                &["s3:ObjectCreated:*"],
            )]),
            ..Default::default()
        };
        assert_error(
            h.put(lambda_config, skip).unwrap_err(),
            "InvalidArgument",
            "The ARN could not be parsed",
            &[
                ("ArgumentName", "CloudFunction"),
                ("ArgumentValue", "arn:aws:lambda:us-east-1:000000000000:thumbs"),
            ],
        );
        assert_error(
            h.put(
                queues(vec![queue(
                    None,
                    "arn:aws:sqs:eu-west-1:000000000000:uploads",
                    &["s3:ObjectCreated:*"],
                    &[],
                )]),
                skip,
            )
            .unwrap_err(),
            "InvalidArgument",
            "The notification destination service region is not valid for the bucket location constraint",
            &[],
        );
        assert_error(
            h.put(queues(vec![queue(None, QUEUE, &[], &[])]), skip).unwrap_err(),
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
            &[],
        );
    }
    // Every supported event name is accepted.
    for (i, name) in config::SUPPORTED_EVENTS.iter().enumerate() {
        let prefix = format!("p{i}/");
        h.put(
            queues(vec![queue(None, QUEUE, &[name], &[("prefix", prefix.as_str())])]),
            true,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[tokio::test(start_paused = true)]
async fn missing_destinations_are_all_listed() {
    let h = harness();
    let config = NotificationConfiguration {
        topic_configurations: Some(vec![topic(None, TOPIC, &["s3:ObjectTagging:*"], &[])]),
        queue_configurations: Some(vec![
            queue(
                None,
                "arn:aws:sqs:us-east-1:000000000000:my-queue",
                &["s3:ObjectCreated:*"],
                &[],
            ),
            queue(None, QUEUE, &["s3:ObjectRemoved:*"], &[]),
            queue(
                None,
                "arn:aws:sqs:us-east-1:000000000000:my-queue-2",
                &["s3:ObjectRestore:*"],
                &[],
            ),
        ]),
        lambda_function_configurations: Some(vec![lambda(None, LAMBDA, &["s3:ObjectAcl:Put"])]),
        ..Default::default()
    };
    assert_error(
        h.put(config, false).unwrap_err(),
        "InvalidArgument",
        "Unable to validate the following destination configurations",
        &[
            ("ArgumentName1", TOPIC),
            ("ArgumentValue1", "The destination topic does not exist"),
            ("ArgumentName2", "arn:aws:sqs:us-east-1:000000000000:my-queue"),
            ("ArgumentValue2", "The destination queue does not exist"),
            ("ArgumentName3", "arn:aws:sqs:us-east-1:000000000000:my-queue-2"),
            ("ArgumentValue3", "The destination queue does not exist"),
            (
                "ArgumentName4",
                "arn:aws:lambda:us-east-1:000000000000:function:thumbs, null",
            ),
            (
                "ArgumentValue4",
                "Not authorized to invoke function [arn:aws:lambda:us-east-1:000000000000:function:thumbs]",
            ),
        ],
    );
    h.settle().await;
    assert!(h.sqs.got().is_empty(), "no test event for a rejected configuration");
    assert_eq!(
        h.notifier.get_configuration(BUCKET),
        NotificationConfiguration::default()
    );
}

#[tokio::test(start_paused = true)]
async fn destinations_are_asked_with_s3s_principal_and_the_bucket() {
    let h = harness();
    h.sns.add(TOPIC, s3_may_send(TOPIC, "SNS:Publish", BUCKET));
    let config = NotificationConfiguration {
        topic_configurations: Some(vec![topic(None, TOPIC, &["s3:ObjectRemoved:*"], &[])]),
        queue_configurations: Some(vec![queue(None, QUEUE, &["s3:ObjectCreated:*"], &[])]),
        ..Default::default()
    };
    h.put(config, false).unwrap();
    let asked: Vec<Asked> = h.sns.asked().into_iter().chain(h.sqs.asked()).collect();
    assert_eq!(asked.len(), 2);
    for (a, (arn, action)) in asked.iter().zip([(TOPIC, "sns:Publish"), (QUEUE, "sqs:SendMessage")]) {
        assert_eq!(a.arn, arn);
        assert_eq!(a.resource, arn);
        assert_eq!(a.principal, "s3.amazonaws.com");
        assert_eq!(a.action, action);
        assert_eq!(a.source_arn.as_deref(), Some("arn:aws:s3:::photos"));
        assert_eq!(a.source_account.as_deref(), Some(ACCOUNT));
    }
    h.settle().await;
    assert_eq!(h.sqs.got().len(), 1, "test event to the queue");
    assert_eq!(h.sns.got().len(), 1, "test event to the topic");
    check("test-event.json", &h.sns.got()[0].1.body);
}

#[tokio::test(start_paused = true)]
async fn denied_policies_are_reported_per_destination() {
    let h = harness();
    // A queue whose policy names another bucket, and a topic with no S3 statement at all.
    h.sqs
        .add(QUEUE2, s3_may_send(QUEUE2, "sqs:SendMessage", "other-bucket"));
    h.sns.add(TOPIC, json!({"Statement": []}));
    let config = NotificationConfiguration {
        topic_configurations: Some(vec![topic(None, TOPIC, &["s3:ObjectRemoved:*"], &[])]),
        queue_configurations: Some(vec![
            queue(None, QUEUE, &["s3:ObjectCreated:*"], &[]),
            queue(None, QUEUE2, &["s3:ObjectTagging:*"], &[]),
        ]),
        ..Default::default()
    };
    assert_error(
        h.put(config, false).unwrap_err(),
        "InvalidArgument",
        "Unable to validate the following destination configurations",
        &[
            ("ArgumentName1", TOPIC),
            (
                "ArgumentValue1",
                "Permissions on the destination topic do not allow S3 to publish notifications from this bucket",
            ),
            ("ArgumentName2", QUEUE2),
            (
                "ArgumentValue2",
                "Permissions on the destination queue do not allow S3 to publish notifications from this bucket",
            ),
        ],
    );
    // An explicit deny wins over the allow.
    let mut policy = s3_may_send(QUEUE, "sqs:SendMessage", BUCKET);
    policy["Statement"].as_array_mut().unwrap().push(json!({
        "Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": QUEUE
    }));
    h.sqs.add(QUEUE, policy);
    let err = h.put(walkthrough(), false).unwrap_err();
    assert_eq!(err.detail("ArgumentName1"), Some(QUEUE));
    // A wrong source account is denied too.
    let mut other_account = h.notifier.get_configuration(BUCKET);
    other_account.queue_configurations = walkthrough().queue_configurations;
    h.sqs.add(QUEUE, s3_may_send(QUEUE, "sqs:SendMessage", BUCKET));
    let mut foreign = ctx("5582815E1AEA5ADF");
    foreign.account = "111111111111".to_owned();
    let err = h
        .notifier
        .put_configuration_detailed(BUCKET, REGION, other_account, false, &foreign)
        .unwrap_err();
    assert_eq!(
        err.detail("ArgumentValue1"),
        Some("Permissions on the destination queue do not allow S3 to publish notifications from this bucket")
    );
}

#[tokio::test(start_paused = true)]
async fn skipping_destination_validation_accepts_missing_destinations_silently() {
    let h = harness();
    let config = NotificationConfiguration {
        queue_configurations: Some(vec![queue(
            Some("id123"),
            "arn:aws:sqs:us-east-1:000000000000:my-queue",
            &["s3:ObjectCreated:*"],
            &[],
        )]),
        lambda_function_configurations: Some(vec![lambda(Some("fn"), LAMBDA, &["s3:ObjectRemoved:*"])]),
        ..Default::default()
    };
    h.put(config.clone(), true).unwrap();
    assert_eq!(h.notifier.get_configuration(BUCKET), config);
    assert!(h.sqs.asked().is_empty(), "nothing asked");
    h.settle().await;
    assert_eq!(
        h.engine().stats().submitted,
        0,
        "no test event when validation is skipped"
    );
    // Events still go to the (missing) destinations and end as dropped-with-a-reason.
    h.notifier
        .emit(object_event("ObjectCreated:Put", KEY, Some(1), Some(ETAG), None));
    h.notifier
        .emit(object_event("ObjectRemoved:Delete", KEY, None, None, None));
    h.settle().await;
    let s = h.engine().stats();
    assert_eq!((s.submitted, s.delivered, s.dropped), (2, 0, 2));
}

#[tokio::test(start_paused = true)]
async fn a_rejected_configuration_leaves_the_old_one_in_place() {
    let h = harness();
    h.put(walkthrough(), false).unwrap();
    let before = h.notifier.get_configuration(BUCKET);
    h.settle().await;
    let sent_before = h.sqs.got().len();
    let bad = [
        // A valid queue and a missing one: nothing of it is applied.
        queues(vec![
            queue(Some("new"), QUEUE, &["s3:ObjectRemoved:*"], &[]),
            queue(
                Some("missing"),
                "arn:aws:sqs:us-east-1:000000000000:nope",
                &["s3:ObjectTagging:*"],
                &[],
            ),
        ]),
        queues(vec![queue(
            Some("new"),
            QUEUE,
            &["s3:ObjectRemoved:*"],
            &[("middle", "x")],
        )]),
        queues(vec![
            queue(Some("new"), QUEUE, &["s3:ObjectRemoved:*"], &[]),
            queue(Some("new2"), QUEUE, &["s3:ObjectRemoved:Delete"], &[]),
        ]),
    ];
    for config in bad {
        assert!(h.put(config, false).is_err());
        assert_eq!(h.notifier.get_configuration(BUCKET), before);
    }
    h.settle().await;
    assert_eq!(
        h.sqs.got().len(),
        sent_before,
        "no test event for rejected configurations"
    );
    h.notifier
        .emit(object_event("ObjectRemoved:Delete", "images/a.jpg", None, None, None));
    h.notifier.emit(object_event(
        "ObjectCreated:Put",
        "images/a.jpg",
        Some(1),
        Some(ETAG),
        None,
    ));
    h.settle().await;
    let got = h.sqs.bodies();
    assert_eq!(got.len(), sent_before + 1, "only the old configuration's event");
    assert!(got.last().unwrap().1.contains("\"ObjectCreated:Put\""));
}

#[test]
fn notification_errors_become_s3_errors_with_the_details_as_source() {
    let err = NotificationError::invalid_argument("Unable to validate the following destination configurations")
        .numbered_argument(1, QUEUE, "The destination queue does not exist");
    let s3: s3s::S3Error = err.clone().into();
    assert_eq!(s3.code(), &s3s::S3ErrorCode::InvalidArgument);
    assert_eq!(
        s3.message(),
        Some("Unable to validate the following destination configurations")
    );
    assert_eq!(s3.status_code(), Some(http::StatusCode::BAD_REQUEST));
    let source = s3.source().and_then(|s| s.downcast_ref::<NotificationError>()).unwrap();
    assert_eq!(source, &err);
    assert_eq!(
        err.extra_elements(),
        vec![
            ("ArgumentName1", QUEUE.to_owned()),
            ("ArgumentValue1", "The destination queue does not exist".to_owned())
        ]
    );
    let malformed: s3s::S3Error = NotificationError::malformed_xml().into();
    assert_eq!(malformed.code(), &s3s::S3ErrorCode::MalformedXML);
}

#[tokio::test(start_paused = true)]
async fn put_configuration_reports_the_s3_error() {
    let h = harness();
    let err = h
        .notifier
        .put_configuration(
            BUCKET,
            REGION,
            queues(vec![queue(None, "nope", &["s3:ObjectCreated:*"], &[])]),
            false,
            &ctx("X"),
        )
        .unwrap_err();
    assert_eq!(err.code(), &s3s::S3ErrorCode::InvalidArgument);
    assert_eq!(err.message(), Some("The ARN could not be parsed"));
}

// ---------------------------------------------------------------------------------------------
// The delivery engine: what each delivery carries, and its fate in the ledger.

#[tokio::test(start_paused = true)]
async fn deliveries_name_their_producer_request_and_sender() {
    let h = harness();
    h.put(walkthrough(), false).unwrap();
    let mut event = object_event("ObjectCreated:Put", KEY, Some(1), Some(ETAG), None);
    event.ctx.trace_header = Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".to_owned());
    h.notifier.emit(event);
    h.settle().await;
    let got = h.sqs.got();
    assert_eq!(got.len(), 2, "test event and record");
    let msg = &got[1].1;
    assert_eq!(msg.principal.as_deref(), Some("s3.amazonaws.com"));
    assert_eq!(msg.source_arn.as_deref(), Some("arn:aws:s3:::photos"));
    assert_eq!(msg.source_account.as_deref(), Some(ACCOUNT));
    assert_eq!(
        msg.trace_header.as_deref(),
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
    );

    let records = h.engine().ledger().query(&LedgerQuery {
        producer: Some("arn:aws:s3:::photos".to_owned()),
        ..LedgerQuery::default()
    });
    assert_eq!(records.len(), 2, "{records:?}");
    // Newest first: the record, then the test event.
    let (record, test) = (&records[0], &records[1]);
    assert_eq!(&*record.producer.arn, "arn:aws:s3:::photos");
    assert_eq!(
        record.producer.id.as_deref(),
        Some("thumbs-queue"),
        "the configuration's Id"
    );
    assert_eq!(
        record.event_id.as_deref(),
        Some("C3D13FE58DE4C810"),
        "the PUT's request id"
    );
    assert_eq!(&*record.target, QUEUE);
    assert_eq!(record.fate, Fate::Delivered);
    assert_eq!(record.attempt_count, 1);
    assert_eq!(test.producer.id, None, "s3:TestEvent belongs to no one configuration");
    assert_eq!(test.event_id.as_deref(), Some("5582815E1AEA5ADF"));
    let s = h.engine().stats();
    assert_eq!((s.submitted, s.delivered, s.dropped), (2, 2, 0));
}

#[tokio::test(start_paused = true)]
async fn a_policy_removed_after_configuration_drops_the_delivery_with_access_denied() {
    let h = harness();
    h.put(walkthrough(), false).unwrap();
    h.settle().await;
    // The queue's owner replaces the policy with one that names another bucket.
    h.sqs.add(QUEUE, s3_may_send(QUEUE, "SQS:SendMessage", "someone-else"));
    h.notifier
        .emit(object_event("ObjectCreated:Put", KEY, Some(1), Some(ETAG), None));
    h.settle().await;
    assert_eq!(h.sqs.got().len(), 1, "only the test event was delivered");
    let dropped = h.engine().ledger().query(&LedgerQuery {
        producer: Some("arn:aws:s3:::photos".to_owned()),
        fate: Some(Fate::Dropped),
        ..LedgerQuery::default()
    });
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!(dropped[0].attempt_count, 1, "an access-denied delivery is not retried");
    assert_eq!(dropped[0].attempts[0].outcome, "access-denied");
    let reason = dropped[0].reason.as_deref().unwrap_or_default();
    assert!(reason.contains("AccessDenied"), "{reason}");
    let s = h.engine().stats();
    assert_eq!((s.delivered, s.dropped), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_throttled_destination_is_retried_on_the_engines_timers() {
    let h = harness();
    h.put(walkthrough(), false).unwrap();
    h.settle().await;
    h.sqs.throttle.store(3, std::sync::atomic::Ordering::SeqCst);
    let started = tokio::time::Instant::now();
    h.notifier
        .emit(object_event("ObjectCreated:Put", KEY, Some(1), Some(ETAG), None));
    h.settle().await;
    assert_eq!(h.sqs.got().len(), 2, "the record arrived after its retries");
    let [record] = &h.engine().ledger().query(&LedgerQuery {
        producer: Some("arn:aws:s3:::photos".to_owned()),
        limit: Some(1),
        ..LedgerQuery::default()
    })[..] else {
        panic!("one record")
    };
    assert_eq!(record.fate, Fate::Delivered);
    assert_eq!(record.attempt_count, 4, "three throttled attempts, then delivered");
    let outcomes: Vec<&str> = record.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(outcomes, ["retryable", "retryable", "retryable", "delivered"]);
    assert_eq!(h.engine().stats().retried, 3);
    // Back-off waited on (paused) time, not in line: at least the first waits' halves.
    assert!(
        started.elapsed() >= Duration::from_millis(50 + 100 + 200),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_engine_drops_the_event_and_never_fails_the_s3_call() {
    let h = harness_configured(
        false,
        EngineConfig {
            max_pending_per_target: 2,
            concurrency_per_target: 1,
            ..EngineConfig::default()
        },
    );
    h.put(walkthrough(), true).unwrap();
    h.sqs.hang.store(true, std::sync::atomic::Ordering::SeqCst);
    for _ in 0..5 {
        // `emit` returns at once whatever the engine's state.
        h.notifier
            .emit(object_event("ObjectCreated:Put", KEY, Some(1), Some(ETAG), None));
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    let s = h.engine().stats();
    assert_eq!((s.submitted, s.pending, s.dropped), (5, 2, 3), "{s:?}");
    let dropped = h.engine().ledger().query(&LedgerQuery {
        fate: Some(Fate::Dropped),
        ..LedgerQuery::default()
    });
    assert_eq!(dropped.len(), 3);
    assert!(dropped.iter().all(|r| r.reason.is_some() && r.attempts.is_empty()));
    assert_eq!(h.notifier.stats().messages, 5);
}
