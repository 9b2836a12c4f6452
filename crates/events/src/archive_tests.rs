//! Archives and replays, without HTTP: routing through the engine to a fake target on paused
//! tokio time.

use std::sync::{Arc, Mutex};

use lb_core::arn::Arn;
use lb_core::deliver::{BoxFuture, DeliveryError, DestinationError, Engine, Message, Registry, Target};
use lb_core::policy::PolicyRequest;
use lb_core::{Clock, RequestContext, TokioClock};
use serde_json::{json, Value};

use crate::archive::{
    ArchiveState, CreateArchiveInput, ListArchivesInput, ReplayDestination, ReplayState, StartReplayInput,
    UpdateArchiveInput,
};
use crate::model::{ListInput, PutEventsEntry, PutEventsResult, PutRuleInput};
use crate::{Events, EventsConfig};

const T0: u64 = 1_700_000_000_000;
const BUS: &str = "arn:aws:events:us-east-1:000000000000:event-bus/default";
const Q1: &str = "arn:aws:sqs:us-east-1:000000000000:q1";
const Q2: &str = "arn:aws:sqs:us-east-1:000000000000:q2";

/// Records what it receives, by queue name.
#[derive(Default)]
struct Fake {
    got: Mutex<Vec<(String, Value)>>,
}

impl Fake {
    fn take(&self, queue: &str) -> Vec<Value> {
        let mut got = self.got.lock().unwrap();
        let (mine, rest): (Vec<_>, Vec<_>) = got.drain(..).partition(|(q, _)| q == queue);
        *got = rest;
        mine.into_iter().map(|(_, v)| v).collect()
    }
}

impl Target for Fake {
    fn deliver<'a>(&'a self, arn: &'a Arn, msg: &'a Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
        let body = serde_json::from_str(&msg.body).unwrap_or(Value::Null);
        self.got.lock().unwrap().push((arn.resource.clone(), body));
        Box::pin(async { Ok(()) })
    }

    fn authorize(&self, _arn: &Arn, _req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
        Ok(())
    }
}

struct Rig {
    events: Arc<Events>,
    engine: Engine,
    fake: Arc<Fake>,
    clock: Arc<TokioClock>,
}

fn rig_with(config: EventsConfig) -> Rig {
    let clock = Arc::new(TokioClock::new(T0));
    let registry = Arc::new(Registry::new());
    let engine = Engine::new(Arc::clone(&registry), clock.clone(), Default::default());
    let events = Arc::new(Events::new(clock.clone(), engine.clone(), config));
    let fake = Arc::new(Fake::default());
    registry.register("sqs", fake.clone());
    registry.register("events", events.clone());
    Rig {
        events,
        engine,
        fake,
        clock,
    }
}

fn rig() -> Rig {
    rig_with(EventsConfig::default())
}

fn ctx() -> RequestContext {
    RequestContext::default()
}

fn archive(name: &str, pattern: Option<Value>) -> CreateArchiveInput {
    CreateArchiveInput {
        archive_name: Some(name.to_owned()),
        event_source_arn: Some(BUS.to_owned()),
        event_pattern: pattern.map(|p| p.to_string()),
        ..Default::default()
    }
}

fn rule_to(e: &Events, name: &str, pattern: Value, queue: &str) -> String {
    let arn = e
        .put_rule(
            &ctx(),
            PutRuleInput {
                name: Some(name.to_owned()),
                event_pattern: Some(pattern.to_string()),
                ..Default::default()
            },
        )
        .unwrap();
    let failed = e
        .put_targets(&ctx(), Some(name), None, Some(vec![json!({"Id": "t", "Arn": queue})]))
        .unwrap();
    assert!(failed.is_empty(), "{failed:?}");
    arn
}

fn put(e: &Events, kind: &str, n: u64) -> String {
    let entry = PutEventsEntry {
        source: Some("my.app".into()),
        detail_type: Some(kind.to_owned().into()),
        detail: Some(json!({ "n": n }).to_string().into()),
        ..Default::default()
    };
    match e.put_events(&ctx(), Some(vec![entry])).unwrap().remove(0) {
        PutEventsResult::Accepted { event_id } => event_id.to_string(),
        PutEventsResult::Failed { code, message } => panic!("{code}: {message}"),
    }
}

async fn advance(secs: u64) {
    tokio::time::advance(std::time::Duration::from_secs(secs)).await;
}

async fn settled(engine: &Engine) {
    for _ in 0..10_000 {
        if engine.stats().pending == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("never settled: {:?}", engine.stats());
}

/// Waits (on paused time) until the replay is in `state`.
async fn replay_reaches(e: &Events, name: &str, state: ReplayState) -> crate::archive::Replay {
    for _ in 0..10_000 {
        let r = e.describe_replay(&ctx(), Some(name)).unwrap();
        if r.state == state {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("replay {name} never reached {state:?}");
}

fn replay(name: &str, start: u64, end: u64, filters: Option<Vec<String>>) -> StartReplayInput {
    StartReplayInput {
        replay_name: Some(name.to_owned()),
        event_source_arn: Some(format!("arn:aws:events:us-east-1:000000000000:archive/{}", "orders")),
        event_start_time: Some(start),
        event_end_time: Some(end),
        destination: Some(ReplayDestination {
            arn: Some(BUS.to_owned()),
            filter_arns: filters,
        }),
        ..Default::default()
    }
}

#[test]
fn archive_lifecycle_and_its_managed_rule() {
    let e = crate::tests::events();
    let c = ctx();
    let a = e
        .create_archive(
            &c,
            CreateArchiveInput {
                description: Some("orders".into()),
                retention_days: Some(3),
                ..archive("orders", Some(json!({"source": ["my.app"]})))
            },
        )
        .unwrap();
    assert_eq!(a.arn, "arn:aws:events:us-east-1:000000000000:archive/orders");
    assert_eq!((a.state, a.event_count, a.size_bytes), (ArchiveState::Enabled, 0, 0));
    let err = e.create_archive(&c, archive("orders", None)).unwrap_err();
    assert_eq!(
        (&*err.code, err.message.as_str()),
        ("ResourceAlreadyExistsException", "Archive orders already exists.")
    );
    let err = e
        .create_archive(
            &c,
            CreateArchiveInput {
                event_source_arn: Some("arn:aws:events:us-east-1:000000000000:event-bus/nope".into()),
                ..archive("other", None)
            },
        )
        .unwrap_err();
    assert_eq!(
        (&*err.code, err.message.as_str()),
        ("ResourceNotFoundException", "Event bus nope does not exist.")
    );
    let err = e
        .create_archive(&c, archive("bad", Some(json!({"source": "x"}))))
        .unwrap_err();
    assert_eq!(err.code, "InvalidEventPatternException");
    let err = e.create_archive(&c, archive(&"a".repeat(49), None)).unwrap_err();
    assert!(err
        .message
        .ends_with("at 'archiveName' failed to satisfy constraint: Member must have length less than or equal to 48"));
    let err = e
        .create_archive(
            &c,
            CreateArchiveInput {
                event_source_arn: Some("default".into()),
                ..archive("x", None)
            },
        )
        .unwrap_err();
    assert!(err.message.contains("at 'eventSourceArn'"), "{}", err.message);

    // The managed rule: listed, described, refused to callers.
    let rules = e.list_rules(&c, &ListInput::default()).unwrap().items;
    assert_eq!(rules.len(), 1);
    let r = &rules[0];
    assert_eq!(r.name, "Events-Archive-orders");
    assert_eq!(r.managed_by.as_deref(), Some("prod.vhs.events.aws.internal"));
    assert_eq!(
        r.event_pattern.as_deref(),
        Some(r#"{"source":["my.app"],"replay-name":[{"exists":false}]}"#)
    );
    let err = e
        .refuse_managed_rule(&c, Some("Events-Archive-orders"), None)
        .unwrap_err();
    assert_eq!(
        (&*err.code, err.message.as_str()),
        (
            "ManagedRuleException",
            "Events-Archive-orders is a managed rule. Set 'force' parameter to true to override."
        )
    );
    assert!(e.refuse_managed_arn(&c, Some(&r.arn)).is_err());
    assert!(e.refuse_managed_rule(&c, Some("other"), None).is_ok());

    let d = e.describe_archive(&c, Some("orders")).unwrap();
    assert_eq!((d.description.as_deref(), d.retention_days), (Some("orders"), 3));
    let err = e.describe_archive(&c, Some("nope")).unwrap_err();
    assert_eq!(
        (&*err.code, err.message.as_str()),
        ("ResourceNotFoundException", "Archive nope does not exist.")
    );

    // Update: the managed rule follows the pattern.
    e.update_archive(
        &c,
        UpdateArchiveInput {
            archive_name: Some("orders".into()),
            event_pattern: Some(json!({"detail-type": ["a"]}).to_string()),
            retention_days: Some(0),
            ..Default::default()
        },
    )
    .unwrap();
    let r = e.describe_rule(&c, Some("Events-Archive-orders"), None).unwrap();
    assert_eq!(
        r.event_pattern.as_deref(),
        Some(r#"{"detail-type":["a"],"replay-name":[{"exists":false}]}"#)
    );
    assert_eq!(e.describe_archive(&c, Some("orders")).unwrap().retention_days, 0);
    let err = e
        .update_archive(
            &c,
            UpdateArchiveInput {
                archive_name: Some("nope".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        (&*err.code, err.status, err.message.as_str()),
        (
            "InternalException",
            500,
            "Service encountered unexpected problem. Please try again."
        )
    );

    // Listing: one filter at most, pages by name.
    e.create_archive(&c, archive("orders-2", None)).unwrap();
    e.create_archive(&c, archive("zeta", None)).unwrap();
    let list = |i: ListArchivesInput| e.list_archives(&c, &i);
    let p = list(ListArchivesInput {
        name_prefix: Some("orders".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        p.items.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        ["orders", "orders-2"]
    );
    let p = list(ListArchivesInput {
        limit: Some(2),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(p.next_token.as_deref(), Some("zeta"));
    let p = list(ListArchivesInput {
        next_token: p.next_token,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(p.items.len(), 1);
    let p = list(ListArchivesInput {
        state: Some("DISABLED".into()),
        ..Default::default()
    })
    .unwrap();
    assert!(p.items.is_empty());
    let err = list(ListArchivesInput {
        name_prefix: Some("o".into()),
        state: Some("ENABLED".into()),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(
        err.message,
        "At most one filter is allowed for ListArchives. Use either : State, EventSourceArn, or NamePrefix."
    );
    let err = list(ListArchivesInput {
        event_source_arn: Some("arn:aws:events:us-east-1:000000000000:event-bus/nope".into()),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err.message, "Event bus nope does not exist.");
    let err = list(ListArchivesInput {
        state: Some("ON".into()),
        ..Default::default()
    })
    .unwrap_err();
    assert!(err
        .message
        .contains("Member must satisfy enum value set: [ENABLED, DISABLED"));

    // Delete: the archive and its rule.
    e.delete_archive(&c, Some("orders")).unwrap();
    let err = e.delete_archive(&c, Some("orders")).unwrap_err();
    assert_eq!(err.message, "Archive orders does not exist.");
    let names: Vec<String> = e
        .list_rules(&c, &ListInput::default())
        .unwrap()
        .items
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["Events-Archive-orders-2", "Events-Archive-zeta"]);
}

#[tokio::test(start_paused = true)]
async fn archives_record_matching_events_and_replays_send_them_again() {
    let r = rig();
    let e = &r.events;
    let c = ctx();
    e.create_archive(&c, archive("orders", Some(json!({"detail-type": ["order"]}))))
        .unwrap();
    let r1 = rule_to(e, "r1", json!({"source": ["my.app"]}), Q1);
    rule_to(e, "r2", json!({"source": ["my.app"]}), Q2);
    let id1 = put(e, "order", 1);
    put(e, "other", 2);
    advance(1).await;
    let id3 = put(e, "order", 3);
    settled(&r.engine).await;
    assert_eq!(r.fake.take("q1").len(), 3);
    assert_eq!(r.fake.take("q2").len(), 3);
    let a = e.describe_archive(&c, Some("orders")).unwrap();
    assert_eq!(a.event_count, 2);
    assert!(a.size_bytes > 200, "{}", a.size_bytes);

    // To the filtered rule only, in time order, each with replay-name.
    advance(1).await;
    let end = r.clock.now_millis();
    let started = e
        .start_replay(&c, replay("again", T0, end, Some(vec![r1.clone()])))
        .unwrap();
    assert_eq!(started.state, ReplayState::Starting);
    assert_eq!(started.arn, "arn:aws:events:us-east-1:000000000000:replay/again");
    let done = replay_reaches(e, "again", ReplayState::Completed).await;
    assert_eq!(done.event_last_replayed_time, Some(T0 + 1_000));
    assert!(done.replay_end_time.is_some());
    settled(&r.engine).await;
    let got = r.fake.take("q1");
    assert_eq!(
        got.iter().map(|v| v["id"].as_str().unwrap()).collect::<Vec<_>>(),
        [&id1, &id3]
    );
    assert!(got.iter().all(|v| v["replay-name"] == "again"));
    assert_eq!(got[0]["detail"], json!({"n": 1}));
    assert!(r.fake.take("q2").is_empty(), "q2's rule is not in FilterArns");
    // Replayed events are not archived again.
    assert_eq!(e.describe_archive(&c, Some("orders")).unwrap().event_count, 2);

    // Without filters: every rule of the bus; the window selects on the events' time.
    e.start_replay(&c, replay("all", T0 + 1_000, end, None)).unwrap();
    replay_reaches(e, "all", ReplayState::Completed).await;
    settled(&r.engine).await;
    assert_eq!(r.fake.take("q1").len(), 1);
    assert_eq!(r.fake.take("q2").len(), 1);
    let err = e.start_replay(&c, replay("all", T0, end, None)).unwrap_err();
    assert_eq!(
        (&*err.code, err.message.as_str()),
        ("ResourceAlreadyExistsException", "Replay all already exists.")
    );
    let err = e.cancel_replay(&c, Some("all")).unwrap_err();
    assert_eq!(
        (&*err.code, err.message.as_str()),
        (
            "IllegalStatusException",
            "Replay all is not in a valid state for this operation."
        )
    );
    let listed = e
        .list_replays(
            &c,
            &ListArchivesInput {
                state: Some("COMPLETED".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(listed.items.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_window_ending_later_waits_for_its_end_and_can_be_cancelled() {
    let r = rig();
    let e = &r.events;
    let c = ctx();
    e.create_archive(&c, archive("orders", None)).unwrap();
    rule_to(e, "r1", json!({"source": ["my.app"]}), Q1);
    put(e, "order", 1);
    settled(&r.engine).await;
    r.fake.take("q1");

    // Events archived during the window are sent when it ends.
    e.start_replay(&c, replay("later", T0, T0 + 60_000, None)).unwrap();
    replay_reaches(e, "later", ReplayState::Running).await;
    advance(10).await;
    put(e, "order", 2);
    let done = replay_reaches(e, "later", ReplayState::Completed).await;
    assert!(r.clock.now_millis() >= T0 + 60_000);
    assert_eq!(done.event_last_replayed_time, Some(T0 + 10_000));
    settled(&r.engine).await;
    let replayed: Vec<u64> = r
        .fake
        .take("q1")
        .into_iter()
        .filter(|v| v.get("replay-name").is_some())
        .map(|v| v["detail"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(replayed, [1, 2]);

    // Cancelled while it waits.
    let now = r.clock.now_millis();
    e.start_replay(&c, replay("cancel-me", T0, now + 3_600_000, None))
        .unwrap();
    replay_reaches(e, "cancel-me", ReplayState::Running).await;
    let c1 = e.cancel_replay(&c, Some("cancel-me")).unwrap();
    assert_eq!(c1.state, ReplayState::Cancelling);
    let done = replay_reaches(e, "cancel-me", ReplayState::Cancelled).await;
    assert!(r.clock.now_millis() < now + 3_600_000, "it did not wait for the end");
    assert!(done.replay_end_time.is_some());
}

#[tokio::test(start_paused = true)]
async fn start_replay_validation() {
    let r = rig();
    let e = &r.events;
    let c = ctx();
    e.create_archive(&c, archive("orders", None)).unwrap();
    e.create_event_bus(
        &c,
        crate::model::CreateEventBusInput {
            name: Some("other".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let check = |input: StartReplayInput, code: &str, message: &str| {
        let err = e.start_replay(&c, input).unwrap_err();
        assert_eq!((&*err.code, err.message.as_str()), (code, message));
    };
    let v = "ValidationException";
    check(
        replay("r", T0, T0, None),
        v,
        "Parameter EventEndTime is not valid. Reason: EventStartTime must be before EventEndTime.",
    );
    check(
        StartReplayInput {
            event_source_arn: Some("arn:aws:events:us-east-1:000000000000:archive/nope".into()),
            ..replay("r", T0, T0 + 1, None)
        },
        v,
        "Parameter EventSourceArn is not valid. Reason: Archive nope does not exist.",
    );
    let to = |arn: &str| StartReplayInput {
        destination: Some(ReplayDestination {
            arn: Some(arn.to_owned()),
            filter_arns: None,
        }),
        ..replay("r", T0, T0 + 1, None)
    };
    check(
        to("arn:aws:events:us-east-1:000000000000:event-bus/other"),
        v,
        "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not permitted.",
    );
    check(
        to("arn:aws:events:us-east-1:000000000000:event-bus/gone"),
        "ResourceNotFoundException",
        "Event bus gone does not exist.",
    );
    check(
        to("arn:aws:sqs:us-east-1:000000000000:q"),
        v,
        "Parameter Destination.Arn is not valid. Reason: Must contain an event bus ARN.",
    );
    check(
        StartReplayInput {
            event_end_time: None,
            ..replay("r", T0, T0 + 1, None)
        },
        v,
        "1 validation error detected: Value null at 'eventEndTime' failed to satisfy constraint: Member must not be null",
    );
    let err = e.describe_replay(&c, Some("r")).unwrap_err();
    assert_eq!(
        (&*err.code, err.message.as_str()),
        ("ResourceNotFoundException", "Replay r does not exist.")
    );
    // At most ten active replays.
    for i in 0..10 {
        e.start_replay(&c, replay(&format!("long-{i}"), T0, T0 + 3_600_000, None))
            .unwrap();
    }
    let err = e
        .start_replay(&c, replay("eleventh", T0, T0 + 3_600_000, None))
        .unwrap_err();
    assert_eq!(err.code, "LimitExceededException");
    // A deleted archive fails the replays still reading it.
    e.delete_archive(&c, Some("orders")).unwrap();
    advance(3_600).await;
    let failed = replay_reaches(e, "long-0", ReplayState::Failed).await;
    assert_eq!(failed.state_reason.as_deref(), Some("Archive orders does not exist."));
}

#[tokio::test(start_paused = true)]
async fn bounds_drop_the_oldest_and_say_so_and_retention_runs_on_the_clock() {
    let r = rig_with(EventsConfig {
        archive_max_events: 3,
        ..EventsConfig::default()
    });
    let e = &r.events;
    let c = ctx();
    e.create_archive(
        &c,
        CreateArchiveInput {
            retention_days: Some(1),
            ..archive("orders", None)
        },
    )
    .unwrap();
    for n in 0..5 {
        put(e, "order", n);
    }
    let a = e.describe_archive(&c, Some("orders")).unwrap();
    assert_eq!(a.event_count, 3);
    let reason = a.state_reason.unwrap();
    assert!(reason.contains("dropped 2 of this archive's events"), "{reason}");
    assert!(reason.contains("--events-archive-max-events 3"), "{reason}");
    let mut metrics = String::new();
    e.archive_metrics(&mut metrics);
    assert!(
        metrics.contains("localbridge_events_archive_dropped_total 2\n"),
        "{metrics}"
    );
    assert!(metrics.contains("localbridge_events_archive_events 3\n"), "{metrics}");

    advance(86_400 + 1).await;
    let a = e.describe_archive(&c, Some("orders")).unwrap();
    assert_eq!((a.event_count, a.size_bytes), (0, 0));
    let mut metrics = String::new();
    e.archive_metrics(&mut metrics);
    assert!(
        metrics.contains("localbridge_events_archive_expired_total 3\n"),
        "{metrics}"
    );
}

#[test]
fn wire_shapes() {
    let events = Arc::new(crate::tests::events());
    let call = |op: &str, body: Value| {
        let r = crate::api::handle_json(&events, &ctx(), op, body.to_string().as_bytes());
        (r.status().as_u16(), serde_json::from_slice::<Value>(r.body()).unwrap())
    };
    let (s, v) = call(
        "CreateArchive",
        json!({"ArchiveName": "a", "EventSourceArn": BUS, "EventPattern": "{\"source\":[\"x\"]}", "RetentionDays": 2}),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v,
        json!({"ArchiveArn": "arn:aws:events:us-east-1:000000000000:archive/a", "State": "ENABLED", "CreationTime": 1_700_000_000.0})
    );
    let (_, v) = call("DescribeArchive", json!({"ArchiveName": "a"}));
    assert_eq!(
        v,
        json!({
            "ArchiveArn": "arn:aws:events:us-east-1:000000000000:archive/a",
            "ArchiveName": "a",
            "EventSourceArn": BUS,
            "EventPattern": "{\"source\":[\"x\"]}",
            "State": "ENABLED",
            "RetentionDays": 2,
            "SizeBytes": 0,
            "EventCount": 0,
            "CreationTime": 1_700_000_000.0,
        })
    );
    let (_, v) = call("ListArchives", json!({}));
    assert_eq!(v["Archives"][0].get("ArchiveArn"), None);
    assert_eq!(v["Archives"][0]["ArchiveName"], "a");
    let (_, v) = call("DescribeRule", json!({"Name": "Events-Archive-a"}));
    assert_eq!(v["ManagedBy"], "prod.vhs.events.aws.internal");
    for (op, body) in [
        ("DeleteRule", json!({"Name": "Events-Archive-a"})),
        ("DisableRule", json!({"Name": "Events-Archive-a"})),
        ("PutRule", json!({"Name": "Events-Archive-a", "EventPattern": "{}"})),
        (
            "PutTargets",
            json!({"Rule": "Events-Archive-a", "Targets": [{"Id": "t", "Arn": Q1}]}),
        ),
        ("RemoveTargets", json!({"Rule": "Events-Archive-a", "Ids": ["t"]})),
    ] {
        let (s, v) = call(op, body);
        assert_eq!((s, v["__type"].as_str()), (400, Some("ManagedRuleException")), "{op}");
    }
    let (s, v) = call("DeleteRule", json!({"Name": "Events-Archive-a", "Force": true}));
    assert_eq!(s, 200, "{v}");
    let (s, v) = call("UpdateArchive", json!({"ArchiveName": "nope"}));
    assert_eq!((s, v["__type"].as_str()), (500, Some("InternalException")));
    let (s, v) = call("DescribeReplay", json!({"ReplayName": "nope"}));
    assert_eq!((s, v["__type"].as_str()), (400, Some("ResourceNotFoundException")));
}
