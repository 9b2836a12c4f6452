//! The engine's contract, each point a test: isolation, retries on the clock, one fate per
//! delivery, bounds, order, batches, shared payloads, shutdown. Time is tokio's paused time
//! (through [`TokioClock`]) or a [`ManualClock`]; tests wait on state, never on the wall clock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::clock::{Clock, ManualClock, TokioClock};
use crate::policy::PolicyRequest;

const T0: u64 = 1_700_000_000_000;

/// How a fake target behaves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ok,
    /// Fails with a retryable error every time.
    Throttled,
    /// Takes this long (clock time) per delivery, then succeeds.
    Slow(u64),
    /// Fails the first N attempts of every message, retryably.
    FlakyFirst(u32),
    NotFound,
    Panic,
}

struct Fake {
    clock: Arc<dyn Clock>,
    modes: Mutex<BTreeMap<String, Mode>>,
    /// (target resource, body, clock time of delivery)
    got: Mutex<Vec<(String, String, u64)>>,
    attempts_by_body: Mutex<BTreeMap<String, u32>>,
    batch_sizes: Mutex<Vec<usize>>,
    /// Addresses of the messages seen, to prove payloads are shared, not cloned.
    addresses: Mutex<Vec<usize>>,
    max_batch: usize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Fake {
    fn new(clock: Arc<dyn Clock>, max_batch: usize) -> Arc<Self> {
        Arc::new(Self {
            clock,
            modes: Mutex::new(BTreeMap::new()),
            got: Mutex::new(Vec::new()),
            attempts_by_body: Mutex::new(BTreeMap::new()),
            batch_sizes: Mutex::new(Vec::new()),
            addresses: Mutex::new(Vec::new()),
            max_batch,
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        })
    }

    fn set(&self, resource: &str, mode: Mode) {
        self.modes.lock().unwrap().insert(resource.to_owned(), mode);
    }

    fn got(&self, resource: &str) -> Vec<(String, u64)> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|(r, _, _)| r == resource)
            .map(|(_, b, t)| (b.clone(), *t))
            .collect()
    }
}

impl Target for Fake {
    fn deliver<'a>(&'a self, arn: &'a Arn, msg: &'a Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async move {
            self.addresses.lock().unwrap().push(msg as *const Message as usize);
            let mode = self
                .modes
                .lock()
                .unwrap()
                .get(&arn.resource)
                .copied()
                .unwrap_or(Mode::Ok);
            let attempt = {
                let mut a = self.attempts_by_body.lock().unwrap();
                let n = a.entry(msg.body.to_string()).or_insert(0);
                *n += 1;
                *n
            };
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let result = match mode {
                Mode::Ok => Ok(()),
                Mode::Throttled => Err(DeliveryError::retryable("ThrottlingException", "Rate exceeded")),
                Mode::Slow(ms) => {
                    let until = self.clock.now_millis() + ms;
                    self.clock.sleep_until(until).await;
                    Ok(())
                }
                Mode::FlakyFirst(n) if attempt <= n => Err(DeliveryError::retryable("ServiceUnavailable", "try again")),
                Mode::FlakyFirst(_) => Ok(()),
                Mode::NotFound => Err(DeliveryError::not_found("The specified queue does not exist.")),
                Mode::Panic => panic!("target bug"),
            };
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if result.is_ok() {
                self.got
                    .lock()
                    .unwrap()
                    .push((arn.resource.clone(), msg.body.to_string(), self.clock.now_millis()));
            }
            result
        })
    }

    fn deliver_batch<'a>(
        &'a self,
        arn: &'a Arn,
        msgs: &'a [Arc<Message>],
    ) -> BoxFuture<'a, Vec<Result<(), DeliveryError>>> {
        Box::pin(async move {
            self.batch_sizes.lock().unwrap().push(msgs.len());
            let mut out = Vec::new();
            for m in msgs {
                out.push(self.deliver(arn, m).await);
            }
            out
        })
    }

    fn max_batch(&self, _arn: &Arn) -> usize {
        self.max_batch
    }

    fn authorize(&self, _arn: &Arn, _req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
        Ok(())
    }
}

fn arn(resource: &str) -> Arn {
    format!("arn:aws:sqs:us-east-1:000000000000:{resource}")
        .parse()
        .unwrap()
}

fn delivery(target: &str, body: &str) -> Delivery {
    Delivery::new(
        arn(target),
        Arc::new(Message::new(body)),
        Producer::new("arn:aws:s3:::photos", Some("cfg".into())),
    )
}

struct Rig {
    engine: Engine,
    fake: Arc<Fake>,
    clock: Arc<dyn Clock>,
}

fn rig_with(clock: Arc<dyn Clock>, max_batch: usize, config: EngineConfig) -> Rig {
    let registry = Arc::new(Registry::new());
    let fake = Fake::new(Arc::clone(&clock), max_batch);
    registry.register("sqs", fake.clone());
    Rig {
        engine: Engine::new(registry, Arc::clone(&clock), config),
        fake,
        clock,
    }
}

fn rig() -> Rig {
    rig_with(Arc::new(TokioClock::new(T0)), 1, EngineConfig::default())
}

/// Waits (on paused time, so instantly in wall-clock terms) until nothing is pending.
async fn settled(engine: &Engine) -> EngineStats {
    for _ in 0..1_000_000 {
        let s = engine.stats();
        if s.pending == 0 {
            assert_eq!(s.submitted, s.delivered + s.dead_lettered + s.dropped, "{s:?}");
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("engine did not settle: {:?}", engine.stats());
}

#[tokio::test(start_paused = true)]
async fn delivers_and_records_every_fate() {
    let r = rig();
    r.fake.set("gone", Mode::NotFound);
    r.engine.submit(delivery("q", "1")).unwrap();
    r.engine.submit(delivery("q", "2")).unwrap();
    r.engine.submit(delivery("gone", "x")).unwrap();
    r.engine
        .submit(Delivery::new(
            "arn:aws:sns:us-east-1:000000000000:t".parse::<Arn>().unwrap(),
            Arc::new(Message::new("y")),
            Producer::default(),
        ))
        .unwrap();
    let s = settled(&r.engine).await;
    assert_eq!((s.submitted, s.delivered, s.dropped, s.dead_lettered), (4, 2, 2, 0));
    assert_eq!(
        r.fake.got("q").iter().map(|(b, _)| b.as_str()).collect::<Vec<_>>(),
        ["1", "2"]
    );
    let dropped = r.engine.ledger().query(&LedgerQuery {
        fate: Some(Fate::Dropped),
        ..LedgerQuery::default()
    });
    assert_eq!(dropped.len(), 2);
    let sns = dropped.iter().find(|d| d.target.contains(":sns:")).unwrap();
    assert!(sns.reason.as_deref().unwrap().contains("no service handles"), "{sns:?}");
    let gone = dropped.iter().find(|d| d.target.ends_with(":gone")).unwrap();
    assert_eq!(gone.attempts.len(), 1);
    assert_eq!(gone.attempts[0].outcome, "not-found");
    assert_eq!(
        gone.reason.as_deref(),
        Some("ResourceNotFound: The specified queue does not exist. (not retried)")
    );
    let per_target = r.engine.target_stats();
    let q = per_target.iter().find(|t| t.target.ends_with(":q")).unwrap();
    assert_eq!((q.submitted, q.delivered, q.pending), (2, 2, 0));
}

/// A target failing for 24 simulated hours beside a healthy one: the healthy one's deliveries
/// get no added delay.
#[tokio::test(start_paused = true)]
async fn a_failing_target_never_delays_a_healthy_one() {
    let r = rig();
    r.fake.set("broken", Mode::Throttled);
    let day = 24 * 3600 * 1000;
    for i in 0..100 {
        let mut d = delivery("broken", &format!("b{i}"));
        d.retry = RetryPolicy::exponential(185, day, 1_000, 480_000);
        r.engine.submit(d).unwrap();
    }
    // Healthy deliveries submitted across the whole day, one every 10 minutes.
    let mut sent_at = Vec::new();
    for i in 0..144 {
        sent_at.push(r.clock.now_millis());
        r.engine.submit(delivery("healthy", &format!("h{i}"))).unwrap();
        tokio::time::sleep(Duration::from_secs(600)).await;
    }
    let s = settled(&r.engine).await;
    let got = r.fake.got("healthy");
    assert_eq!(got.len(), 144);
    for ((_, at), sent) in got.iter().zip(&sent_at) {
        assert_eq!(at, sent, "a healthy delivery waited");
    }
    assert_eq!(s.dropped, 100, "every broken delivery ends dropped after its retries");
    let rec = &r.engine.ledger().query(&LedgerQuery {
        target: Some(arn("broken").to_string()),
        limit: Some(1),
        ..LedgerQuery::default()
    })[0];
    assert!(rec.attempt_count > 100, "{rec:?}");
    assert!(rec
        .reason
        .as_deref()
        .unwrap()
        .starts_with("ThrottlingException: Rate exceeded ("));
}

/// A 24 h / 185-attempt policy under a manual clock: `step` walks the retries one by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_of_retries_runs_in_well_under_a_second_on_a_manual_clock() {
    let clock = Arc::new(ManualClock::new(T0));
    let r = rig_with(clock.clone(), 1, EngineConfig::default());
    r.fake.set("q", Mode::Throttled);
    let day = 24 * 3600 * 1000;
    let mut d = delivery("q", "x");
    d.retry = RetryPolicy::exponential(185, day, 1_000, 480_000);
    r.engine.submit(d).unwrap();
    let started = std::time::Instant::now();
    while r.engine.stats().pending > 0 {
        // Step once the attempt in progress has scheduled its retry.
        while clock.waiting() == 0 && r.engine.stats().pending > 0 {
            tokio::task::yield_now().await;
        }
        clock.step(3_600_000).await;
    }
    let elapsed = started.elapsed();
    let rec = &r.engine.ledger().query(&LedgerQuery::default())[0];
    assert_eq!(rec.fate, Fate::Dropped);
    // Back-off 1 s doubling to 8 min with jitter: the day runs out before 185 attempts (fewer
    // if a step fires a retry late on a loaded machine).
    assert!(rec.attempt_count > 150, "{}", rec.attempt_count);
    assert!(
        rec.reason.as_deref().unwrap().contains("maximum event age")
            || rec.reason.as_deref().unwrap().contains("after 185 attempts"),
        "{rec:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn retries_follow_the_policy_then_succeed() {
    let r = rig();
    r.fake.set("q", Mode::FlakyFirst(3));
    let mut d = delivery("q", "m");
    d.retry = RetryPolicy {
        max_attempts: 5,
        max_age_millis: 60_000,
        base_backoff_millis: 1_000,
        max_backoff_millis: 10_000,
        jitter: false,
    };
    r.engine.submit(d).unwrap();
    let s = settled(&r.engine).await;
    assert_eq!((s.delivered, s.retried), (1, 3));
    // 1 s, 2 s, 4 s of back-off.
    assert_eq!(r.fake.got("q")[0].1, T0 + 7_000);
    let rec = &r.engine.ledger().query(&LedgerQuery::default())[0];
    let outcomes: Vec<_> = rec.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(outcomes, ["retryable", "retryable", "retryable", "delivered"]);
}

#[tokio::test(start_paused = true)]
async fn exhausted_deliveries_go_to_the_dead_letter_target_with_the_producers_attributes() {
    let r = rig();
    r.fake.set("q", Mode::Throttled);
    let mut d = delivery("q", "payload");
    d.retry = RetryPolicy::exponential(3, 3_600_000, 100, 1_000);
    d.dead_letter = Some(DeadLetter {
        target: arn("dlq").into(),
        attributes: Arc::new(|f: &Failure<'_>| {
            BTreeMap::from([
                ("ERROR_CODE".to_owned(), MessageAttribute::string(f.error.code.clone())),
                ("RETRY_ATTEMPTS".to_owned(), MessageAttribute::number(f.attempts)),
                (
                    "EXHAUSTED_RETRY_CONDITION".to_owned(),
                    MessageAttribute::string(format!("{:?}", f.exhausted)),
                ),
            ])
        }),
        message: None,
    });
    let id = r.engine.submit(d).unwrap();
    let s = settled(&r.engine).await;
    assert_eq!((s.submitted, s.dead_lettered, s.delivered, s.dropped), (2, 1, 1, 0));
    assert_eq!(r.fake.got("dlq")[0].0, "payload");
    let rec = r.engine.ledger().get(id).unwrap();
    assert_eq!(rec.fate, Fate::DeadLettered);
    assert_eq!(rec.attempt_count, 3);
    assert_eq!(rec.dead_letter_target.as_deref(), Some(arn("dlq").to_string().as_str()));
    let dlq_rec = &r.engine.ledger().query(&LedgerQuery {
        target: Some(arn("dlq").to_string()),
        ..LedgerQuery::default()
    })[0];
    assert_eq!(dlq_rec.dead_letter_of, Some(id));
    assert_eq!(dlq_rec.fate, Fate::Delivered);
}

#[tokio::test(start_paused = true)]
async fn a_dead_letter_target_that_fails_leaves_a_dropped_record_with_the_reason() {
    let r = rig();
    r.fake.set("q", Mode::NotFound);
    r.fake.set("dlq", Mode::NotFound);
    let mut d = delivery("q", "p");
    d.dead_letter = Some(DeadLetter {
        target: arn("dlq").into(),
        attributes: Arc::new(|_: &Failure<'_>| BTreeMap::new()),
        message: None,
    });
    r.engine.submit(d).unwrap();
    let s = settled(&r.engine).await;
    assert_eq!((s.dead_lettered, s.dropped), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn bounds_reject_or_drop_as_the_producer_chose() {
    let config = EngineConfig {
        max_pending_per_target: 3,
        max_bytes_per_target: 10_000,
        ..EngineConfig::default()
    };
    let r = rig_with(Arc::new(TokioClock::new(T0)), 1, config);
    r.fake.set("slow", Mode::Slow(1_000));
    for i in 0..3 {
        r.engine.submit(delivery("slow", &format!("{i}"))).unwrap();
    }
    let mut reject = delivery("slow", "r");
    reject.when_full = WhenFull::Reject;
    assert_eq!(r.engine.submit(reject), Err(SubmitError::Full));
    assert_eq!(r.engine.submit(delivery("slow", "d")), Err(SubmitError::Full));
    // Bytes: a message larger than the per-target byte bound.
    assert_eq!(
        r.engine.submit(delivery("other", &"x".repeat(20_000))),
        Err(SubmitError::Full)
    );
    // Another target is unaffected.
    r.engine.submit(delivery("fast", "f")).unwrap();
    let s = settled(&r.engine).await;
    assert_eq!((s.submitted, s.delivered, s.dropped, s.rejected), (6, 4, 2, 1));
    let dropped = r.engine.ledger().query(&LedgerQuery {
        fate: Some(Fate::Dropped),
        ..LedgerQuery::default()
    });
    assert!(dropped
        .iter()
        .all(|d| d.reason.as_deref() == Some("the target's delivery queue is full")));
}

#[tokio::test(start_paused = true)]
async fn order_per_target_and_per_fifo_group_with_batches_and_shared_payloads() {
    let r = rig_with(Arc::new(TokioClock::new(T0)), 10, EngineConfig::default());
    r.fake.set("q.fifo", Mode::FlakyFirst(0));
    // Group a's first message fails twice: b's messages must not wait for it, a's second must.
    let mut bodies = Vec::new();
    // Kept alive to the end: a freed message's address could be reused by a later one and
    // make two messages look like one allocation.
    let mut held = Vec::new();
    for i in 0..25 {
        let group = if i % 2 == 0 { "a" } else { "b" };
        let mut m = Message::new(format!("{group}{i}"));
        m.group_id = Some(group.to_owned());
        bodies.push(m.body.to_string());
        let m = Arc::new(m);
        held.push(Arc::clone(&m));
        let mut d = Delivery::new(arn("q.fifo"), m, Producer::default());
        d.retry = RetryPolicy {
            max_attempts: 5,
            max_age_millis: 60_000,
            base_backoff_millis: 1_000,
            max_backoff_millis: 1_000,
            jitter: false,
        };
        r.engine.submit(d).unwrap();
    }
    let s = settled(&r.engine).await;
    assert_eq!(s.delivered, 25);
    let got: Vec<String> = r.fake.got("q.fifo").into_iter().map(|(b, _)| b).collect();
    for group in ["a", "b"] {
        let want: Vec<&String> = bodies.iter().filter(|b| b.starts_with(group)).collect();
        let have: Vec<&String> = got.iter().filter(|b| b.starts_with(group)).collect();
        assert_eq!(have, want, "group {group} in order");
    }
    assert!(r.fake.batch_sizes.lock().unwrap().contains(&10), "batches of 10");
    // One allocation per message, however many attempts.
    let addresses = r.fake.addresses.lock().unwrap();
    let distinct: std::collections::HashSet<_> = addresses.iter().collect();
    assert_eq!(distinct.len(), 25);
    drop(held);
}

#[tokio::test(start_paused = true)]
async fn fifo_group_waits_behind_its_retrying_message() {
    let r = rig();
    r.fake.set("q.fifo", Mode::Ok);
    let target = r.fake.clone();
    let mut first = Message::new("a1");
    first.group_id = Some("a".into());
    let mut second = Message::new("a2");
    second.group_id = Some("a".into());
    // a1 fails once (the fake counts attempts per body).
    r.fake.set("q.fifo", Mode::FlakyFirst(1));
    target.attempts_by_body.lock().unwrap().insert("a2".into(), 1);
    let policy = RetryPolicy {
        max_attempts: 3,
        max_age_millis: 60_000,
        base_backoff_millis: 5_000,
        max_backoff_millis: 5_000,
        jitter: false,
    };
    for m in [first, second] {
        let mut d = Delivery::new(arn("q.fifo"), Arc::new(m), Producer::default());
        d.retry = policy;
        r.engine.submit(d).unwrap();
    }
    settled(&r.engine).await;
    let got = r.fake.got("q.fifo");
    assert_eq!(got.iter().map(|(b, _)| b.as_str()).collect::<Vec<_>>(), ["a1", "a2"]);
    assert_eq!(got[1].1, T0 + 5_000, "a2 waited for a1's retry");
}

#[tokio::test(start_paused = true)]
async fn concurrency_per_target_is_bounded_and_slow_targets_overlap() {
    let config = EngineConfig {
        concurrency_per_target: 4,
        ..EngineConfig::default()
    };
    let r = rig_with(Arc::new(TokioClock::new(T0)), 1, config);
    r.fake.set("slow", Mode::Slow(2_000));
    for i in 0..20 {
        r.engine.submit(delivery("slow", &format!("{i}"))).unwrap();
    }
    settled(&r.engine).await;
    assert_eq!(r.fake.max_in_flight.load(Ordering::SeqCst), 4);
    let last = r.fake.got("slow").iter().map(|(_, t)| *t).max().unwrap();
    assert_eq!(last, T0 + 10_000, "20 deliveries of 2 s, 4 at a time");
}

#[tokio::test(start_paused = true)]
async fn a_panicking_target_fails_its_attempt_not_the_lane() {
    let r = rig();
    r.fake.set("bad", Mode::Panic);
    let mut d = delivery("bad", "x");
    d.retry = RetryPolicy::exponential(2, 60_000, 10, 10);
    r.engine.submit(d).unwrap();
    r.engine.submit(delivery("bad", "y")).unwrap();
    let s = settled(&r.engine).await;
    assert_eq!(s.dropped, 2);
    r.fake.set("bad", Mode::Ok);
    r.engine.submit(delivery("bad", "z")).unwrap();
    assert_eq!(settled(&r.engine).await.delivered, 1);
}

#[tokio::test(start_paused = true)]
async fn shutdown_drains_with_a_deadline_and_counts_what_is_left() {
    let r = rig();
    r.fake.set("q", Mode::Ok);
    r.fake.set("stuck", Mode::Throttled);
    for i in 0..10 {
        r.engine.submit(delivery("q", &format!("{i}"))).unwrap();
    }
    let mut d = delivery("stuck", "s");
    d.retry = RetryPolicy::exponential(100, 3_600_000, 60_000, 60_000);
    r.engine.submit(d).unwrap();
    let report = r.engine.shutdown(Duration::from_secs(2)).await;
    assert_eq!(report, ShutdownReport { drained: 10, left: 1 });
    assert_eq!(r.engine.submit(delivery("q", "late")), Err(SubmitError::ShuttingDown));
    let s = r.engine.stats();
    assert_eq!((s.pending, s.delivered), (0, 10));
    let left = &r.engine.ledger().query(&LedgerQuery {
        target: Some(arn("stuck").to_string()),
        ..LedgerQuery::default()
    })[0];
    assert_eq!(left.fate, Fate::Dropped);
    assert!(left.reason.as_deref().unwrap().starts_with("shutdown"));
}

#[tokio::test(start_paused = true)]
async fn the_ledger_is_a_bounded_ring_with_filters_newest_first() {
    let config = EngineConfig {
        ledger_capacity: 5,
        ..EngineConfig::default()
    };
    let r = rig_with(Arc::new(TokioClock::new(T0)), 1, config);
    for i in 0..8 {
        let t = if i % 2 == 0 { "even" } else { "odd" };
        r.engine.submit(delivery(t, &format!("{i}"))).unwrap();
    }
    settled(&r.engine).await;
    let all = r.engine.ledger().query(&LedgerQuery::default());
    assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), [8, 7, 6, 5, 4]);
    let odd = r.engine.ledger().query(&LedgerQuery {
        target: Some(arn("odd").to_string()),
        limit: Some(2),
        ..LedgerQuery::default()
    });
    assert_eq!(odd.iter().map(|r| r.id).collect::<Vec<_>>(), [8, 6]);
    let json = serde_json::to_value(&all[0]).unwrap();
    assert_eq!(
        json["producer"],
        serde_json::json!({"arn": "arn:aws:s3:::photos", "id": "cfg"})
    );
    assert_eq!(json["fate"], "delivered");
    assert_eq!(json["attempts"][0]["outcome"], "delivered");
    assert!(json["attempts"][0]["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        r.engine
            .ledger()
            .query(&LedgerQuery {
                producer: Some("arn:aws:s3:::other".into()),
                ..LedgerQuery::default()
            })
            .len(),
        0
    );
}

#[test]
fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
    let p = RetryPolicy::exponential(185, 86_400_000, 1_000, 480_000);
    for attempt in 1..20u32 {
        let full = (1_000u64 << (attempt - 1)).min(480_000);
        for r in [0, 1, 12_345, u64::MAX] {
            let b = p.backoff_millis(attempt, r);
            assert!(b >= full / 2 && b <= full, "attempt {attempt}: {b} vs {full}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_producers_tally_counts_outcomes_and_the_dead_letter_may_carry_another_message() {
    let r = rig();
    r.fake.set("q", Mode::Throttled);
    let tally = Arc::new(Tally::default());
    let mut d = delivery("q", "transformed");
    d.retry = RetryPolicy::exponential(3, 3_600_000, 100, 1_000);
    d.tally = Some(Arc::clone(&tally));
    d.dead_letter = Some(DeadLetter {
        target: arn("dlq").into(),
        attributes: Arc::new(|_: &Failure<'_>| BTreeMap::new()),
        message: Some(Arc::new(Message::new("original"))),
    });
    r.engine.submit(d).unwrap();
    let mut ok = delivery("other", "fine");
    ok.tally = Some(Arc::clone(&tally));
    r.engine.submit(ok).unwrap();
    settled(&r.engine).await;
    assert_eq!(r.fake.got("dlq")[0].0, "original");
    assert_eq!(
        (
            Tally::get(&tally.delivered),
            Tally::get(&tally.retried),
            Tally::get(&tally.dead_lettered),
            Tally::get(&tally.dropped)
        ),
        (1, 2, 1, 0)
    );
}
