//! The service without HTTP: operations, validation, and firing through the real delivery
//! engine to a recording target, on paused tokio time (a day of schedules runs in milliseconds,
//! in order) or on the manual clock.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use lb_core::arn::Arn;
use lb_core::deliver::{BoxFuture, DeliveryError, DestinationError, Engine, EngineConfig, Message, Registry, Target};
use lb_core::policy::PolicyRequest;
use lb_core::{Clock, ManualClock, RequestContext, TokioClock};
use serde_json::{json, Value};

use crate::model::{GroupInput, ListGroupsInput, ListSchedulesInput, ScheduleInput, Tag};
use crate::{Scheduler, SchedulerConfig};

/// 2026-03-01T00:00:00Z.
const START: u64 = 1_772_323_200_000;

/// Records what it receives; fails for the resources in `missing` (as a deleted queue does).
#[derive(Default)]
struct Recorder {
    got: Mutex<Vec<(String, Message, u64)>>,
    missing: Mutex<HashSet<String>>,
    clock: Mutex<Option<Arc<dyn Clock>>>,
}

impl Recorder {
    fn got(&self) -> Vec<(String, Message, u64)> {
        self.got.lock().unwrap().clone()
    }

    fn bodies(&self, arn: &str) -> Vec<String> {
        self.got()
            .into_iter()
            .filter(|(a, _, _)| a == arn)
            .map(|(_, m, _)| m.body.to_string())
            .collect()
    }
}

impl Target for Recorder {
    fn deliver<'a>(&'a self, arn: &'a Arn, msg: &'a Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
        let r = if self.missing.lock().unwrap().contains(&arn.resource) {
            Err(DeliveryError::not_found(format!("The queue {arn} does not exist.")))
        } else {
            let now = self.clock.lock().unwrap().as_ref().map_or(0, |c| c.now_millis());
            self.got.lock().unwrap().push((arn.to_string(), msg.clone(), now));
            Ok(())
        };
        Box::pin(async move { r })
    }

    fn max_batch(&self, _arn: &Arn) -> usize {
        10
    }

    fn authorize(&self, _arn: &Arn, _req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
        Ok(())
    }
}

struct World {
    scheduler: Arc<Scheduler>,
    recorder: Arc<Recorder>,
    clock: Arc<dyn Clock>,
    ctx: RequestContext,
}

fn world(clock: Arc<dyn Clock>) -> World {
    let registry = Arc::new(Registry::new());
    let engine = Engine::new(Arc::clone(&registry), Arc::clone(&clock), EngineConfig::default());
    let recorder = Arc::new(Recorder::default());
    *recorder.clock.lock().unwrap() = Some(Arc::clone(&clock));
    for ns in ["sqs", "sns", "lambda", "events"] {
        registry.register(ns, recorder.clone());
    }
    let scheduler = Scheduler::new(Arc::clone(&clock), engine, SchedulerConfig::default());
    registry.register(Scheduler::NAMESPACE, scheduler.clone());
    World {
        scheduler,
        recorder,
        clock,
        ctx: RequestContext::default(),
    }
}

fn paused() -> World {
    world(Arc::new(TokioClock::new(START)))
}

const ROLE: &str = "arn:aws:iam::000000000000:role/scheduler";
const QUEUE: &str = "arn:aws:sqs:us-east-1:000000000000:q";

fn input(name: &str, expression: &str, target: Value) -> ScheduleInput {
    let mut i: ScheduleInput = serde_json::from_value(json!({
        "ScheduleExpression": expression,
        "Target": target,
        "FlexibleTimeWindow": {"Mode": "OFF"},
    }))
    .unwrap();
    i.name = name.to_owned();
    i
}

fn sqs_target(input: &str) -> Value {
    json!({"Arn": QUEUE, "RoleArn": ROLE, "Input": input})
}

/// Waits (on tokio's time, paused in these tests) until `f` holds.
async fn until(what: &str, f: impl Fn() -> bool) {
    for _ in 0..100_000 {
        if f() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    }
    panic!("{what} never held");
}

#[tokio::test(start_paused = true)]
async fn crud_defaults_and_errors() {
    let w = paused();
    let s = &w.scheduler;
    let arn = s
        .create_schedule(&w.ctx, input("daily", "rate(1 day)", sqs_target("hi")))
        .unwrap();
    assert_eq!(
        arn,
        json!({"ScheduleArn": "arn:aws:scheduler:us-east-1:000000000000:schedule/default/daily"})
    );
    let got = s.get_schedule(&w.ctx, "daily", None).unwrap();
    assert_eq!(got["State"], "ENABLED");
    assert_eq!(got["GroupName"], "default");
    assert_eq!(got["ScheduleExpressionTimezone"], "UTC");
    assert_eq!(got["ActionAfterCompletion"], "NONE");
    assert_eq!(
        got["Target"]["RetryPolicy"],
        json!({"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185})
    );
    assert_eq!(got["FlexibleTimeWindow"], json!({"Mode": "OFF"}));
    assert!(got.get("Description").is_none());

    let e = s
        .create_schedule(&w.ctx, input("daily", "rate(1 day)", sqs_target("hi")))
        .unwrap_err();
    assert_eq!((e.code.as_ref(), e.status), ("ConflictException", 409));
    assert_eq!(e.message, "Schedule daily already exists.");

    let e = s.get_schedule(&w.ctx, "nope", None).unwrap_err();
    assert_eq!((e.code.as_ref(), e.status), ("ResourceNotFoundException", 404));
    assert_eq!(e.message, "Schedule nope does not exist.");

    let mut up = input("daily", "rate(2 days)", sqs_target("bye"));
    up.state = Some("DISABLED".into());
    up.description = Some("two".into());
    s.update_schedule(&w.ctx, up).unwrap();
    let got = s.get_schedule(&w.ctx, "daily", None).unwrap();
    assert_eq!(got["ScheduleExpression"], "rate(2 days)");
    assert_eq!(got["State"], "DISABLED");
    assert_eq!(got["Description"], "two");
    assert_eq!(got["Target"]["Input"], "bye");

    let e = s
        .update_schedule(&w.ctx, input("ghost", "rate(1 day)", sqs_target("x")))
        .unwrap_err();
    assert_eq!(e.message, "Schedule ghost does not exist.");

    s.delete_schedule(&w.ctx, "daily", None, None).unwrap();
    let e = s.delete_schedule(&w.ctx, "daily", None, None).unwrap_err();
    assert_eq!(e.code, "ResourceNotFoundException");
}

#[tokio::test(start_paused = true)]
async fn validation_lists_every_violation() {
    let w = paused();
    let mut bad = input(
        "bad name",
        "rate(1 minute)",
        json!({"Arn": QUEUE, "RoleArn": "role", "RetryPolicy": {"MaximumRetryAttempts": 186, "MaximumEventAgeInSeconds": 30}}),
    );
    bad.flexible_time_window = None;
    let e = w.scheduler.create_schedule(&w.ctx, bad).unwrap_err();
    assert_eq!((e.code.as_ref(), e.status), ("ValidationException", 400));
    assert_eq!(
        e.message,
        "5 validation errors detected: \
         Value 'bad name' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+; \
         Value 'role' at 'target.roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws[a-z-]*:iam::\\d{12}:role\\/[\\w+=,.@\\/-]+; \
         Value '30' at 'target.retryPolicy.maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60; \
         Value '186' at 'target.retryPolicy.maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 185; \
         Value null at 'flexibleTimeWindow' failed to satisfy constraint: Member must not be null"
    );
    // A FIFO queue is not a dead-letter queue: the model's pattern excludes `.fifo`.
    let dlq = input(
        "s",
        "rate(1 minute)",
        json!({"Arn": QUEUE, "RoleArn": ROLE, "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:000000000000:d.fifo"}}),
    );
    let e = w.scheduler.create_schedule(&w.ctx, dlq).unwrap_err();
    assert!(e.message.contains("at 'target.deadLetterConfig.arn'"), "{}", e.message);
    let e = w
        .scheduler
        .create_schedule(&w.ctx, input("s", "every(1 minute)", sqs_target("x")))
        .unwrap_err();
    assert_eq!(e.message, "Invalid Schedule Expression every(1 minute).");
    let mut flex = input("s", "rate(1 minute)", sqs_target("x"));
    flex.flexible_time_window = serde_json::from_value(json!({"Mode": "FLEXIBLE"})).unwrap();
    assert_eq!(
        w.scheduler.create_schedule(&w.ctx, flex).unwrap_err().code,
        "ValidationException"
    );
    let e = w
        .scheduler
        .create_schedule(&w.ctx, {
            let mut i = input("s", "rate(1 minute)", sqs_target("x"));
            i.group_name = Some("nogroup".into());
            i
        })
        .unwrap_err();
    assert_eq!(e.message, "Schedule group nogroup does not exist.");
}

#[tokio::test(start_paused = true)]
async fn groups_tags_and_pagination() {
    let w = paused();
    let s = &w.scheduler;
    let arn = s
        .create_schedule_group(
            &w.ctx,
            GroupInput {
                name: "team".into(),
                tags: Some(vec![Tag {
                    key: Some("env".into()),
                    value: Some("dev".into()),
                }]),
                client_token: None,
            },
        )
        .unwrap()["ScheduleGroupArn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(arn, "arn:aws:scheduler:us-east-1:000000000000:schedule-group/team");
    let e = s
        .create_schedule_group(
            &w.ctx,
            GroupInput {
                name: "team".into(),
                ..GroupInput::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.code, "ConflictException");
    s.tag_resource(
        &w.ctx,
        &arn,
        Some(vec![Tag {
            key: Some("team".into()),
            value: Some("a".into()),
        }]),
    )
    .unwrap();
    s.untag_resource(&w.ctx, &arn, &["env".to_owned()]).unwrap();
    assert_eq!(
        s.list_tags_for_resource(&w.ctx, &arn).unwrap(),
        json!({"Tags": [{"Key": "team", "Value": "a"}]})
    );
    let e = s
        .list_tags_for_resource(&w.ctx, "arn:aws:scheduler:us-east-1:000000000000:schedule-group/none")
        .unwrap_err();
    assert_eq!(e.code, "ResourceNotFoundException");

    for i in 0..5 {
        let mut inp = input(&format!("s{i}"), "rate(1 hour)", sqs_target("x"));
        inp.group_name = Some("team".into());
        if i == 4 {
            inp.state = Some("DISABLED".into());
        }
        s.create_schedule(&w.ctx, inp).unwrap();
    }
    s.create_schedule(&w.ctx, input("other", "rate(1 hour)", sqs_target("x")))
        .unwrap();
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = s
            .list_schedules(
                &w.ctx,
                &ListSchedulesInput {
                    group_name: Some("team".into()),
                    max_results: Some("2".into()),
                    next_token: token.clone(),
                    ..ListSchedulesInput::default()
                },
            )
            .unwrap();
        for sch in page["Schedules"].as_array().unwrap() {
            names.push(sch["Name"].as_str().unwrap().to_owned());
            assert_eq!(sch["Target"], json!({"Arn": QUEUE}));
        }
        match page.get("NextToken").and_then(Value::as_str) {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(names, ["s0", "s1", "s2", "s3", "s4"]);
    let enabled = s
        .list_schedules(
            &w.ctx,
            &ListSchedulesInput {
                state: Some("DISABLED".into()),
                ..ListSchedulesInput::default()
            },
        )
        .unwrap();
    assert_eq!(enabled["Schedules"].as_array().unwrap().len(), 1);
    let groups = s.list_schedule_groups(&w.ctx, &ListGroupsInput::default()).unwrap();
    let names: Vec<&str> = groups["ScheduleGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "team"]);

    let e = s.delete_schedule_group(&w.ctx, "default", None).unwrap_err();
    assert_eq!(
        e.message,
        "This operation cannot be performed on schedule group default."
    );
    s.delete_schedule_group(&w.ctx, "team", None).unwrap();
    assert_eq!(s.stats().schedules, 1);
    assert_eq!(s.stats().pending_firings, 1);
    let e = s.get_schedule(&w.ctx, "s0", Some("team")).unwrap_err();
    assert_eq!(e.message, "Schedule group team does not exist.");
}

#[tokio::test(start_paused = true)]
async fn client_token_replays_the_answer() {
    let w = paused();
    let mut i = input("once", "rate(1 hour)", sqs_target("x"));
    i.client_token = Some("tok-1".into());
    let a = w.scheduler.create_schedule(&w.ctx, i.clone()).unwrap();
    let b = w.scheduler.create_schedule(&w.ctx, i.clone()).unwrap();
    assert_eq!(a, b);
    i.client_token = Some("tok-2".into());
    assert_eq!(
        w.scheduler.create_schedule(&w.ctx, i).unwrap_err().code,
        "ConflictException"
    );
    w.scheduler.delete_schedule(&w.ctx, "once", None, Some("d1")).unwrap();
    w.scheduler.delete_schedule(&w.ctx, "once", None, Some("d1")).unwrap();
}

#[tokio::test(start_paused = true)]
async fn rate_fires_every_period_with_context_attributes() {
    let w = paused();
    w.scheduler
        .create_schedule(
            &w.ctx,
            input(
                "tick",
                "rate(1 minute)",
                sqs_target(
                    r#"{"arn":"<aws.scheduler.schedule-arn>","at":"<aws.scheduler.scheduled-time>","n":"<aws.scheduler.attempt-number>"}"#,
                ),
            ),
        )
        .unwrap();
    until("three firings", || w.recorder.bodies(QUEUE).len() >= 3).await;
    let got = w.recorder.got();
    for (i, (_, m, at)) in got.iter().take(3).enumerate() {
        let v: Value = serde_json::from_str(&m.body).unwrap();
        let due = START + 60_000 * i as u64;
        assert_eq!(v["at"], crate::invoke::seconds_text(due));
        assert_eq!(v["n"], "1");
        assert_eq!(
            v["arn"],
            "arn:aws:scheduler:us-east-1:000000000000:schedule/default/tick"
        );
        assert!(*at >= due && *at < due + 1_000, "fired at {at}, due {due}");
    }
    assert!(w.scheduler.stats().fired >= 3);
}

#[tokio::test(start_paused = true)]
async fn flexible_window_fires_within_it() {
    let w = paused();
    let mut i = input("flex", "rate(1 hour)", sqs_target("<aws.scheduler.scheduled-time>"));
    i.flexible_time_window = serde_json::from_value(json!({"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15})).unwrap();
    w.scheduler.create_schedule(&w.ctx, i).unwrap();
    until("five firings", || w.recorder.bodies(QUEUE).len() >= 5).await;
    for (i, (_, m, at)) in w.recorder.got().iter().take(5).enumerate() {
        let scheduled = START + 3_600_000 * i as u64;
        assert_eq!(*m.body, *crate::invoke::seconds_text(scheduled));
        assert!(
            *at >= scheduled && *at < scheduled + 15 * 60_000 + 1_000,
            "{at} outside the window of {scheduled}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn failing_target_is_retried_then_dead_lettered() {
    let w = paused();
    w.recorder.missing.lock().unwrap().insert("gone".into());
    let target = json!({
        "Arn": "arn:aws:sqs:us-east-1:000000000000:gone",
        "RoleArn": ROLE,
        "Input": "attempt <aws.scheduler.attempt-number>",
        "RetryPolicy": {"MaximumRetryAttempts": 2},
        "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:000000000000:dlq"},
    });
    let mut i = input("fails", "at(2026-03-01T00:10:00)", target);
    i.action_after_completion = Some("DELETE".into());
    w.scheduler.create_schedule(&w.ctx, i).unwrap();
    let dlq = "arn:aws:sqs:us-east-1:000000000000:dlq";
    until("the dead letter", || !w.recorder.bodies(dlq).is_empty()).await;
    let (_, m, _) = w.recorder.got().into_iter().find(|(a, _, _)| a == dlq).unwrap();
    assert_eq!(&*m.body, "attempt 1");
    let attr = |k: &str| m.attributes[k].string_value.clone().unwrap();
    assert_eq!(attr("ERROR_CODE"), "AWS.SimpleQueueService.NonExistentQueue");
    assert_eq!(
        attr("ERROR_MESSAGE"),
        "The specified queue does not exist for this wsdl version."
    );
    assert_eq!(attr("EXHAUSTED_RETRY_CONDITION"), "MaximumRetryAttempts");
    assert_eq!(attr("RETRY_ATTEMPTS"), "2");
    assert_eq!(attr("IS_PAYLOAD_TRUNCATED"), "false");
    assert_eq!(attr("SCHEDULED_TIME"), "2026-03-01T00:10:00Z");
    assert_eq!(
        attr("SCHEDULE_ARN"),
        "arn:aws:scheduler:us-east-1:000000000000:schedule/default/fails"
    );
    assert_eq!(attr("TARGET_ARN"), "arn:aws:sqs:us-east-1:000000000000:gone");
    assert_eq!(attr("EXECUTION_ID").len(), 16);
    assert_eq!(m.attributes.len(), 9);
    let st = w.scheduler.stats();
    assert_eq!((st.dead_lettered, st.retried, st.deleted_after_completion), (1, 2, 1));
    assert_eq!(st.schedules, 0);
    until("the execution forgotten", || w.scheduler.stats().executions == 0).await;
}

#[tokio::test(start_paused = true)]
async fn attempt_number_counts_attempts() {
    let w = paused();
    // The queue is missing for the first two attempts, then appears.
    w.recorder.missing.lock().unwrap().insert("late".into());
    let target = json!({
        "Arn": "arn:aws:sqs:us-east-1:000000000000:late",
        "RoleArn": ROLE,
        "Input": "<aws.scheduler.attempt-number>",
    });
    w.scheduler
        .create_schedule(&w.ctx, input("retry", "at(2026-03-01T00:01:00)", target))
        .unwrap();
    until("two retries", || w.scheduler.stats().retried >= 2).await;
    w.recorder.missing.lock().unwrap().clear();
    until("the delivery", || {
        !w.recorder.bodies("arn:aws:sqs:us-east-1:000000000000:late").is_empty()
    })
    .await;
    let n: u32 = w.recorder.bodies("arn:aws:sqs:us-east-1:000000000000:late")[0]
        .parse()
        .unwrap();
    assert!(n >= 3, "attempt {n}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_clock_step_fires_one_time_schedule_and_deletes_it() {
    let manual = Arc::new(ManualClock::new(START));
    let w = world(manual.clone());
    let mut i = input("once", "at(2026-03-01T01:00:00)", sqs_target("reminder"));
    i.action_after_completion = Some("DELETE".into());
    w.scheduler.create_schedule(&w.ctx, i).unwrap();
    for i in 0..3 {
        w.scheduler
            .create_schedule(
                &w.ctx,
                input(&format!("every{i}"), "rate(10 minutes)", sqs_target(&format!("r{i}"))),
            )
            .unwrap();
    }
    // Let the timing task start its wait.
    while manual.waiting() == 0 {
        tokio::task::yield_now().await;
    }
    manual.step(3_600_000).await;
    let got = w.recorder.got();
    assert_eq!(w.recorder.bodies(QUEUE).iter().filter(|b| *b == "reminder").count(), 1);
    // Seven firings of each rate schedule in the hour (at its creation, then every ten
    // minutes), every one at its own time, in order.
    assert_eq!(
        got.len(),
        1 + 3 * 7,
        "{:?}",
        got.iter().map(|g| &g.1.body).collect::<Vec<_>>()
    );
    assert!(got.windows(2).all(|p| p[0].2 <= p[1].2));
    let e = w.scheduler.get_schedule(&w.ctx, "once", None).unwrap_err();
    assert_eq!(e.code, "ResourceNotFoundException");
    assert_eq!(w.scheduler.stats().deleted_after_completion, 1);
    let _ = &w.clock;
}

#[tokio::test(start_paused = true)]
async fn universal_and_event_bus_targets() {
    let w = paused();
    let send = json!({
        "Arn": "arn:aws:scheduler:::aws-sdk:sqs:sendMessage",
        "RoleArn": ROLE,
        "Input": r#"{"QueueUrl":"http://127.0.0.1:4566/000000000000/q","MessageBody":"<aws.scheduler.execution-id>","MessageAttributes":{"kind":{"DataType":"String","StringValue":"tick"}}}"#,
    });
    w.scheduler
        .create_schedule(&w.ctx, input("u", "at(2026-03-01T00:01:00)", send))
        .unwrap();
    let bus = json!({
        "Arn": "arn:aws:events:us-east-1:000000000000:event-bus/default",
        "RoleArn": ROLE,
        "Input": r#"{"hello":"world"}"#,
        "EventBridgeParameters": {"DetailType": "Ping", "Source": "my.scheduler"},
    });
    w.scheduler
        .create_schedule(&w.ctx, input("e", "at(2026-03-01T00:02:00)", bus.clone()))
        .unwrap();
    until("both", || w.recorder.got().len() >= 2).await;
    let got = w.recorder.got();
    assert_eq!(got[0].0, QUEUE);
    assert_eq!(got[0].1.body.len(), 16);
    assert_eq!(got[0].1.attributes["kind"].string_value.as_deref(), Some("tick"));
    let event: Value = serde_json::from_str(&got[1].1.body).unwrap();
    assert_eq!(event["source"], "my.scheduler");
    assert_eq!(event["detail-type"], "Ping");
    assert_eq!(event["detail"], json!({"hello": "world"}));
    assert_eq!(event["account"], "000000000000");
    assert_eq!(
        event["resources"],
        json!(["arn:aws:scheduler:us-east-1:000000000000:schedule/default/e"])
    );
    // An event bus target needs EventBridgeParameters.
    let mut no_params = bus;
    no_params.as_object_mut().unwrap().remove("EventBridgeParameters");
    assert_eq!(
        w.scheduler
            .create_schedule(&w.ctx, input("e2", "rate(1 hour)", no_params))
            .unwrap_err()
            .code,
        "ValidationException"
    );
}

#[tokio::test(start_paused = true)]
async fn recurring_schedule_with_end_date_is_deleted_after_its_last_invocation() {
    let w = paused();
    let mut i = input("until", "rate(1 hour)", sqs_target("<aws.scheduler.scheduled-time>"));
    // A StartDate in the future: the first firing is at it.
    i.start_date = Some((START + 600_000) as f64 / 1000.0);
    i.end_date = Some((START + 600_000 + 9_000_000) as f64 / 1000.0);
    i.action_after_completion = Some("DELETE".into());
    w.scheduler.create_schedule(&w.ctx, i).unwrap();
    until("the schedule deleted", || w.scheduler.stats().schedules == 0).await;
    let bodies = w.recorder.bodies(QUEUE);
    let expected: Vec<String> = (0..3)
        .map(|k| crate::invoke::seconds_text(START + 600_000 + k * 3_600_000))
        .collect();
    assert_eq!(bodies, expected);
    assert_eq!(w.scheduler.stats().deleted_after_completion, 1);
}

#[tokio::test(start_paused = true)]
async fn cron_in_a_time_zone_and_disabled_schedules() {
    let w = paused();
    let mut i = input("ny", "cron(0 9 * * ? *)", sqs_target("<aws.scheduler.scheduled-time>"));
    i.schedule_expression_timezone = Some("America/New_York".into());
    w.scheduler.create_schedule(&w.ctx, i).unwrap();
    let mut off = input("off", "rate(1 minute)", sqs_target("never"));
    off.state = Some("DISABLED".into());
    w.scheduler.create_schedule(&w.ctx, off).unwrap();
    until("ten mornings", || w.recorder.bodies(QUEUE).len() >= 10).await;
    let bodies = w.recorder.bodies(QUEUE);
    // 2026-03-08: New York moves from UTC-5 to UTC-4.
    assert_eq!(bodies[6], "2026-03-07T14:00:00Z");
    assert_eq!(bodies[7], "2026-03-08T13:00:00Z");
    assert!(!bodies.iter().any(|b| b == "never"));
    let mut bad = input("tz", "cron(0 9 * * ? *)", sqs_target("x"));
    bad.schedule_expression_timezone = Some("Mars/Olympus".into());
    assert_eq!(
        w.scheduler.create_schedule(&w.ctx, bad).unwrap_err().message,
        "Invalid time zone: Mars/Olympus"
    );
}
