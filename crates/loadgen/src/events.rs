//! `loadgen events`: the EventBridge PutEvents benchmark behind `scripts/bench-events`.
//!
//! Every run starts its own server. It creates an SQS queue whose policy lets EventBridge send
//! from one rule, then `N` rules on the default bus, all of one shape
//! (`{"source":["bench"],"detail-type":["t"],"detail":{"customer":["c-<i>"]}}`): the load's events
//! carry customer `c-0`, so exactly one rule (`bench-0`, the only one with a target) matches
//! each of them. Then PutEvents, 10 entries a request, for `--seconds` from the native client
//! (keep-alive connections on one client thread) or from wrk; then it waits until the delivery
//! engine has nothing pending and checks that every accepted event reached a fate
//! (`accepted == delivered + deadLettered + dropped`, nothing dropped, one delivery submitted
//! per accepted event, every delivered message in the queue, no other rule matched). A failed
//! check ends the benchmark with an error. Entries the server refuses (ThrottlingException: the
//! engine had no room) are not accepted; they are counted and reported.
//!
//! The figures: accepted events/s over the load's duration; routed events/s = events delivered
//! ÷ (load start → the engine has nothing pending), so a backlog left at the end counts against
//! it; server CPU (utime + stime from /proc) over that same window ÷ events delivered; the CPU
//! other processes used meanwhile (the machine's busy time from /proc/stat minus the server's,
//! this driver's and its children's), because the machine is shared.
//!
//! Latency, three ways. A probe: a second queue and rule (`bench-probe`, the same shape,
//! customer `probe`), one event in flight at a time on its own connection while the load runs;
//! a receiver is already long-polling the probe queue when the probe's PutEvents is sent, and
//! the figures are that send, and the PutEvents answer, → the receiver holding the message. It
//! crosses the same gateway, rule machine and engine as the load, under the load, but in a
//! delivery lane of its own. The loaded lane's own queueing shows in the mean from Little's law
//! (the engine's `pending`, sampled every 10 ms, ÷ the delivery rate), and, for loadgen's events
//! (they carry their send time in `detail`), in every event's send → enqueued time, read after
//! the run from the queue (SQS's `SentTimestamp`, whole milliseconds).
//!
//! With `--drain N`, `N` consumers drain the loaded queue while loading (ReceiveMessage 10 +
//! DeleteMessageBatch), every event's latency is measured on receipt from its `detail`, and
//! their requests count in the server's CPU. Without it (the default) the queue keeps what was
//! delivered, which the RSS at the end shows; it is emptied after the run and the RSS read again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use serde_json::{json, Value};

use crate::{percentile, start_to_healthy_with, Client};

const ACCOUNT: &str = "000000000000";
const REGION: &str = "us-east-1";
const QUEUE: &str = "bench-events";
const PROBE_QUEUE: &str = "bench-probe";
const PROBE_RULE: &str = "bench-probe";
/// PutEvents' maximum, and what every load request carries.
const ENTRIES_PER_REQUEST: usize = 10;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, clap::ValueEnum)]
pub enum LoadClient {
    /// This driver: `--connections` keep-alive connections on one client thread.
    Native,
    /// wrk, `--wrk-threads` threads and `--connections` connections, `--wrk-script`.
    Wrk,
}

impl LoadClient {
    fn name(self) -> &'static str {
        match self {
            LoadClient::Native => "loadgen",
            LoadClient::Wrk => "wrk",
        }
    }
}

#[derive(clap::Args)]
pub struct EventsArgs {
    /// Rule counts on the default bus (one configuration each; exactly one rule matches).
    #[arg(long, value_delimiter = ',', default_values_t = [1, 1_000, 10_000])]
    rules: Vec<usize>,
    /// Load clients to measure each configuration with.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [LoadClient::Native])]
    client: Vec<LoadClient>,
    /// Runs of each configuration, each with its own server process (configurations alternate).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Seconds of load per run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent keep-alive connections sending PutEvents.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Consumers draining the loaded queue while the load runs (ReceiveMessage 10 +
    /// DeleteMessageBatch); 0 keeps the delivered messages in the queue and purges it after.
    #[arg(long, default_value_t = 0)]
    drain: usize,
    /// The wrk script (PutEvents, 10 entries a request).
    #[arg(long, default_value = "scripts/wrk-putevents.lua")]
    wrk_script: PathBuf,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    wrk_threads: usize,
    /// Milliseconds between two probe events (one in flight at a time).
    #[arg(long, default_value_t = 2)]
    probe_interval_ms: u64,
    /// Record the server with `perf record` during each run's load, into this directory
    /// (`perf-<rules>-<client>-<run>.data`); these runs' figures are perf-disturbed.
    #[arg(long)]
    perf: Option<PathBuf>,
    /// `perf record` sampling frequency (Hz).
    #[arg(long, default_value_t = 1999)]
    perf_freq: u32,
    /// Record call graphs too: `perf record --call-graph <MODE>` (`fp`, `dwarf`).
    #[arg(long)]
    perf_call_graph: Option<String>,
    /// `--events-max-rules-per-bus` for the server (the same for every configuration).
    #[arg(long, default_value_t = 20_000)]
    max_rules_per_bus: usize,
    /// After a run that kept its messages, receive (and delete) them all and compute
    /// each loadgen event's send → enqueued latency from SQS's `SentTimestamp`.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    sweep: bool,
    /// Seconds to watch the server's RSS fall after the loaded queue is purged (the minimum is
    /// reported; jemalloc returns freed pages after its decay time).
    #[arg(long, default_value_t = 11.0)]
    settle_seconds: f64,
}

/// The delivery engine's totals from `/_localbridge/health`.
#[derive(Debug, Default, Clone, Copy)]
struct Delivery {
    submitted: u64,
    delivered: u64,
    dead_lettered: u64,
    dropped: u64,
    pending: u64,
    rejected: u64,
}

impl Delivery {
    fn minus(self, o: Delivery) -> Delivery {
        Delivery {
            submitted: self.submitted - o.submitted,
            delivered: self.delivered - o.delivered,
            dead_lettered: self.dead_lettered - o.dead_lettered,
            dropped: self.dropped - o.dropped,
            pending: self.pending,
            rejected: self.rejected - o.rejected,
        }
    }
}

/// What one run measured.
#[derive(Debug, Default, Clone)]
struct RunResult {
    rules: usize,
    client: Option<LoadClient>,
    load1: f64,
    /// CPU of processes other than this driver, its children and the server, in cores, over
    /// the measured window.
    others_cores: f64,
    setup_s: f64,
    load_s: f64,
    /// Load start → the engine had nothing pending.
    routed_s: f64,
    requests: u64,
    /// Entries answered with an EventId, as the client counted them.
    accepted: u64,
    /// The same, from the server's counters.
    accepted_server: u64,
    failed_entries: BTreeMap<String, u64>,
    probes: u64,
    totals: Delivery,
    cpu_s: f64,
    rtt_p50_ms: f64,
    rtt_p99_ms: f64,
    probe_p50_ms: f64,
    probe_p99_ms: f64,
    /// The probe's PutEvents answer → the receiver holding the message.
    answer_p50_ms: f64,
    answer_p99_ms: f64,
    /// Send → enqueued in the loaded queue, from every message's `SentTimestamp` (whole ms).
    lane_p50_ms: Option<f64>,
    lane_p99_ms: Option<f64>,
    lane_max_ms: Option<f64>,
    /// Seconds the consumers needed after the deliveries ended to empty the queue.
    drain_s: f64,
    drain_p50_ms: Option<f64>,
    drain_p99_ms: Option<f64>,
    pending_mean: f64,
    pending_max: u64,
    rss_rules_mib: f64,
    rss_end_mib: f64,
    rss_settled_mib: f64,
    queue_messages: u64,
}

impl RunResult {
    fn accepted_rate(&self) -> f64 {
        self.accepted as f64 / self.load_s
    }
    fn routed_rate(&self) -> f64 {
        self.totals.delivered as f64 / self.routed_s
    }
    fn cpu_us_per_routed(&self) -> f64 {
        self.cpu_s / self.totals.delivered as f64 * 1e6
    }
    /// Entries the server refused because the engine had no room, of all it routed.
    fn refused_percent(&self) -> f64 {
        100.0 * self.totals.rejected as f64 / (self.accepted_server + self.totals.rejected).max(1) as f64
    }
    /// Little's law: mean time a delivery spends pending = mean pending / delivery rate.
    fn little_ms(&self) -> f64 {
        self.pending_mean / (self.totals.delivered as f64 / self.routed_s) * 1000.0
    }
}

fn events_pattern(customer: &str) -> String {
    json!({"source": ["bench"], "detail-type": ["t"], "detail": {"customer": [customer]}}).to_string()
}

fn rule_arn(name: &str) -> String {
    format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}")
}

fn queue_arn(name: &str) -> String {
    format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")
}

/// One PutEvents entry; `Detail` carries the send time (µs since `base`) and a sequence number.
fn entry(out: &mut String, customer: &str, seq: u64, ts_us: u64) {
    use std::fmt::Write as _;
    let _ = write!(
        out,
        r#"{{"Source":"bench","DetailType":"t","Detail":"{{\"customer\":\"{customer}\",\"order\":{seq},\"amount\":12.5,\"currency\":\"EUR\",\"ts\":{ts_us}}}"}}"#
    );
}

fn put_events_body(customer: &str, first_seq: u64, n: usize, ts_us: u64) -> String {
    let mut body = String::with_capacity(64 + n * 140);
    body.push_str(r#"{"Entries":["#);
    for i in 0..n {
        if i > 0 {
            body.push(',');
        }
        entry(&mut body, customer, first_seq + i as u64, ts_us);
    }
    body.push_str("]}");
    body
}

/// Entries with an EventId, and the error codes of the others.
fn count_entries(resp: &Value, failed: &mut BTreeMap<String, u64>) -> u64 {
    let mut accepted = 0;
    for e in resp["Entries"].as_array().into_iter().flatten() {
        if e.get("EventId").and_then(Value::as_str).is_some() {
            accepted += 1;
        } else {
            let code = e["ErrorCode"].as_str().unwrap_or("(no code)").to_owned();
            *failed.entry(code).or_default() += 1;
        }
    }
    accepted
}

impl Client {
    async fn events(&self, op: &str, body: String) -> anyhow::Result<Value> {
        self.json_call(&format!("AWSEvents.{op}"), "application/x-amz-json-1.1", body)
            .await
    }

    async fn delivery(&self) -> anyhow::Result<Delivery> {
        let bytes = self
            .http
            .get(format!("{}/_localbridge/health", self.base))
            .send()
            .await?
            .bytes()
            .await?;
        let v: Value = serde_json::from_slice(&bytes)?;
        let d = &v["delivery"];
        let get = |k: &str| d[k].as_u64().with_context(|| format!("health: delivery.{k} missing"));
        Ok(Delivery {
            submitted: get("submitted")?,
            delivered: get("delivered")?,
            dead_lettered: get("deadLettered")?,
            dropped: get("dropped")?,
            pending: get("pending")?,
            rejected: get("rejected")?,
        })
    }

    /// `localbridge_events_MatchedEvents` per rule name.
    async fn matched_events(&self) -> anyhow::Result<BTreeMap<String, u64>> {
        let text = self
            .http
            .get(format!("{}/_localbridge/metrics", self.base))
            .send()
            .await?
            .text()
            .await?;
        let mut out = BTreeMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("localbridge_events_MatchedEvents{") else {
                continue;
            };
            let (labels, value) = rest.rsplit_once("} ").context("malformed metrics line")?;
            let rule = labels
                .split(',')
                .find_map(|kv| kv.strip_prefix("RuleName=\""))
                .and_then(|v| v.strip_suffix('"'))
                .context("RuleName label")?;
            out.insert(rule.to_owned(), value.trim().parse::<f64>()? as u64);
        }
        Ok(out)
    }

    async fn queue_depth(&self, url: &str) -> anyhow::Result<u64> {
        let v = self
            .sqs(
                "GetQueueAttributes",
                json!({"QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]}),
            )
            .await?;
        let get = |k: &str| -> anyhow::Result<u64> {
            Ok(v["Attributes"][k]
                .as_str()
                .with_context(|| format!("{k} missing"))?
                .parse()?)
        };
        Ok(get("ApproximateNumberOfMessages")? + get("ApproximateNumberOfMessagesNotVisible")?)
    }

    /// Receives up to 10 messages (long poll) and deletes them in one batch; returns the bodies.
    async fn receive_delete(&self, url: &str, wait_seconds: u64) -> anyhow::Result<Vec<String>> {
        let r = self
            .sqs(
                "ReceiveMessage",
                json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": wait_seconds}),
            )
            .await?;
        let messages = r["Messages"].as_array().cloned().unwrap_or_default();
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let entries: Vec<Value> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| json!({"Id": i.to_string(), "ReceiptHandle": m["ReceiptHandle"]}))
            .collect();
        let d = self
            .sqs("DeleteMessageBatch", json!({"QueueUrl": url, "Entries": entries}))
            .await?;
        if d["Failed"].as_array().is_some_and(|f| !f.is_empty()) {
            bail!("DeleteMessageBatch failed: {d}");
        }
        Ok(messages
            .into_iter()
            .map(|m| m["Body"].as_str().unwrap_or_default().to_owned())
            .collect())
    }
}

/// The `detail` of a delivered event (the SQS message body is the event).
fn detail_of(body: &str) -> anyhow::Result<Value> {
    let v: Value = serde_json::from_str(body).with_context(|| format!("message body is not JSON: {body}"))?;
    Ok(v["detail"].clone())
}

struct Queues {
    main: String,
    probe: String,
}

/// The queues, their policies, the rules and the two targets.
async fn setup(client: &Arc<Client>, rules: usize, connections: usize) -> anyhow::Result<Queues> {
    let mut urls = Vec::new();
    for (queue, rule) in [(QUEUE, "bench-0"), (PROBE_QUEUE, PROBE_RULE)] {
        let url = client.create_queue(queue).await?;
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn(queue),
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn(rule)}},
            }],
        });
        client
            .sqs(
                "SetQueueAttributes",
                json!({"QueueUrl": url, "Attributes": {"Policy": policy.to_string()}}),
            )
            .await?;
        urls.push(url);
    }
    // The rules, from `connections` tasks.
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let (client, next) = (Arc::clone(client), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= rules {
                    return anyhow::Ok(());
                }
                let body = json!({"Name": format!("bench-{i}"), "EventPattern": events_pattern(&format!("c-{i}"))});
                client.events("PutRule", body.to_string()).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let body = json!({"Name": PROBE_RULE, "EventPattern": events_pattern("probe")});
    client.events("PutRule", body.to_string()).await?;
    for (rule, queue) in [("bench-0", QUEUE), (PROBE_RULE, PROBE_QUEUE)] {
        let body = json!({"Rule": rule, "Targets": [{"Id": "queue", "Arn": queue_arn(queue)}]});
        let r = client.events("PutTargets", body.to_string()).await?;
        ensure!(r["FailedEntryCount"].as_u64() == Some(0), "PutTargets {rule}: {r}");
    }
    let mut urls = urls.into_iter();
    Ok(Queues {
        main: urls.next().context("queue")?,
        probe: urls.next().context("probe queue")?,
    })
}

/// Waits until the engine has nothing pending; the totals then.
async fn settle(client: &Client, timeout: Duration) -> anyhow::Result<Delivery> {
    let t0 = Instant::now();
    loop {
        let d = client.delivery().await?;
        if d.pending == 0 {
            return Ok(d);
        }
        if t0.elapsed() > timeout {
            bail!("deliveries still pending after {timeout:?}: {d:?}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// One event of each kind through the whole path, received and deleted again: the policies and
/// targets work before the load starts.
async fn warm_up(client: &Client, queues: &Queues) -> anyhow::Result<()> {
    let before = client.delivery().await?;
    for (customer, url) in [("c-0", &queues.main), ("probe", &queues.probe)] {
        let r = client.events("PutEvents", put_events_body(customer, 0, 1, 0)).await?;
        ensure!(r["FailedEntryCount"].as_u64() == Some(0), "warm-up PutEvents: {r}");
        let mut got = Vec::new();
        let t0 = Instant::now();
        while got.is_empty() && t0.elapsed() < Duration::from_secs(5) {
            got = client.receive_delete(url, 1).await?;
        }
        let Some(body) = got.first() else {
            let d = client.delivery().await?.minus(before);
            let ledger = client
                .http
                .get(format!("{}/_localbridge/ledger?limit=3", client.base))
                .send()
                .await?
                .text()
                .await?;
            bail!("the warm-up event for {customer} never reached its queue; engine {d:?}; ledger {ledger}");
        };
        ensure!(
            detail_of(body)?["customer"] == customer,
            "unexpected warm-up message {body}"
        );
    }
    settle(client, Duration::from_secs(5)).await?;
    Ok(())
}

/// Reads /proc/stat: CPU seconds spent busy by the whole machine.
fn machine_busy_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat.lines().next().context("/proc/stat")?;
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest is inside user).
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .map(|&i| v.get(i).copied().unwrap_or(0.0))
        .sum::<f64>();
    Ok(busy / 100.0)
}

/// This process's CPU time plus its waited-for children's (wrk, perf).
fn self_cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let after = stat.rsplit_once(')').map(|(_, r)| r).context("malformed stat")?;
    let f: Vec<&str> = after.split_whitespace().collect();
    let mut sum = 0.0;
    for i in 11..15 {
        sum += f.get(i).context("stat field")?.parse::<f64>()?;
    }
    Ok(sum / 100.0)
}

fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

struct Perf {
    child: std::process::Child,
}

impl Perf {
    fn start(pid: u32, out: &Path, freq: u32, call_graph: Option<&str>) -> anyhow::Result<Perf> {
        let mut cmd = Command::new("perf");
        cmd.args(["record", "-q", "-F", &freq.to_string(), "-p", &pid.to_string(), "-o"])
            .arg(out);
        if let Some(mode) = call_graph {
            cmd.args(["--call-graph", mode]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting perf record")?;
        Ok(Perf { child })
    }

    /// perf writes its file on SIGINT.
    fn stop(mut self) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()?;
        ensure!(status.success(), "kill -INT perf failed");
        self.child.wait()?;
        Ok(())
    }
}

/// What the load client reported.
#[derive(Default)]
struct LoadOutcome {
    requests: u64,
    /// Entries answered with an EventId, as the client counted them.
    accepted: u64,
    failed: BTreeMap<String, u64>,
    rtt_p50_ms: f64,
    rtt_p99_ms: f64,
}

/// PutEvents from `connections` tasks until `stop`.
async fn native_load(
    client: &Arc<Client>,
    connections: usize,
    secs: u64,
    base: Instant,
) -> anyhow::Result<LoadOutcome> {
    let stop = Arc::new(AtomicBool::new(false));
    let seq = Arc::new(AtomicU64::new(1));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, stop, seq) = (Arc::clone(client), Arc::clone(&stop), Arc::clone(&seq));
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(1 << 16);
            let mut accepted = 0;
            let mut failed = BTreeMap::new();
            let mut errors = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let first = seq.fetch_add(ENTRIES_PER_REQUEST as u64, Ordering::Relaxed);
                let t = Instant::now();
                let ts = t.duration_since(base).as_micros() as u64;
                let body = put_events_body("c-0", first, ENTRIES_PER_REQUEST, ts);
                match client.events("PutEvents", body).await {
                    Ok(r) => accepted += count_entries(&r, &mut failed),
                    Err(e) => errors.push(e),
                }
                lat.push(t.elapsed());
            }
            (lat, accepted, failed, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut out = LoadOutcome::default();
    let mut all = Vec::new();
    for t in tasks {
        let (lat, accepted, failed, errors) = t.await?;
        if let Some(e) = errors.into_iter().next() {
            return Err(e.context("a PutEvents request failed"));
        }
        out.requests += lat.len() as u64;
        all.extend(lat);
        out.accepted += accepted;
        for (k, v) in failed {
            *out.failed.entry(k).or_default() += v;
        }
    }
    all.sort_unstable();
    out.rtt_p50_ms = percentile(&all, 0.5).as_secs_f64() * 1000.0;
    out.rtt_p99_ms = percentile(&all, 0.99).as_secs_f64() * 1000.0;
    Ok(out)
}

/// wrk's `--latency` percentile (e.g. "99%") in milliseconds.
fn wrk_percentile(out: &str, label: &str) -> Option<f64> {
    let line = out.lines().find(|l| l.trim_start().starts_with(label))?;
    let v = line.split_whitespace().nth(1)?;
    let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic())?);
    let n: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}

fn wrk_number(out: &str, key: &str) -> Option<u64> {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
}

/// Runs wrk to completion; its output is kept for the log.
async fn wrk_load(args: &EventsArgs, port: u16) -> anyhow::Result<(LoadOutcome, f64, String)> {
    let child = Command::new("wrk")
        .args([
            &format!("-t{}", args.wrk_threads),
            &format!("-c{}", args.connections),
            &format!("-d{}s", args.seconds),
            "--latency",
            "-s",
        ])
        .arg(&args.wrk_script)
        .arg(format!("http://127.0.0.1:{port}/"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting wrk")?;
    let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await??;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    ensure!(
        output.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    if let Some(line) = text
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
    {
        bail!("wrk saw errors: {line}\n{text}");
    }
    // "  123456 requests in 10.00s, 45.67MB read"
    let (requests, secs) = text
        .lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            let n: u64 = w.next()?.parse().ok()?;
            (w.next()? == "requests" && w.next()? == "in").then_some(())?;
            let s: f64 = w.next()?.trim_end_matches(',').trim_end_matches('s').parse().ok()?;
            Some((n, s))
        })
        .with_context(|| format!("no request count in wrk's output:\n{text}"))?;
    let accepted = wrk_number(&text, "accepted_entries").context("the wrk script did not report accepted_entries")?;
    let failed = wrk_number(&text, "failed_entries").unwrap_or(0);
    let mut out = LoadOutcome {
        requests,
        accepted,
        rtt_p50_ms: wrk_percentile(&text, "50%").unwrap_or(f64::NAN),
        rtt_p99_ms: wrk_percentile(&text, "99%").unwrap_or(f64::NAN),
        ..LoadOutcome::default()
    };
    if failed > 0 {
        out.failed.insert("(wrk: entries without EventId)".to_owned(), failed);
    }
    Ok((out, secs, text))
}

/// One probe event in flight at a time until `stop`: send → the long-polling receiver holds it.
/// Each probe's (send → received, answer → received in µs: negative when the message was
/// received before the PutEvents answer was).
async fn probe(
    port: u16,
    url: String,
    interval: Duration,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Vec<(Duration, i64)>> {
    let sender = Client::new(port)?;
    let receiver = Client::new(port)?;
    let mut lat = Vec::new();
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        seq += 1;
        let poll = receiver.sqs(
            "ReceiveMessage",
            json!({"QueueUrl": url, "MaxNumberOfMessages": 1, "WaitTimeSeconds": 5}),
        );
        let mut poll = std::pin::pin!(poll);
        // Let the long poll reach the server before the event is sent.
        tokio::select! {
            biased;
            r = &mut poll => bail!("the probe's long poll returned before its event: {r:?}"),
            () = tokio::time::sleep(Duration::from_millis(1)) => {}
        }
        let t = Instant::now();
        let put = async {
            let r = sender.events("PutEvents", put_events_body("probe", seq, 1, 0)).await;
            (r, t.elapsed())
        };
        let received = async {
            let r = poll.await;
            (r, t.elapsed())
        };
        let ((put, answered), (r, took)) = tokio::join!(put, received);
        let put = put?;
        ensure!(put["FailedEntryCount"].as_u64() == Some(0), "probe PutEvents: {put}");
        let r = r?;
        let m = r["Messages"]
            .get(0)
            .context("the probe's long poll returned no message")?;
        let detail = detail_of(m["Body"].as_str().unwrap_or_default())?;
        ensure!(detail["order"].as_u64() == Some(seq), "probe {seq}: received {detail}");
        receiver
            .sqs(
                "DeleteMessage",
                json!({"QueueUrl": url, "ReceiptHandle": m["ReceiptHandle"]}),
            )
            .await?;
        let after_answer = took.as_micros() as i64 - answered.as_micros() as i64;
        lat.push((took, after_answer));
        tokio::time::sleep(interval).await;
    }
    Ok(lat)
}

/// Samples the engine's `pending` every 10 ms until `stop`: (mean, max).
async fn sample_pending(port: u16, stop: Arc<AtomicBool>) -> anyhow::Result<(f64, u64)> {
    let client = Client::new(port)?;
    let (mut sum, mut n, mut max) = (0u64, 0u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        let p = client.delivery().await?.pending;
        sum += p;
        n += 1;
        max = max.max(p);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok((sum as f64 / n.max(1) as f64, max))
}

/// Drains the loaded queue until `done` and nothing is left; latency from each event's `ts`.
async fn drain(
    port: u16,
    url: String,
    base: Instant,
    done: Arc<AtomicBool>,
    received: Arc<AtomicU64>,
) -> anyhow::Result<Vec<u64>> {
    let client = Client::new(port)?;
    let mut lat = Vec::new();
    loop {
        let bodies = client.receive_delete(&url, 1).await?;
        if bodies.is_empty() && done.load(Ordering::Relaxed) {
            return Ok(lat);
        }
        let now = base.elapsed().as_micros() as u64;
        for b in &bodies {
            let ts = detail_of(b)?["ts"].as_u64().context("ts")?;
            lat.push(now.saturating_sub(ts));
        }
        received.fetch_add(bodies.len() as u64, Ordering::Relaxed);
    }
}

/// Receives and deletes every message of the queue (10 a request, from `tasks` connections)
/// and returns, per event, `SentTimestamp` (ms since the epoch,
/// truncated) − the send time in its `detail`, in ms; the half millisecond the truncation loses
/// on average is added back.
async fn sweep(port: u16, url: &str, base_epoch_ms: f64, expected: u64, tasks: usize) -> anyhow::Result<Vec<f64>> {
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let url = url.to_owned();
        handles.push(tokio::spawn(async move {
            let client = Client::new(port)?;
            let mut out = Vec::new();
            loop {
                let r = client
                    .sqs(
                        "ReceiveMessage",
                        json!({"QueueUrl": url, "MaxNumberOfMessages": 10,
                               "MessageSystemAttributeNames": ["SentTimestamp"]}),
                    )
                    .await?;
                let Some(messages) = r["Messages"].as_array().filter(|m| !m.is_empty()) else {
                    return anyhow::Ok(out);
                };
                // SQS keeps at most 120,000 messages in flight: delete as we go.
                let entries: Vec<Value> = messages
                    .iter()
                    .enumerate()
                    .map(|(i, m)| json!({"Id": i.to_string(), "ReceiptHandle": m["ReceiptHandle"]}))
                    .collect();
                client
                    .sqs("DeleteMessageBatch", json!({"QueueUrl": url, "Entries": entries}))
                    .await?;
                for m in messages {
                    let sent: f64 = m["Attributes"]["SentTimestamp"]
                        .as_str()
                        .context("SentTimestamp")?
                        .parse()?;
                    let ts = detail_of(m["Body"].as_str().unwrap_or_default())?["ts"]
                        .as_u64()
                        .context("ts")?;
                    out.push(sent + 0.5 - (base_epoch_ms + ts as f64 / 1000.0));
                }
            }
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await??);
    }
    ensure!(
        all.len() as u64 == expected,
        "swept {} messages, expected {expected}",
        all.len()
    );
    all.sort_by(f64::total_cmp);
    Ok(all)
}

async fn one_run(
    args: &EventsArgs,
    bin: &Path,
    port: u16,
    rules: usize,
    client_kind: LoadClient,
    run: usize,
) -> anyhow::Result<RunResult> {
    let mut res = RunResult {
        rules,
        client: Some(client_kind),
        load1: load1(),
        ..RunResult::default()
    };
    let extra = [
        "--events-max-rules-per-bus".to_owned(),
        args.max_rules_per_bus.to_string(),
    ];
    let (server, _) = start_to_healthy_with(bin, port, &extra)?;
    let client = Arc::new(Client::new(port)?);
    let t_setup = Instant::now();
    let queues = setup(&client, rules, args.connections).await?;
    res.setup_s = t_setup.elapsed().as_secs_f64();
    warm_up(&client, &queues).await?;
    res.rss_rules_mib = server.rss_kib()? as f64 / 1024.0;

    let base = Instant::now();
    let base_epoch_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs_f64()
        * 1000.0;
    let before = client.delivery().await?;
    let stop = Arc::new(AtomicBool::new(false));
    let drained_done = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let mut consumers = Vec::new();
    for _ in 0..args.drain {
        consumers.push(tokio::spawn(drain(
            port,
            queues.main.clone(),
            base,
            Arc::clone(&drained_done),
            Arc::clone(&received),
        )));
    }
    let probe_task = tokio::spawn(probe(
        port,
        queues.probe.clone(),
        Duration::from_millis(args.probe_interval_ms),
        Arc::clone(&stop),
    ));
    let sampler = tokio::spawn(sample_pending(port, Arc::clone(&stop)));
    let perf_file = match &args.perf {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            Some(dir.join(format!("perf-{rules}-{}-{run}.data", client_kind.name())))
        }
        None => None,
    };
    let perf = match &perf_file {
        Some(file) => Some(Perf::start(
            server.pid(),
            file,
            args.perf_freq,
            args.perf_call_graph.as_deref(),
        )?),
        None => None,
    };
    let busy0 = machine_busy_seconds()?;
    let self0 = self_cpu_seconds()?;
    let cpu0 = server.cpu_seconds()?;
    let t0 = Instant::now();
    let (load, load_s) = match client_kind {
        LoadClient::Native => {
            let o = native_load(&client, args.connections, args.seconds, base).await?;
            (o, t0.elapsed().as_secs_f64())
        }
        LoadClient::Wrk => {
            let (o, secs, _text) = wrk_load(args, port).await?;
            (o, secs)
        }
    };
    stop.store(true, Ordering::Relaxed);
    if let Some(p) = perf {
        p.stop()?;
    }
    let probe_lat = probe_task.await??;
    let (pending_mean, pending_max) = sampler.await??;
    let after = settle(&client, Duration::from_secs(300)).await?;
    let routed_s = t0.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds()? - cpu0;
    let others = (machine_busy_seconds()? - busy0) - cpu - (self_cpu_seconds()? - self0);

    res.load_s = load_s;
    res.routed_s = routed_s;
    res.cpu_s = cpu;
    res.others_cores = others / routed_s;
    res.requests = load.requests;
    res.accepted = load.accepted;
    res.failed_entries = load.failed;
    res.rtt_p50_ms = load.rtt_p50_ms;
    res.rtt_p99_ms = load.rtt_p99_ms;
    res.probes = probe_lat.len() as u64;
    let mut sent: Vec<Duration> = probe_lat.iter().map(|p| p.0).collect();
    sent.sort_unstable();
    res.probe_p50_ms = percentile(&sent, 0.5).as_secs_f64() * 1000.0;
    res.probe_p99_ms = percentile(&sent, 0.99).as_secs_f64() * 1000.0;
    let mut answered: Vec<i64> = probe_lat.iter().map(|p| p.1).collect();
    answered.sort_unstable();
    let pick = |q: f64| {
        answered
            .get(((answered.len().max(1) - 1) as f64 * q).round() as usize)
            .map_or(f64::NAN, |&us| us as f64 / 1000.0)
    };
    res.answer_p50_ms = pick(0.5);
    res.answer_p99_ms = pick(0.99);
    res.pending_mean = pending_mean;
    res.pending_max = pending_max;
    res.totals = after.minus(before);

    // Exactly one rule matched each event: bench-0 the load's (and the warm-up event, and every
    // entry whose delivery the engine refused), bench-probe the probes.
    let t = res.totals;
    let matched = client.matched_events().await?;
    ensure!(
        matched.len() == rules + 1,
        "metrics list {} rules, expected {}",
        matched.len(),
        rules + 1
    );
    let others_matched: u64 = matched
        .iter()
        .filter(|(k, _)| *k != "bench-0" && *k != PROBE_RULE)
        .map(|(_, v)| v)
        .sum();
    let m0 = matched.get("bench-0").copied().unwrap_or(0);
    // The events the server accepted (answered with an EventId). wrk counts only the responses
    // it read before its time was up, so its count may miss the requests in flight then (at
    // most one per connection); loadgen reads every response.
    let accepted_server = m0
        .checked_sub(1 + t.rejected)
        .context("bench-0 matched fewer events than it refused")?;
    let client_gap = accepted_server.checked_sub(res.accepted);
    let max_gap = match client_kind {
        LoadClient::Native => 0,
        LoadClient::Wrk => (args.connections * ENTRIES_PER_REQUEST) as u64,
    };
    let accepted = accepted_server + res.probes;
    let fates = t.delivered + t.dead_lettered + t.dropped;
    let report = format!(
        "rules {rules}, {} run {run}: accepted {accepted} (load {accepted_server}, of which the client read {}, + probes {}), submitted {}, delivered {}, dead-lettered {}, dropped {}, rejected {}, failed entries {:?}, other rules matched {others_matched}",
        client_kind.name(),
        res.accepted,
        res.probes,
        t.submitted,
        t.delivered,
        t.dead_lettered,
        t.dropped,
        t.rejected,
        res.failed_entries
    );
    ensure!(
        accepted == fates,
        "CHECK FAILED: accepted != delivered + deadLettered + dropped; {report}"
    );
    ensure!(t.dropped == 0, "CHECK FAILED: deliveries were dropped; {report}");
    ensure!(
        t.submitted == accepted,
        "CHECK FAILED: submitted != accepted (one target per event); {report}"
    );
    ensure!(
        others_matched == 0,
        "CHECK FAILED: non-matching rules matched; {report}"
    );
    ensure!(
        client_gap.is_some_and(|g| g <= max_gap),
        "CHECK FAILED: the client counted other accepted entries than the server; {report}"
    );
    res.accepted_server = accepted_server;

    // Every delivered message is in the queue (or was drained from it).
    let delivered_main = t.delivered - res.probes;
    if args.drain > 0 {
        let t_drain = Instant::now();
        while received.load(Ordering::Relaxed) < delivered_main && t_drain.elapsed() < Duration::from_secs(120) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drained_done.store(true, Ordering::Relaxed);
        let mut lat = Vec::new();
        for c in consumers {
            lat.extend(c.await??);
        }
        lat.sort_unstable();
        let n = received.load(Ordering::Relaxed);
        ensure!(
            n == delivered_main,
            "CHECK FAILED: drained {n} of {delivered_main} delivered messages; {report}"
        );
        // The consumers' requests until the queue was empty count as the server's work too.
        res.cpu_s = server.cpu_seconds()? - cpu0;
        res.drain_s = t_drain.elapsed().as_secs_f64();
        let p = |q: f64| percentile(&lat.iter().map(|&us| Duration::from_micros(us)).collect::<Vec<_>>(), q);
        res.drain_p50_ms = Some(p(0.5).as_secs_f64() * 1000.0);
        res.drain_p99_ms = Some(p(0.99).as_secs_f64() * 1000.0);
        res.queue_messages = client.queue_depth(&queues.main).await?;
    } else {
        res.queue_messages = client.queue_depth(&queues.main).await?;
        ensure!(
            res.queue_messages == delivered_main,
            "CHECK FAILED: the queue holds {} messages, {delivered_main} were delivered; {report}",
            res.queue_messages
        );
    }
    res.rss_end_mib = server.rss_kib()? as f64 / 1024.0;
    if args.drain == 0 && args.sweep && client_kind == LoadClient::Native {
        let lane = sweep(port, &queues.main, base_epoch_ms, delivered_main, 4).await?;
        let pick = |q: f64| lane[((lane.len().max(1) - 1) as f64 * q).round() as usize];
        if !lane.is_empty() {
            res.lane_p50_ms = Some(pick(0.5));
            res.lane_p99_ms = Some(pick(0.99));
            res.lane_max_ms = lane.last().copied();
        }
    }
    if args.drain == 0 {
        client.sqs("PurgeQueue", json!({"QueueUrl": queues.main})).await?;
    }
    let mut settled = server.rss_kib()?;
    let t_settle = Instant::now();
    while t_settle.elapsed().as_secs_f64() < args.settle_seconds {
        tokio::time::sleep(Duration::from_millis(50)).await;
        settled = settled.min(server.rss_kib()?);
    }
    res.rss_settled_mib = settled as f64 / 1024.0;
    drop(server);
    println!(
        "run: rules {rules:>5} {:<7} #{run}: load1 {:.2}, others {:.2} cores, setup {:.1} s | {} requests (p50 {:.3} ms, p99 {:.3} ms), accepted {} ({:.0}/s; server {}), delivered {} ({:.0}/s, tail {:.0} ms), dead-lettered {}, dropped {}, rejected {}, probes {} | server CPU {:.2} s = {:.2} µs/routed event{} | probe sent→received p50 {:.3} ms p99 {:.3} ms, answered→received p50 {:.3} ms p99 {:.3} ms, pending mean {:.0} max {} (Little {:.3} ms){}{} | RSS rules {:.1} MiB, end {:.1} MiB ({} msgs), settled {:.1} MiB",
        client_kind.name(),
        res.load1,
        res.others_cores,
        res.setup_s,
        res.requests,
        res.rtt_p50_ms,
        res.rtt_p99_ms,
        res.accepted,
        res.accepted_rate(),
        res.accepted_server,
        t.delivered,
        res.routed_rate(),
        (routed_s - load_s).max(0.0) * 1000.0,
        t.dead_lettered,
        t.dropped,
        t.rejected,
        res.probes,
        res.cpu_s,
        res.cpu_us_per_routed(),
        if args.drain > 0 { " (consumers' requests included)" } else { "" },
        res.probe_p50_ms,
        res.probe_p99_ms,
        res.answer_p50_ms,
        res.answer_p99_ms,
        res.pending_mean,
        res.pending_max,
        res.little_ms(),
        match (res.lane_p50_ms, res.lane_p99_ms, res.lane_max_ms) {
            (Some(a), Some(b), Some(c)) => format!(", every event sent→enqueued (SentTimestamp) p50 {a:.1} ms p99 {b:.1} ms max {c:.1} ms"),
            _ => String::new(),
        },
        match (res.drain_p50_ms, res.drain_p99_ms) {
            (Some(a), Some(b)) => format!(", drained p50 {a:.3} ms p99 {b:.3} ms, emptied {:.2} s after the deliveries", res.drain_s),
            _ => String::new(),
        },
        res.rss_rules_mib,
        res.rss_end_mib,
        res.queue_messages,
        res.rss_settled_mib,
    );
    if let Some(file) = &perf_file {
        println!(
            "hot spots, {rules} rule(s), {} run {run} (perf-disturbed figures above):",
            client_kind.name()
        );
        print!("{}", crate::perf::hot_spots(file)?);
    }
    Ok(res)
}

/// "median (min–max)" of `xs`.
fn stat(xs: &[f64], decimals: usize) -> String {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return "—".to_owned();
    }
    v.sort_by(f64::total_cmp);
    let med = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    if v.len() == 1 {
        return format!("{med:.decimals$}");
    }
    format!("{med:.decimals$} ({:.decimals$}–{:.decimals$})", v[0], v[v.len() - 1])
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    }
}

fn summary(args: &EventsArgs, results: &[RunResult]) {
    println!();
    println!(
        "PutEvents ({ENTRIES_PER_REQUEST} entries a request) → rule → SQS, {} connections, {} s a run; client and server on the same machine; median (min–max) of the runs, each with its own server; {}.",
        args.connections,
        args.seconds,
        if args.drain > 0 {
            format!("{} consumers drain the queue while loading", args.drain)
        } else {
            "the queue keeps what is delivered (purged after the run)".to_owned()
        }
    );
    println!();
    println!("| rules | client | runs | accepted events/s | routed events/s | server CPU µs/routed event | probe sent→received p50 / p99 ms | probe answered→received p50 / p99 ms | loaded lane: Little mean ms; every event sent→enqueued p50 / p99 ms | PutEvents round trip p50 / p99 ms | entries refused (ThrottlingException) | RSS: rules / end / purged MiB | load1 | others' CPU, cores |");
    println!("| ---: | --- | ---: | ---: | ---: | ---: | --- | --- | ---: | --- | ---: | --- | --- | --- |");
    let mut groups: BTreeMap<(LoadClient, usize), Vec<&RunResult>> = BTreeMap::new();
    for r in results {
        if let Some(c) = r.client {
            groups.entry((c, r.rules)).or_default().push(r);
        }
    }
    for ((client, rules), rs) in &groups {
        let col = |f: &dyn Fn(&RunResult) -> f64| -> Vec<f64> { rs.iter().map(|r| f(r)).collect() };
        let drained = rs.iter().all(|r| r.drain_p50_ms.is_some());
        let latency = if drained {
            format!(
                "{} / {} (drained: {} / {})",
                stat(&col(&|r| r.probe_p50_ms), 3),
                stat(&col(&|r| r.probe_p99_ms), 3),
                stat(&col(&|r| r.drain_p50_ms.unwrap_or(f64::NAN)), 2),
                stat(&col(&|r| r.drain_p99_ms.unwrap_or(f64::NAN)), 2)
            )
        } else {
            format!(
                "{} / {}",
                stat(&col(&|r| r.probe_p50_ms), 3),
                stat(&col(&|r| r.probe_p99_ms), 3)
            )
        };
        println!(
            "| {rules} | {} | {} | {} | {} | {} | {latency} | {} / {} | {} | {} / {} | {} % | {} / {} / {} | {} | {} |",
            client.name(),
            rs.len(),
            stat(&col(&|r| r.accepted_rate()), 0),
            stat(&col(&|r| r.routed_rate()), 0),
            stat(&col(&|r| r.cpu_us_per_routed()), 2),
            stat(&col(&|r| r.answer_p50_ms), 3),
            stat(&col(&|r| r.answer_p99_ms), 3),
            {
                let little = stat(&col(&|r| r.little_ms()), 2);
                if rs.iter().all(|r| r.lane_p50_ms.is_some()) {
                    format!(
                        "{little}; {} / {}",
                        stat(&col(&|r| r.lane_p50_ms.unwrap_or(f64::NAN)), 1),
                        stat(&col(&|r| r.lane_p99_ms.unwrap_or(f64::NAN)), 1)
                    )
                } else {
                    little
                }
            },
            stat(&col(&|r| r.rtt_p50_ms), 3),
            stat(&col(&|r| r.rtt_p99_ms), 3),
            stat(&col(&|r| r.refused_percent()), 1),
            stat(&col(&|r| r.rss_rules_mib), 1),
            stat(&col(&|r| r.rss_end_mib), 1),
            stat(&col(&|r| r.rss_settled_mib), 1),
            stat(&col(&|r| r.load1), 2),
            stat(&col(&|r| r.others_cores), 2),
        );
    }
    // The cost of many rules against one, per client.
    let (lo, hi) = (args.rules.iter().min(), args.rules.iter().max());
    if let (Some(&lo), Some(&hi)) = (lo, hi) {
        if lo != hi {
            println!();
            for client in &args.client {
                let (Some(a), Some(b)) = (groups.get(&(*client, lo)), groups.get(&(*client, hi))) else {
                    continue;
                };
                let cpu = |rs: &Vec<&RunResult>| median(&rs.iter().map(|r| r.cpu_us_per_routed()).collect::<Vec<_>>());
                let rate = |rs: &Vec<&RunResult>| median(&rs.iter().map(|r| r.routed_rate()).collect::<Vec<_>>());
                println!(
                    "{}: {hi} rules vs {lo}: server CPU per routed event {:.2}×, routed events/s {:.2}× (medians)",
                    client.name(),
                    cpu(b) / cpu(a),
                    rate(b) / rate(a)
                );
            }
        }
    }
}

pub fn run(bin: &Path, port: u16, args: &EventsArgs) -> anyhow::Result<()> {
    if args.client.contains(&LoadClient::Wrk) {
        ensure!(
            args.wrk_script.exists(),
            "no wrk script at {}",
            args.wrk_script.display()
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut results = Vec::new();
    // Configurations alternate, so the machine's swings spread over all of them.
    for run in 1..=args.runs {
        for &rules in &args.rules {
            for &client in &args.client {
                let r = rt
                    .block_on(one_run(args, bin, port, rules, client, run))
                    .with_context(|| format!("rules {rules}, {} run {run}", client.name()))?;
                results.push(r);
            }
        }
    }
    summary(args, &results);
    Ok(())
}
