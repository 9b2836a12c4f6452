//! Scheduled rules: a rule with a `ScheduleExpression` (`rate(...)` or `cron(...)`, UTC, on the
//! `default` bus) that is enabled sends a "Scheduled Event" to its own targets at every firing,
//! through the same delivery path as routed events (input, InputPath, InputTransformer, retry
//! policy, dead-letter queue, ledger, journal, the rule's metrics).
//!
//! One task serves every scheduled rule of the service: the rules' next firings are one ordered
//! map, so 10,000 scheduled rules cost one timer on the platform [`Clock`]. A change to a rule
//! (PutRule, EnableRule, DisableRule, DeleteRule, PutTargets, RemoveTargets) is mirrored here
//! at once (from `sync_route`) and wakes the task.
//!
//! Decisions:
//! - The event is the one AWS delivers: `{"version":"0","id":..,"detail-type":"Scheduled
//!   Event","source":"aws.events","account":..,"time":..,"region":..,"resources":[<rule
//!   ARN>],"detail":{}}`, `time` the scheduled minute in whole seconds (EventBridge User Guide,
//!   the scheduled event sample; Lambda Developer Guide, "Using Lambda with scheduled events").
//! - A rate "starts when you create the scheduled event rule" (EventBridge User Guide, rate
//!   expressions): it is anchored at the minute the rule became scheduled and enabled (created,
//!   enabled again, or given another expression) and first fires one period later. PutRule
//!   again with the same expression on an enabled rule keeps the anchor.
//! - Rules fire at whole minutes ("the minimum precision for a schedule is one minute", AWS
//!   Knowledge Center, eventbridge-scheduler-adjust-dst).
//! - Missed firings: on the manual clock every due firing fires, in order, each with its own
//!   time (`POST /_localbridge/clock` steps from one due deadline to the next, so advancing an
//!   hour fires a `rate(1 minute)` rule 60 times). On the system clock a rule that missed
//!   several firings (a suspended machine) fires once, for the latest one: AWS does not replay
//!   a backlog of scheduled events.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use lb_core::clock::{ClockHold, ClockMode};
use lb_core::Clock;
use lb_schedule::{Expression, Zone};
use tokio::sync::Notify;

use crate::journal::{JournalEntry, JournalMatch};
use crate::route::{delivery_for, BusHandle, RouteTarget, RoutedEvent, RuleCounters};
use crate::Events;

const MINUTE_MS: i64 = 60_000;
/// Firings handed out per turn of the task, so a long catch-up never holds the lock for long.
const BATCH: usize = 1_000;

/// A scheduled rule as its firings need it.
pub(crate) struct ScheduledRule {
    name: Arc<str>,
    arn: Arc<str>,
    bus: Arc<str>,
    region: Arc<str>,
    account: Arc<str>,
    targets: Vec<Arc<RouteTarget>>,
    counters: Arc<RuleCounters>,
}

struct Entry {
    rule: Arc<ScheduledRule>,
    text: String,
    expression: Expression,
    anchor: i64,
    /// Its key in `State::due`.
    key: (i64, u64),
}

#[derive(Default)]
struct State {
    /// By rule ARN.
    rules: HashMap<Arc<str>, Entry>,
    /// (next firing, sequence) -> rule ARN: the earliest first.
    due: BTreeMap<(i64, u64), Arc<str>>,
    seq: u64,
}

impl State {
    fn next_key(&mut self, at: i64) -> (i64, u64) {
        self.seq += 1;
        (at, self.seq)
    }

    fn remove(&mut self, arn: &str) {
        if let Some(e) = self.rules.remove(arn) {
            self.due.remove(&e.key);
        }
    }
}

/// What a scheduled, enabled rule is made of, as `sync_route` hands it over.
pub(crate) struct Scheduling<'a> {
    pub expression: &'a str,
    pub targets: Vec<Arc<RouteTarget>>,
    pub counters: Arc<RuleCounters>,
}

/// The service's scheduled rules and their next firings.
pub struct Schedules {
    clock: Arc<dyn Clock>,
    // A std mutex: held for a map operation, never across an await; taken after the service's
    // own mutex (from `sync_route`), never before it.
    state: Mutex<State>,
    changed: Notify,
    /// Held from a change until the timing task waits again, so a manual clock moved right
    /// after PutRule stops at the rule's first firing.
    woken: Mutex<Option<ClockHold>>,
}

impl Schedules {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            woken: Mutex::new(None),
        }
    }

    /// Wakes the timing task, holding a manual clock's step until it waits again.
    fn wake(&self) {
        *self.woken.lock().unwrap_or_else(PoisonError::into_inner) = Some(self.clock.hold());
        self.changed.notify_one();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many rules are scheduled.
    pub fn len(&self) -> usize {
        self.lock().rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next firing of the rule of that ARN (Unix ms), if it is scheduled.
    pub fn next_firing(&self, rule_arn: &str) -> Option<i64> {
        self.lock().rules.get(rule_arn).map(|e| e.key.0)
    }

    /// Mirrors a rule of `bus`: `scheduled` when it is enabled and has a schedule, `None` when
    /// it has none, is disabled or is gone.
    pub(crate) fn sync(&self, bus: &BusHandle, name: &str, scheduled: Option<Scheduling<'_>>) {
        // Scheduled rules live on the default bus, whose rules' ARNs carry no bus name.
        let arn: Arc<str> = format!("arn:aws:events:{}:{}:rule/{name}", bus.region, bus.account).into();
        let mut state = self.lock();
        let Some(Scheduling {
            expression: text,
            targets,
            counters,
        }) = scheduled
        else {
            state.remove(&arn);
            drop(state);
            self.wake();
            return;
        };
        let rule = Arc::new(ScheduledRule {
            name: name.into(),
            arn: Arc::clone(&arn),
            bus: Arc::clone(&bus.arn),
            region: bus.region.as_str().into(),
            account: bus.account.as_str().into(),
            targets,
            counters,
        });
        if let Some(e) = state.rules.get_mut(&arn) {
            if e.text == text {
                // Its targets changed, not its schedule.
                e.rule = rule;
                return;
            }
        }
        state.remove(&arn);
        // Validated by PutRule; a text that does not parse is never scheduled.
        let Ok(expression) = lb_schedule::parse(text) else {
            return;
        };
        let now = i64::try_from(self.clock.now_millis()).unwrap_or(i64::MAX);
        let anchor = now - now.rem_euclid(MINUTE_MS);
        // A cron past its last year never fires again: nothing to schedule.
        if let Some(next) = expression.next_after(anchor, anchor, &Zone::utc()) {
            let key = state.next_key(next);
            state.due.insert(key, Arc::clone(&arn));
            state.rules.insert(
                arn,
                Entry {
                    rule,
                    text: text.to_owned(),
                    expression,
                    anchor,
                    key,
                },
            );
        }
        drop(state);
        self.wake();
    }

    /// The earliest firings due at `now`, in order, at most `limit`, each rescheduled to its
    /// next firing. Without `catch_up` a rule that missed several firings gives only the latest.
    fn take_due(&self, now: i64, catch_up: bool, limit: usize) -> Vec<(Arc<ScheduledRule>, i64)> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let utc = Zone::utc();
        let mut out = Vec::new();
        while out.len() < limit {
            let Some((&key, _)) = state.due.first_key_value().filter(|((at, _), _)| *at <= now) else {
                break;
            };
            let Some(arn) = state.due.remove(&key) else { break };
            let Some(e) = state.rules.get_mut(&arn) else { continue };
            let mut at = key.0;
            if !catch_up {
                while let Some(n) = e.expression.next_after(at, e.anchor, &utc).filter(|n| *n <= now) {
                    at = n;
                }
            }
            out.push((Arc::clone(&e.rule), at));
            match e.expression.next_after(at, e.anchor, &utc) {
                Some(next) => {
                    state.seq += 1;
                    e.key = (next, state.seq);
                    state.due.insert(e.key, arn);
                }
                None => {
                    state.rules.remove(&arn);
                }
            }
        }
        out
    }

    fn next_due(&self) -> Option<i64> {
        self.lock().due.first_key_value().map(|((at, _), _)| *at)
    }
}

/// The task: fire what is due, then wait for the next firing or a change.
async fn run(events: Weak<Events>, schedules: Arc<Schedules>, clock: Arc<dyn Clock>) {
    let catch_up = clock.mode() == ClockMode::Manual;
    // On the manual clock the wait that woke the task holds the clock's step at its deadline
    // until the firings are submitted and the next wait is registered, so a step through an
    // hour stops at every firing in order.
    let mut hold: Option<ClockHold> = None;
    loop {
        let now = i64::try_from(clock.now_millis()).unwrap_or(i64::MAX);
        let due = schedules.take_due(now, catch_up, BATCH);
        if !due.is_empty() {
            let Some(events) = events.upgrade() else { return };
            for (rule, at) in &due {
                events.fire_scheduled(rule, *at);
            }
            drop(events);
            tokio::task::yield_now().await;
            continue;
        }
        let changed = schedules.changed.notified();
        let sleep = schedules
            .next_due()
            .map(|at| clock.sleep_until_held(u64::try_from(at).unwrap_or(0)));
        // The wait is registered: a step may go on.
        drop(schedules.woken.lock().unwrap_or_else(PoisonError::into_inner).take());
        drop(hold.take());
        hold = match sleep {
            Some(sleep) => tokio::select! {
                h = sleep => Some(h),
                () = changed => None,
            },
            None => {
                changed.await;
                None
            }
        };
    }
}

/// An event's `time`: RFC 3339, UTC, whole seconds.
fn event_time(millis: i64) -> String {
    let s = lb_core::clock::iso8601_millis(u64::try_from(millis).unwrap_or(0));
    format!("{}Z", &s[..19])
}

impl Events {
    /// Starts the one task that fires the service's scheduled rules (call once, inside the
    /// runtime). It ends when the service is dropped, or when the handle is aborted.
    pub fn start_schedules(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(run(
            Arc::downgrade(self),
            Arc::clone(&self.schedules),
            Arc::clone(&self.clock),
        ))
    }

    /// The service's scheduled rules.
    pub fn schedules(&self) -> &Schedules {
        &self.schedules
    }

    /// Sends one "Scheduled Event" of `rule`, scheduled for `at` (Unix ms), to its targets.
    fn fire_scheduled(&self, rule: &ScheduledRule, at: i64) {
        let id = lb_core::ids::uuid_shared();
        let resource = serde_json::to_string(&*rule.arn).unwrap_or_default();
        let text = format!(
            r#"{{"version":"0","id":"{id}","detail-type":"Scheduled Event","source":"aws.events","account":"{}","time":"{}","region":"{}","resources":[{resource}],"detail":{{}}}}"#,
            rule.account,
            event_time(at),
            rule.region,
        );
        let now = self.clock.now_millis();
        let now_text = event_time(i64::try_from(now).unwrap_or(i64::MAX));
        let mut event = RoutedEvent::new(Arc::clone(&id), text.into(), Arc::clone(&rule.account), &now_text);
        rule.counters.matched.fetch_add(1, Ordering::Relaxed);
        let mut m = JournalMatch {
            rule: Arc::clone(&rule.name),
            arn: Arc::clone(&rule.arn),
            deliveries: Vec::with_capacity(rule.targets.len()),
            errors: Vec::new(),
        };
        for t in &rule.targets {
            match delivery_for(&mut event, &rule.name, &rule.arn, &rule.counters, t) {
                Ok(d) => match self.engine.submit(d) {
                    Ok(ledger_id) => m.deliveries.push(ledger_id),
                    Err(e) => {
                        rule.counters.throttled.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(rule = %rule.arn, target = %t.id, error = ?e, "scheduled event not delivered: the delivery engine had no room");
                        m.errors
                            .push(format!("target {}: the delivery engine had no room (throttled)", t.id));
                    }
                },
                Err(reason) => {
                    rule.counters.input_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(rule = %rule.arn, target = %t.id, %reason, "target input could not be built");
                    m.errors
                        .push(format!("target {}: the input could not be built: {reason}", t.id));
                }
            }
        }
        self.journal().record(JournalEntry {
            id,
            bus: Arc::clone(&rule.bus),
            event: Arc::clone(&event.text),
            at: now,
            matched: vec![m],
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use lb_core::arn::Arn;
    use lb_core::deliver::{BoxFuture, DeliveryError, DestinationError, Engine, Message, Registry, Target};
    use lb_core::policy::PolicyRequest;
    use lb_core::{ManualClock, RequestContext};
    use serde_json::{json, Value};

    use super::*;
    use crate::model::PutRuleInput;
    use crate::EventsConfig;

    /// 2023-11-14T22:13:20Z.
    const START: u64 = 1_700_000_000_000;
    const Q: &str = "arn:aws:sqs:us-east-1:000000000000:q";
    const RULE_ARN: &str = "arn:aws:events:us-east-1:000000000000:rule/tick";

    #[derive(Default)]
    struct Fake {
        got: Mutex<Vec<Message>>,
    }

    impl Target for Fake {
        fn deliver<'a>(&'a self, _arn: &'a Arn, msg: &'a Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
            self.got.lock().unwrap().push(msg.clone());
            Box::pin(async { Ok(()) })
        }

        fn authorize(&self, _arn: &Arn, _req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
            Ok(())
        }
    }

    struct Rig {
        events: Arc<Events>,
        clock: Arc<ManualClock>,
        fake: Arc<Fake>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Rig {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    fn rig_with(config: EventsConfig) -> Rig {
        let clock = Arc::new(ManualClock::new(START));
        let registry = Arc::new(Registry::new());
        let engine = Engine::new(Arc::clone(&registry), clock.clone(), Default::default());
        let events = Arc::new(Events::new(clock.clone(), engine, config));
        let fake = Arc::new(Fake::default());
        registry.register("sqs", fake.clone());
        let task = events.start_schedules();
        Rig {
            events,
            clock,
            fake,
            task,
        }
    }

    fn rig() -> Rig {
        rig_with(EventsConfig::default())
    }

    fn ctx() -> RequestContext {
        RequestContext::default()
    }

    fn scheduled(name: &str, expression: &str) -> PutRuleInput {
        PutRuleInput {
            name: Some(name.to_owned()),
            schedule_expression: Some(expression.to_owned()),
            ..Default::default()
        }
    }

    impl Rig {
        fn rule(&self, name: &str, expression: &str, target: Value) {
            self.events.put_rule(&ctx(), scheduled(name, expression)).unwrap();
            let failed = self
                .events
                .put_targets(&ctx(), Some(name), None, Some(vec![target]))
                .unwrap();
            assert!(failed.is_empty(), "{failed:?}");
        }

        async fn advance(&self, seconds: u64) {
            self.clock.step(seconds * 1000).await;
        }

        /// Waits until `n` messages have arrived (the engine delivers on its own tasks).
        async fn received(&self, n: usize) -> Vec<Message> {
            for _ in 0..10_000 {
                let got = self.fake.got.lock().unwrap().clone();
                if got.len() >= n {
                    return got;
                }
                tokio::task::yield_now().await;
            }
            panic!("{} messages never arrived", n);
        }

        fn bodies(&self) -> Vec<Value> {
            let got = self.fake.got.lock().unwrap();
            got.iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect()
        }
    }

    #[tokio::test]
    async fn a_rate_rule_fires_every_period_from_its_creation_minute() {
        let r = rig();
        r.rule("tick", "rate(1 minute)", json!({"Id": "t", "Arn": Q}));
        // Created at 22:13:20: anchored at 22:13, first firing 22:14.
        assert_eq!(r.events.schedules().next_firing(RULE_ARN), Some(1_700_000_040_000));
        r.advance(3600).await;
        let got = r.received(60).await;
        assert_eq!(got.len(), 60);
        let bodies = r.bodies();
        let times: Vec<&str> = bodies.iter().map(|b| b["time"].as_str().unwrap()).collect();
        assert_eq!(times[0], "2023-11-14T22:14:00Z");
        assert_eq!(times[1], "2023-11-14T22:15:00Z");
        assert_eq!(times[59], "2023-11-14T23:13:00Z");
        let mut sorted = times.clone();
        sorted.sort_unstable();
        assert_eq!(times, sorted, "in order");
        let first = &bodies[0];
        let id = first["id"].as_str().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(
            *first,
            json!({
                "version": "0",
                "id": id,
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": "000000000000",
                "time": "2023-11-14T22:14:00Z",
                "region": "us-east-1",
                "resources": [RULE_ARN],
                "detail": {}
            })
        );
        // AWS's key order, compact.
        assert!(got[0].body.starts_with(r#"{"version":"0","id":""#), "{}", got[0].body);
        assert!(got[0].body.ends_with(
            r#""region":"us-east-1","resources":["arn:aws:events:us-east-1:000000000000:rule/tick"],"detail":{}}"#
        ));
        assert_eq!(got[0].source_arn.as_deref(), Some(RULE_ARN));
        assert_eq!(got[0].principal.as_deref(), Some(crate::PRINCIPAL));
        let ids: std::collections::HashSet<&str> = bodies.iter().map(|b| b["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 60, "a new id per firing");
        let m = r.events.rule_metrics()[0].2;
        assert_eq!((m.matched_events, m.invocations), (60, 60));
        // The journal explains each firing.
        let report = r.events.event_report(id, false).unwrap();
        assert_eq!(report["matched"][0]["rule"], "tick");
    }

    #[tokio::test]
    async fn a_cron_rule_fires_at_its_minutes_in_utc() {
        let r = rig();
        r.rule("quarter", "cron(0/15 * * * ? *)", json!({"Id": "t", "Arn": Q}));
        r.rule("daily", "cron(30 6 * * ? *)", json!({"Id": "t", "Arn": Q}));
        r.advance(9 * 3600).await;
        r.received(36 + 1).await;
        let bodies = r.bodies();
        let of = |rule: &str| -> Vec<String> {
            bodies
                .iter()
                .filter(|b| b["resources"][0].as_str().unwrap().ends_with(rule))
                .map(|b| b["time"].as_str().unwrap().to_owned())
                .collect()
        };
        let quarter = of("/quarter");
        assert_eq!(quarter.len(), 36);
        assert_eq!(
            quarter[..3],
            ["2023-11-14T22:15:00Z", "2023-11-14T22:30:00Z", "2023-11-14T22:45:00Z"]
        );
        assert_eq!(of("/daily"), ["2023-11-15T06:30:00Z"]);
        // Both rules' firings arrive in time order.
        let times: Vec<&str> = bodies.iter().map(|b| b["time"].as_str().unwrap()).collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(times, sorted);
    }

    #[tokio::test]
    async fn disabling_deleting_and_changing_a_rule_change_its_schedule_at_once() {
        let r = rig();
        r.rule("tick", "rate(5 minutes)", json!({"Id": "t", "Arn": Q}));
        assert_eq!(r.events.schedules().next_firing(RULE_ARN), Some(1_700_000_280_000));
        r.advance(600).await;
        r.received(2).await;
        r.events.disable_rule(&ctx(), Some("tick"), None).unwrap();
        assert_eq!(r.events.schedules().next_firing(RULE_ARN), None);
        r.advance(3600).await;
        assert_eq!(r.fake.got.lock().unwrap().len(), 2);
        // Enabled again at 23:23:20: a new anchor, first firing five minutes after 23:23.
        r.events.enable_rule(&ctx(), Some("tick"), None).unwrap();
        assert_eq!(
            r.events.schedules().next_firing(RULE_ARN).map(event_time).as_deref(),
            Some("2023-11-14T23:28:00Z")
        );
        // New targets keep the schedule; PutRule with the same expression too.
        let failed = r
            .events
            .put_targets(
                &ctx(),
                Some("tick"),
                None,
                Some(vec![json!({"Id": "u", "Arn": Q, "Input": "{\"n\":1}"})]),
            )
            .unwrap();
        assert!(failed.is_empty());
        r.events.put_rule(&ctx(), scheduled("tick", "rate(5 minutes)")).unwrap();
        assert_eq!(
            r.events.schedules().next_firing(RULE_ARN).map(event_time).as_deref(),
            Some("2023-11-14T23:28:00Z")
        );
        r.advance(300).await;
        let got = r.received(4).await;
        assert_eq!(got.len(), 4, "both targets");
        assert!(got.iter().any(|m| &*m.body == "{\"n\":1}"));
        // Another expression: rescheduled from now.
        r.events
            .put_rule(&ctx(), scheduled("tick", "cron(0 0 1 1 ? *)"))
            .unwrap();
        assert_eq!(
            r.events.schedules().next_firing(RULE_ARN).map(event_time).as_deref(),
            Some("2024-01-01T00:00:00Z")
        );
        r.events
            .remove_targets(&ctx(), Some("tick"), None, Some(vec!["t".into(), "u".into()]))
            .unwrap();
        r.events.delete_rule(&ctx(), Some("tick"), None).unwrap();
        assert!(r.events.schedules().is_empty());
    }

    #[tokio::test]
    async fn targets_get_their_input_and_transformer() {
        let r = rig();
        r.rule(
            "tick",
            "rate(1 minute)",
            json!({"Id": "t", "Arn": Q, "InputTransformer": {
                "InputPathsMap": {"time": "$.time", "src": "$.source"},
                "InputTemplate": "{\"at\": <time>, \"from\": <src>, \"rule\": <aws.events.rule-name>}"}}),
        );
        r.advance(60).await;
        r.received(1).await;
        assert_eq!(
            r.bodies()[0],
            json!({"at": "2023-11-14T22:14:00Z", "from": "aws.events", "rule": "tick"})
        );
    }

    #[test]
    fn put_rule_validates_schedules() {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(START));
        let engine = Engine::new(Arc::new(Registry::new()), Arc::clone(&clock), Default::default());
        let e = Events::new(clock, engine, EventsConfig::default());
        for bad in [
            "rate(1 minutes)",
            "rate(5 minute)",
            "rate(0 minutes)",
            "cron(0 12 * * * *)",
            "cron(0 12 ? * ? *)",
            "cron(0 12 * * ?)",
            "cron(0 0 ? * 3#1,6#3 *)",
            "at(2026-01-01T00:00:00)",
            "rate(5 minutes",
        ] {
            let err = e.put_rule(&ctx(), scheduled("r", bad)).unwrap_err();
            assert_eq!(
                (&*err.code, err.message.as_str(), err.status),
                ("ValidationException", "Parameter ScheduleExpression is not valid.", 400),
                "{bad}"
            );
        }
        e.put_rule(&ctx(), scheduled("r", "cron(0 9 ? * 2#1 *)")).unwrap();
        // A schedule never fires again when its years are past: accepted, never scheduled.
        e.put_rule(&ctx(), scheduled("old", "cron(0 0 1 1 ? 2020)")).unwrap();
        assert_eq!(e.schedules().len(), 1);
        e.create_event_bus(
            &ctx(),
            crate::model::CreateEventBusInput {
                name: Some("orders".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let err = e
            .put_rule(
                &ctx(),
                PutRuleInput {
                    event_bus_name: Some("orders".into()),
                    ..scheduled("r", "rate(1 minute)")
                },
            )
            .unwrap_err();
        assert_eq!(
            err.message,
            "ScheduleExpression is supported only on the default event bus."
        );
    }

    /// 10,000 scheduled rules share one timer: one wait on the clock, whatever their number.
    #[tokio::test]
    async fn ten_thousand_rules_wait_on_one_timer() {
        let r = rig_with(EventsConfig {
            max_rules_per_bus: 20_000,
            ..EventsConfig::default()
        });
        for i in 0..10_000 {
            let expr = if i % 2 == 0 {
                "rate(1 minute)"
            } else {
                "cron(* * * * ? *)"
            };
            r.events.put_rule(&ctx(), scheduled(&format!("r{i}"), expr)).unwrap();
        }
        r.events
            .put_targets(&ctx(), Some("r0"), None, Some(vec![json!({"Id": "t", "Arn": Q})]))
            .unwrap();
        assert_eq!(r.events.schedules().len(), 10_000);
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert_eq!(r.clock.waiting(), 1);
        r.advance(120).await;
        let got = r.received(2).await;
        assert_eq!(got.len(), 2);
        let metrics = r.events.rule_metrics();
        assert!(
            metrics.iter().all(|(_, _, m)| m.matched_events == 2),
            "every rule fired twice"
        );
        assert_eq!(r.clock.waiting(), 1);
    }

    fn every_minute() -> Scheduling<'static> {
        Scheduling {
            expression: "rate(1 minute)",
            targets: Vec::new(),
            counters: Arc::default(),
        }
    }

    #[test]
    fn without_catch_up_a_late_rule_fires_once_for_its_latest_time() {
        let clock = Arc::new(ManualClock::new(START));
        let s = Schedules::new(clock.clone());
        let bus = BusHandle::new(
            "arn:aws:events:us-east-1:000000000000:event-bus/default",
            "us-east-1",
            "000000000000",
        );
        s.sync(&bus, "tick", Some(every_minute()));
        let now = i64::try_from(START).unwrap() + 3_600_000;
        let fired: Vec<String> = s
            .take_due(now, false, BATCH)
            .iter()
            .map(|(_, at)| event_time(*at))
            .collect();
        assert_eq!(fired, ["2023-11-14T23:13:00Z"]);
        assert_eq!(
            s.next_firing(RULE_ARN).map(event_time).as_deref(),
            Some("2023-11-14T23:14:00Z")
        );
        // With catch-up, every missed firing (22:14 to 00:13, two hours), in order, in batches.
        s.sync(&bus, "tick", None);
        s.sync(&bus, "tick", Some(every_minute()));
        let first = s.take_due(now + 3_600_000, true, 50);
        let rest = s.take_due(now + 3_600_000, true, BATCH);
        assert_eq!((first.len(), rest.len()), (50, 70));
        let times: Vec<i64> = first.iter().chain(&rest).map(|(_, at)| *at).collect();
        assert!(times.windows(2).all(|w| w[1] - w[0] == 60_000));
    }
}
