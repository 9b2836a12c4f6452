//! The delivery engine's benchmark (`cargo bench -p localbridge --bench delivery`).
//!
//! 1. Throughput: S3-sized event messages into SQS queues through the engine (submit, then wait
//!    until every one is delivered) against calling SQS's delivery directly in a loop, with 1 and
//!    with 1,000 target queues. The aim: the engine within 20 % of the direct calls.
//! 2. Isolation: a healthy queue's delivery latency (submit to delivered, one in flight, p50/p99)
//!    alone, and beside a target that fails every attempt of 10,000 deliveries with retries.
//!
//! Release build, the server's runtime shape (tokio, 2 worker threads). Prints a table.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lb_core::deliver::{
    BoxFuture, Delivery, DeliveryError, DestinationError, Engine, EngineConfig, Message, Producer, Registry,
    RetryPolicy, Target, WhenFull,
};
use lb_core::policy::PolicyRequest;
use lb_core::{Arn, Clock, RequestContext, SystemClock};
use lb_sqs::{CreateQueueInput, Sqs};

const EVENTS: usize = 200_000;

/// The server's allocator, so the figures are the server's.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Wall time and process CPU time of one run.
#[derive(Clone, Copy)]
struct Run {
    wall: Duration,
    cpu: f64,
}

fn body() -> String {
    // About the size of an S3 ObjectCreated record.
    let mut s = String::from(r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","#);
    s.push_str(&"x".repeat(900));
    s.push_str("\"}]}");
    s
}

fn queues(sqs: &Sqs, n: usize) -> Vec<Arn> {
    let ctx = RequestContext::default();
    (0..n)
        .map(|i| {
            let name = format!("q{i}");
            sqs.create_queue(
                &ctx,
                "http://localhost:4566",
                CreateQueueInput {
                    queue_name: name.clone(),
                    ..CreateQueueInput::default()
                },
            )
            .expect("create queue");
            format!("arn:aws:sqs:us-east-1:000000000000:{name}").parse().unwrap()
        })
        .collect()
}

fn direct(targets: usize) -> Run {
    let sqs = Sqs::new(Arc::new(SystemClock));
    let arns = queues(&sqs, targets);
    let msg = Message::new(body());
    let cpu = common::cpu_seconds();
    let start = Instant::now();
    for i in 0..EVENTS {
        sqs.deliver_to(&arns[i % targets], &msg).expect("deliver");
    }
    Run {
        wall: start.elapsed(),
        cpu: common::cpu_seconds() - cpu,
    }
}

async fn through_engine(targets: usize) -> Run {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let sqs = Arc::new(Sqs::new(Arc::clone(&clock)));
    let arns = queues(&sqs, targets);
    let registry = Arc::new(Registry::new());
    registry.register("sqs", sqs.clone());
    // Room for the whole run: the producer here is a loop, far faster than any API caller; the
    // figure is the cost of moving events through the engine, not of waiting for room.
    let config = EngineConfig {
        max_pending_per_target: EVENTS,
        max_pending_total: EVENTS,
        max_bytes_per_target: usize::MAX / 2,
        max_bytes_total: usize::MAX / 2,
        ..EngineConfig::default()
    };
    let engine = Engine::new(registry, clock, config);
    let msg = Arc::new(Message::new(body()));
    let producer = Producer::new("arn:aws:s3:::photos", Some("cfg".into()));
    let cpu = common::cpu_seconds();
    let start = Instant::now();
    for i in 0..EVENTS {
        let mut d = Delivery::new(arns[i % targets].clone(), Arc::clone(&msg), producer.clone());
        d.retry = RetryPolicy::s3_notifications();
        d.when_full = WhenFull::Reject;
        engine.submit(d).expect("room for the whole run");
    }
    while engine.stats().pending > 0 {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let run = Run {
        wall: start.elapsed(),
        cpu: common::cpu_seconds() - cpu,
    };
    assert_eq!(engine.stats().delivered, EVENTS as u64);
    run
}

/// Counts deliveries to the healthy queue and fails everything else.
struct Timed {
    sqs: Arc<Sqs>,
    delivered: AtomicU64,
}

impl Target for Timed {
    fn deliver<'a>(&'a self, arn: &'a Arn, msg: &'a Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async move {
            if arn.resource == "broken" {
                return Err(DeliveryError::retryable("ThrottlingException", "Rate exceeded"));
            }
            let r = self.sqs.deliver_to(arn, msg);
            self.delivered.fetch_add(1, Ordering::Release);
            r
        })
    }

    fn authorize(&self, _arn: &Arn, _req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
        Ok(())
    }
}

async fn latency(with_failing: bool) -> (Duration, Duration) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let sqs = Arc::new(Sqs::new(Arc::clone(&clock)));
    let arns = queues(&sqs, 1);
    let timed = Arc::new(Timed {
        sqs,
        delivered: AtomicU64::new(0),
    });
    let registry = Arc::new(Registry::new());
    registry.register("sqs", timed.clone());
    let engine = Engine::new(registry, clock, EngineConfig::default());
    let producer = Producer::new("arn:aws:s3:::photos", None);
    if with_failing {
        let broken: Arn = "arn:aws:sqs:us-east-1:000000000000:broken".parse().unwrap();
        for i in 0..10_000 {
            let mut d = Delivery::new(
                broken.clone(),
                Arc::new(Message::new(format!("b{i}"))),
                producer.clone(),
            );
            d.retry = RetryPolicy::exponential(1_000, 3_600_000, 1, 20);
            engine.submit(d).expect("submit");
        }
    }
    let msg = Arc::new(Message::new(body()));
    let mut samples = Vec::with_capacity(5_000);
    for i in 0..5_000u64 {
        let start = Instant::now();
        engine
            .submit(Delivery::new(arns[0].clone(), Arc::clone(&msg), producer.clone()))
            .expect("submit");
        while timed.delivered.load(Ordering::Acquire) <= i {
            tokio::task::yield_now().await;
        }
        samples.push(start.elapsed());
    }
    samples.sort();
    (samples[samples.len() / 2], samples[samples.len() * 99 / 100])
}

fn main() {
    let rt = common::runtime();
    println!("delivery engine, {EVENTS} events of {} bytes into SQS", body().len());
    println!("| targets | direct: events/s, CPU µs/event | through the engine: events/s, CPU µs/event | engine / direct: rate, CPU |");
    println!("|---:|---:|---:|---:|");
    for targets in [1, 1_000] {
        // Best of three each, alternating.
        let mut d: Option<Run> = None;
        let mut e: Option<Run> = None;
        for _ in 0..3 {
            let r = direct(targets);
            d = Some(d.map_or(r, |b| if r.wall < b.wall { r } else { b }));
            let r = rt.block_on(through_engine(targets));
            e = Some(e.map_or(r, |b| if r.wall < b.wall { r } else { b }));
        }
        let (d, e) = (d.expect("ran"), e.expect("ran"));
        let rate = |r: Run| EVENTS as f64 / r.wall.as_secs_f64();
        let cpu = |r: Run| r.cpu / EVENTS as f64 * 1e6;
        println!(
            "| {targets} | {:.0}, {:.2} | {:.0}, {:.2} | {:.2}×, {:.2}× |",
            rate(d),
            cpu(d),
            rate(e),
            cpu(e),
            rate(e) / rate(d),
            cpu(e) / cpu(d)
        );
    }
    println!();
    println!("healthy target latency, submit to delivered, one in flight, 5,000 samples");
    println!("| beside | p50 | p99 |");
    println!("|---|---:|---:|");
    for (label, failing) in [
        ("nothing", false),
        ("a target failing 10,000 deliveries with retries", true),
    ] {
        let (p50, p99) = rt.block_on(latency(failing));
        println!(
            "| {label} | {:.1} µs | {:.1} µs |",
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
    }
}
