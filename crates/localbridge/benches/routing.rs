//! EventBridge routing without HTTP (`cargo bench -p localbridge --bench routing`): PutEvents
//! (10 entries a call) through `lb_events` — validation, event assembly, the bus's compiled rules,
//! one delivery per matched target through the delivery engine — to a target that counts, with
//! 1, 1,000 and 10,000 rules on the bus (one rule matches each event). Reports events/s and the
//! process CPU time per routed event, best of 3 runs. The HTTP side (and SQS storing the
//! message) is measured by `scripts/bench-events`; this is the part the router owns.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lb_core::deliver::{BoxFuture, DeliveryError, DestinationError, Engine, EngineConfig, Message, Registry, Target};
use lb_core::policy::PolicyRequest;
use lb_core::{Arn, Clock, RequestContext, SystemClock};
use lb_events::model::{PutEventsEntry, PutEventsResult, PutRuleInput};
use lb_events::{Events, EventsConfig};

#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const ENTRIES: usize = 10;

/// PutEvents calls per run (`LB_ROUTING_CALLS`, default 20,000: 200,000 events).
fn calls() -> usize {
    std::env::var("LB_ROUTING_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

#[derive(Default)]
struct Counter(AtomicU64);

impl Target for Counter {
    fn deliver<'a>(&'a self, _arn: &'a Arn, _msg: &'a Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Box::pin(async { Ok(()) })
    }

    fn deliver_batch<'a>(
        &'a self,
        _arn: &'a Arn,
        msgs: &'a [Arc<Message>],
    ) -> BoxFuture<'a, Vec<Result<(), DeliveryError>>> {
        self.0.fetch_add(msgs.len() as u64, Ordering::Relaxed);
        Box::pin(async move { vec![Ok(()); msgs.len()] })
    }

    fn max_batch(&self, _arn: &Arn) -> usize {
        10
    }

    fn authorize(&self, _arn: &Arn, _req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
        Ok(())
    }
}

async fn run(rules: usize) -> (f64, f64) {
    let calls = calls();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let registry = Arc::new(Registry::new());
    let counter = Arc::new(Counter::default());
    registry.register("sqs", counter.clone());
    let engine = Engine::new(
        Arc::clone(&registry),
        Arc::clone(&clock),
        EngineConfig {
            max_pending_per_target: calls * ENTRIES,
            max_pending_total: calls * ENTRIES,
            ..EngineConfig::default()
        },
    );
    let events = Events::new(
        clock,
        engine.clone(),
        EventsConfig {
            max_rules_per_bus: rules,
            ..EventsConfig::default()
        },
    );
    let ctx = RequestContext::default();
    for i in 0..rules {
        let name = format!("r{i}");
        let pattern = format!(r#"{{"source":["bench"],"detail-type":["t"],"detail":{{"customer":["c-{i}"]}}}}"#);
        events
            .put_rule(
                &ctx,
                PutRuleInput {
                    name: Some(name.clone()),
                    event_pattern: Some(pattern),
                    ..PutRuleInput::default()
                },
            )
            .expect("rule");
        let target = serde_json::json!({"Id": "q", "Arn": "arn:aws:sqs:us-east-1:000000000000:bench"});
        events
            .put_targets(&ctx, Some(&name), None, Some(vec![target]))
            .expect("target");
    }
    let entry = PutEventsEntry {
        source: Some("bench".into()),
        detail_type: Some("t".into()),
        detail: Some(r#"{"customer":"c-0","order":{"id":"o-1","total":42.5,"items":["a","b"]}}"#.into()),
        ..PutEventsEntry::default()
    };
    let cpu = common::cpu_seconds();
    let start = Instant::now();
    for _ in 0..calls {
        let out = events
            .put_events(&ctx, Some(vec![entry.clone(); ENTRIES]))
            .expect("put");
        debug_assert!(out.iter().all(|r| matches!(r, PutEventsResult::Accepted { .. })));
    }
    let want = (calls * ENTRIES) as u64;
    while counter.0.load(Ordering::Relaxed) < want {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = common::cpu_seconds() - cpu;
    assert_eq!(engine.stats().dropped, 0);
    (want as f64 / wall, cpu * 1e6 / want as f64)
}

fn main() {
    let rt = common::runtime();
    println!("PutEvents (10 entries a call) -> rule -> counting target, in process, best of 3");
    println!("{:>8} {:>14} {:>16}", "rules", "events/s", "CPU µs/event");
    // `LB_ROUTING_RULES=1` and `LB_ROUTING_RUNS=1` for a profiler's run.
    let only: Option<usize> = std::env::var("LB_ROUTING_RULES").ok().and_then(|v| v.parse().ok());
    let runs: usize = std::env::var("LB_ROUTING_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    for rules in [1usize, 1_000, 10_000]
        .into_iter()
        .filter(|r| only.is_none_or(|o| o == *r))
    {
        let mut best = (0.0f64, f64::MAX);
        for _ in 0..runs {
            let (rate, cpu) = rt.block_on(run(rules));
            best = (best.0.max(rate), best.1.min(cpu));
        }
        println!("{rules:>8} {:>14.0} {:>16.2}", best.0, best.1);
    }
}
