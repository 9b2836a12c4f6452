//! `localbridge logs <function> [--follow]`: a function's CloudWatch Logs events from a running
//! server, as `aws logs tail` prints them (the AWS CLI on PyPI is v1, which has no `tail`).
//! It calls FilterLogEvents on `--endpoint-url` (default `AWS_ENDPOINT_URL`, else
//! `http://127.0.0.1:4566`) for the group `/aws/lambda/<function>` (or `--log-group`).

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{bail, Context as _};
use serde_json::{json, Value};

#[derive(clap::Args)]
pub struct LogsArgs {
    /// The function whose log group (`/aws/lambda/<function>`) is read.
    function: String,
    /// Keep printing new events as they arrive.
    #[arg(long, short)]
    follow: bool,
    /// Only events from this far back: `30s`, `10m`, `2h`, `1d` (default: all).
    #[arg(long)]
    since: Option<String>,
    /// Read this log group instead of `/aws/lambda/<function>`.
    #[arg(long)]
    log_group: Option<String>,
    /// The server (default: `AWS_ENDPOINT_URL`, else http://127.0.0.1:4566).
    #[arg(long)]
    endpoint_url: Option<String>,
    /// The region (default: `AWS_REGION`, `AWS_DEFAULT_REGION`, else us-east-1).
    #[arg(long)]
    region: Option<String>,
}

fn parse_since(s: &str) -> anyhow::Result<u64> {
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let n: u64 = n
        .parse()
        .with_context(|| format!("--since {s}: expected a number and s, m, h or d"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => bail!("--since {s}: expected a number and s, m, h or d"),
    };
    Ok(secs * 1000)
}

fn env_first(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

/// One FilterLogEvents call (unsigned but scoped: the region travels in a credential scope, as
/// signatures are parsed, not verified).
async fn filter(client: &reqwest::Client, endpoint: &str, region: &str, body: &Value) -> anyhow::Result<Value> {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=localbridge/20260101/{region}/logs/aws4_request, SignedHeaders=host, Signature=0"
    );
    let resp = client
        .post(endpoint)
        .header("X-Amz-Target", "Logs_20140328.FilterLogEvents")
        .header("Content-Type", "application/x-amz-json-1.1")
        .header("Authorization", auth)
        .body(body.to_string())
        .send()
        .await
        .with_context(|| format!("cannot reach {endpoint} (is `localbridge serve` running?)"))?;
    let status = resp.status();
    let text = resp.text().await.context("reading the answer")?;
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if !status.is_success() {
        let msg = v["message"].as_str().unwrap_or(&text);
        bail!("{msg}");
    }
    Ok(v)
}

pub async fn run(args: LogsArgs) -> anyhow::Result<()> {
    let endpoint = args
        .endpoint_url
        .clone()
        .or_else(|| env_first(&["AWS_ENDPOINT_URL"]))
        .unwrap_or_else(|| "http://127.0.0.1:4566".to_owned());
    let region = args
        .region
        .clone()
        .or_else(|| env_first(&["AWS_REGION", "AWS_DEFAULT_REGION"]))
        .unwrap_or_else(|| "us-east-1".to_owned());
    let group = args
        .log_group
        .clone()
        .unwrap_or_else(|| format!("/aws/lambda/{}", args.function));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut start = match &args.since {
        Some(s) => Some(now.saturating_sub(parse_since(s)?)),
        None => None,
    };
    let client = reqwest::Client::new();
    let mut seen: HashSet<String> = HashSet::new();
    loop {
        let mut token: Option<String> = None;
        let mut newest = start;
        loop {
            let mut body = json!({ "logGroupName": group });
            if let Some(s) = start {
                body["startTime"] = json!(s);
            }
            if let Some(t) = &token {
                body["nextToken"] = json!(t);
            }
            let page = match filter(&client, &endpoint, &region, &body).await {
                Ok(p) => p,
                // Following a function before its first invocation: the group comes later.
                Err(e) if args.follow && e.to_string().contains("does not exist") => break,
                Err(e) => return Err(e),
            };
            for e in page["events"].as_array().into_iter().flatten() {
                let id = e["eventId"].as_str().unwrap_or_default().to_owned();
                if !seen.insert(id) {
                    continue;
                }
                let ts = e["timestamp"].as_u64().unwrap_or(0);
                newest = Some(newest.map_or(ts, |n| n.max(ts)));
                let time = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts) * 1_000_000)
                    .ok()
                    .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                    .unwrap_or_default();
                let stream = e["logStreamName"].as_str().unwrap_or_default();
                let message = e["message"].as_str().unwrap_or_default();
                println!("{time} {stream} {}", message.trim_end_matches('\n'));
            }
            token = page["nextToken"].as_str().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        if !args.follow {
            return Ok(());
        }
        // Events at the newest timestamp may still grow: ask from there, skipping those seen.
        start = newest;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
