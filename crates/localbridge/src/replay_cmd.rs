//! `localbridge replay [FILE] [--bus NAME] [--speed N | --as-fast-as-possible] [--rewrite-time]
//! [--mark NAME]`: sends captured events to a running server through PutEvents.
//!
//! Input: FILE, or stdin when FILE is `-` or absent; each JSON value (a line, or a document over
//! several lines) is recognised on its own: EventBridge events (what `localbridge tail`
//! writes), PutEvents entries files, CloudTrail records and exports, S3 event notification
//! records, and messages wrapping them — see [`formats`] for the list and what each becomes.
//!
//! Sending: AWS JSON 1.1 `AWSEvents.PutEvents`, up to 10 entries and 256 KB (as EventBridge
//! counts an entry's size) per call, with the header `x-localbridge-replay: <mark>` (default mark
//! `localbridge-replay`). That localbridge extension lets events whose source starts with `aws.`
//! through (AWS refuses them to PutEvents with `NotAuthorizedForSourceException`) and adds a
//! top-level `"replay-name": "<mark>"` to every event, as EventBridge does to the events an
//! archive replays, so rules can tell replayed events apart (`{"replay-name": [{"exists":
//! false}]}`). Events go to `--bus` if given, else to the bus an entry names, else `default`.
//! Their `time` is kept (PutEvents `Time`) unless `--rewrite-time`, which leaves it to the
//! server: the time each is sent.
//!
//! Pacing: events keep their relative timing, from their `time` fields, measured on the
//! SERVER's clock (`POST /_localbridge/clock/wait`, in a session that holds a manual clock's step
//! until the events due are sent): against `serve --clock manual` a replay moves exactly as the
//! test advances the clock. `--speed N` divides the gaps; `--as-fast-as-possible` ignores them
//! and keeps `--concurrency` calls in flight. Events without a time go with the one before;
//! an event older than the one before goes at once (the file's order is kept).
//!
//! Entries a call answers `ThrottlingException` for are sent again (backoff from 50 ms, up to 8
//! attempts), as are calls that fail to connect or answer 5xx; other failures are final.
//!
//! Output: a progress line on stderr when it is a terminal (not with `--quiet`), and at the end
//! a summary on stderr — events read, sent, failed (grouped by error code, with the first
//! message and where it happened), skipped — and with `--json` the same as one JSON object on
//! stdout. Exit status: 0 when everything read was sent, 1 when something failed, 2 when the
//! replay could not run (input unreadable, server unreachable, bad arguments).

mod formats;
mod progress;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use serde::Deserialize;
use serde_json::json;
use tokio::task::JoinSet;

use crate::remote;
use formats::{Convert, Entry, Item, Position, Reader};
use progress::{Counters, Progress};

/// Exit status: something failed to send.
pub const EXIT_FAILED: i32 = 1;
/// Exit status: the replay could not run.
pub const EXIT_ERROR: i32 = 2;

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// The captured events (formats: see the README); `-` or none reads stdin.
    file: Option<String>,
    /// Send every event to this bus (name or ARN), whatever the input says.
    #[arg(long)]
    bus: Option<String>,
    /// Play N times faster than the events' times say (0.5: half as fast).
    #[arg(long, default_value_t = 1.0, conflicts_with = "as_fast_as_possible")]
    speed: f64,
    /// Ignore the events' timing: send as fast as the server takes them.
    #[arg(long)]
    as_fast_as_possible: bool,
    /// Give each event the time it is sent instead of its own.
    #[arg(long)]
    rewrite_time: bool,
    /// The `replay-name` added to every replayed event.
    #[arg(long, default_value = "localbridge-replay")]
    mark: String,
    /// PutEvents calls in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Also print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// No progress line.
    #[arg(long, short)]
    quiet: bool,
    /// The server (default: `AWS_ENDPOINT_URL`, else http://127.0.0.1:4566).
    #[arg(long)]
    endpoint_url: Option<String>,
    /// The region sent to (default: `AWS_REGION`, `AWS_DEFAULT_REGION`, else us-east-1).
    #[arg(long)]
    region: Option<String>,
    /// The account sent as (a 12-digit number; default: the server's, 000000000000).
    #[arg(long)]
    account: Option<String>,
}

/// Items read per message from the reading thread.
const CHUNK: usize = 512;
const MAX_ENTRIES: usize = 10;
const MAX_BATCH_BYTES: usize = 256 * 1024;
const MAX_ATTEMPTS: u32 = 8;

/// Runs the command; returns the exit status.
pub async fn run(args: ReplayArgs) -> i32 {
    match replay(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("localbridge replay: {e:#}");
            EXIT_ERROR
        }
    }
}

fn valid_mark(mark: &str) -> bool {
    (1..=64).contains(&mark.len())
        && mark
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// What became of the events.
#[derive(Debug, Default)]
struct Summary {
    read: u64,
    sent: u64,
    failed: u64,
    skipped: u64,
    /// Error code → (count, first message, where first).
    errors: BTreeMap<String, (u64, String, Position)>,
    skips: BTreeMap<String, u64>,
}

impl Summary {
    fn fail(&mut self, code: &str, message: &str, at: Position) {
        self.failed += 1;
        self.errors
            .entry(code.to_owned())
            .or_insert_with(|| (0, message.to_owned(), at))
            .0 += 1;
    }

    fn text(&self, seconds: f64) -> String {
        let rate = self.sent as f64 / seconds.max(0.001);
        let mut s = format!(
            "localbridge replay: {} events read, {} sent, {} failed, {} skipped in {seconds:.2} s ({rate:.0} events/s)",
            self.read, self.sent, self.failed, self.skipped
        );
        for (code, (n, message, at)) in &self.errors {
            s.push_str(&format!("\n  {code}: {n} (first at {at}: {message})"));
        }
        for (reason, n) in &self.skips {
            s.push_str(&format!("\n  skipped: {n} ({reason})"));
        }
        s
    }

    fn json(&self, seconds: f64) -> serde_json::Value {
        let errors: serde_json::Map<String, serde_json::Value> = self
            .errors
            .iter()
            .map(|(code, (n, message, at))| {
                (
                    code.clone(),
                    json!({ "count": n, "message": message, "first": at.to_string() }),
                )
            })
            .collect();
        json!({
            "read": self.read,
            "sent": self.sent,
            "failed": self.failed,
            "skipped": self.skipped,
            "errors": errors,
            "seconds": seconds,
            "eventsPerSecond": self.sent as f64 / seconds.max(0.001),
        })
    }
}

/// One PutEvents call's outcome.
#[derive(Debug, Default)]
struct Outcome {
    sent: u64,
    failed: Vec<(String, String, Position)>,
}

/// Sends batches of entries.
struct Sender {
    client: reqwest::Client,
    endpoint: String,
    authorization: String,
    mark: String,
    with_time: bool,
    bus: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutEventsAnswer {
    #[serde(default)]
    entries: Vec<AnswerEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AnswerEntry {
    event_id: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((50u64 << attempt.min(6)).min(2_000))
}

impl Sender {
    fn body(&self, batch: &[(Position, Entry)]) -> Vec<u8> {
        let mut body = Vec::with_capacity(batch.iter().map(|(_, e)| e.detail.len() + 200).sum());
        body.extend_from_slice(b"{\"Entries\":[");
        for (i, (_, e)) in batch.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            e.write_json(&mut body, self.with_time, self.bus.as_deref());
        }
        body.extend_from_slice(b"]}");
        body
    }

    async fn post(&self, body: Vec<u8>) -> Result<(u16, bytes::Bytes), reqwest::Error> {
        let resp = self
            .client
            .post(&self.endpoint)
            .header("X-Amz-Target", "AWSEvents.PutEvents")
            .header("Content-Type", "application/x-amz-json-1.1")
            .header("Authorization", &self.authorization)
            .header("x-localbridge-replay", &self.mark)
            .body(body)
            .send()
            .await?;
        let status = resp.status().as_u16();
        Ok((status, resp.bytes().await?))
    }

    /// Sends one batch, again for what is throttled, until everything has an outcome.
    async fn send(&self, mut batch: Vec<(Position, Entry)>) -> Outcome {
        let mut out = Outcome::default();
        let mut attempt = 0;
        while !batch.is_empty() {
            attempt += 1;
            let last = attempt >= MAX_ATTEMPTS;
            let (status, body) = match self.post(self.body(&batch)).await {
                Ok(r) => r,
                Err(e) if !last => {
                    tracing::debug!(error = %e, attempt, "PutEvents failed, again");
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                Err(e) => {
                    let message = format!("{e}");
                    out.failed.extend(
                        batch
                            .drain(..)
                            .map(|(at, _)| ("RequestFailed".to_owned(), message.clone(), at)),
                    );
                    break;
                }
            };
            if status != 200 {
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let code = v["__type"]
                    .as_str()
                    .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
                    .unwrap_or_else(|| format!("HTTP{status}"));
                if (status >= 500 || code == "ThrottlingException") && !last {
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                let message = v["message"]
                    .as_str()
                    .or_else(|| v["Message"].as_str())
                    .map_or_else(|| String::from_utf8_lossy(&body).into_owned(), str::to_owned);
                out.failed
                    .extend(batch.drain(..).map(|(at, _)| (code.clone(), message.clone(), at)));
                break;
            }
            let answer = match serde_json::from_slice::<PutEventsAnswer>(&body) {
                Ok(a) if a.entries.len() == batch.len() => a,
                _ => {
                    let message = format!("an answer that is not PutEvents': {}", String::from_utf8_lossy(&body));
                    out.failed.extend(
                        batch
                            .drain(..)
                            .map(|(at, _)| ("InvalidAnswer".to_owned(), message.clone(), at)),
                    );
                    break;
                }
            };
            let mut again = Vec::new();
            for ((at, entry), result) in batch.drain(..).zip(answer.entries) {
                match (result.event_id, result.error_code) {
                    (Some(_), None) => out.sent += 1,
                    (_, Some(code)) if code == "ThrottlingException" && !last => again.push((at, entry)),
                    (_, code) => out.failed.push((
                        code.unwrap_or_else(|| "InvalidAnswer".into()),
                        result.error_message.unwrap_or_default(),
                        at,
                    )),
                }
            }
            if !again.is_empty() {
                tokio::time::sleep(backoff(attempt)).await;
            }
            batch = again;
        }
        out
    }
}

/// The server's clock, waited on.
struct ServerClock {
    client: reqwest::Client,
    url: String,
    session: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClockAnswer {
    reached: bool,
    now_millis: u64,
}

impl ServerClock {
    /// Waits until the server's clock reads `until` (epoch ms); returns its time then. With
    /// `hold`, in this replay's session (see the module docs).
    async fn wait(&self, until: u64, hold: bool) -> anyhow::Result<u64> {
        loop {
            let mut body = json!({ "until": until, "timeout": 20 });
            if hold {
                body["session"] = json!(self.session);
            }
            let a = self.call(&body).await?;
            if a.reached {
                return Ok(a.now_millis);
            }
        }
    }

    async fn release(&self) {
        let _ = self.call(&json!({ "session": self.session, "release": true })).await;
    }

    async fn call(&self, body: &serde_json::Value) -> anyhow::Result<ClockAnswer> {
        let resp = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .with_context(|| format!("cannot reach {} (is `localbridge serve` running?)", self.url))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.context("reading the server's clock")?;
        if status != 200 {
            bail!("the server's clock: {}", remote::error_message(status, &bytes));
        }
        serde_json::from_slice(&bytes).context("reading the server's clock")
    }
}

/// Batches entries as PutEvents takes them.
#[derive(Default)]
struct Batcher {
    batch: Vec<(Position, Entry)>,
    bytes: usize,
}

impl Batcher {
    /// Adds an entry; returns a full batch to send, if adding it filled one.
    fn push(&mut self, at: Position, entry: Entry, with_time: bool) -> Option<Vec<(Position, Entry)>> {
        let size = entry.size(with_time);
        let full = (!self.batch.is_empty() && self.bytes + size > MAX_BATCH_BYTES).then(|| self.take());
        self.bytes += size;
        self.batch.push((at, entry));
        full.or_else(|| (self.batch.len() == MAX_ENTRIES).then(|| self.take()))
    }

    fn take(&mut self) -> Vec<(Position, Entry)> {
        self.bytes = 0;
        std::mem::take(&mut self.batch)
    }
}

/// Event times → when each is due, relative to the first timed event, divided by the speed;
/// never earlier than the event before.
struct Pacer {
    speed: f64,
    first: Option<u64>,
    last_offset: u64,
}

impl Pacer {
    fn offset(&mut self, time: Option<u64>) -> u64 {
        if let Some(t) = time {
            let first = *self.first.get_or_insert(t);
            // Milliseconds of a realistic capture; the quotient fits a u64.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let offset = (t.saturating_sub(first) as f64 / self.speed).round() as u64;
            self.last_offset = self.last_offset.max(offset);
        }
        self.last_offset
    }
}

type Chunk = Result<Vec<(Position, Item)>, String>;

/// Reads and converts the input on a thread of its own (file and stdin reads block).
fn spawn_reader(
    input: Box<dyn Read + Send>,
    convert: Convert,
) -> (tokio::sync::mpsc::Receiver<Chunk>, Arc<std::sync::atomic::AtomicU64>) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(8);
    let mut reader = Reader::new(input, convert);
    let bytes = Arc::clone(&reader.bytes);
    std::thread::spawn(move || {
        let mut chunk = Vec::with_capacity(CHUNK);
        loop {
            match reader.next() {
                None => break,
                Some(Err(e)) => {
                    let _ = tx.blocking_send(Err(format!("reading the input: {e}")));
                    return;
                }
                Some(Ok(item)) => chunk.push(item),
            }
            // A live producer (stdin): what is read goes out before the next read waits.
            if (chunk.len() >= CHUNK || reader.may_wait()) && tx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err()
            {
                return;
            }
        }
        if !chunk.is_empty() {
            let _ = tx.blocking_send(Ok(chunk));
        }
    });
    (rx, bytes)
}

async fn replay(args: ReplayArgs) -> anyhow::Result<i32> {
    if !args.speed.is_finite() || args.speed <= 0.0 {
        bail!("--speed must be a positive number (got {})", args.speed);
    }
    if !valid_mark(&args.mark) {
        bail!(
            "--mark must be 1 to 64 of A-Z, a-z, 0-9, '.', '-', '_' (got {:?})",
            args.mark
        );
    }
    if let Some(a) = &args.account {
        if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
            bail!("--account must be a 12-digit account id (got {a:?})");
        }
    }
    let concurrency = args.concurrency.max(1);
    let endpoint = remote::endpoint(args.endpoint_url.as_deref());
    let region = remote::region(args.region.as_deref());
    let account = args
        .account
        .clone()
        .unwrap_or_else(|| lb_core::DEFAULT_ACCOUNT.to_owned());

    let (input, total): (Box<dyn Read + Send>, Option<u64>) = match args.file.as_deref() {
        None | Some("-") => (Box::new(std::io::stdin()), None),
        Some(path) => {
            let f = File::open(path).with_context(|| format!("cannot read {path}"))?;
            let len = f.metadata().ok().filter(std::fs::Metadata::is_file).map(|m| m.len());
            (Box::new(f), len)
        }
    };
    let (mut rx, bytes_read) = spawn_reader(
        input,
        Convert {
            account: account.clone(),
        },
    );

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(concurrency * 2)
        .build()
        .context("building the HTTP client")?;
    // The access key is the account when one is given (the server reads a 12-digit key as one).
    let authorization = remote::authorization(&region, "events").replacen(
        "Credential=localbridge/",
        &format!("Credential={}/", args.account.as_deref().unwrap_or("localbridge")),
        1,
    );
    let sender = Arc::new(Sender {
        client: client.clone(),
        endpoint: format!("{endpoint}/"),
        authorization,
        mark: args.mark.clone(),
        with_time: !args.rewrite_time,
        bus: args.bus.clone(),
    });
    let clock = ServerClock {
        client,
        url: format!("{endpoint}/_localbridge/clock/wait"),
        session: format!("replay-{}-{}", std::process::id(), lb_core::ids::uuid()),
    };
    let paced = !args.as_fast_as_possible;
    // The server's time when the replay starts: the first timed event's moment.
    let start = if paced { clock.wait(0, false).await? } else { 0 };

    let counters = Arc::new(Counters::default());
    let progress = Progress::start(!args.quiet, total, bytes_read, Arc::clone(&counters));
    let started = Instant::now();
    let mut summary = Summary::default();
    let mut in_flight: JoinSet<Outcome> = JoinSet::new();
    let mut batcher = Batcher::default();
    let mut pacer = Pacer {
        speed: args.speed,
        first: None,
        last_offset: 0,
    };
    let mut server_now = start;
    let mut held = false;

    let record = |summary: &mut Summary, outcome: Outcome| {
        summary.sent += outcome.sent;
        counters.sent.fetch_add(outcome.sent, Ordering::Relaxed);
        counters
            .failed
            .fetch_add(outcome.failed.len() as u64, Ordering::Relaxed);
        for (code, message, at) in outcome.failed {
            summary.fail(&code, &message, at);
        }
    };

    let mut next = rx.recv().await;
    while let Some(chunk) = next {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                progress.finish();
                bail!(e);
            }
        };
        for (at, item) in chunk {
            let entry = match item {
                Item::Entry(e) => e,
                Item::Invalid(reason) => {
                    summary.read += 1;
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    summary.fail("InvalidInput", &reason, at);
                    continue;
                }
                Item::Skipped(reason) => {
                    summary.skipped += 1;
                    *summary.skips.entry(reason).or_default() += 1;
                    continue;
                }
            };
            summary.read += 1;
            if paced {
                let due = start + pacer.offset(entry.time_millis);
                if due > server_now {
                    // Everything due before is sent (and answered) before the clock moves on.
                    let partial = batcher.take();
                    if !partial.is_empty() {
                        let s = Arc::clone(&sender);
                        in_flight.spawn(async move { s.send(partial).await });
                    }
                    while let Some(done) = in_flight.join_next().await {
                        record(&mut summary, done.unwrap_or_default());
                    }
                    counters.waiting_for.store(due, Ordering::Relaxed);
                    server_now = match clock.wait(due, true).await {
                        Ok(now) => now,
                        Err(e) => {
                            progress.finish();
                            return Err(e);
                        }
                    };
                    held = true;
                    counters.waiting_for.store(0, Ordering::Relaxed);
                }
            }
            if let Some(full) = batcher.push(at, *entry, sender.with_time) {
                let s = Arc::clone(&sender);
                in_flight.spawn(async move { s.send(full).await });
                while in_flight.len() >= concurrency {
                    if let Some(done) = in_flight.join_next().await {
                        record(&mut summary, done.unwrap_or_default());
                    }
                }
            }
        }
        next = match rx.try_recv() {
            Ok(c) => Some(c),
            Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => None,
            Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                // Nothing more to read yet: what is batched goes now.
                let partial = batcher.take();
                if !partial.is_empty() {
                    let s = Arc::clone(&sender);
                    in_flight.spawn(async move { s.send(partial).await });
                }
                rx.recv().await
            }
        };
    }
    let partial = batcher.take();
    if !partial.is_empty() {
        let s = Arc::clone(&sender);
        in_flight.spawn(async move { s.send(partial).await });
    }
    while let Some(done) = in_flight.join_next().await {
        record(&mut summary, done.unwrap_or_default());
    }
    if held {
        clock.release().await;
    }
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("{}", summary.text(seconds));
    if args.json {
        println!("{}", summary.json(seconds));
    }
    Ok(if summary.failed > 0 { EXIT_FAILED } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(detail_len: usize) -> Entry {
        Entry {
            source: "s".into(),
            detail_type: "d".into(),
            detail: "x".repeat(detail_len),
            ..Entry::default()
        }
    }

    fn at(line: u64) -> Position {
        Position { line, index: None }
    }

    #[test]
    fn batches_hold_ten_entries_and_256_kb() {
        let mut b = Batcher::default();
        for i in 0..9 {
            assert!(b.push(at(i), entry(10), true).is_none());
        }
        assert_eq!(b.push(at(9), entry(10), true).map(|v| v.len()), Some(10));
        // 100 KB + 100 KB fit; a third goes in the next batch.
        assert!(b.push(at(10), entry(100 * 1024), true).is_none());
        assert!(b.push(at(11), entry(100 * 1024), true).is_none());
        assert_eq!(b.push(at(12), entry(100 * 1024), true).map(|v| v.len()), Some(2));
        // An entry over the limit on its own goes alone (and the server refuses it).
        assert_eq!(b.push(at(13), entry(300 * 1024), true).map(|v| v.len()), Some(1));
        assert_eq!(b.take().len(), 1);
        assert!(b.take().is_empty());
    }

    #[test]
    fn pacing_divides_gaps_and_never_goes_back() {
        let mut p = Pacer {
            speed: 10.0,
            first: None,
            last_offset: 0,
        };
        assert_eq!(p.offset(None), 0);
        assert_eq!(p.offset(Some(1_000_000)), 0);
        assert_eq!(p.offset(Some(1_010_000)), 1_000);
        assert_eq!(p.offset(None), 1_000);
        assert_eq!(p.offset(Some(1_005_000)), 1_000, "an older event goes at once");
        assert_eq!(p.offset(Some(1_040_000)), 4_000);
    }

    #[test]
    fn marks_and_summaries() {
        assert!(valid_mark("localbridge-replay"));
        assert!(valid_mark("a.b_c-1"));
        assert!(!valid_mark(""));
        assert!(!valid_mark("a b"));
        assert!(!valid_mark(&"a".repeat(65)));
        let mut s = Summary {
            read: 3,
            sent: 1,
            ..Summary::default()
        };
        s.fail("ValidationException", "too big", at(2));
        s.fail("ValidationException", "again", at(3));
        let text = s.text(2.0);
        assert!(
            text.starts_with("localbridge replay: 3 events read, 1 sent, 2 failed, 0 skipped in 2.00 s"),
            "{text}"
        );
        assert!(
            text.ends_with("\n  ValidationException: 2 (first at line 2: too big)"),
            "{text}"
        );
        let j = s.json(2.0);
        assert_eq!(j["errors"]["ValidationException"]["count"], 2);
        assert_eq!(j["errors"]["ValidationException"]["first"], "line 2");
    }
}
