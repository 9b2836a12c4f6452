//! The service logic, without HTTP.

use std::sync::Arc;

use lb_core::{ManualClock, RequestContext};

use crate::model::{CreateEventBusInput, ListInput, PutRuleInput, RuleState};
use crate::Events;

pub(crate) fn events() -> Events {
    let clock: Arc<dyn lb_core::Clock> = Arc::new(ManualClock::new(1_700_000_000_000));
    let registry = Arc::new(lb_core::deliver::Registry::new());
    let engine = lb_core::deliver::Engine::new(registry, Arc::clone(&clock), Default::default());
    Events::new(clock, engine, crate::EventsConfig::default())
}

fn ctx() -> RequestContext {
    RequestContext::default()
}

fn bus(name: &str) -> CreateEventBusInput {
    CreateEventBusInput {
        name: Some(name.to_owned()),
        ..Default::default()
    }
}

fn rule(name: &str, bus: Option<&str>, pattern: &str) -> PutRuleInput {
    PutRuleInput {
        name: Some(name.to_owned()),
        event_bus_name: bus.map(str::to_owned),
        event_pattern: Some(pattern.to_owned()),
        ..Default::default()
    }
}

const P: &str = r#"{"source":["my.app"]}"#;

#[test]
fn default_bus_exists_per_region_and_account() {
    let e = events();
    let b = e.describe_event_bus(&ctx(), None).unwrap().0;
    assert_eq!(b.arn, "arn:aws:events:us-east-1:000000000000:event-bus/default");
    let other = RequestContext::new("eu-west-1");
    let b = e.describe_event_bus(&other, Some("default")).unwrap().0;
    assert_eq!(b.arn, "arn:aws:events:eu-west-1:000000000000:event-bus/default");
    let err = e.delete_event_bus(&ctx(), Some("default")).unwrap_err();
    assert_eq!(err.code, "ValidationException");
}

#[test]
fn bus_lifecycle() {
    let e = events();
    let c = ctx();
    let b = e.create_event_bus(&c, bus("orders")).unwrap();
    assert_eq!(b.arn, "arn:aws:events:us-east-1:000000000000:event-bus/orders");
    let err = e.create_event_bus(&c, bus("orders")).unwrap_err();
    assert_eq!(
        (&*err.code, err.message.as_str()),
        ("ResourceAlreadyExistsException", "Event bus orders already exists.")
    );
    assert_eq!(e.describe_event_bus(&c, Some(&b.arn)).unwrap().0.name, "orders");
    let err = e.create_event_bus(&c, bus("bad name")).unwrap_err();
    assert_eq!(err.code, "ValidationException");
    assert!(
        err.message.contains("Member must satisfy regular expression pattern"),
        "{}",
        err.message
    );
    e.delete_event_bus(&c, Some("orders")).unwrap();
    e.delete_event_bus(&c, Some("orders")).unwrap();
    let err = e.describe_event_bus(&c, Some("orders")).unwrap_err();
    assert_eq!(
        (&*err.code, err.message.as_str()),
        ("ResourceNotFoundException", "Event bus orders does not exist.")
    );
}

#[test]
fn list_buses_pages_in_name_order() {
    let e = events();
    let c = ctx();
    for n in ["b1", "a1", "b2", "b3"] {
        e.create_event_bus(&c, bus(n)).unwrap();
    }
    let mut input = ListInput {
        name_prefix: Some("b".into()),
        limit: Some(2),
        ..Default::default()
    };
    let p = e.list_event_buses(&c, &input).unwrap();
    let names: Vec<_> = p.items.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["b1", "b2"]);
    input.next_token = p.next_token;
    let p = e.list_event_buses(&c, &input).unwrap();
    let names: Vec<_> = p.items.iter().map(|b| b.name.as_str()).collect();
    assert_eq!((names, p.next_token), (vec!["b3"], None));
    let all = e.list_event_buses(&c, &ListInput::default()).unwrap();
    assert_eq!(all.items.len(), 5);
    let err = e
        .list_event_buses(
            &c,
            &ListInput {
                limit: Some(101),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.code, "ValidationException");
}

#[test]
fn rules_on_default_and_custom_buses() {
    let e = events();
    let c = ctx();
    let arn = e.put_rule(&c, rule("r1", None, P)).unwrap();
    assert_eq!(arn, "arn:aws:events:us-east-1:000000000000:rule/r1");
    let err = e.put_rule(&c, rule("r1", Some("orders"), P)).unwrap_err();
    assert_eq!(
        (&*err.code, err.message.as_str()),
        ("ResourceNotFoundException", "Event bus orders does not exist.")
    );
    e.create_event_bus(&c, bus("orders")).unwrap();
    let arn = e.put_rule(&c, rule("r1", Some("orders"), P)).unwrap();
    assert_eq!(arn, "arn:aws:events:us-east-1:000000000000:rule/orders/r1");
    let r = e.describe_rule(&c, Some("r1"), Some("orders")).unwrap();
    assert_eq!((r.event_bus_name.as_str(), r.state), ("orders", RuleState::Enabled));
    e.disable_rule(&c, Some("r1"), Some("orders")).unwrap();
    assert_eq!(
        e.describe_rule(&c, Some("r1"), Some("orders")).unwrap().state,
        RuleState::Disabled
    );
    e.enable_rule(&c, Some("r1"), Some("orders")).unwrap();
    assert_eq!(
        e.describe_rule(&c, Some("r1"), Some("orders")).unwrap().state,
        RuleState::Enabled
    );
    e.delete_rule(&c, Some("r1"), Some("orders")).unwrap();
    let err = e.describe_rule(&c, Some("r1"), Some("orders")).unwrap_err();
    assert_eq!(
        (&*err.code, err.message.as_str()),
        (
            "ResourceNotFoundException",
            "Rule r1 does not exist on EventBus orders."
        )
    );
    assert!(e.describe_rule(&c, Some("r1"), None).is_ok());
    let err = e.enable_rule(&c, Some("nope"), None).unwrap_err();
    assert_eq!(err.code, "ResourceNotFoundException");
}

#[test]
fn put_rule_validation() {
    let e = events();
    let c = ctx();
    let err = e.put_rule(&c, rule("r", None, r#"{"source":"x"}"#)).unwrap_err();
    assert_eq!(err.code, "InvalidEventPatternException");
    assert_eq!(
        err.message,
        lb_rules::pattern::Pattern::parse(r#"{"source":"x"}"#)
            .unwrap_err()
            .to_string()
    );
    let err = e
        .put_rule(
            &c,
            PutRuleInput {
                name: Some("r".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        err.message,
        "Parameter(s) EventPattern or ScheduleExpression must be specified."
    );
    let err = e.put_rule(&c, rule(&"x".repeat(65), None, P)).unwrap_err();
    assert!(err.message.contains("Member must have length less than or equal to 64"));
    let err = e
        .put_rule(
            &c,
            PutRuleInput {
                state: Some("ON".into()),
                ..rule("r", None, P)
            },
        )
        .unwrap_err();
    assert_eq!(err.code, "ValidationException");
    let sched = PutRuleInput {
        name: Some("tick".into()),
        schedule_expression: Some("rate(5 minutes)".into()),
        state: Some("DISABLED".into()),
        description: Some("every five".into()),
        ..Default::default()
    };
    e.put_rule(&c, sched.clone()).unwrap();
    let r = e.describe_rule(&c, Some("tick"), None).unwrap();
    assert_eq!(r.schedule_expression.as_deref(), Some("rate(5 minutes)"));
    assert_eq!(
        (r.state, r.description.as_deref()),
        (RuleState::Disabled, Some("every five"))
    );
    let err = e
        .put_rule(
            &c,
            PutRuleInput {
                schedule_expression: Some("every 5".into()),
                ..sched
            },
        )
        .unwrap_err();
    assert_eq!(err.message, "Parameter ScheduleExpression is not valid.");
    let long = format!(r#"{{"source":["{}"]}}"#, "a".repeat(4096));
    let err = e.put_rule(&c, rule("r", None, &long)).unwrap_err();
    assert_eq!(err.code, "ValidationException");
}

#[test]
fn put_rule_replaces() {
    let e = events();
    let c = ctx();
    e.put_rule(
        &c,
        PutRuleInput {
            description: Some("d".into()),
            ..rule("r", None, P)
        },
    )
    .unwrap();
    e.put_rule(&c, rule("r", None, r#"{"source":["other"]}"#)).unwrap();
    let r = e.describe_rule(&c, Some("r"), None).unwrap();
    assert_eq!(r.event_pattern.as_deref(), Some(r#"{"source":["other"]}"#));
    assert_eq!(r.description, None);
}

#[test]
fn list_rules_prefix_and_paging() {
    let e = events();
    let c = ctx();
    for n in ["a", "ab", "abc", "b"] {
        e.put_rule(&c, rule(n, None, P)).unwrap();
    }
    let mut input = ListInput {
        name_prefix: Some("a".into()),
        limit: Some(2),
        ..Default::default()
    };
    let p = e.list_rules(&c, &input).unwrap();
    assert_eq!(p.items.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["a", "ab"]);
    input.next_token = p.next_token;
    let p = e.list_rules(&c, &input).unwrap();
    assert_eq!(p.items.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["abc"]);
    assert_eq!(p.next_token, None);
    let err = e
        .list_rules(
            &c,
            &ListInput {
                event_bus_name: Some("nope".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.code, "ResourceNotFoundException");
}

#[test]
fn test_event_pattern() {
    let e = events();
    let event = r#"{"id":"1","account":"000000000000","source":"my.app","time":"2024-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail-type":"x","detail":{}}"#;
    assert!(e.test_event_pattern(Some(P), Some(event)).unwrap());
    assert!(!e
        .test_event_pattern(Some(r#"{"source":["other"]}"#), Some(event))
        .unwrap());
    let err = e.test_event_pattern(Some("{"), Some(event)).unwrap_err();
    assert_eq!(err.code, "InvalidEventPatternException");
    for bad in [r#"{"source":"my.app"}"#, "[]", "nope"] {
        let err = e.test_event_pattern(Some(P), Some(bad)).unwrap_err();
        assert_eq!(
            (&*err.code, err.message.as_str()),
            ("ValidationException", "Parameter Event is not valid.")
        );
    }
}

/// Routing through the engine to a fake target, on paused tokio time.
mod routing {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use lb_core::arn::Arn;
    use lb_core::deliver::{BoxFuture, DeliveryError, DestinationError, Engine, Message, Registry, Target};
    use lb_core::policy::PolicyRequest;
    use lb_core::{RequestContext, TokioClock};
    use serde_json::{json, Value};

    use crate::model::{PutEventsEntry, PutEventsResult, PutRuleInput};
    use crate::{Events, EventsConfig};

    /// Records what it receives; fails for resources named `fail-*` (retryable) and
    /// `gone-*` (not found).
    #[derive(Default)]
    struct Fake {
        got: Mutex<Vec<(String, Message)>>,
    }

    impl Target for Fake {
        fn deliver<'a>(&'a self, arn: &'a Arn, msg: &'a Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
            let r = if arn.resource.starts_with("fail-") {
                Err(DeliveryError::retryable("ServiceUnavailable", "try later"))
            } else if arn.resource.starts_with("gone-") {
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
        events: Arc<Events>,
        engine: Engine,
        fake: Arc<Fake>,
        clock: Arc<TokioClock>,
    }

    fn rig() -> Rig {
        let clock = Arc::new(TokioClock::new(1_700_000_000_000));
        let registry = Arc::new(Registry::new());
        let engine = Engine::new(Arc::clone(&registry), clock.clone(), Default::default());
        let events = Arc::new(Events::new(clock.clone(), engine.clone(), EventsConfig::default()));
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

    fn ctx() -> RequestContext {
        RequestContext::default()
    }

    fn rule(e: &Events, name: &str, pattern: Value) {
        e.put_rule(
            &ctx(),
            PutRuleInput {
                name: Some(name.to_owned()),
                event_pattern: Some(pattern.to_string()),
                ..Default::default()
            },
        )
        .unwrap();
    }

    fn target(e: &Events, rule: &str, t: Value) {
        let failed = e.put_targets(&ctx(), Some(rule), None, Some(vec![t])).unwrap();
        assert!(failed.is_empty(), "{failed:?}");
    }

    fn entry(detail: Value) -> PutEventsEntry<'static> {
        PutEventsEntry {
            source: Some("my.app".into()),
            detail_type: Some("thing".into()),
            detail: Some(detail.to_string().into()),
            ..Default::default()
        }
    }

    fn put(e: &Events, detail: Value) -> String {
        match e.put_events(&ctx(), Some(vec![entry(detail)])).unwrap().remove(0) {
            PutEventsResult::Accepted { event_id } => event_id.to_string(),
            PutEventsResult::Failed { code, message } => panic!("{code}: {message}"),
        }
    }

    async fn settled(engine: &Engine) {
        for _ in 0..10_000 {
            let s = engine.stats();
            if s.pending == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("never settled: {:?}", engine.stats());
    }

    const Q: &str = "arn:aws:sqs:us-east-1:000000000000:q";

    #[tokio::test(start_paused = true)]
    async fn matched_events_reach_every_target_as_built() {
        let r = rig();
        rule(&r.events, "r", json!({"detail": {"n": [{"numeric": [">", 1]}]}}));
        target(&r.events, "r", json!({"Id": "a", "Arn": Q}));
        target(
            &r.events,
            "r",
            json!({"Id": "b", "Arn": Q, "InputTransformer": {"InputPathsMap": {"n": "$.detail.n"}, "InputTemplate": "n is <n>"}}),
        );
        let id = put(&r.events, json!({"n": 2}));
        put(&r.events, json!({"n": 1}));
        settled(&r.engine).await;
        let got = r.fake.got.lock().unwrap().clone();
        assert_eq!(got.len(), 2);
        let bodies: Vec<&str> = got.iter().map(|(_, m)| &*m.body).collect();
        assert!(bodies.contains(&"n is 2"));
        let event: Value = serde_json::from_str(bodies.iter().find(|b| b.starts_with('{')).unwrap()).unwrap();
        assert_eq!(event["id"], id.as_str());
        assert_eq!(event["detail"], json!({"n": 2}));
        assert_eq!(event["time"], "2023-11-14T22:13:20Z");
        let (_, m) = &got[0];
        assert_eq!(m.principal.as_deref(), Some(crate::PRINCIPAL));
        assert_eq!(
            m.source_arn.as_deref(),
            Some("arn:aws:events:us-east-1:000000000000:rule/r")
        );
        let metrics = r.events.rule_metrics();
        assert_eq!(metrics[0].2.matched_events, 1);
        assert_eq!(metrics[0].2.invocations, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn retryable_failures_retry_on_the_clock_then_dead_letter_with_awss_attributes() {
        let r = rig();
        rule(&r.events, "r", json!({"source": ["my.app"]}));
        target(
            &r.events,
            "r",
            json!({"Id": "t", "Arn": "arn:aws:sqs:us-east-1:000000000000:fail-1",
                   "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 86400},
                   "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:000000000000:dlq"},
                   "Input": "{\"constant\": 1}"}),
        );
        let id = put(&r.events, json!({}));
        settled(&r.engine).await;
        let got = r.fake.got.lock().unwrap().clone();
        let (res, dead) = &got[0];
        assert_eq!(res, "dlq");
        let body: Value = serde_json::from_str(&dead.body).unwrap();
        assert_eq!(body["id"], id.as_str(), "the original event, not the constant input");
        let a: BTreeMap<&str, &str> = dead
            .attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v.string_value.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(a["ERROR_CODE"], "ERROR_FROM_TARGET");
        assert_eq!(a["EXHAUSTED_RETRY_CONDITION"], "MaximumRetryAttempts");
        assert_eq!(a["RETRY_ATTEMPTS"], "3");
        assert_eq!(a["TARGET_ARN"], "arn:aws:sqs:us-east-1:000000000000:fail-1");
        let m = r.events.rule_metrics()[0].2;
        assert_eq!(
            (
                m.retry_invocation_attempts,
                m.invocations_sent_to_dlq,
                m.failed_invocations
            ),
            (3, 1, 0)
        );
        assert!(lb_core::Clock::now_millis(&*r.clock) >= 1_700_000_000_000 + 3_000);
    }

    #[tokio::test(start_paused = true)]
    async fn disabled_and_deleted_rules_stop_routing_and_journal_explains() {
        let r = rig();
        rule(&r.events, "r", json!({"source": ["my.app"]}));
        target(&r.events, "r", json!({"Id": "t", "Arn": Q}));
        r.events.disable_rule(&ctx(), Some("r"), None).unwrap();
        let id = put(&r.events, json!({}));
        r.events.enable_rule(&ctx(), Some("r"), None).unwrap();
        put(&r.events, json!({}));
        settled(&r.engine).await;
        assert_eq!(r.fake.got.lock().unwrap().len(), 1);
        let report = r.events.event_report(&id, true).unwrap();
        assert_eq!(report["matched"], json!([]));
        // The rule matches now: it was enabled after the event was routed.
        assert_eq!(report["unmatched"][0]["rule"], "r");
        r.events
            .remove_targets(&ctx(), Some("r"), None, Some(vec!["t".into()]))
            .unwrap();
        r.events.delete_rule(&ctx(), Some("r"), None).unwrap();
        put(&r.events, json!({}));
        settled(&r.engine).await;
        assert_eq!(r.fake.got.lock().unwrap().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_engine_fails_entries_with_throttling_and_drops_nothing() {
        let clock = Arc::new(TokioClock::new(1_700_000_000_000));
        let registry = Arc::new(Registry::new());
        let engine = Engine::new(
            Arc::clone(&registry),
            clock.clone(),
            lb_core::deliver::EngineConfig {
                max_pending_per_target: 2,
                ..Default::default()
            },
        );
        let events = Events::new(clock, engine.clone(), EventsConfig::default());
        // The target fails retryably: its deliveries stay pending (waiting for retries), so
        // its lane fills after two.
        let slow = Arc::new(Fake::default());
        registry.register("sqs", slow);
        rule(&events, "r", json!({"source": ["my.app"]}));
        target(
            &events,
            "r",
            json!({"Id": "t", "Arn": "arn:aws:sqs:us-east-1:000000000000:fail-x"}),
        );
        let results = events
            .put_events(&ctx(), Some((0..5).map(|_| entry(json!({}))).collect()))
            .unwrap();
        let throttled = results
            .iter()
            .filter(|r| matches!(r, PutEventsResult::Failed { code, .. } if code == "ThrottlingException"))
            .count();
        assert_eq!(throttled, 3, "{results:?}");
        let s = engine.stats();
        assert_eq!((s.submitted, s.rejected, s.dropped), (2, 3, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn kinesis_targets_carry_the_partition_key_path_or_the_event_id() {
        let r = rig();
        r.engine.registry().register("kinesis", r.fake.clone());
        rule(&r.events, "r", json!({"source": ["my.app"]}));
        let stream = |name: &str| format!("arn:aws:kinesis:us-east-1:000000000000:stream/{name}");
        target(
            &r.events,
            "r",
            json!({"Id": "path", "Arn": stream("by-user"), "KinesisParameters": {"PartitionKeyPath": "$.detail.user"}}),
        );
        target(
            &r.events,
            "r",
            json!({"Id": "number", "Arn": stream("by-n"), "KinesisParameters": {"PartitionKeyPath": "$.detail.n"}}),
        );
        target(
            &r.events,
            "r",
            json!({"Id": "missing", "Arn": stream("by-nothing"), "KinesisParameters": {"PartitionKeyPath": "$.detail.nothing"}}),
        );
        target(&r.events, "r", json!({"Id": "default", "Arn": stream("by-id")}));
        let id = put(&r.events, json!({"user": "ana", "n": 42}));
        settled(&r.engine).await;
        let got: BTreeMap<String, Option<String>> = r
            .fake
            .got
            .lock()
            .unwrap()
            .iter()
            .map(|(res, m)| (res.clone(), m.group_id.clone()))
            .collect();
        assert_eq!(got["stream/by-user"].as_deref(), Some("ana"));
        assert_eq!(got["stream/by-n"].as_deref(), Some("42"));
        assert_eq!(got["stream/by-nothing"].as_deref(), Some(id.as_str()));
        assert_eq!(got["stream/by-id"].as_deref(), Some(id.as_str()));

        let err = r
            .events
            .put_targets(
                &ctx(),
                Some("r"),
                None,
                Some(vec![json!({"Id": "x", "Arn": stream("s"), "KinesisParameters": {}})]),
            )
            .unwrap_err();
        assert_eq!(err.code, "ValidationException");
        assert!(
            err.message
                .contains("targets.1.member.kinesisParameters.partitionKeyPath"),
            "{}",
            err.message
        );
    }
}

#[test]
fn put_rule_again_without_state_enables_it() {
    let e = events();
    let mut r = rule("r", None, P);
    r.state = Some("DISABLED".into());
    e.put_rule(&ctx(), r).unwrap();
    assert_eq!(
        e.describe_rule(&ctx(), Some("r"), None).unwrap().state,
        RuleState::Disabled
    );
    e.put_rule(&ctx(), rule("r", None, P)).unwrap();
    assert_eq!(
        e.describe_rule(&ctx(), Some("r"), None).unwrap().state,
        RuleState::Enabled
    );
}
