//! `loadgen`: the benchmark driver behind `scripts/bench-gateway`.
//!
//! It starts the server binary itself (so it can time start-up and read the process's RSS and
//! CPU time from /proc), then runs each scenario over keep-alive connections and prints a
//! Markdown table. Figures are measured on the machine it runs on; compare ratios, not absolutes.
//! `loadgen events` is the EventBridge PutEvents benchmark instead (see [`events`]).

mod events;
mod perf;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// Without a mode: the gateway scenarios (start-up, SQS, S3 → SQS).
    #[command(subcommand)]
    mode: Option<Mode>,
    /// The localbridge binary to benchmark (a release build).
    #[arg(long, default_value = "target/release/localbridge")]
    bin: PathBuf,
    /// Port for the server under test.
    #[arg(long, default_value_t = 45660)]
    port: u16,
    /// Concurrent keep-alive connections for the throughput scenarios.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Seconds per throughput scenario.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// S3 PutObject → SQS ReceiveMessage round trips for the latency scenario.
    #[arg(long, default_value_t = 2000)]
    events: usize,
    /// Start-up measurements (the median is reported).
    #[arg(long, default_value_t = 20)]
    starts: usize,
}

#[derive(clap::Subcommand)]
enum Mode {
    /// EventBridge PutEvents → rule → SQS: events/s accepted and routed, latency, server CPU per
    /// routed event and RSS, at several rule counts.
    Events(events::EventsArgs),
}

struct Proc {
    child: Child,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (utime + stime) in seconds, from /proc/PID/stat.
    fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))?;
        let after = stat.rsplit_once(')').map(|(_, r)| r).context("malformed stat")?;
        let fields: Vec<&str> = after.split_whitespace().collect();
        let utime: f64 = fields.get(11).context("utime")?.parse()?;
        let stime: f64 = fields.get(12).context("stime")?.parse()?;
        // SAFETY-free: the clock tick is 100 Hz on every Linux this runs on.
        Ok((utime + stime) / 100.0)
    }

    fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("VmRSS")?;
        Ok(line.split_whitespace().nth(1).context("VmRSS value")?.parse()?)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(bin: &Path, port: u16, extra: &[String]) -> anyhow::Result<Proc> {
    let child = Command::new(bin)
        .args(["serve", "--port", &port.to_string()])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    Ok(Proc { child })
}

/// Spawns the server and polls the health endpoint over a raw socket until it answers 200.
fn start_to_healthy(bin: &Path, port: u16) -> anyhow::Result<(Proc, Duration)> {
    start_to_healthy_with(bin, port, &[])
}

/// [`start_to_healthy`] with more `serve` arguments.
fn start_to_healthy_with(bin: &Path, port: u16, extra: &[String]) -> anyhow::Result<(Proc, Duration)> {
    use std::io::{Read, Write};
    let t0 = Instant::now();
    let proc = spawn(bin, port, extra)?;
    loop {
        if t0.elapsed() > Duration::from_secs(10) {
            bail!("server not healthy after 10 s");
        }
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let req = "GET /_localbridge/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
            if s.write_all(req.as_bytes()).is_ok() {
                let mut buf = [0u8; 12];
                if s.read_exact(&mut buf).is_ok() && &buf == b"HTTP/1.1 200" {
                    return Ok((proc, t0.elapsed()));
                }
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(port: u16) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(1024)
                .tcp_nodelay(true)
                .build()?,
            base: format!("http://127.0.0.1:{port}"),
        })
    }

    async fn sqs(&self, op: &str, body: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        self.json_call(
            &format!("AmazonSQS.{op}"),
            "application/x-amz-json-1.0",
            body.to_string(),
        )
        .await
    }

    /// One AWS JSON protocol call (`X-Amz-Target: <target>`); the parsed answer, or an error
    /// naming the status.
    async fn json_call(&self, target: &str, content_type: &str, body: String) -> anyhow::Result<serde_json::Value> {
        let resp = self
            .http
            .post(&self.base)
            .header("X-Amz-Target", target)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if !status.is_success() {
            bail!("{target}: {status}: {}", String::from_utf8_lossy(&bytes));
        }
        Ok(serde_json::from_slice(&bytes)?)
    }

    async fn s3_put(&self, path: &str, body: Vec<u8>) -> anyhow::Result<()> {
        let resp = self
            .http
            .put(format!("{}{}", self.base, path))
            .body(body)
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!(
                "PUT {path}: {} {}",
                resp.status(),
                resp.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }

    /// The server's `localbridge_requests_in_flight` gauge (this scrape included).
    async fn in_flight(&self) -> anyhow::Result<u64> {
        let text = self
            .http
            .get(format!("{}/_localbridge/metrics", self.base))
            .send()
            .await?
            .text()
            .await?;
        text.lines()
            .find_map(|l| l.strip_prefix("localbridge_requests_in_flight "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as u64)
            .context("localbridge_requests_in_flight missing from /_localbridge/metrics")
    }

    async fn create_queue(&self, name: &str) -> anyhow::Result<String> {
        let v = self.sqs("CreateQueue", serde_json::json!({"QueueName": name})).await?;
        Ok(v["QueueUrl"].as_str().context("QueueUrl")?.to_owned())
    }
}

/// Runs `op` on `connections` tasks for `secs` seconds; returns ops/s and sorted latencies.
async fn throughput<F, Fut>(connections: usize, secs: u64, op: F) -> anyhow::Result<(f64, Vec<Duration>)>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (op, stop, errors) = (Arc::clone(&op), Arc::clone(&stop), Arc::clone(&errors));
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(1 << 16);
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                if op().await.is_err() {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let errs = errors.load(Ordering::Relaxed);
    if errs > 0 {
        bail!("{errs} operations failed");
    }
    all.sort_unstable();
    Ok((all.len() as f64 / elapsed, all))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Mode::Events(events)) = &args.mode {
        return events::run(&args.bin, args.port, events);
    }
    // The client runs on one thread so the server keeps the other core (2-core machines).
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;

    // Start-up: median of several cold starts.
    let mut starts = Vec::new();
    for _ in 0..args.starts {
        let (p, d) = start_to_healthy(&args.bin, args.port)?;
        starts.push(d);
        drop(p);
    }
    starts.sort_unstable();
    let (server, _) = start_to_healthy(&args.bin, args.port)?;
    std::thread::sleep(Duration::from_millis(200));
    let idle_rss = server.rss_kib()?;

    println!("| figure | value |");
    println!("| --- | --- |");
    println!(
        "| start to healthy (median of {}, min–max) | {} ms ({}–{}) |",
        starts.len(),
        ms(percentile(&starts, 0.5)),
        ms(starts[0]),
        ms(starts[starts.len() - 1])
    );
    println!("| idle RSS | {:.1} MiB |", idle_rss as f64 / 1024.0);

    rt.block_on(async {
        let client = Arc::new(Client::new(args.port)?);

        // SendMessage throughput.
        let send_url = client.create_queue("bench-send").await?;
        let url = send_url.clone();
        let cpu0 = server.cpu_seconds()?;
        let c = Arc::clone(&client);
        let body = serde_json::json!({"QueueUrl": send_url, "MessageBody": "hello from loadgen"});
        let (rate, lat) = throughput(args.connections, args.seconds, move || {
            let (c, body) = (Arc::clone(&c), body.clone());
            async move { c.sqs("SendMessage", body).await.map(drop) }
        })
        .await?;
        let cpu = server.cpu_seconds()? - cpu0;
        let n = lat.len() as f64;
        println!(
            "| SQS SendMessage, {} connections | {:.0} ops/s; client-observed p50 {} ms, p99 {} ms; server CPU {:.1} µs/op |",
            args.connections,
            rate,
            ms(percentile(&lat, 0.5)),
            ms(percentile(&lat, 0.99)),
            cpu / n * 1e6
        );
        println!(
            "| RSS holding the {} messages just sent | {:.1} MiB |",
            lat.len(),
            server.rss_kib()? as f64 / 1024.0
        );
        client.sqs("DeleteQueue", serde_json::json!({"QueueUrl": url})).await?;
        // Freed memory goes back to the OS shortly after (allocator purge delays), not at once.
        let mut after = server.rss_kib()?;
        for _ in 0..40 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            after = after.min(server.rss_kib()?);
        }
        println!("| RSS 2 s after deleting that queue | {:.1} MiB |", after as f64 / 1024.0);

        // Send + receive + delete cycles on one queue.
        let url = client.create_queue("bench-cycle").await?;
        let cpu0 = server.cpu_seconds()?;
        let c = Arc::clone(&client);
        let (rate, lat) = throughput(args.connections, args.seconds, move || {
            let (c, url) = (Arc::clone(&c), url.clone());
            async move {
                c.sqs("SendMessage", serde_json::json!({"QueueUrl": url, "MessageBody": "cycle"})).await?;
                let r = c.sqs("ReceiveMessage", serde_json::json!({"QueueUrl": url, "MaxNumberOfMessages": 1})).await?;
                if let Some(h) = r["Messages"][0]["ReceiptHandle"].as_str() {
                    c.sqs("DeleteMessage", serde_json::json!({"QueueUrl": url, "ReceiptHandle": h})).await?;
                }
                Ok(())
            }
        })
        .await?;
        let cpu = server.cpu_seconds()? - cpu0;
        println!(
            "| SQS send+receive+delete cycles, {} connections | {:.0} cycles/s ({:.0} requests/s); p50 {} ms, p99 {} ms per cycle; server CPU {:.1} µs/request |",
            args.connections,
            rate,
            rate * 3.0,
            ms(percentile(&lat, 0.5)),
            ms(percentile(&lat, 0.99)),
            cpu / (lat.len() as f64 * 3.0) * 1e6
        );

        // S3 PutObject → SQS ReceiveMessage latency (one event in flight at a time).
        let url = client.create_queue("bench-events").await?;
        let arn = "arn:aws:sqs:us-east-1:000000000000:bench-events";
        // S3 may send to the queue (the policy is checked at delivery too).
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "SQS:SendMessage",
                "Resource": arn,
            }],
        });
        client
            .sqs(
                "SetQueueAttributes",
                serde_json::json!({"QueueUrl": url, "Attributes": {"Policy": policy.to_string()}}),
            )
            .await?;
        client.s3_put("/bench-bucket", Vec::new()).await?;
        let config = format!(
            "<NotificationConfiguration><QueueConfiguration><Id>bench</Id><Queue>{arn}</Queue>\
             <Event>s3:ObjectCreated:*</Event></QueueConfiguration></NotificationConfiguration>"
        );
        let resp = client
            .http
            .put(format!("{}/bench-bucket?notification", client.base))
            .header("x-amz-skip-destination-validation", "true")
            .body(config)
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("PutBucketNotificationConfiguration: {}", resp.text().await?);
        }
        // Drain the s3:TestEvent.
        client.sqs("PurgeQueue", serde_json::json!({"QueueUrl": url})).await?;
        // One event in flight: a consumer is already long-polling (on its own connection) when
        // the PUT is sent. `event` is PUT sent -> the consumer has the record; `put` is the
        // PUT's own round trip; their difference is what delivery adds after S3 answered.
        let mut event_lat = Vec::with_capacity(args.events);
        let mut put_lat = Vec::with_capacity(args.events);
        let consumer = Client::new(args.port)?;
        let cpu0 = server.cpu_seconds()?;
        for i in 0..args.events {
            let key = format!("k/{i}");
            let poll = consumer.sqs(
                "ReceiveMessage",
                serde_json::json!({"QueueUrl": url, "WaitTimeSeconds": 5, "MaxNumberOfMessages": 1}),
            );
            let mut poll = std::pin::pin!(poll);
            // Start the long poll, then wait until the server holds it (in-flight gauge: the
            // receive plus this scrape).
            loop {
                tokio::select! {
                    biased;
                    r = &mut poll => bail!("the long poll returned before the event: {r:?}"),
                    () = tokio::time::sleep(Duration::from_micros(200)) => {}
                }
                if client.in_flight().await? >= 2 {
                    break;
                }
            }
            let t = Instant::now();
            client.s3_put(&format!("/bench-bucket/{key}"), b"x".to_vec()).await?;
            let put_done = t.elapsed();
            let r = poll.await?;
            let event_done = t.elapsed();
            let m = r["Messages"].get(0).context("the long poll returned no message")?;
            let body: serde_json::Value = serde_json::from_str(m["Body"].as_str().unwrap_or("{}"))?;
            let got = body["Records"][0]["s3"]["object"]["key"].as_str().unwrap_or("").replace("%2F", "/");
            if got != key {
                bail!("received {got}, expected {key}");
            }
            let h = m["ReceiptHandle"].as_str().unwrap_or_default().to_owned();
            client.sqs("DeleteMessage", serde_json::json!({"QueueUrl": url, "ReceiptHandle": h})).await?;
            event_lat.push(event_done);
            put_lat.push(put_done);
        }
        let cpu = server.cpu_seconds()? - cpu0;
        event_lat.sort_unstable();
        put_lat.sort_unstable();
        println!(
            "| S3 PutObject → SQS ReceiveMessage (consumer already long-polling), {} events | event p50 {} ms, p99 {} ms, max {} ms; the PUT's own round trip p50 {} ms, p99 {} ms; server CPU {:.1} µs/event (put+receive+delete+scrapes) |",
            args.events,
            ms(percentile(&event_lat, 0.5)),
            ms(percentile(&event_lat, 0.99)),
            ms(event_lat[event_lat.len() - 1]),
            ms(percentile(&put_lat, 0.5)),
            ms(percentile(&put_lat, 0.99)),
            cpu / args.events as f64 * 1e6
        );
        anyhow::Ok(())
    })?;

    println!(
        "| RSS after load (queue of sent messages deleted) | {:.1} MiB |",
        server.rss_kib()? as f64 / 1024.0
    );
    Ok(())
}
