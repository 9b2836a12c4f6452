//! An execution environment: one local process running a function's runtime client, with its own
//! Runtime API listener on `127.0.0.1:0` (`AWS_LAMBDA_RUNTIME_API` must be exactly `host:port`
//! for the official clients, so every environment gets its own port).
//!
//! - [`Environment::start`] binds the listener, spawns the process in its own process group with
//!   stdout and stderr piped, and writes the `INIT_START` line.
//! - [`Environment::invoke`] hands one invocation to the runtime's `GET /next` and waits for its
//!   `/response` or `/error`, the timeout (the process group is killed: `Sandbox.Timedout`) or
//!   the process's exit (`Runtime.ExitError`, or the init error it posted). One invocation at a
//!   time per environment.
//! - Every line the process writes is one log event (split on `\n`; the runtime clients keep a
//!   multi-line record together with `\r`). `START`, `END` and `REPORT` frame each invocation in
//!   order with its output: before `END` is written, what the process wrote before answering is
//!   read from its pipes.

mod api;
mod logs;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, watch};

pub use logs::{LogFn, LogLine};

/// The Python runtime client localbridge ships (standard library only): used when the function's
/// interpreter cannot import `awslambdaric`.
pub const PYTHON_BOOTSTRAP: &str = include_str!("bootstrap/python.py");

/// The Node.js runtime client localbridge ships (`node:http` only; the official client needs a
/// native build): CommonJS and ES module handlers, async and callback style.
pub const NODE_BOOTSTRAP: &str = include_str!("bootstrap/node.mjs");

/// The largest response a runtime may post (the Runtime API's limit: 6 MiB and 100 bytes).
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 + 100;

/// How to start an environment's process.
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The function's code directory (`LAMBDA_TASK_ROOT`), the process's working directory.
    pub cwd: PathBuf,
    /// The whole environment of the process, except `AWS_LAMBDA_RUNTIME_API` (added here).
    pub env: Vec<(String, String)>,
    /// The `Version:` of the START lines (`$LATEST`, `3`).
    pub version: String,
    pub memory_mb: u32,
    /// The `INIT_START` line, written when the process starts.
    pub init_start: Option<String>,
    /// Where the environment's log events go (its log stream), stamped by `clock`.
    pub logs: LogFn,
    pub clock: Arc<dyn lb_core::Clock>,
    /// `LoggingConfig.LogFormat` is JSON: the platform's lines are `{"time", "type", "record"}`
    /// objects (`platform.start`, `platform.report`; no `END`), as AWS writes them.
    pub json_platform: bool,
    /// The function's ARN, for the JSON platform records.
    pub function_arn: String,
}

/// One invocation, as the runtime receives it on `GET /next`.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub payload: Bytes,
    pub timeout: Duration,
    /// The ARN as invoked, with its qualifier if one was given.
    pub invoked_function_arn: String,
    pub trace_id: Option<String>,
    /// Decoded client context JSON (the Invoke API's `X-Amz-Client-Context` is base64).
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
}

/// What became of an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The runtime posted a response (the payload, as posted).
    Response(Bytes),
    /// The runtime posted an error: the body is passed on verbatim (`X-Amz-Function-Error:
    /// Unhandled`).
    FunctionError(Bytes),
    /// The runtime could not initialize (`/init/error`), or exited before its first `/next`.
    InitError { error_type: String, body: Bytes },
    /// The invocation ran past its timeout; the process group was killed.
    Timeout,
    /// The process exited during the invocation (`exit status 1`, `signal: killed`).
    ExitError(String),
    /// The response was larger than [`MAX_RESPONSE_BYTES`] (`Function.ResponseSizeTooLarge`).
    ResponseTooLarge(usize),
}

impl Outcome {
    /// The error type of a failed invocation, as `REPORT ... Error Type:` and the Invoke
    /// response body name it.
    pub fn error_type(&self) -> Option<String> {
        match self {
            Outcome::Response(_) => None,
            Outcome::FunctionError(body) => Some(
                serde_json::from_slice::<serde_json::Value>(body)
                    .ok()
                    .and_then(|v| v.get("errorType").and_then(|t| t.as_str()).map(str::to_owned))
                    .unwrap_or_else(|| "Runtime.Unknown".to_owned()),
            ),
            Outcome::InitError { error_type, .. } => Some(error_type.clone()),
            Outcome::Timeout => Some("Sandbox.Timedout".to_owned()),
            Outcome::ExitError(_) => Some("Runtime.ExitError".to_owned()),
            Outcome::ResponseTooLarge(_) => Some("Function.ResponseSizeTooLarge".to_owned()),
        }
    }

    /// The Invoke response body for this outcome (what the caller receives).
    pub fn payload(&self, request_id: &str, timeout: Duration) -> Bytes {
        let error = |error_type: &str, message: String| {
            Bytes::from(serde_json::json!({ "errorMessage": message, "errorType": error_type }).to_string())
        };
        match self {
            Outcome::Response(b) | Outcome::FunctionError(b) => b.clone(),
            Outcome::InitError { body, .. } => body.clone(),
            Outcome::Timeout => error(
                "Sandbox.Timedout",
                format!(
                    "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                    timeout.as_secs_f64()
                ),
            ),
            Outcome::ExitError(status) => error(
                "Runtime.ExitError",
                format!("RequestId: {request_id} Error: Runtime exited with error: {status}"),
            ),
            Outcome::ResponseTooLarge(n) => error(
                "Function.ResponseSizeTooLarge",
                format!(
                    "Response payload size ({n} bytes) exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
                ),
            ),
        }
    }
}

/// An invocation's result and its measurements.
#[derive(Debug, Clone)]
pub struct Invoked {
    pub outcome: Outcome,
    /// From handing the event to the runtime to its answer.
    pub duration: Duration,
    /// From the process's start to its first `GET /next`, on an environment's first invocation.
    pub init_duration: Option<Duration>,
    /// The environment's peak resident memory so far, in MB.
    pub max_memory_mb: u64,
    /// This invocation's log, `START` to `REPORT` (for `LogType=Tail`: the last 4 KB of it).
    pub log: String,
}

/// What the Runtime API server and the invoker share.
pub(crate) struct Shared {
    /// The invocation waiting for the runtime's next `GET /next` (one at a time).
    pending_tx: mpsc::Sender<Pending>,
    pending_rx: tokio::sync::Mutex<mpsc::Receiver<Pending>>,
    state: Mutex<State>,
    /// Signalled when the runtime first asks for an invocation (its initialization is over).
    ready: tokio::sync::Notify,
}

pub(crate) struct Pending {
    invocation: Invocation,
    deadline_epoch_ms: u64,
    answer: oneshot::Sender<Answer>,
}

pub(crate) enum Answer {
    Response(Bytes),
    Error(Bytes),
    TooLarge(usize),
}

#[derive(Default)]
pub(crate) struct State {
    /// The invocation the runtime is working on: its request id and where its answer goes.
    current: Option<(String, oneshot::Sender<Answer>)>,
    /// What the runtime posted to `/init/error`.
    init_error: Option<(String, Bytes)>,
    /// When the runtime first asked for an invocation (initialization ended).
    first_next: Option<Instant>,
    /// When the runtime took the current invocation.
    taken: Option<Instant>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running execution environment. Dropping it kills its process group.
pub struct Environment {
    shared: Arc<Shared>,
    pid: Option<u32>,
    started: Instant,
    /// Set (to the exit status text) when the process has exited.
    exited: watch::Receiver<Option<String>>,
    version: String,
    memory_mb: u32,
    json_platform: bool,
    function_arn: String,
    clock: Arc<dyn lb_core::Clock>,
    log: logs::Capture,
    /// Whether an invocation has reported the init duration already.
    init_reported: Mutex<bool>,
    peak_memory_kb: Mutex<u64>,
    server: tokio::task::JoinHandle<()>,
}

impl Environment {
    /// Binds the Runtime API listener and starts the process.
    pub async fn start(launch: Launch) -> std::io::Result<Environment> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (pending_tx, pending_rx) = mpsc::channel(1);
        let shared = Arc::new(Shared {
            pending_tx,
            pending_rx: tokio::sync::Mutex::new(pending_rx),
            state: Mutex::new(State::default()),
            ready: tokio::sync::Notify::new(),
        });
        let server = tokio::spawn(api::serve(listener, Arc::clone(&shared)));
        let mut cmd = Command::new(&launch.program);
        cmd.args(&launch.args)
            .current_dir(&launch.cwd)
            .env_clear()
            .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let clock = Arc::clone(&launch.clock);
        let log = logs::Capture::new(launch.logs, launch.clock);
        if let Some(line) = &launch.init_start {
            log.platform(line);
        }
        let started = Instant::now();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                server.abort();
                return Err(e);
            }
        };
        let pid = child.id();
        if let Some(out) = child.stdout.take() {
            log.pump(out);
        }
        if let Some(err) = child.stderr.take() {
            log.pump(err);
        }
        let (exit_tx, exited) = watch::channel(None);
        tokio::spawn(wait_for_exit(child, exit_tx));
        Ok(Environment {
            shared,
            pid,
            started,
            exited,
            version: launch.version,
            memory_mb: launch.memory_mb,
            json_platform: launch.json_platform,
            function_arn: launch.function_arn,
            clock,
            log,
            init_reported: Mutex::new(false),
            peak_memory_kb: Mutex::new(0),
            server,
        })
    }

    /// Whether the process is still running.
    pub fn is_alive(&self) -> bool {
        self.exited.borrow().is_none()
    }

    /// Runs one invocation to its end. The environment is unusable afterwards when the outcome is
    /// a timeout, an exit or an init error ([`Environment::is_alive`] says so).
    pub async fn invoke(&self, invocation: Invocation) -> Invoked {
        let request_id = invocation.request_id.clone();
        let timeout = invocation.timeout;
        let mut exited = self.exited.clone();
        if self.shared.lock().first_next.is_none() {
            // What the function prints while it initializes comes before START, as on AWS: wait
            // for its first `/next` (or its end) and read its pipes first.
            let ready = self.shared.ready.notified();
            tokio::pin!(ready);
            ready.as_mut().enable();
            if self.shared.lock().first_next.is_none() {
                tokio::select! {
                    () = ready => {}
                    _ = wait_exited(&mut exited) => {}
                    () = tokio::time::sleep(timeout) => {}
                }
            }
            self.log.drain().await;
        }
        let start = if self.json_platform {
            self.platform_record(
                "platform.start",
                serde_json::json!({ "requestId": request_id, "functionArn": self.function_arn, "version": self.version }),
            )
        } else {
            format!("START RequestId: {request_id} Version: {}", self.version)
        };
        self.log.begin(&start);
        let (answer, answered) = oneshot::channel();
        let deadline_epoch_ms = epoch_millis() + u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let handed = Instant::now();
        let pending = Pending {
            invocation,
            deadline_epoch_ms,
            answer,
        };
        let outcome = if self.shared.pending_tx.try_send(pending).is_err() {
            // Only one invocation at a time: the caller's pool never does this.
            Outcome::ExitError("the environment is busy".to_owned())
        } else {
            tokio::select! {
                a = answered => match a {
                    Ok(Answer::Response(b)) => Outcome::Response(b),
                    Ok(Answer::Error(b)) => Outcome::FunctionError(b),
                    Ok(Answer::TooLarge(n)) => Outcome::ResponseTooLarge(n),
                    Err(_) => Outcome::ExitError("the runtime API stopped".to_owned()),
                },
                () = tokio::time::sleep(timeout) => {
                    self.kill();
                    Outcome::Timeout
                }
                status = wait_exited(&mut exited) => self.exit_outcome(status),
            }
        };
        // An invocation that did not reach the runtime must not stay queued for it.
        if let Ok(mut rx) = self.shared.pending_rx.try_lock() {
            while rx.try_recv().is_ok() {}
        }
        let (first_next, taken) = {
            let st = self.shared.lock();
            (st.first_next, st.taken)
        };
        let init_duration = {
            let mut reported = self.init_reported.lock().unwrap_or_else(PoisonError::into_inner);
            if *reported {
                None
            } else {
                *reported = true;
                Some(first_next.map_or_else(|| self.started.elapsed(), |t| t - self.started))
            }
        };
        // Duration runs from the runtime taking the event (or from handing it over when it never
        // did) to the answer; a timeout lasts the whole timeout.
        let duration = match outcome {
            Outcome::Timeout => timeout,
            _ => taken.filter(|t| *t >= handed).unwrap_or(handed).elapsed(),
        };
        self.log.drain().await;
        let max_memory_mb = self.peak_memory_mb();
        let report = if self.json_platform {
            // The JSON stream has no END record.
            self.platform_record(
                "platform.report",
                report_record(
                    &request_id,
                    duration,
                    init_duration,
                    self.memory_mb,
                    max_memory_mb,
                    &outcome,
                ),
            )
        } else {
            self.log.platform(&format!("END RequestId: {request_id}"));
            report_line(
                &request_id,
                duration,
                init_duration,
                self.memory_mb,
                max_memory_mb,
                &outcome,
            )
        };
        let log = self.log.end(&report);
        Invoked {
            outcome,
            duration,
            init_duration,
            max_memory_mb,
            log,
        }
    }

    fn platform_record(&self, kind: &str, record: serde_json::Value) -> String {
        serde_json::json!({
            "time": lb_core::clock::iso8601_millis(self.clock.now_millis()),
            "type": kind,
            "record": record,
        })
        .to_string()
    }

    fn exit_outcome(&self, status: String) -> Outcome {
        let st = self.shared.lock();
        match (&st.init_error, st.first_next) {
            (Some((error_type, body)), _) => Outcome::InitError {
                error_type: error_type.clone(),
                body: body.clone(),
            },
            (None, None) => Outcome::InitError {
                error_type: "Runtime.ExitError".to_owned(),
                body: Bytes::from(
                    serde_json::json!({
                        "errorType": "Runtime.ExitError",
                        "errorMessage": format!("RequestId: Error: Runtime exited with error: {status}"),
                    })
                    .to_string(),
                ),
            },
            (None, Some(_)) => Outcome::ExitError(status),
        }
    }

    /// Peak resident memory of the process so far (`VmHWM`), kept across invocations.
    fn peak_memory_mb(&self) -> u64 {
        let now = self.pid.map_or(0, tree_hwm_kb);
        let mut peak = self.peak_memory_kb.lock().unwrap_or_else(PoisonError::into_inner);
        *peak = (*peak).max(now);
        (*peak).div_ceil(1024)
    }

    /// Kills the process group (the runtime and anything it started).
    pub fn kill(&self) {
        if let Some(pid) = self
            .pid
            .and_then(|p| i32::try_from(p).ok())
            .and_then(rustix::process::Pid::from_raw)
        {
            // Already gone is fine.
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        self.kill();
        self.server.abort();
    }
}

async fn wait_for_exit(mut child: Child, tx: watch::Sender<Option<String>>) {
    let status = match child.wait().await {
        Ok(s) => describe_exit(s),
        Err(e) => format!("wait failed: {e}"),
    };
    let _ = tx.send(Some(status));
}

/// Waits until the process has exited; its status as Go's `os/exec` words it (`exit status 1`,
/// `signal: killed`), as AWS's messages show it.
async fn wait_exited(rx: &mut watch::Receiver<Option<String>>) -> String {
    loop {
        if let Some(s) = rx.borrow_and_update().clone() {
            return s;
        }
        if rx.changed().await.is_err() {
            return "the environment stopped".to_owned();
        }
    }
}

fn describe_exit(s: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = s.code() {
        return format!("exit status {code}");
    }
    match s.signal() {
        Some(9) => "signal: killed".to_owned(),
        Some(15) => "signal: terminated".to_owned(),
        Some(11) => "signal: segmentation fault".to_owned(),
        Some(6) => "signal: aborted".to_owned(),
        Some(n) => format!("signal: {n}"),
        None => "exited".to_owned(),
    }
}

/// The peak resident memory of `pid` and the processes it started (running ones: the children
/// files of its threads, followed down), summed, as `REPORT`'s Max Memory Used counts the whole
/// environment.
fn tree_hwm_kb(pid: u32) -> u64 {
    let mut total = 0;
    let mut stack = vec![pid];
    let mut seen = 0;
    while let Some(p) = stack.pop() {
        seen += 1;
        if seen > 4096 {
            break;
        }
        total += read_vm_hwm_kb(p).unwrap_or(0);
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            if let Ok(children) = std::fs::read_to_string(t.path().join("children")) {
                stack.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
            }
        }
    }
    total
}

fn read_vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn epoch_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The `platform.report` record of the JSON log format (billed time includes init).
pub fn report_record(
    request_id: &str,
    duration: Duration,
    init: Option<Duration>,
    memory_mb: u32,
    max_memory_mb: u64,
    outcome: &Outcome,
) -> serde_json::Value {
    let ms = |d: Duration| (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
    let billed = (ms(duration) + init.map_or(0.0, ms)).ceil().max(1.0) as u64;
    let mut metrics = serde_json::json!({
        "durationMs": ms(duration),
        "billedDurationMs": billed,
        "memorySizeMB": memory_mb,
        "maxMemoryUsedMB": max_memory_mb,
    });
    if let Some(i) = init {
        metrics["initDurationMs"] = serde_json::json!(ms(i));
    }
    let mut record = serde_json::json!({ "requestId": request_id, "metrics": metrics });
    match outcome {
        Outcome::Response(_) => record["status"] = serde_json::json!("success"),
        Outcome::Timeout => record["status"] = serde_json::json!("timeout"),
        Outcome::FunctionError(_) => {
            record["status"] = serde_json::json!("failure");
            record["errorType"] = serde_json::json!(outcome.error_type());
        }
        _ => {
            record["status"] = serde_json::json!("error");
            record["errorType"] = serde_json::json!(outcome.error_type());
        }
    }
    record
}

/// The `REPORT` line: tab-separated, a trailing tab; `Init Duration` on an environment's first
/// invocation, after `Max Memory Used`; billed time includes init (AWS since August 2025).
pub fn report_line(
    request_id: &str,
    duration: Duration,
    init: Option<Duration>,
    memory_mb: u32,
    max_memory_mb: u64,
    outcome: &Outcome,
) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let billed = (ms(duration) + init.map_or(0.0, ms)).ceil().max(1.0);
    let mut line = format!(
        "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {billed:.0} ms\tMemory Size: {memory_mb} MB\tMax Memory Used: {max_memory_mb} MB\t",
        ms(duration)
    );
    if let Some(init) = init {
        line.push_str(&format!("Init Duration: {:.2} ms\t", ms(init)));
    }
    match outcome {
        Outcome::Response(_) | Outcome::FunctionError(_) => {}
        Outcome::Timeout => line.push_str("Status: timeout"),
        other => {
            if let Some(t) = other.error_type() {
                line.push_str(&format!("Status: error\tError Type: {t}"));
            }
        }
    }
    line
}

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_node;
