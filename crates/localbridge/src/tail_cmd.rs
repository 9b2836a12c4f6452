//! `localbridge tail [--bus NAME] [--pattern P | --rule NAME]`: the events flowing on a bus of
//! a running server, live, one JSON line per event, exactly as routed (what a rule's target
//! receives without an input transformer). Capture them with a redirect
//! (`localbridge tail > events.jsonl`) and send them again with `localbridge replay`.
//!
//! It long-polls `GET /_localbridge/events/tail` with a cursor (see `lb_events::tail`), so no
//! event is lost between two polls; if the server's journal (`serve --event-journal-capacity`)
//! overflowed before an event was read, the count is reported on stderr. Once following, it says
//! so on stderr (`localbridge tail: following ...`): events routed after that line are printed.

use std::io::Write as _;
use std::time::Duration;

use anyhow::{bail, Context as _};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::remote;

#[derive(clap::Args, Debug)]
pub struct TailArgs {
    /// The event bus: a name or an ARN.
    #[arg(long, default_value = "default")]
    bus: String,
    /// Only the events this EventBridge pattern matches: JSON text or @file.
    #[arg(long, conflicts_with = "rule")]
    pattern: Option<String>,
    /// Only the events this rule's pattern matches (a rule of the bus).
    #[arg(long)]
    rule: Option<String>,
    /// Begin with the recent events the server still holds, then follow.
    #[arg(long)]
    recent: bool,
    /// Exit after printing this many events.
    #[arg(long)]
    count: Option<u64>,
    /// The server (default: `AWS_ENDPOINT_URL`, else http://127.0.0.1:4566).
    #[arg(long)]
    endpoint_url: Option<String>,
    /// The bus's region (default: `AWS_REGION`, `AWS_DEFAULT_REGION`, else us-east-1).
    #[arg(long)]
    region: Option<String>,
    /// The bus's account (default: the server's, 000000000000).
    #[arg(long)]
    account: Option<String>,
}

#[derive(Deserialize)]
struct Batch<'a> {
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
    next: u64,
    missed: u64,
}

/// How long one poll waits on the server for an event.
const POLL_SECONDS: u32 = 20;

fn load(text: &str) -> anyhow::Result<String> {
    match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {path}")),
        None => Ok(text.to_owned()),
    }
}

pub async fn run(args: TailArgs) -> anyhow::Result<()> {
    let endpoint = remote::endpoint(args.endpoint_url.as_deref());
    let region = remote::region(args.region.as_deref());
    let mut base: Vec<(&str, String)> = vec![("bus", args.bus.clone()), ("region", region)];
    if let Some(a) = &args.account {
        base.push(("account", a.clone()));
    }
    if let Some(p) = &args.pattern {
        base.push(("pattern", load(p)?));
    }
    if let Some(r) = &args.rule {
        base.push(("rule", r.clone()));
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(u64::from(POLL_SECONDS) + 30))
        .build()
        .context("building the HTTP client")?;
    let url = |after: Option<u64>, wait: u32| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &base {
            q.append_pair(k, v);
        }
        if let Some(a) = after {
            q.append_pair("after", &a.to_string());
        }
        q.append_pair("wait", &wait.to_string());
        format!("{endpoint}/_localbridge/events/tail?{}", q.finish())
    };

    let mut cursor = args.recent.then_some(0);
    let mut printed = 0u64;
    let mut first = true;
    let stdout = std::io::stdout();
    loop {
        // The first poll answers at once: from its cursor on, nothing is missed.
        let wait = if first { 0 } else { POLL_SECONDS };
        let resp = client
            .get(url(cursor, wait))
            .send()
            .await
            .with_context(|| format!("cannot reach {endpoint} (is `localbridge serve` running?)"))?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.context("reading the answer")?;
        if status != 200 {
            bail!("{}", remote::error_message(status, &body));
        }
        let batch: Batch<'_> = serde_json::from_slice(&body).context("reading the answer")?;
        if batch.missed > 0 {
            eprintln!(
                "localbridge tail: {} events left the server's journal before they were read (serve --event-journal-capacity)",
                batch.missed
            );
        }
        let mut out = stdout.lock();
        for e in &batch.events {
            let written = out.write_all(e.get().as_bytes()).and_then(|()| out.write_all(b"\n"));
            if let Err(e) = written {
                // `| head`: the reader is gone.
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(());
                }
                return Err(e.into());
            }
            printed += 1;
            if args.count.is_some_and(|n| printed >= n) {
                let _ = out.flush();
                return Ok(());
            }
        }
        match out.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            r => r?,
        }
        drop(out);
        cursor = Some(batch.next);
        if first {
            first = false;
            eprintln!("localbridge tail: following bus {} at {endpoint}", args.bus);
        }
    }
}
